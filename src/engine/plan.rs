//! The sync as a plan, without I/O: which kind of sync and whether it is a dry run
//! ([`mode`]), what a full read changes in the engine's memory ([`after_full_read`]: devices
//! gone from Exchange are forgotten, grandfathering is recorded), the decision for every
//! device and the mailbox list changes that enforce them ([`plan`]), and, once Exchange has
//! answered, each device's [`Outcome`], its record, its audit line and the mail to its user
//! ([`settle`]).
//!
//! The driver (`driver.rs`) reads, hands what it read to these functions, sends what they
//! ask for and writes what they return; everything that decides is here and is tested here
//! without Exchange. Nothing here reads a file, a clock or the network: "now" comes in.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::audit::AuditRecord;
use super::devices::{DeviceSet, Interner, NoCase, Seen};
use super::notify::MailFacts;
use super::overrides::Overrides;
use super::policy::{AccessPolicy, Action, Grandfathered, GroupMembers};
use super::precedence::{self, Conflict, OrgAccess};
use super::report::{AccessReport, ConflictOrd, DeviceConflict, MailboxChange};
use super::state::{device_name, DeviceRecord, EngineState, GrandfatheredSet, MailboxInfo};
use super::SyncKind;
use crate::exchange::ops::CasMailbox;
use crate::wire::exchange::{DeviceAccessState, DeviceAccessStateReason};

/// Which sync runs, and why it only looks (a dry run) if it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mode {
    pub kind: SyncKind,
    /// `None`: enforce.
    pub dry_run_reason: Option<String>,
}

/// The first enforcing sync, one after a policy change, one the admin asked for and one
/// without a watermark cover every device; a dry run is asked for, written in the policy,
/// or the admin has not confirmed enforcement yet.
pub fn mode(
    requested: SyncKind,
    dry_run_asked: bool,
    policy: &AccessPolicy,
    state: &EngineState,
    has_watermark: bool,
) -> Mode {
    let dry_run_reason = if dry_run_asked {
        Some("--dry-run".to_string())
    } else if policy.dry_run {
        Some("dry_run = true in the access policy".to_string())
    } else if state.confirmed.is_none() {
        Some(
            "enforcement not confirmed yet: review, then run `eas-connector enforce --confirm`"
                .to_string(),
        )
    } else {
        None
    };
    let enforcing = dry_run_reason.is_none();
    let bootstrap = state.devices.is_empty();
    let policy_changed = state.policy_digest.as_deref() != Some(policy.digest.as_str());
    let kind = if state.full_sync_requested
        || !has_watermark
        || (enforcing && (bootstrap || policy_changed))
    {
        SyncKind::Full
    } else {
        requested
    };
    Mode {
        kind,
        dry_run_reason,
    }
}

/// An admin's override that expired since the last sync hands its device back to the policy:
/// the sync that finds it expired is a full one, so the device is decided again even when
/// nothing about it changed in Exchange.
pub fn after_overrides_expired(mode: Mode, expired: usize) -> Mode {
    if expired == 0 {
        return mode;
    }
    Mode {
        kind: SyncKind::Full,
        ..mode
    }
}

/// After a full read: devices gone from Exchange are forgotten (not in a dry run), and on
/// the first full sync with grandfathering on, every existing device (or every one Exchange
/// allows) is recorded as grandfathered.
pub fn after_full_read(
    devices: &DeviceSet,
    policy: &AccessPolicy,
    state: &mut EngineState,
    dry_run: bool,
    now: &str,
    report: &mut AccessReport,
) {
    if !dry_run {
        let present: HashSet<NoCase<'_>> = devices.iter().map(|d| NoCase(&d.device_id)).collect();
        state.devices.retain(|k, _| present.contains(&NoCase(k)));
    }
    if policy.grandfathering.enabled && state.grandfathered.is_none() {
        let set: BTreeSet<String> = devices
            .iter()
            .filter(|d| {
                !policy.grandfathering.only_allowed || d.state == DeviceAccessState::Allowed
            })
            .map(|d| d.device_id.to_ascii_lowercase())
            .collect();
        report.grandfathered = Some(set.len());
        state.grandfathered = Some(GrandfatheredSet {
            recorded_at: now.to_string(),
            devices: set,
        });
    }
}

/// What Exchange's state already says about a device, from the state alone (`Individual`
/// means it is in one of its mailbox's lists).
pub fn state_matches(
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

/// The action Exchange's state amounts to (`None` while it is still deciding).
fn observed_action(state: DeviceAccessState) -> Option<Action> {
    state.level().map(Action::from)
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

/// Who made a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An admin's one-off override (`eas-connector devices allow|block|quarantine`), which
    /// wins over the policy while it is in force.
    Override,
    /// A step of the access policy (`inventory`, `rules`, `grandfathered`, or any other
    /// [`super::policy::ComplianceSource`]'s name) or its `default`.
    Policy(Arc<str>),
}

impl Source {
    /// As the audit trail and reports write it (`override`, `rules`, …).
    pub fn as_str(&self) -> &str {
        match self {
            Source::Override => "override",
            Source::Policy(s) => s,
        }
    }
}

/// The name, so a source reads as text where text is wanted (`&*decision.source`).
impl std::ops::Deref for Source {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decision as kept until it is recorded: source and reason shared between devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub action: Action,
    pub source: Source,
    pub reason: Arc<str>,
}

/// What the plan does about one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePlan {
    /// What Exchange will do with the device once its lists are changed (the policy's
    /// decision put through Exchange's precedence, a conflict resolved): what is recorded,
    /// reported and told.
    pub decision: Decided,
    /// The policy's decision, when Exchange overrides it (see [`precedence`]).
    pub conflict: Option<Conflict>,
    /// The device is left as it is this time, and why (a rule's group could not be read).
    pub held: Option<Arc<str>>,
    /// Where the device goes in its mailbox's lists (Quarantine: on neither).
    pub listed: Action,
    /// Exchange's state does not show the device where the decision puts it: its mailbox's
    /// lists are read and changed.
    pub change: bool,
    /// The user is to be told (a new block or quarantine, not told before).
    pub notify: bool,
}

/// A mailbox to read (and change, unless a dry run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub mailbox: Arc<str>,
    /// What to pass as `-Identity` (SMTP address when known, else the canonical name).
    pub identity: String,
    /// Every device of the mailbox this pass decided, with its action.
    pub wants: Vec<(String, Action)>,
    /// A `Set-CASMailbox` was sent in an attempt that then failed.
    pub sent_before: Option<MailboxChange>,
}

/// What became of a job.
#[derive(Debug, Clone)]
pub struct JobResult {
    pub mailbox: Arc<str>,
    /// The mailbox as read right before the change (`None`: not found, or failed).
    pub cas: Option<CasMailbox>,
    pub change: MailboxChange,
    /// The change was sent and took effect.
    pub applied: bool,
    /// Why the mailbox could not be read or changed, in Exchange's words.
    pub error: Option<String>,
}

impl JobResult {
    /// A job that failed before anything was read.
    pub fn failed(mailbox: Arc<str>, error: String) -> JobResult {
        JobResult {
            mailbox,
            cas: None,
            change: MailboxChange::default(),
            applied: false,
            error: Some(error),
        }
    }
}

/// Decisions for every device read, and the mailboxes to change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncPlan {
    /// One per device, in the order read.
    pub devices: Vec<DevicePlan>,
    /// One per mailbox to touch, by mailbox.
    pub jobs: Vec<Job>,
}

/// What [`plan`] decides from.
pub struct PlanInput<'a> {
    pub devices: &'a DeviceSet,
    pub directory: &'a BTreeMap<String, MailboxInfo>,
    pub policy: &'a AccessPolicy,
    /// The admin's overrides in force (the expired ones already taken out): each wins over
    /// the policy for its device.
    pub overrides: &'a Overrides,
    pub state: &'a EngineState,
    /// The engine had no device records when the sync started (its first sync): a device
    /// already where Exchange put it is no news to its user.
    pub bootstrap: bool,
    pub dry_run: bool,
    /// The organization's device access rules and default level.
    pub org: &'a OrgAccess,
    /// The members of the groups the policy's rules name.
    pub groups: &'a GroupMembers,
}

static NO_MAILBOX: MailboxInfo = MailboxInfo {
    alias: String::new(),
    smtp: String::new(),
    display_name: String::new(),
};

static NOBODY_GRANDFATHERED: BTreeSet<String> = BTreeSet::new();

/// Decide every device, and plan the mailboxes to touch: those with a device not where its
/// decision puts it, and those whose user must be told but whose address is not known yet
/// (reading the mailbox learns it). A touched mailbox's job lists every device of it this
/// pass decided, so its diff is whole.
pub fn plan(input: &PlanInput<'_>) -> SyncPlan {
    let PlanInput {
        devices,
        directory,
        policy,
        overrides,
        state,
        bootstrap,
        dry_run,
        org,
        groups,
    } = *input;
    let grandfathered = Grandfathered(
        state
            .grandfathered
            .as_ref()
            .map_or(&NOBODY_GRANDFATHERED, |g| &g.devices),
    );
    let mut shared = Interner::default();
    let mut planned = Vec::with_capacity(devices.len());
    let mut jobs: BTreeMap<Arc<str>, Job> = BTreeMap::new();
    for d in devices.iter() {
        let info = directory.get(&*d.mailbox).unwrap_or(&NO_MAILBOX);
        let facts = devices.facts(d, info, groups);
        let over = if overrides.is_empty() {
            None
        } else {
            overrides.get(&d.device_id)
        };
        let decided = match over {
            // The admin's own words are the reason (the user's mail quotes it); who set it,
            // when and until when are in the override's own audit lines.
            Some(o) => Decided {
                action: o.action,
                source: Source::Override,
                reason: shared.get(&o.reason),
            },
            None => {
                let decision = policy.decide(&facts, &grandfathered);
                if let Some(why) = &decision.held {
                    planned.push(held(d, decision.source.as_str(), why, &mut shared));
                    continue;
                }
                Decided {
                    action: decision.action,
                    source: Source::Policy(shared.get(&decision.source)),
                    reason: shared.get(&decision.reason),
                }
            }
        };
        // An override goes through Exchange's precedence like the policy's decision.
        let resolved = precedence::resolve(decided.action, org, &facts, policy.rule_conflict);
        let action = resolved.exchange.action;
        let prev = state.devices.get(&d.device_id.to_ascii_lowercase());
        let notify = !dry_run
            && policy.notifications.enabled
            && action != Action::Allow
            && prev.is_none_or(|p| p.notified != Some(action))
            && match prev {
                Some(p) => p.action != action || !p.applied,
                // First sight: on the very first sync only a change from what Exchange did
                // before counts; later, a new device is news.
                None => !bootstrap || observed_action(d.state) != Some(action),
            };
        let change = !state_matches(d.state, d.reason, resolved.listed);
        if change || (notify && info.smtp.is_empty()) {
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
            job.wants.push((d.device_id.to_string(), resolved.listed));
        }
        planned.push(DevicePlan {
            decision: Decided {
                action,
                reason: match &resolved.conflict {
                    None => decided.reason,
                    Some(c) => Arc::from(format!("{}; {c}", decided.reason)),
                },
                source: decided.source,
            },
            listed: resolved.listed,
            conflict: resolved.conflict,
            held: None,
            change,
            notify,
        });
    }
    for (d, p) in devices.iter().zip(&planned) {
        if p.held.is_some() {
            continue;
        }
        if let Some(job) = jobs.get_mut(&d.mailbox) {
            if !job
                .wants
                .iter()
                .any(|(id, _)| id.eq_ignore_ascii_case(&d.device_id))
            {
                job.wants.push((d.device_id.to_string(), p.listed));
            }
        }
    }
    SyncPlan {
        devices: planned,
        jobs: jobs.into_values().collect(),
    }
}

/// A device the policy cannot decide this time: left in its lists as it is, recorded as what
/// Exchange does with it now, nobody told.
fn held(d: &Seen, source: &str, why: &str, shared: &mut Interner) -> DevicePlan {
    let now = observed_action(d.state).unwrap_or(Action::Quarantine);
    let listed = if d.reason == DeviceAccessStateReason::Individual {
        now
    } else {
        Action::Quarantine
    };
    DevicePlan {
        decision: Decided {
            action: now,
            source: Source::Policy(shared.get(source)),
            reason: shared.get(why),
        },
        conflict: None,
        held: Some(shared.get(why)),
        listed,
        change: false,
        notify: false,
    }
}

/// What became of one device's decision, as the audit trail says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Its mailbox was changed to put it where the decision says.
    Applied,
    /// Exchange already had it there.
    Unchanged,
    /// It would have been changed (a dry run changes nothing).
    DryRun,
    /// Its mailbox could not be read or changed.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Unchanged => "unchanged",
            Outcome::DryRun => "dry-run",
            Outcome::Failed => "failed",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mail to a user, to be rendered from the organization's templates and queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub device_id: String,
    pub to: String,
    pub facts: MailFacts,
}

/// What [`settle`] needs besides the plan and the results.
pub struct SettleInput<'a> {
    pub devices: &'a DeviceSet,
    pub policy: &'a AccessPolicy,
    pub kind: SyncKind,
    pub dry_run: bool,
    /// The sync's time, RFC 3339.
    pub now: &'a str,
}

/// What a settled pass leaves for the driver to write and send.
#[derive(Debug, Default)]
pub struct Settled {
    pub audit: Vec<AuditRecord>,
    pub mails: Vec<Mail>,
    /// Something was changed in Exchange (the pass's own changes are to be read back).
    pub applied_any: bool,
    /// Each device's outcome, in the order read.
    pub outcomes: Vec<Outcome>,
    /// The plan's decisions, handed back (for the device list).
    pub decided: Vec<DevicePlan>,
}

/// Take Exchange's answers to the jobs: the mailboxes read teach the directory, changes and
/// failures go into the report, and each device gets its [`Outcome`], an audit line (when
/// its decision changed, something happened, or the policy audits everything), its record
/// (not in a dry run) and, when the plan says so and its address is known, a mail.
pub fn settle(
    input: &SettleInput<'_>,
    plan: SyncPlan,
    results: Vec<JobResult>,
    directory: &mut BTreeMap<String, MailboxInfo>,
    state: &mut EngineState,
    report: &mut AccessReport,
) -> Settled {
    let SettleInput {
        devices,
        policy,
        kind,
        dry_run,
        now,
    } = *input;
    let mut settled = Settled::default();
    let mut by_mailbox: HashMap<Arc<str>, JobResult> = HashMap::new();
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
                settled.applied_any = true;
            }
            report.mailbox_changes.push(r.change.clone());
        }
        by_mailbox.insert(r.mailbox.clone(), r);
    }
    let mut names: Option<HashMap<String, Vec<String>>> = None;
    for (d, p) in devices.iter().zip(&plan.devices) {
        let decision = &p.decision;
        count(report, decision);
        if p.held.is_some() {
            // Left as it is: no record changes, nobody told.
            report.held += 1;
            continue;
        }
        if let Some(c) = &p.conflict {
            report.conflicts.push(DeviceConflict {
                device_id: d.device_id.to_string(),
                mailbox: d.mailbox.to_string(),
                conflict: ConflictOrd(c.clone()),
            });
        }
        let key = d.device_id.to_ascii_lowercase();
        let r = by_mailbox.get(&d.mailbox);
        let failed = r.and_then(|r| r.error.as_ref());
        let touched = r.is_some_and(|r| r.change.touches(&d.device_id));
        let outcome = match (failed, touched, dry_run) {
            (Some(_), _, _) => Outcome::Failed,
            (None, true, true) => Outcome::DryRun,
            (None, true, false) => Outcome::Applied,
            (None, false, _) => Outcome::Unchanged,
        };
        settled.outcomes.push(outcome);
        let prev = state.devices.get(&key).cloned();
        let info = directory.get(&*d.mailbox).unwrap_or(&NO_MAILBOX);
        let name = match &prev {
            Some(p) => p.name.clone(),
            None => new_name(devices, d, info, state, &mut names),
        };
        let changed = prev.as_ref().is_none_or(|p| p.action != decision.action);
        if changed {
            report.changed_decisions += 1;
        }
        if changed || outcome != Outcome::Unchanged || policy.audit_unchanged {
            settled.audit.push(AuditRecord {
                time: now.to_string(),
                device_id: d.device_id.to_string(),
                device: name.clone(),
                user: if info.smtp.is_empty() {
                    devices.display_name(d).to_string()
                } else {
                    info.smtp.clone()
                },
                mailbox: d.mailbox.to_string(),
                source: decision.source.to_string(),
                reason: decision.reason.to_string(),
                action: decision.action,
                conflict: p.conflict.clone(),
                previous: prev.as_ref().map(|p| p.action),
                outcome,
                error: failed.cloned(),
                sync: kind,
            });
        }
        if dry_run {
            continue;
        }
        let mut notified = match decision.action {
            Action::Allow => None,
            _ => prev.as_ref().and_then(|p| p.notified),
        };
        if p.notify && failed.is_none() && !info.smtp.is_empty() {
            settled.mails.push(Mail {
                device_id: d.device_id.to_string(),
                to: info.smtp.clone(),
                facts: MailFacts {
                    user: if info.display_name.is_empty() {
                        devices.display_name(d).to_string()
                    } else {
                        info.display_name.clone()
                    },
                    device: name.clone(),
                    device_type: devices.device_type(d).to_string(),
                    device_model: devices.model(d).to_string(),
                    device_id: d.device_id.to_string(),
                    action: decision.action,
                    reason: decision.reason.to_string(),
                    instructions: policy
                        .organization
                        .user_mail_insert
                        .clone()
                        .unwrap_or_default(),
                },
            });
            notified = Some(decision.action);
        }
        state.devices.insert(
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
    settled.decided = plan.devices;
    settled
}

fn count(report: &mut AccessReport, decision: &Decided) {
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
}

/// A name for a device seen for the first time (`user_DeviceType`, unique per mailbox).
fn new_name(
    devices: &DeviceSet,
    d: &Seen,
    info: &MailboxInfo,
    state: &EngineState,
    names: &mut Option<HashMap<String, Vec<String>>>,
) -> String {
    let names = names.get_or_insert_with(|| {
        let mut m: HashMap<String, Vec<String>> = HashMap::new();
        for r in state.devices.values() {
            m.entry(r.mailbox.clone()).or_default().push(r.name.clone());
        }
        m
    });
    let user = if info.alias.is_empty() {
        devices.display_name(d)
    } else {
        info.alias.as_str()
    };
    let taken = names.entry(d.mailbox.to_string()).or_default();
    let n = device_name(
        user,
        devices.device_type(d),
        taken.iter().map(String::as_str),
    );
    taken.push(n.clone());
    n
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    //! Every decision path and every [`Outcome`], from plain data: no lab, no files.

    use std::path::Path;

    use super::*;
    use crate::wire::exchange::ListUpdate;
    use DeviceAccessState::{Allowed, Blocked, DeviceDiscovery, Quarantined};
    use DeviceAccessStateReason::{Global, Individual};

    const POLICY: &str = r#"
precedence = ["rules", "grandfathered"]
default = "Quarantine"
[grandfathering]
enabled = true
only_allowed = true
[[rule]]
name = "Phones"
device_type = "iPhone"
action = "Allow"
[[rule]]
name = "Old Android"
device_os = "Android 9*"
action = "Block"
[organization]
user_mail_insert = "Enroll first."
[notifications]
enabled = true
language = "en"
"#;

    fn policy() -> AccessPolicy {
        AccessPolicy::parse(POLICY, Path::new("P.toml"), Path::new(".")).unwrap()
    }

    /// A device of `mailbox` (`contoso.test/Users/<mailbox>`).
    fn device(
        id: &str,
        mailbox: &str,
        kind: &str,
        os: &str,
        state: DeviceAccessState,
        reason: DeviceAccessStateReason,
    ) -> MobileDevice {
        MobileDevice {
            identity: format!("contoso.test/Users/{mailbox}/ExchangeActiveSyncDevices/{kind}§{id}"),
            device_id: id.into(),
            device_type: kind.into(),
            device_model: format!("{kind} model"),
            device_os: os.into(),
            user_agent: "UA/1".into(),
            friendly_name: String::new(),
            user_display_name: mailbox.into(),
            first_sync_time: None,
            when_changed: None,
            access_state: state,
            access_state_reason: reason,
            access_control_rule: None,
        }
    }

    use crate::exchange::ops::MobileDevice;

    fn set(devices: &[MobileDevice]) -> DeviceSet {
        let mut s = DeviceSet::default();
        for d in devices {
            s.push(d);
        }
        s
    }

    fn mb(name: &str) -> String {
        format!("contoso.test/Users/{name}")
    }

    fn directory(names: &[(&str, &str)]) -> BTreeMap<String, MailboxInfo> {
        names
            .iter()
            .map(|(name, smtp)| {
                (
                    mb(name),
                    MailboxInfo {
                        alias: name.to_lowercase(),
                        smtp: smtp.to_string(),
                        display_name: name.to_string(),
                    },
                )
            })
            .collect()
    }

    fn confirmed() -> EngineState {
        EngineState {
            confirmed: Some(super::super::state::Confirmation {
                at: "2026-01-01T00:00:00Z".into(),
                by: "admin".into(),
            }),
            ..EngineState::default()
        }
    }

    fn record(
        mailbox: &str,
        action: Action,
        applied: bool,
        notified: Option<Action>,
    ) -> DeviceRecord {
        DeviceRecord {
            mailbox: mb(mailbox),
            name: format!("{}_x", mailbox.to_lowercase()),
            action,
            applied,
            notified,
        }
    }

    fn run_plan(
        devices: &DeviceSet,
        dir: &BTreeMap<String, MailboxInfo>,
        p: &AccessPolicy,
        state: &EngineState,
        dry_run: bool,
    ) -> SyncPlan {
        plan(&PlanInput {
            devices,
            directory: dir,
            policy: p,
            overrides: &Overrides::default(),
            state,
            bootstrap: state.devices.is_empty(),
            dry_run,
            org: &OrgAccess::default(),
            groups: &crate::engine::policy::NO_GROUPS,
        })
    }

    /// What Exchange would answer to every job: the mailbox's lists as its devices' states
    /// say (`Individual` means listed), the change made unless a dry run, or an error for
    /// the mailboxes in `failing`.
    fn answer(
        plan: &SyncPlan,
        devices: &[MobileDevice],
        failing: &[&str],
        dry_run: bool,
    ) -> Vec<JobResult> {
        let mut lists: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
        for d in devices
            .iter()
            .filter(|d| d.access_state_reason == Individual)
        {
            let (a, b) = lists.entry(mb(&d.user_display_name)).or_default();
            match d.access_state {
                Allowed => a.push(d.device_id.clone()),
                Blocked => b.push(d.device_id.clone()),
                _ => {}
            }
        }
        plan.jobs
            .iter()
            .map(|j| {
                if failing.iter().any(|f| mb(f) == *j.mailbox) {
                    return JobResult::failed(j.mailbox.clone(), "Access denied".into());
                }
                let (a, b) = lists.get(&*j.mailbox).cloned().unwrap_or_default();
                let change = diff(&j.mailbox, &a, &b, &j.wants);
                let name = j.mailbox.rsplit('/').next().unwrap().to_string();
                JobResult {
                    mailbox: j.mailbox.clone(),
                    cas: Some(CasMailbox {
                        identity: j.mailbox.to_string(),
                        name: name.clone(),
                        sam_account_name: name.to_lowercase(),
                        primary_smtp_address: format!("{}@contoso.test", name.to_lowercase()),
                        activesync_enabled: true,
                        allowed_device_ids: a,
                        blocked_device_ids: b,
                        mailbox_policy: None,
                    }),
                    applied: !dry_run && !change.is_empty(),
                    change,
                    error: None,
                }
            })
            .collect()
    }

    struct Synced {
        plan: SyncPlan,
        settled: Settled,
        state: EngineState,
        report: AccessReport,
        directory: BTreeMap<String, MailboxInfo>,
    }

    fn sync_once(
        devices: &[MobileDevice],
        dir: BTreeMap<String, MailboxInfo>,
        p: &AccessPolicy,
        mut state: EngineState,
        failing: &[&str],
        dry_run: bool,
    ) -> Synced {
        let set = set(devices);
        let mut report = AccessReport::default();
        let plan = run_plan(&set, &dir, p, &state, dry_run);
        let results = answer(&plan, devices, failing, dry_run);
        let mut directory = dir;
        let input = SettleInput {
            devices: &set,
            policy: p,
            kind: SyncKind::Full,
            dry_run,
            now: "2026-12-01T00:00:00Z",
        };
        let settled = settle(
            &input,
            plan.clone(),
            results,
            &mut directory,
            &mut state,
            &mut report,
        );
        Synced {
            plan,
            settled,
            state,
            report,
            directory,
        }
    }

    fn outcome_of(s: &Synced, id: &str) -> Option<Outcome> {
        s.settled
            .audit
            .iter()
            .find(|a| a.device_id == id)
            .map(|a| a.outcome)
    }

    #[test]
    fn exchange_state_tells_list_membership() {
        assert!(state_matches(Allowed, Individual, Action::Allow));
        assert!(!state_matches(Allowed, Global, Action::Allow));
        assert!(state_matches(Quarantined, Global, Action::Quarantine));
        assert!(!state_matches(Blocked, Individual, Action::Quarantine));
        assert!(state_matches(Blocked, Individual, Action::Block));
        assert!(!state_matches(DeviceDiscovery, Global, Action::Block));
    }

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
        assert_eq!(c.allowed, ListUpdate::adding(["B1".to_string()]));
        assert_eq!(
            c.blocked,
            ListUpdate {
                add: vec!["N".into()],
                remove: vec!["B1".into()]
            }
        );
        let c = diff("m", &a, &b, &[("A1".into(), Action::Quarantine)]);
        assert_eq!(c.allowed.remove, vec!["A1"]);
        assert!(diff("m", &a, &b, &[("A1".into(), Action::Allow)]).is_empty());
    }

    #[test]
    fn mailbox_changes_keep_their_flat_json() {
        let c = diff("m", &[], &["B".into()], &[("A".into(), Action::Allow)]);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#"{"mailbox":"m","allow_add":["A"]}"#);
        assert_eq!(serde_json::from_str::<MailboxChange>(&json).unwrap(), c);
    }

    #[test]
    fn mode_forces_full_syncs_and_says_why_it_only_looks() {
        let p = policy();
        let fresh = EngineState::default();
        let m = mode(SyncKind::Quick, false, &p, &fresh, true);
        assert_eq!(
            m.kind,
            SyncKind::Quick,
            "a dry run of a new engine is not forced full"
        );
        assert!(m.dry_run_reason.unwrap().contains("enforce --confirm"));
        let mut s = confirmed();
        let m = mode(SyncKind::Quick, false, &p, &s, true);
        assert_eq!(
            (m.kind, m.dry_run_reason),
            (SyncKind::Full, None),
            "first enforcing sync"
        );
        s.devices
            .insert("x".into(), record("Anna", Action::Allow, true, None));
        s.policy_digest = Some(p.digest.clone());
        assert_eq!(
            mode(SyncKind::Quick, false, &p, &s, true).kind,
            SyncKind::Quick
        );
        assert_eq!(
            mode(SyncKind::Quick, false, &p, &s, false).kind,
            SyncKind::Full,
            "no watermark"
        );
        s.policy_digest = Some("other".into());
        assert_eq!(
            mode(SyncKind::Quick, false, &p, &s, true).kind,
            SyncKind::Full,
            "policy changed"
        );
        let m = mode(SyncKind::Quick, true, &p, &s, true);
        assert_eq!(
            (m.kind, m.dry_run_reason.as_deref()),
            (SyncKind::Quick, Some("--dry-run"))
        );
        s.policy_digest = Some(p.digest.clone());
        s.full_sync_requested = true;
        assert_eq!(
            mode(SyncKind::Quick, false, &p, &s, true).kind,
            SyncKind::Full
        );
        let mut dry = policy();
        dry.dry_run = true;
        assert!(mode(SyncKind::Full, false, &dry, &s, true)
            .dry_run_reason
            .unwrap()
            .contains("dry_run = true"));
    }

    #[test]
    fn a_full_read_forgets_gone_devices_and_grandfathers_the_allowed_ones() {
        let p = policy();
        let devices = set(&[
            device("A1", "Anna", "Android", "Android 14", Allowed, Global),
            device("B1", "Ben", "Android", "Android 14", Blocked, Individual),
        ]);
        let mut s = confirmed();
        s.devices
            .insert("gone".into(), record("Old", Action::Allow, true, None));
        s.devices
            .insert("a1".into(), record("Anna", Action::Allow, true, None));
        let mut report = AccessReport::default();
        after_full_read(&devices, &p, &mut s, true, "T", &mut report);
        assert!(s.devices.contains_key("gone"), "a dry run forgets nothing");
        after_full_read(&devices, &p, &mut s, false, "T", &mut report);
        assert_eq!(s.devices.keys().collect::<Vec<_>>(), vec!["a1"]);
        let g = s.grandfathered.clone().unwrap();
        assert_eq!(
            g.devices.into_iter().collect::<Vec<_>>(),
            vec!["a1"],
            "only allowed ones"
        );
        assert_eq!(report.grandfathered, Some(1));
        // Recorded once: a later full read leaves the set alone.
        let more = set(&[device(
            "C1",
            "Cleo",
            "Android",
            "Android 14",
            Allowed,
            Global,
        )]);
        after_full_read(&more, &p, &mut s, false, "T2", &mut report);
        assert_eq!(s.grandfathered.unwrap().recorded_at, "T");
    }

    #[test]
    fn the_plan_changes_only_what_exchange_does_not_already_show() {
        let p = policy();
        let devices = [
            // Allowed by rule, already on Anna's allowed list: nothing to do.
            device("A1", "Anna", "iPhone", "iOS 17", Allowed, Individual),
            // Allowed by rule, only allowed by default: Ben's list changes.
            device("B1", "Ben", "iPhone", "iOS 17", Allowed, Global),
            // Blocked by rule; a sibling quarantined by default goes into the same job.
            device("B2", "Ben", "Android", "Android 9.1", Allowed, Global),
            device("B3", "Ben", "Android", "Android 14", Quarantined, Global),
            // Quarantined by default and by Exchange: nothing to do.
            device("C1", "Cleo", "Android", "Android 14", Quarantined, Global),
        ];
        let s = sync_once(&devices, directory(&[]), &p, confirmed(), &[], false);
        let changes: Vec<bool> = s.plan.devices.iter().map(|d| d.change).collect();
        assert_eq!(changes, vec![false, true, true, false, false]);
        assert_eq!(s.plan.jobs.len(), 1);
        let job = &s.plan.jobs[0];
        assert_eq!(&*job.mailbox, mb("Ben"));
        assert_eq!(job.identity, mb("Ben"), "no SMTP address known yet");
        assert_eq!(
            job.wants,
            vec![
                ("B1".to_string(), Action::Allow),
                ("B2".to_string(), Action::Block),
                ("B3".to_string(), Action::Quarantine)
            ]
        );
        let actions: Vec<Action> = s.plan.devices.iter().map(|d| d.decision.action).collect();
        use Action::*;
        assert_eq!(actions, vec![Allow, Allow, Block, Quarantine, Quarantine]);
        assert_eq!(&*s.plan.devices[2].decision.source, "rules");
        assert_eq!(&*s.plan.devices[4].decision.source, "default");
    }

    #[test]
    fn every_outcome() {
        let p = policy();
        let devices = [
            device("A1", "Anna", "iPhone", "iOS 17", Allowed, Global),
            device("B1", "Ben", "iPhone", "iOS 17", Allowed, Global),
            device("C1", "Cleo", "Android", "Android 14", Quarantined, Global),
        ];
        let mut prior = confirmed();
        prior
            .devices
            .insert("c1".into(), record("Cleo", Action::Quarantine, true, None));
        let s = sync_once(&devices, directory(&[]), &p, prior.clone(), &["Ben"], false);
        assert_eq!(outcome_of(&s, "A1"), Some(Outcome::Applied));
        assert_eq!(outcome_of(&s, "B1"), Some(Outcome::Failed));
        assert_eq!(
            outcome_of(&s, "C1"),
            None,
            "unchanged and not new: no audit line"
        );
        let failed = s
            .settled
            .audit
            .iter()
            .find(|a| a.device_id == "B1")
            .unwrap();
        assert_eq!(failed.error.as_deref(), Some("Access denied"));
        assert!(!s.state.devices["b1"].applied);
        assert!(s.state.devices["a1"].applied);
        assert_eq!(
            s.report.failures,
            vec![format!("{}: Access denied", mb("Ben"))]
        );
        assert_eq!(s.report.set_cas_mailbox_calls, 1);
        assert!(s.settled.applied_any);

        let mut audit_all = policy();
        audit_all.audit_unchanged = true;
        let s = sync_once(
            &devices,
            directory(&[]),
            &audit_all,
            prior.clone(),
            &[],
            false,
        );
        assert_eq!(outcome_of(&s, "C1"), Some(Outcome::Unchanged));

        let s = sync_once(&devices, directory(&[]), &p, prior.clone(), &[], true);
        assert_eq!(outcome_of(&s, "A1"), Some(Outcome::DryRun));
        assert_eq!(outcome_of(&s, "B1"), Some(Outcome::DryRun));
        assert_eq!(s.state, prior, "a dry run records nothing");
        assert!(s.settled.mails.is_empty() && !s.settled.applied_any);
        assert_eq!(s.report.set_cas_mailbox_calls, 0);
        assert_eq!(
            s.report.mailbox_changes.len(),
            2,
            "the changes it would make"
        );
        let json = serde_json::to_value(&s.settled.audit[0]).unwrap();
        assert_eq!(json["outcome"], "dry-run");
        assert_eq!(json["action"], "Allow");
        assert_eq!(json["sync"], "full");
    }

    #[test]
    fn users_are_told_once_about_news_and_never_about_allow() {
        let p = policy();
        let dir = directory(&[("Anna", "anna@contoso.test"), ("Ben", "ben@contoso.test")]);
        let devices = [
            device("A1", "Anna", "Android", "Android 9.1", Allowed, Global),
            device("A2", "Anna", "iPhone", "iOS 17", Allowed, Global),
            device("B1", "Ben", "Android", "Android 14", Quarantined, Global),
        ];
        // The very first sync: Exchange had already quarantined B1, so that is no news;
        // A1's block is.
        let s = sync_once(&devices, dir.clone(), &p, confirmed(), &[], false);
        let told: Vec<&str> = s
            .settled
            .mails
            .iter()
            .map(|m| m.device_id.as_str())
            .collect();
        assert_eq!(told, vec!["A1"]);
        let m = &s.settled.mails[0];
        assert_eq!(m.to, "anna@contoso.test");
        assert_eq!(
            (m.facts.action, m.facts.user.as_str()),
            (Action::Block, "Anna")
        );
        assert_eq!(m.facts.instructions, "Enroll first.");
        assert_eq!(m.facts.device, "anna_Android");
        assert_eq!(s.state.devices["a1"].notified, Some(Action::Block));
        assert_eq!(s.state.devices["a2"].notified, None);

        // Later: nothing new, nobody told again; a new quarantined device is news.
        let mut later = devices.to_vec();
        later[0].access_state = Blocked;
        later[0].access_state_reason = Individual;
        later.push(device(
            "B2",
            "Ben",
            "Android",
            "Android 14",
            Quarantined,
            Global,
        ));
        let s2 = sync_once(&later, dir.clone(), &p, s.state.clone(), &[], false);
        let told: Vec<&str> = s2
            .settled
            .mails
            .iter()
            .map(|m| m.device_id.as_str())
            .collect();
        assert_eq!(told, vec!["B2"]);

        // Notifications off: nobody.
        let mut quiet = policy();
        quiet.notifications.enabled = false;
        let s3 = sync_once(&devices, dir, &quiet, confirmed(), &[], false);
        assert!(s3.settled.mails.is_empty());
    }

    #[test]
    fn a_user_to_tell_whose_address_is_unknown_gets_the_mailbox_read() {
        let p = policy();
        let mut prior = confirmed();
        prior
            .devices
            .insert("x".into(), record("Someone", Action::Allow, true, None));
        // Already blocked by Exchange (nothing to change), but new: the user is to be told,
        // and only reading the mailbox gives the address.
        let devices = [device(
            "D1",
            "Dana",
            "Android",
            "Android 9.2",
            Blocked,
            Individual,
        )];
        let s = sync_once(&devices, directory(&[]), &p, prior, &[], false);
        assert!(!s.plan.devices[0].change && s.plan.devices[0].notify);
        assert_eq!(s.plan.jobs.len(), 1);
        assert_eq!(
            s.report.set_cas_mailbox_calls, 0,
            "nothing to change in its lists"
        );
        assert_eq!(s.directory[&mb("Dana")].smtp, "dana@contoso.test");
        assert_eq!(s.settled.mails[0].to, "dana@contoso.test");
    }

    #[test]
    fn grandfathered_devices_are_allowed_and_names_stay_unique() {
        let p = policy();
        let mut prior = confirmed();
        prior.grandfathered = Some(GrandfatheredSet {
            recorded_at: "T".into(),
            devices: ["g1".to_string()].into(),
        });
        prior.devices.insert(
            "old".into(),
            DeviceRecord {
                name: "gus_Android".into(),
                ..record("Gus", Action::Allow, true, None)
            },
        );
        let devices = [
            device("G1", "Gus", "Android", "Android 14", Allowed, Individual),
            device("G2", "Gus", "Android", "Android 14", Quarantined, Global),
        ];
        let dir = directory(&[("Gus", "gus@contoso.test")]);
        let s = sync_once(&devices, dir, &p, prior, &[], false);
        assert_eq!(&*s.plan.devices[0].decision.source, "grandfathered");
        assert_eq!(s.plan.devices[0].decision.action, Action::Allow);
        assert_eq!(s.state.devices["g1"].name, "gus_Android_2");
        assert_eq!(s.state.devices["g2"].name, "gus_Android_3");
        assert_eq!(s.report.by_source.get("grandfathered"), Some(&1));
        assert_eq!(s.report.by_action.get("Quarantine"), Some(&1));
        assert_eq!(s.report.decided, 2);
        assert_eq!(s.report.changed_decisions, 2);
    }

    #[test]
    fn an_override_wins_over_the_policy_and_is_a_typed_source() {
        use crate::engine::overrides::{DeviceOverride, Overrides};
        let p = policy();
        let dir = directory(&[("Anna", "anna@contoso.test")]);
        // The policy allows iPhones; the admin blocks this one (any case of the id).
        let devices = [
            device("A1", "Anna", "iPhone", "iOS 17", Allowed, Individual),
            device("A2", "Anna", "iPhone", "iOS 17", Allowed, Individual),
        ];
        let mut o = Overrides::default();
        o.set(DeviceOverride {
            device_id: "a1".into(),
            action: Action::Block,
            reason: "reported stolen".into(),
            by: "admin".into(),
            at: "2026-12-01T00:00:00Z".into(),
            until: Some("2026-12-08T00:00:00Z".into()),
        });
        let set = set(&devices);
        let s = confirmed();
        let plan = plan(&PlanInput {
            devices: &set,
            directory: &dir,
            policy: &p,
            overrides: &o,
            state: &s,
            bootstrap: false,
            dry_run: false,
            org: &OrgAccess::default(),
            groups: &crate::engine::policy::NO_GROUPS,
        });
        let d = &plan.devices[0];
        assert_eq!(d.decision.action, Action::Block);
        assert_eq!(d.decision.source, Source::Override);
        assert_eq!(&*d.decision.source, "override");
        assert_eq!(&*d.decision.reason, "reported stolen");
        assert!(
            d.change && d.notify,
            "off Anna's allowed list, and Anna is told"
        );
        assert!(d.conflict.is_none());
        assert_eq!(
            plan.devices[1].decision.source,
            Source::Policy("rules".into())
        );
        assert_eq!(plan.jobs[0].wants[0], ("A1".to_string(), Action::Block));
        // An override that expired hands the device back to the policy on a full sync.
        let m = after_overrides_expired(
            Mode {
                kind: SyncKind::Quick,
                dry_run_reason: None,
            },
            1,
        );
        assert_eq!(m.kind, SyncKind::Full);
    }

    #[test]
    fn a_rule_that_allows_what_the_policy_quarantines_is_a_conflict_never_a_quarantine_mail() {
        use crate::engine::precedence::{AccessRule, Resolution, RuleConflict};
        use crate::wire::exchange::{AccessLevel, DeviceAccessCharacteristic};
        let org = OrgAccess {
            rules: vec![AccessRule {
                name: "Android (DeviceType)".into(),
                characteristic: DeviceAccessCharacteristic::DeviceType,
                query_string: "Android".into(),
                level: AccessLevel::Allow,
            }],
            default_level: AccessLevel::Quarantine,
        };
        let dir = directory(&[("Cleo", "cleo@contoso.test")]);
        // Exchange already lets it sync by the rule.
        let devices = [MobileDevice {
            access_control_rule: Some("Android (DeviceType)".into()),
            ..device(
                "C1",
                "Cleo",
                "Android",
                "Android 14",
                Allowed,
                DeviceAccessStateReason::DeviceRule,
            )
        }];
        let set = set(&devices);
        for mode in [RuleConflict::Report, RuleConflict::Block] {
            let mut p = policy();
            p.rule_conflict = mode;
            let state = confirmed();
            let planned = plan(&PlanInput {
                devices: &set,
                directory: &dir,
                policy: &p,
                overrides: &Default::default(),
                state: &state,
                bootstrap: false,
                dry_run: false,
                org: &org,
                groups: &crate::engine::policy::NO_GROUPS,
            });
            let d = &planned.devices[0];
            let c = d.conflict.as_ref().unwrap();
            assert_eq!((c.wanted, c.exchange), (Action::Quarantine, Action::Allow));
            let mut results = answer(&planned, &devices, &[], false);
            let mut directory = dir.clone();
            let mut state = state;
            let mut report = AccessReport::default();
            let input = SettleInput {
                devices: &set,
                policy: &p,
                kind: SyncKind::Full,
                dry_run: false,
                now: "2026-12-01T00:00:00Z",
            };
            let settled = settle(
                &input,
                planned.clone(),
                std::mem::take(&mut results),
                &mut directory,
                &mut state,
                &mut report,
            );
            assert_eq!(report.conflicts.len(), 1);
            assert_eq!(settled.audit[0].conflict.as_ref(), Some(c));
            match mode {
                RuleConflict::Report => {
                    // Left syncing: recorded as allowed, nobody told "quarantined".
                    assert_eq!(c.resolution, Resolution::Reported);
                    assert_eq!(d.decision.action, Action::Allow);
                    assert!(!d.change && !d.notify && planned.jobs.is_empty());
                    assert!(settled.mails.is_empty());
                    assert_eq!(state.devices["c1"].action, Action::Allow);
                }
                RuleConflict::Block => {
                    assert_eq!(c.resolution, Resolution::BlockedIndividually);
                    assert_eq!(d.decision.action, Action::Block);
                    assert_eq!(
                        planned.jobs[0].wants,
                        vec![("C1".to_string(), Action::Block)]
                    );
                    assert_eq!(settled.mails[0].facts.action, Action::Block);
                    assert!(settled.mails[0]
                        .facts
                        .reason
                        .contains("blocked individually"));
                }
            }
        }
    }

    #[test]
    fn devices_stay_compact() {
        assert!(std::mem::size_of::<Seen>() <= 56);
    }
}
