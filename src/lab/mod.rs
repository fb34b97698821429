//! The lab: a simulated Exchange organization on loopback.
//!
//! It serves what the connector talks to — `/PowerShell` (WinRM + PSRP), `/EWS/Exchange.asmx`,
//! `/autodiscover/autodiscover.xml` and `/Microsoft-Server-ActiveSync` — over HTTPS with
//! certificates from its own CA (or over plain HTTP with WinRM message encryption required), on K simulated Client Access Servers that share one org.
//! With [`AuthProfile::ExchangeDefault`] and a keytab from a real KDC it behaves like an
//! Exchange nobody reconfigured: `/PowerShell` takes Kerberos only, over `http://` (sealed)
//! and `https://` at once; EWS and ActiveSync take Negotiate (Kerberos or NTLM) and NTLM with
//! Extended Protection "Allow" ([`kerberos`]). A
//! control endpoint (loopback, bearer token) stops and starts a CAS, throttles it or slows it
//! down, and simulates device activity, for failover and reliability tests. The wizard starts
//! it in-process; `eas-connector lab` runs it in the foreground. It must only ever listen on
//! the address it is given (loopback by default) and never call out. Its state files
//! (`lab.json` and `answers.toml` hold the accounts' passwords, the outbox names users) are
//! owner-only.
//!
//! Its modules: [`org`] (the organization, in memory) and [`accounts`] (who may sign in, with
//! which roles); [`cmdlets`] (the Exchange cmdlets: a `Cmdlet` trait, one module per family,
//! one table listing them all, binding in `cmdlets::params`, objects built in
//! `cmdlets::render`); `powershell` (WinRM shells and PSRP pipelines that run them);
//! [`endpoints`] (EWS, Autodiscover, the ActiveSync probe); `http` (the servers' accept loops
//! and routing); `ntlm` and [`kerberos`] (sign-in); [`tls`] (the lab's CA and certificates);
//! `control` (the control endpoint); [`cloud`] (a Microsoft cloud: an Entra ID tenant with an
//! app registration, and Intune's managed devices in Microsoft Graph, on two more TLS ports).

pub mod accounts;
pub mod cloud;
pub mod cmdlets;
mod control;
pub mod endpoints;
mod http;
pub mod kerberos;
mod ntlm;
pub mod org;
mod powershell;
pub mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use accounts::{Account, Accounts};
pub use org::{ExchangeVersion, Org};

/// How to start the lab.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Address of the first CAS; port 0 picks free ports for every server. With a fixed port
    /// P, server i listens on P + i.
    pub listen: SocketAddr,
    /// Number of simulated Client Access Servers.
    pub servers: usize,
    pub devices: u32,
    pub seed: u64,
    pub version: ExchangeVersion,
    /// Delay added to every request.
    pub latency_ms: u64,
    /// Where `lab.json`, `answers.toml`, the CA and the outbox go.
    pub state_dir: PathBuf,
    /// Serve plain `http://` instead of HTTPS; `/PowerShell` then requires WinRM message
    /// encryption (NTLM/Negotiate sealing), as WinRM with `AllowUnencrypted=false` does.
    pub plain_http: bool,
    /// How the servers authenticate.
    pub auth_profile: AuthProfile,
    /// Service keys (`HTTP/<host>`) from a real KDC: Kerberos is accepted with them.
    pub keytab: Option<PathBuf>,
    /// The Kerberos realm of the lab's accounts.
    pub realm: Option<String>,
    /// The KDC address to write into `answers.toml` (`Kerberos/KdcAddress`).
    pub kdc: Option<String>,
    /// Extended Protection on the HTTPS endpoints.
    pub extended_protection: ExtendedProtectionMode,
}

/// How the lab's servers authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthProfile {
    /// Every endpoint offers Negotiate, NTLM and Basic (and Kerberos inside Negotiate when a
    /// keytab is given), as an Exchange with Windows and Basic authentication enabled does.
    #[default]
    Lab,
    /// A default Exchange 2016/2019/SE: `/PowerShell` Kerberos only (`Negotiate` and
    /// `Kerberos` offered, NTLM refused) on `http://` and `https://`; EWS, ActiveSync and
    /// Autodiscover Negotiate and NTLM with Extended Protection "Allow". Needs a keytab.
    ExchangeDefault,
}

/// Extended Protection on the lab's HTTPS endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExtendedProtectionMode {
    /// As Exchange sets it: `/PowerShell` None, EWS and ActiveSync Allow.
    #[default]
    ExchangeDefault,
    /// Every HTTPS endpoint refuses a sign-in without a matching channel binding token.
    Require,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            servers: 2,
            devices: 200,
            seed: 1,
            version: ExchangeVersion::V2019,
            latency_ms: 0,
            state_dir: std::env::temp_dir()
                .join(format!("eas-connector-lab-{}", std::process::id())),
            plain_http: false,
            auth_profile: AuthProfile::Lab,
            keytab: None,
            realm: None,
            kdc: None,
            extended_protection: ExtendedProtectionMode::ExchangeDefault,
        }
    }
}

/// Why the lab could not start or be controlled.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("lab: could not listen on {addr}: {source}; pick another --listen address or port (port 0 picks a free one)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("lab: --servers must be 1 to 16, not {0}")]
    Servers(usize),
    #[error("lab: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("lab: could not write {path}: {source}; check --state-dir")]
    State {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("lab: no server named '{0}'")]
    NoServer(String),
    #[error("lab: --keytab {path}: {detail}")]
    Keytab { path: PathBuf, detail: String },
    #[error("lab: {0}")]
    Options(String),
}

/// One account as `lab.json` lists it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct AccountInfo {
    pub user: String,
    pub password: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mailbox: Option<String>,
}

/// One CAS as `lab.json` lists it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ServerInfo {
    pub name: String,
    pub url: String,
    /// `host:port`, what the connector takes as `ClientAccessServer`.
    pub address: String,
    /// The plain `http://` URL too (the exchange-default profile serves both on one port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_url: Option<String>,
}

/// Kerberos as the lab accepts it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct KerberosInfo {
    pub realm: String,
    /// The service principal name clients must ask tickets for.
    pub spn: String,
    /// The host name in that SPN (what the URLs use).
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kdc: Option<String>,
}

/// The control endpoint.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ControlInfo {
    pub url: String,
    pub token: String,
}

/// The accounts in `lab.json`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct AccountsInfo {
    pub service: AccountInfo,
    pub limited: AccountInfo,
    pub notification: AccountInfo,
}

/// Everything a client needs to use the lab; written as `lab.json`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct LabInfo {
    pub org: String,
    pub exchange_version: String,
    pub devices: u32,
    pub servers: Vec<ServerInfo>,
    pub ca_file: PathBuf,
    pub accounts: AccountsInfo,
    pub control: ControlInfo,
    pub outbox_dir: PathBuf,
    pub state_dir: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kerberos: Option<KerberosInfo>,
    /// `lab` or `exchange-default`.
    #[serde(default)]
    pub auth_profile: String,
    /// The org's distribution and security groups, for trying group rules.
    #[serde(default)]
    pub groups: Vec<GroupInfo>,
    /// The Microsoft cloud: Entra ID tenant, app registration and Graph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<cloud::CloudInfo>,
}

/// A group as `lab.json` lists it: its address and its direct members' addresses (a nested
/// group by its address too).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct GroupInfo {
    pub name: String,
    pub primary_smtp: String,
    pub security: bool,
    pub members: Vec<String>,
}

impl GroupInfo {
    fn of(org: &Org) -> Vec<GroupInfo> {
        org.groups
            .iter()
            .map(|g| GroupInfo {
                name: g.name.clone(),
                primary_smtp: g.primary_smtp.clone(),
                security: g.security,
                members: g
                    .members
                    .iter()
                    .filter_map(|m| match m {
                        org::GroupMember::Mailbox(i) => org
                            .mailboxes
                            .get(*i as usize)
                            .map(|mb| mb.primary_smtp.clone()),
                        org::GroupMember::Group(a) => {
                            org.find_group(a).map(|n| n.primary_smtp.clone())
                        }
                    })
                    .collect(),
            })
            .collect()
    }
}

/// State shared by every CAS: the org, accounts, outbox.
pub(crate) struct Shared {
    pub org: RwLock<Org>,
    pub accounts: Accounts,
    pub outbox: PathBuf,
    pub mail_seq: AtomicU64,
    pub servers: Vec<Arc<CasState>>,
    pub profile: AuthProfile,
    pub kerberos: Option<kerberos::Acceptor>,
    pub extended_protection: ExtendedProtectionMode,
    /// The lab's Microsoft cloud.
    pub cloud: Arc<cloud::Cloud>,
}

/// One simulated Client Access Server.
pub(crate) struct CasState {
    pub name: String,
    pub addr: SocketAddr,
    /// Serve plain HTTP and TLS on the same port, told apart by the first byte (the
    /// exchange-default profile: `http://` and `https://` at once).
    pub dual: bool,
    /// The host name URLs use (the SPN's host with Kerberos, else the address).
    pub host: Option<String>,
    /// `tls-server-end-point` channel binding data of the certificate served.
    pub tls_binding: Vec<u8>,
    pub latency_ms: AtomicU64,
    /// Requests still to be answered with 503.
    pub throttle: AtomicU64,
    pub running: AtomicBool,
    /// Plain HTTP (message encryption required on `/PowerShell`) instead of HTTPS.
    pub plain_http: bool,
    /// Which authentication schemes this server offers and accepts ([`auth_schemes`] bits).
    pub auth_schemes: std::sync::atomic::AtomicU8,
    /// Open WinRM shells (runspace pools) on this server; they die when it stops.
    pub(crate) shells: powershell::Shells,
    tls: Arc<rustls::ServerConfig>,
    task: Mutex<Vec<JoinHandle<()>>>,
}

/// Bits of [`CasState::auth_schemes`]: what a lab CAS offers in its 401 and accepts.
pub mod auth_schemes {
    pub const BASIC: u8 = 1;
    pub const NTLM: u8 = 2;
    pub const NEGOTIATE: u8 = 4;
    /// Offer the bare `Kerberos` scheme (completed only when the lab has a keytab).
    pub const KERBEROS: u8 = 8;
    /// What Exchange's /PowerShell and EWS offer with Windows and Basic authentication on.
    pub const DEFAULT: u8 = BASIC | NTLM | NEGOTIATE;
}

impl CasState {
    fn authority(&self, addr: SocketAddr) -> String {
        match &self.host {
            Some(h) => format!("{h}:{}", addr.port()),
            None => addr.to_string(),
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.plain_http { "http" } else { "https" };
        format!("{scheme}://{}", self.authority(self.addr))
    }

    /// The plain-HTTP URL, when the CAS serves both.
    pub fn http_url(&self) -> Option<String> {
        self.dual
            .then(|| format!("http://{}", self.authority(self.addr)))
    }
}

/// A running lab. Dropping it stops every server.
pub struct Lab {
    shared: Arc<Shared>,
    info: LabInfo,
    control_task: JoinHandle<()>,
    /// How long start-up took.
    pub startup: std::time::Duration,
}

/// Seconds since the Unix epoch, never before the lab's generated history.
pub(crate) fn now() -> i64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    t.max(org::LAB_EPOCH + 1)
}

fn random_token() -> String {
    let mut buf = [0u8; 24];
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    if provider.secure_random.fill(&mut buf).is_err() {
        // Only reachable if the OS RNG fails; fall back to time and pid mixing.
        let mut rng = org::SplitMix::new(now() as u64 ^ u64::from(std::process::id()));
        for b in &mut buf {
            *b = rng.next_u64() as u8;
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_state(path: &Path, contents: &[u8]) -> Result<(), LabError> {
    crate::config::store::write_private(path, contents).map_err(|source| LabError::State {
        path: path.to_path_buf(),
        source,
    })
}

impl Lab {
    /// Generate the org, make certificates, bind every server and the control endpoint, and
    /// write `lab.json`, `answers.toml` and `lab-ca.pem` into the state folder.
    pub async fn start(opts: LabOptions) -> Result<Lab, LabError> {
        let started = Instant::now();
        if opts.servers == 0 || opts.servers > 16 {
            return Err(LabError::Servers(opts.servers));
        }
        let acceptor = match &opts.keytab {
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|e| LabError::Keytab {
                    path: path.clone(),
                    detail: e.to_string(),
                })?;
                let keytab = crate::wire::kerberos::keytab::Keytab::parse(&bytes).map_err(|e| {
                    LabError::Keytab {
                        path: path.clone(),
                        detail: e.to_string(),
                    }
                })?;
                let realm = opts
                    .realm
                    .clone()
                    .or_else(|| keytab.entries.first().map(|e| e.realm.clone()))
                    .unwrap_or_default();
                Some(kerberos::Acceptor::new(keytab, &realm).map_err(|detail| {
                    LabError::Keytab {
                        path: path.clone(),
                        detail: detail.to_string(),
                    }
                })?)
            }
            None => None,
        };
        if opts.auth_profile == AuthProfile::ExchangeDefault && acceptor.is_none() {
            return Err(LabError::Options(
                "--auth-profile exchange-default needs --keytab (a keytab with HTTP/<host> from a KDC) and --realm".into(),
            ));
        }
        let state_dir = opts.state_dir.clone();
        let outbox = state_dir.join("outbox");
        crate::config::store::create_private_dir(&outbox).map_err(|source| LabError::State {
            path: outbox.clone(),
            source,
        })?;
        let org = Org::generate(opts.seed, opts.devices, opts.version);
        let accounts = Accounts::generate(opts.seed, &org.domain);
        let ca = tls::LabCa::new("EAS Connector Lab CA")?;
        let names: Vec<String> = (1..=opts.servers)
            .map(|i| format!("lab-cas{i:02}.{}", org.domain))
            .collect();
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut name_refs = name_refs;
        if let Some(a) = &acceptor {
            name_refs.push(a.host());
        }
        let cert = ca.issue(&tls::LeafSpec::loopback(&name_refs))?;
        let tls_config = cert.server_config()?;
        let tls_binding = cert
            .chain
            .first()
            .map(|c| crate::wire::kerberos::crypto::tls_server_end_point(c.as_ref()))
            .unwrap_or_default();
        let ca_file = state_dir.join("lab-ca.pem");
        write_state(&ca_file, ca.pem().as_bytes())?;

        let dual = opts.auth_profile == AuthProfile::ExchangeDefault;
        let mut listeners = Vec::new();
        for i in 0..opts.servers {
            let mut addr = opts.listen;
            if addr.port() != 0 {
                addr.set_port(addr.port().saturating_add(i as u16));
            }
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| LabError::Bind { addr, source })?;
            let bound = listener
                .local_addr()
                .map_err(|source| LabError::Bind { addr, source })?;
            listeners.push((listener, bound));
        }
        // The cloud's two ports follow the servers' (port 0: free ports).
        let mut cloud_listen = opts.listen;
        if cloud_listen.port() != 0 {
            cloud_listen.set_port(cloud_listen.port().saturating_add(opts.servers as u16));
        }
        let (cloud, cloud_info, cloud_bound) = cloud::Cloud::start(
            &org,
            opts.seed,
            cloud_listen,
            tls_config.clone(),
            &state_dir,
            now(),
        )
        .await?;
        let servers: Vec<Arc<CasState>> = listeners
            .iter()
            .enumerate()
            .map(|(i, (_, addr))| {
                Arc::new(CasState {
                    name: format!("LAB-CAS{:02}", i + 1),
                    addr: *addr,
                    dual,
                    host: acceptor.as_ref().map(|a| a.host().to_string()),
                    tls_binding: tls_binding.clone(),
                    latency_ms: AtomicU64::new(opts.latency_ms),
                    throttle: AtomicU64::new(0),
                    auth_schemes: std::sync::atomic::AtomicU8::new(auth_schemes::DEFAULT),
                    running: AtomicBool::new(false),
                    plain_http: opts.plain_http,
                    shells: powershell::Shells::default(),
                    tls: tls_config.clone(),
                    task: Mutex::new(Vec::new()),
                })
            })
            .collect();
        let shared = Arc::new(Shared {
            org: RwLock::new(org),
            accounts,
            outbox: outbox.clone(),
            mail_seq: AtomicU64::new(0),
            servers: servers.clone(),
            profile: opts.auth_profile,
            kerberos: acceptor,
            extended_protection: opts.extended_protection,
            cloud: cloud.clone(),
        });
        cloud.spawn(&shared, cloud_bound);
        for ((listener, _), cas) in listeners.into_iter().zip(&servers) {
            http::spawn_server(shared.clone(), cas.clone(), listener);
        }
        let token = random_token();
        let control_listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|source| LabError::Bind {
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                source,
            })?;
        let control_addr = control_listener
            .local_addr()
            .map_err(|source| LabError::Bind {
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                source,
            })?;
        let control_task = tokio::spawn(control::serve(
            shared.clone(),
            control_listener,
            token.clone(),
        ));

        let acc = |a: &Account, mailbox: bool| AccountInfo {
            user: a.user.clone(),
            password: a.password.clone(),
            mailbox: if mailbox { Some(a.upn.clone()) } else { None },
        };
        let org_name = shared
            .org
            .read()
            .map(|o| o.name.clone())
            .unwrap_or_default();
        let groups = shared
            .org
            .read()
            .map(|o| GroupInfo::of(&o))
            .unwrap_or_default();
        let info = LabInfo {
            org: org_name,
            exchange_version: format!("{:?}", opts.version)
                .trim_start_matches('V')
                .to_string(),
            devices: opts.devices,
            servers: servers
                .iter()
                .map(|s| ServerInfo {
                    name: s.name.clone(),
                    url: s.url(),
                    address: s.authority(s.addr),
                    http_url: s.http_url(),
                })
                .collect(),
            ca_file: ca_file.clone(),
            accounts: AccountsInfo {
                service: acc(&shared.accounts.service, false),
                limited: acc(&shared.accounts.limited, false),
                notification: acc(&shared.accounts.notification, true),
            },
            control: ControlInfo {
                url: format!("http://{control_addr}"),
                token,
            },
            outbox_dir: outbox,
            state_dir: state_dir.clone(),
            kerberos: shared.kerberos.as_ref().map(|a| KerberosInfo {
                realm: a.realm.clone(),
                spn: a.spn.clone(),
                host: a.host().to_string(),
                kdc: opts.kdc.clone(),
            }),
            groups,
            cloud: Some(cloud_info),
            auth_profile: match opts.auth_profile {
                AuthProfile::Lab => "lab".into(),
                AuthProfile::ExchangeDefault => "exchange-default".into(),
            },
        };
        let json = serde_json::to_vec_pretty(&info).map_err(|e| LabError::State {
            path: state_dir.join("lab.json"),
            source: std::io::Error::other(e),
        })?;
        // answers.toml first: lab.json is the signal that the lab is ready.
        write_state(
            &state_dir.join("answers.toml"),
            answers_toml(&info).as_bytes(),
        )?;
        write_state(&state_dir.join("lab.json"), &json)?;
        Ok(Lab {
            shared,
            info,
            control_task,
            startup: started.elapsed(),
        })
    }

    pub fn info(&self) -> &LabInfo {
        &self.info
    }

    /// Read access to the org (tests and the wizard's demo use it to look at results).
    pub fn with_org<R>(&self, f: impl FnOnce(&Org) -> R) -> R {
        match self.shared.org.read() {
            Ok(o) => f(&o),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    /// Change the org directly (tests simulate device activity with it).
    pub fn with_org_mut<R>(&self, f: impl FnOnce(&mut Org) -> R) -> R {
        match self.shared.org.write() {
            Ok(mut o) => f(&mut o),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Approximate memory held by the org, in bytes.
    pub fn org_bytes(&self) -> usize {
        self.with_org(|o| o.approx_heap_bytes())
    }

    fn server(&self, name: &str) -> Result<Arc<CasState>, LabError> {
        self.shared
            .servers
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .cloned()
            .ok_or_else(|| LabError::NoServer(name.to_string()))
    }

    /// Stop one CAS: its port refuses connections and open connections are cut.
    pub fn stop_server(&self, name: &str) -> Result<(), LabError> {
        http::stop_server(self.server(name)?.as_ref());
        Ok(())
    }

    /// Start a stopped CAS again on the same address.
    pub async fn start_server(&self, name: &str) -> Result<(), LabError> {
        http::start_server(self.shared.clone(), self.server(name)?).await
    }

    /// Answer the next `count` requests to this CAS with 503 (0 stops throttling).
    pub fn set_throttle(&self, name: &str, count: u64) -> Result<(), LabError> {
        self.server(name)?
            .throttle
            .store(count, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// Choose the authentication schemes server `name` offers ([`auth_schemes`] bits).
    pub fn set_auth_schemes(&self, name: &str, bits: u8) -> Result<(), LabError> {
        self.server(name)?
            .auth_schemes
            .store(bits, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// Delay every request to this CAS by `ms` milliseconds.
    pub fn set_latency(&self, name: &str, ms: u64) -> Result<(), LabError> {
        self.server(name)?
            .latency_ms
            .store(ms, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// The lab's Microsoft cloud (its switches: [`cloud::Cloud::set_throttle`],
    /// [`cloud::Cloud::set_permission`], [`cloud::Cloud::expire_tokens`], …).
    pub fn cloud(&self) -> &cloud::Cloud {
        &self.shared.cloud
    }

    /// Take Graph or the authority down (503 or refused connections), or bring it back.
    pub async fn set_cloud_outage(
        &self,
        service: cloud::Service,
        outage: cloud::Outage,
    ) -> Result<(), LabError> {
        self.shared
            .cloud
            .set_outage(&self.shared, service, outage)
            .await
    }

    /// Set the Intune compliance of the managed devices with this Intune id or EAS device id
    /// (case-insensitive); how many records changed (a re-enrolled device has two).
    pub fn set_device_compliance(&self, id: &str, state: cloud::graph::ComplianceState) -> usize {
        self.shared.cloud.set_compliance(&self.shared, id, state)
    }

    /// Every managed device as Graph renders it (every property), in Graph's order.
    pub fn managed_devices(&self) -> serde_json::Value {
        self.with_org(|org| cloud::graph::all(&self.shared.cloud, org, now()))
    }

    /// Stop everything.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.control_task.abort();
        self.shared.cloud.stop();
        for s in &self.shared.servers {
            http::stop_server(s);
        }
    }
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// An answers file for `eas-connector configure --answers` that sets up a connector against
/// this lab. Field names are the configuration file's.
pub fn answers_toml(info: &LabInfo) -> String {
    let first = info
        .servers
        .first()
        .map(|s| s.address.as_str())
        .unwrap_or_default();
    let kerberos = info
        .kerberos
        .as_ref()
        .map(|k| {
            let mut s = format!("\n[Kerberos]\nRealm = {}\n", toml_str(&k.realm));
            if let Some(kdc) = &k.kdc {
                s.push_str(&format!("KdcAddress = {}\n", toml_str(kdc)));
            }
            s
        })
        .unwrap_or_default();
    let http_url = info.servers.first().and_then(|s| s.http_url.clone());
    format!(
        "# EAS Connector answers file, written by `eas-connector lab`.\n\
         # Use it with: eas-connector configure --answers {answers}\n\
         # Field names are those of ConnectorServiceConfiguration.xml.\n\
         {server}\
         TrustedCaFile = {ca}\n\
         IsCasFailoverEnabled = true\n\
         {kerberos}\
         \n\
         [Proxy]\n\
         Enabled = false\n\
         \n\
         [ServiceAccount]\n\
         User = {su}\n\
         Password = {sp}\n\
         \n\
         [NotificationAccount]\n\
         User = {nu}\n\
         Mailbox = {nm}\n\
         Password = {np}\n\
         {cloud}",
        answers = info.state_dir.join("answers.toml").display(),
        server = if let Some(url) = http_url {
            // A default Exchange: Microsoft's documented http://<fqdn>/PowerShell/ with Kerberos.
            format!(
                "ExchangeServerType = \"OnPremises\"\nClientAccessServer = {}\n",
                toml_str(&format!("{url}/PowerShell/"))
            )
        } else if info
            .servers
            .first()
            .is_some_and(|s| s.url.starts_with("http://"))
        {
            // Plain HTTP: only a full URL says so (on-premises always means HTTPS).
            format!(
                "ExchangeServerType = \"Hosted\"\nHostedServerAddress = {}\n",
                toml_str(&format!("http://{first}/PowerShell"))
            )
        } else {
            format!(
                "ExchangeServerType = \"OnPremises\"\nClientAccessServer = {}\n",
                toml_str(first)
            )
        },
        ca = toml_str(&info.ca_file.display().to_string()),
        su = toml_str(&info.accounts.service.user),
        sp = toml_str(&info.accounts.service.password),
        nu = toml_str(&info.accounts.notification.user),
        nm = toml_str(
            info.accounts
                .notification
                .mailbox
                .as_deref()
                .unwrap_or_default()
        ),
        np = toml_str(&info.accounts.notification.password),
        cloud = info
            .cloud
            .as_ref()
            .map(|c| format!(
                "\n# The lab's Microsoft cloud: the Intune source's identity ([inventory.intune] in\n\
                 # AccessPolicy.toml uses it). The PFX is imported into the credential store.\n\
                 [Cloud]\n\
                 TenantId = {}\n\
                 ApplicationId = {}\n\
                 Authority = {}\n\
                 GraphUrl = {}\n\
                 CertificateFile = {}\n\
                 CertificatePassword = {}\n",
                toml_str(&c.tenant_id),
                toml_str(&c.application_id),
                toml_str(&c.authority),
                toml_str(&c.graph_url),
                toml_str(&c.pfx_file.display().to_string()),
                toml_str(&c.pfx_password),
            ))
            .unwrap_or_default(),
    )
}
