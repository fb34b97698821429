//! The typed connector configuration and the table of its fields.
//!
//! [`FIELDS`] is the one list of what the configuration file holds: its element path, what it
//! means and its default. Reading, writing, `config set` and `config show` all go through
//! [`ConnectorConfig::get`] and [`ConnectorConfig::set`], so a field is described once. This
//! module checks each value's syntax and range; it must not touch the disk (see `store`), and
//! it never holds a password — passwords live only in the `secrets` module.

use serde::{Deserialize, Serialize};

use super::validate;

/// The schema this build writes; files with a newer one are refused rather than mangled.
pub const SCHEMA_VERSION: u32 = 1;

/// Exchange deployment the connector talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ExchangeServerType {
    /// An on-premises Exchange organization reached through a Client Access Server.
    #[default]
    OnPremises,
    /// Exchange hosted by a provider, reached through the provider's server address.
    Hosted,
}

impl ExchangeServerType {
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeServerType::OnPremises => "OnPremises",
            ExchangeServerType::Hosted => "Hosted",
        }
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
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            enabled: false,
            host: None,
            port: 8080,
            use_credentials: false,
            user: None,
        }
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectorConfig {
    pub schema_version: u32,
    pub organization: String,
    pub exchange_server_type: ExchangeServerType,
    /// CAS FQDN, optionally `host:port`.
    pub client_access_server: Option<String>,
    /// Hosted server: `host[:port]` or an `https://` URL.
    pub hosted_server_address: Option<String>,
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
    /// `HH:MM`, local time.
    pub full_sync_time_of_day: String,
    /// PEM file with extra CA certificates to trust for Exchange's TLS.
    pub trusted_ca_file: Option<String>,
    pub log_level: String,
}

impl ConnectorConfig {
    /// A configuration with every default, for organization `org`.
    pub fn new(org: &str) -> Self {
        ConnectorConfig {
            schema_version: SCHEMA_VERSION,
            organization: org.to_string(),
            exchange_server_type: ExchangeServerType::OnPremises,
            client_access_server: None,
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
            full_sync_time_of_day: "02:00".to_string(),
            trusted_ca_file: None,
            log_level: "info".to_string(),
        }
    }
}

/// One field of the file: its element path below the root and what it means.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// Element path below the root, `/`-separated, e.g. `Proxy/Port`.
    pub path: &'static str,
    /// What the field is, for `config show` and help texts.
    pub about: &'static str,
}

/// The root element's name.
pub const ROOT: &str = "ConnectorServiceConfiguration";

/// Every field, in the order the file lists them.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        path: "SchemaVersion",
        about: "configuration schema version",
    },
    FieldSpec {
        path: "Organization",
        about: "Exchange organization this connector serves",
    },
    FieldSpec {
        path: "ExchangeServerType",
        about: "OnPremises or Hosted",
    },
    FieldSpec {
        path: "ClientAccessServer",
        about: "Client Access Server FQDN (host or host:port, HTTPS), or a URL such as http://cas01.contoso.com/PowerShell/",
    },
    FieldSpec {
        path: "HostedServerAddress",
        about: "hosted Exchange server address (host[:port] or https URL)",
    },
    FieldSpec {
        path: "ExchangeWebServiceURL",
        about: "EWS URL; when set, Autodiscover is skipped",
    },
    FieldSpec {
        path: "AuthenticationMethod",
        about: "Auto (Kerberos, then NTLM, then Basic over HTTPS, from what the server offers), Kerberos, Negotiate, Ntlm or Basic",
    },
    FieldSpec {
        path: "ChannelBinding",
        about: "Auto (bind HTTPS sign-ins to the server certificate: Extended Protection) or Off (a load balancer re-encrypts with another certificate)",
    },
    FieldSpec {
        path: "Kerberos/Realm",
        about: "Kerberos realm, e.g. CORP.CONTOSO.COM; empty: the account's UPN suffix, else the server's DNS domain",
    },
    FieldSpec {
        path: "Kerberos/KdcAddress",
        about: "domain controllers (KDCs), host[:port], comma-separated; empty: DNS SRV _kerberos._tcp.<realm>, else the realm's name",
    },
    FieldSpec {
        path: "Kerberos/ServicePrincipalName",
        about: "Exchange's SPN, e.g. HTTP/mail.contoso.com (load-balanced name with an alternate service account); empty: HTTP/<server FQDN>",
    },
    FieldSpec {
        path: "Kerberos/RenewBeforeExpirySeconds",
        about: "seconds before a Kerberos ticket expires at which a new one is fetched (0-86400)",
    },
    FieldSpec {
        path: "Proxy/Enabled",
        about: "use an HTTP proxy (true/false)",
    },
    FieldSpec {
        path: "Proxy/Host",
        about: "proxy host name or address",
    },
    FieldSpec {
        path: "Proxy/Port",
        about: "proxy port (1-65535)",
    },
    FieldSpec {
        path: "Proxy/UseCredentials",
        about: "authenticate to the proxy (true/false)",
    },
    FieldSpec {
        path: "Proxy/User",
        about: "proxy user (password in the credential store)",
    },
    FieldSpec {
        path: "ServiceAccount/User",
        about: "Exchange service account, DOMAIN\\user or UPN",
    },
    FieldSpec {
        path: "NotificationAccount/User",
        about: "notification account, DOMAIN\\user or UPN",
    },
    FieldSpec {
        path: "NotificationAccount/Mailbox",
        about: "notification mailbox SMTP address",
    },
    FieldSpec {
        path: "IsCasFailoverEnabled",
        about: "fail over to other Client Access Servers (true/false)",
    },
    FieldSpec {
        path: "EnableParallelCommandSupport",
        about: "run commands in parallel runspaces (true/false)",
    },
    FieldSpec {
        path: "MaxParallelRunspaces",
        about: "runspaces used in parallel (1-16)",
    },
    FieldSpec {
        path: "QuickSyncIntervalMinutes",
        about: "minutes between quick syncs (5-1440)",
    },
    FieldSpec {
        path: "FullSyncTimeOfDay",
        about: "daily full sync time, HH:MM (24-hour, local time)",
    },
    FieldSpec {
        path: "TrustedCaFile",
        about: "PEM file of extra CA certificates to trust",
    },
    FieldSpec {
        path: "LogLevel",
        about: "error, warn, info, debug or trace",
    },
];

/// Canonical order of the top-level elements (used to place new elements).
pub fn top_level_order() -> Vec<&'static str> {
    let mut order: Vec<&'static str> = Vec::new();
    for f in FIELDS {
        let top = f.path.split('/').next().unwrap_or(f.path);
        if !order.contains(&top) {
            order.push(top);
        }
    }
    order
}

/// Canonical order of the children of a section such as `Proxy`.
pub fn section_order(section: &str) -> Vec<&'static str> {
    FIELDS
        .iter()
        .filter_map(|f| {
            let (s, leaf) = f.path.split_once('/')?;
            (s == section).then_some(leaf)
        })
        .collect()
}

/// Find a field by path, accepting `Proxy/Port`, `Proxy.Port` and any letter case.
pub fn find_field(name: &str) -> Option<&'static FieldSpec> {
    let wanted = name.replace('.', "/");
    FIELDS.iter().find(|f| f.path.eq_ignore_ascii_case(&wanted))
}

fn opt(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

fn set_opt(
    value: &str,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<Option<String>, String> {
    let v = value.trim();
    if v.is_empty() {
        Ok(None)
    } else {
        check(v)?;
        Ok(Some(v.to_string()))
    }
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        other => Err(format!("'{other}' is not true or false")),
    }
}

fn parse_range(value: &str, min: u32, max: u32) -> Result<u32, String> {
    let v = value.trim();
    let n: u32 = v
        .parse()
        .map_err(|_| format!("'{v}' is not a whole number; use {min}-{max}"))?;
    if n < min || n > max {
        return Err(format!("{n} is out of range; use {min}-{max}"));
    }
    Ok(n)
}

impl ConnectorConfig {
    /// The value of a field as it is written in the file (empty for an unset optional field).
    /// `path` must be one of [`FIELDS`].
    pub fn get(&self, path: &str) -> Option<String> {
        Some(match path {
            "SchemaVersion" => self.schema_version.to_string(),
            "Organization" => self.organization.clone(),
            "ExchangeServerType" => self.exchange_server_type.as_str().to_string(),
            "ClientAccessServer" => opt(&self.client_access_server),
            "AuthenticationMethod" => self.authentication_method.as_str().to_string(),
            "ChannelBinding" => self.channel_binding.as_str().to_string(),
            "Kerberos/Realm" => opt(&self.kerberos.realm),
            "Kerberos/KdcAddress" => opt(&self.kerberos.kdc_address),
            "Kerberos/ServicePrincipalName" => opt(&self.kerberos.service_principal_name),
            "Kerberos/RenewBeforeExpirySeconds" => {
                self.kerberos.renew_before_expiry_seconds.to_string()
            }
            "HostedServerAddress" => opt(&self.hosted_server_address),
            "ExchangeWebServiceURL" => opt(&self.exchange_web_service_url),
            "Proxy/Enabled" => self.proxy.enabled.to_string(),
            "Proxy/Host" => opt(&self.proxy.host),
            "Proxy/Port" => self.proxy.port.to_string(),
            "Proxy/UseCredentials" => self.proxy.use_credentials.to_string(),
            "Proxy/User" => opt(&self.proxy.user),
            "ServiceAccount/User" => opt(&self.service_account.user),
            "NotificationAccount/User" => opt(&self.notification_account.user),
            "NotificationAccount/Mailbox" => opt(&self.notification_account.mailbox),
            "IsCasFailoverEnabled" => self.is_cas_failover_enabled.to_string(),
            "EnableParallelCommandSupport" => self.enable_parallel_command_support.to_string(),
            "MaxParallelRunspaces" => self.max_parallel_runspaces.to_string(),
            "QuickSyncIntervalMinutes" => self.quick_sync_interval_minutes.to_string(),
            "FullSyncTimeOfDay" => self.full_sync_time_of_day.clone(),
            "TrustedCaFile" => opt(&self.trusted_ca_file),
            "LogLevel" => self.log_level.clone(),
            _ => return None,
        })
    }

    /// Set a field from its text form, checking syntax and range. An empty value resets an
    /// optional field (and a field with a default to that default). On error the config is
    /// unchanged and the message says what is wrong and what is expected.
    pub fn set(&mut self, path: &str, value: &str) -> Result<(), String> {
        let v = value.trim();
        let defaults = ConnectorConfig::new(&self.organization);
        if v.is_empty() {
            if let Some(d) = defaults.get(path) {
                if !d.is_empty() && path != "Organization" {
                    return self.set(path, &d);
                }
            }
        }
        match path {
            "SchemaVersion" => {
                let n = parse_range(v, 1, u32::MAX)?;
                if n > SCHEMA_VERSION {
                    return Err(format!(
                        "schema version {n} was written by a newer EAS Connector (this one reads up to {SCHEMA_VERSION}); upgrade EAS Connector"
                    ));
                }
                self.schema_version = n;
            }
            "Organization" => {
                validate::org_name(v)?;
                self.organization = v.to_string();
            }
            "ExchangeServerType" => {
                self.exchange_server_type = match v.to_ascii_lowercase().as_str() {
                    "onpremises" | "on-premises" => ExchangeServerType::OnPremises,
                    "hosted" => ExchangeServerType::Hosted,
                    _ => {
                        return Err(format!(
                            "'{v}' is not a server type; use OnPremises or Hosted"
                        ))
                    }
                }
            }
            "AuthenticationMethod" => {
                self.authentication_method = match v.to_ascii_lowercase().as_str() {
                    "auto" => AuthenticationMethod::Auto,
                    "kerberos" => AuthenticationMethod::Kerberos,
                    "negotiate" => AuthenticationMethod::Negotiate,
                    "ntlm" => AuthenticationMethod::Ntlm,
                    "basic" => AuthenticationMethod::Basic,
                    _ => {
                        return Err(format!(
                        "'{v}' is not an authentication method; use Auto, Kerberos, Negotiate, Ntlm or Basic"
                    ))
                    }
                }
            }
            "ChannelBinding" => {
                self.channel_binding = match v.to_ascii_lowercase().as_str() {
                    "auto" => ChannelBinding::Auto,
                    "off" => ChannelBinding::Off,
                    _ => return Err(format!("'{v}' is not a channel binding setting; use Auto or Off")),
                }
            }
            "Kerberos/Realm" => self.kerberos.realm = set_opt(v, validate::realm)?.map(|r| r.to_ascii_uppercase()),
            "Kerberos/KdcAddress" => self.kerberos.kdc_address = set_opt(v, validate::kdc_addresses)?,
            "Kerberos/ServicePrincipalName" => {
                self.kerberos.service_principal_name = set_opt(v, validate::service_principal_name)?
            }
            "Kerberos/RenewBeforeExpirySeconds" => {
                self.kerberos.renew_before_expiry_seconds = parse_range(v, 0, 86_400)?
            }
            "ClientAccessServer" => {
                self.client_access_server = set_opt(v, validate::server_address)?
            }
            "HostedServerAddress" => {
                self.hosted_server_address = set_opt(v, validate::hosted_address)?
            }
            "ExchangeWebServiceURL" => {
                self.exchange_web_service_url = set_opt(v, validate::ews_url)?
            }
            "Proxy/Enabled" => self.proxy.enabled = parse_bool(v)?,
            "Proxy/Host" => self.proxy.host = set_opt(v, validate::host)?,
            "Proxy/Port" => {
                let n = parse_range(v, 1, 65535).map_err(|e| format!("{e} (a TCP port)"))?;
                self.proxy.port = u16::try_from(n).map_err(|_| "out of range".to_string())?;
            }
            "Proxy/UseCredentials" => self.proxy.use_credentials = parse_bool(v)?,
            "Proxy/User" => self.proxy.user = set_opt(v, validate::proxy_user)?,
            "ServiceAccount/User" => self.service_account.user = set_opt(v, validate::account)?,
            "NotificationAccount/User" => {
                self.notification_account.user = set_opt(v, validate::account)?
            }
            "NotificationAccount/Mailbox" => {
                self.notification_account.mailbox = set_opt(v, validate::mailbox)?
            }
            "IsCasFailoverEnabled" => self.is_cas_failover_enabled = parse_bool(v)?,
            "EnableParallelCommandSupport" => self.enable_parallel_command_support = parse_bool(v)?,
            "MaxParallelRunspaces" => self.max_parallel_runspaces = parse_range(v, 1, 16)?,
            "QuickSyncIntervalMinutes" => {
                self.quick_sync_interval_minutes = parse_range(v, 5, 1440)?
            }
            "FullSyncTimeOfDay" => {
                validate::time_of_day(v)?;
                self.full_sync_time_of_day = v.to_string();
            }
            "TrustedCaFile" => self.trusted_ca_file = set_opt(v, |_| Ok(()))?,
            "LogLevel" => {
                let l = v.to_ascii_lowercase();
                if !["error", "warn", "info", "debug", "trace"].contains(&l.as_str()) {
                    return Err(format!(
                        "'{v}' is not a log level; use error, warn, info, debug or trace"
                    ));
                }
                self.log_level = l;
            }
            other => return Err(format!("'{other}' is not a configuration field")),
        }
        Ok(())
    }

    /// Whether the PowerShell address is a plain `http://` URL (WinRM message encryption).
    pub fn uses_plain_http(&self) -> bool {
        let address = match self.exchange_server_type {
            ExchangeServerType::OnPremises => self.client_access_server.as_deref(),
            ExchangeServerType::Hosted => self.hosted_server_address.as_deref(),
        };
        address.is_some_and(|a| a.to_ascii_lowercase().starts_with("http://"))
    }

    /// Problems that make the configuration incomplete or inconsistent as a whole (each field
    /// on its own is already valid). Returns (field path, problem, fix) triples.
    pub fn completeness_problems(&self) -> Vec<(&'static str, String, String)> {
        let mut out = Vec::new();
        match self.exchange_server_type {
            ExchangeServerType::OnPremises if self.client_access_server.is_none() => out.push((
                "ClientAccessServer",
                "is empty, but ExchangeServerType is OnPremises".to_string(),
                "set the FQDN of a Client Access Server, e.g. cas01.contoso.com".to_string(),
            )),
            ExchangeServerType::Hosted if self.hosted_server_address.is_none() => out.push((
                "HostedServerAddress",
                "is empty, but ExchangeServerType is Hosted".to_string(),
                "set the hosted Exchange server address your provider gave you".to_string(),
            )),
            _ => {}
        }
        if self.uses_plain_http() && self.authentication_method == AuthenticationMethod::Basic {
            let field = match self.exchange_server_type {
                ExchangeServerType::OnPremises => "ClientAccessServer",
                ExchangeServerType::Hosted => "HostedServerAddress",
            };
            out.push((
                "AuthenticationMethod",
                format!("is Basic, but {field} uses plain http:// (the password would travel in clear)"),
                "use an https:// address, or set AuthenticationMethod to Auto, Kerberos, Negotiate or Ntlm (WinRM messages are then encrypted)".to_string(),
            ));
        }
        if self.proxy.enabled && self.proxy.host.is_none() {
            out.push((
                "Proxy/Host",
                "is empty, but Proxy/Enabled is true".to_string(),
                "set the proxy host, or set Proxy/Enabled to false".to_string(),
            ));
        }
        if self.proxy.enabled && self.proxy.use_credentials && self.proxy.user.is_none() {
            out.push((
                "Proxy/User",
                "is empty, but Proxy/UseCredentials is true".to_string(),
                "set the proxy user, or set Proxy/UseCredentials to false".to_string(),
            ));
        }
        if self.service_account.user.is_none() {
            out.push((
                "ServiceAccount/User",
                "is empty".to_string(),
                "set the Exchange service account as DOMAIN\\user or user@domain".to_string(),
            ));
        }
        if self.notification_account.user.is_none() {
            out.push((
                "NotificationAccount/User",
                "is empty".to_string(),
                "set the notification account as DOMAIN\\user or user@domain".to_string(),
            ));
        }
        if self.notification_account.mailbox.is_none() {
            out.push((
                "NotificationAccount/Mailbox",
                "is empty".to_string(),
                "set the notification mailbox's SMTP address".to_string(),
            ));
        }
        if let Some(ca) = &self.trusted_ca_file {
            if !std::path::Path::new(ca).is_file() {
                out.push((
                    "TrustedCaFile",
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
    fn every_field_round_trips_through_get_and_set() {
        let c = ConnectorConfig::new("contoso");
        for f in FIELDS {
            let v = c
                .get(f.path)
                .unwrap_or_else(|| panic!("no getter for {}", f.path));
            let mut d = c.clone();
            d.set(f.path, &v)
                .unwrap_or_else(|e| panic!("{}: {e}", f.path));
            assert_eq!(c, d, "{}", f.path);
        }
    }

    #[test]
    fn set_rejects_bad_values_with_reasons() {
        let mut c = ConnectorConfig::new("contoso");
        assert!(c
            .set("Proxy/Port", "70000")
            .unwrap_err()
            .contains("1-65535"));
        assert!(c
            .set("Proxy/Port", "abc")
            .unwrap_err()
            .contains("whole number"));
        assert!(c
            .set("MaxParallelRunspaces", "0")
            .unwrap_err()
            .contains("1-16"));
        assert!(c
            .set("IsCasFailoverEnabled", "maybe")
            .unwrap_err()
            .contains("true or false"));
        assert!(c
            .set("ExchangeServerType", "Cloud")
            .unwrap_err()
            .contains("OnPremises or Hosted"));
        assert!(c.set("SchemaVersion", "9").unwrap_err().contains("newer"));
        assert!(c.set("Nope", "1").is_err());
        assert_eq!(c, ConnectorConfig::new("contoso"));
    }

    #[test]
    fn empty_value_restores_default() {
        let mut c = ConnectorConfig::new("contoso");
        c.set("Proxy/Port", "3128").unwrap();
        c.set("Proxy/Port", "").unwrap();
        assert_eq!(c.proxy.port, 8080);
        c.set("ClientAccessServer", "cas.contoso.com").unwrap();
        c.set("ClientAccessServer", " ").unwrap();
        assert_eq!(c.client_access_server, None);
    }

    #[test]
    fn field_lookup_is_forgiving() {
        assert_eq!(find_field("proxy.port").map(|f| f.path), Some("Proxy/Port"));
        assert_eq!(find_field("Proxy/Port").map(|f| f.path), Some("Proxy/Port"));
        assert!(find_field("Proxy/Password").is_none());
        assert_eq!(
            section_order("Proxy"),
            vec!["Enabled", "Host", "Port", "UseCredentials", "User"]
        );
        assert_eq!(
            find_field("kerberos.kdcaddress").map(|f| f.path),
            Some("Kerberos/KdcAddress")
        );
    }

    #[test]
    fn completeness() {
        let mut c = ConnectorConfig::new("contoso");
        let fields: Vec<_> = c.completeness_problems().into_iter().map(|p| p.0).collect();
        assert!(fields.contains(&"ClientAccessServer"));
        c.set("ClientAccessServer", "cas01.contoso.com").unwrap();
        c.set("ServiceAccount/User", "CONTOSO\\svc-eas").unwrap();
        c.set("NotificationAccount/User", "notify@contoso.com")
            .unwrap();
        c.set("NotificationAccount/Mailbox", "notify@contoso.com")
            .unwrap();
        assert!(c.completeness_problems().is_empty());
        c.set("Proxy/Enabled", "true").unwrap();
        assert_eq!(c.completeness_problems()[0].0, "Proxy/Host");
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
                .any(|p| p.0 == "AuthenticationMethod")
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
            .contains("port"));
        c.set("Kerberos/ServicePrincipalName", "HTTP/mail.contoso.com")
            .unwrap();
        assert!(c
            .set("Kerberos/ServicePrincipalName", "mail.contoso.com")
            .unwrap_err()
            .contains("HTTP/"));
        assert!(c
            .set("ChannelBinding", "sometimes")
            .unwrap_err()
            .contains("Auto or Off"));
        c.set("ChannelBinding", "off").unwrap();
        assert_eq!(c.channel_binding, ChannelBinding::Off);
        assert!(c
            .set("Kerberos/RenewBeforeExpirySeconds", "90000")
            .unwrap_err()
            .contains("0-86400"));
    }
}
