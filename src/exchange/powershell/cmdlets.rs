//! [`Exchange`] over remote PowerShell: each operation is one cmdlet with parameters (never a
//! script: Exchange's runspace is in no-language mode) run in a [`RunspacePool`], and its
//! CLIXML answer read into the typed records of [`crate::exchange::ops`].
//!
//! Reading is lenient about how a server serializes a property (string, enum object,
//! wrapped value, list), because Exchange versions differ; writing sends exactly the
//! parameters Exchange documents, with minimal `@{Add=…;Remove=…}` updates for the device
//! lists. The version decides between the 2010 (`*-ActiveSyncDevice`) and 2013+
//! (`*-MobileDevice`) cmdlet names. Every command is made from a [`Cmdlet`] of the one
//! permission table ([`super::permissions`]), never from a name, so nothing is called that the
//! permission check does not ask for; the cmdlets called are recorded
//! ([`RemotePowerShell::invoked`]) for the test that compares them with the table. Also here:
//! the permission check (which of the table's cmdlets the account may run). It decides
//! nothing about access control.

use std::collections::BTreeMap;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use super::permissions::{self, Cmdlet, Entry};
use super::{PipelineReport, PsError, RunspacePool};
use crate::exchange::ops::{
    CasMailbox, DeviceAccessRule, DeviceStatistics, Exchange, ExchangeError, ExchangeServer,
    GroupMember, GroupRefused, MailboxPolicy, MobileDevice, OrgSettings, ServerVersion,
};
use crate::wire::clixml::{PsObject, Value};
use crate::wire::exchange::opath::Filter;
use crate::wire::exchange::{
    AccessLevel, DeviceAccessCharacteristic, DeviceAccessState, DeviceAccessStateReason,
    ListUpdate, SettingValue,
};
use crate::wire::psrp::objects::Command;

/// Which of the cmdlets the connector calls on this server the account may run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CmdletCheck {
    pub available: Vec<&'static str>,
    /// Missing cmdlets, each with the role and role groups that grant it.
    pub missing: Vec<&'static Entry>,
}

/// A property as text: strings, enums (their label), dates, numbers, bools.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::Nil => None,
        Value::Bool(b) => Some(if *b { "True".into() } else { "False".into() }),
        Value::Guid(g) => Some(g.to_string()),
        Value::Object(o) => o
            .base
            .as_ref()
            .and_then(|b| match b {
                // An enum's base is its number; its label is ToString.
                Value::Int32(_) | Value::UInt32(_) | Value::Int64(_) => None,
                other => text(other),
            })
            .or_else(|| o.to_string.clone()),
        other => other
            .as_str()
            .map(str::to_string)
            .or_else(|| other.as_i64().map(|n| n.to_string())),
    }
}

/// A property as a list of texts (multi-valued properties; a single value is a list of one).
pub fn texts(v: &Value) -> Vec<String> {
    match v.items() {
        Some(items) => items.iter().filter_map(text).collect(),
        None => text(v).into_iter().collect(),
    }
}

fn prop(o: &PsObject, name: &str) -> Option<String> {
    o.get(name).and_then(text)
}

/// An enum-valued property; a value this version of the connector does not know is logged
/// at debug level and read as absent.
fn typed<T>(o: &PsObject, name: &str, parse: impl Fn(&Value) -> Option<T>) -> Option<T> {
    let v = o.get(name)?;
    let t = parse(v);
    if t.is_none() && !matches!(v, Value::Nil) {
        tracing::debug!(property = name, value = ?text(v), "unrecognized value");
    }
    t
}

fn prop_bool(o: &PsObject, name: &str) -> Option<bool> {
    o.get(name).and_then(|v| {
        v.as_bool()
            .or_else(|| text(v).map(|t| t.eq_ignore_ascii_case("true")))
    })
}

/// A device from `Get-MobileDevice` / `Get-ActiveSyncDevice` output (`None` without a
/// device id).
fn mobile_device(v: &Value) -> Option<MobileDevice> {
    let o = v.as_object()?;
    Some(MobileDevice {
        identity: prop(o, "Identity").unwrap_or_default(),
        device_id: prop(o, "DeviceId").or_else(|| prop(o, "DeviceID"))?,
        device_type: prop(o, "DeviceType").unwrap_or_default(),
        device_model: prop(o, "DeviceModel").unwrap_or_default(),
        device_os: prop(o, "DeviceOS").unwrap_or_default(),
        user_agent: prop(o, "DeviceUserAgent").unwrap_or_default(),
        friendly_name: prop(o, "FriendlyName").unwrap_or_default(),
        user_display_name: prop(o, "UserDisplayName").unwrap_or_default(),
        first_sync_time: prop(o, "FirstSyncTime"),
        when_changed: prop(o, "WhenChanged").or_else(|| prop(o, "WhenChangedUTC")),
        access_state: typed(o, "DeviceAccessState", DeviceAccessState::from_value)
            .unwrap_or(DeviceAccessState::Unknown),
        access_state_reason: typed(
            o,
            "DeviceAccessStateReason",
            DeviceAccessStateReason::from_value,
        )
        .unwrap_or(DeviceAccessStateReason::Unknown),
        access_control_rule: prop(o, "DeviceAccessControlRule"),
    })
}

/// A mailbox from `Get-CASMailbox` output.
fn cas_mailbox(o: &PsObject) -> CasMailbox {
    CasMailbox {
        identity: prop(o, "Identity").unwrap_or_default(),
        name: prop(o, "Name").unwrap_or_default(),
        sam_account_name: prop(o, "SamAccountName").unwrap_or_default(),
        primary_smtp_address: prop(o, "PrimarySmtpAddress").unwrap_or_default(),
        activesync_enabled: prop_bool(o, "ActiveSyncEnabled").unwrap_or(true),
        allowed_device_ids: o
            .get("ActiveSyncAllowedDeviceIDs")
            .map(texts)
            .unwrap_or_default(),
        blocked_device_ids: o
            .get("ActiveSyncBlockedDeviceIDs")
            .map(texts)
            .unwrap_or_default(),
        mailbox_policy: prop(o, "ActiveSyncMailboxPolicy"),
    }
}

/// Exchange through remote PowerShell: one runspace pool, and the cmdlet names of the
/// server's version.
#[derive(Clone)]
pub struct RemotePowerShell {
    pool: RunspacePool,
    version: Option<ServerVersion>,
    /// Every cmdlet this connection (and its clones) has been asked to run.
    invoked: Arc<Mutex<BTreeSet<Cmdlet>>>,
}

/// The end of a streamed read: what the pipeline said besides its objects is logged (a
/// non-terminating error skips an object; a warning may say the read was cut short).
fn streamed(report: PipelineReport) {
    for e in &report.errors {
        tracing::warn!(error = %e, "Exchange skipped an object");
    }
    for w in &report.warnings {
        tracing::warn!(warning = %w, "Exchange warned");
    }
}

fn list_value(items: &[String]) -> Value {
    Value::array(items.iter().map(|s| Value::String(s.clone())).collect())
}

impl RemotePowerShell {
    /// Operations over `pool`; `version` decides between the 2010 and 2013+ cmdlet names
    /// (learn it with [`Exchange::get_exchange_servers`] when unknown).
    pub fn new(pool: RunspacePool, version: Option<ServerVersion>) -> Self {
        RemotePowerShell {
            pool,
            version,
            invoked: Arc::default(),
        }
    }

    pub fn pool(&self) -> &RunspacePool {
        &self.pool
    }

    pub fn set_version(&mut self, v: Option<ServerVersion>) {
        self.version = v;
    }

    fn mobile(&self) -> bool {
        self.version.is_none_or(|v| v.has_mobile_device_cmdlets())
    }

    /// The command for a cmdlet of the permission table (recorded as invoked).
    fn cmd(&self, c: Cmdlet) -> Command {
        debug_assert!(
            c.entry().used.on(self.mobile()),
            "{} is not in the permission table for this version",
            c.name()
        );
        if let Ok(mut seen) = self.invoked.lock() {
            seen.insert(c);
        }
        Command::new(c.name())
    }

    /// Of two names of one operation, the one this server's version has.
    fn pick(&self, activesync: Cmdlet, mobile: Cmdlet) -> Command {
        self.cmd(Cmdlet::pick(self.mobile(), activesync, mobile))
    }

    /// The cmdlets asked to run so far (by this connection and its clones).
    pub fn invoked(&self) -> BTreeSet<Cmdlet> {
        self.invoked.lock().map(|s| s.clone()).unwrap_or_default()
    }

    async fn objects(&self, cmd: Command) -> Result<Vec<PsObject>, PsError> {
        let (values, _) = self.pool.invoke(vec![cmd]).await?;
        Ok(values
            .into_iter()
            .filter_map(|v| match v {
                Value::Object(o) => Some(*o),
                _ => None,
            })
            .collect())
    }

    async fn run(&self, cmd: Command) -> Result<PipelineReport, PsError> {
        self.pool.invoke_each(vec![cmd], |_| {}).await
    }

    /// Run a command whose output does not matter.
    async fn done(&self, cmd: Command) -> Result<(), ExchangeError> {
        self.run(cmd).await?;
        Ok(())
    }

    /// `Get-Command`: names of the cmdlets this account may run.
    pub async fn get_command(&self) -> Result<Vec<String>, PsError> {
        let objs = self.objects(self.cmd(Cmdlet::GetCommand)).await?;
        Ok(objs
            .iter()
            .filter_map(|o| prop(o, "Name").or_else(|| o.to_string.clone()))
            .collect())
    }

    /// Which of the cmdlets the connector calls on this server's version the account may run
    /// (the version decides between the 2010 and the 2013+ names).
    pub async fn check_cmdlets(&self) -> Result<CmdletCheck, PsError> {
        let have = self.get_command().await?;
        let mut available = Vec::new();
        let mut missing = Vec::new();
        for e in permissions::required(self.mobile()) {
            if have.iter().any(|h| h.eq_ignore_ascii_case(e.name)) {
                available.push(e.name);
            } else {
                missing.push(e);
            }
        }
        Ok(CmdletCheck { available, missing })
    }

    fn with_settings(mut cmd: Command, settings: &[(String, SettingValue)]) -> Command {
        for (k, v) in settings {
            cmd = cmd.arg(k, v.to_value());
        }
        cmd
    }
}

impl Exchange for RemotePowerShell {
    /// `Get-ExchangeServer`: every server, with its version.
    async fn get_exchange_servers(&self) -> Result<Vec<ExchangeServer>, ExchangeError> {
        let objs = self.objects(self.cmd(Cmdlet::GetExchangeServer)).await?;
        Ok(objs
            .iter()
            .map(|o| {
                let adv = prop(o, "AdminDisplayVersion").unwrap_or_default();
                ExchangeServer {
                    name: prop(o, "Name").unwrap_or_default(),
                    fqdn: prop(o, "Fqdn").unwrap_or_default(),
                    roles: prop(o, "ServerRole").unwrap_or_default(),
                    version: ServerVersion::parse(&adv),
                    admin_display_version: adv,
                    is_client_access_server: prop_bool(o, "IsClientAccessServer").unwrap_or(false),
                }
            })
            .collect())
    }

    /// Every ActiveSync device (`Get-MobileDevice -ActiveSync` on 2013+, `Get-ActiveSyncDevice`
    /// on 2010), optionally with an OPATH `filter`, handed to `each` as they arrive.
    async fn get_mobile_devices(
        &self,
        filter: Option<&Filter>,
        mut each: impl FnMut(MobileDevice) + Send,
    ) -> Result<(), ExchangeError> {
        let mut cmd = self.pick(Cmdlet::GetActiveSyncDevice, Cmdlet::GetMobileDevice);
        if self.mobile() {
            cmd = cmd.switch("ActiveSync");
        }
        cmd = cmd.arg("ResultSize", "Unlimited");
        if let Some(f) = filter {
            cmd = cmd.arg("Filter", f.to_string());
        }
        self.pool
            .invoke_each(vec![cmd], |v| {
                if let Some(d) = mobile_device(&v) {
                    each(d);
                }
            })
            .await
            .map(streamed)
            .map_err(Into::into)
    }

    /// Devices of one mailbox.
    async fn get_mailbox_devices(&self, mailbox: &str) -> Result<Vec<MobileDevice>, ExchangeError> {
        let cmd = self.pick(Cmdlet::GetActiveSyncDevice, Cmdlet::GetMobileDevice);
        let objs = self.objects(cmd.arg("Mailbox", mailbox)).await?;
        Ok(objs
            .iter()
            .filter_map(|o| mobile_device(&Value::object(o.clone())))
            .collect())
    }

    /// `Get-MobileDeviceStatistics -Identity`.
    async fn get_device_statistics(
        &self,
        identity: &str,
    ) -> Result<Option<DeviceStatistics>, ExchangeError> {
        let cmd = self.pick(
            Cmdlet::GetActiveSyncDeviceStatistics,
            Cmdlet::GetMobileDeviceStatistics,
        );
        let objs = self.objects(cmd.arg("Identity", identity)).await?;
        Ok(objs.first().map(|o| DeviceStatistics {
            device_id: prop(o, "DeviceID")
                .or_else(|| prop(o, "DeviceId"))
                .unwrap_or_default(),
            last_success_sync: prop(o, "LastSuccessSync"),
            first_sync_time: prop(o, "FirstSyncTime"),
            status: prop(o, "Status"),
        }))
    }

    /// `Get-CASMailbox -Identity`.
    async fn get_cas_mailbox(&self, identity: &str) -> Result<Option<CasMailbox>, ExchangeError> {
        let objs = self
            .objects(self.cmd(Cmdlet::GetCasMailbox).arg("Identity", identity))
            .await?;
        Ok(objs.first().map(cas_mailbox))
    }

    /// `Get-CASMailbox -ResultSize Unlimited` with an optional OPATH `filter`, handed to
    /// `each` as they arrive.
    async fn get_cas_mailboxes(
        &self,
        filter: Option<&Filter>,
        mut each: impl FnMut(CasMailbox) + Send,
    ) -> Result<(), ExchangeError> {
        let mut cmd = self
            .cmd(Cmdlet::GetCasMailbox)
            .arg("ResultSize", "Unlimited");
        if let Some(f) = filter {
            cmd = cmd.arg("Filter", f.to_string());
        }
        self.pool
            .invoke_each(vec![cmd], |v| {
                if let Some(o) = v.as_object() {
                    each(cas_mailbox(o));
                }
            })
            .await
            .map(streamed)
            .map_err(Into::into)
    }

    /// `Set-CASMailbox` with `@{Add;Remove}` updates of the allowed and blocked lists; a
    /// list with nothing to change is not sent at all, nor is the command when neither has.
    async fn update_device_lists(
        &self,
        identity: &str,
        allowed: &ListUpdate,
        blocked: &ListUpdate,
    ) -> Result<(), ExchangeError> {
        let mut cmd = self.cmd(Cmdlet::SetCasMailbox).arg("Identity", identity);
        for (name, update) in [
            ("ActiveSyncAllowedDeviceIDs", allowed),
            ("ActiveSyncBlockedDeviceIDs", blocked),
        ] {
            if !update.is_empty() {
                cmd = cmd.arg(name, update.to_value());
            }
        }
        if allowed.is_empty() && blocked.is_empty() {
            return Ok(());
        }
        self.done(cmd).await
    }

    /// `Get-ActiveSyncOrganizationSettings`.
    async fn get_org_settings(&self) -> Result<OrgSettings, ExchangeError> {
        let objs = self
            .objects(self.cmd(Cmdlet::GetActiveSyncOrganizationSettings))
            .await?;
        let o = objs.first().ok_or_else(|| PsError::Protocol {
            url: self.pool.url().to_string(),
            detail: "Get-ActiveSyncOrganizationSettings returned nothing".into(),
        })?;
        Ok(OrgSettings {
            default_access_level: typed(o, "DefaultAccessLevel", AccessLevel::from_value),
            admin_mail_recipients: o.get("AdminMailRecipients").map(texts).unwrap_or_default(),
            user_mail_insert: prop(o, "UserMailInsert"),
        })
    }

    /// `Set-ActiveSyncOrganizationSettings` with the given fields (None: leave alone).
    async fn set_org_settings(
        &self,
        default_access_level: Option<AccessLevel>,
        admin_mail_recipients: Option<&[String]>,
        user_mail_insert: Option<&str>,
    ) -> Result<(), ExchangeError> {
        let mut cmd = self.cmd(Cmdlet::SetActiveSyncOrganizationSettings);
        if let Some(l) = default_access_level {
            cmd = cmd.arg("DefaultAccessLevel", l.as_str());
        }
        if let Some(r) = admin_mail_recipients {
            cmd = cmd.arg("AdminMailRecipients", list_value(r));
        }
        if let Some(u) = user_mail_insert {
            cmd = cmd.arg("UserMailInsert", u);
        }
        self.done(cmd).await
    }

    /// `Get-ActiveSyncDeviceAccessRule`.
    async fn get_rules(&self) -> Result<Vec<DeviceAccessRule>, ExchangeError> {
        let objs = self
            .objects(self.cmd(Cmdlet::GetActiveSyncDeviceAccessRule))
            .await?;
        Ok(objs
            .iter()
            .map(|o| DeviceAccessRule {
                identity: prop(o, "Identity")
                    .or_else(|| prop(o, "Name"))
                    .unwrap_or_default(),
                query_string: prop(o, "QueryString").unwrap_or_default(),
                characteristic: typed(o, "Characteristic", DeviceAccessCharacteristic::from_value),
                access_level: typed(o, "AccessLevel", AccessLevel::from_value),
            })
            .collect())
    }

    /// `New-ActiveSyncDeviceAccessRule`.
    async fn new_rule(
        &self,
        query_string: &str,
        characteristic: DeviceAccessCharacteristic,
        access_level: AccessLevel,
    ) -> Result<(), ExchangeError> {
        self.done(
            self.cmd(Cmdlet::NewActiveSyncDeviceAccessRule)
                .arg("QueryString", query_string)
                .arg("Characteristic", characteristic.as_str())
                .arg("AccessLevel", access_level.as_str()),
        )
        .await
    }

    /// `Set-ActiveSyncDeviceAccessRule -Identity -AccessLevel`.
    async fn set_rule(
        &self,
        identity: &str,
        access_level: AccessLevel,
    ) -> Result<(), ExchangeError> {
        self.done(
            self.cmd(Cmdlet::SetActiveSyncDeviceAccessRule)
                .arg("Identity", identity)
                .arg("AccessLevel", access_level.as_str()),
        )
        .await
    }

    /// `Remove-ActiveSyncDeviceAccessRule -Identity -Confirm:$false`.
    async fn remove_rule(&self, identity: &str) -> Result<(), ExchangeError> {
        self.done(
            self.cmd(Cmdlet::RemoveActiveSyncDeviceAccessRule)
                .arg("Identity", identity)
                .arg("Confirm", Value::Bool(false)),
        )
        .await
    }

    /// `Get-DistributionGroupMember -Identity -ResultSize Unlimited`; a group Exchange refuses
    /// (not found, not a group it can list) is `Err` with Exchange's words.
    async fn get_group_members(
        &self,
        group: &str,
    ) -> Result<Result<Vec<GroupMember>, GroupRefused>, ExchangeError> {
        let cmd = self
            .cmd(Cmdlet::GetDistributionGroupMember)
            .arg("Identity", group)
            .arg("ResultSize", "Unlimited");
        match self.objects(cmd).await {
            Ok(objs) => Ok(Ok(objs
                .iter()
                .map(|o| GroupMember {
                    identity: prop(o, "Identity").unwrap_or_default(),
                    name: prop(o, "Name").unwrap_or_default(),
                    alias: prop(o, "Alias").unwrap_or_default(),
                    primary_smtp_address: prop(o, "PrimarySmtpAddress").unwrap_or_default(),
                    recipient_type: prop(o, "RecipientType").unwrap_or_default(),
                })
                .collect())),
            Err(e @ PsError::PipelineFailed { .. }) => Ok(Err(GroupRefused(e.to_string()))),
            Err(e) => Err(e.into()),
        }
    }

    /// `Get-MobileDeviceMailboxPolicy` / `Get-ActiveSyncMailboxPolicy`.
    async fn get_policies(&self) -> Result<Vec<MailboxPolicy>, ExchangeError> {
        let objs = self
            .objects(self.pick(
                Cmdlet::GetActiveSyncMailboxPolicy,
                Cmdlet::GetMobileDeviceMailboxPolicy,
            ))
            .await?;
        Ok(objs
            .iter()
            .map(|o| {
                let mut settings = BTreeMap::new();
                for p in o.adapted.iter().chain(&o.extended) {
                    if p.name != "Name" && p.name != "IsDefault" && p.name != "IsDefaultPolicy" {
                        if let Some(t) = text(&p.value) {
                            settings.insert(p.name.clone(), t);
                        }
                    }
                }
                MailboxPolicy {
                    name: prop(o, "Name").unwrap_or_default(),
                    is_default: prop_bool(o, "IsDefault")
                        .or_else(|| prop_bool(o, "IsDefaultPolicy"))
                        .unwrap_or(false),
                    settings,
                }
            })
            .collect())
    }

    /// `New-…MailboxPolicy -Name` with settings.
    async fn new_policy(
        &self,
        name: &str,
        settings: &[(String, SettingValue)],
    ) -> Result<(), ExchangeError> {
        let cmd = Self::with_settings(
            self.pick(
                Cmdlet::NewActiveSyncMailboxPolicy,
                Cmdlet::NewMobileDeviceMailboxPolicy,
            )
            .arg("Name", name),
            settings,
        );
        self.done(cmd).await
    }

    /// `Set-…MailboxPolicy -Identity` with settings.
    async fn set_policy(
        &self,
        name: &str,
        settings: &[(String, SettingValue)],
    ) -> Result<(), ExchangeError> {
        let cmd = Self::with_settings(
            self.pick(
                Cmdlet::SetActiveSyncMailboxPolicy,
                Cmdlet::SetMobileDeviceMailboxPolicy,
            )
            .arg("Identity", name),
            settings,
        );
        self.done(cmd).await
    }

    /// `Remove-…MailboxPolicy -Identity -Confirm:$false`.
    async fn remove_policy(&self, name: &str) -> Result<(), ExchangeError> {
        self.done(
            self.pick(
                Cmdlet::RemoveActiveSyncMailboxPolicy,
                Cmdlet::RemoveMobileDeviceMailboxPolicy,
            )
            .arg("Identity", name)
            .arg("Confirm", Value::Bool(false)),
        )
        .await
    }

    /// `Clear-MobileDevice` / `Clear-ActiveSyncDevice -Identity -Confirm:$false` (remote wipe).
    async fn clear_device(&self, identity: &str) -> Result<(), ExchangeError> {
        self.done(
            self.pick(Cmdlet::ClearActiveSyncDevice, Cmdlet::ClearMobileDevice)
                .arg("Identity", identity)
                .arg("Confirm", Value::Bool(false)),
        )
        .await
    }

    async fn close(&self) {
        let _ = self.pool.clone().close().await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        let v = ServerVersion::parse("Version 15.2 (Build 1118.7)").unwrap();
        assert_eq!(
            v,
            ServerVersion {
                major: 15,
                minor: 2
            }
        );
        assert!(v.has_mobile_device_cmdlets());
        let old = ServerVersion::parse("Version 14.3 (Build 123.4)").unwrap();
        assert!(!old.has_mobile_device_cmdlets());
        assert_eq!(old.product(), "Exchange 2010");
        assert!(ServerVersion::parse("nonsense").is_none());
    }

    #[test]
    fn texts_read_enums_lists_and_scalars() {
        let e = Value::enumeration("Microsoft.Exchange.DeviceAccessState", "Quarantined", 3);
        assert_eq!(text(&e).as_deref(), Some("Quarantined"));
        assert_eq!(text(&Value::Bool(true)).as_deref(), Some("True"));
        assert_eq!(text(&Value::Int32(4)).as_deref(), Some("4"));
        let l = Value::array(vec![Value::String("a".into()), Value::String("b".into())]);
        assert_eq!(texts(&l), vec!["a", "b"]);
        assert_eq!(texts(&Value::String("x".into())), vec!["x"]);
        assert!(texts(&Value::Nil).is_empty());
    }
}
