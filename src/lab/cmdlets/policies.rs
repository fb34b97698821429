//! The mailbox policies: `Get-`, `New-`, `Set-` and `Remove-MobileDeviceMailboxPolicy`, each
//! also under its Exchange 2010 name (`*-ActiveSyncMailboxPolicy`), and the policy object
//! (`MobileMailboxPolicy` from 2013 on, `ActiveSyncMailboxPolicy` on 2010). A policy's
//! settings are parameters of `New-` and `Set-`, one per entry of [`POLICY_SETTINGS`].
//!
//! It must leave the rules of policies (one default, no removing one in use) to the org.

use std::sync::{LazyLock, RwLock};

use super::params::value_text;
use super::render::{
    exchange_version, mobile_config_dn, named_guid, object, s, AD_CONFIGURATION_OBJECT,
};
use super::{read, write, CmdError, Cmdlet, Context, Emitted, Execution, Naming, Needs};
use super::{Parameters, Params, Spec};
use crate::lab::accounts::Role;
use crate::lab::org::{ExchangeVersion, MailboxPolicy, Org, POLICY_SETTINGS};
use crate::wire::clixml::Value;

/// Who may change policies.
/// Who may change mailbox policies (the Recipient Policies role is in Recipient Management).
const RECIPIENT_POLICIES: Needs = Needs::Role(Role::RecipientManagement);

/// `-IsDefault` and its 2010 spelling `-IsDefaultPolicy` (both taken under either name).
const IS_DEFAULT: [&str; 2] = ["IsDefault", "IsDefaultPolicy"];

/// The parameters of `New-`: every setting, the default flags, and `Name`.
static NEW_PARAMETERS: LazyLock<Vec<&'static str>> = LazyLock::new(|| with_settings("Name"));

/// The parameters of `Set-`: every setting, the default flags, and `Identity`.
static SET_PARAMETERS: LazyLock<Vec<&'static str>> = LazyLock::new(|| with_settings("Identity"));

fn with_settings(name: &'static str) -> Vec<&'static str> {
    POLICY_SETTINGS
        .iter()
        .map(|(n, _)| *n)
        .chain(IS_DEFAULT)
        .chain([name])
        .collect()
}

/// `Get-MobileDeviceMailboxPolicy` / `Get-ActiveSyncMailboxPolicy`.
pub struct GetPolicy(pub Naming);

impl Cmdlet for GetPolicy {
    fn spec(&self) -> Spec {
        Spec {
            name: self.0.pick(
                "Get-ActiveSyncMailboxPolicy",
                "Get-MobileDeviceMailboxPolicy",
            ),
            parameters: Parameters::identity(&["Identity"]),
            needs: Needs::View,
            versions: self.0.versions(),
        }
    }

    fn run(&self, org: &RwLock<Org>, _: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        let o = read(org);
        Execution::picked(
            self.name(),
            p.string("Identity"),
            &o.policies,
            |x, i| x.name.eq_ignore_ascii_case(i.trim()),
            |x| policy_object(&o, x),
        )
    }
}

/// `New-MobileDeviceMailboxPolicy` / `New-ActiveSyncMailboxPolicy`.
pub struct NewPolicy(pub Naming);

impl Cmdlet for NewPolicy {
    fn spec(&self) -> Spec {
        Spec {
            name: self.0.pick(
                "New-ActiveSyncMailboxPolicy",
                "New-MobileDeviceMailboxPolicy",
            ),
            parameters: Parameters::named(NEW_PARAMETERS.as_slice()),
            needs: RECIPIENT_POLICIES,
            versions: self.0.versions(),
        }
    }

    fn run(&self, org: &RwLock<Org>, _: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        let name = self.name();
        let Some(c) = Change::read(p, "Name")? else {
            return Ok(Execution::done(Vec::new()));
        };
        let mut o = write(org);
        o.add_policy(&c.id, c.is_default.unwrap_or(false), &c.settings)
            .map_err(|e| CmdError::from_org(name, e))?;
        let i = o
            .policy_index(&c.id)
            .map_err(|e| CmdError::from_org(name, e))?;
        let out = o.policies.get(i).map(|x| policy_object(&o, x));
        Ok(Execution::done(
            out.into_iter().map(Emitted::Output).collect(),
        ))
    }
}

/// `Set-MobileDeviceMailboxPolicy` / `Set-ActiveSyncMailboxPolicy`.
pub struct SetPolicy(pub Naming);

impl Cmdlet for SetPolicy {
    fn spec(&self) -> Spec {
        Spec {
            name: self.0.pick(
                "Set-ActiveSyncMailboxPolicy",
                "Set-MobileDeviceMailboxPolicy",
            ),
            parameters: Parameters::identity(SET_PARAMETERS.as_slice()),
            needs: RECIPIENT_POLICIES,
            versions: self.0.versions(),
        }
    }

    fn run(&self, org: &RwLock<Org>, _: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        let Some(c) = Change::read(p, "Identity")? else {
            return Ok(Execution::done(Vec::new()));
        };
        write(org)
            .update_policy(&c.id, c.is_default, &c.settings)
            .map_err(|e| CmdError::from_org(self.name(), e))?;
        Ok(Execution::done(Vec::new()))
    }
}

/// `Remove-MobileDeviceMailboxPolicy` / `Remove-ActiveSyncMailboxPolicy`.
pub struct RemovePolicy(pub Naming);

impl Cmdlet for RemovePolicy {
    fn spec(&self) -> Spec {
        Spec {
            name: self.0.pick(
                "Remove-ActiveSyncMailboxPolicy",
                "Remove-MobileDeviceMailboxPolicy",
            ),
            parameters: Parameters::identity(&["Identity"]),
            needs: RECIPIENT_POLICIES,
            versions: self.0.versions(),
        }
    }

    fn run(&self, org: &RwLock<Org>, _: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        let id = p.required("Identity")?;
        write(org)
            .remove_policy(&id)
            .map_err(|e| CmdError::from_org(self.name(), e))?;
        Ok(Execution::done(Vec::new()))
    }
}

/// What `New-` or `Set-` asks of a policy.
struct Change {
    /// The policy's name (`-Name` of `New-`, `-Identity` of `Set-`).
    id: String,
    /// `-IsDefault`, or else `-IsDefaultPolicy`.
    is_default: Option<bool>,
    /// The settings given, as the org keeps them: booleans as `True`/`False`, other values as
    /// given, `$null` as empty (cleared).
    settings: Vec<(String, String)>,
}

impl Change {
    /// The change the parameters ask for, the policy named by `id_param`; `None` under
    /// `-WhatIf`.
    fn read(p: &Params, id_param: &str) -> Result<Option<Change>, CmdError> {
        let id = p.required(id_param)?;
        let [is_default, is_default_policy] = IS_DEFAULT;
        let is_default = match p.boolean(is_default)? {
            Some(b) => Some(b),
            None => p.boolean(is_default_policy)?,
        };
        let mut settings = Vec::new();
        for (k, v) in p.bound() {
            let Some((canonical, default)) = POLICY_SETTINGS.iter().find(|(n, _)| *n == k) else {
                continue;
            };
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
        if p.whatif() {
            return Ok(None);
        }
        Ok(Some(Change {
            id,
            is_default,
            settings,
        }))
    }
}

/// A setting's value as its property: `$null`, a boolean, a number or a string.
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

/// The policy object: `MobileMailboxPolicy` (2013 and later) or `ActiveSyncMailboxPolicy`.
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
        ("DistinguishedName", s(mobile_config_dn(org, &p.name))),
        ("Guid", Value::Guid(named_guid(&p.name))),
        ("ExchangeVersion", exchange_version(org)),
        ("IsValid", Value::Bool(true)),
    ]);
    object(
        &[
            ty,
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.MailboxPolicy",
        ],
        AD_CONFIGURATION_OBJECT,
        p.name.clone(),
        props,
    )
}
