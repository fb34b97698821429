//! Exchange's vocabulary for ActiveSync access, as types: what a device's access state and
//! its reason are, which access level a rule or the organization applies, what a device
//! access rule matches on, which mailbox a device identity belongs to, how a multi-valued
//! property changes (`@{Add=…; Remove=…}`), a mailbox policy setting's value, and OPATH
//! filters ([`opath`]).
//!
//! One definition serves the connector's client (parsing what Exchange answers), its engine
//! (deciding without comparing strings) and the lab (rendering what Exchange would send).
//! Names and numbers are Exchange's own (`Microsoft.Exchange.Data.Directory.
//! SystemConfiguration`); parsing accepts either, in any case. No I/O, and no policy: what a
//! state means for the connector's decisions belongs to the engine.

pub mod opath;

use core::fmt;

use crate::clixml::{Collection, Value};

/// A name or number that is not one of an Exchange enumeration's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{text}\" is not a {type_name} (one of: {expected})")]
pub struct UnknownValue {
    pub type_name: &'static str,
    pub text: String,
    pub expected: String,
}

/// An Exchange enumeration: the variants with their names and numbers, and the conversions
/// every one of them needs (text, number, CLIXML, serde as the name).
macro_rules! exchange_enum {
    (
        $(#[$meta:meta])*
        $name:ident = $type_name:literal {
            $($(#[$vmeta:meta])* $variant:ident = $number:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in Exchange's numeric order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];
            /// The .NET type name Exchange serializes it with.
            pub const TYPE_NAME: &'static str = $type_name;

            /// Exchange's name for it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($variant),)+
                }
            }

            /// Exchange's number for it.
            pub fn number(self) -> i32 {
                match self {
                    $($name::$variant => $number,)+
                }
            }

            /// From Exchange's name (any case) or number.
            pub fn parse(text: &str) -> Option<Self> {
                let text = text.trim();
                match text.parse::<i32>() {
                    Ok(n) => Self::ALL.iter().copied().find(|v| v.number() == n),
                    Err(_) => Self::ALL
                        .iter()
                        .copied()
                        .find(|v| v.as_str().eq_ignore_ascii_case(text)),
                }
            }

            /// From a CLIXML property: an enum object (its label, else its number), a
            /// string or a number.
            pub fn from_value(v: &Value) -> Option<Self> {
                enum_text(v).as_deref().and_then(Self::parse)
            }

            /// As Exchange serializes it: an enum object with its label and number.
            pub fn to_value(self) -> Value {
                Value::enumeration(Self::TYPE_NAME, self.as_str(), self.number())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl core::str::FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                Self::parse(s).ok_or_else(|| UnknownValue {
                    type_name: stringify!($name),
                    text: s.to_string(),
                    expected: Self::ALL
                        .iter()
                        .map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// The text of an enum-valued property: an enum object's label (its `ToString`), else its
/// number; a plain string or number as it is.
fn enum_text(v: &Value) -> Option<String> {
    match v {
        Value::Object(o) => o.to_string.clone().or_else(|| {
            o.base
                .as_ref()
                .and_then(|b| b.as_i64().map(|n| n.to_string()))
        }),
        other => other
            .as_str()
            .map(str::to_string)
            .or_else(|| other.as_i64().map(|n| n.to_string())),
    }
}

exchange_enum! {
    /// `DeviceAccessState`: where Exchange has put a device.
    DeviceAccessState = "Microsoft.Exchange.Data.Directory.SystemConfiguration.DeviceAccessState" {
        Unknown = 0,
        Allowed = 1,
        Blocked = 2,
        Quarantined = 3,
        /// Seen for the first time; Exchange is still deciding.
        DeviceDiscovery = 4,
    }
}

exchange_enum! {
    /// `DeviceAccessStateReason`: why Exchange put a device there.
    DeviceAccessStateReason =
        "Microsoft.Exchange.Data.Directory.SystemConfiguration.DeviceAccessStateReason" {
        Unknown = 0,
        /// The organization's `DefaultAccessLevel`.
        Global = 1,
        /// The mailbox's allowed or blocked device list.
        Individual = 2,
        /// A device access rule.
        DeviceRule = 3,
        Upgrade = 4,
        /// The mailbox policy (e.g. devices that cannot apply it).
        Policy = 5,
        // The autoblock thresholds' behaviours (ActiveSyncDeviceAutoblockThreshold).
        UserAgentsChanges = 6,
        RecentCommands = 7,
        Watsons = 8,
        OutOfBudgets = 9,
        SyncCommands = 10,
        EnableNotificationEmail = 11,
        CommandFrequency = 12,
    }
}

exchange_enum! {
    /// `DeviceAccessLevel`: what a device access rule or the organization default does.
    AccessLevel = "Microsoft.Exchange.Data.Directory.SystemConfiguration.DeviceAccessLevel" {
        Allow = 0,
        Block = 1,
        Quarantine = 2,
    }
}

exchange_enum! {
    /// `DeviceAccessCharacteristic`: what a device access rule matches on.
    DeviceAccessCharacteristic =
        "Microsoft.Exchange.Data.Directory.SystemConfiguration.DeviceAccessCharacteristic" {
        DeviceType = 0,
        DeviceModel = 1,
        DeviceOS = 2,
        UserAgent = 3,
    }
}

impl DeviceAccessState {
    /// The state a level puts a device in.
    pub fn of_level(level: AccessLevel) -> DeviceAccessState {
        match level {
            AccessLevel::Allow => DeviceAccessState::Allowed,
            AccessLevel::Block => DeviceAccessState::Blocked,
            AccessLevel::Quarantine => DeviceAccessState::Quarantined,
        }
    }

    /// The level this state is the result of (`None` for `Unknown` and `DeviceDiscovery`).
    pub fn level(self) -> Option<AccessLevel> {
        match self {
            DeviceAccessState::Allowed => Some(AccessLevel::Allow),
            DeviceAccessState::Blocked => Some(AccessLevel::Block),
            DeviceAccessState::Quarantined => Some(AccessLevel::Quarantine),
            DeviceAccessState::Unknown | DeviceAccessState::DeviceDiscovery => None,
        }
    }
}

/// A device's identity as Exchange writes it: the mailbox's identity, then
/// `ExchangeActiveSyncDevices`, then the device's own name
/// (`contoso.com/Users/Kim/ExchangeActiveSyncDevices/iPhone§ApplF17…`; Exchange 2010 may use
/// backslashes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceIdentity<'a> {
    /// The mailbox's identity (`contoso.com/Users/Kim`).
    pub mailbox: &'a str,
    /// The device's container name (`iPhone§ApplF17…`).
    pub device: &'a str,
}

impl<'a> DeviceIdentity<'a> {
    /// The container between the mailbox and the device.
    pub const CONTAINER: &'static str = "ExchangeActiveSyncDevices";

    /// `None` when the text has no `ExchangeActiveSyncDevices` part.
    pub fn parse(identity: &'a str) -> Option<DeviceIdentity<'a>> {
        [
            "/ExchangeActiveSyncDevices/",
            "\\ExchangeActiveSyncDevices\\",
        ]
        .into_iter()
        .find_map(|sep| identity.split_once(sep))
        .map(|(mailbox, device)| DeviceIdentity { mailbox, device })
    }
}

impl fmt::Display for DeviceIdentity<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.mailbox, Self::CONTAINER, self.device)
    }
}

/// A mailbox policy setting's value (`DevicePasswordEnabled`, `MinDevicePasswordLength`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingValue {
    Bool(bool),
    Int(i32),
    Text(String),
}

impl SettingValue {
    /// As Exchange prints it (`True`, `6`, `All`).
    pub fn text(&self) -> String {
        match self {
            SettingValue::Bool(true) => "True".into(),
            SettingValue::Bool(false) => "False".into(),
            SettingValue::Int(n) => n.to_string(),
            SettingValue::Text(s) => s.clone(),
        }
    }

    /// As a cmdlet parameter.
    pub fn to_value(&self) -> Value {
        match self {
            SettingValue::Bool(b) => Value::Bool(*b),
            SettingValue::Int(n) => Value::Int32(*n),
            SettingValue::Text(s) => Value::String(s.clone()),
        }
    }
}

/// A change to a multi-valued property (`ActiveSyncAllowedDeviceIDs`, …): entries to add and
/// entries to remove, everything else left as it is. Exchange compares entries without
/// regard to case.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ListUpdate {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

impl ListUpdate {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }

    /// Whether `entry` is added or removed.
    pub fn touches(&self, entry: &str) -> bool {
        self.add
            .iter()
            .chain(&self.remove)
            .any(|x| x.eq_ignore_ascii_case(entry))
    }

    /// The smallest update that makes `entry` present in (`want`) or absent from `list`.
    pub fn put(&mut self, list: &[String], entry: &str, want: bool) {
        let present = list.iter().any(|x| x.eq_ignore_ascii_case(entry));
        match (present, want) {
            (false, true) => self.add.push(entry.to_string()),
            (true, false) => self.remove.push(entry.to_string()),
            _ => {}
        }
    }

    /// Adding `entries`.
    pub fn adding(entries: impl IntoIterator<Item = String>) -> ListUpdate {
        ListUpdate {
            add: entries.into_iter().collect(),
            remove: Vec::new(),
        }
    }

    /// Removing `entries`.
    pub fn removing(entries: impl IntoIterator<Item = String>) -> ListUpdate {
        ListUpdate {
            add: Vec::new(),
            remove: entries.into_iter().collect(),
        }
    }

    /// `list` with the update applied: additions first (an entry already present is not
    /// added twice), then removals, entries compared without regard to case.
    pub fn apply(&self, list: &mut Vec<String>) {
        for a in &self.add {
            if !list.iter().any(|x| x.eq_ignore_ascii_case(a)) {
                list.push(a.clone());
            }
        }
        list.retain(|x| !self.remove.iter().any(|r| r.eq_ignore_ascii_case(x)));
    }

    /// As PowerShell sends it: `@{Add=…; Remove=…}` with only the non-empty halves.
    pub fn to_value(&self) -> Value {
        let list =
            |items: &[String]| Value::array(items.iter().cloned().map(Value::String).collect());
        let mut entries: Vec<(&str, Value)> = Vec::new();
        if !self.add.is_empty() {
            entries.push(("Add", list(&self.add)));
        }
        if !self.remove.is_empty() {
            entries.push(("Remove", list(&self.remove)));
        }
        Value::hashtable(entries)
    }
}

/// A new value for a multi-valued property parameter: a whole new list, or an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiValuedUpdate {
    Replace(Vec<String>),
    Update(ListUpdate),
}

/// A hash table for a multi-valued property with a key other than `Add` and `Remove`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the hash table may contain only the keys Add and Remove, not \"{key}\"")]
pub struct NotAListUpdate {
    pub key: String,
}

impl MultiValuedUpdate {
    /// From a parameter's value: a hash table (`@{Add=…; Remove=…}`, also `+`/`-`) is an
    /// update, anything else the new list, with `entries` turning a value into its entries
    /// (how a single value or a list binds is the binder's business).
    pub fn from_value(
        v: &Value,
        entries: impl Fn(&Value) -> Vec<String>,
        key_text: impl Fn(&Value) -> String,
    ) -> Result<MultiValuedUpdate, NotAListUpdate> {
        let Some(Some(Collection::Dictionary(pairs))) = v.as_object().map(|o| &o.collection) else {
            return Ok(MultiValuedUpdate::Replace(entries(v)));
        };
        let mut u = ListUpdate::default();
        for (k, val) in pairs {
            let key = key_text(k);
            match key.to_ascii_lowercase().as_str() {
                "add" | "+" => u.add.extend(entries(val)),
                "remove" | "-" => u.remove.extend(entries(val)),
                _ => return Err(NotAListUpdate { key }),
            }
        }
        Ok(MultiValuedUpdate::Update(u))
    }

    /// `list` after the change.
    pub fn apply(&self, list: &mut Vec<String>) {
        match self {
            MultiValuedUpdate::Replace(new) => list.clone_from(new),
            MultiValuedUpdate::Update(u) => u.apply(list),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn enums_parse_names_in_any_case_and_numbers() {
        assert_eq!(
            DeviceAccessState::parse("quarantined"),
            Some(DeviceAccessState::Quarantined)
        );
        assert_eq!(
            DeviceAccessState::parse("4"),
            Some(DeviceAccessState::DeviceDiscovery)
        );
        assert_eq!(
            DeviceAccessStateReason::parse("Individual"),
            Some(DeviceAccessStateReason::Individual)
        );
        assert_eq!(
            DeviceAccessStateReason::parse("12"),
            Some(DeviceAccessStateReason::CommandFrequency)
        );
        assert_eq!(AccessLevel::parse("BLOCK"), Some(AccessLevel::Block));
        assert_eq!(AccessLevel::parse("Blocked"), None);
        assert_eq!(AccessLevel::parse("7"), None);
        let e = "Maybe".parse::<AccessLevel>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"Maybe\" is not a AccessLevel (one of: Allow, Block, Quarantine)"
        );
    }

    #[test]
    fn every_value_survives_text_number_clixml_and_serde() {
        for &s in DeviceAccessState::ALL {
            assert_eq!(DeviceAccessState::parse(s.as_str()), Some(s));
            assert_eq!(DeviceAccessState::parse(&s.number().to_string()), Some(s));
            assert_eq!(DeviceAccessState::from_value(&s.to_value()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<DeviceAccessState>(&json).unwrap(), s);
        }
        for &r in DeviceAccessStateReason::ALL {
            assert_eq!(DeviceAccessStateReason::from_value(&r.to_value()), Some(r));
        }
        for &l in AccessLevel::ALL {
            assert_eq!(AccessLevel::from_value(&l.to_value()), Some(l));
            assert_eq!(DeviceAccessState::of_level(l).level(), Some(l));
        }
        for &c in DeviceAccessCharacteristic::ALL {
            assert_eq!(
                DeviceAccessCharacteristic::from_value(&c.to_value()),
                Some(c)
            );
        }
        // Numbers are distinct within each type (a typo in the table would collide).
        let mut n: Vec<i32> = DeviceAccessStateReason::ALL
            .iter()
            .map(|r| r.number())
            .collect();
        n.dedup();
        assert_eq!(n.len(), DeviceAccessStateReason::ALL.len());
    }

    #[test]
    fn an_enum_object_without_a_label_is_read_by_its_number() {
        let mut v = DeviceAccessState::Blocked.to_value();
        if let Value::Object(o) = &mut v {
            o.to_string = None;
        }
        assert_eq!(
            DeviceAccessState::from_value(&v),
            Some(DeviceAccessState::Blocked)
        );
        assert_eq!(
            DeviceAccessState::from_value(&Value::String("Allowed".into())),
            Some(DeviceAccessState::Allowed)
        );
        assert_eq!(DeviceAccessState::from_value(&Value::Nil), None);
    }

    #[test]
    fn device_identities_split_at_the_container() {
        let id =
            DeviceIdentity::parse("contoso.com/Users/Kim/ExchangeActiveSyncDevices/iPhone§Appl1")
                .unwrap();
        assert_eq!(id.mailbox, "contoso.com/Users/Kim");
        assert_eq!(id.device, "iPhone§Appl1");
        assert_eq!(
            id.to_string(),
            "contoso.com/Users/Kim/ExchangeActiveSyncDevices/iPhone§Appl1"
        );
        let id =
            DeviceIdentity::parse(r"CONTOSO\Kim\ExchangeActiveSyncDevices\Android§A1").unwrap();
        assert_eq!(id.mailbox, r"CONTOSO\Kim");
        assert_eq!(DeviceIdentity::parse("Kim"), None);
        assert_eq!(
            DeviceIdentity::parse("a/ExchangeActiveSyncDevicesX/b"),
            None
        );
    }

    #[test]
    fn list_updates_are_minimal_and_apply_without_regard_to_case() {
        let list = vec!["A1".to_string(), "keep".to_string()];
        let mut u = ListUpdate::default();
        u.put(&list, "a1", true);
        u.put(&list, "N", true);
        u.put(&list, "KEEP", false);
        u.put(&list, "gone", false);
        assert_eq!(u.add, vec!["N"]);
        assert_eq!(u.remove, vec!["KEEP"]);
        assert!(u.touches("n") && u.touches("keep") && !u.touches("A1"));
        let mut l = list.clone();
        u.apply(&mut l);
        assert_eq!(l, vec!["A1", "N"]);
        // Applying twice changes nothing more.
        u.apply(&mut l);
        assert_eq!(l, vec!["A1", "N"]);
        // An entry both added and removed ends up absent.
        let both = ListUpdate {
            add: vec!["X".into()],
            remove: vec!["x".into()],
        };
        both.apply(&mut l);
        assert_eq!(l, vec!["A1", "N"]);
    }

    #[test]
    fn list_updates_send_only_what_changes_and_read_back() {
        let u = ListUpdate {
            add: vec!["A1".into()],
            remove: Vec::new(),
        };
        let v = u.to_value();
        let json = v.to_json().to_string();
        assert!(json.contains("Add") && !json.contains("Remove"), "{json}");
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let items = |v: &Value| match v.items() {
            Some(items) => items.iter().map(text).collect(),
            None => vec![text(v)],
        };
        assert_eq!(
            MultiValuedUpdate::from_value(&v, items, text).unwrap(),
            MultiValuedUpdate::Update(u)
        );
        let replace = Value::String("X".into());
        assert_eq!(
            MultiValuedUpdate::from_value(&replace, items, text).unwrap(),
            MultiValuedUpdate::Replace(vec!["X".into()])
        );
        let bad = Value::hashtable([("Replace", Value::String("X".into()))]);
        assert_eq!(
            MultiValuedUpdate::from_value(&bad, items, text)
                .unwrap_err()
                .key,
            "Replace"
        );
    }
}
