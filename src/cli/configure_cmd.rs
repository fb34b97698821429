//! `eas-connector configure --answers FILE`: the wizard's steps without a window, for scripted
//! installs (`msiexec /qn`, then this). Same code path as the wizard's Apply page.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::Outcome;
use crate::config::ConfigLocation;
use crate::setup::{self, answers, Plan, Progress};

#[derive(Debug, Args)]
pub struct ConfigureArgs {
    /// TOML answers file; keys are the configuration's element names, passwords as
    /// `Password` or `PasswordEnv` in [ServiceAccount], [NotificationAccount], [Proxy].
    #[arg(long, value_name = "FILE")]
    answers: PathBuf,
    /// Replace the existing connector for this organization (start from a fresh configuration).
    #[arg(long)]
    replace: bool,
    /// Write configuration and passwords, but register no service (containers, tests, machines
    /// without a service manager).
    #[arg(long)]
    no_service: bool,
    /// Write without validating connectivity first (preparing a machine offline).
    #[arg(long)]
    skip_validation: bool,
}

pub(super) fn run(args: ConfigureArgs, loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    let text = std::fs::read_to_string(&args.answers)
        .with_context(|| format!("could not read the answers file {}", args.answers.display()))?;
    let parsed = answers::parse(&text)?;
    if args.skip_validation {
        eprintln!("WARNING: --skip-validation: the configuration is written WITHOUT checking that Exchange can be reached; run `eas-connector validate` before relying on it");
    }
    let manager = if args.no_service {
        None
    } else {
        Some(crate::service::platform_manager().map_err(|e| {
            anyhow::anyhow!(
                "{e}; use --no-service to write the configuration without registering a service"
            )
        })?)
    };
    let plan = Plan {
        fields: parsed.fields,
        passwords: parsed.passwords,
        cloud_certificate: parsed.cloud_certificate,
        replace: args.replace,
        register_service: !args.no_service,
        skip_validation: args.skip_validation,
        service_exe: std::env::current_exe().context("could not find this program's own path")?,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(setup::apply(loc, &plan, manager.as_deref(), |p| match p {
        Progress::Started(s) => println!("→ {}", s.label()),
        Progress::Done(_, d) => println!("  ✔ {d}"),
        Progress::Failed(_, d) => {
            println!("  ✘ {}", d.to_string().lines().next().unwrap_or_default())
        }
        Progress::RolledBack(_, d) => println!("  ↩ {d}"),
        Progress::Check(c) => println!(
            "    {} {:>2}. {:<28} {}",
            c.status.symbol(),
            c.number,
            c.title,
            c.detail
        ),
    }));
    match result {
        Ok(applied) => {
            println!("configuration: {}", applied.config_path.display());
            println!("passwords:     {}", applied.secret_store);
            match applied.service {
                Some((name, state)) => println!("service:       {name} ({state:?})"),
                None => println!("service:       not registered (--no-service)"),
            }
            tracing::info!(org = loc.org(), "configured from an answers file");
            Ok(Outcome::Success)
        }
        Err(e) => Err(e.into()),
    }
}
