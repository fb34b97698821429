//! An authenticated HTTP session with one Exchange server.
//!
//! A [`Session`] owns one [`Connection`] (reopened when the server closes it) and an
//! [`Authenticator`] that decides the `Authorization` header. Basic is built in; Kerberos
//! ([`super::kerberos`]), NTLM and Negotiate ([`super::ntlm`]) plug into the same trait and
//! rely on the connection staying the same across their handshake: a new connection restarts
//! it (and gives the authenticator that connection's channel binding). With
//! [`AuthMethod::Auto`] the session asks once without credentials and follows a [`plan`] from
//! the schemes the 401 offers: Kerberos, then NTLM, then Basic over HTTPS — moving on from
//! Kerberos only when it is unavailable, never after the domain refused the account. Status
//! codes Exchange uses to mean something specific — 401 (with the schemes it offers), 503
//! (throttling) — become typed errors. Basic over plain HTTP is refused.
//! [`Session::request_winrm`] adds WinRM message encryption over plain HTTP: the handshake
//! runs with an empty body, then every envelope goes sealed by the connection's Kerberos,
//! NTLM or Negotiate context ([`crate::wire::sealing`]) and sealed answers are unsealed. It must
//! never put a password, a token or a sealed/unsealed body into an error or a log line.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request};

pub use super::auth::{
    authenticator, plan, AuthError, AuthMethod, Authenticator, Basic, ConnectionInfo, Credentials,
    Mechanism, Step,
};
use super::auth::{kerberos::KerberosError, offers};
use super::http::{ConnectOptions, Connection, Endpoint, HttpError, HttpResponse};
use crate::wire::sealing;

/// What went wrong talking to Exchange over HTTP.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{url}: the server refused the credentials of {user} with {mechanism} (HTTP 401; it offers {}); check the user name and password{}", offered_text(.offered), binding_hint(*.bound))]
    Unauthorized {
        url: String,
        user: String,
        mechanism: String,
        offered: Vec<String>,
        /// The sign-in carried a channel binding (HTTPS with Extended Protection).
        bound: bool,
    },
    #[error("{url}: the server does not accept {scheme} (it offers {}); {}", offered_text(.offered), scheme_fix(.scheme, .offered))]
    SchemeNotOffered {
        url: String,
        scheme: String,
        offered: Vec<String>,
    },
    #[error("{url}: the server is throttling requests (HTTP 503{}); wait and retry, or lower the connector's parallelism", retry_text(.retry_after))]
    Throttled {
        url: String,
        retry_after: Option<u64>,
    },
    #[error("{url}: the server offers only {} authentication, which the connector does not support; the connector signs in with Kerberos, Negotiate, NTLM, or Basic over HTTPS", offered_text(.offered))]
    NoSupportedScheme { url: String, offered: Vec<String> },
    #[error("{url}: the connection closed in the middle of the {scheme} handshake; {scheme} needs one kept-alive connection, so check any proxy or load balancer in between")]
    HandshakeCut { url: String, scheme: String },
    #[error("{url}: {error}; {}", .error.fix())]
    Kerberos {
        url: String,
        error: Box<KerberosError>,
    },
    #[error("{url}: the server accepts Kerberos only (it offers {}; a default Exchange /PowerShell refuses NTLM and Basic), and Kerberos could not be used: {kerberos}; {}", offered_text(.offered), .kerberos.fix())]
    KerberosOnly {
        url: String,
        offered: Vec<String>,
        kerberos: Box<KerberosError>,
    },
    #[error("{0}")]
    Auth(AuthError),
    #[error("{url}: refusing Basic authentication over plain HTTP, which would send the password of {user} in clear; use https://, or Kerberos, Negotiate or NTLM (which encrypt WinRM messages over HTTP)")]
    BasicOverPlainHttp { url: String, user: String },
    #[error("{url}: WinRM over plain HTTP needs message encryption, but {detail}; use https://, or Kerberos, Negotiate or NTLM")]
    EncryptionUnavailable { url: String, detail: String },
    #[error("{url}: WinRM message encryption failed: {detail}")]
    Encryption { url: String, detail: String },
}

impl SessionError {
    /// The server or the domain refused the account itself: retrying counts toward its
    /// lockout, so callers stop until the password is changed.
    pub fn is_credential_error(&self) -> bool {
        match self {
            SessionError::Unauthorized { .. } => true,
            SessionError::Kerberos { error, .. } => error.is_credential_error(),
            SessionError::Auth(AuthError::Kerberos(e)) => e.is_credential_error(),
            _ => false,
        }
    }

    /// The Kerberos error inside, if any.
    pub fn kerberos(&self) -> Option<&KerberosError> {
        match self {
            SessionError::Kerberos { error, .. } => Some(error),
            SessionError::KerberosOnly { kerberos, .. } => Some(kerberos),
            SessionError::Auth(AuthError::Kerberos(e)) => Some(e.as_ref()),
            _ => None,
        }
    }
}

fn binding_hint(bound: bool) -> &'static str {
    if bound {
        " (or, behind a load balancer that re-encrypts TLS with another certificate, set ChannelBinding = Off: Extended Protection refuses a sign-in bound to the wrong certificate)"
    } else {
        ""
    }
}

/// What to do when the server does not offer `scheme` (it offers `offered`): never weaken a
/// Kerberos directory.
pub fn scheme_fix(scheme: &str, offered: &[String]) -> String {
    let kerberos = offers(offered, "Kerberos") || offers(offered, "Negotiate");
    if kerberos && !scheme.eq_ignore_ascii_case("Kerberos") {
        "this directory signs in with Kerberos, as a default Exchange does; set AuthenticationMethod to Auto or Kerberos (changing the server's authentication is not needed, and Microsoft does not support it on the front end)".to_string()
    } else {
        "set AuthenticationMethod to Auto, or to a scheme the server offers".to_string()
    }
}

fn offered_text(offered: &[String]) -> String {
    if offered.is_empty() {
        "no scheme".to_string()
    } else {
        offered.join(", ")
    }
}

fn retry_text(r: &Option<u64>) -> String {
    r.map(|s| format!(", Retry-After {s} s"))
        .unwrap_or_default()
}

/// The schemes in a 401's `WWW-Authenticate` headers, e.g. `["Negotiate", "NTLM", "Basic"]`.
pub fn offered_schemes(resp: &HttpResponse) -> Vec<String> {
    super::auth::schemes_in(&resp.header_values("www-authenticate"))
}

/// Whether a 401 lists what the server offers (bare scheme names, `Basic realm=…`) rather
/// than answering a handshake with a token.
fn is_fresh_offer(resp: &HttpResponse) -> bool {
    let values = resp.header_values("www-authenticate");
    !values.is_empty()
        && values.iter().all(|v| {
            let v = v.trim();
            v.split_whitespace().count() == 1 || v.to_ascii_lowercase().starts_with("basic ")
        })
}

/// The token after `scheme` in a `WWW-Authenticate` header, if that scheme is offered.
fn challenge_for(resp: &HttpResponse, scheme: &str) -> Option<String> {
    super::auth::challenge_in(&resp.header_values("www-authenticate"), scheme)
}

/// What each virtual directory offered in its last fresh 401, per process (scheme, host, port
/// and the path's first segment: `/PowerShell` and `/EWS` of one server differ): later
/// sessions skip the question.
fn offers_seen() -> &'static std::sync::Mutex<std::collections::HashMap<String, Vec<String>>> {
    static SEEN: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<String, Vec<String>>>,
    > = std::sync::OnceLock::new();
    SEEN.get_or_init(Default::default)
}

fn offer_key(base: &Endpoint, path: &str) -> String {
    let dir = path
        .trim_start_matches('/')
        .split(['/', '?'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    format!("{}|{}|{dir}", base.https, base.authority())
}

fn remembered_offer(base: &Endpoint) -> Option<Vec<String>> {
    offers_seen()
        .lock()
        .ok()?
        .get(&offer_key(base, &base.path))
        .cloned()
}

fn remember_offer(base: &Endpoint, path: &str, offered: &[String]) {
    if offered.is_empty() {
        return;
    }
    if let Ok(mut m) = offers_seen().lock() {
        m.insert(offer_key(base, path), offered.to_vec());
    }
}

/// An authenticated session with one server.
pub struct Session {
    base: Endpoint,
    opts: ConnectOptions,
    creds: Option<Credentials>,
    user: String,
    method: AuthMethod,
    /// `None` until the server's first 401 has said what it offers.
    auth: Option<Box<dyn Authenticator>>,
    /// The mechanisms still to try after `auth`, best first.
    plan: Vec<Mechanism>,
    /// Whether `auth` is prepared for the open connection.
    prepared: bool,
    conn: Option<Connection>,
    /// The mechanism the server last accepted.
    used: Option<Mechanism>,
    /// Why Kerberos was passed over for another mechanism, if it was.
    kerberos_unavailable: Option<Box<KerberosError>>,
}

impl Session {
    /// A session with `base`'s server (path ignored) using `auth` for `user`.
    pub fn new(
        base: Endpoint,
        opts: ConnectOptions,
        user: &str,
        auth: Box<dyn Authenticator>,
    ) -> Self {
        let method = opts.auth;
        Session {
            base,
            opts,
            creds: None,
            user: user.to_string(),
            method,
            auth: Some(auth),
            plan: Vec::new(),
            prepared: false,
            conn: None,
            used: None,
            kerberos_unavailable: None,
        }
    }

    /// A session with Basic authentication.
    pub fn basic(base: Endpoint, opts: ConnectOptions, creds: &Credentials) -> Self {
        Self::new(base, opts, &creds.user, Box::new(Basic::new(creds)))
    }

    /// A session authenticating `creds` with `method`. Basic, NTLM and Negotiate start with
    /// their first header; Auto and Kerberos first ask without credentials, to learn whether
    /// the server offers the `Kerberos` scheme, `Negotiate`, or both — once per server and
    /// process: later sessions start from what it offered then.
    pub fn with_method(
        base: Endpoint,
        opts: ConnectOptions,
        creds: &Credentials,
        method: AuthMethod,
    ) -> Self {
        let (first, mut plan) = match method {
            AuthMethod::Auto | AuthMethod::Kerberos => {
                let mut p = remembered_offer(&base)
                    .map(|offered| plan(method, &offered, base.https))
                    .unwrap_or_default();
                if p.is_empty() {
                    (None, Vec::new())
                } else {
                    let first = p.remove(0);
                    (Some(first), p)
                }
            }
            AuthMethod::Basic => (Some(Mechanism::Basic), Vec::new()),
            AuthMethod::Ntlm => (Some(Mechanism::Ntlm), Vec::new()),
            AuthMethod::Negotiate => (
                Some(Mechanism::NegotiateKerberos),
                vec![Mechanism::NegotiateNtlm],
            ),
        };
        plan.shrink_to_fit();
        let auth = first.map(|m| authenticator(m, creds, &base.host, &opts));
        Session {
            base,
            opts,
            creds: Some(creds.clone()),
            user: creds.user.clone(),
            method,
            auth,
            plan,
            prepared: false,
            conn: None,
            used: None,
            kerberos_unavailable: None,
        }
    }

    /// A session authenticating `creds` as `opts.auth` says.
    pub fn connect(base: Endpoint, opts: ConnectOptions, creds: &Credentials) -> Self {
        let method = opts.auth;
        Self::with_method(base, opts, creds, method)
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.base
    }

    /// The scheme the server accepted on this session (`Kerberos`, `Negotiate`, `NTLM`,
    /// `Basic`), once a request has gone through.
    pub fn scheme_used(&self) -> Option<&'static str> {
        self.used.map(Mechanism::scheme)
    }

    /// The mechanism the server accepted, once a request has gone through.
    pub fn mechanism_used(&self) -> Option<Mechanism> {
        self.used
    }

    /// Why Kerberos was passed over for the mechanism used, if it was.
    pub fn kerberos_unavailable(&self) -> Option<&KerberosError> {
        self.kerberos_unavailable.as_deref()
    }

    /// Make sure a connection is open; `true` when a new one had to be opened (which resets
    /// the authenticator: connection-oriented handshakes start over).
    async fn ensure_connection(&mut self) -> Result<bool, HttpError> {
        let reopen = match &self.conn {
            Some(c) => c.is_closed(),
            None => true,
        };
        if reopen {
            if let Some(a) = self.auth.as_mut() {
                a.reset();
            }
            self.prepared = false;
            self.conn = Some(Connection::open(&self.base, &self.opts).await?);
        }
        Ok(reopen)
    }

    fn connection(&mut self) -> Result<&mut Connection, HttpError> {
        match self.conn.as_mut() {
            Some(c) => Ok(c),
            None => Err(HttpError::Broken {
                target: self.base.authority(),
                detail: "no connection".into(),
            }),
        }
    }

    fn connection_info(&self) -> ConnectionInfo {
        let conn = self.conn.as_ref();
        ConnectionInfo {
            authority: self.base.authority(),
            https: self.base.https,
            tls_server_end_point: conn.and_then(Connection::tls_server_end_point),
            certificate: conn
                .and_then(Connection::certificate)
                .map(|c| format!("subject {}, issuer {}", c.subject, c.issuer)),
        }
    }

    /// Switch to the next mechanism of the plan; `false` when there is none.
    fn advance(&mut self) -> bool {
        let Some(creds) = self.creds.clone() else {
            return false;
        };
        if self.plan.is_empty() {
            return false;
        }
        let next = self.plan.remove(0);
        let mut a = authenticator(next, &creds, &self.base.host, &self.opts);
        a.reset();
        self.auth = Some(a);
        self.prepared = false;
        true
    }

    /// Send a request and return the response, authenticating as needed. A 401 that the
    /// authenticator cannot answer and a 503 become [`SessionError`]s; other statuses are
    /// returned for the caller to judge.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<HttpResponse, SessionError> {
        self.exchange(method, path, content_type, body, false).await
    }

    /// POST one WinRM envelope. Over `https://` it goes as it is; over plain `http://` it is
    /// sealed with the connection's Kerberos, NTLM or Negotiate context (the handshake itself
    /// carries an empty body, so nothing goes in clear) and a sealed answer is unsealed, as
    /// Windows' WinRM client does. The returned body is always the clear envelope.
    pub async fn request_winrm(
        &mut self,
        path: &str,
        envelope: Bytes,
    ) -> Result<HttpResponse, SessionError> {
        let encrypt = !self.base.https;
        self.exchange(
            Method::POST,
            path,
            Some(sealing::ORIGINAL_TYPE),
            envelope,
            encrypt,
        )
        .await
    }

    fn kerberos_error(&self, url: &str, error: Box<KerberosError>) -> SessionError {
        SessionError::Kerberos {
            url: url.to_string(),
            error,
        }
    }

    /// The error for a refusal by the server of the mechanism in use.
    fn refused(&self, url: String, offered: Vec<String>) -> SessionError {
        let mech = self.auth.as_ref().map(|a| a.mechanism());
        if let Some(k) = self.kerberos_unavailable.clone() {
            // NTLM inside Negotiate after Kerberos was unavailable, refused by a directory
            // that offers nothing but Kerberos (a default Exchange's /PowerShell).
            let kerberos_only = !offers(&offered, "NTLM") && !offers(&offered, "Basic");
            if kerberos_only {
                return SessionError::KerberosOnly {
                    url,
                    offered,
                    kerberos: k,
                };
            }
        }
        SessionError::Unauthorized {
            url,
            user: self.user.clone(),
            mechanism: mech.map(|m| m.to_string()).unwrap_or_default(),
            offered,
            bound: self.base.https
                && self.opts.channel_binding
                && matches!(mech, Some(Mechanism::Ntlm | Mechanism::NegotiateNtlm)),
        }
    }

    async fn exchange(
        &mut self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
        encrypt: bool,
    ) -> Result<HttpResponse, SessionError> {
        let url = self.base.with_path(path).url();
        let mut challenge: Option<String> = None;
        let mut offered: Vec<String> = Vec::new();
        let mut retried_broken = false;
        let mut cut = 0;
        for _round in 0..16 {
            let reopened = self.ensure_connection().await?;
            if reopened && challenge.is_some() {
                // The server (or something in between) closed the connection mid-handshake:
                // the handshake starts over on the new one, once.
                cut += 1;
                if cut > 1 {
                    return Err(SessionError::HandshakeCut {
                        url,
                        scheme: self
                            .auth
                            .as_ref()
                            .map(|a| a.scheme())
                            .unwrap_or("NTLM")
                            .into(),
                    });
                }
                challenge = None;
            }
            if !self.prepared && self.auth.is_some() {
                let info = self.connection_info();
                let prepared = match self.auth.as_mut() {
                    Some(a) => a.prepare(&info).await,
                    None => Ok(()),
                };
                match prepared {
                    Ok(()) => self.prepared = true,
                    Err(AuthError::Kerberos(e)) if e.is_unavailable() && !self.plan.is_empty() => {
                        tracing::info!(error = %e, "Kerberos is unavailable; trying the next mechanism");
                        self.kerberos_unavailable = Some(e);
                        self.advance();
                        challenge = None;
                        continue;
                    }
                    Err(AuthError::Kerberos(e)) => return Err(self.kerberos_error(&url, e)),
                    Err(e) => return Err(SessionError::Auth(e)),
                }
            }
            let step = match self.auth.as_mut() {
                Some(a) => match a.next(challenge.as_deref()) {
                    Ok(s) => s,
                    Err(AuthError::Kerberos(e)) => return Err(self.kerberos_error(&url, e)),
                    Err(e) => return Err(SessionError::Auth(e)),
                },
                // Ask without credentials to learn what the server offers.
                None => Step::Nothing,
            };
            let header = match step {
                Step::Send(h) => Some(h),
                Step::Nothing => None,
                // Refused: never another mechanism with the same password (each try counts
                // toward the account's lockout).
                Step::GiveUp => return Err(self.refused(url, offered)),
            };
            let scheme = self.auth.as_ref().map(|a| a.scheme());
            if !self.base.https && scheme == Some("Basic") {
                return Err(SessionError::BasicOverPlainHttp {
                    url,
                    user: self.user.clone(),
                });
            }
            // With encryption: seal once the connection is authenticated; until then the
            // handshake carries an empty body.
            let sealing =
                encrypt && header.is_none() && self.auth.as_ref().is_some_and(|a| a.can_seal());
            let (send_type, send_body) = if !encrypt {
                (content_type.map(str::to_string), body.clone())
            } else if sealing {
                let (protocol, sealed) = match self.auth.as_mut() {
                    Some(a) => (
                        a.seal_protocol(),
                        a.seal(&body).map_err(SessionError::Auth)?,
                    ),
                    None => {
                        return Err(SessionError::EncryptionUnavailable {
                            url,
                            detail: "there is no authentication context".into(),
                        })
                    }
                };
                let (sig, sealed) = sealed;
                (
                    Some(sealing::content_type(protocol)),
                    Bytes::from(sealing::encode(protocol, &sig, &sealed, body.len())),
                )
            } else {
                (None, Bytes::new())
            };
            let mut req = Request::builder()
                .method(method.clone())
                .uri(path)
                .header(hyper::header::ACCEPT_ENCODING, "identity")
                .header(
                    hyper::header::USER_AGENT,
                    concat!("EAS-Connector/", env!("CARGO_PKG_VERSION")),
                );
            let asked = header.is_some();
            if let Some(h) = header {
                req = req.header(hyper::header::AUTHORIZATION, h);
            }
            if let Some(ct) = send_type {
                req = req.header(hyper::header::CONTENT_TYPE, ct);
            }
            let req = req
                .body(Full::new(send_body))
                .map_err(|e| HttpError::BadUrl(format!("{url}: {e}")))?;
            let resp = match self.connection()?.send(req).await {
                Ok(r) => r,
                // A kept-alive connection the server closed just now: reconnect once.
                Err(HttpError::Broken { .. }) if !retried_broken && challenge.is_none() => {
                    retried_broken = true;
                    self.conn = None;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            match resp.status {
                401 => {
                    offered = offered_schemes(&resp);
                    if !asked || is_fresh_offer(&resp) {
                        // A fresh 401 (not a challenge): what this server offers now.
                        remember_offer(&self.base, path, &offered);
                    }
                    let Some(auth) = self.auth.as_ref() else {
                        let mut plan = plan(self.method, &offered, self.base.https);
                        if plan.is_empty() {
                            return Err(match self.method {
                                AuthMethod::Auto => {
                                    SessionError::NoSupportedScheme { url, offered }
                                }
                                m => SessionError::SchemeNotOffered {
                                    url,
                                    scheme: format!("{m:?}"),
                                    offered,
                                },
                            });
                        }
                        if self.creds.is_none() {
                            return Err(SessionError::Auth(AuthError::Message(
                                "no credentials for automatic authentication".into(),
                            )));
                        }
                        self.plan = std::mem::take(&mut plan);
                        self.advance();
                        challenge = None;
                        continue;
                    };
                    let scheme = auth.scheme();
                    if !offers(&offered, scheme) {
                        // The mechanism was chosen before the server spoke (or from what it
                        // offered earlier): plan again from what it offers now.
                        match self.method {
                            AuthMethod::Auto | AuthMethod::Kerberos => {
                                self.plan = plan(self.method, &offered, self.base.https)
                            }
                            _ => self.plan.retain(|m| offers(&offered, m.scheme())),
                        }
                        if self.advance() {
                            challenge = None;
                            continue;
                        }
                        if self.method == AuthMethod::Auto {
                            return Err(SessionError::NoSupportedScheme { url, offered });
                        }
                        return Err(SessionError::SchemeNotOffered {
                            url,
                            scheme: scheme.into(),
                            offered,
                        });
                    }
                    challenge = Some(challenge_for(&resp, scheme).unwrap_or_default());
                }
                503 => {
                    let retry_after = resp
                        .header_values("retry-after")
                        .first()
                        .and_then(|v| v.trim().parse().ok());
                    return Err(SessionError::Throttled { url, retry_after });
                }
                _ => {
                    let mut resp = resp;
                    if let Some(a) = self.auth.as_mut() {
                        let final_token = challenge_for(&resp, a.scheme());
                        match a.accepted(final_token.as_deref()) {
                            Ok(()) => {}
                            Err(AuthError::Kerberos(e)) => return Err(self.kerberos_error(&url, e)),
                            Err(e) => return Err(SessionError::Auth(e)),
                        }
                        let Some(a) = self.auth.as_mut() else {
                            continue;
                        };
                        self.used = Some(a.mechanism());
                        if encrypt && !sealing {
                            if !a.can_seal() {
                                return Err(SessionError::EncryptionUnavailable {
                                    url,
                                    detail: format!(
                                        "{} gave no key to encrypt with (the server did not complete mutual authentication)",
                                        a.mechanism()
                                    ),
                                });
                            }
                            // The handshake (empty body) went through: now the sealed body.
                            challenge = None;
                            continue;
                        }
                    } else if encrypt {
                        return Err(SessionError::EncryptionUnavailable {
                            url,
                            detail: "the server did not ask for authentication, so there is no key to encrypt with".into(),
                        });
                    }
                    if sealing {
                        resp = self.unseal_response(&url, resp)?;
                    }
                    return Ok(resp);
                }
            }
        }
        Err(self.refused(url, offered))
    }

    /// A sealed answer made clear; a clear answer (an error page, a plain fault) as it is.
    fn unseal_response(
        &mut self,
        url: &str,
        mut resp: HttpResponse,
    ) -> Result<HttpResponse, SessionError> {
        let ct = resp
            .header_values("content-type")
            .into_iter()
            .next()
            .unwrap_or_default();
        if !sealing::is_encrypted(&ct) {
            return Ok(resp);
        }
        let fail = |detail: String| SessionError::Encryption {
            url: url.to_string(),
            detail,
        };
        let framed = sealing::decode(&ct, &resp.body).map_err(|e| fail(e.to_string()))?;
        let clear = match self.auth.as_mut() {
            Some(a) => a.unseal(&framed).map_err(|e| fail(e.to_string()))?,
            None => return Err(fail("no authentication context".into())),
        };
        resp.body = Bytes::from(clear);
        if let Ok(v) = hyper::header::HeaderValue::from_str(sealing::ORIGINAL_TYPE) {
            resp.headers.insert(hyper::header::CONTENT_TYPE, v);
        }
        resp.headers.remove(hyper::header::CONTENT_LENGTH);
        Ok(resp)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn resp_with(headers: &[&str]) -> HttpResponse {
        let mut h = hyper::HeaderMap::new();
        for v in headers {
            h.append("www-authenticate", v.parse().unwrap());
        }
        HttpResponse {
            status: 401,
            headers: h,
            body: Bytes::new(),
        }
    }

    #[test]
    fn schemes_are_read_from_every_header() {
        let r = resp_with(&["Negotiate", "NTLM", "Basic realm=\"cas01.contoso.com\""]);
        assert_eq!(offered_schemes(&r), vec!["Negotiate", "NTLM", "Basic"]);
        assert_eq!(
            challenge_for(&r, "basic").as_deref(),
            Some("realm=\"cas01.contoso.com\"")
        );
        let r = resp_with(&["NTLM TlRMTVNTUAACAAAA"]);
        assert_eq!(
            challenge_for(&r, "NTLM").as_deref(),
            Some("TlRMTVNTUAACAAAA")
        );
    }

    #[test]
    fn offers_are_remembered_per_virtual_directory() {
        let ep = Endpoint::parse("https://cas01.contoso.com/PowerShell/").unwrap();
        assert_eq!(offer_key(&ep, &ep.path), offer_key(&ep, "/powershell"));
        assert_ne!(
            offer_key(&ep, "/PowerShell/"),
            offer_key(&ep, "/EWS/Exchange.asmx")
        );
        let http = Endpoint::parse("http://cas01.contoso.com/PowerShell/").unwrap();
        assert_ne!(
            offer_key(&ep, "/PowerShell"),
            offer_key(&http, "/PowerShell")
        );
    }

    #[test]
    fn refusals_never_ask_to_weaken_a_kerberos_directory() {
        let e = SessionError::SchemeNotOffered {
            url: "http://cas01/PowerShell/".into(),
            scheme: "Ntlm".into(),
            offered: vec!["Negotiate".into(), "Kerberos".into()],
        }
        .to_string();
        assert!(
            e.contains("AuthenticationMethod to Auto or Kerberos"),
            "{e}"
        );
        assert!(!e.contains("enable"), "{e}");
    }
}
