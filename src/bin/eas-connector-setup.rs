//! `eas-connector-setup`: the setup wizard. Parses `--lang`, `--org`, `--config-dir` and
//! `--theme`, then hands over to `eas_connector::wizard`.
//!
//! A Windows release build is a GUI-subsystem program: started from the Start Menu or by the
//! installer it opens no console window (its notes on stderr then go nowhere).
//!
//! Without a desktop session (a server: no `DISPLAY` or `WAYLAND_DISPLAY`, or one that cannot
//! be opened) it says so, points to `eas-connector configure --answers`, and exits 3 — never a
//! panic and a backtrace.
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

/// The exit code when no window can be opened.
const NO_DISPLAY: u8 = 3;

/// What to do instead of the wizard, after saying why it could not open.
const NO_DISPLAY_FIX: &str = "The setup wizard needs a desktop session (Windows, or a Linux desktop). On a server without one, write an answers file and run `eas-connector configure --answers FILE` (the same steps, through the same code; `eas-connector configure --help` lists the keys, and `eas-connector lab` writes an example answers.toml).";

/// Why no window can be opened here, when that is known before trying (X11/Wayland systems).
fn missing_display() -> Option<&'static str> {
    if cfg!(all(unix, not(target_os = "macos"))) {
        let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
        if !set("DISPLAY") && !set("WAYLAND_DISPLAY") && !set("WAYLAND_SOCKET") {
            return Some("neither DISPLAY nor WAYLAND_DISPLAY is set");
        }
    }
    None
}

/// Run the wizard; a failure to open the window (the windowing library panics when a display
/// is set but cannot be reached) becomes an error with the panic's first line.
fn run_wizard(opts: wizard::Options) -> Result<(), String> {
    let message = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let hook_message = message.clone();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "an internal error".into());
        if let Ok(mut m) = hook_message.lock() {
            *m = Some(text);
        }
    }));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wizard::run(opts)));
    std::panic::set_hook(default_hook);
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(message
            .lock()
            .ok()
            .and_then(|m| m.clone())
            .unwrap_or_else(|| "an internal error".into())),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(why) = missing_display() {
        eprintln!("error: the setup window cannot be opened: {why}.\n{NO_DISPLAY_FIX}");
        return ExitCode::from(NO_DISPLAY);
    }
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
    let (manager, no_service) = match eas_connector::service::platform_manager() {
        Ok(m) => match m.can_register() {
            Ok(()) => (Some(std::sync::Arc::from(m)), None),
            Err(e) => {
                eprintln!("note: {e}; the wizard can write the configuration only");
                (None, Some(e))
            }
        },
        Err(e) => {
            eprintln!("note: {e}; the wizard can write the configuration only");
            (None, Some(e))
        }
    };
    let opts = wizard::Options {
        lang,
        location,
        manager,
        no_service,
        dark: match args.theme.as_str() {
            "light" => Some(false),
            "dark" => Some(true),
            _ => None,
        },
    };
    match run_wizard(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let first = e.lines().next().unwrap_or_default();
            let var = |v: &str| {
                std::env::var(v)
                    .map(|x| format!("{v}={}", eas_connector::config::validate::shown(&x)))
                    .unwrap_or_else(|_| format!("{v} unset"))
            };
            eprintln!(
                "error: the setup window could not be opened ({}, {}): {}\n{NO_DISPLAY_FIX}",
                var("DISPLAY"),
                var("WAYLAND_DISPLAY"),
                eas_connector::config::validate::shown(first)
            );
            ExitCode::from(NO_DISPLAY)
        }
    }
}
