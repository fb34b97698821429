//! Passwords of the service, notification and proxy accounts.
//!
//! They live in one store per organization, through the [`SecretStore`] trait, named the same
//! everywhere ([`StoreKind`]: `systemd`, `secret-service` (alias `os`), `file`). On Linux the
//! service's passwords are systemd credentials ([`systemd`]: encrypted with the machine's key,
//! loaded by the unit at its start); an interactive user's are in the Secret Service; only a
//! non-root user with no Secret Service at all gets the unencrypted owner-only file (0600),
//! said plainly every time. The store a password was last stored in is recorded in the org
//! folder, and a recorded store that fails is an error naming it, never a switch to another
//! ([`open`], [`choose_auto`]); [`migrate`] moves passwords between stores. On Windows each
//! password is also kept for the service, which runs as LocalSystem and cannot read the admin's
//! Credential Manager: DPAPI-encrypted for the machine in a folder only SYSTEM and
//! Administrators can open ([`machine`]). A [`Secret`] has no
//! `Display`, its `Debug` is redacted and its memory is wiped on drop: this module must never put
//! a password into a path, a log line, an error message or any file other than the fallback.

mod file;
mod machine;
mod os;
#[cfg(target_os = "linux")]
pub mod systemd;

use std::fmt;
use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::config::store::write_atomic;
use crate::config::{ConfigLocation, OrgFile};

pub use file::FileStore;
pub use machine::{
    icacls_runs, MachineStore, Protector, WithServiceCopy, MACHINE_DIR, MACHINE_FILE,
};
pub use os::{vault_name, OsVault};
#[cfg(target_os = "linux")]
pub use systemd::SystemdCreds;

/// The name every credential is filed under in the OS store.
pub const VAULT_SERVICE: &str = "EAS Connector";
/// Environment variable that forces a store: `systemd`, `secret-service` (or `os`), `file`, or
/// `auto` (the default).
pub const STORE_ENV: &str = "EAS_CONNECTOR_SECRET_STORE";

/// Which secret: a password (text, [`SecretStore::get`]) or key material (DER bytes,
/// [`SecretStore::get_bytes`]; [`SecretKind::is_bytes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// The Exchange service account (`ServiceAccount/User`).
    ServiceAccount,
    /// The notification mailbox account (`NotificationAccount/User`).
    NotificationAccount,
    /// The proxy account (`Proxy/User`).
    Proxy,
    /// The Entra ID app's client secret (`Cloud/Credential` = `Secret`).
    CloudClientSecret,
    /// The Entra ID app's certificate, DER (`Cloud/Credential` = `Certificate`). Not secret
    /// itself, but it belongs with its key and must not depend on a file the admin may delete.
    CloudCertificate,
    /// The private key of [`SecretKind::CloudCertificate`], PKCS#8 DER.
    CloudPrivateKey,
}

impl SecretKind {
    /// Every secret, passwords first.
    pub const ALL: [SecretKind; 6] = [
        SecretKind::ServiceAccount,
        SecretKind::NotificationAccount,
        SecretKind::Proxy,
        SecretKind::CloudClientSecret,
        SecretKind::CloudCertificate,
        SecretKind::CloudPrivateKey,
    ];
    /// The passwords of the on-premises accounts (what the Connect page validates with).
    pub const ACCOUNTS: [SecretKind; 3] = [
        SecretKind::ServiceAccount,
        SecretKind::NotificationAccount,
        SecretKind::Proxy,
    ];

    /// Whether it is kept as bytes ([`SecretStore::get_bytes`]) rather than text.
    pub fn is_bytes(self) -> bool {
        matches!(
            self,
            SecretKind::CloudCertificate | SecretKind::CloudPrivateKey
        )
    }

    /// Stable key, used in the vault and on the command line.
    pub fn key(self) -> &'static str {
        match self {
            SecretKind::ServiceAccount => "service-account",
            SecretKind::NotificationAccount => "notification-account",
            SecretKind::Proxy => "proxy",
            SecretKind::CloudClientSecret => "cloud-client-secret",
            SecretKind::CloudCertificate => "cloud-certificate",
            SecretKind::CloudPrivateKey => "cloud-private-key",
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
            SecretKind::CloudClientSecret => "cloud app's client secret",
            SecretKind::CloudCertificate => "cloud app's certificate",
            SecretKind::CloudPrivateKey => "cloud app's certificate private key",
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

/// Key material (DER). No `Display`; `Debug` prints its length only; wiped from memory on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        SecretBytes(Zeroizing::new(value.into()))
    }
    /// The bytes themselves; call only where they are used (signing, parsing).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes)", self.0.len())
    }
}

/// A stored secret of either form, for code that moves every kind (migration, the service's
/// copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredValue {
    Text(Secret),
    Bytes(SecretBytes),
}

/// Read `kind` in its own form.
pub fn get_any(
    store: &(impl SecretStore + ?Sized),
    kind: SecretKind,
) -> Result<Option<StoredValue>, SecretError> {
    Ok(if kind.is_bytes() {
        store.get_bytes(kind)?.map(StoredValue::Bytes)
    } else {
        store.get(kind)?.map(StoredValue::Text)
    })
}

/// Store `value` as `kind`.
pub fn set_any(
    store: &(impl SecretStore + ?Sized),
    kind: SecretKind,
    value: &StoredValue,
) -> Result<(), SecretError> {
    match value {
        StoredValue::Text(s) => store.set(kind, s),
        StoredValue::Bytes(b) => store.set_bytes(kind, b),
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
    #[error("{STORE_ENV}='{0}' is not a secret store; use auto, systemd, secret-service (or os) or file")]
    BadPreference(String),
    #[error("the {store} could not be used: {reason}; {fix}")]
    Unreachable {
        store: &'static str,
        reason: String,
        fix: &'static str,
    },
    #[error("the passwords were not changed: {0}")]
    Busy(#[from] crate::config::store::LockError),
    #[error("the fallback secrets file is supported on Linux only; on this system the OS credential store must work: {0}")]
    FileUnsupported(String),
    #[error(
        "systemd credentials exist on Linux only; choose another store with {STORE_ENV} (auto, os)"
    )]
    SystemdUnsupported,
}

/// Where secrets are kept, for people and for `config show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The operating system's store, with its name.
    OsVault(&'static str),
    /// systemd credentials in this folder.
    Systemd(PathBuf),
    /// The fallback file.
    File(PathBuf),
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::OsVault(name) => write!(f, "{name}"),
            Backend::Systemd(dir) => write!(
                f,
                "systemd credentials in {} (encrypted with this machine's key; only root and the service can read them)",
                dir.display()
            ),
            Backend::File(p) => write!(
                f,
                "file {} (NOT encrypted; only its owner can read it)",
                p.display()
            ),
        }
    }
}

/// A place to keep the connector's passwords.
pub trait SecretStore: Send + Sync {
    /// The stored password, or `None` when none is stored.
    fn get(&self, kind: SecretKind) -> Result<Option<Secret>, SecretError>;
    /// Store (or replace) a password.
    fn set(&self, kind: SecretKind, secret: &Secret) -> Result<(), SecretError>;
    /// Stored key material ([`SecretKind::is_bytes`]), or `None`.
    fn get_bytes(&self, kind: SecretKind) -> Result<Option<SecretBytes>, SecretError>;
    /// Store (or replace) key material as bytes (never as a text password: Windows
    /// Credential Manager holds 2 560 bytes, a PEM key as UTF-16 does not fit).
    fn set_bytes(&self, kind: SecretKind, value: &SecretBytes) -> Result<(), SecretError>;
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

/// The stores, by the one name each has everywhere (`EAS_CONNECTOR_SECRET_STORE`,
/// `config migrate-secrets --to`, the record in the org folder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// systemd credentials (Linux): encrypted with the machine's key, for the service.
    Systemd,
    /// The account's own OS store: the Secret Service on Linux, Credential Manager on Windows.
    Os,
    /// The unencrypted owner-only file.
    File,
}

impl StoreKind {
    /// The word for it in settings and commands.
    pub fn word(self) -> &'static str {
        match self {
            StoreKind::Systemd => "systemd",
            StoreKind::Os if cfg!(windows) => "os",
            StoreKind::Os => "secret-service",
            StoreKind::File => "file",
        }
    }

    /// From a word; `os` is kept as another name for the account's OS store.
    pub fn from_word(word: &str) -> Option<Self> {
        match word.trim().to_ascii_lowercase().as_str() {
            "systemd" => Some(StoreKind::Systemd),
            "secret-service" | "os" => Some(StoreKind::Os),
            "file" => Some(StoreKind::File),
            _ => None,
        }
    }

    /// What an administrator calls it.
    pub fn admin_words(self) -> &'static str {
        match self {
            StoreKind::Systemd => "systemd credentials (encrypted with this machine's key, read by the service at its start)",
            StoreKind::Os => vault_name(),
            StoreKind::File => "an unencrypted file only its owner can read (ConnectorSecrets.json)",
        }
    }
}

/// Which backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    /// The store recorded for the organization, else the platform's order (see [`open`]).
    Auto,
    /// systemd credentials or an error (Linux).
    Systemd,
    /// The account's OS store (Secret Service, Credential Manager) or an error.
    Os,
    /// The fallback file.
    File,
}

impl Preference {
    /// From [`STORE_ENV`]; `auto` when unset.
    pub fn from_env() -> Result<Self, SecretError> {
        match std::env::var(STORE_ENV) {
            Err(_) => Ok(Preference::Auto),
            Ok(v) if v.trim().is_empty() || v.trim().eq_ignore_ascii_case("auto") => {
                Ok(Preference::Auto)
            }
            Ok(v) => match StoreKind::from_word(&v) {
                Some(k) => Ok(Preference::from(k)),
                None => Err(SecretError::BadPreference(v)),
            },
        }
    }
}

impl From<StoreKind> for Preference {
    fn from(k: StoreKind) -> Self {
        match k {
            StoreKind::Systemd => Preference::Systemd,
            StoreKind::Os => Preference::Os,
            StoreKind::File => Preference::File,
        }
    }
}

/// The opened store, which one it is, and what the admin must be told every time.
pub struct OpenedStore {
    pub store: Box<dyn SecretStore>,
    pub kind: StoreKind,
    /// Set when the passwords are not encrypted (the file), or the store differs from the
    /// one recorded: said by `config show`, `validate` and the log every time.
    pub warning: Option<String>,
}

/// Environment variable: how long one Secret Service probe may take, in milliseconds
/// (default 5000); it is tried [`PROBE_TRIES`] times before the store counts as unreachable.
pub const PROBE_MS_ENV: &str = "EAS_CONNECTOR_SECRET_PROBE_MS";
/// How many times the Secret Service is probed before it counts as unreachable.
pub const PROBE_TRIES: u32 = 3;

/// Why the account's OS store cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeFailure {
    /// There is no such store here at all (no D-Bus session bus): the file may be used.
    Absent(String),
    /// It exists but did not answer, or answered with an error, on every try: an error,
    /// never a reason to use the file.
    Failed(String),
}

/// The per-try limit from [`PROBE_MS_ENV`].
pub fn probe_timeout() -> std::time::Duration {
    let ms = std::env::var(PROBE_MS_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .unwrap_or(5000);
    std::time::Duration::from_millis(ms)
}

/// Probe with `try_once` up to [`PROBE_TRIES`] times, each bounded by `timeout` (a try still
/// running after it is abandoned), waiting `pause` between tries.
pub fn probe_bounded(
    timeout: std::time::Duration,
    pause: std::time::Duration,
    try_once: impl Fn() -> Result<(), String> + Send + Sync + Clone + 'static,
) -> Result<(), String> {
    let mut last = String::new();
    for attempt in 1..=PROBE_TRIES {
        let (tx, rx) = std::sync::mpsc::channel();
        let f = try_once.clone();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        match rx.recv_timeout(timeout) {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => last = e,
            Err(_) => last = format!("no answer within {} ms", timeout.as_millis()),
        }
        if attempt < PROBE_TRIES {
            std::thread::sleep(pause);
        }
    }
    Err(format!("{last} ({PROBE_TRIES} tries)"))
}

/// Whether a D-Bus session bus is there to ask (`DBUS_SESSION_BUS_ADDRESS`, else
/// `$XDG_RUNTIME_DIR/bus`); a `unix:path=` address whose socket does not exist is none.
#[cfg(target_os = "linux")]
fn session_bus() -> Result<(), String> {
    match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        Ok(addr) if !addr.trim().is_empty() => {
            let first = addr.split(';').next().unwrap_or("");
            match first.strip_prefix("unix:path=") {
                Some(rest) => {
                    let path = rest.split(',').next().unwrap_or("");
                    if std::path::Path::new(path).exists() {
                        Ok(())
                    } else {
                        Err(format!("no D-Bus session bus (nothing at {path})"))
                    }
                }
                None => Ok(()),
            }
        }
        _ => match std::env::var_os("XDG_RUNTIME_DIR") {
            Some(d) if std::path::Path::new(&d).join("bus").exists() => Ok(()),
            _ => Err("no D-Bus session bus (no desktop or user session)".into()),
        },
    }
}

/// Probe the account's OS store for `org`, bounded by [`probe_timeout`] and retried.
pub fn probe_os(org: &str) -> Result<(), ProbeFailure> {
    #[cfg(target_os = "linux")]
    session_bus().map_err(ProbeFailure::Absent)?;
    let org = org.to_string();
    let limit = probe_timeout();
    probe_bounded(limit, limit / 10, move || OsVault::new(&org).probe())
        .map_err(ProbeFailure::Failed)
}

fn unreachable_os(reason: String) -> SecretError {
    SecretError::Unreachable {
        store: vault_name(),
        reason,
        fix: if cfg!(windows) {
            "check that the Credential Manager service runs, then try again"
        } else {
            "start or unlock the desktop keyring (gnome-keyring, KWallet) and try again; for the service, run as root (systemd credentials); nothing was switched to another store"
        },
    }
}

/// The store recorded for the organization (the last one a password was stored in).
pub fn recorded(loc: &ConfigLocation) -> Result<Option<StoreKind>, SecretError> {
    let path = loc.file(OrgFile::SecretStoreChoice);
    match std::fs::read_to_string(&path) {
        Ok(t) => StoreKind::from_word(&t).map(Some).ok_or(SecretError::File {
            path,
            action: "read",
            reason: "it does not name a store (systemd, secret-service or file); delete it and run `eas-connector config show` to see where the passwords are".into(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SecretError::File {
            path,
            action: "read",
            reason: e.to_string(),
        }),
    }
}

fn record(loc: &ConfigLocation, kind: StoreKind) -> Result<(), SecretError> {
    let path = loc.file(OrgFile::SecretStoreChoice);
    if std::fs::read_to_string(&path).is_ok_and(|t| t.trim() == kind.word()) {
        return Ok(());
    }
    write_atomic(
        &path,
        format!("{}\n", kind.word()).as_bytes(),
        None,
        Some(0o644),
    )
    .map_err(|e| SecretError::File {
        path,
        action: "written",
        reason: e.to_string(),
    })
}

/// A store that records itself as the organization's store when a password is stored.
struct Recorded {
    inner: Box<dyn SecretStore>,
    loc: ConfigLocation,
    kind: StoreKind,
}

impl SecretStore for Recorded {
    fn get(&self, kind: SecretKind) -> Result<Option<Secret>, SecretError> {
        self.inner.get(kind)
    }
    fn set(&self, kind: SecretKind, secret: &Secret) -> Result<(), SecretError> {
        self.inner.set(kind, secret)?;
        record(&self.loc, self.kind)
    }
    fn get_bytes(&self, kind: SecretKind) -> Result<Option<SecretBytes>, SecretError> {
        self.inner.get_bytes(kind)
    }
    fn set_bytes(&self, kind: SecretKind, value: &SecretBytes) -> Result<(), SecretError> {
        self.inner.set_bytes(kind, value)?;
        record(&self.loc, self.kind)
    }
    fn delete(&self, kind: SecretKind) -> Result<bool, SecretError> {
        self.inner.delete(kind)
    }
    fn backend(&self) -> Backend {
        self.inner.backend()
    }
    fn describe(&self, kind: SecretKind) -> String {
        self.inner.describe(kind)
    }
    fn share_with_service(&self) -> Result<Vec<SecretKind>, SecretError> {
        self.inner.share_with_service()
    }
}

fn is_root() -> bool {
    #[cfg(unix)]
    {
        rustix::process::geteuid().is_root()
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// Open one store, strictly: a store that cannot be used is an error naming it. Storing a
/// password through it records it as the organization's store.
fn open_kind(loc: &ConfigLocation, kind: StoreKind) -> Result<Box<dyn SecretStore>, SecretError> {
    Ok(Box::new(Recorded {
        inner: open_unrecorded(loc, kind)?,
        loc: loc.clone(),
        kind,
    }))
}

/// [`open_kind`] without the record: for [`migrate`], which records the new store only once
/// every password reads back from it.
fn open_unrecorded(
    loc: &ConfigLocation,
    kind: StoreKind,
) -> Result<Box<dyn SecretStore>, SecretError> {
    let store: Box<dyn SecretStore> = match kind {
        StoreKind::File => Box::new(FileStore::new(loc.file(OrgFile::Secrets), loc.org())?),
        StoreKind::Os => {
            probe_os(loc.org()).map_err(|f| match f {
                ProbeFailure::Absent(r) | ProbeFailure::Failed(r) => unreachable_os(r),
            })?;
            os_store(loc, OsVault::new(loc.org()))
        }
        #[cfg(target_os = "linux")]
        StoreKind::Systemd => Box::new(SystemdCreds::new(loc.file(OrgFile::Credentials))),
        #[cfg(not(target_os = "linux"))]
        StoreKind::Systemd => return Err(SecretError::SystemdUnsupported),
    };
    Ok(store)
}

fn file_warning(loc: &ConfigLocation, why: &str) -> String {
    format!(
        "passwords are kept UNENCRYPTED in {} (only its owner can read it) because {why}; move them into an encrypted store with `eas-connector --org {} config migrate-secrets --to systemd` (as root) or `--to secret-service`",
        loc.file(OrgFile::Secrets).display(),
        loc.org()
    )
}

/// What `auto` decides from (see [`choose_auto`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoFacts {
    pub recorded: Option<StoreKind>,
    pub legacy_file: bool,
    pub systemd_creds: bool,
    pub root: bool,
    pub service_registered: bool,
}

/// The decision of `auto`: the store, and why it was taken when that must be said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoChoice {
    Use(StoreKind),
    /// The file, with the reason the admin is told every time.
    File(String),
    /// No store may be used: the account's OS store exists but failed.
    Refuse(String),
}

pub fn choose_auto(
    facts: &AutoFacts,
    probe: impl FnOnce() -> Result<(), ProbeFailure>,
) -> AutoChoice {
    if let Some(kind) = facts.recorded {
        return AutoChoice::Use(kind);
    }
    if facts.legacy_file {
        return AutoChoice::File("an earlier version stored them there".into());
    }
    if facts.systemd_creds && cfg!(target_os = "linux") {
        return AutoChoice::Use(StoreKind::Systemd);
    }
    if (facts.root || facts.service_registered) && cfg!(target_os = "linux") {
        return AutoChoice::Use(StoreKind::Systemd);
    }
    match probe() {
        Ok(()) => AutoChoice::Use(StoreKind::Os),
        Err(ProbeFailure::Absent(why)) if cfg!(unix) => AutoChoice::File(format!(
            "this account has no Secret Service ({why}) and is not root"
        )),
        Err(ProbeFailure::Absent(why) | ProbeFailure::Failed(why)) => AutoChoice::Refuse(why),
    }
}

fn auto_facts(loc: &ConfigLocation) -> Result<AutoFacts, SecretError> {
    Ok(AutoFacts {
        recorded: recorded(loc)?,
        legacy_file: loc.file(OrgFile::Secrets).exists(),
        systemd_creds: cfg!(target_os = "linux")
            && SecretKind::ALL.iter().any(|k| {
                loc.file(OrgFile::Credentials)
                    .join(format!("{}.cred", k.key()))
                    .is_file()
            }),
        root: is_root(),
        service_registered: service_registered(loc.org()),
    })
}

#[cfg(target_os = "linux")]
fn service_registered(org: &str) -> bool {
    crate::service::systemd::is_registered(org)
}

#[cfg(not(target_os = "linux"))]
fn service_registered(_org: &str) -> bool {
    false
}

/// Open the secret store for an organization; its warning, if any, goes to the log.
///
/// An explicit preference opens that store or fails naming it. `auto` follows
/// [`choose_auto`]; on Windows the OS store always answers (the file is Linux only).
pub fn open(loc: &ConfigLocation, pref: Preference) -> Result<OpenedStore, SecretError> {
    let opened = open_quietly(loc, pref)?;
    if let Some(w) = &opened.warning {
        tracing::warn!("{w}");
    }
    Ok(opened)
}

/// [`open`] without logging the warning.
fn open_quietly(loc: &ConfigLocation, pref: Preference) -> Result<OpenedStore, SecretError> {
    let explicit = match pref {
        Preference::Auto => None,
        Preference::Systemd => Some(StoreKind::Systemd),
        Preference::Os => Some(StoreKind::Os),
        Preference::File => Some(StoreKind::File),
    };
    if let Some(kind) = explicit {
        let store = open_kind(loc, kind)?;
        let mut warning =
            (kind == StoreKind::File).then(|| file_warning(loc, &format!("{STORE_ENV}=file")));
        if let Ok(Some(rec)) = recorded(loc) {
            if rec != kind {
                let mut note = format!(
                    "{STORE_ENV}={} overrides the organization's store, {}; the passwords there are not used",
                    kind.word(),
                    rec.admin_words(),
                );
                if kind != StoreKind::File {
                    note.push_str(&format!(
                        " (move them with `config migrate-secrets --to {}`)",
                        kind.word()
                    ));
                }
                warning = Some(match warning {
                    Some(w) => format!("{w}; {note}"),
                    None => note,
                });
            }
        }
        return Ok(OpenedStore {
            store,
            kind,
            warning,
        });
    }
    match decide_auto(loc)? {
        AutoChoice::Use(kind) => Ok(OpenedStore {
            store: open_kind(loc, kind)?,
            kind,
            warning: (kind == StoreKind::File)
                .then(|| file_warning(loc, "it was chosen for this organization")),
        }),
        AutoChoice::File(why) => {
            let warning = file_warning(loc, &why);
            Ok(OpenedStore {
                store: open_kind(loc, StoreKind::File).map_err(|e| match e {
                    SecretError::FileUnsupported(_) => SecretError::FileUnsupported(why.clone()),
                    other => other,
                })?,
                kind: StoreKind::File,
                warning: Some(warning),
            })
        }
        AutoChoice::Refuse(why) => Err(unreachable_os(why)),
    }
}

/// The store [`open`] takes for `pref`, decided exactly as [`open`] decides (for `Auto`:
/// the organization's record, then whether this account's OS store answers), without opening
/// it. The wizard's Summary says it before anything is written; it may wait for the OS
/// store's answer (bounded like [`open`]'s), so call it off the UI thread.
pub fn chosen_store(loc: &ConfigLocation, pref: Preference) -> Result<StoreKind, SecretError> {
    match pref {
        Preference::Systemd => Ok(StoreKind::Systemd),
        Preference::Os => Ok(StoreKind::Os),
        Preference::File => Ok(StoreKind::File),
        Preference::Auto => match decide_auto(loc)? {
            AutoChoice::Use(kind) => Ok(kind),
            AutoChoice::File(_) => Ok(StoreKind::File),
            AutoChoice::Refuse(why) => Err(unreachable_os(why)),
        },
    }
}

/// `auto`'s decision for the organization, asking this account's OS store when it must.
fn decide_auto(loc: &ConfigLocation) -> Result<AutoChoice, SecretError> {
    let facts = auto_facts(loc)?;
    let org = loc.org().to_string();
    Ok(choose_auto(&facts, move || probe_os(&org)))
}

/// The OS vault as this platform's service can use it: on Windows with the service's
/// machine-protected copy beside it ([`machine`]), elsewhere as is.
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

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// The passwords now in the new store (moved or already there).
    pub moved: Vec<SecretKind>,
    /// The stores the old copies were removed from, in admin words.
    pub removed_from: Vec<String>,
}

/// Move every password of `loc`'s organization into `to`: read each from the store in use
/// (and from an old `ConnectorSecrets.json`), write it to `to`, read it back, then record
/// `to` as the organization's store, and only then delete the old copies. Killed at any
/// point, nothing is lost: until the record changes the old store stays in use, after it the
/// new one holds everything; running it again finishes the job.
pub fn migrate(loc: &ConfigLocation, to: StoreKind) -> Result<Migrated, SecretError> {
    let target = open_unrecorded(loc, to)?;
    let facts = auto_facts(loc)?;
    // Pin the store in use before touching anything, so an interrupted copy is not mistaken
    // for the store in use (existing systemd credentials would be).
    let current = match facts.recorded {
        Some(k) => Some(k),
        None if facts.legacy_file => Some(StoreKind::File),
        None if facts.systemd_creds => Some(StoreKind::Systemd),
        None if probe_os(loc.org()).is_ok() => Some(StoreKind::Os),
        None => None,
    };
    if let Some(k) = current {
        record(loc, k)?;
    }
    let mut sources: Vec<(StoreKind, Box<dyn SecretStore>)> = Vec::new();
    if let Some(k) = current.filter(|k| *k != to) {
        sources.push((k, open_unrecorded(loc, k)?));
    }
    if facts.legacy_file && to != StoreKind::File && current != Some(StoreKind::File) {
        sources.push((StoreKind::File, open_unrecorded(loc, StoreKind::File)?));
    }
    let mut moved = Vec::new();
    for kind in SecretKind::ALL {
        // Once `to` is the recorded store (a second run), what it holds wins.
        let existing = if current == Some(to) {
            get_any(target.as_ref(), kind)?
        } else {
            None
        };
        let value = match existing {
            Some(v) => Some(v),
            None => {
                let mut found = None;
                for (_, s) in &sources {
                    if let Some(v) = get_any(s.as_ref(), kind)? {
                        found = Some(v);
                        break;
                    }
                }
                found
            }
        };
        let Some(value) = value else { continue };
        set_any(target.as_ref(), kind, &value)?;
        if get_any(target.as_ref(), kind)?.as_ref() != Some(&value) {
            return Err(SecretError::Unreachable {
                store: to.admin_words(),
                reason: format!("the {} did not read back as written", kind.label()),
                fix: "the old copy was kept and is still in use; check the store and run `config migrate-secrets` again",
            });
        }
        moved.push(kind);
    }
    record(loc, to)?;
    let mut removed_from = Vec::new();
    for (k, s) in &sources {
        for kind in SecretKind::ALL {
            s.delete(kind)?;
        }
        if *k == StoreKind::File {
            let path = loc.file(OrgFile::Secrets);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(SecretError::File {
                        path,
                        action: "deleted",
                        reason: e.to_string(),
                    })
                }
            }
        }
        removed_from.push(k.admin_words().to_string());
    }
    Ok(Migrated {
        moved,
        removed_from,
    })
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
/// store (when reachable, and unless `pref` is [`Preference::File`] or `Systemd`), the
/// systemd credentials, the record of the store and the fallback file.
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
    let creds = loc.file(OrgFile::Credentials);
    match std::fs::remove_dir_all(&creds) {
        Ok(()) => purged.file = Some(creds),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(SecretError::File {
                path: creds,
                action: "deleted",
                reason: e.to_string(),
            })
        }
    }
    let _ = std::fs::remove_file(loc.file(OrgFile::SecretStoreChoice));
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
    if matches!(pref, Preference::File | Preference::Systemd) {
        purged.vault_skipped = Some(format!(
            "{STORE_ENV}={}: the OS credential store is not used",
            if pref == Preference::File {
                "file"
            } else {
                "systemd"
            }
        ));
        return Ok(purged);
    }
    let vault = OsVault::new(loc.org());
    if let Err(f) = probe_os(loc.org()) {
        let (ProbeFailure::Absent(reason) | ProbeFailure::Failed(reason)) = f;
        if pref == Preference::Os {
            return Err(unreachable_os(reason));
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

    #[cfg(target_os = "linux")]
    fn facts() -> AutoFacts {
        AutoFacts {
            recorded: None,
            legacy_file: false,
            systemd_creds: false,
            root: false,
            service_registered: false,
        }
    }

    #[test]
    fn store_words_and_the_os_alias() {
        for k in [StoreKind::Systemd, StoreKind::Os, StoreKind::File] {
            assert_eq!(StoreKind::from_word(k.word()), Some(k));
        }
        assert_eq!(StoreKind::from_word("os"), Some(StoreKind::Os));
        assert_eq!(
            StoreKind::from_word("Secret-Service\n"),
            Some(StoreKind::Os)
        );
        assert_eq!(StoreKind::from_word("keyring"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn auto_order_on_linux() {
        let never = || -> Result<(), ProbeFailure> { panic!("the Secret Service was asked") };
        let f = |change: fn(&mut AutoFacts)| {
            let mut x = facts();
            change(&mut x);
            x
        };
        // A recorded store wins over everything, even root.
        assert_eq!(
            choose_auto(
                &f(|x| {
                    x.recorded = Some(StoreKind::Os);
                    x.root = true;
                    x.legacy_file = true
                }),
                never
            ),
            AutoChoice::Use(StoreKind::Os)
        );
        // An old plaintext file stays in use (with a warning) until it is migrated.
        assert!(matches!(
            choose_auto(
                &f(|x| {
                    x.legacy_file = true;
                    x.root = true
                }),
                never
            ),
            AutoChoice::File(_)
        ));
        assert_eq!(
            choose_auto(&f(|x| x.systemd_creds = true), never),
            AutoChoice::Use(StoreKind::Systemd)
        );
        assert_eq!(
            choose_auto(&f(|x| x.root = true), never),
            AutoChoice::Use(StoreKind::Systemd)
        );
        assert_eq!(
            choose_auto(&f(|x| x.service_registered = true), never),
            AutoChoice::Use(StoreKind::Systemd)
        );
        assert_eq!(
            choose_auto(&facts(), || Ok(())),
            AutoChoice::Use(StoreKind::Os)
        );
        assert!(matches!(
            choose_auto(&facts(), || Err(ProbeFailure::Absent("no bus".into()))),
            AutoChoice::File(w) if w.contains("no bus") && w.contains("not root")
        ));
        assert_eq!(
            choose_auto(&facts(), || Err(ProbeFailure::Failed("timeout".into()))),
            AutoChoice::Refuse("timeout".into())
        );
    }

    /// A Secret Service that is slow, or gone for a moment, is retried within the bound and
    /// then refused: never replaced by the file. 50 trials of each kind, counted.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_slow_or_briefly_absent_secret_service_never_falls_back_to_the_file() {
        use std::sync::atomic::{AtomicU32, Ordering};
        use std::sync::Arc;
        let limit = std::time::Duration::from_millis(5);
        let (mut refused, mut recovered) = (0, 0);
        for trial in 0..50u32 {
            // Slow: every try outlasts the limit.
            let slow = || {
                std::thread::sleep(std::time::Duration::from_millis(40));
                Ok(())
            };
            let choice = choose_auto(&facts(), || {
                probe_bounded(limit, limit, slow).map_err(ProbeFailure::Failed)
            });
            assert!(
                matches!(&choice, AutoChoice::Refuse(w) if w.contains("no answer within 5 ms (3 tries)")),
                "{choice:?}"
            );
            refused += 1;
            // Briefly absent: the first `gone` tries fail (0..=3 of 3).
            let gone = trial % 4;
            let tries = Arc::new(AtomicU32::new(0));
            let t = tries.clone();
            let flaky = move || {
                if t.fetch_add(1, Ordering::SeqCst) < gone {
                    Err(
                        "org.freedesktop.secrets was not provided by any .service files"
                            .to_string(),
                    )
                } else {
                    Ok(())
                }
            };
            let choice = choose_auto(&facts(), || {
                // A generous limit: these answer at once, and a busy machine must not turn
                // an answer into a timeout.
                probe_bounded(
                    std::time::Duration::from_secs(30),
                    std::time::Duration::ZERO,
                    flaky,
                )
                .map_err(ProbeFailure::Failed)
            });
            match choice {
                AutoChoice::Use(StoreKind::Os) => recovered += 1,
                AutoChoice::Refuse(_) => refused += 1,
                other => panic!("trial {trial}: {other:?}"),
            }
            assert_eq!(tries.load(Ordering::SeqCst), (gone + 1).min(PROBE_TRIES));
        }
        // Slow: 50 refused; gone for all 3 tries (trial % 4 == 3): 12 refused; the other 38
        // answered on a later try.
        assert_eq!((refused, recovered), (50 + 12, 38));
    }

    #[test]
    fn kinds_have_stable_keys() {
        for k in SecretKind::ALL {
            assert_eq!(SecretKind::from_key(k.key()), Some(k));
        }
        assert_eq!(SecretKind::from_key("nope"), None);
    }
}
