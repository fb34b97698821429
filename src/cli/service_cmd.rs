//! `eas-connector service install|uninstall|start|stop|status`, `eas-connector run`,
//! `eas-connector sync` and `eas-connector status`: the command-line face of `crate::service`.
//!
//! Registration goes through the platform's `ServiceManager`; `sync` and `status` talk to the
//! running service over its control channel and read the status file. Nothing here schedules
//! or syncs by itself; `run` hands over to the service runtime. `status` says only what it
//! knows: an unknown organization, a damaged status file or a channel that refuses this user
//! exit 1, and a connector run in the foreground is a running one.

use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::json;

use super::Outcome;
use crate::config::{ConfigFile, ConfigLocation};
use crate::engine::SyncKind;
use crate::secrets;
use crate::service::control::{self, ControlError, Reply, Request};
use crate::service::status::{self, Status, SyncRecord};
use crate::service::{platform_manager, InstallSpec, ServiceError, ServiceState};

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Register the service for --org with the service manager (automatic start, restart on
    /// failure) and start it. Installing again updates it.
    Install,
    /// Stop and remove the service for --org (or every organization's with --all).
    Uninstall {
        #[arg(long)]
        all: bool,
    },
    /// Start the installed service.
    Start,
    /// Stop the service.
    Stop,
    /// Print the service manager's state of the service.
    Status,
}

impl ServiceCommand {
    pub(super) fn writes(&self) -> bool {
        matches!(self, ServiceCommand::Install)
    }
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only devices changed since the last sync.
    #[arg(long, conflicts_with = "full", required_unless_present = "full")]
    quick: bool,
    /// Every device and the organization's settings.
    #[arg(long)]
    full: bool,
    /// Return once the sync is queued instead of waiting for it.
    #[arg(long)]
    no_wait: bool,
    /// Seconds to wait for the sync to finish.
    #[arg(long, default_value_t = 3600)]
    timeout: u64,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON: the service manager's state and the status file.
    #[arg(long)]
    json: bool,
}

/// The configuration root as given, made absolute (a service does not start in our folder).
fn absolute_config_dir(
    config_dir: Option<&std::path::Path>,
) -> anyhow::Result<Option<std::path::PathBuf>> {
    config_dir
        .map(|d| std::path::absolute(d).with_context(|| format!("--config-dir {}", d.display())))
        .transpose()
}

pub(super) fn service(
    cmd: ServiceCommand,
    loc: &ConfigLocation,
    config_dir: Option<&std::path::Path>,
) -> anyhow::Result<Outcome> {
    let m = platform_manager()?;
    let org = loc.org();
    let name = m.service_name(org);
    match cmd {
        ServiceCommand::Install => {
            if let Err(e) = ConfigFile::load(loc) {
                eprintln!("warning: {e}\n  the service will not sync until it is configured");
            }
            let spec = InstallSpec {
                exe: std::env::current_exe().context("where is this program?")?,
                config_dir: absolute_config_dir(config_dir)?,
            };
            let shared = secrets::share_with_service(loc)
                .context("the passwords could not be made readable by the service")?;
            if !shared.is_empty() {
                let labels: Vec<_> = shared.iter().map(|k| k.label()).collect();
                println!("copied for the service: {}", labels.join(", "));
            }
            // A Linux service reads systemd credentials (or root's file); a desktop keyring is
            // out of its reach.
            if cfg!(target_os = "linux")
                && matches!(secrets::recorded(loc), Ok(Some(secrets::StoreKind::Os)))
            {
                eprintln!(
                    "warning: this organization's passwords are in the {}, which the service cannot read; move them: `eas-connector --org {org} config migrate-secrets --to systemd`",
                    secrets::vault_name()
                );
            }
            m.install(org, &spec)?;
            tracing::info!(service = %name, "service installed");
            println!("installed and started {name} ({})", m.describe());
        }
        ServiceCommand::Uninstall { all } => {
            let orgs = if all {
                m.installed()?
            } else {
                vec![org.to_string()]
            };
            if orgs.is_empty() {
                println!("no EAS Connector service is installed");
            }
            for o in orgs {
                m.uninstall(&o)?;
                tracing::info!(service = %m.service_name(&o), "service removed");
                println!("removed {}", m.service_name(&o));
            }
        }
        ServiceCommand::Start => {
            m.start(org)?;
            println!("started {name}");
        }
        ServiceCommand::Stop => {
            m.stop(org)?;
            println!("stopped {name}");
        }
        ServiceCommand::Status => {
            let st = m.state(org)?;
            println!("{name}: {}", state_text(&st));
        }
    }
    Ok(Outcome::Success)
}

fn state_text(s: &ServiceState) -> String {
    match s {
        ServiceState::NotInstalled => "not installed".into(),
        ServiceState::Stopped => "stopped".into(),
        ServiceState::Starting => "starting".into(),
        ServiceState::Running => "running".into(),
        ServiceState::Stopping => "stopping".into(),
        ServiceState::Failed(why) => format!("failed: {why}"),
    }
}

pub(super) fn run(loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    #[cfg(windows)]
    crate::service::windows::run(loc.clone())?;
    #[cfg(not(windows))]
    crate::service::runtime::run_foreground(loc.clone())?;
    Ok(Outcome::Success)
}

fn print_record(label: &str, r: &Option<SyncRecord>) {
    match r {
        None => println!("{label:<16} never"),
        Some(r) => {
            println!(
                "{label:<16} {} — {} device(s) in {} ms via {}",
                local(r.finished_at),
                r.devices,
                r.duration_ms,
                r.server
            );
            for f in &r.failed_over_from {
                println!("{:<16} (failed over from {}: {})", "", f.server, f.error);
            }
            if r.conflicts > 0 {
                println!(
                    "{:<16} {} decision(s) overridden by Exchange's device access rules (`eas-connector report`)",
                    "", r.conflicts
                );
            }
            if let Some(i) = &r.intune {
                match i.state.as_str() {
                    "fresh" => println!(
                        "{:<16} Intune: {} managed device(s) read in {} page(s)",
                        "", i.devices_read, i.pages
                    ),
                    "snapshot" => println!(
                        "{:<16} WARNING Intune not read; its snapshot of {} h ago decided: {}",
                        "",
                        i.snapshot_age_secs.unwrap_or(0) / 3600,
                        i.problem.as_deref().unwrap_or_default()
                    ),
                    _ => println!(
                        "{:<16} ERROR Intune: every device was held where it is: {}",
                        "",
                        i.problem.as_deref().unwrap_or_default()
                    ),
                }
            }
        }
    }
}

fn local(t: jiff::Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

pub(super) fn sync(args: SyncArgs, loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    let kind = if args.full {
        SyncKind::Full
    } else {
        SyncKind::Quick
    };
    let req = Request::Sync {
        kind,
        wait: !args.no_wait,
    };
    let reply = control::request(loc, &req, Duration::from_secs(args.timeout.max(1)))?;
    match reply {
        Reply::Queued { kind } => {
            println!("{} sync queued", kind_text(kind));
            Ok(Outcome::Success)
        }
        Reply::Synced { sync } => {
            println!(
                "{} sync done: {} device(s) in {} ms via {}",
                kind_text(sync.kind),
                sync.devices,
                sync.duration_ms,
                sync.server
            );
            for f in &sync.failed_over_from {
                println!("  failed over from {}: {}", f.server, f.error);
            }
            Ok(Outcome::Success)
        }
        Reply::SyncFailed { kind, error } => {
            eprintln!("✘ {} sync failed: {error}", kind_text(kind));
            Ok(Outcome::ProblemsFound)
        }
        Reply::Error { error } => bail!("the service refused the request: {error}"),
        other => bail!("unexpected reply from the service: {other:?}"),
    }
}

fn kind_text(k: SyncKind) -> &'static str {
    match k {
        SyncKind::Quick => "quick",
        SyncKind::Full => "full",
    }
}

pub(super) fn status(args: StatusArgs, loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    let manager =
        platform_manager().and_then(|m| Ok((m.service_name(loc.org()), m.state(loc.org())?)));
    // The running service's own view, else the file it left behind. A channel that exists but
    // does not answer this user (another account's service) leaves "running" unknown, not no.
    let (live, control_error) =
        match control::request(loc, &Request::Status, Duration::from_secs(5)) {
            Ok(Reply::Status { status }) => (Some(*status), None),
            Ok(_) | Err(ControlError::NotRunning { .. }) => (None, None),
            Err(e) => (None, Some(e.to_string())),
        };
    let running = live.is_some();
    let live_pid = live.as_ref().map(|s| s.pid);
    let (file_status, file_error) = match Status::read(&status::status_path(loc)) {
        Ok(s) => (s, None),
        Err(e) => (None, Some(e.to_string())),
    };
    // An organization nobody configured, that no service runs and that left no status: a typo
    // in --org, not a service that "has not run yet".
    if !running
        && control_error.is_none()
        && file_status.is_none()
        && file_error.is_none()
        && !loc.config_file().is_file()
    {
        return Err(super::unknown_org(
            loc,
            "no configuration, no status, no running service",
        ));
    }
    let shown = live.or(file_status);
    // What the user is told is wrong makes the exit code 1.
    let outcome = if file_error.is_some() || control_error.is_some() {
        Outcome::ProblemsFound
    } else {
        Outcome::Success
    };
    if args.json {
        let svc = match &manager {
            Ok((name, st)) => json!({"name": name, "state": st}),
            Err(e) => {
                json!({"error": e.to_string(), "unavailable": matches!(e, ServiceError::Unavailable(_))})
            }
        };
        let out = json!({
            "organization": loc.org(),
            "service": svc,
            "running": running,
            "control_endpoint": control::endpoint(loc),
            "status_file": status::status_path(loc),
            "status_file_error": file_error,
            "control_error": control_error,
            "status": shown,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(outcome);
    }
    let foreground = |name: &str, state: &str| match live_pid {
        Some(pid) => format!(
            "{name}{state}; the connector runs in the foreground (`eas-connector run`, pid {pid})"
        ),
        None => format!("{name}{state}"),
    };
    match &manager {
        Ok((name, ServiceState::Running)) => {
            println!(
                "service:         {name}: {}",
                state_text(&ServiceState::Running)
            )
        }
        Ok((name, st)) => println!(
            "service:         {}",
            foreground(&format!("{name}: "), &state_text(st))
        ),
        Err(ServiceError::Unavailable(_)) if running => println!(
            "service:         {}",
            foreground("", "not registered with a service manager")
        ),
        Err(e) => println!("service:         {e}"),
    }
    if let Some(e) = &file_error {
        println!("status file:     {e}");
    }
    if let Some(e) = &control_error {
        println!("process:         unknown: {e} (run `status` as the service's user, or as root/administrator)");
    }
    let Some(s) = shown else {
        if file_error.is_some() {
            println!("status:          unknown: the status file is damaged (above); the service writes a whole new one when it next starts");
        } else {
            println!(
                "status:          the service has not run yet for organization '{}'",
                loc.org()
            );
        }
        return Ok(outcome);
    };
    if running {
        println!("process:         {} (pid {})", s.state.as_str(), s.pid);
    } else if control_error.is_some() {
        println!("last recorded:   {} (pid {})", s.state.as_str(), s.pid);
    } else {
        println!(
            "process:         not running (last recorded: {}, pid {})",
            s.state.as_str(),
            s.pid
        );
    }
    if let Some(c) = &s.current_sync {
        if running {
            println!(
                "syncing:         {} since {}",
                kind_text(c.kind),
                local(c.started_at)
            );
        }
    }
    println!(
        "server:          {}",
        s.current_server.as_deref().unwrap_or("(none yet)")
    );
    print_record("last quick sync:", &s.last_quick_sync);
    print_record("last full sync:", &s.last_full_sync);
    match &s.last_error {
        Some(e) => println!("last error:      {} — {}", local(e.at), e.message),
        None => println!("last error:      none"),
    }
    if let Some(p) = &s.paused {
        println!("PAUSED:          {p}");
    }
    if running && s.paused.is_none() {
        if let Some(t) = s.next_quick_sync {
            println!("next quick sync: {}", local(t));
        }
        if let Some(t) = s.next_full_sync {
            println!("next full sync:  {}", local(t));
        }
        if let Some(r) = &s.next_retry {
            println!(
                "retry:           {} sync at {} (after {} failure(s))",
                kind_text(r.kind),
                local(r.at),
                s.consecutive_failures
            );
        }
    }
    Ok(outcome)
}
