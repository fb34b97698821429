//! The lab's HTTP(S) front: TLS (or, with `plain_http`, plain TCP) accept loops per CAS — and
//! a second, plain-HTTP loop in the exchange-default profile — keep-alive HTTP/1.1
//! connections, per-server latency and 503 throttling, authentication (Basic per request;
//! Kerberos, NTLM and Negotiate per connection, see [`super::kerberos`] and [`super::ntlm`],
//! with Extended Protection per endpoint), and routing to the endpoints.
//!
//! A stopped CAS closes its listener and drops its open connections, like a server that went
//! down. Authentication answers 401 with the schemes the CAS is set to offer (by default
//! `Negotiate`, `NTLM` and `Basic`, as Exchange does); it never logs or echoes a password.
//! Over plain HTTP, `/PowerShell` behaves like WinRM with `AllowUnencrypted=false`: after
//! NTLM/Negotiate authentication every non-empty body must come sealed as
//! `multipart/encrypted` ([`crate::wire::sealing`]) and answers go back sealed; a clear
//! body is refused with 400. Protocol logic lives in the endpoint modules, not here.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::accounts::Account;
use super::endpoints::{self, EwsOutcome};
use super::kerberos::{self, ExtendedProtection};
use super::ntlm::{self, ConnAuth, Outcome};
use super::{auth_schemes, now, AuthProfile, CasState, ExtendedProtectionMode, LabError, Shared};
use crate::wire::sealing;

/// Largest request body the lab reads (WinRM envelopes are at most a few hundred KB).
const MAX_BODY: usize = 16 * 1024 * 1024;

pub(super) type Resp = Response<Full<Bytes>>;

pub(super) fn respond(status: u16, content_type: &str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// A connection's stream: TLS or plain TCP.
trait LabIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> LabIo for T {}

/// Start serving `cas` on `listener`: TLS, plain HTTP (`plain_http`), or both told apart by
/// the first byte of each connection (`dual`).
pub(super) fn spawn_server(shared: Arc<Shared>, cas: Arc<CasState>, listener: TcpListener) {
    cas.running.store(true, Ordering::SeqCst);
    let task = serve(shared, cas.clone(), listener);
    if let Ok(mut t) = cas.task.lock() {
        for old in t.drain(..) {
            old.abort();
        }
        t.push(task);
    }
}

/// Whether a new connection speaks TLS: its first byte is a TLS handshake record (0x16).
async fn starts_with_tls(tcp: &tokio::net::TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_secs(10), tcp.peek(&mut b)).await,
        Ok(Ok(1))
    ) && b[0] == 0x16
}

fn serve(
    shared: Arc<Shared>,
    cas: Arc<CasState>,
    listener: TcpListener,
) -> tokio::task::JoinHandle<()> {
    let acceptor = TlsAcceptor::from(cas.tls.clone());
    let cas2 = cas;
    tokio::spawn(async move {
        // Connections live in this set: aborting the accept task drops them all.
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((tcp, _peer)) = accepted else { continue };
                    let _ = tcp.set_nodelay(true);
                    let acceptor = acceptor.clone();
                    let shared = shared.clone();
                    let cas = cas2.clone();
                    conns.spawn(async move {
                        let tls = if cas.dual {
                            starts_with_tls(&tcp).await
                        } else {
                            !cas.plain_http
                        };
                        let io: Box<dyn LabIo> = if !tls {
                            Box::new(tcp)
                        } else {
                            let Ok(tls) = acceptor.accept(tcp).await else { return };
                            Box::new(tls)
                        };
                        // NTLM and Negotiate authenticate the connection, not the request.
                        let conn_auth = Arc::new(Mutex::new(ConnAuth::default()));
                        let svc = service_fn(move |req| {
                            let shared = shared.clone();
                            let cas = cas.clone();
                            let conn_auth = conn_auth.clone();
                            async move {
                                Ok::<_, Infallible>(handle(shared, cas, conn_auth, tls, req).await)
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(TokioIo::new(io), svc)
                            .await;
                    });
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    })
}

/// Stop a CAS: close its listener, cut its connections.
pub(super) fn stop_server(cas: &CasState) {
    cas.running.store(false, Ordering::SeqCst);
    cas.shells.clear();
    if let Ok(mut t) = cas.task.lock() {
        for task in t.drain(..) {
            task.abort();
        }
    }
}

/// Start a stopped CAS on its old address.
pub(super) async fn start_server(shared: Arc<Shared>, cas: Arc<CasState>) -> Result<(), LabError> {
    if cas.running.load(Ordering::SeqCst) {
        return Ok(());
    }
    // The aborted task may still hold the socket for a moment.
    let mut last_err = None;
    for _ in 0..50 {
        match TcpListener::bind(cas.addr).await {
            Ok(listener) => {
                spawn_server(shared, cas, listener);
                return Ok(());
            }
            Err(e) => {
                last_err = Some(e);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    Err(LabError::Bind {
        addr: cas.addr,
        source: last_err.unwrap_or_else(|| std::io::Error::other("bind failed")),
    })
}

fn unauthorized_with(values: &[String]) -> Resp {
    let mut r = respond(
        401,
        "text/html",
        "401 - Unauthorized: Access is denied due to invalid credentials.",
    );
    for v in values {
        if let Ok(v) = hyper::header::HeaderValue::from_str(v) {
            r.headers_mut().append(hyper::header::WWW_AUTHENTICATE, v);
        }
    }
    r
}

/// The schemes an endpoint offers ([`auth_schemes`] bits): a default Exchange's `/PowerShell`
/// takes Kerberos only, its EWS and ActiveSync Negotiate and NTLM; in the lab profile what
/// the CAS is set to.
fn offered_bits(shared: &Shared, cas: &CasState, path: &str) -> u8 {
    match shared.profile {
        AuthProfile::ExchangeDefault if path == "/powershell" => {
            auth_schemes::NEGOTIATE | auth_schemes::KERBEROS
        }
        AuthProfile::ExchangeDefault => auth_schemes::NEGOTIATE | auth_schemes::NTLM,
        AuthProfile::Lab => cas.auth_schemes.load(Ordering::Relaxed),
    }
}

/// Extended Protection of an endpoint on this connection (none over plain HTTP).
fn extended_protection(shared: &Shared, path: &str, tls: bool) -> ExtendedProtection {
    if !tls {
        return ExtendedProtection::None;
    }
    match (shared.extended_protection, shared.profile) {
        (ExtendedProtectionMode::Require, _) => ExtendedProtection::Require,
        (_, AuthProfile::ExchangeDefault)
            if matches!(path, "/ews/exchange.asmx" | "/microsoft-server-activesync") =>
        {
            ExtendedProtection::Allow
        }
        _ => ExtendedProtection::None,
    }
}

/// A fresh 401 offering `bits`.
fn unauthorized(bits: u8) -> Resp {
    let mut offered = Vec::new();
    for (bit, value) in [
        (auth_schemes::NEGOTIATE, "Negotiate"),
        (auth_schemes::KERBEROS, "Kerberos"),
        (auth_schemes::NTLM, "NTLM"),
        (auth_schemes::BASIC, "Basic realm=\"lab-cas\""),
    ] {
        if bits & bit != 0 {
            offered.push(value.to_string());
        }
    }
    unauthorized_with(&offered)
}

/// Whether a request may go on.
enum Access {
    /// As this account; the header value (SPNEGO's final token) goes on the response.
    Granted(Account, Option<String>),
    /// This 401 answers it.
    Denied(Resp),
}

/// Who this request (or its connection) is: the account, and a header value for the
/// response (SPNEGO's or Kerberos' final token), or the 401 to send.
fn authenticate(
    shared: &Shared,
    cas: &CasState,
    conn: &Mutex<ConnAuth>,
    req: &Request<Incoming>,
    path: &str,
    tls: bool,
) -> Access {
    let bits = offered_bits(shared, cas, path);
    let mut state = match conn.lock() {
        Ok(s) => s,
        Err(p) => p.into_inner(),
    };
    let header = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    let Some(header) = header else {
        // No header: an authenticated connection stays authenticated (as IIS does).
        return match &*state {
            ConnAuth::Authenticated(a, _) | ConnAuth::Kerberos(a, _) => {
                Access::Granted(a.clone(), None)
            }
            _ => Access::Denied(unauthorized(bits)),
        };
    };
    let (scheme, value) = header.split_once(' ').unwrap_or((header, ""));
    let allowed = |bit: u8| bits & bit != 0;
    if scheme.eq_ignore_ascii_case("basic") && allowed(auth_schemes::BASIC) {
        return match basic_auth(shared, value) {
            Some(a) => Access::Granted(a.clone(), None),
            None => Access::Denied(unauthorized(bits)),
        };
    }
    let token = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .unwrap_or_default();
    let ep = extended_protection(shared, path, tls);
    let binding = tls.then_some(cas.tls_binding.as_slice());
    let carrier = if scheme.eq_ignore_ascii_case("kerberos") && allowed(auth_schemes::KERBEROS) {
        Some(kerberos::Carrier::Kerberos)
    } else if scheme.eq_ignore_ascii_case("negotiate") && allowed(auth_schemes::NEGOTIATE) {
        kerberos::negotiate_kerberos(&token)
    } else {
        None
    };
    if let Some(carrier) = carrier {
        let Some(acceptor) = shared.kerberos.as_ref() else {
            return Access::Denied(unauthorized(bits));
        };
        return match acceptor.accept(carrier, &token, binding, ep) {
            kerberos::Outcome::Accepted {
                client,
                header,
                protection,
            } => match shared.accounts.find(&client) {
                Some(a) => {
                    *state = ConnAuth::Kerberos(a.clone(), protection);
                    Access::Granted(a.clone(), Some(header))
                }
                None => Access::Denied(unauthorized(bits)),
            },
            kerberos::Outcome::Refused { header, .. } => {
                *state = ConnAuth::None;
                Access::Denied(match header {
                    Some(h) => unauthorized_with(&[h]),
                    None => unauthorized(bits),
                })
            }
        };
    }
    let scheme = if scheme.eq_ignore_ascii_case("ntlm") && allowed(auth_schemes::NTLM) {
        "NTLM"
    } else if scheme.eq_ignore_ascii_case("negotiate")
        && allowed(auth_schemes::NEGOTIATE)
        // Exchange's Kerberos module: NTLM inside Negotiate is refused on /PowerShell.
        && (shared.profile != AuthProfile::ExchangeDefault || allowed(auth_schemes::NTLM))
    {
        "Negotiate"
    } else {
        return Access::Denied(unauthorized(bits));
    };
    // Extended Protection for NTLM: the AUTHENTICATE message's channel binding.
    if let (Some(expected), Some(sent)) = (binding, kerberos::ntlm_channel_bindings(&token)) {
        let sent = sent.filter(|b| *b != [0u8; 16]);
        let matches = sent
            == Some(crate::wire::kerberos::crypto::channel_bindings_hash(
                expected,
            ));
        let refused = match ep {
            ExtendedProtection::None => false,
            ExtendedProtection::Allow => sent.is_some() && !matches,
            ExtendedProtection::Require => !matches,
        };
        if refused {
            tracing::debug!("lab: NTLM sign-in refused by Extended Protection");
            *state = ConnAuth::None;
            return Access::Denied(unauthorized(bits));
        }
    }
    match ntlm::step(&mut state, &shared.accounts, scheme, value) {
        Outcome::Challenge(v) => Access::Denied(unauthorized_with(&[v])),
        Outcome::Accepted(a, v) => Access::Granted(a, v),
        Outcome::Refused => Access::Denied(unauthorized(bits)),
    }
}

/// The account named by a Basic credential (`value` is the base64 after `Basic `) with the
/// right password.
fn basic_auth<'a>(shared: &'a Shared, value: &str) -> Option<&'a Account> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    shared.accounts.authenticate(user, password)
}

pub(super) async fn read_body(req: Request<Incoming>) -> Result<Bytes, Resp> {
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(_) => Err(respond(
            413,
            "text/plain",
            "request body too large or broken",
        )),
    }
}

async fn handle(
    shared: Arc<Shared>,
    cas: Arc<CasState>,
    conn_auth: Arc<Mutex<ConnAuth>>,
    tls: bool,
    req: Request<Incoming>,
) -> Resp {
    let latency = cas.latency_ms.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let throttled = cas
        .throttle
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if throttled {
        let mut r = respond(
            503,
            "text/html",
            "503 Service Unavailable: the server is busy (lab throttling)",
        );
        r.headers_mut().insert(
            hyper::header::RETRY_AFTER,
            hyper::header::HeaderValue::from_static("1"),
        );
        return r;
    }
    let path = req.uri().path().to_ascii_lowercase();
    let path = path.trim_end_matches('/');
    let known = matches!(
        path,
        "/ews/exchange.asmx"
            | "/autodiscover/autodiscover.xml"
            | "/microsoft-server-activesync"
            | "/powershell"
    );
    if !known {
        return respond(404, "text/html", "404 - File or directory not found.");
    }
    let (account, final_token) = match authenticate(&shared, &cas, &conn_auth, &req, path, tls) {
        Access::Granted(a, t) => (a, t),
        Access::Denied(r) => {
            // Read the body first: a response before it leaves hyper unable to keep the
            // connection, and NTLM's next message must come on this same connection.
            let _ = read_body(req).await;
            return r;
        }
    };
    let path = path.to_string();
    let mut r = route(&shared, &cas, &conn_auth, tls, &path, account, req).await;
    if let Some(v) = final_token.and_then(|v| hyper::header::HeaderValue::from_str(&v).ok()) {
        r.headers_mut().append(hyper::header::WWW_AUTHENTICATE, v);
    }
    r
}

/// The clear body of a sealed request, or why it is refused (for a 400).
fn unseal_request(
    conn_auth: &Mutex<ConnAuth>,
    content_type: &str,
    body: &[u8],
) -> Result<Vec<u8>, String> {
    let framed = sealing::decode(content_type, body).map_err(|e| format!("lab: {e}"))?;
    let mut state = match conn_auth.lock() {
        Ok(s) => s,
        Err(p) => p.into_inner(),
    };
    match ntlm::unseal(&mut state, &framed) {
        Some(Ok(clear)) => Ok(clear),
        Some(Err(e)) => Err(format!("lab: {e}")),
        None => Err(
            "lab: an encrypted message needs Kerberos, NTLM or Negotiate authentication on this connection"
                .into(),
        ),
    }
}

/// The endpoint's answer for an authenticated request.
async fn route(
    shared: &Arc<Shared>,
    cas: &Arc<CasState>,
    conn_auth: &Mutex<ConnAuth>,
    tls: bool,
    path: &str,
    account: Account,
    req: Request<Incoming>,
) -> Resp {
    let method = req.method().clone();
    match (path, method) {
        ("/microsoft-server-activesync", Method::OPTIONS) => {
            let version = shared
                .org
                .read()
                .map(|o| o.version)
                .unwrap_or(super::ExchangeVersion::V2019);
            let mut r = respond(200, "text/plain", Bytes::new());
            for (k, v) in endpoints::activesync_options(version) {
                if let Ok(v) = v.parse() {
                    r.headers_mut().insert(k, v);
                }
            }
            r
        }
        ("/powershell", Method::POST) => {
            let content_type = req
                .headers()
                .get(hyper::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let body = match read_body(req).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let sealed = sealing::is_encrypted(&content_type);
            let clear = if sealed {
                match unseal_request(conn_auth, &content_type, &body) {
                    Ok(c) => c,
                    Err(why) => return respond(400, "text/plain", why),
                }
            } else if body.is_empty() {
                // What WinRM clients send to authenticate before their first sealed message.
                return respond(200, "application/soap+xml;charset=UTF-8", Bytes::new());
            } else if !tls {
                return respond(
                    400,
                    "text/plain",
                    format!(
                        "{}: the WinRM service requires encrypted messages over HTTP (AllowUnencrypted=false); authenticate with Kerberos, NTLM or Negotiate and send the body as multipart/encrypted, or use HTTPS",
                        cas.name
                    ),
                );
            } else {
                body.to_vec()
            };
            let reply = super::powershell::handle(shared, cas, &account, &clear).await;
            if !sealed {
                return respond(
                    reply.status,
                    "application/soap+xml;charset=UTF-8",
                    reply.body,
                );
            }
            let bytes = Bytes::from(reply.body);
            let protocol = sealing::protocol_of(&content_type).unwrap_or(sealing::PROTOCOL_SPNEGO);
            let sealed = {
                let mut state = match conn_auth.lock() {
                    Ok(s) => s,
                    Err(p) => p.into_inner(),
                };
                ntlm::seal(&mut state, &bytes)
            };
            match sealed {
                Some(Ok((sig, data))) => respond(
                    reply.status,
                    &sealing::content_type(protocol),
                    sealing::encode(protocol, &sig, &data, bytes.len()),
                ),
                _ => respond(500, "text/plain", "lab: the answer could not be sealed"),
            }
        }
        ("/autodiscover/autodiscover.xml", Method::POST) => {
            let body = match read_body(req).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let base = cas.url();
            let org = match shared.org.read() {
                Ok(o) => o,
                Err(p) => p.into_inner(),
            };
            let (code, xml) = endpoints::autodiscover(
                &org,
                &body,
                &format!("{base}/EWS/Exchange.asmx"),
                &format!("{base}/Microsoft-Server-ActiveSync"),
                &cas.name,
            );
            respond(code, "text/xml; charset=utf-8", xml)
        }
        ("/ews/exchange.asmx", Method::POST) => {
            let body = match read_body(req).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let id = shared.mail_seq.fetch_add(1, Ordering::SeqCst) + 1;
            let mail = endpoints::load_mail(&shared.outbox);
            let outcome = {
                let org = match shared.org.read() {
                    Ok(o) => o,
                    Err(p) => p.into_inner(),
                };
                endpoints::ews(&org, &account, &body, &mail, id, now())
            };
            let EwsOutcome::Reply(code, xml, sent) = outcome;
            if let Some(mail) = sent {
                if let Err(e) = endpoints::store_mail(&shared.outbox, &mail) {
                    return respond(500, "text/plain", format!("lab outbox not writable: {e}"));
                }
            }
            respond(code, "text/xml; charset=utf-8", xml)
        }
        _ => respond(
            405,
            "text/html",
            "405 - HTTP verb used to access this page is not allowed.",
        ),
    }
}
