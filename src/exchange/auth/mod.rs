//! Signing in over HTTP: the [`Authenticator`] trait a [`Session`] drives, one per connection,
//! and the [`plan`] of mechanisms to try from what a server offers — Kerberos ([`kerberos`]),
//! NTLM and Negotiate ([`ntlm`]), Basic (here). Connection-oriented mechanisms get the
//! connection's [`ConnectionInfo`] (its channel binding) before their first header, and keys
//! to seal WinRM messages when the server did mutual authentication. Nothing here may put a
//! password, token or key into an error or a log line.
//!
//! [`Session`]: super::client::Session

pub mod kerberos;
pub mod ntlm;

use std::future::Future;
use std::pin::Pin;

use base64::Engine;

use self::kerberos::KerberosError;
use super::http::ConnectOptions;
use crate::secrets::Secret;
use crate::wire::sealing::{self, Framed, Sealed};

/// A user and password.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: String,
    pub password: Secret,
}

/// Why an authenticator could not produce a header.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// NTLM and Basic failures, in words that name the step.
    #[error("{0}")]
    Message(String),
    #[error(transparent)]
    Kerberos(Box<KerberosError>),
}

impl From<KerberosError> for AuthError {
    fn from(e: KerberosError) -> Self {
        AuthError::Kerberos(Box::new(e))
    }
}

/// What an [`Authenticator`] wants sent with the next request.
#[derive(Debug)]
pub enum Step {
    /// This `Authorization` header.
    Send(String),
    /// No header: the connection is already authenticated (NTLM, Negotiate, Kerberos).
    Nothing,
    /// Nothing more can be sent: the server refused the credentials.
    GiveUp,
}

/// A sign-in mechanism, as `validate` and the wizard report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mechanism {
    /// The `Kerberos` scheme.
    Kerberos,
    /// Kerberos inside `Negotiate` (SPNEGO).
    NegotiateKerberos,
    /// NTLM inside `Negotiate`.
    NegotiateNtlm,
    /// The `NTLM` scheme.
    Ntlm,
    Basic,
}

impl Mechanism {
    /// The HTTP scheme that carries it.
    pub fn scheme(self) -> &'static str {
        match self {
            Mechanism::Kerberos => "Kerberos",
            Mechanism::NegotiateKerberos | Mechanism::NegotiateNtlm => "Negotiate",
            Mechanism::Ntlm => "NTLM",
            Mechanism::Basic => "Basic",
        }
    }

    pub fn is_kerberos(self) -> bool {
        matches!(self, Mechanism::Kerberos | Mechanism::NegotiateKerberos)
    }
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mechanism::Kerberos => "Kerberos",
            Mechanism::NegotiateKerberos => "Kerberos (Negotiate)",
            Mechanism::NegotiateNtlm => "NTLM (Negotiate)",
            Mechanism::Ntlm => "NTLM",
            Mechanism::Basic => "Basic",
        })
    }
}

/// What an authenticator may know of the connection it signs in on.
#[derive(Debug, Clone, Default)]
pub struct ConnectionInfo {
    /// `host[:port]`.
    pub authority: String,
    pub https: bool,
    /// The `tls-server-end-point` channel binding data (RFC 5929) of this connection.
    pub tls_server_end_point: Option<Vec<u8>>,
    /// The certificate it presented, described for messages.
    pub certificate: Option<String>,
}

/// Produces `Authorization` headers for one connection.
pub trait Authenticator: Send {
    /// The scheme as it appears in `WWW-Authenticate` (`Basic`, `NTLM`, `Negotiate`,
    /// `Kerberos`).
    fn scheme(&self) -> &'static str;
    /// The mechanism, for reports.
    fn mechanism(&self) -> Mechanism;
    /// Work that needs the network before the first header on a new connection (Kerberos: a
    /// service ticket) and what it must know of the connection (channel bindings).
    fn prepare<'a>(
        &'a mut self,
        _conn: &'a ConnectionInfo,
    ) -> Pin<Box<dyn Future<Output = Result<(), AuthError>> + Send + 'a>> {
        Box::pin(async { Ok(()) })
    }
    /// What to send with the next request. `challenge` is the server's `WWW-Authenticate`
    /// token for this scheme after a 401 (empty when the scheme came bare), `None` otherwise.
    fn next(&mut self, challenge: Option<&str>) -> Result<Step, AuthError>;
    /// The server answered with something other than 401: the connection is authenticated.
    /// `final_token` is the server's `WWW-Authenticate` token for this scheme on that answer,
    /// if any (SPNEGO's last message, Kerberos' AP-REP), which the authenticator must check.
    fn accepted(&mut self, _final_token: Option<&str>) -> Result<(), AuthError> {
        Ok(())
    }
    /// Start over, for a new connection.
    fn reset(&mut self);
    /// Whether this connection's context can seal messages (WinRM encryption over HTTP).
    fn can_seal(&self) -> bool {
        false
    }
    /// The `protocol` of the `multipart/encrypted` bodies this context seals.
    fn seal_protocol(&self) -> &'static str {
        sealing::PROTOCOL_SPNEGO
    }
    /// Seal a message: `(signature, sealed bytes)`.
    fn seal(&mut self, _data: &[u8]) -> Result<Sealed, AuthError> {
        Err(AuthError::Message(format!(
            "{} cannot encrypt messages",
            self.scheme()
        )))
    }
    /// Unseal a framed message from the server.
    fn unseal(&mut self, _framed: &Framed) -> Result<Vec<u8>, AuthError> {
        Err(AuthError::Message(format!(
            "{} cannot decrypt messages",
            self.scheme()
        )))
    }
}

pub use super::http::AuthMethod;

/// The authenticator for a mechanism, for `creds` against `host` with `opts`' Kerberos and
/// channel binding settings.
pub fn authenticator(
    mech: Mechanism,
    creds: &Credentials,
    host: &str,
    opts: &ConnectOptions,
) -> Box<dyn Authenticator> {
    use self::kerberos::authenticator::{Carrier, KerberosAuth};
    use self::ntlm::{Mechanism as Sspi, SspiAuth};
    match mech {
        Mechanism::Kerberos => Box::new(KerberosAuth::new(
            Carrier::Kerberos,
            creds,
            host,
            &opts.kerberos,
            opts.channel_binding,
        )),
        Mechanism::NegotiateKerberos => Box::new(KerberosAuth::new(
            Carrier::Negotiate,
            creds,
            host,
            &opts.kerberos,
            opts.channel_binding,
        )),
        Mechanism::NegotiateNtlm => Box::new(SspiAuth::new(
            Sspi::Negotiate,
            creds,
            host,
            opts.channel_binding,
        )),
        Mechanism::Ntlm => Box::new(SspiAuth::new(Sspi::Ntlm, creds, host, opts.channel_binding)),
        Mechanism::Basic => Box::new(Basic::new(creds)),
    }
}

/// The schemes in `WWW-Authenticate` (or `Proxy-Authenticate`) header values, e.g.
/// `["Negotiate", "NTLM", "Basic"]`.
pub fn schemes_in(values: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for v in values {
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

/// The token after `scheme` in `WWW-Authenticate` (or `Proxy-Authenticate`) header values, if
/// that scheme is offered.
pub fn challenge_in(values: &[String], scheme: &str) -> Option<String> {
    values.iter().find_map(|v| {
        let v = v.trim();
        let (s, rest) = v.split_once(' ').unwrap_or((v, ""));
        s.eq_ignore_ascii_case(scheme)
            .then(|| rest.trim().to_string())
    })
}

pub(super) fn offers(offered: &[String], scheme: &str) -> bool {
    offered.iter().any(|o| o.eq_ignore_ascii_case(scheme))
}

/// The mechanisms to try, in order, for `method` given what the server offers: Kerberos
/// first (bare when offered, else in Negotiate), then NTLM (in Negotiate, then bare), then
/// Basic over HTTPS. Kerberos and NTLM come only as far as `method` allows.
pub fn plan(method: AuthMethod, offered: &[String], https: bool) -> Vec<Mechanism> {
    let mut out = Vec::new();
    let kerberos = matches!(
        method,
        AuthMethod::Auto | AuthMethod::Kerberos | AuthMethod::Negotiate
    );
    if kerberos {
        if offers(offered, "Kerberos") && method != AuthMethod::Negotiate {
            out.push(Mechanism::Kerberos);
        } else if offers(offered, "Negotiate") {
            out.push(Mechanism::NegotiateKerberos);
        }
    }
    if matches!(method, AuthMethod::Auto | AuthMethod::Negotiate) && offers(offered, "Negotiate") {
        out.push(Mechanism::NegotiateNtlm);
    }
    if matches!(method, AuthMethod::Auto | AuthMethod::Ntlm) && offers(offered, "NTLM") {
        out.push(Mechanism::Ntlm);
    }
    if matches!(method, AuthMethod::Auto | AuthMethod::Basic) && https && offers(offered, "Basic") {
        out.push(Mechanism::Basic);
    }
    out
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
    fn mechanism(&self) -> Mechanism {
        Mechanism::Basic
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

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
    fn plans_put_kerberos_first_then_ntlm_then_basic_over_https() {
        use Mechanism::*;
        let o = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let all = o(&["Negotiate", "Kerberos", "NTLM", "Basic"]);
        assert_eq!(
            plan(AuthMethod::Auto, &all, true),
            vec![Kerberos, NegotiateNtlm, Ntlm, Basic]
        );
        assert_eq!(
            plan(AuthMethod::Auto, &o(&["Negotiate", "NTLM", "Basic"]), false),
            vec![NegotiateKerberos, NegotiateNtlm, Ntlm]
        );
        assert_eq!(
            plan(AuthMethod::Auto, &o(&["basic", "ntlm"]), true),
            vec![Ntlm, Basic]
        );
        assert_eq!(plan(AuthMethod::Auto, &o(&["Basic"]), false), vec![]);
        // Kerberos never falls back; Negotiate only to NTLM inside it.
        assert_eq!(plan(AuthMethod::Kerberos, &all, true), vec![Kerberos]);
        assert_eq!(
            plan(AuthMethod::Kerberos, &o(&["Negotiate"]), true),
            vec![NegotiateKerberos]
        );
        assert_eq!(
            plan(AuthMethod::Negotiate, &all, true),
            vec![NegotiateKerberos, NegotiateNtlm]
        );
        assert_eq!(
            plan(AuthMethod::Ntlm, &o(&["Negotiate", "Kerberos"]), true),
            vec![]
        );
    }
}
