//! One access-control sync: discover, decide, enforce, notify, audit.
//!
//! Devices are read (all on a full sync, with a bulk `Get-CASMailbox` for the mailbox
//! directory; the changed ones on a quick sync) and decided by the policy. A mailbox is
//! touched only when one of its devices is not where its decision puts it (Allow → the
//! allowed list, Block → the blocked list, Quarantine → neither, under the organization's
//! `DefaultAccessLevel` Quarantine). For each such mailbox the lists are read again right
//! before the change and only the difference is sent (`@{Add=…;Remove=…}`), so entries the
//! engine did not decide are never rewritten and repeating a change is harmless: a CAS that
//! stops mid-sync costs a reconnect to another CAS and a retry of the unfinished mailboxes,
//! never a lost or doubled entry. Mailboxes run in parallel up to the pool's runspaces. After
//! enforcing, the engine reads back the devices its changes touched (a settle pass) so the
//! watermark moves past its own changes. A dry run does all the reading and computes the
//! exact changes, then sends none, mails nobody and leaves the engine state alone.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::audit::{self, AuditRecord};
use super::notify::{self, DrainReport, MailFacts, MailSender, Queue};
use super::policy::{AccessPolicy, Action, DeviceFacts, Grandfathered};
use super::state::{device_name, DeviceRecord, EngineState, GrandfatheredSet, MailboxInfo};
use super::{later, Engine, EngineError, SyncKind, SyncOutcome, SyncState};
use crate::exchange::ops::{CasMailbox, Exchange, ExchangeError, MobileDevice};
use crate::exchange::powershell::RemotePowerShell;
use crate::exchange::target::{open_with_failover, Target};

use crate::wire::exchange::opath::{Filter, Op};
use crate::wire::exchange::{
    AccessLevel, DeviceAccessState, DeviceAccessStateReason, ListUpdate, SettingValue,
};

/// How the engine controls access.
pub struct AccessOptions {
    /// The organization folder (policy, state, queue, templates).
    pub org_dir: PathBuf,
    /// Where the audit trail goes.
    pub logs_dir: PathBuf,
    /// Compute and report only (a dry run also happens when the policy says `dry_run = true`
    /// or enforcement has not been confirmed yet).
    pub dry_run: bool,
    /// Sends queued notifications; without one they stay queued.
    pub sender: Option<tokio::sync::Mutex<Box<dyn MailSender>>>,
    /// How long one sync may spend sending notifications.
    pub notify_budget: Duration,
    /// Sync passes at most (the first, and settle passes after changes).
    pub max_passes: usize,
}

impl AccessOptions {
    pub fn new(org_dir: PathBuf, logs_dir: PathBuf) -> Self {
        AccessOptions {
            org_dir,
            logs_dir,
            dry_run: false,
            sender: None,
            notify_budget: Duration::from_secs(60),
            max_passes: 3,
        }
    }
    pub fn dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }
    pub fn sender(mut self, s: Box<dyn MailSender>) -> Self {
        self.sender = Some(tokio::sync::Mutex::new(s));
        self
    }
}

/// The change to one mailbox's lists (`ActiveSyncAllowedDeviceIDs`,
/// `ActiveSyncBlockedDeviceIDs`). In JSON (reports, the state file) it stays flat:
/// `mailbox`, `allow_add`, `allow_remove`, `block_add`, `block_remove`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "FlatChange", into = "FlatChange")]
pub struct MailboxChange {
    pub mailbox: String,
    pub allowed: ListUpdate,
    pub blocked: ListUpdate,
}

impl MailboxChange {
    fn is_empty(&self) -> bool {
        self.allowed.is_empty() && self.blocked.is_empty()
    }
    fn touches(&self, id: &str) -> bool {
        self.allowed.touches(id) || self.blocked.touches(id)
    }
    /// Every device id added to or removed from either list.
    pub fn device_ids(&self) -> impl Iterator<Item = &String> {
        let (a, b) = (&self.allowed, &self.blocked);
        a.add.iter().chain(&a.remove).chain(&b.add).chain(&b.remove)
    }
}

/// [`MailboxChange`] as JSON has always had it.
#[derive(Serialize, Deserialize)]
struct FlatChange {
    mailbox: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    allow_add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    allow_remove: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    block_add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    block_remove: Vec<String>,
}

impl From<FlatChange> for MailboxChange {
    fn from(f: FlatChange) -> MailboxChange {
        MailboxChange {
            mailbox: f.mailbox,
            allowed: ListUpdate {
                add: f.allow_add,
                remove: f.allow_remove,
            },
            blocked: ListUpdate {
                add: f.block_add,
                remove: f.block_remove,
            },
        }
    }
}

impl From<MailboxChange> for FlatChange {
    fn from(c: MailboxChange) -> FlatChange {
        FlatChange {
            mailbox: c.mailbox,
            allow_add: c.allowed.add,
            allow_remove: c.allowed.remove,
            block_add: c.blocked.add,
            block_remove: c.blocked.remove,
        }
    }
}

/// What access control decided and did in one sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessReport {
    pub dry_run: bool,
    /// Why it was a dry run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run_reason: Option<String>,
    /// Devices decided (over all passes).
    pub decided: usize,
    pub by_action: BTreeMap<String, usize>,
    pub by_source: BTreeMap<String, usize>,
    /// Devices whose decision is new or differs from the last one.
    pub changed_decisions: usize,
    /// Every list change, computed (dry run) or made, sorted by mailbox.
    pub mailbox_changes: Vec<MailboxChange>,
    /// Mailboxes changed with `Set-CASMailbox` (0 in a dry run; a call whose answer was lost
    /// to a failed CAS and that had taken effect counts once).
    pub set_cas_mailbox_calls: usize,
    /// Organization settings changes (`DefaultAccessLevel: Allow → Quarantine`).
    pub org_changes: Vec<String>,
    /// Mailbox policy changes.
    pub policy_changes: Vec<String>,
    pub notifications_queued: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<DrainReport>,
    /// Mailboxes or settings that could not be changed, with Exchange's words.
    pub failures: Vec<String>,
    /// Devices grandfathered in this sync (the first full sync with grandfathering on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grandfathered: Option<usize>,
    pub passes: usize,
    /// Servers switched to during the sync after a CAS stopped answering.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failovers: Vec<String>,
}

impl AccessReport {
    /// The same report with at most `n` mailbox changes (for keeping in the state file).
    pub fn truncated(&self, n: usize) -> AccessReport {
        let mut r = self.clone();
        r.mailbox_changes.truncate(n);
        r
    }
}

/// A device as read, compactly: strings shared between devices are kept once in the
/// [`Interner`], as an index (the mailbox, used as a key, as a shared `Arc<str>`). 48 bytes
/// a device plus its id.
struct Seen {
    device_id: Box<str>,
    mailbox: Arc<str>,
    display: Sym,
    device_type: Sym,
    model: Sym,
    os: Sym,
    user_agent: Sym,
    state: DeviceAccessState,
    reason: DeviceAccessStateReason,
}

/// A string in an [`Interner`].
#[derive(Clone, Copy)]
struct Sym(u32);

/// A device id compared and hashed without regard to ASCII case, borrowed.
struct NoCase<'a>(&'a str);

impl PartialEq for NoCase<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(other.0)
    }
}

impl Eq for NoCase<'_> {}

impl std::hash::Hash for NoCase<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        for b in self.0.bytes() {
            h.write_u8(b.to_ascii_lowercase());
        }
        h.write_u8(0xff);
    }
}

/// A decision as kept until it is recorded: source and reason shared between devices.
struct Decided {
    action: Action,
    source: Arc<str>,
    reason: Arc<str>,
}

#[derive(Default)]
struct Interner {
    index: HashMap<Arc<str>, u32>,
    strings: Vec<Arc<str>>,
}

impl Interner {
    fn sym(&mut self, s: &str) -> Sym {
        if let Some(&n) = self.index.get(s) {
            return Sym(n);
        }
        let n = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
        let a: Arc<str> = Arc::from(s);
        self.index.insert(a.clone(), n);
        self.strings.push(a);
        Sym(n)
    }
    fn get(&mut self, s: &str) -> Arc<str> {
        let Sym(n) = self.sym(s);
        self.strings[n as usize].clone()
    }
    fn str(&self, Sym(n): Sym) -> &str {
        self.strings.get(n as usize).map_or("", |s| s)
    }
}

/// The mailbox part of a device identity (`domain/Users/Name/ExchangeActiveSyncDevices/…`),
/// else the user's display name.
pub fn mailbox_of(d: &MobileDevice) -> &str {
    d.parsed_identity()
        .map_or(d.user_display_name.as_str(), |i| i.mailbox)
}

fn seen(d: &MobileDevice, i: &mut Interner) -> Seen {
    Seen {
        device_id: d.device_id.as_str().into(),
        mailbox: i.get(mailbox_of(d)),
        display: i.sym(&d.user_display_name),
        device_type: i.sym(&d.device_type),
        model: i.sym(&d.device_model),
        os: i.sym(&d.device_os),
        user_agent: i.sym(&d.user_agent),
        state: d.access_state,
        reason: d.access_state_reason,
    }
}

/// Whether a device's Exchange state shows it where `action` wants it (from the state
/// alone: `Individual` means it is in a list).
fn state_matches(
    state: DeviceAccessState,
    reason: DeviceAccessStateReason,
    action: Action,
) -> bool {
    let individual = reason == DeviceAccessStateReason::Individual;
    match action {
        Action::Allow => individual && state == DeviceAccessState::Allowed,
        Action::Block => individual && state == DeviceAccessState::Blocked,
        Action::Quarantine => !individual,
    }
}

/// The minimal list changes that put each wanted device where its action says.
pub fn diff(
    mailbox: &str,
    allowed: &[String],
    blocked: &[String],
    wants: &[(String, Action)],
) -> MailboxChange {
    let mut c = MailboxChange {
        mailbox: mailbox.to_string(),
        ..MailboxChange::default()
    };
    for (id, action) in wants {
        c.allowed.put(allowed, id, *action == Action::Allow);
        c.blocked.put(blocked, id, *action == Action::Block);
    }
    c
}

/// A mailbox to read (and change, unless a dry run).
struct Job {
    mailbox: Arc<str>,
    /// What to pass as `-Identity` (SMTP address when known, else the canonical name).
    identity: String,
    wants: Vec<(String, Action)>,
    /// A `Set-CASMailbox` was sent in an attempt that then failed.
    sent_before: Option<MailboxChange>,
}

struct JobResult {
    mailbox: Arc<str>,
    cas: Option<CasMailbox>,
    change: MailboxChange,
    applied: bool,
    error: Option<String>,
}

/// A connection-level failure (try another CAS), as opposed to Exchange refusing a command.
fn retryable(e: &ExchangeError) -> bool {
    !e.is_refusal()
}

struct Conn {
    ex: RemotePowerShell,
    server: String,
}

async fn reconnect(
    engine: &Engine,
    state: &SyncState,
    avoid: &str,
    version: Option<crate::exchange::ops::ServerVersion>,
) -> Result<Conn, EngineError> {
    let mut c: Vec<Target> = engine.candidates(state);
    // The server that just failed goes last.
    c.sort_by_key(|t| t.address().eq_ignore_ascii_case(avoid));
    let (mut ex, used, _) = open_with_failover(&c)
        .await
        .map_err(EngineError::from_failover)?;
    ex.set_version(version);
    Ok(Conn {
        ex,
        server: c.get(used).map(Target::address).unwrap_or_default(),
    })
}

async fn run_job(
    ex: &impl Exchange,
    job: &mut Job,
    dry_run: bool,
) -> Result<JobResult, ExchangeError> {
    let cas = ex.get_cas_mailbox(&job.identity).await?;
    let Some(cas) = cas else {
        return Ok(JobResult {
            mailbox: job.mailbox.clone(),
            cas: None,
            change: MailboxChange::default(),
            applied: false,
            error: Some(format!("mailbox {} not found", job.identity)),
        });
    };
    let change = diff(
        &job.mailbox,
        &cas.allowed_device_ids,
        &cas.blocked_device_ids,
        &job.wants,
    );
    if change.is_empty() || dry_run {
        // A change sent before a CAS failed has landed: report it as made.
        let (change, applied) = match job.sent_before.take() {
            Some(prev) if change.is_empty() => (prev, true),
            _ => (change, false),
        };
        return Ok(JobResult {
            mailbox: job.mailbox.clone(),
            cas: Some(cas),
            change,
            applied,
            error: None,
        });
    }
    job.sent_before = Some(change.clone());
    ex.update_device_lists(&job.identity, &change.allowed, &change.blocked)
        .await?;
    Ok(JobResult {
        mailbox: job.mailbox.clone(),
        cas: Some(cas),
        change,
        applied: true,
        error: None,
    })
}

/// Run the jobs, `workers` at a time, failing over to another CAS when one stops answering.
async fn run_jobs(
    engine: &Engine,
    state: &SyncState,
    conn: &mut Conn,
    jobs: Vec<Job>,
    dry_run: bool,
    report: &mut AccessReport,
) -> Result<Vec<JobResult>, EngineError> {
    let workers = engine.primary.max_runspaces.max(1);
    let mut pending: VecDeque<Job> = jobs.into();
    let mut results = Vec::new();
    let mut rounds = 0;
    while !pending.is_empty() {
        let queue = Arc::new(Mutex::new(std::mem::take(&mut pending)));
        let retry = Arc::new(Mutex::new(VecDeque::new()));
        let done = Arc::new(Mutex::new(Vec::new()));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let (queue, retry, done, ex) =
                (queue.clone(), retry.clone(), done.clone(), conn.ex.clone());
            set.spawn(async move {
                loop {
                    let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                    let Some(mut job) = next else { break };
                    match run_job(&ex, &mut job, dry_run).await {
                        Ok(r) => {
                            if let Ok(mut d) = done.lock() {
                                d.push(r);
                            }
                        }
                        Err(e) if retryable(&e) => {
                            tracing::warn!("{}: {e}; retrying on another server", job.identity);
                            if let Ok(mut r) = retry.lock() {
                                r.push_back(job);
                            }
                        }
                        Err(e) => {
                            if let Ok(mut d) = done.lock() {
                                d.push(JobResult {
                                    mailbox: job.mailbox.clone(),
                                    cas: None,
                                    change: MailboxChange::default(),
                                    applied: false,
                                    error: Some(e.to_string()),
                                });
                            }
                        }
                    }
                }
            });
        }
        while set.join_next().await.is_some() {}
        results.append(
            &mut done
                .lock()
                .map(|mut d| std::mem::take(&mut *d))
                .unwrap_or_default(),
        );
        pending = retry
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        if pending.is_empty() {
            break;
        }
        rounds += 1;
        if rounds > 3 {
            for j in pending.drain(..) {
                report
                    .failures
                    .push(format!("{}: no server answered", j.identity));
                results.push(JobResult {
                    mailbox: j.mailbox.clone(),
                    cas: None,
                    change: MailboxChange::default(),
                    applied: false,
                    error: Some("no Client Access Server answered".into()),
                });
            }
            break;
        }
        let version = state.server_version;
        let failed = conn.server.clone();
        *conn = reconnect(engine, state, &failed, version).await?;
        report.failovers.push(conn.server.clone());
    }
    Ok(results)
}

/// Read devices (with `filter`), and on a full pass the mailbox directory too, failing over
/// when the CAS stops answering mid-read. `each` sees every device once.
#[allow(clippy::too_many_arguments)]
async fn read_devices(
    engine: &Engine,
    state: &SyncState,
    conn: &mut Conn,
    filter: Option<&Filter>,
    directory: Option<&mut BTreeMap<String, MailboxInfo>>,
    interner: &mut Interner,
    each: &mut (impl FnMut(MobileDevice) + Send),
    report: &mut AccessReport,
) -> Result<(Vec<Seen>, Option<String>), EngineError> {
    let mut delivered: Option<HashSet<String>> = None;
    let mut directory = directory;
    for attempt in 0..4 {
        let mut devices = Vec::new();
        let mut watermark = state.watermark.clone();
        // The directory is read anew whole: the previous one goes first, so the two are
        // never in memory together (a failed sync does not save it anyway).
        let mut dir_new = directory.as_deref_mut();
        if let Some(d) = dir_new.as_deref_mut() {
            d.clear();
        }
        let ex = conn.ex.clone();
        let devices_read = ex.get_mobile_devices(filter, |d| {
            if let Some(w) = &d.when_changed {
                watermark = later(watermark.take(), w);
            }
            devices.push(seen(&d, interner));
            if delivered.as_ref().is_none_or(|s| !s.contains(&d.device_id)) {
                each(d);
            }
        });
        let dir_read = async {
            if let Some(dir_new) = dir_new.as_deref_mut() {
                let partners = Filter::cmp("HasActiveSyncDevicePartnership", Op::Eq, true);
                ex.get_cas_mailboxes(Some(&partners), |m| {
                    dir_new.insert(
                        m.identity.clone(),
                        MailboxInfo {
                            alias: m.sam_account_name,
                            smtp: m.primary_smtp_address,
                            display_name: m.name,
                        },
                    );
                })
                .await
                .map(|_| ())
            } else {
                Ok(())
            }
        };
        let (a, b) = tokio::join!(devices_read, dir_read);
        match a.and(b) {
            Ok(()) => {
                return Ok((devices, watermark));
            }
            Err(e) if retryable(&e) && attempt < 3 => {
                tracing::warn!("{}: {e}; reading again from another server", conn.server);
                let set = delivered.get_or_insert_with(HashSet::new);
                set.extend(devices.into_iter().map(|d| String::from(d.device_id)));
                let failed = conn.server.clone();
                *conn = reconnect(engine, state, &failed, state.server_version).await?;
                report.failovers.push(conn.server.clone());
            }
            Err(error) => {
                return Err(EngineError::Exchange {
                    server: conn.server.clone(),
                    error,
                })
            }
        }
    }
    Err(EngineError::NoServer(Vec::new()))
}

/// The action Exchange's state amounts to (`None` while it is still deciding).
fn observed_action(state: DeviceAccessState) -> Option<Action> {
    state.level().map(Action::from)
}

/// One sync with access control (see the module documentation).
pub(super) async fn sync(
    engine: &Engine,
    opts: &AccessOptions,
    kind: SyncKind,
    state: &mut SyncState,
    mut each: impl FnMut(MobileDevice) + Send,
) -> Result<SyncOutcome, EngineError> {
    let started = Instant::now();
    super::mem_mark("start");
    let policy = AccessPolicy::load(&opts.org_dir)?;
    super::mem_mark("policy loaded");
    let mut es = EngineState::load(&opts.org_dir).map_err(|e| EngineError::State(e.to_string()))?;
    super::mem_mark("state loaded");
    let bootstrap = es.devices.is_empty();
    let dry_run_reason = if opts.dry_run {
        Some("--dry-run".to_string())
    } else if policy.dry_run {
        Some("dry_run = true in the access policy".to_string())
    } else if es.confirmed.is_none() {
        Some(
            "enforcement not confirmed yet: review, then run `eas-connector enforce --confirm`"
                .to_string(),
        )
    } else {
        None
    };
    let dry_run = dry_run_reason.is_some();
    // The first enforcing sync, and one after a policy change, covers every device.
    let digest = policy.digest.clone();
    let policy_changed = es.policy_digest.as_deref() != Some(digest.as_str());
    let kind = if es.full_sync_requested
        || state.watermark.is_none()
        || (!dry_run && (bootstrap || policy_changed))
    {
        SyncKind::Full
    } else {
        kind
    };
    let mut report = AccessReport {
        dry_run,
        dry_run_reason,
        ..AccessReport::default()
    };

    // Connect and learn the servers, as discovery does.
    let candidates = engine.candidates(state);
    let (ex, used, failures) = open_with_failover(&candidates)
        .await
        .map_err(EngineError::from_failover)?;
    let mut conn = Conn {
        ex,
        server: candidates
            .get(used)
            .map(Target::address)
            .unwrap_or_default(),
    };
    let first_server = conn.server.clone();
    let mut new_state = state.clone();
    if kind == SyncKind::Full || state.server_version.is_none() {
        let servers =
            conn.ex
                .get_exchange_servers()
                .await
                .map_err(|error| EngineError::Exchange {
                    server: conn.server.clone(),
                    error,
                })?;
        new_state.server_version = servers.iter().filter_map(|s| s.version).max();
        new_state.failover_servers = servers
            .iter()
            .filter(|s| s.is_client_access_server && !s.fqdn.is_empty())
            .map(|s| s.fqdn.clone())
            .collect();
    }
    conn.ex.set_version(new_state.server_version);

    let now = time::OffsetDateTime::now_utc();
    let mut policy = policy;
    policy.inventory.now = Some(now);
    let now_text = audit::rfc3339(now);
    let sync_name = match kind {
        SyncKind::Full => "full",
        SyncKind::Quick => "quick",
    };
    let mut interner = Interner::default();
    let mut reasons = Interner::default();
    let mut devices_first_pass = 0usize;
    let mut audit_lines: Vec<AuditRecord> = Vec::new();
    let mut queue: Option<Queue> = None;
    let mut names_by_mailbox: Option<HashMap<String, Vec<String>>> = None;
    let mut pass = 0;
    // On a dry run, the directory learned is used for this sync only.
    let mut directory = std::mem::take(&mut es.mailboxes);
    loop {
        pass += 1;
        let full_pass = kind == SyncKind::Full && pass == 1;
        let filter = if full_pass {
            None
        } else {
            new_state
                .watermark
                .as_ref()
                .map(|w| Filter::cmp("WhenChanged", Op::Gt, w.as_str()))
        };
        let (devices, watermark) = read_devices(
            engine,
            &new_state,
            &mut conn,
            filter.as_ref(),
            full_pass.then_some(&mut directory),
            &mut interner,
            &mut |d| {
                if pass == 1 {
                    each(d)
                }
            },
            &mut report,
        )
        .await?;
        new_state.watermark = watermark;
        super::mem_mark("devices read");
        if pass == 1 {
            devices_first_pass = devices.len();
        }
        if full_pass && !dry_run {
            // Devices gone from Exchange are forgotten (ids compared without copies).
            let present: HashSet<NoCase<'_>> =
                devices.iter().map(|d| NoCase(&d.device_id)).collect();
            es.devices.retain(|k, _| present.contains(&NoCase(k)));
        }
        report.passes = pass;

        // Grandfathering: on the first full sync with it on, every existing device (or every
        // one Exchange allows) is recorded.
        if full_pass && policy.grandfathering.enabled && es.grandfathered.is_none() {
            let set: std::collections::BTreeSet<String> = devices
                .iter()
                .filter(|d| {
                    !policy.grandfathering.only_allowed || d.state == DeviceAccessState::Allowed
                })
                .map(|d| d.device_id.to_ascii_lowercase())
                .collect();
            report.grandfathered = Some(set.len());
            es.grandfathered = Some(GrandfatheredSet {
                recorded_at: now_text.clone(),
                devices: set,
            });
        }
        // Lent to the policy while deciding (not copied), given back right after.
        let grandfathered = Grandfathered(
            es.grandfathered
                .as_mut()
                .map(|g| std::mem::take(&mut g.devices))
                .unwrap_or_default(),
        );

        // Decide.
        let empty = MailboxInfo {
            alias: String::new(),
            smtp: String::new(),
            display_name: String::new(),
        };
        let mut decisions = Vec::with_capacity(devices.len());
        let mut jobs: BTreeMap<Arc<str>, Job> = BTreeMap::new();
        for d in &devices {
            let info = directory.get(&*d.mailbox).unwrap_or(&empty);
            let facts = DeviceFacts {
                device_id: &d.device_id,
                device_type: interner.str(d.device_type),
                device_model: interner.str(d.model),
                device_os: interner.str(d.os),
                user_agent: interner.str(d.user_agent),
                user_display_name: interner.str(d.display),
                user_alias: &info.alias,
                user_smtp: &info.smtp,
                access_state: d.state,
            };
            let decision = policy.decide(&facts, &grandfathered);
            let decision = Decided {
                action: decision.action,
                source: reasons.get(&decision.source),
                reason: reasons.get(&decision.reason),
            };
            report.decided += 1;
            *report
                .by_action
                .entry(decision.action.to_string())
                .or_default() += 1;
            match report.by_source.get_mut(&*decision.source) {
                Some(n) => *n += 1,
                None => {
                    report.by_source.insert(decision.source.to_string(), 1);
                }
            }
            let key = d.device_id.to_ascii_lowercase();
            let prev = es.devices.get(&key);
            let notify_needed = !dry_run
                && policy.notifications.enabled
                && decision.action != Action::Allow
                && prev.is_none_or(|p| p.notified != Some(decision.action))
                && match prev {
                    Some(p) => p.action != decision.action || !p.applied,
                    // First sight: on the very first sync only a change from what Exchange
                    // did before counts; later, a new device is news.
                    None => !bootstrap || observed_action(d.state) != Some(decision.action),
                };
            let needs_change = !state_matches(d.state, d.reason, decision.action);
            if needs_change || (notify_needed && info.smtp.is_empty()) {
                let job = jobs.entry(d.mailbox.clone()).or_insert_with(|| Job {
                    mailbox: d.mailbox.clone(),
                    identity: if info.smtp.is_empty() {
                        d.mailbox.to_string()
                    } else {
                        info.smtp.clone()
                    },
                    wants: Vec::new(),
                    sent_before: None,
                });
                job.wants.push((d.device_id.to_string(), decision.action));
            }
            decisions.push((decision, notify_needed));
        }
        if let Some(g) = es.grandfathered.as_mut() {
            g.devices = grandfathered.0;
        }
        // Every device of a touched mailbox that this pass decided is part of its diff.
        for (d, (decision, _)) in devices.iter().zip(&decisions) {
            if let Some(job) = jobs.get_mut(&d.mailbox) {
                if !job
                    .wants
                    .iter()
                    .any(|(id, _)| id.eq_ignore_ascii_case(&d.device_id))
                {
                    job.wants.push((d.device_id.to_string(), decision.action));
                }
            }
        }

        super::mem_mark("decided");
        // Enforce.
        let results = run_jobs(
            engine,
            &new_state,
            &mut conn,
            jobs.into_values().collect(),
            dry_run,
            &mut report,
        )
        .await?;
        let mut by_mailbox: HashMap<Arc<str>, JobResult> = HashMap::new();
        let mut applied_any = false;
        for r in results {
            if let Some(cas) = &r.cas {
                directory.insert(
                    r.mailbox.to_string(),
                    MailboxInfo {
                        alias: cas.sam_account_name.clone(),
                        smtp: cas.primary_smtp_address.clone(),
                        display_name: cas.name.clone(),
                    },
                );
            }
            if let Some(e) = &r.error {
                report.failures.push(format!("{}: {e}", r.mailbox));
            }
            if !r.change.is_empty() {
                if r.applied {
                    report.set_cas_mailbox_calls += 1;
                    applied_any = true;
                }
                report.mailbox_changes.push(r.change.clone());
            }
            by_mailbox.insert(r.mailbox.clone(), r);
        }

        // Record, notify, audit.
        for (d, (decision, notify_needed)) in devices.iter().zip(decisions) {
            let key = d.device_id.to_ascii_lowercase();
            let r = by_mailbox.get(&d.mailbox);
            let failed = r.and_then(|r| r.error.as_ref());
            let touched = r.is_some_and(|r| r.change.touches(&d.device_id));
            let outcome = match (failed, touched, dry_run) {
                (Some(_), _, _) => "failed",
                (None, true, true) => "dry-run",
                (None, true, false) => "applied",
                (None, false, _) => "unchanged",
            };
            let prev = es.devices.get(&key).cloned();
            let info = directory.get(&*d.mailbox).unwrap_or(&empty);
            let name = match &prev {
                Some(p) => p.name.clone(),
                None => {
                    let names = names_by_mailbox.get_or_insert_with(|| {
                        let mut m: HashMap<String, Vec<String>> = HashMap::new();
                        for r in es.devices.values() {
                            m.entry(r.mailbox.clone()).or_default().push(r.name.clone());
                        }
                        m
                    });
                    let user = if info.alias.is_empty() {
                        interner.str(d.display)
                    } else {
                        info.alias.as_str()
                    };
                    let taken = names.entry(d.mailbox.to_string()).or_default();
                    let n = device_name(
                        user,
                        interner.str(d.device_type),
                        taken.iter().map(String::as_str),
                    );
                    taken.push(n.clone());
                    n
                }
            };
            let changed = prev.as_ref().is_none_or(|p| p.action != decision.action);
            if changed {
                report.changed_decisions += 1;
            }
            if changed || outcome != "unchanged" || policy.audit_unchanged {
                audit_lines.push(AuditRecord {
                    time: now_text.clone(),
                    device_id: d.device_id.to_string(),
                    device: name.clone(),
                    user: if info.smtp.is_empty() {
                        interner.str(d.display).to_string()
                    } else {
                        info.smtp.clone()
                    },
                    mailbox: d.mailbox.to_string(),
                    source: decision.source.to_string(),
                    reason: decision.reason.to_string(),
                    action: decision.action.to_string(),
                    previous: prev.as_ref().map(|p| p.action.to_string()),
                    outcome: outcome.to_string(),
                    error: failed.cloned(),
                    sync: sync_name.to_string(),
                });
            }
            if dry_run {
                continue;
            }
            let mut notified = if decision.action == Action::Allow {
                None
            } else {
                prev.as_ref().and_then(|p| p.notified)
            };
            if notify_needed && failed.is_none() && !info.smtp.is_empty() {
                let (subject, body) = notify::render(
                    &opts.org_dir,
                    &policy.notifications.language,
                    &MailFacts {
                        user: if info.display_name.is_empty() {
                            interner.str(d.display).to_string()
                        } else {
                            info.display_name.clone()
                        },
                        device: name.clone(),
                        device_type: interner.str(d.device_type).to_string(),
                        device_model: interner.str(d.model).to_string(),
                        device_id: d.device_id.to_string(),
                        action: decision.action,
                        reason: decision.reason.to_string(),
                        instructions: policy
                            .organization
                            .user_mail_insert
                            .clone()
                            .unwrap_or_default(),
                    },
                );
                let q = match &mut queue {
                    Some(q) => q,
                    None => queue.insert(
                        Queue::load(&opts.org_dir)
                            .map_err(|e| EngineError::State(e.to_string()))?,
                    ),
                };
                q.push(&d.device_id, &info.smtp, subject, body);
                report.notifications_queued += 1;
                notified = Some(decision.action);
            } else if decision.action != Action::Allow && !notify_needed {
                // Nothing to tell (Exchange already had it there, or already told).
                notified = notified.or(prev.as_ref().and_then(|p| p.notified));
            }
            es.devices.insert(
                key,
                DeviceRecord {
                    mailbox: d.mailbox.to_string(),
                    name,
                    action: decision.action,
                    applied: failed.is_none(),
                    notified,
                },
            );
        }
        super::mem_mark("recorded");
        // The queue is on disk before anything is sent.
        if let Some(q) = &queue {
            q.save(&opts.org_dir)
                .map_err(|e| EngineError::State(e.to_string()))?;
        }

        // Organization settings and mailbox policy, after the lists (so switching the default
        // to Quarantine never catches a device that is about to be allowed).
        if full_pass {
            if let Err(e) = org_settings(&conn.ex, &policy, dry_run, &mut report).await {
                report.failures.push(format!("organization settings: {e}"));
            }
            if let Err(e) = mailbox_policy(&conn.ex, &policy, dry_run, &mut report).await {
                report.failures.push(format!("mailbox policy: {e}"));
            }
            applied_any |=
                !dry_run && (!report.org_changes.is_empty() || !report.policy_changes.is_empty());
        }
        if dry_run || !applied_any || pass >= opts.max_passes {
            break;
        }
        // Our own changes moved WhenChanged: read them back, so the watermark passes them.
    }
    report.mailbox_changes.sort();
    conn.ex.close().await;
    super::mem_mark("passes done");

    if let Err(e) = audit::append(&opts.logs_dir, &audit_lines) {
        tracing::error!("could not write the audit trail: {e}");
        report.failures.push(format!("audit trail: {e}"));
    }
    super::mem_mark("audited");
    if dry_run {
        es.mailboxes = directory;
        // Keep what the dry run found for `enforce` to show; nothing else changes.
        let mut saved =
            EngineState::load(&opts.org_dir).map_err(|e| EngineError::State(e.to_string()))?;
        saved.last_dry_run = Some(report.truncated(200));
        if saved.grandfathered.is_none() {
            saved.grandfathered = es.grandfathered.clone();
        }
        saved.mailboxes = es.mailboxes;
        saved
            .save(&opts.org_dir)
            .map_err(|e| EngineError::State(e.to_string()))?;
    } else {
        es.mailboxes = directory;
        if kind == SyncKind::Full {
            es.full_sync_requested = false;
            es.policy_digest = Some(digest);
        }
        es.save(&opts.org_dir)
            .map_err(|e| EngineError::State(e.to_string()))?;
        super::mem_mark("state saved");
        if let Some(sender) = &opts.sender {
            let mut s = sender.lock().await;
            match notify::drain(&opts.org_dir, s.as_mut(), opts.notify_budget).await {
                Ok(r) => report.notifications = Some(r),
                Err(e) => report.failures.push(format!("notification queue: {e}")),
            }
        }
    }
    *state = new_state;
    Ok(SyncOutcome {
        kind,
        server: first_server,
        devices: devices_first_pass,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        failed_over_from: failures
            .into_iter()
            .map(|(s, e)| (s, e.to_string()))
            .collect(),
        access: Some(report),
    })
}

async fn org_settings(
    ex: &impl Exchange,
    policy: &AccessPolicy,
    dry_run: bool,
    report: &mut AccessReport,
) -> Result<(), ExchangeError> {
    let cur = ex.get_org_settings().await?;
    let level = (cur.default_access_level != Some(AccessLevel::Quarantine)).then(|| {
        report.org_changes.push(format!(
            "DefaultAccessLevel: {} → Quarantine",
            cur.default_access_level
                .map_or("(unknown)", AccessLevel::as_str)
        ));
        AccessLevel::Quarantine
    });
    let admins = policy
        .organization
        .admin_mail_recipients
        .as_ref()
        .filter(|want| {
            let norm = |v: &[String]| {
                let mut v: Vec<String> = v.iter().map(|s| s.to_ascii_lowercase()).collect();
                v.sort();
                v
            };
            norm(want) != norm(&cur.admin_mail_recipients)
        })
        .inspect(|want| {
            report.org_changes.push(format!(
                "AdminMailRecipients: [{}] → [{}]",
                cur.admin_mail_recipients.join(", "),
                want.join(", ")
            ))
        });
    let insert = policy
        .organization
        .user_mail_insert
        .as_deref()
        .filter(|want| cur.user_mail_insert.as_deref().unwrap_or_default() != *want)
        .inspect(|want| {
            report
                .org_changes
                .push(format!("UserMailInsert → \"{want}\""))
        });
    if dry_run || (level.is_none() && admins.is_none() && insert.is_none()) {
        return Ok(());
    }
    ex.set_org_settings(level, admins.map(Vec::as_slice), insert)
        .await
}

async fn mailbox_policy(
    ex: &impl Exchange,
    policy: &AccessPolicy,
    dry_run: bool,
    report: &mut AccessReport,
) -> Result<(), ExchangeError> {
    let Some(spec) = &policy.mailbox_policy else {
        return Ok(());
    };
    let existing = ex.get_policies().await?;
    match existing
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(&spec.name))
    {
        None => {
            let mut settings: Vec<(String, SettingValue)> = spec
                .settings
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if spec.is_default {
                settings.push(("IsDefault".into(), SettingValue::Bool(true)));
            }
            report.policy_changes.push(format!(
                "create mailbox policy \"{}\" with {} setting(s)",
                spec.name,
                spec.settings.len()
            ));
            if !dry_run {
                ex.new_policy(&spec.name, &settings).await?;
            }
        }
        Some(cur) => {
            let mut settings = Vec::new();
            for (k, v) in &spec.settings {
                let now = cur.settings.get(k).map(String::as_str).unwrap_or_default();
                if !now.eq_ignore_ascii_case(&v.text()) {
                    report.policy_changes.push(format!(
                        "mailbox policy \"{}\": {k}: {now} → {}",
                        spec.name,
                        v.text()
                    ));
                    settings.push((k.clone(), v.clone()));
                }
            }
            if spec.is_default && !cur.is_default {
                report.policy_changes.push(format!(
                    "mailbox policy \"{}\" becomes the default",
                    spec.name
                ));
                settings.push(("IsDefault".into(), SettingValue::Bool(true)));
            }
            if !dry_run && !settings.is_empty() {
                ex.set_policy(&spec.name, &settings).await?;
            }
        }
    }
    Ok(())
}

/// The engine for a configured organization, as the CLI and the service run it: its
/// target, CAS failover, parallel runspaces, and access control with EWS notifications from
/// the notification account (when one is configured with its password).
pub fn configured_engine(
    cfg: &crate::config::ConnectorConfig,
    loc: &crate::config::ConfigLocation,
    service_password: Option<&crate::secrets::Secret>,
    notification_password: Option<&crate::secrets::Secret>,
    proxy_password: Option<&crate::secrets::Secret>,
    dry_run: bool,
) -> Result<Engine, crate::exchange::target::TargetError> {
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
            cas: crate::exchange::target::powershell_endpoint(cfg, "/PowerShell/")
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
    Ok(Engine::new(target, cfg.is_cas_failover_enabled).with_access(opts))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn diffs_are_minimal() {
        let a = vec!["A1".to_string(), "KEEP".to_string()];
        let b = vec!["B1".to_string()];
        let c = diff(
            "m",
            &a,
            &b,
            &[
                ("a1".into(), Action::Allow),
                ("B1".into(), Action::Allow),
                ("N".into(), Action::Block),
                ("X".into(), Action::Quarantine),
            ],
        );
        assert_eq!(c.allowed.add, vec!["B1"]);
        assert_eq!(c.blocked.remove, vec!["B1"]);
        assert_eq!(c.blocked.add, vec!["N"]);
        assert!(c.allowed.remove.is_empty());
        let c = diff("m", &a, &b, &[("A1".into(), Action::Quarantine)]);
        assert_eq!(c.allowed.remove, vec!["A1"]);
        assert!(diff("m", &a, &b, &[("A1".into(), Action::Allow)]).is_empty());
    }

    #[test]
    fn state_tells_list_membership() {
        use DeviceAccessState::*;
        use DeviceAccessStateReason::{Global, Individual};
        assert!(state_matches(Allowed, Individual, Action::Allow));
        assert!(!state_matches(Allowed, Global, Action::Allow));
        assert!(state_matches(Quarantined, Global, Action::Quarantine));
        assert!(!state_matches(Blocked, Individual, Action::Quarantine));
        assert!(state_matches(Blocked, Individual, Action::Block));
    }

    #[test]
    fn mailbox_changes_keep_their_flat_json() {
        let c = diff("m", &[], &["B".into()], &[("A".into(), Action::Allow)]);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#"{"mailbox":"m","allow_add":["A"]}"#);
        let back: MailboxChange = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }
}
