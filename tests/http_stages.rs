//! The HTTP connection layer against real peers: TLS servers with good and bad certificates
//! (made with rcgen), a plain-HTTP server on an HTTPS port, a closed port, an unresolvable
//! name, a real tinyproxy with Basic authentication, and a real squid that demands NTLM or
//! Negotiate (Kerberos, with a throwaway MIT realm). Each failure must name its stage.

mod support;

use bytes::Bytes;
use eas_connector::exchange::http::{
    forward_probe, AuthMethod, ConnectOptions, Connection, Endpoint, HttpError, ProxyConfig,
    TlsFailure,
};
use eas_connector::lab::tls::LeafSpec;
use eas_connector::secrets::Secret;
use http_body_util::Full;
use support::*;
use time::{Duration, OffsetDateTime};

fn get(path: &str) -> hyper::Request<Full<Bytes>> {
    hyper::Request::get(path)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

async fn fetch(url: &str, opts: &ConnectOptions) -> Result<u16, HttpError> {
    let ep = Endpoint::parse(url)?;
    let mut c = Connection::open(&ep, opts).await?;
    Ok(c.send(get(&ep.path)).await?.status)
}

fn tls_failure(r: Result<u16, HttpError>) -> (TlsFailure, String) {
    match r {
        Err(e @ HttpError::Tls { .. }) => {
            let text = e.to_string();
            let HttpError::Tls { failure, .. } = e else {
                unreachable!()
            };
            (failure, text)
        }
        other => panic!("expected a TLS failure, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_trust_name_and_dates_are_each_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_file) = ca_in(dir.path());
    let trusted = ConnectOptions::new(Some(&ca_file), None).unwrap();
    let untrusted = ConnectOptions::new(None, None).unwrap();

    let good = tls_server(ca.issue(&loopback_leaf()).unwrap());
    let url = format!("https://127.0.0.1:{}/", good.addr.port());
    assert_eq!(fetch(&url, &trusted).await.unwrap(), 200);
    let (f, text) = tls_failure(fetch(&url, &untrusted).await);
    assert_eq!(f, TlsFailure::UnknownIssuer, "{text}");
    assert!(
        text.contains("add the issuing CA to TrustedCaFile"),
        "{text}"
    );

    let wrong_name = tls_server(
        ca.issue(&LeafSpec::valid_for(&["mail.fabrikam.test"]))
            .unwrap(),
    );
    let (f, text) = tls_failure(
        fetch(
            &format!("https://127.0.0.1:{}/", wrong_name.addr.port()),
            &trusted,
        )
        .await,
    );
    assert_eq!(f, TlsFailure::NameMismatch, "{text}");

    let now = OffsetDateTime::now_utc();
    let mut expired = loopback_leaf();
    expired.not_before = now - Duration::days(400);
    expired.not_after = now - Duration::days(30);
    let expired = tls_server(ca.issue(&expired).unwrap());
    let (f, text) = tls_failure(
        fetch(
            &format!("https://127.0.0.1:{}/", expired.addr.port()),
            &trusted,
        )
        .await,
    );
    assert_eq!(f, TlsFailure::Expired, "{text}");
    assert!(text.contains("renew it"), "{text}");

    let mut self_signed = loopback_leaf();
    self_signed.self_signed = true;
    let self_signed = tls_server(ca.issue(&self_signed).unwrap());
    let (f, _) = tls_failure(
        fetch(
            &format!("https://127.0.0.1:{}/", self_signed.addr.port()),
            &trusted,
        )
        .await,
    );
    assert_eq!(f, TlsFailure::UnknownIssuer);

    let plain = plain_server();
    let (f, text) = tls_failure(
        fetch(
            &format!("https://127.0.0.1:{}/", plain.addr.port()),
            &trusted,
        )
        .await,
    );
    assert_eq!(f, TlsFailure::NotTls, "{text}");
    assert!(text.contains("plain HTTP on an HTTPS port"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dns_and_closed_ports_are_named() {
    let opts = ConnectOptions::new(None, None).unwrap();
    let e = fetch("https://no-such-host.invalid/", &opts)
        .await
        .unwrap_err();
    assert!(matches!(e, HttpError::Dns { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("'no-such-host.invalid' could not be resolved"),
        "{e}"
    );
    // A port bound but never listening: refused, and no other test's server can take it
    // meanwhile (a port merely found free once could be, as a parallel test's listener did).
    let closed = tokio::net::TcpSocket::new_v4().unwrap();
    closed.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = closed.local_addr().unwrap().port();
    let e = fetch(&format!("https://127.0.0.1:{port}/"), &opts)
        .await
        .unwrap_err();
    drop(closed);
    assert!(matches!(e, HttpError::Refused { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains(&format!("nothing listens on port {port}")),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tinyproxy_tunnel_auth_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_file) = ca_in(dir.path());
    let server = tls_server(ca.issue(&loopback_leaf()).unwrap());
    let url = format!("https://127.0.0.1:{}/", server.addr.port());
    let Some(proxy) = tinyproxy("eas", "proxy-pass-1", &[server.addr.port()]) else {
        return;
    };
    let with_method = |user: &str, pass: Option<&str>, auth: AuthMethod| {
        let proxy = ProxyConfig {
            host: "127.0.0.1".into(),
            port: proxy.port,
            credentials: pass.map(|p| (user.to_string(), Secret::new(p))),
            auth,
        };
        ConnectOptions::new(Some(&ca_file), Some(proxy)).unwrap()
    };
    let with = |user: &str, pass: Option<&str>| with_method(user, pass, AuthMethod::Auto);
    // Auto learns Basic from the 407 (tinyproxy then closes the connection: a new one);
    // Basic sends it up front.
    for m in [AuthMethod::Auto, AuthMethod::Basic] {
        assert_eq!(
            fetch(&url, &with_method("eas", Some("proxy-pass-1"), m))
                .await
                .unwrap(),
            200
        );
    }
    // A method the proxy does not offer: the error names the setting.
    let e = fetch(
        &url,
        &with_method("eas", Some("proxy-pass-1"), AuthMethod::Ntlm),
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains(
            "asks for Basic authentication, which Proxy/AuthenticationMethod Ntlm does not allow"
        ),
        "{e}"
    );

    for (pass, status) in [(None, 407), (Some("wrong"), 401)] {
        let e = fetch(&url, &with("eas", pass)).await.unwrap_err();
        assert!(
            matches!(e, HttpError::ProxyAuth { status: s, .. } if s == status),
            "{e:?}"
        );
        assert!(e.to_string().contains("rejected the credentials"), "{e}");
    }

    // A port the proxy's ConnectPort rules do not allow.
    let other = tls_server(ca.issue(&loopback_leaf()).unwrap());
    let e = fetch(
        &format!("https://127.0.0.1:{}/", other.addr.port()),
        &with("eas", Some("proxy-pass-1")),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, HttpError::ProxyRefused { status: 403, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("do not allow CONNECT"), "{e}");

    // The proxy itself down.
    let down = ProxyConfig {
        host: "127.0.0.1".into(),
        port: free_port(),
        credentials: None,
        auth: AuthMethod::Auto,
    };
    let e = fetch(
        &url,
        &ConnectOptions::new(Some(&ca_file), Some(down)).unwrap(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, HttpError::ProxyUnreachable { .. }), "{e:?}");
    assert!(e.to_string().contains("could not be reached"), "{e}");
}

/// A proxy that demands NTLM: a real squid, its NTLM helper backed by pyspnego's acceptor
/// (`tests/peers/squid_ntlm_helper.py`, which checks the password). The user squid logs for
/// the tunnel shows the handshake ran on one connection: NEGOTIATE, CHALLENGE, AUTHENTICATE.
#[tokio::test(flavor = "multi_thread")]
async fn squid_demands_ntlm() {
    if !system_python_module("spnego", "pyspnego") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_file) = ca_in(dir.path());
    let server = tls_server(ca.issue(&loopback_leaf()).unwrap());
    let url = format!("https://127.0.0.1:{}/", server.addr.port());
    // squid runs its helpers as the `proxy` user: the helper and users file where it can read.
    let helper_dir = readable_by_proxy_user(&[
        (
            "squid_ntlm_helper.py",
            include_bytes!("peers/squid_ntlm_helper.py").to_vec(),
        ),
        (
            "users.txt",
            b"LAB:proxy-ntlm-user:pw-ntlm-1\nLAB:proxy-auto-user:pw-auto-2\nLAB:proxy-plain-user:pw-plain-3\n".to_vec(),
        ),
    ]);
    let helper = helper_dir.path().join("squid_ntlm_helper.py");
    let users = helper_dir.path().join("users.txt");
    let Some(squid) = squid(
        &[
            format!(
                "auth_param ntlm program {SYSTEM_PYTHON} {}",
                helper.display()
            ),
            "auth_param ntlm children 2".into(),
        ],
        &[("NTLM_USER_FILE", &users)],
    ) else {
        return;
    };
    let with = |user: &str, password: &str, auth: AuthMethod| {
        let proxy = ProxyConfig {
            host: "127.0.0.1".into(),
            port: squid.port,
            credentials: Some((user.to_string(), Secret::new(password))),
            auth,
        };
        ConnectOptions::new(Some(&ca_file), Some(proxy)).unwrap()
    };
    for (user, password, method) in [
        ("LAB\\proxy-ntlm-user", "pw-ntlm-1", AuthMethod::Ntlm),
        ("LAB\\proxy-auto-user", "pw-auto-2", AuthMethod::Auto),
    ] {
        assert_eq!(
            fetch(&url, &with(user, password, method)).await.unwrap(),
            200,
            "{method:?}"
        );
    }
    // Plain HTTP goes to the proxy as absolute-form requests (no CONNECT), signed in the same
    // way.
    let plain = plain_server();
    let plain_url = format!("http://127.0.0.1:{}/PowerShell/", plain.addr.port());
    for method in [AuthMethod::Ntlm, AuthMethod::Auto] {
        assert_eq!(
            fetch(
                &plain_url,
                &with("LAB\\proxy-plain-user", "pw-plain-3", method)
            )
            .await
            .unwrap(),
            200,
            "plain HTTP, {method:?}"
        );
    }
    // validate's proxy and TCP checks for plain HTTP: a request through the proxy, whose
    // 502-504 is the proxy's own answer that it could not reach the server.
    let ep = Endpoint::parse(&plain_url).unwrap();
    let opts = with("LAB\\proxy-plain-user", "pw-plain-3", AuthMethod::Auto);
    assert_eq!(forward_probe(&ep, &opts).await.unwrap().unwrap(), 200);
    let down = Endpoint::parse(&format!("http://127.0.0.1:{}/", free_port())).unwrap();
    let status = forward_probe(&down, &opts).await.unwrap().unwrap();
    assert!((502..=504).contains(&status), "{status}");
    assert!(forward_probe(&Endpoint::parse(&url).unwrap(), &opts)
        .await
        .is_none());
    let plain_ok = |log: &str| {
        log.lines()
            .filter(|l| {
                l.contains(&format!("GET {plain_url}"))
                    && l.contains("/200 ")
                    && l.to_ascii_lowercase().contains("lab+proxy-plain-user")
            })
            .count()
    };
    let tunnel_ok = |log: &str, user: &str| {
        log.lines()
            .any(|l| l.contains("TCP_TUNNEL/200") && l.to_ascii_lowercase().contains(user))
    };
    let users = ["lab+proxy-ntlm-user", "lab+proxy-auto-user"];
    let log =
        squid.access_log_when(|log| plain_ok(log) == 3 && users.iter().all(|u| tunnel_ok(log, u)));
    println!("{log}");
    assert_eq!(plain_ok(&log), 3, "{log}");
    for user in users {
        assert!(
            tunnel_ok(&log, user),
            "{user} not in squid's access log:\n{log}"
        );
    }
    // A wrong password is refused by the helper: squid asks again, the connector stops.
    let e = fetch(
        &url,
        &with("LAB\\proxy-ntlm-user", "wrong", AuthMethod::Ntlm),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, HttpError::ProxyAuth { status: 407, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("rejected the credentials"), "{e}");
    // Schemes the proxy does not offer: the error names the setting.
    let e = fetch(&url, &with("LAB\\x", "x", AuthMethod::Basic))
        .await
        .unwrap_err();
    assert!(
        matches!(e, HttpError::ProxyAuth { status: 407, .. }),
        "{e:?}"
    );
    let e = fetch(&url, &with("LAB\\x", "x", AuthMethod::Kerberos))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("asks for NTLM authentication"),
        "{e}"
    );
    // No credentials at all.
    let none = ProxyConfig {
        host: "127.0.0.1".into(),
        port: squid.port,
        credentials: None,
        auth: AuthMethod::Auto,
    };
    let e = fetch(
        &url,
        &ConnectOptions::new(Some(&ca_file), Some(none)).unwrap(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, HttpError::ProxyAuth { status: 407, .. }),
        "{e:?}"
    );
}

/// A proxy that demands Negotiate with Kerberos: a real squid with MIT's
/// `negotiate_kerberos_auth` and a keytab for `HTTP/localhost` from a throwaway MIT realm, which
/// checks the service ticket the connector gets for the proxy's own SPN with the user's password.
#[tokio::test(flavor = "multi_thread")]
async fn squid_demands_negotiate_kerberos() {
    use eas_connector::exchange::auth::kerberos::KerberosOptions;
    use support::kdc::{RealmSpec, TestRealm};
    let Some(realm) = TestRealm::start(&RealmSpec {
        realm: "PROXY.TEST",
        users: &[("carol", "Carol-Pass-1!")],
        services: &["HTTP/localhost"],
        max_life_secs: None,
    }) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_file) = ca_in(dir.path());
    let server = tls_server(ca.issue(&loopback_leaf()).unwrap());
    let url = format!("https://127.0.0.1:{}/", server.addr.port());
    // squid runs its helpers as the `proxy` user: the keytab and krb5.conf where it can read.
    let helper_dir = readable_by_proxy_user(&[
        ("proxy.keytab", std::fs::read(&realm.keytab).unwrap()),
        ("krb5.conf", std::fs::read(&realm.krb5_conf).unwrap()),
    ]);
    let keytab = helper_dir.path().join("proxy.keytab");
    let krb5_conf = helper_dir.path().join("krb5.conf");
    let Some(squid) = squid(
        &[
            format!(
                "auth_param negotiate program /usr/lib/squid/negotiate_kerberos_auth -s HTTP/localhost@PROXY.TEST -k {} -t none",
                keytab.display()
            ),
            "auth_param negotiate children 2".into(),
            "auth_param negotiate keep_alive on".into(),
        ],
        &[("KRB5_CONFIG", &krb5_conf)],
    ) else {
        return;
    };
    let with = |password: &str, auth: AuthMethod| {
        let proxy = ProxyConfig {
            host: "localhost".into(),
            port: squid.port,
            credentials: Some(("carol@PROXY.TEST".to_string(), Secret::new(password))),
            auth,
        };
        let mut o = ConnectOptions::new(Some(&ca_file), Some(proxy)).unwrap();
        o.kerberos = KerberosOptions {
            realm: Some("PROXY.TEST".into()),
            kdc: Some(realm.kdc_address()),
            // Exchange's SPN setting must not leak into the proxy's sign-in.
            spn: Some("HTTP/exchange.proxy.test".into()),
            renew_before_expiry_secs: 300,
        };
        o
    };
    for method in [AuthMethod::Negotiate, AuthMethod::Auto] {
        assert_eq!(
            fetch(&url, &with("Carol-Pass-1!", method)).await.unwrap(),
            200,
            "{method:?}"
        );
    }
    let tunnels = |log: &str| {
        log.lines()
            .filter(|l| l.contains("TCP_TUNNEL/200") && l.contains("carol@PROXY.TEST"))
            .count()
    };
    let log = squid.access_log_when(|log| tunnels(log) == 2);
    println!("{log}");
    assert_eq!(tunnels(&log), 2, "{log}");
    assert!(
        realm.log().contains("HTTP/localhost@PROXY.TEST"),
        "{}",
        realm.log()
    );
    // A wrong password: the KDC refuses it, and the error says so.
    let e = fetch(&url, &with("wrong", AuthMethod::Negotiate))
        .await
        .unwrap_err();
    assert!(matches!(e, HttpError::ProxySignIn { .. }), "{e:?}");
    println!("{e}");
}
