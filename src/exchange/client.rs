//! An authenticated HTTP session with one Exchange server.
//!
//! A [`Session`] owns one [`Connection`] (reopened when the server closes it) and an
//! [`Authenticator`] that decides the `Authorization` header. Basic is built in; NTLM,
//! Negotiate and Kerberos plug into the same trait and rely on the connection staying the
//! same across their handshake. Status codes Exchange uses to mean something specific — 401
//! (with the schemes it offers), 503 (throttling) — become typed errors. It must never put a
//! password or a token into an error or a log line.

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request};

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

/// Produces `Authorization` headers for one connection.
pub trait Authenticator: Send {
    /// The scheme as it appears in `WWW-Authenticate` (`Basic`, `NTLM`, `Negotiate`).
    fn scheme(&self) -> &'static str;
    /// The header for the next request. `challenge` is the server's `WWW-Authenticate` token
    /// for this scheme after a 401, `None` on a fresh connection. `Ok(None)` means the
    /// handshake is over and nothing more can be sent (the credentials were refused).
    fn next(&mut self, challenge: Option<&str>) -> Result<Option<String>, AuthError>;
    /// Start over, for a new connection.
    fn reset(&mut self);
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
    fn next(&mut self, challenge: Option<&str>) -> Result<Option<String>, AuthError> {
        // Credentials go with every request; a 401 in answer means they were refused.
        Ok(challenge
            .is_none()
            .then(|| self.header.expose().to_string()))
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
    #[error("{0}")]
    Auth(#[from] AuthError),
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
    user: String,
    auth: Box<dyn Authenticator>,
    conn: Option<Connection>,
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
            user: user.to_string(),
            auth,
            conn: None,
        }
    }

    /// A session with Basic authentication.
    pub fn basic(base: Endpoint, opts: ConnectOptions, creds: &Credentials) -> Self {
        Self::new(base, opts, &creds.user, Box::new(Basic::new(creds)))
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.base
    }

    async fn connection(&mut self) -> Result<&mut Connection, HttpError> {
        let reopen = match &self.conn {
            Some(c) => c.is_closed(),
            None => true,
        };
        if reopen {
            self.auth.reset();
            self.conn = Some(Connection::open(&self.base, &self.opts).await?);
        }
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
        let url = self.base.with_path(path).url();
        let mut challenge: Option<String> = None;
        let mut offered: Vec<String> = Vec::new();
        let mut retried_broken = false;
        for _round in 0..6 {
            let Some(header) = self.auth.next(challenge.as_deref())? else {
                return Err(SessionError::Unauthorized {
                    url,
                    user: self.user.clone(),
                    offered,
                });
            };
            let mut req = Request::builder()
                .method(method.clone())
                .uri(path)
                .header(hyper::header::AUTHORIZATION, header)
                .header(hyper::header::ACCEPT_ENCODING, "identity")
                .header(
                    hyper::header::USER_AGENT,
                    concat!("EAS-Connector/", env!("CARGO_PKG_VERSION")),
                );
            if let Some(ct) = content_type {
                req = req.header(hyper::header::CONTENT_TYPE, ct);
            }
            let req = req
                .body(Full::new(body.clone()))
                .map_err(|e| HttpError::BadUrl(format!("{url}: {e}")))?;
            let resp = match self.connection().await?.send(req).await {
                Ok(r) => r,
                // A kept-alive connection the server closed just now: reconnect once.
                Err(HttpError::Broken { .. }) if !retried_broken && challenge.is_none() => {
                    retried_broken = true;
                    self.conn = None;
                    self.auth.reset();
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            match resp.status {
                401 => {
                    offered = offered_schemes(&resp);
                    let scheme = self.auth.scheme();
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
                _ => return Ok(resp),
            }
        }
        Err(SessionError::Unauthorized {
            url,
            user: self.user.clone(),
            offered,
        })
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
        assert_eq!(b.next(None).unwrap().unwrap(), "Basic TEFCXHN2Yzpwdw==");
        assert!(b.next(Some("realm=x")).unwrap().is_none());
    }
}
