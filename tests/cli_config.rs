//! The real `eas-connector` binary, run in temporary folders: configuration files, checks,
//! crash safety, and where passwords end up (Secret Service, fallback file, nowhere else).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use std::io::Write;

const PASSWORD: &str = "Pa55-w0rd!TestSecret#7781";

struct Env {
    dir: tempfile::TempDir,
    org: String,
}

impl Env {
    fn new(org: &str) -> Self {
        Env {
            dir: tempfile::tempdir().unwrap(),
            org: org.to_string(),
        }
    }
    fn root(&self) -> &Path {
        self.dir.path()
    }
    fn org_dir(&self) -> PathBuf {
        self.root().join(&self.org)
    }
    fn config(&self) -> PathBuf {
        self.org_dir().join("ConnectorServiceConfiguration.xml")
    }
    fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_eas-connector"));
        c.arg("--config-dir")
            .arg(self.root())
            .arg("--org")
            .arg(&self.org)
            .env_remove("EAS_CONNECTOR_CONFIG_DIR")
            .env_remove("EAS_CONNECTOR_ORG")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }
    fn run_with(&self, args: &[&str], envs: &[(&str, &str)], stdin: &str) -> Output {
        let mut c = self.cmd();
        c.args(args)
            .stdin(Stdio::piped())
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

/// Every file below `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if fs::read(&p)
                .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
                .unwrap_or(false)
            {
                hits.push(p);
            }
        }
    }
    hits
}

fn complete(env: &Env) {
    for (f, v) in [
        ("ClientAccessServer", "cas01.contoso.com"),
        ("ServiceAccount/User", "CONTOSO\\svc-eas"),
        ("NotificationAccount/User", "CONTOSO\\eas-notify"),
        ("NotificationAccount/Mailbox", "eas-notify@contoso.com"),
    ] {
        ok(&env.run(&["config", "set", f, v]));
    }
}

#[test]
fn path_names_the_org_folder() {
    let env = Env::new("fabrikam");
    let out = ok(&env.run(&["config", "path"]));
    assert!(out.contains(&env.config().display().to_string()), "{out}");
    assert!(
        out.contains(&env.org_dir().join("Logs").display().to_string()),
        "{out}"
    );
}

#[test]
fn set_creates_a_complete_valid_file_and_check_passes() {
    let env = Env::new("default");
    let o = env.run(&["config", "check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("no configuration for organization 'default'"),
        "{}",
        text(&o)
    );
    complete(&env);
    let out = ok(&env.run(&["config", "check"]));
    assert!(out.contains("valid and complete"), "{out}");
    // A config set is logged (field name only).
    let log = fs::read_to_string(env.org_dir().join("Logs").join("eas-connector.log")).unwrap();
    assert!(
        log.contains("configuration field changed") && log.contains("ClientAccessServer"),
        "{log}"
    );
}

#[test]
fn incomplete_config_check_names_fields_and_fails() {
    let env = Env::new("default");
    ok(&env.run(&["config", "set", "Proxy/Enabled", "true"]));
    let o = env.run(&["config", "check"]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(
        t.contains("<ClientAccessServer> is empty, but ExchangeServerType is OnPremises"),
        "{t}"
    );
    assert!(
        t.contains("<Proxy/Host> is empty, but Proxy/Enabled is true"),
        "{t}"
    );
}

#[test]
fn set_rejects_bad_values_and_leaves_the_file_alone() {
    let env = Env::new("default");
    complete(&env);
    let before = fs::read(env.config()).unwrap();
    for (field, value, expect) in [
        (
            "Proxy/Port",
            "70000",
            "Proxy/Port: 70000 is out of range; use 1-65535",
        ),
        ("ClientAccessServer", "cas01", "is not fully qualified"),
        ("ServiceAccount/User", "svc", "names no domain"),
        (
            "ExchangeWebServiceURL",
            "http://mail.contoso.com/EWS/Exchange.asmx",
            "must use https://",
        ),
        (
            "NoSuchField",
            "1",
            "is not a configuration field; the fields are:",
        ),
        ("Organization", "x", "managed by EAS Connector"),
    ] {
        let o = env.run(&["config", "set", field, value]);
        assert_eq!(o.status.code(), Some(1), "{field}");
        assert!(text(&o).contains(expect), "{field}: {}", text(&o));
    }
    assert_eq!(fs::read(env.config()).unwrap(), before);
}

#[test]
fn unknown_elements_survive_a_rewrite_in_place() {
    let env = Env::new("default");
    complete(&env);
    let original = fs::read_to_string(env.config()).unwrap();
    let hand_edited = original.replace(
        "  <ClientAccessServer>",
        "  <!-- added by the Exchange team -->\n  <ChangeTicket id=\"CHG0042\">approved</ChangeTicket>\n  <ClientAccessServer>",
    );
    assert_ne!(hand_edited, original);
    fs::write(env.config(), &hand_edited).unwrap();
    ok(&env.run(&["config", "set", "Proxy.Port", "3128"]));
    let rewritten = fs::read_to_string(env.config()).unwrap();
    assert_eq!(
        rewritten,
        hand_edited.replace("<Port>8080</Port>", "<Port>3128</Port>"),
        "only the changed value may differ"
    );
    assert_eq!(
        fs::read_to_string(env.org_dir().join("ConnectorServiceConfiguration.xml.bak")).unwrap(),
        hand_edited
    );
}

#[test]
fn malformed_file_is_reported_with_line_and_column_and_not_touched() {
    let env = Env::new("default");
    complete(&env);
    let good = fs::read_to_string(env.config()).unwrap();
    let broken = good.replace("<Port>8080</Port>", "<Port>8080</Prot>");
    fs::write(env.config(), &broken).unwrap();
    let line = broken.lines().position(|l| l.contains("</Prot>")).unwrap() + 1;
    let before_meta = fs::metadata(env.config()).unwrap().modified().unwrap();
    for args in [
        &["config", "check"][..],
        &["config", "show"],
        &["config", "set", "Proxy/Port", "1"],
    ] {
        let o = env.run(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let t = text(&o);
        assert!(t.contains(&format!("line {line}, column")), "{args:?}: {t}");
        assert!(
            t.contains("(inside <ConnectorServiceConfiguration/Proxy/Port>)"),
            "{args:?}: {t}"
        );
        assert!(t.contains("left untouched"), "{args:?}: {t}");
    }
    assert_eq!(fs::read_to_string(env.config()).unwrap(), broken);
    assert_eq!(
        fs::metadata(env.config()).unwrap().modified().unwrap(),
        before_meta
    );

    // A value error is located too, and a bad value in a well-formed file is not "fixed" silently.
    fs::write(
        env.config(),
        good.replace("<MaxParallelRunspaces>4<", "<MaxParallelRunspaces>400<"),
    )
    .unwrap();
    let o = env.run(&["config", "check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("<MaxParallelRunspaces> 400 is out of range; use 1-16"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_killed_writer_leaves_the_old_or_the_new_file_whole() {
    let env = Env::new("default");
    complete(&env);
    let mut seen_new = 0;
    let mut previous = 15;
    for i in 0..40u32 {
        let value = 5 + i;
        let mut child = env
            .cmd()
            .args([
                "config",
                "set",
                "QuickSyncIntervalMinutes",
                &value.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill at a different moment each round, from before start-up to after the write.
        std::thread::sleep(std::time::Duration::from_micros(u64::from(i) * 150));
        let _ = child.kill();
        let _ = child.wait();
        let o = env.run(&["config", "show", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|_| panic!("round {i}: config unreadable: {}", text(&o)));
        let got = v["config"]["QuickSyncIntervalMinutes"].as_u64().unwrap() as u32;
        assert!(
            got == value || got == previous,
            "round {i}: {got} is neither {previous} nor {value}"
        );
        if got == value {
            seen_new += 1;
        }
        previous = got;
    }
    let leftovers: Vec<_> = fs::read_dir(env.org_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    // An interrupted write may leave a temp file until the next write cleans it.
    assert!(leftovers.len() <= 2, "{leftovers:?}");
    eprintln!("{seen_new}/40 writes completed before the kill");
}

#[test]
fn fallback_file_holds_the_password_and_nothing_else_does() {
    let env = Env::new("default");
    complete(&env);
    let envs = [("EAS_CONNECTOR_SECRET_STORE", "file")];
    for account in ["service-account", "notification-account", "proxy"] {
        let o = env.run_with(
            &["-vvv", "config", "set-password", account],
            &envs,
            &format!("{PASSWORD}\n"),
        );
        let out = ok(&o);
        assert!(!text(&o).contains(PASSWORD));
        assert!(out.contains("ConnectorSecrets.json"), "{out}");
    }
    ok(&env.run(&["config", "set", "Proxy/Port", "3128"]));
    let show = env.run_with(&["-vvv", "config", "show"], &envs, "");
    let shown = ok(&show);
    assert!(!text(&show).contains(PASSWORD));
    assert!(
        shown.contains("service account password       stored"),
        "{shown}"
    );
    let secrets = env.org_dir().join("ConnectorSecrets.json");
    assert_eq!(
        files_containing(env.root(), PASSWORD),
        vec![secrets.clone()]
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&secrets).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    ok(&env.run_with(&["config", "clear-password", "proxy"], &envs, ""));
    let json = ok(&env.run_with(&["config", "show", "--json"], &envs, ""));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["secrets"]["proxy"]["state"], "not stored");
    assert_eq!(v["secrets"]["service-account"]["state"], "stored");
}

/// Without a Secret Service (no session bus): root gets systemd credentials, never the
/// file; anyone else gets the file, with a warning on every command and in the log.
#[cfg(target_os = "linux")]
#[test]
fn without_a_secret_service_root_uses_systemd_and_others_the_announced_file() {
    let env = Env::new("default");
    complete(&env);
    let no_bus = [
        ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus"),
        ("DISPLAY", ""),
    ];
    let o = env.run_with(
        &["config", "set-password", "service-account"],
        &no_bus,
        &format!("{PASSWORD}\n"),
    );
    let t = text(&o);
    ok(&o);
    let show = ok(&env.run_with(&["config", "show"], &no_bus, ""));
    let log = fs::read_to_string(env.org_dir().join("Logs").join("eas-connector.log")).unwrap();
    assert!(!log.contains(PASSWORD) && !show.contains(PASSWORD) && !t.contains(PASSWORD));
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if is_root {
        assert!(t.contains("systemd credential"), "{t}");
        assert!(
            show.contains("Passwords are kept in: systemd credentials")
                && !show.contains("WARNING"),
            "{show}"
        );
        assert!(!env.org_dir().join("ConnectorSecrets.json").exists());
        assert_eq!(
            fs::read_to_string(env.org_dir().join("SecretStore.txt")).unwrap(),
            "systemd\n"
        );
    } else {
        assert!(
            t.contains("UNENCRYPTED") && t.contains("no Secret Service"),
            "{t}"
        );
        assert!(
            show.contains("WARNING:") && show.contains("ConnectorSecrets.json"),
            "{show}"
        );
        assert!(log.contains("UNENCRYPTED"), "{log}");
    }
}

#[test]
fn empty_password_is_refused() {
    let env = Env::new("default");
    let o = env.run_with(
        &["config", "set-password", "proxy"],
        &[("EAS_CONNECTOR_SECRET_STORE", "file")],
        "\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("is empty; nothing was stored"),
        "{}",
        text(&o)
    );
}

/// The real Secret Service (gnome-keyring under dbus-run-session, started by scripts/test).
/// `secret-tool` (libsecret, not our code) reads back what we stored.
#[cfg(target_os = "linux")]
#[test]
fn secret_service_stores_passwords_outside_the_config_folder() {
    if std::env::var("EAS_TEST_SECRET_SERVICE").as_deref() != Ok("1") {
        eprintln!("SKIPPED: set EAS_TEST_SECRET_SERVICE=1 inside a Secret Service session (scripts/test does)");
        return;
    }
    let org = format!("sstest-{}", std::process::id());
    let env = Env::new(&org);
    complete(&env);
    let os = [("EAS_CONNECTOR_SECRET_STORE", "os")];
    let o = env.run_with(
        &["-vvv", "config", "set-password", "service-account"],
        &os,
        &format!("{PASSWORD}\n"),
    );
    let out = ok(&o);
    assert!(out.contains("Secret Service"), "{out}");
    assert!(!text(&o).contains(PASSWORD));
    // Auto mode finds the vault too, with no fallback note.
    let show = env.run(&["-vvv", "config", "show"]);
    let shown = ok(&show);
    assert!(!text(&show).contains(PASSWORD));
    assert!(
        shown.contains("Passwords are kept in: Secret Service"),
        "{shown}"
    );
    assert!(!shown.contains("WARNING:"), "{shown}");
    assert!(
        shown.contains("service account password       stored"),
        "{shown}"
    );

    let lookup = |user: &str| {
        Command::new("secret-tool")
            .args(["lookup", "service", "EAS Connector", "username", user])
            .output()
            .expect("secret-tool (libsecret-tools) must be installed")
    };
    let found = lookup(&format!("{org}/service-account"));
    assert_eq!(String::from_utf8_lossy(&found.stdout).trim_end(), PASSWORD);
    assert!(
        files_containing(env.root(), PASSWORD).is_empty(),
        "password leaked into the config folder"
    );
    assert!(!env.org_dir().join("ConnectorSecrets.json").exists());

    ok(&env.run_with(&["config", "clear-password", "service-account"], &os, ""));
    let gone = lookup(&format!("{org}/service-account"));
    assert!(String::from_utf8_lossy(&gone.stdout).trim().is_empty());
}

/// `cloud set-secret` (one line on stdin) stores the client secret in the store only and sets
/// Cloud/Credential; `cloud show` says where it is; `cloud set-certificate` with a PFX and its
/// password from an environment variable imports it, a wrong password is named and changes
/// nothing; neither the secret nor the PFX password is in any other file, log or output.
#[test]
fn cloud_set_secret_and_set_certificate_keep_the_credential_in_the_store_only() {
    let env = Env::new("default");
    complete(&env);
    ok(&env.run(&["config", "set", "Cloud/TenantId", "contoso.onmicrosoft.com"]));
    ok(&env.run(&[
        "config",
        "set",
        "Cloud/ApplicationId",
        "11111111-2222-3333-4444-555555555555",
    ]));
    let envs = [("EAS_CONNECTOR_SECRET_STORE", "file")];
    let secret = "Cl0ud~Secret.Value_7781";
    let o = env.run_with(
        &["-vvv", "cloud", "set-secret"],
        &envs,
        &format!("{secret}\n"),
    );
    assert!(ok(&o).contains("cloud-client-secret"), "{}", text(&o));
    assert!(!text(&o).contains(secret));
    assert!(fs::read_to_string(env.config())
        .unwrap()
        .contains("<Credential>Secret</Credential>"));
    let show = env.run_with(&["cloud", "show"], &envs, "");
    assert!(
        ok(&show).contains("client secret                stored"),
        "{}",
        text(&show)
    );
    let secrets = env.org_dir().join("ConnectorSecrets.json");
    assert_eq!(files_containing(env.root(), secret), vec![secrets.clone()]);

    // A PFX (written by p12-keystore, as Windows exports one), its password in a variable.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["app".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let mut ks = p12_keystore::KeyStore::new();
    ks.add_entry(
        "app",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(p12_keystore::PrivateKeyChain::new(
            vec![1u8; 20],
            p12_keystore::PrivateKey::from_der(&key.serialize_der()).unwrap(),
            [p12_keystore::Certificate::from_der(cert.der()).unwrap()],
        )),
    );
    let pfx_password = "Pfx-Pa55-7781";
    let input = tempfile::tempdir().unwrap();
    let pfx = input.path().join("app.pfx");
    fs::write(&pfx, ks.writer(pfx_password).write().unwrap()).unwrap();
    let wrong = env.run_with(
        &[
            "cloud",
            "set-certificate",
            pfx.to_str().unwrap(),
            "--password-env",
            "PFX_PW",
        ],
        &[("EAS_CONNECTOR_SECRET_STORE", "file"), ("PFX_PW", "nope")],
        "",
    );
    assert!(!wrong.status.success());
    assert!(
        text(&wrong).contains("password is wrong or missing"),
        "{}",
        text(&wrong)
    );
    let o = env.run_with(
        &[
            "-vvv",
            "cloud",
            "set-certificate",
            pfx.to_str().unwrap(),
            "--password-env",
            "PFX_PW",
        ],
        &[
            ("EAS_CONNECTOR_SECRET_STORE", "file"),
            ("PFX_PW", pfx_password),
        ],
        "",
    );
    let out = ok(&o);
    assert!(out.contains("imported certificate"), "{out}");
    assert!(!text(&o).contains(pfx_password));
    let xml = fs::read_to_string(env.config()).unwrap();
    assert!(
        xml.contains("<Credential>Certificate</Credential>"),
        "{xml}"
    );
    assert!(files_containing(env.root(), pfx_password).is_empty());
    let show = env.run_with(&["cloud", "show"], &envs, "");
    assert!(
        ok(&show).contains("(CN=rcgen self signed cert, valid until"),
        "{}",
        text(&show)
    );
}
