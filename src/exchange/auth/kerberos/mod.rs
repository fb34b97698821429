//! Kerberos sign-in to Exchange: what a default Exchange's `/PowerShell` accepts, and what
//! EWS and ActiveSync prefer.
//!
//! Layers, bottom up: [`crypto`] (keys, encrypted parts, Wrap/MIC tokens, channel binding
//! hashes), [`messages`] (AS/TGS/AP messages and KRB-ERROR), [`gss`] (GSS framing and
//! SPNEGO), [`keytab`] and [`names`] (principals and realms) do no I/O and never print keys.
//! [`kdc`] finds and talks to the realm's KDC; [`tickets`] runs the AS and TGS exchanges and
//! keeps the process's ticket cache (a TGT per account, renewed before it expires; service
//! tickets per SPN); [`auth`] is the HTTP [`Authenticator`](super::client::Authenticator) for
//! the `Kerberos` and `Negotiate` schemes, with channel binding over HTTPS and message
//! sealing over HTTP. Errors are [`KerberosError`]s that name what failed and the fix, and
//! tell apart "Kerberos is unavailable here" (another mechanism may be tried) from "the domain
//! refused these credentials" (nothing else may be tried: every attempt counts toward the
//! account's lockout). No password, key or ticket ever reaches an error or a log line.

pub mod authenticator;
pub mod kdc;
pub mod tickets;

pub use crate::wire::kerberos::names::{self, NameError, Principal, RealmSource};

/// Kerberos settings of one connection (from the configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KerberosOptions {
    /// `Kerberos/Realm`.
    pub realm: Option<String>,
    /// `Kerberos/KdcAddress`: `host[:port]`, comma-separated.
    pub kdc: Option<String>,
    /// `Kerberos/ServicePrincipalName`.
    pub spn: Option<String>,
    /// `Kerberos/RenewBeforeExpirySeconds`.
    pub renew_before_expiry_secs: u32,
}

/// Which account-side condition the domain reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountProblem {
    /// Wrong password (pre-authentication failed).
    WrongPassword,
    /// The account is locked out after too many wrong passwords.
    LockedOut,
    /// The account is disabled.
    Disabled,
    /// The account has expired.
    AccountExpired,
    /// The password has expired or must be changed at next logon.
    PasswordExpired,
    /// Outside the account's logon hours or workstations.
    LogonRestricted,
    /// The domain revoked the account's credentials (unspecified).
    Revoked,
    /// No such account in the realm.
    Unknown,
}

impl AccountProblem {
    fn text(self) -> &'static str {
        match self {
            AccountProblem::WrongPassword => "refused the password",
            AccountProblem::LockedOut => "says the account is locked out",
            AccountProblem::Disabled => "says the account is disabled",
            AccountProblem::AccountExpired => "says the account has expired",
            AccountProblem::PasswordExpired => "says the password has expired (or must be changed)",
            AccountProblem::LogonRestricted => "does not allow this account to sign in now or from here (logon hours or workstations)",
            AccountProblem::Revoked => "has revoked the account's credentials (disabled, locked out or expired)",
            AccountProblem::Unknown => "has no such account",
        }
    }

    fn fix(self) -> &'static str {
        match self {
            AccountProblem::WrongPassword => "store the account's current password (set-password); the connector stops retrying so it does not lock the account out",
            AccountProblem::LockedOut => "unlock the account in Active Directory Users and Computers (or Unlock-ADAccount), then check that no other program uses an old password",
            AccountProblem::Disabled => "enable the account in Active Directory",
            AccountProblem::AccountExpired => "extend the account's expiry date in Active Directory",
            AccountProblem::PasswordExpired => "set a new password for the account (and \"password never expires\" for a service account), then store it with set-password",
            AccountProblem::LogonRestricted => "allow the account's logon hours and workstations in Active Directory",
            AccountProblem::Revoked => "check the account in Active Directory (enabled, not locked out, not expired)",
            AccountProblem::Unknown => "check the user name and the realm (an account in another domain needs Kerberos/Realm set to that domain)",
        }
    }
}

/// Where clocks disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkewAt {
    /// Between this machine and the KDC (which the client corrects by itself, once).
    Kdc { kdc: String },
    /// Between the Exchange server and the domain.
    Server { server: String },
}

/// Why a Kerberos sign-in failed. `Display` says what is wrong; [`KerberosError::fix`] what
/// to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KerberosError {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("no domain controller (KDC) for realm {realm} answered ({source_text}): {}", tried_text(.tried))]
    NoKdc {
        realm: String,
        source_text: String,
        tried: Vec<(String, kdc::KdcFailure)>,
    },
    #[error("the domain ({realm}) {} for {principal}", .problem.text())]
    Account {
        principal: String,
        realm: String,
        problem: AccountProblem,
    },
    #[error("the domain ({realm}) knows no service principal name {spn}")]
    UnknownSpn { spn: String, realm: String },
    #[error("{}", skew_text(.at, *.offset_secs))]
    ClockSkew {
        at: SkewAt,
        offset_secs: Option<i64>,
    },
    #[error("{server} refused the Kerberos ticket for {spn} ({reason})")]
    TicketRefused {
        server: String,
        spn: String,
        reason: String,
        fix: String,
    },
    #[error("{server} refused the Kerberos sign-in (HTTP 401, no Kerberos error) although the domain issued a ticket for {spn}{}", bound_text(.bound_to))]
    SignInRefused {
        server: String,
        spn: String,
        user: String,
        /// The certificate the sign-in was bound to (HTTPS with channel binding).
        bound_to: Option<String>,
    },
    #[error("the KDC for {realm} answered {what}: Kerberos error {code}{}", text_suffix(.text))]
    Kdc {
        realm: String,
        what: &'static str,
        code: u32,
        text: Option<String>,
    },
    #[error("the account {principal} has no AES keys in {realm} (the connector speaks AES only)")]
    NoAesKeys { principal: String, realm: String },
    #[error("a Kerberos message from {peer} could not be read: {detail}")]
    Protocol { peer: String, detail: String },
}

fn bound_text(cert: &Option<String>) -> String {
    cert.as_deref()
        .map(|c| format!("; the sign-in was bound to the certificate this connection received (Extended Protection): {c}"))
        .unwrap_or_default()
}

fn tried_text(tried: &[(String, kdc::KdcFailure)]) -> String {
    if tried.is_empty() {
        return "no KDC address was found".to_string();
    }
    tried
        .iter()
        .map(|(k, e)| format!("{k}: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn text_suffix(t: &Option<String>) -> String {
    t.as_deref()
        .filter(|t| !t.is_empty())
        .map(|t| format!(" ({t})"))
        .unwrap_or_default()
}

fn skew_text(at: &SkewAt, offset: Option<i64>) -> String {
    let by = offset
        .map(|o| format!(" by about {} minutes,", (o.abs() + 30) / 60))
        .unwrap_or_default();
    match at {
        SkewAt::Kdc { kdc } => format!(
            "this machine's clock differs from the domain controller {kdc}{by} more than Kerberos allows (5 minutes)"
        ),
        SkewAt::Server { server } => format!(
            "{server} refused the Kerberos ticket because its clock and the domain's differ{by} more than Kerberos allows (5 minutes; KRB_AP_ERR_SKEW)"
        ),
    }
}

impl KerberosError {
    /// What to do about it.
    pub fn fix(&self) -> String {
        match self {
            KerberosError::Name(NameError::BadUser { .. }) => {
                "write the service account as user@corp.contoso.com or DOMAIN\\user".into()
            }
            KerberosError::Name(NameError::NoRealm { .. }) => "set Kerberos/Realm to the Active Directory DNS domain in capitals (e.g. CORP.CONTOSO.COM), or write the account as user@corp.contoso.com".into(),
            KerberosError::Name(NameError::AddressWithoutName { .. }) => "use the Exchange server's FQDN instead of its address, or set Kerberos/ServicePrincipalName".into(),
            KerberosError::NoKdc { realm, .. } => format!(
                "check Kerberos/KdcAddress, the DNS SRV record _kerberos._tcp.{}, and that TCP port 88 to the domain controllers is open from this machine",
                realm.to_ascii_lowercase()
            ),
            KerberosError::Account { problem, .. } => problem.fix().into(),
            KerberosError::UnknownSpn { spn, .. } => format!(
                "Kerberos needs the Exchange server's real FQDN (not an alias or an address): use it in the server address, or set Kerberos/ServicePrincipalName to the SPN of the account that serves this name (setspn -Q {spn} shows who has it)"
            ),
            KerberosError::ClockSkew { at: SkewAt::Kdc { .. }, .. } => {
                "synchronize this machine's time with the domain (w32tm /resync, or NTP on Linux)".into()
            }
            KerberosError::ClockSkew { at: SkewAt::Server { .. }, .. } => {
                "synchronize the Exchange server's time with the domain (w32tm /resync on the server), and check this machine's time too".into()
            }
            KerberosError::TicketRefused { fix, .. } => fix.clone(),
            KerberosError::SignInRefused { spn, user, bound_to, .. } => {
                let mut fix = format!(
                    "check that {spn} is registered on the account the server runs as (setspn -Q {spn}; a load-balanced name needs the alternate service account's SPN in Kerberos/ServicePrincipalName) and that {user} may use remote PowerShell"
                );
                if bound_to.is_some() {
                    fix.push_str("; if a load balancer or TLS inspection re-encrypts with another certificate than that one, Extended Protection refuses the sign-in: let TLS end on Exchange, or set ChannelBinding = Off for that load balancer");
                }
                fix
            }
            KerberosError::Kdc { .. } => "ask the domain administrator; the domain controller's System event log names the reason".into(),
            KerberosError::NoAesKeys { .. } => "enable AES for the account (msDS-SupportedEncryptionTypes = 0x18) and set its password once more".into(),
            KerberosError::Protocol { .. } => "check that nothing between this machine and the server rewrites HTTP headers; if it persists, send the log to support".into(),
        }
    }

    /// Kerberos cannot be used here (no KDC, no realm, unknown SPN, no AES keys): another
    /// mechanism may be tried without risking the account (no password was tried).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            KerberosError::NoKdc { .. }
                | KerberosError::UnknownSpn { .. }
                | KerberosError::NoAesKeys { .. }
                | KerberosError::Name(NameError::NoRealm { .. })
                | KerberosError::Name(NameError::AddressWithoutName { .. })
        )
    }

    /// The domain refused the account itself: retrying (with any mechanism) only counts
    /// toward its lockout. (An unknown account is not refused: there is nothing to lock.)
    pub fn is_credential_error(&self) -> bool {
        matches!(self, KerberosError::Account { problem, .. } if *problem != AccountProblem::Unknown)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn no_realm_names_the_setting() {
        let e = names::client_principal("CONTOSO\\svc", None, "127.0.0.1").unwrap_err();
        assert!(KerberosError::from(e).fix().contains("Kerberos/Realm"));
    }

    #[test]
    fn every_error_names_a_fix() {
        let e = KerberosError::NoKdc {
            realm: "EAS.TEST".into(),
            source_text: "from DNS SRV _kerberos._tcp".into(),
            tried: vec![(
                "dc1:88".into(),
                kdc::KdcFailure::Resolve("no such host".into()),
            )],
        };
        assert!(e.is_unavailable() && !e.is_credential_error());
        assert!(e.fix().contains("port 88"), "{e}");
        assert!(e.fix().contains("_kerberos._tcp.eas.test"), "{e}");
        let e = KerberosError::Account {
            principal: "svc@EAS.TEST".into(),
            realm: "EAS.TEST".into(),
            problem: AccountProblem::LockedOut,
        };
        assert!(e.is_credential_error() && !e.is_unavailable());
        assert!(e.fix().contains("Unlock-ADAccount"), "{e}");
        let e = KerberosError::ClockSkew {
            at: SkewAt::Server {
                server: "cas01".into(),
            },
            offset_secs: Some(600),
        };
        assert!(e.to_string().contains("about 10 minutes"), "{e}");
        assert!(e.fix().contains("w32tm"), "{e}");
    }
}
