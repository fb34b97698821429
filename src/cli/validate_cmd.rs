//! `eas-connector validate`: run the connectivity checks for an organization and print a
//! checklist (or JSON). Exit 0 only when every required check passed.

use std::time::Duration;

use clap::Args;

use super::Outcome;
use crate::config::{ConfigError, ConfigFile, ConfigLocation};
use crate::probe::{self, Event, Input, Options};
use crate::secrets::{self, Preference, SecretKind};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Print the report as JSON (one object with every check and its status).
    #[arg(long)]
    json: bool,
    /// Also send a test mail to the notification mailbox.
    #[arg(long)]
    send_test_mail: bool,
    /// Seconds each check may take.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=600))]
    timeout: u64,
}

pub(super) fn run(args: ValidateArgs, loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    let file = match ConfigFile::load(loc) {
        Ok(f) => f,
        Err(e @ (ConfigError::Malformed { .. } | ConfigError::Invalid { .. })) => {
            eprintln!("✘ 1. Configuration: {e}");
            return Ok(Outcome::ProblemsFound);
        }
        Err(e) => return Err(e.into()),
    };
    let opened = secrets::open(loc, Preference::from_env()?)?;
    if let Some(w) = &opened.warning {
        eprintln!("warning: {w}");
    }
    let get = |k: SecretKind| match opened.store.get(k) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("warning: {e}");
            None
        }
    };
    let input = Input {
        config_problems: file.completeness_problems(),
        config: file.config.clone(),
        service_password: get(SecretKind::ServiceAccount),
        notification_password: get(SecretKind::NotificationAccount),
        proxy_password: get(SecretKind::Proxy),
        cloud_credential: if file.config.cloud.is_configured() {
            match crate::cloud::credential(
                &file.config,
                opened.store.as_ref(),
                crate::cloud::AssertionAlg::default(),
            ) {
                Ok(c) => Some(c),
                Err(e) => {
                    eprintln!("warning: {e}");
                    None
                }
            }
        } else {
            None
        },
    };
    let opts = Options {
        check_timeout: Duration::from_secs(args.timeout),
        send_test_mail: args.send_test_mail,
        ..Options::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let json = args.json;
    let report = rt.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let printer = tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                if let Event::Finished(c) = ev {
                    if !json {
                        print!("{}", c.to_text());
                    }
                }
            }
        });
        if !json {
            println!(
                "Validating organization '{}' ({})",
                loc.org(),
                file.path().display()
            );
        }
        let report = probe::validate(input, opts, Some(tx)).await;
        let _ = printer.await;
        report
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "\n{} in {} ms",
            if report.ok {
                "All required checks passed"
            } else {
                "Validation failed"
            },
            report.total_ms
        );
    }
    tracing::info!(
        ok = report.ok,
        total_ms = report.total_ms,
        "validation finished"
    );
    Ok(if report.ok {
        Outcome::Success
    } else {
        Outcome::ProblemsFound
    })
}
