//! The access policy: `AccessPolicy.toml` in the organization's folder, written and read by
//! people, and the compliance sources it defines.
//!
//! The file says, for every ActiveSync device, whether it may sync: a managed-device
//! inventory (exported from any MDM as CSV or JSON: managed and compliant → Allow), rules on
//! device type, model, OS, user agent and user (exact, or with `*` wildcards), grandfathering
//! of the devices that existed when the connector was first enabled, and a default for unknown
//! devices (Quarantine unless told otherwise). Which of these decides first is written in the
//! file (`precedence`). It also carries the organization's ActiveSync settings, the mailbox
//! policy (ConfigMgr's groups) and notification settings. Every problem is reported with its
//! file, line and column; nothing is guessed. Sources implement [`ComplianceSource`], so an
//! MDM API can be added next to the file without touching the engine.
//!
//! This module is the model and the decision ([`AccessPolicy::decide`], pure); [`file`] reads
//! and validates the TOML file, [`inventory`] reads MDM exports. Nothing here talks to
//! Exchange.

mod file;
pub mod intune;
mod inventory;

pub use file::{web_link, LinkError, EXAMPLE};
pub use inventory::{parse_date, parse_inventory, Inventory, InventoryEntry};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use super::precedence::RuleConflict;
pub use crate::wire::exchange::SettingValue;
use crate::wire::exchange::{AccessLevel, DeviceAccessState};

/// What a device gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Action {
    Allow,
    Block,
    Quarantine,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        match s.trim().to_ascii_lowercase().as_str() {
            "allow" => Some(Action::Allow),
            "block" => Some(Action::Block),
            "quarantine" => Some(Action::Quarantine),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "Allow",
            Action::Block => "Block",
            Action::Quarantine => "Quarantine",
        }
    }
}

/// The policy's actions are Exchange's access levels: Allow puts a device on the allowed
/// list, Block on the blocked list, Quarantine on neither (under the organization's
/// `DefaultAccessLevel` Quarantine).
impl From<AccessLevel> for Action {
    fn from(l: AccessLevel) -> Action {
        match l {
            AccessLevel::Allow => Action::Allow,
            AccessLevel::Block => Action::Block,
            AccessLevel::Quarantine => Action::Quarantine,
        }
    }
}

impl From<Action> for AccessLevel {
    fn from(a: Action) -> AccessLevel {
        match a {
            Action::Allow => AccessLevel::Allow,
            Action::Block => AccessLevel::Block,
            Action::Quarantine => AccessLevel::Quarantine,
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem in a policy or inventory file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// Why the policy cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PolicyError {
    #[error("no access policy at {0}; write one (see `eas-connector policy example`)")]
    Missing(PathBuf),
    #[error("could not read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("the access policy has {} problem(s):\n{}", .0.len(), .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

/// A value matched exactly (case-insensitive) or with `*` wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    pub fn new(p: &str) -> Pattern {
        Pattern(p.trim().to_lowercase())
    }
    /// Whether `value` matches (case-insensitive; `*` stands for any run of characters).
    pub fn matches(&self, value: &str) -> bool {
        wildcard(self.0.as_bytes(), value.to_lowercase().as_bytes())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn wildcard(p: &[u8], v: &[u8]) -> bool {
    let (mut pi, mut vi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, vi));
            pi += 1;
        } else if pi < p.len() && p[pi] == v[vi] {
            pi += 1;
            vi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// What the sources know about one device.
#[derive(Debug, Clone, Copy)]
pub struct DeviceFacts<'a> {
    pub device_id: &'a str,
    pub device_type: &'a str,
    pub device_model: &'a str,
    pub device_os: &'a str,
    pub user_agent: &'a str,
    /// The user's display name, alias and SMTP address (empty when unknown).
    pub user_display_name: &'a str,
    pub user_alias: &'a str,
    pub user_smtp: &'a str,
    /// The mailbox's identity as Exchange writes it (`contoso.com/Users/Anna`).
    pub mailbox: &'a str,
    /// Exchange's `DeviceAccessState` now.
    pub access_state: DeviceAccessState,
    /// The members of the groups the rules name, as expanded for this sync.
    pub groups: &'a GroupMembers,
}

/// The members of the groups the policy's rules name (`groups = [...]`), expanded through
/// Exchange once per sync: by group (as written in the policy, any case), the primary SMTP
/// addresses and aliases of its members, nested groups included; or why the group could not
/// be expanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupMembers {
    groups: BTreeMap<String, Result<BTreeSet<String>, String>>,
}

/// Nobody is a member of anything (a policy without group rules).
pub static NO_GROUPS: GroupMembers = GroupMembers {
    groups: BTreeMap::new(),
};

/// Whether a device's user is in a rule's groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    Member,
    NotMember,
    /// A group could not be expanded (and the user is in none of the others): the rule can
    /// neither match nor be skipped.
    Unknown(String),
}

impl GroupMembers {
    /// A group's members (addresses or aliases, any case).
    pub fn insert(&mut self, group: &str, members: impl IntoIterator<Item = String>) {
        let set = members.into_iter().map(|m| m.to_lowercase()).collect();
        self.groups.insert(group.trim().to_lowercase(), Ok(set));
    }

    /// A group that could not be expanded, and why.
    pub fn insert_error(&mut self, group: &str, error: String) {
        self.groups.insert(group.trim().to_lowercase(), Err(error));
    }

    /// Whether `group` was expanded (or tried).
    pub fn contains(&self, group: &str) -> bool {
        self.groups.contains_key(&group.trim().to_lowercase())
    }

    /// Whether a user (by any of `keys`: SMTP address, alias) is in any of `groups`.
    pub fn membership(&self, groups: &[String], keys: &[&str]) -> Membership {
        let mut unknown = None;
        for g in groups {
            match self.groups.get(&g.trim().to_lowercase()) {
                Some(Ok(members)) => {
                    if keys
                        .iter()
                        .any(|k| !k.is_empty() && members.contains(&k.to_lowercase()))
                    {
                        return Membership::Member;
                    }
                }
                Some(Err(e)) => unknown = unknown.or_else(|| Some(format!("group \"{g}\": {e}"))),
                None => {
                    unknown = unknown.or_else(|| Some(format!("group \"{g}\" was not expanded")))
                }
            }
        }
        match unknown {
            Some(e) => Membership::Unknown(e),
            None => Membership::NotMember,
        }
    }
}

/// A source's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub action: Action,
    /// Which rule or record decided, for people (`rule "Block old iOS"`, `inventory.csv:12`).
    pub reason: String,
    /// The source cannot decide this time (a rule's group could not be expanded): the device
    /// is left as it is, and this says why.
    pub held: Option<String>,
}

/// Something that can say whether a device may sync: the policy file's inventory and rules
/// today, an MDM's API tomorrow.
pub trait ComplianceSource: Send + Sync {
    /// Short name written into the audit log (`inventory`, `rules`, …).
    fn name(&self) -> &str;
    /// The verdict, or `None` when this source knows nothing about the device.
    fn verdict(&self, device: &DeviceFacts<'_>) -> Option<Verdict>;
}

/// A rule of the policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    pub device_type: Option<Pattern>,
    pub device_model: Option<Pattern>,
    pub device_os: Option<Pattern>,
    pub user_agent: Option<Pattern>,
    /// Any of these matches the user's SMTP address, alias or display name.
    pub users: Vec<Pattern>,
    /// Distribution or security groups (name or address as written): the user is a member
    /// of one of them, directly or through nested groups.
    pub groups: Vec<String>,
    pub action: Action,
    pub line: usize,
}

impl Rule {
    /// Whether the rule applies to the device: `Member` when it does, `NotMember` when it
    /// does not, `Unknown` when everything else matches but a group it names could not be
    /// expanded.
    pub fn applies(&self, d: &DeviceFacts<'_>) -> Membership {
        let one = |p: &Option<Pattern>, v: &str| p.as_ref().is_none_or(|p| p.matches(v));
        let rest = one(&self.device_type, d.device_type)
            && one(&self.device_model, d.device_model)
            && one(&self.device_os, d.device_os)
            && one(&self.user_agent, d.user_agent)
            && (self.users.is_empty()
                || self.users.iter().any(|p| {
                    [d.user_smtp, d.user_alias, d.user_display_name]
                        .iter()
                        .any(|v| !v.is_empty() && p.matches(v))
                }));
        if !rest {
            Membership::NotMember
        } else if self.groups.is_empty() {
            Membership::Member
        } else {
            d.groups
                .membership(&self.groups, &[d.user_smtp, d.user_alias, d.mailbox])
        }
    }

    pub fn matches(&self, d: &DeviceFacts<'_>) -> bool {
        self.applies(d) == Membership::Member
    }
}

/// The rules, in file order: the first that matches decides.
#[derive(Debug, Clone, Default)]
pub struct RuleSet(pub Vec<Rule>);

impl ComplianceSource for RuleSet {
    fn name(&self) -> &str {
        "rules"
    }
    fn verdict(&self, d: &DeviceFacts<'_>) -> Option<Verdict> {
        self.0.iter().find_map(|r| {
            let reason = || format!("rule \"{}\" (line {})", r.name, r.line);
            match r.applies(d) {
                Membership::NotMember => None,
                Membership::Member => Some(Verdict {
                    action: r.action,
                    reason: reason(),
                    held: None,
                }),
                // Safe: never treat everyone as a non-member of a group Exchange did not
                // expand; the device keeps what it has until the group can be read.
                Membership::Unknown(why) => Some(Verdict {
                    action: r.action,
                    held: Some(format!("{}: {why}", reason())),
                    reason: reason(),
                }),
            }
        })
    }
}

/// Devices allowed because they existed when the connector was first enabled (lower-case
/// ids, borrowed from the engine's state).
#[derive(Debug, Clone, Copy)]
pub struct Grandfathered<'a>(pub &'a BTreeSet<String>);

impl ComplianceSource for Grandfathered<'_> {
    fn name(&self) -> &str {
        "grandfathered"
    }
    fn verdict(&self, d: &DeviceFacts<'_>) -> Option<Verdict> {
        self.0
            .contains(&d.device_id.to_ascii_lowercase())
            .then(|| Verdict {
                action: Action::Allow,
                reason: "existed when the connector was enabled".into(),
                held: None,
            })
    }
}

/// A step of the decision order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Inventory,
    Rules,
    Grandfathered,
}

/// Grandfathering settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grandfathering {
    pub enabled: bool,
    /// Only devices Exchange allows right now (not those already blocked or quarantined).
    pub only_allowed: bool,
}

/// `Set-ActiveSyncOrganizationSettings` values from the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrganizationSettings {
    pub admin_mail_recipients: Option<Vec<String>>,
    pub user_mail_insert: Option<String>,
}

/// The ActiveSync mailbox policy to create or keep up to date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxPolicySpec {
    pub name: String,
    pub is_default: bool,
    /// Exchange parameter → value, over all groups.
    pub settings: Vec<(String, SettingValue)>,
}

/// Mailbox policy parameters by ConfigMgr's groups.
pub const POLICY_GROUPS: &[(&str, &[&str])] = &[
    (
        "general",
        &[
            "AllowNonProvisionableDevices",
            "DevicePolicyRefreshInterval",
            "IrmEnabled",
            "AllowDesktopSync",
            "AllowRemoteDesktop",
            "AllowInternetSharing",
            "RequireManualSyncWhenRoaming",
        ],
    ),
    (
        "password",
        &[
            "DevicePasswordEnabled",
            "AlphanumericDevicePasswordRequired",
            "PasswordRecoveryEnabled",
            "AllowSimpleDevicePassword",
            "MinDevicePasswordLength",
            "MaxInactivityTimeDeviceLock",
            "MaxDevicePasswordFailedAttempts",
            "DevicePasswordExpiration",
            "DevicePasswordHistory",
            "MinDevicePasswordComplexCharacters",
        ],
    ),
    (
        "email",
        &[
            "AttachmentsEnabled",
            "MaxAttachmentSize",
            "AllowHTMLEmail",
            "AllowPOPIMAPEmail",
            "AllowConsumerEmail",
            "MaxCalendarAgeFilter",
            "MaxEmailAgeFilter",
            "MaxEmailBodyTruncationSize",
            "MaxEmailHTMLBodyTruncationSize",
            "RequireSignedSMIMEMessages",
            "RequireEncryptedSMIMEMessages",
            "AllowSMIMESoftCerts",
            "WSSAccessEnabled",
            "UNCAccessEnabled",
            "AllowApplePushNotifications",
        ],
    ),
    (
        "security",
        &[
            "DeviceEncryptionEnabled",
            "RequireDeviceEncryption",
            "RequireStorageCardEncryption",
            "AllowStorageCard",
            "AllowCamera",
            "AllowWiFi",
            "AllowTextMessaging",
            "AllowIrDA",
            "AllowBluetooth",
            "AllowBrowser",
        ],
    ),
    (
        "application",
        &[
            "AllowUnsignedApplications",
            "AllowUnsignedInstallationPackages",
        ],
    ),
];

/// Notification settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationSettings {
    pub enabled: bool,
    /// `en`, `nl` or `fr`.
    pub language: String,
    /// Where users enroll their device (`http`/`https` only): a link in the quarantine mail.
    pub enroll_url: Option<url::Url>,
    /// The address the mail is sent as (EWS `From`); the notification account needs SendAs
    /// on it. `None`: the notification mailbox itself.
    pub send_as: Option<String>,
}

/// The whole policy, validated.
#[derive(Clone)]
pub struct AccessPolicy {
    pub precedence: Vec<Step>,
    pub default: Action,
    pub dry_run: bool,
    pub grandfathering: Grandfathering,
    pub inventory: Inventory,
    /// `[inventory.intune]`: Intune, asked before the inventory files; its snapshot is set
    /// by the driver before planning.
    pub intune: Option<intune::IntuneSource>,
    pub rules: RuleSet,
    pub organization: OrganizationSettings,
    pub mailbox_policy: Option<MailboxPolicySpec>,
    pub notifications: NotificationSettings,
    /// Write an audit line for every device on every sync, not only for changes.
    pub audit_unchanged: bool,
    /// When `Logs/decisions.jsonl` rotates and how many files are kept.
    pub audit_rotation: crate::logging::RotationPolicy,
    /// What to do when an Exchange device access rule would override a decision.
    pub rule_conflict: RuleConflict,
    /// FNV-1a digest of the policy text and the inventory files (changes trigger a full sync).
    pub digest: String,
}

impl std::fmt::Debug for AccessPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessPolicy")
            .field("precedence", &self.precedence)
            .field("default", &self.default)
            .field("rules", &self.rules.0.len())
            .field("inventory", &self.inventory.entries.len())
            .finish()
    }
}

/// A decision and which source made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    /// `inventory`, `rules`, `grandfathered` or `default`.
    pub source: String,
    pub reason: String,
    /// Not decided this time: the device is left as it is (see [`Verdict::held`]).
    pub held: Option<String>,
}

impl AccessPolicy {
    /// Decide one device: the steps in `precedence` order, then the default.
    pub fn decide(&self, d: &DeviceFacts<'_>, grandfathered: &Grandfathered<'_>) -> Decision {
        for step in &self.precedence {
            // The inventory step asks Intune first, then the files.
            let sources: [Option<&dyn ComplianceSource>; 2] = match step {
                Step::Inventory => [
                    self.intune.as_ref().map(|i| i as &dyn ComplianceSource),
                    Some(&self.inventory),
                ],
                Step::Rules => [Some(&self.rules), None],
                Step::Grandfathered => [Some(grandfathered), None],
            };
            for src in sources.into_iter().flatten() {
                if let Some(v) = src.verdict(d) {
                    return Decision {
                        action: v.action,
                        source: src.name().to_string(),
                        reason: v.reason,
                        held: v.held,
                    };
                }
            }
        }
        Decision {
            action: self.default,
            source: "default".into(),
            reason: "unknown device".into(),
            held: None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(Pattern::new("iOS 15*").matches("ios 15.8 19H370"));
        assert!(Pattern::new("*android*").matches("Android-Mail/1"));
        assert!(Pattern::new("iPhone").matches("IPHONE"));
        assert!(!Pattern::new("iPhone").matches("iPhone2"));
        assert!(Pattern::new("a*b*c").matches("aXbYc"));
        assert!(!Pattern::new("a*b*c").matches("aXbY"));
    }
}
