//! The server cmdlets: `Get-ExchangeServer` (the lab's Client Access Servers, each with its
//! `host:port` as `Fqdn` so a client can reach it) and `Set-ADServerSettings` (accepted and
//! without effect: the lab has one domain), and the `ExchangeServer` object.
//!
//! It must report the servers the context gives, and never reach one.

use std::sync::RwLock;

use super::render::{
    exchange_version, named_guid, object, org_config_dn, s, AD_PRESENTATION_OBJECT,
};
use super::Versions;
use super::{
    read, CmdError, Cmdlet, Context, Execution, Needs, Parameters, Params, ServerDesc, Spec,
};
use crate::lab::org::{ExchangeVersion, Org};
use crate::wire::clixml::Value;

/// `Get-ExchangeServer`.
pub struct GetExchangeServer;

impl Cmdlet for GetExchangeServer {
    fn spec(&self) -> Spec {
        Spec {
            name: "Get-ExchangeServer",
            parameters: Parameters::identity(&["Identity", "Status"]),
            needs: Needs::View,
            versions: Versions::All,
        }
    }

    fn run(&self, org: &RwLock<Org>, ctx: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        p.boolean("Status")?;
        let o = read(org);
        Execution::picked(
            self.name(),
            p.string("Identity"),
            ctx.servers,
            |sv, i| {
                let i = i.trim();
                sv.name.eq_ignore_ascii_case(i)
                    || sv.address.eq_ignore_ascii_case(i)
                    || i.split('.')
                        .next()
                        .is_some_and(|h| sv.name.eq_ignore_ascii_case(h))
            },
            |sv| server_object(&o, sv),
        )
    }
}

/// `Set-ADServerSettings`.
pub struct SetAdServerSettings;

impl Cmdlet for SetAdServerSettings {
    fn spec(&self) -> Spec {
        Spec {
            name: "Set-ADServerSettings",
            parameters: Parameters::named(&[
                "ViewEntireForest",
                "RecipientViewRoot",
                "PreferredServer",
                "RunspaceServerSettings",
            ]),
            needs: Needs::View,
            versions: Versions::All,
        }
    }

    fn run(&self, _: &RwLock<Org>, _: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        p.boolean("ViewEntireForest")?;
        Ok(Execution::done(Vec::new()))
    }
}

/// An `ExchangeServer` object.
fn server_object(org: &Org, sv: &ServerDesc) -> Value {
    let (role, role_n) = match org.version {
        ExchangeVersion::V2010 => ("ClientAccess", 4),
        ExchangeVersion::V2013 => ("Mailbox, ClientAccess", 6),
        _ => ("Mailbox", 2),
    };
    let dn = org_config_dn(
        org,
        &format!(
            "{},CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups",
            sv.name
        ),
    );
    object(
        &["Microsoft.Exchange.Data.Directory.Management.ExchangeServer"],
        AD_PRESENTATION_OBJECT,
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
            (
                "AdminDisplayVersion",
                s(org.version.admin_display_version()),
            ),
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
            ("DistinguishedName", s(dn)),
            ("Guid", Value::Guid(named_guid(&sv.name))),
            ("ExchangeVersion", exchange_version(org)),
            ("IsValid", Value::Bool(true)),
        ],
    )
}
