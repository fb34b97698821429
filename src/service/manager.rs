//! One interface to the platform's service manager: the Windows Service Control Manager or
//! systemd. One service per Exchange organization.
//!
//! Implementations must be idempotent (installing twice is not an error), must remove on
//! uninstall exactly what install made, and must say plainly when the caller lacks the
//! rights (administrator / root) or no service manager can be reached.

use std::path::PathBuf;

/// What a service runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallSpec {
    /// The `eas-connector` executable the service runs (`run --org <org>`).
    pub exe: PathBuf,
    /// `--config-dir` to pass, when not the platform default.
    pub config_dir: Option<PathBuf>,
}

/// A service's state as the manager reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
pub enum ServiceState {
    NotInstalled,
    Stopped,
    Starting,
    Running,
    Stopping,
    /// Installed but failed (the manager's words).
    Failed(String),
}

/// Why a service operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    #[error("{action} needs administrator rights (root on Linux); run it elevated")]
    NotElevated { action: &'static str },
    #[error("no service manager is available here: {0}")]
    Unavailable(String),
    #[error("{action} of service {service} failed: {detail}")]
    Failed {
        action: &'static str,
        service: String,
        detail: String,
    },
}

/// Registers, starts, stops and removes the connector's services.
pub trait ServiceManager: Send + Sync {
    /// The manager's name for people, e.g. "systemd" or "Windows Service Control Manager".
    fn describe(&self) -> String;
    /// The service's name for `org`, e.g. `eas-connector@contoso.service` or `EasConnector$contoso`.
    fn service_name(&self, org: &str) -> String;
    /// Register the service for `org` (automatic start, restart on failure). Idempotent.
    fn install(&self, org: &str, spec: &InstallSpec) -> Result<(), ServiceError>;
    /// Remove what `install` made for `org`; not installed is not an error.
    fn uninstall(&self, org: &str) -> Result<(), ServiceError>;
    fn start(&self, org: &str) -> Result<(), ServiceError>;
    fn stop(&self, org: &str) -> Result<(), ServiceError>;
    fn state(&self, org: &str) -> Result<ServiceState, ServiceError>;
    /// Organizations with an installed service.
    fn installed(&self) -> Result<Vec<String>, ServiceError>;
    /// Whether this process may register services (e.g. runs as root for systemd's system
    /// units); a setup without that right writes the configuration only.
    fn can_register(&self) -> Result<(), ServiceError> {
        Ok(())
    }
}
