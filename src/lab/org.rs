//! The lab's simulated Exchange organization: mailboxes, ActiveSync devices, organization
//! settings, device access rules, mailbox policies and distribution/security groups (nested,
//! cycles allowed as in Active Directory), in memory.
//!
//! Everything is generated deterministically from a seed, compactly enough that 100 000
//! devices take a few megabytes (a device's strings are looked up from tables, not stored).
//! Access states follow Exchange's order: the mailbox's blocked list, then its allowed list,
//! then device access rules (model, then type, OS, user agent), then the organization's
//! `DefaultAccessLevel`. This module knows nothing about protocols; it must not do I/O.

use std::collections::HashMap;

use crate::wire::exchange::{
    AccessLevel, DeviceAccessCharacteristic, DeviceAccessState, DeviceAccessStateReason,
    DeviceIdentity, MultiValuedUpdate,
};

/// Seconds since the Unix epoch at which the lab's history ends (2026-11-01T00:00:00Z);
/// generated first/last sync times lie before it.
pub const LAB_EPOCH: i64 = 1_793_491_200;

/// A small deterministic generator (SplitMix64), so a seed gives the same org on every
/// platform and every version.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Exchange versions the lab can pretend to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum ExchangeVersion {
    V2010,
    V2013,
    V2016,
    V2019,
}

impl ExchangeVersion {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "2010" => ExchangeVersion::V2010,
            "2013" => ExchangeVersion::V2013,
            "2016" => ExchangeVersion::V2016,
            "2019" => ExchangeVersion::V2019,
            _ => return None,
        })
    }
    /// `AdminDisplayVersion` as Get-ExchangeServer prints it.
    pub fn admin_display_version(self) -> &'static str {
        match self {
            ExchangeVersion::V2010 => "Version 14.3 (Build 123.4)",
            ExchangeVersion::V2013 => "Version 15.0 (Build 1497.2)",
            ExchangeVersion::V2016 => "Version 15.1 (Build 2507.6)",
            ExchangeVersion::V2019 => "Version 15.2 (Build 1118.7)",
        }
    }
    /// The `MS-Server-ActiveSync` header value.
    pub fn activesync_server_version(self) -> &'static str {
        match self {
            ExchangeVersion::V2010 => "14.3",
            ExchangeVersion::V2013 => "15.0",
            ExchangeVersion::V2016 => "15.1",
            ExchangeVersion::V2019 => "15.20",
        }
    }
    /// The `MS-ASProtocolVersions` header value.
    pub fn activesync_protocol_versions(self) -> &'static str {
        match self {
            ExchangeVersion::V2010 => "2.0,2.1,2.5,12.0,12.1,14.0,14.1",
            _ => "2.0,2.1,2.5,12.0,12.1,14.0,14.1,16.0,16.1",
        }
    }
    /// Whether the `Get-MobileDevice` family exists (2013 and later).
    pub fn has_mobile_device_cmdlets(self) -> bool {
        self >= ExchangeVersion::V2013
    }
}

/// Exchange evaluates model rules before type, OS and user-agent rules.
fn precedence(c: DeviceAccessCharacteristic) -> u8 {
    match c {
        DeviceAccessCharacteristic::DeviceModel => 0,
        DeviceAccessCharacteristic::DeviceType => 1,
        DeviceAccessCharacteristic::DeviceOS => 2,
        DeviceAccessCharacteristic::UserAgent => 3,
    }
}

/// An `ActiveSyncDeviceAccessRule`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeviceAccessRule {
    pub query_string: String,
    pub characteristic: DeviceAccessCharacteristic,
    pub access_level: AccessLevel,
}

impl DeviceAccessRule {
    /// Exchange names a rule `QueryString (DeviceAccessCharacteristic)`.
    pub fn name(&self) -> String {
        format!("{} ({})", self.query_string, self.characteristic.as_str())
    }
}

/// An `ActiveSyncMailboxPolicy` / `MobileDeviceMailboxPolicy`: a name and its settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MailboxPolicy {
    pub name: String,
    pub is_default: bool,
    /// Setting name → value as text (e.g. `DevicePasswordEnabled` → `True`).
    pub settings: Vec<(String, String)>,
}

/// `Get-ActiveSyncOrganizationSettings`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OrgSettings {
    pub default_access_level: AccessLevel,
    pub admin_mail_recipients: Vec<String>,
    pub user_mail_insert: String,
}

/// One kind of phone or mail app: the strings Exchange reports for it.
#[derive(Debug, Clone, Copy)]
pub struct DeviceKind {
    pub device_type: &'static str,
    pub model: &'static str,
    pub os: &'static str,
    pub user_agent: &'static str,
    pub friendly_name: &'static str,
    /// Prefix of generated device ids.
    pub id_prefix: &'static str,
    /// Relative frequency.
    pub weight: u32,
}

/// The device mix of the lab: iOS, Android, Outlook and Windows Mail.
pub const DEVICE_KINDS: &[DeviceKind] = &[
    DeviceKind {
        device_type: "iPhone",
        model: "iPhone15C2",
        os: "iOS 17.4 21E219",
        user_agent: "Apple-iPhone15C2/2104.219",
        friendly_name: "iPhone",
        id_prefix: "Appl",
        weight: 30,
    },
    DeviceKind {
        device_type: "iPhone",
        model: "iPhone14C5",
        os: "iOS 16.7 20H19",
        user_agent: "Apple-iPhone14C5/2008.19",
        friendly_name: "iPhone",
        id_prefix: "Appl",
        weight: 14,
    },
    DeviceKind {
        device_type: "iPad",
        model: "iPad13C1",
        os: "iOS 17.3 21D50",
        user_agent: "Apple-iPad13C1/2103.50",
        friendly_name: "iPad",
        id_prefix: "Appl",
        weight: 6,
    },
    DeviceKind {
        device_type: "SAMSUNGSMS918B",
        model: "SM-S918B",
        os: "Android 14.0.0",
        user_agent: "Android-SAMSUNG-SM-S918B/101.40101",
        friendly_name: "Galaxy S23 Ultra",
        id_prefix: "SEC",
        weight: 12,
    },
    DeviceKind {
        device_type: "Android",
        model: "Pixel 8",
        os: "Android 14",
        user_agent: "Android-Mail/2024.03.10.613513498",
        friendly_name: "Pixel 8",
        id_prefix: "androidc",
        weight: 8,
    },
    DeviceKind {
        device_type: "Android",
        model: "SM-A546B",
        os: "Android 13",
        user_agent: "Nine/4.9.4b",
        friendly_name: "Galaxy A54",
        id_prefix: "android",
        weight: 4,
    },
    DeviceKind {
        device_type: "Outlook",
        model: "Outlook for iOS and Android",
        os: "OutlookBasicAuth",
        user_agent: "Outlook-iOS-Android/1.0",
        friendly_name: "Outlook",
        id_prefix: "",
        weight: 18,
    },
    DeviceKind {
        device_type: "WindowsMail",
        model: "WINDOWSMAIL",
        os: "Windows 10.0.19045",
        user_agent: "MSFT-WIN-3/10.0.19045",
        friendly_name: "Mail",
        id_prefix: "",
        weight: 6,
    },
    DeviceKind {
        device_type: "iPhone",
        model: "iPhone12C1",
        os: "iOS 15.8 19H370",
        user_agent: "Apple-iPhone12C1/1908.370",
        friendly_name: "iPhone",
        id_prefix: "Appl",
        weight: 2,
    },
];

const FIRST: &[&str] = &[
    "Anna", "Bram", "Chloe", "Daan", "Emma", "Finn", "Gwen", "Hugo", "Ines", "Jan", "Kim", "Lars",
    "Mila", "Noah", "Olivia", "Pieter", "Quinn", "Ruben", "Sara", "Tom", "Ursula", "Victor",
    "Wendy", "Xavier", "Yara", "Zoe", "Camille", "Louis", "Manon", "Lucas",
];
const LAST: &[&str] = &[
    "de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Vos", "Peters",
    "Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Lefebvre", "Garcia", "Roux", "Fournier",
    "Girard", "Smith", "Jones", "Taylor", "Brown", "Wilson",
];

/// A mailbox with its ActiveSync lists.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub alias: String,
    pub display_name: String,
    pub primary_smtp: String,
    pub activesync_enabled: bool,
    pub allowed: Vec<String>,
    pub blocked: Vec<String>,
    /// The mailbox's policy name; `None` means the default policy.
    pub policy: Option<String>,
    /// Index of the first device of this mailbox and how many it has (devices are stored
    /// grouped by mailbox).
    pub first_device: u32,
    pub device_count: u32,
}

/// A device, compactly: strings are derived from its kind and id number.
#[derive(Debug, Clone, Copy)]
pub struct Device {
    pub mailbox: u32,
    pub kind: u8,
    /// Distinguishes two devices of one mailbox; also the source of the device id.
    pub id_number: u64,
    pub first_sync: i64,
    pub last_sync: i64,
    pub when_changed: i64,
    pub state: DeviceAccessState,
    pub reason: DeviceAccessStateReason,
    /// Index into the rules when `reason` is `DeviceRule`.
    pub rule: Option<u16>,
}

/// What a device looks like to a caller.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeviceView {
    pub index: u32,
    pub device_id: String,
    pub device_type: &'static str,
    pub model: &'static str,
    pub os: &'static str,
    pub user_agent: &'static str,
    pub friendly_name: &'static str,
    pub mailbox_alias: String,
    pub user_display_name: String,
    pub primary_smtp: String,
    pub first_sync: i64,
    pub last_sync: i64,
    pub when_changed: i64,
    pub state: DeviceAccessState,
    pub reason: DeviceAccessStateReason,
    pub rule_name: Option<String>,
    pub identity: String,
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum GroupMember {
    /// A mailbox, by index.
    Mailbox(u32),
    /// A nested group, by alias.
    Group(String),
}

/// A mail-enabled distribution or security group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Group {
    pub name: String,
    pub alias: String,
    pub primary_smtp: String,
    /// A mail-enabled security group (else a distribution group).
    pub security: bool,
    /// Direct members.
    pub members: Vec<GroupMember>,
}

impl Group {
    /// Exchange's `RecipientType` for it.
    pub fn recipient_type(&self) -> &'static str {
        if self.security {
            "MailUniversalSecurityGroup"
        } else {
            "MailUniversalDistributionGroup"
        }
    }
}

/// The whole organization.
#[derive(Debug, Clone)]
pub struct Org {
    pub name: String,
    pub domain: String,
    pub version: ExchangeVersion,
    pub mailboxes: Vec<Mailbox>,
    pub devices: Vec<Device>,
    pub settings: OrgSettings,
    pub rules: Vec<DeviceAccessRule>,
    pub policies: Vec<MailboxPolicy>,
    /// Remote wipes requested with `Clear-MobileDevice`, oldest first.
    pub wipes: Vec<WipeRequest>,
    pub groups: Vec<Group>,
    alias_index: HashMap<String, u32>,
}

/// A remote wipe request (`Clear-MobileDevice` / `Clear-ActiveSyncDevice`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WipeRequest {
    pub device_id: String,
    pub mailbox_alias: String,
    pub requested_at: i64,
    /// The account that asked (`LAB\alias`).
    pub requested_by: String,
}

/// Mailbox policy settings Exchange knows, with the value a new policy gets. Names outside
/// this list are refused like an unknown cmdlet parameter.
pub const POLICY_SETTINGS: &[(&str, &str)] = &[
    ("AllowNonProvisionableDevices", "True"),
    ("AlphanumericDevicePasswordRequired", "False"),
    ("AttachmentsEnabled", "True"),
    ("DeviceEncryptionEnabled", "False"),
    ("RequireStorageCardEncryption", "False"),
    ("DevicePasswordEnabled", "False"),
    ("PasswordRecoveryEnabled", "False"),
    ("DevicePolicyRefreshInterval", "Unlimited"),
    ("AllowSimpleDevicePassword", "True"),
    ("MaxAttachmentSize", "Unlimited"),
    ("WSSAccessEnabled", "True"),
    ("UNCAccessEnabled", "True"),
    ("MinDevicePasswordLength", ""),
    ("MaxInactivityTimeDeviceLock", "Unlimited"),
    ("MaxDevicePasswordFailedAttempts", "Unlimited"),
    ("DevicePasswordExpiration", "Unlimited"),
    ("DevicePasswordHistory", "0"),
    ("MinDevicePasswordComplexCharacters", "1"),
    ("AllowStorageCard", "True"),
    ("AllowCamera", "True"),
    ("RequireDeviceEncryption", "False"),
    ("AllowUnsignedApplications", "True"),
    ("AllowUnsignedInstallationPackages", "True"),
    ("AllowWiFi", "True"),
    ("AllowTextMessaging", "True"),
    ("AllowPOPIMAPEmail", "True"),
    ("AllowIrDA", "True"),
    ("RequireManualSyncWhenRoaming", "False"),
    ("AllowDesktopSync", "True"),
    ("AllowHTMLEmail", "True"),
    ("RequireSignedSMIMEMessages", "False"),
    ("RequireEncryptedSMIMEMessages", "False"),
    ("AllowSMIMESoftCerts", "True"),
    ("AllowBrowser", "True"),
    ("AllowConsumerEmail", "True"),
    ("AllowRemoteDesktop", "True"),
    ("AllowInternetSharing", "True"),
    ("AllowBluetooth", "Allow"),
    ("MaxCalendarAgeFilter", "All"),
    ("MaxEmailAgeFilter", "All"),
    ("MaxEmailBodyTruncationSize", "Unlimited"),
    ("MaxEmailHTMLBodyTruncationSize", "Unlimited"),
    ("IrmEnabled", "True"),
    ("AllowApplePushNotifications", "True"),
];

/// Why an org change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgError {
    #[error("The operation couldn't be performed because object '{0}' couldn't be found.")]
    NotFound(String),
    #[error("An object with the identity '{0}' already exists.")]
    AlreadyExists(String),
    #[error("{0}")]
    Invalid(String),
}

/// Replace or add settings, matching names case-insensitively and keeping Exchange's spelling.
fn merge_settings(into: &mut Vec<(String, String)>, from: &[(String, String)]) {
    for (k, v) in from {
        match into.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(k)) {
            Some(slot) => slot.1 = v.clone(),
            None => into.push((k.clone(), v.clone())),
        }
    }
}

fn weighted_kind(rng: &mut SplitMix) -> u8 {
    let total: u32 = DEVICE_KINDS.iter().map(|k| k.weight).sum();
    let mut pick = rng.below(u64::from(total)) as u32;
    for (i, k) in DEVICE_KINDS.iter().enumerate() {
        if pick < k.weight {
            return i as u8;
        }
        pick -= k.weight;
    }
    0
}

impl Org {
    /// Generate an organization with `device_count` devices from `seed`.
    pub fn generate(seed: u64, device_count: u32, version: ExchangeVersion) -> Org {
        let mut rng = SplitMix::new(seed);
        let domain = "contoso.test".to_string();
        let mut mailboxes = Vec::new();
        let mut devices = Vec::with_capacity(device_count as usize);
        let mut alias_index = HashMap::new();
        // The notification mailbox and the service account's mailbox exist, with no devices.
        for (alias, display) in [
            ("eas-notify", "EAS Notifications"),
            ("svc-eas", "EAS Connector Service"),
        ] {
            alias_index.insert(alias.to_string(), mailboxes.len() as u32);
            mailboxes.push(Mailbox {
                alias: alias.to_string(),
                display_name: display.to_string(),
                primary_smtp: format!("{alias}@{domain}"),
                activesync_enabled: true,
                allowed: Vec::new(),
                blocked: Vec::new(),
                policy: None,
                first_device: 0,
                device_count: 0,
            });
        }
        let mut n = 0u32;
        let mut user = 0usize;
        while n < device_count {
            let first = FIRST[user % FIRST.len()];
            let last = LAST[(user / FIRST.len()) % LAST.len()];
            let round = user / (FIRST.len() * LAST.len());
            let base = format!(
                "{}.{}",
                first.to_lowercase(),
                last.replace(' ', "").to_lowercase()
            );
            let alias = if round == 0 {
                base
            } else {
                format!("{base}{round}")
            };
            let display_name = if round == 0 {
                format!("{first} {last}")
            } else {
                format!("{first} {last} {round}")
            };
            // Most people have one device, many two, some three.
            let want = match rng.below(10) {
                0..=4 => 1,
                5..=8 => 2,
                _ => 3,
            }
            .min(device_count - n);
            let mailbox = mailboxes.len() as u32;
            alias_index.insert(alias.clone(), mailbox);
            mailboxes.push(Mailbox {
                primary_smtp: format!("{alias}@{domain}"),
                alias,
                display_name,
                activesync_enabled: true,
                allowed: Vec::new(),
                blocked: Vec::new(),
                policy: None,
                first_device: n,
                device_count: want,
            });
            for _ in 0..want {
                let first_sync = LAB_EPOCH - 86_400 * 30 - rng.below(86_400 * 700) as i64;
                let last_sync = LAB_EPOCH - rng.below(86_400 * 20) as i64;
                devices.push(Device {
                    mailbox,
                    kind: weighted_kind(&mut rng),
                    id_number: rng.next_u64(),
                    first_sync,
                    last_sync,
                    when_changed: last_sync.max(first_sync),
                    state: DeviceAccessState::Allowed,
                    reason: DeviceAccessStateReason::Global,
                    rule: None,
                });
                n += 1;
            }
            user += 1;
        }
        let mut org = Org {
            name: "Contoso Lab".to_string(),
            domain,
            version,
            mailboxes,
            devices,
            settings: OrgSettings {
                default_access_level: AccessLevel::Allow,
                admin_mail_recipients: Vec::new(),
                user_mail_insert: String::new(),
            },
            rules: Vec::new(),
            policies: vec![MailboxPolicy {
                name: "Default".to_string(),
                is_default: true,
                settings: vec![
                    ("DevicePasswordEnabled".into(), "False".into()),
                    ("AllowSimpleDevicePassword".into(), "True".into()),
                    ("MinDevicePasswordLength".into(), String::new()),
                    ("MaxInactivityTimeDeviceLock".into(), "Unlimited".into()),
                    ("AllowNonProvisionableDevices".into(), "True".into()),
                ],
            }],
            wipes: Vec::new(),
            groups: Vec::new(),
            alias_index,
        };
        org.groups = org.generated_groups();
        org.reevaluate_all(None);
        org
    }

    /// Two groups that nest each other (as Active Directory allows): "Sales" (a
    /// distribution group: every 7th person and "Field Sales") and "Field Sales" (a security
    /// group: every 11th person and "Sales").
    fn generated_groups(&self) -> Vec<Group> {
        let people = |every: usize, at: usize| {
            (2..self.mailboxes.len())
                .filter(move |i| i % every == at)
                .map(|i| GroupMember::Mailbox(i as u32))
        };
        let group = |name: &str, alias: &str, security: bool, members: Vec<GroupMember>| Group {
            name: name.into(),
            alias: alias.into(),
            primary_smtp: format!("{alias}@{}", self.domain),
            security,
            members,
        };
        vec![
            group(
                "Sales",
                "sales",
                false,
                people(7, 2)
                    .chain([GroupMember::Group("field-sales".into())])
                    .collect(),
            ),
            group(
                "Field Sales",
                "field-sales",
                true,
                people(11, 5)
                    .chain([GroupMember::Group("sales".into())])
                    .collect(),
            ),
        ]
    }

    /// The group with this name, alias, SMTP address or canonical name (`domain/Users/Name`).
    pub fn find_group(&self, identity: &str) -> Option<&Group> {
        let id = identity.trim();
        let id = match id.rsplit_once('/') {
            Some((ou, name)) if ou.to_ascii_lowercase().starts_with(&self.domain) => name,
            _ => id,
        };
        self.groups.iter().find(|g| {
            [&g.name, &g.alias, &g.primary_smtp]
                .iter()
                .any(|n| n.eq_ignore_ascii_case(id))
        })
    }

    /// Every mailbox in a group, through nested groups (each group once), by index.
    pub fn group_mailboxes(&self, identity: &str) -> Option<std::collections::BTreeSet<u32>> {
        let first = self.find_group(identity)?;
        let mut out = std::collections::BTreeSet::new();
        let mut seen = std::collections::BTreeSet::new();
        let mut stack = vec![first];
        while let Some(g) = stack.pop() {
            if !seen.insert(g.alias.to_lowercase()) {
                continue;
            }
            for m in &g.members {
                match m {
                    GroupMember::Mailbox(i) => {
                        out.insert(*i);
                    }
                    GroupMember::Group(a) => stack.extend(self.find_group(a)),
                }
            }
        }
        Some(out)
    }

    /// Device id as Exchange reports it, e.g. `ApplF1A2B3C4D5E6` or 32 hex digits.
    pub fn device_id(&self, d: &Device) -> String {
        let kind = &DEVICE_KINDS[usize::from(d.kind) % DEVICE_KINDS.len()];
        if kind.id_prefix.is_empty() {
            format!(
                "{:016X}{:016X}",
                d.id_number,
                d.id_number.rotate_left(29) ^ 0x5DEE_CE66
            )
        } else {
            format!("{}{:012X}", kind.id_prefix, d.id_number >> 16)
        }
    }

    pub fn kind(&self, d: &Device) -> &'static DeviceKind {
        &DEVICE_KINDS[usize::from(d.kind) % DEVICE_KINDS.len()]
    }

    /// The mailbox with this alias, SMTP address, display name, canonical name
    /// (`domain/Users/Name`) or `DOMAIN\alias`.
    pub fn find_mailbox(&self, identity: &str) -> Option<u32> {
        let id = identity.trim();
        let alias = id
            .rsplit('\\')
            .next()
            .unwrap_or(id)
            .split('@')
            .next()
            .unwrap_or(id)
            .to_lowercase();
        if let Some(&i) = self.alias_index.get(&alias) {
            return Some(i);
        }
        // The canonical name Exchange prints as a mailbox's Identity: `domain/Users/Name`.
        let id = match id.rsplit_once('/') {
            Some((ou, name)) if ou.to_ascii_lowercase().starts_with(&self.domain) => name,
            _ => id,
        };
        self.mailboxes
            .iter()
            .position(|m| {
                m.display_name.eq_ignore_ascii_case(id) || m.primary_smtp.eq_ignore_ascii_case(id)
            })
            .map(|i| i as u32)
    }

    /// Index of a device by its device id, optionally within one mailbox.
    pub fn find_device(&self, device_id: &str) -> Option<u32> {
        self.devices
            .iter()
            .position(|d| self.device_id(d).eq_ignore_ascii_case(device_id))
            .map(|i| i as u32)
    }

    /// The Exchange identity of a device:
    /// `<domain>/Users/<Name>/ExchangeActiveSyncDevices/<Type>§<DeviceId>`.
    pub fn device_identity(&self, d: &Device) -> String {
        let m = &self.mailboxes[d.mailbox as usize];
        DeviceIdentity {
            mailbox: &format!("{}/Users/{}", self.domain, m.display_name),
            device: &format!("{}§{}", self.kind(d).device_type, self.device_id(d)),
        }
        .to_string()
    }

    pub fn view(&self, index: u32) -> Option<DeviceView> {
        let d = self.devices.get(index as usize)?;
        let m = &self.mailboxes[d.mailbox as usize];
        let k = self.kind(d);
        Some(DeviceView {
            index,
            device_id: self.device_id(d),
            device_type: k.device_type,
            model: k.model,
            os: k.os,
            user_agent: k.user_agent,
            friendly_name: k.friendly_name,
            mailbox_alias: m.alias.clone(),
            user_display_name: m.display_name.clone(),
            primary_smtp: m.primary_smtp.clone(),
            first_sync: d.first_sync,
            last_sync: d.last_sync,
            when_changed: d.when_changed,
            state: d.state,
            reason: d.reason,
            rule_name: d
                .rule
                .and_then(|r| self.rules.get(usize::from(r)))
                .map(|r| r.name()),
            identity: self.device_identity(d),
        })
    }

    /// What Exchange would decide for a device now.
    fn evaluate(&self, d: &Device) -> (DeviceAccessState, DeviceAccessStateReason, Option<u16>) {
        let m = &self.mailboxes[d.mailbox as usize];
        let id = self.device_id(d);
        if m.blocked.iter().any(|b| b.eq_ignore_ascii_case(&id)) {
            return (
                DeviceAccessState::Blocked,
                DeviceAccessStateReason::Individual,
                None,
            );
        }
        if m.allowed.iter().any(|a| a.eq_ignore_ascii_case(&id)) {
            return (
                DeviceAccessState::Allowed,
                DeviceAccessStateReason::Individual,
                None,
            );
        }
        let k = self.kind(d);
        let mut best: Option<(u8, usize)> = None;
        for (i, r) in self.rules.iter().enumerate() {
            let value = match r.characteristic {
                DeviceAccessCharacteristic::DeviceModel => k.model,
                DeviceAccessCharacteristic::DeviceType => k.device_type,
                DeviceAccessCharacteristic::DeviceOS => k.os,
                DeviceAccessCharacteristic::UserAgent => k.user_agent,
            };
            if value.eq_ignore_ascii_case(&r.query_string) {
                let p = precedence(r.characteristic);
                if best.is_none_or(|(bp, _)| p < bp) {
                    best = Some((p, i));
                }
            }
        }
        if let Some((_, i)) = best {
            return (
                DeviceAccessState::of_level(self.rules[i].access_level),
                DeviceAccessStateReason::DeviceRule,
                Some(i as u16),
            );
        }
        (
            DeviceAccessState::of_level(self.settings.default_access_level),
            DeviceAccessStateReason::Global,
            None,
        )
    }

    /// Recompute access states (of one mailbox's devices, or all), stamping `WhenChanged` with
    /// `now` where a state changed. Returns how many changed.
    pub fn reevaluate(&mut self, mailbox: Option<u32>, now: i64) -> usize {
        let range = match mailbox {
            Some(m) => {
                let mb = &self.mailboxes[m as usize];
                mb.first_device as usize..(mb.first_device + mb.device_count) as usize
            }
            None => 0..self.devices.len(),
        };
        let mut changed = 0;
        for i in range {
            let (state, reason, rule) = self.evaluate(&self.devices[i]);
            let d = &mut self.devices[i];
            if d.state != state || d.reason != reason || d.rule != rule {
                d.state = state;
                d.reason = reason;
                d.rule = rule;
                d.when_changed = d.when_changed.max(now);
                changed += 1;
            }
        }
        changed
    }

    fn reevaluate_all(&mut self, now: Option<i64>) {
        let now = now.unwrap_or(i64::MIN);
        self.reevaluate(None, now);
    }

    /// `Set-CASMailbox -ActiveSyncAllowedDeviceIDs/-ActiveSyncBlockedDeviceIDs`: replace a list
    /// (`replace = Some`) and/or add and remove entries.
    pub fn update_device_list(
        &mut self,
        mailbox: u32,
        blocked: bool,
        change: &MultiValuedUpdate,
        now: i64,
    ) -> usize {
        let m = &mut self.mailboxes[mailbox as usize];
        change.apply(if blocked {
            &mut m.blocked
        } else {
            &mut m.allowed
        });
        self.reevaluate(Some(mailbox), now)
    }

    pub fn set_default_access_level(&mut self, level: AccessLevel, now: i64) -> usize {
        self.settings.default_access_level = level;
        self.reevaluate(None, now)
    }

    pub fn add_rule(&mut self, rule: DeviceAccessRule, now: i64) -> Result<usize, OrgError> {
        if self.rules.iter().any(|r| {
            r.characteristic == rule.characteristic
                && r.query_string.eq_ignore_ascii_case(&rule.query_string)
        }) {
            return Err(OrgError::AlreadyExists(rule.name()));
        }
        self.rules.push(rule);
        Ok(self.reevaluate(None, now))
    }

    fn rule_index(&self, identity: &str) -> Result<usize, OrgError> {
        self.rules
            .iter()
            .position(|r| r.name().eq_ignore_ascii_case(identity.trim()))
            .ok_or_else(|| OrgError::NotFound(identity.to_string()))
    }

    pub fn set_rule_level(
        &mut self,
        identity: &str,
        level: AccessLevel,
        now: i64,
    ) -> Result<usize, OrgError> {
        let i = self.rule_index(identity)?;
        self.rules[i].access_level = level;
        Ok(self.reevaluate(None, now))
    }

    pub fn remove_rule(&mut self, identity: &str, now: i64) -> Result<usize, OrgError> {
        let i = self.rule_index(identity)?;
        self.rules.remove(i);
        // Rule indices after `i` shift; recompute everything against the new list.
        for d in &mut self.devices {
            d.rule = None;
        }
        Ok(self.reevaluate(None, now))
    }

    /// Simulate activity: `count` devices (spread over the org, chosen from `seed`) sync, so
    /// their `LastSuccessSync` and `WhenChanged` move to `now`. Returns their indices.
    pub fn touch_devices(&mut self, count: usize, seed: u64, now: i64) -> Vec<u32> {
        let n = self.devices.len();
        if n == 0 {
            return Vec::new();
        }
        let mut rng = SplitMix::new(seed);
        let mut picked = std::collections::BTreeSet::new();
        while picked.len() < count.min(n) {
            picked.insert(rng.below(n as u64) as u32);
        }
        for &i in &picked {
            let d = &mut self.devices[i as usize];
            d.last_sync = now;
            d.when_changed = now;
        }
        picked.into_iter().collect()
    }

    /// Remove a device (`Remove-MobileDevice`): its mailbox keeps its other devices, indices
    /// after it shift down by one.
    pub fn remove_device(&mut self, index: u32) -> Result<(), OrgError> {
        let i = index as usize;
        let Some(d) = self.devices.get(i).copied() else {
            return Err(OrgError::NotFound(index.to_string()));
        };
        self.devices.remove(i);
        for (mi, m) in self.mailboxes.iter_mut().enumerate() {
            if mi == d.mailbox as usize {
                m.device_count = m.device_count.saturating_sub(1);
            } else if m.first_device > index {
                m.first_device -= 1;
            }
        }
        Ok(())
    }

    /// Record a remote wipe for a device (`Clear-MobileDevice`); stamps `WhenChanged`.
    pub fn request_wipe(&mut self, index: u32, by: &str, now: i64) -> Result<(), OrgError> {
        let Some(d) = self.devices.get(index as usize).copied() else {
            return Err(OrgError::NotFound(index.to_string()));
        };
        let device_id = self.device_id(&d);
        let mailbox_alias = self
            .mailboxes
            .get(d.mailbox as usize)
            .map(|m| m.alias.clone())
            .unwrap_or_default();
        self.wipes.push(WipeRequest {
            device_id,
            mailbox_alias,
            requested_at: now,
            requested_by: by.to_string(),
        });
        if let Some(d) = self.devices.get_mut(index as usize) {
            d.when_changed = d.when_changed.max(now);
        }
        Ok(())
    }

    /// The latest wipe request for a device id.
    pub fn wipe_for(&self, device_id: &str) -> Option<&WipeRequest> {
        self.wipes
            .iter()
            .rev()
            .find(|w| w.device_id.eq_ignore_ascii_case(device_id))
    }

    /// Index of a mailbox policy by name.
    pub fn policy_index(&self, name: &str) -> Result<usize, OrgError> {
        self.policies
            .iter()
            .position(|p| p.name.eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| OrgError::NotFound(name.to_string()))
    }

    /// `New-MobileDeviceMailboxPolicy`: a policy with Exchange's defaults, then `settings`.
    pub fn add_policy(
        &mut self,
        name: &str,
        is_default: bool,
        settings: &[(String, String)],
    ) -> Result<(), OrgError> {
        if self.policy_index(name).is_ok() {
            return Err(OrgError::AlreadyExists(name.to_string()));
        }
        let mut p = MailboxPolicy {
            name: name.to_string(),
            is_default: false,
            settings: POLICY_SETTINGS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        merge_settings(&mut p.settings, settings);
        self.policies.push(p);
        if is_default {
            self.set_default_policy(name)?;
        }
        Ok(())
    }

    /// `Set-MobileDeviceMailboxPolicy`.
    pub fn update_policy(
        &mut self,
        name: &str,
        is_default: Option<bool>,
        settings: &[(String, String)],
    ) -> Result<(), OrgError> {
        let i = self.policy_index(name)?;
        if let Some(p) = self.policies.get_mut(i) {
            merge_settings(&mut p.settings, settings);
        }
        if is_default == Some(true) {
            self.set_default_policy(name)?;
        }
        Ok(())
    }

    fn set_default_policy(&mut self, name: &str) -> Result<(), OrgError> {
        let i = self.policy_index(name)?;
        for (j, p) in self.policies.iter_mut().enumerate() {
            p.is_default = j == i;
        }
        Ok(())
    }

    /// `Remove-MobileDeviceMailboxPolicy`: the default policy cannot be removed while it is
    /// the default; mailboxes that used the policy fall back to the default.
    pub fn remove_policy(&mut self, name: &str) -> Result<(), OrgError> {
        let i = self.policy_index(name)?;
        if self.policies.get(i).is_some_and(|p| p.is_default) {
            return Err(OrgError::Invalid(format!(
                "The mobile device mailbox policy \"{name}\" can't be removed because it's the default policy. Set another policy as the default first."
            )));
        }
        let removed = self.policies.remove(i);
        for m in &mut self.mailboxes {
            if m.policy
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case(&removed.name))
            {
                m.policy = None;
            }
        }
        Ok(())
    }

    /// The name of the policy a mailbox gets (its own, else the default).
    pub fn effective_policy(&self, mailbox: u32) -> Option<&str> {
        self.mailboxes
            .get(mailbox as usize)
            .and_then(|m| m.policy.as_deref())
            .or_else(|| {
                self.policies
                    .iter()
                    .find(|p| p.is_default)
                    .map(|p| p.name.as_str())
            })
    }

    /// Counts of devices per access state.
    pub fn state_counts(&self) -> HashMap<DeviceAccessState, usize> {
        let mut c = HashMap::new();
        for d in &self.devices {
            *c.entry(d.state).or_insert(0) += 1;
        }
        c
    }

    /// Bytes the org takes in memory, roughly (for the lab's start-up report).
    pub fn approx_heap_bytes(&self) -> usize {
        let mailbox_bytes: usize = self
            .mailboxes
            .iter()
            .map(|m| {
                std::mem::size_of::<Mailbox>()
                    + m.alias.capacity()
                    + m.display_name.capacity()
                    + m.primary_smtp.capacity()
                    + m.allowed
                        .iter()
                        .chain(&m.blocked)
                        .map(|s| s.capacity() + 24)
                        .sum::<usize>()
            })
            .sum();
        mailbox_bytes
            + self.devices.capacity() * std::mem::size_of::<Device>()
            + self.alias_index.capacity() * 48
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::exchange::ListUpdate;

    fn adding(id: &str) -> MultiValuedUpdate {
        MultiValuedUpdate::Update(ListUpdate::adding([id.to_string()]))
    }

    fn removing(id: &str) -> MultiValuedUpdate {
        MultiValuedUpdate::Update(ListUpdate::removing([id.to_string()]))
    }

    #[test]
    fn generation_is_deterministic_and_sized() {
        let a = Org::generate(7, 500, ExchangeVersion::V2019);
        let b = Org::generate(7, 500, ExchangeVersion::V2019);
        let c = Org::generate(8, 500, ExchangeVersion::V2019);
        assert_eq!(a.devices.len(), 500);
        let ids = |o: &Org| o.devices.iter().map(|d| o.device_id(d)).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        assert_ne!(ids(&a), ids(&c));
        let unique: std::collections::HashSet<_> = ids(&a).into_iter().collect();
        assert_eq!(unique.len(), 500, "device ids are unique");
        let types: std::collections::HashSet<_> =
            a.devices.iter().map(|d| a.kind(d).device_type).collect();
        assert!(types.len() >= 5, "{types:?}");
        for m in &a.mailboxes {
            for i in m.first_device..m.first_device + m.device_count {
                assert_eq!(
                    a.devices[i as usize].mailbox as usize,
                    a.find_mailbox(&m.alias).unwrap() as usize
                );
            }
        }
    }

    #[test]
    fn access_state_follows_exchange_precedence() {
        let mut o = Org::generate(1, 50, ExchangeVersion::V2016);
        let now = LAB_EPOCH + 10;
        assert!(o
            .devices
            .iter()
            .all(|d| d.state == DeviceAccessState::Allowed
                && d.reason == DeviceAccessStateReason::Global));
        o.set_default_access_level(AccessLevel::Quarantine, now);
        assert!(o
            .devices
            .iter()
            .all(|d| d.state == DeviceAccessState::Quarantined && d.when_changed == now));
        let d0 = o.devices[0];
        let kind = o.kind(&d0);
        o.add_rule(
            DeviceAccessRule {
                query_string: kind.device_type.into(),
                characteristic: DeviceAccessCharacteristic::DeviceType,
                access_level: AccessLevel::Block,
            },
            now,
        )
        .unwrap();
        assert_eq!(o.devices[0].state, DeviceAccessState::Blocked);
        assert_eq!(o.devices[0].reason, DeviceAccessStateReason::DeviceRule);
        // A model rule wins over a type rule.
        o.add_rule(
            DeviceAccessRule {
                query_string: kind.model.into(),
                characteristic: DeviceAccessCharacteristic::DeviceModel,
                access_level: AccessLevel::Allow,
            },
            now,
        )
        .unwrap();
        assert_eq!(o.devices[0].state, DeviceAccessState::Allowed);
        assert_eq!(
            o.view(0).unwrap().rule_name.unwrap(),
            format!("{} (DeviceModel)", kind.model)
        );
        // The mailbox lists win over rules; blocked wins over allowed.
        let id = o.device_id(&d0);
        o.update_device_list(d0.mailbox, true, &adding(&id), now);
        assert_eq!(
            (o.devices[0].state, o.devices[0].reason),
            (
                DeviceAccessState::Blocked,
                DeviceAccessStateReason::Individual
            )
        );
        o.update_device_list(d0.mailbox, false, &adding(&id), now);
        assert_eq!(o.devices[0].state, DeviceAccessState::Blocked);
        o.update_device_list(d0.mailbox, true, &removing(&id), now);
        assert_eq!(
            (o.devices[0].state, o.devices[0].reason),
            (
                DeviceAccessState::Allowed,
                DeviceAccessStateReason::Individual
            )
        );
        assert!(o
            .add_rule(
                DeviceAccessRule {
                    query_string: kind.model.into(),
                    characteristic: DeviceAccessCharacteristic::DeviceModel,
                    access_level: AccessLevel::Block
                },
                now
            )
            .is_err());
        o.remove_rule(&format!("{} (DeviceModel)", kind.model), now)
            .unwrap();
        assert!(o.remove_rule("nope (DeviceType)", now).is_err());
    }

    #[test]
    fn touch_moves_when_changed() {
        let mut o = Org::generate(3, 1000, ExchangeVersion::V2019);
        let now = LAB_EPOCH + 1000;
        let touched = o.touch_devices(50, 9, now);
        assert_eq!(touched.len(), 50);
        assert_eq!(
            o.devices.iter().filter(|d| d.when_changed == now).count(),
            50
        );
    }

    #[test]
    fn a_hundred_thousand_devices_fit_in_little_memory() {
        let o = Org::generate(42, 100_000, ExchangeVersion::V2019);
        assert_eq!(o.devices.len(), 100_000);
        assert!(
            o.approx_heap_bytes() < 64 * 1024 * 1024,
            "{}",
            o.approx_heap_bytes()
        );
    }
}
