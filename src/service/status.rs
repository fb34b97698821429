//! The status file, `ServiceStatus.json` in the org folder: what the service is doing, which
//! server it used, its last quick and full syncs, its last error and what comes next.
//!
//! The running service is its only writer and replaces it whole with
//! [`crate::config::store::write_atomic`], so a reader (`eas-connector status`, monitoring)
//! always finds a complete file, even when the service is killed mid-write. It must never hold
//! a password or anything else from the secret store.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::config::store::write_atomic;
use crate::config::{ConfigLocation, OrgFile};
use crate::engine::{SyncKind, SyncOutcome};

/// Version of the status file's format.
pub const STATUS_FORMAT: u32 = 1;

/// Path of the status file for `loc`.
pub fn status_path(loc: &ConfigLocation) -> PathBuf {
    loc.file(OrgFile::ServiceStatus)
}

/// Path of the persisted [`crate::engine::SyncState`] for `loc`.
pub fn sync_state_path(loc: &ConfigLocation) -> PathBuf {
    loc.file(OrgFile::SyncState)
}

/// What the service process is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Starting,
    /// Waiting for the next sync.
    Idle,
    Syncing,
    Stopping,
    #[default]
    Stopped,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Starting => "starting",
            RunState::Idle => "idle",
            RunState::Syncing => "syncing",
            RunState::Stopping => "stopping",
            RunState::Stopped => "stopped",
        }
    }
}

/// A server that was tried first and did not answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedServer {
    pub server: String,
    pub error: String,
}

/// One successful sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRecord {
    pub kind: SyncKind,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub duration_ms: u64,
    /// Devices read (all on a full sync, the changed ones on a quick one).
    pub devices: usize,
    /// The Client Access Server used.
    pub server: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_over_from: Vec<FailedServer>,
    /// Decisions Exchange's device access rules override (access control only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub conflicts: usize,
    /// The Intune source, when the policy has one: `fresh`, `snapshot` or `held`, and why it
    /// was not fresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intune: Option<crate::engine::intune::IntuneReport>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl SyncRecord {
    pub fn from_outcome(o: &SyncOutcome, started_at: Timestamp, finished_at: Timestamp) -> Self {
        SyncRecord {
            kind: o.kind,
            started_at,
            finished_at,
            duration_ms: o.duration_ms,
            devices: o.devices,
            server: o.server.clone(),
            failed_over_from: o
                .failed_over_from
                .iter()
                .map(|(server, error)| FailedServer {
                    server: server.clone(),
                    error: error.clone(),
                })
                .collect(),
            conflicts: o.access.as_ref().map_or(0, |a| a.conflicts.len()),
            intune: o.access.as_ref().and_then(|a| a.intune.clone()),
        }
    }
}

/// The last failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    pub at: Timestamp,
    /// The sync that failed; none for failures outside a sync (e.g. a reload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SyncKind>,
    pub message: String,
}

/// The sync in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentSync {
    pub kind: SyncKind,
    pub started_at: Timestamp,
    /// Asked for over the control channel rather than scheduled.
    pub manual: bool,
}

/// A retry waiting after a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    pub kind: SyncKind,
    pub at: Timestamp,
}

/// The whole status file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Status {
    pub format: u32,
    pub organization: String,
    pub state: RunState,
    pub pid: u32,
    pub started_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    /// The server the last sync used (or the one in use).
    pub current_server: Option<String>,
    pub current_sync: Option<CurrentSync>,
    pub last_quick_sync: Option<SyncRecord>,
    pub last_full_sync: Option<SyncRecord>,
    pub last_error: Option<ErrorRecord>,
    pub consecutive_failures: u32,
    pub next_quick_sync: Option<Timestamp>,
    pub next_full_sync: Option<Timestamp>,
    pub next_retry: Option<Retry>,
    /// Scheduled syncs are paused because the domain refused the service account; what
    /// happened and how to resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<String>,
}

/// Why the status file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a status file: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

impl Status {
    /// A fresh status for `org`, keeping the sync history of `previous`.
    pub fn starting(org: &str, previous: Option<Status>) -> Status {
        let prev = previous.unwrap_or_default();
        Status {
            format: STATUS_FORMAT,
            organization: org.to_string(),
            state: RunState::Starting,
            pid: std::process::id(),
            started_at: Some(Timestamp::now()),
            updated_at: Some(Timestamp::now()),
            current_server: prev.current_server,
            current_sync: None,
            last_quick_sync: prev.last_quick_sync,
            last_full_sync: prev.last_full_sync,
            last_error: prev.last_error,
            consecutive_failures: 0,
            next_quick_sync: None,
            next_full_sync: None,
            next_retry: None,
            paused: None,
        }
    }

    /// Replace the file at `path` with this status, atomically.
    pub fn write(&self, path: &Path) -> Result<(), StatusError> {
        let mut text = serde_json::to_vec_pretty(self).map_err(|e| StatusError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        text.push(b'\n');
        write_atomic(path, &text, None, Some(0o644)).map_err(|source| StatusError::Io {
            action: "write",
            path: path.to_path_buf(),
            source,
        })
    }

    /// Read the file at `path`; `None` when there is none.
    pub fn read(path: &Path) -> Result<Option<Status>, StatusError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StatusError::Io {
                    action: "read",
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StatusError::Corrupt {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Status {
        let t: Timestamp = "2026-06-10T10:00:00Z".parse().unwrap();
        let mut s = Status::starting("contoso", None);
        s.state = RunState::Idle;
        s.current_server = Some("cas02.contoso.com".into());
        s.last_full_sync = Some(SyncRecord {
            kind: SyncKind::Full,
            started_at: t,
            finished_at: t,
            duration_ms: 1234,
            devices: 200,
            server: "cas02.contoso.com".into(),
            failed_over_from: vec![FailedServer {
                server: "cas01.contoso.com".into(),
                error: "connection refused".into(),
            }],
            conflicts: 2,
            intune: None,
        });
        s.last_error = Some(ErrorRecord {
            at: t,
            kind: Some(SyncKind::Quick),
            message: "no Client Access Server answered".into(),
        });
        s.next_retry = Some(Retry {
            kind: SyncKind::Quick,
            at: t,
        });
        s
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(OrgFile::ServiceStatus.name());
        assert_eq!(Status::read(&p).unwrap(), None);
        let s = sample();
        s.write(&p).unwrap();
        assert_eq!(Status::read(&p).unwrap(), Some(s.clone()));
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["state"], "idle");
        assert_eq!(v["last_full_sync"]["devices"], 200);
        assert_eq!(v["last_full_sync"]["kind"], "full");
        assert_eq!(v["last_full_sync"]["finished_at"], "2026-06-10T10:00:00Z");
    }

    #[test]
    fn history_survives_a_restart_and_garbage_is_reported() {
        let s = sample();
        let next = Status::starting("contoso", Some(s.clone()));
        assert_eq!(next.state, RunState::Starting);
        assert_eq!(next.last_full_sync, s.last_full_sync);
        assert_eq!(next.current_sync, None);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(OrgFile::ServiceStatus.name());
        std::fs::write(&p, "{\"format\": 1, \"org").unwrap();
        assert!(matches!(Status::read(&p), Err(StatusError::Corrupt { .. })));
    }
}
