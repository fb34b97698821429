//! The lab's Microsoft cloud: one Entra ID tenant with one app registration, and the Intune
//! part of Microsoft Graph, on loopback over the lab's TLS (the lab's CA signs their
//! certificate).
//!
//! Two listeners, as the real cloud has two hosts: the *authority* (`login.microsoftonline.com`:
//! OpenID discovery, keys, the v2.0 token endpoint — [`entra`]) and *Graph*
//! (`graph.microsoft.com`: `GET /v1.0/deviceManagement/managedDevices` — [`graph`]). The app
//! has a client secret and a self-signed RSA-2048 certificate made at lab start (the key once
//! per process: RSA key generation is slow in debug builds); both are written owner-only into
//! the lab folder (PEM certificate, PEM PKCS#8 key, a PFX — [`pfx`] — and the
//! secret) and listed in `lab.json`'s `cloud` section. The app's application permission
//! `DeviceManagementManagedDevices.Read.All` is granted by default.
//!
//! Switches (the control endpoint's `/cloud/…`, or [`crate::lab::Lab`]'s methods): revoke the
//! permission, answer Graph with N × 429 and a `Retry-After`, an outage (503 or connection
//! refused) of Graph or of the authority, expire every token issued so far, expire the
//! secret, change one managed device's compliance.
//!
//! The managed devices are made once at lab start from the org's ActiveSync devices
//! ([`graph::Directory`]), deterministically from the seed: Intune is its own system and keeps
//! its records when Exchange forgets a device. This module never calls out and listens only
//! on the lab's address; it never logs a secret, a key or a token.

pub mod entra;
pub mod graph;
pub mod pfx;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use super::http::Resp;
use super::org::{Org, SplitMix};
use super::{write_state, LabError, Shared};

/// The application permission Graph's `managedDevices` needs.
pub const PERMISSION: &str = "DeviceManagementManagedDevices.Read.All";

/// Microsoft Graph's own application id (a scope may name the resource by it).
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// The tenant's `onmicrosoft.com` domain (a token URL may name the tenant by it).
pub const TENANT_DOMAIN: &str = "contosolab.onmicrosoft.com";

/// `lab.json`'s `cloud` section: what a client needs to sign in and read Graph.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CloudInfo {
    /// The tenant's GUID.
    pub tenant_id: String,
    /// The tenant's verified domain, also accepted where the tenant id goes.
    #[serde(default)]
    pub tenant_domain: String,
    /// `https://<host:port>` (what `Cloud/Authority` takes); the token URL is
    /// `<authority>/<tenant>/oauth2/v2.0/token`.
    pub authority: String,
    /// `https://<host:port>` (what `Cloud/GraphUrl` takes); the scope is `<graph_url>/.default`.
    pub graph_url: String,
    /// The app registration's client id.
    pub application_id: String,
    /// The client secret, alone in the file (no newline).
    pub client_secret_file: PathBuf,
    /// The app's certificate, PEM.
    pub certificate_file: PathBuf,
    /// Its private key, PEM PKCS#8 (`-----BEGIN PRIVATE KEY-----`).
    pub private_key_file: PathBuf,
    /// Certificate and key as PKCS#12, encrypted with `pfx_password`.
    pub pfx_file: PathBuf,
    /// The PFX's password (a lab secret, like the accounts' passwords in `lab.json`).
    #[serde(default)]
    pub pfx_password: String,
    /// SHA-1 of the certificate (DER), upper-case hex: what Entra shows as its thumbprint.
    #[serde(default)]
    pub certificate_thumbprint: String,
}

/// How a cloud service is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outage {
    #[default]
    Off,
    /// Every request is answered 503 (Graph's `ServiceUnavailable`, no `Retry-After`).
    Unavailable,
    /// The listener is closed: connections are refused.
    Refused,
}

impl Outage {
    pub fn parse(s: &str) -> Option<Outage> {
        Some(match s {
            "off" | "none" | "0" => Outage::Off,
            "503" | "unavailable" => Outage::Unavailable,
            "refuse" | "refused" => Outage::Refused,
            _ => return None,
        })
    }
    fn to_u8(self) -> u8 {
        match self {
            Outage::Off => 0,
            Outage::Unavailable => 1,
            Outage::Refused => 2,
        }
    }
    fn from_u8(v: u8) -> Outage {
        match v {
            1 => Outage::Unavailable,
            2 => Outage::Refused,
            _ => Outage::Off,
        }
    }
}

/// Which of the cloud's two hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The authority: discovery and tokens.
    Login,
    /// Microsoft Graph.
    Graph,
}

impl Service {
    pub fn parse(s: &str) -> Option<Service> {
        match s {
            "login" | "authority" | "entra" => Some(Service::Login),
            "graph" => Some(Service::Graph),
            _ => None,
        }
    }
}

/// One listener: its address and its accept loop while it runs.
struct Listener {
    addr: SocketAddr,
    outage: AtomicU8,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// The app registration's credentials as the tenant knows them.
pub(crate) struct AppRegistration {
    pub application_id: String,
    pub secret: String,
    /// The registered certificate, DER.
    pub cert_der: Vec<u8>,
    /// Its RSA public key (PKCS#1 `RSAPublicKey`, DER).
    pub cert_public_key: Vec<u8>,
    pub sha1: [u8; 20],
    pub sha256: [u8; 32],
}

/// The lab's cloud: tenant, app, token keys, switches, managed devices, listeners.
pub struct Cloud {
    pub(crate) tenant_id: String,
    pub(crate) app: AppRegistration,
    pub(crate) authority: String,
    pub(crate) graph_url: String,
    /// Whether the app holds [`PERMISSION`].
    pub(crate) permission: AtomicBool,
    /// Whether the client secret has expired (AADSTS7000222).
    pub(crate) secret_expired: AtomicBool,
    /// Graph requests still to be answered 429.
    pub(crate) throttle: AtomicU64,
    /// The `Retry-After` seconds those 429s carry.
    pub(crate) retry_after: AtomicU64,
    /// Tokens whose serial is below this are refused as expired.
    pub(crate) revoked_below: AtomicU64,
    pub(crate) token_serial: AtomicU64,
    /// Client assertion ids seen, with their expiry (replays are refused).
    pub(crate) used_jti: Mutex<std::collections::HashMap<String, i64>>,
    /// How many tokens were issued, and Graph pages served (for tests and `/cloud`).
    pub(crate) tokens_issued: AtomicU64,
    pub(crate) pages_served: AtomicU64,
    pub(crate) requests_throttled: AtomicU64,
    pub(crate) directory: RwLock<graph::Directory>,
    login: Listener,
    graph: Listener,
    tls: Arc<rustls::ServerConfig>,
}

/// A GUID-shaped id from a generator.
pub(crate) fn guid(rng: &mut SplitMix) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        (a & 0x0fff) | 0x4000,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The RSA public key (PKCS#1 DER) inside a certificate.
fn cert_public_key(der: &[u8]) -> Result<Vec<u8>, LabError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| LabError::Options(format!("the cloud app's certificate: {e}")))?;
    Ok(cert.public_key().subject_public_key.data.to_vec())
}

fn digest<const N: usize>(alg: &'static aws_lc_rs::digest::Algorithm, data: &[u8]) -> [u8; N] {
    let d = aws_lc_rs::digest::digest(alg, data);
    let mut out = [0u8; N];
    out.copy_from_slice(d.as_ref());
    out
}

/// The app's RSA-2048 key, made once per process: RSA key generation takes a few hundred
/// milliseconds in a debug build, and tests start many labs. Its certificate is new per lab.
fn app_key() -> Result<rcgen::KeyPair, LabError> {
    static KEY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let der = match KEY.get() {
        Some(d) => d,
        None => {
            let k = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
                .map_err(|e| LabError::Tls(e.into()))?;
            KEY.get_or_init(|| k.serialize_der())
        }
    };
    rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &rustls::pki_types::PrivatePkcs8KeyDer::from(der.as_slice()),
        &rcgen::PKCS_RSA_SHA256,
    )
    .map_err(|e| LabError::Tls(e.into()))
}

impl Cloud {
    /// Make the tenant, the app and its credentials (written into `state_dir`), the managed
    /// devices from `org`, and bind both listeners on `listen`'s address (port 0: free ports;
    /// port P: P and P+1).
    pub(crate) async fn start(
        org: &Org,
        seed: u64,
        listen: SocketAddr,
        tls: Arc<rustls::ServerConfig>,
        state_dir: &Path,
        now: i64,
    ) -> Result<(Arc<Cloud>, CloudInfo, Bound), LabError> {
        let mut rng = SplitMix::new(seed ^ 0xC10D_C10D_C10D_C10D);
        let tenant_id = guid(&mut rng);
        let application_id = guid(&mut rng);
        let secret = entra::new_secret();

        // The app's certificate: self-signed RSA-2048, as `New-SelfSignedCertificate` makes
        // for an app registration.
        let key = app_key()?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
            .map_err(|e| LabError::Tls(e.into()))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "EAS Connector Lab App");
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(365);
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params
            .self_signed(&key)
            .map_err(|e| LabError::Tls(e.into()))?;
        let cert_der = cert.der().to_vec();
        let key_der = zeroize::Zeroizing::new(key.serialize_der());
        let app = AppRegistration {
            application_id: application_id.clone(),
            secret: secret.clone(),
            cert_public_key: cert_public_key(&cert_der)?,
            sha1: digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert_der),
            sha256: digest(&aws_lc_rs::digest::SHA256, &cert_der),
            cert_der,
        };

        let file = |name: &str| state_dir.join(name);
        let info_files = (
            file("cloud-app-secret.txt"),
            file("cloud-app.pem"),
            file("cloud-app.key"),
            file("cloud-app.pfx"),
        );
        let pfx_password = entra::new_secret();
        write_state(&info_files.0, secret.as_bytes())?;
        write_state(&info_files.1, cert.pem().as_bytes())?;
        write_state(&info_files.2, key.serialize_pem().as_bytes())?;
        let pfx = pfx::build(
            &app.cert_der,
            &key_der,
            &pfx_password,
            "EAS Connector Lab App",
        )
        .map_err(|e| LabError::Options(format!("the cloud app's PFX: {e}")))?;
        write_state(&info_files.3, &pfx)?;

        let bind = |port: u16| {
            let mut a = listen;
            if a.port() != 0 {
                a.set_port(port);
            }
            a
        };
        let login_addr = bind(listen.port());
        let graph_addr = bind(listen.port().saturating_add(1));
        let login_listener =
            TcpListener::bind(login_addr)
                .await
                .map_err(|source| LabError::Bind {
                    addr: login_addr,
                    source,
                })?;
        let graph_listener =
            TcpListener::bind(graph_addr)
                .await
                .map_err(|source| LabError::Bind {
                    addr: graph_addr,
                    source,
                })?;
        let login_addr = login_listener
            .local_addr()
            .map_err(|source| LabError::Bind {
                addr: login_addr,
                source,
            })?;
        let graph_addr = graph_listener
            .local_addr()
            .map_err(|source| LabError::Bind {
                addr: graph_addr,
                source,
            })?;
        let authority = format!("https://{login_addr}");
        let graph_url = format!("https://{graph_addr}");
        let cloud = Arc::new(Cloud {
            tenant_id: tenant_id.clone(),
            authority: authority.clone(),
            graph_url: graph_url.clone(),
            permission: AtomicBool::new(true),
            secret_expired: AtomicBool::new(false),
            throttle: AtomicU64::new(0),
            retry_after: AtomicU64::new(0),
            revoked_below: AtomicU64::new(0),
            token_serial: AtomicU64::new(1),
            used_jti: Mutex::new(std::collections::HashMap::new()),
            tokens_issued: AtomicU64::new(0),
            pages_served: AtomicU64::new(0),
            requests_throttled: AtomicU64::new(0),
            directory: RwLock::new(graph::Directory::generate(org, seed, now)),
            login: Listener {
                addr: login_addr,
                outage: AtomicU8::new(0),
                task: Mutex::new(None),
            },
            graph: Listener {
                addr: graph_addr,
                outage: AtomicU8::new(0),
                task: Mutex::new(None),
            },
            tls,
            app,
        });
        let info = CloudInfo {
            tenant_id,
            tenant_domain: TENANT_DOMAIN.to_string(),
            authority,
            graph_url,
            application_id,
            client_secret_file: info_files.0,
            certificate_file: info_files.1,
            private_key_file: info_files.2,
            pfx_file: info_files.3,
            pfx_password,
            certificate_thumbprint: hex_upper(&cloud.app.sha1),
        };
        Ok((
            cloud,
            info,
            Bound {
                login: login_listener,
                graph: graph_listener,
            },
        ))
    }

    /// Start serving both hosts (the lab's shared state is needed for the org's names).
    pub(crate) fn spawn(self: &Arc<Self>, shared: &Arc<Shared>, bound: Bound) {
        self.spawn_one(shared.clone(), Service::Login, bound.login);
        self.spawn_one(shared.clone(), Service::Graph, bound.graph);
    }

    fn listener(&self, service: Service) -> &Listener {
        match service {
            Service::Login => &self.login,
            Service::Graph => &self.graph,
        }
    }

    fn spawn_one(self: &Arc<Self>, shared: Arc<Shared>, service: Service, tcp: TcpListener) {
        let acceptor = TlsAcceptor::from(self.tls.clone());
        let cloud = self.clone();
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = tcp.accept() => {
                        let Ok((tcp, _)) = accepted else { continue };
                        let _ = tcp.set_nodelay(true);
                        let acceptor = acceptor.clone();
                        let cloud = cloud.clone();
                        let shared = shared.clone();
                        conns.spawn(async move {
                            let Ok(tls) = acceptor.accept(tcp).await else { return };
                            let svc = service_fn(move |req: Request<Incoming>| {
                                let cloud = cloud.clone();
                                let shared = shared.clone();
                                async move {
                                    Ok::<_, Infallible>(cloud.handle(&shared, service, req).await)
                                }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .keep_alive(true)
                                .serve_connection(TokioIo::new(tls), svc)
                                .await;
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        if let Ok(mut t) = self.listener(service).task.lock() {
            if let Some(old) = t.replace(task) {
                old.abort();
            }
        }
    }

    async fn handle(&self, shared: &Shared, service: Service, req: Request<Incoming>) -> Resp {
        if Outage::from_u8(self.listener(service).outage.load(Ordering::SeqCst)) != Outage::Off {
            return match service {
                Service::Login => entra::temporarily_unavailable(&self.authority),
                Service::Graph => graph::service_unavailable(),
            };
        }
        match service {
            Service::Login => entra::handle(self, req).await,
            Service::Graph => graph::handle(self, shared, req).await,
        }
    }

    /// Take a host down (`Unavailable`: 503; `Refused`: its port closes) or bring it back.
    pub(crate) async fn set_outage(
        self: &Arc<Self>,
        shared: &Arc<Shared>,
        service: Service,
        outage: Outage,
    ) -> Result<(), LabError> {
        let l = self.listener(service);
        let was = Outage::from_u8(l.outage.swap(outage.to_u8(), Ordering::SeqCst));
        if outage == Outage::Refused && was != Outage::Refused {
            if let Ok(mut t) = l.task.lock() {
                if let Some(task) = t.take() {
                    task.abort();
                }
            }
        } else if outage != Outage::Refused && was == Outage::Refused {
            // The aborted task may still hold the socket for a moment.
            let mut last = None;
            for _ in 0..50 {
                match TcpListener::bind(l.addr).await {
                    Ok(tcp) => {
                        self.spawn_one(shared.clone(), service, tcp);
                        return Ok(());
                    }
                    Err(e) => {
                        last = Some(e);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            return Err(LabError::Bind {
                addr: l.addr,
                source: last.unwrap_or_else(|| std::io::Error::other("bind failed")),
            });
        }
        Ok(())
    }

    /// Answer the next `count` Graph requests with 429 and `Retry-After: retry_after`.
    pub fn set_throttle(&self, count: u64, retry_after: u64) {
        self.retry_after.store(retry_after, Ordering::SeqCst);
        self.throttle.store(count, Ordering::SeqCst);
    }

    /// Grant or revoke the app's `DeviceManagementManagedDevices.Read.All`.
    pub fn set_permission(&self, granted: bool) {
        self.permission.store(granted, Ordering::SeqCst);
    }

    /// Expire (or renew) the client secret.
    pub fn set_secret_expired(&self, expired: bool) {
        self.secret_expired.store(expired, Ordering::SeqCst);
    }

    /// Set the compliance of the managed devices with this Intune id or EAS device id; how
    /// many changed.
    pub(crate) fn set_compliance(
        &self,
        shared: &Shared,
        id: &str,
        state: graph::ComplianceState,
    ) -> usize {
        let org = match shared.org.read() {
            Ok(o) => o,
            Err(p) => p.into_inner(),
        };
        let mut dir = match self.directory.write() {
            Ok(d) => d,
            Err(p) => p.into_inner(),
        };
        dir.set_compliance(&org, id, state)
    }

    /// Every token issued so far is refused from now on, as if it had expired.
    pub fn expire_tokens(&self) {
        let next = self.token_serial.load(Ordering::SeqCst);
        self.revoked_below.store(next, Ordering::SeqCst);
    }

    /// Stop both listeners (the lab is going away).
    pub(crate) fn stop(&self) {
        for l in [&self.login, &self.graph] {
            if let Ok(mut t) = l.task.lock() {
                if let Some(task) = t.take() {
                    task.abort();
                }
            }
        }
    }

    /// The switches and counters, for the control endpoint's `GET /cloud`.
    pub fn state_json(&self) -> serde_json::Value {
        let counts = match self.directory.read() {
            Ok(d) => d.counts(),
            Err(p) => p.into_inner().counts(),
        };
        serde_json::json!({
            "permission_granted": self.permission.load(Ordering::SeqCst),
            "secret_expired": self.secret_expired.load(Ordering::SeqCst),
            "throttle_remaining": self.throttle.load(Ordering::SeqCst),
            "retry_after": self.retry_after.load(Ordering::SeqCst),
            "graph_outage": Outage::from_u8(self.graph.outage.load(Ordering::SeqCst)),
            "login_outage": Outage::from_u8(self.login.outage.load(Ordering::SeqCst)),
            "tokens_issued": self.tokens_issued.load(Ordering::SeqCst),
            "pages_served": self.pages_served.load(Ordering::SeqCst),
            "requests_throttled": self.requests_throttled.load(Ordering::SeqCst),
            "managed_devices": counts,
        })
    }
}

/// The two listeners [`Cloud::start`] bound, to hand to [`Cloud::spawn`].
pub(crate) struct Bound {
    pub login: TcpListener,
    pub graph: TcpListener,
}
