//! The sync driver: the thin I/O around the plan. It connects (the configured CAS first,
//! then those learned on earlier full syncs), learns the organization's servers on a full
//! sync, reads devices (all of them, with the mailbox directory, on a full sync; those
//! changed since the watermark otherwise), failing over when a CAS stops answering mid-read,
//! and then — with access control — loads the policy, the admin's overrides (taking out,
//! once, those that expired) and the engine's state, hands what it read to [`super::plan`],
//! sends the jobs ([`super::enforce`]), writes the audit trail, the device list `devices`
//! shows, the notification queue and the state, and drains the queue. After enforcing it reads back the
//! devices its changes touched (another pass) so the watermark moves past its own changes.
//!
//! Discovery is the same driver without a policy: connect, learn, read. A dry run reads
//! everything and computes the exact changes, then sends none, mails nobody and leaves the
//! engine state alone (apart from what `enforce` shows).

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::audit::{self, AuditRecord};
use super::devices::DeviceSet;
use super::groups;
use super::listing::{self, DeviceList};
use super::notify::{self, MailSender, Queue};
use super::overrides::{self, OverrideEvent, Overrides};
use super::plan::{self, Mail, Mode, PlanInput, SettleInput};
use super::policy::{AccessPolicy, GroupMembers};
use super::precedence::{self, OrgAccess};
use super::report::AccessReport;
use super::state::{EngineState, MailboxInfo};
use super::{later, mem_mark, Engine, EngineError, SyncKind, SyncOutcome, SyncState};
use crate::engine::target::{open_with_failover, Target};
use crate::exchange::ops::{Exchange, ExchangeError, MobileDevice};
use crate::exchange::powershell::{PsError, RemotePowerShell};
use crate::wire::exchange::opath::{Filter, Op};

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
    /// Microsoft Graph for the policy's `[inventory.intune]`, when the cloud identity is usable.
    pub graph: Option<tokio::sync::Mutex<crate::cloud::GraphClient>>,
    /// Why there is no Graph client (the cloud identity is incomplete or its credential
    /// missing), said when the policy asks for Intune.
    pub graph_problem: Option<String>,
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
            graph: None,
            graph_problem: None,
        }
    }
    /// Intune through `graph`, or `Err(why)` when the cloud identity cannot be used.
    pub fn graph(
        mut self,
        graph: Result<crate::cloud::GraphClient, crate::cloud::CloudSetupError>,
    ) -> Self {
        match graph {
            Ok(g) => self.graph = Some(tokio::sync::Mutex::new(g)),
            Err(e) => self.graph_problem = Some(e.to_string()),
        }
        self
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

/// One sync (see the module documentation).
pub(super) async fn sync(
    engine: &Engine,
    access: Option<&AccessOptions>,
    requested: SyncKind,
    state: &mut SyncState,
    mut each: impl FnMut(MobileDevice) + Send,
) -> Result<SyncOutcome, EngineError> {
    let started = Instant::now();
    mem_mark("start");
    let mut access = access
        .map(|o| Access::load(o, requested, state.watermark.is_some()))
        .transpose()?;
    if let Some(a) = access.as_mut() {
        a.prepare_intune().await;
    }
    let kind = access.as_ref().map_or(requested, |a| a.mode.kind);
    let (mut conn, failed_over_from) = Conn::open(engine, state).await?;
    let server = conn.server.clone();
    let mut new_state = state.clone();
    conn.learn_servers(kind, &mut new_state).await?;
    let mut devices = DeviceSet::default();
    let mut devices_read = 0;
    let mut failovers = Vec::new();
    for pass in 1.. {
        let full_pass = kind == SyncKind::Full && pass == 1;
        let filter = match (full_pass, &new_state.watermark) {
            (false, Some(w)) => Some(Filter::cmp("WhenChanged", Op::Gt, w.as_str())),
            _ => None,
        };
        let directory = access
            .as_mut()
            .filter(|_| full_pass)
            .map(|a| &mut a.directory);
        let mut each_new = |d: MobileDevice| {
            if pass == 1 {
                each(d)
            }
        };
        let read = Read {
            filter: filter.as_ref(),
            directory,
            devices: &mut devices,
            each: &mut each_new,
        };
        new_state.watermark = conn.read(engine, &new_state, read, &mut failovers).await?;
        mem_mark("devices read");
        if pass == 1 {
            devices_read = devices.len();
        }
        let Some(a) = access.as_mut() else { break };
        a.report.failovers.append(&mut failovers);
        if !a
            .pass(engine, &new_state, &mut conn, &devices, pass)
            .await?
        {
            break;
        }
    }
    conn.ex.close().await;
    mem_mark("passes done");
    let report = match access {
        Some(a) => Some(a.finish().await?),
        None => None,
    };
    *state = new_state;
    Ok(SyncOutcome {
        kind,
        server,
        devices: devices_read,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        failed_over_from: failed_over_from
            .into_iter()
            .map(|(s, e)| (s, e.to_string()))
            .collect(),
        access: report,
    })
}

/// The connection a sync runs on, and the server it is on.
pub(super) struct Conn {
    pub ex: RemotePowerShell,
    pub server: String,
}

/// What one read fills.
struct Read<'a, F> {
    filter: Option<&'a Filter>,
    /// The mailbox directory, read anew (a full pass with access control).
    directory: Option<&'a mut BTreeMap<String, MailboxInfo>>,
    devices: &'a mut DeviceSet,
    /// Sees every device once, even when a read starts again on another server.
    each: &'a mut F,
}

impl Conn {
    /// On the first candidate that answers; with the failures of those that did not.
    async fn open(
        engine: &Engine,
        state: &SyncState,
    ) -> Result<(Conn, Vec<(String, PsError)>), EngineError> {
        let candidates = engine.candidates(state);
        let (ex, used, failures) = open_with_failover(&candidates)
            .await
            .map_err(EngineError::from_failover)?;
        let server = candidates
            .get(used)
            .map(Target::address)
            .unwrap_or_default();
        Ok((Conn { ex, server }, failures))
    }

    /// On another server (the one that just failed goes last), keeping the server version.
    pub async fn fail_over(
        &mut self,
        engine: &Engine,
        state: &SyncState,
    ) -> Result<(), EngineError> {
        let mut c: Vec<Target> = engine.candidates(state);
        c.sort_by_key(|t| t.address().eq_ignore_ascii_case(&self.server));
        let (mut ex, used, _) = open_with_failover(&c)
            .await
            .map_err(EngineError::from_failover)?;
        ex.set_version(state.server_version);
        *self = Conn {
            ex,
            server: c.get(used).map(Target::address).unwrap_or_default(),
        };
        Ok(())
    }

    pub fn failed(&self, error: ExchangeError) -> EngineError {
        EngineError::Exchange {
            server: self.server.clone(),
            error,
        }
    }

    /// On a full sync (or without a known version): the newest server version, which picks
    /// the cmdlet names, and the Client Access Servers to fail over to.
    async fn learn_servers(
        &mut self,
        kind: SyncKind,
        state: &mut SyncState,
    ) -> Result<(), EngineError> {
        if kind == SyncKind::Full || state.server_version.is_none() {
            let servers = self
                .ex
                .get_exchange_servers()
                .await
                .map_err(|e| self.failed(e))?;
            state.server_version = servers.iter().filter_map(|s| s.version).max();
            state.failover_servers = servers
                .iter()
                .filter(|s| s.is_client_access_server && !s.fqdn.is_empty())
                .map(|s| s.fqdn.clone())
                .collect();
        }
        self.ex.set_version(state.server_version);
        Ok(())
    }

    /// Read devices (and the directory when asked), starting again on another server when
    /// the CAS stops answering mid-read (three times at most). Returns the new watermark.
    async fn read<F: FnMut(MobileDevice) + Send>(
        &mut self,
        engine: &Engine,
        state: &SyncState,
        read: Read<'_, F>,
        failovers: &mut Vec<String>,
    ) -> Result<Option<String>, EngineError> {
        let Read {
            filter,
            mut directory,
            devices,
            each,
        } = read;
        let mut delivered: Option<HashSet<String>> = None;
        for attempt in 0..4 {
            devices.clear();
            let mut watermark = state.watermark.clone();
            // The directory is read anew whole: the previous one goes first, so the two are
            // never in memory together (a failed sync does not save it anyway).
            let mut dir_new = directory.as_deref_mut();
            if let Some(d) = dir_new.as_deref_mut() {
                d.clear();
            }
            let ex = self.ex.clone();
            let devices_read = ex.get_mobile_devices(filter, |d| {
                if let Some(w) = &d.when_changed {
                    watermark = later(watermark.take(), w);
                }
                devices.push(&d);
                if delivered.as_ref().is_none_or(|s| !s.contains(&d.device_id)) {
                    each(d);
                }
            });
            let dir_read = async {
                let Some(dir_new) = dir_new.as_deref_mut() else {
                    return Ok(());
                };
                let partners = Filter::cmp("HasActiveSyncDevicePartnership", Op::Eq, true);
                ex.get_cas_mailboxes(Some(&partners), |m| {
                    dir_new.insert(
                        m.identity,
                        MailboxInfo {
                            alias: m.sam_account_name,
                            smtp: m.primary_smtp_address,
                            display_name: m.name,
                        },
                    );
                })
                .await
            };
            let (a, b) = tokio::join!(devices_read, dir_read);
            match a.and(b) {
                Ok(()) => return Ok(watermark),
                Err(e) if !e.is_refusal() && attempt < 3 => {
                    tracing::warn!("{}: {e}; reading again from another server", self.server);
                    let seen = delivered.get_or_insert_with(HashSet::new);
                    seen.extend(devices.ids().map(str::to_string));
                    self.fail_over(engine, state).await?;
                    failovers.push(self.server.clone());
                }
                Err(e) => return Err(self.failed(e)),
            }
        }
        Err(EngineError::NoServer(Vec::new()))
    }
}

/// Access control's part of one sync: what it loaded, learned and has to write.
struct Access<'a> {
    opts: &'a AccessOptions,
    policy: AccessPolicy,
    state: EngineState,
    /// Whether the engine had no device records when the sync started.
    bootstrap: bool,
    directory: BTreeMap<String, MailboxInfo>,
    mode: Mode,
    now: String,
    report: AccessReport,
    audit: Vec<AuditRecord>,
    /// The admin's overrides in force.
    overrides: Overrides,
    /// Overrides found expired (and taken out of the file) by this sync.
    expired: Vec<OverrideEvent>,
    /// A full sync was asked for when the sync loaded the state.
    full_requested_at_load: bool,
    /// The organization's device access rules, read on the sync's first pass.
    org: OrgAccess,
    /// The policy's groups, expanded on the sync's first pass.
    groups: GroupMembers,
}

fn state_error(e: impl std::fmt::Display) -> EngineError {
    EngineError::State(e.to_string())
}

/// The overrides in force at `now`, and those that expired, taken out of the file under its
/// lock (so each is reported by one sync only). The file is rewritten only when one expired.
fn load_overrides(
    org_dir: &std::path::Path,
    now: time::OffsetDateTime,
) -> Result<(Overrides, Vec<overrides::DeviceOverride>), EngineError> {
    let loaded = Overrides::load(org_dir).map_err(state_error)?;
    if !loaded.devices.values().any(|o| o.expired_at(now)) {
        return Ok((loaded, Vec::new()));
    }
    let (kept, expired) = Overrides::update(org_dir, now, |o| o.clone()).map_err(state_error)?;
    Ok((kept, expired))
}

impl<'a> Access<'a> {
    fn load(
        opts: &'a AccessOptions,
        requested: SyncKind,
        has_watermark: bool,
    ) -> Result<Access<'a>, EngineError> {
        let mut policy = AccessPolicy::load(&opts.org_dir)?;
        mem_mark("policy loaded");
        let mut state = EngineState::load(&opts.org_dir).map_err(state_error)?;
        mem_mark("state loaded");
        let now = time::OffsetDateTime::now_utc();
        let (overrides, expired) = load_overrides(&opts.org_dir, now)?;
        let mode = plan::mode(requested, opts.dry_run, &policy, &state, has_watermark);
        let mode = plan::after_overrides_expired(mode, expired.len());
        let expired = overrides::expired_events(expired, &audit::rfc3339(now));
        policy.inventory.now = Some(now);
        let full_requested_at_load = state.full_sync_requested;
        Ok(Access {
            opts,
            bootstrap: state.devices.is_empty(),
            // On a dry run, the directory learned is used for this sync only.
            directory: std::mem::take(&mut state.mailboxes),
            report: AccessReport {
                dry_run: mode.dry_run_reason.is_some(),
                dry_run_reason: mode.dry_run_reason.clone(),
                ..AccessReport::default()
            },
            policy,
            state,
            mode,
            now: audit::rfc3339(now),
            audit: Vec::new(),
            overrides,
            expired,
            full_requested_at_load,
            org: OrgAccess::default(),
            groups: GroupMembers::default(),
        })
    }

    fn dry_run(&self) -> bool {
        self.mode.dry_run_reason.is_some()
    }

    /// Read Intune (or fall back to its snapshot, or hold) before anything is planned.
    async fn prepare_intune(&mut self) {
        let Some(source) = self.policy.intune.as_mut() else {
            return;
        };
        let now = jiff::Timestamp::now();
        let report = match &self.opts.graph {
            Some(g) => {
                let mut g = g.lock().await;
                super::intune::prepare(&self.opts.org_dir, source, Some(&mut g), None, now).await
            }
            None => {
                super::intune::prepare(
                    &self.opts.org_dir,
                    source,
                    None,
                    self.opts.graph_problem.as_deref(),
                    now,
                )
                .await
            }
        };
        if let Some(p) = &report.problem {
            self.report.failures.push(format!("Intune: {p}"));
        }
        self.report.intune = Some(report);
        mem_mark("intune read");
    }

    /// Plan, enforce and settle what one pass read; whether another pass is to read back
    /// this one's changes.
    async fn pass(
        &mut self,
        engine: &Engine,
        sync_state: &SyncState,
        conn: &mut Conn,
        devices: &DeviceSet,
        pass: usize,
    ) -> Result<bool, EngineError> {
        let (dry_run, full_pass) = (
            self.dry_run(),
            self.mode.kind == SyncKind::Full && pass == 1,
        );
        self.report.passes = pass;
        if full_pass {
            let (policy, report) = (&self.policy, &mut self.report);
            plan::after_full_read(devices, policy, &mut self.state, dry_run, &self.now, report);
        }
        if pass == 1 {
            self.read_organization(conn).await?;
        }
        let mut plan = plan::plan(&PlanInput {
            devices,
            directory: &self.directory,
            policy: &self.policy,
            overrides: &self.overrides,
            state: &self.state,
            bootstrap: self.bootstrap,
            dry_run,
            org: &self.org,
            groups: &self.groups,
        });
        mem_mark("decided");
        let jobs = std::mem::take(&mut plan.jobs);
        let results =
            super::enforce::run_jobs(engine, sync_state, conn, jobs, dry_run, &mut self.report)
                .await?;
        let input = SettleInput {
            devices,
            policy: &self.policy,
            kind: self.mode.kind,
            dry_run,
            now: &self.now,
        };
        let (directory, state, report) = (&mut self.directory, &mut self.state, &mut self.report);
        let settled = plan::settle(&input, plan, results, directory, state, report);
        mem_mark("recorded");
        let rows = listing::RowsInput {
            devices,
            plans: &settled.decided,
            outcomes: &settled.outcomes,
            directory: &self.directory,
            state: &self.state,
            kind: self.mode.kind,
            now: &self.now,
        };
        let written = DeviceList::record(
            &self.opts.org_dir,
            listing::rows(&rows),
            full_pass,
            &self.now,
        );
        if let Err(e) = written {
            tracing::error!("could not write the device list: {e}");
            self.report.failures.push(format!("device list: {e}"));
        }
        mem_mark("device list written");
        self.audit.extend(settled.audit);
        self.queue(settled.mails)?;
        let mut applied = settled.applied_any;
        if full_pass {
            let report = &mut self.report;
            applied |= super::enforce::organization(&conn.ex, &self.policy, dry_run, report).await;
        }
        Ok(!dry_run && applied && pass < self.opts.max_passes)
    }

    /// What decides besides the policy: the organization's device access rules (every sync:
    /// a rule overrides the policy's Quarantine) and the members of the policy's groups.
    async fn read_organization(&mut self, conn: &Conn) -> Result<(), EngineError> {
        let rules = conn.ex.get_rules().await.map_err(|e| conn.failed(e))?;
        let (org, unknown) = OrgAccess::from_rules(&rules, precedence::DEFAULT_ACCESS_LEVEL);
        for r in unknown {
            self.report.failures.push(format!(
                "device access rule \"{r}\": its characteristic or access level is not known to this version; devices it matches may not be where the report says"
            ));
        }
        self.org = org;
        let expanded = groups::expand(&conn.ex, &self.policy)
            .await
            .map_err(|e| conn.failed(e))?;
        self.report.failures.extend(expanded.problems);
        self.report.group_reads = expanded.calls;
        self.groups = expanded.members;
        Ok(())
    }

    /// Render the mails from the organization's templates and queue them; the queue is on
    /// disk before anything is sent.
    fn queue(&mut self, mails: Vec<Mail>) -> Result<(), EngineError> {
        if mails.is_empty() {
            return Ok(());
        }
        let dir = &self.opts.org_dir;
        let rendered: Vec<_> = mails
            .into_iter()
            .map(|m| {
                let n = &self.policy.notifications;
                let (subject, body) =
                    notify::render(dir, &n.language, n.enroll_url.as_ref(), &m.facts);
                (m, subject, body)
            })
            .collect();
        let n = rendered.len();
        let from = self.policy.notifications.send_as.as_deref();
        Queue::update(dir, |q| {
            for (m, subject, body) in rendered {
                q.push_as(&m.device_id, &m.to, from, subject, body);
            }
        })
        .map_err(state_error)?;
        self.report.notifications_queued += n;
        Ok(())
    }

    /// Write the audit trail and the state (a dry run keeps only what `enforce` shows: the last
    /// full dry run, which a quick dry run does not replace), then
    /// send what is queued.
    async fn finish(mut self) -> Result<AccessReport, EngineError> {
        let opts = self.opts;
        self.report.mailbox_changes.sort();
        self.report.conflicts.sort();
        let rotation = self.policy.audit_rotation;
        if let Err(e) = audit::append_events(&opts.logs_dir, rotation, &self.expired)
            .and_then(|()| audit::append(&opts.logs_dir, rotation, &self.audit))
        {
            tracing::error!("could not write the audit trail: {e}");
            self.report.failures.push(format!("audit trail: {e}"));
        }
        for e in &self.expired {
            tracing::info!(device = %e.device_id, "override expired: {}", e.entry.describe());
        }
        self.report.overrides_expired = self.expired.iter().map(|e| e.device_id.clone()).collect();
        mem_mark("audited");
        // `enforce --confirm` edits the same file: one writer at a time, and what it wrote
        // while this sync ran is kept.
        let writer = EngineState::lock(&opts.org_dir).map_err(state_error)?;
        if self.dry_run() {
            let mut saved = EngineState::load(&opts.org_dir).map_err(state_error)?;
            // The review `enforce` shows is the last full dry run: a quick one decides only
            // the devices that changed, and must not replace it right before --confirm.
            if self.mode.kind == SyncKind::Full {
                saved.last_dry_run = Some(self.report.truncated(200));
            }
            if saved.grandfathered.is_none() {
                saved.grandfathered = self.state.grandfathered;
            }
            saved.mailboxes = self.directory;
            saved.save(&opts.org_dir).map_err(state_error)?;
            return Ok(self.report);
        }
        self.state.mailboxes = self.directory;
        if self.mode.kind == SyncKind::Full {
            self.state.full_sync_requested = false;
            self.state.policy_digest = Some(self.policy.digest);
        }
        let on_disk = EngineState::load(&opts.org_dir).map_err(state_error)?;
        // A full sync asked for while this one ran (an override set or cleared) still runs.
        let asked_meanwhile = on_disk.full_sync_requested && !self.full_requested_at_load;
        self.state.keep_changes_made_meanwhile(on_disk);
        self.state.full_sync_requested |= asked_meanwhile;
        self.state.save(&opts.org_dir).map_err(state_error)?;
        // Sending mail can take a while; nobody waits for it to confirm.
        drop(writer);
        mem_mark("state saved");
        if let Some(sender) = &opts.sender {
            let mut s = sender.lock().await;
            match notify::drain(&opts.org_dir, s.as_mut(), opts.notify_budget).await {
                Ok(r) => self.report.notifications = Some(r),
                Err(e) => self
                    .report
                    .failures
                    .push(format!("notification queue: {e}")),
            }
        }
        Ok(self.report)
    }
}
