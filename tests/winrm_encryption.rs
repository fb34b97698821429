//! WinRM message encryption over plain HTTP (MS-WSMV HTTP-SPNEGO-session-encrypted): the
//! connector's client against the lab started with `plain_http` (a runspace pool and
//! Get-MobileDevice through the ops layer, NTLM, Negotiate and Auto), with a relay in between
//! that records the bytes on the wire to prove nothing of the envelopes goes in clear; the
//! lab refusing clear bodies; Basic over HTTP refused; wrong passwords named.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use eas_connector::engine::target::Target;
use eas_connector::exchange::client::{AuthMethod, Credentials, Session, SessionError};
use eas_connector::exchange::http::{ConnectOptions, Endpoint};
use eas_connector::exchange::ops::Exchange as _;
use eas_connector::exchange::powershell::PsError;
use eas_connector::lab::{Lab, LabInfo, LabOptions};
use eas_connector::secrets::Secret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const DEVICES: u32 = 30;

async fn http_lab() -> (Lab, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(LabOptions {
        devices: DEVICES,
        servers: 1,
        state_dir: dir.path().to_path_buf(),
        plain_http: true,
        ..LabOptions::default()
    })
    .await
    .unwrap();
    assert!(lab.info().servers[0].url.starts_with("http://"));
    (lab, dir)
}

/// A target on `http://<address>/PowerShell` (the hosted form takes a full URL: the scheme
/// is the only setting that turns encryption on).
fn target(address: &str, method: &str, user: &str, password: &str) -> Target {
    let mut c = eas_connector::config::ConnectorConfig::new("default");
    c.set("ExchangeServerType", "Hosted").unwrap();
    c.set(
        "HostedServerAddress",
        &format!("http://{address}/PowerShell"),
    )
    .unwrap();
    c.set("AuthenticationMethod", method).unwrap();
    c.set("ServiceAccount/User", user).unwrap();
    Target::from_config(&c, Some(&Secret::new(password)), None).unwrap()
}

/// A TCP relay to `to` that keeps every byte in each direction.
struct Relay {
    port: u16,
    up: Arc<Mutex<Vec<u8>>>,
    down: Arc<Mutex<Vec<u8>>>,
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    log: Arc<Mutex<Vec<u8>>>,
) {
    let mut buf = vec![0u8; 16384];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                log.lock().unwrap().extend_from_slice(&buf[..n]);
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}

async fn relay(to: std::net::SocketAddr) -> Relay {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let up = Arc::new(Mutex::new(Vec::new()));
    let down = Arc::new(Mutex::new(Vec::new()));
    let (u, d) = (up.clone(), down.clone());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(to).await else {
                continue;
            };
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::spawn(pump(cr, sw, u.clone()));
            tokio::spawn(pump(sr, cw, d.clone()));
        }
    });
    Relay { port, up, down }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn runspace_and_get_mobile_device_sealed_over_http() {
    let (lab, _d) = http_lab().await;
    let info = lab.info().clone();
    let a = &info.accounts.service;
    let lab_addr: std::net::SocketAddr = info.servers[0].address.parse().unwrap();
    let some_device = lab.with_org(|o| o.device_id(&o.devices[0]));
    for method in ["Ntlm", "Negotiate", "Auto"] {
        let r = relay(lab_addr).await;
        let t = target(
            &format!("127.0.0.1:{}", r.port),
            method,
            &a.user,
            &a.password,
        );
        let ex = t.open().await.unwrap_or_else(|e| panic!("{method}: {e}"));
        let servers = ex.get_exchange_servers().await.unwrap();
        assert!(!servers.is_empty(), "{method}");
        let mut devices = Vec::new();
        ex.get_mobile_devices(None, |d| devices.push(d))
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        assert_eq!(devices.len(), DEVICES as usize, "{method}");
        assert!(devices.iter().any(|d| d.device_id == some_device));
        ex.pool().clone().close().await.ok();

        let up = r.up.lock().unwrap().clone();
        let down = r.down.lock().unwrap().clone();
        // Sealed both ways: the framing is there, the SOAP and the device data are not.
        assert!(
            contains(
                &up,
                "multipart/encrypted;protocol=\"application/HTTP-SPNEGO-session-encrypted\""
            ),
            "{method}"
        );
        assert!(
            contains(&up, "Content-Type: application/octet-stream"),
            "{method}"
        );
        assert!(contains(&down, "multipart/encrypted"), "{method}");
        for clear in ["Envelope", "schemas.xmlsoap.org", "Microsoft.Exchange"] {
            assert!(
                !contains(&up, clear),
                "{method}: {clear:?} went to the server in clear"
            );
            assert!(
                !contains(&down, clear),
                "{method}: {clear:?} came back in clear"
            );
        }
        assert!(
            !contains(&down, &some_device),
            "{method}: a device id came back in clear"
        );
        assert!(
            !contains(&up, &a.password),
            "{method}: the password is on the wire"
        );
    }
}

fn session(url: &str, method: AuthMethod, user: &str, password: &str) -> Session {
    let mut o = ConnectOptions::new(None, None).unwrap();
    o.auth = method;
    Session::connect(
        Endpoint::parse(url).unwrap(),
        o,
        &Credentials {
            user: user.into(),
            password: Secret::new(password),
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lab_refuses_clear_envelopes_over_http() {
    let (lab, _d) = http_lab().await;
    let info = lab.info().clone();
    let a = &info.accounts.service;
    let url = format!("{}/PowerShell", info.servers[0].url);
    for method in [AuthMethod::Ntlm, AuthMethod::Negotiate] {
        let mut s = session(&url, method, &a.user, &a.password);
        // Authenticated with an empty body: accepted.
        let r = s
            .request(hyper::Method::POST, "/PowerShell", None, Bytes::new())
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{method:?}");
        // The same connection, a clear envelope: refused, saying why.
        let r = s
            .request(
                hyper::Method::POST,
                "/PowerShell",
                Some("application/soap+xml;charset=UTF-8"),
                Bytes::from_static(
                    b"<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"/>",
                ),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 400, "{method:?}");
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            body.contains("requires encrypted messages over HTTP (AllowUnencrypted=false)"),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_over_plain_http_is_refused_before_sending() {
    let (lab, _d) = http_lab().await;
    let info = lab.info().clone();
    let a = &info.accounts.service;
    let e = target(&info.servers[0].address, "Basic", &a.user, &a.password)
        .open()
        .await
        .err()
        .expect("Basic over http must fail");
    let PsError::Session(SessionError::BasicOverPlainHttp { .. }) = &e else {
        panic!("{e:?}")
    };
    let t = e.to_string();
    assert!(
        t.contains("refusing Basic authentication over plain HTTP"),
        "{t}"
    );
    assert!(t.contains(&a.user), "{t}");
    assert!(!t.contains(&a.password), "{t}");
    // Auto never picks Basic over http: with only Basic offered, it says so.
    lab.set_auth_schemes(
        &info.servers[0].name,
        eas_connector::lab::auth_schemes::BASIC,
    )
    .unwrap();
    let e = target(&info.servers[0].address, "Auto", &a.user, &a.password)
        .open()
        .await
        .err()
        .expect("Auto with only Basic over http must fail");
    assert!(
        matches!(e, PsError::Session(SessionError::NoSupportedScheme { .. })),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_over_http_names_the_account() {
    let (lab, _d) = http_lab().await;
    let info: LabInfo = lab.info().clone();
    let user = &info.accounts.service.user;
    for method in ["Ntlm", "Negotiate", "Auto"] {
        let e = target(&info.servers[0].address, method, user, "not-the-password")
            .open()
            .await
            .err()
            .expect("wrong password must fail");
        assert!(
            matches!(e, PsError::Session(SessionError::Unauthorized { .. })),
            "{method}: {e:?}"
        );
        let t = e.to_string();
        assert!(
            t.contains("refused the credentials of LAB\\svc-eas with "),
            "{t}"
        );
        assert!(t.contains("check the user name and password"), "{t}");
        assert!(!t.contains("not-the-password"), "{t}");
    }
}

/// The answers file a plain-HTTP lab writes describes it with the http:// URL (the only
/// setting that means plain HTTP), and a configuration made from it reaches Get-MobileDevice.
#[tokio::test(flavor = "multi_thread")]
async fn answers_file_of_a_plain_http_lab_connects() {
    let (lab, dir) = http_lab().await;
    let text = std::fs::read_to_string(dir.path().join("answers.toml")).unwrap();
    let address = &lab.info().servers[0].address;
    assert!(
        text.contains(&format!(
            "HostedServerAddress = \"http://{address}/PowerShell\""
        )),
        "{text}"
    );
    let answers = eas_connector::setup::answers::parse(&text).unwrap();
    let mut c = eas_connector::config::ConnectorConfig::new("default");
    for (k, v) in &answers.fields {
        k.set(&mut c, v).unwrap_or_else(|e| panic!("{k:?}: {e}"));
    }
    assert!(
        c.completeness_problems().is_empty(),
        "{:?}",
        c.completeness_problems()
    );
    let pw = &lab.info().accounts.service.password;
    let t = Target::from_config(&c, Some(&Secret::new(pw.clone())), None).unwrap();
    assert!(!t.powershell.https);
    let ex = t.open().await.unwrap();
    let mut n = 0;
    ex.get_mobile_devices(None, |_| n += 1).await.unwrap();
    assert_eq!(n, DEVICES as usize);
}
