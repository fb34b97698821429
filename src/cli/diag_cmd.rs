//! `eas-connector diag …`: tools for reading what support is sent.
//!
//! `decode-wsman FILE` decodes a captured WinRM exchange (a YAML recording with a `messages:`
//! list of request/response SOAP strings, or one SOAP envelope) and prints every PSRP message
//! in it; `--json` prints one JSON object per message. Exit 0 only when every envelope and
//! fragment decoded. It only reads the file it is given.
//!
//! `event-log` writes one test event through the org's Windows Event Log source, the way the
//! service writes its own, so an admin (or a monitoring rule being set up) can see where the
//! service's events land. It writes nothing else.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use super::Outcome;
use crate::config::ConfigLocation;
use crate::logging::eventlog;
use crate::wire::capture::decode_capture;

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
    /// Write a test event (ID 1000, information) to the Windows Application log under this
    /// organization's source, "EAS Connector (<org>)"; `service install` registers the source.
    EventLog {
        /// The event's text.
        #[arg(
            long,
            default_value = "EAS Connector test event: the Event Log source works."
        )]
        message: String,
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

pub(super) fn run(cmd: DiagCommand, loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    match cmd {
        DiagCommand::EventLog { message } => {
            let source = eventlog::source_name(loc.org());
            let Some(sink) = eventlog::platform_sink(&source) else {
                anyhow::bail!(
                    "diag event-log: this platform has no Windows Event Log; the service logs to \
                     its log files and, under systemd, to the journal (journalctl -u \
                     eas-connector@{}.service)",
                    loc.org()
                );
            };
            sink.report(
                eventlog::EventKind::Information,
                eventlog::ids::INFORMATION,
                &message,
            )
            .map_err(|e| {
                anyhow::anyhow!(
                    "diag event-log: writing to the Application log as '{source}' failed: {e}; \
                     run `eas-connector --org {} service install` elevated to register the source",
                    loc.org()
                )
            })?;
            println!(
                "wrote event {} (information) to the Application log, source '{source}'",
                eventlog::ids::INFORMATION
            );
            Ok(Outcome::Success)
        }
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
