//! The driver's side of the Intune source: before planning, read Intune's managed devices
//! from Microsoft Graph and decide which snapshot the plan sees.
//!
//! A good read becomes the snapshot (kept in `IntuneSnapshot.json`, owner-only, replaced
//! atomically). When Graph fails, the last snapshot decides while it is younger than
//! `max_snapshot_age_hours`; past that (or with no snapshot at all) every device is held
//! where it is, said in the report, the log and the Event Log ([`INTUNE_HELD`]). A read with
//! more than `max_shrink_percent` fewer devices than the snapshot is kept aside
//! (`IntunePending.json`) until an admin runs `eas-connector intune accept`; meanwhile the
//! old snapshot decides as if Graph failed. The plan itself stays pure.
//!
//! [`INTUNE_HELD`]: crate::logging::eventlog::ids::INTUNE_HELD

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::policy::intune::{IntuneSettings, IntuneSnapshot, IntuneSource};
use crate::cloud::graph::{Wait, PAGE_SIZE};
use crate::cloud::GraphClient;
use crate::config::store::write_private;
use crate::config::OrgFile;
use crate::logging::eventlog::ids as event_ids;

/// What this sync did with Intune, for the report and `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct IntuneReport {
    /// `fresh`, `snapshot` (Graph failed, the last good read decides), or `held`.
    pub state: String,
    /// Managed devices read from Graph this sync (0 when it failed).
    pub devices_read: usize,
    /// Enrolled devices with an EAS id in the snapshot in force.
    pub devices_in_snapshot: usize,
    pub pages: u32,
    /// Throttling waits Graph asked for: (HTTP status, seconds).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waits: Vec<(u16, u64)>,
    /// The snapshot's age in seconds when it is not fresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_age_secs: Option<i64>,
    /// Why Graph was not used, or why devices are held (with the fix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Why an Intune snapshot file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{path} could not be {action}: {reason}")]
    Io {
        path: std::path::PathBuf,
        action: &'static str,
        reason: String,
    },
    #[error("there is no shrunken Intune read waiting for acceptance ({path} does not exist)")]
    NothingPending { path: std::path::PathBuf },
}

fn read_snapshot(path: &Path) -> Result<Option<IntuneSnapshot>, SnapshotError> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| SnapshotError::Io {
                path: path.to_path_buf(),
                action: "read",
                reason: format!("{e}; delete it, the next good read of Graph writes it again"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SnapshotError::Io {
            path: path.to_path_buf(),
            action: "read",
            reason: e.to_string(),
        }),
    }
}

fn write_snapshot(path: &Path, s: &IntuneSnapshot) -> Result<(), SnapshotError> {
    let bytes = serde_json::to_vec(s).map_err(|e| SnapshotError::Io {
        path: path.to_path_buf(),
        action: "written",
        reason: e.to_string(),
    })?;
    write_private(path, &bytes).map_err(|e| SnapshotError::Io {
        path: path.to_path_buf(),
        action: "written",
        reason: e.to_string(),
    })
}

/// What `intune accept` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub previous: usize,
    pub accepted: usize,
}

/// Make the pending (shrunken) read the snapshot: `eas-connector intune accept`.
pub fn accept(org_dir: &Path) -> Result<Accepted, SnapshotError> {
    let pending_path = org_dir.join(OrgFile::IntunePending.name());
    let snap_path = org_dir.join(OrgFile::IntuneSnapshot.name());
    let pending = read_snapshot(&pending_path)?.ok_or(SnapshotError::NothingPending {
        path: pending_path.clone(),
    })?;
    let previous = read_snapshot(&snap_path)?.map_or(0, |s| s.devices.len());
    write_snapshot(&snap_path, &pending)?;
    std::fs::remove_file(&pending_path).map_err(|e| SnapshotError::Io {
        path: pending_path,
        action: "deleted",
        reason: e.to_string(),
    })?;
    Ok(Accepted {
        previous,
        accepted: pending.devices.len(),
    })
}

/// A read shrank too much against `last`?
fn shrank(settings: &IntuneSettings, last: &IntuneSnapshot, new: &IntuneSnapshot) -> bool {
    let (old, now) = (last.devices.len() as u64, new.devices.len() as u64);
    old > 0 && now * 100 < old * u64::from(100 - settings.max_shrink_percent.min(100))
}

/// Fill `source` (snapshot or hold) for this sync: read Graph through `graph` (`None`: the
/// cloud identity is not usable, `why_none` says why), else fall back as the module says.
pub async fn prepare(
    org_dir: &Path,
    source: &mut IntuneSource,
    graph: Option<&mut GraphClient>,
    why_none: Option<&str>,
    now: jiff::Timestamp,
) -> IntuneReport {
    source.now = Some(now);
    let snap_path = org_dir.join(OrgFile::IntuneSnapshot.name());
    let mut report = IntuneReport::default();
    let last = read_snapshot(&snap_path);
    let failure: String = match graph {
        None => why_none
            .unwrap_or(
                "no Microsoft cloud identity is configured (Cloud/TenantId, Cloud/ApplicationId)",
            )
            .to_string(),
        Some(g) => {
            let mut waits: Vec<Wait> = Vec::new();
            let read = g
                .managed_devices(PAGE_SIZE, false, &mut |_, _| {}, &mut |w| waits.push(w))
                .await;
            report.waits = waits.iter().map(|w| (w.status, w.seconds)).collect();
            match read {
                Ok(read) => {
                    report.devices_read = read.devices.len();
                    report.pages = read.pages;
                    let new = IntuneSnapshot::from_devices(&read.devices, now);
                    drop(read);
                    let last_ok = last.as_ref().ok().and_then(|l| l.as_ref());
                    if let Some(l) = last_ok.filter(|l| shrank(&source.settings, l, &new)) {
                        let pending = org_dir.join(OrgFile::IntunePending.name());
                        let _ = write_snapshot(&pending, &new);
                        format!(
                            "Intune returned {} enrolled devices against {} in the last snapshot, more than max_shrink_percent = {}% fewer; it is kept aside until an admin runs `eas-connector intune accept` (check Intune first)",
                            new.devices.len(),
                            l.devices.len(),
                            source.settings.max_shrink_percent
                        )
                    } else {
                        if let Err(e) = write_snapshot(&snap_path, &new) {
                            tracing::error!("the Intune snapshot could not be kept: {e}");
                        }
                        report.state = "fresh".into();
                        report.devices_in_snapshot = new.devices.len();
                        source.snapshot = Some(Arc::new(new));
                        source.hold = None;
                        return report;
                    }
                }
                Err(e) => e.to_string(),
            }
        }
    };
    // Graph did not give a usable read: the last good snapshot, within its age.
    let max_age = i64::from(source.settings.max_snapshot_age_hours) * 3600;
    match last {
        Ok(Some(s)) => {
            let age = s
                .taken_at
                .map_or(i64::MAX, |t| now.duration_since(t).as_secs());
            report.snapshot_age_secs = Some(age);
            report.devices_in_snapshot = s.devices.len();
            if age <= max_age {
                tracing::warn!(
                    event_id = event_ids::INTUNE_SNAPSHOT_USED,
                    age_hours = age / 3600,
                    "Intune could not be read ({failure}); the last good snapshot decides"
                );
                report.state = "snapshot".into();
                report.problem = Some(failure);
                source.snapshot = Some(Arc::new(s));
                source.hold = None;
                return report;
            }
            let why = format!(
                "Intune's last good snapshot is {} h old, past max_snapshot_age_hours = {}: the sync decides nothing new and keeps every device where it is until Graph answers ({failure})",
                age / 3600,
                source.settings.max_snapshot_age_hours
            );
            hold(source, &mut report, why);
        }
        Ok(None) => {
            let why = format!(
                "Intune has never been read: the sync decides nothing new and keeps every device where it is until Graph answers ({failure})"
            );
            hold(source, &mut report, why);
        }
        Err(e) => {
            let why = format!(
                "{e}: the sync decides nothing new and keeps every device where it is ({failure})"
            );
            hold(source, &mut report, why);
        }
    }
    report
}

fn hold(source: &mut IntuneSource, report: &mut IntuneReport, why: String) {
    tracing::error!(event_id = event_ids::INTUNE_HELD, "{why}");
    report.state = "held".into();
    report.problem = Some(why.clone());
    source.snapshot = None;
    source.hold = Some(why);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::{ComplianceState, ManagedDevice};

    fn devices(n: usize) -> Vec<ManagedDevice> {
        (0..n)
            .map(|i| ManagedDevice {
                id: format!("m{i}"),
                eas_device_id: Some(format!("EAS{i}")),
                eas_activated: true,
                compliance_state: ComplianceState::Compliant,
                user_principal_name: None,
                last_sync_date_time: None,
                management_state: None,
                device_name: None,
                operating_system: None,
            })
            .collect()
    }

    #[tokio::test]
    async fn outage_uses_the_snapshot_within_its_age_then_holds_everything() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        write_snapshot(
            &dir.path().join(OrgFile::IntuneSnapshot.name()),
            &IntuneSnapshot::from_devices(&devices(10), t0),
        )
        .unwrap();
        let mut src = IntuneSource::default();
        let r = prepare(dir.path(), &mut src, None, Some("Graph down"), t0).await;
        assert_eq!(r.state, "snapshot");
        assert!(src.hold.is_none() && src.snapshot.as_ref().unwrap().devices.len() == 10);
        let later = t0 + jiff::SignedDuration::from_hours(25);
        let r = prepare(dir.path(), &mut src, None, Some("Graph down"), later).await;
        assert_eq!(r.state, "held");
        assert!(src
            .hold
            .as_deref()
            .unwrap()
            .contains("max_snapshot_age_hours = 24"));
        let empty = tempfile::tempdir().unwrap();
        let mut src = IntuneSource::default();
        let r = prepare(empty.path(), &mut src, None, None, t0).await;
        assert_eq!(r.state, "held");
    }

    #[test]
    fn shrink_is_measured_against_the_last_snapshot_and_accept_applies_it() {
        let s = IntuneSettings::default();
        let t0 = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let last = IntuneSnapshot::from_devices(&devices(100), t0);
        assert!(!shrank(
            &s,
            &last,
            &IntuneSnapshot::from_devices(&devices(80), t0)
        ));
        assert!(shrank(
            &s,
            &last,
            &IntuneSnapshot::from_devices(&devices(79), t0)
        ));
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            accept(dir.path()),
            Err(SnapshotError::NothingPending { .. })
        ));
        write_snapshot(&dir.path().join(OrgFile::IntuneSnapshot.name()), &last).unwrap();
        write_snapshot(
            &dir.path().join(OrgFile::IntunePending.name()),
            &IntuneSnapshot::from_devices(&devices(5), t0),
        )
        .unwrap();
        assert_eq!(
            accept(dir.path()).unwrap(),
            Accepted {
                previous: 100,
                accepted: 5
            }
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(dir.path().join(OrgFile::IntuneSnapshot.name())).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o600);
        }
    }
}
