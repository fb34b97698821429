//! The connector's Kerberos and NTLM against peers that share none of its code, and
//! independent clients against the lab: a real MIT KDC (tests/support/kdc.rs); MIT's GSS-API
//! acceptor through pyspnego (`tests/peers/kerberos_server.py`), which verifies our channel
//! bindings and our message sealing; pyspnego's NTLM acceptor with channel bindings; pypsrp
//! with Kerberos (python-gssapi) reading every device from the exchange-default lab. Also the
//! ticket cache over 200 sign-ins, and a TGT renewed before it expires. Required when
//! `EAS_TEST_PEERS=1`, skipped otherwise.

mod support;

use std::path::Path;
use std::process::Command;

use bytes::Bytes;
use eas_connector::exchange::auth::kerberos::{KerberosError, KerberosOptions};
use eas_connector::exchange::client::{AuthMethod, Credentials, Mechanism, Session, SessionError};
use eas_connector::exchange::http::{ConnectOptions, Endpoint};
use eas_connector::lab::{AuthProfile, ExtendedProtectionMode, Lab, LabOptions};
use eas_connector::secrets::Secret;
use support::kdc::{write_pem, KerberosServer, RealmSpec, TestRealm};

const REALM: &str = "PEER.TEST";

fn options(realm: &TestRealm, ca: Option<&Path>, method: AuthMethod) -> ConnectOptions {
    let mut o = ConnectOptions::new(ca, None).unwrap();
    o.auth = method;
    o.kerberos = KerberosOptions {
        realm: Some(realm.realm.clone()),
        kdc: Some(realm.kdc_address()),
        spn: None,
        renew_before_expiry_secs: 300,
    };
    o
}

fn alice() -> Credentials {
    Credentials {
        user: "alice@peer.test".into(),
        password: Secret::new("Alice-Pa55!"),
    }
}

/// One request; the JSON the peer answered.
async fn call(s: &mut Session, body: &str) -> Result<serde_json::Value, SessionError> {
    let r = if body.is_empty() {
        s.request(hyper::Method::POST, "/wsman", None, Bytes::new())
            .await?
    } else {
        s.request_winrm("/wsman", Bytes::from(body.to_string()))
            .await?
    };
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    Ok(serde_json::from_slice(&r.body).unwrap())
}

struct Tls {
    _dir: tempfile::TempDir,
    ca: std::path::PathBuf,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    other: std::path::PathBuf,
}

fn tls() -> Tls {
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_file) = support::ca_in(dir.path());
    let (cert, key) = write_pem(
        &ca.issue(&support::loopback_leaf()).unwrap(),
        dir.path(),
        "srv",
    );
    let (other, _) = write_pem(
        &ca.issue(&support::loopback_leaf()).unwrap(),
        dir.path(),
        "other",
    );
    Tls {
        _dir: dir,
        ca: ca_file,
        cert,
        key,
        other,
    }
}

fn realm() -> Option<TestRealm> {
    TestRealm::start(&RealmSpec {
        realm: REALM,
        users: &[("alice", "Alice-Pa55!")],
        services: &["HTTP/localhost"],
        max_life_secs: None,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn our_kerberos_binds_to_the_certificate_and_mit_verifies_it() {
    let Some(realm) = realm() else { return };
    let t = tls();
    let (c, k) = (t.cert.to_str().unwrap(), t.key.to_str().unwrap());
    let Some(srv) = KerberosServer::start(&realm, &["--cert", c, "--key", k, "--require-bindings"])
    else {
        return;
    };
    let url = Endpoint::parse(&format!("https://localhost:{}/wsman", srv.port)).unwrap();
    // Bare Kerberos and Kerberos inside SPNEGO, both bound and verified by MIT.
    for (method, mech) in [
        (AuthMethod::Kerberos, Mechanism::Kerberos),
        (AuthMethod::Negotiate, Mechanism::NegotiateKerberos),
    ] {
        let mut s = Session::connect(url.clone(), options(&realm, Some(&t.ca), method), &alice());
        let v = call(&mut s, "").await.unwrap();
        assert_eq!(v["user"], "alice@PEER.TEST", "{v}");
        assert_eq!(v["channel_bound"], true, "{v}");
        assert_eq!(s.mechanism_used(), Some(mech));
    }
    // Without our binding (ChannelBinding = Off) the acceptor that requires one refuses.
    let mut o = options(&realm, Some(&t.ca), AuthMethod::Kerberos);
    o.channel_binding = false;
    let mut s = Session::connect(url.clone(), o, &alice());
    assert!(call(&mut s, "").await.is_err());
    assert!(srv.log().contains("not channel-bound"), "{}", srv.log());

    // An acceptor that expects another certificate's binding (a re-encrypting load
    // balancer): refused, and said so.
    let other = format!("other:{}", t.other.display());
    let Some(srv) = KerberosServer::start(&realm, &["--cert", c, "--key", k, "--bindings", &other])
    else {
        return;
    };
    let url = Endpoint::parse(&format!("https://localhost:{}/wsman", srv.port)).unwrap();
    let mut s = Session::connect(
        url,
        options(&realm, Some(&t.ca), AuthMethod::Kerberos),
        &alice(),
    );
    let e = call(&mut s, "").await.unwrap_err();
    assert!(
        matches!(
            e.kerberos(),
            Some(KerberosError::SignInRefused {
                bound_to: Some(_),
                ..
            })
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("ChannelBinding = Off"), "{e}");
    assert!(srv.log().contains("BadChannelBindings"), "{}", srv.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn our_kerberos_sealing_interoperates_with_mit() {
    let Some(realm) = realm() else { return };
    let Some(srv) = KerberosServer::start(&realm, &["--plain"]) else {
        return;
    };
    let url = Endpoint::parse(&format!("http://localhost:{}/wsman", srv.port)).unwrap();
    for method in [AuthMethod::Kerberos, AuthMethod::Negotiate] {
        let mut s = Session::connect(url.clone(), options(&realm, None, method), &alice());
        // Several messages on one connection: both sides' sequence numbers advance.
        for i in 0..5 {
            let body = format!(
                "<s:Envelope>message {i} {}</s:Envelope>",
                "x".repeat(i * 500)
            );
            let v = call(&mut s, &body).await.unwrap();
            assert_eq!(v["clear"], body, "{method:?}");
            assert_eq!(v["user"], "alice@PEER.TEST");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn our_ntlm_binds_to_the_certificate_and_pyspnego_verifies_it() {
    let Some(realm) = realm() else { return };
    let t = tls();
    let users = t.cert.parent().unwrap().join("ntlm-users.txt");
    std::fs::write(&users, "PEER:bob:Bob-Pa55!\n").unwrap();
    std::env::set_var("NTLM_USER_FILE", &users);
    let (c, k) = (t.cert.to_str().unwrap(), t.key.to_str().unwrap());
    let bob = Credentials {
        user: "PEER\\bob".into(),
        password: Secret::new("Bob-Pa55!"),
    };
    for (bindings, ok) in [
        ("own".to_string(), true),
        (format!("other:{}", t.other.display()), false),
    ] {
        let Some(srv) = KerberosServer::start(
            &realm,
            &[
                "--cert",
                c,
                "--key",
                k,
                "--schemes",
                "NTLM",
                "--bindings",
                &bindings,
            ],
        ) else {
            return;
        };
        let url = Endpoint::parse(&format!("https://localhost:{}/wsman", srv.port)).unwrap();
        let mut s = Session::connect(url, options(&realm, Some(&t.ca), AuthMethod::Ntlm), &bob);
        let r = call(&mut s, "").await;
        assert_eq!(r.is_ok(), ok, "bindings {bindings}: {r:?}\n{}", srv.log());
        if let Err(e) = r {
            // A refused NTLM sign-in over HTTPS mentions the binding as a possible cause.
            assert!(e.to_string().contains("ChannelBinding = Off"), "{e}");
        }
    }
    // pyspnego refuses NTLM without bindings when it has them (like "Require").
    let Some(srv) = KerberosServer::start(&realm, &["--cert", c, "--key", k, "--schemes", "NTLM"])
    else {
        return;
    };
    let url = Endpoint::parse(&format!("https://localhost:{}/wsman", srv.port)).unwrap();
    let mut o = options(&realm, Some(&t.ca), AuthMethod::Ntlm);
    o.channel_binding = false;
    let mut s = Session::connect(url, o, &bob);
    assert!(call(&mut s, "").await.is_err());
}

/// The exchange-default lab in this process, with the realm's keytab; its accounts become
/// users of the realm.
async fn start_lab(realm: &TestRealm, dir: &Path, devices: u32, ep: ExtendedProtectionMode) -> Lab {
    let lab = Lab::start(LabOptions {
        devices,
        state_dir: dir.to_path_buf(),
        auth_profile: AuthProfile::ExchangeDefault,
        keytab: Some(realm.keytab.clone()),
        realm: Some(realm.realm.clone()),
        kdc: Some(realm.kdc_address()),
        extended_protection: ep,
        ..LabOptions::default()
    })
    .await
    .unwrap();
    let info = lab.info().clone();
    for a in [
        &info.accounts.service,
        &info.accounts.notification,
        &info.accounts.limited,
    ] {
        realm.ensure_user(a.user.rsplit('\\').next().unwrap(), &a.password);
    }
    lab
}

fn pypsrp(realm: &TestRealm, state: &Path, devices: u32, extra: &[&str]) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pypsrp_lab.py");
    let out = Command::new(support::SYSTEM_PYTHON)
        .arg(script)
        .arg(state)
        .arg(devices.to_string())
        .args(["--auth", "kerberos"])
        .args(extra)
        .envs(realm.env())
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn pypsrp_with_kerberos_reads_every_device_from_the_lab() {
    let Some(realm) = TestRealm::start(&RealmSpec {
        realm: REALM,
        users: &[],
        services: &["HTTP/localhost"],
        max_life_secs: None,
    }) else {
        return;
    };
    if !support::system_python_module(
        "gssapi, krb5, spnego, pypsrp",
        "python3-gssapi, krb5, pyspnego, pypsrp",
    ) {
        return;
    }
    let realm = std::sync::Arc::new(realm);
    // Over https://, and over http:// with pypsrp's own Kerberos message encryption (each on
    // a fresh lab: the script blocks a device).
    for extra in [&[][..], &["--http"][..]] {
        let dir = tempfile::tempdir().unwrap();
        let lab = start_lab(
            &realm,
            dir.path(),
            300,
            ExtendedProtectionMode::ExchangeDefault,
        )
        .await;
        let state = lab.info().state_dir.clone();
        let (r, s) = (realm.clone(), state.clone());
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let (ok, out) = tokio::task::spawn_blocking(move || {
            let e: Vec<&str> = extra.iter().map(String::as_str).collect();
            pypsrp(&r, &s, 300, &e)
        })
        .await
        .unwrap();
        assert!(ok, "{out}");
        assert!(out.contains("\"devices\": 300"), "{out}");
    }

    // Extended Protection "Require": pypsrp without a channel binding token is refused, with
    // one accepted.
    for (extra, want) in [(vec!["--no-cbt"], false), (vec![], true)] {
        let dir = tempfile::tempdir().unwrap();
        let lab = start_lab(&realm, dir.path(), 30, ExtendedProtectionMode::Require).await;
        let state = lab.info().state_dir.clone();
        let (r, s) = (realm.clone(), state.clone());
        let (ok, out) = tokio::task::spawn_blocking(move || pypsrp(&r, &s, 30, &extra))
            .await
            .unwrap();
        assert_eq!(ok, want, "{out}");
    }
}

/// A realm whose tickets last `max_life_secs`, the exchange-default lab, the service
/// account's credentials and the lab's sealed http:// PowerShell endpoint.
async fn realm_lab_and_account(
    max_life_secs: Option<u32>,
) -> Option<(TestRealm, Lab, tempfile::TempDir, Credentials, Endpoint)> {
    let realm = TestRealm::start(&RealmSpec {
        realm: REALM,
        users: &[],
        services: &["HTTP/localhost"],
        max_life_secs,
    })?;
    let dir = tempfile::tempdir().unwrap();
    let lab = start_lab(
        &realm,
        dir.path(),
        10,
        ExtendedProtectionMode::ExchangeDefault,
    )
    .await;
    let info = lab.info().clone();
    let svc = Credentials {
        user: info.accounts.service.user.clone(),
        password: Secret::new(&info.accounts.service.password),
    };
    let http = Endpoint::parse(&format!(
        "{}/PowerShell/",
        info.servers[0].http_url.as_ref().unwrap()
    ))
    .unwrap();
    Some((realm, lab, dir, svc, http))
}

/// 200 sign-ins in a row, each on a new connection with a new authenticator: no failure, and
/// one AS exchange (the ticket cache) — then a TGT that expires during the run is replaced
/// before it does.
#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_sign_ins_and_a_renewed_ticket() {
    let Some((realm, lab, _dir, svc, http)) = realm_lab_and_account(None).await else {
        return;
    };
    let before = realm.tgts_issued();
    let mut failures = 0;
    for _ in 0..200 {
        let mut s = Session::connect(
            http.clone(),
            options(&realm, None, AuthMethod::Kerberos),
            &svc,
        );
        match s
            .request(hyper::Method::POST, &http.path, None, Bytes::new())
            .await
        {
            Ok(r) if r.status == 200 => {}
            other => {
                failures += 1;
                eprintln!("{other:?}");
            }
        }
    }
    assert_eq!(failures, 0);
    assert_eq!(
        realm.tgts_issued() - before,
        1,
        "one AS exchange for 200 sign-ins"
    );
    drop(lab);
    drop(realm);

    // Tickets for 12 s, renewed 8 s before they expire: over 15 sign-ins a second apart the
    // client fetches a new TGT at least every 4 s, and signs in past the first TGT's end.
    let Some((realm, _lab, _dir, svc, http)) = realm_lab_and_account(Some(12)).await else {
        return;
    };
    let mut o = options(&realm, None, AuthMethod::Kerberos);
    o.kerberos.renew_before_expiry_secs = 8;
    let before = realm.tgts_issued();
    for i in 0..15 {
        let mut s = Session::connect(http.clone(), o.clone(), &svc);
        let r = s
            .request(hyper::Method::POST, &http.path, None, Bytes::new())
            .await;
        assert!(matches!(&r, Ok(r) if r.status == 200), "sign-in {i}: {r:?}");
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    let renewed = realm.tgts_issued() - before;
    assert!(
        renewed >= 3,
        "{renewed} TGTs in 15 s of 12-s tickets:\n{}",
        realm.log()
    );
}
