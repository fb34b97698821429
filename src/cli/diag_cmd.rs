//! `eas-connector diag …`: tools for reading what support is sent.
//!
//! `decode-wsman FILE` decodes a captured WinRM exchange (a YAML recording with a `messages:`
//! list of request/response SOAP strings, or one SOAP envelope) and prints every PSRP message
//! in it; `--json` prints one JSON object per message. Exit 0 only when every envelope and
//! fragment decoded. It only reads the file it is given.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use super::Outcome;
use crate::exchange::capture::decode_capture;

#[derive(Debug, Subcommand)]
pub enum DiagCommand {
    /// Decode a captured WinRM/PSRP exchange and print its PSRP messages.
    DecodeWsman {
        /// A YAML recording (`messages:` list of request/response) or one SOAP envelope.
        file: PathBuf,
        /// One JSON object per message: index, direction, message_type, rpid, pid, object.
        #[arg(long)]
        json: bool,
        /// In text mode, print each object in full instead of a one-line summary.
        #[arg(long)]
        full: bool,
    },
}

/// A one-line summary of a decoded object, at most `max` characters.
fn summary(v: &serde_json::Value, max: usize) -> String {
    let s = v.to_string();
    if s.chars().count() <= max {
        s
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

pub(super) fn run(cmd: DiagCommand) -> anyhow::Result<Outcome> {
    match cmd {
        DiagCommand::DecodeWsman { file, json, full } => {
            let text = std::fs::read_to_string(&file).with_context(|| {
                format!(
                    "could not read {} (it must be a UTF-8 text file)",
                    file.display()
                )
            })?;
            let messages =
                decode_capture(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let mut out = std::io::stdout().lock();
            let written = (|| -> std::io::Result<()> {
                for m in &messages {
                    if json {
                        writeln!(out, "{}", serde_json::to_string(m)?)?;
                    } else {
                        writeln!(
                            out,
                            "#{:<4} {:<8} {:<26} rpid={} pid={}",
                            m.index,
                            m.direction.to_string(),
                            m.message_type,
                            m.rpid,
                            m.pid.as_deref().unwrap_or("-")
                        )?;
                        if full {
                            writeln!(out, "{}", serde_json::to_string_pretty(&m.object)?)?;
                        } else {
                            writeln!(out, "       {}", summary(&m.object, 200))?;
                        }
                    }
                }
                out.flush()
            })();
            match written {
                // A reader that stopped early (`| head`) is not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                    return Ok(Outcome::Success)
                }
                other => other?,
            }
            if !json {
                eprintln!(
                    "{}: {} PSRP message(s) decoded",
                    file.display(),
                    messages.len()
                );
            }
            Ok(Outcome::Success)
        }
    }
}
