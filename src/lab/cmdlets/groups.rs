//! The group cmdlet: `Get-DistributionGroupMember` (a distribution or mail-enabled security
//! group's direct members, nested groups listed as members, not expanded), emitting
//! `ReducedRecipient` objects like Exchange's.
//!
//! It must not expand nested groups (Exchange does not; the caller recurses).

use std::sync::RwLock;

use super::mailboxes::recipient_object;
use super::render::{named_guid, object, s, user_dn, AD_PRESENTATION_OBJECT};
use super::{read, CmdError, Cmdlet, Context, Emitted, Execution, Needs, Parameters, Params};
use super::{Spec, Versions};
use crate::lab::org::{Group, GroupMember, Org};
use crate::wire::clixml::Value;

/// `Get-DistributionGroupMember`.
pub struct GetDistributionGroupMember;

impl Cmdlet for GetDistributionGroupMember {
    fn spec(&self) -> Spec {
        Spec {
            name: "Get-DistributionGroupMember",
            parameters: Parameters::identity(&["Identity", "ResultSize"]),
            needs: Needs::View,
            versions: Versions::All,
        }
    }

    fn run(&self, org: &RwLock<Org>, _: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        let id = p.required("Identity")?;
        let (size, explicit) = p.result_size()?;
        let o = read(org);
        let g = o
            .find_group(&id)
            .ok_or_else(|| CmdError::not_found(self.name(), &id))?;
        let mut out: Vec<Emitted> = g
            .members
            .iter()
            .filter_map(|m| match m {
                GroupMember::Mailbox(i) => recipient_object(&o, *i),
                GroupMember::Group(a) => o.find_group(a).map(|n| group_object(&o, n)),
            })
            .map(Emitted::Output)
            .collect();
        if let Some(n) = size {
            if out.len() > n {
                out.truncate(n);
                out.push(Emitted::Warning(super::truncation_warning(explicit)));
            }
        }
        Ok(Execution::done(out))
    }
}

/// A group as a `ReducedRecipient`.
fn group_object(org: &Org, g: &Group) -> Value {
    object(
        &["Microsoft.Exchange.Data.Directory.Management.ReducedRecipient"],
        AD_PRESENTATION_OBJECT,
        g.name.clone(),
        vec![
            ("Name", s(g.name.clone())),
            ("Alias", s(g.alias.clone())),
            ("DisplayName", s(g.name.clone())),
            ("PrimarySmtpAddress", s(g.primary_smtp.clone())),
            ("RecipientType", s(g.recipient_type())),
            ("RecipientTypeDetails", s(g.recipient_type())),
            ("Identity", s(format!("{}/Users/{}", org.domain, g.name))),
            ("Guid", Value::Guid(named_guid(&g.alias))),
            ("DistinguishedName", s(user_dn(org, &g.name))),
        ],
    )
}
