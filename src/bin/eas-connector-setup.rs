//! `eas-connector-setup`: the setup wizard. Parses `--lang`, `--org`, `--config-dir` and
//! `--theme`, then hands over to `eas_connector::wizard`.
//!
//! A Windows release build is a GUI-subsystem program: started from the Start Menu or by the
//! installer it opens no console window (its notes on stderr then go nowhere).
#![cfg_attr(all(windows, not(debug_assertions)), windows_subsystem = "windows")]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use eas_connector::config::ConfigLocation;
use eas_connector::wizard::{self, i18n::Lang};

/// EAS Connector setup wizard.
#[derive(Debug, Parser)]
#[command(name = "eas-connector-setup", version)]
struct Args {
    /// Display language (default: the system's).
    #[arg(long, value_parser = ["en", "nl", "fr"])]
    lang: Option<String>,
    /// Exchange organization to set up.
    #[arg(long, env = "EAS_CONNECTOR_ORG", default_value = eas_connector::config::DEFAULT_ORG)]
    org: String,
    /// Configuration root instead of the platform's.
    #[arg(long, env = "EAS_CONNECTOR_CONFIG_DIR", value_name = "DIR")]
    config_dir: Option<PathBuf>,
    /// Colour theme (default: follow the system's light/dark setting).
    #[arg(long, value_parser = ["system", "light", "dark"], default_value = "system")]
    theme: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let lang = args
        .lang
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or_else(Lang::from_os);
    let location = match ConfigLocation::new(args.config_dir.as_deref(), &args.org) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // The platform's service manager, when this process may register services; otherwise
    // the wizard says so and offers to write the configuration only.
    let manager = match eas_connector::service::platform_manager() {
        Ok(m) => match m.can_register() {
            Ok(()) => Some(std::sync::Arc::from(m)),
            Err(e) => {
                eprintln!("note: {e}; the wizard can write the configuration only");
                None
            }
        },
        Err(e) => {
            eprintln!("note: {e}; the wizard can write the configuration only");
            None
        }
    };
    let opts = wizard::Options {
        lang,
        location,
        manager,
        dark: match args.theme.as_str() {
            "light" => Some(false),
            "dark" => Some(true),
            _ => None,
        },
    };
    match wizard::run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: the setup window could not be opened: {e}");
            ExitCode::FAILURE
        }
    }
}
