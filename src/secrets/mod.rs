//! Passwords of the service, notification and proxy accounts.
//!
//! They live only in the operating system's credential store — Windows Credential Manager, the
//! Secret Service on Linux — through the [`SecretStore`] trait; where no store can be reached (a
//! headless Linux server) they fall back to a file only its owner can read (0600), beside the
//! configuration and never inside it, and that fallback is said plainly. On Windows each
//! password is also kept for the service, which runs as LocalSystem and cannot read the admin's
//! Credential Manager: DPAPI-encrypted for the machine in a folder only SYSTEM and
//! Administrators can open ([`machine`]). A [`Secret`] has no
//! `Display`, its `Debug` is redacted and its memory is wiped on drop: this module must never put
//! a password into a path, a log line, an error message or any file other than the fallback.

mod file;
mod machine;
mod os;

use std::fmt;
use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::config::{ConfigLocation, OrgFile};

pub use file::FileStore;
pub use machine::{
    icacls_runs, MachineStore, Protector, WithServiceCopy, MACHINE_DIR, MACHINE_FILE,
};
pub use os::{vault_name, OsVault};

/// The name every credential is filed under in the OS store.
pub const VAULT_SERVICE: &str = "EAS Connector";
/// Environment variable that forces a backend: `os`, `file` or `auto` (default).
pub const STORE_ENV: &str = "EAS_CONNECTOR_SECRET_STORE";

/// Which password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// The Exchange service account (`ServiceAccount/User`).
    ServiceAccount,
    /// The notification mailbox account (`NotificationAccount/User`).
    NotificationAccount,
    /// The proxy account (`Proxy/User`).
    Proxy,
}

impl SecretKind {
    pub const ALL: [SecretKind; 3] = [
        SecretKind::ServiceAccount,
        SecretKind::NotificationAccount,
        SecretKind::Proxy,
    ];

    /// Stable key, used in the vault and on the command line.
    pub fn key(self) -> &'static str {
        match self {
            SecretKind::ServiceAccount => "service-account",
            SecretKind::NotificationAccount => "notification-account",
            SecretKind::Proxy => "proxy",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.key() == key)
    }

    /// What a person calls it.
    pub fn label(self) -> &'static str {
        match self {
            SecretKind::ServiceAccount => "service account password",
            SecretKind::NotificationAccount => "notification account password",
            SecretKind::Proxy => "proxy password",
        }
    }
}

/// A password. No `Display`; `Debug` prints `Secret(***)`; wiped from memory on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }
    /// The password itself; call only where it is sent to a peer.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// What can go wrong with the credential store. Messages never contain a password.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the {store} could not be used for the {what}: {reason}")]
    Vault {
        store: &'static str,
        what: &'static str,
        reason: String,
    },
    #[error("the secrets file {path} could not be {action}: {reason}")]
    File {
        path: PathBuf,
        action: &'static str,
        reason: String,
    },
    #[error("the secrets file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}` and make it owned by the service's user")]
    FileTooOpen { path: PathBuf, mode: u32 },
    #[error("{STORE_ENV}='{0}' is not a secret store; use os, file or auto")]
    BadPreference(String),
    #[error(
        "no OS credential store is reachable ({0}) and {STORE_ENV}=os forbids the file fallback"
    )]
    NoVault(String),
    #[error("the passwords were not changed: {0}")]
    Busy(#[from] crate::config::store::LockError),
    #[error("the fallback secrets file is supported on Linux only; on this system the OS credential store must work: {0}")]
    FileUnsupported(String),
}

/// Where secrets are kept, for people and for `config show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The operating system's store, with its name.
    OsVault(&'static str),
    /// The fallback file.
    File(PathBuf),
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::OsVault(name) => write!(f, "{name}"),
            Backend::File(p) => write!(f, "file {} (owner read/write only)", p.display()),
        }
    }
}

/// A place to keep the connector's passwords.
pub trait SecretStore: Send + Sync {
    /// The stored password, or `None` when none is stored.
    fn get(&self, kind: SecretKind) -> Result<Option<Secret>, SecretError>;
    /// Store (or replace) a password.
    fn set(&self, kind: SecretKind, secret: &Secret) -> Result<(), SecretError>;
    /// Remove a password; `Ok(false)` when there was none.
    fn delete(&self, kind: SecretKind) -> Result<bool, SecretError>;
    /// Which backend this is.
    fn backend(&self) -> Backend;
    /// Where exactly `kind` is stored, for people (never the value).
    fn describe(&self, kind: SecretKind) -> String;
    /// Make every stored password readable by the background service's account too, where
    /// that account cannot read this store (Windows: LocalSystem and Credential Manager).
    /// Returns the passwords it copied; a store the service reads as is copies nothing.
    fn share_with_service(&self) -> Result<Vec<SecretKind>, SecretError> {
        Ok(Vec::new())
    }
}

/// Which backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    /// The existing fallback file if there is one, else the OS store, else a new fallback file.
    Auto,
    /// The OS store or an error.
    Os,
    /// The fallback file.
    File,
}

impl Preference {
    /// From [`STORE_ENV`]; `auto` when unset.
    pub fn from_env() -> Result<Self, SecretError> {
        match std::env::var(STORE_ENV) {
            Err(_) => Ok(Preference::Auto),
            Ok(v) => match v.to_ascii_lowercase().as_str() {
                "" | "auto" => Ok(Preference::Auto),
                "os" => Ok(Preference::Os),
                "file" => Ok(Preference::File),
                _ => Err(SecretError::BadPreference(v)),
            },
        }
    }
}

/// The opened store, and why the fallback file is used when it is.
pub struct OpenedStore {
    pub store: Box<dyn SecretStore>,
    /// Set when the OS store could not be reached and the fallback file is used instead.
    pub fallback_reason: Option<String>,
}

/// Open the secret store for an organization.
pub fn open(loc: &ConfigLocation, pref: Preference) -> Result<OpenedStore, SecretError> {
    let file_path = loc.file(OrgFile::Secrets);
    let file_store = || FileStore::new(file_path.clone(), loc.org());
    match pref {
        Preference::File => Ok(OpenedStore {
            store: Box::new(file_store()?),
            fallback_reason: None,
        }),
        Preference::Os => {
            let vault = OsVault::new(loc.org());
            vault.probe().map_err(SecretError::NoVault)?;
            Ok(OpenedStore {
                store: os_store(loc, vault),
                fallback_reason: None,
            })
        }
        Preference::Auto => {
            if file_path.exists() {
                return Ok(OpenedStore {
                    store: Box::new(file_store()?),
                    fallback_reason: Some(format!(
                        "secrets were stored earlier in {} because no OS credential store was reachable then; it stays in use",
                        file_path.display()
                    )),
                });
            }
            let vault = OsVault::new(loc.org());
            match vault.probe() {
                Ok(()) => Ok(OpenedStore {
                    store: os_store(loc, vault),
                    fallback_reason: None,
                }),
                Err(reason) => {
                    let store = file_store().map_err(|e| match e {
                        SecretError::FileUnsupported(_) => {
                            SecretError::FileUnsupported(reason.clone())
                        }
                        other => other,
                    })?;
                    tracing::warn!(
                        file = %file_path.display(),
                        "no OS credential store is reachable ({reason}); passwords are kept in a file only its owner can read"
                    );
                    Ok(OpenedStore {
                        store: Box::new(store),
                        fallback_reason: Some(format!(
                            "no OS credential store is reachable ({reason}); passwords are kept in {} (mode 0600)",
                            file_path.display()
                        )),
                    })
                }
            }
        }
    }
}

/// The OS vault as this platform's service can use it: on Windows with the service's
/// machine-protected copy beside it ([`machine`]), elsewhere as is (the service's account reads
/// the same store: root's, or the fallback file).
fn os_store(loc: &ConfigLocation, vault: OsVault) -> Box<dyn SecretStore> {
    #[cfg(windows)]
    {
        Box::new(WithServiceCopy {
            own: vault,
            copy: MachineStore::new(&loc.org_dir(), loc.org(), machine::Dpapi),
        })
    }
    #[cfg(not(windows))]
    {
        let _ = loc;
        Box::new(vault)
    }
}

/// Before a service is registered: copy the passwords this account stored to where the
/// service's account reads them ([`SecretStore::share_with_service`]). Only Windows needs it;
/// elsewhere this opens nothing and copies nothing.
pub fn share_with_service(loc: &ConfigLocation) -> Result<Vec<SecretKind>, SecretError> {
    if cfg!(windows) {
        open(loc, Preference::from_env()?)?
            .store
            .share_with_service()
    } else {
        Ok(Vec::new())
    }
}

/// Remove `key` from the map a file store keeps, writing the map back only when it held
/// the key; `Ok(false)` when it did not.
fn remove_key<V>(
    mut map: std::collections::BTreeMap<String, V>,
    key: &str,
    write: impl FnOnce(&std::collections::BTreeMap<String, V>) -> Result<(), SecretError>,
) -> Result<bool, SecretError> {
    let existed = map.remove(key).is_some();
    if existed {
        write(&map)?;
    }
    Ok(existed)
}

/// What [`purge`] removed for one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purged {
    /// Passwords deleted from the OS credential store.
    pub from_vault: Vec<SecretKind>,
    /// The fallback secrets file, when one was deleted.
    pub file: Option<PathBuf>,
    /// Why the OS credential store was not searched, when it was not.
    pub vault_skipped: Option<String>,
}

/// Delete every password of `loc`'s organization: all [`SecretKind`]s from the OS credential
/// store (when reachable, and unless `pref` is [`Preference::File`]) and the fallback file.
/// With [`Preference::Os`] an unreachable store is an error; with `Auto` it is reported in
/// [`Purged::vault_skipped`]. Nothing stored is not an error.
pub fn purge(loc: &ConfigLocation, pref: Preference) -> Result<Purged, SecretError> {
    let mut purged = Purged {
        from_vault: Vec::new(),
        file: None,
        vault_skipped: None,
    };
    let machine_dir = loc.org_dir().join(MACHINE_DIR);
    match std::fs::remove_dir_all(&machine_dir) {
        Ok(()) => purged.file = Some(machine_dir.join(MACHINE_FILE)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                "; run elevated (as administrator)"
            } else {
                ""
            };
            return Err(SecretError::File {
                path: machine_dir,
                action: "deleted",
                reason: format!("{e}{hint}"),
            });
        }
    }
    let file_path = loc.file(OrgFile::Secrets);
    match std::fs::remove_file(&file_path) {
        Ok(()) => purged.file = Some(file_path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(SecretError::File {
                path: file_path,
                action: "deleted",
                reason: e.to_string(),
            })
        }
    }
    if pref == Preference::File {
        purged.vault_skipped = Some(format!(
            "{STORE_ENV}=file: the OS credential store is not used"
        ));
        return Ok(purged);
    }
    let vault = OsVault::new(loc.org());
    if let Err(reason) = vault.probe() {
        if pref == Preference::Os {
            return Err(SecretError::NoVault(reason));
        }
        purged.vault_skipped = Some(format!(
            "the OS credential store is not reachable ({reason}); nothing could be deleted from it"
        ));
        return Ok(purged);
    }
    for kind in SecretKind::ALL {
        if vault.delete(kind)? {
            purged.from_vault.push(kind);
        }
    }
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("Hunter2!");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(Secret(***))");
        assert_eq!(s.expose(), "Hunter2!");
    }

    #[test]
    fn kinds_have_stable_keys() {
        for k in SecretKind::ALL {
            assert_eq!(SecretKind::from_key(k.key()), Some(k));
        }
        assert_eq!(SecretKind::from_key("nope"), None);
    }
}
