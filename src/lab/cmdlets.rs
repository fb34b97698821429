//! The Exchange cmdlets the lab runs for `/PowerShell`: parameter binding, role checks, and
//! execution over the in-memory [`Org`], producing CLIXML objects shaped like Exchange's
//! (type names, adapted properties with Exchange's names and types) and Exchange's error
//! records.
//!
//! The runspace is in no-language mode like Exchange's: only commands run, scripts are refused.
//! A cmdlet the caller's roles do not grant does not exist for that caller (as with RBAC's
//! proxy runspace). Large results are not rendered up front: a [`Lazy`] keeps the matching
//! indices and renders objects page by page, so 100 000 devices never sit in memory as
//! objects. This module knows nothing of WS-Man or PSRP framing and must not do I/O; it must
//! never put a password into an error.
//!
//! Lab-only deviations from Exchange: `Get-ExchangeServer` reports `Fqdn` as the CAS's
//! `host:port` (e.g. `127.0.0.1:4443`) so a client can reach it; times are UTC; one command
//! per pipeline (no `|`); object GUIDs are derived from the seed; `-Filter` knows the
//! properties listed in the filterable records below, not every Exchange property.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

use std::sync::RwLock;

use uuid::Uuid;

use super::accounts::{Account, Role};
use super::org::{
    Device, DeviceAccessRule, ExchangeVersion, MailboxPolicy, Org, OrgError, POLICY_SETTINGS,
};
use crate::wire::clixml::{ErrorRecordBuilder, Value};
use crate::wire::exchange::opath::{FieldValue, Filter, FilterError, Record};
use crate::wire::exchange::{AccessLevel, DeviceAccessCharacteristic, MultiValuedUpdate};
use crate::wire::psrp::objects::{Command, Parameter};

/// Exchange's default `ResultSize`.
pub const DEFAULT_RESULT_SIZE: usize = 1000;

/// One CAS as `Get-ExchangeServer` reports it.
#[derive(Debug, Clone)]
pub struct ServerDesc {
    pub name: String,
    /// `host:port` (the lab's stand-in for an FQDN).
    pub address: String,
}

/// Who runs a command, where and when.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub account: &'a Account,
    pub servers: &'a [ServerDesc],
    /// The CAS answering (for error ids).
    pub server: &'a str,
    pub now: i64,
}

/// One record a command emits, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Emitted {
    Output(Value),
    Warning(String),
    /// A non-terminating error record.
    Error(Value),
}

/// What to render lazily.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LazyKind {
    /// `Get-MobileDevice` objects.
    MobileDevice,
    /// `Get-ActiveSyncDevice` objects.
    ActiveSyncDevice,
    /// `Get-MobileDeviceStatistics` / `Get-ActiveSyncDeviceStatistics` objects.
    Statistics,
    /// `Get-CASMailbox` objects (indices are mailboxes).
    CasMailbox,
    /// `Get-Recipient` objects (indices are mailboxes).
    Recipient,
}

/// Objects still to render: indices into the org's devices or mailboxes.
#[derive(Debug, Clone)]
pub struct Lazy {
    pub kind: LazyKind,
    pub indices: Vec<u32>,
    pub pos: usize,
}

impl Lazy {
    /// Render the next object; `None` when done. An index that vanished meanwhile (device
    /// removed) is skipped.
    pub fn next_value(&mut self, org: &Org) -> Option<Value> {
        loop {
            let &i = self.indices.get(self.pos)?;
            self.pos += 1;
            let v = match self.kind {
                LazyKind::MobileDevice => device_object(org, i, false),
                LazyKind::ActiveSyncDevice => device_object(org, i, true),
                LazyKind::Statistics => statistics_object(org, i),
                LazyKind::CasMailbox => cas_mailbox_object(org, i),
                LazyKind::Recipient => recipient_object(org, i),
            };
            if v.is_some() {
                return v;
            }
        }
    }

    /// Objects not rendered yet.
    pub fn remaining(&self) -> usize {
        self.indices.len().saturating_sub(self.pos)
    }
}

/// How the pipeline ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Completed,
    /// Failed with this error record (PIPELINE_STATE carries it).
    Failed(Value),
}

/// The result of running a pipeline: records, then lazily rendered objects, then trailing
/// records, then the outcome.
#[derive(Debug, Clone)]
pub struct Execution {
    pub records: Vec<Emitted>,
    pub lazy: Option<Lazy>,
    pub trailing: Vec<Emitted>,
    pub outcome: Outcome,
}

impl Execution {
    fn done(records: Vec<Emitted>) -> Self {
        Execution {
            records,
            lazy: None,
            trailing: Vec::new(),
            outcome: Outcome::Completed,
        }
    }
}

/// Why a command failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CmdError {
    #[error("The syntax is not supported by this runspace. This can occur if the runspace is in no-language mode.")]
    ScriptsNotAllowed { script: String },
    #[error("The term '{0}' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again.")]
    CommandNotFound(String),
    #[error("A parameter cannot be found that matches parameter name '{name}'.")]
    ParameterNotFound { cmdlet: String, name: String },
    #[error("A positional parameter cannot be found that accepts argument '{arg}'.")]
    Positional { cmdlet: String, arg: String },
    #[error(
        "Cannot process command because of one or more missing mandatory parameters: {param}."
    )]
    Missing { cmdlet: String, param: String },
    #[error("Cannot bind parameter '{param}'. Cannot convert value \"{value}\" to type \"{ty}\". Error: \"{reason}\"")]
    BadArgument {
        cmdlet: String,
        param: String,
        value: String,
        ty: &'static str,
        reason: String,
    },
    #[error("Cannot bind parameter '{param}' to the target. Exception setting \"{param}\": \"{source}\"")]
    Filter {
        cmdlet: String,
        param: String,
        source: FilterError,
    },
    #[error("The operation couldn't be performed because object '{identity}' couldn't be found on '{dc}'.")]
    NotFound {
        cmdlet: String,
        identity: String,
        dc: String,
    },
    #[error("{message}")]
    AlreadyExists { cmdlet: String, message: String },
    #[error("{message}")]
    Invalid { cmdlet: String, message: String },
    #[error("The lab runs one command per pipeline; '{0}' was piped into another command.")]
    Pipeline(String),
}

/// The lab's domain controller, as Exchange names it in errors.
fn dc() -> String {
    "LAB-DC01.contoso.test".to_string()
}

fn task_class(cmdlet: &str) -> String {
    let ns = if cmdlet.contains("CASMailbox") || cmdlet.contains("Recipient") {
        "Microsoft.Exchange.Management.RecipientTasks"
    } else {
        "Microsoft.Exchange.Management.Tasks"
    };
    format!("{ns}.{}", cmdlet.replace('-', ""))
}

fn short_hash(s: &str) -> u32 {
    s.bytes().fold(0x811C_9DC5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

impl CmdError {
    /// Whether PowerShell reports this before the command runs (parameter binding, parsing,
    /// command lookup): then only PIPELINE_STATE Failed carries it, as in real traffic.
    pub fn is_binding(&self) -> bool {
        !matches!(
            self,
            CmdError::NotFound { .. } | CmdError::AlreadyExists { .. } | CmdError::Invalid { .. }
        )
    }

    /// The serialized ErrorRecord Exchange would send.
    pub fn error_record(&self, server: &str) -> Value {
        let msg = self.to_string();
        let binding_types = [
            "System.Management.Automation.ParameterBindingException",
            "System.Management.Automation.RuntimeException",
            "System.SystemException",
            "System.Exception",
            "System.Object",
        ];
        let b = match self {
            CmdError::ScriptsNotAllowed { script } => {
                ErrorRecordBuilder::new(msg, "ScriptsNotAllowed")
                    .exception_types([
                        "System.Management.Automation.ParseException",
                        "System.Management.Automation.RuntimeException",
                        "System.SystemException",
                        "System.Exception",
                        "System.Object",
                    ])
                    .category(17, "ParserError")
                    .target(script.clone(), "String")
            }
            CmdError::CommandNotFound(name) => {
                ErrorRecordBuilder::new(msg, "CommandNotFoundException")
                    .exception_types([
                        "System.Management.Automation.CommandNotFoundException",
                        "System.Management.Automation.RuntimeException",
                        "System.SystemException",
                        "System.Exception",
                        "System.Object",
                    ])
                    .category(13, "ObjectNotFound")
                    .target(name.clone(), "String")
            }
            CmdError::ParameterNotFound { cmdlet, .. } => {
                ErrorRecordBuilder::new(msg, format!("NamedParameterNotFound,{cmdlet}"))
                    .exception_types(binding_types)
                    .category(5, "InvalidArgument")
                    .activity(cmdlet.clone())
            }
            CmdError::Positional { cmdlet, .. } => {
                ErrorRecordBuilder::new(msg, format!("PositionalParameterNotFound,{cmdlet}"))
                    .exception_types(binding_types)
                    .category(5, "InvalidArgument")
                    .activity(cmdlet.clone())
            }
            CmdError::Missing { cmdlet, .. } => {
                ErrorRecordBuilder::new(msg, format!("MissingMandatoryParameter,{cmdlet}"))
                    .exception_types(binding_types)
                    .category(5, "InvalidArgument")
                    .activity(cmdlet.clone())
            }
            CmdError::BadArgument { cmdlet, .. } => {
                ErrorRecordBuilder::new(msg, format!("CannotConvertArgumentNoMessage,{cmdlet}"))
                    .exception_types(binding_types)
                    .category(5, "InvalidArgument")
                    .activity(cmdlet.clone())
            }
            CmdError::Filter { cmdlet, .. } => {
                ErrorRecordBuilder::new(msg, format!("ParameterBindingFailed,{cmdlet}"))
                    .exception_types(binding_types)
                    .category(5, "InvalidArgument")
                    .activity(cmdlet.clone())
            }
            CmdError::Pipeline(cmdlet) => {
                ErrorRecordBuilder::new(msg, format!("PipelineNotSupported,{cmdlet}"))
                    .category(8, "InvalidOperation")
                    .activity(cmdlet.clone())
            }
            CmdError::NotFound { cmdlet, .. } => exchange_error(
                msg,
                cmdlet,
                server,
                "ManagementObjectNotFoundException",
                &[
                    "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
                    "Microsoft.Exchange.Data.LocalizedException",
                    "System.Exception",
                    "System.Object",
                ],
            ),
            CmdError::AlreadyExists { cmdlet, .. } => exchange_error(
                msg,
                cmdlet,
                server,
                "ADObjectAlreadyExistsException",
                &[
                    "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
                    "Microsoft.Exchange.Data.Directory.ADOperationException",
                    "Microsoft.Exchange.Data.LocalizedException",
                    "System.Exception",
                    "System.Object",
                ],
            ),
            CmdError::Invalid { cmdlet, .. } => exchange_error(
                msg,
                cmdlet,
                server,
                "ArgumentException",
                &[
                    "System.ArgumentException",
                    "System.SystemException",
                    "System.Exception",
                    "System.Object",
                ],
            ),
        };
        b.build()
    }
}

fn exchange_error(
    msg: String,
    cmdlet: &str,
    server: &str,
    exception: &str,
    types: &[&str],
) -> ErrorRecordBuilder {
    let fqid = format!(
        "[Server={server}] [FailureCategory=Cmdlet-{exception}] {:08X},{}",
        short_hash(&msg),
        task_class(cmdlet)
    );
    let mut b = ErrorRecordBuilder::new(msg, fqid)
        .exception_types(types.iter().copied())
        .activity(cmdlet.to_string());
    b.reason = exception.to_string();
    b
}

// ---------------------------------------------------------------------------------------
// The cmdlet table and role checks.

/// What a cmdlet needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// Anyone who may log in.
    Anyone,
    /// Any management role (view-only is enough).
    View,
    Role(Role),
}

struct Def {
    name: &'static str,
    needs: Needs,
    /// Only on Exchange 2013 and later (the `*-MobileDevice*` names).
    since_2013: bool,
}

const fn def(name: &'static str, needs: Needs, since_2013: bool) -> Def {
    Def {
        name,
        needs,
        since_2013,
    }
}

const RECIPIENTS: Needs = Needs::Role(Role::RecipientManagement);
const ORG_CAS: Needs = Needs::Role(Role::OrganizationClientAccess);

const CMDLETS: &[Def] = &[
    def("Get-Command", Needs::Anyone, false),
    def("Get-ExchangeServer", Needs::View, false),
    def("Set-ADServerSettings", Needs::View, false),
    def("Get-Recipient", Needs::View, false),
    def("Get-MobileDevice", Needs::View, true),
    def("Get-ActiveSyncDevice", Needs::View, false),
    def("Get-MobileDeviceStatistics", Needs::View, true),
    def("Get-ActiveSyncDeviceStatistics", Needs::View, false),
    def("Get-ActiveSyncDeviceClass", Needs::View, false),
    def("Get-CASMailbox", Needs::View, false),
    def("Set-CASMailbox", RECIPIENTS, false),
    def("Clear-MobileDevice", RECIPIENTS, true),
    def("Clear-ActiveSyncDevice", RECIPIENTS, false),
    def("Remove-MobileDevice", RECIPIENTS, true),
    def("Remove-ActiveSyncDevice", RECIPIENTS, false),
    def("Get-ActiveSyncOrganizationSettings", Needs::View, false),
    def("Set-ActiveSyncOrganizationSettings", ORG_CAS, false),
    def("Get-ActiveSyncDeviceAccessRule", Needs::View, false),
    def("New-ActiveSyncDeviceAccessRule", ORG_CAS, false),
    def("Set-ActiveSyncDeviceAccessRule", ORG_CAS, false),
    def("Remove-ActiveSyncDeviceAccessRule", ORG_CAS, false),
    def("Get-ActiveSyncMailboxPolicy", Needs::View, false),
    def("New-ActiveSyncMailboxPolicy", ORG_CAS, false),
    def("Set-ActiveSyncMailboxPolicy", ORG_CAS, false),
    def("Remove-ActiveSyncMailboxPolicy", ORG_CAS, false),
    def("Get-MobileDeviceMailboxPolicy", Needs::View, true),
    def("New-MobileDeviceMailboxPolicy", ORG_CAS, true),
    def("Set-MobileDeviceMailboxPolicy", ORG_CAS, true),
    def("Remove-MobileDeviceMailboxPolicy", ORG_CAS, true),
];

fn allowed(d: &Def, account: &Account, version: ExchangeVersion) -> bool {
    if d.since_2013 && !version.has_mobile_device_cmdlets() {
        return false;
    }
    match d.needs {
        Needs::Anyone => true,
        Needs::View => !account.roles.is_empty(),
        Needs::Role(r) => account.roles.contains(&r),
    }
}

/// The cmdlets `account` may run on an org of `version`, in table order.
pub fn visible_cmdlets(account: &Account, version: ExchangeVersion) -> Vec<&'static str> {
    CMDLETS
        .iter()
        .filter(|d| allowed(d, account, version))
        .map(|d| d.name)
        .collect()
}

fn lookup(name: &str, account: &Account, version: ExchangeVersion) -> Option<&'static str> {
    CMDLETS
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(name.trim()) && allowed(d, account, version))
        .map(|d| d.name)
}

// ---------------------------------------------------------------------------------------
// Parameter binding.

/// Parameters every cmdlet accepts (PowerShell's common parameters and Exchange's).
const COMMON: &[&str] = &[
    "Confirm",
    "WhatIf",
    "ErrorAction",
    "WarningAction",
    "InformationAction",
    "Verbose",
    "Debug",
    "DomainController",
    "OutVariable",
    "ErrorVariable",
    "WarningVariable",
    "OutBuffer",
    "PipelineVariable",
];

/// Bound parameters of one command.
#[derive(Debug)]
pub struct Params {
    cmdlet: &'static str,
    values: Vec<(&'static str, Value)>,
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Nil => "$null".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Object(o) => o
            .to_string
            .clone()
            .or_else(|| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        other => other
            .as_str()
            .map(str::to_string)
            .or_else(|| other.as_i64().map(|n| n.to_string()))
            .unwrap_or_default(),
    }
}

fn strings_of(v: &Value) -> Vec<String> {
    if let Some(items) = v.items() {
        return items.iter().flat_map(strings_of).collect();
    }
    match v {
        Value::Nil => Vec::new(),
        _ => value_text(v)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    }
}

impl Params {
    /// Bind `cmd`'s parameters to `names` (plus the common ones); the first positional
    /// argument binds to `Identity` when the cmdlet has one (or `Name` for Get-Command).
    pub fn bind(
        cmdlet: &'static str,
        cmd: &Command,
        names: &[&'static str],
    ) -> Result<Params, CmdError> {
        let mut values = Vec::new();
        let mut positional_used = false;
        for Parameter { name, value } in &cmd.parameters {
            let name = match name {
                Some(n) => {
                    let n = n.trim_start_matches('-').trim_end_matches(':');
                    names
                        .iter()
                        .chain(COMMON)
                        .find(|k| k.eq_ignore_ascii_case(n))
                        .copied()
                        .ok_or_else(|| CmdError::ParameterNotFound {
                            cmdlet: cmdlet.to_string(),
                            name: n.to_string(),
                        })?
                }
                None => {
                    let target = names
                        .iter()
                        .find(|k| **k == "Identity" || (cmdlet == "Get-Command" && **k == "Name"))
                        .copied();
                    match target {
                        Some(t) if !positional_used => {
                            positional_used = true;
                            t
                        }
                        _ => {
                            return Err(CmdError::Positional {
                                cmdlet: cmdlet.to_string(),
                                arg: value_text(value),
                            })
                        }
                    }
                }
            };
            values.push((name, value.clone()));
        }
        Ok(Params { cmdlet, values })
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    fn bad(&self, param: &str, value: &Value, ty: &'static str, reason: &str) -> CmdError {
        CmdError::BadArgument {
            cmdlet: self.cmdlet.to_string(),
            param: param.to_string(),
            value: value_text(value),
            ty,
            reason: reason.to_string(),
        }
    }

    /// A string parameter.
    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(value_text)
    }

    /// A mandatory string parameter.
    pub fn required(&self, name: &str) -> Result<String, CmdError> {
        match self.string(name) {
            Some(s) if !s.trim().is_empty() && s != "$null" => Ok(s),
            _ => Err(CmdError::Missing {
                cmdlet: self.cmdlet.to_string(),
                param: name.to_string(),
            }),
        }
    }

    /// A switch or boolean parameter (`-X`, `-X:$true`, `-X $false`, `-X 'true'`).
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, CmdError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        if v.is_nil() {
            return Ok(Some(true));
        }
        if let Some(b) = v.as_bool() {
            return Ok(Some(b));
        }
        match value_text(v).to_ascii_lowercase().as_str() {
            "true" | "$true" | "1" => Ok(Some(true)),
            "false" | "$false" | "0" => Ok(Some(false)),
            _ => Err(self.bad(name, v, "System.Boolean", "Invalid boolean value.")),
        }
    }

    /// `-ResultSize Unlimited|N`; `Ok(None)` for Unlimited, default 1000.
    pub fn result_size(&self) -> Result<(Option<usize>, bool), CmdError> {
        let Some(v) = self.get("ResultSize") else {
            return Ok((Some(DEFAULT_RESULT_SIZE), false));
        };
        let text = value_text(v);
        if text.eq_ignore_ascii_case("unlimited") {
            return Ok((None, true));
        }
        match v
            .as_i64()
            .map(Ok)
            .unwrap_or_else(|| text.trim().parse::<i64>())
        {
            Ok(n) if n > 0 => Ok((Some(usize::try_from(n).unwrap_or(usize::MAX)), true)),
            _ => Err(self.bad(
                "ResultSize",
                v,
                "Microsoft.Exchange.Data.Unlimited`1[System.UInt32]",
                "The value must be a positive number or \"Unlimited\".",
            )),
        }
    }

    /// A multi-valued property parameter: a list (replace) or `@{Add=…; Remove=…}`.
    pub fn list_update(&self, name: &str) -> Result<Option<MultiValuedUpdate>, CmdError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        MultiValuedUpdate::from_value(v, strings_of, value_text)
            .map(Some)
            .map_err(|_| {
                self.bad(
                    name,
                    v,
                    "Microsoft.Exchange.Data.MultiValuedProperty`1[System.String]",
                    "The hash table may contain only the keys Add and Remove.",
                )
            })
    }

    /// `-Filter` parsed and checked against a sample record.
    pub fn filter(&self, sample: Option<&dyn Record>) -> Result<Option<Filter>, CmdError> {
        let Some(text) = self.string("Filter") else {
            return Ok(None);
        };
        let err = |source| CmdError::Filter {
            cmdlet: self.cmdlet.to_string(),
            param: "Filter".into(),
            source,
        };
        let f = Filter::parse(&text).map_err(err)?;
        if let Some(s) = sample {
            f.validate(s).map_err(err)?;
        }
        Ok(Some(f))
    }

    fn whatif(&self) -> bool {
        matches!(self.boolean("WhatIf"), Ok(Some(true)))
    }
}

// ---------------------------------------------------------------------------------------
// Rendering helpers.

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

const CONFIGURABLE: &str = "Microsoft.Exchange.Data.ConfigurableObject";

fn obj(type_names: &[&str], to_string: String, props: Vec<(&str, Value)>) -> Value {
    let mut o = crate::wire::clixml::PsObject::new()
        .with_type_names(type_names.iter().copied())
        .with_to_string(to_string);
    for (k, v) in props {
        o = o.with_adapted(k, v);
    }
    Value::object(o)
}

fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

fn opt_s(v: Option<String>) -> Value {
    v.map_or(Value::Nil, Value::String)
}

/// An Exchange `MultiValuedProperty` of strings.
fn mv(items: impl IntoIterator<Item = String>) -> Value {
    Value::list(
        [
            "Microsoft.Exchange.Data.MultiValuedProperty`1[[System.String, mscorlib, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089]]",
            "Microsoft.Exchange.Data.MultiValuedPropertyBase",
            "System.Object",
        ],
        items.into_iter().map(Value::String).collect(),
    )
}

fn exchange_version_of(org: &Org) -> &'static str {
    if org.version >= ExchangeVersion::V2013 {
        "0.20 (15.0.0.0)"
    } else {
        "0.10 (14.0.100.0)"
    }
}

fn dn_domain(org: &Org) -> String {
    org.domain
        .split('.')
        .map(|p| format!("DC={p}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn config_dn(org: &Org, cn: &str) -> String {
    format!(
        "CN={cn},CN=Mobile Mailbox Settings,CN={},CN=Microsoft Exchange,CN=Services,CN=Configuration,{}",
        org.name,
        dn_domain(org)
    )
}

/// A stable GUID for a device.
pub fn device_guid(d: &Device) -> Uuid {
    Uuid::from_u64_pair(
        d.id_number,
        d.id_number.rotate_left(23) ^ 0x4C41_4244_4556_0000,
    )
}

fn mailbox_guid(index: u32) -> Uuid {
    Uuid::from_u64_pair(
        0x4C41_424D_4258_0000 | u64::from(index),
        u64::from(index).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    )
}

fn named_guid(name: &str) -> Uuid {
    let h = u64::from(short_hash(name));
    Uuid::from_u64_pair(
        0x4C41_4243_4647_0000 ^ h,
        h.wrapping_mul(0x9E37_79B9_7F4A_7C15),
    )
}

const DEVICE_TYPES: &[&str] = &[
    "Microsoft.Exchange.Data.Directory.SystemConfiguration.MobileDevice",
    "Microsoft.Exchange.Data.Directory.ADObject",
    "Microsoft.Exchange.Data.Directory.ADRawEntry",
    CONFIGURABLE,
    "System.Object",
];
const ACTIVESYNC_DEVICE_TYPES: &[&str] = &[
    "Microsoft.Exchange.Data.Directory.SystemConfiguration.ActiveSyncDevice",
    "Microsoft.Exchange.Data.Directory.SystemConfiguration.MobileDevice",
    "Microsoft.Exchange.Data.Directory.ADObject",
    "Microsoft.Exchange.Data.Directory.ADRawEntry",
    CONFIGURABLE,
    "System.Object",
];

/// A `MobileDevice` (or `ActiveSyncDevice`) object.
pub fn device_object(org: &Org, index: u32, activesync: bool) -> Option<Value> {
    let d = org.devices.get(index as usize)?;
    let v = org.view(index)?;
    let name = format!("{}§{}", v.device_type, v.device_id);
    let dn = format!(
        "CN={name},CN=ExchangeActiveSyncDevices,CN={},OU=Users,{}",
        v.user_display_name,
        dn_domain(org)
    );
    let types = if activesync {
        ACTIVESYNC_DEVICE_TYPES
    } else {
        DEVICE_TYPES
    };
    Some(obj(
        types,
        v.identity.clone(),
        vec![
            ("FriendlyName", s(v.friendly_name)),
            ("DeviceId", s(v.device_id.clone())),
            ("DeviceImei", Value::Nil),
            ("DeviceMobileOperator", Value::Nil),
            ("DeviceOS", s(v.os)),
            ("DeviceOSLanguage", s("en-US")),
            ("DeviceTelephoneNumber", Value::Nil),
            ("DeviceType", s(v.device_type)),
            ("DeviceUserAgent", s(v.user_agent)),
            ("DeviceModel", s(v.model)),
            ("FirstSyncTime", datetime(v.first_sync)),
            ("UserDisplayName", s(v.user_display_name.clone())),
            ("DeviceAccessState", v.state.to_value()),
            ("DeviceAccessStateReason", v.reason.to_value()),
            ("DeviceAccessControlRule", opt_s(v.rule_name.clone())),
            ("ClientVersion", s("16.1")),
            (
                "ClientType",
                Value::enumeration(
                    "Microsoft.Exchange.Data.Directory.SystemConfiguration.MobileClientType",
                    "EAS",
                    0,
                ),
            ),
            ("IsManaged", Value::Bool(false)),
            ("IsCompliant", Value::Bool(false)),
            ("IsDisabled", Value::Bool(false)),
            ("AdminDisplayName", Value::Nil),
            ("ExchangeVersion", s(exchange_version_of(org))),
            ("Name", s(name)),
            ("DistinguishedName", s(dn)),
            ("Identity", s(v.identity)),
            ("Guid", Value::Guid(device_guid(d))),
            (
                "ObjectCategory",
                s(format!(
                    "{}/Configuration/Schema/ms-Exch-Active-Sync-Device",
                    org.domain
                )),
            ),
            (
                "ObjectClass",
                mv(["top".to_string(), "msExchActiveSyncDevice".to_string()]),
            ),
            ("WhenChanged", datetime(v.when_changed)),
            ("WhenCreated", datetime(v.first_sync)),
            ("WhenChangedUTC", datetime(v.when_changed)),
            ("WhenCreatedUTC", datetime(v.first_sync)),
            ("OrganizationId", s("")),
            ("OriginatingServer", s(dc())),
            ("IsValid", Value::Bool(true)),
            ("ObjectState", s("Unchanged")),
        ],
    ))
}

/// A `MobileDeviceConfiguration` (statistics) object.
pub fn statistics_object(org: &Org, index: u32) -> Option<Value> {
    let d = org.devices.get(index as usize)?;
    let v = org.view(index)?;
    let wipe = org.wipe_for(&v.device_id);
    let policy = org.effective_policy(d.mailbox).map(str::to_string);
    let (status, code) = if wipe.is_some() {
        ("DeviceWipePending", 2)
    } else {
        ("DeviceOk", 1)
    };
    Some(obj(
        &[
            "Microsoft.Exchange.Management.Tasks.MobileDeviceConfiguration",
            CONFIGURABLE,
            "System.Object",
        ],
        v.identity.clone(),
        vec![
            ("FirstSyncTime", datetime(v.first_sync)),
            ("LastPolicyUpdateTime", datetime(v.first_sync)),
            ("LastSyncAttemptTime", datetime(v.last_sync)),
            ("LastSuccessSync", datetime(v.last_sync)),
            ("DeviceType", s(v.device_type)),
            ("DeviceID", s(v.device_id.clone())),
            ("DeviceUserAgent", s(v.user_agent)),
            ("DeviceWipeSentTime", Value::Nil),
            (
                "DeviceWipeRequestTime",
                wipe.map_or(Value::Nil, |w| datetime(w.requested_at)),
            ),
            ("DeviceWipeAckTime", Value::Nil),
            (
                "LastDeviceWipeRequestor",
                opt_s(wipe.map(|w| w.requested_by.clone())),
            ),
            ("LastPingHeartbeat", Value::Nil),
            ("RecoveryPassword", s("********")),
            ("DeviceModel", s(v.model)),
            ("DeviceImei", Value::Nil),
            ("DeviceFriendlyName", s(v.friendly_name)),
            ("DeviceOS", s(v.os)),
            ("DeviceOSLanguage", s("en-US")),
            ("DevicePhoneNumber", Value::Nil),
            ("DeviceMobileOperator", Value::Nil),
            (
                "Status",
                Value::enumeration(
                    "Microsoft.Exchange.Data.Directory.SystemConfiguration.DeviceRemoteWipeStatus",
                    status,
                    code,
                ),
            ),
            ("DevicePolicyApplied", opt_s(policy)),
            ("DevicePolicyApplicationStatus", s("AppliedInFull")),
            ("DeviceAccessState", v.state.to_value()),
            ("DeviceAccessStateReason", v.reason.to_value()),
            ("DeviceAccessControlRule", opt_s(v.rule_name.clone())),
            ("IsRemoteWipeSupported", Value::Bool(true)),
            ("ClientType", s("EAS")),
            ("Identity", s(v.identity)),
            ("Guid", Value::Guid(device_guid(d))),
            ("IsValid", Value::Bool(true)),
        ],
    ))
}

/// A `CASMailbox` object.
pub fn cas_mailbox_object(org: &Org, index: u32) -> Option<Value> {
    let m = org.mailboxes.get(index as usize)?;
    let identity = format!("{}/Users/{}", org.domain, m.display_name);
    Some(obj(
        &[
            "Microsoft.Exchange.Data.Directory.Management.CASMailbox",
            "Microsoft.Exchange.Data.Directory.Management.ADPresentationObject",
            CONFIGURABLE,
            "System.Object",
        ],
        m.display_name.clone(),
        vec![
            ("Name", s(m.display_name.clone())),
            ("DisplayName", s(m.display_name.clone())),
            ("SamAccountName", s(m.alias.clone())),
            ("PrimarySmtpAddress", s(m.primary_smtp.clone())),
            ("EmailAddresses", mv([format!("SMTP:{}", m.primary_smtp)])),
            ("ActiveSyncEnabled", Value::Bool(m.activesync_enabled)),
            ("ActiveSyncAllowedDeviceIDs", mv(m.allowed.iter().cloned())),
            ("ActiveSyncBlockedDeviceIDs", mv(m.blocked.iter().cloned())),
            (
                "ActiveSyncMailboxPolicy",
                opt_s(org.effective_policy(index).map(str::to_string)),
            ),
            (
                "ActiveSyncMailboxPolicyIsDefaulted",
                Value::Bool(m.policy.is_none()),
            ),
            ("ActiveSyncDebugLogging", Value::Bool(false)),
            (
                "HasActiveSyncDevicePartnership",
                Value::Bool(m.device_count > 0),
            ),
            ("OWAEnabled", Value::Bool(true)),
            ("ExchangeVersion", s(exchange_version_of(org))),
            ("Identity", s(identity)),
            ("Guid", Value::Guid(mailbox_guid(index))),
            (
                "DistinguishedName",
                s(format!("CN={},OU=Users,{}", m.display_name, dn_domain(org))),
            ),
            ("IsValid", Value::Bool(true)),
        ],
    ))
}

/// A `ReducedRecipient` object.
pub fn recipient_object(org: &Org, index: u32) -> Option<Value> {
    let m = org.mailboxes.get(index as usize)?;
    Some(obj(
        &[
            "Microsoft.Exchange.Data.Directory.Management.ReducedRecipient",
            "Microsoft.Exchange.Data.Directory.Management.ADPresentationObject",
            CONFIGURABLE,
            "System.Object",
        ],
        m.display_name.clone(),
        vec![
            ("Name", s(m.display_name.clone())),
            ("Alias", s(m.alias.clone())),
            ("DisplayName", s(m.display_name.clone())),
            ("PrimarySmtpAddress", s(m.primary_smtp.clone())),
            ("RecipientType", s("UserMailbox")),
            ("RecipientTypeDetails", s("UserMailbox")),
            (
                "Identity",
                s(format!("{}/Users/{}", org.domain, m.display_name)),
            ),
            ("Guid", Value::Guid(mailbox_guid(index))),
            (
                "DistinguishedName",
                s(format!("CN={},OU=Users,{}", m.display_name, dn_domain(org))),
            ),
        ],
    ))
}

fn org_settings_object(org: &Org) -> Value {
    let st = &org.settings;
    let name = "Mobile Mailbox Settings";
    obj(
        &[
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.ActiveSyncOrganizationSettings",
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.ADConfigurationObject",
            "Microsoft.Exchange.Data.Directory.ADObject",
            "Microsoft.Exchange.Data.Directory.ADRawEntry",
            CONFIGURABLE,
            "System.Object",
        ],
        name.into(),
        vec![
            ("DefaultAccessLevel", st.default_access_level.to_value()),
            ("UserMailInsert", s(st.user_mail_insert.clone())),
            ("AllowAccessForUnSupportedPlatform", Value::Bool(false)),
            (
                "AdminMailRecipients",
                mv(st.admin_mail_recipients.iter().cloned()),
            ),
            ("OtaNotificationMailInsert", Value::Nil),
            ("DeviceFiltering", Value::Nil),
            ("IsIntuneManaged", Value::Bool(false)),
            ("HasAzurePremiumSubscription", Value::Bool(false)),
            ("AdminDisplayName", s("")),
            ("ExchangeVersion", s(exchange_version_of(org))),
            ("Name", s(name)),
            (
                "DistinguishedName",
                s(format!(
                    "CN={name},CN={},CN=Microsoft Exchange,CN=Services,CN=Configuration,{}",
                    org.name,
                    dn_domain(org)
                )),
            ),
            ("Identity", s(name)),
            ("Guid", Value::Guid(named_guid(name))),
            ("IsValid", Value::Bool(true)),
        ],
    )
}

fn rule_object(org: &Org, r: &DeviceAccessRule) -> Value {
    let name = r.name();
    obj(
        &[
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.ActiveSyncDeviceAccessRule",
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.ADConfigurationObject",
            "Microsoft.Exchange.Data.Directory.ADObject",
            "Microsoft.Exchange.Data.Directory.ADRawEntry",
            CONFIGURABLE,
            "System.Object",
        ],
        name.clone(),
        vec![
            ("QueryString", s(r.query_string.clone())),
            ("Characteristic", r.characteristic.to_value()),
            ("AccessLevel", r.access_level.to_value()),
            ("Name", s(name.clone())),
            ("DistinguishedName", s(config_dn(org, &name))),
            ("Identity", s(name.clone())),
            ("Guid", Value::Guid(named_guid(&name))),
            ("ExchangeVersion", s(exchange_version_of(org))),
            ("IsValid", Value::Bool(true)),
        ],
    )
}

fn setting_value(v: &str) -> Value {
    match v {
        "" => Value::Nil,
        "True" => Value::Bool(true),
        "False" => Value::Bool(false),
        other => match other.parse::<i32>() {
            Ok(n) => Value::Int32(n),
            Err(_) => s(other),
        },
    }
}

fn policy_object(org: &Org, p: &MailboxPolicy) -> Value {
    let (ty, default_prop) = if org.version >= ExchangeVersion::V2013 {
        (
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.MobileMailboxPolicy",
            "IsDefault",
        )
    } else {
        (
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.ActiveSyncMailboxPolicy",
            "IsDefaultPolicy",
        )
    };
    let mut props = vec![
        ("Name", s(p.name.clone())),
        (default_prop, Value::Bool(p.is_default)),
    ];
    for (k, v) in &p.settings {
        // Names come from POLICY_SETTINGS (static) or the generated default policy.
        if let Some((name, _)) = POLICY_SETTINGS.iter().find(|(n, _)| n == k) {
            props.push((name, setting_value(v)));
        }
    }
    props.extend([
        ("Identity", s(p.name.clone())),
        ("DistinguishedName", s(config_dn(org, &p.name))),
        ("Guid", Value::Guid(named_guid(&p.name))),
        ("ExchangeVersion", s(exchange_version_of(org))),
        ("IsValid", Value::Bool(true)),
    ]);
    obj(
        &[
            ty,
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.MailboxPolicy",
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.ADConfigurationObject",
            "Microsoft.Exchange.Data.Directory.ADObject",
            "Microsoft.Exchange.Data.Directory.ADRawEntry",
            CONFIGURABLE,
            "System.Object",
        ],
        p.name.clone(),
        props,
    )
}

fn server_object(org: &Org, sv: &ServerDesc) -> Value {
    let (role, role_n) = match org.version {
        ExchangeVersion::V2010 => ("ClientAccess", 4),
        ExchangeVersion::V2013 => ("Mailbox, ClientAccess", 6),
        _ => ("Mailbox", 2),
    };
    obj(
        &[
            "Microsoft.Exchange.Data.Directory.Management.ExchangeServer",
            "Microsoft.Exchange.Data.Directory.Management.ADPresentationObject",
            CONFIGURABLE,
            "System.Object",
        ],
        sv.name.clone(),
        vec![
            ("Name", s(sv.name.clone())),
            ("Fqdn", s(sv.address.clone())),
            ("Domain", s(org.domain.clone())),
            ("Edition", s("Enterprise")),
            (
                "ServerRole",
                Value::enumeration(
                    "Microsoft.Exchange.Data.Directory.SystemConfiguration.ServerRole",
                    role,
                    role_n,
                ),
            ),
            ("AdminDisplayVersion", s(org.version.admin_display_version())),
            ("IsClientAccessServer", Value::Bool(true)),
            (
                "IsMailboxServer",
                Value::Bool(org.version >= ExchangeVersion::V2013),
            ),
            (
                "Site",
                s(format!(
                    "{}/Configuration/Sites/Default-First-Site-Name",
                    org.domain
                )),
            ),
            ("Identity", s(sv.name.clone())),
            (
                "DistinguishedName",
                s(format!(
                    "CN={},CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,CN={},CN=Microsoft Exchange,CN=Services,CN=Configuration,{}",
                    sv.name,
                    org.name,
                    dn_domain(org)
                )),
            ),
            ("Guid", Value::Guid(named_guid(&sv.name))),
            ("ExchangeVersion", s(exchange_version_of(org))),
            ("IsValid", Value::Bool(true)),
        ],
    )
}

fn command_object(name: &str) -> Value {
    let (verb, noun) = name.split_once('-').unwrap_or((name, ""));
    obj(
        &[
            "System.Management.Automation.CmdletInfo",
            "System.Management.Automation.CommandInfo",
            "System.Object",
        ],
        name.into(),
        vec![
            ("Verb", s(verb)),
            ("Noun", s(noun)),
            ("HelpFile", s("Microsoft.Exchange.Management.dll-Help.xml")),
            ("ImplementingType", s(task_class(name))),
            ("Definition", s(format!("{name} [<CommonParameters>]"))),
            ("DefaultParameterSet", s("Identity")),
            ("Name", s(name)),
            (
                "CommandType",
                Value::enumeration("System.Management.Automation.CommandTypes", "Cmdlet", 8),
            ),
            (
                "Visibility",
                Value::enumeration(
                    "System.Management.Automation.SessionStateEntryVisibility",
                    "Public",
                    0,
                ),
            ),
            ("ModuleName", s("")),
            ("Module", Value::Nil),
        ],
    )
}

// ---------------------------------------------------------------------------------------
// Filterable records.

struct DeviceRec<'a> {
    org: &'a Org,
    index: u32,
}

impl Record for DeviceRec<'_> {
    fn field(&self, p: &str) -> Option<FieldValue> {
        let d = self.org.devices.get(self.index as usize)?;
        let k = self.org.kind(d);
        let m = self.org.mailboxes.get(d.mailbox as usize)?;
        Some(match p.to_ascii_lowercase().as_str() {
            "whenchanged" | "whenchangedutc" => FieldValue::Date(d.when_changed),
            "whencreated" | "whencreatedutc" | "firstsynctime" => FieldValue::Date(d.first_sync),
            "deviceaccessstate" => FieldValue::Str(d.state.as_str().into()),
            "deviceaccessstatereason" => FieldValue::Str(d.reason.as_str().into()),
            "devicetype" => FieldValue::Str(k.device_type.into()),
            "devicemodel" => FieldValue::Str(k.model.into()),
            "deviceid" => FieldValue::Str(self.org.device_id(d)),
            "deviceos" => FieldValue::Str(k.os.into()),
            "deviceuseragent" => FieldValue::Str(k.user_agent.into()),
            "friendlyname" => FieldValue::Str(k.friendly_name.into()),
            "userdisplayname" => FieldValue::Str(m.display_name.clone()),
            "clienttype" => FieldValue::Str("EAS".into()),
            "deviceimei" | "devicemobileoperator" | "devicetelephonenumber" => FieldValue::Null,
            "isvalid" => FieldValue::Bool(true),
            _ => return None,
        })
    }
}

struct MailboxRec<'a> {
    org: &'a Org,
    index: u32,
}

impl Record for MailboxRec<'_> {
    fn field(&self, p: &str) -> Option<FieldValue> {
        let m = self.org.mailboxes.get(self.index as usize)?;
        Some(match p.to_ascii_lowercase().as_str() {
            "name" | "displayname" => FieldValue::Str(m.display_name.clone()),
            "alias" | "samaccountname" => FieldValue::Str(m.alias.clone()),
            "primarysmtpaddress" | "emailaddresses" => FieldValue::Str(m.primary_smtp.clone()),
            "activesyncenabled" => FieldValue::Bool(m.activesync_enabled),
            "hasactivesyncdevicepartnership" => FieldValue::Bool(m.device_count > 0),
            "recipienttype" | "recipienttypedetails" => FieldValue::Str("UserMailbox".into()),
            _ => return None,
        })
    }
}

/// The device an `-Identity` names: its full identity, `…§DeviceId`, `…\DeviceId`, the
/// device id alone, or its GUID.
pub fn find_device(org: &Org, identity: &str) -> Option<u32> {
    let id = identity.trim();
    // 32-hex-digit device ids also parse as GUIDs: only the hyphenated form is a GUID.
    if let Some(g) = Uuid::parse_str(id).ok().filter(|_| id.contains('-')) {
        if let Some(i) = org.devices.iter().position(|d| device_guid(d) == g) {
            return u32::try_from(i).ok();
        }
    }
    let tail = id.rsplit(['§', '\\', '/']).next().unwrap_or(id).trim();
    org.find_device(tail)
}

fn read(org: &RwLock<Org>) -> std::sync::RwLockReadGuard<'_, Org> {
    match org.read() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn write(org: &RwLock<Org>) -> std::sync::RwLockWriteGuard<'_, Org> {
    match org.write() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn not_found(cmdlet: &str, identity: &str) -> CmdError {
    CmdError::NotFound {
        cmdlet: cmdlet.to_string(),
        identity: identity.to_string(),
        dc: dc(),
    }
}

fn org_err(cmdlet: &str, e: OrgError) -> CmdError {
    match e {
        OrgError::NotFound(id) => not_found(cmdlet, &id),
        OrgError::AlreadyExists(_) => CmdError::AlreadyExists {
            cmdlet: cmdlet.to_string(),
            message: e.to_string(),
        },
        OrgError::Invalid(message) => CmdError::Invalid {
            cmdlet: cmdlet.to_string(),
            message,
        },
    }
}

fn truncation_warning(explicit: bool) -> String {
    if explicit {
        "There are more results available than are currently displayed. To view them, increase the value for the ResultSize parameter.".into()
    } else {
        "By default, only the first 1000 items are returned. Use the ResultSize parameter to specify the number of items returned. To return all items, specify \"-ResultSize Unlimited\". Be aware that, depending on the actual number of items, returning all items can take a long time and consume a large amount of memory. Also, we don't recommend storing the results in a variable. Instead, pipe the results to another task or script to perform batch changes.".into()
    }
}

/// Keep the first `limit` indices; a warning when more matched.
fn limit(mut indices: Vec<u32>, size: Option<usize>, explicit: bool, kind: LazyKind) -> Execution {
    let mut trailing = Vec::new();
    if let Some(n) = size {
        if indices.len() > n {
            indices.truncate(n);
            trailing.push(Emitted::Warning(truncation_warning(explicit)));
        }
    }
    Execution {
        records: Vec::new(),
        lazy: Some(Lazy {
            kind,
            indices,
            pos: 0,
        }),
        trailing,
        outcome: Outcome::Completed,
    }
}

// ---------------------------------------------------------------------------------------
// Execution.

/// Run one pipeline (a list of commands) as `ctx.account`.
pub fn execute(org: &RwLock<Org>, ctx: &Context<'_>, commands: &[Command]) -> Execution {
    let result = run(org, ctx, commands);
    match result {
        Ok(e) => e,
        Err(err) => {
            let rec = err.error_record(ctx.server);
            let records = if err.is_binding() {
                Vec::new()
            } else {
                vec![Emitted::Error(rec.clone())]
            };
            Execution {
                records,
                lazy: None,
                trailing: Vec::new(),
                outcome: Outcome::Failed(rec),
            }
        }
    }
}

fn run(org: &RwLock<Org>, ctx: &Context<'_>, commands: &[Command]) -> Result<Execution, CmdError> {
    let Some(cmd) = commands.first() else {
        return Ok(Execution::done(Vec::new()));
    };
    if cmd.is_script || commands.iter().any(|c| c.is_script) {
        return Err(CmdError::ScriptsNotAllowed {
            script: cmd.name.clone(),
        });
    }
    let version = read(org).version;
    let name = lookup(&cmd.name, ctx.account, version)
        .ok_or_else(|| CmdError::CommandNotFound(cmd.name.clone()))?;
    if let Some(next) = commands.get(1) {
        // Name the unsupported piece, but report unknown commands first.
        lookup(&next.name, ctx.account, version)
            .ok_or_else(|| CmdError::CommandNotFound(next.name.clone()))?;
        return Err(CmdError::Pipeline(name.to_string()));
    }
    let by = |names: &[&'static str]| Params::bind(name, cmd, names);
    match name {
        "Get-Command" => get_command(
            ctx,
            &by(&["Name", "Module", "CommandType", "Noun", "Verb"])?,
            version,
        ),
        "Get-ExchangeServer" => get_exchange_server(org, ctx, &by(&["Identity", "Status"])?),
        "Set-ADServerSettings" => {
            let p = by(&[
                "ViewEntireForest",
                "RecipientViewRoot",
                "PreferredServer",
                "RunspaceServerSettings",
            ])?;
            p.boolean("ViewEntireForest")?;
            Ok(Execution::done(Vec::new()))
        }
        "Get-Recipient" => get_mailboxes(
            org,
            &by(&[
                "Identity",
                "ResultSize",
                "Filter",
                "RecipientTypeDetails",
                "RecipientType",
            ])?,
            name,
            LazyKind::Recipient,
        ),
        "Get-CASMailbox" => get_mailboxes(
            org,
            &by(&["Identity", "ResultSize", "Filter", "ActiveSyncDebugLogging"])?,
            name,
            LazyKind::CasMailbox,
        ),
        "Set-CASMailbox" => set_cas_mailbox(
            org,
            ctx,
            &by(&[
                "Identity",
                "ActiveSyncAllowedDeviceIDs",
                "ActiveSyncBlockedDeviceIDs",
                "ActiveSyncMailboxPolicy",
                "ActiveSyncEnabled",
            ])?,
        ),
        "Get-MobileDevice" | "Get-ActiveSyncDevice" => get_devices(
            org,
            &by(&[
                "Mailbox",
                "Identity",
                "ActiveSync",
                "OWAforDevices",
                "ResultSize",
                "Filter",
                "SortBy",
            ])?,
            name,
        ),
        "Get-MobileDeviceStatistics" | "Get-ActiveSyncDeviceStatistics" => get_statistics(
            org,
            &by(&[
                "Identity",
                "Mailbox",
                "ActiveSync",
                "OWAforDevices",
                "GetMailboxLog",
                "NotificationEmailAddresses",
                "ShowRecoveryPassword",
            ])?,
            name,
        ),
        "Clear-MobileDevice" | "Clear-ActiveSyncDevice" => {
            let p = by(&[
                "Identity",
                "AccountOnly",
                "NotificationEmailAddresses",
                "Cancel",
            ])?;
            let id = p.required("Identity")?;
            p.boolean("AccountOnly")?;
            if p.whatif() {
                return Ok(Execution::done(Vec::new()));
            }
            let mut o = write(org);
            let i = find_device(&o, &id).ok_or_else(|| not_found(name, &id))?;
            o.request_wipe(i, &ctx.account.user, ctx.now)
                .map_err(|e| org_err(name, e))?;
            Ok(Execution::done(Vec::new()))
        }
        "Remove-MobileDevice" | "Remove-ActiveSyncDevice" => {
            let p = by(&["Identity"])?;
            let id = p.required("Identity")?;
            if p.whatif() {
                return Ok(Execution::done(Vec::new()));
            }
            let mut o = write(org);
            let i = find_device(&o, &id).ok_or_else(|| not_found(name, &id))?;
            o.remove_device(i).map_err(|e| org_err(name, e))?;
            Ok(Execution::done(Vec::new()))
        }
        "Get-ActiveSyncOrganizationSettings" => {
            by(&["Identity"])?;
            let o = read(org);
            Ok(Execution::done(vec![Emitted::Output(org_settings_object(
                &o,
            ))]))
        }
        "Set-ActiveSyncOrganizationSettings" => set_org_settings(
            org,
            ctx,
            &by(&[
                "Identity",
                "DefaultAccessLevel",
                "AdminMailRecipients",
                "UserMailInsert",
                "OtaNotificationMailInsert",
                "AllowAccessForUnSupportedPlatform",
            ])?,
            name,
        ),
        "Get-ActiveSyncDeviceAccessRule" => {
            let p = by(&["Identity"])?;
            let o = read(org);
            let id = p.string("Identity");
            let out: Vec<Emitted> = o
                .rules
                .iter()
                .filter(|r| {
                    id.as_deref()
                        .is_none_or(|i| r.name().eq_ignore_ascii_case(i.trim()))
                })
                .map(|r| Emitted::Output(rule_object(&o, r)))
                .collect();
            if out.is_empty() {
                if let Some(i) = id {
                    return Err(not_found(name, &i));
                }
            }
            Ok(Execution::done(out))
        }
        "New-ActiveSyncDeviceAccessRule" => {
            let p = by(&["QueryString", "Characteristic", "AccessLevel"])?;
            let q = p.required("QueryString")?;
            let c = p.required("Characteristic")?;
            let l = p.required("AccessLevel")?;
            let characteristic = DeviceAccessCharacteristic::parse(&c).ok_or_else(|| {
                p.bad("Characteristic", &Value::String(c.clone()), "Microsoft.Exchange.Data.Directory.SystemConfiguration.DeviceAccessCharacteristic", "Unable to match the identifier name to a valid enumerator name. Specify one of the following enumerator names and try again: DeviceType, DeviceModel, DeviceOS, UserAgent, XMSWLHeader")
            })?;
            let access_level = parse_level(&p, &l)?;
            let rule = DeviceAccessRule {
                query_string: q,
                characteristic,
                access_level,
            };
            if p.whatif() {
                return Ok(Execution::done(Vec::new()));
            }
            let mut o = write(org);
            o.add_rule(rule.clone(), ctx.now)
                .map_err(|e| org_err(name, e))?;
            Ok(Execution::done(vec![Emitted::Output(rule_object(
                &o, &rule,
            ))]))
        }
        "Set-ActiveSyncDeviceAccessRule" => {
            let p = by(&["Identity", "AccessLevel"])?;
            let id = p.required("Identity")?;
            let level = p
                .string("AccessLevel")
                .map(|l| parse_level(&p, &l))
                .transpose()?;
            let mut o = write(org);
            match level {
                Some(l) => o.set_rule_level(&id, l, ctx.now).map(|_| ()),
                None => o
                    .rules
                    .iter()
                    .any(|r| r.name().eq_ignore_ascii_case(id.trim()))
                    .then_some(())
                    .ok_or(OrgError::NotFound(id.clone())),
            }
            .map_err(|e| org_err(name, e))?;
            Ok(Execution::done(Vec::new()))
        }
        "Remove-ActiveSyncDeviceAccessRule" => {
            let p = by(&["Identity"])?;
            let id = p.required("Identity")?;
            write(org)
                .remove_rule(&id, ctx.now)
                .map_err(|e| org_err(name, e))?;
            Ok(Execution::done(Vec::new()))
        }
        "Get-ActiveSyncMailboxPolicy" | "Get-MobileDeviceMailboxPolicy" => {
            let p = by(&["Identity"])?;
            let o = read(org);
            let id = p.string("Identity");
            let out: Vec<Emitted> = o
                .policies
                .iter()
                .filter(|x| {
                    id.as_deref()
                        .is_none_or(|i| x.name.eq_ignore_ascii_case(i.trim()))
                })
                .map(|x| Emitted::Output(policy_object(&o, x)))
                .collect();
            if out.is_empty() {
                if let Some(i) = id {
                    return Err(not_found(name, &i));
                }
            }
            Ok(Execution::done(out))
        }
        "New-ActiveSyncMailboxPolicy"
        | "New-MobileDeviceMailboxPolicy"
        | "Set-ActiveSyncMailboxPolicy"
        | "Set-MobileDeviceMailboxPolicy" => policy_write(org, cmd, name),
        "Remove-ActiveSyncMailboxPolicy" | "Remove-MobileDeviceMailboxPolicy" => {
            let p = by(&["Identity"])?;
            let id = p.required("Identity")?;
            write(org)
                .remove_policy(&id)
                .map_err(|e| org_err(name, e))?;
            Ok(Execution::done(Vec::new()))
        }
        "Get-ActiveSyncDeviceClass" => device_classes(
            org,
            &by(&["Identity", "ResultSize", "Filter", "SortBy"])?,
            name,
        ),
        other => Err(CmdError::CommandNotFound(other.to_string())),
    }
}

fn parse_level(p: &Params, l: &str) -> Result<AccessLevel, CmdError> {
    AccessLevel::parse(l).ok_or_else(|| {
        p.bad(
            "AccessLevel",
            &Value::String(l.to_string()),
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.DeviceAccessLevel",
            "Unable to match the identifier name to a valid enumerator name. Specify one of the following enumerator names and try again: Allow, Block, Quarantine",
        )
    })
}

fn get_command(
    ctx: &Context<'_>,
    p: &Params,
    version: ExchangeVersion,
) -> Result<Execution, CmdError> {
    let visible = visible_cmdlets(ctx.account, version);
    let Some(v) = p.get("Name") else {
        return Ok(Execution::done(
            visible
                .iter()
                .map(|n| Emitted::Output(command_object(n)))
                .collect(),
        ));
    };
    let mut out = Vec::new();
    for pattern in strings_of(v) {
        let wild = pattern.contains(['*', '?']);
        let hits: Vec<&&str> = visible
            .iter()
            .filter(|n| crate::wire::exchange::opath::wildcard_match(&pattern, n))
            .collect();
        if hits.is_empty() && !wild {
            let e = CmdError::CommandNotFound(pattern.clone());
            out.push(Emitted::Error(e.error_record(ctx.server)));
        }
        out.extend(hits.into_iter().map(|n| Emitted::Output(command_object(n))));
    }
    Ok(Execution::done(out))
}

fn get_exchange_server(
    org: &RwLock<Org>,
    ctx: &Context<'_>,
    p: &Params,
) -> Result<Execution, CmdError> {
    p.boolean("Status")?;
    let o = read(org);
    let id = p.string("Identity");
    let out: Vec<Emitted> = ctx
        .servers
        .iter()
        .filter(|sv| {
            id.as_deref().is_none_or(|i| {
                let i = i.trim();
                sv.name.eq_ignore_ascii_case(i)
                    || sv.address.eq_ignore_ascii_case(i)
                    || i.split('.')
                        .next()
                        .is_some_and(|h| sv.name.eq_ignore_ascii_case(h))
            })
        })
        .map(|sv| Emitted::Output(server_object(&o, sv)))
        .collect();
    if out.is_empty() {
        if let Some(i) = id {
            return Err(not_found("Get-ExchangeServer", &i));
        }
    }
    Ok(Execution::done(out))
}

fn get_mailboxes(
    org: &RwLock<Org>,
    p: &Params,
    name: &str,
    kind: LazyKind,
) -> Result<Execution, CmdError> {
    let (size, explicit) = p.result_size()?;
    let o = read(org);
    let sample = MailboxRec { org: &o, index: 0 };
    let filter = p.filter(Some(&sample))?;
    if let Some(id) = p.string("Identity") {
        let i = o.find_mailbox(&id).ok_or_else(|| not_found(name, &id))?;
        return Ok(limit(vec![i], None, false, kind));
    }
    let n = u32::try_from(o.mailboxes.len()).unwrap_or(u32::MAX);
    let indices: Vec<u32> = (0..n)
        .filter(|&i| {
            filter
                .as_ref()
                .is_none_or(|f| f.matches(&MailboxRec { org: &o, index: i }))
        })
        .collect();
    Ok(limit(indices, size, explicit, kind))
}

fn device_indices(o: &Org, p: &Params, name: &str) -> Result<Vec<u32>, CmdError> {
    if let Some(id) = p.string("Identity") {
        let i = find_device(o, &id).ok_or_else(|| not_found(name, &id))?;
        return Ok(vec![i]);
    }
    if let Some(mb) = p.string("Mailbox") {
        let m = o.find_mailbox(&mb).ok_or_else(|| not_found(name, &mb))?;
        let mbx = o
            .mailboxes
            .get(m as usize)
            .ok_or_else(|| not_found(name, &mb))?;
        return Ok((mbx.first_device..mbx.first_device.saturating_add(mbx.device_count)).collect());
    }
    let n = u32::try_from(o.devices.len()).unwrap_or(u32::MAX);
    Ok((0..n).collect())
}

fn get_devices(org: &RwLock<Org>, p: &Params, name: &str) -> Result<Execution, CmdError> {
    let (size, explicit) = p.result_size()?;
    p.boolean("ActiveSync")?;
    let owa = p.boolean("OWAforDevices")?.unwrap_or(false);
    let o = read(org);
    let sample = DeviceRec { org: &o, index: 0 };
    let filter = p.filter(Some(&sample))?;
    let mut indices = if owa {
        Vec::new()
    } else {
        device_indices(&o, p, name)?
    };
    if let Some(f) = &filter {
        indices.retain(|&i| f.matches(&DeviceRec { org: &o, index: i }));
    }
    let kind = if name == "Get-ActiveSyncDevice" {
        LazyKind::ActiveSyncDevice
    } else {
        LazyKind::MobileDevice
    };
    Ok(limit(indices, size, explicit, kind))
}

fn get_statistics(org: &RwLock<Org>, p: &Params, name: &str) -> Result<Execution, CmdError> {
    if p.get("Identity").is_none() && p.get("Mailbox").is_none() {
        return Err(CmdError::Missing {
            cmdlet: name.to_string(),
            param: "Identity".into(),
        });
    }
    for sw in [
        "ActiveSync",
        "OWAforDevices",
        "GetMailboxLog",
        "ShowRecoveryPassword",
    ] {
        p.boolean(sw)?;
    }
    let o = read(org);
    let indices = device_indices(&o, p, name)?;
    Ok(limit(indices, None, false, LazyKind::Statistics))
}

fn set_cas_mailbox(
    org: &RwLock<Org>,
    ctx: &Context<'_>,
    p: &Params,
) -> Result<Execution, CmdError> {
    let name = "Set-CASMailbox";
    let id = p.required("Identity")?;
    let allowed = p.list_update("ActiveSyncAllowedDeviceIDs")?;
    let blocked = p.list_update("ActiveSyncBlockedDeviceIDs")?;
    let enabled = p.boolean("ActiveSyncEnabled")?;
    let policy = p.string("ActiveSyncMailboxPolicy");
    if p.whatif() {
        return Ok(Execution::done(Vec::new()));
    }
    let mut o = write(org);
    let m = o.find_mailbox(&id).ok_or_else(|| not_found(name, &id))?;
    if let Some(pol) = &policy {
        let i = o.policy_index(pol).map_err(|e| org_err(name, e))?;
        let canonical = o.policies.get(i).map(|x| x.name.clone());
        if let Some(mb) = o.mailboxes.get_mut(m as usize) {
            mb.policy = canonical;
        }
    }
    if let Some(e) = enabled {
        if let Some(mb) = o.mailboxes.get_mut(m as usize) {
            mb.activesync_enabled = e;
        }
    }
    for (list, is_blocked) in [(allowed, false), (blocked, true)] {
        if let Some(u) = list {
            o.update_device_list(m, is_blocked, &u, ctx.now);
        }
    }
    Ok(Execution::done(Vec::new()))
}

fn set_org_settings(
    org: &RwLock<Org>,
    ctx: &Context<'_>,
    p: &Params,
    name: &str,
) -> Result<Execution, CmdError> {
    let level = p
        .string("DefaultAccessLevel")
        .map(|l| parse_level(p, &l))
        .transpose()?;
    let admins = p.list_update("AdminMailRecipients")?;
    let insert = p.string("UserMailInsert");
    p.boolean("AllowAccessForUnSupportedPlatform")?;
    if let Some(id) = p.string("Identity") {
        if !id.trim().eq_ignore_ascii_case("Mobile Mailbox Settings") {
            return Err(not_found(name, &id));
        }
    }
    if p.whatif() {
        return Ok(Execution::done(Vec::new()));
    }
    let mut o = write(org);
    if let Some(u) = admins {
        u.apply(&mut o.settings.admin_mail_recipients);
    }
    if let Some(i) = insert {
        o.settings.user_mail_insert = i;
    }
    if let Some(l) = level {
        o.set_default_access_level(l, ctx.now);
    }
    Ok(Execution::done(Vec::new()))
}

fn policy_write(
    org: &RwLock<Org>,
    cmd: &Command,
    name: &'static str,
) -> Result<Execution, CmdError> {
    let creating = name.starts_with("New-");
    let mut names: Vec<&'static str> = POLICY_SETTINGS.iter().map(|(n, _)| *n).collect();
    names.extend(["IsDefault", "IsDefaultPolicy"]);
    names.push(if creating { "Name" } else { "Identity" });
    let p = Params::bind(name, cmd, &names)?;
    let id = p.required(if creating { "Name" } else { "Identity" })?;
    let is_default = match p.boolean("IsDefault")? {
        Some(b) => Some(b),
        None => p.boolean("IsDefaultPolicy")?,
    };
    let mut settings = Vec::new();
    for (k, v) in &p.values {
        if let Some((canonical, default)) = POLICY_SETTINGS.iter().find(|(n, _)| n == k) {
            let text = match v {
                Value::Nil => String::new(),
                other => value_text(other),
            };
            // Booleans keep Exchange's casing; other values go in as given.
            let text = if matches!(*default, "True" | "False") {
                match text.to_ascii_lowercase().as_str() {
                    "true" | "$true" | "1" => "True".into(),
                    "false" | "$false" | "0" => "False".into(),
                    _ => {
                        return Err(p.bad(canonical, v, "System.Boolean", "Invalid boolean value."))
                    }
                }
            } else {
                text
            };
            settings.push((canonical.to_string(), text));
        }
    }
    if p.whatif() {
        return Ok(Execution::done(Vec::new()));
    }
    let mut o = write(org);
    if creating {
        o.add_policy(&id, is_default.unwrap_or(false), &settings)
            .map_err(|e| org_err(name, e))?;
        let i = o.policy_index(&id).map_err(|e| org_err(name, e))?;
        let out = o.policies.get(i).map(|x| policy_object(&o, x));
        Ok(Execution::done(
            out.into_iter().map(Emitted::Output).collect(),
        ))
    } else {
        o.update_policy(&id, is_default, &settings)
            .map_err(|e| org_err(name, e))?;
        Ok(Execution::done(Vec::new()))
    }
}

struct ClassRec<'a> {
    device_type: &'a str,
    model: &'a str,
    last: i64,
}

impl Record for ClassRec<'_> {
    fn field(&self, p: &str) -> Option<FieldValue> {
        Some(match p.to_ascii_lowercase().as_str() {
            "devicetype" => FieldValue::Str(self.device_type.into()),
            "devicemodel" => FieldValue::Str(self.model.into()),
            "lastupdatetime" => FieldValue::Date(self.last),
            _ => return None,
        })
    }
}

fn device_classes(org: &RwLock<Org>, p: &Params, name: &str) -> Result<Execution, CmdError> {
    let (size, explicit) = p.result_size()?;
    let sample = ClassRec {
        device_type: "",
        model: "",
        last: 0,
    };
    let filter = p.filter(Some(&sample))?;
    let o = read(org);
    let mut classes: Vec<(&'static str, &'static str, i64)> = Vec::new();
    for d in &o.devices {
        let k = o.kind(d);
        match classes
            .iter_mut()
            .find(|(t, m, _)| *t == k.device_type && *m == k.model)
        {
            Some(c) => c.2 = c.2.max(d.last_sync),
            None => classes.push((k.device_type, k.model, d.last_sync)),
        }
    }
    let id = p.string("Identity");
    let mut out = Vec::new();
    let mut matched = 0usize;
    for (t, m, last) in classes {
        let cname = format!("{t}§{m}");
        if id
            .as_deref()
            .is_some_and(|i| !cname.eq_ignore_ascii_case(i.trim()))
        {
            continue;
        }
        if filter.as_ref().is_some_and(|f| {
            !f.matches(&ClassRec {
                device_type: t,
                model: m,
                last,
            })
        }) {
            continue;
        }
        matched += 1;
        if size.is_some_and(|n| out.len() >= n) {
            continue;
        }
        out.push(Emitted::Output(obj(
            &[
                "Microsoft.Exchange.Data.Directory.SystemConfiguration.ActiveSyncDeviceClass",
                "Microsoft.Exchange.Data.Directory.SystemConfiguration.ADConfigurationObject",
                "Microsoft.Exchange.Data.Directory.ADObject",
                "Microsoft.Exchange.Data.Directory.ADRawEntry",
                CONFIGURABLE,
                "System.Object",
            ],
            cname.clone(),
            vec![
                ("DeviceType", s(t)),
                ("DeviceModel", s(m)),
                ("LastUpdateTime", datetime(last)),
                ("Name", s(cname.clone())),
                ("Identity", s(cname.clone())),
                ("DistinguishedName", s(config_dn(&o, &cname))),
                ("Guid", Value::Guid(named_guid(&cname))),
                ("IsValid", Value::Bool(true)),
            ],
        )));
    }
    if matched == 0 {
        if let Some(i) = id {
            return Err(not_found(name, &i));
        }
    }
    if size.is_some_and(|n| matched > n) {
        out.push(Emitted::Warning(truncation_warning(explicit)));
    }
    Ok(Execution::done(out))
}

#[cfg(test)]
mod golden;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::accounts::Accounts;
    use crate::lab::org::LAB_EPOCH;
    use crate::wire::clixml::ErrorRecord;
    use crate::wire::exchange::{DeviceAccessState, DeviceAccessStateReason};

    struct T {
        org: RwLock<Org>,
        accounts: Accounts,
        servers: Vec<ServerDesc>,
    }

    fn lab(devices: u32, version: ExchangeVersion) -> T {
        T {
            org: RwLock::new(Org::generate(5, devices, version)),
            accounts: Accounts::generate(5, "contoso.test"),
            servers: vec![ServerDesc {
                name: "LAB-CAS01".into(),
                address: "127.0.0.1:4443".into(),
            }],
        }
    }

    impl T {
        fn run_as(&self, who: &Account, cmd: Command) -> Vec<Emitted> {
            let ctx = Context {
                account: who,
                servers: &self.servers,
                server: "LAB-CAS01",
                now: LAB_EPOCH + 100,
            };
            let mut e = execute(&self.org, &ctx, &[cmd]);
            let mut out = e.records.clone();
            if let Some(l) = e.lazy.as_mut() {
                let o = self.org.read().unwrap();
                while let Some(v) = l.next_value(&o) {
                    out.push(Emitted::Output(v));
                }
            }
            out.extend(e.trailing.clone());
            if let Outcome::Failed(v) = e.outcome {
                out.push(Emitted::Error(v));
            }
            out
        }
        fn run(&self, cmd: Command) -> Vec<Emitted> {
            self.run_as(&self.accounts.service, cmd)
        }
    }

    fn outputs(v: &[Emitted]) -> Vec<&Value> {
        v.iter()
            .filter_map(|e| match e {
                Emitted::Output(v) => Some(v),
                _ => None,
            })
            .collect()
    }

    fn error_id(v: &[Emitted]) -> Option<String> {
        v.iter().find_map(|e| match e {
            Emitted::Error(v) => {
                ErrorRecord::from_value(v).and_then(|r| r.fully_qualified_error_id())
            }
            _ => None,
        })
    }

    fn prop<'a>(v: &'a Value, name: &str) -> &'a Value {
        v.get(name).unwrap_or_else(|| panic!("no {name}"))
    }

    #[test]
    fn rbac_hides_cmdlets_from_the_help_desk() {
        let t = lab(10, ExchangeVersion::V2019);
        let names = |who: &Account| -> Vec<String> {
            outputs(&t.run_as(who, Command::new("Get-Command")))
                .iter()
                .map(|v| prop(v, "Name").as_str().unwrap().to_string())
                .collect()
        };
        let all = names(&t.accounts.service);
        let limited = names(&t.accounts.limited);
        assert!(all.contains(&"Set-CASMailbox".to_string()));
        assert!(all.contains(&"Get-MobileDevice".to_string()));
        assert!(!limited.contains(&"Set-CASMailbox".to_string()));
        assert!(limited
            .iter()
            .all(|n| n.starts_with("Get-") || n == "Set-ADServerSettings"));
        assert!(limited.contains(&"Get-MobileDevice".to_string()));
        let r = t.run_as(
            &t.accounts.limited,
            Command::new("Set-CASMailbox").arg("Identity", "anna.devries"),
        );
        assert_eq!(error_id(&r).as_deref(), Some("CommandNotFoundException"));
        let r = t.run_as(
            &t.accounts.limited,
            Command::new("Get-Command").arg("Name", "Set-CASMailbox"),
        );
        assert_eq!(error_id(&r).as_deref(), Some("CommandNotFoundException"));
        // 2010 has no *-MobileDevice cmdlets.
        let t10 = lab(5, ExchangeVersion::V2010);
        let r = t10.run(Command::new("Get-MobileDevice"));
        assert_eq!(error_id(&r).as_deref(), Some("CommandNotFoundException"));
        assert_eq!(
            outputs(&t10.run(Command::new("Get-ActiveSyncDevice"))).len(),
            5
        );
    }

    #[test]
    fn scripts_and_bad_parameters_fail_like_exchange() {
        let t = lab(3, ExchangeVersion::V2019);
        let mut c = Command::new("Get-MobileDevice | fl");
        c.is_script = true;
        let r = t.run(c);
        assert_eq!(error_id(&r).as_deref(), Some("ScriptsNotAllowed"));
        let r = t.run(Command::new("Get-MobileDevice").arg("Colour", "red"));
        assert_eq!(
            error_id(&r).as_deref(),
            Some("NamedParameterNotFound,Get-MobileDevice")
        );
        let r = t.run(Command::new("Get-MobileDevice").arg("ResultSize", "lots"));
        assert_eq!(
            error_id(&r).as_deref(),
            Some("CannotConvertArgumentNoMessage,Get-MobileDevice")
        );
        let r = t.run(Command::new("Set-CASMailbox").arg("ActiveSyncEnabled", false));
        assert_eq!(
            error_id(&r).as_deref(),
            Some("MissingMandatoryParameter,Set-CASMailbox")
        );
        let r = t.run(Command::new("Get-MobileDevice").arg("Filter", "Nope -eq 'x'"));
        assert_eq!(
            error_id(&r).as_deref(),
            Some("ParameterBindingFailed,Get-MobileDevice")
        );
        let r = t.run(Command::new("Get-MobileDevice").arg("Identity", "nope"));
        let id = error_id(&r).unwrap();
        assert!(id.contains("ManagementObjectNotFoundException"), "{id}");
        assert!(
            id.ends_with("Microsoft.Exchange.Management.Tasks.GetMobileDevice"),
            "{id}"
        );
        let r = t.run(
            Command::new("Set-MobileDeviceMailboxPolicy")
                .arg("Identity", "Default")
                .arg("AllowTelepathy", true),
        );
        assert_eq!(
            error_id(&r).as_deref(),
            Some("NamedParameterNotFound,Set-MobileDeviceMailboxPolicy")
        );
    }

    #[test]
    fn result_size_and_warning() {
        let t = lab(1200, ExchangeVersion::V2019);
        let r = t.run(Command::new("Get-MobileDevice"));
        assert_eq!(outputs(&r).len(), 1000);
        assert!(
            matches!(r.last(), Some(Emitted::Warning(w)) if w.starts_with("By default, only the first 1000"))
        );
        let r = t.run(Command::new("Get-MobileDevice").arg("ResultSize", "Unlimited"));
        assert_eq!(outputs(&r).len(), 1200);
        assert!(!r.iter().any(|e| matches!(e, Emitted::Warning(_))));
        let r = t.run(Command::new("Get-MobileDevice").arg("ResultSize", 7));
        assert_eq!(outputs(&r).len(), 7);
        assert!(
            matches!(r.last(), Some(Emitted::Warning(w)) if w.starts_with("There are more results"))
        );
    }

    #[test]
    fn device_objects_have_exchange_shape() {
        let t = lab(20, ExchangeVersion::V2019);
        let r = t.run(Command::new("Get-MobileDevice").arg("ResultSize", "Unlimited"));
        let d = outputs(&r)[0];
        assert_eq!(
            d.type_names()[0],
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.MobileDevice"
        );
        assert_eq!(d.type_names().last().unwrap(), "System.Object");
        for p in [
            "Identity",
            "Guid",
            "DeviceId",
            "DeviceType",
            "DeviceModel",
            "DeviceOS",
            "DeviceUserAgent",
            "DeviceImei",
            "DeviceMobileOperator",
            "FriendlyName",
            "FirstSyncTime",
            "WhenChanged",
            "WhenCreated",
            "DeviceAccessState",
            "DeviceAccessStateReason",
            "DeviceAccessControlRule",
            "ClientType",
            "UserDisplayName",
            "DistinguishedName",
            "IsValid",
        ] {
            assert!(d.get(p).is_some(), "{p}");
        }
        assert!(matches!(prop(d, "WhenChanged"), Value::DateTime(s) if s.ends_with('Z')));
        assert_eq!(
            prop(d, "DeviceAccessState")
                .as_object()
                .unwrap()
                .to_string
                .as_deref(),
            Some("Allowed")
        );
        assert_eq!(prop(d, "DeviceAccessState").as_i64(), Some(1));
        // By identity, by device id, by GUID; statistics.
        let id = prop(d, "Identity").as_str().unwrap().to_string();
        let dev_id = prop(d, "DeviceId").as_str().unwrap().to_string();
        for ident in [id.clone(), dev_id.clone()] {
            let r = t.run(Command::new("Get-MobileDevice").arg("Identity", ident.as_str()));
            assert_eq!(outputs(&r).len(), 1);
        }
        let r = t.run(Command::new("Get-MobileDeviceStatistics").arg("Identity", id.as_str()));
        let st = outputs(&r)[0];
        assert_eq!(prop(st, "DeviceID").as_str(), Some(dev_id.as_str()));
        assert!(st.get("LastSuccessSync").is_some());
        // Filter on type and date.
        let r = t.run(Command::new("Get-MobileDevice").arg(
            "Filter",
            "DeviceType -eq 'iPhone' -and WhenChanged -gt '01/01/2020 00:00:00'",
        ));
        assert!(outputs(&r)
            .iter()
            .all(|v| prop(v, "DeviceType").as_str() == Some("iPhone")));
    }

    #[test]
    fn set_cas_mailbox_with_hashtable_blocks_and_unblocks() {
        let t = lab(10, ExchangeVersion::V2019);
        let (alias, dev_id) = {
            let o = t.org.read().unwrap();
            let d = o.devices[0];
            (
                o.mailboxes[d.mailbox as usize].alias.clone(),
                o.device_id(&d),
            )
        };
        let r = t.run(
            Command::new("Set-CASMailbox")
                .arg("Identity", alias.as_str())
                .arg(
                    "ActiveSyncBlockedDeviceIDs",
                    Value::hashtable([(
                        "Add",
                        Value::array(vec![Value::string(dev_id.clone()), Value::string("other")]),
                    )]),
                ),
        );
        assert!(outputs(&r).is_empty() && error_id(&r).is_none(), "{r:?}");
        {
            let o = t.org.read().unwrap();
            assert_eq!(o.devices[0].state, DeviceAccessState::Blocked);
            assert_eq!(o.devices[0].reason, DeviceAccessStateReason::Individual);
            assert_eq!(o.devices[0].when_changed, LAB_EPOCH + 100);
        }
        let r = t.run(Command::new("Get-CASMailbox").arg("Identity", alias.as_str()));
        let m = outputs(&r)[0];
        assert_eq!(
            prop(m, "ActiveSyncBlockedDeviceIDs").items().unwrap().len(),
            2
        );
        t.run(
            Command::new("Set-CASMailbox")
                .arg("Identity", alias.as_str())
                .arg(
                    "ActiveSyncBlockedDeviceIDs",
                    Value::hashtable([("Remove", Value::string(dev_id.clone()))]),
                )
                .arg(
                    "ActiveSyncAllowedDeviceIDs",
                    Value::array(vec![Value::string(dev_id.clone())]),
                ),
        );
        let o = t.org.read().unwrap();
        assert_eq!(o.devices[0].state, DeviceAccessState::Allowed);
        assert_eq!(o.devices[0].reason, DeviceAccessStateReason::Individual);
        assert_eq!(
            o.mailboxes[o.devices[0].mailbox as usize].blocked,
            vec!["other".to_string()]
        );
        drop(o);
        let r = t.run(
            Command::new("Set-CASMailbox")
                .arg("Identity", alias.as_str())
                .arg(
                    "ActiveSyncBlockedDeviceIDs",
                    Value::hashtable([("Replace", Value::string("x"))]),
                ),
        );
        assert_eq!(
            error_id(&r).as_deref(),
            Some("CannotConvertArgumentNoMessage,Set-CASMailbox")
        );
    }

    #[test]
    fn rules_policies_settings_wipe_and_remove() {
        let t = lab(30, ExchangeVersion::V2016);
        t.run(
            Command::new("Set-ActiveSyncOrganizationSettings")
                .arg("DefaultAccessLevel", "Quarantine")
                .arg(
                    "AdminMailRecipients",
                    Value::array(vec![Value::string("a@contoso.test")]),
                ),
        );
        let r = t.run(Command::new("Get-ActiveSyncOrganizationSettings"));
        assert_eq!(
            outputs(&r)[0]
                .get("DefaultAccessLevel")
                .unwrap()
                .as_object()
                .unwrap()
                .to_string
                .as_deref(),
            Some("Quarantine")
        );
        assert!(t
            .org
            .read()
            .unwrap()
            .devices
            .iter()
            .all(|d| d.state == DeviceAccessState::Quarantined));
        let r = t.run(
            Command::new("New-ActiveSyncDeviceAccessRule")
                .arg("QueryString", "iPhone")
                .arg("Characteristic", "DeviceType")
                .arg("AccessLevel", "Allow"),
        );
        assert_eq!(
            prop(outputs(&r)[0], "Identity").as_str(),
            Some("iPhone (DeviceType)")
        );
        let r = t.run(
            Command::new("Get-ActiveSyncDeviceAccessRule").arg("Identity", "iPhone (DeviceType)"),
        );
        assert_eq!(outputs(&r).len(), 1);
        t.run(
            Command::new("Set-ActiveSyncDeviceAccessRule")
                .arg("Identity", "iPhone (DeviceType)")
                .arg("AccessLevel", "Block"),
        );
        t.run(
            Command::new("Remove-ActiveSyncDeviceAccessRule")
                .arg("Identity", "iPhone (DeviceType)")
                .switch("Confirm"),
        );
        assert!(t.org.read().unwrap().rules.is_empty());

        let r = t.run(
            Command::new("New-MobileDeviceMailboxPolicy")
                .arg("Name", "Strict")
                .arg("DevicePasswordEnabled", true)
                .arg("MinDevicePasswordLength", 6),
        );
        let p = outputs(&r)[0];
        assert_eq!(prop(p, "DevicePasswordEnabled"), &Value::Bool(true));
        assert_eq!(prop(p, "MinDevicePasswordLength"), &Value::Int32(6));
        assert_eq!(prop(p, "IsDefault"), &Value::Bool(false));
        t.run(
            Command::new("Set-ActiveSyncMailboxPolicy")
                .arg("Identity", "Strict")
                .switch("IsDefault")
                .arg("AllowCamera", false),
        );
        let r = t.run(Command::new("Get-MobileDeviceMailboxPolicy"));
        assert_eq!(outputs(&r).len(), 2);
        let r = t.run(Command::new("Remove-MobileDeviceMailboxPolicy").arg("Identity", "Strict"));
        assert!(error_id(&r).unwrap().contains("ArgumentException"));
        t.run(Command::new("Remove-MobileDeviceMailboxPolicy").arg("Identity", "Default"));
        assert_eq!(t.org.read().unwrap().policies.len(), 1);

        let id = t
            .org
            .read()
            .unwrap()
            .device_id(&t.org.read().unwrap().devices[3]);
        t.run(
            Command::new("Clear-MobileDevice")
                .arg("Identity", id.as_str())
                .arg("Confirm", false),
        );
        let r = t.run(Command::new("Get-MobileDeviceStatistics").arg("Identity", id.as_str()));
        assert!(!outputs(&r).is_empty(), "{r:?}");
        assert_eq!(
            prop(outputs(&r)[0], "Status")
                .as_object()
                .unwrap()
                .to_string
                .as_deref(),
            Some("DeviceWipePending")
        );
        t.run(Command::new("Remove-MobileDevice").arg("Identity", id.as_str()));
        assert_eq!(t.org.read().unwrap().devices.len(), 29);
        let r = t.run(Command::new("Get-MobileDevice").arg("Identity", id.as_str()));
        assert!(error_id(&r).is_some());
        let r = t.run(Command::new("Get-ActiveSyncDeviceClass"));
        assert!(!outputs(&r).is_empty());
        let r = t.run(Command::new("Get-ExchangeServer"));
        assert_eq!(
            prop(outputs(&r)[0], "Fqdn").as_str(),
            Some("127.0.0.1:4443")
        );
        assert!(outputs(&t.run(Command::new("Get-Recipient").arg("ResultSize", 3))).len() == 3);
        assert!(outputs(
            &t.run(Command::new("Set-ADServerSettings").arg("ViewEntireForest", true))
        )
        .is_empty());
    }
}
