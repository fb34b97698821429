//! Logging: `tracing` to size-rotated files in the org's `Logs` folder, and to stderr for
//! command-line runs.
//!
//! The level comes from `RUST_LOG` when set, else from the configuration's `LogLevel`, which
//! applies to our own lines; libraries' internals show only at debug and trace (below that,
//! their warnings and errors). Files
//! rotate at a bounded size and count (10 MB × 30 by default, like the retired connector's
//! logs). This module must never be handed a secret: callers log field names and outcomes, and
//! [`crate::secrets::Secret`] has no `Display` and a redacted `Debug`.

pub mod eventlog;
mod rotate;

use crate::config::OrgFile;
use std::path::PathBuf;

use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

pub use rotate::{numbered, rotated, shift, RotatingFile, RotationPolicy};

/// How to log.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// Level for the log files: error, warn, info, debug or trace (the config's `LogLevel`).
    pub file_level: String,
    /// Folder for log files; `None` logs to stderr only.
    pub dir: Option<PathBuf>,
    /// Level for stderr; `None` for no stderr output.
    pub stderr_level: Option<String>,
    pub rotation: RotationPolicy,
    /// Windows Event Log source for the service's notable events ([`eventlog`]); `None` for
    /// command-line runs, and ignored where the platform has no Event Log.
    pub event_source: Option<String>,
}

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("could not create the log folder {path}: {source}; check its permissions or pass --config-dir")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "RUST_LOG or LogLevel '{0}' is not a valid filter: use error, warn, info, debug or trace"
    )]
    Filter(String),
}

fn filter(level: &str) -> Result<EnvFilter, LoggingError> {
    filter_from(level, std::env::var("RUST_LOG").ok())
}

/// The filter for `level`, or `rust_log` when set. Our own crates log at `level`; libraries
/// (the authentication library's every InitializeSecurityContext, HTTP and TLS internals) at
/// warn and above unless `level` is debug or trace.
fn filter_from(level: &str, rust_log: Option<String>) -> Result<EnvFilter, LoggingError> {
    if let Some(v) = rust_log.filter(|v| !v.trim().is_empty()) {
        return EnvFilter::try_new(&v).map_err(|_| LoggingError::Filter(v));
    }
    let bad = || LoggingError::Filter(level.to_string());
    let ours = level.parse::<LevelFilter>().map_err(|_| bad())?;
    let libraries = if ours > LevelFilter::INFO {
        ours
    } else {
        ours.min(LevelFilter::WARN)
    };
    let mut f = EnvFilter::default().add_directive(libraries.into());
    for krate in ["eas_connector", "eas_wire", "eas_connector_setup"] {
        f = f.add_directive(format!("{krate}={ours}").parse().map_err(|_| bad())?);
    }
    Ok(f)
}

/// Install the global subscriber. Calling it twice keeps the first one (tests do that).
pub fn init(settings: &LogSettings) -> Result<(), LoggingError> {
    let file_layer = match &settings.dir {
        Some(dir) => {
            crate::config::store::create_private_dir(dir).map_err(|source| LoggingError::Dir {
                path: dir.clone(),
                source,
            })?;
            let writer = RotatingFile::new(dir.join(OrgFile::Log.name()), settings.rotation);
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .with_ansi(false)
                    .with_target(true)
                    .with_filter(filter(&settings.file_level)?),
            )
        }
        None => None,
    };
    let stderr_layer = match &settings.stderr_level {
        Some(level) => Some(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .without_time()
                .with_target(false)
                .with_filter(filter(level)?),
        ),
        None => None,
    };
    let event_layer = settings
        .event_source
        .as_deref()
        .and_then(eventlog::platform_sink)
        .map(|sink| {
            // Built only for the connector's own events at information and above.
            eventlog::EventLogLayer::new(sink).with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target("eas_connector", tracing::Level::INFO),
            )
        });
    let _ = tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .with(event_layer)
        .try_init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Records the targets of the events a filter lets through.
    struct Targets(Arc<Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> Layer<S> for Targets {
        fn on_event(&self, e: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
            self.0
                .lock()
                .unwrap()
                .push(e.metadata().target().to_string());
        }
    }

    fn passed(level: &str) -> Vec<String> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sub = tracing_subscriber::registry()
            .with(Targets(seen.clone()).with_filter(filter_from(level, None).unwrap()));
        tracing::subscriber::with_default(sub, || {
            tracing::info!(target: "sspi::ntlm", "InitializeSecurityContext result");
            tracing::warn!(target: "sspi::ntlm", "library warning");
            tracing::info!(target: "eas_connector::engine", "sync finished");
            tracing::debug!(target: "eas_connector::engine", "detail");
        });
        let v = seen.lock().unwrap().clone();
        v
    }

    #[test]
    fn libraries_are_quiet_below_debug_and_ours_follow_the_level() {
        assert_eq!(
            passed("info"),
            ["sspi::ntlm", "eas_connector::engine"],
            "at info: the library's warning and our info line"
        );
        assert_eq!(passed("debug").len(), 4);
        assert_eq!(passed("warn"), ["sspi::ntlm"]);
        assert!(filter_from("loud", None).is_err());
        // RUST_LOG wins whole.
        assert!(filter_from("info", Some("sspi=info".into())).is_ok());
    }
}
