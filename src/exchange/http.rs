//! HTTP connections to Exchange, one TCP connection at a time, stage by stage.
//!
//! A [`Connection`] resolves the name, connects (directly or through an HTTP proxy's CONNECT
//! tunnel, signing in to the proxy with Basic, NTLM or Negotiate as `Proxy/AuthenticationMethod`
//! says, through the same authenticators as Exchange's sign-in), does TLS against the system's trust store plus the
//! configured `TrustedCaFile`, and then speaks HTTP/1.1 with keep-alive on that one connection.
//! Exchange's Windows authentication (NTLM/Negotiate) must finish on a single connection, and
//! the validation engine must say which stage failed, so this layer owns the connection instead
//! of a pooled client. Every failure is an [`HttpError`] naming its stage. It never logs
//! headers or bodies (they carry credentials) and never follows redirects by itself.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::auth;
use crate::secrets::Secret;

/// Largest response body read from Exchange.
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// `http` or `https`, host, port and path of an Exchange endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Endpoint {
    /// Parse an absolute `http(s)://` URL.
    pub fn parse(url: &str) -> Result<Endpoint, HttpError> {
        let u = url::Url::parse(url).map_err(|e| HttpError::BadUrl(format!("'{url}': {e}")))?;
        let https = match u.scheme() {
            "https" => true,
            "http" => false,
            other => {
                return Err(HttpError::BadUrl(format!(
                    "'{url}': scheme '{other}' is not http or https"
                )))
            }
        };
        let host = match u.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            None => return Err(HttpError::BadUrl(format!("'{url}' has no host"))),
        };
        let port = u
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        let mut path = u.path().to_string();
        if let Some(q) = u.query() {
            path.push('?');
            path.push_str(q);
        }
        Ok(Endpoint {
            https,
            host,
            port,
            path,
        })
    }

    /// `https://host:port/path`.
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!(
            "{}://{}:{}{}",
            if self.https { "https" } else { "http" },
            host,
            self.port,
            self.path
        )
    }

    /// The `Host` header value: `host`, or `host:port` when the port is not the scheme's
    /// default. Also where a server's HTTPS side is, for Autodiscover, EWS and ActiveSync
    /// (`http://cas01/PowerShell/` → `cas01`, whose HTTPS is on 443).
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The same server with another path.
    pub fn with_path(&self, path: &str) -> Endpoint {
        Endpoint {
            path: path.to_string(),
            ..self.clone()
        }
    }
}

/// An HTTP proxy to tunnel through.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub host: String,
    pub port: u16,
    /// User and password for proxy authentication.
    pub credentials: Option<(String, Secret)>,
    /// How to sign in to the proxy (`Proxy/AuthenticationMethod`): `Basic` is sent up front;
    /// the others first learn the schemes from the proxy's 407 and sign in as [`AuthMethod`]
    /// allows (Kerberos inside Negotiate with the SPN `HTTP/<proxy host>`, NTLM, Basic).
    pub auth: AuthMethod,
}

/// How a session authenticates (see [`super::client::Session::connect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// From the schemes the server's first 401 offers: Kerberos (bare, or inside Negotiate),
    /// then NTLM (inside Negotiate, or bare), then Basic (HTTPS only). Kerberos gives way to
    /// NTLM only when it is unavailable, never after the domain refused the account.
    #[default]
    Auto,
    /// Kerberos only (the `Kerberos` scheme when offered, else inside Negotiate).
    Kerberos,
    /// SPNEGO: Kerberos inside, or NTLM when Kerberos is unavailable.
    Negotiate,
    Ntlm,
    Basic,
}

impl AuthMethod {
    /// The value as written in the configuration.
    pub fn as_config(self) -> &'static str {
        match self {
            AuthMethod::Auto => "Auto",
            AuthMethod::Kerberos => "Kerberos",
            AuthMethod::Negotiate => "Negotiate",
            AuthMethod::Ntlm => "Ntlm",
            AuthMethod::Basic => "Basic",
        }
    }
}

/// How to connect.
#[derive(Clone)]
pub struct ConnectOptions {
    pub proxy: Option<ProxyConfig>,
    /// How sessions opened with these options authenticate.
    pub auth: AuthMethod,
    /// Kerberos realm, KDC, SPN and renewal settings.
    pub kerberos: super::auth::kerberos::KerberosOptions,
    /// Bind NTLM and Kerberos sign-ins over HTTPS to the server's certificate (Extended
    /// Protection); off for a load balancer that re-encrypts with another certificate.
    pub channel_binding: bool,
    pub tls: Arc<rustls::ClientConfig>,
    pub connect_timeout: Duration,
    /// Bound on one request/response exchange.
    pub request_timeout: Duration,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("proxy", &self.proxy)
            .field("auth", &self.auth)
            .field("kerberos", &self.kerberos)
            .field("channel_binding", &self.channel_binding)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl ConnectOptions {
    /// Options trusting the system store plus `trusted_ca` (PEM), with default timeouts.
    pub fn new(
        trusted_ca: Option<&Path>,
        proxy: Option<ProxyConfig>,
    ) -> Result<ConnectOptions, HttpError> {
        Ok(ConnectOptions {
            proxy,
            auth: AuthMethod::Auto,
            kerberos: super::auth::kerberos::KerberosOptions {
                renew_before_expiry_secs: 300,
                ..Default::default()
            },
            channel_binding: true,
            tls: tls_client_config(trusted_ca)?,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
        })
    }
}

/// What went wrong with TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFailure {
    /// The chain does not lead to a trusted CA.
    UnknownIssuer,
    /// The certificate is not for this name.
    NameMismatch,
    Expired,
    NotYetValid,
    Revoked,
    /// The server did not speak TLS (e.g. plain HTTP on 443).
    NotTls,
    /// Anything else, with rustls's words.
    Other(String),
}

/// A failure, by the stage it happened in.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    #[error("invalid URL {0}")]
    BadUrl(String),
    #[error("the name '{host}' could not be resolved: {detail}")]
    Dns { host: String, detail: String },
    #[error("connection to {addr} was refused (nothing listens on port {port}, or a firewall rejects it)", port = .addr.port())]
    Refused { addr: SocketAddr },
    #[error(
        "connection to {target} timed out after {secs} s (a firewall may be dropping packets)"
    )]
    ConnectTimeout { target: String, secs: u64 },
    #[error("could not connect to {target}: {detail}")]
    Connect { target: String, detail: String },
    #[error("the proxy {proxy} could not be reached: {detail}")]
    ProxyUnreachable { proxy: String, detail: String },
    #[error("the proxy {proxy} rejected the credentials (HTTP {status}); check the proxy user and password")]
    ProxyAuth { proxy: String, status: u16 },
    #[error("the proxy {proxy} asks for {offered} authentication, which Proxy/AuthenticationMethod {method} does not allow; set Proxy/AuthenticationMethod to Auto or to one the proxy offers")]
    ProxyAuthScheme {
        proxy: String,
        offered: String,
        method: &'static str,
    },
    #[error("signing in to the proxy {proxy} failed: {detail}")]
    ProxySignIn { proxy: String, detail: String },
    #[error("the proxy {proxy} refused to connect to {target} (HTTP {status}{}){hint}", reason_suffix(.reason))]
    ProxyRefused {
        proxy: String,
        target: String,
        status: u16,
        reason: String,
        hint: String,
    },
    #[error("TLS with {host} failed: {}", tls_text(.failure, .detail))]
    Tls {
        host: String,
        failure: TlsFailure,
        detail: String,
    },
    #[error("the trusted CA file {path} could not be used: {detail}")]
    TrustedCa { path: String, detail: String },
    #[error("no answer from {target} within {secs} s")]
    Timeout { target: String, secs: u64 },
    #[error("the connection to {target} broke: {detail}")]
    Broken { target: String, detail: String },
}

fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(" {reason}")
    }
}

fn tls_text(f: &TlsFailure, detail: &str) -> String {
    let what = match f {
        TlsFailure::UnknownIssuer => "the certificate is not issued by a trusted CA; add the issuing CA to TrustedCaFile or the system's trust store",
        TlsFailure::NameMismatch => "the certificate is not valid for this name; use the name on the certificate, or get a certificate for this name",
        TlsFailure::Expired => "the certificate has expired; renew it on the server",
        TlsFailure::NotYetValid => "the certificate is not valid yet; check the server's and this machine's clocks",
        TlsFailure::Revoked => "the certificate has been revoked",
        TlsFailure::NotTls => "the server did not answer with TLS (plain HTTP on an HTTPS port?)",
        TlsFailure::Other(_) => "the handshake failed",
    };
    if detail.is_empty() {
        what.to_string()
    } else {
        format!("{what} ({detail})")
    }
}

/// Accepts a server certificate that the platform's verifier (its own trust store) or the
/// WebPKI verifier over the `TrustedCaFile` roots accepts; the platform's error otherwise.
#[derive(Debug)]
struct EitherVerifier {
    platform: rustls_platform_verifier::Verifier,
    extra: Arc<rustls::client::WebPkiServerVerifier>,
}

impl rustls::client::danger::ServerCertVerifier for EitherVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self.platform.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(v) => Ok(v),
            Err(platform_err) => self
                .extra
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map_err(|_| platform_err),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.extra.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.extra.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.extra.supported_verify_schemes()
    }
}

/// A rustls client configuration: the platform's trust store plus the CAs in `trusted_ca`.
pub fn tls_client_config(
    trusted_ca: Option<&Path>,
) -> Result<Arc<rustls::ClientConfig>, HttpError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut extra: Vec<CertificateDer<'static>> = Vec::new();
    if let Some(path) = trusted_ca {
        let err = |detail: String| HttpError::TrustedCa {
            path: path.display().to_string(),
            detail,
        };
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        for c in CertificateDer::pem_slice_iter(&bytes) {
            extra.push(c.map_err(|e| err(format!("not a PEM certificate file: {e}")))?);
        }
        if extra.is_empty() {
            return Err(err(
                "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
            ));
        }
    }
    let ca_err = |detail: String| HttpError::TrustedCa {
        path: trusted_ca
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        detail,
    };
    let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> =
        match rustls_platform_verifier::Verifier::new_with_extra_roots(
            extra.clone(),
            provider.clone(),
        ) {
            Ok(v) => Arc::new(v),
            // A platform that cannot add roots to its own chain engine (wine's crypt32 answers
            // E_INVALIDARG): its own roots through the platform, TrustedCaFile's through WebPKI.
            Err(platform_err) if !extra.is_empty() => {
                let mut roots = rustls::RootCertStore::empty();
                for c in extra {
                    roots.add(c).map_err(|e| ca_err(e.to_string()))?;
                }
                let extra_verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider.clone(),
                )
                .build()
                .map_err(|e| ca_err(e.to_string()))?;
                let platform = rustls_platform_verifier::Verifier::new(provider.clone())
                    .map_err(|e| ca_err(format!("{platform_err}; and without it: {e}")))?;
                tracing::debug!(error = %platform_err, "the platform verifier takes no extra roots; TrustedCaFile is checked with WebPKI");
                Arc::new(EitherVerifier {
                    platform,
                    extra: extra_verifier,
                })
            }
            Err(e) => return Err(ca_err(e.to_string())),
        };
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Tls {
            host: String::new(),
            failure: TlsFailure::Other(e.to_string()),
            detail: String::new(),
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

fn classify_tls(host: &str, e: &std::io::Error) -> HttpError {
    let rustls_err = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    let (failure, detail) = match rustls_err {
        Some(rustls::Error::InvalidCertificate(ce)) => {
            use rustls::CertificateError as C;
            let f = match ce {
                C::UnknownIssuer => TlsFailure::UnknownIssuer,
                C::NotValidForName | C::NotValidForNameContext { .. } => TlsFailure::NameMismatch,
                C::Expired | C::ExpiredContext { .. } => TlsFailure::Expired,
                C::NotValidYet | C::NotValidYetContext { .. } => TlsFailure::NotYetValid,
                C::Revoked => TlsFailure::Revoked,
                other => TlsFailure::Other(format!("{other:?}")),
            };
            (f, format!("{ce}"))
        }
        Some(rustls::Error::InvalidMessage(m)) => (TlsFailure::NotTls, format!("{m:?}")),
        Some(other) => (TlsFailure::Other(other.to_string()), other.to_string()),
        None if e.kind() == std::io::ErrorKind::InvalidData => (TlsFailure::NotTls, e.to_string()),
        None => (TlsFailure::Other(e.to_string()), e.to_string()),
    };
    let detail = match &failure {
        TlsFailure::Other(_) => detail,
        _ => detail.replace("invalid peer certificate: ", ""),
    };
    HttpError::Tls {
        host: host.to_string(),
        failure,
        detail,
    }
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, HttpError> {
    match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => {
            let v: Vec<SocketAddr> = addrs.collect();
            if v.is_empty() {
                Err(HttpError::Dns {
                    host: host.to_string(),
                    detail: "no addresses".into(),
                })
            } else {
                Ok(v)
            }
        }
        Err(e) => Err(HttpError::Dns {
            host: host.to_string(),
            detail: e.to_string(),
        }),
    }
}

/// Resolve a host name to its addresses (for the validation engine's DNS check).
pub async fn resolve_all(host: &str, port: u16) -> Result<Vec<SocketAddr>, HttpError> {
    resolve(host, port).await
}

async fn tcp_connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, HttpError> {
    let addrs = resolve(host, port).await?;
    let mut last = None;
    for addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = Some(HttpError::Refused { addr })
            }
            Ok(Err(e)) => {
                last = Some(HttpError::Connect {
                    target: addr.to_string(),
                    detail: e.to_string(),
                })
            }
            Err(_) => {
                last = Some(HttpError::ConnectTimeout {
                    target: addr.to_string(),
                    secs: timeout.as_secs(),
                })
            }
        }
    }
    Err(last.unwrap_or_else(|| HttpError::Dns {
        host: host.to_string(),
        detail: "no addresses".into(),
    }))
}

/// The proxy's answer to one CONNECT.
struct ProxyAnswer {
    status: u16,
    reason: String,
    /// `Proxy-Authenticate` values.
    challenges: Vec<String>,
    /// The proxy closes the connection after this answer.
    close: bool,
}

/// Send one CONNECT (with `authorization` as `Proxy-Authorization`) and read the answer's head,
/// and the body of a refusal, so the connection can carry the next CONNECT of a handshake.
async fn connect_once(
    s: &mut TcpStream,
    proxy_name: &str,
    target: &str,
    authorization: Option<&str>,
    timeout: Duration,
) -> Result<ProxyAnswer, HttpError> {
    let mut req =
        format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nProxy-Connection: Keep-Alive\r\n");
    if let Some(h) = authorization {
        req.push_str(&format!("Proxy-Authorization: {h}\r\n"));
    }
    req.push_str("\r\n");
    let broken = |e: std::io::Error| HttpError::ProxyUnreachable {
        proxy: proxy_name.to_string(),
        detail: e.to_string(),
    };
    let exchange = async {
        s.write_all(req.as_bytes()).await.map_err(broken)?;
        // Read the response head byte by byte, so nothing of the tunnel is consumed.
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() > 16 * 1024 {
                return Err(HttpError::ProxyUnreachable {
                    proxy: proxy_name.to_string(),
                    detail: "the proxy's answer to CONNECT is too long".into(),
                });
            }
            let n = s.read(&mut b).await.map_err(broken)?;
            if n == 0 {
                return Err(HttpError::ProxyUnreachable {
                    proxy: proxy_name.to_string(),
                    detail: "the proxy closed the connection during CONNECT".into(),
                });
            }
            head.push(b[0]);
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let _version = parts.next();
        let status: u16 = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
        let reason = parts.next().unwrap_or_default().trim().to_string();
        let mut challenges = Vec::new();
        let mut close = status_line.starts_with("HTTP/1.0");
        let mut length = 0usize;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "proxy-authenticate" => challenges.push(value.to_string()),
                "connection" | "proxy-connection" => {
                    if value.eq_ignore_ascii_case("close") {
                        close = true;
                    } else if value.eq_ignore_ascii_case("keep-alive") {
                        close = false;
                    }
                }
                "content-length" => length = value.parse().unwrap_or(0),
                "transfer-encoding" => close = true,
                _ => {}
            }
        }
        // A refusal's body (an error page) is read away; a 2xx has none: the tunnel follows.
        if !(200..300).contains(&status) && !close {
            if length > 1024 * 1024 {
                close = true;
            } else {
                let mut body = vec![0u8; length];
                s.read_exact(&mut body).await.map_err(broken)?;
            }
        }
        Ok(ProxyAnswer {
            status,
            reason,
            challenges,
            close,
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| HttpError::ProxyUnreachable {
            proxy: proxy_name.to_string(),
            detail: format!("no answer to CONNECT within {} s", timeout.as_secs()),
        })?
}

/// Signing in to a proxy on one connection to it: the handshake's state, the same for a
/// CONNECT tunnel and for plain-HTTP requests sent through the proxy. `Basic` goes up front;
/// the other methods learn the schemes from the first 407 and walk [`auth::plan`]'s
/// mechanisms (Kerberos gives way to the next when no KDC answers).
struct ProxyLogin {
    name: String,
    host: String,
    method: AuthMethod,
    creds: Option<auth::Credentials>,
    /// The connection options for the proxy's sign-in: its own SPN (`HTTP/<proxy host>`), no
    /// channel binding (the connection to the proxy is plain).
    opts: ConnectOptions,
    current: Option<Box<dyn auth::Authenticator>>,
    plan: Option<std::collections::VecDeque<auth::Mechanism>>,
}

impl ProxyLogin {
    fn new(proxy: &ProxyConfig, opts: &ConnectOptions) -> ProxyLogin {
        let mut proxy_opts = opts.clone();
        proxy_opts.kerberos.spn = None;
        proxy_opts.channel_binding = false;
        let creds = proxy
            .credentials
            .as_ref()
            .map(|(user, password)| auth::Credentials {
                user: user.clone(),
                password: password.clone(),
            });
        let current: Option<Box<dyn auth::Authenticator>> = match (&creds, proxy.auth) {
            (Some(c), AuthMethod::Basic) => Some(Box::new(auth::Basic::new(c))),
            _ => None,
        };
        ProxyLogin {
            name: format!("{}:{}", proxy.host, proxy.port),
            host: proxy.host.clone(),
            method: proxy.auth,
            creds,
            opts: proxy_opts,
            current,
            plan: None,
        }
    }

    fn failed(&self, e: auth::AuthError) -> HttpError {
        HttpError::ProxySignIn {
            proxy: self.name.clone(),
            detail: e.to_string(),
        }
    }

    fn refused(&self) -> HttpError {
        HttpError::ProxyAuth {
            proxy: self.name.clone(),
            status: 407,
        }
    }

    /// The `Proxy-Authorization` for a request that answers no challenge: Basic's every time,
    /// nothing on a connection a handshake already signed in.
    fn header(&mut self) -> Result<Option<String>, HttpError> {
        let Some(a) = self.current.as_mut() else {
            return Ok(None);
        };
        match a.next(None) {
            Ok(auth::Step::Send(h)) => Ok(Some(h)),
            Ok(_) => Ok(None),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// The proxy let the request through: check its last token, if the mechanism has one.
    fn accepted(&mut self, challenges: &[String]) -> Result<(), HttpError> {
        if let Some(a) = self.current.as_mut() {
            let last = auth::challenge_in(challenges, a.scheme());
            if let Err(e) = a.accepted(last.as_deref()) {
                return Err(self.failed(e));
            }
        }
        Ok(())
    }

    /// The proxy answered 407: the header to send again with, and whether that must go on a
    /// new connection (the proxy closed this one before a handshake began).
    async fn challenged(
        &mut self,
        challenges: &[String],
        close: bool,
    ) -> Result<(Option<String>, bool), HttpError> {
        let Some(c) = self.creds.clone() else {
            return Err(self.refused());
        };
        // A handshake under way: answer the proxy's challenge on this connection.
        if let Some(a) = self.current.as_mut() {
            let token = auth::challenge_in(challenges, a.scheme()).unwrap_or_default();
            match a.next(Some(&token)) {
                Ok(auth::Step::Send(h)) if !close => return Ok((Some(h), false)),
                Ok(auth::Step::Send(_)) => {
                    return Err(HttpError::ProxyUnreachable {
                        proxy: self.name.clone(),
                        detail: format!(
                            "the proxy closed the connection in the middle of the {} handshake",
                            a.scheme()
                        ),
                    })
                }
                Ok(_) => {
                    // Refused: the next mechanism of the plan, if any, else the error.
                    if self.plan.as_ref().is_none_or(|p| p.is_empty()) {
                        return Err(self.refused());
                    }
                }
                Err(e) => return Err(self.failed(e)),
            }
        }
        let method = self.method;
        let plan = self
            .plan
            .get_or_insert_with(|| auth::plan(method, &auth::schemes_in(challenges), true).into());
        if plan.is_empty() {
            let offered = auth::schemes_in(challenges);
            return Err(HttpError::ProxyAuthScheme {
                proxy: self.name.clone(),
                offered: if offered.is_empty() {
                    "no".into()
                } else {
                    offered.join(", ")
                },
                method: method.as_config(),
            });
        }
        let info = auth::ConnectionInfo {
            authority: self.name.clone(),
            https: false,
            tls_server_end_point: None,
            certificate: None,
        };
        // The next mechanism that can start: Kerberos gives way when no KDC answers.
        while let Some(mech) = self.plan.as_mut().and_then(|p| p.pop_front()) {
            let mut a = auth::authenticator(mech, &c, &self.host, &self.opts);
            match a.prepare(&info).await {
                Ok(()) => {
                    let header = match a.next(None) {
                        Ok(auth::Step::Send(h)) => Some(h),
                        Ok(_) => None,
                        Err(e) => return Err(self.failed(e)),
                    };
                    self.current = Some(a);
                    return Ok((header, close));
                }
                Err(auth::AuthError::Kerberos(e))
                    if e.is_unavailable() && self.plan.as_ref().is_some_and(|p| !p.is_empty()) =>
                {
                    tracing::info!(proxy = %self.name, error = %e, "Kerberos to the proxy is unavailable; trying the next mechanism");
                }
                Err(e) => return Err(self.failed(e)),
            }
        }
        Err(self.refused())
    }
}

/// Rounds of 407 a sign-in to the proxy may take.
const PROXY_ROUNDS: usize = 12;

/// Open a CONNECT tunnel through `proxy` to `host:port`, signing in to the proxy as its
/// [`ProxyConfig::auth`] says. A handshake (NTLM, Negotiate) runs on one connection; each
/// mechanism starts on a new one when the proxy closed the last.
async fn proxy_tunnel(
    proxy: &ProxyConfig,
    host: &str,
    port: u16,
    opts: &ConnectOptions,
) -> Result<TcpStream, HttpError> {
    let timeout = opts.connect_timeout;
    let mut login = ProxyLogin::new(proxy, opts);
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut s = proxy_connect(proxy, timeout).await?;
    let mut header = login.header()?;
    for _ in 0..PROXY_ROUNDS {
        let ans = connect_once(&mut s, &login.name, &target, header.as_deref(), timeout).await?;
        match ans.status {
            200..=299 => {
                login.accepted(&ans.challenges)?;
                return Ok(s);
            }
            407 => {
                let (h, reconnect) = login.challenged(&ans.challenges, ans.close).await?;
                header = h;
                if reconnect {
                    s = proxy_connect(proxy, timeout).await?;
                }
            }
            // tinyproxy answers a wrong password with 401 and a missing one with 407.
            401 => {
                return Err(HttpError::ProxyAuth {
                    proxy: login.name,
                    status: 401,
                })
            }
            status => {
                let hint = if status == 403 {
                    format!("; the proxy's rules do not allow CONNECT to port {port} — ask for it to be allowed (e.g. tinyproxy ConnectPort, squid SSL_ports)")
                } else if matches!(status, 500 | 502 | 503 | 504) {
                    format!("; the proxy could not reach {target} itself")
                } else {
                    String::new()
                };
                return Err(HttpError::ProxyRefused {
                    proxy: login.name,
                    target,
                    status,
                    reason: ans.reason,
                    hint,
                });
            }
        }
    }
    Err(HttpError::ProxySignIn {
        proxy: login.name,
        detail: format!("the proxy kept asking for authentication after {PROXY_ROUNDS} rounds"),
    })
}

/// A TCP connection to the proxy itself.
async fn proxy_connect(proxy: &ProxyConfig, timeout: Duration) -> Result<TcpStream, HttpError> {
    tcp_connect(&proxy.host, proxy.port, timeout)
        .await
        .map_err(|e| HttpError::ProxyUnreachable {
            proxy: format!("{}:{}", proxy.host, proxy.port),
            detail: e.to_string(),
        })
}

/// Any stream a connection can run on.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A response, with its body read.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    /// All values of a header, e.g. every `WWW-Authenticate` scheme offered.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }
}

/// One HTTP/1.1 connection to one Exchange server.
pub struct Connection {
    endpoint: Endpoint,
    sender: SendRequest<Full<Bytes>>,
    request_timeout: Duration,
    /// The TLS leaf certificate the server presented on this connection (DER), if HTTPS.
    leaf: Option<Vec<u8>>,
    /// Plain HTTP through a proxy: requests go to the proxy in absolute form, signed in to it.
    forward: Option<Forward>,
}

/// A plain-HTTP connection through a proxy: where it goes and the sign-in to it.
struct Forward {
    proxy: ProxyConfig,
    connect_timeout: Duration,
    login: ProxyLogin,
}

/// An HTTP/1.1 connection on `stream`, its driver spawned.
async fn handshake(
    stream: Box<dyn Io>,
    target: String,
) -> Result<SendRequest<Full<Bytes>>, HttpError> {
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| HttpError::Broken {
            target,
            detail: e.to_string(),
        })?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

impl Connection {
    /// Connect to `endpoint`'s server (its path is not used here).
    /// Through a proxy, HTTPS goes through a CONNECT tunnel and plain HTTP to the proxy as
    /// absolute-form requests (proxies commonly refuse CONNECT to port 80).
    pub async fn open(endpoint: &Endpoint, opts: &ConnectOptions) -> Result<Connection, HttpError> {
        let mut forward = None;
        let tcp = match &opts.proxy {
            Some(p) if !endpoint.https => {
                forward = Some(Forward {
                    proxy: p.clone(),
                    connect_timeout: opts.connect_timeout,
                    login: ProxyLogin::new(p, opts),
                });
                proxy_connect(p, opts.connect_timeout).await?
            }
            Some(p) => proxy_tunnel(p, &endpoint.host, endpoint.port, opts).await?,
            None => tcp_connect(&endpoint.host, endpoint.port, opts.connect_timeout).await?,
        };
        let mut leaf = None;
        let stream: Box<dyn Io> = if endpoint.https {
            let name = ServerName::try_from(endpoint.host.clone()).map_err(|e| {
                HttpError::BadUrl(format!(
                    "'{}' is not a valid TLS server name: {e}",
                    endpoint.host
                ))
            })?;
            let connector = TlsConnector::from(opts.tls.clone());
            let tls = tokio::time::timeout(opts.connect_timeout, connector.connect(name, tcp))
                .await
                .map_err(|_| HttpError::Timeout {
                    target: endpoint.authority(),
                    secs: opts.connect_timeout.as_secs(),
                })?
                .map_err(|e| classify_tls(&endpoint.host, &e))?;
            leaf = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.as_ref().to_vec());
            Box::new(tls)
        } else {
            Box::new(tcp)
        };
        let sender = handshake(stream, endpoint.authority()).await?;
        Ok(Connection {
            endpoint: endpoint.clone(),
            sender,
            request_timeout: opts.request_timeout,
            leaf,
            forward,
        })
    }

    /// The `tls-server-end-point` channel binding data of this connection (RFC 5929), from the
    /// certificate the server presented on it; `None` over plain HTTP.
    pub fn tls_server_end_point(&self) -> Option<Vec<u8>> {
        self.leaf
            .as_deref()
            .map(crate::wire::kerberos::crypto::tls_server_end_point)
    }

    /// The certificate the server presented on this connection, described for messages.
    pub fn certificate(&self) -> Option<CertInfo> {
        self.leaf.as_deref().and_then(describe_certificate)
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Whether the server has closed this connection.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Send one request on this connection and read the whole response. `Host` is set here.
    /// Through a proxy (plain HTTP), the request goes in absolute form with the proxy's
    /// sign-in, sent again for each 407 of its handshake.
    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> Result<HttpResponse, HttpError> {
        if self.forward.is_none() {
            return self.send_once(req).await;
        }
        let (parts, body) = req.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let uri: hyper::Uri = format!("http://{}{path}", self.endpoint.authority())
            .parse()
            .map_err(|e| HttpError::BadUrl(format!("{path}: {e}")))?;
        let mut header = match self.forward.as_mut() {
            Some(f) => f.login.header()?,
            None => None,
        };
        for _ in 0..PROXY_ROUNDS {
            let mut r = Request::new(body.clone());
            *r.method_mut() = parts.method.clone();
            *r.uri_mut() = uri.clone();
            *r.headers_mut() = parts.headers.clone();
            if let Some(h) = &header {
                if let Ok(v) = h.parse() {
                    r.headers_mut()
                        .insert(hyper::header::PROXY_AUTHORIZATION, v);
                }
            }
            let resp = self.send_once(r).await?;
            let Some(f) = self.forward.as_mut() else {
                return Ok(resp);
            };
            let challenges = resp.header_values("proxy-authenticate");
            if resp.status != 407 {
                f.login.accepted(&challenges)?;
                return Ok(resp);
            }
            let close = resp
                .header_values("connection")
                .iter()
                .any(|v| v.eq_ignore_ascii_case("close"))
                || resp
                    .header_values("proxy-connection")
                    .iter()
                    .any(|v| v.eq_ignore_ascii_case("close"))
                || self.sender.is_closed();
            let (h, reconnect) = f.login.challenged(&challenges, close).await?;
            header = h;
            if reconnect {
                let tcp = proxy_connect(&f.proxy, f.connect_timeout).await?;
                self.sender = handshake(Box::new(tcp), self.endpoint.authority()).await?;
            }
        }
        Err(HttpError::ProxySignIn {
            proxy: self
                .forward
                .as_ref()
                .map(|f| f.login.name.clone())
                .unwrap_or_default(),
            detail: format!("the proxy kept asking for authentication after {PROXY_ROUNDS} rounds"),
        })
    }

    async fn send_once(
        &mut self,
        mut req: Request<Full<Bytes>>,
    ) -> Result<HttpResponse, HttpError> {
        let target = self.endpoint.authority();
        if let Ok(h) = target.parse() {
            req.headers_mut().insert(hyper::header::HOST, h);
        }
        let secs = self.request_timeout.as_secs();
        let exchange = async {
            self.sender.ready().await.map_err(|e| HttpError::Broken {
                target: target.clone(),
                detail: e.to_string(),
            })?;
            let resp: Response<hyper::body::Incoming> = self
                .sender
                .send_request(req)
                .await
                .map_err(|e| HttpError::Broken {
                    target: target.clone(),
                    detail: e.to_string(),
                })?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, MAX_RESPONSE)
                .collect()
                .await
                .map_err(|e| HttpError::Broken {
                    target: target.clone(),
                    detail: e.to_string(),
                })?
                .to_bytes();
            Ok(HttpResponse {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.request_timeout, exchange)
            .await
            .map_err(|_| HttpError::Timeout {
                target: self.endpoint.authority(),
                secs,
            })?
    }
}

/// Plain HTTP through the proxy: one request for `endpoint`'s path, sent to the proxy in
/// absolute form with its sign-in; the status it answered (a 502-504 is the proxy's own: it
/// could not reach the server). `None` when the endpoint is HTTPS or no proxy is configured
/// (then [`open_tcp`]'s CONNECT is the check).
pub async fn forward_probe(
    endpoint: &Endpoint,
    opts: &ConnectOptions,
) -> Option<Result<u16, HttpError>> {
    if endpoint.https || opts.proxy.is_none() {
        return None;
    }
    let run = async {
        let mut c = Connection::open(endpoint, opts).await?;
        let req = Request::get(endpoint.path.as_str())
            .body(Full::new(Bytes::new()))
            .map_err(|e| HttpError::BadUrl(e.to_string()))?;
        Ok(c.send(req).await?.status)
    };
    Some(run.await)
}

/// A TCP stream to `endpoint`'s server: direct, or through the proxy's CONNECT tunnel.
pub async fn open_tcp(endpoint: &Endpoint, opts: &ConnectOptions) -> Result<TcpStream, HttpError> {
    match &opts.proxy {
        Some(p) => proxy_tunnel(p, &endpoint.host, endpoint.port, opts).await,
        None => tcp_connect(&endpoint.host, endpoint.port, opts.connect_timeout).await,
    }
}

/// Facts about a server certificate, for error messages.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    /// DNS names and IP addresses in subjectAltName.
    pub names: Vec<String>,
    pub self_signed: bool,
}

impl std::fmt::Display for CertInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "subject {}, issuer {}, valid {} to {}, names {}",
            self.subject,
            self.issuer,
            self.not_before,
            self.not_after,
            if self.names.is_empty() {
                "(none)".to_string()
            } else {
                self.names.join(", ")
            }
        )
    }
}

/// Accepts any certificate and keeps the chain: used only to *read* a certificate that
/// failed verification, so the error can describe it. Nothing is ever sent over it.
#[derive(Debug)]
struct RecordingVerifier {
    seen: std::sync::Mutex<Vec<CertificateDer<'static>>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(end_entity.clone().into_owned());
        }
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn describe_certificate(der: &[u8]) -> Option<CertInfo> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push((*d).to_string()),
                GeneralName::IPAddress(ip) => {
                    if let Ok(b) = <[u8; 4]>::try_from(*ip) {
                        names.push(std::net::Ipv4Addr::from(b).to_string());
                    } else if let Ok(b) = <[u8; 16]>::try_from(*ip) {
                        names.push(std::net::Ipv6Addr::from(b).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let fmt_time = |t: &x509_parser::time::ASN1Time| {
        t.to_datetime()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| t.to_string())
    };
    Some(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: fmt_time(&cert.validity().not_before),
        not_after: fmt_time(&cert.validity().not_after),
        names,
        self_signed: cert.subject() == cert.issuer(),
    })
}

/// The certificate `endpoint`'s server presents, read without verifying it (for describing a
/// TLS failure). `None` when no TLS handshake could be made at all.
pub async fn peer_certificate(endpoint: &Endpoint, opts: &ConnectOptions) -> Option<CertInfo> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(RecordingVerifier {
        seen: std::sync::Mutex::new(Vec::new()),
        provider: provider.clone(),
    });
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    let tcp = open_tcp(endpoint, opts).await.ok()?;
    let name = ServerName::try_from(endpoint.host.clone()).ok()?;
    let connector = TlsConnector::from(Arc::new(cfg));
    let _tls = tokio::time::timeout(opts.connect_timeout, connector.connect(name, tcp))
        .await
        .ok()?
        .ok()?;
    let seen = verifier.seen.lock().ok()?;
    describe_certificate(seen.first()?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_and_print() {
        let e = Endpoint::parse("https://cas01.contoso.com/PowerShell/").unwrap();
        assert_eq!(
            (e.https, e.host.as_str(), e.port, e.path.as_str()),
            (true, "cas01.contoso.com", 443, "/PowerShell/")
        );
        assert_eq!(e.authority(), "cas01.contoso.com");
        let e = Endpoint::parse("http://127.0.0.1:5985/wsman?PSVersion=5.1").unwrap();
        assert_eq!(e.authority(), "127.0.0.1:5985");
        assert_eq!(e.path, "/wsman?PSVersion=5.1");
        assert_eq!(
            Endpoint::parse("https://[::1]:4443/x").unwrap().authority(),
            "[::1]:4443"
        );
        assert!(Endpoint::parse("ftp://x").is_err());
    }

    #[test]
    fn trusted_ca_file_errors_are_clear() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not a certificate").unwrap();
        let e = tls_client_config(Some(&p)).unwrap_err().to_string();
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let e = tls_client_config(Some(&dir.path().join("missing.pem")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("could not be used"), "{e}");
    }
}
