//! The mailbox cmdlets: `Get-Recipient`, `Get-CASMailbox` and `Set-CASMailbox` (a mailbox's
//! ActiveSync switch, policy, and allowed and blocked device ids), and the objects they emit
//! (`ReducedRecipient`, `CASMailbox`), rendered lazily a page at a time.
//!
//! It must leave what a device list change does to devices' access states to the org.

use std::sync::RwLock;

use super::render::{
    exchange_version, mailbox_guid, mv, object, opt_s, s, user_dn, AD_PRESENTATION_OBJECT,
};
use super::{read, write, CmdError, Cmdlet, Context, Execution, Needs, Parameters, Params, Spec};
use super::{Render, Versions};
use crate::lab::accounts::Role;
use crate::lab::org::Org;
use crate::wire::clixml::Value;
use crate::wire::exchange::opath::{FieldValue, Record};

/// `Get-Recipient`.
pub struct GetRecipient;

impl Cmdlet for GetRecipient {
    fn spec(&self) -> Spec {
        Spec {
            name: "Get-Recipient",
            parameters: Parameters::identity(&[
                "Identity",
                "ResultSize",
                "Filter",
                "RecipientTypeDetails",
                "RecipientType",
            ]),
            needs: Needs::View,
            versions: Versions::All,
        }
    }

    fn run(&self, org: &RwLock<Org>, _: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        get_mailboxes(org, p, self.name(), recipient_object)
    }
}

/// `Get-CASMailbox`.
pub struct GetCasMailbox;

impl Cmdlet for GetCasMailbox {
    fn spec(&self) -> Spec {
        Spec {
            name: "Get-CASMailbox",
            parameters: Parameters::identity(&[
                "Identity",
                "ResultSize",
                "Filter",
                "ActiveSyncDebugLogging",
            ]),
            needs: Needs::View,
            versions: Versions::All,
        }
    }

    fn run(&self, org: &RwLock<Org>, _: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        get_mailboxes(org, p, self.name(), cas_mailbox_object)
    }
}

/// `Set-CASMailbox`.
pub struct SetCasMailbox;

impl Cmdlet for SetCasMailbox {
    fn spec(&self) -> Spec {
        Spec {
            name: "Set-CASMailbox",
            parameters: Parameters::identity(&[
                "Identity",
                "ActiveSyncAllowedDeviceIDs",
                "ActiveSyncBlockedDeviceIDs",
                "ActiveSyncMailboxPolicy",
                "ActiveSyncEnabled",
            ]),
            needs: Needs::Role(Role::RecipientManagement),
            versions: Versions::All,
        }
    }

    fn run(&self, org: &RwLock<Org>, ctx: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        let name = self.name();
        let id = p.required("Identity")?;
        let allowed = p.list_update("ActiveSyncAllowedDeviceIDs")?;
        let blocked = p.list_update("ActiveSyncBlockedDeviceIDs")?;
        let enabled = p.boolean("ActiveSyncEnabled")?;
        let policy = p.string("ActiveSyncMailboxPolicy");
        if p.whatif() {
            return Ok(Execution::done(Vec::new()));
        }
        let mut o = write(org);
        let m = o
            .find_mailbox(&id)
            .ok_or_else(|| CmdError::not_found(name, &id))?;
        if let Some(pol) = &policy {
            let i = o
                .policy_index(pol)
                .map_err(|e| CmdError::from_org(name, e))?;
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
}

/// The mailboxes `-Identity` or `-Filter` pick, up to `-ResultSize`, rendered by `render`.
fn get_mailboxes(
    org: &RwLock<Org>,
    p: &Params,
    cmdlet: &'static str,
    render: Render,
) -> Result<Execution, CmdError> {
    let (size, explicit) = p.result_size()?;
    let o = read(org);
    let sample = MailboxRec { org: &o, index: 0 };
    let filter = p.filter(Some(&sample))?;
    if let Some(id) = p.string("Identity") {
        let i = o
            .find_mailbox(&id)
            .ok_or_else(|| CmdError::not_found(cmdlet, &id))?;
        return Ok(Execution::listing(vec![i], None, false, render));
    }
    let n = u32::try_from(o.mailboxes.len()).unwrap_or(u32::MAX);
    let indices: Vec<u32> = (0..n)
        .filter(|&i| {
            filter
                .as_ref()
                .is_none_or(|f| f.matches(&MailboxRec { org: &o, index: i }))
        })
        .collect();
    Ok(Execution::listing(indices, size, explicit, render))
}

/// A mailbox as `-Filter` sees it.
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

/// A `CASMailbox` object.
pub fn cas_mailbox_object(org: &Org, index: u32) -> Option<Value> {
    let m = org.mailboxes.get(index as usize)?;
    let identity = format!("{}/Users/{}", org.domain, m.display_name);
    Some(object(
        &["Microsoft.Exchange.Data.Directory.Management.CASMailbox"],
        AD_PRESENTATION_OBJECT,
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
            ("ExchangeVersion", exchange_version(org)),
            ("Identity", s(identity)),
            ("Guid", Value::Guid(mailbox_guid(index))),
            ("DistinguishedName", s(user_dn(org, &m.display_name))),
            ("IsValid", Value::Bool(true)),
        ],
    ))
}

/// A `ReducedRecipient` object.
pub fn recipient_object(org: &Org, index: u32) -> Option<Value> {
    let m = org.mailboxes.get(index as usize)?;
    Some(object(
        &["Microsoft.Exchange.Data.Directory.Management.ReducedRecipient"],
        AD_PRESENTATION_OBJECT,
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
            ("DistinguishedName", s(user_dn(org, &m.display_name))),
        ],
    ))
}
