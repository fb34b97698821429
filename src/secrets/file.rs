//! The unencrypted fallback secrets file: for a non-root Linux user with no Secret Service, for
//! an explicit `EAS_CONNECTOR_SECRET_STORE=file`, and as an earlier version left it (until
//! `config migrate-secrets` moves it).
//!
//! A JSON map from secret key to password in `ConnectorSecrets.json` beside the configuration,
//! created with mode 0600 and replaced atomically (no backup copy is ever made of it). Reading
//! refuses a file that others can read. Unix only: on Windows the Credential Manager is always
//! there, so this store refuses to open. It must never be written anywhere but the org folder.

use std::collections::BTreeMap;
use std::path::PathBuf;

use zeroize::Zeroizing;

use base64::Engine as _;

use super::{Backend, Secret, SecretBytes, SecretError, SecretKind, SecretStore};
use crate::config::store::{lock, write_atomic, LOCK_WAIT};

/// Passwords in a file only its owner can read.
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// The store at `path`, for organization `org` (the file need not exist yet).
    pub fn new(path: PathBuf, org: &str) -> Result<Self, SecretError> {
        let _ = org;
        if cfg!(unix) {
            Ok(FileStore { path })
        } else {
            Err(SecretError::FileUnsupported(
                "the OS credential store is required on this platform".into(),
            ))
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn err(&self, action: &'static str, reason: impl ToString) -> SecretError {
        SecretError::File {
            path: self.path.clone(),
            action,
            reason: reason.to_string(),
        }
    }

    fn read(&self) -> Result<BTreeMap<String, Zeroizing<String>>, SecretError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => Zeroizing::new(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(self.err("read", e)),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&self.path)
                .map_err(|e| self.err("read", e))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(SecretError::FileTooOpen {
                    path: self.path.clone(),
                    mode: mode & 0o777,
                });
            }
        }
        // serde_json's error text quotes no input, only positions.
        let map: BTreeMap<String, String> = serde_json::from_slice(&bytes)
            .map_err(|e| self.err("read", format!("it is not a JSON object of strings ({e}); delete it and store the passwords again")))?;
        Ok(map
            .into_iter()
            .map(|(k, v)| (k, Zeroizing::new(v)))
            .collect())
    }

    fn write(&self, map: &BTreeMap<String, Zeroizing<String>>) -> Result<(), SecretError> {
        let plain: BTreeMap<&str, &str> =
            map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let json =
            Zeroizing::new(serde_json::to_vec_pretty(&plain).map_err(|e| self.err("written", e))?);
        write_atomic(&self.path, &json, None, Some(0o600)).map_err(|e| self.err("written", e))
    }
}

impl SecretStore for FileStore {
    fn get(&self, kind: SecretKind) -> Result<Option<Secret>, SecretError> {
        Ok(self
            .read()?
            .get(kind.key())
            .map(|v| Secret::new(v.as_str())))
    }

    fn set(&self, kind: SecretKind, secret: &Secret) -> Result<(), SecretError> {
        let _writer = lock(&self.path, LOCK_WAIT)?;
        let mut map = self.read()?;
        map.insert(
            kind.key().to_string(),
            Zeroizing::new(secret.expose().to_string()),
        );
        self.write(&map)
    }

    /// Key material is base64 in the JSON map (JSON has no bytes).
    fn get_bytes(&self, kind: SecretKind) -> Result<Option<SecretBytes>, SecretError> {
        let map = self.read()?;
        let Some(v) = map.get(kind.key()) else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v.as_bytes())
            .map_err(|_| {
                self.err(
                    "read",
                    format!("the {} is not valid base64; import it again", kind.label()),
                )
            })?;
        Ok(Some(SecretBytes::new(bytes)))
    }

    fn set_bytes(&self, kind: SecretKind, value: &SecretBytes) -> Result<(), SecretError> {
        let _writer = lock(&self.path, LOCK_WAIT)?;
        let mut map = self.read()?;
        map.insert(
            kind.key().to_string(),
            Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(value.expose())),
        );
        self.write(&map)
    }

    fn delete(&self, kind: SecretKind) -> Result<bool, SecretError> {
        let _writer = lock(&self.path, LOCK_WAIT)?;
        super::remove_key(self.read()?, kind.key(), |m| self.write(m))
    }

    fn backend(&self) -> Backend {
        Backend::File(self.path.clone())
    }

    fn describe(&self, kind: SecretKind) -> String {
        format!(
            "file {} (mode 0600), key \"{}\"",
            self.path.display(),
            kind.key()
        )
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn set_get_delete_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("org").join("ConnectorSecrets.json");
        let s = FileStore::new(path.clone(), "org").unwrap();
        assert!(s.get(SecretKind::Proxy).unwrap().is_none());
        s.set(SecretKind::Proxy, &Secret::new("p@ss")).unwrap();
        s.set(SecretKind::ServiceAccount, &Secret::new("svc"))
            .unwrap();
        assert_eq!(s.get(SecretKind::Proxy).unwrap().unwrap().expose(), "p@ss");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(s.delete(SecretKind::Proxy).unwrap());
        assert!(!s.delete(SecretKind::Proxy).unwrap());
        assert_eq!(
            s.get(SecretKind::ServiceAccount).unwrap().unwrap().expose(),
            "svc"
        );
        let der = SecretBytes::new(vec![0x30, 0x82, 0, 0xff, 7]);
        s.set_bytes(SecretKind::CloudPrivateKey, &der).unwrap();
        assert_eq!(s.get_bytes(SecretKind::CloudPrivateKey).unwrap(), Some(der));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = s.get(SecretKind::ServiceAccount).unwrap_err().to_string();
        assert!(e.contains("chmod 600") && !e.contains("svc\""), "{e}");
    }

    #[test]
    fn corrupt_file_error_does_not_echo_contents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ConnectorSecrets.json");
        write_atomic(&path, b"{\"proxy\": \"TopSecret1\"", None, Some(0o600)).unwrap();
        let s = FileStore::new(path, "org").unwrap();
        let e = s.get(SecretKind::Proxy).unwrap_err().to_string();
        assert!(!e.contains("TopSecret1"), "{e}");
        assert!(e.contains("store the passwords again"), "{e}");
    }
}
