//! How the lab's cmdlets build Exchange objects, the one place CLIXML objects are made: type
//! name chains, adapted properties, `DateTime`s as PowerShell serializes them, Exchange's
//! `MultiValuedProperty`, distinguished names, `ExchangeVersion`, and the stable GUIDs the
//! lab derives from names and indices. The family modules list each object's properties
//! with these and build no object themselves.
//!
//! Its helpers run for every object of a listing (100 000 devices for a large org): they must
//! stay cheap (no lookup, no allocation per object beyond what the value needs), and must
//! only read the org.

use uuid::Uuid;

use crate::lab::org::{Device, ExchangeVersion, Org};
use crate::wire::clixml::{PsObject, Value};

/// `ConfigurableObject`, the base of every Exchange object.
const CONFIGURABLE: &str = "Microsoft.Exchange.Data.ConfigurableObject";

/// The base classes of a directory object (a mobile device).
pub const AD_OBJECT: &[&str] = &[
    "Microsoft.Exchange.Data.Directory.ADObject",
    "Microsoft.Exchange.Data.Directory.ADRawEntry",
    CONFIGURABLE,
    "System.Object",
];

/// The base classes of a configuration object (settings, rules, policies, device classes).
pub const AD_CONFIGURATION_OBJECT: &[&str] = &[
    "Microsoft.Exchange.Data.Directory.SystemConfiguration.ADConfigurationObject",
    "Microsoft.Exchange.Data.Directory.ADObject",
    "Microsoft.Exchange.Data.Directory.ADRawEntry",
    CONFIGURABLE,
    "System.Object",
];

/// The base classes of a presentation object (mailboxes, recipients, servers).
pub const AD_PRESENTATION_OBJECT: &[&str] = &[
    "Microsoft.Exchange.Data.Directory.Management.ADPresentationObject",
    CONFIGURABLE,
    "System.Object",
];

/// The base classes of an object computed by a task (device statistics).
pub const CONFIGURABLE_OBJECT: &[&str] = &[CONFIGURABLE, "System.Object"];

/// The base class of a .NET object that is no Exchange object (`Get-Command`'s).
pub const DOTNET_OBJECT: &[&str] = &["System.Object"];

/// An object of class `types` (most derived first) then `bases`, printed as `to_string`,
/// with these adapted properties in this order.
pub fn object(
    types: &[&str],
    bases: &[&str],
    to_string: String,
    props: Vec<(&str, Value)>,
) -> Value {
    let mut o = PsObject::new()
        .with_type_names(types.iter().chain(bases).copied())
        .with_to_string(to_string);
    for (k, v) in props {
        o = o.with_adapted(k, v);
    }
    Value::object(o)
}

/// A string.
pub fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

/// A string or `$null`.
pub fn opt_s(v: Option<String>) -> Value {
    v.map_or(Value::Nil, Value::String)
}

/// An Exchange `MultiValuedProperty` of strings.
pub fn mv(items: impl IntoIterator<Item = String>) -> Value {
    Value::list(
        [
            "Microsoft.Exchange.Data.MultiValuedProperty`1[[System.String, mscorlib, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089]]",
            "Microsoft.Exchange.Data.MultiValuedPropertyBase",
            "System.Object",
        ],
        items.into_iter().map(Value::String).collect(),
    )
}

/// A DateTime as PowerShell serializes a UTC `DateTime` (round-trip kind).
pub fn datetime(secs: i64) -> Value {
    let t =
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Value::DateTime(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// The `ExchangeVersion` property of the org's objects.
pub fn exchange_version(org: &Org) -> Value {
    s(if org.version >= ExchangeVersion::V2013 {
        "0.20 (15.0.0.0)"
    } else {
        "0.10 (14.0.100.0)"
    })
}

/// The org's domain as a DN (`DC=contoso,DC=test`).
pub fn dn_domain(org: &Org) -> String {
    org.domain
        .split('.')
        .map(|p| format!("DC={p}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The DN of a user's object (`CN=<name>,OU=Users,DC=…`).
pub fn user_dn(org: &Org, name: &str) -> String {
    format!("CN={name},OU=Users,{}", dn_domain(org))
}

/// The DN of an object in the org's configuration (`CN=<cn>,CN=<org>,…,CN=Configuration,…`).
pub fn org_config_dn(org: &Org, cn: &str) -> String {
    format!(
        "CN={cn},CN={},CN=Microsoft Exchange,CN=Services,CN=Configuration,{}",
        org.name,
        dn_domain(org)
    )
}

/// The DN of an object under Mobile Mailbox Settings (rules, policies, device classes).
pub fn mobile_config_dn(org: &Org, cn: &str) -> String {
    org_config_dn(org, &format!("{cn},CN=Mobile Mailbox Settings"))
}

/// A 32-bit FNV-1a hash (for error ids and named GUIDs).
pub fn short_hash(s: &str) -> u32 {
    s.bytes().fold(0x811C_9DC5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// A stable GUID for a device.
pub fn device_guid(d: &Device) -> Uuid {
    Uuid::from_u64_pair(
        d.id_number,
        d.id_number.rotate_left(23) ^ 0x4C41_4244_4556_0000,
    )
}

/// A stable GUID for the mailbox at `index`.
pub fn mailbox_guid(index: u32) -> Uuid {
    Uuid::from_u64_pair(
        0x4C41_424D_4258_0000 | u64::from(index),
        u64::from(index).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    )
}

/// A stable GUID for a configuration object named `name`.
pub fn named_guid(name: &str) -> Uuid {
    let h = u64::from(short_hash(name));
    Uuid::from_u64_pair(
        0x4C41_4243_4647_0000 ^ h,
        h.wrapping_mul(0x9E37_79B9_7F4A_7C15),
    )
}
