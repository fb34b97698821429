//! The Kerberos test rig's own proof (`tests/support/kdc.rs`): a throwaway MIT realm starts
//! without root, MIT's own `kinit`/`klist` sign in against it, the KDC log counts the AS
//! exchanges, and the KDC can be stopped and started again on the same port; the independent
//! acceptor `tests/peers/kerberos_server.py` signs in a third client, curl's GSS-API
//! Negotiate, over HTTP and HTTPS. Required when
//! `EAS_TEST_PEERS=1` (scripts/test installs the krb5 packages), skipped with a note otherwise.

mod support;

use std::path::Path;
use std::process::Command;

use support::kdc::{write_pem, KerberosServer, RealmSpec, TestRealm};

const USER: &str = "alice";
const PASSWORD: &str = "Rig-Pass-1!";

fn realm(max_life_secs: Option<u32>) -> Option<TestRealm> {
    TestRealm::start(&RealmSpec {
        realm: "RIG.TEST",
        users: &[(USER, PASSWORD)],
        services: &["HTTP/localhost"],
        max_life_secs,
    })
}

#[test]
fn kinit_gets_a_tgt_and_the_log_counts_it() {
    let Some(realm) = realm(None) else { return };
    assert_eq!(realm.kdc_address(), format!("127.0.0.1:{}", realm.port));
    assert!(realm.keytab.is_file());
    let keys = realm.kadmin("getprinc HTTP/localhost");
    assert!(keys.contains("aes256-cts-hmac-sha1-96"), "{keys}");
    assert!(!keys.contains("arcfour"), "{keys}");
    let user = realm.kadmin(&format!("getprinc {USER}"));
    assert!(user.contains("REQUIRES_PRE_AUTH"), "{user}");

    let before = realm.as_requests();
    let cc = realm.dir.join("alice.ccache");
    realm.kinit(USER, PASSWORD, &cc);
    let list = realm.klist(&cc);
    assert!(list.contains("Default principal: alice@RIG.TEST"), "{list}");
    assert!(list.contains("krbtgt/RIG.TEST@RIG.TEST"), "{list}");
    // Pre-authentication: a first AS-REQ is answered "pre-authentication required".
    assert!(realm.as_requests() >= before + 2, "{}", realm.log());
    assert_eq!(realm.tgts_issued(), 1, "{}", realm.log());

    let wrong = realm
        .try_kinit(USER, "not-the-password", &realm.dir.join("wrong.ccache"))
        .unwrap_err();
    assert!(wrong.contains("Password incorrect"), "{wrong}");
    assert_eq!(realm.tgts_issued(), 1);
    assert!(realm.log().contains("PREAUTH_FAILED"));

    // A user added after the start (as a test does once the lab's passwords are known).
    realm.add_user("bob", "Bob Pass 2!");
    realm.kinit("bob@RIG.TEST", "Bob Pass 2!", &realm.dir.join("bob.ccache"));
    assert_eq!(realm.tgts_issued(), 2);
}

#[test]
fn max_life_caps_the_ticket() {
    let Some(realm) = realm(Some(120)) else {
        return;
    };
    let cc = realm.dir.join("short.ccache");
    realm.kinit(USER, PASSWORD, &cc);
    let line = realm
        .klist(&cc)
        .lines()
        .find(|l| l.contains("krbtgt/"))
        .unwrap()
        .to_string();
    // "12/04/26 16:54:53  12/04/26 16:56:53  krbtgt/..."
    let times: Vec<&str> = line.split_whitespace().take(4).collect();
    let secs = |t: &str| -> i64 {
        let p: Vec<i64> = t.split(':').map(|x| x.parse().unwrap()).collect();
        p[0] * 3600 + p[1] * 60 + p[2]
    };
    let life = (secs(times[3]) - secs(times[1])).rem_euclid(86_400);
    assert_eq!(life, 120, "{line}");
}

#[test]
fn stop_and_restart_keep_the_port_and_the_database() {
    let Some(mut realm) = realm(None) else { return };
    let port = realm.port;
    let cc = realm.dir.join("a.ccache");
    realm.stop();
    assert!(!realm.is_running());
    assert!(std::net::TcpStream::connect(realm.kdc_address()).is_err());
    let down = realm.try_kinit(USER, PASSWORD, &cc).unwrap_err();
    assert!(down.contains("Cannot contact any KDC"), "{down}");

    realm.restart();
    assert_eq!(realm.port, port);
    realm.kinit(USER, PASSWORD, &cc);
    assert!(realm.klist(&cc).contains("krbtgt/RIG.TEST@RIG.TEST"));
}

#[test]
fn the_env_lets_child_programs_use_the_realm() {
    let Some(realm) = realm(None) else { return };
    let env = realm.env();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(
        get("KRB5_CONFIG").unwrap(),
        realm.krb5_conf.display().to_string()
    );
    assert!(get("KRB5_KTNAME").unwrap().ends_with("service.keytab"));
    // klist -k reads the keytab named by KRB5_KTNAME.
    let out = std::process::Command::new("klist")
        .args(["-k", "-e"])
        .envs(env)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("HTTP/localhost@RIG.TEST (aes256-cts-hmac-sha1-96)"),
        "{text}"
    );
    assert!(
        text.contains("HTTP/localhost@RIG.TEST (aes128-cts-hmac-sha1-96)"),
        "{text}"
    );
}

/// `curl --negotiate` with the ticket in `ccache`: (HTTP status, body).
fn curl(realm: &TestRealm, url: &str, ccache: &Path, ca: Option<&Path>) -> (String, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--negotiate", "-u", ":", "-w", "\n%{http_code}", url])
        .envs(realm.env())
        .env("KRB5CCNAME", format!("FILE:{}", ccache.display()));
    if let Some(ca) = ca {
        cmd.arg("--cacert").arg(ca);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.to_string(), body.to_string())
}

#[test]
fn the_peer_acceptor_signs_in_curl_with_a_ticket() {
    let Some(realm) = realm(None) else { return };
    if support::peer_program("curl", "curl").is_none() {
        return;
    }
    let cc = realm.dir.join("alice.ccache");
    realm.kinit(USER, PASSWORD, &cc);
    let (ca, ca_file) = support::ca_in(&realm.dir);
    let leaf = ca.issue(&support::loopback_leaf()).unwrap();
    let (cert, key) = write_pem(&leaf, &realm.dir, "leaf");
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());

    let Some(plain) = KerberosServer::start(&realm, &["--plain"]) else {
        return;
    };
    let url = format!("http://localhost:{}/wsman", plain.port);
    let (status, body) = curl(&realm, &url, &cc, None);
    assert_eq!(status, "200", "{body}\n{}", plain.log());
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["user"], "alice@RIG.TEST");
    assert_eq!(answer["scheme"], "negotiate");
    assert!(
        plain.log().contains("accepted: alice@RIG.TEST"),
        "{}",
        plain.log()
    );

    // No ticket: refused with the schemes offered.
    let (status, _) = curl(&realm, &url, &realm.dir.join("empty.ccache"), None);
    assert_eq!(status, "401");

    let tls = KerberosServer::start(&realm, &["--cert", cert, "--key", key]).unwrap();
    let url = format!("https://localhost:{}/wsman", tls.port);
    let (status, body) = curl(&realm, &url, &cc, Some(&ca_file));
    assert_eq!(status, "200", "{body}\n{}", tls.log());
    assert!(body.contains("alice@RIG.TEST"), "{body}");
    // A service ticket for HTTP/localhost was asked for.
    assert!(realm.tgs_requests() >= 1, "{}", realm.log());
}
