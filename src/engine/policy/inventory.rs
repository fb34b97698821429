//! The managed-device inventory: MDM exports (CSV or JSON, columns recognised by name) read
//! into entries, and the [`ComplianceSource`] that answers from them (managed and compliant,
//! checked in lately → Allow). Reading reports each bad row with its line; it never talks
//! to an MDM or to Exchange.

use std::collections::HashMap;
use std::path::Path;

use super::{Action, ComplianceSource, DeviceFacts, Problem, Verdict};

/// One entry of the managed-device inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryEntry {
    pub device_id: String,
    pub user: String,
    pub compliant: bool,
    pub last_checkin: Option<time::OffsetDateTime>,
    /// `file:line` it came from.
    pub origin: String,
}

/// Managed devices by EAS device id.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub entries: HashMap<String, InventoryEntry>,
    /// What a managed device that is not compliant (or has not checked in lately) gets.
    pub noncompliant: Option<Action>,
    /// Check-ins older than this many days count as not compliant (0: never).
    pub max_checkin_age_days: u32,
    /// "Now", for the check-in age (fixed per sync).
    pub now: Option<time::OffsetDateTime>,
}

impl ComplianceSource for Inventory {
    fn name(&self) -> &str {
        "inventory"
    }
    fn verdict(&self, d: &DeviceFacts<'_>) -> Option<Verdict> {
        let e = self.entries.get(&d.device_id.to_ascii_lowercase())?;
        let stale = match (self.max_checkin_age_days, e.last_checkin, self.now) {
            (0, _, _) | (_, _, None) => false,
            (_, None, _) => true,
            (days, Some(t), Some(now)) => (now - t) > time::Duration::days(i64::from(days)),
        };
        if e.compliant && !stale {
            Some(Verdict {
                action: Action::Allow,
                reason: format!("managed and compliant ({})", e.origin),
                held: None,
            })
        } else {
            self.noncompliant.map(|action| Verdict {
                action,
                reason: format!(
                    "managed, {} ({})",
                    if stale {
                        "no recent check-in"
                    } else {
                        "not compliant"
                    },
                    e.origin
                ),
                held: None,
            })
        }
    }
}

/// A date: RFC 3339, or `YYYY-MM-DD` (midnight UTC), or `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn parse_date(s: &str) -> Option<time::OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let fixed = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else if s.len() == 19 {
        format!("{}Z", s.replacen(' ', "T", 1))
    } else {
        return None;
    };
    time::OffsetDateTime::parse(&fixed, &Rfc3339).ok()
}

/// A column name without case, spaces or punctuation.
fn norm(h: &str) -> String {
    h.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

const ID_COLUMNS: &[&str] = &[
    "easdeviceid",
    "exchangeactivesyncid",
    "activesyncid",
    "deviceid",
    "easid",
    "id",
];
const USER_COLUMNS: &[&str] = &[
    "user",
    "userprincipalname",
    "upn",
    "email",
    "emailaddress",
    "primarysmtpaddress",
];
const COMPLIANT_COLUMNS: &[&str] = &["compliant", "compliancestate", "iscompliant", "compliance"];
const CHECKIN_COLUMNS: &[&str] = &[
    "lastcheckin",
    "lastsyncdatetime",
    "lastcontact",
    "lastcheckintime",
    "lastseen",
];

fn compliant_value(v: &str) -> Option<bool> {
    match norm(v).as_str() {
        "yes" | "true" | "1" | "compliant" | "y" => Some(true),
        "no" | "false" | "0" | "noncompliant" | "n" | "ingraceperiod" | "unknown" | "error"
        | "conflict" | "notcompliant" => Some(false),
        _ => None,
    }
}

/// Split CSV text into records (RFC 4180 quoting), with the line each starts on.
fn csv_records(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut record = Vec::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' => quoted = !quoted,
            ',' | ';' if !quoted => record.push(std::mem::take(&mut field)),
            '\n' if !quoted => {
                record.push(std::mem::take(&mut field));
                if record.iter().any(|f| !f.trim().is_empty()) {
                    out.push((start, std::mem::take(&mut record)));
                }
                record.clear();
                line += 1;
                start = line;
            }
            '\r' if !quoted => {}
            c => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
        }
    }
    record.push(field);
    if record.iter().any(|f| !f.trim().is_empty()) {
        out.push((start, record));
    }
    out
}

/// Read an MDM export: CSV with a header row, or JSON (an array of objects, or an object
/// with a `value` array as Microsoft Graph exports). Columns are recognised by name:
/// device id (`EAS device id`, `easDeviceId`, `DeviceId`…), user (`user`, `UPN`, `email`…),
/// compliant (`yes/no`, `true/false`, `compliant/noncompliant`…) and last check-in.
pub fn parse_inventory(text: &str, file: &Path) -> (Vec<InventoryEntry>, Vec<Problem>) {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut problems = Vec::new();
    let mut entries = Vec::new();
    let problem = |line: usize, message: String| Problem {
        file: file.to_path_buf(),
        line,
        column: 1,
        message,
    };
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    // Rows as (line, column name → value).
    let mut rows: Vec<(usize, HashMap<String, String>)> = Vec::new();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let v: serde_json::Value = match serde_json::from_str(trimmed) {
            Ok(v) => v,
            Err(e) => {
                problems.push(Problem {
                    file: file.to_path_buf(),
                    line: e.line(),
                    column: e.column(),
                    message: format!("not valid JSON: {e}"),
                });
                return (entries, problems);
            }
        };
        let items = match &v {
            serde_json::Value::Array(a) => a.clone(),
            serde_json::Value::Object(o) => match o.get("value") {
                Some(serde_json::Value::Array(a)) => a.clone(),
                _ => {
                    problems.push(problem(
                        1,
                        "expected an array of devices (or {\"value\": [...]})".into(),
                    ));
                    return (entries, problems);
                }
            },
            _ => Vec::new(),
        };
        for (i, item) in items.iter().enumerate() {
            let Some(o) = item.as_object() else {
                problems.push(problem(1, format!("device {} is not an object", i + 1)));
                continue;
            };
            let map = o
                .iter()
                .map(|(k, v)| {
                    let s = match v {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    (norm(k), s)
                })
                .collect();
            // JSON has no useful line per item; number them instead.
            rows.push((i + 1, map));
        }
    } else {
        let mut records = csv_records(text).into_iter();
        let Some((_, header)) = records.next() else {
            problems.push(problem(1, "empty inventory file".into()));
            return (entries, problems);
        };
        let header: Vec<String> = header.iter().map(|h| norm(h)).collect();
        if !header.iter().any(|h| ID_COLUMNS.contains(&h.as_str())) {
            problems.push(problem(
                1,
                "no device id column (e.g. 'EAS device id', 'easDeviceId', 'DeviceId')".into(),
            ));
            return (entries, problems);
        }
        for (line, rec) in records {
            if rec.len() != header.len() {
                problems.push(problem(
                    line,
                    format!("{} fields, the header has {}", rec.len(), header.len()),
                ));
                continue;
            }
            rows.push((line, header.iter().cloned().zip(rec).collect()));
        }
    }
    let json = trimmed.starts_with('[') || trimmed.starts_with('{');
    for (line, row) in rows {
        let get = |cols: &[&str]| {
            cols.iter()
                .find_map(|c| row.get(*c).filter(|v| !v.trim().is_empty()))
                .map(|v| v.trim().to_string())
        };
        let where_ = if json {
            format!("{name} item {line}")
        } else {
            format!("{name}:{line}")
        };
        let Some(id) = get(ID_COLUMNS) else {
            problems.push(problem(line, format!("{where_}: no device id")));
            continue;
        };
        let compliant = match get(COMPLIANT_COLUMNS) {
            None => {
                problems.push(problem(line, format!("{where_}: no compliant value")));
                continue;
            }
            Some(c) => match compliant_value(&c) {
                Some(b) => b,
                None => {
                    problems.push(problem(
                        line,
                        format!("{where_}: compliant must be yes or no, not '{c}'"),
                    ));
                    continue;
                }
            },
        };
        let last_checkin = match get(CHECKIN_COLUMNS) {
            None => None,
            Some(s) => match parse_date(&s) {
                Some(t) => Some(t),
                None => {
                    problems.push(problem(
                        line,
                        format!("{where_}: last check-in '{s}' is not a date"),
                    ));
                    continue;
                }
            },
        };
        entries.push(InventoryEntry {
            device_id: id,
            user: get(USER_COLUMNS).unwrap_or_default(),
            compliant,
            last_checkin,
            origin: where_,
        });
    }
    (entries, problems)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn inventory_csv_and_json() {
        let (e, p) = parse_inventory(
            "easDeviceId;userPrincipalName;complianceState;lastSyncDateTime\n\"A,1\";u@x;compliant;2026-01-01T10:00:00Z\nB;u@x;maybe;\n",
            Path::new("x.csv"),
        );
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].device_id, "A,1");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].line, 3);
        let (e, p) = parse_inventory(
            r#"{"value":[{"easDeviceId":"J1","userPrincipalName":"u@x","complianceState":"noncompliant"}]}"#,
            Path::new("x.json"),
        );
        assert!(p.is_empty(), "{p:?}");
        assert!(!e[0].compliant);
    }
}
