//! The Windows Service Control Manager through the `windows-service` crate: service
//! `EasConnector$<org>` ("EAS Connector (<org>)"), automatic start, restart on failure, running
//! `"<exe>" run --org <org> --config-dir DIR` as LocalSystem, with its Event Log source
//! "EAS Connector (<org>)"; and the SCM dispatcher that `eas-connector run` enters when the SCM
//! started it.
//!
//! Kept thin: registration maps onto [`ServiceManager`], and the service body is the same
//! [`super::runtime::run`] as on Linux, with the SCM's stop request as its shutdown signal. It
//! must not contain `unsafe` (the crate forbids it) and writes nothing but the SCM's records
//! and the event source's registry key.

use std::ffi::OsString;
use std::sync::OnceLock;
use std::time::Duration;

use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
    ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod,
    ServiceInfo, ServiceStartType, ServiceState as WinState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager as WinManager, ServiceManagerAccess};

use super::manager::{InstallSpec, ServiceError, ServiceManager, ServiceState};
use crate::config::ConfigLocation;
use crate::logging::eventlog;

/// Win32 errors the SCM answers with.
const ERROR_ACCESS_DENIED: i32 = 5;
const ERROR_SERVICE_ALREADY_RUNNING: i32 = 1056;
const ERROR_SERVICE_DOES_NOT_EXIST: i32 = 1060;
const ERROR_SERVICE_NOT_ACTIVE: i32 = 1062;
const ERROR_FAILED_SERVICE_CONTROLLER_CONNECT: i32 = 1063;
const ERROR_SERVICE_MARKED_FOR_DELETE: i32 = 1072;
const ERROR_SERVICE_EXISTS: i32 = 1073;

/// The Service Control Manager.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scm;

/// The service name for `org`.
pub fn service_name(org: &str) -> String {
    format!("EasConnector${org}")
}

fn code(e: &windows_service::Error) -> Option<i32> {
    match e {
        windows_service::Error::Winapi(io) => io.raw_os_error(),
        _ => None,
    }
}

/// The error with its cause: windows-service's own text alone is "IO error in winapi call".
fn detail(e: &windows_service::Error) -> String {
    match std::error::Error::source(e) {
        Some(src) => format!("{e}: {src}"),
        None => e.to_string(),
    }
}

fn fail(action: &'static str, org: &str, e: windows_service::Error) -> ServiceError {
    if code(&e) == Some(ERROR_ACCESS_DENIED) {
        return ServiceError::NotElevated { action };
    }
    ServiceError::Failed {
        action,
        service: service_name(org),
        detail: detail(&e),
    }
}

fn manager(
    action: &'static str,
    org: &str,
    access: ServiceManagerAccess,
) -> Result<WinManager, ServiceError> {
    WinManager::local_computer(None::<&str>, access).map_err(|e| fail(action, org, e))
}

fn info(org: &str, spec: &InstallSpec) -> ServiceInfo {
    let mut args: Vec<OsString> = vec!["run".into(), "--org".into(), org.into()];
    // Always the root as the installing process sees it: the service's own environment may
    // resolve %ProgramData% elsewhere (wine gives services C:\users\Public).
    let config_dir = spec
        .config_dir
        .clone()
        .or_else(|| crate::config::default_root().ok());
    if let Some(d) = &config_dir {
        args.push("--config-dir".into());
        args.push(d.into());
    }
    ServiceInfo {
        name: service_name(org).into(),
        display_name: format!("EAS Connector ({org})").into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: spec.exe.clone(),
        launch_arguments: args,
        dependencies: vec![],
        account_name: None,
        account_password: None,
    }
}

impl ServiceManager for Scm {
    fn describe(&self) -> String {
        "Windows Service Control Manager".into()
    }

    fn service_name(&self, org: &str) -> String {
        service_name(org)
    }

    fn install(&self, org: &str, spec: &InstallSpec) -> Result<(), ServiceError> {
        const A: &str = "install";
        let m = manager(
            A,
            org,
            ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
        )?;
        let info = info(org, spec);
        let access = ServiceAccess::QUERY_STATUS
            | ServiceAccess::START
            | ServiceAccess::CHANGE_CONFIG
            | ServiceAccess::QUERY_CONFIG;
        let service = match m.create_service(&info, access) {
            Ok(s) => s,
            Err(e) if code(&e) == Some(ERROR_SERVICE_EXISTS) => {
                let s = m
                    .open_service(&info.name, access)
                    .map_err(|e| fail(A, org, e))?;
                s.change_config(&info).map_err(|e| fail(A, org, e))?;
                s
            }
            Err(e) => return Err(fail(A, org, e)),
        };
        service
            .set_description("Exchange ActiveSync access connector for this organization")
            .map_err(|e| fail(A, org, e))?;
        let restart = |secs| ServiceAction {
            action_type: ServiceActionType::Restart,
            delay: Duration::from_secs(secs),
        };
        // The restart policy is best-effort: an SCM that lacks it (wine has no
        // SERVICE_CONFIG_FAILURE_ACTIONS_FLAG) still gets a working service, and a warning.
        let policy = service
            .update_failure_actions(ServiceFailureActions {
                reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(86_400)),
                reboot_msg: None,
                command: None,
                actions: Some(vec![restart(10), restart(60), restart(300)]),
            })
            .and_then(|()| service.set_failure_actions_on_non_crash_failures(true));
        if let Err(e) = policy {
            tracing::warn!(
                service = %service_name(org),
                "the service is installed, but the Service Control Manager refused its restart-on-failure policy ({}); set it in services.msc, Recovery tab",
                detail(&e)
            );
        }
        // Before the start: the service's first event ("service started") needs its source.
        eventlog::register_source(&eventlog::source_name(org), &spec.exe).map_err(|e| {
            ServiceError::Failed {
                action: A,
                service: service_name(org),
                detail: e.to_string(),
            }
        })?;
        match service.start(&[] as &[&str]) {
            Ok(()) => Ok(()),
            Err(e) if code(&e) == Some(ERROR_SERVICE_ALREADY_RUNNING) => Ok(()),
            Err(e) => Err(fail(A, org, e)),
        }
    }

    fn uninstall(&self, org: &str) -> Result<(), ServiceError> {
        const A: &str = "uninstall";
        let m = manager(A, org, ServiceManagerAccess::CONNECT)?;
        let access = ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE;
        let service = match m.open_service(service_name(org), access) {
            Ok(s) => s,
            // Gone already: still remove its event source (an earlier uninstall may have
            // stopped half-way).
            Err(e) if code(&e) == Some(ERROR_SERVICE_DOES_NOT_EXIST) => {
                return remove_source(org);
            }
            Err(e) => return Err(fail(A, org, e)),
        };
        match service.stop() {
            Ok(_) => wait_stopped(&service),
            Err(e) if code(&e) == Some(ERROR_SERVICE_NOT_ACTIVE) => {}
            Err(e) => return Err(fail(A, org, e)),
        }
        match service.delete() {
            Ok(()) => {}
            Err(e) if code(&e) == Some(ERROR_SERVICE_MARKED_FOR_DELETE) => {}
            Err(e) => return Err(fail(A, org, e)),
        }
        remove_source(org)
    }

    fn start(&self, org: &str) -> Result<(), ServiceError> {
        const A: &str = "start";
        let m = manager(A, org, ServiceManagerAccess::CONNECT)?;
        let s = m
            .open_service(service_name(org), ServiceAccess::START)
            .map_err(|e| fail(A, org, e))?;
        match s.start(&[] as &[&str]) {
            Ok(()) => Ok(()),
            Err(e) if code(&e) == Some(ERROR_SERVICE_ALREADY_RUNNING) => Ok(()),
            Err(e) => Err(fail(A, org, e)),
        }
    }

    fn stop(&self, org: &str) -> Result<(), ServiceError> {
        const A: &str = "stop";
        let m = manager(A, org, ServiceManagerAccess::CONNECT)?;
        let s = m
            .open_service(service_name(org), ServiceAccess::STOP)
            .map_err(|e| fail(A, org, e))?;
        match s.stop() {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some(ERROR_SERVICE_NOT_ACTIVE) => Ok(()),
            Err(e) => Err(fail(A, org, e)),
        }
    }

    fn state(&self, org: &str) -> Result<ServiceState, ServiceError> {
        const A: &str = "status";
        let m = manager(A, org, ServiceManagerAccess::CONNECT)?;
        let s = match m.open_service(service_name(org), ServiceAccess::QUERY_STATUS) {
            Ok(s) => s,
            // Marked for delete: gone as soon as the last handle to it is closed.
            Err(e)
                if matches!(
                    code(&e),
                    Some(ERROR_SERVICE_DOES_NOT_EXIST | ERROR_SERVICE_MARKED_FOR_DELETE)
                ) =>
            {
                return Ok(ServiceState::NotInstalled)
            }
            Err(e) => return Err(fail(A, org, e)),
        };
        let st = s.query_status().map_err(|e| fail(A, org, e))?;
        Ok(match st.current_state {
            WinState::Running
            | WinState::Paused
            | WinState::ContinuePending
            | WinState::PausePending => ServiceState::Running,
            WinState::StartPending => ServiceState::Starting,
            WinState::StopPending => ServiceState::Stopping,
            WinState::Stopped => match st.exit_code {
                ServiceExitCode::Win32(0) => ServiceState::Stopped,
                ServiceExitCode::Win32(c) => {
                    ServiceState::Failed(format!("stopped with Win32 error {c}"))
                }
                ServiceExitCode::ServiceSpecific(c) => {
                    ServiceState::Failed(format!("stopped with exit code {c}"))
                }
            },
        })
    }

    /// The SCM cannot list services by prefix through this crate, so this checks the
    /// organizations that have a configuration under the default folder.
    fn installed(&self) -> Result<Vec<String>, ServiceError> {
        let root =
            crate::config::default_root().map_err(|e| ServiceError::Unavailable(e.to_string()))?;
        let loc = ConfigLocation::new(Some(&root), crate::config::DEFAULT_ORG)
            .map_err(|e| ServiceError::Unavailable(e.to_string()))?;
        let mut v = Vec::new();
        for org in loc.existing_orgs() {
            if !matches!(self.state(&org)?, ServiceState::NotInstalled) {
                v.push(org);
            }
        }
        Ok(v)
    }
}

fn remove_source(org: &str) -> Result<(), ServiceError> {
    eventlog::remove_source(&eventlog::source_name(org)).map_err(|e| ServiceError::Failed {
        action: "uninstall",
        service: service_name(org),
        detail: e.to_string(),
    })
}

/// Wait (at most 15 s; the runtime stops within 5 s) until a stopped service's process has
/// ended, so its files are closed before uninstall returns (`config purge` may follow).
fn wait_stopped(service: &windows_service::service::Service) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        match service.query_status() {
            Ok(st) if st.current_state != WinState::Stopped => {
                std::thread::sleep(Duration::from_millis(200));
            }
            _ => return,
        }
    }
}

/// What the dispatched service runs: set before the dispatcher starts.
static SERVICE_LOC: OnceLock<ConfigLocation> = OnceLock::new();

windows_service::define_windows_service!(ffi_service_main, service_main);

/// Run under the SCM dispatcher when the SCM started this process; when started from a
/// console instead, run in the foreground until Ctrl-C.
pub fn run(loc: ConfigLocation) -> Result<(), super::runtime::RuntimeError> {
    let name = service_name(loc.org());
    let _ = SERVICE_LOC.set(loc.clone());
    match windows_service::service_dispatcher::start(&name, ffi_service_main) {
        Ok(()) => Ok(()),
        Err(e) if code(&e) == Some(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) => {
            super::runtime::run_foreground(loc)
        }
        Err(e) => Err(super::runtime::RuntimeError::Settings(format!(
            "the Service Control Manager dispatcher failed: {e}"
        ))),
    }
}

fn status(state: WinState, exit: u32, wait: Duration) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: if state == WinState::Running {
            ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
        } else {
            ServiceControlAccept::empty()
        },
        exit_code: ServiceExitCode::ServiceSpecific(exit),
        checkpoint: 0,
        wait_hint: wait,
        process_id: None,
    }
}

fn service_main(_args: Vec<OsString>) {
    let Some(loc) = SERVICE_LOC.get().cloned() else {
        return;
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = std::sync::Mutex::new(Some(tx));
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            if let Ok(mut g) = tx.lock() {
                if let Some(t) = g.take() {
                    let _ = t.send(());
                }
            }
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let Ok(handle) = service_control_handler::register(service_name(loc.org()), handler) else {
        return;
    };
    let _ = handle.set_service_status(status(WinState::Running, 0, Duration::ZERO));
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(super::runtime::RuntimeError::Runtime)
        .and_then(|rt| {
            let r = rt.block_on(super::runtime::run(loc, async {
                let _ = rx.await;
            }));
            rt.shutdown_timeout(Duration::from_millis(500));
            r
        });
    let exit = match &result {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(
                event_id = crate::logging::eventlog::ids::SERVICE_FAILED,
                error = %e,
                "service failed"
            );
            1
        }
    };
    let _ = handle.set_service_status(status(WinState::Stopped, exit, Duration::ZERO));
}
