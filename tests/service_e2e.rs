//! The real `eas-connector run`, `sync`, `status` and `service` binaries in temporary folders,
//! against the real `eas-connector lab`.
//!
//! Set up as an admin would (`configure --answers` with the lab's answers file), then full
//! syncs, CAS failover, the control channel, status file integrity under kill -9, graceful
//! stop, and registration through a stand-in systemctl.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_eas-connector");
const ORG: &str = "contoso";

struct Lab {
    child: Child,
    dir: tempfile::TempDir,
    info: serde_json::Value,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Lab {
    fn start(devices: u32, latency_ms: u64) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(BIN)
            .args(["lab", "--servers", "2", "--devices"])
            .arg(devices.to_string())
            .arg("--latency-ms")
            .arg(latency_ms.to_string())
            .arg("--state-dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lab_json = dir.path().join("lab.json");
        let deadline = Instant::now() + Duration::from_secs(60);
        let info = loop {
            if let Ok(b) = std::fs::read(&lab_json) {
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&b) {
                    break v;
                }
            }
            assert!(Instant::now() < deadline, "lab did not write lab.json");
            std::thread::sleep(Duration::from_millis(20));
        };
        Lab { child, dir, info }
    }
    fn s(&self, path: &[&str]) -> String {
        let mut v = &self.info;
        for p in path {
            v = if let Ok(i) = p.parse::<usize>() {
                &v[i]
            } else {
                &v[*p]
            };
        }
        v.as_str()
            .unwrap_or_else(|| panic!("{path:?} in lab.json"))
            .to_string()
    }
    fn address(&self, i: usize) -> String {
        self.s(&["servers", &i.to_string(), "address"])
    }
    /// POST to the lab's control endpoint.
    fn control(&self, path: &str) {
        let out = Command::new("curl")
            .args(["-sS", "-f", "-X", "POST", "-H"])
            .arg(format!(
                "Authorization: Bearer {}",
                self.s(&["control", "token"])
            ))
            .arg(format!("{}{}", self.s(&["control", "url"]), path))
            .output()
            .unwrap();
        assert!(out.status.success(), "lab control {path}: {out:?}");
    }
}

struct Org {
    dir: tempfile::TempDir,
}

impl Org {
    fn root(&self) -> &Path {
        self.dir.path()
    }
    fn org_dir(&self) -> PathBuf {
        self.root().join(ORG)
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--config-dir")
            .arg(self.root())
            .args(["--org", ORG])
            .args(args)
            .env("EAS_CONNECTOR_SECRET_STORE", "file")
            .env_remove("EAS_CONNECTOR_CONFIG_DIR")
            .env_remove("EAS_CONNECTOR_ORG")
            .env_remove("RUST_LOG");
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).stdin(Stdio::null()).output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    fn set_password(&self, which: &str, pw: &str) {
        let mut child = self
            .cmd(&["config", "set-password", which, "--stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{pw}").unwrap();
        assert!(child.wait().unwrap().success());
    }
    /// An org set up from the lab's answers file with `configure --answers` (validated
    /// against the lab, no service registered: the tests run `run` themselves).
    fn for_lab(lab: &Lab) -> Org {
        let org = Org {
            dir: tempfile::tempdir().unwrap(),
        };
        let answers = lab.dir.path().join("answers.toml");
        let answers = answers.to_str().unwrap();
        org.ok(&["configure", "--answers", answers, "--no-service"]);
        org.ok(&["config", "set", "QuickSyncIntervalMinutes", "60"]);
        org
    }
    fn with(cas: &str, user: &str, password: &str, ca: Option<&str>) -> Org {
        let org = Org {
            dir: tempfile::tempdir().unwrap(),
        };
        org.ok(&["config", "set", "ClientAccessServer", cas]);
        org.ok(&["config", "set", "ServiceAccount/User", user]);
        org.ok(&["config", "set", "NotificationAccount/User", user]);
        org.ok(&[
            "config",
            "set",
            "NotificationAccount/Mailbox",
            "connector@contoso.com",
        ]);
        org.ok(&["config", "set", "QuickSyncIntervalMinutes", "60"]);
        if let Some(ca) = ca {
            org.ok(&["config", "set", "TrustedCaFile", ca]);
        }
        org.set_password("service-account", password);
        org.set_password("notification-account", password);
        org
    }
    fn status_file(&self) -> PathBuf {
        self.org_dir().join("ServiceStatus.json")
    }
    /// The status file, which must always parse.
    fn status(&self) -> serde_json::Value {
        let bytes = std::fs::read(self.status_file()).unwrap();
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "status file not whole ({e}):\n{}",
                String::from_utf8_lossy(&bytes)
            )
        })
    }
    fn status_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).unwrap()
    }
    /// Start `run` in the background and wait until its control socket answers.
    fn start_service(&self) -> Service {
        let log = self.root().join(format!("run-{}.log", rand_suffix()));
        let child = self
            .cmd(&["run"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut svc = Service { child, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = self.status_json();
            if out["running"] == true {
                return svc;
            }
            if let Ok(Some(st)) = svc.child.try_wait() {
                panic!("run exited early ({st}): {}", svc.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "run did not come up: {}",
                svc.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

struct Service {
    child: Child,
    log: PathBuf,
}

impl Service {
    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
    /// SIGTERM; returns how long it took to exit, and asserts exit code 0.
    fn terminate(mut self) -> Duration {
        let t = Instant::now();
        self.signal("TERM");
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                assert!(st.success(), "exit {st}: {}", self.stderr());
                return t.elapsed();
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "no exit after SIGTERM: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Lab up, `configure --answers`, `run`: a full sync over the control channel, status, SIGTERM.
#[test]
fn full_sync_status_and_graceful_stop() {
    let lab = Lab::start(60, 0);
    let org = Org::for_lab(&lab);
    let svc = org.start_service();
    let out = org.ok(&["sync", "--full"]);
    assert!(out.contains("full sync done: 60 device(s)"), "{out}");
    let st = org.status_json();
    assert_eq!(st["running"], true);
    let full = &st["status"]["last_full_sync"];
    assert_eq!(full["devices"], 60, "{st:#}");
    assert_eq!(full["server"], lab.address(0));
    assert_eq!(st["status"]["current_server"], lab.address(0));
    assert!(st["status"]["next_quick_sync"].is_string());
    assert!(st["status"]["next_full_sync"].is_string());
    // The human form works too.
    let text = org.ok(&["status"]);
    assert!(text.contains("60 device(s)"), "{text}");
    // Without a service manager, a connector run in the foreground is a running connector.
    if !Path::new("/run/systemd/system").is_dir() {
        assert!(
            text.contains(
                "not registered with a service manager; the connector runs in the foreground"
            ),
            "{text}"
        );
        assert!(!text.contains("not running"), "{text}");
    }
    let took = svc.terminate();
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
    let file = org.status();
    assert_eq!(file["state"], "stopped");
    assert_eq!(file["last_full_sync"]["devices"], 60);
    assert!(!org.org_dir().join("control.sock").exists());
    assert!(org.org_dir().join("SyncState.json").is_file());
    // Stopped: status still reports the last syncs, from the file.
    let st = org.status_json();
    assert_eq!(st["running"], false);
    assert_eq!(st["status"]["last_full_sync"]["devices"], 60);
}

/// The configured CAS goes down; the next sync goes through the
/// other one (learnt from Get-ExchangeServer on the full sync) and status says so.
#[test]
fn failover_to_the_other_cas() {
    let lab = Lab::start(30, 0);
    let org = Org::for_lab(&lab);
    let svc = org.start_service();
    org.ok(&["sync", "--full"]);
    let first = lab.s(&["servers", "0", "name"]);
    lab.control(&format!("/servers/{first}/stop"));
    let out = org.ok(&["sync", "--quick"]);
    assert!(out.contains(&format!("via {}", lab.address(1))), "{out}");
    assert!(
        out.contains(&format!("failed over from {}", lab.address(0))),
        "{out}"
    );
    let st = org.status_json();
    assert_eq!(st["status"]["current_server"], lab.address(1), "{st:#}");
    assert_eq!(st["status"]["last_quick_sync"]["server"], lab.address(1));
    assert_eq!(
        st["status"]["last_quick_sync"]["failed_over_from"][0]["server"],
        lab.address(0)
    );
    assert!(svc.terminate() < Duration::from_secs(5));
}

/// kill -9 during syncs, several times, with a reader parsing the status file all along: it is
/// always whole, and the service restarts cleanly over the stale socket. The final successful
/// sync reads every device.
#[test]
fn kill_9_mid_sync_never_corrupts_status() {
    let lab = Lab::start(400, 20);
    let org = Org::for_lab(&lab);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let path = org.status_file();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(bytes) = std::fs::read(&path) {
                    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                        panic!(
                            "status file not whole ({e}):\n{}",
                            String::from_utf8_lossy(&bytes)
                        );
                    }
                    reads += 1;
                }
            }
            reads
        })
    };
    for round in 0..4u64 {
        let svc = org.start_service();
        // Ask for syncs without waiting, so several status writes are in flight.
        for _ in 0..3 {
            org.ok(&["sync", "--full", "--no-wait"]);
            org.ok(&["sync", "--quick", "--no-wait"]);
        }
        std::thread::sleep(Duration::from_millis(150 + 120 * round));
        svc.kill9();
        let st = org.status();
        assert_eq!(st["organization"], ORG);
    }
    let svc = org.start_service();
    let out = org.ok(&["sync", "--full"]);
    assert!(out.contains("full sync done: 400 device(s)"), "{out}");
    assert!(svc.terminate() < Duration::from_secs(5));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads = reader.join().expect("reader saw a torn status file");
    assert!(reads > 0);
    assert_eq!(org.status()["state"], "stopped");
}

/// No Exchange at all: the service still runs, reports the failed sync over the control
/// channel and in status, answers a reload, and stops cleanly on SIGTERM.
#[test]
fn failing_sync_is_reported_and_stop_is_clean() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let org = Org::with(&format!("127.0.0.1:{port}"), "CONTOSO\\svc", "pw", None);
    let svc = org.start_service();
    // A second instance for the same org is refused.
    let second = org.run(&["run"]);
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already running"),
        "{second:?}"
    );
    let out = org.run(&["sync", "--full"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("full sync failed"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    let st = org.status_json();
    assert!(
        st["status"]["last_error"]["message"]
            .as_str()
            .unwrap()
            .contains("no Client Access Server answered"),
        "{st:#}"
    );
    assert_eq!(st["status"]["next_retry"]["kind"], "full");
    assert!(st["status"]["consecutive_failures"].as_u64().unwrap() >= 1);
    // Reload re-reads the configuration.
    org.ok(&["config", "set", "QuickSyncIntervalMinutes", "30"]);
    let reply = std::process::Command::new("sh")
        .arg("-c")
        .arg(
            "command -v socat >/dev/null && echo reload | socat -t 10 - UNIX-CONNECT:\"$1\" || echo skip",
        )
        .arg("sh")
        .arg(org.org_dir().join("control.sock"))
        .output()
        .unwrap();
    let reply = String::from_utf8_lossy(&reply.stdout);
    if reply.trim() == "skip" {
        // No socat: fine for a quick local run, a failure where peers are required.
        assert!(
            std::env::var("EAS_TEST_PEERS").as_deref() != Ok("1"),
            "socat is required (Debian package socat); scripts/test installs it"
        );
    } else {
        assert!(reply.contains("reloaded"), "{reply}");
    }
    let took = svc.terminate();
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(org.status()["state"], "stopped");
    // With the service stopped, sync says so plainly.
    let out = org.run(&["sync", "--quick"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not running"));
}

/// A refused account pauses scheduled syncs instead of retrying toward a lockout; storing the
/// password again (which tells the running service) resumes them.
#[test]
fn a_refused_account_pauses_syncs_until_the_password_is_stored() {
    let lab = Lab::start(20, 0);
    let org = Org::for_lab(&lab);
    org.set_password("service-account", "Not-The-Password-1");
    let svc = org.start_service();
    let out = org.run(&["sync", "--full"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused the credentials"), "{err}");
    assert!(!err.contains("Not-The-Password-1"));
    let st = org.status_json();
    let paused = st["status"]["paused"].as_str().unwrap_or_default();
    assert!(paused.contains("set-password service-account"), "{st:#}");
    assert!(st["status"]["next_retry"].is_null(), "no retry: {st:#}");
    let shown = org.ok(&["status"]);
    assert!(shown.contains("PAUSED"), "{shown}");
    assert!(
        svc.stderr().contains("scheduled syncs are paused"),
        "{}",
        svc.stderr()
    );
    // The right password: set-password reloads the service, which resumes.
    let pw = lab.s(&["accounts", "service", "password"]);
    let out = org
        .cmd(&["config", "set-password", "service-account", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            writeln!(c.stdin.take().unwrap(), "{pw}")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("the running service re-read its passwords"),
        "{out:?}"
    );
    assert!(org.status_json()["status"]["paused"].is_null());
    org.ok(&["sync", "--full"]);
    svc.terminate();
}

/// `eas-connector service …` through a stand-in systemctl: the exact command sequence, the
/// files, and uninstall --all removing them.
#[cfg(target_os = "linux")]
#[test]
fn service_commands_drive_systemctl() {
    use std::os::unix::fs::PermissionsExt;
    let org = Org::with("cas01.contoso.com", "CONTOSO\\svc", "pw", None);
    let units = org.root().join("units");
    let log = org.root().join("systemctl.log");
    let prog = org.root().join("systemctl");
    std::fs::write(
        &prog,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\n[ \"$1\" = show ] && printf 'LoadState=loaded\\nActiveState=inactive\\n'\nexit 0\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    let sd = |args: &[&str]| {
        let out = org
            .cmd(args)
            .env("EAS_CONNECTOR_SYSTEMD_UNIT_DIR", &units)
            .env("EAS_CONNECTOR_SYSTEMCTL", &prog)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    sd(&["service", "install"]);
    sd(&["service", "install"]);
    assert!(sd(&["service", "status"]).contains("eas-connector@contoso.service: stopped"));
    sd(&["service", "stop"]);
    sd(&["service", "start"]);
    let dropin =
        std::fs::read_to_string(units.join("eas-connector@contoso.service.d/eas-connector.conf"))
            .unwrap();
    assert!(
        dropin.contains(&format!("\"{BIN}\" run --org \"contoso\" --config-dir")),
        "{dropin}"
    );
    sd(&["service", "uninstall", "--all"]);
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        [
            "daemon-reload",
            "enable --now eas-connector@contoso.service",
            "daemon-reload",
            "enable --now eas-connector@contoso.service",
            "show --property=LoadState,ActiveState,SubState,Result eas-connector@contoso.service",
            "stop eas-connector@contoso.service",
            "start eas-connector@contoso.service",
            "disable --now eas-connector@contoso.service",
            "daemon-reload",
        ]
    );
    assert_eq!(std::fs::read_dir(&units).unwrap().count(), 0);
    // Without systemd and without a stand-in, the reason is given.
    if !Path::new("/run/systemd/system").is_dir() {
        let out = org
            .cmd(&["service", "status"])
            .env_remove("EAS_CONNECTOR_SYSTEMCTL")
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("systemd is not running"));
    }
}

/// A service that finds no password (stored by another account, or never): every sync fails
/// with what is missing, where it looked, and how to store it as the service's account.
#[test]
fn missing_password_is_named_with_the_fix() {
    let org = Org::with("cas01.contoso.com", "CONTOSO\\svc", "pw", None);
    org.ok(&["config", "clear-password", "service-account"]);
    let svc = org.start_service();
    let out = org.run(&["sync", "--full"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no password for the service account in file")
            && err.contains("config set-password service-account"),
        "{err}"
    );
    assert!(svc.terminate() < Duration::from_secs(5));
}

/// Every file holding passwords or user and device ids is owner-only after the lab's start,
/// `configure`, a dry-run sync with a policy, and a service sync: the lab's `lab.json` and
/// `answers.toml`, the secrets file, the engine's state, the run's sync state, the decision
/// audit and the log.
#[cfg(unix)]
#[test]
fn files_with_secrets_or_ids_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let lab = Lab::start(30, 0);
    let org = Org::for_lab(&lab);
    let policy = org.ok(&["policy", "example"]);
    std::fs::write(org.org_dir().join("AccessPolicy.toml"), policy).unwrap();
    org.ok(&["engine", "run", "--full", "--dry-run"]);
    let svc = org.start_service();
    org.ok(&["sync", "--full"]);
    svc.terminate();
    let dir = org.org_dir();
    let private = [
        lab.dir.path().join("lab.json"),
        lab.dir.path().join("answers.toml"),
        dir.join("ConnectorSecrets.json"),
        dir.join("EngineState.json"),
        dir.join("Devices.json"),
        dir.join("EngineRunSyncState.json"),
        dir.join("SyncState.json"),
        dir.join("Logs").join("decisions.jsonl"),
        dir.join("Logs").join("eas-connector.log"),
    ];
    let mut open = Vec::new();
    for p in &private {
        let mode = std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            open.push(format!("{} {:o}", p.display(), mode & 0o777));
        }
    }
    assert_eq!(open, Vec::<String>::new(), "readable by others");
    // And the passwords are in the secrets file only: no log, state, status or lock file of
    // the organization holds one, in clear, base64 or UTF-16.
    for which in ["service", "notification"] {
        let pw = lab.s(&["accounts", which, "password"]);
        let leaking = files_holding(&dir, &pw);
        assert_eq!(
            leaking,
            vec![dir.join("ConnectorSecrets.json")],
            "the {which} password"
        );
    }
}

/// Files below `dir` holding `secret` in clear, in base64, or in UTF-16 (either byte order).
#[cfg(unix)]
fn files_holding(dir: &Path, secret: &str) -> Vec<PathBuf> {
    use base64::Engine as _;
    let forms: Vec<Vec<u8>> = vec![
        secret.as_bytes().to_vec(),
        base64::engine::general_purpose::STANDARD
            .encode(secret)
            .into_bytes(),
        secret.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        secret.encode_utf16().flat_map(u16::to_be_bytes).collect(),
    ];
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                if forms
                    .iter()
                    .any(|f| b.windows(f.len()).any(|w| w == f.as_slice()))
                {
                    hits.push(p);
                }
            }
        }
    }
    hits.sort();
    hits
}

/// A damaged `EngineRunSyncState.json` stops `engine run` with its place and the way out; it
/// is not silently replaced (which would turn the quick sync into a full one).
#[test]
fn a_damaged_run_sync_state_is_named_not_reset() {
    let lab = Lab::start(10, 0);
    let org = Org::for_lab(&lab);
    org.ok(&["engine", "run", "--full", "--dry-run"]);
    let state = org.org_dir().join("EngineRunSyncState.json");
    // Torn in the middle, as a disk-full or a copy cut short would leave it.
    let whole = std::fs::read_to_string(&state).unwrap();
    let damaged = &whole[..whole.len() / 2];
    std::fs::write(&state, damaged).unwrap();
    let out = org.run(&["engine", "run", "--quick", "--dry-run"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("EngineRunSyncState.json, line 1, column")
            && err.contains("damaged")
            && err.contains("left untouched"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&state).unwrap(), damaged);
}

/// The review before enforcing is the last full dry run: a quick dry run after it does not
/// replace it, so `enforce` still shows every decided device right before `--confirm`.
#[test]
fn a_quick_dry_run_keeps_the_full_review_for_enforce() {
    let lab = Lab::start(25, 0);
    let org = Org::for_lab(&lab);
    let before = org.ok(&["enforce"]);
    assert!(before.contains("No full dry run yet"), "{before}");
    let policy = org.ok(&["policy", "example"]);
    std::fs::write(org.org_dir().join("AccessPolicy.toml"), policy).unwrap();
    org.ok(&["engine", "run", "--full", "--dry-run"]);
    let full = org.ok(&["enforce"]);
    assert!(
        full.contains("Last full dry run: 25 devices decided"),
        "{full}"
    );
    let quick = org.ok(&["engine", "run", "--quick", "--dry-run"]);
    // The quick run itself decides only what changed (nothing here): had it replaced the
    // review, enforce would show its 0.
    assert!(quick.contains("decided 0 "), "{quick}");
    let after = org.ok(&["enforce"]);
    assert!(
        after.contains("Last full dry run: 25 devices decided"),
        "{after}"
    );
    // The log at the default level: each run's own summary line, and none of the
    // authentication library's internals (before: 27 of 38 lines for one run).
    let log =
        std::fs::read_to_string(org.org_dir().join("Logs").join("eas-connector.log")).unwrap();
    assert_eq!(log.matches("engine run finished").count(), 2, "{log}");
    assert!(log.contains("engine run finished kind=Full"), "{log}");
    assert!(!log.contains("initialize_security_context"), "{log}");
    assert!(
        log.lines().all(|l| l.contains(" eas_connector::")),
        "only our own lines at info:\n{log}"
    );
}

/// The admin's daily work against the lab: `devices` (before any sync, after a dry run, after
/// enforcing; filtered by state and user; `--org` with a typo), one-off overrides (set,
/// pre-registered, applied over the policy, cleared, expired and reported once), the
/// quarantine mail with a clickable enrollment link sent as the help desk's address, and
/// `Logs/decisions.jsonl` rotating while `report` reads every file.
#[test]
fn devices_overrides_enroll_link_and_decision_rotation() {
    let lab = Lab::start(30, 0);
    let org = Org::for_lab(&lab);
    let devices = |args: &[&str]| -> serde_json::Value {
        let mut a = vec!["devices", "--json"];
        a.extend_from_slice(args);
        serde_json::from_str(&org.ok(&a)).unwrap()
    };
    let text = org.ok(&["devices"]);
    assert!(text.contains("No device list yet"), "{text}");
    let typo = org
        .cmd(&["devices"])
        .args(["--org", "contso"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&typo.stderr);
    assert_eq!(typo.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no organization 'contso'") && err.contains(ORG),
        "{err}"
    );

    std::fs::write(
        org.org_dir().join("AccessPolicy.toml"),
        "default = \"Quarantine\"\n\
         [organization]\n\
         user_mail_insert = \"Questions: https://help.contoso.test/eas <b>now</b>\"\n\
         [notifications]\n\
         enroll_url = \"https://mdm.contoso.test/enroll?src=eas&lang=en\"\n\
         send_as = \"it-helpdesk@contoso.test\"\n\
         [audit]\n\
         log_unchanged = true\n\
         max_file_kb = 8\n\
         max_files = 3\n",
    )
    .unwrap();
    org.ok(&["engine", "run", "--full", "--dry-run"]);
    let listed = devices(&[]);
    let rows = listed["devices"].as_array().unwrap();
    assert_eq!(rows.len(), 30, "{listed:#}");
    assert!(rows.iter().all(|r| r["outcome"] != "applied"
        && r["action"] == "Quarantine"
        && r["source"] == "default"
        && r["exchange_state"].is_string()
        && r["exchange_reason"].is_string()
        && r["synced_at"].is_string()
        && r["conflict"].is_null()));
    let a = rows[0]["device_id"].as_str().unwrap().to_string();
    let b = rows[1]["device_id"].as_str().unwrap().to_string();
    let user = rows[0]["user"].as_str().unwrap().to_string();
    let mine = devices(&["--user", &user]);
    assert!(mine["devices"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["user"] == user.as_str()));

    // Overrides: a reason is required; an id no sync has seen is kept, and said so.
    let no_reason = org.run(&["devices", "block", &a]);
    assert_eq!(no_reason.status.code(), Some(2));
    org.ok(&[
        "devices",
        "block",
        &a,
        "--reason",
        "reported stolen",
        "--until",
        "7d",
    ]);
    let pre = org.ok(&[
        "devices",
        "allow",
        "NOTSEENYET01",
        "--reason",
        "CEO's new phone",
    ]);
    assert!(
        pre.contains("no sync has seen device NOTSEENYET01"),
        "{pre}"
    );
    let listed = devices(&[]);
    assert_eq!(listed["overrides_not_seen"][0]["device_id"], "NOTSEENYET01");
    assert_eq!(listed["overrides_not_seen"][0]["status"], "not-seen");

    // Enforcing: the override wins over the policy's Quarantine.
    org.ok(&["enforce", "--confirm"]);
    org.ok(&["engine", "run", "--quick"]);
    let blocked = devices(&["--state", "blocked"]);
    let blocked = blocked["devices"].as_array().unwrap();
    assert_eq!(blocked.len(), 1, "{blocked:#?}");
    assert_eq!(blocked[0]["device_id"], a.as_str());
    assert_eq!(blocked[0]["source"], "override");
    assert_eq!(blocked[0]["exchange_reason"], "Individual");
    assert_eq!(blocked[0]["override"]["status"], "in-force");
    assert_eq!(blocked[0]["reason"], "reported stolen");
    assert_eq!(
        blocked[0]["override"]["until"].as_str().map(str::len),
        Some(20)
    );
    let table = org.ok(&["devices", "--state", "blocked"]);
    assert!(
        table.contains("DEVICE ID") && table.contains(&a) && table.contains("override"),
        "{table}"
    );

    // The quarantine mail: HTML, sent as the help desk, with real links.
    let mut mails: Vec<serde_json::Value> = std::fs::read_dir(lab.dir.path().join("outbox"))
        .unwrap()
        .flatten()
        .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
        .collect();
    mails.sort_by_key(|m| m["id"].as_u64());
    let quarantined = mails
        .iter()
        .find(|m| {
            m["subject"]
                .as_str()
                .unwrap()
                .contains("waiting for approval")
        })
        .unwrap_or_else(|| panic!("no quarantine mail in {mails:#?}"));
    assert_eq!(quarantined["body_type"], "HTML");
    assert_eq!(quarantined["from"], "it-helpdesk@contoso.test");
    let body = quarantined["body"].as_str().unwrap();
    assert!(
        body.contains("<a href=\"https://mdm.contoso.test/enroll?src=eas&amp;lang=en\">"),
        "{body}"
    );
    assert!(
        body.contains("<a href=\"https://help.contoso.test/eas\">https://help.contoso.test/eas</a> &lt;b&gt;now&lt;/b&gt;"),
        "{body}"
    );

    // Cleared: the policy decides again; clearing twice says there is none.
    org.ok(&["devices", "clear", &a]);
    let again = org.run(&["devices", "clear", &a]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("has no override"));
    // An override whose time has passed (its file edited as time would) is ignored by the
    // next sync, taken out and reported once.
    org.ok(&[
        "devices",
        "block",
        &b,
        "--reason",
        "until Friday",
        "--until",
        "1h",
    ]);
    let path = org.org_dir().join("DeviceOverrides.json");
    let mut o: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    o["devices"][b.to_ascii_lowercase()]["until"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&path, serde_json::to_vec(&o).unwrap()).unwrap();
    let run: serde_json::Value =
        serde_json::from_str(&org.ok(&["engine", "run", "--quick", "--json"])).unwrap();
    assert_eq!(
        run["kind"], "full",
        "a cleared or expired override forces a full sync"
    );
    assert_eq!(run["access"]["overrides_expired"], serde_json::json!([b]));
    org.ok(&["engine", "run", "--quick"]);
    let listed = devices(&[]);
    let row = |id: &str| {
        listed["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["device_id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(row(&a)["action"], "Quarantine");
    assert_eq!(row(&b)["action"], "Quarantine");
    assert_eq!(row(&b)["exchange_state"], "Quarantined");

    // The audit trail rotated (8 KB files, 3 kept) and the report reads every file.
    let logs = org.org_dir().join("Logs");
    assert!(logs.join("decisions.jsonl.1").exists());
    assert!(
        !logs.join("decisions.jsonl.3").exists(),
        "3 files kept in all"
    );
    let live_lines = std::fs::read_to_string(logs.join("decisions.jsonl"))
        .unwrap()
        .lines()
        .count();
    let report: serde_json::Value =
        serde_json::from_str(&org.ok(&["report", "--since", "1h", "--json"])).unwrap();
    assert!(
        report["decisions"].as_u64().unwrap() as usize > live_lines,
        "{report:#}"
    );
    assert_eq!(report["files"][2], "decisions.jsonl");
    assert_eq!(report["unreadable_lines"], 0);
    let events: Vec<(String, String)> = report["override_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_string(),
                e["device_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // The events of the first files may have rotated away; those kept are in order, and the
    // expiry is there exactly once.
    assert_eq!(
        events.iter().filter(|(e, _)| e == "expired").count(),
        1,
        "{events:?}"
    );
    assert_eq!(
        events.last().map(|(e, d)| (e.as_str(), d.as_str())),
        Some(("expired", b.as_str()))
    );
}
