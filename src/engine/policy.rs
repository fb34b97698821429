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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::config::xmltree::line_column;
pub use crate::wire::exchange::SettingValue;
use crate::wire::exchange::{AccessLevel, DeviceAccessState};

/// The policy file's name in the organization folder.
pub const POLICY_FILE: &str = "AccessPolicy.toml";

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
    /// Exchange's `DeviceAccessState` now.
    pub access_state: DeviceAccessState,
}

/// A source's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub action: Action,
    /// Which rule or record decided, for people (`rule "Block old iOS"`, `inventory.csv:12`).
    pub reason: String,
}

/// Something that can say whether a device may sync: the policy file's inventory and rules
/// today, an MDM's API tomorrow.
pub trait ComplianceSource: Send + Sync {
    /// Short name written into the audit log (`inventory`, `rules`, …).
    fn name(&self) -> &str;
    /// The verdict, or `None` when this source knows nothing about the device.
    fn verdict(&self, device: &DeviceFacts<'_>) -> Option<Verdict>;
}

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
            })
        }
    }
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
    pub action: Action,
    pub line: usize,
}

impl Rule {
    pub fn matches(&self, d: &DeviceFacts<'_>) -> bool {
        let one = |p: &Option<Pattern>, v: &str| p.as_ref().is_none_or(|p| p.matches(v));
        one(&self.device_type, d.device_type)
            && one(&self.device_model, d.device_model)
            && one(&self.device_os, d.device_os)
            && one(&self.user_agent, d.user_agent)
            && (self.users.is_empty()
                || self.users.iter().any(|p| {
                    [d.user_smtp, d.user_alias, d.user_display_name]
                        .iter()
                        .any(|v| !v.is_empty() && p.matches(v))
                }))
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
        self.0.iter().find(|r| r.matches(d)).map(|r| Verdict {
            action: r.action,
            reason: format!("rule \"{}\" (line {})", r.name, r.line),
        })
    }
}

/// Devices allowed because they existed when the connector was first enabled.
#[derive(Debug, Clone, Default)]
pub struct Grandfathered(pub BTreeSet<String>);

impl ComplianceSource for Grandfathered {
    fn name(&self) -> &str {
        "grandfathered"
    }
    fn verdict(&self, d: &DeviceFacts<'_>) -> Option<Verdict> {
        self.0
            .contains(&d.device_id.to_ascii_lowercase())
            .then(|| Verdict {
                action: Action::Allow,
                reason: "existed when the connector was enabled".into(),
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
}

/// The whole policy, validated.
#[derive(Clone)]
pub struct AccessPolicy {
    pub precedence: Vec<Step>,
    pub default: Action,
    pub dry_run: bool,
    pub grandfathering: Grandfathering,
    pub inventory: Inventory,
    pub rules: RuleSet,
    pub organization: OrganizationSettings,
    pub mailbox_policy: Option<MailboxPolicySpec>,
    pub notifications: NotificationSettings,
    /// Write an audit line for every device on every sync, not only for changes.
    pub audit_unchanged: bool,
    /// FNV-1a digest of the policy text and the inventory files (changes trigger a full sync).
    pub digest: String,
}

/// FNV-1a, 64 bits: stable across builds (unlike `DefaultHasher`).
fn fnv(h: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *h ^= u64::from(*b);
        *h = h.wrapping_mul(0x0100_0000_01b3);
    }
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
}

impl AccessPolicy {
    /// Decide one device: the steps in `precedence` order, then the default.
    pub fn decide(&self, d: &DeviceFacts<'_>, grandfathered: &Grandfathered) -> Decision {
        for step in &self.precedence {
            let src: &dyn ComplianceSource = match step {
                Step::Inventory => &self.inventory,
                Step::Rules => &self.rules,
                Step::Grandfathered => grandfathered,
            };
            if let Some(v) = src.verdict(d) {
                return Decision {
                    action: v.action,
                    source: src.name().to_string(),
                    reason: v.reason,
                };
            }
        }
        Decision {
            action: self.default,
            source: "default".into(),
            reason: "unknown device".into(),
        }
    }

    /// Load and validate `<org_dir>/AccessPolicy.toml` and the inventory files it names.
    pub fn load(org_dir: &Path) -> Result<AccessPolicy, PolicyError> {
        let path = org_dir.join(POLICY_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PolicyError::Missing(path))
            }
            Err(e) => {
                return Err(PolicyError::Read {
                    path,
                    message: e.to_string(),
                })
            }
        };
        Self::parse(&text, &path, org_dir)
    }

    /// Parse policy text (`path` names it in messages; inventory files are relative to `dir`).
    pub fn parse(text: &str, path: &Path, dir: &Path) -> Result<AccessPolicy, PolicyError> {
        let at = |span: std::ops::Range<usize>, message: String| {
            let (line, column) = line_column(text, span.start);
            Problem {
                file: path.to_path_buf(),
                line,
                column,
                message,
            }
        };
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            PolicyError::Invalid(vec![at(
                e.span().unwrap_or(0..0),
                e.message().trim().to_string(),
            )])
        })?;
        let mut problems = Vec::new();
        let action = |s: &Spanned<String>, problems: &mut Vec<Problem>| {
            Action::parse(s.get_ref()).or_else(|| {
                problems.push(at(
                    s.span(),
                    format!(
                        "'{}' is not an action: use Allow, Block or Quarantine",
                        s.get_ref()
                    ),
                ));
                None
            })
        };
        let default = raw
            .default
            .as_ref()
            .and_then(|d| action(d, &mut problems))
            .unwrap_or(Action::Quarantine);
        let mut precedence = Vec::new();
        match &raw.precedence {
            None => precedence = vec![Step::Inventory, Step::Rules, Step::Grandfathered],
            Some(list) => {
                for s in list {
                    let step = match s.get_ref().to_ascii_lowercase().as_str() {
                        "inventory" => Some(Step::Inventory),
                        "rules" => Some(Step::Rules),
                        "grandfathered" => Some(Step::Grandfathered),
                        _ => None,
                    };
                    match step {
                        Some(st) if precedence.contains(&st) => problems.push(at(
                            s.span(),
                            format!("'{}' appears twice in precedence", s.get_ref()),
                        )),
                        Some(st) => precedence.push(st),
                        None => problems.push(at(
                            s.span(),
                            format!(
                                "'{}' is not a step: use inventory, rules and grandfathered (the default comes last)",
                                s.get_ref()
                            ),
                        )),
                    }
                }
            }
        }
        let mut rules = Vec::new();
        let mut names = BTreeSet::new();
        for r in raw.rule.unwrap_or_default() {
            let line = line_column(text, r.name.span().start).0;
            let name = r.name.get_ref().trim().to_string();
            if name.is_empty() {
                problems.push(at(r.name.span(), "a rule needs a name".into()));
            } else if !names.insert(name.to_lowercase()) {
                problems.push(at(r.name.span(), format!("two rules are named \"{name}\"")));
            }
            let Some(act) = action(&r.action, &mut problems) else {
                continue;
            };
            let pat = |p: &Option<Spanned<String>>, problems: &mut Vec<Problem>| {
                p.as_ref().and_then(|s| {
                    if s.get_ref().trim().is_empty() {
                        problems.push(at(
                            s.span(),
                            "an empty pattern matches nothing; remove it or use \"*\"".into(),
                        ));
                        None
                    } else {
                        Some(Pattern::new(s.get_ref()))
                    }
                })
            };
            let users: Vec<Pattern> = match &r.user {
                None => Vec::new(),
                Some(StringOrList::One(s)) => vec![Pattern::new(s)],
                Some(StringOrList::Many(v)) => v.iter().map(|s| Pattern::new(s)).collect(),
            };
            let rule = Rule {
                name,
                device_type: pat(&r.device_type, &mut problems),
                device_model: pat(&r.device_model, &mut problems),
                device_os: pat(&r.device_os, &mut problems),
                user_agent: pat(&r.user_agent, &mut problems),
                users,
                action: act,
                line,
            };
            if rule.device_type.is_none()
                && rule.device_model.is_none()
                && rule.device_os.is_none()
                && rule.user_agent.is_none()
                && rule.users.is_empty()
            {
                problems.push(at(
                    r.name.span(),
                    format!(
                        "rule \"{}\" matches nothing: give device_type, device_model, device_os, user_agent or user",
                        rule.name
                    ),
                ));
            }
            rules.push(rule);
        }
        let mut digest: u64 = 0xcbf2_9ce4_8422_2325;
        fnv(&mut digest, text.as_bytes());
        let mut inventory = Inventory::default();
        if let Some(inv) = raw.inventory {
            inventory.noncompliant = match &inv.noncompliant {
                Some(s) => action(s, &mut problems),
                None => Some(Action::Quarantine),
            };
            inventory.max_checkin_age_days = inv.max_checkin_age_days.unwrap_or(0);
            for f in inv.files.unwrap_or_default() {
                let file = dir.join(f.get_ref());
                match std::fs::read_to_string(&file) {
                    Ok(t) => {
                        fnv(&mut digest, t.as_bytes());
                        let (entries, mut p) = parse_inventory(&t, &file);
                        problems.append(&mut p);
                        for e in entries {
                            inventory
                                .entries
                                .insert(e.device_id.to_ascii_lowercase(), e);
                        }
                    }
                    Err(e) => problems.push(at(
                        f.span(),
                        format!("could not read {}: {e}", file.display()),
                    )),
                }
            }
            for d in inv.device.unwrap_or_default() {
                let line = line_column(text, d.id.span().start).0;
                let last_checkin = match &d.last_checkin {
                    None => None,
                    Some(s) => match parse_date(s.get_ref()) {
                        Some(t) => Some(t),
                        None => {
                            problems.push(at(
                                s.span(),
                                format!(
                                    "'{}' is not a date (use 2026-03-01 or RFC 3339)",
                                    s.get_ref()
                                ),
                            ));
                            None
                        }
                    },
                };
                inventory.entries.insert(
                    d.id.get_ref().to_ascii_lowercase(),
                    InventoryEntry {
                        device_id: d.id.get_ref().clone(),
                        user: d.user.unwrap_or_default(),
                        compliant: d.compliant,
                        last_checkin,
                        origin: format!("{POLICY_FILE}:{line}"),
                    },
                );
            }
        }
        let mut organization = OrganizationSettings::default();
        if let Some(o) = raw.organization {
            organization.admin_mail_recipients = o.admin_mail_recipients;
            organization.user_mail_insert = o.user_mail_insert;
        }
        let mailbox_policy = raw.mailbox_policy.map(|mp| {
            let mut settings = Vec::new();
            for (group, table) in [
                ("general", mp.general),
                ("password", mp.password),
                ("email", mp.email),
                ("security", mp.security),
                ("application", mp.application),
            ] {
                let known = POLICY_GROUPS
                    .iter()
                    .find(|(g, _)| *g == group)
                    .map(|(_, k)| *k)
                    .unwrap_or_default();
                for (k, v) in table.unwrap_or_default() {
                    let Some(canonical) = known.iter().find(|n| n.eq_ignore_ascii_case(&k)) else {
                        let span = v.span();
                        problems.push(at(
                            span,
                            format!(
                                "'{k}' is not a setting of [mailbox_policy.{group}]; known: {}",
                                known.join(", ")
                            ),
                        ));
                        continue;
                    };
                    let value = match v.get_ref() {
                        toml::Value::Boolean(b) => SettingValue::Bool(*b),
                        toml::Value::Integer(n) => match i32::try_from(*n) {
                            Ok(n) => SettingValue::Int(n),
                            Err(_) => {
                                problems.push(at(v.span(), format!("{k}: {n} is too large")));
                                continue;
                            }
                        },
                        toml::Value::String(s) => SettingValue::Text(s.clone()),
                        _ => {
                            problems.push(at(
                                v.span(),
                                format!("{k}: use true/false, a number or a string"),
                            ));
                            continue;
                        }
                    };
                    settings.push((canonical.to_string(), value));
                }
            }
            MailboxPolicySpec {
                name: mp.name.unwrap_or_else(|| "EAS Connector".into()),
                is_default: mp.is_default.unwrap_or(false),
                settings,
            }
        });
        let notifications = match raw.notifications {
            None => NotificationSettings {
                enabled: true,
                language: "en".into(),
            },
            Some(n) => {
                let language = match &n.language {
                    None => "en".to_string(),
                    Some(l) => {
                        let v = l.get_ref().to_ascii_lowercase();
                        if !["en", "nl", "fr"].contains(&v.as_str()) {
                            problems.push(at(
                                l.span(),
                                format!(
                                    "language '{}' has no templates: use en, nl or fr",
                                    l.get_ref()
                                ),
                            ));
                        }
                        v
                    }
                };
                NotificationSettings {
                    enabled: n.enabled.unwrap_or(true),
                    language,
                }
            }
        };
        let grandfathering = match raw.grandfathering {
            None => Grandfathering {
                enabled: false,
                only_allowed: true,
            },
            Some(g) => Grandfathering {
                enabled: g.enabled,
                only_allowed: g.only_allowed.unwrap_or(true),
            },
        };
        if !problems.is_empty() {
            problems.sort_by_key(|p| (p.file.clone(), p.line, p.column));
            return Err(PolicyError::Invalid(problems));
        }
        Ok(AccessPolicy {
            precedence,
            default,
            dry_run: raw.dry_run.unwrap_or(false),
            grandfathering,
            inventory,
            rules: RuleSet(rules),
            organization,
            mailbox_policy,
            notifications,
            audit_unchanged: raw.audit.and_then(|a| a.log_unchanged).unwrap_or(false),
            digest: format!("{digest:016x}"),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    precedence: Option<Vec<Spanned<String>>>,
    default: Option<Spanned<String>>,
    dry_run: Option<bool>,
    grandfathering: Option<RawGrandfathering>,
    inventory: Option<RawInventory>,
    rule: Option<Vec<RawRule>>,
    organization: Option<RawOrganization>,
    mailbox_policy: Option<RawMailboxPolicy>,
    notifications: Option<RawNotifications>,
    audit: Option<RawAudit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrandfathering {
    enabled: bool,
    only_allowed: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInventory {
    files: Option<Vec<Spanned<String>>>,
    noncompliant: Option<Spanned<String>>,
    max_checkin_age_days: Option<u32>,
    device: Option<Vec<RawDevice>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    id: Spanned<String>,
    user: Option<String>,
    compliant: bool,
    last_checkin: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Spanned<String>,
    action: Spanned<String>,
    device_type: Option<Spanned<String>>,
    device_model: Option<Spanned<String>>,
    device_os: Option<Spanned<String>>,
    user_agent: Option<Spanned<String>>,
    user: Option<StringOrList>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrganization {
    admin_mail_recipients: Option<Vec<String>>,
    user_mail_insert: Option<String>,
}

type RawSettings = Option<BTreeMap<String, Spanned<toml::Value>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMailboxPolicy {
    name: Option<String>,
    is_default: Option<bool>,
    general: RawSettings,
    password: RawSettings,
    email: RawSettings,
    security: RawSettings,
    application: RawSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotifications {
    enabled: Option<bool>,
    language: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    log_unchanged: Option<bool>,
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

/// An example policy, documented, for `eas-connector policy example`.
pub const EXAMPLE: &str = r#"# AccessPolicy.toml: which ActiveSync devices may sync with Exchange.
# Check it with: eas-connector policy check

# Order of the deciding steps; the first with an answer wins, `default` comes last.
precedence = ["inventory", "rules", "grandfathered"]
# Devices nothing else decides on: Allow, Block or Quarantine.
default = "Quarantine"
# true: compute and report every change, enforce nothing.
dry_run = false

[grandfathering]
# Allow the devices that exist when the connector is first enabled.
enabled = true
only_allowed = true          # only those Exchange allows at that moment

[inventory]
# MDM exports (CSV or JSON) in this folder: EAS device id, user, compliant, last check-in.
# files = ["inventory.csv"]
noncompliant = "Block"       # managed but not compliant
max_checkin_age_days = 30    # older check-ins count as not compliant (0: ignore)

[[inventory.device]]
id = "ApplF17XK2LMN0QR"
user = "anna@contoso.com"
compliant = true
last_checkin = "2026-03-01"

[[rule]]
name = "Old iOS"
device_os = "iOS 15*"
action = "Block"

[[rule]]
name = "Board members"
user = ["ceo@contoso.com", "cfo@contoso.com"]
action = "Allow"

[organization]
admin_mail_recipients = ["helpdesk@contoso.com"]
user_mail_insert = "Enroll your device at https://mdm.contoso.com first."

[mailbox_policy]
name = "EAS Connector"
is_default = false
[mailbox_policy.password]
DevicePasswordEnabled = true
MinDevicePasswordLength = 6
[mailbox_policy.security]
RequireDeviceEncryption = true

[notifications]
enabled = true
language = "en"              # en, nl or fr; files in Templates/ override the built-ins
"#;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn facts<'a>(id: &'a str, os: &'a str, smtp: &'a str) -> DeviceFacts<'a> {
        DeviceFacts {
            device_id: id,
            device_type: "iPhone",
            device_model: "iPhone15C2",
            device_os: os,
            user_agent: "Apple-iPhone15C2/2104.219",
            user_display_name: "Anna",
            user_alias: "anna",
            user_smtp: smtp,
            access_state: DeviceAccessState::Allowed,
        }
    }

    #[test]
    fn wildcards() {
        assert!(Pattern::new("iOS 15*").matches("ios 15.8 19H370"));
        assert!(Pattern::new("*android*").matches("Android-Mail/1"));
        assert!(Pattern::new("iPhone").matches("IPHONE"));
        assert!(!Pattern::new("iPhone").matches("iPhone2"));
        assert!(Pattern::new("a*b*c").matches("aXbYc"));
        assert!(!Pattern::new("a*b*c").matches("aXbY"));
    }

    #[test]
    fn example_parses_and_decides_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("inventory.csv"),
            "EAS device id,User,Compliant,Last check-in\nDEV1,a@x,yes,2099-01-01\nDEV2,b@x,no,2099-01-01\n",
        )
        .unwrap();
        // As printed, the example works with no inventory file; with its `files` line on, it
        // reads the CSV too.
        let p = AccessPolicy::parse(EXAMPLE, Path::new("AccessPolicy.toml"), dir.path()).unwrap();
        assert_eq!(p.inventory.entries.len(), 1);
        let with_files = EXAMPLE.replace("# files = ", "files = ");
        let p =
            AccessPolicy::parse(&with_files, Path::new("AccessPolicy.toml"), dir.path()).unwrap();
        assert_eq!(p.inventory.entries.len(), 3);
        let g = Grandfathered(["old1".to_string()].into());
        let d = p.decide(&facts("DEV1", "iOS 15.8", "a@x"), &g);
        assert_eq!((d.action, d.source.as_str()), (Action::Allow, "inventory"));
        let d = p.decide(&facts("DEV2", "iOS 17", "b@x"), &g);
        assert_eq!((d.action, d.source.as_str()), (Action::Block, "inventory"));
        let d = p.decide(&facts("X", "iOS 15.8", "c@x"), &g);
        assert_eq!((d.action, d.source.as_str()), (Action::Block, "rules"));
        let d = p.decide(&facts("X", "iOS 17", "CEO@contoso.com"), &g);
        assert_eq!(d.action, Action::Allow);
        let d = p.decide(&facts("OLD1", "iOS 17", "z@x"), &g);
        assert_eq!(
            (d.action, d.source.as_str()),
            (Action::Allow, "grandfathered")
        );
        let d = p.decide(&facts("NEW", "iOS 17", "z@x"), &g);
        assert_eq!(
            (d.action, d.source.as_str()),
            (Action::Quarantine, "default")
        );
        let ms = p.mailbox_policy.unwrap();
        assert_eq!(ms.settings.len(), 3);
    }

    #[test]
    fn problems_have_lines() {
        let text = "default = \"Maybe\"\n\n[[rule]]\nname = \"r\"\naction = \"Allow\"\n\n[[rule]]\nname = \"s\"\ndevice_os = \"x\"\naction = \"Nope\"\n[mailbox_policy.password]\nMinPasswordLenght = 4\n";
        let e = AccessPolicy::parse(text, Path::new("P.toml"), Path::new(".")).unwrap_err();
        let PolicyError::Invalid(p) = e else { panic!() };
        let lines: Vec<usize> = p.iter().map(|x| x.line).collect();
        assert_eq!(lines, vec![1, 4, 10, 12], "{p:?}");
        assert!(p[1].message.contains("matches nothing"));
        assert!(p[3].message.contains("MinPasswordLenght"));
        let e =
            AccessPolicy::parse("defualt = 1\n", Path::new("P.toml"), Path::new(".")).unwrap_err();
        let PolicyError::Invalid(p) = e else { panic!() };
        assert_eq!((p[0].line, p[0].column), (1, 1), "{p:?}");
        assert!(p[0].message.contains("defualt"), "{p:?}");
    }

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
