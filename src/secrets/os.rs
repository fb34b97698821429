//! The operating system's credential store, through the `keyring` crate.
//!
//! Windows Credential Manager on Windows, the Secret Service (gnome-keyring, KWallet) on
//! Linux. Entries are filed under the service name [`VAULT_SERVICE`] and the user
//! `<org>/<kind>`. This module only maps keyring's results onto [`SecretStore`]; it must not
//! fall back to anything by itself (the caller decides) and never logs a value.

use super::{Backend, Secret, SecretBytes, SecretError, SecretKind, SecretStore, VAULT_SERVICE};

/// The OS credential store for one organization.
pub struct OsVault {
    org: String,
}

/// The store's name as people know it.
pub const fn vault_name() -> &'static str {
    if cfg!(windows) {
        "Windows Credential Manager"
    } else if cfg!(target_os = "linux") {
        "Secret Service (desktop keyring)"
    } else {
        "no supported credential store"
    }
}

impl OsVault {
    pub fn new(org: &str) -> Self {
        OsVault {
            org: org.to_string(),
        }
    }

    fn user(&self, key: &str) -> String {
        format!("{}/{}", self.org, key)
    }

    fn entry(&self, key: &str, what: &'static str) -> Result<keyring::Entry, SecretError> {
        keyring::Entry::new(VAULT_SERVICE, &self.user(key)).map_err(|e| vault_err(what, &e))
    }

    /// Whether the store answers at all: a lookup that finds nothing is a success.
    pub fn probe(&self) -> Result<(), String> {
        if !cfg!(any(windows, target_os = "linux")) {
            return Err("this platform has no supported credential store".into());
        }
        let entry =
            keyring::Entry::new(VAULT_SERVICE, &self.user("probe")).map_err(|e| e.to_string())?;
        match entry.get_password() {
            Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn vault_err(what: &'static str, e: &keyring::Error) -> SecretError {
    let hint = match e {
        keyring::Error::NoStorageAccess(_) => "; unlock the keyring (or log in to the desktop session), or set EAS_CONNECTOR_SECRET_STORE=file",
        _ => "",
    };
    SecretError::Vault {
        store: vault_name(),
        what,
        reason: format!("{e}{hint}"),
    }
}

impl SecretStore for OsVault {
    fn get(&self, kind: SecretKind) -> Result<Option<Secret>, SecretError> {
        match self.entry(kind.key(), kind.label())?.get_password() {
            Ok(p) => Ok(Some(Secret::new(p))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(vault_err(kind.label(), &e)),
        }
    }

    fn set(&self, kind: SecretKind, secret: &Secret) -> Result<(), SecretError> {
        self.entry(kind.key(), kind.label())?
            .set_password(secret.expose())
            .map_err(|e| vault_err(kind.label(), &e))
    }

    fn get_bytes(&self, kind: SecretKind) -> Result<Option<SecretBytes>, SecretError> {
        match self.entry(kind.key(), kind.label())?.get_secret() {
            Ok(b) => Ok(Some(SecretBytes::new(b))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(vault_err(kind.label(), &e)),
        }
    }

    fn set_bytes(&self, kind: SecretKind, value: &SecretBytes) -> Result<(), SecretError> {
        self.entry(kind.key(), kind.label())?
            .set_secret(value.expose())
            .map_err(|e| vault_err(kind.label(), &e))
    }

    fn delete(&self, kind: SecretKind) -> Result<bool, SecretError> {
        match self.entry(kind.key(), kind.label())?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(vault_err(kind.label(), &e)),
        }
    }

    fn backend(&self) -> Backend {
        Backend::OsVault(vault_name())
    }

    fn describe(&self, kind: SecretKind) -> String {
        format!(
            "{}, service \"{VAULT_SERVICE}\", account \"{}\"",
            vault_name(),
            self.user(kind.key())
        )
    }
}
