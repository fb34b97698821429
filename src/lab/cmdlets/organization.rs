//! The org-wide ActiveSync settings: `Get-ActiveSyncOrganizationSettings` and
//! `Set-ActiveSyncOrganizationSettings` (default access level, admin mail recipients, the
//! text added to quarantine mails), and the `ActiveSyncOrganizationSettings` object.
//!
//! It must leave what a new default access level does to devices to the org.

use std::sync::RwLock;

use super::render::{
    exchange_version, mv, named_guid, object, org_config_dn, s, AD_CONFIGURATION_OBJECT,
};
use super::{read, write, CmdError, Cmdlet, Context, Emitted, Execution, Needs, Parameters};
use super::{Params, Spec, Versions};
use crate::lab::accounts::Role;
use crate::lab::org::Org;
use crate::wire::clixml::Value;

/// The one settings object's name (and identity).
const NAME: &str = "Mobile Mailbox Settings";

/// `Get-ActiveSyncOrganizationSettings`.
pub struct GetSettings;

impl Cmdlet for GetSettings {
    fn spec(&self) -> Spec {
        Spec {
            name: "Get-ActiveSyncOrganizationSettings",
            parameters: Parameters::identity(&["Identity"]),
            needs: Needs::View,
            versions: Versions::All,
        }
    }

    fn run(&self, org: &RwLock<Org>, _: &Context<'_>, _: &Params) -> Result<Execution, CmdError> {
        let o = read(org);
        Ok(Execution::done(vec![Emitted::Output(settings_object(&o))]))
    }
}

/// `Set-ActiveSyncOrganizationSettings`.
pub struct SetSettings;

impl Cmdlet for SetSettings {
    fn spec(&self) -> Spec {
        Spec {
            name: "Set-ActiveSyncOrganizationSettings",
            parameters: Parameters::identity(&[
                "Identity",
                "DefaultAccessLevel",
                "AdminMailRecipients",
                "UserMailInsert",
                "OtaNotificationMailInsert",
                "AllowAccessForUnSupportedPlatform",
            ]),
            needs: Needs::Role(Role::OrganizationClientAccess),
            versions: Versions::All,
        }
    }

    fn run(&self, org: &RwLock<Org>, ctx: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        let level = p
            .string("DefaultAccessLevel")
            .map(|l| p.access_level(&l))
            .transpose()?;
        let admins = p.list_update("AdminMailRecipients")?;
        let insert = p.string("UserMailInsert");
        p.boolean("AllowAccessForUnSupportedPlatform")?;
        if let Some(id) = p.string("Identity") {
            if !id.trim().eq_ignore_ascii_case(NAME) {
                return Err(CmdError::not_found(self.name(), &id));
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
}

/// The `ActiveSyncOrganizationSettings` object.
fn settings_object(org: &Org) -> Value {
    let st = &org.settings;
    object(
        &["Microsoft.Exchange.Data.Directory.SystemConfiguration.ActiveSyncOrganizationSettings"],
        AD_CONFIGURATION_OBJECT,
        NAME.into(),
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
            ("ExchangeVersion", exchange_version(org)),
            ("Name", s(NAME)),
            ("DistinguishedName", s(org_config_dn(org, NAME))),
            ("Identity", s(NAME)),
            ("Guid", Value::Guid(named_guid(NAME))),
            ("IsValid", Value::Bool(true)),
        ],
    )
}
