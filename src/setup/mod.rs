//! Setting up a connector: the one code path behind the wizard's Apply page and
//! `eas-connector configure --answers`.
//!
//! A [`Plan`] (configuration values and passwords) is validated for real, then applied as a
//! transaction: the previous configuration, passwords and service state are captured first;
//! the configuration is written atomically, passwords go to the vault, the service is
//! registered and started; if any step fails, every step already done is undone in reverse.
//! From the capture on, the configuration file is locked ([`ConfigLocation::lock`]) and the plan
//! is applied over the file as it is then, so a `config set` made meanwhile is not lost.
//! Progress is reported step by step for the wizard. It never prints and never logs a password.

pub mod answers;
pub mod remove;

use std::path::PathBuf;

use crate::config::{
    ConfigError, ConfigFile, ConfigLocation, ConnectorConfig, Field, OrgFile, ValueError,
};
use crate::probe::{self, Report};
use crate::secrets::{self, Preference, Secret, SecretError, SecretKind, SecretStore};
use crate::service::manager::{InstallSpec, ServiceError, ServiceManager, ServiceState};

/// What to set up.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Field values to set, by path (applied over the existing configuration, if any).
    pub fields: Vec<(&'static Field, String)>,
    /// Passwords to store; passwords not given keep their stored value.
    pub passwords: Vec<(SecretKind, Secret)>,
    /// The cloud app's certificate and key to store ([`crate::cloud::certificate::import_file`]);
    /// `None` keeps what is stored.
    pub cloud_certificate: Option<crate::cloud::AppCertificate>,
    /// Start from a fresh configuration instead of the existing one (Replace).
    pub replace: bool,
    /// Register and start the service.
    pub register_service: bool,
    /// Write without validating first (preparing a machine offline).
    pub skip_validation: bool,
    /// The executable the service runs.
    pub service_exe: PathBuf,
}

/// A step of [`apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Step {
    Validate,
    StopOldService,
    WriteConfig,
    StoreSecrets,
    RegisterService,
    StartService,
}

impl Step {
    pub fn label(self) -> &'static str {
        match self {
            Step::Validate => "Validate connectivity",
            Step::StopOldService => "Stop the existing service",
            Step::WriteConfig => "Write the configuration",
            Step::StoreSecrets => "Store the passwords",
            Step::RegisterService => "Register the service",
            Step::StartService => "Start the service",
        }
    }
}

/// Progress of [`apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Started(Step),
    Done(Step, Detail),
    Failed(Step, Detail),
    /// A step was undone after a later failure.
    RolledBack(Step, Detail),
    /// A validation check finished (for a live checklist).
    Check(probe::CheckResult),
}

/// What a step did, or what undoing it did, as data: the CLI prints its English `Display`,
/// the wizard words it in the admin's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// Validation: every check passed.
    ChecksPassed { ms: u64 },
    /// Validation: at least one check failed.
    ChecksFailed,
    /// The running service was stopped before its files changed.
    Stopped { service: String },
    /// The configuration was written.
    Wrote { path: PathBuf },
    /// Passwords were stored.
    PasswordsStored {
        count: usize,
        /// The cloud app's certificate was stored too.
        certificate: bool,
        store: secrets::Backend,
    },
    /// The service was registered with the platform's manager.
    Registered { service: String, manager: String },
    /// The service was started; its state just after.
    StartedService {
        service: String,
        state: ServiceState,
    },
    /// Undo: the service that ran before was started again.
    RestartedPrevious,
    /// Undo: the previous configuration file is back (or there was none, and there is none).
    RestoredConfig,
    /// Undo: the previous configuration could not be put back (its .bak is there).
    ConfigNotRestored,
    /// Undo: the previous passwords are back.
    RestoredPasswords,
    /// Undo: the service this setup registered was removed.
    RemovedService,
    /// The step failed: the error's English text (its `SetupError`, whole, is what `apply`
    /// returns).
    Error(String),
}

impl std::fmt::Display for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Detail::ChecksPassed { ms } => write!(f, "all checks passed in {ms} ms"),
            Detail::ChecksFailed => f.write_str("one or more checks failed"),
            Detail::Stopped { service } => write!(f, "stopped {service}"),
            Detail::Wrote { path } => write!(f, "wrote {}", path.display()),
            Detail::PasswordsStored {
                count,
                certificate,
                store,
            } => {
                let cert = if *certificate {
                    " and the cloud certificate"
                } else {
                    ""
                };
                write!(f, "{count} password(s){cert} in {store}")
            }
            Detail::Registered { service, manager } => {
                write!(f, "registered {service} with {manager}")
            }
            Detail::StartedService { service, state } => write!(f, "{service} is {state:?}"),
            Detail::RestartedPrevious => f.write_str("started the previous service again"),
            Detail::RestoredConfig => f.write_str("restored the previous configuration"),
            Detail::ConfigNotRestored => {
                f.write_str("could not restore the previous configuration; see the .bak file")
            }
            Detail::RestoredPasswords => f.write_str("restored the previous passwords"),
            Detail::RemovedService => f.write_str("removed the new service"),
            Detail::Error(e) => f.write_str(e),
        }
    }
}

/// Why setting up failed. After an error, everything is as it was before.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{field}: {problem}")]
    Field {
        field: &'static str,
        problem: ValueError,
    },
    #[error("validation failed ({}); nothing was changed", failed_checks(.0))]
    Validation(Box<Report>),
    #[error("{step}: {source}; everything done before was undone", step = .step.label())]
    Secrets { step: Step, source: SecretError },
    #[error("{step}: {source}; everything done before was undone{hint}", step = .step.label())]
    Service {
        step: Step,
        source: ServiceError,
        hint: &'static str,
    },
    #[error("the configuration is incomplete:\n  {}", .0.join("\n  "))]
    Incomplete(Vec<String>),
}

fn failed_checks(r: &Report) -> String {
    let failed: Vec<String> = r
        .checks
        .iter()
        .filter(|c| c.status == probe::Status::Failed)
        .map(|c| format!("{}. {}: {}", c.number, c.title, c.detail))
        .collect();
    failed.join("; ")
}

/// What [`apply`] did.
#[derive(Debug, Clone)]
pub struct Applied {
    pub config_path: PathBuf,
    pub secret_store: String,
    /// The service's name and state, when one was registered.
    pub service: Option<(String, ServiceState)>,
    pub validation: Option<Report>,
}

/// The secret store to use. `auto` already takes systemd credentials for root (who alone can
/// register a Linux service) unless the organization has a store recorded, which it keeps
/// (moving it is `config migrate-secrets`), so registering a service changes nothing here.
pub fn store_preference(register_service: bool) -> Result<Preference, SecretError> {
    let _ = register_service;
    Preference::from_env()
}

/// The configuration a plan would write, checked for completeness (not yet written).
pub fn planned_config(loc: &ConfigLocation, plan: &Plan) -> Result<ConfigFile, SetupError> {
    let mut file = if plan.replace {
        ConfigFile::new(loc)
    } else {
        ConfigFile::load_or_new(loc)?
    };
    for (field, value) in &plan.fields {
        field
            .set(&mut file.config, value)
            .map_err(|problem| SetupError::Field {
                field: field.path,
                problem,
            })?;
    }
    let problems = file.completeness_problems();
    if !problems.is_empty() {
        return Err(SetupError::Incomplete(
            problems.iter().map(|p| p.to_string()).collect(),
        ));
    }
    Ok(file)
}

fn password(
    plan: &Plan,
    store: &dyn SecretStore,
    kind: SecretKind,
    replace: bool,
) -> Option<Secret> {
    plan.passwords
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, s)| s.clone())
        .or_else(|| {
            if replace {
                None
            } else {
                store.get(kind).ok().flatten()
            }
        })
}

/// Run the checks for a plan (the wizard's Connect page), streaming results to `progress`.
/// Check 14 (Intune) runs without a cloud credential here; [`validate_plan_with_cloud`]
/// gives it one.
pub async fn validate_plan(
    config: &ConnectorConfig,
    passwords: [Option<Secret>; 3],
    progress: &mut (impl FnMut(Progress) + Send),
) -> Report {
    validate_plan_with_cloud(config, passwords, None, progress).await
}

/// [`validate_plan`] with the cloud app's credential for check 14.
pub async fn validate_plan_with_cloud(
    config: &ConnectorConfig,
    passwords: [Option<Secret>; 3],
    cloud_credential: Option<crate::cloud::AppCredential>,
    progress: &mut (impl FnMut(Progress) + Send),
) -> Report {
    let [service_password, notification_password, proxy_password] = passwords;
    let input = probe::Input {
        config: config.clone(),
        config_problems: vec![],
        service_password,
        notification_password,
        proxy_password,
        cloud_credential,
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let run = probe::validate(input, probe::Options::default(), Some(tx));
    tokio::pin!(run);
    loop {
        tokio::select! {
            report = &mut run => {
                while let Ok(ev) = rx.try_recv() {
                    if let probe::Event::Finished(c) = ev { progress(Progress::Check(c)); }
                }
                return report;
            }
            Some(ev) = rx.recv() => {
                if let probe::Event::Finished(c) = ev { progress(Progress::Check(c)); }
            }
        }
    }
}

/// One undo action: reverses a step, reporting through the progress callback.
type Undo<'a> = Box<dyn FnOnce(&mut dyn FnMut(Progress)) + Send + 'a>;

/// Apply `plan` for `loc` as a transaction. `manager` is needed when the plan registers a
/// service.
pub async fn apply(
    loc: &ConfigLocation,
    plan: &Plan,
    manager: Option<&dyn ServiceManager>,
    mut progress: impl FnMut(Progress) + Send,
) -> Result<Applied, SetupError> {
    let file = planned_config(loc, plan)?;
    let opened = secrets::open(
        loc,
        store_preference(plan.register_service).map_err(|source| SetupError::Secrets {
            step: Step::StoreSecrets,
            source,
        })?,
    )
    .map_err(|source| SetupError::Secrets {
        step: Step::StoreSecrets,
        source,
    })?;
    let store = opened.store;
    let pw = |k| password(plan, store.as_ref(), k, plan.replace);

    // 1. Validate for real, with the passwords that will be in force.
    let mut validation = None;
    if !plan.skip_validation {
        progress(Progress::Started(Step::Validate));
        let cloud_credential = if file.config.cloud.is_configured() {
            let alg = crate::cloud::AssertionAlg::default();
            match (&plan.cloud_certificate, file.config.cloud.credential) {
                (Some(c), crate::config::model::CloudCredential::Certificate) => {
                    Some(crate::cloud::AppCredential::Certificate(c.clone(), alg))
                }
                (_, crate::config::model::CloudCredential::Secret) => {
                    pw(SecretKind::CloudClientSecret).map(crate::cloud::AppCredential::Secret)
                }
                _ => crate::cloud::credential(&file.config, store.as_ref(), alg).ok(),
            }
        } else {
            None
        };
        let report = validate_plan_with_cloud(
            &file.config,
            [
                pw(SecretKind::ServiceAccount),
                pw(SecretKind::NotificationAccount),
                pw(SecretKind::Proxy),
            ],
            cloud_credential,
            &mut progress,
        )
        .await;
        if !report.ok {
            progress(Progress::Failed(Step::Validate, Detail::ChecksFailed));
            return Err(SetupError::Validation(Box::new(report)));
        }
        progress(Progress::Done(
            Step::Validate,
            Detail::ChecksPassed {
                ms: report.total_ms,
            },
        ));
        validation = Some(report);
    }

    // From here to the end no other writer (`config set`, another wizard) changes the
    // configuration, and what one wrote since the plan was checked is read again and kept.
    let _writer = loc.lock(OrgFile::Config).map_err(ConfigError::from)?;
    let file = planned_config(loc, plan)?;

    // Capture what is there now, to undo.
    let old_config = std::fs::read(loc.config_file()).ok();
    let mut old_secrets = Vec::new();
    for k in SecretKind::ALL {
        old_secrets.push((k, crate::secrets::get_any(store.as_ref(), k).ok().flatten()));
    }
    let service_name = manager.map(|m| m.service_name(loc.org()));
    let old_state = match manager {
        Some(m) => m.state(loc.org()).ok(),
        None => None,
    };
    let mut undo: Vec<Undo<'_>> = Vec::new();

    let result: Result<Option<(String, ServiceState)>, SetupError> = async {
        // 2. Stop a running service before changing what it reads.
        if let (Some(m), Some(ServiceState::Running)) = (manager, &old_state) {
            progress(Progress::Started(Step::StopOldService));
            m.stop(loc.org()).map_err(|source| SetupError::Service {
                step: Step::StopOldService,
                source,
                hint: "",
            })?;
            progress(Progress::Done(
                Step::StopOldService,
                Detail::Stopped {
                    service: m.service_name(loc.org()),
                },
            ));
            undo.push(Box::new(move |p| {
                let _ = m.start(loc.org());
                p(Progress::RolledBack(
                    Step::StopOldService,
                    Detail::RestartedPrevious,
                ));
            }));
        }

        // 3. Configuration.
        progress(Progress::Started(Step::WriteConfig));
        let mut file = file;
        file.save()?;
        progress(Progress::Done(
            Step::WriteConfig,
            Detail::Wrote {
                path: file.path().to_path_buf(),
            },
        ));
        let path = loc.config_file();
        let backup = old_config.clone();
        undo.push(Box::new(move |p| {
            let restored = match &backup {
                Some(bytes) => crate::config::store::write_atomic(&path, bytes, None, None).is_ok(),
                None => std::fs::remove_file(&path).is_ok(),
            };
            p(Progress::RolledBack(
                Step::WriteConfig,
                if restored {
                    Detail::RestoredConfig
                } else {
                    Detail::ConfigNotRestored
                },
            ));
        }));

        // 4. Passwords.
        progress(Progress::Started(Step::StoreSecrets));
        for (k, s) in &plan.passwords {
            store.set(*k, s).map_err(|source| SetupError::Secrets {
                step: Step::StoreSecrets,
                source,
            })?;
        }
        if let Some(cert) = &plan.cloud_certificate {
            crate::cloud::certificate::save(store.as_ref(), cert).map_err(|source| {
                SetupError::Secrets {
                    step: Step::StoreSecrets,
                    source,
                }
            })?;
        }
        progress(Progress::Done(
            Step::StoreSecrets,
            Detail::PasswordsStored {
                count: plan.passwords.len(),
                certificate: plan.cloud_certificate.is_some(),
                store: store.backend(),
            },
        ));
        let store_ref = store.as_ref();
        let olds = old_secrets.clone();
        undo.push(Box::new(move |p| {
            for (k, old) in olds {
                let _ = match old {
                    Some(s) => crate::secrets::set_any(store_ref, k, &s),
                    None => store_ref.delete(k).map(|_| ()),
                };
            }
            p(Progress::RolledBack(
                Step::StoreSecrets,
                Detail::RestoredPasswords,
            ));
        }));

        // 5. Service.
        if !plan.register_service {
            return Ok(None);
        }
        let Some(m) = manager else {
            return Err(SetupError::Service {
                step: Step::RegisterService,
                source: ServiceError::Unavailable("no service manager was given".into()),
                hint: "; use --no-service to write the configuration only",
            });
        };
        progress(Progress::Started(Step::RegisterService));
        // Passwords kept from an earlier setup may not be in the service's copy yet.
        store
            .share_with_service()
            .map_err(|source| SetupError::Secrets {
                step: Step::RegisterService,
                source,
            })?;
        let spec = InstallSpec {
            exe: plan.service_exe.clone(),
            config_dir: Some(loc.root().to_path_buf()),
        };
        m.install(loc.org(), &spec)
            .map_err(|source| SetupError::Service {
                step: Step::RegisterService,
                source,
                hint: "; use --no-service to write the configuration only",
            })?;
        progress(Progress::Done(
            Step::RegisterService,
            Detail::Registered {
                service: m.service_name(loc.org()),
                manager: m.describe(),
            },
        ));
        if old_state
            .as_ref()
            .is_none_or(|s| *s == ServiceState::NotInstalled)
        {
            undo.push(Box::new(move |p| {
                let _ = m.uninstall(loc.org());
                p(Progress::RolledBack(
                    Step::RegisterService,
                    Detail::RemovedService,
                ));
            }));
        }
        progress(Progress::Started(Step::StartService));
        m.start(loc.org()).map_err(|source| SetupError::Service {
            step: Step::StartService,
            source,
            hint: "",
        })?;
        let state = m.state(loc.org()).unwrap_or(ServiceState::Starting);
        progress(Progress::Done(
            Step::StartService,
            Detail::StartedService {
                service: m.service_name(loc.org()),
                state: state.clone(),
            },
        ));
        Ok(Some((m.service_name(loc.org()), state)))
    }
    .await;

    match result {
        Ok(service) => Ok(Applied {
            config_path: loc.config_file(),
            secret_store: store.backend().to_string(),
            service: service.or(service_name
                .map(|n| (n, old_state.unwrap_or(ServiceState::NotInstalled)))
                .filter(|_| plan.register_service)),
            validation,
        }),
        Err(e) => {
            let step = match &e {
                SetupError::Secrets { step, .. } | SetupError::Service { step, .. } => *step,
                _ => Step::WriteConfig,
            };
            progress(Progress::Failed(step, Detail::Error(e.to_string())));
            let mut report = |p: Progress| progress(p);
            while let Some(u) = undo.pop() {
                u(&mut report);
            }
            Err(e)
        }
    }
}
