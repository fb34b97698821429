//! What `eas-connector devices` lists: every device as the last syncs saw and decided it —
//! Exchange's state and reason, the connector's decision, its source and reason, what became
//! of it, when it was last read, and any conflict with an Exchange device access rule — kept
//! in `Devices.json` in the organization folder (owner-only: it names users and devices).
//!
//! Every sync pass writes it, dry runs included (their rows say `dry-run`): a full sync's
//! first pass replaces it whole (devices gone from Exchange leave it), a quick sync and the
//! read-back passes update the devices they read. [`rows`] builds the rows from a settled
//! pass without I/O; [`DeviceList::record`] writes them under the file's lock. It decides
//! nothing and never feeds a decision: the engine's memory is `EngineState.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::devices::DeviceSet;
use super::plan::{DevicePlan, Outcome};
use super::policy::Action;
use super::precedence::Conflict;
use super::state::{device_name, EngineState, MailboxInfo};
use super::SyncKind;
use crate::config::OrgFile;
use crate::wire::exchange::{DeviceAccessState, DeviceAccessStateReason};

/// One device as last seen and decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRow {
    pub device_id: String,
    /// `user_DeviceType`, as the audit trail names it.
    pub name: String,
    /// The user's SMTP address when known, else the display name.
    pub user: String,
    /// The mailbox's canonical identity.
    pub mailbox: String,
    pub device_type: String,
    pub device_model: String,
    /// Exchange's `DeviceAccessState` when the device was last read.
    pub exchange_state: DeviceAccessState,
    /// Exchange's `DeviceAccessStateReason` then.
    pub exchange_reason: DeviceAccessStateReason,
    /// The connector's decision.
    pub action: Action,
    /// Who decided: `override`, `inventory`, `rules`, `grandfathered` or `default`.
    pub source: String,
    /// Which rule, record or override, for people.
    pub reason: String,
    /// What became of the decision in that sync.
    pub outcome: Outcome,
    /// When the device was last read (the sync's time, RFC 3339 UTC).
    pub synced_at: String,
    pub sync: SyncKind,
    /// An Exchange device access rule that would override the decision.
    pub conflict: Option<Conflict>,
}

/// Everything in `Devices.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceList {
    /// When a sync last wrote it.
    pub synced_at: Option<String>,
    /// By lower-case device id.
    #[serde(default)]
    pub devices: BTreeMap<String, DeviceRow>,
}

/// What [`rows`] needs from the pass.
pub struct RowsInput<'a> {
    pub devices: &'a DeviceSet,
    pub plans: &'a [DevicePlan],
    pub outcomes: &'a [Outcome],
    pub directory: &'a BTreeMap<String, MailboxInfo>,
    /// The engine state after the pass (for the names it gave).
    pub state: &'a EngineState,
    pub kind: SyncKind,
    pub now: &'a str,
}

/// The rows of one settled pass, in the order read, made one at a time (a full pass of a
/// 100 000-device organization is written without holding them all).
pub fn rows<'a>(input: &RowsInput<'a>) -> impl Iterator<Item = DeviceRow> + 'a {
    let RowsInput {
        devices,
        plans,
        outcomes,
        directory,
        state,
        kind,
        now,
    } = *input;
    devices
        .iter()
        .zip(plans)
        .zip(outcomes)
        .map(move |((d, p), outcome)| {
            let info = directory.get(&*d.mailbox);
            let smtp = info.map_or("", |i| i.smtp.as_str());
            let name = match state.devices.get(&d.device_id.to_ascii_lowercase()) {
                Some(r) => r.name.clone(),
                // Not recorded (a dry run): the name it will get, before disambiguation.
                None => {
                    let user = info
                        .map(|i| i.alias.as_str())
                        .filter(|a| !a.is_empty())
                        .unwrap_or_else(|| devices.display_name(d));
                    device_name(user, devices.device_type(d), std::iter::empty())
                }
            };
            DeviceRow {
                device_id: d.device_id.to_string(),
                name,
                user: if smtp.is_empty() {
                    devices.display_name(d).to_string()
                } else {
                    smtp.to_string()
                },
                mailbox: d.mailbox.to_string(),
                device_type: devices.device_type(d).to_string(),
                device_model: devices.model(d).to_string(),
                exchange_state: d.state,
                exchange_reason: d.reason,
                action: p.decision.action,
                source: p.decision.source.to_string(),
                reason: p.decision.reason.to_string(),
                outcome: *outcome,
                synced_at: now.to_string(),
                sync: kind,
                conflict: p.conflict.clone(),
            }
        })
}

/// Why the list could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    #[error("could not read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged ({message}); the next full sync writes it anew")]
    Damaged { path: PathBuf, message: String },
    #[error("could not write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the device list was not written: {0}")]
    Busy(#[from] crate::config::store::LockError),
}

/// How many devices of the list Exchange has in each state, and how many conflict with an
/// Exchange device access rule (the wizard's status home; `devices --state` lists them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub allowed: usize,
    pub blocked: usize,
    pub quarantined: usize,
    /// Unknown, or still in Exchange's device discovery.
    pub other: usize,
    /// Devices whose policy decision an Exchange rule overrides.
    pub conflicts: usize,
}

impl DeviceList {
    /// Count the devices by Exchange's state, and the conflicts.
    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for r in self.devices.values() {
            match r.exchange_state {
                DeviceAccessState::Allowed => t.allowed += 1,
                DeviceAccessState::Blocked => t.blocked += 1,
                DeviceAccessState::Quarantined => t.quarantined += 1,
                _ => t.other += 1,
            }
            if r.conflict.is_some() {
                t.conflicts += 1;
            }
        }
        t
    }

    pub fn path(org_dir: &Path) -> PathBuf {
        org_dir.join(OrgFile::Devices.name())
    }

    /// Read the list (empty when no sync wrote one yet).
    pub fn load(org_dir: &Path) -> Result<DeviceList, ListingError> {
        let path = Self::path(org_dir);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(DeviceList::default()),
            Err(source) => return Err(ListingError::Read { path, source }),
        };
        serde_json::from_reader(std::io::BufReader::with_capacity(64 * 1024, file)).map_err(|e| {
            ListingError::Damaged {
                path,
                message: e.to_string(),
            }
        })
    }

    /// Write a pass's rows: all of them in place of the list (`replace`, a full sync's first
    /// pass), else over the rows of the devices read. A device a later pass of the same sync
    /// reads back keeps `applied` as its outcome (the read-back finds it unchanged).
    pub fn record(
        org_dir: &Path,
        rows: impl Iterator<Item = DeviceRow>,
        replace: bool,
        now: &str,
    ) -> Result<(), ListingError> {
        let path = Self::path(org_dir);
        let _writer = crate::config::store::lock(&path, crate::config::store::LOCK_WAIT)?;
        if replace {
            // Straight into the new file, row by row.
            let streamed = Streamed {
                synced_at: now,
                rows: std::cell::RefCell::new(Some(rows)),
            };
            return crate::config::store::write_private_with(&path, |w| {
                serde_json::to_writer(w, &streamed).map_err(std::io::Error::from)
            })
            .map_err(|source| ListingError::Write { path, source });
        }
        // A damaged list is replaced by what is known now; the next full sync completes it.
        let mut list = Self::load(org_dir).unwrap_or_default();
        for mut row in rows {
            let key = row.device_id.to_ascii_lowercase();
            if let Some(old) = list.devices.get(&key) {
                if old.synced_at == row.synced_at
                    && old.outcome == Outcome::Applied
                    && row.outcome == Outcome::Unchanged
                {
                    row.outcome = Outcome::Applied;
                }
            }
            list.devices.insert(key, row);
        }
        list.synced_at = Some(now.to_string());
        crate::config::store::write_private_with(&path, |w| {
            serde_json::to_writer(w, &list).map_err(std::io::Error::from)
        })
        .map_err(|source| ListingError::Write { path, source })
    }
}

/// A [`DeviceList`] serialized from rows as they are made (same format).
struct Streamed<'a, I> {
    synced_at: &'a str,
    rows: std::cell::RefCell<Option<I>>,
}

impl<I: Iterator<Item = DeviceRow>> Serialize for Streamed<'_, I> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Rows<'r, I>(&'r std::cell::RefCell<Option<I>>);
        impl<I: Iterator<Item = DeviceRow>> Serialize for Rows<'_, I> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let rows = self.0.borrow_mut().take();
                s.collect_map(
                    rows.into_iter()
                        .flatten()
                        .map(|r| (r.device_id.to_ascii_lowercase(), r)),
                )
            }
        }
        let mut st = s.serialize_struct("DeviceList", 2)?;
        st.serialize_field("synced_at", &Some(self.synced_at))?;
        st.serialize_field("devices", &Rows(&self.rows))?;
        st.end()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn row(id: &str, outcome: Outcome, at: &str) -> DeviceRow {
        DeviceRow {
            device_id: id.into(),
            name: "anna_iPhone".into(),
            user: "anna@contoso.test".into(),
            mailbox: "contoso.test/Users/Anna".into(),
            device_type: "iPhone".into(),
            device_model: "iPhone15C2".into(),
            exchange_state: DeviceAccessState::Quarantined,
            exchange_reason: DeviceAccessStateReason::Global,
            action: Action::Allow,
            source: "rules".into(),
            reason: "rule \"Phones\" (line 3)".into(),
            outcome,
            synced_at: at.into(),
            sync: SyncKind::Full,
            conflict: None,
        }
    }

    #[test]
    fn a_full_pass_replaces_and_later_passes_update() {
        let d = tempfile::tempdir().unwrap();
        let t1 = "2026-12-05T10:00:00Z";
        DeviceList::record(
            d.path(),
            vec![
                row("A", Outcome::Applied, t1),
                row("B", Outcome::Unchanged, t1),
            ]
            .into_iter(),
            true,
            t1,
        )
        .unwrap();
        // The read-back pass of the same sync finds A where it was put.
        let mut back = row("A", Outcome::Unchanged, t1);
        back.exchange_state = DeviceAccessState::Allowed;
        back.exchange_reason = DeviceAccessStateReason::Individual;
        DeviceList::record(d.path(), vec![back].into_iter(), false, t1).unwrap();
        let l = DeviceList::load(d.path()).unwrap();
        assert_eq!(l.devices["a"].outcome, Outcome::Applied);
        assert_eq!(l.devices["a"].exchange_state, DeviceAccessState::Allowed);
        // A later quick sync updates what it read and keeps the rest.
        let t2 = "2026-12-05T10:15:00Z";
        DeviceList::record(
            d.path(),
            vec![row("C", Outcome::Unchanged, t2)].into_iter(),
            false,
            t2,
        )
        .unwrap();
        let l = DeviceList::load(d.path()).unwrap();
        assert_eq!(l.devices.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(l.synced_at.as_deref(), Some(t2));
        // The next full sync forgets devices gone from Exchange.
        DeviceList::record(
            d.path(),
            vec![row("B", Outcome::Unchanged, t2)].into_iter(),
            true,
            t2,
        )
        .unwrap();
        let l = DeviceList::load(d.path()).unwrap();
        assert_eq!(l.devices.keys().collect::<Vec<_>>(), ["b"]);
        let json = serde_json::to_value(&l.devices["b"]).unwrap();
        assert_eq!(json["exchange_state"], "Quarantined");
        assert_eq!(json["outcome"], "unchanged");
        assert!(json["conflict"].is_null());
    }
}
