//! An admin's one-off overrides: `eas-connector devices allow|block|quarantine DEVICE-ID
//! --reason TEXT [--until WHEN]` and `devices clear DEVICE-ID`, kept in
//! `DeviceOverrides.json` in the organization folder (owner-only: it names devices; written
//! atomically, every change a read-modify-write under the file's lock).
//!
//! An override in force wins over the policy for its device until it is cleared or expires;
//! the plan applies it as a decision whose source is [`super::plan::Source::Override`]. An
//! expired override is ignored from its `until` on, and removed from the file (and written to
//! the audit trail as `expired`) exactly once, by whichever writer — a sync or the CLI — first
//! finds it expired under the lock. An override may name a device no sync has seen yet (an
//! admin may block an id before it first syncs): it applies when the device appears.
//!
//! Pure data and file handling: it decides nothing about devices and talks to no server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::policy::Action;
use crate::config::OrgFile;

/// One override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceOverride {
    /// The device id as the admin typed it.
    pub device_id: String,
    pub action: Action,
    /// Why (required).
    pub reason: String,
    /// Who set it (the account that ran the command).
    pub by: String,
    /// When it was set, RFC 3339 UTC.
    pub at: String,
    /// When it stops applying, RFC 3339 UTC (`None`: until cleared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

impl DeviceOverride {
    /// Whether it no longer applies at `now`.
    pub fn expired_at(&self, now: time::OffsetDateTime) -> bool {
        self.until
            .as_deref()
            .and_then(super::policy::parse_date)
            .is_some_and(|u| u <= now)
    }

    /// For people: who set it, when, until when, and why.
    pub fn describe(&self) -> String {
        match &self.until {
            Some(u) => format!(
                "override by {} at {} until {u}: {}",
                self.by, self.at, self.reason
            ),
            None => format!("override by {} at {}: {}", self.by, self.at, self.reason),
        }
    }
}

/// Everything in `DeviceOverrides.json`, by lower-case device id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overrides {
    #[serde(default)]
    pub devices: BTreeMap<String, DeviceOverride>,
}

/// What happened to an override, as the audit trail says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverrideChange {
    /// Set (or replaced) by an admin.
    Added,
    /// Removed by an admin.
    Cleared,
    /// Its `until` passed; removed by the connector.
    Expired,
}

impl OverrideChange {
    pub fn as_str(self) -> &'static str {
        match self {
            OverrideChange::Added => "added",
            OverrideChange::Cleared => "cleared",
            OverrideChange::Expired => "expired",
        }
    }
}

impl std::fmt::Display for OverrideChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An audit line about an override (beside the decision lines in `decisions.jsonl`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideEvent {
    pub time: String,
    /// `added`, `cleared` or `expired`.
    pub event: OverrideChange,
    pub device_id: String,
    /// Who did it: the admin, or `connector` for an expiry.
    pub by: String,
    /// The override concerned.
    #[serde(rename = "override")]
    pub entry: DeviceOverride,
}

/// Why the overrides could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    #[error("could not read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged ({message}); it was left untouched: fix it by hand or move it aside (every override in it is then gone)")]
    Damaged { path: PathBuf, message: String },
    #[error("could not write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the overrides were not changed: {0}")]
    Busy(#[from] crate::config::store::LockError),
}

impl Overrides {
    pub fn path(org_dir: &Path) -> PathBuf {
        org_dir.join(OrgFile::Overrides.name())
    }

    /// Read the overrides (none when the file does not exist). A damaged file is an error,
    /// never read as "no overrides": that would quietly lift every block an admin set.
    pub fn load(org_dir: &Path) -> Result<Overrides, OverrideError> {
        let path = Self::path(org_dir);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| OverrideError::Damaged {
                path,
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Overrides::default()),
            Err(source) => Err(OverrideError::Read { path, source }),
        }
    }

    fn save(&self, org_dir: &Path) -> Result<(), OverrideError> {
        let path = Self::path(org_dir);
        let json = serde_json::to_vec_pretty(self).map_err(|e| OverrideError::Write {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        crate::config::store::write_private(&path, &json)
            .map_err(|source| OverrideError::Write { path, source })
    }

    /// Change the file: load, take out what expired at `now`, `change`, save — under the
    /// file's lock. Returns what `change` returned and the expired overrides taken out (each
    /// is to be reported once, by the caller).
    pub fn update<T>(
        org_dir: &Path,
        now: time::OffsetDateTime,
        change: impl FnOnce(&mut Overrides) -> T,
    ) -> Result<(T, Vec<DeviceOverride>), OverrideError> {
        let _writer =
            crate::config::store::lock(&Self::path(org_dir), crate::config::store::LOCK_WAIT)?;
        let mut o = Self::load(org_dir)?;
        let expired = o.take_expired(now);
        let out = change(&mut o);
        o.save(org_dir)?;
        Ok((out, expired))
    }

    /// Take out (and return) the overrides expired at `now`.
    pub fn take_expired(&mut self, now: time::OffsetDateTime) -> Vec<DeviceOverride> {
        let gone: Vec<String> = self
            .devices
            .iter()
            .filter(|(_, o)| o.expired_at(now))
            .map(|(k, _)| k.clone())
            .collect();
        gone.iter().filter_map(|k| self.devices.remove(k)).collect()
    }

    /// The override for a device (any case).
    pub fn get(&self, device_id: &str) -> Option<&DeviceOverride> {
        self.devices.get(&device_id.to_ascii_lowercase())
    }

    /// Set (or replace) a device's override; returns the one it replaced.
    pub fn set(&mut self, o: DeviceOverride) -> Option<DeviceOverride> {
        self.devices.insert(o.device_id.to_ascii_lowercase(), o)
    }

    /// Remove a device's override; returns it.
    pub fn clear(&mut self, device_id: &str) -> Option<DeviceOverride> {
        self.devices.remove(&device_id.to_ascii_lowercase())
    }

    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }
}

/// The audit lines for overrides that expired (by the connector, at `now`).
pub fn expired_events(expired: Vec<DeviceOverride>, now: &str) -> Vec<OverrideEvent> {
    expired
        .into_iter()
        .map(|entry| OverrideEvent {
            time: now.to_string(),
            event: OverrideChange::Expired,
            device_id: entry.device_id.clone(),
            by: "connector".into(),
            entry,
        })
        .collect()
}

/// Parse `--until`: a date (`2026-03-01`, midnight UTC), an RFC 3339 time, or a duration
/// from `now` (`30m`, `8h`, `7d`, `2w`). `None` when it is none of these.
pub fn parse_until(s: &str, now: time::OffsetDateTime) -> Option<time::OffsetDateTime> {
    let s = s.trim();
    let dur = |suffix: char, unit: fn(i64) -> time::Duration| {
        s.strip_suffix(suffix)
            .and_then(|n| n.trim().parse::<i64>().ok())
            .filter(|n| *n > 0)
            .map(|n| now + unit(n))
    };
    dur('m', time::Duration::minutes)
        .or_else(|| dur('h', time::Duration::hours))
        .or_else(|| dur('d', time::Duration::days))
        .or_else(|| dur('w', time::Duration::weeks))
        .or_else(|| super::policy::parse_date(s))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn at(s: &str) -> time::OffsetDateTime {
        super::super::policy::parse_date(s).unwrap()
    }

    fn entry(id: &str, until: Option<&str>) -> DeviceOverride {
        DeviceOverride {
            device_id: id.into(),
            action: Action::Block,
            reason: "lost phone".into(),
            by: "admin".into(),
            at: "2026-12-01T00:00:00Z".into(),
            until: until.map(str::to_string),
        }
    }

    #[test]
    fn until_takes_dates_times_and_durations() {
        let now = at("2026-12-05T10:00:00Z");
        assert_eq!(parse_until("2026-12-24", now), Some(at("2026-12-24")));
        assert_eq!(
            parse_until("2026-12-24T08:30:00+01:00", now),
            Some(at("2026-12-24T07:30:00Z"))
        );
        assert_eq!(parse_until("8h", now), Some(at("2026-12-05T18:00:00Z")));
        assert_eq!(parse_until("2w", now), Some(at("2026-12-19T10:00:00Z")));
        assert_eq!(parse_until("0d", now), None);
        assert_eq!(parse_until("soon", now), None);
    }

    #[test]
    fn expired_ones_are_taken_out_once_under_the_lock() {
        let d = tempfile::tempdir().unwrap();
        let now = at("2026-12-05T10:00:00Z");
        let ((), gone) = Overrides::update(d.path(), now, |o| {
            o.set(entry("AAA", Some("2026-12-05T11:00:00Z")));
            o.set(entry("BBB", None));
        })
        .unwrap();
        assert!(gone.is_empty());
        let o = Overrides::load(d.path()).unwrap();
        assert_eq!(o.get("aaa").unwrap().device_id, "AAA");
        assert!(!o.get("AAA").unwrap().expired_at(now));
        let later = at("2026-12-05T11:00:00Z");
        let (_, gone) = Overrides::update(d.path(), later, |_| ()).unwrap();
        assert_eq!(gone, vec![entry("AAA", Some("2026-12-05T11:00:00Z"))]);
        let (_, again) = Overrides::update(d.path(), later, |_| ()).unwrap();
        assert!(again.is_empty(), "reported once");
        let o = Overrides::load(d.path()).unwrap();
        assert_eq!(o.devices.keys().collect::<Vec<_>>(), ["bbb"]);
        let events = expired_events(gone, "T");
        let json = serde_json::to_value(&events[0]).unwrap();
        assert_eq!(json["event"], "expired");
        assert_eq!(json["override"]["action"], "Block");
    }

    #[test]
    fn a_damaged_file_is_an_error_and_left_alone() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(Overrides::path(d.path()), "{\"devices\":").unwrap();
        assert!(matches!(
            Overrides::load(d.path()),
            Err(OverrideError::Damaged { .. })
        ));
        assert!(Overrides::update(d.path(), at("2026-01-01"), |_| ()).is_err());
        assert_eq!(
            std::fs::read_to_string(Overrides::path(d.path())).unwrap(),
            "{\"devices\":"
        );
    }
}
