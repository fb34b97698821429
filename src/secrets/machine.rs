//! The Windows service's copy of the passwords, and the store that keeps it beside the admin's.
//!
//! Windows Credential Manager is per account: what the admin stores there, the service (which
//! runs as LocalSystem) cannot read. So on Windows every password is also kept in
//! `<org>\Secrets\ConnectorSecrets.dpapi`: a JSON map from key to the password encrypted with
//! DPAPI for this machine (entropy binds each value to its org and key), in a folder whose ACL
//! admits only SYSTEM and Administrators (set with `icacls`, inheritance removed); each change
//! is a read-modify-write under the file's advisory lock. [`WithServiceCopy`] writes the copy
//! first, then the account's own store, and reads the copy first.
//!
//! The encryption is behind [`Protector`] so the file handling is tested on Linux; the DPAPI
//! protector is Windows only and thin. This module must never write a password in the clear,
//! and never anywhere but that folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use zeroize::Zeroizing;

use super::{Backend, Secret, SecretBytes, SecretError, SecretKind, SecretStore};
use crate::config::store::{lock, write_atomic, FileLock, LockError, LOCK_WAIT};

/// The folder (in the org folder) that holds the service's copy.
pub const MACHINE_DIR: &str = "Secrets";
/// The service's copy, in [`MACHINE_DIR`].
pub const MACHINE_FILE: &str = "ConnectorSecrets.dpapi";

/// Encrypts values for the machine and locks their folder down.
pub trait Protector: Send + Sync {
    fn protect(&self, plain: &[u8], entropy: &[u8]) -> Result<Vec<u8>, String>;
    fn unprotect(&self, sealed: &[u8], entropy: &[u8]) -> Result<Zeroizing<Vec<u8>>, String>;
    /// Make `dir` readable and writable by SYSTEM and Administrators only.
    fn restrict(&self, dir: &Path) -> Result<(), String>;
    /// How the values are protected, for people.
    fn describe(&self) -> &'static str;
}

/// The icacls runs, in order, that leave `dir` and its files with exactly SYSTEM and
/// Administrators (full control, inherited by the files), owned by Administrators: reset any
/// explicit entries (someone may have made the folder first; ordinary users may create folders
/// under ProgramData), take ownership, then drop what is inherited from above and grant the
/// two. SIDs, not names: names are localized.
pub fn icacls_runs(dir: &Path) -> Vec<Vec<std::ffi::OsString>> {
    let d = || dir.as_os_str().to_owned();
    vec![
        vec![d(), "/reset".into(), "/T".into(), "/Q".into()],
        vec![
            d(),
            "/setowner".into(),
            "*S-1-5-32-544".into(),
            "/T".into(),
            "/Q".into(),
        ],
        vec![
            d(),
            "/inheritance:r".into(),
            "/grant:r".into(),
            "*S-1-5-18:(OI)(CI)F".into(),
            "*S-1-5-32-544:(OI)(CI)F".into(),
            "/Q".into(),
        ],
    ]
}

/// Passwords encrypted by a [`Protector`] in one file.
pub struct MachineStore<P: Protector> {
    path: PathBuf,
    org: String,
    protector: P,
}

impl<P: Protector> MachineStore<P> {
    /// The store at `<org_dir>/Secrets/ConnectorSecrets.dpapi`.
    pub fn new(org_dir: &Path, org: &str, protector: P) -> Self {
        MachineStore {
            path: org_dir.join(MACHINE_DIR).join(MACHINE_FILE),
            org: org.to_string(),
            protector,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, action: &'static str, reason: impl ToString) -> SecretError {
        SecretError::File {
            path: self.path.clone(),
            action,
            reason: reason.to_string(),
        }
    }

    fn entropy(&self, key: &str) -> Vec<u8> {
        format!("EAS Connector\0{}\0{key}", self.org).into_bytes()
    }

    fn read(&self) -> Result<BTreeMap<String, String>, SecretError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(self.err(
                    "read",
                    "access denied: only SYSTEM and Administrators may read it; run elevated",
                ))
            }
            Err(e) => return Err(self.err("read", e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| {
            self.err(
                "read",
                format!("it is not a JSON object of strings ({e}); delete it and store the passwords again"),
            )
        })
    }

    /// One writer at a time (a read-modify-write of the whole file); an account that may not
    /// enter the folder is told to run elevated, as a read would tell it.
    fn lock(&self) -> Result<FileLock, SecretError> {
        // Nothing, not even the lock file, goes through a link in place of the folder.
        if let Some(dir) = self.path.parent() {
            self.refuse_link(dir)?;
        }
        lock(&self.path, LOCK_WAIT).map_err(|e| match e {
            LockError::Io { source, .. }
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                self.err(
                    "written",
                    "access denied: only SYSTEM and Administrators may change it; run elevated",
                )
            }
            e => SecretError::Busy(e),
        })
    }

    /// A link (or junction) in place of the folder would send the passwords wherever it
    /// points: refused.
    fn refuse_link(&self, dir: &Path) -> Result<(), SecretError> {
        match std::fs::symlink_metadata(dir) {
            Ok(m) if m.file_type().is_symlink() => Err(self.err(
                "written",
                format!(
                    "{} is a link, not a folder; delete it and store the passwords again",
                    dir.display()
                ),
            )),
            _ => Ok(()),
        }
    }

    fn write(&self, map: &BTreeMap<String, String>) -> Result<(), SecretError> {
        let dir = self.path.parent().expect("the file is in MACHINE_DIR");
        std::fs::create_dir_all(dir).map_err(|e| self.err("written", e))?;
        self.refuse_link(dir)?;
        if let Err(e) = std::fs::symlink_metadata(dir) {
            return Err(self.err("written", e));
        }
        self.protector.restrict(dir).map_err(|e| {
            self.err(
                "written",
                format!("its folder's access could not be restricted: {e}"),
            )
        })?;
        let json = serde_json::to_vec_pretty(map).map_err(|e| self.err("written", e))?;
        write_atomic(&self.path, &json, None, Some(0o600)).map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                self.err("written", format!("{e}; run elevated (as administrator)"))
            } else {
                self.err("written", e)
            }
        })
    }
}

impl<P: Protector> MachineStore<P> {
    /// The decrypted bytes of `kind`, or `None`.
    fn get_raw(&self, kind: SecretKind) -> Result<Option<Zeroizing<Vec<u8>>>, SecretError> {
        let map = self.read()?;
        let Some(stored) = map.get(kind.key()) else {
            return Ok(None);
        };
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(stored)
            .map_err(|_| {
                self.err(
                    "read",
                    format!("the {} is not valid base64; store it again", kind.label()),
                )
            })?;
        self.protector
            .unprotect(&sealed, &self.entropy(kind.key()))
            .map(Some)
            .map_err(|e| {
                self.err(
                    "read",
                    format!(
                        "the {} could not be decrypted ({e}); store it again",
                        kind.label()
                    ),
                )
            })
    }

    /// Encrypt `plain` for the machine and keep it as `kind`.
    fn set_raw(&self, kind: SecretKind, plain: &[u8]) -> Result<(), SecretError> {
        let _writer = self.lock()?;
        let mut map = self.read()?;
        let sealed = self
            .protector
            .protect(plain, &self.entropy(kind.key()))
            .map_err(|e| {
                self.err(
                    "written",
                    format!("the {} could not be encrypted: {e}", kind.label()),
                )
            })?;
        map.insert(
            kind.key().to_string(),
            base64::engine::general_purpose::STANDARD.encode(sealed),
        );
        self.write(&map)
    }
}

impl<P: Protector> SecretStore for MachineStore<P> {
    fn get(&self, kind: SecretKind) -> Result<Option<Secret>, SecretError> {
        let Some(plain) = self.get_raw(kind)? else {
            return Ok(None);
        };
        let text = std::str::from_utf8(&plain).map_err(|_| {
            self.err(
                "read",
                format!("the {} is not UTF-8; store it again", kind.label()),
            )
        })?;
        Ok(Some(Secret::new(text)))
    }

    fn set(&self, kind: SecretKind, secret: &Secret) -> Result<(), SecretError> {
        self.set_raw(kind, secret.expose().as_bytes())
    }

    fn get_bytes(&self, kind: SecretKind) -> Result<Option<SecretBytes>, SecretError> {
        Ok(self.get_raw(kind)?.map(|b| SecretBytes::new(b.as_slice())))
    }

    fn set_bytes(&self, kind: SecretKind, value: &SecretBytes) -> Result<(), SecretError> {
        self.set_raw(kind, value.expose())
    }

    fn delete(&self, kind: SecretKind) -> Result<bool, SecretError> {
        let _writer = self.lock()?;
        super::remove_key(self.read()?, kind.key(), |m| self.write(m))
    }

    fn backend(&self) -> Backend {
        Backend::File(self.path.clone())
    }

    fn describe(&self, kind: SecretKind) -> String {
        format!(
            "file {} ({}), key \"{}\"",
            self.path.display(),
            self.protector.describe(),
            kind.key()
        )
    }
}

/// The account's own store, plus the service's copy. Writes go to the copy first (so that an
/// account that may not write it, e.g. a non-elevated admin, changes nothing), then to its own
/// store. Reads take the copy first: it is what the service uses, and the service account's own
/// store may hold a stale password from an earlier workaround; an unreadable copy (not
/// elevated) falls back to the account's own store.
pub struct WithServiceCopy<A: SecretStore, B: SecretStore> {
    pub own: A,
    pub copy: B,
}

impl<A: SecretStore, B: SecretStore> SecretStore for WithServiceCopy<A, B> {
    fn get(&self, kind: SecretKind) -> Result<Option<Secret>, SecretError> {
        match self.copy.get(kind) {
            Ok(Some(s)) => Ok(Some(s)),
            Ok(None) => self.own.get(kind),
            Err(e) => match self.own.get(kind)? {
                Some(s) => Ok(Some(s)),
                None => Err(e),
            },
        }
    }

    fn set(&self, kind: SecretKind, secret: &Secret) -> Result<(), SecretError> {
        self.copy.set(kind, secret)?;
        self.own.set(kind, secret)
    }

    fn get_bytes(&self, kind: SecretKind) -> Result<Option<SecretBytes>, SecretError> {
        match self.copy.get_bytes(kind) {
            Ok(Some(s)) => Ok(Some(s)),
            Ok(None) => self.own.get_bytes(kind),
            Err(e) => match self.own.get_bytes(kind)? {
                Some(s) => Ok(Some(s)),
                None => Err(e),
            },
        }
    }

    fn set_bytes(&self, kind: SecretKind, value: &SecretBytes) -> Result<(), SecretError> {
        self.copy.set_bytes(kind, value)?;
        self.own.set_bytes(kind, value)
    }

    fn delete(&self, kind: SecretKind) -> Result<bool, SecretError> {
        let a = self.own.delete(kind)?;
        let b = self.copy.delete(kind)?;
        Ok(a || b)
    }

    fn backend(&self) -> Backend {
        self.own.backend()
    }

    fn describe(&self, kind: SecretKind) -> String {
        format!(
            "{}; the service's copy: {}",
            self.own.describe(kind),
            self.copy.describe(kind)
        )
    }

    fn share_with_service(&self) -> Result<Vec<SecretKind>, SecretError> {
        let mut copied = Vec::new();
        for kind in SecretKind::ALL {
            if let Some(s) = super::get_any(&self.own, kind)? {
                // An unreadable entry in the copy is replaced, not a reason to stop.
                if super::get_any(&self.copy, kind).ok().flatten().as_ref() != Some(&s) {
                    super::set_any(&self.copy, kind, &s)?;
                    copied.push(kind);
                }
            }
        }
        Ok(copied)
    }
}

#[cfg(windows)]
pub use dpapi::Dpapi;

#[cfg(windows)]
mod dpapi {
    //! DPAPI (machine scope) through `windows-dpapi`, and the folder's ACL through the
    //! system's own icacls.exe (by full path: the service runs as SYSTEM).

    use super::{icacls_runs, Protector};
    use std::path::Path;
    use windows_dpapi::{decrypt_data, encrypt_data, Scope};
    use zeroize::Zeroizing;

    pub struct Dpapi;

    impl Protector for Dpapi {
        fn protect(&self, plain: &[u8], entropy: &[u8]) -> Result<Vec<u8>, String> {
            encrypt_data(plain, Scope::Machine, Some(entropy)).map_err(|e| format!("{e:#}"))
        }
        fn unprotect(&self, sealed: &[u8], entropy: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
            decrypt_data(sealed, Scope::Machine, Some(entropy))
                .map(Zeroizing::new)
                .map_err(|e| format!("{e:#}"))
        }
        fn restrict(&self, dir: &Path) -> Result<(), String> {
            let root = std::env::var_os("SystemRoot").unwrap_or_else(|| r"C:\Windows".into());
            let icacls = Path::new(&root).join("System32").join("icacls.exe");
            for args in icacls_runs(dir) {
                let out = std::process::Command::new(&icacls)
                    .args(&args)
                    .output()
                    .map_err(|e| format!("{} could not be run: {e}", icacls.display()))?;
                if !out.status.success() {
                    return Err(format!(
                        "icacls {} failed ({}): {}; run elevated (as administrator)",
                        args.get(1).map(|a| a.to_string_lossy()).unwrap_or_default(),
                        out.status,
                        String::from_utf8_lossy(&out.stdout).trim()
                    ));
                }
            }
            Ok(())
        }
        fn describe(&self) -> &'static str {
            "DPAPI machine scope; folder readable by SYSTEM and Administrators only"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A reversible stand-in for DPAPI that, like DPAPI, refuses the wrong entropy.
    #[derive(Clone, Default)]
    struct Xor {
        restricted: Arc<AtomicUsize>,
    }

    impl Protector for Xor {
        fn protect(&self, plain: &[u8], entropy: &[u8]) -> Result<Vec<u8>, String> {
            let mut v = entropy.len().to_le_bytes().to_vec();
            v.extend(entropy);
            v.extend(plain.iter().map(|b| b ^ 0x5a));
            Ok(v)
        }
        fn unprotect(&self, sealed: &[u8], entropy: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
            let n = usize::from_le_bytes(sealed[..8].try_into().unwrap());
            if &sealed[8..8 + n] != entropy {
                return Err("wrong entropy".into());
            }
            Ok(Zeroizing::new(
                sealed[8 + n..].iter().map(|b| b ^ 0x5a).collect(),
            ))
        }
        fn restrict(&self, _dir: &Path) -> Result<(), String> {
            self.restricted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        fn describe(&self) -> &'static str {
            "test"
        }
    }

    #[test]
    fn round_trip_never_in_the_clear_and_bound_to_org_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let xor = Xor::default();
        let s = MachineStore::new(dir.path(), "contoso", xor.clone());
        assert!(s.get(SecretKind::ServiceAccount).unwrap().is_none());
        s.set(SecretKind::ServiceAccount, &Secret::new("Svc-Pa55!"))
            .unwrap();
        s.set(SecretKind::Proxy, &Secret::new("Prx-Pa55!")).unwrap();
        assert!(
            xor.restricted.load(Ordering::SeqCst) >= 2,
            "the folder is restricted on every write"
        );
        assert_eq!(
            s.get(SecretKind::ServiceAccount).unwrap().unwrap().expose(),
            "Svc-Pa55!"
        );
        let raw = std::fs::read_to_string(dir.path().join("Secrets").join(MACHINE_FILE)).unwrap();
        assert!(
            !raw.contains("Svc-Pa55!") && !raw.contains("Prx-Pa55!"),
            "{raw}"
        );
        // The same file read as another org: the entropy differs, so it does not decrypt.
        let other = MachineStore::new(dir.path(), "fabrikam", xor.clone());
        let e = other
            .get(SecretKind::ServiceAccount)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("could not be decrypted") && e.contains("store it again"),
            "{e}"
        );
        assert!(s.delete(SecretKind::Proxy).unwrap());
        assert!(!s.delete(SecretKind::Proxy).unwrap());
        assert!(s.get(SecretKind::Proxy).unwrap().is_none());
    }

    #[test]
    fn with_service_copy_writes_both_and_reads_the_copy_first() {
        let dir = tempfile::tempdir().unwrap();
        let own_path = dir.path().join("own.json");
        let both = WithServiceCopy {
            own: super::super::FileStore::new(own_path.clone(), "o").unwrap(),
            copy: MachineStore::new(dir.path(), "o", Xor::default()),
        };
        both.set(SecretKind::ServiceAccount, &Secret::new("one"))
            .unwrap();
        assert_eq!(
            both.copy
                .get(SecretKind::ServiceAccount)
                .unwrap()
                .unwrap()
                .expose(),
            "one"
        );
        // Another account (the service) has nothing of its own: it reads the copy.
        let service_view = WithServiceCopy {
            own: super::super::FileStore::new(dir.path().join("system.json"), "o").unwrap(),
            copy: MachineStore::new(dir.path(), "o", Xor::default()),
        };
        assert_eq!(
            service_view
                .get(SecretKind::ServiceAccount)
                .unwrap()
                .unwrap()
                .expose(),
            "one"
        );
        // A password stored before the copy existed is shared by share_with_service.
        both.own
            .set(SecretKind::Proxy, &Secret::new("old"))
            .unwrap();
        assert!(service_view.get(SecretKind::Proxy).unwrap().is_none());
        assert_eq!(both.share_with_service().unwrap(), vec![SecretKind::Proxy]);
        assert_eq!(
            both.share_with_service().unwrap(),
            vec![],
            "nothing left to copy"
        );
        assert_eq!(
            service_view
                .get(SecretKind::Proxy)
                .unwrap()
                .unwrap()
                .expose(),
            "old"
        );
        assert!(both.delete(SecretKind::ServiceAccount).unwrap());
        assert!(service_view
            .get(SecretKind::ServiceAccount)
            .unwrap()
            .is_none());
        assert!(both
            .describe(SecretKind::Proxy)
            .contains("the service's copy: file "));
        // A stale password in the service account's own store does not hide the copy.
        service_view
            .own
            .set(SecretKind::Proxy, &Secret::new("stale"))
            .unwrap();
        assert_eq!(
            service_view
                .get(SecretKind::Proxy)
                .unwrap()
                .unwrap()
                .expose(),
            "old"
        );
        // An undecryptable copy entry is replaced by share_with_service.
        let other_org = MachineStore::new(dir.path(), "elsewhere", Xor::default());
        other_org
            .set(SecretKind::Proxy, &Secret::new("wrong org"))
            .unwrap();
        assert!(both.copy.get(SecretKind::Proxy).is_err());
        assert_eq!(both.share_with_service().unwrap(), vec![SecretKind::Proxy]);
        assert_eq!(
            both.copy.get(SecretKind::Proxy).unwrap().unwrap().expose(),
            "old"
        );
    }

    #[test]
    fn icacls_resets_takes_ownership_and_grants_system_and_administrators_only() {
        let runs: Vec<Vec<String>> = icacls_runs(Path::new("C:/PD/EAS Connector/o/Secrets"))
            .into_iter()
            .map(|r| r.into_iter().map(|a| a.into_string().unwrap()).collect())
            .collect();
        assert!(runs.iter().all(|r| r[0] == "C:/PD/EAS Connector/o/Secrets"));
        let rest: Vec<&[String]> = runs.iter().map(|r| &r[1..]).collect();
        assert_eq!(
            rest,
            [
                &["/reset", "/T", "/Q"][..],
                &["/setowner", "*S-1-5-32-544", "/T", "/Q"][..],
                &[
                    "/inheritance:r",
                    "/grant:r",
                    "*S-1-5-18:(OI)(CI)F",
                    "*S-1-5-32-544:(OI)(CI)F",
                    "/Q"
                ][..],
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_link_in_place_of_the_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.path().join(MACHINE_DIR)).unwrap();
        let s = MachineStore::new(dir.path(), "o", Xor::default());
        let e = s
            .set(SecretKind::Proxy, &Secret::new("x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a link, not a folder"), "{e}");
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    }
}
