//! What a check found and what to do about it, as data: a [`Finding`] (the detail) and a
//! [`Fix`], each an enum with its parameters. Their `Display` is the English text that
//! `eas-connector validate` prints and scripts read (it must not change casually); the wizard
//! renders the same values in the admin's language and in its own words (`wizard::words`).
//! A fix names the configuration setting it is about ([`Fix::setting`]), so the wizard can
//! offer "Go to <page> › <field>". Nothing here may hold a password.

use std::fmt;

use crate::config::fields::{self, Field};
use crate::exchange::auth::kerberos::{AccountProblem, KerberosError, NameError, SkewAt};
use crate::exchange::http::{HttpError, TlsFailure};

/// Which account a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    Service,
    Notification,
}

impl Account {
    /// The configuration element of its user name.
    pub fn path(self) -> &'static str {
        match self {
            Account::Service => fields::SERVICE_ACCOUNT_USER.path,
            Account::Notification => fields::NOTIFICATION_ACCOUNT_USER.path,
        }
    }
}

/// What is missing from an otherwise readable configuration (check 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gap {
    /// A field's own problem, from the configuration validators (English).
    Field(String),
    NoServicePassword,
    NoNotificationPassword,
    NoProxyPassword,
    NoServerAddress,
    /// The connection settings could not be built (e.g. the CA file), in English.
    Connection(String),
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gap::Field(s) | Gap::Connection(s) => f.write_str(s),
            Gap::NoServicePassword => f.write_str("no service account password is stored"),
            Gap::NoNotificationPassword => {
                f.write_str("no notification account password is stored")
            }
            Gap::NoProxyPassword => f.write_str("no proxy password is stored"),
            Gap::NoServerAddress => f.write_str("no usable Exchange server address"),
        }
    }
}

/// The detail of a check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Check 14 with no cloud identity configured.
    CloudNotConfigured,
    /// Check 14: token, permission and the first page of managed devices.
    IntuneRead {
        devices: usize,
        with_eas: usize,
        more_pages: bool,
        graph: String,
    },
    ConfigComplete {
        url: String,
    },
    ConfigIncomplete {
        gaps: Vec<Gap>,
    },
    NoServer,
    NoServiceCredentials,
    NoNotificationCredentials,
    NoMailbox,
    NoCredentials,
    DnsIsAddress {
        host: String,
    },
    DnsResolved {
        host: String,
        addresses: Vec<String>,
    },
    /// The name did not resolve, but a proxy resolves names itself.
    DnsBehindProxy {
        error: String,
    },
    ProxyNotUsed,
    ProxyConnected {
        proxy: String,
        target: String,
    },
    ProxyAccepted {
        proxy: String,
    },
    TcpConnected {
        peer: String,
        through_proxy: bool,
        ms: u128,
    },
    ProxyCouldNotConnect {
        proxy: String,
        target: String,
        status: u16,
    },
    /// TLS is fine; `http` is set when PowerShell is reached over http:// (then the HTTPS
    /// certificate checked is the one EWS and ActiveSync use).
    TlsTrusted {
        http: Option<HttpPowerShell>,
        certificate: Option<String>,
    },
    TlsFailed {
        http: Option<HttpPowerShell>,
        error: String,
        certificate: Option<String>,
    },
    AsksForAuthentication {
        url: String,
        schemes: Vec<String>,
    },
    Http503 {
        server: String,
    },
    Http404 {
        server: String,
        path: String,
    },
    NotPowerShell {
        url: String,
        status: u16,
    },
    SchemeNotOffered {
        url: String,
        scheme: String,
        offered: Vec<String>,
    },
    KerberosOnly {
        url: String,
        offered: Vec<String>,
        kerberos: String,
    },
    SignedIn {
        user: String,
        mechanism: String,
        to: SignedInTo,
        kerberos_not_used: Option<String>,
    },
    RunspaceOpened {
        configuration: String,
    },
    CmdletsAvailable {
        count: usize,
        user: String,
    },
    CmdletsMissing {
        user: String,
        missing: Vec<(String, String)>,
    },
    Servers {
        count: usize,
        version: String,
        names: Vec<String>,
    },
    EwsUrlSet {
        url: String,
    },
    Discovered {
        email: String,
        url: String,
        via: String,
    },
    ActiveSync {
        version: String,
        protocols: Vec<String>,
    },
    /// The check did not answer within its time.
    Timeout {
        secs: u64,
    },
    /// Not run because a prerequisite failed.
    SkippedAfter {
        number: usize,
        title: &'static str,
    },
    /// An error from the connection or protocol layers, in their (English) words.
    Error {
        text: String,
    },
}

/// The PowerShell URL over plain HTTP, and where HTTPS is checked instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpPowerShell {
    pub url: String,
    pub https: String,
}

/// Where a signed-in account went (checks 7 and 12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedInTo {
    PowerShell,
    EwsMailbox,
    EwsTestMail { to: String },
}

fn http_prefix(h: &Option<HttpPowerShell>) -> String {
    h.as_ref()
        .map(|h| {
            format!(
                "PowerShell uses {} (messages sealed); HTTPS for EWS and ActiveSync at {}: ",
                h.url, h.https
            )
        })
        .unwrap_or_default()
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::ConfigComplete { url } => write!(f, "complete; {url}"),
            Finding::ConfigIncomplete { gaps } => {
                let list: Vec<String> = gaps.iter().map(ToString::to_string).collect();
                f.write_str(&list.join("; "))
            }
            Finding::NoServer => f.write_str("no Exchange server is configured"),
            Finding::NoServiceCredentials => f.write_str("no service account credentials"),
            Finding::NoNotificationCredentials => {
                f.write_str("no notification account credentials")
            }
            Finding::NoMailbox => f.write_str("no notification mailbox"),
            Finding::NoCredentials => f.write_str("no credentials"),
            Finding::DnsIsAddress { host } => write!(f, "{host} is an IP address"),
            Finding::DnsResolved { host, addresses } => {
                write!(f, "{host} → {}", addresses.join(", "))
            }
            Finding::DnsBehindProxy { error } => write!(
                f,
                "{error}; the proxy resolves names itself, so this may be fine"
            ),
            Finding::ProxyNotUsed => f.write_str("not used (Proxy/Enabled is false)"),
            Finding::ProxyConnected { proxy, target } => {
                write!(f, "{proxy} accepted CONNECT to {target}")
            }
            Finding::ProxyAccepted { proxy } => {
                write!(f, "{proxy} accepted the request and credentials")
            }
            Finding::TcpConnected {
                peer,
                through_proxy,
                ms,
            } => {
                if *through_proxy {
                    write!(f, "connected to {peer} through the proxy in {ms} ms")
                } else {
                    write!(f, "connected to {peer} in {ms} ms")
                }
            }
            Finding::ProxyCouldNotConnect {
                proxy,
                target,
                status,
            } => write!(
                f,
                "the proxy {proxy} could not connect to {target} (HTTP {status})"
            ),
            Finding::TlsTrusted { http, certificate } => {
                write!(f, "{}trusted", http_prefix(http))?;
                if let Some(c) = certificate {
                    write!(f, "; {c}")?;
                }
                Ok(())
            }
            Finding::TlsFailed {
                http,
                error,
                certificate,
            } => {
                write!(f, "{}{error}", http_prefix(http))?;
                if let Some(c) = certificate {
                    write!(f, "; the server's certificate: {c}")?;
                }
                Ok(())
            }
            Finding::AsksForAuthentication { url, schemes } => {
                write!(f, "{url} asks for authentication: {}", schemes.join(", "))
            }
            Finding::Http503 { server } => write!(
                f,
                "{server} answers HTTP 503: the server is throttling requests or overloaded"
            ),
            Finding::Http404 { server, path } => write!(
                f,
                "{server} answers HTTP 404: there is no PowerShell virtual directory at {path}"
            ),
            Finding::NotPowerShell { url, status } => write!(
                f,
                "{url} answers HTTP {status} instead of asking for authentication; it does not look like Exchange's PowerShell endpoint"
            ),
            Finding::SchemeNotOffered {
                url,
                scheme,
                offered,
            } => write!(
                f,
                "{url}: the server does not accept {scheme} (it offers {})",
                offered.join(", ")
            ),
            Finding::KerberosOnly {
                url,
                offered,
                kerberos,
            } => write!(
                f,
                "{url}: the server accepts Kerberos only (it offers {}), and Kerberos could not be used: {kerberos}",
                offered.join(", ")
            ),
            Finding::SignedIn {
                user,
                mechanism,
                to,
                kerberos_not_used,
            } => {
                write!(f, "{user} signed in with {mechanism}")?;
                match to {
                    SignedInTo::PowerShell => {}
                    SignedInTo::EwsMailbox => f.write_str(" to EWS and opened the mailbox")?,
                    SignedInTo::EwsTestMail { to } => {
                        write!(f, " to EWS and sent a test mail to {to}")?
                    }
                }
                if let Some(k) = kerberos_not_used {
                    write!(f, "; Kerberos was not used: {k}")?;
                }
                Ok(())
            }
            Finding::RunspaceOpened { configuration } => {
                write!(f, "opened a runspace in {configuration}")
            }
            Finding::CmdletsAvailable { count, user } => {
                write!(f, "all {count} required cmdlets are available to {user}")
            }
            Finding::CmdletsMissing { user, missing } => {
                let list: Vec<String> = missing.iter().map(|(c, g)| format!("{c} ({g})")).collect();
                write!(
                    f,
                    "{user} may not run {} cmdlet(s) the connector calls on this Exchange version: {}",
                    missing.len(),
                    list.join(", ")
                )
            }
            Finding::Servers {
                count,
                version,
                names,
            } => write!(
                f,
                "{count} Client Access Server(s), {version}: {}",
                names.join(", ")
            ),
            Finding::EwsUrlSet { url } => write!(
                f,
                "ExchangeWebServiceURL is set ({url}); Autodiscover is not used"
            ),
            Finding::Discovered { email, url, via } => write!(f, "{email} → {url} (via {via})"),
            Finding::ActiveSync { version, protocols } => write!(
                f,
                "ActiveSync {version} offers protocol versions {}",
                protocols.join(", ")
            ),
            Finding::Timeout { secs } => write!(f, "no answer within {secs} s"),
            Finding::SkippedAfter { number, title } => write!(f, "skipped: {number}. {title} failed"),
            Finding::Error { text } => f.write_str(text),
            Finding::CloudNotConfigured => {
                f.write_str("no Intune source: Cloud/TenantId and Cloud/ApplicationId are not set")
            }
            Finding::IntuneRead {
                devices,
                with_eas,
                more_pages,
                graph,
            } => write!(
                f,
                "signed in to Entra ID; {graph} returned {devices} managed devices on the first page ({with_eas} with an ActiveSync id){}",
                if *more_pages { ", more pages follow" } else { "" }
            ),
        }
    }
}

/// What to do about a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    SetServer,
    CaFileNotPem,
    CaFileUnreadable,
    SetServiceCredentials,
    SetNotificationCredentials,
    SetMailbox,
    StorePasswords,
    CompleteConfiguration,
    DnsName,
    NameBehindProxy,
    Refused,
    Firewall,
    SlowNetwork,
    NetworkPath,
    ProxyUnreachable,
    ProxyCredentials,
    ProxyRefused,
    ProxyMayReach,
    /// The proxy asks for a sign-in scheme Proxy/AuthenticationMethod does not allow.
    ProxyAuthScheme,
    /// The sign-in to the proxy (NTLM or Negotiate) failed.
    ProxySignIn,
    UnknownIssuer,
    NameMismatch,
    CertificateDates,
    NotTls,
    TlsConfiguration,
    ServerAddress,
    PowerShellPathInvalid,
    Throttled503,
    NotExchangeCas,
    NotPowerShell,
    AccountCredentials(Account),
    SchemeUseKerberos,
    SchemeOther,
    NoSupportedScheme,
    HandshakeCut,
    Throttled,
    CheckAccount,
    BasicOverHttp,
    NeedsHttps,
    RemotePowerShell,
    ServerMessage,
    PowerShellPath,
    RetryEventLog,
    RoleGroups {
        user: String,
        groups: Vec<String>,
    },
    NoFailoverPeer,
    UnknownMailbox,
    PublishAutodiscover,
    CheckEwsUrl,
    MailboxOwner,
    ActiveSyncDirectory,
    KerberosBadUser,
    KerberosNoRealm,
    KerberosAddress,
    KerberosNoKdc {
        realm: String,
    },
    KerberosAccount(AccountProblem),
    KerberosUnknownSpn {
        spn: String,
    },
    ClockKdc,
    ClockServer,
    KerberosSignInRefused {
        spn: String,
        user: String,
        bound: bool,
    },
    KerberosKdc,
    KerberosNoAes,
    KerberosProtocol,
    /// Kerberos is the only way in and could not be used: the Kerberos fix.
    MakeKerberosWork(Box<Fix>),
    /// A fix worded by a lower layer (a server's Kerberos refusal), in English.
    Other(String),
    /// What to do about the Microsoft cloud (check 14).
    Cloud(CloudFix),
}

/// What to do when Intune (Microsoft Graph) cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudFix {
    /// Tenant or application id wrong.
    Identity,
    /// No credential imported, or the secret is wrong or expired.
    Credential,
    /// The certificate is not uploaded to the app registration.
    CertificateNotUploaded,
    /// Admin consent / the application permission is missing.
    Consent,
    /// This machine's clock is off.
    Clock,
    /// The proxy or the network path to the cloud.
    Proxy,
    /// The Graph or authority address does not fit.
    Addresses,
    /// Graph is throttling or unavailable: retry later.
    Retry,
}

impl fmt::Display for CloudFix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CloudFix::Identity => "check Cloud/TenantId (the directory ID) and Cloud/ApplicationId (the app registration's Application (client) ID)",
            CloudFix::Credential => "import the app's certificate (`eas-connector cloud set-certificate FILE`) or store its client secret's Value (`cloud set-secret`)",
            CloudFix::CertificateNotUploaded => "upload the certificate's public part (.cer) to the app registration under Certificates & secrets → Certificates",
            CloudFix::Consent => "in the app registration's API permissions add Microsoft Graph → Application → DeviceManagementManagedDevices.Read.All and click \"Grant admin consent\"",
            CloudFix::Clock => "synchronize this machine's clock (NTP): Entra ID refuses sign-ins outside their valid time",
            CloudFix::Proxy => "let this machine reach login.microsoftonline.com and graph.microsoft.com, through the proxy (Proxy/…) when it has no direct internet access; a TLS-inspecting proxy's CA goes in TrustedCaFile",
            CloudFix::Addresses => "check Cloud/Authority and Cloud/GraphUrl (national clouds have their own)",
            CloudFix::Retry => "Graph is throttling or unavailable; retry later",
        })
    }
}

impl Fix {
    /// The fix for an HTTP-level failure.
    pub fn for_http(e: &HttpError) -> Fix {
        match e {
            HttpError::Dns { .. } => Fix::DnsName,
            HttpError::Refused { .. } => Fix::Refused,
            HttpError::ConnectTimeout { .. } | HttpError::Timeout { .. } => Fix::Firewall,
            HttpError::ProxyUnreachable { .. } => Fix::ProxyUnreachable,
            HttpError::ProxyAuth { .. } => Fix::ProxyCredentials,
            HttpError::ProxyRefused { .. } => Fix::ProxyRefused,
            HttpError::ProxyAuthScheme { .. } => Fix::ProxyAuthScheme,
            HttpError::ProxySignIn { .. } => Fix::ProxySignIn,
            HttpError::Tls { failure, .. } => match failure {
                TlsFailure::UnknownIssuer => Fix::UnknownIssuer,
                TlsFailure::NameMismatch => Fix::NameMismatch,
                TlsFailure::Expired | TlsFailure::NotYetValid => Fix::CertificateDates,
                TlsFailure::NotTls => Fix::NotTls,
                _ => Fix::TlsConfiguration,
            },
            HttpError::TrustedCa { .. } => Fix::CaFileUnreadable,
            _ => Fix::NetworkPath,
        }
    }

    /// The fix for a Kerberos failure (`KerberosError::fix`, as data).
    pub fn for_kerberos(e: &KerberosError) -> Fix {
        match e {
            KerberosError::Name(NameError::BadUser { .. }) => Fix::KerberosBadUser,
            KerberosError::Name(NameError::NoRealm { .. }) => Fix::KerberosNoRealm,
            KerberosError::Name(NameError::AddressWithoutName { .. }) => Fix::KerberosAddress,
            KerberosError::NoKdc { realm, .. } => Fix::KerberosNoKdc {
                realm: realm.clone(),
            },
            KerberosError::Account { problem, .. } => Fix::KerberosAccount(*problem),
            KerberosError::UnknownSpn { spn, .. } => Fix::KerberosUnknownSpn { spn: spn.clone() },
            KerberosError::ClockSkew {
                at: SkewAt::Kdc { .. },
                ..
            } => Fix::ClockKdc,
            KerberosError::ClockSkew {
                at: SkewAt::Server { .. },
                ..
            } => Fix::ClockServer,
            KerberosError::SignInRefused {
                spn,
                user,
                bound_to,
                ..
            } => Fix::KerberosSignInRefused {
                spn: spn.clone(),
                user: user.clone(),
                bound: bound_to.is_some(),
            },
            KerberosError::Kdc { .. } => Fix::KerberosKdc,
            KerberosError::NoAesKeys { .. } => Fix::KerberosNoAes,
            KerberosError::Protocol { .. } => Fix::KerberosProtocol,
            other => Fix::Other(other.fix()),
        }
    }

    /// The setting this fix is about, when it is one.
    pub fn setting(&self) -> Option<&'static Field> {
        Some(match self {
            Fix::SetServer
            | Fix::DnsName
            | Fix::Refused
            | Fix::NameMismatch
            | Fix::NotTls
            | Fix::ServerAddress
            | Fix::NotExchangeCas
            | Fix::NotPowerShell
            | Fix::ProxyMayReach => &fields::CLIENT_ACCESS_SERVER,
            Fix::CaFileNotPem | Fix::CaFileUnreadable | Fix::UnknownIssuer => {
                &fields::TRUSTED_CA_FILE
            }
            Fix::SetServiceCredentials
            | Fix::AccountCredentials(Account::Service)
            | Fix::KerberosBadUser
            | Fix::KerberosAccount(_)
            | Fix::CheckAccount => &fields::SERVICE_ACCOUNT_USER,
            Fix::SetNotificationCredentials | Fix::AccountCredentials(Account::Notification) => {
                &fields::NOTIFICATION_ACCOUNT_USER
            }
            Fix::SetMailbox | Fix::UnknownMailbox | Fix::MailboxOwner => {
                &fields::NOTIFICATION_MAILBOX
            }
            Fix::ProxyUnreachable => &fields::PROXY_HOST,
            Fix::ProxyCredentials | Fix::ProxySignIn => &fields::PROXY_USER,
            Fix::ProxyAuthScheme => &fields::PROXY_AUTHENTICATION_METHOD,
            Fix::SchemeUseKerberos | Fix::SchemeOther | Fix::BasicOverHttp => {
                &fields::AUTHENTICATION_METHOD
            }
            Fix::NoFailoverPeer => &fields::CAS_FAILOVER,
            Fix::PublishAutodiscover | Fix::CheckEwsUrl => &fields::EWS_URL,
            Fix::KerberosNoRealm => &fields::KERBEROS_REALM,
            Fix::KerberosNoKdc { .. } => &fields::KERBEROS_KDC_ADDRESS,
            Fix::KerberosAddress | Fix::KerberosUnknownSpn { .. } => &fields::KERBEROS_SPN,
            Fix::MakeKerberosWork(inner) => return inner.setting(),
            _ => return None,
        })
    }
}

impl fmt::Display for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s: &str = match self {
            Fix::SetServer => "set ClientAccessServer (on-premises) or HostedServerAddress (hosted)",
            Fix::CaFileNotPem => "fix TrustedCaFile: it must be a PEM file of CA certificates",
            Fix::CaFileUnreadable => "fix TrustedCaFile: it must be a readable PEM file of CA certificates",
            Fix::SetServiceCredentials => "set ServiceAccount/User and store its password",
            Fix::SetNotificationCredentials => "set NotificationAccount/User and store its password",
            Fix::SetMailbox => "set NotificationAccount/Mailbox",
            Fix::StorePasswords => "store the account passwords",
            Fix::CompleteConfiguration => "complete the configuration (setup wizard, `config set`, `config set-password`)",
            Fix::DnsName => "check the server name, or that this machine's DNS servers know it",
            Fix::NameBehindProxy => "if the connection fails too, check the name",
            Fix::Refused => "check the server name and port; is IIS running and the firewall open on that port?",
            Fix::Firewall => "check firewalls between this machine and the server",
            Fix::SlowNetwork => "the server or the network is too slow or drops packets; check its load and any firewall, then retry",
            Fix::NetworkPath => "check the network path to the server and retry",
            Fix::ProxyUnreachable => "check Proxy/Host and Proxy/Port, and that the proxy is running",
            Fix::ProxyCredentials => "check Proxy/User and the stored proxy password",
            Fix::ProxyRefused => "ask the proxy's administrator to allow CONNECT to this server and port",
            Fix::ProxyMayReach => "check the server name and port, and that the proxy may reach it",
            Fix::ProxyAuthScheme => "set Proxy/AuthenticationMethod to Auto, or to a scheme the proxy offers",
            Fix::ProxySignIn => "check Proxy/User (DOMAIN\\user or user@domain) and Proxy/AuthenticationMethod; for Negotiate, the proxy's SPN HTTP/<proxy host> must exist in the domain",
            Fix::UnknownIssuer => "add the issuing CA certificate (PEM) to TrustedCaFile, or to this machine's trusted root store",
            Fix::NameMismatch => "use the name the certificate was issued for as ClientAccessServer, or reissue the certificate with this name",
            Fix::CertificateDates => "renew the server's certificate, and check both machines' clocks",
            Fix::NotTls => "this port serves plain HTTP; use the HTTPS port (443) or enable SSL on the site",
            Fix::TlsConfiguration => "check the server's TLS configuration",
            Fix::ServerAddress => "check the server address",
            Fix::PowerShellPathInvalid => "check the PowerShell path",
            Fix::Throttled503 => "wait and retry; if it persists, check the Exchange server's load and throttling policy",
            Fix::NotExchangeCas => "Exchange's endpoint is /PowerShell; check the server is an Exchange CAS",
            Fix::NotPowerShell => "check the server name and the path /PowerShell",
            Fix::AccountCredentials(a) => {
                return write!(
                    f,
                    "check {}'s user name (DOMAIN\\user or UPN) and re-enter its password",
                    a.path()
                )
            }
            Fix::SchemeUseKerberos => "this directory signs in with Kerberos, as a default Exchange does; set AuthenticationMethod to Auto or Kerberos (changing the server's authentication is not needed, and Microsoft does not support it on the front end)",
            Fix::SchemeOther => "set AuthenticationMethod to Auto, or to a scheme the server offers",
            Fix::NoSupportedScheme => "the connector signs in with Kerberos, Negotiate, NTLM, or Basic over HTTPS; check the virtual directory's authentication",
            Fix::HandshakeCut => "Kerberos and NTLM need one kept-alive connection from start to end: let the proxy or load balancer keep connections (or pin them)",
            Fix::Throttled => "the server is overloaded or throttling this account; retry later",
            Fix::CheckAccount => "check the account",
            Fix::BasicOverHttp => "use an https:// address, or set AuthenticationMethod to Auto, Kerberos, Negotiate or Ntlm (WinRM messages are then encrypted over HTTP)",
            Fix::NeedsHttps => "use an https:// address; WinRM over plain HTTP needs Kerberos, NTLM or Negotiate with message encryption",
            Fix::RemotePowerShell => "the account may not use remote PowerShell: Set-User <account> -RemotePowerShellEnabled $true",
            Fix::ServerMessage => "read the server's message; check the PowerShell virtual directory and the account's rights",
            Fix::PowerShellPath => "check that the path is Exchange's PowerShell virtual directory (/PowerShell)",
            Fix::RetryEventLog => "retry; if it persists, check the Exchange server's event log",
            Fix::RoleGroups { user, groups } => {
                return write!(f, "add {user} to: {}", groups.join(", "))
            }
            Fix::NoFailoverPeer => "CAS failover is on, but there is no other server to fail over to",
            Fix::UnknownMailbox => "check NotificationAccount/Mailbox: it must be the primary SMTP address of an existing mailbox",
            Fix::PublishAutodiscover => "publish Autodiscover for the mailbox's domain, or set ExchangeWebServiceURL",
            Fix::CheckEwsUrl => "check ExchangeWebServiceURL",
            Fix::MailboxOwner => "check that the notification account owns the mailbox and may use EWS",
            Fix::ActiveSyncDirectory => "check that the Microsoft-Server-ActiveSync virtual directory exists and is enabled",
            Fix::KerberosBadUser
            | Fix::KerberosNoRealm
            | Fix::KerberosAddress
            | Fix::KerberosNoKdc { .. }
            | Fix::KerberosAccount(_)
            | Fix::KerberosUnknownSpn { .. }
            | Fix::ClockKdc
            | Fix::ClockServer
            | Fix::KerberosSignInRefused { .. }
            | Fix::KerberosKdc
            | Fix::KerberosNoAes
            | Fix::KerberosProtocol => return f.write_str(&kerberos_text(self)),
            Fix::MakeKerberosWork(inner) => {
                return write!(f, "make Kerberos work, the server needs no change: {inner}")
            }
            Fix::Other(s) => s,
            Fix::Cloud(c) => return c.fmt(f),
        };
        f.write_str(s)
    }
}

/// The English text of a Kerberos fix: the Kerberos module's own words.
fn kerberos_text(fix: &Fix) -> String {
    match fix {
        Fix::KerberosBadUser => {
            "write the service account as user@corp.contoso.com or DOMAIN\\user".into()
        }
        Fix::KerberosNoRealm => "set Kerberos/Realm to the Active Directory DNS domain in capitals (e.g. CORP.CONTOSO.COM), or write the account as user@corp.contoso.com".into(),
        Fix::KerberosAddress => "use the Exchange server's FQDN instead of its address, or set Kerberos/ServicePrincipalName".into(),
        Fix::KerberosNoKdc { realm } => KerberosError::NoKdc {
            realm: realm.clone(),
            source_text: String::new(),
            tried: vec![],
        }
        .fix(),
        Fix::KerberosAccount(p) => KerberosError::Account {
            principal: String::new(),
            realm: String::new(),
            problem: *p,
        }
        .fix(),
        Fix::KerberosUnknownSpn { spn } => KerberosError::UnknownSpn {
            spn: spn.clone(),
            realm: String::new(),
        }
        .fix(),
        Fix::ClockKdc => "synchronize this machine's time with the domain (w32tm /resync, or NTP on Linux)".into(),
        Fix::ClockServer => "synchronize the Exchange server's time with the domain (w32tm /resync on the server), and check this machine's time too".into(),
        Fix::KerberosSignInRefused { spn, user, bound } => KerberosError::SignInRefused {
            server: String::new(),
            spn: spn.clone(),
            user: user.clone(),
            bound_to: bound.then(String::new),
        }
        .fix(),
        Fix::KerberosKdc => "ask the domain administrator; the domain controller's System event log names the reason".into(),
        Fix::KerberosNoAes => "enable AES for the account (msDS-SupportedEncryptionTypes = 0x18) and set its password once more".into(),
        Fix::KerberosProtocol => "check that nothing between this machine and the server rewrites HTTP headers; if it persists, send the log to support".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kerberos_fixes_say_what_the_kerberos_module_says() {
        let e = KerberosError::UnknownSpn {
            spn: "HTTP/mail.contoso.com".into(),
            realm: "CONTOSO.COM".into(),
        };
        assert_eq!(Fix::for_kerberos(&e).to_string(), e.fix());
        let e = KerberosError::Account {
            principal: "svc@CONTOSO.COM".into(),
            realm: "CONTOSO.COM".into(),
            problem: AccountProblem::LockedOut,
        };
        assert_eq!(Fix::for_kerberos(&e).to_string(), e.fix());
        assert_eq!(
            Fix::for_kerberos(&e).setting(),
            Some(&fields::SERVICE_ACCOUNT_USER)
        );
    }
}
