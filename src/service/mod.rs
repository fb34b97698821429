//! The background service: registration with the platform's service manager, the runtime
//! (`eas-connector run`), its status file and its local control channel.
//!
//! Everything that registers, starts or stops a service goes through [`ServiceManager`], so
//! the wizard, `configure` and `eas-connector service …` behave the same on Windows (SCM) and
//! Linux (systemd). Platform code stays thin and behind that trait; this module must not print
//! for people (the CLI does) and must never write a password anywhere.

pub mod control;
pub mod manager;
pub mod runtime;
pub mod schedule;
pub mod status;
#[cfg(target_os = "linux")]
pub mod systemd;
#[cfg(windows)]
pub mod windows;

pub use manager::{InstallSpec, ServiceError, ServiceManager, ServiceState};

/// The service manager of this machine: systemd on Linux (when it is running), the Service
/// Control Manager on Windows. [`ServiceError::Unavailable`] says why there is none, so the
/// caller can offer to run without a service.
pub fn platform_manager() -> Result<Box<dyn ServiceManager>, ServiceError> {
    #[cfg(target_os = "linux")]
    {
        Ok(Box::new(systemd::Systemd::from_env()?))
    }
    #[cfg(windows)]
    {
        Ok(Box::new(windows::Scm))
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    {
        Err(ServiceError::Unavailable(
            "only systemd (Linux) and the Windows Service Control Manager are supported".into(),
        ))
    }
}
