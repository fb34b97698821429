//! Intune as a compliance source: the `[inventory.intune]` settings of the policy and the
//! [`ComplianceSource`] that answers from a snapshot of Intune's managed devices. Pure: the
//! snapshot is read from Graph (or disk) by the driver before planning (`engine::intune`).
//!
//! A device is matched by its EAS device id, case-insensitively. Enrolled (a managed-device
//! record whose `managementState` is `managed` or absent) + `compliant` + a check-in within
//! `max_checkin_age_days` → Allow; every other compliance state and a stale check-in → the
//! policy's answer for it ([`IntuneSettings`], defaults documented there and in the README);
//! not enrolled → no answer (the next source, then the policy's default).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Action, ComplianceSource, DeviceFacts, Verdict};
use crate::cloud::ComplianceState;

/// `[inventory.intune]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntuneSettings {
    /// `noncompliant` (default Block).
    pub noncompliant: Action,
    /// `in_grace_period` (default Allow: Intune still counts the device as compliant while
    /// its grace period runs).
    pub in_grace_period: Action,
    /// `conflict`, `error`, `unknown`, `config_manager`, and any state Graph adds later
    /// (`other`) (default Quarantine each: not known to be compliant).
    pub conflict: Action,
    pub error: Action,
    pub unknown: Action,
    pub config_manager: Action,
    pub other: Action,
    /// A compliant device whose last check-in is older than `max_checkin_age_days`
    /// (`stale`, default Quarantine).
    pub stale: Action,
    /// Default 7; 0 ignores the check-in's age.
    pub max_checkin_age_days: u32,
    /// How long the last good snapshot may decide while Graph fails (hours, default 24).
    pub max_snapshot_age_hours: u32,
    /// A read with more than this share fewer devices than the last snapshot waits for
    /// `eas-connector intune accept` (percent, default 20).
    pub max_shrink_percent: u32,
}

impl Default for IntuneSettings {
    fn default() -> Self {
        IntuneSettings {
            noncompliant: Action::Block,
            in_grace_period: Action::Allow,
            conflict: Action::Quarantine,
            error: Action::Quarantine,
            unknown: Action::Quarantine,
            config_manager: Action::Quarantine,
            other: Action::Quarantine,
            stale: Action::Quarantine,
            max_checkin_age_days: 7,
            max_snapshot_age_hours: 24,
            max_shrink_percent: 20,
        }
    }
}

/// What the snapshot keeps of one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntuneRecord {
    /// Intune's managed device id.
    pub id: String,
    pub compliance: ComplianceState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync: Option<jiff::Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// Intune's enrolled devices by lower-case EAS device id, as read at `taken_at`; of several
/// records with one EAS id (a device enrolled again), the one checked in last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntuneSnapshot {
    pub taken_at: Option<jiff::Timestamp>,
    pub devices: HashMap<String, IntuneRecord>,
    /// Managed devices read in all (with or without an EAS id).
    pub managed_devices: usize,
}

impl IntuneSnapshot {
    /// From Graph's managed devices: those with an EAS device id and enrolled.
    pub fn from_devices(
        devices: &[crate::cloud::ManagedDevice],
        taken_at: jiff::Timestamp,
    ) -> Self {
        let mut map = HashMap::new();
        for d in devices {
            let enrolled = d
                .management_state
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case("managed"));
            let Some(eas) = d.eas_device_id.as_deref().filter(|e| !e.trim().is_empty()) else {
                continue;
            };
            if !enrolled {
                continue;
            }
            let key = eas.trim().to_ascii_lowercase();
            // Re-enrolled: the old record may stay; the latest check-in is the device now.
            if map
                .get(&key)
                .is_some_and(|r: &IntuneRecord| r.last_sync >= d.last_sync_date_time)
            {
                continue;
            }
            map.insert(
                key,
                IntuneRecord {
                    id: d.id.clone(),
                    compliance: d.compliance_state.clone(),
                    last_sync: d.last_sync_date_time,
                    user: d.user_principal_name.clone(),
                },
            );
        }
        IntuneSnapshot {
            taken_at: Some(taken_at),
            devices: map,
            managed_devices: devices.len(),
        }
    }
}

/// The source for one sync: settings, the snapshot in force, or why every device is held.
#[derive(Debug, Clone, Default)]
pub struct IntuneSource {
    pub settings: IntuneSettings,
    pub snapshot: Option<std::sync::Arc<IntuneSnapshot>>,
    /// Set when the sync must decide nothing new (no snapshot, or one older than
    /// `max_snapshot_age`, or a shrunken read not accepted): every device is held.
    pub hold: Option<String>,
    /// "Now", for the check-in age (fixed per sync).
    pub now: Option<jiff::Timestamp>,
}

impl ComplianceSource for IntuneSource {
    fn name(&self) -> &str {
        "intune"
    }

    fn verdict(&self, d: &DeviceFacts<'_>) -> Option<Verdict> {
        if let Some(why) = &self.hold {
            return Some(Verdict {
                action: Action::Quarantine,
                reason: "Intune".into(),
                held: Some(why.clone()),
            });
        }
        let snap = self.snapshot.as_ref()?;
        let r = snap.devices.get(&d.device_id.to_ascii_lowercase())?;
        let s = &self.settings;
        let stale = match (s.max_checkin_age_days, r.last_sync, self.now) {
            (0, _, _) | (_, _, None) => false,
            (_, None, _) => true,
            (days, Some(t), Some(now)) => {
                now.duration_since(t).as_secs() > i64::from(days) * 86_400
            }
        };
        let (action, why) = match &r.compliance {
            ComplianceState::Compliant if stale => {
                (s.stale, "compliant, but no check-in lately".to_string())
            }
            ComplianceState::Compliant => (Action::Allow, "enrolled and compliant".to_string()),
            ComplianceState::Noncompliant => (s.noncompliant, "noncompliant".into()),
            ComplianceState::InGracePeriod => (s.in_grace_period, "in grace period".into()),
            ComplianceState::Conflict => (s.conflict, "conflict".into()),
            ComplianceState::Error => (s.error, "error".into()),
            ComplianceState::Unknown => (s.unknown, "unknown".into()),
            ComplianceState::ConfigManager => (s.config_manager, "configManager".into()),
            ComplianceState::Other(o) => (s.other, crate::config::validate::shown(o)),
        };
        Some(Verdict {
            action,
            reason: format!("Intune: {why} (managed device {})", r.id),
            held: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::ManagedDevice;

    fn dev(eas: &str, state: ComplianceState, days_ago: i64, mgmt: &str) -> ManagedDevice {
        ManagedDevice {
            id: format!("id-{eas}"),
            eas_device_id: Some(eas.into()),
            eas_activated: true,
            compliance_state: state,
            user_principal_name: None,
            last_sync_date_time: Some(
                jiff::Timestamp::from_second(1_800_000_000 - days_ago * 86_400).unwrap(),
            ),
            management_state: Some(mgmt.into()),
            device_name: None,
            operating_system: None,
        }
    }

    fn facts<'a>(id: &'a str, groups: &'a super::super::GroupMembers) -> DeviceFacts<'a> {
        DeviceFacts {
            device_id: id,
            device_type: "",
            device_model: "",
            device_os: "",
            user_agent: "",
            user_display_name: "",
            user_alias: "",
            user_smtp: "",
            mailbox: "",
            access_state: crate::wire::exchange::DeviceAccessState::Unknown,
            groups,
        }
    }

    #[test]
    fn states_map_to_the_policy_and_unknown_devices_to_nothing() {
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let snap = IntuneSnapshot::from_devices(
            &[
                dev("ApplAAA", ComplianceState::Compliant, 1, "managed"),
                dev("ApplBBB", ComplianceState::Noncompliant, 1, "managed"),
                dev("ApplCCC", ComplianceState::Compliant, 30, "managed"),
                dev("ApplDDD", ComplianceState::InGracePeriod, 1, "managed"),
                dev("ApplEEE", ComplianceState::Unknown, 1, "managed"),
                dev("ApplFFF", ComplianceState::Compliant, 1, "retirePending"),
            ],
            now,
        );
        let src = IntuneSource {
            settings: IntuneSettings::default(),
            snapshot: Some(std::sync::Arc::new(snap)),
            hold: None,
            now: Some(now),
        };
        let g = super::super::GroupMembers::default();
        let a = |id: &str| src.verdict(&facts(id, &g)).map(|v| v.action);
        assert_eq!(a("applaaa"), Some(Action::Allow));
        assert_eq!(a("ApplBBB"), Some(Action::Block));
        assert_eq!(a("ApplCCC"), Some(Action::Quarantine));
        assert_eq!(a("ApplDDD"), Some(Action::Allow));
        assert_eq!(a("ApplEEE"), Some(Action::Quarantine));
        assert_eq!(a("ApplFFF"), None, "not enrolled any more");
        assert_eq!(a("ApplZZZ"), None);
        let held = IntuneSource {
            hold: Some("stale".into()),
            ..src
        };
        assert!(held.verdict(&facts("ApplZZZ", &g)).unwrap().held.is_some());
    }
}
