//! The connector's NTLM and Negotiate client against an independent server: pyspnego (PyPI)
//! behind a small keep-alive HTTP server (`tests/peers/spnego_server.py`). Required when
//! `EAS_TEST_PEERS=1` (scripts/test installs pyspnego), skipped with a note otherwise.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use eas_connector::exchange::client::{AuthMethod, Credentials, Session, SessionError};
use eas_connector::exchange::http::{ConnectOptions, Endpoint};
use eas_connector::secrets::Secret;

struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server() -> Option<Server> {
    if !support::python_module("spnego", "pyspnego") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.txt");
    let mut f = std::fs::File::create(&users).unwrap();
    writeln!(f, "PEER:alice:Peer-Pass-1!").unwrap();
    drop(f);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/spnego_server.py");
    let mut child = Command::new("python3")
        .arg(script)
        .env("NTLM_USER_FILE", &users)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().unwrap();
    Some(Server {
        child,
        port,
        _dir: dir,
    })
}

async fn sign_in(
    port: u16,
    method: AuthMethod,
    user: &str,
    pw: &str,
) -> Result<(String, Option<&'static str>), SessionError> {
    let mut opts = ConnectOptions::new(None, None).unwrap();
    opts.auth = method;
    let creds = Credentials {
        user: user.into(),
        password: Secret::new(pw),
    };
    let mut s = Session::connect(
        Endpoint::parse(&format!("http://127.0.0.1:{port}/wsman")).unwrap(),
        opts,
        &creds,
    );
    let mut body = String::new();
    // Twice: the second request rides the authenticated connection.
    for _ in 0..2 {
        let r = s
            .request(
                hyper::Method::POST,
                "/wsman",
                Some("text/plain"),
                Bytes::from_static(b"<x/>"),
            )
            .await?;
        assert_eq!(r.status, 200);
        body = String::from_utf8_lossy(&r.body).into_owned();
    }
    Ok((body, s.scheme_used()))
}

async fn methods_against_pyspnego(srv: &Server, methods: &[(AuthMethod, &'static str)]) {
    for &(method, scheme) in methods {
        for user in ["PEER\\alice", "peer\\ALICE"] {
            let (body, used) = sign_in(srv.port, method, user, "Peer-Pass-1!")
                .await
                .unwrap_or_else(|e| panic!("{method:?} {user}: {e}"));
            assert!(body.to_ascii_lowercase().contains("alice"), "{body}");
            assert_eq!(used, Some(scheme));
        }
        let e = sign_in(srv.port, method, "PEER\\alice", "wrong")
            .await
            .unwrap_err();
        assert!(
            matches!(e, SessionError::Unauthorized { .. }),
            "{method:?}: {e:?}"
        );
        assert!(!e.to_string().contains("wrong"));
    }
    // 30 fresh sessions in a row: no handshake may fail.
    for i in 0..30 {
        let m = methods[i % methods.len()].0;
        sign_in(srv.port, m, "PEER\\alice", "Peer-Pass-1!")
            .await
            .unwrap_or_else(|e| panic!("#{i} {m:?}: {e}"));
    }
}

/// WinRM message encryption against pyspnego's own `wrap_winrm`/`unwrap_winrm`: envelopes
/// sealed by the connector are unsealed by pyspnego (length and signature checked there), and
/// its sealed answers, echoing what it read, are unsealed here; several in a row, so the
/// sequence numbers and RC4 streams must stay in step on both sides.
async fn sealing_against_pyspnego(srv: &Server, method: AuthMethod) {
    let mut opts = ConnectOptions::new(None, None).unwrap();
    opts.auth = method;
    let creds = Credentials {
        user: "PEER\\alice".into(),
        password: Secret::new("Peer-Pass-1!"),
    };
    let mut s = Session::connect(
        Endpoint::parse(&format!("http://127.0.0.1:{}/wsman", srv.port)).unwrap(),
        opts,
        &creds,
    );
    for i in 0..5 {
        let envelope = format!(
            "<s:Envelope>message {i} of five, {}</s:Envelope>",
            "x".repeat(i * 700)
        );
        let r = s
            .request_winrm("/wsman", Bytes::from(envelope.clone()))
            .await
            .unwrap_or_else(|e| panic!("{method:?} #{i}: {e}"));
        assert_eq!(
            r.status,
            200,
            "{method:?} #{i}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let v: serde_json::Value = serde_json::from_slice(&r.body)
            .unwrap_or_else(|e| panic!("{method:?} #{i}: not unsealed JSON ({e})"));
        assert_eq!(v["clear"], envelope, "{method:?} #{i}");
        assert!(v["user"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("alice"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ntlm_sealing_matches_pyspnego() {
    let Some(srv) = server() else { return };
    sealing_against_pyspnego(&srv, AuthMethod::Ntlm).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ntlm_against_pyspnego() {
    let Some(srv) = server() else { return };
    methods_against_pyspnego(&srv, &[(AuthMethod::Ntlm, "NTLM")]).await;
}

/// Negotiate (SPNEGO with NTLM inside) against pyspnego's SPNEGO acceptor, explicit and as
/// Auto's first choice, then sealed messages on a Negotiate context.
///
/// This once failed with pyspnego's "Invalid Message integrity Check (MIC) detected" on the
/// SPNEGO mechListMIC: the client asked for neither integrity nor confidentiality, so the NTLM
/// flags carried ALWAYS_SIGN without SIGN. MS-NLMP then makes a signature the constant
/// `01 00 .. 00` (what pyspnego, like Windows SSPI, expects), while `sspi` 0.23 still computes
/// a real HMAC for the mechListMIC. The client now requests INTEGRITY and CONFIDENTIALITY (as
/// Windows' WinRM client does, and as message encryption needs), so SIGN is negotiated and
/// both sides compute the same MIC; `ntlm::tests` pins those flags.
#[tokio::test(flavor = "multi_thread")]
async fn negotiate_against_pyspnego() {
    let Some(srv) = server() else { return };
    methods_against_pyspnego(
        &srv,
        &[
            (AuthMethod::Negotiate, "Negotiate"),
            (AuthMethod::Auto, "Negotiate"),
        ],
    )
    .await;
    sealing_against_pyspnego(&srv, AuthMethod::Negotiate).await;
}
