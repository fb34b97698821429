//! Where the real `eas-connector` keeps passwords on Linux, with the real `systemd-creds`:
//! no password in any file after configure, set-password and a sync with a registered service;
//! migration from an old plaintext file, also when killed at random points; and a Secret
//! Service that is slow or gone never replaced by the file. CI runs as root (systemd
//! credentials need it); elsewhere the root-only tests say SKIPPED.
#![cfg(target_os = "linux")]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

const BIN: &str = env!("CARGO_BIN_EXE_eas-connector");
const KEYS: [&str; 3] = ["service-account", "notification-account", "proxy"];

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Root and systemd-creds are there; in CI (EAS_TEST_PEERS=1) they must be.
fn systemd_creds_usable() -> bool {
    let ok = is_root()
        && Command::new("systemd-creds")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("EAS_TEST_PEERS").as_deref() != Ok("1"),
            "root and systemd-creds (Debian package systemd) are required"
        );
        eprintln!("SKIPPED: needs root and systemd-creds");
    }
    ok
}

struct Env {
    dir: tempfile::TempDir,
    org: String,
}

impl Env {
    fn new(org: &str) -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            org: org.into(),
        }
    }
    fn base(&self) -> &Path {
        self.dir.path()
    }
    fn root(&self) -> PathBuf {
        self.base().join("config")
    }
    fn org_dir(&self) -> PathBuf {
        self.root().join(&self.org)
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--config-dir")
            .arg(self.root())
            .arg("--org")
            .arg(&self.org)
            .args(args)
            .env_remove("EAS_CONNECTOR_CONFIG_DIR")
            .env_remove("EAS_CONNECTOR_ORG")
            .env_remove("EAS_CONNECTOR_SECRET_STORE")
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        c
    }
    fn run_with(&self, args: &[&str], envs: &[(&str, &str)], stdin: &str) -> Output {
        let mut c = self.cmd(args);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            c.env(k, v);
        }
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
    /// A complete configuration, without any password.
    fn complete(&self) {
        for (f, v) in [
            ("ClientAccessServer", "cas01.contoso.com"),
            ("ServiceAccount/User", "CONTOSO\\svc-eas"),
            ("NotificationAccount/User", "CONTOSO\\eas-notify"),
            ("NotificationAccount/Mailbox", "eas-notify@contoso.com"),
        ] {
            ok(&self.run_with(&["config", "set", f, v], &[], ""));
        }
    }
    /// What an earlier version left: a plaintext ConnectorSecrets.json, mode 0600.
    fn old_plaintext_file(&self, passwords: &[(&str, &str)]) {
        use std::os::unix::fs::PermissionsExt;
        let map: serde_json::Map<String, serde_json::Value> = passwords
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        let path = self.org_dir().join("ConnectorSecrets.json");
        fs::write(&path, serde_json::to_vec(&map).unwrap()).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    }
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every form a password could leak in: clear, base64 (at each of the three alignments it
/// can have inside a longer encoding), UTF-16 (LE and BE).
fn leak_patterns(pw: &str) -> Vec<(String, Vec<u8>)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut v = vec![("clear".to_string(), pw.as_bytes().to_vec())];
    for pad in 0..3usize {
        let mut bytes = vec![b'x'; pad];
        bytes.extend(pw.as_bytes());
        let enc = b64.encode(&bytes);
        // Drop the characters that depend on the neighbours.
        let start = (pad * 4).div_ceil(3) + 1;
        let end = enc.trim_end_matches('=').len().saturating_sub(2);
        v.push((format!("base64/{pad}"), enc.as_bytes()[start..end].to_vec()));
    }
    let le: Vec<u8> = pw.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    let be: Vec<u8> = pw.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
    v.push(("utf-16le".into(), le));
    v.push(("utf-16be".into(), be));
    v
}

/// Files under `dirs` holding `pw` in any of [`leak_patterns`]: (file, form).
fn leaks(dirs: &[PathBuf], pw: &str) -> Vec<(PathBuf, String)> {
    let patterns = leak_patterns(pw);
    let mut hits = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    let mut files = 0;
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(m) = fs::symlink_metadata(&p) else {
                continue;
            };
            if m.is_dir() {
                stack.push(p);
            } else if m.is_file() {
                files += 1;
                let bytes = fs::read(&p).unwrap_or_default();
                for (form, pat) in &patterns {
                    if bytes.windows(pat.len()).any(|w| w == pat.as_slice()) {
                        hits.push((p.clone(), form.clone()));
                    }
                }
            }
        }
    }
    assert!(files > 0, "nothing was searched in {dirs:?}");
    hits
}

#[test]
fn leak_patterns_find_a_password_in_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let pw = "Leak-Me-Pl3ase!";
    let b64 = base64::engine::general_purpose::STANDARD;
    for (i, bytes) in [
        format!("a{pw}b").into_bytes(),
        b64.encode(format!("{{\"p\":\"{pw}\"}}")).into_bytes(),
        b64.encode(format!("xy{pw}")).into_bytes(),
        b64.encode(format!("z{pw}")).into_bytes(),
        pw.encode_utf16().flat_map(|u| u.to_le_bytes()).collect(),
        pw.encode_utf16().flat_map(|u| u.to_be_bytes()).collect(),
    ]
    .into_iter()
    .enumerate()
    {
        fs::write(dir.path().join(format!("f{i}")), bytes).unwrap();
    }
    fs::write(dir.path().join("clean"), "nothing here").unwrap();
    let mut hit_files: Vec<PathBuf> = leaks(&[dir.path().to_path_buf()], pw)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    hit_files.sort();
    hit_files.dedup();
    assert_eq!(hit_files.len(), 6, "{hit_files:?}");
}

/// Decrypt a credential as systemd does for `LoadCredentialEncrypted=ID:PATH`.
fn systemd_creds_decrypt(id: &str, path: &Path) -> String {
    String::from_utf8(systemd_creds_decrypt_bytes(id, path)).unwrap()
}

/// [`systemd_creds_decrypt`] of key material (the cloud certificate and key are DER).
fn systemd_creds_decrypt_bytes(id: &str, path: &Path) -> Vec<u8> {
    let out = Command::new("systemd-creds")
        .arg("decrypt")
        .arg(format!("--name={id}"))
        .arg(path)
        .arg("-")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    out.stdout
}

/// Each password, read as `auto` would (`config show --json` says stored; the values through
/// the real systemd-creds or the plaintext file, whichever `SecretStore.txt` names).
fn stored_values(env: &Env) -> Vec<(String, Option<String>)> {
    let store = fs::read_to_string(env.org_dir().join("SecretStore.txt")).ok();
    let file: Option<serde_json::Value> = fs::read(env.org_dir().join("ConnectorSecrets.json"))
        .ok()
        .map(|b| serde_json::from_slice(&b).unwrap());
    KEYS.iter()
        .map(|k| {
            let value = match store.as_deref().map(str::trim) {
                Some("systemd") => {
                    let p = env.org_dir().join("Credentials").join(format!("{k}.cred"));
                    p.is_file().then(|| systemd_creds_decrypt(k, &p))
                }
                Some("file") | None => file.as_ref().and_then(|f| f[*k].as_str().map(String::from)),
                Some(other) => panic!("unexpected store {other}"),
            };
            (k.to_string(), value)
        })
        .collect()
}

#[test]
fn migration_from_an_old_plaintext_file_to_systemd_credentials() {
    if !systemd_creds_usable() {
        return;
    }
    let env = Env::new("contoso");
    env.complete();
    let pws = [
        ("service-account", "Mig-Svc-4410!"),
        ("notification-account", "Mig-Ntf-4411!"),
        ("proxy", "Mig-Prx-4412!"),
    ];
    env.old_plaintext_file(&pws);
    // Until it is moved, the old file stays in use, with a warning on every command.
    let show = ok(&env.run_with(&["config", "show"], &[], ""));
    assert!(
        show.contains("WARNING")
            && show.contains("UNENCRYPTED")
            && show.contains("migrate-secrets"),
        "{show}"
    );
    let o = env.run_with(&["config", "migrate-secrets", "--to", "systemd"], &[], "");
    let out = ok(&o);
    assert!(out.contains("now in systemd credentials"), "{out}");
    assert!(!env.org_dir().join("ConnectorSecrets.json").exists());
    for (k, pw) in pws {
        let cred = env.org_dir().join("Credentials").join(format!("{k}.cred"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&cred).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(systemd_creds_decrypt(k, &cred), pw);
        assert!(leaks(&[env.base().to_path_buf()], pw).is_empty());
        assert!(!text(&o).contains(pw));
    }
    let show = ok(&env.run_with(&["config", "show"], &[], ""));
    assert!(
        show.contains("Passwords are kept in: systemd credentials") && !show.contains("WARNING"),
        "{show}"
    );
    assert_eq!(
        show.matches("  stored — systemd credential").count(),
        2,
        "{show}"
    );
    // Again: nothing to move, nothing lost.
    ok(&env.run_with(&["config", "migrate-secrets", "--to", "systemd"], &[], ""));
    let values: Vec<Option<String>> = stored_values(&env).into_iter().map(|(_, v)| v).collect();
    assert_eq!(
        values,
        pws.iter()
            .map(|(_, p)| Some(p.to_string()))
            .collect::<Vec<_>>()
    );
}

/// `config migrate-secrets` killed with SIGKILL at pseudo-random points, 50 trials: after each
/// kill every password is still readable where `auto` looks, and a second run finishes the move.
#[test]
fn an_interrupted_migration_loses_nothing() {
    if !systemd_creds_usable() {
        return;
    }
    let pws = [
        ("service-account", "Kill-Svc-7001!"),
        ("notification-account", "Kill-Ntf-7002!"),
        ("proxy", "Kill-Prx-7003!"),
    ];
    let want: Vec<(String, Option<String>)> = pws
        .iter()
        .map(|(k, p)| (k.to_string(), Some(p.to_string())))
        .collect();
    // One uninterrupted run, to spread the kill points over its length.
    let env = Env::new("contoso");
    env.complete();
    env.old_plaintext_file(&pws);
    let t = Instant::now();
    ok(&env.run_with(&["config", "migrate-secrets", "--to", "systemd"], &[], ""));
    let whole = t.elapsed().as_micros().max(1000) as u64;
    let mut seed = 0x5eed_u64;
    let (mut interrupted, mut finished) = (0, 0);
    for trial in 0..50 {
        let env = Env::new("contoso");
        env.complete();
        env.old_plaintext_file(&pws);
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let at = (seed >> 33) % (whole * 5 / 4);
        let mut child = env
            .cmd(&["config", "migrate-secrets", "--to", "systemd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(at));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        if status.success() {
            finished += 1;
        } else {
            interrupted += 1;
        }
        assert_eq!(
            stored_values(&env),
            want,
            "trial {trial}, killed after {at} µs"
        );
        ok(&env.run_with(&["config", "migrate-secrets", "--to", "systemd"], &[], ""));
        assert!(
            !env.org_dir().join("ConnectorSecrets.json").exists(),
            "trial {trial}"
        );
        assert_eq!(
            fs::read_to_string(env.org_dir().join("SecretStore.txt")).unwrap(),
            "systemd\n"
        );
        assert_eq!(
            stored_values(&env),
            want,
            "trial {trial}, after the second run"
        );
    }
    eprintln!("{interrupted}/50 migrations were killed before they finished, {finished} finished");
    assert_eq!(interrupted + finished, 50);
    assert!(interrupted > 0, "no kill landed inside a migration");
}

/// A socket that plays a D-Bus session bus which never answers (`hang`), or that hangs up at
/// once (a Secret Service gone for the moment).
fn fake_bus(path: &Path, hang: bool) {
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            if hang {
                held.push(s);
            } else {
                drop(s);
            }
        }
    });
}

/// An organization whose passwords are in the Secret Service: when it is slow or gone, every
/// command fails naming it, in 50 trials (25 of each), and nothing lands in a file.
#[test]
fn a_slow_or_absent_secret_service_is_an_error_never_the_file() {
    let env = Env::new("contoso");
    env.complete();
    fs::write(env.org_dir().join("SecretStore.txt"), "secret-service\n").unwrap();
    let slow = env.base().join("slow-bus");
    let gone = env.base().join("gone-bus");
    fake_bus(&slow, true);
    fake_bus(&gone, false);
    let pw = "NoFallback-55!";
    let mut refused = 0;
    for trial in 0..50 {
        let bus = if trial % 2 == 0 { &slow } else { &gone };
        let addr = format!("unix:path={}", bus.display());
        // Explicitly chosen, and as recorded (auto), by turns.
        let mut envs = vec![
            ("DBUS_SESSION_BUS_ADDRESS", addr.as_str()),
            ("EAS_CONNECTOR_SECRET_PROBE_MS", "20"),
        ];
        if trial % 4 < 2 {
            envs.push(("EAS_CONNECTOR_SECRET_STORE", "secret-service"));
        }
        let o = env.run_with(
            &["config", "set-password", "service-account"],
            &envs,
            &format!("{pw}\n"),
        );
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "trial {trial}: {t}");
        assert!(
            t.contains("Secret Service")
                && t.contains("(3 tries)")
                && t.contains("nothing was switched"),
            "trial {trial}: {t}"
        );
        assert!(!t.contains(pw));
        assert!(
            !env.org_dir().join("ConnectorSecrets.json").exists(),
            "trial {trial}"
        );
        assert!(!env.org_dir().join("Credentials").exists(), "trial {trial}");
        assert_eq!(
            fs::read_to_string(env.org_dir().join("SecretStore.txt")).unwrap(),
            "secret-service\n"
        );
        refused += 1;
    }
    assert_eq!(refused, 50);
    assert!(leaks(&[env.base().to_path_buf()], pw).is_empty());
}

struct Lab {
    child: std::process::Child,
    dir: PathBuf,
    info: serde_json::Value,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Lab {
    fn start(dir: PathBuf) -> Lab {
        let child = Command::new(BIN)
            .args(["lab", "--servers", "1", "--devices", "20", "--state-dir"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lab_json = dir.join("lab.json");
        let deadline = Instant::now() + Duration::from_secs(60);
        let info = loop {
            if let Ok(b) = fs::read(&lab_json) {
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&b) {
                    break v;
                }
            }
            assert!(Instant::now() < deadline, "lab did not write lab.json");
            std::thread::sleep(Duration::from_millis(20));
        };
        Lab { child, dir, info }
    }
}

/// As root with a service registered (a stand-in systemctl, a test unit folder): after
/// configure, reconfigure, set-password and syncs (the service reading what systemd would
/// load with the unit's `LoadCredentialEncrypted=` lines, and a root `engine run` decrypting
/// itself), no password is in any file under the config root, the unit folder or TMPDIR.
#[test]
fn with_a_registered_service_no_password_is_in_any_file() {
    if !systemd_creds_usable() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new("contoso");
    let base = env.base().to_path_buf();
    let units = base.join("units");
    let tmp = base.join("tmp");
    fs::create_dir_all(&tmp).unwrap();
    let lab = Lab::start(base.join("lab"));
    let service_pw = lab.info["accounts"]["service"]["password"]
        .as_str()
        .unwrap()
        .to_string();
    let proxy_pw = "Prx-Only-Here-9931!";
    let systemctl = base.join("systemctl");
    fs::write(
        &systemctl,
        "#!/bin/sh\n[ \"$1\" = show ] && printf 'LoadState=loaded\\nActiveState=active\\n'\nexit 0\n",
    )
    .unwrap();
    fs::set_permissions(&systemctl, fs::Permissions::from_mode(0o755)).unwrap();
    let (units_s, sys_s, tmp_s) = (
        units.display().to_string(),
        systemctl.display().to_string(),
        tmp.display().to_string(),
    );
    let envs = [
        ("EAS_CONNECTOR_SYSTEMD_UNIT_DIR", units_s.as_str()),
        ("EAS_CONNECTOR_SYSTEMCTL", sys_s.as_str()),
        ("TMPDIR", tmp_s.as_str()),
    ];
    let answers = lab.dir.join("answers.toml");
    let answers = answers.to_str().unwrap();
    let out = ok(&env.run_with(&["configure", "--answers", answers], &envs, ""));
    assert!(out.contains("systemd credentials"), "{out}");
    // Reconfigure, then a proxy password (its own, used nowhere else) and the service
    // account's again.
    ok(&env.run_with(&["configure", "--answers", answers], &envs, ""));
    ok(&env.run_with(&["config", "set", "Proxy/Enabled", "false"], &envs, ""));
    let o = env.run_with(
        &["config", "set-password", "proxy"],
        &envs,
        &format!("{proxy_pw}\n"),
    );
    let out = ok(&o);
    assert!(
        out.contains("loads its credentials when it starts"),
        "{out}"
    );
    ok(&env.run_with(
        &["config", "set-password", "service-account"],
        &envs,
        &format!("{service_pw}\n"),
    ));
    // The unit loads exactly the stored credentials; decrypt them as systemd would, into a
    // folder outside everything searched (systemd uses /run/credentials/<unit>).
    let conf = fs::read_to_string(
        units
            .join("eas-connector@contoso.service.d")
            .join("credentials.conf"),
    )
    .unwrap();
    let loaded = base.join("run-credentials");
    fs::create_dir_all(&loaded).unwrap();
    let mut ids = Vec::new();
    for line in conf.lines() {
        if let Some(spec) = line.strip_prefix("LoadCredentialEncrypted=") {
            let (id, path) = spec.split_once(':').unwrap();
            fs::write(
                loaded.join(id),
                systemd_creds_decrypt_bytes(id, Path::new(path)),
            )
            .unwrap();
            ids.push(id.to_string());
        }
    }
    // The lab's answers import its cloud app's certificate too: the unit loads it as well.
    let mut expected: Vec<&str> = KEYS.to_vec();
    expected.extend(["cloud-certificate", "cloud-private-key"]);
    assert_eq!(ids, expected, "{conf}");
    // The unit file passes systemd-analyze verify with those lines.
    let instance = units.join("eas-connector@contoso.service");
    std::os::unix::fs::symlink(units.join("eas-connector@.service"), &instance).unwrap();
    let verify = Command::new("systemd-analyze")
        .env("SYSTEMD_LOG_LEVEL", "notice")
        .args(["verify", "--man=no"])
        .arg(&instance)
        .output()
        .unwrap();
    let verr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success() && !verr.contains("eas-connector@"),
        "{verr}"
    );
    fs::remove_file(&instance).unwrap();
    // The service as systemd starts it: it reads $CREDENTIALS_DIRECTORY (systemd-creds is
    // made unusable, so it cannot have decrypted anything itself), and a full sync passes.
    let loaded_s = loaded.display().to_string();
    let mut service = env
        .cmd(&["run"])
        .env("EAS_CONNECTOR_SYSTEMD_UNIT_DIR", &units)
        .env("EAS_CONNECTOR_SYSTEMCTL", &systemctl)
        .env("TMPDIR", &tmp)
        .env("CREDENTIALS_DIRECTORY", &loaded_s)
        .env("EAS_CONNECTOR_SYSTEMD_CREDS", base.join("no-systemd-creds"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let synced = loop {
        let o = env.run_with(&["sync", "--full"], &envs, "");
        if o.status.success() {
            break String::from_utf8_lossy(&o.stdout).into_owned();
        }
        assert!(Instant::now() < deadline, "no sync: {}", text(&o));
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(synced.contains("full sync done: 20 device(s)"), "{synced}");
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(service.id().to_string())
        .status();
    let _ = service.wait();
    // A root command decrypts for itself.
    let run = ok(&env.run_with(&["engine", "run", "--full", "--dry-run"], &envs, ""));
    assert!(!run.is_empty());
    fs::remove_dir_all(&loaded).unwrap();
    for pw in [service_pw.as_str(), proxy_pw] {
        let hits = leaks(&[env.root(), units.clone(), tmp.clone()], pw);
        assert!(hits.is_empty(), "{hits:?}");
    }
    for k in KEYS {
        let cred = env.org_dir().join("Credentials").join(format!("{k}.cred"));
        assert_eq!(
            fs::metadata(&cred).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

/// The real Secret Service (gnome-keyring in scripts/test's D-Bus session): the old file moves
/// into it, then from it into systemd credentials; each time the old copy is gone afterwards
/// (`secret-tool`, libsecret's own client, looks) and every password reads back.
#[test]
fn migration_into_and_out_of_the_secret_service() {
    if std::env::var("EAS_TEST_SECRET_SERVICE").as_deref() != Ok("1") {
        eprintln!("SKIPPED: set EAS_TEST_SECRET_SERVICE=1 inside a Secret Service session (scripts/test does)");
        return;
    }
    if !systemd_creds_usable() {
        return;
    }
    let org = format!("migss-{}", std::process::id());
    let env = Env::new(&org);
    env.complete();
    let pws = [
        ("service-account", "SS-Svc-3301!"),
        ("notification-account", "SS-Ntf-3302!"),
    ];
    env.old_plaintext_file(&pws);
    let lookup = |key: &str| {
        let o = Command::new("secret-tool")
            .args(["lookup", "service", "EAS Connector", "username"])
            .arg(format!("{org}/{key}"))
            .output()
            .expect("secret-tool (libsecret-tools) must be installed");
        String::from_utf8_lossy(&o.stdout).trim_end().to_string()
    };
    let out = ok(&env.run_with(
        &["config", "migrate-secrets", "--to", "secret-service"],
        &[],
        "",
    ));
    assert!(out.contains("now in Secret Service"), "{out}");
    assert!(!env.org_dir().join("ConnectorSecrets.json").exists());
    for (k, pw) in pws {
        assert_eq!(lookup(k), pw);
    }
    // auto (root) keeps the recorded store: the Secret Service, not systemd.
    let show = ok(&env.run_with(&["config", "show"], &[], ""));
    assert!(
        show.contains("Passwords are kept in: Secret Service"),
        "{show}"
    );
    assert_eq!(
        show.matches("  stored — Secret Service").count(),
        2,
        "{show}"
    );

    let out = ok(&env.run_with(&["config", "migrate-secrets", "--to", "systemd"], &[], ""));
    assert!(
        out.contains("removed the old copies from Secret Service"),
        "{out}"
    );
    for (k, pw) in pws {
        assert_eq!(lookup(k), "", "{k} left in the Secret Service");
        let cred = env.org_dir().join("Credentials").join(format!("{k}.cred"));
        assert_eq!(systemd_creds_decrypt(k, &cred), pw);
        assert!(leaks(&[env.base().to_path_buf()], pw).is_empty());
    }
}

/// The same binary as an unprivileged user (uid 65534, through `setpriv`), in a folder that
/// user owns. Without any session bus: the file, with a warning from `set-password`,
/// `config show`, `validate` and in the log on every command. With a session bus whose Secret
/// Service does not answer: an error naming it, and no file.
#[test]
fn as_a_non_root_user_the_file_only_without_any_secret_service_and_announced_every_time() {
    use std::os::unix::fs::PermissionsExt;
    let setpriv = Path::new("/usr/bin/setpriv");
    if !is_root() || !setpriv.is_file() {
        assert!(
            std::env::var("EAS_TEST_PEERS").as_deref() != Ok("1"),
            "root and setpriv (util-linux) are required"
        );
        eprintln!("SKIPPED: needs root and setpriv to run as another user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::os::unix::fs::chown(base, Some(65534), Some(65534)).unwrap();
    let bus = base.join("bus");
    fake_bus(&bus, true);
    fs::set_permissions(&bus, fs::Permissions::from_mode(0o777)).unwrap();
    let pw = "NonRoot-File-2290!";
    let run = |args: &[&str], bus_addr: Option<&str>, stdin: &str| -> Output {
        let mut c = Command::new(setpriv);
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
            .arg("--config-dir")
            .arg(base.join("config"))
            .args(["--org", "contoso"])
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", base)
            .env("EAS_CONNECTOR_SYSTEMD_UNIT_DIR", base.join("units"))
            .env("EAS_CONNECTOR_SECRET_PROBE_MS", "50")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(a) = bus_addr {
            c.env("DBUS_SESSION_BUS_ADDRESS", a);
        }
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    for (f, v) in [
        ("ClientAccessServer", "127.0.0.1"),
        ("ServiceAccount/User", "CONTOSO\\svc-eas"),
        ("NotificationAccount/User", "CONTOSO\\eas-notify"),
        ("NotificationAccount/Mailbox", "eas-notify@contoso.test"),
    ] {
        ok(&run(&["config", "set", f, v], None, ""));
    }
    let org_dir = base.join("config").join("contoso");
    // A session bus whose Secret Service never answers: refused, nothing written.
    let addr = format!("unix:path={}", bus.display());
    let o = run(
        &["config", "set-password", "service-account"],
        Some(&addr),
        &format!("{pw}\n"),
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("Secret Service") && t.contains("nothing was switched"),
        "{t}"
    );
    assert!(!org_dir.join("ConnectorSecrets.json").exists());
    // No session bus at all: the file, said every time.
    let o = run(
        &["config", "set-password", "service-account"],
        None,
        &format!("{pw}\n"),
    );
    let t = text(&o);
    ok(&o);
    assert!(
        t.contains("UNENCRYPTED") && t.contains("no Secret Service"),
        "{t}"
    );
    let file = org_dir.join("ConnectorSecrets.json");
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let show = ok(&run(&["config", "show"], None, ""));
    assert!(
        show.contains("WARNING: passwords are kept UNENCRYPTED")
            && show.contains("migrate-secrets"),
        "{show}"
    );
    let v = run(&["validate", "--timeout", "1"], None, "");
    assert!(
        String::from_utf8_lossy(&v.stderr).contains("warning: passwords are kept UNENCRYPTED"),
        "{}",
        text(&v)
    );
    let log = fs::read_to_string(org_dir.join("Logs").join("eas-connector.log")).unwrap();
    assert!(
        log.matches("passwords are kept UNENCRYPTED").count() >= 3,
        "set-password, config show and validate each log it:\n{log}"
    );
    assert!(!log.contains(pw));
    // Once recorded, the file stays the store even when a Secret Service appears: no
    // silent move either way (config show says where, and how to move).
    let show = ok(&run(&["config", "show"], Some(&addr), ""));
    assert!(show.contains("Passwords are kept in: file"), "{show}");
}

/// The cloud app's certificate and key go into the store as DER bytes (`cloud
/// set-certificate`), never into the configuration or any other file, survive a migration to
/// the Secret Service and back (keyring's secret API, byte for byte), and `cloud show` reads
/// them; the client secret is a password like the others.
#[test]
fn the_cloud_certificate_is_stored_as_bytes_and_migrates_between_stores() {
    if !systemd_creds_usable() {
        return;
    }
    let org = format!("cloudss-{}", std::process::id());
    let env = Env::new(&org);
    env.complete();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["eas-connector-app".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let input = tempfile::tempdir().unwrap();
    let pem = input.path().join("app.pem");
    fs::write(&pem, format!("{}{}", cert.pem(), key.serialize_pem())).unwrap();
    let der = key.serialize_der();
    // A run of the key's bytes (as text for the leak patterns: base64 of the tail).
    let tail = base64::engine::general_purpose::STANDARD.encode(&der[der.len() - 48..]);
    let systemd = [("EAS_CONNECTOR_SECRET_STORE", "systemd")];
    let out = ok(&env.run_with(
        &["cloud", "set-certificate", pem.to_str().unwrap()],
        &systemd,
        "",
    ));
    assert!(out.contains("imported certificate"), "{out}");
    let cred = env
        .org_dir()
        .join("Credentials")
        .join("cloud-private-key.cred");
    assert!(cred.is_file());
    let xml = fs::read_to_string(env.org_dir().join("ConnectorServiceConfiguration.xml")).unwrap();
    assert!(
        xml.contains("<Credential>Certificate</Credential>"),
        "{xml}"
    );
    assert!(xml.contains("<CertificateThumbprint>"), "{xml}");
    let hits: Vec<_> = leaks(&[env.org_dir()], &tail);
    assert!(hits.is_empty(), "{hits:?}");
    let raw = |path: &Path| fs::read(path).unwrap();
    for p in [
        env.org_dir().join("ConnectorServiceConfiguration.xml"),
        cred.clone(),
    ] {
        let bytes = raw(&p);
        assert!(
            !bytes.windows(48).any(|w| w == &der[der.len() - 48..]),
            "{}",
            p.display()
        );
    }
    let show = ok(&env.run_with(&["cloud", "show"], &systemd, ""));
    assert!(
        show.contains("(CN=rcgen self signed cert, valid until"),
        "{show}"
    );
    assert!(!show.contains(&tail));

    if std::env::var("EAS_TEST_SECRET_SERVICE").as_deref() != Ok("1") {
        eprintln!("SKIPPED (the Secret Service part): set EAS_TEST_SECRET_SERVICE=1 inside a Secret Service session (scripts/test does)");
        return;
    }
    ok(&env.run_with(
        &["config", "migrate-secrets", "--to", "secret-service"],
        &[],
        "",
    ));
    assert!(!cred.exists());
    let o = Command::new("secret-tool")
        .args(["lookup", "service", "EAS Connector", "username"])
        .arg(format!("{org}/cloud-private-key"))
        .output()
        .expect("secret-tool (libsecret-tools) must be installed");
    assert_eq!(o.stdout, der, "the key is kept as its DER bytes");
    let show = ok(&env.run_with(&["cloud", "show"], &[], ""));
    assert!(
        show.contains("(CN=rcgen self signed cert, valid until"),
        "{show}"
    );
    ok(&env.run_with(&["config", "migrate-secrets", "--to", "systemd"], &[], ""));
    assert!(cred.is_file());
    let show = ok(&env.run_with(&["cloud", "show"], &systemd, ""));
    assert!(
        show.contains("(CN=rcgen self signed cert, valid until"),
        "{show}"
    );
    assert!(leaks(&[env.org_dir()], &tail).is_empty());
}
