//! The one table of the cmdlets the connector calls: for each, the Exchange versions it is
//! called on, the management role that grants it and the role groups that include that role.
//!
//! Operations name their cmdlet only through a [`Cmdlet`] (whose name comes from [`TABLE`]),
//! so a cmdlet cannot be called without being in the table; the permission check
//! ([`required`]) lists exactly the table's entries for the server's version, and names the
//! role and role groups of each missing one. Roles and groups are Exchange Server's built-in
//! ones (Microsoft's "Recipients permissions", "Mobile devices permissions" and cmdlet pages).
//! It runs nothing and decides nothing about access.

use serde::Serialize;

/// An Exchange management role (what RBAC assigns cmdlets through).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum ManagementRole {
    /// Every remote PowerShell session has it (no role needed).
    Session,
    /// Recipients' settings, mobile devices (`Mail Recipients`).
    MailRecipients,
    /// Reading recipients and groups (`View-Only Recipients`).
    ViewOnlyRecipients,
    /// Reading the organization's configuration (`View-Only Configuration`).
    ViewOnlyConfiguration,
    /// ActiveSync organization settings and device access rules (`Organization Client
    /// Access`).
    OrganizationClientAccess,
    /// Mobile device / ActiveSync mailbox policies (`Recipient Policies`).
    RecipientPolicies,
}

/// A built-in Exchange role group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum RoleGroup {
    OrganizationManagement,
    RecipientManagement,
    ViewOnlyOrganizationManagement,
}

impl RoleGroup {
    pub fn label(self) -> &'static str {
        match self {
            RoleGroup::OrganizationManagement => "Organization Management",
            RoleGroup::RecipientManagement => "Recipient Management",
            RoleGroup::ViewOnlyOrganizationManagement => "View-Only Organization Management",
        }
    }
}

impl ManagementRole {
    /// Exchange's name for the role.
    pub fn label(self) -> &'static str {
        match self {
            ManagementRole::Session => "(every session)",
            ManagementRole::MailRecipients => "Mail Recipients",
            ManagementRole::ViewOnlyRecipients => "View-Only Recipients",
            ManagementRole::ViewOnlyConfiguration => "View-Only Configuration",
            ManagementRole::OrganizationClientAccess => "Organization Client Access",
            ManagementRole::RecipientPolicies => "Recipient Policies",
        }
    }

    /// The built-in role groups that include the role, least privileged first.
    pub fn role_groups(self) -> &'static [RoleGroup] {
        use RoleGroup::*;
        match self {
            ManagementRole::Session => &[],
            ManagementRole::MailRecipients | ManagementRole::RecipientPolicies => {
                &[RecipientManagement, OrganizationManagement]
            }
            ManagementRole::ViewOnlyRecipients | ManagementRole::ViewOnlyConfiguration => {
                &[ViewOnlyOrganizationManagement, OrganizationManagement]
            }
            ManagementRole::OrganizationClientAccess => &[OrganizationManagement],
        }
    }

    /// `role "Mail Recipients"; role groups: Recipient Management, Organization Management`.
    pub fn describe(self) -> String {
        let groups: Vec<&str> = self.role_groups().iter().map(|g| g.label()).collect();
        format!(
            "role \"{}\"; role groups: {}",
            self.label(),
            groups.join(", ")
        )
    }
}

/// The Exchange versions the connector calls a cmdlet on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Used {
    /// Every version.
    All,
    /// Exchange 2010 only (2013 and later have the `*-MobileDevice*` name the connector uses
    /// there).
    Exchange2010,
    /// Exchange 2013 and later.
    Since2013,
}

impl Used {
    /// Whether the connector calls it on a server with (`true`) or without the
    /// `*-MobileDevice*` cmdlets.
    pub fn on(self, mobile_device_cmdlets: bool) -> bool {
        match self {
            Used::All => true,
            Used::Exchange2010 => !mobile_device_cmdlets,
            Used::Since2013 => mobile_device_cmdlets,
        }
    }
}

macro_rules! cmdlets {
    ($($variant:ident = $name:literal, $used:ident, $role:ident, $purpose:literal;)+) => {
        /// A cmdlet the connector calls; [`TABLE`] says everything about it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub enum Cmdlet {
            $($variant,)+
        }

        /// Every cmdlet the connector calls, in [`Cmdlet`] order.
        pub const TABLE: &[Entry] = &[
            $(Entry {
                cmdlet: Cmdlet::$variant,
                name: $name,
                used: Used::$used,
                role: ManagementRole::$role,
                purpose: $purpose,
            },)+
        ];

        impl Cmdlet {
            /// Its table entry (written out per cmdlet: this module forbids indexing).
            pub fn entry(self) -> &'static Entry {
                match self {
                    $(Cmdlet::$variant => &Entry {
                        cmdlet: Cmdlet::$variant,
                        name: $name,
                        used: Used::$used,
                        role: ManagementRole::$role,
                        purpose: $purpose,
                    },)+
                }
            }
        }
    };
}

/// One cmdlet of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub cmdlet: Cmdlet,
    /// As Exchange spells it.
    pub name: &'static str,
    pub used: Used,
    /// The role that grants it (its role groups: [`ManagementRole::role_groups`]).
    pub role: ManagementRole,
    /// What the connector uses it for.
    pub purpose: &'static str,
}

cmdlets! {
    GetCommand = "Get-Command", All, Session, "the permission check";
    GetExchangeServer = "Get-ExchangeServer", All, ViewOnlyConfiguration,
        "server versions and the Client Access Servers to fail over to";
    GetMobileDevice = "Get-MobileDevice", Since2013, MailRecipients, "reading devices";
    GetActiveSyncDevice = "Get-ActiveSyncDevice", Exchange2010, MailRecipients,
        "reading devices";
    GetMobileDeviceStatistics = "Get-MobileDeviceStatistics", Since2013, MailRecipients,
        "a device's last sync";
    GetActiveSyncDeviceStatistics = "Get-ActiveSyncDeviceStatistics", Exchange2010,
        MailRecipients, "a device's last sync";
    ClearMobileDevice = "Clear-MobileDevice", Since2013, MailRecipients, "remote wipe";
    ClearActiveSyncDevice = "Clear-ActiveSyncDevice", Exchange2010, MailRecipients,
        "remote wipe";
    GetCasMailbox = "Get-CASMailbox", All, MailRecipients,
        "mailboxes' allowed and blocked device lists";
    SetCasMailbox = "Set-CASMailbox", All, MailRecipients,
        "changing mailboxes' allowed and blocked device lists";
    GetDistributionGroupMember = "Get-DistributionGroupMember", All, ViewOnlyRecipients,
        "expanding the groups policy rules name";
    GetActiveSyncOrganizationSettings = "Get-ActiveSyncOrganizationSettings", All,
        OrganizationClientAccess, "the default access level";
    SetActiveSyncOrganizationSettings = "Set-ActiveSyncOrganizationSettings", All,
        OrganizationClientAccess, "keeping the default access level at Quarantine";
    GetActiveSyncDeviceAccessRule = "Get-ActiveSyncDeviceAccessRule", All,
        OrganizationClientAccess, "the device access rules that override decisions";
    NewActiveSyncDeviceAccessRule = "New-ActiveSyncDeviceAccessRule", All,
        OrganizationClientAccess, "device access rules";
    SetActiveSyncDeviceAccessRule = "Set-ActiveSyncDeviceAccessRule", All,
        OrganizationClientAccess, "device access rules";
    RemoveActiveSyncDeviceAccessRule = "Remove-ActiveSyncDeviceAccessRule", All,
        OrganizationClientAccess, "device access rules";
    GetMobileDeviceMailboxPolicy = "Get-MobileDeviceMailboxPolicy", Since2013,
        RecipientPolicies, "the mailbox policy";
    NewMobileDeviceMailboxPolicy = "New-MobileDeviceMailboxPolicy", Since2013,
        RecipientPolicies, "the mailbox policy";
    SetMobileDeviceMailboxPolicy = "Set-MobileDeviceMailboxPolicy", Since2013,
        RecipientPolicies, "the mailbox policy";
    RemoveMobileDeviceMailboxPolicy = "Remove-MobileDeviceMailboxPolicy", Since2013,
        RecipientPolicies, "the mailbox policy";
    GetActiveSyncMailboxPolicy = "Get-ActiveSyncMailboxPolicy", Exchange2010,
        RecipientPolicies, "the mailbox policy";
    NewActiveSyncMailboxPolicy = "New-ActiveSyncMailboxPolicy", Exchange2010,
        RecipientPolicies, "the mailbox policy";
    SetActiveSyncMailboxPolicy = "Set-ActiveSyncMailboxPolicy", Exchange2010,
        RecipientPolicies, "the mailbox policy";
    RemoveActiveSyncMailboxPolicy = "Remove-ActiveSyncMailboxPolicy", Exchange2010,
        RecipientPolicies, "the mailbox policy";
}

impl Cmdlet {
    /// As Exchange spells it.
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// The 2010 or the 2013+ name of one operation, whichever the server has.
    pub fn pick(mobile_device_cmdlets: bool, activesync: Cmdlet, mobile: Cmdlet) -> Cmdlet {
        if mobile_device_cmdlets {
            mobile
        } else {
            activesync
        }
    }
}

/// The cmdlets the connector calls on a server with (`true`) or without the
/// `*-MobileDevice*` cmdlets, in table order (the session's own ones left out: nobody lacks
/// them).
pub fn required(mobile_device_cmdlets: bool) -> impl Iterator<Item = &'static Entry> {
    TABLE
        .iter()
        .filter(move |e| e.used.on(mobile_device_cmdlets) && e.role != ManagementRole::Session)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn the_table_and_the_entries_agree() {
        for (i, e) in TABLE.iter().enumerate() {
            assert_eq!(e.cmdlet.entry(), e);
            assert_eq!(e.cmdlet as usize, i);
            assert!(e.name.contains('-'), "{}", e.name);
        }
        let names: std::collections::BTreeSet<_> = TABLE.iter().map(|e| e.name).collect();
        assert_eq!(names.len(), TABLE.len(), "each cmdlet once");
    }

    #[test]
    fn each_version_gets_its_own_names() {
        let of = |m: bool| required(m).map(|e| e.name).collect::<Vec<_>>();
        let new = of(true);
        let old = of(false);
        assert!(new.contains(&"Get-MobileDeviceMailboxPolicy"));
        assert!(!new.contains(&"Get-ActiveSyncMailboxPolicy"));
        assert!(!new.contains(&"Get-ActiveSyncDevice"));
        assert!(old.contains(&"Get-ActiveSyncDevice") && !old.contains(&"Get-MobileDevice"));
        assert!(!new.contains(&"Get-Command"));
        assert_eq!(
            ManagementRole::OrganizationClientAccess.describe(),
            "role \"Organization Client Access\"; role groups: Organization Management"
        );
    }
}
