//! The service runtime behind `eas-connector run`: load the configuration and passwords, build
//! the [`Engine`], run syncs on the [`Scheduler`]'s timetable and on request from the control
//! channel, persist the engine's [`SyncState`] and keep the status file current, until told to
//! stop.
//!
//! One sync runs at a time, in its own task, so the loop keeps answering the control channel
//! and a stop request is honoured within [`STOP_GRACE`]: the sync in progress gets that long to
//! finish and is then abandoned (the engine changes the sync state only on success, so nothing
//! half-done is persisted). It must not register or start services (that is the
//! [`super::ServiceManager`]'s job) and must never log or write a password.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::{Timestamp, Zoned};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::control::{self, ControlError, Incoming, Reply, Request};
use super::schedule::{daily_time, Backoff, Scheduler};
use super::status::{
    self, CurrentSync, ErrorRecord, Retry, RunState, Status, StatusError, SyncRecord,
};
use crate::config::store::write_atomic;
use crate::config::{ConfigError, ConfigFile, ConfigLocation, ConnectorConfig};
use crate::engine::{Engine, EngineError, SyncKind, SyncOutcome, SyncState};
use crate::logging::eventlog::ids as event_ids;
use crate::secrets::{self, Preference, SecretKind};

/// How long the sync in progress may take to finish after a stop request.
pub const STOP_GRACE: Duration = Duration::from_secs(3);
/// The longest a single sync may run before it is abandoned as hung.
pub const SYNC_LIMIT: Duration = Duration::from_secs(2 * 3600);
/// The longest the loop sleeps before looking at the clock again (clock changes, suspend).
const MAX_NAP: Duration = Duration::from_secs(30);

/// Why the service could not run.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Settings(String),
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error(transparent)]
    Status(#[from] StatusError),
    #[error("could not start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// What the loop needs from the configuration.
struct Loaded {
    quick_every: Duration,
    full_at: jiff::civil::Time,
    /// The engine, or why there is none (incomplete configuration, missing password).
    engine: Result<Arc<Engine>, String>,
}

fn build_engine(loc: &ConfigLocation, cfg: &ConnectorConfig) -> Result<Engine, String> {
    let pref = Preference::from_env().map_err(|e| e.to_string())?;
    // Its warning (an unencrypted file) is logged by `open`, on every (re)load.
    let opened = secrets::open(loc, pref).map_err(|e| e.to_string())?;
    let service = opened
        .store
        .get(SecretKind::ServiceAccount)
        .map_err(|e| e.to_string())?;
    if service.is_none() && cfg.service_account.user.is_some() {
        // The usual cause: the password was stored by another account (OS vaults are per
        // account) than the one this process runs as. On Windows the service reads its own
        // copy, which every elevated set-password, configure and service install writes.
        return Err(format!(
            "cannot sync: no password for the service account in {} as seen by the account this \
             service runs as; store it: `eas-connector --org {} config set-password \
             service-account` (on Windows from an elevated prompt: that also writes the \
             service's copy)",
            opened.store.describe(SecretKind::ServiceAccount),
            loc.org()
        ));
    }
    let proxy = if cfg.proxy.enabled && cfg.proxy.use_credentials {
        opened
            .store
            .get(SecretKind::Proxy)
            .map_err(|e| e.to_string())?
    } else {
        None
    };
    let notification = opened
        .store
        .get(SecretKind::NotificationAccount)
        .map_err(|e| e.to_string())?;
    // Decide, enforce (once `eas-connector enforce --confirm` has been run; a dry run until
    // then), notify and audit on every sync.
    crate::engine::configured_engine(
        cfg,
        loc,
        service.as_ref(),
        notification.as_ref(),
        proxy.as_ref(),
        false,
    )
    .map(|e| {
        e.with_graph(crate::cloud::graph_client(
            cfg,
            opened.store.as_ref(),
            proxy.as_ref(),
            crate::cloud::AssertionAlg::default(),
        ))
    })
    .map_err(|e| format!("cannot sync: {e}"))
}

fn load(loc: &ConfigLocation) -> Result<Loaded, RuntimeError> {
    let file = ConfigFile::load(loc)?;
    let cfg = &file.config;
    let full_at = daily_time(cfg.full_sync_time_of_day);
    let quick_every = Duration::from_secs(u64::from(cfg.quick_sync_interval_minutes.max(1)) * 60);
    let problems = file.completeness_problems();
    let engine = if problems.is_empty() {
        build_engine(loc, cfg).map(Arc::new)
    } else {
        Err(format!(
            "the configuration is incomplete: {}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ))
    };
    Ok(Loaded {
        quick_every,
        full_at,
        engine,
    })
}

/// Read the persisted sync state; a missing or unreadable one starts afresh (the start-up
/// full sync rebuilds it).
fn load_sync_state(path: &std::path::Path) -> SyncState {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
            tracing::warn!(file = %path.display(), error = %e, "sync state unreadable; starting afresh");
            SyncState::default()
        }),
        Err(_) => SyncState::default(),
    }
}

fn save_sync_state(path: &std::path::Path, state: &SyncState) {
    let text = match serde_json::to_vec_pretty(state) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "sync state not serializable");
            return;
        }
    };
    if let Err(e) = write_atomic(path, &text, None, Some(0o600)) {
        tracing::error!(file = %path.display(), error = %e, "could not save the sync state");
    }
}

/// Why a sync failed, and the server it failed on when known.
#[derive(Debug)]
struct Failure {
    message: String,
    server: Option<String>,
    /// The account was refused: retrying would only count toward its lockout.
    credentials: bool,
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        let server = match &e {
            EngineError::Exchange { server, .. } | EngineError::Credentials { server, .. } => {
                Some(server.clone())
            }
            EngineError::NoServer(_) | EngineError::Policy(_) | EngineError::State(_) => None,
        };
        Failure {
            credentials: e.is_credential_error(),
            message: e.to_string(),
            server,
        }
    }
}

impl Failure {
    fn plain(message: String) -> Self {
        Failure {
            message,
            server: None,
            credentials: false,
        }
    }
}

/// What `service status` says while syncs are paused for a refused account.
fn paused_text(org: &str) -> String {
    format!(
        "the domain refused the service account, so scheduled syncs stop (each try would count toward the account's lockout); store its current password with `eas-connector --org {org} config set-password service-account` (the service then resumes by itself), or reload the service after fixing the account"
    )
}

type SyncResult = (Result<SyncOutcome, Failure>, SyncState);

struct Running {
    kind: SyncKind,
    started: Timestamp,
    waiters: Vec<oneshot::Sender<Reply>>,
}

struct Service {
    loc: ConfigLocation,
    status_path: PathBuf,
    state_path: PathBuf,
    status: Status,
    scheduler: Scheduler,
    loaded: Loaded,
    sync_state: SyncState,
    running: Option<Running>,
    /// Manual syncs asked for and not started yet, with who waits for them.
    queued: Vec<SyncKind>,
    waiters: Vec<(SyncKind, oneshot::Sender<Reply>)>,
}

impl Service {
    fn write_status(&mut self) {
        self.status.updated_at = Some(Timestamp::now());
        self.status.next_quick_sync = Some(self.scheduler.next_quick());
        self.status.next_full_sync = Some(self.scheduler.next_full());
        self.status.next_retry = match self.status.paused {
            // Paused for a refused account: nothing is retried.
            Some(_) => None,
            None => self.scheduler.retry().map(|(kind, at)| Retry { kind, at }),
        };
        self.status.consecutive_failures = self.scheduler.consecutive_failures();
        if let Err(e) = self.status.write(&self.status_path) {
            tracing::error!(error = %e, "could not write the status file");
        }
    }

    fn start_sync(&mut self, kind: SyncKind, manual: bool) -> JoinHandle<SyncResult> {
        let started = Timestamp::now();
        self.scheduler.started(started);
        // Who waits for this kind (a full sync also answers those waiting for a quick one).
        let covers = |k: SyncKind| k == kind || kind == SyncKind::Full;
        let mut waiters = Vec::new();
        let mut rest = Vec::new();
        for (k, tx) in self.waiters.drain(..) {
            if covers(k) {
                waiters.push(tx);
            } else {
                rest.push((k, tx));
            }
        }
        self.waiters = rest;
        self.queued.retain(|k| !covers(*k));
        let engine = self.loaded.engine.clone();
        let mut state = self.sync_state.clone();
        tracing::info!(kind = ?kind, manual, "sync started");
        let handle = tokio::spawn(async move {
            let engine = match engine {
                Ok(e) => e,
                Err(reason) => return (Err(Failure::plain(reason)), state),
            };
            let r = match tokio::time::timeout(SYNC_LIMIT, engine.sync(kind, &mut state, |_| {}))
                .await
            {
                Ok(r) => r.map_err(Failure::from),
                Err(_) => Err(Failure::plain(format!(
                    "the sync did not finish within {} s and was abandoned",
                    SYNC_LIMIT.as_secs()
                ))),
            };
            (r, state)
        });
        self.status.state = RunState::Syncing;
        self.status.current_sync = Some(CurrentSync {
            kind,
            started_at: started,
            manual,
        });
        self.running = Some(Running {
            kind,
            started,
            waiters,
        });
        self.write_status();
        handle
    }

    fn finish_sync(&mut self, result: Result<SyncResult, tokio::task::JoinError>) {
        let Some(run) = self.running.take() else {
            return;
        };
        let now = Zoned::now();
        let finished = now.timestamp();
        let result = match result {
            Ok((r, state)) => {
                if r.is_ok() {
                    self.sync_state = state;
                    save_sync_state(&self.state_path, &self.sync_state);
                }
                r
            }
            Err(e) => Err(Failure::plain(format!(
                "the sync task ended abnormally: {e}"
            ))),
        };
        let reply = match result {
            Ok(outcome) => {
                let record = SyncRecord::from_outcome(&outcome, run.started, finished);
                tracing::info!(
                    event_id = match run.kind {
                        SyncKind::Quick => event_ids::QUICK_SYNC_FINISHED,
                        SyncKind::Full => event_ids::FULL_SYNC_FINISHED,
                    },
                    kind = ?run.kind,
                    server = %outcome.server,
                    devices = outcome.devices,
                    duration_ms = outcome.duration_ms,
                    failed_over_from = ?outcome.failed_over_from,
                    "sync finished"
                );
                self.status.current_server = Some(outcome.server.clone());
                match run.kind {
                    SyncKind::Quick => self.status.last_quick_sync = Some(record.clone()),
                    SyncKind::Full => self.status.last_full_sync = Some(record.clone()),
                }
                self.scheduler.finished(run.kind, true, &now);
                Reply::Synced { sync: record }
            }
            Err(Failure {
                message,
                server,
                credentials,
            }) => {
                if server.is_some() {
                    self.status.current_server = server;
                }
                let retry = self.scheduler.finished(run.kind, false, &now);
                if credentials {
                    let why = paused_text(self.loc.org());
                    tracing::error!(event_id = event_ids::CREDENTIALS_REFUSED, kind = ?run.kind, error = %message, "sync failed and scheduled syncs are paused: {why}");
                    self.status.paused = Some(why);
                } else {
                    tracing::warn!(event_id = event_ids::SYNC_FAILED, kind = ?run.kind, error = %message, retry_in_s = retry.map(|d| d.as_secs()), "sync failed");
                }
                self.status.last_error = Some(ErrorRecord {
                    at: finished,
                    kind: Some(run.kind),
                    message: message.clone(),
                });
                Reply::SyncFailed {
                    kind: run.kind,
                    error: message,
                }
            }
        };
        for w in run.waiters {
            let _ = w.send(reply.clone());
        }
        self.status.state = RunState::Idle;
        self.status.current_sync = None;
        self.write_status();
    }

    fn reload(&mut self) -> Reply {
        match load(&self.loc) {
            Err(e) => {
                let message = format!("reload failed, the previous configuration stays: {e}");
                self.status.last_error = Some(ErrorRecord {
                    at: Timestamp::now(),
                    kind: None,
                    message: message.clone(),
                });
                self.write_status();
                Reply::Error { error: message }
            }
            Ok(loaded) => {
                self.scheduler
                    .reconfigure(loaded.quick_every, loaded.full_at, &Zoned::now());
                let detail = format!(
                    "configuration and passwords re-read; quick sync every {} min, full sync daily at {}",
                    loaded.quick_every.as_secs() / 60,
                    loaded.full_at.strftime("%H:%M")
                );
                let warning = loaded.engine.as_ref().err().cloned();
                self.loaded = loaded;
                // New passwords (or a fixed account): scheduled syncs may try again, and
                // Kerberos asks the domain afresh (no cached tickets or refusals).
                self.status.paused = None;
                crate::exchange::auth::kerberos::tickets::clear_cache();
                tracing::info!(event_id = event_ids::RELOADED, "{detail}");
                self.write_status();
                match warning {
                    None => Reply::Reloaded { detail },
                    Some(w) => Reply::Error {
                        error: format!("reloaded, but syncs cannot run: {w}"),
                    },
                }
            }
        }
    }

    fn handle(&mut self, inc: Incoming) {
        match inc.request {
            Request::Status => {
                let mut s = self.status.clone();
                s.updated_at = Some(Timestamp::now());
                let _ = inc.reply.send(Reply::Status {
                    status: Box::new(s),
                });
            }
            Request::Reload => {
                let r = self.reload();
                let _ = inc.reply.send(r);
            }
            Request::Sync { kind, wait } => {
                if !self.queued.contains(&kind) {
                    self.queued.push(kind);
                }
                if wait {
                    self.waiters.push((kind, inc.reply));
                } else {
                    let _ = inc.reply.send(Reply::Queued { kind });
                }
            }
        }
    }

    /// The next sync to start: manual requests first (full before quick), then the timetable.
    fn next_due(&self) -> Option<(SyncKind, bool)> {
        if self.queued.contains(&SyncKind::Full) {
            return Some((SyncKind::Full, true));
        }
        if self.queued.contains(&SyncKind::Quick) {
            return Some((SyncKind::Quick, true));
        }
        if self.status.paused.is_some() {
            return None;
        }
        self.scheduler.due(Timestamp::now()).map(|k| (k, false))
    }

    fn nap(&self) -> Duration {
        if self.status.paused.is_some() {
            return MAX_NAP;
        }
        let until = Timestamp::now().duration_until(self.scheduler.next_wake());
        Duration::try_from(until)
            .unwrap_or(Duration::ZERO)
            .min(MAX_NAP)
    }
}

/// Run the service for `loc` until `shutdown` completes. Must be called inside a tokio
/// runtime (with time and I/O enabled).
pub async fn run(
    loc: ConfigLocation,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RuntimeError> {
    let loaded = load(&loc)?;
    let server = control::Server::bind(&loc)?;
    let status_path = status::status_path(&loc);
    let state_path = status::sync_state_path(&loc);
    let previous = match Status::read(&status_path) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "previous status unreadable; starting a fresh one");
            None
        }
    };
    let now = Zoned::now();
    let scheduler = Scheduler::new(loaded.quick_every, loaded.full_at, Backoff::default(), &now);
    let mut svc = Service {
        status: Status::starting(loc.org(), previous),
        status_path,
        sync_state: load_sync_state(&state_path),
        state_path,
        loc,
        scheduler,
        loaded,
        running: None,
        queued: Vec::new(),
        waiters: Vec::new(),
    };
    if let Err(reason) = &svc.loaded.engine {
        tracing::warn!("{reason}");
    }
    svc.write_status();
    tracing::info!(
        event_id = event_ids::SERVICE_STARTED,
        org = svc.loc.org(),
        control = %server.endpoint().display(),
        "service started"
    );
    let (tx, mut rx) = mpsc::channel::<Incoming>(32);
    let control_task = tokio::spawn(server.serve(tx));
    svc.status.state = RunState::Idle;
    svc.write_status();

    tokio::pin!(shutdown);
    let mut handle: Option<JoinHandle<SyncResult>> = None;
    loop {
        if handle.is_none() {
            if let Some((kind, manual)) = svc.next_due() {
                handle = Some(svc.start_sync(kind, manual));
            }
        }
        let nap = svc.nap();
        tokio::select! {
            _ = &mut shutdown => break,
            Some(inc) = rx.recv() => svc.handle(inc),
            r = async {
                match handle.as_mut() {
                    Some(h) => h.await,
                    None => std::future::pending().await,
                }
            } => {
                handle = None;
                svc.finish_sync(r);
            }
            _ = tokio::time::sleep(nap), if handle.is_none() => {}
        }
    }

    tracing::info!("stopping");
    svc.status.state = RunState::Stopping;
    svc.write_status();
    control_task.abort();
    if let Some(mut h) = handle.take() {
        match tokio::time::timeout(STOP_GRACE, &mut h).await {
            Ok(r) => svc.finish_sync(r),
            Err(_) => {
                h.abort();
                if let Some(run) = svc.running.take() {
                    tracing::warn!(event_id = event_ids::SYNC_ABANDONED, kind = ?run.kind, "sync abandoned at stop; it runs again at the next start");
                    for w in run.waiters {
                        let _ = w.send(Reply::SyncFailed {
                            kind: run.kind,
                            error: "the service stopped before the sync finished".into(),
                        });
                    }
                }
            }
        }
    }
    for (kind, w) in svc.waiters.drain(..) {
        let _ = w.send(Reply::SyncFailed {
            kind,
            error: "the service stopped before the sync started".into(),
        });
    }
    // The control task is gone: its drop removed the socket.
    let _ = control_task.await;
    svc.status.state = RunState::Stopped;
    svc.status.current_sync = None;
    svc.write_status();
    tracing::info!(event_id = event_ids::SERVICE_STOPPED, "service stopped");
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Run the service in the foreground (systemd, a console) until SIGTERM or Ctrl-C.
pub fn run_foreground(loc: ConfigLocation) -> Result<(), RuntimeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(RuntimeError::Runtime)?;
    let r = rt.block_on(run(loc, shutdown_signal()));
    // Abandoned network tasks must not hold up the exit.
    rt.shutdown_timeout(Duration::from_millis(500));
    r
}
