//! `eas-connector devices`: every device the last syncs saw, with Exchange's state and reason,
//! the connector's decision, its source and reason, the last sync and any conflict with an
//! Exchange device access rule (a table, or `--json` for scripts); and the admin's one-off
//! overrides, `devices allow|block|quarantine DEVICE-ID --reason TEXT [--until WHEN]` and
//! `devices clear DEVICE-ID`.
//!
//! An override may name a device no sync has seen yet (an admin may block an id before it
//! first syncs): it is kept, said so, and applies when the device appears. Setting or
//! clearing one writes the audit trail and asks for a full sync (so the next sync decides the
//! device even when nothing about it changed in Exchange). It only reads and writes the
//! organization's files: the service, or `engine run`, applies them.

use std::path::Path;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::Outcome;
use crate::config::ConfigLocation;
use crate::engine::audit;
use crate::engine::listing::{DeviceList, DeviceRow};
use crate::engine::overrides::{self, DeviceOverride, OverrideChange, OverrideEvent, Overrides};
use crate::engine::policy::{AccessPolicy, Action, Pattern};
use crate::engine::state::EngineState;
use crate::logging::RotationPolicy;
use crate::wire::exchange::DeviceAccessState;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DevicesArgs {
    #[command(subcommand)]
    change: Option<DevicesCommand>,
    #[command(flatten)]
    list: ListArgs,
}

impl DevicesArgs {
    /// Whether the command changes files.
    pub fn writes(&self) -> bool {
        self.change.is_some()
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only devices Exchange has in this state: allowed, blocked, quarantined,
    /// devicediscovery or unknown.
    #[arg(long, value_name = "STATE", value_parser = parse_state)]
    state: Option<DeviceAccessState>,
    /// Only this user's devices: SMTP address (UPN), alias, display name or mailbox; `*`
    /// matches any run of characters.
    #[arg(long, value_name = "UPN")]
    user: Option<String>,
    /// Print JSON (stable field names, for scripts).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// Allow the device whatever the policy says, until cleared (or --until).
    Allow(SetArgs),
    /// Block the device whatever the policy says, until cleared (or --until).
    Block(SetArgs),
    /// Quarantine the device whatever the policy says, until cleared (or --until).
    Quarantine(SetArgs),
    /// Remove the device's override: the policy decides it again from the next sync.
    Clear(ClearArgs),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// The ActiveSync device id (as `devices` or Exchange's Get-MobileDevice shows it).
    #[arg(value_name = "DEVICE-ID")]
    device_id: String,
    /// Why (required; it goes to the audit trail and `devices`).
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// When the override ends: a date (2026-03-01, midnight UTC), an RFC 3339 time, or a
    /// duration from now (30m, 8h, 7d, 2w). Without it: until cleared.
    #[arg(long, value_name = "DATE|DURATION")]
    until: Option<String>,
}

#[derive(Debug, Args)]
pub struct ClearArgs {
    /// The ActiveSync device id.
    #[arg(value_name = "DEVICE-ID")]
    device_id: String,
}

/// A `--state` that is not one of Exchange's device states.
#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not an Exchange device state: use {states}", states = state_names())]
struct UnknownState(String);

fn state_names() -> String {
    DeviceAccessState::ALL
        .iter()
        .map(|v| v.as_str().to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_state(s: &str) -> Result<DeviceAccessState, UnknownState> {
    DeviceAccessState::parse(s).ok_or_else(|| UnknownState(s.to_string()))
}

pub(super) fn run(args: DevicesArgs, loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    if !loc.org_dir().is_dir() {
        return Err(super::unknown_org(loc, "no configuration, no device list"));
    }
    match args.change {
        None => list(&args.list, loc),
        Some(DevicesCommand::Allow(a)) => set(a, Action::Allow, loc),
        Some(DevicesCommand::Block(a)) => set(a, Action::Block, loc),
        Some(DevicesCommand::Quarantine(a)) => set(a, Action::Quarantine, loc),
        Some(DevicesCommand::Clear(a)) => clear(a, loc),
    }
}

/// Where an override stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum OverrideStatus {
    /// The last sync decided the device by it.
    InForce,
    /// Set after the last sync decided the device: the next sync applies it.
    Pending,
    /// Its `until` passed; the next sync takes it out and reports it.
    Expired,
    /// No sync has seen the device yet.
    NotSeen,
}

impl OverrideStatus {
    fn as_str(self) -> &'static str {
        match self {
            OverrideStatus::InForce => "in force",
            OverrideStatus::Pending => "pending (next sync)",
            OverrideStatus::Expired => "expired",
            OverrideStatus::NotSeen => "device not seen yet",
        }
    }
}

#[derive(Debug, Serialize)]
struct OverrideView<'a> {
    #[serde(flatten)]
    entry: &'a DeviceOverride,
    status: OverrideStatus,
}

#[derive(Debug, Serialize)]
struct DeviceView<'a> {
    #[serde(flatten)]
    row: &'a DeviceRow,
    #[serde(rename = "override")]
    override_: Option<OverrideView<'a>>,
}

#[derive(Debug, Serialize)]
struct ListView<'a> {
    organization: &'a str,
    /// When a sync last wrote the list (`null`: none has yet).
    synced_at: Option<&'a str>,
    devices: Vec<DeviceView<'a>>,
    /// Overrides for devices no sync has seen yet.
    overrides_not_seen: Vec<OverrideView<'a>>,
}

fn status_of(
    o: &DeviceOverride,
    row: Option<&DeviceRow>,
    now: time::OffsetDateTime,
) -> OverrideStatus {
    match row {
        _ if o.expired_at(now) => OverrideStatus::Expired,
        None => OverrideStatus::NotSeen,
        Some(r) if r.source == "override" && r.action == o.action && r.reason == o.reason => {
            OverrideStatus::InForce
        }
        Some(_) => OverrideStatus::Pending,
    }
}

fn list(args: &ListArgs, loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    let dir = loc.org_dir();
    let devices = DeviceList::load(&dir)?;
    let overrides = Overrides::load(&dir)?;
    let now = time::OffsetDateTime::now_utc();
    let user = args.user.as_deref().map(Pattern::new);
    let mut rows: Vec<&DeviceRow> = devices
        .devices
        .values()
        .filter(|r| args.state.is_none_or(|s| r.exchange_state == s))
        .filter(|r| {
            user.as_ref().is_none_or(|p| {
                let short = r.mailbox.rsplit('/').next().unwrap_or_default();
                [r.user.as_str(), r.mailbox.as_str(), short, r.name.as_str()]
                    .iter()
                    .any(|v| p.matches(v))
            })
        })
        .collect();
    rows.sort_by(|a, b| (&a.user, &a.name, &a.device_id).cmp(&(&b.user, &b.name, &b.device_id)));
    let views: Vec<DeviceView<'_>> = rows
        .into_iter()
        .map(|row| DeviceView {
            row,
            override_: overrides.get(&row.device_id).map(|entry| OverrideView {
                entry,
                status: status_of(entry, Some(row), now),
            }),
        })
        .collect();
    // Overrides for devices not in the list; a filter by state or user cannot match them.
    let not_seen: Vec<OverrideView<'_>> = if args.state.is_none() && args.user.is_none() {
        overrides
            .devices
            .iter()
            .filter(|(k, _)| !devices.devices.contains_key(*k))
            .map(|(_, entry)| OverrideView {
                entry,
                status: status_of(entry, None, now),
            })
            .collect()
    } else {
        Vec::new()
    };
    let view = ListView {
        organization: loc.org(),
        synced_at: devices.synced_at.as_deref(),
        devices: views,
        overrides_not_seen: not_seen,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(Outcome::Success);
    }
    print_table(&view);
    Ok(Outcome::Success)
}

fn print_table(view: &ListView<'_>) {
    let Some(at) = view.synced_at else {
        println!(
            "No device list yet for '{}': no sync has run. Run `eas-connector engine run --full` (or let the service run its first sync).",
            view.organization
        );
        print_not_seen(&view.overrides_not_seen);
        return;
    };
    let header = [
        "DEVICE ID",
        "NAME",
        "USER",
        "EXCHANGE (REASON)",
        "DECISION",
        "SOURCE",
        "OUTCOME",
        "LAST SYNC",
        "CONFLICT",
    ];
    let cells: Vec<[String; 9]> = view
        .devices
        .iter()
        .map(|v| {
            let r = v.row;
            let source = match &v.override_ {
                Some(o) if o.status != OverrideStatus::InForce => {
                    format!(
                        "{} (override {}: {})",
                        r.source,
                        o.entry.action,
                        o.status.as_str()
                    )
                }
                _ => r.source.clone(),
            };
            [
                r.device_id.clone(),
                r.name.clone(),
                r.user.clone(),
                format!("{} ({})", r.exchange_state, r.exchange_reason),
                r.action.to_string(),
                source,
                r.outcome.to_string(),
                r.synced_at.clone(),
                r.conflict
                    .as_ref()
                    .map_or_else(|| "-".to_string(), ToString::to_string),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: &[String]| {
        let text: Vec<String> = cols
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    println!(
        "{} device(s), list written by the sync of {at}",
        cells.len()
    );
    line(&header.map(str::to_string));
    for (row, v) in cells.iter().zip(&view.devices) {
        line(row);
        match &v.override_ {
            Some(o) if o.status == OverrideStatus::InForce => {
                println!("    reason: {}", o.entry.describe())
            }
            _ => println!("    reason: {}", v.row.reason),
        }
    }
    print_not_seen(&view.overrides_not_seen);
}

fn print_not_seen(not_seen: &[OverrideView<'_>]) {
    if not_seen.is_empty() {
        return;
    }
    println!("Overrides for devices no sync has seen yet (they apply when the device appears):");
    for o in not_seen {
        println!(
            "  {}  {}  {}{}",
            o.entry.device_id,
            o.entry.action,
            o.entry.describe(),
            if o.status == OverrideStatus::Expired {
                " [expired]"
            } else {
                ""
            }
        );
    }
}

/// The audit trail's rotation, from the policy when it can be read.
fn rotation(org_dir: &Path) -> RotationPolicy {
    AccessPolicy::load(org_dir)
        .map(|p| p.audit_rotation)
        .unwrap_or_default()
}

/// Write the events, then ask for a full sync, so the next sync decides the device even when
/// nothing about it changed in Exchange.
fn record(loc: &ConfigLocation, events: &[OverrideEvent]) -> anyhow::Result<()> {
    let dir = loc.org_dir();
    let logs = loc.logs_dir();
    crate::config::store::create_private_dir(&logs)
        .with_context(|| format!("could not create {}", logs.display()))?;
    audit::append_events(&logs, rotation(&dir), events).with_context(|| {
        format!(
            "the override was saved, but the audit trail {} could not be written",
            audit::audit_path(&logs).display()
        )
    })?;
    let _writer = EngineState::lock(&dir)?;
    let mut s = EngineState::load(&dir)?;
    if !s.full_sync_requested {
        s.full_sync_requested = true;
        s.save(&dir)?;
    }
    Ok(())
}

fn event(change: OverrideChange, by: &str, entry: DeviceOverride, now: &str) -> OverrideEvent {
    OverrideEvent {
        time: now.to_string(),
        event: change,
        device_id: entry.device_id.clone(),
        by: by.to_string(),
        entry,
    }
}

fn set(args: SetArgs, action: Action, loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    let dir = loc.org_dir();
    let id = args.device_id.trim();
    if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!(
            "DEVICE-ID '{}': a device id has no spaces; copy it from `eas-connector devices`",
            crate::config::validate::shown(&args.device_id)
        );
    }
    let reason = args.reason.trim();
    if reason.is_empty() {
        bail!("--reason is empty: say why (it goes to the audit trail and `devices`)");
    }
    let now = time::OffsetDateTime::now_utc();
    let until = match &args.until {
        None => None,
        Some(u) => {
            let t = overrides::parse_until(u, now).ok_or_else(|| {
                anyhow::anyhow!(
                    "--until '{}': use a date (2026-03-01), an RFC 3339 time, or a duration from now (30m, 8h, 7d, 2w)",
                    crate::config::validate::shown(u)
                )
            })?;
            if t <= now {
                bail!(
                    "--until '{}' is in the past ({}); give a later time, or leave it out for an override until cleared",
                    crate::config::validate::shown(u),
                    audit::rfc3339(t)
                );
            }
            Some(audit::rfc3339(t.replace_nanosecond(0).unwrap_or(t)))
        }
    };
    let by = super::admin_name();
    let at = audit::rfc3339(now);
    let entry = DeviceOverride {
        device_id: id.to_string(),
        action,
        reason: reason.to_string(),
        by: by.clone(),
        at: at.clone(),
        until,
    };
    let (replaced, expired) = Overrides::update(&dir, now, |o| o.set(entry.clone()))?;
    let mut events = overrides::expired_events(expired, &at);
    events.push(event(OverrideChange::Added, &by, entry.clone(), &at));
    record(loc, &events)?;
    if let Some(old) = replaced {
        println!(
            "Replaced the override of {} ({}: {}).",
            old.device_id, old.action, old.reason
        );
    }
    println!(
        "{} {}: {} (by {by}{}).",
        action,
        entry.device_id,
        entry.reason,
        entry
            .until
            .as_deref()
            .map(|u| format!(", until {u}"))
            .unwrap_or_else(|| ", until cleared".to_string())
    );
    let list = DeviceList::load(&dir).unwrap_or_default();
    if !list.devices.contains_key(&id.to_ascii_lowercase()) {
        println!(
            "Note: no sync has seen device {id}{}; the override is kept and applies when the device first syncs (check the id if you expected it).",
            list.synced_at
                .as_deref()
                .map(|t| format!(" (last sync {t})"))
                .unwrap_or_default()
        );
    }
    println!("The next sync (a full one) applies it; `eas-connector sync --full` asks the service for one now.");
    Ok(Outcome::Success)
}

fn clear(args: ClearArgs, loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    let dir = loc.org_dir();
    let now = time::OffsetDateTime::now_utc();
    let at = audit::rfc3339(now);
    let (cleared, expired) = Overrides::update(&dir, now, |o| o.clear(&args.device_id))?;
    let by = super::admin_name();
    let mut events = overrides::expired_events(expired, &at);
    let was_expired = events
        .iter()
        .any(|e| e.device_id.eq_ignore_ascii_case(&args.device_id));
    if let Some(entry) = cleared.clone() {
        events.push(event(OverrideChange::Cleared, &by, entry, &at));
    }
    if !events.is_empty() {
        record(loc, &events)?;
    }
    match cleared {
        Some(o) => {
            println!(
                "Cleared the override of {} ({}: {}); the policy decides it again from the next sync (a full one).",
                o.device_id, o.action, o.reason
            );
            Ok(Outcome::Success)
        }
        None if was_expired => {
            println!(
                "The override of {} had already expired; it is taken out (the policy decides the device).",
                args.device_id
            );
            Ok(Outcome::Success)
        }
        None => {
            let left = Overrides::load(&dir)?;
            let ids: Vec<&str> = left
                .devices
                .values()
                .map(|o| o.device_id.as_str())
                .collect();
            eprintln!(
                "Device {} has no override; {}",
                crate::config::validate::shown(&args.device_id),
                if ids.is_empty() {
                    "there are none".to_string()
                } else {
                    format!("overrides exist for: {}", ids.join(", "))
                }
            );
            Ok(Outcome::ProblemsFound)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<super::super::Cli, clap::Error> {
        super::super::Cli::try_parse_from(
            std::iter::once("eas-connector").chain(args.iter().copied()),
        )
    }

    fn devices(args: &[&str]) -> DevicesArgs {
        match parse(args).unwrap().command {
            super::super::Command::Devices(d) => d,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn state_takes_exchange_states_in_any_case() {
        let d = devices(&["devices", "--state", "Quarantined"]);
        assert_eq!(d.list.state, Some(DeviceAccessState::Quarantined));
        let e = parse(&["devices", "--state", "nope"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("allowed, blocked, quarantined"), "{e}");
    }

    #[test]
    fn user_and_json_filter_the_list() {
        let d = devices(&["devices", "--user", "anna@contoso.test", "--json"]);
        assert_eq!(d.list.user.as_deref(), Some("anna@contoso.test"));
        assert!(d.list.json && d.change.is_none() && !d.writes());
    }

    #[test]
    fn an_override_needs_a_reason_and_takes_until() {
        let e = parse(&["devices", "block", "ABC"]).unwrap_err().to_string();
        assert!(e.contains("--reason"), "{e}");
        let d = devices(&[
            "devices", "block", "ABC", "--reason", "lost", "--until", "7d",
        ]);
        assert!(d.writes());
        let Some(DevicesCommand::Block(a)) = d.change else {
            panic!()
        };
        assert_eq!(
            (a.device_id.as_str(), a.reason.as_str(), a.until.as_deref()),
            ("ABC", "lost", Some("7d"))
        );
        assert!(matches!(
            devices(&["devices", "clear", "ABC"]).change,
            Some(DevicesCommand::Clear(_))
        ));
        assert!(matches!(
            devices(&["devices", "allow", "ABC", "--reason", "ceo"]).change,
            Some(DevicesCommand::Allow(_))
        ));
        assert!(matches!(
            devices(&["devices", "quarantine", "ABC", "--reason", "check"]).change,
            Some(DevicesCommand::Quarantine(_))
        ));
    }

    #[test]
    fn list_flags_do_not_mix_with_changes() {
        assert!(parse(&["devices", "--json", "clear", "ABC"]).is_err());
    }
}
