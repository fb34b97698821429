//! What the access-control engine remembers between syncs, in `EngineState.json` in the
//! organization folder: each device's last decision and the state it was last notified
//! about, the devices grandfathered when the connector was first enabled, the admin's
//! confirmation that enforcement may start, and a small mailbox directory (alias, SMTP
//! address) learned on full syncs.
//!
//! It is written atomically and owner-only (it names users and devices) after every sync (a
//! crash leaves the previous whole file), and
//! the CLI's `enforce --confirm` edits it without the service: both under the file's lock, and a
//! sync's save keeps a confirmation given while it ran. It must hold no secrets.

use crate::config::OrgFile;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::policy::Action;

/// One device as the engine last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// The mailbox's canonical identity (`domain/Users/Name`).
    pub mailbox: String,
    /// `user_DeviceType` (as ConfigMgr names devices), unique per user.
    pub name: String,
    /// The last decision.
    pub action: Action,
    /// Whether that decision has been enforced (false after a dry run).
    pub applied: bool,
    /// The blocked/quarantined state the user was last told about (None: none, or allowed
    /// since).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified: Option<Action>,
}

/// A mailbox as learned from `Get-CASMailbox`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxInfo {
    pub alias: String,
    pub smtp: String,
    pub display_name: String,
}

/// The grandfathered devices and when they were recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrandfatheredSet {
    pub recorded_at: String,
    /// Lower-case device ids.
    #[serde(deserialize_with = "packed::set")]
    pub devices: BTreeSet<String>,
}

/// The admin's go-ahead for enforcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub at: String,
    pub by: String,
}

/// Everything in `EngineState.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineState {
    #[serde(default)]
    pub confirmed: Option<Confirmation>,
    /// Set by `enforce --confirm`: the next sync runs as a full sync.
    #[serde(default)]
    pub full_sync_requested: bool,
    #[serde(default)]
    pub grandfathered: Option<GrandfatheredSet>,
    /// By lower-case device id.
    #[serde(default, deserialize_with = "packed::map")]
    pub devices: BTreeMap<String, DeviceRecord>,
    /// By canonical identity.
    #[serde(default, deserialize_with = "packed::map")]
    pub mailboxes: BTreeMap<String, MailboxInfo>,
    /// Digest of the policy (and inventory files) last enforced by a full sync.
    #[serde(default)]
    pub policy_digest: Option<String>,
    /// Summary of the last full dry run, for `enforce` to show before confirming (quick dry
    /// runs leave it as it is).
    #[serde(default)]
    pub last_dry_run: Option<super::AccessReport>,
}

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("could not read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged ({message}); move it aside to start over (devices will be decided again, grandfathering recorded again)")]
    Damaged { path: PathBuf, message: String },
    #[error("could not write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the engine state was not changed: {0}")]
    Busy(#[from] crate::config::store::LockError),
}

impl EngineState {
    pub fn path(org_dir: &Path) -> PathBuf {
        org_dir.join(OrgFile::EngineState.name())
    }

    /// Read the state (an empty one when the file does not exist yet). The file is parsed
    /// as it is read, never held whole in memory (it is tens of MB for 100 000 devices).
    pub fn load(org_dir: &Path) -> Result<EngineState, StateError> {
        let path = Self::path(org_dir);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(EngineState::default()),
            Err(source) => return Err(StateError::Read { path, source }),
        };
        let reader = std::io::BufReader::with_capacity(64 * 1024, file);
        serde_json::from_reader(reader).map_err(|e| {
            if e.is_io() {
                StateError::Read {
                    path,
                    source: e.into(),
                }
            } else {
                StateError::Damaged {
                    path,
                    message: e.to_string(),
                }
            }
        })
    }

    /// Write the state atomically, serialized straight into the new file.
    pub fn save(&self, org_dir: &Path) -> Result<(), StateError> {
        let path = Self::path(org_dir);
        crate::config::store::write_private_with(&path, |w| {
            serde_json::to_writer(w, self).map_err(std::io::Error::from)
        })
        .map_err(|source| StateError::Write { path, source })
    }

    /// Lock the state file for a read-modify-write (a sync's save, `enforce --confirm`): hold
    /// the guard from before reading until after saving.
    pub fn lock(org_dir: &Path) -> Result<crate::config::store::FileLock, StateError> {
        Ok(crate::config::store::lock(
            &Self::path(org_dir),
            crate::config::store::LOCK_WAIT,
        )?)
    }

    /// Before a sync saves the state it loaded at its start: keep what others wrote to the file
    /// meanwhile (`on_disk`, read under the lock) — a confirmation given during the sync, with
    /// the full sync it asks for, and the last dry run's review.
    pub fn keep_changes_made_meanwhile(&mut self, on_disk: EngineState) {
        if on_disk.confirmed != self.confirmed {
            self.confirmed = on_disk.confirmed;
            self.full_sync_requested |= on_disk.full_sync_requested;
        }
        self.last_dry_run = on_disk.last_dry_run;
    }

    /// Record the admin's confirmation; the next sync is a full one and enforces.
    pub fn confirm(org_dir: &Path, by: &str) -> Result<EngineState, StateError> {
        let _writer = Self::lock(org_dir)?;
        let mut s = Self::load(org_dir)?;
        s.confirmed = Some(Confirmation {
            at: super::audit::now_rfc3339(),
            by: by.to_string(),
        });
        s.full_sync_requested = true;
        s.save(org_dir)?;
        Ok(s)
    }
}

/// Loading the big maps and sets with full B-tree nodes. Deserialized one insert at a time,
/// in the file's (sorted) order, a `BTreeMap` leaves every node a little over half full;
/// collected first and built in bulk, its nodes are full: for 100 000 devices that is about
/// 7 MB less for as long as the state is in memory. Same format, same result (the last of
/// duplicate keys wins, as with inserts).
mod packed {
    use std::collections::{BTreeMap, BTreeSet};
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

    /// At most this many entries reserved from a size hint (a damaged file must not make
    /// the loader reserve gigabytes).
    const MAX_RESERVE: usize = 1 << 16;

    pub fn map<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: Ord + Deserialize<'de>,
        V: Deserialize<'de>,
    {
        struct Entries<K, V>(PhantomData<(K, V)>);
        impl<'de, K: Ord + Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for Entries<K, V> {
            type Value = BTreeMap<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::with_capacity(m.size_hint().unwrap_or(0).min(MAX_RESERVE));
                while let Some(e) = m.next_entry()? {
                    v.push(e);
                }
                Ok(v.into_iter().collect())
            }
        }
        d.deserialize_map(Entries(PhantomData))
    }

    pub fn set<'de, D, T>(d: D) -> Result<BTreeSet<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Ord + Deserialize<'de>,
    {
        struct Items<T>(PhantomData<T>);
        impl<'de, T: Ord + Deserialize<'de>> Visitor<'de> for Items<T> {
            type Value = BTreeSet<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::with_capacity(s.size_hint().unwrap_or(0).min(MAX_RESERVE));
                while let Some(e) = s.next_element()? {
                    v.push(e);
                }
                Ok(v.into_iter().collect())
            }
        }
        d.deserialize_seq(Items(PhantomData))
    }
}

/// A ConfigMgr-style name, `user_DeviceType`, made unique among `taken` with `_2`, `_3`…
pub fn device_name<'a>(
    user: &str,
    device_type: &str,
    taken: impl Iterator<Item = &'a str>,
) -> String {
    let user: String = user
        .chars()
        .map(|c| if c.is_whitespace() { '.' } else { c })
        .collect();
    let base = format!("{user}_{device_type}");
    let taken: BTreeSet<&str> = taken.collect();
    if !taken.contains(base.as_str()) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|c| !taken.contains(c.as_str()))
        .unwrap_or(base)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {

    #[test]
    fn a_confirmation_given_during_a_sync_survives_its_save() {
        let d = tempfile::tempdir().unwrap();
        // The sync loaded the state before the admin confirmed...
        let mut loaded = EngineState::load(d.path()).unwrap();
        let confirmed = EngineState::confirm(d.path(), "admin").unwrap();
        // ...and, a full sync, clears the request it fulfilled before saving.
        loaded.full_sync_requested = false;
        let _writer = EngineState::lock(d.path()).unwrap();
        loaded.keep_changes_made_meanwhile(EngineState::load(d.path()).unwrap());
        loaded.save(d.path()).unwrap();
        let now = EngineState::load(d.path()).unwrap();
        assert_eq!(
            now.confirmed, confirmed.confirmed,
            "the confirmation was lost"
        );
        assert!(
            now.full_sync_requested,
            "the full sync it asks for was lost"
        );
        // Nothing changed meanwhile: the sync's own values stand.
        let mut again = now.clone();
        again.full_sync_requested = false;
        again.keep_changes_made_meanwhile(now.clone());
        assert!(!again.full_sync_requested);
    }

    use super::*;

    #[test]
    fn names_are_disambiguated() {
        assert_eq!(device_name("anna", "iPhone", [].into_iter()), "anna_iPhone");
        assert_eq!(
            device_name("anna", "iPhone", ["anna_iPhone"].into_iter()),
            "anna_iPhone_2"
        );
        assert_eq!(
            device_name("Anna de Vries", "iPad", ["x"].into_iter()),
            "Anna.de.Vries_iPad"
        );
    }

    #[test]
    fn big_maps_load_as_before() {
        let json = r#"{"grandfathered":{"recorded_at":"t","devices":["b","a","a"]},
            "devices":{"x":{"mailbox":"m","name":"u_T","action":"Block","applied":true},
                       "w":{"mailbox":"m","name":"u_T_2","action":"Allow","applied":false,
                            "notified":"Block"},
                       "x":{"mailbox":"m","name":"u_T","action":"Allow","applied":true}},
            "mailboxes":{"m":{"alias":"u","smtp":"u@x","display_name":"U"}}}"#;
        let s: EngineState = serde_json::from_str(json).unwrap();
        let g = s.grandfathered.as_ref().unwrap();
        assert_eq!(g.devices.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(s.devices.keys().collect::<Vec<_>>(), ["w", "x"]);
        assert_eq!(
            s.devices["x"].action,
            Action::Allow,
            "the last duplicate wins"
        );
        assert_eq!(s.devices["w"].notified, Some(Action::Block));
        assert_eq!(s.mailboxes["m"].smtp, "u@x");
        let again: EngineState = serde_json::from_slice(&serde_json::to_vec(&s).unwrap()).unwrap();
        assert_eq!(again, s);
        // Old files without the maps still load.
        let s: EngineState = serde_json::from_str(r#"{"confirmed":null}"#).unwrap();
        assert!(s.devices.is_empty() && s.mailboxes.is_empty());
    }

    #[test]
    fn state_round_trips_and_confirms() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(EngineState::load(d.path()).unwrap(), EngineState::default());
        let s = EngineState::confirm(d.path(), "admin").unwrap();
        assert!(s.full_sync_requested);
        assert_eq!(EngineState::load(d.path()).unwrap(), s);
        std::fs::write(EngineState::path(d.path()), "{").unwrap();
        assert!(matches!(
            EngineState::load(d.path()),
            Err(StateError::Damaged { .. })
        ));
    }
}
