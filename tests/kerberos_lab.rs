//! Kerberos against a default Exchange, for real: a real MIT KDC (tests/support/kdc.rs) issues
//! the tickets, the lab runs as its own process with `--auth-profile exchange-default` (so
//! `faketime` can skew its clock), and the connector's own binary configures, validates and
//! syncs. Each error a real site meets is provoked for real and must come out named, with its
//! fix. Required when `EAS_TEST_PEERS=1` (scripts/test installs the KDC), skipped otherwise.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use eas_connector::lab::LabInfo;
use support::kdc::{RealmSpec, TestRealm};

const REALM: &str = "EAS.TEST";

/// The lab as its own process, stopped on drop.
struct LabProc {
    child: Child,
    info: LabInfo,
    state: PathBuf,
}

impl Drop for LabProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A realm with `HTTP/localhost`, and a lab using its keytab (under `faketime` when `skew`
/// is given), whose accounts are then made users of the realm with the lab's passwords.
fn realm_and_lab(
    dir: &Path,
    devices: u32,
    extra: &[&str],
    skew: Option<&str>,
) -> Option<(TestRealm, LabProc)> {
    let realm = TestRealm::start(&RealmSpec {
        realm: REALM,
        users: &[],
        services: &["HTTP/localhost"],
        max_life_secs: None,
    })?;
    let lab = start_lab(&realm, dir, devices, extra, skew)?;
    for a in [
        &lab.info.accounts.service,
        &lab.info.accounts.notification,
        &lab.info.accounts.limited,
    ] {
        let alias = a.user.rsplit('\\').next().unwrap();
        realm.add_user(alias, &a.password);
    }
    Some((realm, lab))
}

fn start_lab(
    realm: &TestRealm,
    dir: &Path,
    devices: u32,
    extra: &[&str],
    skew: Option<&str>,
) -> Option<LabProc> {
    let state = dir.join("lab");
    let exe = env!("CARGO_BIN_EXE_eas-connector");
    let mut cmd = match skew {
        Some(offset) => {
            let faketime = support::peer_program("faketime", "faketime")?;
            let mut c = Command::new(faketime);
            c.args(["-f", offset, exe]);
            c
        }
        None => Command::new(exe),
    };
    let kdc = realm.kdc_address();
    cmd.args([
        "lab",
        "--auth-profile",
        "exchange-default",
        "--realm",
        REALM,
    ])
    .arg("--keytab")
    .arg(&realm.keytab)
    .args(["--kdc", &kdc, "--devices", &devices.to_string()])
    .arg("--state-dir")
    .arg(&state)
    .args(extra)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let child = cmd.spawn().unwrap();
    let json = state.join("lab.json");
    let started = Instant::now();
    while !json.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the lab did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let info: LabInfo = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    Some(LabProc { child, info, state })
}

fn cli(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eas-connector"))
        .arg("--config-dir")
        .arg(root)
        .args(["--org", "lab"])
        .args(args)
        .env("EAS_CONNECTOR_SECRET_STORE", "file")
        .env_remove("EAS_CONNECTOR_CONFIG_DIR")
        .env_remove("EAS_CONNECTOR_ORG")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `configure --answers` with the lab's answers (Microsoft's http://<fqdn>/PowerShell/).
fn configure(root: &Path, lab: &LabProc) {
    let answers = lab.state.join("answers.toml");
    let out = cli(
        root,
        &[
            "configure",
            "--no-service",
            "--answers",
            answers.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
}

fn set(root: &Path, field: &str, value: &str) {
    let out = cli(root, &["config", "set", field, value]);
    assert!(out.status.success(), "{field}: {}", text(&out));
}

/// `config set-password service-account`, the password on stdin.
fn set_service_password(root: &Path, password: &str) {
    use std::io::Write;
    let mut p = Command::new(env!("CARGO_BIN_EXE_eas-connector"))
        .arg("--config-dir")
        .arg(root)
        .args([
            "--org",
            "lab",
            "config",
            "set-password",
            "service-account",
            "--stdin",
        ])
        .env("EAS_CONNECTOR_SECRET_STORE", "file")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(p.stdin.take().unwrap(), "{password}").unwrap();
    assert!(p.wait().unwrap().success());
}

/// `validate`: its output, and whether it passed.
fn validate(root: &Path) -> (bool, String) {
    let out = cli(root, &["validate"]);
    (out.status.success(), text(&out))
}

#[test]
fn kerberos_over_http_and_https_validates_and_syncs_ten_thousand_devices() {
    let dir = tempfile::tempdir().unwrap();
    let Some((realm, lab)) = realm_and_lab(dir.path(), 10_000, &[], None) else {
        return;
    };
    let root = dir.path().join("cfg");
    configure(&root, &lab);
    let xml = std::fs::read_to_string(root.join("lab/ConnectorServiceConfiguration.xml")).unwrap();
    assert!(xml.contains("/PowerShell/</ClientAccessServer>"), "{xml}");
    assert!(xml.contains("<Realm>EAS.TEST</Realm>"), "{xml}");
    let http = lab.info.servers[0].http_url.clone().unwrap();
    assert!(
        xml.contains(&format!("<ClientAccessServer>{http}/PowerShell/")),
        "{xml}"
    );

    // Microsoft's documented connection: http://, Kerberos, sealed.
    let (ok, out) = validate(&root);
    assert!(ok, "{out}");
    assert!(
        out.contains("LAB\\svc-eas signed in with Kerberos"),
        "{out}"
    );
    assert!(out.contains("(messages sealed)"), "{out}");
    // EWS signs in with Kerberos inside Negotiate, bound to the certificate (EP "Allow").
    assert!(
        out.contains("LAB\\eas-notify signed in with Kerberos (Negotiate)"),
        "{out}"
    );

    // A full sync of every device, through the sealed http:// connection.
    let out = cli(&root, &["engine", "run", "--full"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("10000"), "{}", text(&out));

    // The same over HTTPS.
    set(
        &root,
        "ClientAccessServer",
        &format!("{}/PowerShell/", lab.info.servers[0].url),
    );
    let (ok, out) = validate(&root);
    assert!(ok, "{out}");
    assert!(
        out.contains("LAB\\svc-eas signed in with Kerberos"),
        "{out}"
    );
    // Each CLI run is a new process, so each made its own AS exchange; tickets were
    // reused within each.
    assert!(realm.tgts_issued() >= 3, "{}", realm.log());
}

#[test]
fn ntlm_against_a_kerberos_only_directory_is_refused_naming_kerberos() {
    let dir = tempfile::tempdir().unwrap();
    let Some((realm, lab)) = realm_and_lab(dir.path(), 20, &[], None) else {
        return;
    };
    let root = dir.path().join("cfg");
    configure(&root, &lab);
    // NTLM only: the directory offers Negotiate and Kerberos.
    set(&root, "AuthenticationMethod", "Ntlm");
    let (ok, out) = validate(&root);
    assert!(!ok, "{out}");
    assert!(out.contains("does not accept NTLM"), "{out}");
    assert!(out.contains("Auto or Kerberos"), "{out}");
    let lower = out.to_lowercase();
    for weaken in [
        "enable ntlm",
        "enable basic",
        "enable windows",
        "authentication $true",
    ] {
        assert!(
            !lower.contains(weaken),
            "never ask to weaken the server: {out}"
        );
    }
    // Auto, but no KDC: NTLM inside Negotiate is tried and refused, and the message says
    // the server takes Kerberos only and why Kerberos could not be used.
    set(&root, "AuthenticationMethod", "Auto");
    set(
        &root,
        "Kerberos/KdcAddress",
        &format!("127.0.0.1:{}", support::free_port()),
    );
    let (ok, out) = validate(&root);
    assert!(!ok, "{out}");
    assert!(out.contains("accepts Kerberos only"), "{out}");
    assert!(out.contains("no domain controller (KDC)"), "{out}");
    assert!(out.contains("port 88"), "{out}");
    drop(realm);
}

/// Each failure a site meets, provoked for real: named, with its fix, and never retried in a
/// way that would lock the account out.
#[test]
fn every_kerberos_failure_is_named_with_its_fix() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut realm, lab)) = realm_and_lab(dir.path(), 20, &[], None) else {
        return;
    };
    let root = dir.path().join("cfg");
    configure(&root, &lab);
    set(&root, "AuthenticationMethod", "Kerberos");
    let (ok, out) = validate(&root);
    assert!(ok, "{out}");

    // No KDC reachable.
    realm.stop();
    let (ok, out) = validate(&root);
    assert!(!ok);
    assert!(
        out.contains("no domain controller (KDC) for realm EAS.TEST answered"),
        "{out}"
    );
    assert!(out.contains("refused the connection"), "{out}");
    assert!(out.contains("Kerberos/KdcAddress"), "{out}");
    realm.restart();

    // Unknown SPN.
    set(
        &root,
        "Kerberos/ServicePrincipalName",
        "HTTP/nosuch.eas.test",
    );
    let (ok, out) = validate(&root);
    assert!(!ok);
    assert!(
        out.contains("knows no service principal name HTTP/nosuch.eas.test"),
        "{out}"
    );
    assert!(out.contains("setspn -Q"), "{out}");
    // An SPN of another account: the server cannot read the ticket.
    realm.add_service("HTTP/other.eas.test");
    set(
        &root,
        "Kerberos/ServicePrincipalName",
        "HTTP/other.eas.test",
    );
    let (ok, out) = validate(&root);
    assert!(!ok);
    assert!(
        out.contains("not encrypted with a key the server has"),
        "{out}"
    );
    set(&root, "Kerberos/ServicePrincipalName", "");

    // Wrong password: one failed pre-authentication, not one per server or retry.
    let before = realm.log().matches("PREAUTH_FAILED").count();
    set_service_password(&root, "Not-The-Password-1");
    let (ok, out) = validate(&root);
    assert!(!ok);
    assert!(
        out.contains("refused the password for svc-eas@EAS.TEST"),
        "{out}"
    );
    assert!(out.contains("set-password"), "{out}");
    assert!(!out.contains("Not-The-Password-1"));
    let after = realm.log().matches("PREAUTH_FAILED").count();
    assert_eq!(after - before, 1, "one try only:\n{}", realm.log());

    // Expired password (must change at next logon).
    let pw = lab.info.accounts.service.password.clone();
    set_service_password(&root, &pw);
    realm.kadmin("modprinc +needchange svc-eas");
    let (ok, out) = validate(&root);
    assert!(!ok);
    assert!(out.contains("password has expired"), "{out}");
    realm.kadmin("modprinc -needchange svc-eas");

    // Locked out: a policy that locks after one failure, one wrong password by someone else.
    realm.kadmin("addpol -maxfailure 1 -lockoutduration \"1 hour\" lockout");
    realm.kadmin("modprinc -policy lockout svc-eas");
    let cc = dir.path().join("cc");
    assert!(realm.try_kinit("svc-eas", "wrong", &cc).is_err());
    let (ok, out) = validate(&root);
    assert!(!ok);
    assert!(
        out.contains("locked out") || out.contains("revoked the account's credentials"),
        "{out}"
    );
    assert!(out.contains("Active Directory"), "{out}");
    realm.kadmin("modprinc -unlock svc-eas");
    let (ok, out) = validate(&root);
    assert!(ok, "{out}");
}

#[test]
fn a_skewed_exchange_clock_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_realm, lab)) = realm_and_lab(dir.path(), 20, &[], Some("+10m")) else {
        return;
    };
    let root = dir.path().join("cfg");
    // configure validates, and must refuse too; write the configuration without it.
    let answers = lab.state.join("answers.toml");
    let out = cli(
        &root,
        &[
            "configure",
            "--no-service",
            "--answers",
            answers.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("KRB_AP_ERR_SKEW"), "{}", text(&out));
    let out = cli(
        &root,
        &[
            "configure",
            "--no-service",
            "--skip-validation",
            "--answers",
            answers.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let (ok, out) = validate(&root);
    assert!(!ok, "{out}");
    assert!(out.contains("KRB_AP_ERR_SKEW"), "{out}");
    assert!(out.contains("about 10 minutes"), "{out}");
    assert!(out.contains("w32tm /resync"), "{out}");
}

/// Extended Protection "Require" on every HTTPS endpoint: our Kerberos and NTLM sign-ins carry
/// the certificate's binding and pass; through a load balancer that re-encrypts with another
/// certificate (socat with its own certificate) they are refused with the named cause.
#[test]
fn extended_protection_require_and_a_reencrypting_load_balancer() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_realm, lab)) =
        realm_and_lab(dir.path(), 20, &["--extended-protection", "require"], None)
    else {
        return;
    };
    let Some(socat) = support::peer_program("socat", "socat") else {
        return;
    };
    let root = dir.path().join("cfg");
    configure(&root, &lab);
    set(
        &root,
        "ClientAccessServer",
        &format!("{}/PowerShell/", lab.info.servers[0].url),
    );
    let (ok, out) = validate(&root);
    assert!(ok, "{out}");
    assert!(out.contains("signed in with Kerberos"), "{out}");

    // NTLM with the binding passes EWS's "Require" too (EWS offers Negotiate and NTLM).
    // (Kerberos is what Auto picks; NTLM is checked in tests/kerberos_peers.rs against
    // pyspnego's acceptor.)

    // The load balancer: TLS terminated with a certificate from the same CA for localhost,
    // re-encrypted to the lab.
    let (ca, ca_file) = support::ca_in(dir.path());
    let lb_cert = ca.issue(&support::loopback_leaf()).unwrap();
    let (cert, key) = support::kdc::write_pem(&lb_cert, dir.path(), "lb");
    let port = support::free_port();
    let lab_port = lab.info.servers[0].address.rsplit(':').next().unwrap();
    let mut lb = Command::new(socat)
        .arg(format!(
            "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={},key={},verify=0",
            cert.display(),
            key.display()
        ))
        .arg(format!("OPENSSL:127.0.0.1:{lab_port},verify=0"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "socat did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    set(
        &root,
        "ClientAccessServer",
        &format!("https://localhost:{port}/PowerShell/"),
    );
    set(&root, "TrustedCaFile", ca_file.to_str().unwrap());
    let (ok, out) = validate(&root);
    let _ = lb.kill();
    let _ = lb.wait();
    assert!(!ok, "{out}");
    assert!(out.contains("Extended Protection"), "{out}");
    assert!(out.contains("ChannelBinding = Off"), "{out}");
    assert!(
        out.contains("subject"),
        "the certificate it got is named: {out}"
    );
}

/// No KdcAddress: the KDC is found through DNS SRV `_kerberos._tcp.<realm>` (dnsmasq serves
/// the record on loopback; EAS_CONNECTOR_DNS_SERVER points the connector at it), and without
/// the record the error says what was tried.
#[test]
fn the_kdc_is_found_through_dns_srv() {
    let dir = tempfile::tempdir().unwrap();
    let Some((realm, lab)) = realm_and_lab(dir.path(), 20, &[], None) else {
        return;
    };
    let Some(dnsmasq) = support::peer_program("dnsmasq", "dnsmasq-base") else {
        return;
    };
    let root = dir.path().join("cfg");
    configure(&root, &lab);
    set(&root, "AuthenticationMethod", "Kerberos");
    set(&root, "Kerberos/KdcAddress", "");
    let port = support::free_port();
    let mut dns = Command::new(dnsmasq)
        .args([
            "--no-daemon",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            &format!("--port={port}"),
            &format!(
                "--srv-host=_kerberos._tcp.eas.test,localhost,{}",
                realm.port
            ),
            &format!("--pid-file={}", dir.path().join("dnsmasq.pid").display()),
        ])
        .args(if running_as_root() {
            &["--user=root"][..]
        } else {
            &[][..]
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "dnsmasq did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let validate_with_dns = |dns: Option<u16>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_eas-connector"));
        c.arg("--config-dir")
            .arg(&root)
            .args(["--org", "lab", "validate"])
            .env("EAS_CONNECTOR_SECRET_STORE", "file");
        match dns {
            Some(p) => c.env("EAS_CONNECTOR_DNS_SERVER", format!("127.0.0.1:{p}")),
            None => c.env_remove("EAS_CONNECTOR_DNS_SERVER"),
        };
        let out = c.output().unwrap();
        (out.status.success(), text(&out))
    };
    let (ok, out) = validate_with_dns(Some(port));
    let _ = dns.kill();
    let _ = dns.wait();
    assert!(ok, "{out}");
    assert!(out.contains("signed in with Kerberos"), "{out}");
    // Without the record: the realm's own name is tried, and named.
    let (ok, out) = validate_with_dns(None);
    assert!(!ok, "{out}");
    assert!(out.contains("the realm's own DNS name"), "{out}");
    assert!(out.contains("eas.test:88"), "{out}");
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
