//! The one table of the configuration file's fields.
//!
//! Each entry names a field's element path (`Proxy/Port`), says what it is, and ties it to its
//! typed member of [`ConnectorConfig`] with the parser that checks it; printing, defaults (from
//! [`ConnectorConfig::new`]) and "empty means default" follow from that. Reading and writing the
//! file, `config set` and `config show`, the answers file and the wizard's checks all go through
//! [`FIELDS`] or one of its named entries ([`PROXY_PORT`], …), so a new field is one table line
//! plus its member. This module must not touch the disk and never sees a password.

use super::address::{ServerAddress, ServerList};
use super::model::{
    AuthenticationMethod, ChannelBinding, Choice, CloudCredential, ConnectorConfig,
    ExchangeServerType, LogLevel, TimeOfDay, SCHEMA_VERSION,
};
use super::validate::{self, ValueError};

/// One field of the file.
#[derive(Clone, Copy)]
pub struct Field {
    /// Element path below the root, `/`-separated, e.g. `Proxy/Port`.
    pub path: &'static str,
    /// What the field is, for `config show`, help texts and the answers file.
    pub about: &'static str,
    get: fn(&ConnectorConfig) -> String,
    set: fn(&mut ConnectorConfig, &str) -> Result<(), ValueError>,
}

impl std::fmt::Debug for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.path)
    }
}

impl PartialEq for Field {
    fn eq(&self, other: &Field) -> bool {
        self.path == other.path
    }
}

impl Field {
    /// The value as the file writes it (empty for an unset optional field).
    pub fn get(&self, config: &ConnectorConfig) -> String {
        (self.get)(config)
    }

    /// Set the field from its text form, checking syntax and range; no field takes a control
    /// character ([`validate::one_line`]), leading and trailing white space is dropped. An empty value resets an
    /// optional field, and a field with a default to that default. On error the configuration
    /// is unchanged and the error says what is wrong and what is expected.
    pub fn set(&self, config: &mut ConnectorConfig, value: &str) -> Result<(), ValueError> {
        let v = value.trim();
        validate::one_line(v)?;
        if v.is_empty() && *self != ORGANIZATION {
            let default = self.get(&ConnectorConfig::new(&config.organization));
            if !default.is_empty() {
                return (self.set)(config, &default);
            }
        }
        (self.set)(config, v)
    }

    /// Whether EAS Connector owns the value (never set by hand or by an answers file).
    pub fn managed(&self) -> bool {
        *self == SCHEMA_VERSION_FIELD || *self == ORGANIZATION
    }

    /// The section element (`Proxy`) and the leaf (`Port`); no section for a top-level field.
    pub fn section_and_leaf(&self) -> (Option<&'static str>, &'static str) {
        match self.path.split_once('/') {
            Some((s, l)) => (Some(s), l),
            None => (None, self.path),
        }
    }
}

/// How a member is written in the file.
trait Text {
    fn text(&self) -> String;
}

macro_rules! text_via {
    ($how:ident: $($t:ty),+) => {$(
        impl Text for $t {
            fn text(&self) -> String {
                $how(self)
            }
        }
    )+};
}

fn display(v: &impl ToString) -> String {
    v.to_string()
}

fn by_name(v: &impl Choice) -> String {
    v.name().to_string()
}

text_via!(display: String, u32, u16, bool, ServerAddress, ServerList, TimeOfDay);
text_via!(by_name: ExchangeServerType, AuthenticationMethod, ChannelBinding, LogLevel, CloudCredential);

impl<T: Text> Text for Option<T> {
    fn text(&self) -> String {
        self.as_ref().map(Text::text).unwrap_or_default()
    }
}

/// Empty text is `None`; anything else must pass `parse`.
fn optional<T>(
    v: &str,
    parse: impl Fn(&str) -> Result<T, ValueError>,
) -> Result<Option<T>, ValueError> {
    if v.trim().is_empty() {
        Ok(None)
    } else {
        parse(v.trim()).map(Some)
    }
}

/// Optional text that must pass `check`.
fn checked(
    v: &str,
    check: impl Fn(&str) -> Result<(), ValueError>,
) -> Result<Option<String>, ValueError> {
    optional(v, |v| check(v).map(|()| v.to_string()))
}

fn schema_version(v: &str) -> Result<u32, ValueError> {
    let n = validate::number(v, 1, u32::MAX, "")?;
    if n > SCHEMA_VERSION {
        return Err(ValueError::NewerSchema(n));
    }
    Ok(n)
}

fn organization(v: &str) -> Result<String, ValueError> {
    validate::org_name(v).map(|()| v.to_string())
}

/// The table: `NAME: "Path", member, parser, "what it is";`, in the order the file lists them.
macro_rules! fields {
    ($($name:ident: $path:literal, $($member:ident).+, $parse:expr, $about:literal;)+) => {
        $(
            #[doc = concat!("`", $path, "`: ", $about, ".")]
            pub const $name: Field = Field {
                path: $path,
                about: $about,
                get: |c| Text::text(&c.$($member).+),
                set: |c, v| {
                    c.$($member).+ = ($parse)(v)?;
                    Ok(())
                },
            };
        )+
        /// Every field, in the order the file lists them.
        pub const FIELDS: &[Field] = &[$($name),+];
    };
}

fields! {
    SCHEMA_VERSION_FIELD: "SchemaVersion", schema_version, schema_version,
        "configuration schema version";
    ORGANIZATION: "Organization", organization, organization,
        "Exchange organization this connector serves";
    EXCHANGE_SERVER_TYPE: "ExchangeServerType", exchange_server_type,
        <ExchangeServerType as Choice>::parse,
        "OnPremises, Hosted or Online (Exchange Online, Microsoft 365)";
    CLIENT_ACCESS_SERVER: "ClientAccessServer", client_access_server, ServerList::parse,
        "Client Access Server FQDN (host or host:port, HTTPS), or a URL such as http://cas01.contoso.com/PowerShell/; several, comma-separated: the first is used, the others are tried first on failover";
    HOSTED_SERVER_ADDRESS: "HostedServerAddress", hosted_server_address,
        |v| optional(v, ServerAddress::hosted),
        "hosted Exchange server address (host[:port] or https URL)";
    EWS_URL: "ExchangeWebServiceURL", exchange_web_service_url,
        |v| checked(v, validate::ews_url),
        "EWS URL; when set, Autodiscover is skipped";
    AUTHENTICATION_METHOD: "AuthenticationMethod", authentication_method,
        <AuthenticationMethod as Choice>::parse,
        "Auto (Kerberos, then NTLM, then Basic over HTTPS, from what the server offers), Kerberos, Negotiate, Ntlm or Basic";
    CHANNEL_BINDING: "ChannelBinding", channel_binding, <ChannelBinding as Choice>::parse,
        "Auto (bind HTTPS sign-ins to the server certificate: Extended Protection) or Off (a load balancer re-encrypts with another certificate)";
    KERBEROS_REALM: "Kerberos/Realm", kerberos.realm,
        |v| checked(v, validate::realm).map(|r| r.map(|r| r.to_ascii_uppercase())),
        "Kerberos realm, e.g. CORP.CONTOSO.COM; empty: the account's UPN suffix, else the server's DNS domain";
    KERBEROS_KDC_ADDRESS: "Kerberos/KdcAddress", kerberos.kdc_address,
        |v| checked(v, validate::kdc_addresses),
        "domain controllers (KDCs), host[:port], comma-separated; empty: DNS SRV _kerberos._tcp.<realm>, else the realm's name";
    KERBEROS_SPN: "Kerberos/ServicePrincipalName", kerberos.service_principal_name,
        |v| checked(v, validate::service_principal_name),
        "Exchange's SPN, e.g. HTTP/mail.contoso.com (load-balanced name with an alternate service account); empty: HTTP/<server FQDN>";
    KERBEROS_RENEW_BEFORE_EXPIRY: "Kerberos/RenewBeforeExpirySeconds",
        kerberos.renew_before_expiry_seconds,
        |v| validate::number(v, 0, 86_400, ""),
        "seconds before a Kerberos ticket expires at which a new one is fetched (0-86400)";
    PROXY_ENABLED: "Proxy/Enabled", proxy.enabled, validate::boolean,
        "use an HTTP proxy (true/false)";
    PROXY_HOST: "Proxy/Host", proxy.host, |v| checked(v, validate::host),
        "proxy host name or address";
    PROXY_PORT: "Proxy/Port", proxy.port,
        |v| validate::number(v, 1, 65_535, " (a TCP port)").map(|n| n as u16),
        "proxy port (1-65535)";
    PROXY_USE_CREDENTIALS: "Proxy/UseCredentials", proxy.use_credentials, validate::boolean,
        "authenticate to the proxy (true/false)";
    PROXY_USER: "Proxy/User", proxy.user, |v| checked(v, validate::proxy_user),
        "proxy user (password in the credential store)";
    PROXY_AUTHENTICATION_METHOD: "Proxy/AuthenticationMethod", proxy.authentication_method,
        <AuthenticationMethod as Choice>::parse,
        "how to sign in to the proxy: Auto (what its 407 offers: Negotiate, NTLM, Basic), Negotiate, Kerberos, Ntlm or Basic (sent up front)";
    PROXY_BYPASS_FOR_EXCHANGE: "Proxy/BypassForExchange", proxy.bypass_for_exchange,
        validate::boolean,
        "reach Exchange directly although the proxy is enabled (true/false); Microsoft cloud traffic always goes through the proxy";
    SERVICE_ACCOUNT_USER: "ServiceAccount/User", service_account.user,
        |v| checked(v, validate::account),
        "Exchange service account, DOMAIN\\user or UPN";
    NOTIFICATION_ACCOUNT_USER: "NotificationAccount/User", notification_account.user,
        |v| checked(v, validate::account),
        "notification account, DOMAIN\\user or UPN";
    NOTIFICATION_MAILBOX: "NotificationAccount/Mailbox", notification_account.mailbox,
        |v| checked(v, validate::mailbox),
        "notification mailbox SMTP address";
    CAS_FAILOVER: "IsCasFailoverEnabled", is_cas_failover_enabled, validate::boolean,
        "fail over to other Client Access Servers (true/false)";
    PARALLEL_COMMANDS: "EnableParallelCommandSupport", enable_parallel_command_support,
        validate::boolean,
        "run commands in parallel runspaces (true/false)";
    MAX_PARALLEL_RUNSPACES: "MaxParallelRunspaces", max_parallel_runspaces,
        |v| validate::number(v, 1, 16, ""),
        "runspaces used in parallel (1-16)";
    QUICK_SYNC_INTERVAL: "QuickSyncIntervalMinutes", quick_sync_interval_minutes,
        |v| validate::number(v, 5, 1440, ""),
        "minutes between quick syncs (5-1440)";
    FULL_SYNC_TIME: "FullSyncTimeOfDay", full_sync_time_of_day, TimeOfDay::parse,
        "daily full sync time, HH:MM (24-hour, local time)";
    TRUSTED_CA_FILE: "TrustedCaFile", trusted_ca_file, |v| checked(v, |_| Ok(())),
        "PEM file of extra CA certificates to trust";
    LOG_LEVEL: "LogLevel", log_level, <LogLevel as Choice>::parse,
        "error, warn, info, debug or trace";
    CLOUD_TENANT_ID: "Cloud/TenantId", cloud.tenant_id, |v| checked(v, validate::tenant),
        "Entra ID directory (tenant) ID, a GUID, or a verified domain such as contoso.onmicrosoft.com";
    CLOUD_APPLICATION_ID: "Cloud/ApplicationId", cloud.application_id,
        |v| checked(v, validate::guid).map(|g| g.map(|g| g.to_ascii_lowercase())),
        "the app registration's application (client) ID, a GUID";
    CLOUD_AUTHORITY: "Cloud/Authority", cloud.authority,
        |v| validate::cloud_url(v, "https://login.microsoftonline.com"),
        "Entra ID sign-in address without the tenant (national clouds differ, e.g. https://login.microsoftonline.us)";
    CLOUD_GRAPH_URL: "Cloud/GraphUrl", cloud.graph_url,
        |v| validate::cloud_url(v, "https://graph.microsoft.com"),
        "Microsoft Graph address (national clouds differ, e.g. https://graph.microsoft.us)";
    CLOUD_EXCHANGE_URL: "Cloud/ExchangeUrl", cloud.exchange_url,
        |v| validate::cloud_url(v, "https://outlook.office365.com"),
        "Exchange Online address (national clouds differ, e.g. https://outlook.office365.us)";
    CLOUD_CREDENTIAL: "Cloud/Credential", cloud.credential, <CloudCredential as Choice>::parse,
        "how the app signs in: Certificate (key in the credential store; `cloud set-certificate`) or Secret (`cloud set-secret`)";
    CLOUD_CERTIFICATE_THUMBPRINT: "Cloud/CertificateThumbprint", cloud.certificate_thumbprint,
        |v| optional(v, validate::thumbprint),
        "SHA-1 thumbprint of the imported certificate (informational; written by `cloud set-certificate`)";
}

/// Find a field by path, accepting `Proxy/Port`, `Proxy.Port` and any letter case.
pub fn find(name: &str) -> Option<&'static Field> {
    let wanted = name.replace('.', "/");
    FIELDS.iter().find(|f| f.path.eq_ignore_ascii_case(&wanted))
}

/// Canonical order of the top-level elements (used to place new elements).
pub fn top_level_order() -> Vec<&'static str> {
    let mut order: Vec<&'static str> = Vec::new();
    for f in FIELDS {
        let top = f.section_and_leaf().0.unwrap_or(f.path);
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
        .filter_map(|f| match f.section_and_leaf() {
            (Some(s), leaf) if s == section => Some(leaf),
            _ => None,
        })
        .collect()
}

/// Why `config set` or an answers file could not set a field named by text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    #[error("'{f}' is not a configuration field", f = validate::shown(.0))]
    Unknown(String),
    #[error("{field}: {problem}")]
    Value {
        field: &'static str,
        problem: ValueError,
    },
}

impl ConnectorConfig {
    /// The value of the field at `path` as the file writes it; `None` for an unknown path.
    pub fn get(&self, path: &str) -> Option<String> {
        find(path).map(|f| f.get(self))
    }

    /// Set the field at `path` from its text form ([`Field::set`]).
    pub fn set(&mut self, path: &str, value: &str) -> Result<(), SetError> {
        let field = find(path).ok_or_else(|| SetError::Unknown(path.to_string()))?;
        field.set(self, value).map_err(|problem| SetError::Value {
            field: field.path,
            problem,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_round_trips_through_get_and_set() {
        let c = ConnectorConfig::new("contoso");
        for f in FIELDS {
            let v = f.get(&c);
            let mut d = c.clone();
            f.set(&mut d, &v)
                .unwrap_or_else(|e| panic!("{}: {e}", f.path));
            assert_eq!(c, d, "{}", f.path);
        }
    }

    #[test]
    fn every_field_reaches_its_own_member_and_no_other() {
        // A value other than the default, per field: setting it changes what that field
        // reads back, and nothing any other field reads.
        let sample = |f: &Field| match f.path {
            "SchemaVersion" => "1",
            "Organization" => "fabrikam",
            "ExchangeServerType" => "Hosted",
            "ClientAccessServer" | "HostedServerAddress" => "cas09.contoso.com",
            "ExchangeWebServiceURL" => "https://mail.contoso.com/EWS/Exchange.asmx",
            "AuthenticationMethod" | "Proxy/AuthenticationMethod" => "Ntlm",
            "ChannelBinding" => "Off",
            "Kerberos/Realm" => "CORP.CONTOSO.COM",
            "Kerberos/KdcAddress" | "Proxy/Host" => "dc1.contoso.com",
            "Kerberos/ServicePrincipalName" => "HTTP/mail.contoso.com",
            "Kerberos/RenewBeforeExpirySeconds" => "77",
            "Proxy/Port" => "3128",
            "MaxParallelRunspaces" => "7",
            "QuickSyncIntervalMinutes" => "33",
            "FullSyncTimeOfDay" => "04:30",
            "TrustedCaFile" => "/etc/ca.pem",
            "LogLevel" => "debug",
            "Cloud/TenantId" => "contoso.onmicrosoft.com",
            "Cloud/ApplicationId" => "11111111-2222-3333-4444-555555555555",
            "Cloud/Authority" => "https://login.microsoftonline.us",
            "Cloud/GraphUrl" => "https://graph.microsoft.us",
            "Cloud/ExchangeUrl" => "https://outlook.office365.us",
            "Cloud/Credential" => "Secret",
            "Cloud/CertificateThumbprint" => "00112233445566778899AABBCCDDEEFF00112233",
            p if p.ends_with("User") || p.ends_with("Mailbox") => "x@contoso.com",
            _ if f.get(&ConnectorConfig::new("contoso")) == "true" => "false",
            _ => "true",
        };
        let base = ConnectorConfig::new("contoso");
        for f in FIELDS.iter().filter(|f| f.path != "SchemaVersion") {
            let mut c = base.clone();
            f.set(&mut c, sample(f))
                .unwrap_or_else(|e| panic!("{}: {e}", f.path));
            assert_ne!(f.get(&c), f.get(&base), "{} did not change", f.path);
            for g in FIELDS.iter().filter(|g| g.path != f.path) {
                assert_eq!(g.get(&c), g.get(&base), "{} changed {}", f.path, g.path);
            }
        }
    }

    #[test]
    fn set_rejects_bad_values_with_reasons() {
        let mut c = ConnectorConfig::new("contoso");
        let err = |c: &mut ConnectorConfig, p: &str, v: &str| c.set(p, v).unwrap_err().to_string();
        assert!(err(&mut c, "Proxy/Port", "70000").contains("1-65535 (a TCP port)"));
        assert!(err(&mut c, "Proxy/Port", "abc").contains("whole number"));
        assert!(err(&mut c, "MaxParallelRunspaces", "0").contains("1-16"));
        assert!(err(&mut c, "IsCasFailoverEnabled", "maybe").contains("true or false"));
        assert!(err(&mut c, "ExchangeServerType", "Cloud").contains("OnPremises, Hosted or Online"));
        assert!(err(&mut c, "AuthenticationMethod", "x")
            .contains("use Auto, Kerberos, Negotiate, Ntlm or Basic"));
        assert!(err(&mut c, "SchemaVersion", "9").contains("newer"));
        assert!(err(&mut c, "FullSyncTimeOfDay", "24:00").contains("HH:MM"));
        assert!(err(&mut c, "LogLevel", "loud").contains("error, warn, info, debug or trace"));
        assert_eq!(
            c.set("Nope", "1").unwrap_err(),
            SetError::Unknown("Nope".into())
        );
        assert!(err(&mut c, "ClientAccessServer", "cas01").starts_with("ClientAccessServer: "));
        // One rule for every field: no control character inside a value.
        for f in FIELDS {
            let e = f.set(&mut c, "LAB\\svc\nevil").unwrap_err();
            assert!(
                matches!(e, ValueError::ControlCharacter { .. }),
                "{}: {e}",
                f.path
            );
        }
        assert_eq!(c, ConnectorConfig::new("contoso"));
    }

    #[test]
    fn empty_value_restores_default_and_names_are_forgiving() {
        let mut c = ConnectorConfig::new("contoso");
        c.set("Proxy/Port", "3128").unwrap();
        c.set("Proxy/Port", "").unwrap();
        assert_eq!(c.proxy.port, 8080);
        c.set("ClientAccessServer", "cas.contoso.com").unwrap();
        c.set("ClientAccessServer", " ").unwrap();
        assert!(c.client_access_server.is_empty());
        c.set("exchangeservertype", "on-premises").unwrap();
        c.set("Kerberos/Realm", "corp.contoso.com").unwrap();
        assert_eq!(c.kerberos.realm.as_deref(), Some("CORP.CONTOSO.COM"));
        c.set("FullSyncTimeOfDay", "04:05").unwrap();
        assert_eq!(c.full_sync_time_of_day, TimeOfDay { hour: 4, minute: 5 });
        assert!(c.set("Organization", "").is_err());
    }

    #[test]
    fn field_lookup_and_order() {
        assert_eq!(find("proxy.port"), Some(&PROXY_PORT));
        assert_eq!(find("Proxy/Port"), Some(&PROXY_PORT));
        assert!(find("Proxy/Password").is_none());
        assert_eq!(find("kerberos.kdcaddress"), Some(&KERBEROS_KDC_ADDRESS));
        assert_eq!(
            section_order("Proxy"),
            vec![
                "Enabled",
                "Host",
                "Port",
                "UseCredentials",
                "User",
                "AuthenticationMethod",
                "BypassForExchange"
            ]
        );
        assert_eq!(top_level_order()[0], "SchemaVersion");
        let managed: Vec<_> = FIELDS
            .iter()
            .filter(|f| f.managed())
            .map(|f| f.path)
            .collect();
        assert_eq!(managed, ["SchemaVersion", "Organization"]);
        let mut paths: Vec<_> = FIELDS.iter().map(|f| f.path.to_ascii_lowercase()).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), FIELDS.len(), "two fields share a path");
    }
}
