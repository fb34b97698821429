//! What the connector asks of an Exchange organization, independent of how it is reached:
//! the [`Exchange`] trait of typed operations, the records they return, and
//! [`ExchangeError`].
//!
//! Remote PowerShell ([`crate::exchange::powershell::RemotePowerShell`]) implements it today;
//! Exchange Online's REST API is meant to be the second implementation, and the engine is
//! written against the trait so that tests can use an in-memory organization. Values are
//! Exchange's own types from [`crate::wire::exchange`], never strings to compare. Nothing here
//! talks to a server or decides about access control; the engine decides.

use std::collections::BTreeMap;
use std::future::Future;

use super::powershell::PsError;
use crate::wire::exchange::opath::Filter;
use crate::wire::exchange::{
    AccessLevel, DeviceAccessCharacteristic, DeviceAccessState, DeviceAccessStateReason,
    DeviceIdentity, ListUpdate, SettingValue,
};

/// Server version parsed from `AdminDisplayVersion` ("Version 15.2 (Build 1118.7)").
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ServerVersion {
    pub major: u32,
    pub minor: u32,
}

impl ServerVersion {
    pub fn parse(s: &str) -> Option<ServerVersion> {
        let v = s.trim().trim_start_matches("Version").trim();
        let mut parts = v.split(['.', ' ']);
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(ServerVersion { major, minor })
    }
    /// Exchange 2013 (15.0) or later: the `*-MobileDevice` cmdlets exist.
    pub fn has_mobile_device_cmdlets(self) -> bool {
        self.major >= 15
    }
    /// The product name, e.g. "Exchange 2019".
    pub fn product(self) -> &'static str {
        match (self.major, self.minor) {
            (14, _) => "Exchange 2010",
            (15, 0) => "Exchange 2013",
            (15, 1) => "Exchange 2016",
            (15, _) => "Exchange 2019 / SE",
            _ => "Exchange (unknown version)",
        }
    }
}

/// `Get-ExchangeServer`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExchangeServer {
    pub name: String,
    pub fqdn: String,
    pub roles: String,
    pub admin_display_version: String,
    pub version: Option<ServerVersion>,
    pub is_client_access_server: bool,
}

/// An ActiveSync device (`Get-MobileDevice` / `Get-ActiveSyncDevice`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MobileDevice {
    pub identity: String,
    pub device_id: String,
    pub device_type: String,
    pub device_model: String,
    pub device_os: String,
    pub user_agent: String,
    pub friendly_name: String,
    pub user_display_name: String,
    pub first_sync_time: Option<String>,
    pub when_changed: Option<String>,
    pub access_state: DeviceAccessState,
    pub access_state_reason: DeviceAccessStateReason,
    pub access_control_rule: Option<String>,
}

impl MobileDevice {
    /// The identity split into its mailbox and device parts (`None` when Exchange wrote it
    /// in a form without `ExchangeActiveSyncDevices`).
    pub fn parsed_identity(&self) -> Option<DeviceIdentity<'_>> {
        DeviceIdentity::parse(&self.identity)
    }
}

/// `Get-MobileDeviceStatistics` (the fields the connector uses).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceStatistics {
    pub device_id: String,
    pub last_success_sync: Option<String>,
    pub first_sync_time: Option<String>,
    pub status: Option<String>,
}

/// `Get-CASMailbox` (the ActiveSync part).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CasMailbox {
    pub identity: String,
    pub name: String,
    /// `SamAccountName` (the alias people know).
    pub sam_account_name: String,
    pub primary_smtp_address: String,
    pub activesync_enabled: bool,
    pub allowed_device_ids: Vec<String>,
    pub blocked_device_ids: Vec<String>,
    pub mailbox_policy: Option<String>,
}

/// `Get-ActiveSyncOrganizationSettings`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OrgSettings {
    /// `None` when the server sent a level this connector does not know.
    pub default_access_level: Option<AccessLevel>,
    pub admin_mail_recipients: Vec<String>,
    pub user_mail_insert: Option<String>,
}

/// `Get-ActiveSyncDeviceAccessRule`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceAccessRule {
    pub identity: String,
    pub query_string: String,
    /// `None` when the server sent a characteristic this connector does not know.
    pub characteristic: Option<DeviceAccessCharacteristic>,
    /// `None` when the server sent a level this connector does not know.
    pub access_level: Option<AccessLevel>,
}

/// Exchange refused to list a group's members (no such group, or not one this account may
/// read): its own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GroupRefused(pub String);

/// A member of a group (`Get-DistributionGroupMember`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupMember {
    pub identity: String,
    pub name: String,
    pub alias: String,
    pub primary_smtp_address: String,
    /// `RecipientType` (`UserMailbox`, `MailUniversalDistributionGroup`, …).
    pub recipient_type: String,
}

impl GroupMember {
    /// A nested group (its members are members too).
    pub fn is_group(&self) -> bool {
        self.recipient_type.to_ascii_lowercase().contains("group")
    }
}

/// `Get-ActiveSyncMailboxPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MailboxPolicy {
    pub name: String,
    pub is_default: bool,
    /// Every other property as text.
    pub settings: BTreeMap<String, String>,
}

/// Why an operation failed, whichever transport ran it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExchangeError {
    /// Remote PowerShell: the session, a WS-Management fault, or a cmdlet's own error
    /// (boxed: errors travel up through every caller's `Result`).
    #[error(transparent)]
    PowerShell(Box<PsError>),
}

impl From<PsError> for ExchangeError {
    fn from(e: PsError) -> ExchangeError {
        ExchangeError::PowerShell(Box::new(e))
    }
}

impl ExchangeError {
    /// The server or the domain refused the account: retrying counts toward its lockout.
    pub fn is_credential_error(&self) -> bool {
        match self {
            ExchangeError::PowerShell(e) => e.is_credential_error(),
        }
    }

    /// Exchange ran the command and refused it (its own words): another server would refuse
    /// it too. Anything else (a connection lost, a server gone quiet) is worth another try on
    /// another server.
    pub fn is_refusal(&self) -> bool {
        match self {
            ExchangeError::PowerShell(e) => matches!(**e, PsError::PipelineFailed { .. }),
        }
    }
}

/// The operations the connector runs against one Exchange organization. Reads hand their
/// records over as they arrive (`each`), so a 100 000-device organization is never one
/// vector; writes send exactly the change asked for.
pub trait Exchange: Clone + Send + Sync + 'static {
    /// The organization's Exchange servers (versions, Client Access role, FQDNs).
    fn get_exchange_servers(
        &self,
    ) -> impl Future<Output = Result<Vec<ExchangeServer>, ExchangeError>> + Send;

    /// Every ActiveSync device, or those `filter` selects.
    fn get_mobile_devices(
        &self,
        filter: Option<&Filter>,
        each: impl FnMut(MobileDevice) + Send,
    ) -> impl Future<Output = Result<(), ExchangeError>> + Send;

    /// The devices of one mailbox.
    fn get_mailbox_devices(
        &self,
        mailbox: &str,
    ) -> impl Future<Output = Result<Vec<MobileDevice>, ExchangeError>> + Send;

    /// One device's statistics (`None`: no such device).
    fn get_device_statistics(
        &self,
        identity: &str,
    ) -> impl Future<Output = Result<Option<DeviceStatistics>, ExchangeError>> + Send;

    /// One mailbox's ActiveSync settings and device lists (`None`: no such mailbox).
    fn get_cas_mailbox(
        &self,
        identity: &str,
    ) -> impl Future<Output = Result<Option<CasMailbox>, ExchangeError>> + Send;

    /// Every mailbox `filter` selects (all of them without one).
    fn get_cas_mailboxes(
        &self,
        filter: Option<&Filter>,
        each: impl FnMut(CasMailbox) + Send,
    ) -> impl Future<Output = Result<(), ExchangeError>> + Send;

    /// Change a mailbox's allowed and blocked device lists; an empty update is not sent.
    fn update_device_lists(
        &self,
        identity: &str,
        allowed: &ListUpdate,
        blocked: &ListUpdate,
    ) -> impl Future<Output = Result<(), ExchangeError>> + Send;

    /// The organization's ActiveSync settings.
    fn get_org_settings(&self) -> impl Future<Output = Result<OrgSettings, ExchangeError>> + Send;

    /// Change the given organization settings (`None`: leave alone).
    fn set_org_settings(
        &self,
        default_access_level: Option<AccessLevel>,
        admin_mail_recipients: Option<&[String]>,
        user_mail_insert: Option<&str>,
    ) -> impl Future<Output = Result<(), ExchangeError>> + Send;

    /// The device access rules.
    fn get_rules(
        &self,
    ) -> impl Future<Output = Result<Vec<DeviceAccessRule>, ExchangeError>> + Send;

    /// A new device access rule.
    fn new_rule(
        &self,
        query_string: &str,
        characteristic: DeviceAccessCharacteristic,
        access_level: AccessLevel,
    ) -> impl Future<Output = Result<(), ExchangeError>> + Send;

    /// Change a rule's access level.
    fn set_rule(
        &self,
        identity: &str,
        access_level: AccessLevel,
    ) -> impl Future<Output = Result<(), ExchangeError>> + Send;

    /// Remove a rule.
    fn remove_rule(&self, identity: &str)
        -> impl Future<Output = Result<(), ExchangeError>> + Send;

    /// A group's direct members, or Exchange's refusal (no such group) in its own words.
    fn get_group_members(
        &self,
        group: &str,
    ) -> impl Future<Output = Result<Result<Vec<GroupMember>, GroupRefused>, ExchangeError>> + Send;

    /// The ActiveSync (mobile device) mailbox policies.
    fn get_policies(
        &self,
    ) -> impl Future<Output = Result<Vec<MailboxPolicy>, ExchangeError>> + Send;

    /// A new mailbox policy with `settings`.
    fn new_policy(
        &self,
        name: &str,
        settings: &[(String, SettingValue)],
    ) -> impl Future<Output = Result<(), ExchangeError>> + Send;

    /// Change a mailbox policy's `settings`.
    fn set_policy(
        &self,
        name: &str,
        settings: &[(String, SettingValue)],
    ) -> impl Future<Output = Result<(), ExchangeError>> + Send;

    /// Remove a mailbox policy.
    fn remove_policy(&self, name: &str) -> impl Future<Output = Result<(), ExchangeError>> + Send;

    /// Wipe a device remotely.
    fn clear_device(
        &self,
        identity: &str,
    ) -> impl Future<Output = Result<(), ExchangeError>> + Send;

    /// Let go of the connection (best effort; the organization is not changed).
    fn close(&self) -> impl Future<Output = ()> + Send;
}
