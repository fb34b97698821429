//! Removing an organization's connector: what `eas-connector service uninstall` and
//! `eas-connector config purge` do together, for the wizard's status home (Remove).
//!
//! [`plan`] says what would go (the service, the organization's folder with its entries, the
//! passwords) before anything is touched, so the admin can confirm; [`remove`] then removes
//! the service first (a service left without its configuration would fail at every start),
//! then the passwords, then the folder. When removing the service fails, nothing is deleted.
//! Exchange is not touched: device states the connector set stay as they are. It never
//! prints and never logs a password.

use std::path::PathBuf;

use crate::config::purge::{self as purging, OrgFolder};
use crate::config::{ConfigError, ConfigLocation};
use crate::secrets::{self, Preference, Purged, SecretError};
use crate::service::manager::{ServiceError, ServiceManager, ServiceState};

/// What removing the organization would delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub org: String,
    /// The installed service's name, when one is installed.
    pub service: Option<String>,
    /// The organization's folder and what is in it (configuration, its backup, Logs, the
    /// service's status and state, the device list, the fallback passwords file).
    pub folder: Option<OrgFolder>,
    /// The OS password store the passwords are also deleted from (none for the file store).
    pub vault: Option<&'static str>,
}

/// What [`remove`] removed.
#[derive(Debug, Clone)]
pub struct Removed {
    pub service: Option<String>,
    pub folder: Option<PathBuf>,
    pub passwords: Purged,
}

/// Why the organization could not be (fully) removed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RemoveError {
    /// The service manager could not be asked, or refused to remove the service; nothing was
    /// deleted.
    #[error("the service could not be removed: {0}; nothing was deleted")]
    Service(ServiceError),
    /// The passwords could not be deleted; the service is gone, the folder was kept.
    #[error("the passwords could not be deleted: {0}; the folder was kept")]
    Secrets(String),
    /// The folder could not be listed or deleted.
    #[error("{0}")]
    Folder(String),
}

impl From<ConfigError> for RemoveError {
    fn from(e: ConfigError) -> Self {
        RemoveError::Folder(e.to_string())
    }
}

impl From<SecretError> for RemoveError {
    fn from(e: SecretError) -> Self {
        RemoveError::Secrets(e.to_string())
    }
}

/// What removing `loc`'s organization would delete (nothing is changed). `manager` is the
/// platform's service manager, when there is one.
pub fn plan(
    loc: &ConfigLocation,
    manager: Option<&dyn ServiceManager>,
) -> Result<Removal, RemoveError> {
    let service = match manager {
        Some(m) => match m.state(loc.org()).map_err(RemoveError::Service)? {
            ServiceState::NotInstalled => None,
            _ => Some(m.service_name(loc.org())),
        },
        None => None,
    };
    let pref = Preference::from_env()?;
    Ok(Removal {
        org: loc.org().to_string(),
        service,
        folder: purging::org_folder(loc)?,
        vault: (pref != Preference::File).then(secrets::vault_name),
    })
}

/// Remove `loc`'s organization: its service (through `manager`), its passwords, its folder.
pub fn remove(
    loc: &ConfigLocation,
    manager: Option<&dyn ServiceManager>,
) -> Result<Removed, RemoveError> {
    let planned = plan(loc, manager)?;
    let service = match (&planned.service, manager) {
        (Some(name), Some(m)) => {
            m.uninstall(loc.org()).map_err(RemoveError::Service)?;
            tracing::info!(service = %name, "service removed");
            Some(name.clone())
        }
        _ => None,
    };
    let passwords = secrets::purge(loc, Preference::from_env()?)?;
    let folder = match &planned.folder {
        Some(f) => {
            purging::remove(f)?;
            Some(f.dir.clone())
        }
        None => None,
    };
    tracing::info!(org = loc.org(), "organization removed");
    Ok(Removed {
        service,
        folder,
        passwords,
    })
}
