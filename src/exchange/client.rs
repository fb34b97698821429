//! An authenticated HTTP session with one Exchange server.
//!
//! A [`Session`] owns one [`Connection`] (reopened when the server closes it) and an
//! [`Authenticator`] that decides the `Authorization` header. Basic is built in; NTLM and
//! Negotiate ([`super::ntlm`]) plug into the same trait and rely on the connection staying the
//! same across their handshake: a new connection restarts it. With [`AuthMethod::Auto`] the
//! session asks once without credentials and picks from the schemes the 401 offers (Negotiate,
//! then NTLM, then Basic over HTTPS). Status codes Exchange uses to mean something specific — 401
//! (with the schemes it offers), 503 (throttling) — become typed errors. Basic over plain HTTP
//! is refused. [`Session::request_winrm`] adds WinRM message encryption over plain HTTP: the
//! handshake runs with an empty body, then every envelope goes sealed by the connection's
//! NTLM/Negotiate context ([`super::encryption`]) and sealed answers are unsealed. It must
//! never put a password, a token or a sealed/unsealed body into an error or a log line.

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request};

use super::encryption::{self, Framed, Sealed};
use super::http::{ConnectOptions, Connection, Endpoint, HttpError, HttpResponse};
use crate::secrets::Secret;

/// A user and password.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: String,
    pub password: Secret,
}

/// Why an authenticator could not produce a header.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

/// What an [`Authenticator`] wants sent with the next request.
#[derive(Debug)]
pub enum Step {
    /// This `Authorization` header.
    Send(String),
    /// No header: the connection is already authenticated (NTLM, Negotiate).
    Nothing,
    /// Nothing more can be sent: the server refused the credentials.
    GiveUp,
}

/// Produces `Authorization` headers for one connection.
pub trait Authenticator: Send {
    /// The scheme as it appears in `WWW-Authenticate` (`Basic`, `NTLM`, `Negotiate`).
    fn scheme(&self) -> &'static str;
    /// What to send with the next request. `challenge` is the server's `WWW-Authenticate`
    /// token for this scheme after a 401 (empty when the scheme came bare), `None` otherwise.
    fn next(&mut self, challenge: Option<&str>) -> Result<Step, AuthError>;
    /// The server answered with something other than 401: the connection is authenticated.
    /// `final_token` is the server's `WWW-Authenticate` token for this scheme on that answer,
    /// if any (SPNEGO's last message), which the authenticator must check.
    fn accepted(&mut self, _final_token: Option<&str>) -> Result<(), AuthError> {
        Ok(())
    }
    /// Start over, for a new connection.
    fn reset(&mut self);
    /// Whether this connection's context can seal messages (WinRM encryption over HTTP).
    fn can_seal(&self) -> bool {
        false
    }
    /// Seal a message: `(signature, sealed bytes)`.
    fn seal(&mut self, _data: &[u8]) -> Result<Sealed, AuthError> {
        Err(AuthError(format!(
            "{} cannot encrypt messages",
            self.scheme()
        )))
    }
    /// Unseal a framed message from the server.
    fn unseal(&mut self, _framed: &Framed) -> Result<Vec<u8>, AuthError> {
        Err(AuthError(format!(
            "{} cannot decrypt messages",
            self.scheme()
        )))
    }
}

pub use super::http::AuthMethod;

/// The schemes this client can answer, best first.
pub const SUPPORTED_SCHEMES: [&str; 3] = ["Negotiate", "NTLM", "Basic"];

/// The authenticator for `scheme` (one of [`SUPPORTED_SCHEMES`]).
pub fn authenticator_for(
    scheme: &str,
    creds: &Credentials,
    host: &str,
) -> Option<Box<dyn Authenticator>> {
    use super::ntlm::{Mechanism, SspiAuth};
    if scheme.eq_ignore_ascii_case("negotiate") {
        Some(Box::new(SspiAuth::new(Mechanism::Negotiate, creds, host)))
    } else if scheme.eq_ignore_ascii_case("ntlm") {
        Some(Box::new(SspiAuth::new(Mechanism::Ntlm, creds, host)))
    } else if scheme.eq_ignore_ascii_case("basic") {
        Some(Box::new(Basic::new(creds)))
    } else {
        None
    }
}

/// The best scheme of `offered` that this client supports (Basic only when `https`).
pub fn choose_scheme(offered: &[String], https: bool) -> Option<&'static str> {
    SUPPORTED_SCHEMES
        .into_iter()
        .find(|s| (https || *s != "Basic") && offered.iter().any(|o| o.eq_ignore_ascii_case(s)))
}

/// HTTP Basic: the same header on every request, sent up front; meant for HTTPS only.
pub struct Basic {
    header: Secret,
}

impl Basic {
    pub fn new(creds: &Credentials) -> Self {
        let token = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            creds.user,
            creds.password.expose()
        ));
        Basic {
            header: Secret::new(format!("Basic {token}")),
        }
    }
}

impl Authenticator for Basic {
    fn scheme(&self) -> &'static str {
        "Basic"
    }
    fn next(&mut self, challenge: Option<&str>) -> Result<Step, AuthError> {
        // Credentials go with every request; a 401 in answer means they were refused.
        Ok(match challenge {
            None => Step::Send(self.header.expose().to_string()),
            Some(_) => Step::GiveUp,
        })
    }
    fn reset(&mut self) {}
}

/// What went wrong talking to Exchange over HTTP.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{url}: the server refused the credentials of {user} (HTTP 401; it offers {}); check the user name and password", offered_text(.offered))]
    Unauthorized {
        url: String,
        user: String,
        offered: Vec<String>,
    },
    #[error("{url}: the server does not accept {scheme} authentication (it offers {}); enable {scheme} on the virtual directory or choose another method", offered_text(.offered))]
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
    #[error("{url}: the server offers only {} authentication, which the connector does not support; enable Negotiate (with NTLM) or NTLM on the virtual directory, or Basic over HTTPS", offered_text(.offered))]
    NoSupportedScheme { url: String, offered: Vec<String> },
    #[error("{url}: the connection closed in the middle of the {scheme} handshake; {scheme} needs one kept-alive connection, so check any proxy or load balancer in between (or use Basic over HTTPS)")]
    HandshakeCut { url: String, scheme: String },
    #[error("{0}")]
    Auth(#[from] AuthError),
    #[error("{url}: refusing Basic authentication over plain HTTP, which would send the password of {user} in clear; use https:// or choose NTLM or Negotiate (which encrypt WinRM messages over HTTP)")]
    BasicOverPlainHttp { url: String, user: String },
    #[error("{url}: WinRM over plain HTTP needs message encryption, but {detail}; use https:// or NTLM/Negotiate")]
    EncryptionUnavailable { url: String, detail: String },
    #[error("{url}: WinRM message encryption failed: {detail}")]
    Encryption { url: String, detail: String },
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
    let mut out = Vec::new();
    for v in resp.header_values("www-authenticate") {
        for part in v.split(',') {
            let scheme = part.split_whitespace().next().unwrap_or_default();
            // `realm="x"` continuation pieces are not schemes.
            if !scheme.is_empty()
                && !scheme.contains('=')
                && !out.iter().any(|s: &String| s.eq_ignore_ascii_case(scheme))
            {
                out.push(scheme.to_string());
            }
        }
    }
    out
}

/// The token after `scheme` in a `WWW-Authenticate` header, if that scheme is offered.
fn challenge_for(resp: &HttpResponse, scheme: &str) -> Option<String> {
    resp.header_values("www-authenticate")
        .into_iter()
        .find_map(|v| {
            let v = v.trim();
            let (s, rest) = v.split_once(' ').unwrap_or((v, ""));
            s.eq_ignore_ascii_case(scheme)
                .then(|| rest.trim().to_string())
        })
}

/// An authenticated session with one server.
pub struct Session {
    base: Endpoint,
    opts: ConnectOptions,
    creds: Option<Credentials>,
    user: String,
    /// `None` until [`AuthMethod::Auto`] has seen what the server offers.
    auth: Option<Box<dyn Authenticator>>,
    conn: Option<Connection>,
    /// The scheme the server last accepted.
    used: Option<&'static str>,
}

impl Session {
    /// A session with `base`'s server (path ignored) using `auth` for `user`.
    pub fn new(
        base: Endpoint,
        opts: ConnectOptions,
        user: &str,
        auth: Box<dyn Authenticator>,
    ) -> Self {
        Session {
            base,
            opts,
            creds: None,
            user: user.to_string(),
            auth: Some(auth),
            conn: None,
            used: None,
        }
    }

    /// A session with Basic authentication.
    pub fn basic(base: Endpoint, opts: ConnectOptions, creds: &Credentials) -> Self {
        Self::new(base, opts, &creds.user, Box::new(Basic::new(creds)))
    }

    /// A session authenticating `creds` with `method` (chosen from the server's 401 on
    /// [`AuthMethod::Auto`]).
    pub fn with_method(
        base: Endpoint,
        opts: ConnectOptions,
        creds: &Credentials,
        method: AuthMethod,
    ) -> Self {
        let scheme = match method {
            AuthMethod::Auto => None,
            AuthMethod::Basic => Some("Basic"),
            AuthMethod::Ntlm => Some("NTLM"),
            AuthMethod::Negotiate => Some("Negotiate"),
        };
        let auth = scheme.and_then(|s| authenticator_for(s, creds, &base.host));
        Session {
            base,
            opts,
            creds: Some(creds.clone()),
            user: creds.user.clone(),
            auth,
            conn: None,
            used: None,
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

    /// The scheme the server accepted on this session (`Negotiate`, `NTLM`, `Basic`), once a
    /// request has gone through.
    pub fn scheme_used(&self) -> Option<&'static str> {
        self.used
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
    /// sealed with the connection's NTLM/Negotiate context (the handshake itself carries an
    /// empty body, so nothing goes in clear) and a sealed answer is unsealed, as Windows'
    /// WinRM client does. The returned body is always the clear envelope.
    pub async fn request_winrm(
        &mut self,
        path: &str,
        envelope: Bytes,
    ) -> Result<HttpResponse, SessionError> {
        let encrypt = !self.base.https;
        self.exchange(
            Method::POST,
            path,
            Some(encryption::ORIGINAL_TYPE),
            envelope,
            encrypt,
        )
        .await
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
        // Auto only: Negotiate refused while NTLM is offered → one try with raw NTLM
        // (some SPNEGO acceptors refuse NTLM wrapped in SPNEGO but take it bare).
        let mut ntlm_fallback = self.auth.is_none();
        for _round in 0..12 {
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
            let step = match self.auth.as_mut() {
                Some(a) => a.next(challenge.as_deref())?,
                // Auto: ask without credentials to learn what the server offers.
                None => Step::Nothing,
            };
            let header = match step {
                Step::Send(h) => Some(h),
                Step::Nothing => None,
                Step::GiveUp => {
                    let negotiate = self.auth.as_ref().map(|a| a.scheme()) == Some("Negotiate");
                    if ntlm_fallback
                        && negotiate
                        && offered.iter().any(|o| o.eq_ignore_ascii_case("NTLM"))
                    {
                        if let Some(creds) = self.creds.clone() {
                            ntlm_fallback = false;
                            self.auth = authenticator_for("NTLM", &creds, &self.base.host);
                            challenge = None;
                            continue;
                        }
                    }
                    return Err(SessionError::Unauthorized {
                        url,
                        user: self.user.clone(),
                        offered,
                    });
                }
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
                let (sig, sealed) = match self.auth.as_mut() {
                    Some(a) => a.seal(&body)?,
                    None => {
                        return Err(SessionError::EncryptionUnavailable {
                            url,
                            detail: "there is no authentication context".into(),
                        })
                    }
                };
                (
                    Some(encryption::content_type()),
                    Bytes::from(encryption::encode(&sig, &sealed, body.len())),
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
                    let Some(auth) = self.auth.as_ref() else {
                        let Some(scheme) = choose_scheme(&offered, self.base.https) else {
                            return Err(SessionError::NoSupportedScheme { url, offered });
                        };
                        let creds = self.creds.clone().ok_or_else(|| {
                            AuthError("no credentials for automatic authentication".into())
                        })?;
                        self.auth = authenticator_for(scheme, &creds, &self.base.host);
                        challenge = None;
                        continue;
                    };
                    let scheme = auth.scheme();
                    if !offered.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
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
                        a.accepted(final_token.as_deref())?;
                        self.used = Some(a.scheme());
                        if encrypt && !sealing {
                            if !a.can_seal() {
                                return Err(SessionError::EncryptionUnavailable {
                                    url,
                                    detail: format!(
                                        "{} authentication gives no key to encrypt with",
                                        a.scheme()
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
        Err(SessionError::Unauthorized {
            url,
            user: self.user.clone(),
            offered,
        })
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
        if !encryption::is_encrypted(&ct) {
            return Ok(resp);
        }
        let fail = |detail: String| SessionError::Encryption {
            url: url.to_string(),
            detail,
        };
        let framed = encryption::decode(&ct, &resp.body).map_err(|e| fail(e.to_string()))?;
        let clear = match self.auth.as_mut() {
            Some(a) => a.unseal(&framed).map_err(|e| fail(e.0))?,
            None => return Err(fail("no authentication context".into())),
        };
        resp.body = Bytes::from(clear);
        if let Ok(v) = hyper::header::HeaderValue::from_str(encryption::ORIGINAL_TYPE) {
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
    fn basic_sends_up_front_and_gives_up_on_a_challenge() {
        let mut b = Basic::new(&Credentials {
            user: "LAB\\svc".into(),
            password: Secret::new("pw"),
        });
        assert!(matches!(b.next(None).unwrap(), Step::Send(h) if h == "Basic TEFCXHN2Yzpwdw=="));
        assert!(matches!(b.next(Some("realm=x")).unwrap(), Step::GiveUp));
    }

    #[test]
    fn auto_prefers_negotiate_then_ntlm_then_basic_over_https() {
        let o = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            choose_scheme(&o(&["Basic", "NTLM", "Negotiate"]), true),
            Some("Negotiate")
        );
        assert_eq!(choose_scheme(&o(&["basic", "ntlm"]), true), Some("NTLM"));
        assert_eq!(choose_scheme(&o(&["Basic"]), true), Some("Basic"));
        assert_eq!(choose_scheme(&o(&["Basic"]), false), None);
        assert_eq!(choose_scheme(&o(&["Kerberos"]), true), None);
    }
}
