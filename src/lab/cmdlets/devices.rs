//! The mobile device cmdlets: `Get-MobileDevice`, `Get-MobileDeviceStatistics`,
//! `Clear-MobileDevice` and `Remove-MobileDevice`, each also under its Exchange 2010 name
//! (`*-ActiveSyncDevice*`), and the objects they emit (`MobileDevice`, `ActiveSyncDevice`,
//! `MobileDeviceConfiguration`), rendered lazily a page at a time.
//!
//! It must not render a device before a page asks for it, and must leave access decisions to
//! the org (a wipe request or removal goes through [`Org`]).

use std::sync::RwLock;

use uuid::Uuid;

use super::render::{
    datetime, device_guid, dn_domain, exchange_version, mv, object, opt_s, s, AD_OBJECT,
    CONFIGURABLE_OBJECT,
};
use super::{
    read, write, CmdError, Cmdlet, Context, Execution, Naming, Needs, Parameters, Params, Spec,
};
use super::{Render, DOMAIN_CONTROLLER};
use crate::lab::accounts::Role;
use crate::lab::org::Org;
use crate::wire::clixml::Value;
use crate::wire::exchange::opath::{FieldValue, Record};

/// `Get-MobileDevice` / `Get-ActiveSyncDevice`.
pub struct GetDevice(pub Naming);

impl Cmdlet for GetDevice {
    fn spec(&self) -> Spec {
        Spec {
            name: self.0.pick("Get-ActiveSyncDevice", "Get-MobileDevice"),
            parameters: Parameters::identity(&[
                "Mailbox",
                "Identity",
                "ActiveSync",
                "OWAforDevices",
                "ResultSize",
                "Filter",
                "SortBy",
            ]),
            needs: Needs::View,
            versions: self.0.versions(),
        }
    }

    fn run(&self, org: &RwLock<Org>, _: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        let (size, explicit) = p.result_size()?;
        p.boolean("ActiveSync")?;
        let owa = p.boolean("OWAforDevices")?.unwrap_or(false);
        let o = read(org);
        let sample = DeviceRec { org: &o, index: 0 };
        let filter = p.filter(Some(&sample))?;
        let mut indices = if owa {
            Vec::new()
        } else {
            device_indices(&o, p, self.name())?
        };
        if let Some(f) = &filter {
            indices.retain(|&i| f.matches(&DeviceRec { org: &o, index: i }));
        }
        let render: Render = match self.0 {
            Naming::ActiveSync => |o: &Org, i| device_object(o, i, Naming::ActiveSync),
            Naming::MobileDevice => |o: &Org, i| device_object(o, i, Naming::MobileDevice),
        };
        Ok(Execution::listing(indices, size, explicit, render))
    }
}

/// `Get-MobileDeviceStatistics` / `Get-ActiveSyncDeviceStatistics`.
pub struct GetStatistics(pub Naming);

impl Cmdlet for GetStatistics {
    fn spec(&self) -> Spec {
        Spec {
            name: self.0.pick(
                "Get-ActiveSyncDeviceStatistics",
                "Get-MobileDeviceStatistics",
            ),
            parameters: Parameters::identity(&[
                "Identity",
                "Mailbox",
                "ActiveSync",
                "OWAforDevices",
                "GetMailboxLog",
                "NotificationEmailAddresses",
                "ShowRecoveryPassword",
            ]),
            needs: Needs::View,
            versions: self.0.versions(),
        }
    }

    fn run(&self, org: &RwLock<Org>, _: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        if !p.is_set("Identity") && !p.is_set("Mailbox") {
            return Err(CmdError::Missing {
                cmdlet: self.name(),
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
        let indices = device_indices(&o, p, self.name())?;
        Ok(Execution::listing(indices, None, false, statistics_object))
    }
}

/// `Clear-MobileDevice` / `Clear-ActiveSyncDevice`: a remote wipe request.
pub struct ClearDevice(pub Naming);

impl Cmdlet for ClearDevice {
    fn spec(&self) -> Spec {
        Spec {
            name: self.0.pick("Clear-ActiveSyncDevice", "Clear-MobileDevice"),
            parameters: Parameters::identity(&[
                "Identity",
                "AccountOnly",
                "NotificationEmailAddresses",
                "Cancel",
            ]),
            needs: Needs::Role(Role::RecipientManagement),
            versions: self.0.versions(),
        }
    }

    fn run(&self, org: &RwLock<Org>, ctx: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        let id = p.required("Identity")?;
        p.boolean("AccountOnly")?;
        if p.whatif() {
            return Ok(Execution::done(Vec::new()));
        }
        let mut o = write(org);
        let i = find_device(&o, &id).ok_or_else(|| CmdError::not_found(self.name(), &id))?;
        o.request_wipe(i, &ctx.account.user, ctx.now)
            .map_err(|e| CmdError::from_org(self.name(), e))?;
        Ok(Execution::done(Vec::new()))
    }
}

/// `Remove-MobileDevice` / `Remove-ActiveSyncDevice`.
pub struct RemoveDevice(pub Naming);

impl Cmdlet for RemoveDevice {
    fn spec(&self) -> Spec {
        Spec {
            name: self
                .0
                .pick("Remove-ActiveSyncDevice", "Remove-MobileDevice"),
            parameters: Parameters::identity(&["Identity"]),
            needs: Needs::Role(Role::RecipientManagement),
            versions: self.0.versions(),
        }
    }

    fn run(&self, org: &RwLock<Org>, _: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        let id = p.required("Identity")?;
        if p.whatif() {
            return Ok(Execution::done(Vec::new()));
        }
        let mut o = write(org);
        let i = find_device(&o, &id).ok_or_else(|| CmdError::not_found(self.name(), &id))?;
        o.remove_device(i)
            .map_err(|e| CmdError::from_org(self.name(), e))?;
        Ok(Execution::done(Vec::new()))
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

/// The devices `-Identity` or `-Mailbox` pick (every device without either).
fn device_indices(o: &Org, p: &Params, cmdlet: &'static str) -> Result<Vec<u32>, CmdError> {
    if let Some(id) = p.string("Identity") {
        let i = find_device(o, &id).ok_or_else(|| CmdError::not_found(cmdlet, &id))?;
        return Ok(vec![i]);
    }
    if let Some(mb) = p.string("Mailbox") {
        let not_found = || CmdError::not_found(cmdlet, &mb);
        let m = o.find_mailbox(&mb).ok_or_else(not_found)?;
        let mbx = o.mailboxes.get(m as usize).ok_or_else(not_found)?;
        return Ok((mbx.first_device..mbx.first_device.saturating_add(mbx.device_count)).collect());
    }
    let n = u32::try_from(o.devices.len()).unwrap_or(u32::MAX);
    Ok((0..n).collect())
}

/// A device as `-Filter` sees it.
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

/// A `MobileDevice` object, or an `ActiveSyncDevice` (a `MobileDevice` subclass) under the
/// 2010 names.
pub fn device_object(org: &Org, index: u32, naming: Naming) -> Option<Value> {
    let d = org.devices.get(index as usize)?;
    let v = org.view(index)?;
    let name = format!("{}§{}", v.device_type, v.device_id);
    let dn = format!(
        "CN={name},CN=ExchangeActiveSyncDevices,CN={},OU=Users,{}",
        v.user_display_name,
        dn_domain(org)
    );
    const MOBILE_DEVICE: &str =
        "Microsoft.Exchange.Data.Directory.SystemConfiguration.MobileDevice";
    let types: &[&str] = match naming {
        Naming::ActiveSync => &[
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.ActiveSyncDevice",
            MOBILE_DEVICE,
        ],
        Naming::MobileDevice => &[MOBILE_DEVICE],
    };
    Some(object(
        types,
        AD_OBJECT,
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
            ("ExchangeVersion", exchange_version(org)),
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
            ("OriginatingServer", s(DOMAIN_CONTROLLER)),
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
    Some(object(
        &["Microsoft.Exchange.Management.Tasks.MobileDeviceConfiguration"],
        CONFIGURABLE_OBJECT,
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
