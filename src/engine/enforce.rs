//! Sending the plan to Exchange: each planned mailbox is read again right before its change
//! and only the difference is sent (`@{Add=…;Remove=…}`), so entries the engine did not
//! decide are never rewritten and repeating a change is harmless. Mailboxes run in parallel
//! up to the pool's runspaces; when a Client Access Server stops answering, the unfinished
//! mailboxes are retried on another one (a change whose answer was lost is recognised when
//! the mailbox is read again). Also the organization's settings and the mailbox policy, after
//! the lists.
//!
//! It decides nothing: what to change comes from the plan, how it went goes back to it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::driver::Conn;
use super::plan::{diff, Job, JobResult};
use super::policy::AccessPolicy;
use super::report::AccessReport;
use super::{Engine, EngineError, SyncState};
use crate::exchange::ops::{Exchange, ExchangeError};
use crate::wire::exchange::{AccessLevel, SettingValue};

/// Read one mailbox, and change its lists unless a dry run or nothing is to change.
async fn run_job(
    ex: &impl Exchange,
    job: &mut Job,
    dry_run: bool,
) -> Result<JobResult, ExchangeError> {
    let Some(cas) = ex.get_cas_mailbox(&job.identity).await? else {
        return Ok(JobResult::failed(
            job.mailbox.clone(),
            format!("mailbox {} not found", job.identity),
        ));
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

/// Run the jobs, `workers` at a time, failing over to another CAS when one stops answering
/// (at most three times; what is left then fails with "no server answered").
pub async fn run_jobs(
    engine: &Engine,
    state: &SyncState,
    conn: &mut Conn,
    jobs: Vec<Job>,
    dry_run: bool,
    report: &mut AccessReport,
) -> Result<Vec<JobResult>, EngineError> {
    let workers = engine.runspaces();
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
                    let r = match run_job(&ex, &mut job, dry_run).await {
                        Ok(r) => r,
                        Err(e) if !e.is_refusal() => {
                            tracing::warn!("{}: {e}; retrying on another server", job.identity);
                            if let Ok(mut r) = retry.lock() {
                                r.push_back(job);
                            }
                            continue;
                        }
                        Err(e) => JobResult::failed(job.mailbox.clone(), e.to_string()),
                    };
                    if let Ok(mut d) = done.lock() {
                        d.push(r);
                    }
                }
            });
        }
        while set.join_next().await.is_some() {}
        results.append(&mut take(&done));
        pending = take(&retry);
        if pending.is_empty() {
            break;
        }
        rounds += 1;
        if rounds > 3 {
            for j in pending.drain(..) {
                report
                    .failures
                    .push(format!("{}: no server answered", j.identity));
                results.push(JobResult::failed(
                    j.mailbox.clone(),
                    "no Client Access Server answered".into(),
                ));
            }
            break;
        }
        conn.fail_over(engine, state).await?;
        report.failovers.push(conn.server.clone());
    }
    Ok(results)
}

fn take<T: Default>(m: &Mutex<T>) -> T {
    m.lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default()
}

/// The organization settings and the mailbox policy the policy file asks for (each failure
/// is reported, not fatal). Returns whether anything was changed.
pub async fn organization(
    ex: &impl Exchange,
    policy: &AccessPolicy,
    dry_run: bool,
    report: &mut AccessReport,
) -> bool {
    if let Err(e) = org_settings(ex, policy, dry_run, report).await {
        report.failures.push(format!("organization settings: {e}"));
    }
    if let Err(e) = mailbox_policy(ex, policy, dry_run, report).await {
        report.failures.push(format!("mailbox policy: {e}"));
    }
    !dry_run && (!report.org_changes.is_empty() || !report.policy_changes.is_empty())
}

async fn org_settings(
    ex: &impl Exchange,
    policy: &AccessPolicy,
    dry_run: bool,
    report: &mut AccessReport,
) -> Result<(), ExchangeError> {
    let cur = ex.get_org_settings().await?;
    let want = super::precedence::DEFAULT_ACCESS_LEVEL;
    let level = (cur.default_access_level != Some(want)).then(|| {
        report.org_changes.push(format!(
            "DefaultAccessLevel: {} → {want}",
            cur.default_access_level
                .map_or("(unknown)", AccessLevel::as_str)
        ));
        want
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
            let mut settings = spec.settings.clone();
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
