//! The access-control engine from the command line, without the service: `engine run` (one
//! full or quick sync), `enforce` (show the last dry run, `--confirm` to start enforcing),
//! `policy check` / `policy example`, and `report` (the audit trail summarised).
//!
//! `engine run` keeps its own sync state (watermark, learned servers) in
//! `EngineRunSyncState.json` in the organization folder; the service keeps its own.

use std::path::Path;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::Outcome;
use crate::config::{ConfigFile, ConfigLocation, OrgFile};
use crate::engine::audit;
use crate::engine::configured_engine;
use crate::engine::policy::{AccessPolicy, PolicyError, EXAMPLE};
use crate::engine::state::EngineState;
use crate::engine::{SyncKind, SyncState};
use crate::secrets::{self, Preference, SecretKind};

#[derive(Debug, Subcommand)]
pub enum EngineCommand {
    /// Run one sync now (discover, decide, enforce, notify, audit) and print what it did.
    Run(RunArgs),
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct KindArgs {
    /// Every device, and the organization's settings.
    #[arg(long)]
    full: bool,
    /// Only devices changed since the last sync.
    #[arg(long)]
    quick: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    kind: KindArgs,
    /// Compute and report every change; enforce nothing, mail nobody.
    #[arg(long)]
    dry_run: bool,
    /// Print the full report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct EnforceArgs {
    /// Confirm that the connector may enforce the policy from the next sync on.
    #[arg(long)]
    confirm: bool,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check AccessPolicy.toml and its inventory files; exit 1 with file:line:column for each
    /// problem.
    Check,
    /// Print a documented example policy.
    Example,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Only decisions since: a date (2026-03-01), an RFC 3339 time, or 24h / 7d / 30m.
    #[arg(long)]
    since: Option<String>,
    #[arg(long)]
    json: bool,
}

pub(super) fn run(cmd: EngineCommand, loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    let EngineCommand::Run(args) = cmd;
    let file = ConfigFile::load(loc)?;
    let opened = secrets::open(loc, Preference::from_env()?)?;
    if let Some(w) = &opened.warning {
        eprintln!("warning: {w}");
    }
    // A store in use that fails is an error naming it, not a sync without the password.
    let service = opened.store.get(SecretKind::ServiceAccount)?;
    let notification = opened.store.get(SecretKind::NotificationAccount)?;
    let proxy = opened.store.get(SecretKind::Proxy)?;
    let engine = configured_engine(
        &file.config,
        loc,
        service.as_ref(),
        notification.as_ref(),
        proxy.as_ref(),
        args.dry_run,
    )?
    .with_graph(crate::cloud::graph_client(
        &file.config,
        opened.store.as_ref(),
        proxy.as_ref(),
        crate::cloud::AssertionAlg::default(),
    ));
    let state_path = loc.file(OrgFile::RunSyncState);
    // A damaged state is not quietly replaced: that would turn a quick sync into a full one.
    let mut state: SyncState = match std::fs::read(&state_path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| {
            anyhow::anyhow!(
                "{}, line {}, column {}: the sync state is damaged ({}); it was left untouched. Delete it to start again from a full sync (`engine run --full`)",
                state_path.display(),
                e.line(),
                e.column(),
                json_reason(&e)
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => SyncState::default(),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("could not read {}", state_path.display()))),
    };
    let kind = if args.kind.full {
        SyncKind::Full
    } else {
        SyncKind::Quick
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = rt.block_on(engine.sync(kind, &mut state, |_| {}))?;
    crate::engine::mem_mark("sync returned");
    crate::config::store::write_private(&state_path, &serde_json::to_vec(&state)?)?;
    // The run's own summary line in the log (the engine logs its steps, not this command).
    let access = outcome.access.as_ref();
    tracing::info!(
        kind = ?outcome.kind,
        server = %outcome.server,
        devices = outcome.devices,
        duration_ms = outcome.duration_ms,
        decided = access.map_or(0, |r| r.decided),
        mailboxes_changed = access.map_or(0, |r| r.mailbox_changes.len()),
        dry_run = access.is_some_and(|r| r.dry_run),
        policy = access.is_some(),
        "engine run finished"
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
        crate::engine::mem_mark("report printed");
        return Ok(Outcome::Success);
    }
    println!(
        "{:?} sync on {}: {} devices read in {} ms",
        outcome.kind, outcome.server, outcome.devices, outcome.duration_ms
    );
    for (s, e) in &outcome.failed_over_from {
        println!("  {s} did not answer: {e}");
    }
    let Some(r) = &outcome.access else {
        println!(
            "  no access policy ({}): devices were discovered, nothing was decided; start from `eas-connector policy example`",
            loc.file(OrgFile::Policy).display()
        );
        return Ok(Outcome::Success);
    };
    if let Some(why) = &r.dry_run_reason {
        println!("DRY RUN ({why}): nothing was changed");
    }
    println!(
        "  decided {} (passes {}): {}",
        r.decided,
        r.passes,
        counts(&r.by_action)
    );
    println!("  by source: {}", counts(&r.by_source));
    if let Some(g) = r.grandfathered {
        println!("  grandfathered {g} existing devices");
    }
    println!(
        "  {} mailbox(es) {}, {} new or changed decisions",
        r.mailbox_changes.len(),
        if r.dry_run { "would change" } else { "changed" },
        r.changed_decisions
    );
    for c in r.mailbox_changes.iter().take(20) {
        println!(
            "    {}: allow +{:?} -{:?}, block +{:?} -{:?}",
            c.mailbox, c.allowed.add, c.allowed.remove, c.blocked.add, c.blocked.remove
        );
    }
    if r.mailbox_changes.len() > 20 {
        println!("    … (--json for all)");
    }
    for c in r.org_changes.iter().chain(&r.policy_changes) {
        println!("  {c}");
    }
    if !r.conflicts.is_empty() {
        println!(
            "  {} conflict(s) with Exchange's device access rules (rule_conflict decides):",
            r.conflicts.len()
        );
        for c in r.conflicts.iter().take(20) {
            println!("    CONFLICT {c}");
        }
        if r.conflicts.len() > 20 {
            println!("    … (--json for all)");
        }
    }
    if r.held > 0 {
        println!(
            "  {} device(s) left as they were: a rule's group could not be expanded (see FAILED)",
            r.held
        );
    }
    println!("  notifications queued: {}", r.notifications_queued);
    if let Some(n) = &r.notifications {
        println!(
            "  notifications sent {}, failed {}, still queued {}",
            n.sent, n.failed, n.queued
        );
    }
    for s in &r.failovers {
        println!("  failed over to {s}");
    }
    for d in &r.overrides_expired {
        println!("  the override of {d} expired: the policy decides it again");
    }
    for f in &r.failures {
        println!("  FAILED: {f}");
    }
    Ok(if r.failures.is_empty() {
        Outcome::Success
    } else {
        Outcome::ProblemsFound
    })
}

fn counts(m: &std::collections::BTreeMap<String, usize>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn enforce(args: EnforceArgs, loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    let dir = loc.org_dir();
    if args.confirm {
        let by = super::admin_name();
        let s = EngineState::confirm(&dir, &by)?;
        println!(
            "Enforcement confirmed ({} by {}); the next sync is a full sync that enforces the policy.",
            s.confirmed.as_ref().map(|c| c.at.as_str()).unwrap_or_default(),
            by
        );
        return Ok(Outcome::Success);
    }
    let s = EngineState::load(&dir)?;
    match &s.confirmed {
        Some(c) => println!("Enforcement is on (confirmed {} by {}).", c.at, c.by),
        None => println!(
            "Enforcement is NOT confirmed: every sync is a dry run. Review the last dry run, then run `eas-connector enforce --confirm`."
        ),
    }
    if s.last_dry_run.is_none() && s.confirmed.is_none() {
        println!(
            "No full dry run yet: run `eas-connector engine run --full` (or let the service run its daily full sync) and review it before confirming."
        );
    }
    if let Some(r) = &s.last_dry_run {
        println!(
            "Last full dry run: {} devices decided ({}); {} mailbox(es) would change; {}",
            r.decided,
            counts(&r.by_action),
            r.mailbox_changes.len(),
            if r.org_changes.is_empty() {
                "no organization changes".to_string()
            } else {
                r.org_changes.join("; ")
            }
        );
        if !r.conflicts.is_empty() {
            println!(
                "  {} decision(s) Exchange's device access rules override (rule_conflict decides):",
                r.conflicts.len()
            );
            for c in r.conflicts.iter().take(20) {
                println!("    CONFLICT {c}");
            }
        }
    }
    Ok(Outcome::Success)
}

pub(super) fn policy(cmd: PolicyCommand, loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    match cmd {
        PolicyCommand::Example => {
            print!("{EXAMPLE}");
            Ok(Outcome::Success)
        }
        PolicyCommand::Check => check(&loc.org_dir()),
    }
}

fn check(dir: &Path) -> anyhow::Result<Outcome> {
    match AccessPolicy::load(dir) {
        Ok(p) => {
            println!(
                "{} is valid: {} rule(s), {} inventory device(s), default {}, precedence {:?}{}",
                dir.join(OrgFile::Policy.name()).display(),
                p.rules.0.len(),
                p.inventory.entries.len(),
                p.default,
                p.precedence,
                if p.dry_run { ", dry run" } else { "" }
            );
            Ok(Outcome::Success)
        }
        Err(PolicyError::Invalid(problems)) => {
            for p in problems {
                eprintln!("{p}");
            }
            Ok(Outcome::ProblemsFound)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(Outcome::ProblemsFound)
        }
    }
}

/// serde_json's reason without its " at line L column C" (the caller names the place), cut
/// and escaped: it may quote a value from the file.
fn json_reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let reason = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(r, _)| r);
    crate::config::validate::shown(reason)
}

pub(super) fn report(args: ReportArgs, loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    let since = match &args.since {
        None => None,
        Some(s) => Some(audit::parse_since(s).ok_or_else(|| {
            anyhow::anyhow!(
                "--since '{}': use a date (2026-03-01), an RFC 3339 time, or 24h / 7d / 30m",
                crate::config::validate::shown(s)
            )
        })?),
    };
    let audit_file = audit::audit_path(&loc.logs_dir());
    let s = audit::summarize(&loc.logs_dir(), since)
        .with_context(|| format!("could not read {}", audit_file.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(Outcome::Success);
    }
    println!(
        "{} decisions on {} devices{}",
        s.decisions,
        s.devices,
        s.since
            .as_deref()
            .map(|t| format!(" since {t}"))
            .unwrap_or_default()
    );
    println!("  actions:  {}", counts(&s.by_action));
    println!("  sources:  {}", counts(&s.by_source));
    println!("  outcomes: {}", counts(&s.by_outcome));
    if !s.held_back.is_empty() {
        println!("  held back now (latest first):");
        for r in &s.held_back {
            println!(
                "    {} {} {} ({}: {}) {}",
                r.time, r.device, r.action, r.source, r.reason, r.outcome
            );
        }
    }
    if !s.overrides.is_empty() {
        println!("  overrides: {}", counts(&s.overrides));
        for e in &s.override_events {
            println!(
                "    {} {} {} {} by {}: {}{}",
                e.time,
                e.event,
                e.device_id,
                e.entry.action,
                e.by,
                e.entry.reason,
                e.entry
                    .until
                    .as_deref()
                    .map(|u| format!(" (until {u})"))
                    .unwrap_or_default()
            );
        }
    }
    if s.files.len() > 1 {
        println!("  read {} files: {}", s.files.len(), s.files.join(", "));
    }
    if !s.conflicts.is_empty() {
        println!("  overridden by Exchange's device access rules now (latest first):");
        for r in &s.conflicts {
            if let Some(c) = &r.conflict {
                println!("    {} {} {c}", r.time, r.device);
            }
        }
    }
    if s.unreadable_lines > 0 {
        let lines: Vec<String> = s.unreadable_at.iter().map(|l| l.to_string()).collect();
        println!(
            "  {} unreadable line(s) skipped in {} (torn by a crash or damaged; at {}{}); the other decisions are counted",
            s.unreadable_lines,
            loc.logs_dir().display(),
            lines.join(", "),
            if s.unreadable_lines > lines.len() { ", …" } else { "" }
        );
    }
    Ok(Outcome::Success)
}
