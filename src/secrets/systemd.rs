//! systemd credentials: the Linux service's passwords, encrypted with the machine's key.
//!
//! Each password is one file `<org>/Credentials/<key>.cred`, made by `systemd-creds encrypt`
//! with the host key in `/var/lib/systemd/credential.secret` (and the TPM2 chip when there is
//! one), mode 0600 in a 0700 folder. The credential's embedded name is the key
//! (`service-account`, …), which is also the ID of the unit's `LoadCredentialEncrypted=` line,
//! so systemd decrypts it at the service's start into `$CREDENTIALS_DIRECTORY/<key>`.
//!
//! Reads take `$CREDENTIALS_DIRECTORY/<key>` when systemd started this process with it, else
//! run `systemd-creds decrypt` on the file (root only: the host key is root's). The password
//! goes to and from `systemd-creds` through its stdin and stdout pipes only: never its command
//! line (visible in the process list), never a temporary file. This module never writes a
//! password in the clear and never falls back to another store by itself.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use super::{Backend, Secret, SecretBytes, SecretError, SecretKind, SecretStore};
use crate::config::store::write_atomic;

/// Environment variable replacing the `systemd-creds` program (tests).
pub const SYSTEMD_CREDS_ENV: &str = "EAS_CONNECTOR_SYSTEMD_CREDS";
/// The variable systemd sets for a unit with credentials.
pub const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";
/// The store's name, as `config show` and errors say it.
pub const STORE_NAME: &str = "systemd credentials";

/// Passwords as systemd credentials in one folder.
pub struct SystemdCreds {
    dir: PathBuf,
    program: PathBuf,
    /// `$CREDENTIALS_DIRECTORY`, when systemd started this process with credentials.
    loaded: Option<PathBuf>,
}

impl SystemdCreds {
    /// The store in `dir` (the org's `Credentials` folder), with the program and the loaded
    /// credentials from the environment.
    pub fn new(dir: PathBuf) -> Self {
        SystemdCreds {
            dir,
            program: std::env::var_os(SYSTEMD_CREDS_ENV)
                .filter(|v| !v.is_empty())
                .map_or_else(|| PathBuf::from("systemd-creds"), PathBuf::from),
            loaded: std::env::var_os(CREDENTIALS_DIRECTORY)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        }
    }

    /// The encrypted file of `kind`.
    pub fn path(&self, kind: SecretKind) -> PathBuf {
        cred_path(&self.dir, kind)
    }

    fn err(&self, what: &'static str, reason: impl Into<String>) -> SecretError {
        SecretError::Vault {
            store: STORE_NAME,
            what,
            reason: reason.into(),
        }
    }

    /// Run `systemd-creds ARGS` with `input` on its stdin; its stdout, or why it failed.
    fn run(
        &self,
        args: &[&std::ffi::OsStr],
        input: &[u8],
        what: &'static str,
    ) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        let mut child = Command::new(&self.program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                self.err(
                    what,
                    format!(
                        "could not run {}: {e}; install systemd (Debian package `systemd`), or choose another store with EAS_CONNECTOR_SECRET_STORE",
                        self.program.display()
                    ),
                )
            })?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // Write on another thread: a large stdout must not block a child still reading.
        let input = Zeroizing::new(input.to_vec());
        let writer = std::thread::spawn(move || {
            let r = stdin.write_all(&input);
            drop(stdin);
            r
        });
        let mut out = Zeroizing::new(Vec::new());
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let read = stdout.read_to_end(&mut out);
        let mut err_text = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err_text);
        }
        let status = child.wait().map_err(|e| {
            self.err(
                what,
                format!("{} did not finish: {e}", self.program.display()),
            )
        })?;
        let wrote = writer.join().unwrap_or(Ok(()));
        if !status.success() {
            // systemd-creds says what is wrong on stderr and never echoes the credential.
            let detail: Vec<&str> = err_text
                .lines()
                .filter(|l| !l.contains("is not located on encrypted media"))
                .collect();
            let detail = detail.join("; ");
            let hint = if detail.contains("Permission denied") || !is_root() {
                "; only root can use the machine's credential key: run this as root (sudo)"
            } else {
                ""
            };
            return Err(self.err(
                what,
                format!(
                    "systemd-creds {} failed ({status}): {detail}{hint}",
                    args.first()
                        .map(|a| a.to_string_lossy())
                        .unwrap_or_default()
                ),
            ));
        }
        read.map_err(|e| self.err(what, format!("reading systemd-creds' output: {e}")))?;
        wrote.map_err(|e| self.err(what, format!("writing to systemd-creds: {e}")))?;
        Ok(out)
    }

    /// The keys of the credentials stored now, for the unit's `LoadCredentialEncrypted=` lines.
    pub fn stored(dir: &Path) -> Vec<SecretKind> {
        SecretKind::ALL
            .into_iter()
            .filter(|k| cred_path(dir, *k).is_file())
            .collect()
    }
}

/// `<dir>/<key>.cred`.
pub fn cred_path(dir: &Path, kind: SecretKind) -> PathBuf {
    dir.join(format!("{}.cred", kind.key()))
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

impl SecretStore for SystemdCreds {
    fn get(&self, kind: SecretKind) -> Result<Option<Secret>, SecretError> {
        let Some(bytes) = self.get_raw(kind)? else {
            return Ok(None);
        };
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            self.err(
                kind.label(),
                "the credential is not UTF-8; store the password again",
            )
        })?;
        Ok(Some(Secret::new(text)))
    }

    fn get_bytes(&self, kind: SecretKind) -> Result<Option<SecretBytes>, SecretError> {
        Ok(self.get_raw(kind)?.map(|b| SecretBytes::new(b.as_slice())))
    }

    fn set_bytes(&self, kind: SecretKind, value: &SecretBytes) -> Result<(), SecretError> {
        self.set_raw(kind, value.expose())
    }

    fn set(&self, kind: SecretKind, secret: &Secret) -> Result<(), SecretError> {
        self.set_raw(kind, secret.expose().as_bytes())
    }

    fn delete(&self, kind: SecretKind) -> Result<bool, SecretError> {
        let path = self.path(kind);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.err(kind.label(), format!("{}: {e}", path.display()))),
        }
    }

    fn backend(&self) -> Backend {
        Backend::Systemd(self.dir.clone())
    }

    fn describe(&self, kind: SecretKind) -> String {
        format!(
            "systemd credential {} (encrypted with this machine's key)",
            self.path(kind).display()
        )
    }
}

impl SystemdCreds {
    /// `systemd-creds encrypt` `plain` into `kind`'s file.
    fn set_raw(&self, kind: SecretKind, plain: &[u8]) -> Result<(), SecretError> {
        let name = format!("--name={}", kind.key());
        let sealed = self.run(
            &[
                "encrypt".as_ref(),
                name.as_ref(),
                "-".as_ref(),
                "-".as_ref(),
            ],
            plain,
            kind.label(),
        )?;
        if sealed.is_empty() {
            return Err(self.err(kind.label(), "systemd-creds encrypt wrote nothing"));
        }
        create_private_dir(&self.dir)
            .map_err(|e| self.err(kind.label(), format!("{}: {e}", self.dir.display())))?;
        let path = self.path(kind);
        write_atomic(&path, &sealed, None, Some(0o600))
            .map_err(|e| self.err(kind.label(), format!("{}: {e}", path.display())))
    }

    /// The stored bytes of `kind`: the copy systemd loaded at the service's start, unless the
    /// file was stored again since; `None` when there is no file.
    fn get_raw(&self, kind: SecretKind) -> Result<Option<Zeroizing<Vec<u8>>>, SecretError> {
        // The file is the truth: a password cleared since the start is gone.
        if !self.path(kind).is_file() {
            return Ok(None);
        }
        if let Some(loaded) = &self.loaded {
            let copy = loaded.join(kind.key());
            match std::fs::read(&copy) {
                // Stored again since systemd loaded it (set-password, then reload): the file
                // is newer, and root decrypts it below; if that fails, the loaded one serves.
                Ok(bytes) if self.changed_since_loaded(kind, &copy) => {
                    let bytes = Zeroizing::new(bytes);
                    match self.decrypt(kind) {
                        Ok(found) => return Ok(found),
                        Err(e) => {
                            tracing::warn!(
                                "{e}; using the {} systemd loaded at the start",
                                kind.label()
                            );
                            return Ok(Some(bytes));
                        }
                    }
                }
                Ok(bytes) => return Ok(Some(Zeroizing::new(bytes))),
                // Stored after the service started: decrypt the file.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(self.err(
                        kind.label(),
                        format!("{}: {e}", loaded.join(kind.key()).display()),
                    ))
                }
            }
        }
        self.decrypt(kind)
    }

    /// Whether `kind`'s file was written after systemd loaded `copy` (at the service's start).
    fn changed_since_loaded(&self, kind: SecretKind, copy: &Path) -> bool {
        let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        matches!((mtime(&self.path(kind)), mtime(copy)), (Some(f), Some(c)) if f > c)
    }

    /// `systemd-creds decrypt` of `kind`'s file; `None` when there is none.
    fn decrypt(&self, kind: SecretKind) -> Result<Option<Zeroizing<Vec<u8>>>, SecretError> {
        let path = self.path(kind);
        if !path.is_file() {
            return Ok(None);
        }
        let name = format!("--name={}", kind.key());
        let plain = self.run(
            &[
                "decrypt".as_ref(),
                name.as_ref(),
                path.as_os_str(),
                "-".as_ref(),
            ],
            b"",
            kind.label(),
        )?;
        Ok(Some(plain))
    }
}

/// Create `dir` (and its parents) and make it 0700, refusing a link in its place.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    let m = std::fs::symlink_metadata(dir)?;
    if m.file_type().is_symlink() || !m.is_dir() {
        return Err(std::io::Error::other(
            "is a link or a file, not a folder; delete it and store the passwords again",
        ));
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn real_systemd_creds() -> bool {
        let ok = is_root()
            && Command::new("systemd-creds")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
        if !ok {
            assert!(
                std::env::var("EAS_TEST_PEERS").as_deref() != Ok("1"),
                "systemd-creds (Debian package systemd) and root are required"
            );
            eprintln!("SKIPPED: needs root and systemd-creds");
        }
        ok
    }

    #[test]
    fn round_trip_through_the_real_systemd_creds_never_in_the_clear() {
        if !real_systemd_creds() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("org").join("Credentials");
        let mut s = SystemdCreds::new(creds.clone());
        s.loaded = None;
        assert!(s.get(SecretKind::Proxy).unwrap().is_none());
        // Trailing spaces and non-ASCII survive: nothing adds or strips a newline.
        let pw = "Sd-Crëds 7 ";
        s.set(SecretKind::Proxy, &Secret::new(pw)).unwrap();
        assert_eq!(s.get(SecretKind::Proxy).unwrap().unwrap().expose(), pw);
        let file = s.path(SecretKind::Proxy);
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let raw = std::fs::read(&file).unwrap();
        assert!(!raw.windows(pw.len()).any(|w| w == pw.as_bytes()));
        // A credential copied under another key's name is refused (the name is embedded).
        std::fs::copy(&file, s.path(SecretKind::ServiceAccount)).unwrap();
        let e = s.get(SecretKind::ServiceAccount).unwrap_err().to_string();
        assert!(
            e.contains("systemd credentials") && e.contains("does not match"),
            "{e}"
        );
        // What systemd loaded at the start comes first.
        let loaded = dir.path().join("loaded");
        std::fs::create_dir(&loaded).unwrap();
        std::fs::write(loaded.join("proxy"), "from-systemd").unwrap();
        s.loaded = Some(loaded.clone());
        assert_eq!(
            s.get(SecretKind::Proxy).unwrap().unwrap().expose(),
            "from-systemd"
        );
        // Stored again after the start (a newer file): root decrypts the new one.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(loaded.join("proxy"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        s.set(SecretKind::Proxy, &Secret::new("newer")).unwrap();
        assert_eq!(s.get(SecretKind::Proxy).unwrap().unwrap().expose(), "newer");
        assert!(s.delete(SecretKind::Proxy).unwrap());
        // Cleared since the start: gone, whatever systemd loaded.
        assert!(s.get(SecretKind::Proxy).unwrap().is_none());
        assert!(!s.delete(SecretKind::Proxy).unwrap());
        assert_eq!(
            SystemdCreds::stored(&creds),
            vec![SecretKind::ServiceAccount]
        );
    }

    #[test]
    fn a_missing_program_is_an_error_naming_the_store_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SystemdCreds::new(dir.path().join("Credentials"));
        s.program = dir.path().join("no-such-systemd-creds");
        let e = s
            .set(SecretKind::ServiceAccount, &Secret::new("Nowhere-1"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("systemd credentials") && e.contains("install systemd"),
            "{e}"
        );
        assert!(!e.contains("Nowhere-1"));
        assert!(!dir.path().join("Credentials").exists());
    }
}
