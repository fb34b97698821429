//! The audit trail: the engine's access decisions, one JSON object per line, in
//! `Logs/decisions.jsonl` of the organization folder — when, which device and user, which
//! source and rule (or admin override) decided, the action, and whether it was applied or
//! only a dry run — plus a line for every admin override added, cleared or expired; and the
//! summary `eas-connector report` prints from it.
//!
//! A decision gets a line when it is new or changed, when its device's mailbox was (or, in a
//! dry run, would be) changed, when that failed, and — with `log_unchanged` in the policy's
//! `[audit]` — on every sync. Lines are appended and flushed per sync to an owner-only file,
//! under the file's lock; the file rotates like the log (before a line would take it past
//! the size limit it becomes `decisions.jsonl.1`, older ones shift up, the oldest beyond the
//! count is deleted), and no line is ever rewritten. The report reads the rotated files too,
//! oldest first. A line that cannot be read (a crash mid-write, damage, not UTF-8) is skipped
//! by the report, never fatal, and counted with the file and number of the first few.

use crate::config::OrgFile;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::overrides::OverrideEvent;
use super::plan::Outcome;
use super::policy::Action;
use super::precedence::Conflict;
use super::SyncKind;
use crate::logging::RotationPolicy;

/// Now, as RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// One audit line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub time: String,
    pub device_id: String,
    /// `user_DeviceType`.
    pub device: String,
    pub user: String,
    pub mailbox: String,
    /// `override`, `inventory`, `rules`, `grandfathered`, `default`.
    pub source: String,
    pub reason: String,
    /// What Exchange does with the device: the policy's decision, or what an Exchange device
    /// access rule makes of it (see `conflict`).
    pub action: Action,
    /// The policy's decision that Exchange overrides, and how that was resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict: Option<Conflict>,
    /// The previous decision, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Action>,
    /// `applied`, `unchanged` (Exchange already matched), `dry-run` or `failed`.
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `full` or `quick`.
    pub sync: SyncKind,
}

/// Where the audit lines go.
pub fn audit_path(logs_dir: &Path) -> PathBuf {
    logs_dir.join(OrgFile::Audit.name())
}

/// Append decision records to the audit file, rotating it as `rotation` says.
pub fn append(
    logs_dir: &Path,
    rotation: RotationPolicy,
    records: &[AuditRecord],
) -> std::io::Result<()> {
    append_lines(logs_dir, rotation, records)
}

/// Append override events to the audit file, rotating it as `rotation` says.
pub fn append_events(
    logs_dir: &Path,
    rotation: RotationPolicy,
    events: &[OverrideEvent],
) -> std::io::Result<()> {
    append_lines(logs_dir, rotation, events)
}

/// One line per item, under the file's lock (the service and the CLI both write it); the
/// file rotates before a line would take it past `rotation.max_bytes`.
fn append_lines<T: Serialize>(
    logs_dir: &Path,
    rotation: RotationPolicy,
    items: &[T],
) -> std::io::Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let path = audit_path(logs_dir);
    let _writer = crate::config::store::lock(&path, crate::config::store::LOCK_WAIT)
        .map_err(std::io::Error::other)?;
    let open = || -> std::io::Result<(std::io::BufWriter<std::fs::File>, u64)> {
        let f = crate::config::store::append_private(&path)?;
        let size = f.metadata()?.len();
        Ok((std::io::BufWriter::new(f), size))
    };
    let (mut w, mut size) = open()?;
    let mut line = Vec::with_capacity(512);
    for item in items {
        line.clear();
        serde_json::to_writer(&mut line, item).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let len = line.len() as u64;
        if size > 0 && size + len > rotation.max_bytes {
            w.flush()?;
            w.get_ref().sync_data()?;
            drop(w);
            crate::logging::shift(&path, rotation.max_files)?;
            (w, size) = open()?;
        }
        w.write_all(&line)?;
        size += len;
    }
    w.flush()?;
    w.get_ref().sync_data()
}

/// A line the report reads: a decision or an override event.
enum Line {
    Decision(AuditRecord),
    Override(OverrideEvent),
}

fn parse_line(line: &[u8]) -> Option<Line> {
    serde_json::from_slice::<AuditRecord>(line)
        .map(Line::Decision)
        .or_else(|_| serde_json::from_slice::<OverrideEvent>(line).map(Line::Override))
        .ok()
}

/// What `report` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub since: Option<String>,
    pub decisions: usize,
    /// action → count.
    pub by_action: BTreeMap<String, usize>,
    /// source → count.
    pub by_source: BTreeMap<String, usize>,
    /// outcome → count.
    pub by_outcome: BTreeMap<String, usize>,
    /// Distinct devices decided.
    pub devices: usize,
    /// The latest decision per device that is Block or Quarantine, newest first (at most 50).
    pub held_back: Vec<AuditRecord>,
    /// Override events: `added`, `cleared`, `expired` → count.
    pub overrides: BTreeMap<String, usize>,
    /// The override events themselves, oldest first (at most 50, the latest).
    pub override_events: Vec<OverrideEvent>,
    /// The files read, oldest first (rotated ones, then the live one).
    pub files: Vec<String>,
    /// Devices whose latest decision an Exchange device access rule overrides (at most 50,
    /// newest first).
    pub conflicts: Vec<AuditRecord>,
    /// Lines skipped because they are not a record (torn by a crash, damaged, not UTF-8).
    pub unreadable_lines: usize,
    /// Where the first few skipped lines are (file name and line number from 1).
    pub unreadable_at: Vec<LineAt>,
}

/// A line of an audit file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineAt {
    pub file: String,
    pub line: usize,
}

impl std::fmt::Display for LineAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// How many skipped line numbers a summary lists.
const UNREADABLE_LISTED: usize = 5;

/// Parse `--since`: a date, RFC 3339 time, or a duration back from now (`24h`, `7d`, `30m`).
pub fn parse_since(s: &str) -> Option<time::OffsetDateTime> {
    let s = s.trim();
    let now = time::OffsetDateTime::now_utc();
    if let Some(n) = s.strip_suffix('d').and_then(|n| n.parse::<i64>().ok()) {
        return Some(now - time::Duration::days(n));
    }
    if let Some(n) = s.strip_suffix('h').and_then(|n| n.parse::<i64>().ok()) {
        return Some(now - time::Duration::hours(n));
    }
    if let Some(n) = s.strip_suffix('m').and_then(|n| n.parse::<i64>().ok()) {
        return Some(now - time::Duration::minutes(n));
    }
    super::policy::parse_date(s)
}

/// How many override events a summary lists.
const EVENTS_LISTED: usize = 50;

/// Summarise the audit files, the rotated ones (oldest first) and the live one (records at
/// or after `since`; a rotated file last written before `since` is not read at all).
pub fn summarize(logs_dir: &Path, since: Option<time::OffsetDateTime>) -> std::io::Result<Summary> {
    let mut sum = Summary {
        since: since.map(rfc3339),
        ..Summary::default()
    };
    let live = audit_path(logs_dir);
    let mut latest: BTreeMap<String, AuditRecord> = BTreeMap::new();
    let mut events: std::collections::VecDeque<OverrideEvent> = Default::default();
    for path in crate::logging::rotated(&live)
        .into_iter()
        .chain([live.clone()])
    {
        let f = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if let (Some(s), Ok(modified)) = (since, f.metadata().and_then(|m| m.modified())) {
            if path != live && time::OffsetDateTime::from(modified) < s {
                continue;
            }
        }
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        sum.files.push(file.clone());
        // Bytes, not text: a line that is not UTF-8 is one damaged line, not a failed report.
        for (i, line) in std::io::BufReader::new(f).split(b'\n').enumerate() {
            let line = line?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let Some(parsed) = parse_line(&line) else {
                sum.unreadable_lines += 1;
                if sum.unreadable_at.len() < UNREADABLE_LISTED {
                    sum.unreadable_at.push(LineAt {
                        file: file.clone(),
                        line: i + 1,
                    });
                }
                continue;
            };
            let time = match &parsed {
                Line::Decision(r) => &r.time,
                Line::Override(e) => &e.time,
            };
            if let Some(s) = since {
                match super::policy::parse_date(time) {
                    Some(t) if t >= s => {}
                    _ => continue,
                }
            }
            match parsed {
                Line::Decision(r) => {
                    sum.decisions += 1;
                    *sum.by_action.entry(r.action.to_string()).or_default() += 1;
                    *sum.by_source.entry(r.source.clone()).or_default() += 1;
                    *sum.by_outcome.entry(r.outcome.to_string()).or_default() += 1;
                    latest.insert(r.device_id.to_ascii_lowercase(), r);
                }
                Line::Override(e) => {
                    *sum.overrides.entry(e.event.to_string()).or_default() += 1;
                    if events.len() == EVENTS_LISTED {
                        events.pop_front();
                    }
                    events.push_back(e);
                }
            }
        }
    }
    sum.override_events = events.into();
    sum.devices = latest.len();
    let mut conflicts: Vec<AuditRecord> = latest
        .values()
        .filter(|r| r.conflict.is_some())
        .cloned()
        .collect();
    conflicts.sort_by(|a, b| b.time.cmp(&a.time));
    conflicts.truncate(50);
    sum.conflicts = conflicts;
    let mut held: Vec<AuditRecord> = latest
        .into_values()
        .filter(|r| r.action != Action::Allow)
        .collect();
    held.sort_by(|a, b| b.time.cmp(&a.time));
    held.truncate(50);
    sum.held_back = held;
    Ok(sum)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rec(time: &str, id: &str, action: &str) -> AuditRecord {
        AuditRecord {
            time: time.into(),
            device_id: id.into(),
            device: format!("u_{id}"),
            user: "u@x".into(),
            mailbox: "x/Users/u".into(),
            source: "rules".into(),
            reason: "r".into(),
            action: Action::parse(action).unwrap(),
            conflict: None,
            previous: None,
            outcome: Outcome::Applied,
            error: None,
            sync: SyncKind::Full,
        }
    }

    #[test]
    fn summary_counts_and_filters() {
        let d = tempfile::tempdir().unwrap();
        append(
            d.path(),
            RotationPolicy::default(),
            &[
                rec("2026-01-01T00:00:00Z", "A", "Block"),
                rec("2026-02-01T00:00:00Z", "A", "Allow"),
                rec("2026-02-02T00:00:00Z", "B", "Quarantine"),
            ],
        )
        .unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(audit_path(d.path()))
            .unwrap()
            .write_all(b"{broken\n\xff\xfe not UTF-8\n")
            .unwrap();
        append(
            d.path(),
            RotationPolicy::default(),
            &[rec("2026-02-03T00:00:00Z", "C", "Allow")],
        )
        .unwrap();
        let s = summarize(d.path(), None).unwrap();
        assert_eq!((s.decisions, s.devices, s.unreadable_lines), (4, 3, 2));
        let at: Vec<String> = s.unreadable_at.iter().map(LineAt::to_string).collect();
        assert_eq!(
            at,
            ["decisions.jsonl:4", "decisions.jsonl:5"],
            "the torn lines, by number"
        );
        assert_eq!(s.held_back.len(), 1);
        let s = summarize(d.path(), parse_since("2026-01-15")).unwrap();
        assert_eq!(s.decisions, 3);
        assert_eq!(s.by_action.get("Block"), None);
    }

    #[test]
    fn the_file_rotates_by_size_and_count_and_the_report_reads_every_file() {
        let d = tempfile::tempdir().unwrap();
        let one = serde_json::to_vec(&rec("2026-03-01T00:00:00Z", "D0", "Block"))
            .unwrap()
            .len() as u64
            + 1;
        // Three lines per file, four files in all.
        let rotation = RotationPolicy {
            max_bytes: one * 3,
            max_files: 4,
        };
        for day in 1..=20u32 {
            let r = rec(
                &format!("2026-03-{day:02}T00:00:00Z"),
                &format!("D{}", day % 10),
                "Block",
            );
            append(d.path(), rotation, &[r]).unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "decisions.jsonl",
                "decisions.jsonl.1",
                "decisions.jsonl.2",
                "decisions.jsonl.3"
            ]
        );
        for n in &names {
            assert!(
                std::fs::metadata(d.path().join(n)).unwrap().len() <= one * 3,
                "{n}"
            );
        }
        // 20 lines written, three to a file: the live file has the last 2, the three rotated
        // ones 3 each; days 10 to 20 are kept.
        let s = summarize(d.path(), None).unwrap();
        assert_eq!(s.decisions, 11);
        assert_eq!(
            s.files.first().map(String::as_str),
            Some("decisions.jsonl.3")
        );
        let s = summarize(d.path(), parse_since("2026-03-12")).unwrap();
        assert_eq!(s.decisions, 9, "days 12 to 20, from the rotated files too");
        let s = summarize(d.path(), parse_since("2026-03-19")).unwrap();
        assert_eq!(s.decisions, 2);
    }

    #[test]
    fn override_events_are_counted_not_skipped() {
        use super::super::overrides::{DeviceOverride, OverrideChange};
        let d = tempfile::tempdir().unwrap();
        let entry = DeviceOverride {
            device_id: "D1".into(),
            action: Action::Block,
            reason: "stolen".into(),
            by: "admin".into(),
            at: "2026-03-01T00:00:00Z".into(),
            until: None,
        };
        let ev = |event| OverrideEvent {
            time: "2026-03-01T00:00:00Z".into(),
            event,
            device_id: "D1".into(),
            by: "admin".into(),
            entry: entry.clone(),
        };
        append_events(
            d.path(),
            RotationPolicy::default(),
            &[ev(OverrideChange::Added), ev(OverrideChange::Cleared)],
        )
        .unwrap();
        append(
            d.path(),
            RotationPolicy::default(),
            &[rec("2026-03-01T00:00:00Z", "D1", "Block")],
        )
        .unwrap();
        let s = summarize(d.path(), None).unwrap();
        assert_eq!((s.decisions, s.unreadable_lines), (1, 0));
        assert_eq!(s.overrides.get("added"), Some(&1));
        assert_eq!(s.overrides.get("cleared"), Some(&1));
        assert_eq!(s.override_events.len(), 2);
    }
}
