//! What one sync did, as the CLI prints it, the service keeps it in its status and the
//! state file keeps the last dry run: decisions by action and source, every mailbox list
//! change, organization and mailbox policy changes, notifications and failures. Pure data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::notify::DrainReport;
use super::precedence::Conflict;
use crate::wire::exchange::ListUpdate;

/// The change to one mailbox's lists (`ActiveSyncAllowedDeviceIDs`,
/// `ActiveSyncBlockedDeviceIDs`). In JSON (reports, the state file) it stays flat:
/// `mailbox`, `allow_add`, `allow_remove`, `block_add`, `block_remove`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "FlatChange", into = "FlatChange")]
pub struct MailboxChange {
    pub mailbox: String,
    pub allowed: ListUpdate,
    pub blocked: ListUpdate,
}

impl MailboxChange {
    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty() && self.blocked.is_empty()
    }
    pub fn touches(&self, id: &str) -> bool {
        self.allowed.touches(id) || self.blocked.touches(id)
    }
    /// Every device id added to or removed from either list.
    pub fn device_ids(&self) -> impl Iterator<Item = &String> {
        let (a, b) = (&self.allowed, &self.blocked);
        a.add.iter().chain(&a.remove).chain(&b.add).chain(&b.remove)
    }
}

/// [`MailboxChange`] as JSON has always had it.
#[derive(Serialize, Deserialize)]
struct FlatChange {
    mailbox: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    allow_add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    allow_remove: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    block_add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    block_remove: Vec<String>,
}

impl From<FlatChange> for MailboxChange {
    fn from(f: FlatChange) -> MailboxChange {
        MailboxChange {
            mailbox: f.mailbox,
            allowed: ListUpdate {
                add: f.allow_add,
                remove: f.allow_remove,
            },
            blocked: ListUpdate {
                add: f.block_add,
                remove: f.block_remove,
            },
        }
    }
}

impl From<MailboxChange> for FlatChange {
    fn from(c: MailboxChange) -> FlatChange {
        FlatChange {
            mailbox: c.mailbox,
            allow_add: c.allowed.add,
            allow_remove: c.allowed.remove,
            block_add: c.blocked.add,
            block_remove: c.blocked.remove,
        }
    }
}

/// What access control decided and did in one sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessReport {
    pub dry_run: bool,
    /// What the Intune source read or fell back to (`[inventory.intune]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intune: Option<super::intune::IntuneReport>,
    /// Why it was a dry run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run_reason: Option<String>,
    /// Devices decided (over all passes).
    pub decided: usize,
    pub by_action: BTreeMap<String, usize>,
    pub by_source: BTreeMap<String, usize>,
    /// Devices whose decision is new or differs from the last one.
    pub changed_decisions: usize,
    /// Every list change, computed (dry run) or made, sorted by mailbox.
    pub mailbox_changes: Vec<MailboxChange>,
    /// Mailboxes changed with `Set-CASMailbox` (0 in a dry run; a call whose answer was lost
    /// to a failed CAS and that had taken effect counts once).
    pub set_cas_mailbox_calls: usize,
    /// Organization settings changes (`DefaultAccessLevel: Allow → Quarantine`).
    pub org_changes: Vec<String>,
    /// Mailbox policy changes.
    pub policy_changes: Vec<String>,
    pub notifications_queued: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<DrainReport>,
    /// Mailboxes or settings that could not be changed, with Exchange's words.
    pub failures: Vec<String>,
    /// Decisions an Exchange device access rule overrides, and how each was resolved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<DeviceConflict>,
    /// `Get-DistributionGroupMember` calls (each group the rules name, and each nested one,
    /// read once per sync).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub group_reads: usize,
    /// Devices left as they were because a rule's group could not be expanded (over all
    /// passes, like `decided`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub held: usize,
    /// Devices grandfathered in this sync (the first full sync with grandfathering on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grandfathered: Option<usize>,
    pub passes: usize,
    /// Servers switched to during the sync after a CAS stopped answering.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failovers: Vec<String>,
    /// Devices whose admin override expired (found, and taken out of the file, by this sync).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides_expired: Vec<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One device whose decision Exchange overrides.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeviceConflict {
    pub device_id: String,
    pub mailbox: String,
    #[serde(flatten)]
    pub conflict: ConflictOrd,
}

/// [`Conflict`], ordered by its text (for sorting reports).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConflictOrd(pub Conflict);

impl PartialOrd for ConflictOrd {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ConflictOrd {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.to_string().cmp(&other.0.to_string())
    }
}

impl std::fmt::Display for DeviceConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.device_id, self.mailbox, self.conflict.0
        )
    }
}

impl AccessReport {
    /// The same report with at most `n` mailbox changes and conflicts (for keeping in the
    /// state file).
    pub fn truncated(&self, n: usize) -> AccessReport {
        let mut r = self.clone();
        r.mailbox_changes.truncate(n);
        r.conflicts.truncate(n);
        r
    }
}
