//! The wizard's side effects, as plain futures and streams: detecting an existing
//! connector and reading its status and device list, asking it for a sync, removing it,
//! finding the password store setup will use, starting the lab, validating, applying,
//! picking a file, opening a folder.
//!
//! The app wraps them in iced `Task`s so the UI thread never blocks; tests run the very same
//! functions. Validation and setup go through `setup::validate_plan` and `setup::apply`, the
//! code path of `eas-connector configure --answers`. Nothing here draws, and nothing here logs
//! or returns a password.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use iced::futures::{SinkExt, Stream};

use super::form::Stored;
use super::pages::{apply, connect};
use crate::config::{ConfigError, ConfigFile, ConfigLocation, ConnectorConfig};
use crate::lab::{Lab, LabOptions};
use crate::secrets::{self, SecretKind, SecretStore};
use crate::service::manager::ServiceManager;
use crate::setup::{self, Plan, Progress};

/// What the Welcome page found for the organization.
#[derive(Debug, Clone, PartialEq)]
pub enum Existing {
    /// Still looking.
    Checking,
    /// No connector is configured for this organization.
    None,
    /// A configuration exists; which passwords are stored.
    Found {
        config: Box<ConnectorConfig>,
        stored: Stored,
    },
    /// A file exists but cannot be read; Replace is the way out.
    Unreadable(Unreadable),
}

/// Why an existing configuration cannot be read, as the Welcome page words it. The parser's
/// and the file system's own text is kept in English, as a detail.
#[derive(Debug, Clone, PartialEq)]
pub enum Unreadable {
    /// Not a configuration file the connector can parse (XML syntax).
    Malformed { path: PathBuf, detail: String },
    /// Parsed, but settings have values that cannot be used.
    Invalid {
        path: PathBuf,
        problems: Vec<crate::config::FieldProblem>,
    },
    /// Anything else (permissions, a lock held, the folder): the error's text.
    Other(String),
}

impl From<ConfigError> for Unreadable {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::Malformed { path, source } => Unreadable::Malformed {
                path,
                detail: source.to_string(),
            },
            ConfigError::Invalid { path, problems } => Unreadable::Invalid { path, problems },
            other => Unreadable::Other(other.to_string()),
        }
    }
}

/// Why the lab demonstration could not start.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LabStartError {
    /// Its owner-only folder could not be made.
    #[error("{path}: {reason}")]
    Folder { path: PathBuf, reason: String },
    /// The lab itself failed to start (its ports, its files).
    #[error("{0}")]
    Lab(Arc<crate::lab::LabError>),
}

fn open_store(loc: &ConfigLocation, register_service: bool) -> Option<Box<dyn SecretStore>> {
    let pref = setup::store_preference(register_service).ok()?;
    secrets::open(loc, pref).ok().map(|o| o.store)
}

/// Look for a connector for `loc`'s organization, and which of its passwords are stored.
pub async fn detect(loc: ConfigLocation, register_service: bool) -> Existing {
    tokio::task::spawn_blocking(move || match ConfigFile::load(&loc) {
        Ok(file) => {
            let stored = match open_store(&loc, register_service) {
                Some(store) => {
                    let has = |k| matches!(store.get(k), Ok(Some(_)));
                    Stored {
                        service: has(SecretKind::ServiceAccount),
                        notification: has(SecretKind::NotificationAccount),
                        proxy: has(SecretKind::Proxy),
                        cloud_secret: has(SecretKind::CloudClientSecret),
                        cloud_certificate: matches!(
                            store.get_bytes(SecretKind::CloudCertificate),
                            Ok(Some(_))
                        ),
                    }
                }
                None => Stored::default(),
            };
            Existing::Found {
                config: Box::new(file.config),
                stored,
            }
        }
        Err(ConfigError::NotFound { .. }) => Existing::None,
        Err(e) => Existing::Unreadable(e.into()),
    })
    .await
    .unwrap_or_else(|e| Existing::Unreadable(Unreadable::Other(e.to_string())))
}

/// An existing connector's service, as `eas-connector status` sees it: from the running
/// service over the control channel, else from its status file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Home {
    /// The service answered on its control channel.
    pub running: bool,
    pub status: Option<crate::service::status::Status>,
    /// Why the status could not be read (in the status module's words).
    pub error: Option<String>,
    /// The devices of the last syncs by Exchange's state, and the conflicts (the list
    /// `eas-connector devices` shows); `None` when no sync wrote one yet.
    pub devices: Option<crate::engine::listing::Tally>,
    /// When the device list was written (the last sync's time, as recorded).
    pub devices_synced_at: Option<String>,
    /// Why the device list could not be read.
    pub devices_error: Option<String>,
}

/// Read an existing connector's status (the same channel and file as `eas-connector status`)
/// and its device list (the file `eas-connector devices` reads).
pub async fn read_home(loc: ConfigLocation) -> Home {
    let dir = loc.org_dir();
    let mut home = read_status(loc).await;
    let list =
        tokio::task::spawn_blocking(move || crate::engine::listing::DeviceList::load(&dir)).await;
    match list {
        Ok(Ok(list)) if list.synced_at.is_some() => {
            home.devices = Some(list.tally());
            home.devices_synced_at = list.synced_at;
        }
        Ok(Ok(_)) => {}
        Ok(Err(e)) => home.devices_error = Some(e.to_string()),
        Err(e) => home.devices_error = Some(e.to_string()),
    }
    home
}

async fn read_status(loc: ConfigLocation) -> Home {
    use crate::service::{control, status};
    tokio::task::spawn_blocking(move || {
        if control::is_running(&loc) {
            match control::request(
                &loc,
                &control::Request::Status,
                std::time::Duration::from_secs(5),
            ) {
                Ok(control::Reply::Status { status }) => {
                    return Home {
                        running: true,
                        status: Some(*status),
                        ..Home::default()
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    return Home {
                        running: true,
                        status: status::Status::read(&status::status_path(&loc))
                            .ok()
                            .flatten(),
                        error: Some(e.to_string()),
                        ..Home::default()
                    }
                }
            }
        }
        match status::Status::read(&status::status_path(&loc)) {
            Ok(s) => Home {
                status: s,
                ..Home::default()
            },
            Err(e) => Home {
                error: Some(e.to_string()),
                ..Home::default()
            },
        }
    })
    .await
    .unwrap_or_default()
}

/// What removing the organization would delete (the status home's Remove, before asking).
/// `manager` is the wizard's service manager; without one the platform's is asked whether a
/// service is installed.
pub async fn removal_plan(
    loc: ConfigLocation,
    manager: Option<Arc<dyn ServiceManager>>,
) -> Result<setup::remove::Removal, setup::remove::RemoveError> {
    tokio::task::spawn_blocking(move || {
        let fallback = match &manager {
            Some(_) => None,
            None => crate::service::platform_manager().ok(),
        };
        let m = manager.as_deref().or(fallback.as_deref());
        setup::remove::plan(&loc, m)
    })
    .await
    .unwrap_or_else(|e| Err(setup::remove::RemoveError::Folder(e.to_string())))
}

/// Remove the organization: its service, passwords and folder (`service uninstall` and
/// `config purge`).
pub async fn remove(
    loc: ConfigLocation,
    manager: Option<Arc<dyn ServiceManager>>,
) -> Result<setup::remove::Removed, setup::remove::RemoveError> {
    tokio::task::spawn_blocking(move || {
        let fallback = match &manager {
            Some(_) => None,
            None => crate::service::platform_manager().ok(),
        };
        let m = manager.as_deref().or(fallback.as_deref());
        setup::remove::remove(&loc, m)
    })
    .await
    .unwrap_or_else(|e| Err(setup::remove::RemoveError::Folder(e.to_string())))
}

/// The password store setup will use for `loc`: `secrets::chosen_store`, the decision
/// `secrets::open` takes when configure stores the passwords (it may ask the OS store).
pub async fn store_choice(
    loc: ConfigLocation,
    register_service: bool,
) -> Result<secrets::StoreKind, Arc<secrets::SecretError>> {
    tokio::task::spawn_blocking(move || {
        setup::store_preference(register_service)
            .and_then(|pref| secrets::chosen_store(&loc, pref))
            .map_err(Arc::new)
    })
    .await
    .unwrap_or_else(|e| {
        Err(Arc::new(secrets::SecretError::Unreachable {
            store: "password store",
            reason: e.to_string(),
            fix: "go back one page and open the Summary again",
        }))
    })
}

/// Why the service did not take a "sync now".
#[derive(Debug, Clone, thiserror::Error)]
pub enum SyncRequestError {
    /// The service answered with an error, in its words.
    #[error("the service did not start the sync: {0}")]
    Refused(String),
    /// The service's answer is not one to a sync request (another version of it runs).
    #[error("the service answered {0}; install the same version of the connector and its service")]
    Unexpected(String),
    /// The control channel could not be used.
    #[error("{0}")]
    Unreachable(String),
}

/// Ask the running service for a sync now, without waiting for it (`eas-connector sync
/// --no-wait`).
pub async fn sync_now(
    loc: ConfigLocation,
    kind: crate::engine::SyncKind,
) -> Result<(), SyncRequestError> {
    use crate::service::control;
    tokio::task::spawn_blocking(move || {
        match control::request(
            &loc,
            &control::Request::Sync { kind, wait: false },
            std::time::Duration::from_secs(10),
        ) {
            Ok(control::Reply::Queued { .. } | control::Reply::Synced { .. }) => Ok(()),
            Ok(control::Reply::SyncFailed { error, .. } | control::Reply::Error { error }) => {
                Err(SyncRequestError::Refused(error))
            }
            Ok(other) => Err(SyncRequestError::Unexpected(format!("{other:?}"))),
            Err(e) => Err(SyncRequestError::Unreachable(e.to_string())),
        }
    })
    .await
    .unwrap_or_else(|e| Err(SyncRequestError::Unreachable(e.to_string())))
}

/// A running in-process lab, shared with the app; dropping the last handle stops it and
/// removes its folder (its CA, its accounts' passwords, its answers file).
#[derive(Clone)]
pub struct LabHandle(pub Arc<Lab>, Arc<LabFolder>);

/// The lab's folder: created owner-only (0700), removed when the wizard lets go of the lab.
struct LabFolder(PathBuf);

impl Drop for LabFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl LabHandle {
    /// The lab's folder (owner-only; gone when the last handle is dropped).
    pub fn folder(&self) -> &std::path::Path {
        &self.1 .0
    }
}

impl fmt::Debug for LabHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LabHandle({} servers)", self.0.info().servers.len())
    }
}

/// Start the lab Exchange on loopback (free ports, state in an owner-only temporary folder
/// that is removed when the wizard closes).
pub async fn start_lab() -> Result<LabHandle, LabStartError> {
    let state_dir =
        std::env::temp_dir().join(format!("eas-connector-setup-lab-{}", std::process::id()));
    // A folder left by an earlier run with this process id is someone else's: start afresh.
    let _ = std::fs::remove_dir_all(&state_dir);
    crate::config::store::create_private_dir(&state_dir).map_err(|e| LabStartError::Folder {
        path: state_dir.clone(),
        reason: e.to_string(),
    })?;
    let folder = Arc::new(LabFolder(state_dir.clone()));
    Lab::start(LabOptions {
        state_dir,
        ..LabOptions::default()
    })
    .await
    .map(|lab| LabHandle(Arc::new(lab), folder))
    .map_err(|e| LabStartError::Lab(Arc::new(e)))
}

/// Validate `plan` for `loc` (the Connect page): one message per finished check, then the
/// report. Passwords not typed are read from the vault for the run and never leave it.
pub fn validate(loc: ConfigLocation, plan: Plan) -> impl Stream<Item = connect::Message> {
    iced::stream::channel(
        64,
        async move |mut tx: iced::futures::channel::mpsc::Sender<_>| {
            let result = async {
                let file = setup::planned_config(&loc, &plan).map_err(|e| e.to_string())?;
                let (loc2, plan2) = (loc.clone(), plan.clone());
                let passwords = tokio::task::spawn_blocking(move || {
                    let store = open_store(&loc2, plan2.register_service);
                    SecretKind::ACCOUNTS.map(|k| {
                        plan2
                            .passwords
                            .iter()
                            .find(|(kind, _)| *kind == k)
                            .map(|(_, s)| s.clone())
                            .or_else(|| {
                                if plan2.replace {
                                    None
                                } else {
                                    store.as_ref().and_then(|s| s.get(k).ok().flatten())
                                }
                            })
                    })
                })
                .await
                .map_err(|e| e.to_string())?;
                let mut sink = tx.clone();
                let credential = cloud_credential(&loc, &plan, &file.config).await;
                let report = setup::validate_plan_with_cloud(
                    &file.config,
                    passwords,
                    credential,
                    &mut |p| {
                        if let Progress::Check(c) = p {
                            let _ = sink.try_send(connect::Message::Checked(c));
                        }
                    },
                )
                .await;
                Ok::<_, String>(report)
            }
            .await;
            let _ = tx.send(connect::Message::Finished(result)).await;
        },
    )
}

/// The cloud app's credential for check 14 as `plan` would leave it: the certificate read
/// on the Compliance source page, the secret typed there, else the one stored (unless the plan
/// replaces everything). `None` without an Intune source.
async fn cloud_credential(
    loc: &ConfigLocation,
    plan: &Plan,
    config: &ConnectorConfig,
) -> Option<crate::cloud::AppCredential> {
    use crate::cloud::{AppCredential, AssertionAlg};
    use crate::config::model::CloudCredential;
    if !config.cloud.is_configured() {
        return None;
    }
    let alg = AssertionAlg::default();
    match (&plan.cloud_certificate, config.cloud.credential) {
        (Some(c), CloudCredential::Certificate) => {
            return Some(AppCredential::Certificate(c.clone(), alg))
        }
        (_, CloudCredential::Secret) => {
            if let Some((_, s)) = plan
                .passwords
                .iter()
                .find(|(k, _)| *k == SecretKind::CloudClientSecret)
            {
                return Some(AppCredential::Secret(s.clone()));
            }
        }
        _ => {}
    }
    if plan.replace {
        return None;
    }
    let (loc, config, register) = (loc.clone(), config.clone(), plan.register_service);
    tokio::task::spawn_blocking(move || {
        let store = open_store(&loc, register)?;
        crate::cloud::credential(&config, store.as_ref(), alg).ok()
    })
    .await
    .ok()
    .flatten()
}

/// Why the Compliance source page's Test could not run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TestError {
    /// The settings do not make a configuration yet (in setup's words).
    #[error("{0}")]
    Settings(String),
}

/// Check 14 alone, for the Compliance source page's Test: sign in to Entra ID as the app the
/// plan configures, with its credential, and read the first page of Intune's devices.
pub async fn test_intune(
    loc: ConfigLocation,
    plan: Plan,
) -> Result<crate::probe::Outcome, TestError> {
    let file =
        setup::planned_config(&loc, &plan).map_err(|e| TestError::Settings(e.to_string()))?;
    let credential = cloud_credential(&loc, &plan, &file.config).await;
    let proxy = match plan.passwords.iter().find(|(k, _)| *k == SecretKind::Proxy) {
        Some((_, s)) => Some(s.clone()),
        None if !plan.replace => {
            let (loc, register) = (loc.clone(), plan.register_service);
            tokio::task::spawn_blocking(move || {
                open_store(&loc, register).and_then(|s| s.get(SecretKind::Proxy).ok().flatten())
            })
            .await
            .ok()
            .flatten()
        }
        None => None,
    };
    Ok(crate::probe::intune_check(
        &file.config,
        credential,
        proxy.as_ref(),
        std::time::Duration::from_secs(20),
    )
    .await)
}

/// Ask for the cloud app's certificate (PEM with its key, or PFX) with the platform's file
/// dialog; as [`pick_ca_file`], `Unavailable` when no dialog can open.
pub async fn pick_certificate() -> Picked {
    if cfg!(all(unix, not(target_os = "macos")))
        && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none()
    {
        return Picked::Unavailable;
    }
    let t0 = std::time::Instant::now();
    match rfd::AsyncFileDialog::new()
        .set_title("The app's certificate (PEM with its key, or PFX)")
        .add_filter("Certificates", &["pem", "pfx", "p12"])
        .pick_file()
        .await
    {
        Some(f) => Picked::File(f.path().to_path_buf()),
        None if t0.elapsed() < std::time::Duration::from_millis(400) => Picked::Unavailable,
        None => Picked::Cancelled,
    }
}

/// What the Done page shows about a finished setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub config_path: PathBuf,
    /// Where the passwords went, as setup reports it (English).
    pub secret_store: String,
    /// The same store as data, for the Done page's own words.
    pub backend: Option<crate::secrets::Backend>,
    /// Service name and state, when a service was registered.
    pub service: Option<(String, crate::service::manager::ServiceState)>,
}

/// Apply `plan` (the Apply page): every step's progress, then the outcome.
pub fn apply(
    loc: ConfigLocation,
    plan: Plan,
    manager: Option<Arc<dyn ServiceManager>>,
) -> impl Stream<Item = apply::Message> {
    iced::stream::channel(
        64,
        async move |mut tx: iced::futures::channel::mpsc::Sender<_>| {
            let mut sink = tx.clone();
            let result = setup::apply(&loc, &plan, manager.as_deref(), move |p| {
                let _ = sink.try_send(apply::Message::Progress(p));
            })
            .await;
            // The store setup used is now recorded for the organization: open it again
            // (quietly) to name it in the admin's language.
            let backend = setup::store_preference(plan.register_service)
                .ok()
                .and_then(|p| crate::secrets::open(&loc, p).ok())
                .map(|o| o.store.backend());
            let outcome = result
                .map(|a| Outcome {
                    config_path: a.config_path,
                    secret_store: a.secret_store,
                    backend,
                    service: a.service,
                })
                .map_err(Arc::new);
            let _ = tx.send(apply::Message::Finished(outcome)).await;
        },
    )
}

/// What the file dialog gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Picked {
    File(PathBuf),
    Cancelled,
    /// No dialog could open (no desktop portal on Linux): the path must be typed.
    Unavailable,
}

/// Ask for a PEM file with the platform's file dialog. rfd answers "nothing" both when the
/// admin cancels and when no dialog can open; an answer sooner than a person can cancel
/// (or no session bus for the portal at all) means no dialog opened.
pub async fn pick_ca_file() -> Picked {
    if cfg!(all(unix, not(target_os = "macos")))
        && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none()
    {
        return Picked::Unavailable;
    }
    let t0 = std::time::Instant::now();
    match rfd::AsyncFileDialog::new()
        .set_title("Trusted CA certificates (PEM)")
        .add_filter("PEM certificates", &["pem", "crt", "cer"])
        .pick_file()
        .await
    {
        Some(f) => Picked::File(f.path().to_path_buf()),
        None if t0.elapsed() < std::time::Duration::from_millis(400) => Picked::Unavailable,
        None => Picked::Cancelled,
    }
}

/// Why a folder could not be opened: the program that was tried, and the system's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFolderError {
    pub program: &'static str,
    pub error: String,
}

/// Open a folder in the platform's file manager, without waiting for it.
pub fn open_folder(path: &std::path::Path) -> Result<(), OpenFolderError> {
    let program = if cfg!(windows) {
        "explorer"
    } else if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    std::process::Command::new(program)
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|_| ())
        .map_err(|e| OpenFolderError {
            program,
            error: e.to_string(),
        })
}
