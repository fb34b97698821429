//! The `eas-connector` command line: argument definitions and dispatch.
//!
//! This is the one place that writes for people on stdout/stderr. Each subcommand lives in its
//! own module and returns a [`Outcome`]; errors travel up as `anyhow` errors with the step and
//! the fix in their text. It must not hold business logic: that lives in the library modules
//! it calls.

mod cloud_cmd;
mod config_cmd;
mod configure_cmd;
mod devices_cmd;
mod diag_cmd;
mod engine_cmd;
mod lab_cmd;
mod service_cmd;
mod validate_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Choice, ConfigFile, ConfigLocation, DEFAULT_ORG};
use crate::logging::{self, LogSettings, RotationPolicy};

/// Exchange ActiveSync access connector: service and admin CLI.
#[derive(Debug, Parser)]
#[command(name = "eas-connector", version, about, long_about = None)]
pub struct Cli {
    /// Configuration root folder; the org's files are in DIR/<org>/ [default: the platform's:
    /// %ProgramData%\EAS Connector, /etc/eas-connector as root, else ~/.config/eas-connector]
    #[arg(
        long,
        global = true,
        env = "EAS_CONNECTOR_CONFIG_DIR",
        value_name = "DIR"
    )]
    pub config_dir: Option<PathBuf>,

    /// Exchange organization this connector serves (one connector per organization).
    #[arg(long, global = true, env = "EAS_CONNECTOR_ORG", default_value = DEFAULT_ORG, value_name = "NAME")]
    pub org: String,

    /// Print more on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show, check and change the configuration and the stored passwords.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// The Microsoft cloud identity's credential: `set-certificate`, `set-secret`, `show`.
    #[command(subcommand)]
    Cloud(cloud_cmd::CloudCommand),
    /// The Intune source's snapshot: `accept` a read that shrank too much, `show`.
    #[command(subcommand)]
    Intune(cloud_cmd::IntuneCommand),
    /// Set up (or reconfigure, or replace) the connector from an answers file, without a
    /// window: validate, write the configuration, store passwords, register the service.
    Configure(configure_cmd::ConfigureArgs),
    /// Run a simulated Exchange organization on loopback (no Exchange server needed).
    Lab(lab_cmd::LabArgs),
    /// Check connectivity to Exchange step by step (DNS, proxy, TLS, sign-in, runspace,
    /// permissions, Autodiscover, EWS, ActiveSync).
    Validate(validate_cmd::ValidateArgs),
    /// Support tools: decode captured WinRM traffic.
    #[command(subcommand)]
    Diag(diag_cmd::DiagCommand),
    /// Register, start, stop or remove the background service for --org.
    #[command(subcommand)]
    Service(service_cmd::ServiceCommand),
    /// Run the connector for --org in the foreground (what the service runs; under the
    /// Windows Service Control Manager when it started it) until SIGTERM, Ctrl-C or a
    /// service stop.
    Run,
    /// Ask the running service for a sync now.
    Sync(service_cmd::SyncArgs),
    /// Show the service's state, last syncs, last error and next syncs (also when stopped).
    Status(service_cmd::StatusArgs),
    /// The access-control engine without the service: `engine run --full|--quick [--dry-run]`.
    #[command(subcommand)]
    Engine(engine_cmd::EngineCommand),
    /// Show whether enforcement is on and the last dry run; `--confirm` turns it on.
    Enforce(engine_cmd::EnforceArgs),
    /// The access policy (AccessPolicy.toml): `check`, `example`.
    #[command(subcommand)]
    Policy(engine_cmd::PolicyCommand),
    /// Summarise the audit trail of access decisions.
    Report(engine_cmd::ReportArgs),
    /// Every device with Exchange's state, the connector's decision and why; `allow`,
    /// `block`, `quarantine` and `clear` set and remove an admin's one-off override.
    Devices(devices_cmd::DevicesArgs),
}

impl Command {
    /// Whether the command changes files (then it logs to the org's log folder, creating it).
    fn writes(&self) -> bool {
        match self {
            Command::Config(c) => c.writes(),
            Command::Cloud(c) => c.writes(),
            Command::Intune(c) => c.writes(),
            Command::Configure(_) => true,
            Command::Service(s) => s.writes(),
            Command::Run => true,
            Command::Engine(_) | Command::Enforce(_) => true,
            Command::Devices(d) => d.writes(),
            Command::Lab(_)
            | Command::Diag(_)
            | Command::Validate(_)
            | Command::Sync(_)
            | Command::Status(_)
            | Command::Policy(_)
            | Command::Report(_) => false,
        }
    }
}

/// How a command ended when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked for was done / found fine.
    Success,
    /// The command ran, and found problems it has reported (exit code 1).
    ProblemsFound,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::ProblemsFound => ExitCode::from(1),
        }
    }
}

fn stderr_level(verbose: u8) -> &'static str {
    match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    }
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let loc = ConfigLocation::new(cli.config_dir.as_deref(), &cli.org)?;
    let file_level = ConfigFile::load(&loc)
        .map(|f| f.config.log_level)
        .unwrap_or_default()
        .name()
        .to_string();
    let deletes_org_dirs = matches!(&cli.command, Command::Config(c) if c.deletes_org_dirs());
    let log_to_file = !deletes_org_dirs && (cli.command.writes() || loc.org_dir().is_dir());
    logging::init(&LogSettings {
        file_level,
        dir: log_to_file.then(|| loc.logs_dir()),
        stderr_level: Some(stderr_level(cli.verbose).to_string()),
        rotation: RotationPolicy::default(),
        event_source: matches!(cli.command, Command::Run)
            .then(|| logging::eventlog::source_name(loc.org())),
    })?;
    match cli.command {
        Command::Config(c) => config_cmd::run(c, &loc),
        Command::Cloud(c) => cloud_cmd::run(c, &loc),
        Command::Intune(c) => cloud_cmd::intune(c, &loc),
        Command::Configure(a) => configure_cmd::run(a, &loc),
        Command::Lab(a) => lab_cmd::run(a),
        Command::Diag(d) => diag_cmd::run(d, &loc),
        Command::Validate(v) => validate_cmd::run(v, &loc),
        Command::Service(s) => service_cmd::service(s, &loc, cli.config_dir.as_deref()),
        Command::Run => service_cmd::run(&loc),
        Command::Sync(a) => service_cmd::sync(a, &loc),
        Command::Status(a) => service_cmd::status(a, &loc),
        Command::Engine(e) => engine_cmd::run(e, &loc),
        Command::Enforce(a) => engine_cmd::enforce(a, &loc),
        Command::Policy(p) => engine_cmd::policy(p, &loc),
        Command::Report(r) => engine_cmd::report(r, &loc),
        Command::Devices(d) => devices_cmd::run(d, &loc),
    }
}

/// The error for an `--org` with nothing of its own (`missing` says what was looked for):
/// a typo, so it lists the organizations that exist.
fn unknown_org(loc: &ConfigLocation, missing: &str) -> anyhow::Error {
    let known = loc.existing_orgs();
    anyhow::anyhow!(
        "no organization '{}' under {}: {missing}; {}",
        loc.org(),
        loc.root().display(),
        if known.is_empty() {
            "none is configured here (pass --config-dir DIR, or set one up with eas-connector-setup)"
                .to_string()
        } else {
            format!(
                "the organizations here are: {} (pass --org NAME)",
                known.join(", ")
            )
        }
    )
}

/// Who runs this command, for the audit trail and confirmations.
fn admin_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into())
}
