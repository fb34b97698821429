//! Connectivity validation: the wizard's Connect step and `eas-connector validate`.
//!
//! Fourteen checks, from the configuration to the ActiveSync endpoint, each with a status,
//! its own duration, a detail and a fix hint. They all start at once and each does its own
//! network work (so the whole run takes about as long as the slowest check); a check whose
//! prerequisite failed is reported as skipped with the reason, and its result is withheld
//! until the prerequisite's is known, so events stream in a sensible order. Every check has a
//! timeout. Cancel a run by dropping its future. This module only reads: it never writes the
//! configuration or the vault, and never puts a password into a detail.

mod checks;
pub mod finding;

pub use finding::{Account, CloudFix, Finding, Fix, Gap};

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::{ConnectorConfig, FieldProblem};
use crate::secrets::Secret;

/// Which check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum CheckId {
    Config,
    Dns,
    Tcp,
    Proxy,
    Tls,
    WinRm,
    ServiceAccount,
    Runspace,
    Cmdlets,
    ExchangeServers,
    Autodiscover,
    Ews,
    ActiveSync,
    Intune,
}

impl CheckId {
    pub const ALL: [CheckId; 14] = [
        CheckId::Config,
        CheckId::Dns,
        CheckId::Tcp,
        CheckId::Proxy,
        CheckId::Tls,
        CheckId::WinRm,
        CheckId::ServiceAccount,
        CheckId::Runspace,
        CheckId::Cmdlets,
        CheckId::ExchangeServers,
        CheckId::Autodiscover,
        CheckId::Ews,
        CheckId::ActiveSync,
        CheckId::Intune,
    ];

    /// Position in the checklist, from 1.
    pub fn number(self) -> usize {
        Self::ALL
            .iter()
            .position(|c| *c == self)
            .map_or(0, |i| i + 1)
    }

    /// A short name for people.
    pub fn title(self) -> &'static str {
        match self {
            CheckId::Config => "Configuration",
            CheckId::Dns => "Name resolution (DNS)",
            CheckId::Tcp => "TCP connection",
            CheckId::Proxy => "Proxy",
            CheckId::Tls => "TLS certificate",
            CheckId::WinRm => "PowerShell endpoint",
            CheckId::ServiceAccount => "Service account sign-in",
            CheckId::Runspace => "Exchange runspace",
            CheckId::Cmdlets => "Required cmdlets",
            CheckId::ExchangeServers => "Client Access Servers",
            CheckId::Autodiscover => "Autodiscover (EWS URL)",
            CheckId::Ews => "Notification account (EWS)",
            CheckId::ActiveSync => "ActiveSync endpoint",
            CheckId::Intune => "Intune (Microsoft Graph)",
        }
    }

    /// Stable key for JSON.
    pub fn key(self) -> &'static str {
        match self {
            CheckId::Config => "config",
            CheckId::Dns => "dns",
            CheckId::Tcp => "tcp",
            CheckId::Proxy => "proxy",
            CheckId::Tls => "tls",
            CheckId::WinRm => "powershell_endpoint",
            CheckId::ServiceAccount => "service_account",
            CheckId::Runspace => "runspace",
            CheckId::Cmdlets => "cmdlets",
            CheckId::ExchangeServers => "exchange_servers",
            CheckId::Autodiscover => "autodiscover",
            CheckId::Ews => "ews",
            CheckId::ActiveSync => "activesync",
            CheckId::Intune => "intune",
        }
    }

    /// Checks that must pass before this one means anything.
    fn prerequisites(self, proxy: bool, explicit_ews: bool) -> Vec<CheckId> {
        use CheckId::*;
        match self {
            Config => vec![],
            Dns | Proxy => vec![Config],
            Tcp if proxy => vec![Proxy],
            Tcp => vec![Dns],
            Tls => vec![Tcp],
            WinRm => vec![Tls],
            ServiceAccount => vec![WinRm],
            Runspace => vec![ServiceAccount],
            Cmdlets | ExchangeServers => vec![Runspace],
            Autodiscover if explicit_ews => vec![Config],
            Autodiscover | ActiveSync => vec![Tls],
            Ews => vec![Autodiscover],
            Intune => vec![Config],
        }
    }
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    /// Passed, with something the admin should know.
    Warning,
    Failed,
    /// Not run: a prerequisite failed or was skipped.
    Skipped,
    /// Does not apply to this configuration (e.g. no proxy is used).
    NotApplicable,
}

impl Status {
    /// ✔ ⚠ ✘ –
    pub fn symbol(self) -> &'static str {
        match self {
            Status::Passed => "✔",
            Status::Warning => "⚠",
            Status::Failed => "✘",
            Status::Skipped | Status::NotApplicable => "–",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub id: CheckId,
    pub key: &'static str,
    pub number: usize,
    pub title: &'static str,
    pub status: Status,
    pub duration_ms: u64,
    /// What was found (never a password), in English: [`CheckResult::finding`]'s text.
    pub detail: String,
    /// What to do, when something is wrong, in English: [`CheckResult::remedy`]'s text.
    pub fix: Option<String>,
    /// What was found, as data (the wizard renders it in the admin's language).
    #[serde(skip)]
    pub finding: Box<Finding>,
    /// What to do, as data.
    #[serde(skip)]
    pub remedy: Option<Box<Fix>>,
    /// How the account signed in (checks 7 and 12, when they passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_in: Option<SignIn>,
}

impl CheckResult {
    /// One checklist line, and a `fix:` line when there is a fix.
    pub fn to_text(&self) -> String {
        let dur = if matches!(self.status, Status::Skipped | Status::NotApplicable) {
            String::new()
        } else {
            format!("{} ms", self.duration_ms)
        };
        let mut s = format!(
            " {} {:>2}. {:<28} {:>8}   {}\n",
            self.status.symbol(),
            self.number,
            self.title,
            dur,
            self.detail
        );
        if let Some(fix) = &self.fix {
            s.push_str(&format!("          fix: {fix}\n"));
        }
        s
    }
}

/// How an account signed in (checks 7 and 12), for the wizard and `validate --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignIn {
    pub mechanism: crate::exchange::client::Mechanism,
    /// Why Kerberos was passed over for it, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kerberos_not_used: Option<String>,
}

/// What a check found, before timing and ordering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub finding: Box<Finding>,
    pub fix: Option<Box<Fix>>,
    pub sign_in: Option<SignIn>,
}

impl Outcome {
    fn new(status: Status, finding: Finding, fix: Option<Fix>) -> Self {
        Outcome {
            status,
            finding: Box::new(finding),
            fix: fix.map(Box::new),
            sign_in: None,
        }
    }
    pub fn pass(finding: Finding) -> Self {
        Self::new(Status::Passed, finding, None)
    }
    pub fn warn(finding: Finding, fix: Fix) -> Self {
        Self::new(Status::Warning, finding, Some(fix))
    }
    pub fn fail(finding: Finding, fix: Fix) -> Self {
        Self::new(Status::Failed, finding, Some(fix))
    }
    /// A failure reported by a lower layer, in its words, with our fix.
    pub fn error(error: &impl std::fmt::Display, fix: Fix) -> Self {
        Self::fail(
            Finding::Error {
                text: error.to_string(),
            },
            fix,
        )
    }
    pub fn skip(finding: Finding) -> Self {
        Self::new(Status::Skipped, finding, None)
    }
    /// The same outcome, saying how the account signed in.
    pub fn with_sign_in(mut self, sign_in: SignIn) -> Self {
        self.sign_in = Some(sign_in);
        self
    }
    pub fn not_applicable(finding: Finding) -> Self {
        Self::new(Status::NotApplicable, finding, None)
    }
}

/// Progress, for a live checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The check started (all start together).
    Started(CheckId),
    /// The check's final result.
    Finished(CheckResult),
}

/// Everything validation needs: the configuration, its file's own problems, and passwords.
#[derive(Debug, Clone)]
pub struct Input {
    pub config: ConnectorConfig,
    /// Problems already known about the file (completeness); they fail the config check.
    pub config_problems: Vec<FieldProblem>,
    pub service_password: Option<Secret>,
    pub notification_password: Option<Secret>,
    pub proxy_password: Option<Secret>,
    /// The cloud app's credential (check 14), read from the store by the caller; `None`
    /// when it is not stored.
    pub cloud_credential: Option<crate::cloud::AppCredential>,
}

/// How to validate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Bound on each check.
    pub check_timeout: Duration,
    /// Also send a test mail to the notification mailbox.
    pub send_test_mail: bool,
    /// The PowerShell virtual directory.
    pub powershell_path: String,
    /// The PowerShell configuration's resource URI.
    pub resource_uri: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            check_timeout: Duration::from_secs(20),
            send_test_mail: false,
            powershell_path: "/PowerShell/".to_string(),
            resource_uri: crate::wire::wsman::ns::RESOURCE_EXCHANGE.to_string(),
        }
    }
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub checks: Vec<CheckResult>,
    pub total_ms: u64,
    /// True when no check failed.
    pub ok: bool,
}

impl Report {
    pub fn get(&self, id: CheckId) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// A plain-text checklist (for the CLI and the wizard's "Copy report").
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for c in &self.checks {
            s.push_str(&c.to_text());
        }
        s.push_str(&format!(
            "\n{} in {} ms\n",
            if self.ok {
                "All required checks passed"
            } else {
                "Validation failed"
            },
            self.total_ms
        ));
        s
    }
}

/// Run every check. Progress goes to `events` when given.
/// Check 14 on its own (the wizard's "Test" on the Compliance source page): sign in to
/// Entra ID as `cfg`'s `<Cloud>` app with `credential`, and read the first page of Intune's
/// managed devices; a failure says what to fix.
pub async fn intune_check(
    cfg: &ConnectorConfig,
    credential: Option<crate::cloud::AppCredential>,
    proxy_password: Option<&Secret>,
    timeout: Duration,
) -> Outcome {
    checks::intune(cfg, credential, proxy_password, timeout).await
}

pub async fn validate(
    input: Input,
    opts: Options,
    events: Option<mpsc::UnboundedSender<Event>>,
) -> Report {
    let started = Instant::now();
    // A check reports the domain as it is now: no tickets, refusals or unreachable KDCs
    // remembered from an earlier run in this process (the wizard's Retry).
    crate::exchange::auth::kerberos::tickets::clear_cache();
    let send = |e: Event| {
        if let Some(tx) = &events {
            let _ = tx.send(e);
        }
    };
    for id in CheckId::ALL {
        send(Event::Started(id));
    }
    let ctx = std::sync::Arc::new(checks::Context::new(input, opts.clone()));
    let proxy = ctx.proxy_enabled();
    let explicit_ews = ctx.explicit_ews();

    let (tx, mut rx) = mpsc::unbounded_channel::<(CheckId, Outcome, Duration)>();
    let mut tasks = HashMap::new();
    for id in CheckId::ALL {
        let ctx = ctx.clone();
        let tx = tx.clone();
        let timeout = opts.check_timeout;
        tasks.insert(
            id,
            tokio::spawn(async move {
                let t0 = Instant::now();
                let outcome = match tokio::time::timeout(timeout, checks::run(id, &ctx)).await {
                    Ok(o) => o,
                    Err(_) => Outcome::fail(
                        Finding::Timeout {
                            secs: timeout.as_secs(),
                        },
                        Fix::SlowNetwork,
                    ),
                };
                let _ = tx.send((id, outcome, t0.elapsed()));
            }),
        );
    }
    drop(tx);

    let mut raw: HashMap<CheckId, (Outcome, Duration)> = HashMap::new();
    let mut finals: BTreeMap<CheckId, CheckResult> = BTreeMap::new();
    let make = |id: CheckId, o: Outcome, d: Duration| CheckResult {
        id,
        key: id.key(),
        number: id.number(),
        title: id.title(),
        status: o.status,
        duration_ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
        detail: o.finding.to_string(),
        fix: o.fix.as_ref().map(ToString::to_string),
        finding: o.finding,
        remedy: o.fix,
        sign_in: o.sign_in,
    };
    loop {
        // Finalize whatever can be finalized now.
        let mut progressed = true;
        while progressed {
            progressed = false;
            for id in CheckId::ALL {
                if finals.contains_key(&id) {
                    continue;
                }
                let pre = id.prerequisites(proxy, explicit_ews);
                if let Some(bad) = pre.iter().find(|p| {
                    finals
                        .get(p)
                        .is_some_and(|r| matches!(r.status, Status::Failed | Status::Skipped))
                }) {
                    let r = &finals[bad];
                    // Name the root cause, not the chain of skips leading to it.
                    let reason = if r.status == Status::Failed {
                        Finding::SkippedAfter {
                            number: r.number,
                            title: r.title,
                        }
                    } else {
                        (*r.finding).clone()
                    };
                    if let Some(t) = tasks.get(&id) {
                        t.abort();
                    }
                    let res = make(id, Outcome::skip(reason), Duration::ZERO);
                    send(Event::Finished(res.clone()));
                    finals.insert(id, res);
                    progressed = true;
                    continue;
                }
                if pre.iter().all(|p| finals.contains_key(p)) {
                    if let Some((o, d)) = raw.remove(&id) {
                        let res = make(id, o, d);
                        send(Event::Finished(res.clone()));
                        finals.insert(id, res);
                        progressed = true;
                    }
                }
            }
        }
        if finals.len() == CheckId::ALL.len() {
            break;
        }
        match rx.recv().await {
            Some((id, o, d)) => {
                raw.insert(id, (o, d));
            }
            None => break,
        }
    }
    let checks: Vec<CheckResult> = finals.into_values().collect();
    let ok = checks.len() == CheckId::ALL.len()
        && !checks
            .iter()
            .any(|c| matches!(c.status, Status::Failed | Status::Skipped));
    Report {
        checks,
        total_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        ok,
    }
}
