//! The lab's Active Directory accounts and what each may do.
//!
//! Three accounts: the connector's service account (every role the connector needs), a limited
//! help-desk account (view-only, so the permission check has something to find), and the
//! notification account with its mailbox and the SendAs right on the help desk's address
//! ([`SEND_AS_ALIAS`]@domain), as an admin grants it with `Add-ADPermission … -ExtendedRights
//! "Send As"`. Passwords are derived from the seed so runs are
//! repeatable. This module checks credentials; it must not log a password.

use super::org::SplitMix;

/// NetBIOS domain of the lab.
pub const DOMAIN: &str = "LAB";

/// The address the notification account may send as (`it-helpdesk@<domain>`).
pub const SEND_AS_ALIAS: &str = "it-helpdesk";

/// An Exchange management role, as the permission check reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Role {
    /// Read-only view of the organization.
    ViewOnlyOrganizationManagement,
    /// Manage recipients (CAS mailboxes, mobile devices).
    RecipientManagement,
    /// Organization-wide client access settings, rules and policies.
    OrganizationClientAccess,
    /// Exchange servers.
    ServerManagement,
}

/// Who may log in.
#[derive(Debug, Clone)]
pub struct Account {
    /// `LAB\alias`.
    pub user: String,
    /// `alias@contoso.test`.
    pub upn: String,
    pub password: String,
    pub roles: Vec<Role>,
    /// Alias of the account's own mailbox.
    pub mailbox: Option<String>,
    /// SMTP addresses it holds the SendAs right on (besides its own mailbox's).
    pub send_as: Vec<String>,
}

impl Account {
    /// Whether it may send mail as `address` (its own mailbox's, or one it has SendAs on).
    pub fn may_send_as(&self, address: &str, own_smtp: &str) -> bool {
        address.eq_ignore_ascii_case(own_smtp)
            || self.send_as.iter().any(|a| a.eq_ignore_ascii_case(address))
    }
}

impl Account {
    /// Whether `name` names this account (`LAB\alias`, `alias@domain` or `alias`, any case).
    pub fn is_named(&self, name: &str) -> bool {
        let alias = self.upn.split('@').next().unwrap_or_default();
        name.eq_ignore_ascii_case(&self.user)
            || name.eq_ignore_ascii_case(&self.upn)
            || name.eq_ignore_ascii_case(alias)
    }
}

/// All accounts of the lab.
#[derive(Debug, Clone)]
pub struct Accounts {
    pub service: Account,
    pub limited: Account,
    pub notification: Account,
}

fn password(rng: &mut SplitMix) -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut p = String::from("Lab-");
    for _ in 0..14 {
        p.push(char::from(CHARS[rng.below(CHARS.len() as u64) as usize]));
    }
    p.push('!');
    p
}

impl Accounts {
    pub fn generate(seed: u64, domain: &str) -> Self {
        let mut rng = SplitMix::new(seed ^ 0xACC0_0A75);
        let make = |alias: &str, roles: Vec<Role>, mailbox: bool, rng: &mut SplitMix| Account {
            user: format!("{DOMAIN}\\{alias}"),
            upn: format!("{alias}@{domain}"),
            password: password(rng),
            roles,
            mailbox: mailbox.then(|| alias.to_string()),
            send_as: Vec::new(),
        };
        Accounts {
            service: make(
                "svc-eas",
                vec![
                    Role::ViewOnlyOrganizationManagement,
                    Role::RecipientManagement,
                    Role::OrganizationClientAccess,
                    Role::ServerManagement,
                ],
                true,
                &mut rng,
            ),
            limited: make(
                "helpdesk",
                vec![Role::ViewOnlyOrganizationManagement],
                false,
                &mut rng,
            ),
            notification: Account {
                send_as: vec![format!("{SEND_AS_ALIAS}@{domain}")],
                ..make("eas-notify", vec![], true, &mut rng)
            },
        }
    }

    pub fn all(&self) -> [&Account; 3] {
        [&self.service, &self.limited, &self.notification]
    }

    /// The account with this name and password, if both are right.
    pub fn authenticate(&self, name: &str, password: &str) -> Option<&Account> {
        self.all().into_iter().find(|a| {
            a.is_named(name) && constant_time_eq(a.password.as_bytes(), password.as_bytes())
        })
    }

    /// The account with this name, password unchecked (for NTLM, which proves it otherwise).
    pub fn find(&self, name: &str) -> Option<&Account> {
        self.all().into_iter().find(|a| a.is_named(name))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_passwords() {
        let a = Accounts::generate(5, "contoso.test");
        let p = a.service.password.clone();
        assert!(a.authenticate("LAB\\svc-eas", &p).is_some());
        assert!(a.authenticate("lab\\SVC-EAS", &p).is_some());
        assert!(a.authenticate("svc-eas@contoso.test", &p).is_some());
        assert!(a.authenticate("LAB\\svc-eas", "wrong").is_none());
        assert!(a.authenticate("LAB\\helpdesk", &p).is_none());
        assert_eq!(Accounts::generate(5, "contoso.test").service.password, p);
        assert_ne!(Accounts::generate(6, "contoso.test").service.password, p);
    }
}
