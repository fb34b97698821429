//! The device access rules: `Get-`, `New-`, `Set-` and `Remove-ActiveSyncDeviceAccessRule`,
//! and the `ActiveSyncDeviceAccessRule` object.
//!
//! It must leave what a rule does to devices' access states to the org.

use std::sync::RwLock;

use super::render::{
    exchange_version, mobile_config_dn, named_guid, object, s, AD_CONFIGURATION_OBJECT,
};
use super::{read, write, CmdError, Cmdlet, Context, Emitted, Execution, Needs, Parameters};
use super::{Params, Spec, Versions};
use crate::lab::accounts::Role;
use crate::lab::org::{DeviceAccessRule, Org, OrgError};
use crate::wire::clixml::Value;

/// Who may change rules.
const ORG_CLIENT_ACCESS: Needs = Needs::Role(Role::OrganizationClientAccess);

/// `Get-ActiveSyncDeviceAccessRule`.
pub struct GetRule;

impl Cmdlet for GetRule {
    fn spec(&self) -> Spec {
        Spec {
            name: "Get-ActiveSyncDeviceAccessRule",
            parameters: Parameters::identity(&["Identity"]),
            needs: Needs::View,
            versions: Versions::All,
        }
    }

    fn run(&self, org: &RwLock<Org>, _: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        let o = read(org);
        Execution::picked(
            self.name(),
            p.string("Identity"),
            &o.rules,
            |r, i| r.name().eq_ignore_ascii_case(i.trim()),
            |r| rule_object(&o, r),
        )
    }
}

/// `New-ActiveSyncDeviceAccessRule`.
pub struct NewRule;

impl Cmdlet for NewRule {
    fn spec(&self) -> Spec {
        Spec {
            name: "New-ActiveSyncDeviceAccessRule",
            parameters: Parameters::named(&["QueryString", "Characteristic", "AccessLevel"]),
            needs: ORG_CLIENT_ACCESS,
            versions: Versions::All,
        }
    }

    fn run(&self, org: &RwLock<Org>, ctx: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        let query_string = p.required("QueryString")?;
        let characteristic = p.required("Characteristic")?;
        let access_level = p.required("AccessLevel")?;
        let rule = DeviceAccessRule {
            query_string,
            characteristic: p.characteristic(&characteristic)?,
            access_level: p.access_level(&access_level)?,
        };
        if p.whatif() {
            return Ok(Execution::done(Vec::new()));
        }
        let mut o = write(org);
        o.add_rule(rule.clone(), ctx.now)
            .map_err(|e| CmdError::from_org(self.name(), e))?;
        Ok(Execution::done(vec![Emitted::Output(rule_object(
            &o, &rule,
        ))]))
    }
}

/// `Set-ActiveSyncDeviceAccessRule`.
pub struct SetRule;

impl Cmdlet for SetRule {
    fn spec(&self) -> Spec {
        Spec {
            name: "Set-ActiveSyncDeviceAccessRule",
            parameters: Parameters::identity(&["Identity", "AccessLevel"]),
            needs: ORG_CLIENT_ACCESS,
            versions: Versions::All,
        }
    }

    fn run(&self, org: &RwLock<Org>, ctx: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        let id = p.required("Identity")?;
        let level = p
            .string("AccessLevel")
            .map(|l| p.access_level(&l))
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
        .map_err(|e| CmdError::from_org(self.name(), e))?;
        Ok(Execution::done(Vec::new()))
    }
}

/// `Remove-ActiveSyncDeviceAccessRule`.
pub struct RemoveRule;

impl Cmdlet for RemoveRule {
    fn spec(&self) -> Spec {
        Spec {
            name: "Remove-ActiveSyncDeviceAccessRule",
            parameters: Parameters::identity(&["Identity"]),
            needs: ORG_CLIENT_ACCESS,
            versions: Versions::All,
        }
    }

    fn run(&self, org: &RwLock<Org>, ctx: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        let id = p.required("Identity")?;
        write(org)
            .remove_rule(&id, ctx.now)
            .map_err(|e| CmdError::from_org(self.name(), e))?;
        Ok(Execution::done(Vec::new()))
    }
}

/// The `ActiveSyncDeviceAccessRule` object.
fn rule_object(org: &Org, r: &DeviceAccessRule) -> Value {
    let name = r.name();
    object(
        &["Microsoft.Exchange.Data.Directory.SystemConfiguration.ActiveSyncDeviceAccessRule"],
        AD_CONFIGURATION_OBJECT,
        name.clone(),
        vec![
            ("QueryString", s(r.query_string.clone())),
            ("Characteristic", r.characteristic.to_value()),
            ("AccessLevel", r.access_level.to_value()),
            ("Name", s(name.clone())),
            ("DistinguishedName", s(mobile_config_dn(org, &name))),
            ("Identity", s(name.clone())),
            ("Guid", Value::Guid(named_guid(&name))),
            ("ExchangeVersion", exchange_version(org)),
            ("IsValid", Value::Bool(true)),
        ],
    )
}
