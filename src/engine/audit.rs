//! The audit trail: every access decision the engine makes, one JSON object per line, in
//! `Logs/decisions.jsonl` of the organization folder — when, which device and user, which
//! source and rule decided, the action, and whether it was applied or only a dry run — and
//! the summary `eas-connector report` prints from it.
//!
//! Lines are appended and flushed per sync to an owner-only file; the file is never rewritten. A line that cannot
//! be read (a crash mid-write, damage, not UTF-8) is skipped by the report, never fatal, and
//! counted with the numbers of the first few such lines.

use crate::config::OrgFile;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plan::Outcome;
use super::policy::Action;
use super::precedence::Conflict;
use super::SyncKind;

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
    /// `inventory`, `rules`, `grandfathered`, `default`.
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

/// Append records to the audit file.
pub fn append(logs_dir: &Path, records: &[AuditRecord]) -> std::io::Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let f = crate::config::store::append_private(&audit_path(logs_dir))?;
    let mut w = std::io::BufWriter::new(f);
    for r in records {
        serde_json::to_writer(&mut w, r).map_err(std::io::Error::other)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    w.get_ref().sync_data()
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
    /// Devices whose latest decision an Exchange device access rule overrides (at most 50,
    /// newest first).
    pub conflicts: Vec<AuditRecord>,
    /// Lines skipped because they are not a record (torn by a crash, damaged, not UTF-8).
    pub unreadable_lines: usize,
    /// The line numbers (from 1) of the first few skipped lines, to look at them.
    pub unreadable_at: Vec<usize>,
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

/// Summarise the audit file (records at or after `since`).
pub fn summarize(logs_dir: &Path, since: Option<time::OffsetDateTime>) -> std::io::Result<Summary> {
    let mut sum = Summary {
        since: since.map(rfc3339),
        ..Summary::default()
    };
    let f = match std::fs::File::open(audit_path(logs_dir)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(sum),
        Err(e) => return Err(e),
    };
    let mut latest: BTreeMap<String, AuditRecord> = BTreeMap::new();
    // Bytes, not text: a line that is not UTF-8 is one damaged line, not a failed report.
    for (i, line) in std::io::BufReader::new(f).split(b'\n').enumerate() {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(r) = serde_json::from_slice::<AuditRecord>(&line) else {
            sum.unreadable_lines += 1;
            if sum.unreadable_at.len() < UNREADABLE_LISTED {
                sum.unreadable_at.push(i + 1);
            }
            continue;
        };
        if let Some(s) = since {
            match super::policy::parse_date(&r.time) {
                Some(t) if t >= s => {}
                _ => continue,
            }
        }
        sum.decisions += 1;
        *sum.by_action.entry(r.action.to_string()).or_default() += 1;
        *sum.by_source.entry(r.source.clone()).or_default() += 1;
        *sum.by_outcome.entry(r.outcome.to_string()).or_default() += 1;
        latest.insert(r.device_id.to_ascii_lowercase(), r);
    }
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
        append(d.path(), &[rec("2026-02-03T00:00:00Z", "C", "Allow")]).unwrap();
        let s = summarize(d.path(), None).unwrap();
        assert_eq!((s.decisions, s.devices, s.unreadable_lines), (4, 3, 2));
        assert_eq!(s.unreadable_at, [4, 5], "the torn lines, by number");
        assert_eq!(s.held_back.len(), 1);
        let s = summarize(d.path(), parse_since("2026-01-15")).unwrap();
        assert_eq!(s.decisions, 3);
        assert_eq!(s.by_action.get("Block"), None);
    }
}
