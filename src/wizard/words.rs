//! The wizard's words for what other modules report as data: the checks' findings and fixes
//! (`probe::Finding`, `probe::Fix`), the configuration validators' complaints
//! (`config::validate::ValueError`), setup's progress and failures (`setup::Detail`,
//! `setup::SetupError`, `secrets::SecretError`), an unreadable configuration, a lab that did not
//! start, the status home's sync requests and Remove (`setup::remove`), and where a setting
//! lives in the wizard ("Go to Server › Trusted CA file"). The CLI keeps the English `Display` of the same values; here
//! fixes speak of pages and fields instead of configuration elements, in the admin's
//! language. Parameters (names, addresses, numbers, and the English text of lower-level
//! errors) are shown as they are. Only text; no state, no I/O, never a password.

use crate::config::fields::{self, Field};
use crate::config::validate::ValueError;
use crate::exchange::auth::kerberos::AccountProblem;
use crate::probe::{Account, Finding, Fix, Gap};

use super::i18n::Lang;
use super::Step;

/// Where a configuration setting is edited in the wizard: its page, the id of its widget
/// (for the focus) and its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub step: Step,
    pub id: &'static str,
    pub label: &'static str,
}

/// The wizard's place for a configuration setting, if it has one.
pub fn place(field: &Field) -> Option<Place> {
    let p = |step, id, label| Some(Place { step, id, label });
    let f = field;
    if *f == fields::CLIENT_ACCESS_SERVER {
        p(Step::Server, "cas", "Client Access Server")
    } else if *f == fields::HOSTED_SERVER_ADDRESS {
        p(Step::Server, "hosted", "Hosted server address")
    } else if *f == fields::EWS_URL {
        p(Step::Server, "ews-url", "EWS URL (optional)")
    } else if *f == fields::TRUSTED_CA_FILE {
        p(Step::Server, "ca-file", "Trusted CA file (optional)")
    } else if *f == fields::PROXY_HOST {
        p(Step::Proxy, "proxy-host", "Proxy host")
    } else if *f == fields::PROXY_USER {
        p(Step::Proxy, "proxy-user", "Proxy user")
    } else if *f == fields::PROXY_AUTHENTICATION_METHOD {
        p(Step::Proxy, "proxy-auth-auto", "Authentication method")
    } else if *f == fields::SERVICE_ACCOUNT_USER {
        p(Step::ServiceAccount, "service-user", "Account")
    } else if *f == fields::AUTHENTICATION_METHOD {
        p(Step::ServiceAccount, "auth-auto", "Authentication method")
    } else if *f == fields::KERBEROS_REALM {
        p(
            Step::ServiceAccount,
            "kerberos-realm",
            "Kerberos realm (optional)",
        )
    } else if *f == fields::KERBEROS_KDC_ADDRESS {
        p(
            Step::ServiceAccount,
            "kerberos-kdc",
            "Domain controllers / KDC (optional)",
        )
    } else if *f == fields::KERBEROS_SPN {
        p(
            Step::ServiceAccount,
            "kerberos-spn",
            "Service principal name (optional)",
        )
    } else if *f == fields::NOTIFICATION_ACCOUNT_USER {
        p(Step::Notification, "notify-user", "Account")
    } else if *f == fields::NOTIFICATION_MAILBOX {
        p(
            Step::Notification,
            "notify-mailbox",
            "Mailbox (sender address)",
        )
    } else if *f == fields::CLOUD_TENANT_ID {
        p(Step::Compliance, "cloud-tenant", "Directory (tenant) ID")
    } else if *f == fields::CLOUD_APPLICATION_ID {
        p(Step::Compliance, "cloud-app", "Application (client) ID")
    } else if *f == fields::CLOUD_CREDENTIAL {
        p(Step::Compliance, "cred-certificate", "Sign-in with")
    } else if *f == fields::CAS_FAILOVER {
        p(
            Step::Options,
            "failover",
            "Fail over to other Client Access Servers when one does not answer",
        )
    } else {
        None
    }
}

/// The wizard's name for a configuration setting (its label where it has a field).
pub fn setting_label(f: &Field) -> &'static str {
    let table: [(&Field, &str); 30] = [
        (&fields::EXCHANGE_SERVER_TYPE, "Exchange server type"),
        (&fields::CLIENT_ACCESS_SERVER, "Client Access Server"),
        (&fields::HOSTED_SERVER_ADDRESS, "Hosted server address"),
        (&fields::EWS_URL, "EWS URL (optional)"),
        (&fields::TRUSTED_CA_FILE, "Trusted CA file (optional)"),
        (&fields::PROXY_ENABLED, "Use a proxy server"),
        (&fields::PROXY_HOST, "Proxy host"),
        (&fields::PROXY_PORT, "Port"),
        (
            &fields::PROXY_USE_CREDENTIALS,
            "The proxy requires a user name and password",
        ),
        (&fields::PROXY_USER, "Proxy user"),
        (
            &fields::PROXY_AUTHENTICATION_METHOD,
            "Proxy authentication method",
        ),
        (&fields::SERVICE_ACCOUNT_USER, "Service account"),
        (&fields::AUTHENTICATION_METHOD, "Authentication method"),
        (&fields::KERBEROS_REALM, "Kerberos realm (optional)"),
        (
            &fields::KERBEROS_KDC_ADDRESS,
            "Domain controllers / KDC (optional)",
        ),
        (&fields::KERBEROS_SPN, "Service principal name (optional)"),
        (&fields::NOTIFICATION_ACCOUNT_USER, "Notification account"),
        (&fields::NOTIFICATION_MAILBOX, "Notification mailbox"),
        (
            &fields::CAS_FAILOVER,
            "Fail over to other Client Access Servers when one does not answer",
        ),
        (
            &fields::PARALLEL_COMMANDS,
            "Run commands in parallel (faster for many devices)",
        ),
        (&fields::MAX_PARALLEL_RUNSPACES, "Parallel runspaces"),
        (&fields::QUICK_SYNC_INTERVAL, "Quick sync every (minutes)"),
        (&fields::FULL_SYNC_TIME, "Full sync daily at"),
        (&fields::LOG_LEVEL, "Log level"),
        (&fields::CLOUD_TENANT_ID, "Directory (tenant) ID"),
        (&fields::CLOUD_APPLICATION_ID, "Application (client) ID"),
        (&fields::CLOUD_CREDENTIAL, "Sign-in with"),
        (&fields::CLOUD_AUTHORITY, "Entra ID sign-in address"),
        (&fields::CLOUD_GRAPH_URL, "Microsoft Graph address"),
        (
            &fields::CLOUD_CERTIFICATE_THUMBPRINT,
            "Certificate thumbprint",
        ),
    ];
    table
        .iter()
        .find(|(k, _)| *k == f)
        .map(|(_, v)| *v)
        .unwrap_or(f.path)
}

/// A setting's value for people: yes/no for switches, a dash for nothing.
pub fn setting_value(l: Lang, v: &str) -> String {
    match v {
        "" => "—".to_string(),
        "true" => l.t("yes").to_string(),
        "false" => l.t("no").to_string(),
        v => v.to_string(),
    }
}

/// "Server › Trusted CA file (optional)" in the admin's language.
pub fn place_text(l: Lang, p: &Place) -> String {
    format!("{} › {}", p.step.title(l), l.t(p.label))
}

fn list(items: &[String]) -> String {
    items.join(", ")
}

/// A check's detail.
pub fn finding(l: Lang, f: &Finding) -> String {
    match f {
        Finding::ConfigComplete { url } => l.f("complete; {}", &[url]),
        Finding::ConfigIncomplete { gaps } => gaps
            .iter()
            .map(|g| gap(l, g))
            .collect::<Vec<_>>()
            .join("; "),
        Finding::NoServer => l.t("no Exchange server is configured").into(),
        Finding::NoServiceCredentials => l.t("no service account credentials").into(),
        Finding::NoNotificationCredentials => {
            l.t("no notification account credentials").into()
        }
        Finding::NoMailbox => l.t("no notification mailbox").into(),
        Finding::NoCredentials => l.t("no credentials").into(),
        Finding::DnsIsAddress { host } => l.f("{} is an IP address", &[host]),
        Finding::DnsResolved { host, addresses } => format!("{host} → {}", list(addresses)),
        Finding::DnsBehindProxy { error } => l.f(
            "{}; the proxy resolves names itself, so this may be fine",
            &[error],
        ),
        Finding::ProxyNotUsed => l.t("not used (no proxy is set)").into(),
        Finding::ProxyConnected { proxy, target } => {
            l.f("{} accepted CONNECT to {}", &[proxy, target])
        }
        Finding::ProxyAccepted { proxy } => {
            l.f("{} accepted the request and credentials", &[proxy])
        }
        Finding::TcpConnected {
            peer,
            through_proxy,
            ms,
        } => {
            let ms = ms.to_string();
            if *through_proxy {
                l.f("connected to {} through the proxy in {} ms", &[peer, &ms])
            } else {
                l.f("connected to {} in {} ms", &[peer, &ms])
            }
        }
        Finding::ProxyCouldNotConnect {
            proxy,
            target,
            status,
        } => l.f(
            "the proxy {} could not connect to {} (HTTP {})",
            &[proxy, target, &status.to_string()],
        ),
        Finding::TlsTrusted { http, certificate } => {
            let mut s = http_prefix(l, http);
            s.push_str(l.t("trusted"));
            if let Some(c) = certificate {
                s.push_str("; ");
                s.push_str(c);
            }
            s
        }
        Finding::TlsFailed {
            http,
            error,
            certificate,
        } => {
            let mut s = http_prefix(l, http);
            s.push_str(error);
            if let Some(c) = certificate {
                s.push_str(&l.f("; the server's certificate: {}", &[c]));
            }
            s
        }
        Finding::AsksForAuthentication { url, schemes } => {
            l.f("{} asks for authentication: {}", &[url, &list(schemes)])
        }
        Finding::Http503 { server } => l.f(
            "{} answers HTTP 503: the server is throttling requests or overloaded",
            &[server],
        ),
        Finding::Http404 { server, path } => l.f(
            "{} answers HTTP 404: there is no PowerShell virtual directory at {}",
            &[server, path],
        ),
        Finding::NotPowerShell { url, status } => l.f(
            "{} answers HTTP {} instead of asking for authentication; it does not look like Exchange's PowerShell endpoint",
            &[url, &status.to_string()],
        ),
        Finding::SchemeNotOffered {
            url,
            scheme,
            offered,
        } => l.f(
            "{}: the server does not accept {} (it offers {})",
            &[url, scheme, &list(offered)],
        ),
        Finding::KerberosOnly {
            url,
            offered,
            kerberos,
        } => l.f(
            "{}: the server accepts Kerberos only (it offers {}), and Kerberos could not be used: {}",
            &[url, &list(offered), kerberos],
        ),
        Finding::SignedIn {
            user,
            mechanism,
            to,
            kerberos_not_used,
        } => {
            use crate::probe::finding::SignedInTo;
            let mut s = match to {
                SignedInTo::PowerShell => l.f("{} signed in with {}", &[user, mechanism]),
                SignedInTo::EwsMailbox => l.f(
                    "{} signed in with {} to EWS and opened the mailbox",
                    &[user, mechanism],
                ),
                SignedInTo::EwsTestMail { to } => l.f(
                    "{} signed in with {} to EWS and sent a test mail to {}",
                    &[user, mechanism, to],
                ),
            };
            if let Some(k) = kerberos_not_used {
                s.push_str(&l.f("; Kerberos was not used: {}", &[k]));
            }
            s
        }
        Finding::RunspaceOpened { configuration } => {
            l.f("opened a runspace in {}", &[configuration])
        }
        Finding::CmdletsAvailable { count, user } => l.f(
            "all {} required cmdlets are available to {}",
            &[&count.to_string(), user],
        ),
        Finding::CmdletsMissing { user, missing } => {
            let items: Vec<String> = missing.iter().map(|(c, g)| format!("{c} ({g})")).collect();
            l.f(
                "{} may not run {} required cmdlet(s): {}",
                &[user, &missing.len().to_string(), &list(&items)],
            )
        }
        Finding::Servers {
            count,
            version,
            names,
        } => l.f(
            "{} Client Access Server(s), {}: {}",
            &[&count.to_string(), version, &list(names)],
        ),
        Finding::EwsUrlSet { url } => l.f("the EWS URL is set ({}); Autodiscover is not used", &[url]),
        Finding::Discovered { email, url, via } => format!("{email} → {url} ({via})"),
        Finding::ActiveSync { version, protocols } => l.f(
            "ActiveSync {} offers protocol versions {}",
            &[version, &list(protocols)],
        ),
        Finding::Timeout { secs } => l.f("no answer within {} s", &[&secs.to_string()]),
        Finding::SkippedAfter { number, title } => l.f(
            "skipped: {}. {} failed",
            &[&number.to_string(), l.t(title)],
        ),
        Finding::Error { text } => text.clone(),
        Finding::CloudNotConfigured => l
            .t("no Intune source: the Compliance source page has the access policy file only")
            .to_string(),
        Finding::IntuneRead {
            devices,
            with_eas,
            more_pages,
            graph,
        } => {
            let mut s = l.f(
                "signed in to Entra ID; {} returned {} managed devices on the first page ({} with an ActiveSync id)",
                &[graph, &devices.to_string(), &with_eas.to_string()],
            );
            if *more_pages {
                s.push_str(l.t(", more pages follow"));
            }
            s
        }
    }
}

fn http_prefix(l: Lang, h: &Option<crate::probe::finding::HttpPowerShell>) -> String {
    h.as_ref()
        .map(|h| {
            l.f(
                "PowerShell uses {} (messages sealed); HTTPS for EWS and ActiveSync at {}: ",
                &[&h.url, &h.https],
            )
        })
        .unwrap_or_default()
}

/// Something missing from the configuration (check 1).
pub fn gap(l: Lang, g: &Gap) -> String {
    match g {
        Gap::Field(s) | Gap::Connection(s) => s.clone(),
        Gap::NoServicePassword => l.t("no service account password is stored").into(),
        Gap::NoNotificationPassword => l.t("no notification account password is stored").into(),
        Gap::NoProxyPassword => l.t("no proxy password is stored").into(),
        Gap::NoServerAddress => l.t("no usable Exchange server address").into(),
    }
}

/// A fix, in the wizard's words.
pub fn fix(l: Lang, f: &Fix) -> String {
    let s: &'static str = match f {
        Fix::SetServer => "enter the Exchange server's address on the Server page",
        Fix::CaFileNotPem => "choose a PEM file of CA certificates as the trusted CA file, or clear the field",
        Fix::CaFileUnreadable => "choose a readable PEM file of CA certificates as the trusted CA file, or clear the field",
        Fix::SetServiceCredentials => "enter the service account's user name and password",
        Fix::SetNotificationCredentials => "enter the notification account's user name and password",
        Fix::SetMailbox => "enter the notification mailbox",
        Fix::StorePasswords => "enter the accounts' passwords",
        Fix::CompleteConfiguration => "complete the pages named above",
        Fix::DnsName => "check the server name, or that this computer's DNS servers know it",
        Fix::NameBehindProxy => "if the connection fails too, check the server name",
        Fix::Refused => "check the server name and port; is IIS running and the firewall open on that port?",
        Fix::Firewall => "check the firewalls between this computer and the server",
        Fix::SlowNetwork => "the server or the network is too slow or drops packets; check its load and any firewall, then retry",
        Fix::NetworkPath => "check the network path to the server and retry",
        Fix::ProxyUnreachable => "check the proxy host and port, and that the proxy is running",
        Fix::ProxyCredentials => "check the proxy user and retype the proxy password",
        Fix::ProxyRefused => "ask the proxy's administrator to allow CONNECT to this server and port",
        Fix::ProxyMayReach => "check the server name and port, and that the proxy may reach it",
        Fix::ProxyAuthScheme => "allow the sign-in methods the proxy offers: eas-connector config set Proxy/AuthenticationMethod Auto",
        Fix::ProxySignIn => "check the proxy user (DOMAIN\\user or user@domain) and the proxy's sign-in method; for Negotiate, the proxy's name HTTP/<proxy host> must be registered in the domain",
        Fix::UnknownIssuer => "choose the issuing CA certificate (PEM) as the trusted CA file, or add it to this computer's trusted root store",
        Fix::NameMismatch => "enter the name the certificate was issued for as the server, or reissue the certificate with this name",
        Fix::CertificateDates => "renew the server's certificate, and check both computers' clocks",
        Fix::NotTls => "this port serves plain HTTP; use the HTTPS port (443) or enable SSL on the site",
        Fix::TlsConfiguration => "check the server's TLS configuration",
        Fix::ServerAddress => "check the server address",
        Fix::PowerShellPathInvalid | Fix::PowerShellPath => "check that the address leads to Exchange's PowerShell virtual directory (/PowerShell)",
        Fix::Throttled503 => "wait and retry; if it persists, check the Exchange server's load and throttling policy",
        Fix::NotExchangeCas => "Exchange's endpoint is /PowerShell; check that the server is an Exchange Client Access Server",
        Fix::NotPowerShell => "check the server name and the path /PowerShell",
        Fix::AccountCredentials(Account::Service) => "check the service account's user name (DOMAIN\\user or UPN) and retype its password",
        Fix::AccountCredentials(Account::Notification) => "check the notification account's user name (DOMAIN\\user or UPN) and retype its password",
        Fix::SchemeUseKerberos => "this server signs in with Kerberos, as a default Exchange does: choose Automatic or Kerberos as the authentication method (the server needs no change)",
        Fix::SchemeOther => "choose Automatic as the authentication method, or a method the server offers",
        Fix::NoSupportedScheme => "the connector signs in with Kerberos, Negotiate, NTLM, or Basic over HTTPS; check the virtual directory's authentication",
        Fix::HandshakeCut => "Kerberos and NTLM need one kept-alive connection from start to end: let the proxy or load balancer keep connections (or pin them)",
        Fix::Throttled => "the server is overloaded or throttling this account; retry later",
        Fix::CheckAccount => "check the service account",
        Fix::BasicOverHttp => "use an https:// address, or choose Automatic, Kerberos, Negotiate or NTLM as the authentication method",
        Fix::NeedsHttps => "use an https:// address; PowerShell over plain HTTP needs Kerberos, NTLM or Negotiate with message encryption",
        Fix::RemotePowerShell => "the account may not use remote PowerShell: run Set-User <account> -RemotePowerShellEnabled $true",
        Fix::ServerMessage => "read the server's message; check the PowerShell virtual directory and the account's rights",
        Fix::RetryEventLog => "retry; if it persists, check the Exchange server's event log",
        Fix::RoleGroups { user, groups } => {
            return l.f("add {} to these role groups: {}", &[user, &list(groups)])
        }
        Fix::NoFailoverPeer => "failover is on, but there is no other Client Access Server to fail over to; turn it off or add a server",
        Fix::UnknownMailbox => "enter the primary SMTP address of an existing mailbox as the notification mailbox",
        Fix::PublishAutodiscover => "publish Autodiscover for the mailbox's domain, or enter the EWS URL on the Server page",
        Fix::CheckEwsUrl => "check the EWS URL",
        Fix::MailboxOwner => "check that the notification account owns the mailbox and may use EWS",
        Fix::ActiveSyncDirectory => "check that the Microsoft-Server-ActiveSync virtual directory exists and is enabled",
        Fix::KerberosBadUser => "write the service account as user@corp.contoso.com or DOMAIN\\user",
        Fix::KerberosNoRealm => "enter the Kerberos realm (the Active Directory DNS domain in capitals, e.g. CORP.CONTOSO.COM), or write the account as user@corp.contoso.com",
        Fix::KerberosAddress => "use the Exchange server's name (FQDN) instead of its address, or enter the service principal name",
        Fix::KerberosNoKdc { realm } => {
            return l.f(
                "check the domain controllers (KDC) field, the DNS SRV record _kerberos._tcp.{}, and that TCP port 88 to the domain controllers is open from this computer",
                &[&realm.to_ascii_lowercase()],
            )
        }
        Fix::KerberosAccount(p) => match p {
            AccountProblem::WrongPassword => "retype the account's current password; the connector stops retrying so it does not lock the account out",
            AccountProblem::LockedOut => "unlock the account in Active Directory Users and Computers (or Unlock-ADAccount), then check that no other program uses an old password",
            AccountProblem::Disabled => "enable the account in Active Directory",
            AccountProblem::AccountExpired => "extend the account's expiry date in Active Directory",
            AccountProblem::PasswordExpired => "set a new password for the account (and \"password never expires\" for a service account), then type it here",
            AccountProblem::LogonRestricted => "allow the account's logon hours and workstations in Active Directory",
            AccountProblem::Revoked => "check the account in Active Directory (enabled, not locked out, not expired)",
            AccountProblem::Unknown => "check the user name and the realm (an account in another domain needs the Kerberos realm set to that domain)",
        },
        Fix::KerberosUnknownSpn { spn } => {
            return l.f(
                "Kerberos needs the Exchange server's real name (not an alias or an address): use it in the server address, or enter the service principal name of the account that serves this name (setspn -Q {} shows who has it)",
                &[spn],
            )
        }
        Fix::ClockKdc => "synchronize this computer's time with the domain (w32tm /resync, or NTP on Linux)",
        Fix::ClockServer => "synchronize the Exchange server's time with the domain (w32tm /resync on the server), and check this computer's time too",
        Fix::KerberosSignInRefused { spn, user, bound } => {
            let mut s = l.f(
                "check that {} is registered on the account the server runs as (setspn -Q {}) and that {} may use remote PowerShell",
                &[spn, spn, user],
            );
            if *bound {
                s.push_str(l.t("; if a load balancer or TLS inspection re-encrypts with another certificate, Extended Protection refuses the sign-in: let TLS end on Exchange"));
            }
            return s;
        }
        Fix::KerberosKdc => "ask the domain administrator; the domain controller's System event log names the reason",
        Fix::KerberosNoAes => "enable AES for the account (msDS-SupportedEncryptionTypes = 0x18) and set its password once more",
        Fix::KerberosProtocol => "check that nothing between this computer and the server rewrites HTTP headers; if it persists, send the log to support",
        Fix::MakeKerberosWork(inner) => {
            return l.f("make Kerberos work (the server needs no change): {}", &[&fix(l, inner)])
        }
        Fix::Other(s) => return s.clone(),
        Fix::Cloud(c) => {
            use crate::probe::finding::CloudFix;
            match c {
                CloudFix::Identity => "check the Directory (tenant) ID and the Application (client) ID on the Compliance source page, as the app registration's Overview shows them",
                CloudFix::Credential => "choose the app's certificate file, or type its client secret's Value, on the Compliance source page",
                CloudFix::CertificateNotUploaded => "upload the certificate's public part (.cer) to the app registration under Certificates & secrets › Certificates",
                CloudFix::Consent => "in the app registration's API permissions add Microsoft Graph › Application › DeviceManagementManagedDevices.Read.All and click “Grant admin consent”",
                CloudFix::Clock => "synchronize this computer's clock (NTP): Entra ID refuses sign-ins outside their valid time",
                CloudFix::Proxy => "let this computer reach login.microsoftonline.com and graph.microsoft.com, through the proxy (Proxy page) when it has no direct internet access; a TLS-inspecting proxy's CA goes in the trusted CA file (Server page)",
                CloudFix::Addresses => "check Cloud/Authority and Cloud/GraphUrl (national clouds have their own): eas-connector config set",
                CloudFix::Retry => "Microsoft Graph is throttling or unavailable: test again later",
            }
        }
    };
    l.t(s).to_string()
}

/// Why no Kerberos principal can be made for an account, in the admin's language.
pub fn name_error(l: Lang, e: &crate::wire::kerberos::names::NameError) -> String {
    use crate::wire::kerberos::names::NameError;
    match e {
        NameError::BadUser { user } => {
            l.f("'{}' is not a user name Kerberos can use", &[user])
        }
        NameError::NoRealm { user, server } => l.f(
            "no Kerberos realm is known for '{}': the account is DOMAIN\\user (a NetBIOS name, not a realm) and the server '{}' has no DNS domain",
            &[user, server],
        ),
        NameError::AddressWithoutName { server } => l.f(
            "Kerberos needs the Exchange server's name, but '{}' is an IP address",
            &[server],
        ),
    }
}

/// A configuration validator's complaint about a value, in the admin's language.
pub fn value_error(l: Lang, e: &ValueError) -> String {
    use crate::config::validate::shown;
    let v = |s: &str| shown(s);
    match e {
        ValueError::OrgName(x) => l.f("'{}' is not a usable organization name; use 1-64 letters, digits, '-', '_' or '.'", &[&v(x)]),
        ValueError::HostTooLong(x) => l.f("'{}' is longer than the 253 characters a host name may have", &[&v(x)]),
        ValueError::HostName(x) => l.f("'{}' is not a valid host name: each dot-separated part must be 1-63 letters, digits or '-', not starting or ending with '-'", &[&v(x)]),
        ValueError::NotFullyQualified(x) => l.f("'{}' is not fully qualified; enter the full name, e.g. {}.contoso.com", &[&v(x), &v(x)]),
        ValueError::Port { port, value } => l.f("'{}' in '{}' is not a port number; use 1-65535", &[&v(port), &v(value)]),
        ValueError::UnclosedBracket(x) => l.f("'{}' opens '[' for an IPv6 address but never closes it", &[&v(x)]),
        ValueError::Ipv6(x) => l.f("'{}' is not an IPv6 address", &[&v(x)]),
        ValueError::AfterAddress { after, value } => l.f("unexpected '{}' after the address in '{}'", &[&v(after), &v(value)]),
        ValueError::Url { value, reason, example } => l.f("'{}' is not a valid URL ({}); use e.g. {}", &[&v(value), &reason.to_string(), example]),
        ValueError::Scheme { value, rule } => l.f("'{}' must {}", &[&v(value), l.t(rule)]),
        ValueError::UserInUrl(x) => l.f("'{}' carries a user name; remove it (the service account is set on its own page)", &[&v(x)]),
        ValueError::NoHost(x) => l.f("'{}' has no server name", &[&v(x)]),
        ValueError::NeitherNameNorUrl(x) => l.f("'{}' is neither a server name nor a URL; enter e.g. cas01.contoso.com or http://cas01.contoso.com/PowerShell/", &[&v(x)]),
        ValueError::EmptyEntry { value, what, example } => l.f("'{}' has an empty entry; separate {} with commas, e.g. {}", &[&v(value), l.t(what), example]),
        ValueError::Realm(x) => l.f("'{}' is not a Kerberos realm; use the Active Directory DNS domain in capitals, e.g. CORP.CONTOSO.COM (not the NetBIOS name)", &[&v(x)]),
        ValueError::ServicePrincipalName(x) => l.f("'{}' is not a service principal name; use HTTP/<name clients connect to>, e.g. HTTP/mail.contoso.com", &[&v(x)]),
        ValueError::AccountDomain { domain, value } => l.f("'{}' in '{}' is not a valid domain name; use DOMAIN\\user or user@domain.com", &[&v(domain), &v(value)]),
        ValueError::AccountUser { user, value } => l.f("'{}' in '{}' is not a valid user name; use DOMAIN\\user or user@domain.com", &[&v(user), &v(value)]),
        ValueError::UserPrincipalName(x) => l.f("'{}' is not a valid user principal name; use DOMAIN\\user or user@domain.com", &[&v(x)]),
        ValueError::NoDomain(x) => l.f("'{}' names no domain; use DOMAIN\\user or user@domain.com", &[&v(x)]),
        ValueError::ProxyUser(x) => l.f("'{}' is not a valid proxy user name (no spaces or ':')", &[&v(x)]),
        ValueError::Mailbox(x) => l.f("'{}' is not an email address; use e.g. notifications@contoso.com", &[&v(x)]),
        ValueError::TimeOfDay(x) => l.f("'{}' is not a time of day; use HH:MM, 24-hour, e.g. 02:00", &[&v(x)]),
        ValueError::NotBool(x) => l.f("'{}' is not true or false", &[&v(x)]),
        ValueError::NotNumber { value, min, max, unit } => l.f("'{}' is not a whole number; use {}-{}{}", &[&v(value), &min.to_string(), &max.to_string(), l.t(unit)]),
        ValueError::OutOfRange { n, min, max, unit } => l.f("{} is out of range; use {}-{}{}", &[&n.to_string(), &min.to_string(), &max.to_string(), l.t(unit)]),
        ValueError::NotOneOf { value, what, choices } => l.f("'{}' is not {}; use {}", &[&v(value), l.t(what), choices]),
        ValueError::ControlCharacter { value, character } => l.f("'{}' contains a control character ({}); type the value on one line, without line breaks, tabs or escape characters", &[&v(value), &character.escape_default().to_string()]),
        ValueError::Tenant(x) => l.f("'{}' is not a tenant; use the directory (tenant) ID, a GUID from the Entra admin center's Overview page, or a verified domain such as contoso.onmicrosoft.com", &[&v(x)]),
        ValueError::Guid(x) => l.f("'{}' is not an application (client) ID; copy the GUID from the app registration's Overview page, e.g. 11111111-2222-3333-4444-555555555555", &[&v(x)]),
        ValueError::Thumbprint(x) => l.f("'{}' is not a certificate thumbprint; use the 40 hex digits of its SHA-1", &[&v(x)]),
        other => other.to_string(),
    }
}

/// A service's state as the service manager reports it.
pub fn service_state(l: Lang, s: &crate::service::manager::ServiceState) -> String {
    use crate::service::manager::ServiceState;
    match s {
        ServiceState::NotInstalled => l.t("not registered").to_string(),
        ServiceState::Stopped => l.t("stopped").to_string(),
        ServiceState::Starting => l.t("starting").to_string(),
        ServiceState::Running => l.t("running").to_string(),
        ServiceState::Stopping => l.t("stopping").to_string(),
        ServiceState::Failed(why) => l.f("failed ({})", &[why]),
    }
}

/// Where passwords are kept, in the admin's language.
pub fn backend(l: Lang, b: &crate::secrets::Backend) -> String {
    use crate::secrets::Backend;
    match b {
        Backend::OsVault(name) => l.f("{} (the operating system's encrypted store)", &[name]),
        Backend::Systemd(dir) => l.f(
            "systemd credentials in {} (encrypted with this machine's key; only root and the service can read them)",
            &[&dir.display().to_string()],
        ),
        Backend::File(p) => l.f(
            "file {} (NOT encrypted; only its owner can read it)",
            &[&p.display().to_string()],
        ),
    }
}

/// What a setup step did (or what undoing it did), for the Apply page.
pub fn setup_detail(l: Lang, d: &crate::setup::Detail) -> String {
    use crate::setup::Detail;
    match d {
        Detail::ChecksPassed { ms } => l.f("all checks passed in {} ms", &[&ms.to_string()]),
        Detail::ChecksFailed => l.t("one or more checks failed").to_string(),
        Detail::Stopped { service } => l.f("stopped {}", &[service]),
        Detail::Wrote { path } => l.f("wrote {}", &[&path.display().to_string()]),
        Detail::PasswordsStored {
            count,
            certificate: false,
            store,
        } => l.f(
            "{} password(s) in {}",
            &[&count.to_string(), &backend(l, store)],
        ),
        Detail::PasswordsStored {
            count,
            certificate: true,
            store,
        } => l.f(
            "{} password(s) and the cloud certificate in {}",
            &[&count.to_string(), &backend(l, store)],
        ),
        Detail::Registered { service, manager } => {
            l.f("registered {} with {}", &[service, manager])
        }
        Detail::StartedService { service, state } => {
            format!("{service}: {}", service_state(l, state))
        }
        Detail::RestartedPrevious => l.t("started the previous service again").to_string(),
        Detail::RestoredConfig => l.t("restored the previous configuration").to_string(),
        Detail::ConfigNotRestored => l
            .t("could not restore the previous configuration; see the .bak file")
            .to_string(),
        Detail::RestoredPasswords => l.t("restored the previous passwords").to_string(),
        Detail::RemovedService => l.t("removed the new service").to_string(),
        // The error itself, worded, stands at the top of the page.
        Detail::Error(_) => l
            .t("failed: what happened and what to do is above")
            .to_string(),
    }
}

/// Why setting up failed, in the admin's language: what happened and what to do. Everything
/// was undone. The English text of lower-level errors (the file system's, the service
/// manager's, the password store's) is shown as it is.
pub fn setup_error(l: Lang, e: &crate::setup::SetupError) -> String {
    use crate::service::manager::ServiceError;
    use crate::setup::SetupError;
    let undone = l.t("everything done before was undone");
    match e {
        SetupError::Config(c) => l.f("The configuration could not be written: {}", &[&c.to_string()]),
        SetupError::Field { field, problem } => {
            let name = fields::find(field)
                .and_then(place)
                .map(|p| place_text(l, &p))
                .unwrap_or_else(|| field.to_string());
            format!("{name}: {}", value_error(l, problem))
        }
        SetupError::Validation(report) => {
            let failed: Vec<String> = report
                .checks
                .iter()
                .filter(|c| c.status == crate::probe::Status::Failed)
                .map(|c| format!("{}. {}: {}", c.number, l.t(c.title), finding(l, &c.finding)))
                .collect();
            l.f(
                "Validation failed ({}); nothing was changed. Go back to Connect and fix what failed.",
                &[&failed.join("; ")],
            )
        }
        SetupError::Secrets { step, source } => l.f(
            "{}: {}; {}.",
            &[l.t(step.label()), &secret_error(l, source), undone],
        ),
        SetupError::Service {
            step,
            source: ServiceError::NotElevated { .. },
            ..
        } => l.f(
            "{}: this needs administrator rights (root on Linux); {}. Restart the setup as administrator, or untick “Register and start the service” on the Summary page to write the configuration only.",
            &[l.t(step.label()), undone],
        ),
        SetupError::Service {
            step,
            source: ServiceError::Unavailable(detail),
            ..
        } => l.f(
            "{}: no service manager is available here ({}); {}. Untick “Register and start the service” on the Summary page to write the configuration only.",
            &[l.t(step.label()), detail, undone],
        ),
        SetupError::Service {
            step,
            source: ServiceError::Failed { detail, service, .. },
            ..
        } => l.f(
            "{}: the service manager refused for {} ({}); {}. See the system log for the service, or untick “Register and start the service” on the Summary page to write the configuration only.",
            &[l.t(step.label()), service, detail, undone],
        ),
        SetupError::Incomplete(problems) => l.f(
            "The configuration is incomplete: {}. Fill in the pages named.",
            &[&problems.join("; ")],
        ),
    }
}

/// Why the password store could not be used, and what to do. The store's and the system's
/// own words are kept as they are.
pub fn secret_error(l: Lang, e: &crate::secrets::SecretError) -> String {
    use crate::secrets::{SecretError, STORE_ENV};
    match e {
        SecretError::Vault { store, what, reason } => l.f(
            "the {} could not be used for the {}: {}",
            &[store, what, reason],
        ),
        SecretError::File { path, action, reason } => l.f(
            "the passwords file {} could not be {}: {}",
            &[&path.display().to_string(), action, reason],
        ),
        SecretError::FileTooOpen { path, mode } => l.f(
            "the passwords file {} can be read by other users (mode {}); run `chmod 600 {}` and make it owned by the service's user",
            &[&path.display().to_string(), &format!("{mode:o}"), &path.display().to_string()],
        ),
        SecretError::BadPreference(v) => l.f(
            "{}='{}' is not a password store; use auto, systemd, secret-service (or os) or file",
            &[STORE_ENV, v],
        ),
        SecretError::Unreachable { store, reason, .. } => l.f(
            "the {} could not be used ({}); start or unlock it and try again (nothing was switched to another store)",
            &[store, reason],
        ),
        SecretError::Busy(lock) => l.f(
            "the passwords were not changed because another program is changing them ({}); try again when it has finished",
            &[&lock.to_string()],
        ),
        SecretError::FileUnsupported(why) => l.f(
            "the passwords file is for Linux only, and here the system's password store must work ({})",
            &[why],
        ),
        SecretError::SystemdUnsupported => l.f(
            "systemd credentials exist on Linux only; choose another store with {} (auto, os)",
            &[STORE_ENV],
        ),
    }
}

/// Why the service did not take "Sync now".
pub fn sync_request_error(l: Lang, e: &super::effects::SyncRequestError) -> String {
    use super::effects::SyncRequestError;
    match e {
        SyncRequestError::Refused(why) => l.f("The service did not start the sync: {}", &[why]),
        SyncRequestError::Unexpected(what) => l.f(
            "The service gave an answer that is not one to a sync request ({}): install the same version of the connector and its service.",
            &[what],
        ),
        SyncRequestError::Unreachable(why) => l.f(
            "The service could not be reached ({}). Refresh, or see `eas-connector status`.",
            &[why],
        ),
    }
}

/// Why the app's certificate file cannot be used, and what to do.
pub fn import_error(l: Lang, e: &crate::cloud::ImportError) -> String {
    use crate::cloud::ImportError;
    let p = |p: &std::path::Path| p.display().to_string();
    match e {
        ImportError::Read { path, source } => l.f("{} could not be read ({}); check the path and that this account may read it", &[&p(path), &source.to_string()]),
        ImportError::NoCertificate { path } => l.f("{} holds no certificate; choose a PEM file with the certificate and its private key, or a PFX (.pfx/.p12)", &[&p(path)]),
        ImportError::NoKey { path } => l.f("{} holds no private key; put the certificate's private key in the same PEM file, or export a PFX with its private key", &[&p(path)]),
        ImportError::EncryptedPem { path } => l.f("{}'s private key is encrypted; export it unencrypted into a PEM only you can read, or choose the PFX and type its password", &[&p(path)]),
        ImportError::Pfx { path, reason } => l.f("{} could not be opened as a PFX ({}); type its password below if it has one, else check the file is a PKCS#12 export", &[&p(path), reason]),
        ImportError::NotRsa { path } => l.f("{}'s private key is not an RSA key; Entra ID sign-ins here need an RSA certificate (e.g. New-SelfSignedCertificate -KeyAlgorithm RSA -KeyLength 2048)", &[&p(path)]),
        ImportError::Mismatch { path } => l.f("{}'s private key does not belong to its certificate; export the certificate together with its own key", &[&p(path)]),
        ImportError::BadCertificate { path, reason } => l.f("{}'s certificate could not be read: {}; export it again as a PFX with its private key, or as PEM (certificate and key)", &[&p(path), reason]),
        ImportError::Expired { path, not_after } => l.f("{}'s certificate expired on {}; create a new one, upload it to the app registration and choose it here", &[&p(path), &not_after.strftime("%Y-%m-%d").to_string()]),
    }
}

/// Why the Compliance source page's Test did not run.
pub fn test_error(l: Lang, e: &super::effects::TestError) -> String {
    use super::effects::TestError;
    match e {
        TestError::Settings(why) => l.f(
            "The test could not run: {}. Correct the pages before this one.",
            &[why],
        ),
    }
}

/// What Remove would delete, one line each, then what is kept (the confirmation).
pub fn removal_lines(l: Lang, r: &crate::setup::remove::Removal) -> (Vec<String>, String) {
    let mut gone = Vec::new();
    if let Some(s) = &r.service {
        gone.push(l.f("the service {}, stopped and unregistered", &[s]));
    }
    // Lock files (".x.lock") go too, but say nothing to the admin.
    let shown: Vec<&str> = r
        .folder
        .iter()
        .flat_map(|f| f.entries.iter())
        .filter(|e| !e.starts_with('.'))
        .map(String::as_str)
        .collect();
    match &r.folder {
        Some(f) if !shown.is_empty() => gone.push(l.f(
            "the folder {} with everything in it: {}",
            &[&f.dir.display().to_string(), &shown.join(", ")],
        )),
        Some(f) => gone.push(l.f("the empty folder {}", &[&f.dir.display().to_string()])),
        None => {}
    }
    gone.push(match r.vault {
        Some(v) => l.f("the organization's passwords, from {} too", &[v]),
        None => l.t("the organization's passwords").to_string(),
    });
    let kept = l.t("Kept: Exchange as it is (devices keep the access state the connector gave them), this program, and the other organizations. This cannot be undone.").to_string();
    (gone, kept)
}

/// What Remove did.
pub fn removed(l: Lang, r: &crate::setup::remove::Removed) -> String {
    let mut parts = Vec::new();
    if let Some(s) = &r.service {
        parts.push(l.f("service {}", &[s]));
    }
    if let Some(f) = &r.folder {
        parts.push(l.f("folder {}", &[&f.display().to_string()]));
    }
    if !r.passwords.from_vault.is_empty() {
        let labels: Vec<&str> = r
            .passwords
            .from_vault
            .iter()
            .map(|k| l.t(k.label()))
            .collect();
        parts.push(l.f("passwords: {}", &[&labels.join(", ")]));
    }
    let mut s = l.f(
        "The connector was removed ({}). Exchange was not changed.",
        &[&parts.join("; ")],
    );
    if let Some(why) = &r.passwords.vault_skipped {
        s.push(' ');
        s.push_str(&l.f("The system's password store was not searched: {}", &[why]));
    }
    s
}

/// Why Remove did not (fully) work, and what to do.
pub fn remove_error(l: Lang, e: &crate::setup::remove::RemoveError) -> String {
    use crate::service::manager::ServiceError;
    use crate::setup::remove::RemoveError;
    match e {
        RemoveError::Service(ServiceError::NotElevated { .. }) => l.t("Nothing was removed: removing the service needs administrator rights (root on Linux). Start the setup as administrator and Remove again, or run `eas-connector service uninstall` then `eas-connector config purge` as administrator.").to_string(),
        RemoveError::Service(other) => l.f("Nothing was removed: the service could not be removed ({}). Run `eas-connector service uninstall` as administrator to see more.", &[&other.to_string()]),
        RemoveError::Secrets(why) => l.f("The service was removed, but the passwords could not be deleted ({}); the folder was kept. Run `eas-connector config purge` to try again.", &[why]),
        RemoveError::Folder(why) => l.f("The folder could not be deleted ({}). Run `eas-connector config purge` to try again.", &[why]),
    }
}

/// Why the organization's configuration cannot be read (Welcome), and the way out.
pub fn unreadable(l: Lang, u: &super::effects::Unreadable) -> String {
    use super::effects::Unreadable;
    match u {
        Unreadable::Malformed { path, detail } => l.f(
            "The configuration {} cannot be read ({}). It was left untouched: Replace writes a new one and keeps this one as .bak, or correct it by hand.",
            &[&path.display().to_string(), detail],
        ),
        Unreadable::Invalid { path, problems } => {
            let list: Vec<String> = problems
                .iter()
                .map(|p| {
                    let name = fields::find(&p.field)
                        .map(|f| l.t(setting_label(f)).to_string())
                        .unwrap_or_else(|| p.field.clone());
                    match p.line {
                        Some(n) => l.f("{} (line {}): {}", &[&name, &n.to_string(), &p.problem]),
                        None => format!("{name}: {}", p.problem),
                    }
                })
                .collect();
            l.f(
                "The configuration {} has settings that cannot be used: {}. Reconfigure is not possible: Replace writes a new one and keeps this one as .bak, or correct it by hand.",
                &[&path.display().to_string(), &list.join("; ")],
            )
        }
        Unreadable::Other(detail) => l.f(
            "The configuration cannot be read: {}. Replace writes a new one, or correct the cause and open the wizard again.",
            &[detail],
        ),
    }
}

/// Why the lab demonstration did not start, and what to do.
pub fn lab_start_error(l: Lang, e: &super::effects::LabStartError) -> String {
    use super::effects::LabStartError;
    match e {
        LabStartError::Folder { path, reason } => l.f(
            "The lab could not start: its folder {} could not be created ({}). Check the free space and permissions of the temporary folder, then try again.",
            &[&path.display().to_string(), reason],
        ),
        LabStartError::Lab(e) => l.f(
            "The lab could not start: {}. Try again; `eas-connector lab` in a terminal shows more.",
            &[&e.to_string()],
        ),
    }
}

/// (English, Dutch, French) for the strings above; merged into the wizard's catalog.
pub const STRINGS: &[(&str, &str, &str)] = &[
    ("complete; {}", "volledig; {}", "complète ; {}"),
    ("no Exchange server is configured", "er is geen Exchange-server ingesteld", "aucun serveur Exchange n’est configuré"),
    ("no service account credentials", "geen gegevens voor het serviceaccount", "aucun identifiant pour le compte de service"),
    ("no notification account credentials", "geen gegevens voor het meldingsaccount", "aucun identifiant pour le compte de notification"),
    ("no notification mailbox", "geen meldingspostvak", "aucune boîte aux lettres de notification"),
    ("no credentials", "geen aanmeldgegevens", "aucun identifiant"),
    ("{} is an IP address", "{} is een IP-adres", "{} est une adresse IP"),
    ("{}; the proxy resolves names itself, so this may be fine", "{}; de proxy zoekt namen zelf op, dus dit kan kloppen", "{} ; le proxy résout lui-même les noms, ce n’est donc peut-être pas grave"),
    ("not used (no proxy is set)", "niet gebruikt (geen proxy ingesteld)", "non utilisé (aucun proxy défini)"),
    ("{} accepted CONNECT to {}", "{} accepteerde CONNECT naar {}", "{} a accepté CONNECT vers {}"),
    ("{} accepted the request and credentials", "{} accepteerde het verzoek en de aanmeldgegevens", "{} a accepté la requête et les identifiants"),
    ("connected to {} through the proxy in {} ms", "verbonden met {} via de proxy in {} ms", "connecté à {} via le proxy en {} ms"),
    ("connected to {} in {} ms", "verbonden met {} in {} ms", "connecté à {} en {} ms"),
    ("the proxy {} could not connect to {} (HTTP {})", "de proxy {} kon geen verbinding maken met {} (HTTP {})", "le proxy {} n’a pas pu se connecter à {} (HTTP {})"),
    ("trusted", "vertrouwd", "approuvé"),
    ("; the server's certificate: {}", "; certificaat van de server: {}", " ; certificat du serveur : {}"),
    ("{} asks for authentication: {}", "{} vraagt om aanmelding: {}", "{} demande une authentification : {}"),
    ("{} answers HTTP 503: the server is throttling requests or overloaded", "{} antwoordt HTTP 503: de server beperkt verzoeken of is overbelast", "{} répond HTTP 503 : le serveur limite les requêtes ou est surchargé"),
    ("{} answers HTTP 404: there is no PowerShell virtual directory at {}", "{} antwoordt HTTP 404: er is geen virtuele PowerShell-map op {}", "{} répond HTTP 404 : il n’y a pas de répertoire virtuel PowerShell à {}"),
    ("{} answers HTTP {} instead of asking for authentication; it does not look like Exchange's PowerShell endpoint", "{} antwoordt HTTP {} in plaats van om aanmelding te vragen; dit lijkt niet op het PowerShell-eindpunt van Exchange", "{} répond HTTP {} au lieu de demander une authentification ; cela ne ressemble pas au point de terminaison PowerShell d’Exchange"),
    ("{}: the server does not accept {} (it offers {})", "{}: de server accepteert {} niet (hij biedt {})", "{} : le serveur n’accepte pas {} (il propose {})"),
    ("{}: the server accepts Kerberos only (it offers {}), and Kerberos could not be used: {}", "{}: de server accepteert alleen Kerberos (hij biedt {}), en Kerberos kon niet worden gebruikt: {}", "{} : le serveur n’accepte que Kerberos (il propose {}), et Kerberos n’a pas pu être utilisé : {}"),
    ("{} signed in with {}", "{} aangemeld met {}", "{} connecté avec {}"),
    ("{} signed in with {} to EWS and opened the mailbox", "{} aangemeld met {} bij EWS en het postvak geopend", "{} connecté avec {} à EWS, boîte aux lettres ouverte"),
    ("{} signed in with {} to EWS and sent a test mail to {}", "{} aangemeld met {} bij EWS en een testbericht gestuurd naar {}", "{} connecté avec {} à EWS, message de test envoyé à {}"),
    ("; Kerberos was not used: {}", "; Kerberos is niet gebruikt: {}", " ; Kerberos n’a pas été utilisé : {}"),
    ("opened a runspace in {}", "runspace geopend in {}", "runspace ouvert dans {}"),
    ("all {} required cmdlets are available to {}", "alle {} vereiste cmdlets zijn beschikbaar voor {}", "les {} cmdlets requises sont toutes disponibles pour {}"),
    ("{} may not run {} required cmdlet(s): {}", "{} mag {} vereiste cmdlet(s) niet uitvoeren: {}", "{} ne peut pas exécuter {} cmdlet(s) requise(s) : {}"),
    ("{} Client Access Server(s), {}: {}", "{} Client Access Server(s), {}: {}", "{} serveur(s) d’accès au client, {} : {}"),
    ("the EWS URL is set ({}); Autodiscover is not used", "de EWS-URL is ingesteld ({}); Autodiscover wordt niet gebruikt", "l’URL EWS est définie ({}) ; la découverte automatique n’est pas utilisée"),
    ("ActiveSync {} offers protocol versions {}", "ActiveSync {} biedt protocolversies {}", "ActiveSync {} propose les versions de protocole {}"),
    ("no answer within {} s", "geen antwoord binnen {} s", "pas de réponse en {} s"),
    ("skipped: {}. {} failed", "overgeslagen: {}. {} mislukt", "ignoré : {}. {} a échoué"),
    ("PowerShell uses {} (messages sealed); HTTPS for EWS and ActiveSync at {}: ", "PowerShell gebruikt {} (berichten versleuteld); HTTPS voor EWS en ActiveSync op {}: ", "PowerShell utilise {} (messages chiffrés) ; HTTPS pour EWS et ActiveSync sur {} : "),
    ("no service account password is stored", "er is geen wachtwoord voor het serviceaccount opgeslagen", "aucun mot de passe n’est enregistré pour le compte de service"),
    ("no notification account password is stored", "er is geen wachtwoord voor het meldingsaccount opgeslagen", "aucun mot de passe n’est enregistré pour le compte de notification"),
    ("no proxy password is stored", "er is geen proxywachtwoord opgeslagen", "aucun mot de passe de proxy n’est enregistré"),
    ("no usable Exchange server address", "geen bruikbaar Exchange-serveradres", "aucune adresse de serveur Exchange utilisable"),
    ("enter the Exchange server's address on the Server page", "vul het adres van de Exchange-server in op de pagina Server", "saisissez l’adresse du serveur Exchange sur la page Serveur"),
    ("choose a PEM file of CA certificates as the trusted CA file, or clear the field", "kies een PEM-bestand met CA-certificaten als vertrouwd CA-bestand, of maak het veld leeg", "choisissez un fichier PEM de certificats d’AC comme fichier d’AC de confiance, ou videz le champ"),
    ("choose a readable PEM file of CA certificates as the trusted CA file, or clear the field", "kies een leesbaar PEM-bestand met CA-certificaten als vertrouwd CA-bestand, of maak het veld leeg", "choisissez un fichier PEM lisible de certificats d’AC comme fichier d’AC de confiance, ou videz le champ"),
    ("enter the service account's user name and password", "vul gebruikersnaam en wachtwoord van het serviceaccount in", "saisissez le nom d’utilisateur et le mot de passe du compte de service"),
    ("enter the notification account's user name and password", "vul gebruikersnaam en wachtwoord van het meldingsaccount in", "saisissez le nom d’utilisateur et le mot de passe du compte de notification"),
    ("enter the notification mailbox", "vul het meldingspostvak in", "saisissez la boîte aux lettres de notification"),
    ("enter the accounts' passwords", "vul de wachtwoorden van de accounts in", "saisissez les mots de passe des comptes"),
    ("complete the pages named above", "vul de hierboven genoemde pagina’s aan", "complétez les pages indiquées ci-dessus"),
    ("check the server name, or that this computer's DNS servers know it", "controleer de servernaam, of dat de DNS-servers van deze computer hem kennen", "vérifiez le nom du serveur, ou que les serveurs DNS de cet ordinateur le connaissent"),
    ("if the connection fails too, check the server name", "als de verbinding ook mislukt, controleer dan de servernaam", "si la connexion échoue aussi, vérifiez le nom du serveur"),
    ("check the server name and port; is IIS running and the firewall open on that port?", "controleer servernaam en poort; draait IIS en staat de firewall die poort open?", "vérifiez le nom du serveur et le port ; IIS tourne-t-il et le pare-feu est-il ouvert sur ce port ?"),
    ("check the firewalls between this computer and the server", "controleer de firewalls tussen deze computer en de server", "vérifiez les pare-feu entre cet ordinateur et le serveur"),
    ("the server or the network is too slow or drops packets; check its load and any firewall, then retry", "de server of het netwerk is te traag of verliest pakketten; controleer de belasting en eventuele firewalls en probeer opnieuw", "le serveur ou le réseau est trop lent ou perd des paquets ; vérifiez sa charge et les pare-feu, puis réessayez"),
    ("check the network path to the server and retry", "controleer de netwerkverbinding naar de server en probeer opnieuw", "vérifiez le chemin réseau vers le serveur et réessayez"),
    ("check the proxy host and port, and that the proxy is running", "controleer proxyhost en poort, en of de proxy draait", "vérifiez l’hôte et le port du proxy, et que le proxy fonctionne"),
    ("allow the sign-in methods the proxy offers: eas-connector config set Proxy/AuthenticationMethod Auto", "sta de aanmeldmethoden toe die de proxy aanbiedt: eas-connector config set Proxy/AuthenticationMethod Auto", "autorisez les méthodes de connexion que le proxy propose : eas-connector config set Proxy/AuthenticationMethod Auto"),
    ("check the proxy user (DOMAIN\\user or user@domain) and the proxy's sign-in method; for Negotiate, the proxy's name HTTP/<proxy host> must be registered in the domain", "controleer de proxygebruiker (DOMEIN\\gebruiker of gebruiker@domein) en de aanmeldmethode van de proxy; voor Negotiate moet de naam HTTP/<proxyhost> van de proxy in het domein geregistreerd zijn", "vérifiez l’utilisateur du proxy (DOMAINE\\utilisateur ou utilisateur@domaine) et la méthode de connexion du proxy ; pour Negotiate, le nom HTTP/<hôte du proxy> doit être enregistré dans le domaine"),
    ("check the proxy user and retype the proxy password", "controleer de proxygebruiker en typ het proxywachtwoord opnieuw", "vérifiez l’utilisateur du proxy et retapez le mot de passe du proxy"),
    ("ask the proxy's administrator to allow CONNECT to this server and port", "vraag de beheerder van de proxy CONNECT naar deze server en poort toe te staan", "demandez à l’administrateur du proxy d’autoriser CONNECT vers ce serveur et ce port"),
    ("check the server name and port, and that the proxy may reach it", "controleer servernaam en poort, en of de proxy de server mag bereiken", "vérifiez le nom du serveur et le port, et que le proxy peut l’atteindre"),
    ("choose the issuing CA certificate (PEM) as the trusted CA file, or add it to this computer's trusted root store", "kies het certificaat van de uitgevende CA (PEM) als vertrouwd CA-bestand, of voeg het toe aan het vertrouwde basisarchief van deze computer", "choisissez le certificat de l’AC émettrice (PEM) comme fichier d’AC de confiance, ou ajoutez-le au magasin racine de confiance de cet ordinateur"),
    ("enter the name the certificate was issued for as the server, or reissue the certificate with this name", "vul als server de naam in waarvoor het certificaat is uitgegeven, of geef het certificaat opnieuw uit met deze naam", "saisissez comme serveur le nom pour lequel le certificat a été émis, ou réémettez le certificat avec ce nom"),
    ("renew the server's certificate, and check both computers' clocks", "vernieuw het certificaat van de server en controleer de klokken van beide computers", "renouvelez le certificat du serveur et vérifiez l’horloge des deux ordinateurs"),
    ("this port serves plain HTTP; use the HTTPS port (443) or enable SSL on the site", "deze poort spreekt gewoon HTTP; gebruik de HTTPS-poort (443) of zet SSL aan op de site", "ce port sert du HTTP simple ; utilisez le port HTTPS (443) ou activez SSL sur le site"),
    ("check the server's TLS configuration", "controleer de TLS-instellingen van de server", "vérifiez la configuration TLS du serveur"),
    ("check the server address", "controleer het serveradres", "vérifiez l’adresse du serveur"),
    ("check that the address leads to Exchange's PowerShell virtual directory (/PowerShell)", "controleer dat het adres naar de virtuele PowerShell-map van Exchange leidt (/PowerShell)", "vérifiez que l’adresse mène au répertoire virtuel PowerShell d’Exchange (/PowerShell)"),
    ("wait and retry; if it persists, check the Exchange server's load and throttling policy", "wacht en probeer opnieuw; blijft het, controleer dan de belasting en het beperkingsbeleid van de Exchange-server", "patientez et réessayez ; si cela persiste, vérifiez la charge et la stratégie de limitation du serveur Exchange"),
    ("Exchange's endpoint is /PowerShell; check that the server is an Exchange Client Access Server", "het eindpunt van Exchange is /PowerShell; controleer dat de server een Exchange Client Access Server is", "le point de terminaison d’Exchange est /PowerShell ; vérifiez que le serveur est un serveur d’accès au client Exchange"),
    ("check the server name and the path /PowerShell", "controleer de servernaam en het pad /PowerShell", "vérifiez le nom du serveur et le chemin /PowerShell"),
    ("check the service account's user name (DOMAIN\\user or UPN) and retype its password", "controleer de gebruikersnaam van het serviceaccount (DOMEIN\\gebruiker of UPN) en typ het wachtwoord opnieuw", "vérifiez le nom d’utilisateur du compte de service (DOMAINE\\utilisateur ou UPN) et retapez son mot de passe"),
    ("check the notification account's user name (DOMAIN\\user or UPN) and retype its password", "controleer de gebruikersnaam van het meldingsaccount (DOMEIN\\gebruiker of UPN) en typ het wachtwoord opnieuw", "vérifiez le nom d’utilisateur du compte de notification (DOMAINE\\utilisateur ou UPN) et retapez son mot de passe"),
    ("this server signs in with Kerberos, as a default Exchange does: choose Automatic or Kerberos as the authentication method (the server needs no change)", "deze server meldt aan met Kerberos, zoals een standaard-Exchange: kies Automatisch of Kerberos als aanmeldmethode (de server hoeft niet te veranderen)", "ce serveur authentifie par Kerberos, comme un Exchange par défaut : choisissez Automatique ou Kerberos comme méthode d’authentification (rien à changer sur le serveur)"),
    ("choose Automatic as the authentication method, or a method the server offers", "kies Automatisch als aanmeldmethode, of een methode die de server biedt", "choisissez Automatique comme méthode d’authentification, ou une méthode proposée par le serveur"),
    ("the connector signs in with Kerberos, Negotiate, NTLM, or Basic over HTTPS; check the virtual directory's authentication", "de connector meldt aan met Kerberos, Negotiate, NTLM, of Basic via HTTPS; controleer de verificatie van de virtuele map", "le connecteur s’authentifie par Kerberos, Negotiate, NTLM ou Basic sur HTTPS ; vérifiez l’authentification du répertoire virtuel"),
    ("Kerberos and NTLM need one kept-alive connection from start to end: let the proxy or load balancer keep connections (or pin them)", "Kerberos en NTLM hebben van begin tot eind één open verbinding nodig: laat de proxy of load balancer verbindingen openhouden (of vastpinnen)", "Kerberos et NTLM exigent une seule connexion maintenue du début à la fin : faites conserver (ou épingler) les connexions par le proxy ou l’équilibreur de charge"),
    ("the server is overloaded or throttling this account; retry later", "de server is overbelast of beperkt dit account; probeer het later opnieuw", "le serveur est surchargé ou limite ce compte ; réessayez plus tard"),
    ("check the service account", "controleer het serviceaccount", "vérifiez le compte de service"),
    ("use an https:// address, or choose Automatic, Kerberos, Negotiate or NTLM as the authentication method", "gebruik een https://-adres, of kies Automatisch, Kerberos, Negotiate of NTLM als aanmeldmethode", "utilisez une adresse https://, ou choisissez Automatique, Kerberos, Negotiate ou NTLM comme méthode d’authentification"),
    ("use an https:// address; PowerShell over plain HTTP needs Kerberos, NTLM or Negotiate with message encryption", "gebruik een https://-adres; PowerShell via gewoon HTTP vereist Kerberos, NTLM of Negotiate met berichtversleuteling", "utilisez une adresse https:// ; PowerShell en HTTP simple exige Kerberos, NTLM ou Negotiate avec chiffrement des messages"),
    ("the account may not use remote PowerShell: run Set-User <account> -RemotePowerShellEnabled $true", "het account mag geen externe PowerShell gebruiken: voer Set-User <account> -RemotePowerShellEnabled $true uit", "le compte ne peut pas utiliser PowerShell à distance : exécutez Set-User <compte> -RemotePowerShellEnabled $true"),
    ("read the server's message; check the PowerShell virtual directory and the account's rights", "lees de melding van de server; controleer de virtuele PowerShell-map en de rechten van het account", "lisez le message du serveur ; vérifiez le répertoire virtuel PowerShell et les droits du compte"),
    ("retry; if it persists, check the Exchange server's event log", "probeer opnieuw; blijft het, bekijk dan het gebeurtenislogboek van de Exchange-server", "réessayez ; si cela persiste, consultez le journal des événements du serveur Exchange"),
    ("add {} to these role groups: {}", "voeg {} toe aan deze rolgroepen: {}", "ajoutez {} à ces groupes de rôles : {}"),
    ("failover is on, but there is no other Client Access Server to fail over to; turn it off or add a server", "failover staat aan, maar er is geen andere Client Access Server om naar over te schakelen; zet het uit of voeg een server toe", "le basculement est activé, mais il n’y a aucun autre serveur d’accès au client vers lequel basculer ; désactivez-le ou ajoutez un serveur"),
    ("enter the primary SMTP address of an existing mailbox as the notification mailbox", "vul als meldingspostvak het primaire SMTP-adres van een bestaand postvak in", "saisissez comme boîte de notification l’adresse SMTP principale d’une boîte aux lettres existante"),
    ("publish Autodiscover for the mailbox's domain, or enter the EWS URL on the Server page", "publiceer Autodiscover voor het domein van het postvak, of vul de EWS-URL in op de pagina Server", "publiez la découverte automatique pour le domaine de la boîte aux lettres, ou saisissez l’URL EWS sur la page Serveur"),
    ("check the EWS URL", "controleer de EWS-URL", "vérifiez l’URL EWS"),
    ("check that the notification account owns the mailbox and may use EWS", "controleer dat het meldingsaccount eigenaar is van het postvak en EWS mag gebruiken", "vérifiez que le compte de notification possède la boîte aux lettres et peut utiliser EWS"),
    ("check that the Microsoft-Server-ActiveSync virtual directory exists and is enabled", "controleer dat de virtuele map Microsoft-Server-ActiveSync bestaat en aan staat", "vérifiez que le répertoire virtuel Microsoft-Server-ActiveSync existe et est activé"),
    ("write the service account as user@corp.contoso.com or DOMAIN\\user", "schrijf het serviceaccount als gebruiker@corp.contoso.com of DOMEIN\\gebruiker", "écrivez le compte de service sous la forme utilisateur@corp.contoso.com ou DOMAINE\\utilisateur"),
    ("enter the Kerberos realm (the Active Directory DNS domain in capitals, e.g. CORP.CONTOSO.COM), or write the account as user@corp.contoso.com", "vul de Kerberos-realm in (het DNS-domein van Active Directory in hoofdletters, bijv. CORP.CONTOSO.COM), of schrijf het account als gebruiker@corp.contoso.com", "saisissez le domaine Kerberos (le domaine DNS Active Directory en majuscules, p. ex. CORP.CONTOSO.COM), ou écrivez le compte sous la forme utilisateur@corp.contoso.com"),
    ("use the Exchange server's name (FQDN) instead of its address, or enter the service principal name", "gebruik de naam (FQDN) van de Exchange-server in plaats van het adres, of vul de service principal name in", "utilisez le nom (FQDN) du serveur Exchange au lieu de son adresse, ou saisissez le nom principal de service"),
    ("check the domain controllers (KDC) field, the DNS SRV record _kerberos._tcp.{}, and that TCP port 88 to the domain controllers is open from this computer", "controleer het veld domeincontrollers (KDC), de DNS-SRV-record _kerberos._tcp.{}, en dat TCP-poort 88 naar de domeincontrollers openstaat vanaf deze computer", "vérifiez le champ contrôleurs de domaine (KDC), l’enregistrement DNS SRV _kerberos._tcp.{}, et que le port TCP 88 vers les contrôleurs de domaine est ouvert depuis cet ordinateur"),
    ("retype the account's current password; the connector stops retrying so it does not lock the account out", "typ het huidige wachtwoord van het account opnieuw; de connector probeert niet verder, zodat het account niet wordt geblokkeerd", "retapez le mot de passe actuel du compte ; le connecteur cesse de réessayer pour ne pas verrouiller le compte"),
    ("unlock the account in Active Directory Users and Computers (or Unlock-ADAccount), then check that no other program uses an old password", "ontgrendel het account in Active Directory: gebruikers en computers (of Unlock-ADAccount) en controleer dat geen ander programma een oud wachtwoord gebruikt", "déverrouillez le compte dans Utilisateurs et ordinateurs Active Directory (ou Unlock-ADAccount), puis vérifiez qu’aucun autre programme n’utilise un ancien mot de passe"),
    ("enable the account in Active Directory", "schakel het account in Active Directory in", "activez le compte dans Active Directory"),
    ("extend the account's expiry date in Active Directory", "verleng de vervaldatum van het account in Active Directory", "prolongez la date d’expiration du compte dans Active Directory"),
    ("set a new password for the account (and \"password never expires\" for a service account), then type it here", "stel een nieuw wachtwoord in voor het account (en \"wachtwoord verloopt nooit\" voor een serviceaccount) en typ het hier", "définissez un nouveau mot de passe pour le compte (et « le mot de passe n’expire jamais » pour un compte de service), puis tapez-le ici"),
    ("allow the account's logon hours and workstations in Active Directory", "sta de aanmeldtijden en werkstations van het account toe in Active Directory", "autorisez les heures et postes de connexion du compte dans Active Directory"),
    ("check the account in Active Directory (enabled, not locked out, not expired)", "controleer het account in Active Directory (ingeschakeld, niet geblokkeerd, niet verlopen)", "vérifiez le compte dans Active Directory (activé, non verrouillé, non expiré)"),
    ("check the user name and the realm (an account in another domain needs the Kerberos realm set to that domain)", "controleer de gebruikersnaam en de realm (een account in een ander domein heeft die domeinnaam als Kerberos-realm nodig)", "vérifiez le nom d’utilisateur et le domaine (un compte d’un autre domaine exige ce domaine comme domaine Kerberos)"),
    ("Kerberos needs the Exchange server's real name (not an alias or an address): use it in the server address, or enter the service principal name of the account that serves this name (setspn -Q {} shows who has it)", "Kerberos heeft de echte naam van de Exchange-server nodig (geen alias of adres): gebruik die in het serveradres, of vul de service principal name in van het account dat deze naam bedient (setspn -Q {} toont wie hem heeft)", "Kerberos a besoin du vrai nom du serveur Exchange (pas d’un alias ni d’une adresse) : utilisez-le dans l’adresse du serveur, ou saisissez le nom principal de service du compte qui sert ce nom (setspn -Q {} indique qui le détient)"),
    ("synchronize this computer's time with the domain (w32tm /resync, or NTP on Linux)", "synchroniseer de tijd van deze computer met het domein (w32tm /resync, of NTP op Linux)", "synchronisez l’heure de cet ordinateur avec le domaine (w32tm /resync, ou NTP sous Linux)"),
    ("synchronize the Exchange server's time with the domain (w32tm /resync on the server), and check this computer's time too", "synchroniseer de tijd van de Exchange-server met het domein (w32tm /resync op de server) en controleer ook de tijd van deze computer", "synchronisez l’heure du serveur Exchange avec le domaine (w32tm /resync sur le serveur), et vérifiez aussi l’heure de cet ordinateur"),
    ("check that {} is registered on the account the server runs as (setspn -Q {}) and that {} may use remote PowerShell", "controleer dat {} geregistreerd is op het account waaronder de server draait (setspn -Q {}) en dat {} externe PowerShell mag gebruiken", "vérifiez que {} est enregistré sur le compte sous lequel tourne le serveur (setspn -Q {}) et que {} peut utiliser PowerShell à distance"),
    ("; if a load balancer or TLS inspection re-encrypts with another certificate, Extended Protection refuses the sign-in: let TLS end on Exchange", "; als een load balancer of TLS-inspectie opnieuw versleutelt met een ander certificaat, weigert Extended Protection de aanmelding: laat TLS op Exchange eindigen", " ; si un équilibreur de charge ou une inspection TLS rechiffre avec un autre certificat, la protection étendue refuse la connexion : laissez TLS se terminer sur Exchange"),
    ("ask the domain administrator; the domain controller's System event log names the reason", "vraag het de domeinbeheerder; het systeemlogboek van de domeincontroller noemt de reden", "demandez à l’administrateur du domaine ; le journal Système du contrôleur de domaine en donne la raison"),
    ("enable AES for the account (msDS-SupportedEncryptionTypes = 0x18) and set its password once more", "schakel AES in voor het account (msDS-SupportedEncryptionTypes = 0x18) en stel het wachtwoord nogmaals in", "activez AES pour le compte (msDS-SupportedEncryptionTypes = 0x18) et redéfinissez son mot de passe"),
    ("check that nothing between this computer and the server rewrites HTTP headers; if it persists, send the log to support", "controleer dat niets tussen deze computer en de server HTTP-headers herschrijft; blijft het, stuur dan het logboek naar support", "vérifiez que rien entre cet ordinateur et le serveur ne réécrit les en-têtes HTTP ; si cela persiste, envoyez le journal au support"),
    ("make Kerberos work (the server needs no change): {}", "laat Kerberos werken (de server hoeft niet te veranderen): {}", "faites fonctionner Kerberos (rien à changer sur le serveur) : {}"),
    ("'{}' is not a usable organization name; use 1-64 letters, digits, '-', '_' or '.'", "'{}' is geen bruikbare organisatienaam; gebruik 1-64 letters, cijfers, '-', '_' of '.'", "« {} » n’est pas un nom d’organisation utilisable ; utilisez 1 à 64 lettres, chiffres, « - », « _ » ou « . »"),
    ("'{}' is longer than the 253 characters a host name may have", "'{}' is langer dan de 253 tekens die een hostnaam mag hebben", "« {} » dépasse les 253 caractères permis pour un nom d’hôte"),
    ("'{}' is not a valid host name: each dot-separated part must be 1-63 letters, digits or '-', not starting or ending with '-'", "'{}' is geen geldige hostnaam: elk deel tussen punten moet 1-63 letters, cijfers of '-' zijn, niet beginnend of eindigend op '-'", "« {} » n’est pas un nom d’hôte valide : chaque partie entre points doit compter 1 à 63 lettres, chiffres ou « - », sans commencer ni finir par « - »"),
    ("'{}' is not fully qualified; enter the full name, e.g. {}.contoso.com", "'{}' is geen volledige naam; vul de volledige naam in, bijv. {}.contoso.com", "« {} » n’est pas un nom complet ; saisissez le nom complet, p. ex. {}.contoso.com"),
    ("'{}' in '{}' is not a port number; use 1-65535", "'{}' in '{}' is geen poortnummer; gebruik 1-65535", "« {} » dans « {} » n’est pas un numéro de port ; utilisez 1-65535"),
    ("'{}' opens '[' for an IPv6 address but never closes it", "'{}' opent '[' voor een IPv6-adres maar sluit het nooit", "« {} » ouvre « [ » pour une adresse IPv6 sans jamais le fermer"),
    ("'{}' is not an IPv6 address", "'{}' is geen IPv6-adres", "« {} » n’est pas une adresse IPv6"),
    ("unexpected '{}' after the address in '{}'", "onverwacht '{}' na het adres in '{}'", "« {} » inattendu après l’adresse dans « {} »"),
    ("'{}' is not a valid URL ({}); use e.g. {}", "'{}' is geen geldige URL ({}); gebruik bijv. {}", "« {} » n’est pas une URL valide ({}) ; utilisez p. ex. {}"),
    ("'{}' must {}", "'{}' moet: {}", "« {} » doit : {}"),
    ("start with http:// or https://, e.g. http://cas01.contoso.com/PowerShell/", "beginnen met http:// of https://, bijv. http://cas01.contoso.com/PowerShell/", "commencer par http:// ou https://, p. ex. http://cas01.contoso.com/PowerShell/"),
    ("use https:// (or http:// with NTLM/Negotiate message encryption)", "https:// gebruiken (of http:// met NTLM/Negotiate-berichtversleuteling)", "utiliser https:// (ou http:// avec chiffrement des messages NTLM/Negotiate)"),
    ("use https:// (EWS credentials must not travel unencrypted)", "https:// gebruiken (EWS-aanmeldgegevens mogen niet onversleuteld over het netwerk)", "utiliser https:// (les identifiants EWS ne doivent pas circuler en clair)"),
    ("'{}' carries a user name; remove it (the service account is set on its own page)", "'{}' bevat een gebruikersnaam; haal die weg (het serviceaccount heeft een eigen pagina)", "« {} » contient un nom d’utilisateur ; retirez-le (le compte de service a sa propre page)"),
    ("'{}' has no server name", "'{}' heeft geen servernaam", "« {} » n’a pas de nom de serveur"),
    ("'{}' is neither a server name nor a URL; enter e.g. cas01.contoso.com or http://cas01.contoso.com/PowerShell/", "'{}' is geen servernaam en geen URL; vul bijv. cas01.contoso.com of http://cas01.contoso.com/PowerShell/ in", "« {} » n’est ni un nom de serveur ni une URL ; saisissez p. ex. cas01.contoso.com ou http://cas01.contoso.com/PowerShell/"),
    ("'{}' has an empty entry; separate {} with commas, e.g. {}", "'{}' bevat een lege waarde; scheid {} met komma’s, bijv. {}", "« {} » contient une entrée vide ; séparez les {} par des virgules, p. ex. {}"),
    ("Client Access Servers", "Client Access Servers", "serveurs d’accès au client"),
    ("domain controllers", "domeincontrollers", "contrôleurs de domaine"),
    ("'{}' is not a Kerberos realm; use the Active Directory DNS domain in capitals, e.g. CORP.CONTOSO.COM (not the NetBIOS name)", "'{}' is geen Kerberos-realm; gebruik het DNS-domein van Active Directory in hoofdletters, bijv. CORP.CONTOSO.COM (niet de NetBIOS-naam)", "« {} » n’est pas un domaine Kerberos ; utilisez le domaine DNS Active Directory en majuscules, p. ex. CORP.CONTOSO.COM (pas le nom NetBIOS)"),
    ("'{}' is not a service principal name; use HTTP/<name clients connect to>, e.g. HTTP/mail.contoso.com", "'{}' is geen service principal name; gebruik HTTP/<naam waarmee clients verbinden>, bijv. HTTP/mail.contoso.com", "« {} » n’est pas un nom principal de service ; utilisez HTTP/<nom utilisé par les clients>, p. ex. HTTP/mail.contoso.com"),
    ("'{}' in '{}' is not a valid domain name; use DOMAIN\\user or user@domain.com", "'{}' in '{}' is geen geldige domeinnaam; gebruik DOMEIN\\gebruiker of gebruiker@domein.com", "« {} » dans « {} » n’est pas un nom de domaine valide ; utilisez DOMAINE\\utilisateur ou utilisateur@domaine.com"),
    ("'{}' in '{}' is not a valid user name; use DOMAIN\\user or user@domain.com", "'{}' in '{}' is geen geldige gebruikersnaam; gebruik DOMEIN\\gebruiker of gebruiker@domein.com", "« {} » dans « {} » n’est pas un nom d’utilisateur valide ; utilisez DOMAINE\\utilisateur ou utilisateur@domaine.com"),
    ("'{}' is not a valid user principal name; use DOMAIN\\user or user@domain.com", "'{}' is geen geldige user principal name; gebruik DOMEIN\\gebruiker of gebruiker@domein.com", "« {} » n’est pas un nom d’utilisateur principal valide ; utilisez DOMAINE\\utilisateur ou utilisateur@domaine.com"),
    ("'{}' names no domain; use DOMAIN\\user or user@domain.com", "'{}' noemt geen domein; gebruik DOMEIN\\gebruiker of gebruiker@domein.com", "« {} » ne nomme aucun domaine ; utilisez DOMAINE\\utilisateur ou utilisateur@domaine.com"),
    ("'{}' is not a valid proxy user name (no spaces or ':')", "'{}' is geen geldige proxygebruiker (geen spaties of ':')", "« {} » n’est pas un utilisateur de proxy valide (ni espaces ni « : »)"),
    ("'{}' is not an email address; use e.g. notifications@contoso.com", "'{}' is geen e-mailadres; gebruik bijv. notifications@contoso.com", "« {} » n’est pas une adresse e-mail ; utilisez p. ex. notifications@contoso.com"),
    ("'{}' is not a time of day; use HH:MM, 24-hour, e.g. 02:00", "'{}' is geen tijdstip; gebruik UU:MM, 24-uurs, bijv. 02:00", "« {} » n’est pas une heure ; utilisez HH:MM sur 24 heures, p. ex. 02:00"),
    ("'{}' is not true or false", "'{}' is niet true of false", "« {} » n’est ni true ni false"),
    ("'{}' is not a whole number; use {}-{}{}", "'{}' is geen geheel getal; gebruik {}-{}{}", "« {} » n’est pas un nombre entier ; utilisez {}-{}{}"),
    ("{} is out of range; use {}-{}{}", "{} valt buiten het bereik; gebruik {}-{}{}", "{} est hors limites ; utilisez {}-{}{}"),
    (" (a TCP port)", " (een TCP-poort)", " (un port TCP)"),
    ("'{}' is not {}; use {}", "'{}' is geen {}; gebruik {}", "« {} » n’est pas {} ; utilisez {}"),
    ("'{}' contains a control character ({}); type the value on one line, without line breaks, tabs or escape characters", "'{}' bevat een stuurteken ({}); typ de waarde op één regel, zonder regeleinden, tabs of escapetekens", "« {} » contient un caractère de contrôle ({}) ; tapez la valeur sur une ligne, sans saut de ligne, tabulation ni caractère d’échappement"),
    ("'{}' does not exist or is not a file; give the full path of a PEM file, or clear the field", "'{}' bestaat niet of is geen bestand; geef het volledige pad van een PEM-bestand, of maak het veld leeg", "« {} » n’existe pas ou n’est pas un fichier ; indiquez le chemin complet d’un fichier PEM, ou videz le champ"),
    ("'{}' holds no PEM certificate (-----BEGIN CERTIFICATE-----); choose the CA certificate exported as Base-64 (PEM), or clear the field", "'{}' bevat geen PEM-certificaat (-----BEGIN CERTIFICATE-----); kies het CA-certificaat geëxporteerd als Base-64 (PEM), of maak het veld leeg", "« {} » ne contient aucun certificat PEM (-----BEGIN CERTIFICATE-----) ; choisissez le certificat d’AC exporté en Base-64 (PEM), ou videz le champ"),
    ("'{}' could not be read: {}", "'{}' kon niet worden gelezen: {}", "« {} » n’a pas pu être lu : {}"),
    ("Go to {}", "Ga naar {}", "Aller à {}"),
    ("yes", "ja", "oui"),
    ("'{}' is not a user name Kerberos can use", "'{}' is geen gebruikersnaam die Kerberos kan gebruiken", "« {} » n’est pas un nom d’utilisateur utilisable par Kerberos"),
    ("no Kerberos realm is known for '{}': the account is DOMAIN\\user (a NetBIOS name, not a realm) and the server '{}' has no DNS domain", "voor '{}' is geen Kerberos-realm bekend: het account is DOMEIN\\gebruiker (een NetBIOS-naam, geen realm) en de server '{}' heeft geen DNS-domein", "aucun domaine Kerberos n’est connu pour « {} » : le compte est DOMAINE\\utilisateur (un nom NetBIOS, pas un domaine) et le serveur « {} » n’a pas de domaine DNS"),
    ("Kerberos needs the Exchange server's name, but '{}' is an IP address", "Kerberos heeft de naam van de Exchange-server nodig, maar '{}' is een IP-adres", "Kerberos a besoin du nom du serveur Exchange, mais « {} » est une adresse IP"),
    ("no", "nee", "non"),
    ("All settings", "Alle instellingen", "Tous les paramètres"),
    ("What changes", "Wat er verandert", "Ce qui change"),
    ("Nothing changes in the configuration.", "Er verandert niets in de configuratie.", "Rien ne change dans la configuration."),
    ("{}: {} → {}", "{}: {} → {}", "{} : {} → {}"),
    ("a new password is stored: {}", "een nieuw wachtwoord wordt opgeslagen: {}", "un nouveau mot de passe est enregistré : {}"),
    ("Authentication method", "Aanmeldmethode", "Méthode d’authentification"),
    ("{} (the operating system's encrypted store)", "{} (de versleutelde opslag van het besturingssysteem)", "{} (le magasin chiffré du système d’exploitation)"),
    ("systemd credentials in {} (encrypted with this machine's key; only root and the service can read them)", "systemd-credentials in {} (versleuteld met de sleutel van deze machine; alleen root en de service kunnen ze lezen)", "identifiants systemd dans {} (chiffrés avec la clé de cette machine ; seuls root et le service peuvent les lire)"),
    ("file {} (NOT encrypted; only its owner can read it)", "bestand {} (NIET versleuteld; alleen de eigenaar kan het lezen)", "fichier {} (NON chiffré ; seul son propriétaire peut le lire)"),
    ("The lab runs inside this wizard: it stops when the wizard closes, and this organization then points at nothing. Run a lab of your own for it:", "Het lab draait binnen deze wizard: het stopt als de wizard sluit, en deze organisatie wijst dan nergens meer naar. Start er zelf een lab voor:", "Le labo tourne dans cet assistant : il s’arrête à sa fermeture, et cette organisation ne pointe alors plus vers rien. Lancez votre propre labo pour elle :"),
    ("Register and start the service (as administrator or root):", "Registreer en start de service (als beheerder of root):", "Enregistrez et démarrez le service (en administrateur ou root) :"),
    ("See the service's state, last syncs and last error:", "Bekijk de status van de service, de laatste synchronisaties en de laatste fout:", "Voir l’état du service, les dernières synchronisations et la dernière erreur :"),
    ("Ask the service for a sync now:", "Vraag de service nu te synchroniseren:", "Demander une synchronisation maintenant :"),
    ("Preview the access decisions, changing nothing:", "Bekijk de toegangsbeslissingen vooraf, zonder iets te wijzigen:", "Prévisualiser les décisions d’accès, sans rien changer :"),
    ("Check the access policy file:", "Controleer het toegangsbeleid:", "Vérifier le fichier de stratégie d’accès :"),
    ("Turn enforcement on when the preview is right:", "Zet de handhaving aan als het voorbeeld klopt:", "Activer l’application quand l’aperçu est correct :"),
    ("Next steps", "Volgende stappen", "Étapes suivantes"),
    ("not registered", "niet geregistreerd", "non enregistré"),
    ("stopped", "gestopt", "arrêté"),
    ("starting", "start op", "en cours de démarrage"),
    ("failed ({})", "mislukt ({})", "en échec ({})"),
    ("all checks passed in {} ms", "alle controles geslaagd in {} ms", "toutes les vérifications réussies en {} ms"),
    ("one or more checks failed", "een of meer controles zijn mislukt", "une ou plusieurs vérifications ont échoué"),
    ("stopped {}", "{} gestopt", "{} arrêté"),
    ("wrote {}", "{} geschreven", "{} écrit"),
    ("{} password(s) in {}", "{} wachtwoord(en) in {}", "{} mot(s) de passe dans {}"),
    ("registered {} with {}", "{} geregistreerd bij {}", "{} enregistré auprès de {}"),
    ("started the previous service again", "de vorige service weer gestart", "le service précédent a été redémarré"),
    ("restored the previous configuration", "de vorige configuratie teruggezet", "la configuration précédente a été rétablie"),
    ("could not restore the previous configuration; see the .bak file", "de vorige configuratie kon niet worden teruggezet; zie het .bak-bestand", "la configuration précédente n’a pas pu être rétablie ; voyez le fichier .bak"),
    ("restored the previous passwords", "de vorige wachtwoorden teruggezet", "les mots de passe précédents ont été rétablis"),
    ("removed the new service", "de nieuwe service verwijderd", "le nouveau service a été supprimé"),
    ("failed: what happened and what to do is above", "mislukt: wat er gebeurde en wat u kunt doen staat hierboven", "échec : ce qui s’est passé et quoi faire figurent ci-dessus"),
    ("everything done before was undone", "alles wat al gedaan was, is ongedaan gemaakt", "tout ce qui avait été fait a été annulé"),
    ("The configuration could not be written: {}", "De configuratie kon niet worden geschreven: {}", "La configuration n’a pas pu être écrite : {}"),
    ("Validation failed ({}); nothing was changed. Go back to Connect and fix what failed.", "De validatie is mislukt ({}); er is niets gewijzigd. Ga terug naar Verbinden en los op wat mislukte.", "La validation a échoué ({}) ; rien n’a été modifié. Revenez à Connexion et corrigez ce qui a échoué."),
    ("{}: {}; {}.", "{}: {}; {}.", "{} : {} ; {}."),
    ("the {} could not be used for the {}: {}", "de {} kon niet worden gebruikt voor het {}: {}", "le {} n’a pas pu servir pour le {} : {}"),
    ("the passwords file {} could not be {}: {}", "het wachtwoordbestand {} kon niet worden {}: {}", "le fichier de mots de passe {} n’a pas pu être {} : {}"),
    ("the passwords file {} can be read by other users (mode {}); run `chmod 600 {}` and make it owned by the service's user", "het wachtwoordbestand {} is leesbaar voor andere gebruikers (modus {}); voer `chmod 600 {}` uit en maak de gebruiker van de service eigenaar", "le fichier de mots de passe {} est lisible par d’autres utilisateurs (mode {}) ; exécutez `chmod 600 {}` et donnez-le à l’utilisateur du service"),
    ("{}='{}' is not a password store; use auto, systemd, secret-service (or os) or file", "{}='{}' is geen wachtwoordopslag; gebruik auto, systemd, secret-service (of os) of file", "{}='{}' n’est pas un magasin de mots de passe ; utilisez auto, systemd, secret-service (ou os) ou file"),
    ("the {} could not be used ({}); start or unlock it and try again (nothing was switched to another store)", "de {} kon niet worden gebruikt ({}); start of ontgrendel hem en probeer het opnieuw (er is niet naar een andere opslag overgeschakeld)", "le {} n’a pas pu servir ({}) ; démarrez-le ou déverrouillez-le et réessayez (rien n’a été basculé vers un autre magasin)"),
    ("the passwords were not changed because another program is changing them ({}); try again when it has finished", "de wachtwoorden zijn niet gewijzigd omdat een ander programma ze wijzigt ({}); probeer het opnieuw als het klaar is", "les mots de passe n’ont pas été modifiés car un autre programme les modifie ({}) ; réessayez quand il aura fini"),
    ("the passwords file is for Linux only, and here the system's password store must work ({})", "het wachtwoordbestand bestaat alleen op Linux, en hier moet de wachtwoordopslag van het systeem werken ({})", "le fichier de mots de passe n’existe que sous Linux, et ici le magasin du système doit fonctionner ({})"),
    ("systemd credentials exist on Linux only; choose another store with {} (auto, os)", "systemd-credentials bestaan alleen op Linux; kies een andere opslag met {} (auto, os)", "les identifiants systemd n’existent que sous Linux ; choisissez un autre magasin avec {} (auto, os)"),
    ("{}: this needs administrator rights (root on Linux); {}. Restart the setup as administrator, or untick “Register and start the service” on the Summary page to write the configuration only.", "{}: dit vereist beheerdersrechten (root op Linux); {}. Start de installatie opnieuw als beheerder, of vink „De service registreren en starten” uit op de pagina Overzicht om alleen de configuratie te schrijven.", "{} : il faut les droits d’administrateur (root sous Linux) ; {}. Relancez l’installation en administrateur, ou décochez « Enregistrer et démarrer le service » sur la page Récapitulatif pour écrire la configuration seulement."),
    ("{}: no service manager is available here ({}); {}. Untick “Register and start the service” on the Summary page to write the configuration only.", "{}: hier is geen servicebeheer beschikbaar ({}); {}. Vink „De service registreren en starten” uit op de pagina Overzicht om alleen de configuratie te schrijven.", "{} : aucun gestionnaire de services n’est disponible ici ({}) ; {}. Décochez « Enregistrer et démarrer le service » sur la page Récapitulatif pour écrire la configuration seulement."),
    ("{}: the service manager refused for {} ({}); {}. See the system log for the service, or untick “Register and start the service” on the Summary page to write the configuration only.", "{}: het servicebeheer weigerde voor {} ({}); {}. Zie het systeemlogboek voor de service, of vink „De service registreren en starten” uit op de pagina Overzicht om alleen de configuratie te schrijven.", "{} : le gestionnaire de services a refusé pour {} ({}) ; {}. Consultez le journal système pour le service, ou décochez « Enregistrer et démarrer le service » sur la page Récapitulatif pour écrire la configuration seulement."),
    ("The configuration is incomplete: {}. Fill in the pages named.", "De configuratie is onvolledig: {}. Vul de genoemde pagina’s in.", "La configuration est incomplète : {}. Remplissez les pages citées."),
    ("The configuration {} cannot be read ({}). It was left untouched: Replace writes a new one and keeps this one as .bak, or correct it by hand.", "De configuratie {} is onleesbaar ({}). Ze is ongewijzigd gelaten: Vervangen schrijft een nieuwe en bewaart deze als .bak, of verbeter haar met de hand.", "La configuration {} est illisible ({}). Elle a été laissée intacte : Remplacer en écrit une nouvelle et garde celle-ci en .bak, ou corrigez-la à la main."),
    ("{} (line {}): {}", "{} (regel {}): {}", "{} (ligne {}) : {}"),
    ("The configuration {} has settings that cannot be used: {}. Reconfigure is not possible: Replace writes a new one and keeps this one as .bak, or correct it by hand.", "De configuratie {} heeft onbruikbare instellingen: {}. Opnieuw configureren kan niet: Vervangen schrijft een nieuwe en bewaart deze als .bak, of verbeter haar met de hand.", "La configuration {} contient des réglages inutilisables : {}. Reconfigurer est impossible : Remplacer en écrit une nouvelle et garde celle-ci en .bak, ou corrigez-la à la main."),
    ("The configuration cannot be read: {}. Replace writes a new one, or correct the cause and open the wizard again.", "De configuratie is onleesbaar: {}. Vervangen schrijft een nieuwe, of los de oorzaak op en open de wizard opnieuw.", "La configuration est illisible : {}. Remplacer en écrit une nouvelle, ou corrigez la cause et rouvrez l’assistant."),
    ("The lab could not start: its folder {} could not be created ({}). Check the free space and permissions of the temporary folder, then try again.", "Het lab kon niet starten: zijn map {} kon niet worden aangemaakt ({}). Controleer de vrije ruimte en rechten van de tijdelijke map en probeer het opnieuw.", "Le labo n’a pas pu démarrer : son dossier {} n’a pas pu être créé ({}). Vérifiez l’espace libre et les droits du dossier temporaire, puis réessayez."),
    ("The lab could not start: {}. Try again; `eas-connector lab` in a terminal shows more.", "Het lab kon niet starten: {}. Probeer het opnieuw; `eas-connector lab` in een terminal toont meer.", "Le labo n’a pas pu démarrer : {}. Réessayez ; `eas-connector lab` dans un terminal en dit plus."),
    ("the service {}, stopped and unregistered", "de service {}, gestopt en afgemeld", "le service {}, arrêté et désenregistré"),
    ("the folder {} with everything in it: {}", "de map {} met alles erin: {}", "le dossier {} avec tout son contenu : {}"),
    ("the empty folder {}", "de lege map {}", "le dossier vide {}"),
    ("the organization's passwords, from {} too", "de wachtwoorden van de organisatie, ook uit {}", "les mots de passe de l’organisation, aussi dans {}"),
    ("the organization's passwords", "de wachtwoorden van de organisatie", "les mots de passe de l’organisation"),
    ("Kept: Exchange as it is (devices keep the access state the connector gave them), this program, and the other organizations. This cannot be undone.", "Blijft: Exchange zoals het is (apparaten houden de toegangsstatus die de connector ze gaf), dit programma en de andere organisaties. Dit kan niet ongedaan worden gemaakt.", "Conservés : Exchange tel quel (les appareils gardent l’état d’accès que le connecteur leur a donné), ce programme et les autres organisations. C’est irréversible."),
    ("service {}", "service {}", "service {}"),
    ("folder {}", "map {}", "dossier {}"),
    ("passwords: {}", "wachtwoorden: {}", "mots de passe : {}"),
    ("The connector was removed ({}). Exchange was not changed.", "De connector is verwijderd ({}). Exchange is niet gewijzigd.", "Le connecteur a été supprimé ({}). Exchange n’a pas été modifié."),
    ("The system's password store was not searched: {}", "De wachtwoordopslag van het systeem is niet doorzocht: {}", "Le magasin de mots de passe du système n’a pas été parcouru : {}"),
    ("Nothing was removed: removing the service needs administrator rights (root on Linux). Start the setup as administrator and Remove again, or run `eas-connector service uninstall` then `eas-connector config purge` as administrator.", "Er is niets verwijderd: de service verwijderen vereist beheerdersrechten (root op Linux). Start de installatie als beheerder en kies opnieuw Verwijderen, of voer als beheerder `eas-connector service uninstall` en daarna `eas-connector config purge` uit.", "Rien n’a été supprimé : supprimer le service exige les droits d’administrateur (root sous Linux). Lancez l’installation en administrateur et supprimez à nouveau, ou exécutez en administrateur `eas-connector service uninstall` puis `eas-connector config purge`."),
    ("Nothing was removed: the service could not be removed ({}). Run `eas-connector service uninstall` as administrator to see more.", "Er is niets verwijderd: de service kon niet worden verwijderd ({}). Voer als beheerder `eas-connector service uninstall` uit voor meer informatie.", "Rien n’a été supprimé : le service n’a pas pu être supprimé ({}). Exécutez `eas-connector service uninstall` en administrateur pour en savoir plus."),
    ("The service was removed, but the passwords could not be deleted ({}); the folder was kept. Run `eas-connector config purge` to try again.", "De service is verwijderd, maar de wachtwoorden konden niet worden gewist ({}); de map is bewaard. Voer `eas-connector config purge` uit om het opnieuw te proberen.", "Le service a été supprimé, mais les mots de passe n’ont pas pu être effacés ({}) ; le dossier a été conservé. Exécutez `eas-connector config purge` pour réessayer."),
    ("The folder could not be deleted ({}). Run `eas-connector config purge` to try again.", "De map kon niet worden verwijderd ({}). Voer `eas-connector config purge` uit om het opnieuw te proberen.", "Le dossier n’a pas pu être supprimé ({}). Exécutez `eas-connector config purge` pour réessayer."),
    ("Devices (Exchange's state)", "Apparaten (status in Exchange)", "Appareils (état dans Exchange)"),
    ("{} allowed · {} blocked · {} quarantined · {} other", "{} toegestaan · {} geblokkeerd · {} in quarantaine · {} overig", "{} autorisés · {} bloqués · {} en quarantaine · {} autres"),
    ("Conflicts", "Conflicten", "Conflits"),
    ("{} devices: an Exchange device access rule decides otherwise than the access policy, and Exchange's rule wins. See which with `eas-connector devices` (column CONFLICT), then change the rule in Exchange, or the policy.", "{} apparaten: een toegangsregel van Exchange beslist anders dan het toegangsbeleid, en de regel van Exchange wint. Zie welke met `eas-connector devices` (kolom CONFLICT) en pas dan de regel in Exchange aan, of het beleid.", "{} appareils : une règle d’accès d’Exchange décide autrement que la stratégie d’accès, et la règle d’Exchange l’emporte. Voyez lesquels avec `eas-connector devices` (colonne CONFLICT), puis modifiez la règle dans Exchange, ou la stratégie."),
    ("no list yet: no sync has finished", "nog geen lijst: er is nog geen synchronisatie voltooid", "pas encore de liste : aucune synchronisation n’est terminée"),
    ("Remove this connector…", "Deze connector verwijderen…", "Supprimer ce connecteur…"),
    ("Remove the connector of “{}”?", "De connector van „{}” verwijderen?", "Supprimer le connecteur de « {} » ?"),
    ("This deletes:", "Dit verwijdert:", "Ceci supprime :"),
    ("Keep the connector", "Connector behouden", "Garder le connecteur"),
    ("Remove", "Verwijderen", "Supprimer"),
    ("Esc or Enter: keep it · Tab to Remove, then Space: remove", "Esc of Enter: behouden · Tab naar Verwijderen, dan Spatie: verwijderen", "Échap ou Entrée : garder · Tab jusqu’à Supprimer, puis Espace : supprimer"),
    ("The service did not start the sync: {}", "De service is de synchronisatie niet begonnen: {}", "Le service n’a pas lancé la synchronisation : {}"),
    ("The service gave an answer that is not one to a sync request ({}): install the same version of the connector and its service.", "De service gaf een antwoord dat niet bij een synchronisatieverzoek hoort ({}): installeer dezelfde versie van de connector en zijn service.", "Le service a donné une réponse qui ne correspond pas à une demande de synchronisation ({}) : installez la même version du connecteur et de son service."),
    ("The service could not be reached ({}). Refresh, or see `eas-connector status`.", "De service was niet bereikbaar ({}). Vernieuw, of zie `eas-connector status`.", "Le service est injoignable ({}). Actualisez, ou voyez `eas-connector status`."),
    ("{} password(s) and the cloud certificate in {}", "{} wachtwoord(en) en het cloudcertificaat in {}", "{} mot(s) de passe et le certificat cloud dans {}"),
    ("no Intune source: the Compliance source page has the access policy file only", "geen Intune-bron: de pagina Nalevingsbron heeft alleen het toegangsbeleidsbestand", "pas de source Intune : la page Source de conformité n’a que le fichier de stratégie d’accès"),
    ("signed in to Entra ID; {} returned {} managed devices on the first page ({} with an ActiveSync id)", "aangemeld bij Entra ID; {} gaf {} beheerde apparaten op de eerste pagina ({} met een ActiveSync-id)", "connecté à Entra ID ; {} a renvoyé {} appareils gérés sur la première page ({} avec un identifiant ActiveSync)"),
    (", more pages follow", ", er volgen meer pagina’s", ", d’autres pages suivent"),
    ("check the Directory (tenant) ID and the Application (client) ID on the Compliance source page, as the app registration's Overview shows them", "controleer de map-id (tenant) en de toepassings-id (client) op de pagina Nalevingsbron, zoals het overzicht van de app-registratie ze toont", "vérifiez l’ID de l’annuaire (locataire) et l’ID d’application (client) sur la page Source de conformité, tels que la vue d’ensemble de l’inscription d’application les montre"),
    ("choose the app's certificate file, or type its client secret's Value, on the Compliance source page", "kies het certificaatbestand van de app, of typ de waarde van het clientgeheim, op de pagina Nalevingsbron", "choisissez le fichier de certificat de l’application, ou tapez la valeur de son secret client, sur la page Source de conformité"),
    ("upload the certificate's public part (.cer) to the app registration under Certificates & secrets › Certificates", "upload het openbare deel van het certificaat (.cer) naar de app-registratie onder Certificaten en geheimen › Certificaten", "téléversez la partie publique du certificat (.cer) dans l’inscription d’application sous Certificats et secrets › Certificats"),
    ("in the app registration's API permissions add Microsoft Graph › Application › DeviceManagementManagedDevices.Read.All and click “Grant admin consent”", "voeg in de API-machtigingen van de app-registratie Microsoft Graph › Toepassing › DeviceManagementManagedDevices.Read.All toe en klik op „Beheerderstoestemming verlenen”", "dans les autorisations d’API de l’inscription d’application, ajoutez Microsoft Graph › Application › DeviceManagementManagedDevices.Read.All et cliquez sur « Accorder un consentement d’administrateur »"),
    ("synchronize this computer's clock (NTP): Entra ID refuses sign-ins outside their valid time", "synchroniseer de klok van deze computer (NTP): Entra ID weigert aanmeldingen buiten hun geldige tijd", "synchronisez l’horloge de cet ordinateur (NTP) : Entra ID refuse les connexions hors de leur période de validité"),
    ("let this computer reach login.microsoftonline.com and graph.microsoft.com, through the proxy (Proxy page) when it has no direct internet access; a TLS-inspecting proxy's CA goes in the trusted CA file (Server page)", "laat deze computer login.microsoftonline.com en graph.microsoft.com bereiken, via de proxy (pagina Proxy) als hij geen directe internettoegang heeft; de CA van een proxy die TLS inspecteert hoort in het vertrouwde CA-bestand (pagina Server)", "permettez à cet ordinateur de joindre login.microsoftonline.com et graph.microsoft.com, par le proxy (page Proxy) s’il n’a pas d’accès direct à internet ; l’AC d’un proxy qui inspecte TLS va dans le fichier d’AC de confiance (page Serveur)"),
    ("check Cloud/Authority and Cloud/GraphUrl (national clouds have their own): eas-connector config set", "controleer Cloud/Authority en Cloud/GraphUrl (nationale clouds hebben eigen adressen): eas-connector config set", "vérifiez Cloud/Authority et Cloud/GraphUrl (les clouds nationaux ont les leurs) : eas-connector config set"),
    ("Microsoft Graph is throttling or unavailable: test again later", "Microsoft Graph remt af of is onbereikbaar: test later opnieuw", "Microsoft Graph limite les requêtes ou est indisponible : testez plus tard"),
    ("{} could not be read ({}); check the path and that this account may read it", "{} kon niet worden gelezen ({}); controleer het pad en of dit account het mag lezen", "{} n’a pas pu être lu ({}) ; vérifiez le chemin et que ce compte peut le lire"),
    ("{} holds no certificate; choose a PEM file with the certificate and its private key, or a PFX (.pfx/.p12)", "{} bevat geen certificaat; kies een PEM-bestand met het certificaat en zijn privésleutel, of een PFX (.pfx/.p12)", "{} ne contient aucun certificat ; choisissez un fichier PEM avec le certificat et sa clé privée, ou un PFX (.pfx/.p12)"),
    ("{} holds no private key; put the certificate's private key in the same PEM file, or export a PFX with its private key", "{} bevat geen privésleutel; zet de privésleutel van het certificaat in hetzelfde PEM-bestand, of exporteer een PFX met zijn privésleutel", "{} ne contient aucune clé privée ; mettez la clé privée du certificat dans le même fichier PEM, ou exportez un PFX avec sa clé privée"),
    ("{}'s private key is encrypted; export it unencrypted into a PEM only you can read, or choose the PFX and type its password", "de privésleutel van {} is versleuteld; exporteer hem onversleuteld naar een PEM dat alleen u kunt lezen, of kies de PFX en typ zijn wachtwoord", "la clé privée de {} est chiffrée ; exportez-la en clair dans un PEM que vous seul pouvez lire, ou choisissez le PFX et tapez son mot de passe"),
    ("{} could not be opened as a PFX ({}); type its password below if it has one, else check the file is a PKCS#12 export", "{} kon niet als PFX worden geopend ({}); typ hieronder zijn wachtwoord als het er een heeft, controleer anders of het bestand een PKCS#12-export is", "{} n’a pas pu être ouvert comme PFX ({}) ; tapez son mot de passe ci-dessous s’il en a un, sinon vérifiez que le fichier est un export PKCS#12"),
    ("{}'s private key is not an RSA key; Entra ID sign-ins here need an RSA certificate (e.g. New-SelfSignedCertificate -KeyAlgorithm RSA -KeyLength 2048)", "de privésleutel van {} is geen RSA-sleutel; aanmelden bij Entra ID vereist hier een RSA-certificaat (bijv. New-SelfSignedCertificate -KeyAlgorithm RSA -KeyLength 2048)", "la clé privée de {} n’est pas une clé RSA ; la connexion à Entra ID exige ici un certificat RSA (p. ex. New-SelfSignedCertificate -KeyAlgorithm RSA -KeyLength 2048)"),
    ("{}'s private key does not belong to its certificate; export the certificate together with its own key", "de privésleutel van {} hoort niet bij zijn certificaat; exporteer het certificaat samen met zijn eigen sleutel", "la clé privée de {} n’appartient pas à son certificat ; exportez le certificat avec sa propre clé"),
    ("{}'s certificate could not be read: {}; export it again as a PFX with its private key, or as PEM (certificate and key)", "het certificaat van {} kon niet worden gelezen: {}; exporteer het opnieuw als PFX met de persoonlijke sleutel, of als PEM (certificaat en sleutel)", "le certificat de {} n’a pas pu être lu : {} ; exportez-le à nouveau en PFX avec sa clé privée, ou en PEM (certificat et clé)"),
    ("{}'s certificate expired on {}; create a new one, upload it to the app registration and choose it here", "het certificaat van {} is verlopen op {}; maak een nieuw, upload het naar de app-registratie en kies het hier", "le certificat de {} a expiré le {} ; créez-en un nouveau, téléversez-le dans l’inscription d’application et choisissez-le ici"),
    ("The test could not run: {}. Correct the pages before this one.", "De test kon niet worden uitgevoerd: {}. Verbeter de pagina’s hiervoor.", "Le test n’a pas pu s’exécuter : {}. Corrigez les pages précédentes."),
    ("Entra ID sign-in address", "Aanmeldadres van Entra ID", "Adresse de connexion d’Entra ID"),
    ("Microsoft Graph address", "Adres van Microsoft Graph", "Adresse de Microsoft Graph"),
    ("'{}' is not a tenant; use the directory (tenant) ID, a GUID from the Entra admin center's Overview page, or a verified domain such as contoso.onmicrosoft.com", "'{}' is geen tenant; gebruik de map-id (tenant), een GUID van de overzichtspagina van het Entra-beheercentrum, of een geverifieerd domein zoals contoso.onmicrosoft.com", "'{}' n’est pas un locataire ; utilisez l’ID de l’annuaire (locataire), un GUID de la page Vue d’ensemble du centre d’administration Entra, ou un domaine vérifié comme contoso.onmicrosoft.com"),
    ("'{}' is not an application (client) ID; copy the GUID from the app registration's Overview page, e.g. 11111111-2222-3333-4444-555555555555", "'{}' is geen toepassings-id (client); kopieer de GUID van de overzichtspagina van de app-registratie, bijv. 11111111-2222-3333-4444-555555555555", "'{}' n’est pas un ID d’application (client) ; copiez le GUID de la page Vue d’ensemble de l’inscription d’application, p. ex. 11111111-2222-3333-4444-555555555555"),
    ("'{}' is not a certificate thumbprint; use the 40 hex digits of its SHA-1", "'{}' is geen certificaatvingerafdruk; gebruik de 40 hexadecimale cijfers van de SHA-1", "'{}' n’est pas une empreinte de certificat ; utilisez les 40 chiffres hexadécimaux de son SHA-1"),
    ("Certificate thumbprint", "Vingerafdruk van het certificaat", "Empreinte du certificat"),
];
