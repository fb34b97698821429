//! The typed connector configuration: what each value means once it has been read.
//!
//! Every member is already checked and typed (server addresses, enums, a time of day); the
//! table in `fields` is the one place that names them in the file, parses and prints them, and
//! gives their defaults through [`ConnectorConfig::new`]. This module must not touch the disk
//! (see `store`), and it never holds a password — passwords live only in the `secrets` module.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::address::{ServerAddress, ServerList};
use super::fields::{self, Field};
use super::validate::ValueError;

/// The schema this build writes; files with a newer one are refused rather than mangled.
pub const SCHEMA_VERSION: u32 = 1;

/// The root element's name.
pub const ROOT: &str = "ConnectorServiceConfiguration";

/// Exchange deployment the connector talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ExchangeServerType {
    /// An on-premises Exchange organization reached through a Client Access Server.
    #[default]
    OnPremises,
    /// Exchange hosted by a provider, reached through the provider's server address.
    Hosted,
    /// Exchange Online (Microsoft 365): its REST admin API with the `<Cloud>` app's token; no
    /// Client Access Server and no service account password.
    Online,
}

impl ExchangeServerType {
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeServerType::OnPremises => "OnPremises",
            ExchangeServerType::Hosted => "Hosted",
            ExchangeServerType::Online => "Online",
        }
    }

    /// Reached through remote PowerShell (WinRM) on a server address, with a service account.
    pub fn is_remote_powershell(self) -> bool {
        !matches!(self, ExchangeServerType::Online)
    }
}

/// How the connector authenticates to Exchange's PowerShell, EWS and Autodiscover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum AuthenticationMethod {
    /// From what the server offers: Kerberos (bare or inside Negotiate), then NTLM, then Basic
    /// (HTTPS only). It falls back from Kerberos only when Kerberos is unavailable, never after
    /// the domain refused the credentials.
    #[default]
    Auto,
    /// Kerberos only: the `Kerberos` scheme or Negotiate carrying Kerberos.
    Kerberos,
    /// SPNEGO: Kerberos inside it when a KDC answers, else NTLM.
    Negotiate,
    Ntlm,
    Basic,
}

impl AuthenticationMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthenticationMethod::Auto => "Auto",
            AuthenticationMethod::Kerberos => "Kerberos",
            AuthenticationMethod::Negotiate => "Negotiate",
            AuthenticationMethod::Ntlm => "Ntlm",
            AuthenticationMethod::Basic => "Basic",
        }
    }
}

/// Whether HTTPS sign-ins carry a channel binding token (Extended Protection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ChannelBinding {
    /// Bind every NTLM and Kerberos sign-in over HTTPS to the server's TLS certificate.
    #[default]
    Auto,
    /// Send no binding: for a load balancer that re-encrypts with another certificate.
    Off,
}

impl ChannelBinding {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelBinding::Auto => "Auto",
            ChannelBinding::Off => "Off",
        }
    }
}

/// A setting with a fixed set of values, written by name.
pub trait Choice: Sized + Copy + 'static {
    /// Every value, in the order messages list them.
    const ALL: &'static [Self];
    /// What a value is, for messages: "an authentication method".
    const WHAT: &'static str;
    /// The value's name in the file.
    fn name(self) -> &'static str;

    /// The value named `v`, in any letter case, '-' ignored (`on-premises`).
    fn parse(v: &str) -> Result<Self, ValueError> {
        let norm = |s: &str| s.trim().replace('-', "").to_ascii_lowercase();
        let wanted = norm(v);
        Self::ALL
            .iter()
            .copied()
            .find(|c| norm(c.name()) == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|c| c.name()).collect();
                let choices = match names.split_last() {
                    Some((last, rest)) if !rest.is_empty() => {
                        format!("{} or {last}", rest.join(", "))
                    }
                    _ => names.join(""),
                };
                ValueError::NotOneOf {
                    value: v.trim().into(),
                    what: Self::WHAT,
                    choices,
                }
            })
    }
}

impl Choice for ExchangeServerType {
    const ALL: &'static [Self] = &[
        ExchangeServerType::OnPremises,
        ExchangeServerType::Hosted,
        ExchangeServerType::Online,
    ];
    const WHAT: &'static str = "a server type";
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Choice for AuthenticationMethod {
    const ALL: &'static [Self] = &[
        AuthenticationMethod::Auto,
        AuthenticationMethod::Kerberos,
        AuthenticationMethod::Negotiate,
        AuthenticationMethod::Ntlm,
        AuthenticationMethod::Basic,
    ];
    const WHAT: &'static str = "an authentication method";
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Choice for ChannelBinding {
    const ALL: &'static [Self] = &[ChannelBinding::Auto, ChannelBinding::Off];
    const WHAT: &'static str = "a channel binding setting";
    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// How much the service writes to its log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    #[default]
    Info,
    Debug,
    Trace,
}

impl Choice for LogLevel {
    const ALL: &'static [Self] = &[
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Trace,
    ];
    const WHAT: &'static str = "a log level";
    fn name(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// A local time of day, `HH:MM` on the 24-hour clock (the daily full sync).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeOfDay {
    pub hour: u8,
    pub minute: u8,
}

impl TimeOfDay {
    /// `HH:MM`, exactly five characters.
    pub fn parse(v: &str) -> Result<TimeOfDay, ValueError> {
        let v = v.trim();
        let err = || ValueError::TimeOfDay(v.into());
        let (h, m) = v.split_once(':').ok_or_else(err)?;
        let hour: u8 = h.parse().map_err(|_| err())?;
        let minute: u8 = m.parse().map_err(|_| err())?;
        if hour > 23 || minute > 59 || v.len() != 5 {
            return Err(err());
        }
        Ok(TimeOfDay { hour, minute })
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The Kerberos settings; every field may stay empty (then they are found as the README says).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KerberosSettings {
    /// The Kerberos realm (Active Directory DNS domain in capitals, e.g. `CORP.CONTOSO.COM`).
    pub realm: Option<String>,
    /// Domain controllers / KDCs, `host[:port]`, comma-separated; empty: DNS SRV records.
    pub kdc_address: Option<String>,
    /// The Exchange server's service principal name, e.g. `HTTP/mail.contoso.com` (for a
    /// load-balanced name with an alternate service account); empty: `HTTP/<server FQDN>`.
    pub service_principal_name: Option<String>,
    /// Seconds before a ticket-granting ticket expires at which a new one is fetched.
    pub renew_before_expiry_seconds: u32,
}

impl Default for KerberosSettings {
    fn default() -> Self {
        KerberosSettings {
            realm: None,
            kdc_address: None,
            service_principal_name: None,
            renew_before_expiry_seconds: 300,
        }
    }
}

/// The proxy the connector uses to reach Exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProxySettings {
    pub enabled: bool,
    pub host: Option<String>,
    pub port: u16,
    pub use_credentials: bool,
    /// `DOMAIN\user` or a plain user name for the proxy; the password is in the vault.
    pub user: Option<String>,
    /// How to sign in to the proxy: `Auto` learns it from the proxy's 407 (Negotiate with
    /// Kerberos, then NTLM, then Basic); `Basic` sends the password up front.
    #[serde(default)]
    pub authentication_method: AuthenticationMethod,
    /// Reach Exchange directly even when the proxy is enabled; cloud traffic always uses it.
    #[serde(default)]
    pub bypass_for_exchange: bool,
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            enabled: false,
            host: None,
            port: 8080,
            use_credentials: false,
            user: None,
            authentication_method: AuthenticationMethod::Auto,
            bypass_for_exchange: false,
        }
    }
}

/// How the connector signs in to Entra ID as its app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CloudCredential {
    /// A certificate whose key signs a JWT client assertion (Microsoft's recommendation).
    #[default]
    Certificate,
    /// A client secret.
    Secret,
}

impl Choice for CloudCredential {
    const ALL: &'static [Self] = &[CloudCredential::Certificate, CloudCredential::Secret];
    const WHAT: &'static str = "a cloud credential";
    fn name(self) -> &'static str {
        match self {
            CloudCredential::Certificate => "Certificate",
            CloudCredential::Secret => "Secret",
        }
    }
}

impl CloudCredential {
    /// The value's name in the file.
    pub fn name_str(self) -> &'static str {
        Choice::name(self)
    }
}

/// The default Entra ID authority (global cloud).
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// The default Microsoft Graph address (global cloud).
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";
/// The default Exchange Online address (global cloud).
pub const DEFAULT_EXCHANGE_ONLINE_URL: &str = "https://outlook.office365.com";

/// The Microsoft cloud identity (`<Cloud>`): one Entra ID app registration, used for Intune
/// (Microsoft Graph) now and Exchange Online later. Its credential is in the secret store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CloudSettings {
    /// Directory (tenant) ID or verified domain.
    pub tenant_id: Option<String>,
    /// The app registration's application (client) ID.
    pub application_id: Option<String>,
    /// Entra ID's sign-in address, without the tenant (national clouds differ).
    pub authority: String,
    /// Microsoft Graph's address.
    pub graph_url: String,
    /// Exchange Online's address (its REST admin API is `<url>/adminapi/beta/<tenant>/`).
    pub exchange_url: String,
    pub credential: CloudCredential,
    /// SHA-1 of the imported certificate, upper-case hex (informational).
    pub certificate_thumbprint: Option<String>,
}

impl Default for CloudSettings {
    fn default() -> Self {
        CloudSettings {
            tenant_id: None,
            application_id: None,
            authority: DEFAULT_AUTHORITY.into(),
            graph_url: DEFAULT_GRAPH_URL.into(),
            exchange_url: DEFAULT_EXCHANGE_ONLINE_URL.into(),
            credential: CloudCredential::Certificate,
            certificate_thumbprint: None,
        }
    }
}

impl CloudSettings {
    /// Whether a cloud identity is configured at all (tenant and app set).
    pub fn is_configured(&self) -> bool {
        self.tenant_id.is_some() && self.application_id.is_some()
    }
}

/// The account the service uses for Exchange remote PowerShell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceAccount {
    pub user: Option<String>,
}

/// The account and mailbox that send notification mail through EWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationAccount {
    pub user: Option<String>,
    pub mailbox: Option<String>,
}

/// Everything in `ConnectorServiceConfiguration.xml`, with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectorConfig {
    pub schema_version: u32,
    pub organization: String,
    pub exchange_server_type: ExchangeServerType,
    /// Client Access Servers: the first is used, the others are failed over to first.
    pub client_access_server: ServerList,
    /// Hosted server: `host[:port]` or an `https://` URL.
    pub hosted_server_address: Option<ServerAddress>,
    /// Explicit EWS URL; when set, Autodiscover is skipped.
    #[serde(rename = "ExchangeWebServiceURL")]
    pub exchange_web_service_url: Option<String>,
    #[serde(default)]
    pub authentication_method: AuthenticationMethod,
    #[serde(default)]
    pub channel_binding: ChannelBinding,
    #[serde(default)]
    pub kerberos: KerberosSettings,
    pub proxy: ProxySettings,
    pub service_account: ServiceAccount,
    pub notification_account: NotificationAccount,
    pub is_cas_failover_enabled: bool,
    pub enable_parallel_command_support: bool,
    pub max_parallel_runspaces: u32,
    pub quick_sync_interval_minutes: u32,
    /// Local time of the daily full sync.
    pub full_sync_time_of_day: TimeOfDay,
    /// PEM file with extra CA certificates to trust for Exchange's TLS and the cloud's.
    pub trusted_ca_file: Option<String>,
    pub log_level: LogLevel,
    /// The Microsoft cloud identity (Intune).
    #[serde(default)]
    pub cloud: CloudSettings,
}

impl ConnectorConfig {
    /// A configuration with every default, for organization `org`.
    pub fn new(org: &str) -> Self {
        ConnectorConfig {
            schema_version: SCHEMA_VERSION,
            organization: org.to_string(),
            exchange_server_type: ExchangeServerType::OnPremises,
            client_access_server: ServerList::default(),
            hosted_server_address: None,
            exchange_web_service_url: None,
            authentication_method: AuthenticationMethod::Auto,
            channel_binding: ChannelBinding::Auto,
            kerberos: KerberosSettings::default(),
            proxy: ProxySettings::default(),
            service_account: ServiceAccount::default(),
            notification_account: NotificationAccount::default(),
            is_cas_failover_enabled: true,
            enable_parallel_command_support: false,
            max_parallel_runspaces: 4,
            quick_sync_interval_minutes: 15,
            full_sync_time_of_day: TimeOfDay { hour: 2, minute: 0 },
            trusted_ca_file: None,
            log_level: LogLevel::Info,
            cloud: CloudSettings::default(),
        }
    }
}

impl ConnectorConfig {
    /// Whether the PowerShell address is a plain `http://` URL (WinRM message encryption).
    pub fn uses_plain_http(&self) -> bool {
        self.server_address().is_some_and(|a| !a.https)
    }

    /// The PowerShell address the connector connects to: the first Client Access Server
    /// on-premises, the hosted address otherwise.
    pub fn server_address(&self) -> Option<&ServerAddress> {
        match self.exchange_server_type {
            ExchangeServerType::OnPremises => self.client_access_server.first(),
            ExchangeServerType::Hosted => self.hosted_server_address.as_ref(),
            ExchangeServerType::Online => None,
        }
    }

    /// Problems that make the configuration incomplete or inconsistent as a whole (each field
    /// on its own is already valid). Returns (field path, problem, fix) triples.
    pub fn completeness_problems(&self) -> Vec<(&'static Field, String, String)> {
        let mut out = Vec::new();
        match self.exchange_server_type {
            ExchangeServerType::OnPremises if self.client_access_server.is_empty() => out.push((
                &fields::CLIENT_ACCESS_SERVER,
                "is empty, but ExchangeServerType is OnPremises".to_string(),
                "set the FQDN of a Client Access Server, e.g. cas01.contoso.com".to_string(),
            )),
            ExchangeServerType::Hosted if self.hosted_server_address.is_none() => out.push((
                &fields::HOSTED_SERVER_ADDRESS,
                "is empty, but ExchangeServerType is Hosted".to_string(),
                "set the hosted Exchange server address your provider gave you".to_string(),
            )),
            ExchangeServerType::Online if self.cloud.tenant_id.is_none() => out.push((
                &fields::CLOUD_TENANT_ID,
                "is empty, but ExchangeServerType is Online".to_string(),
                "set your Microsoft 365 tenant: its domain (contoso.onmicrosoft.com) or directory ID".to_string(),
            )),
            _ => {}
        }
        if self.exchange_server_type == ExchangeServerType::Online
            && self.cloud.application_id.is_none()
        {
            out.push((
                &fields::CLOUD_APPLICATION_ID,
                "is empty, but ExchangeServerType is Online".to_string(),
                "set the application (client) ID of the app registration the connector signs in as"
                    .to_string(),
            ));
        }
        if self.uses_plain_http() && self.authentication_method == AuthenticationMethod::Basic {
            let field = match self.exchange_server_type {
                ExchangeServerType::OnPremises => fields::CLIENT_ACCESS_SERVER.path,
                ExchangeServerType::Hosted | ExchangeServerType::Online => {
                    fields::HOSTED_SERVER_ADDRESS.path
                }
            };
            out.push((
                &fields::AUTHENTICATION_METHOD,
                format!("is Basic, but {field} uses plain http:// (the password would travel in clear)"),
                "use an https:// address, or set AuthenticationMethod to Auto, Kerberos, Negotiate or Ntlm (WinRM messages are then encrypted)".to_string(),
            ));
        }
        if self.proxy.enabled && self.proxy.host.is_none() {
            out.push((
                &fields::PROXY_HOST,
                "is empty, but Proxy/Enabled is true".to_string(),
                "set the proxy host, or set Proxy/Enabled to false".to_string(),
            ));
        }
        if self.proxy.enabled && self.proxy.use_credentials && self.proxy.user.is_none() {
            out.push((
                &fields::PROXY_USER,
                "is empty, but Proxy/UseCredentials is true".to_string(),
                "set the proxy user, or set Proxy/UseCredentials to false".to_string(),
            ));
        }
        if self.service_account.user.is_none() && self.exchange_server_type.is_remote_powershell() {
            out.push((
                &fields::SERVICE_ACCOUNT_USER,
                "is empty".to_string(),
                "set the Exchange service account as DOMAIN\\user or user@domain".to_string(),
            ));
        }
        // Exchange Online sends through Microsoft Graph as the app: a mailbox, no account.
        if self.notification_account.user.is_none()
            && self.exchange_server_type.is_remote_powershell()
        {
            out.push((
                &fields::NOTIFICATION_ACCOUNT_USER,
                "is empty".to_string(),
                "set the notification account as DOMAIN\\user or user@domain".to_string(),
            ));
        }
        if self.notification_account.mailbox.is_none() {
            out.push((
                &fields::NOTIFICATION_MAILBOX,
                "is empty".to_string(),
                "set the notification mailbox's SMTP address".to_string(),
            ));
        }
        if let Some(ca) = &self.trusted_ca_file {
            if !std::path::Path::new(ca).is_file() {
                out.push((
                    &fields::TRUSTED_CA_FILE,
                    format!("'{ca}' does not exist or is not a file"),
                    "give the full path of a PEM file, or clear the field".to_string(),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completeness() {
        let mut c = ConnectorConfig::new("contoso");
        let fields: Vec<_> = c
            .completeness_problems()
            .into_iter()
            .map(|p| p.0.path)
            .collect();
        assert!(fields.contains(&"ClientAccessServer"));
        c.set("ClientAccessServer", "cas01.contoso.com").unwrap();
        c.set("ServiceAccount/User", "CONTOSO\\svc-eas").unwrap();
        c.set("NotificationAccount/User", "notify@contoso.com")
            .unwrap();
        c.set("NotificationAccount/Mailbox", "notify@contoso.com")
            .unwrap();
        assert!(c.completeness_problems().is_empty());
        c.set("Proxy/Enabled", "true").unwrap();
        assert_eq!(c.completeness_problems()[0].0, &fields::PROXY_HOST);
    }

    #[test]
    fn basic_over_a_plain_http_hosted_address_is_a_problem() {
        let mut c = ConnectorConfig::new("contoso");
        c.set("ExchangeServerType", "Hosted").unwrap();
        c.set("HostedServerAddress", "http://ps.hoster.net/PowerShell")
            .unwrap();
        let has = |c: &ConnectorConfig| {
            c.completeness_problems()
                .iter()
                .any(|p| *p.0 == fields::AUTHENTICATION_METHOD)
        };
        assert!(!has(&c), "Auto over http is fine (NTLM/Negotiate encrypt)");
        c.set("AuthenticationMethod", "Basic").unwrap();
        assert!(has(&c));
        c.set("HostedServerAddress", "https://ps.hoster.net/PowerShell")
            .unwrap();
        assert!(!has(&c));
        // On-premises, Microsoft's default address is plain http://.
        c.set("ExchangeServerType", "OnPremises").unwrap();
        c.set("ClientAccessServer", "http://cas01.contoso.com/PowerShell/")
            .unwrap();
        assert!(c.uses_plain_http());
        assert!(has(&c));
        c.set("AuthenticationMethod", "Kerberos").unwrap();
        assert!(!has(&c));
    }

    #[test]
    fn kerberos_settings_are_checked_and_normalized() {
        let mut c = ConnectorConfig::new("contoso");
        c.set("Kerberos/Realm", "corp.contoso.com").unwrap();
        assert_eq!(c.kerberos.realm.as_deref(), Some("CORP.CONTOSO.COM"));
        assert!(c.set("Kerberos/Realm", "CORP\\X").is_err());
        c.set(
            "Kerberos/KdcAddress",
            "dc1.corp.contoso.com, dc2.corp.contoso.com:88",
        )
        .unwrap();
        assert!(c
            .set("Kerberos/KdcAddress", "dc1.corp.contoso.com:0")
            .unwrap_err()
            .to_string()
            .contains("port"));
        c.set("Kerberos/ServicePrincipalName", "HTTP/mail.contoso.com")
            .unwrap();
        assert!(c
            .set("Kerberos/ServicePrincipalName", "mail.contoso.com")
            .unwrap_err()
            .to_string()
            .contains("HTTP/"));
        assert!(c
            .set("ChannelBinding", "sometimes")
            .unwrap_err()
            .to_string()
            .contains("Auto or Off"));
        c.set("ChannelBinding", "off").unwrap();
        assert_eq!(c.channel_binding, ChannelBinding::Off);
        assert!(c
            .set("Kerberos/RenewBeforeExpirySeconds", "90000")
            .unwrap_err()
            .to_string()
            .contains("0-86400"));
    }
}
