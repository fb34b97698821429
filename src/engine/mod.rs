//! The access-control engine: discover ActiveSync devices, decide each device's access from
//! the access policy, enforce it with Exchange's own cmdlets, notify users, and audit every
//! decision.
//!
//! Discovery: a full sync reads every device; a quick sync reads only the
//! devices whose `WhenChanged` is newer than the newest one seen before (a server-side
//! watermark, so clocks on this machine do not matter). Each sync opens Exchange on the
//! first Client Access Server that answers, the configured one first, then those that
//! `Get-ExchangeServer` listed on earlier full syncs (when CAS failover is on). It must not
//! schedule or persist [`SyncState`] itself: the service runtime does that with the state it
//! is given back.
//!
//! With [`Engine::with_access`] a sync also decides ([`policy`]), enforces per mailbox with
//! minimal `Set-CASMailbox` diffs re-read just before each change, mails users ([`notify`])
//! and writes the audit trail ([`audit`]); what it remembers per device lives in the
//! organization folder ([`state`]), not in [`SyncState`]; an admin's one-off
//! [`overrides`] win over the policy; what `devices` lists is kept in [`listing`]. Without
//! it, a sync only discovers.
//!
//! The work is split as a plan and a driver: [`plan`] decides everything without I/O (and is
//! where the tests of decisions live), `driver` reads, sends and writes, `enforce` sends the
//! mailbox changes with CAS failover, `devices` keeps what a sync read compactly, and
//! [`report`] is what a sync tells. Every operation goes through the
//! [`crate::exchange::ops::Exchange`] trait; only opening a connection (with CAS failover)
//! is remote PowerShell's own.

pub mod audit;
mod devices;
mod driver;
mod enforce;
mod groups;
pub mod intune;
pub mod listing;
pub mod notify;
pub mod overrides;
pub mod plan;
pub mod policy;
pub mod precedence;
pub mod report;
pub mod state;
pub mod target;

pub use driver::AccessOptions;
pub use report::{AccessReport, MailboxChange};

use crate::config::OrgFile;

use serde::{Deserialize, Serialize};

use crate::engine::target::Target;
use crate::exchange::ops::{ExchangeError, MobileDevice, ServerVersion};
use crate::exchange::powershell::PsError;

/// Log the process's resident and peak resident memory (and milliseconds since the first
/// mark) at a phase of a sync (debug level,
/// target `eas_connector::engine::mem`; Linux only, from `/proc/self/status`), to tell which
/// phase sets the peak.
pub(crate) fn mem_mark(phase: &str) {
    #[cfg(target_os = "linux")]
    if tracing::enabled!(target: "eas_connector::engine::mem", tracing::Level::DEBUG) {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().trim_end_matches(" kB").trim().to_string())
                .unwrap_or_default()
        };
        static FIRST: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let ms = FIRST
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_millis();
        tracing::debug!(
            target: "eas_connector::engine::mem",
            phase,
            ms,
            rss_kb = %field("VmRSS:"),
            peak_kb = %field("VmHWM:"),
            "memory"
        );
    }
    #[cfg(not(target_os = "linux"))]
    let _ = phase;
}

/// Which sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncKind {
    /// Only devices changed since the last sync.
    Quick,
    /// Every device, and the organization's settings.
    Full,
}

/// What the engine keeps between syncs (the service persists it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// Newest `WhenChanged` seen on any device (server time, as Exchange wrote it).
    pub watermark: Option<String>,
    /// Other Client Access Servers (`host[:port]`) from `Get-ExchangeServer`.
    pub failover_servers: Vec<String>,
    /// Version of the newest server seen.
    pub server_version: Option<ServerVersion>,
}

/// What one sync did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncOutcome {
    pub kind: SyncKind,
    /// The server (`host[:port]`) the sync ran against.
    pub server: String,
    /// Devices read in this sync (all of them on a full sync, the changed ones on a quick one).
    pub devices: usize,
    pub duration_ms: u64,
    /// Servers that were tried first and did not answer, with why.
    pub failed_over_from: Vec<(String, String)>,
    /// What access control decided and did (when the engine has [`AccessOptions`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessReport>,
}

/// Why a sync failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    #[error("no Client Access Server answered: {}", list(.0))]
    NoServer(Vec<(String, String)>),
    /// The account was refused (wrong or expired password, locked or disabled account):
    /// nothing is retried until the password changes. (`error` is in the text, so it is not
    /// also a `source`: a printed chain would say it twice.)
    #[error("on {server}: {error}")]
    Credentials {
        server: String,
        error: ExchangeError,
    },
    #[error("on {server}: {error}")]
    Exchange {
        server: String,
        error: ExchangeError,
    },
    #[error(transparent)]
    Policy(#[from] policy::PolicyError),
    #[error("engine state: {0}")]
    State(String),
}

impl EngineError {
    /// From the failures of [`open_with_failover`]: the refused account when that is why it
    /// stopped, else every server's failure.
    pub fn from_failover(failures: Vec<(String, PsError)>) -> EngineError {
        match failures.last() {
            Some((_, e)) if e.is_credential_error() => {
                let mut failures = failures;
                match failures.pop() {
                    Some((server, error)) => EngineError::Credentials {
                        server,
                        error: error.into(),
                    },
                    None => EngineError::NoServer(Vec::new()),
                }
            }
            _ => EngineError::NoServer(
                failures
                    .into_iter()
                    .map(|(s, e)| (s, e.to_string()))
                    .collect(),
            ),
        }
    }

    /// The account itself was refused (see [`EngineError::Credentials`]).
    pub fn is_credential_error(&self) -> bool {
        match self {
            EngineError::Credentials { .. } => true,
            EngineError::Exchange { error, .. } => error.is_credential_error(),
            _ => false,
        }
    }
}

fn list(v: &[(String, String)]) -> String {
    v.iter()
        .map(|(s, e)| format!("{s}: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Parse an Exchange date for comparison (RFC 3339, with or without fraction/offset).
fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// The later of two Exchange dates.
fn later(a: Option<String>, b: &str) -> Option<String> {
    match a {
        None => Some(b.to_string()),
        Some(a) => match (parse_time(&a), parse_time(b)) {
            (Some(x), Some(y)) if y > x => Some(b.to_string()),
            (Some(_), Some(_)) => Some(a),
            _ => Some(if b > a.as_str() { b.to_string() } else { a }),
        },
    }
}

/// Discovers devices for one organization and, with [`AccessOptions`], controls their access.
pub struct Engine {
    primary: Target,
    /// The other configured Client Access Servers, tried first on failover.
    configured: Vec<Target>,
    failover: bool,
    access: Option<AccessOptions>,
}

impl Engine {
    /// An engine for `primary` (the configured server); `failover` per IsCasFailoverEnabled.
    pub fn new(primary: Target, failover: bool) -> Self {
        Engine {
            primary,
            configured: Vec::new(),
            failover,
            access: None,
        }
    }

    /// The other Client Access Servers of `ClientAccessServer`, in order: failed over to before
    /// the servers Exchange listed.
    pub fn with_servers(mut self, others: Vec<Target>) -> Self {
        self.configured = others;
        self
    }

    /// Also decide, enforce, notify and audit on every sync.
    pub fn with_access(mut self, access: AccessOptions) -> Self {
        self.access = Some(access);
        self
    }

    /// Microsoft Graph for the policy's `[inventory.intune]` (see [`AccessOptions::graph`]).
    pub fn with_graph(
        mut self,
        graph: Result<crate::cloud::GraphClient, crate::cloud::CloudSetupError>,
    ) -> Self {
        self.access = self.access.map(|a| a.graph(graph));
        self
    }

    fn candidates(&self, state: &SyncState) -> Vec<Target> {
        let mut v = vec![self.primary.clone()];
        if self.failover {
            let learned = state
                .failover_servers
                .iter()
                .filter_map(|s| self.primary.on_server(s));
            for t in self.configured.iter().cloned().chain(learned) {
                let address = t.address().to_ascii_lowercase();
                if !v
                    .iter()
                    .any(|c| c.address().to_ascii_lowercase() == address)
                {
                    v.push(t);
                }
            }
        }
        v
    }

    /// Run one sync, handing each device read to `each`. `state` is updated (watermark,
    /// failover list) only when the sync succeeds.
    pub async fn sync(
        &self,
        kind: SyncKind,
        state: &mut SyncState,
        each: impl FnMut(MobileDevice) + Send,
    ) -> Result<SyncOutcome, EngineError> {
        let access = match &self.access {
            Some(a) if a.org_dir.join(OrgFile::Policy.name()).exists() => Some(a),
            Some(a) => {
                // No policy yet (a fresh setup): discover only, and say how to start deciding.
                tracing::warn!(
                    policy = %a.org_dir.join(OrgFile::Policy.name()).display(),
                    "no access policy: discovering devices only; write one with \
                     `eas-connector policy example`, check it with `eas-connector policy check`"
                );
                None
            }
            None => None,
        };
        driver::sync(self, access, kind, state, each).await
    }

    /// Mailboxes changed at once: the pool's runspaces.
    fn runspaces(&self) -> usize {
        self.primary.max_runspaces.max(1)
    }
}

pub fn configured_engine(
    cfg: &crate::config::ConnectorConfig,
    loc: &crate::config::ConfigLocation,
    service_password: Option<&crate::secrets::Secret>,
    notification_password: Option<&crate::secrets::Secret>,
    proxy_password: Option<&crate::secrets::Secret>,
    dry_run: bool,
) -> Result<Engine, crate::engine::target::TargetError> {
    let target = Target::from_config(cfg, service_password, proxy_password)?;
    let mut opts = AccessOptions::new(loc.org_dir(), loc.logs_dir()).dry_run(dry_run);
    if let (Some(user), Some(mailbox), Some(pw)) = (
        cfg.notification_account.user.clone(),
        cfg.notification_account.mailbox.clone(),
        notification_password,
    ) {
        opts = opts.sender(Box::new(notify::EwsSender::new(notify::EwsSettings {
            ews_url: cfg.exchange_web_service_url.clone(),
            mailbox,
            cas: target::powershell_endpoint(cfg, "/PowerShell/")
                .and_then(Result::ok)
                .filter(|_| {
                    cfg.exchange_server_type == crate::config::ExchangeServerType::OnPremises
                })
                .map(|e| e.authority()),
            connect: target.connect.clone(),
            credentials: crate::exchange::client::Credentials {
                user,
                password: pw.clone(),
            },
        })));
    }
    let others = match cfg.exchange_server_type {
        crate::config::ExchangeServerType::OnPremises => cfg.client_access_server.0.get(1..),
        crate::config::ExchangeServerType::Hosted | crate::config::ExchangeServerType::Online => {
            None
        }
    };
    let others = others
        .unwrap_or_default()
        .iter()
        .map(|a| target.at(a))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Engine::new(target, cfg.is_cas_failover_enabled)
        .with_servers(others)
        .with_access(opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failover_tries_the_configured_servers_first_then_those_exchange_listed() {
        let dir = tempfile::tempdir().unwrap();
        let loc = crate::config::ConfigLocation::new(Some(dir.path()), "contoso").unwrap();
        let mut cfg = crate::config::ConnectorConfig::new("contoso");
        cfg.set(
            "ClientAccessServer",
            "http://cas01.contoso.com/PowerShell/, cas02.contoso.com:444",
        )
        .unwrap();
        cfg.set("ServiceAccount/User", "CONTOSO\\svc").unwrap();
        let pw = crate::secrets::Secret::new("pw");
        let engine = configured_engine(&cfg, &loc, Some(&pw), None, None, false).unwrap();
        let state = SyncState {
            failover_servers: vec!["cas03.contoso.com".into(), "cas02.contoso.com:444".into()],
            ..SyncState::default()
        };
        let urls: Vec<String> = engine
            .candidates(&state)
            .iter()
            .map(|t| t.powershell.url())
            .collect();
        assert_eq!(
            urls,
            [
                "http://cas01.contoso.com:80/PowerShell/",
                "https://cas02.contoso.com:444/PowerShell/",
                "http://cas03.contoso.com:80/PowerShell/",
            ]
        );
        cfg.set("IsCasFailoverEnabled", "false").unwrap();
        let engine = configured_engine(&cfg, &loc, Some(&pw), None, None, false).unwrap();
        assert_eq!(engine.candidates(&state).len(), 1);
    }

    #[test]
    fn each_server_gets_its_own_kerberos_spn() {
        let dir = tempfile::tempdir().unwrap();
        let loc = crate::config::ConfigLocation::new(Some(dir.path()), "contoso").unwrap();
        let mut cfg = crate::config::ConnectorConfig::new("contoso");
        cfg.set(
            "ClientAccessServer",
            "http://mail.contoso.com/PowerShell/, cas02.contoso.com",
        )
        .unwrap();
        cfg.set("ServiceAccount/User", "svc@contoso.com").unwrap();
        let pw = crate::secrets::Secret::new("pw");
        let state = SyncState {
            failover_servers: vec!["cas03.contoso.com".into()],
            ..SyncState::default()
        };
        // Nothing configured: every server's SPN comes from its own host name (the
        // authenticator makes HTTP/<host> from the endpoint it connects to).
        let engine = configured_engine(&cfg, &loc, Some(&pw), None, None, false).unwrap();
        let c = engine.candidates(&state);
        let hosts: Vec<(&str, Option<&str>)> = c
            .iter()
            .map(|t| {
                (
                    t.powershell.host.as_str(),
                    t.connect.kerberos.spn.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            hosts,
            [
                ("mail.contoso.com", None),
                ("cas02.contoso.com", None),
                ("cas03.contoso.com", None)
            ]
        );
        // A configured SPN is the first server's (a load-balanced name): the others still
        // ask for their own.
        cfg.set("Kerberos/ServicePrincipalName", "HTTP/mail.contoso.com")
            .unwrap();
        let engine = configured_engine(&cfg, &loc, Some(&pw), None, None, false).unwrap();
        let spns: Vec<Option<String>> = engine
            .candidates(&state)
            .iter()
            .map(|t| t.connect.kerberos.spn.clone())
            .collect();
        assert_eq!(
            spns,
            [Some("HTTP/mail.contoso.com".to_string()), None, None]
        );
        let (spn, _) = crate::wire::kerberos::names::service_principal(
            None,
            &engine.candidates(&state)[1].powershell.host,
        )
        .unwrap();
        assert_eq!(spn.join("/"), "HTTP/cas02.contoso.com");
    }

    #[test]
    fn watermark_takes_the_later_time() {
        assert_eq!(
            later(None, "2026-11-01T00:00:00Z").as_deref(),
            Some("2026-11-01T00:00:00Z")
        );
        assert_eq!(
            later(Some("2026-11-01T00:00:00Z".into()), "2026-11-02T00:00:00Z").as_deref(),
            Some("2026-11-02T00:00:00Z")
        );
        assert_eq!(
            later(
                Some("2026-11-02T00:00:00Z".into()),
                "2026-11-01T23:00:00-05:00"
            )
            .as_deref(),
            Some("2026-11-01T23:00:00-05:00")
        );
        assert_eq!(
            later(Some("2026-11-03T00:00:00Z".into()), "2026-11-01T00:00:00Z").as_deref(),
            Some("2026-11-03T00:00:00Z")
        );
    }
}
