//! What the admin typed, as text, and how it becomes a [`Plan`].
//!
//! The form holds every field of the wizard's input pages as the text in its box. Field
//! errors come from the configuration module's own validators ([`ConnectorConfig::set`]), so
//! the wizard accepts exactly what `eas-connector config set` accepts (and a trusted CA file
//! must also exist and hold a PEM certificate: the only file this module reads). Passwords are
//! [`Secret`]s: typed ones replace the stored ones, empty ones keep what is stored. This module
//! does no other I/O and must never put a password into an error, a label or a `Debug` string.

use super::i18n::Lang;
use crate::cloud::certificate::{AppCertificate, ImportError};
use crate::config::model::CloudCredential;
use crate::config::validate::{shown, ValueError};
use crate::config::{
    fields, AuthenticationMethod, Choice, ConnectorConfig, ExchangeServerType, Field, LogLevel,
};
use crate::secrets::{Secret, SecretKind};
use crate::setup::Plan;
use crate::wire::kerberos::names::{self, NameError, RealmSource};
use std::sync::Arc;

/// Every value the input pages edit.
#[derive(Debug, Clone)]
pub struct Form {
    pub server_type: ExchangeServerType,
    pub cas: String,
    pub hosted: String,
    pub show_advanced: bool,
    pub ews_url: String,
    pub ca_file: String,
    pub proxy_enabled: bool,
    pub proxy_host: String,
    pub proxy_port: String,
    pub proxy_use_credentials: bool,
    pub proxy_user: String,
    pub proxy_password: Secret,
    /// How the connector signs in to the proxy (`Proxy/AuthenticationMethod`).
    pub proxy_auth_method: AuthenticationMethod,
    pub service_user: String,
    pub service_password: Secret,
    /// The Service account page's advanced Kerberos settings are shown.
    pub show_kerberos: bool,
    pub kerberos_realm: String,
    pub kerberos_kdc: String,
    pub kerberos_spn: String,
    /// How the service account signs in (`AuthenticationMethod`).
    pub auth_method: AuthenticationMethod,
    pub notify_user: String,
    pub notify_mailbox: String,
    pub notify_password: Secret,
    pub cas_failover: bool,
    pub parallel: bool,
    pub max_runspaces: String,
    pub quick_sync: String,
    pub full_sync: String,
    /// How much the service logs (`LogLevel`).
    pub log_level: LogLevel,
    /// Next was refused on this page: empty required fields say so.
    pub show_required: bool,
    /// Browse… found no file dialog: the CA file's path is to be typed.
    pub no_file_dialog: bool,
    /// Compliance source: Intune (Microsoft Graph) besides the access policy file.
    pub intune: bool,
    pub cloud_tenant: String,
    pub cloud_app: String,
    /// `Cloud/Authority` and `Cloud/GraphUrl`: Microsoft's public cloud unless the
    /// configuration (a national cloud) or the lab says otherwise; not on the page.
    pub cloud_authority: String,
    pub cloud_graph_url: String,
    /// `Cloud/CertificateThumbprint` as configured (a certificate read here replaces it).
    pub cloud_thumbprint: String,
    /// How the app signs in to Entra ID (`Cloud/Credential`).
    pub cloud_credential: CloudCredential,
    /// The app's certificate file (PEM with its key, or PFX), as typed or picked.
    pub cloud_cert_file: String,
    /// The PFX's password (empty for none or a PEM).
    pub cloud_cert_password: Secret,
    /// The certificate file, read and checked when its path or password changed.
    pub cloud_cert: Option<Result<Arc<AppCertificate>, Arc<ImportError>>>,
    /// The app's client secret (its Value).
    pub cloud_secret: Secret,
    /// Browse… found no file dialog for the certificate: its path is to be typed.
    pub no_cert_dialog: bool,
    /// Which passwords are already in the vault (kept unless retyped).
    pub stored: Stored,
}

/// Which passwords the vault already holds. Never the values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stored {
    pub service: bool,
    pub notification: bool,
    pub proxy: bool,
    /// The cloud app's client secret.
    pub cloud_secret: bool,
    /// The cloud app's certificate and key.
    pub cloud_certificate: bool,
}

impl Stored {
    pub fn has(self, kind: SecretKind) -> bool {
        match kind {
            SecretKind::ServiceAccount => self.service,
            SecretKind::NotificationAccount => self.notification,
            SecretKind::Proxy => self.proxy,
            SecretKind::CloudClientSecret => self.cloud_secret,
            SecretKind::CloudCertificate | SecretKind::CloudPrivateKey => self.cloud_certificate,
        }
    }
}

impl Default for Form {
    fn default() -> Self {
        Form::from_config(&ConnectorConfig::new("default"), Stored::default())
    }
}

impl Form {
    /// The form for an existing configuration (Reconfigure), or defaults.
    pub fn from_config(c: &ConnectorConfig, stored: Stored) -> Self {
        Form {
            server_type: c.exchange_server_type,
            cas: fields::CLIENT_ACCESS_SERVER.get(c),
            hosted: fields::HOSTED_SERVER_ADDRESS.get(c),
            show_advanced: c.exchange_web_service_url.is_some() || c.trusted_ca_file.is_some(),
            ews_url: fields::EWS_URL.get(c),
            ca_file: fields::TRUSTED_CA_FILE.get(c),
            proxy_enabled: c.proxy.enabled,
            proxy_host: fields::PROXY_HOST.get(c),
            proxy_port: fields::PROXY_PORT.get(c),
            proxy_use_credentials: c.proxy.use_credentials,
            proxy_user: fields::PROXY_USER.get(c),
            proxy_password: Secret::new(""),
            proxy_auth_method: c.proxy.authentication_method,
            service_user: fields::SERVICE_ACCOUNT_USER.get(c),
            service_password: Secret::new(""),
            show_kerberos: c.kerberos.realm.is_some()
                || c.kerberos.kdc_address.is_some()
                || c.kerberos.service_principal_name.is_some(),
            kerberos_realm: fields::KERBEROS_REALM.get(c),
            kerberos_kdc: fields::KERBEROS_KDC_ADDRESS.get(c),
            kerberos_spn: fields::KERBEROS_SPN.get(c),
            auth_method: c.authentication_method,
            notify_user: fields::NOTIFICATION_ACCOUNT_USER.get(c),
            notify_mailbox: fields::NOTIFICATION_MAILBOX.get(c),
            notify_password: Secret::new(""),
            cas_failover: c.is_cas_failover_enabled,
            parallel: c.enable_parallel_command_support,
            max_runspaces: fields::MAX_PARALLEL_RUNSPACES.get(c),
            quick_sync: fields::QUICK_SYNC_INTERVAL.get(c),
            full_sync: fields::FULL_SYNC_TIME.get(c),
            log_level: c.log_level,
            show_required: false,
            no_file_dialog: false,
            intune: c.cloud.is_configured(),
            cloud_tenant: fields::CLOUD_TENANT_ID.get(c),
            cloud_app: fields::CLOUD_APPLICATION_ID.get(c),
            cloud_authority: fields::CLOUD_AUTHORITY.get(c),
            cloud_graph_url: fields::CLOUD_GRAPH_URL.get(c),
            cloud_thumbprint: fields::CLOUD_CERTIFICATE_THUMBPRINT.get(c),
            cloud_credential: c.cloud.credential,
            cloud_cert_file: String::new(),
            cloud_cert_password: Secret::new(""),
            cloud_cert: None,
            cloud_secret: Secret::new(""),
            no_cert_dialog: false,
            stored,
        }
    }

    /// Every field the wizard owns, with its text. Fields of switched-off sections are
    /// written as they are, so turning a proxy off keeps its host for later.
    pub fn fields(&self) -> Vec<(&'static Field, String)> {
        let hosted = self.server_type == ExchangeServerType::Hosted;
        let f: Vec<(&'static Field, String)> = vec![
            (
                &fields::EXCHANGE_SERVER_TYPE,
                self.server_type.as_str().to_string(),
            ),
            (
                &fields::CLIENT_ACCESS_SERVER,
                if hosted {
                    String::new()
                } else {
                    self.cas.clone()
                },
            ),
            (
                &fields::HOSTED_SERVER_ADDRESS,
                if hosted {
                    self.hosted.clone()
                } else {
                    String::new()
                },
            ),
            (&fields::EWS_URL, self.ews_url.clone()),
            (&fields::TRUSTED_CA_FILE, self.ca_file.clone()),
            (&fields::PROXY_ENABLED, self.proxy_enabled.to_string()),
            (&fields::PROXY_HOST, self.proxy_host.clone()),
            (&fields::PROXY_PORT, self.proxy_port.clone()),
            (
                &fields::PROXY_USE_CREDENTIALS,
                self.proxy_use_credentials.to_string(),
            ),
            (&fields::PROXY_USER, self.proxy_user.clone()),
            (
                &fields::PROXY_AUTHENTICATION_METHOD,
                self.proxy_auth_method.name().to_string(),
            ),
            (&fields::SERVICE_ACCOUNT_USER, self.service_user.clone()),
            (&fields::KERBEROS_REALM, self.kerberos_realm.clone()),
            (&fields::KERBEROS_KDC_ADDRESS, self.kerberos_kdc.clone()),
            (&fields::KERBEROS_SPN, self.kerberos_spn.clone()),
            (&fields::NOTIFICATION_ACCOUNT_USER, self.notify_user.clone()),
            (&fields::NOTIFICATION_MAILBOX, self.notify_mailbox.clone()),
            (&fields::CAS_FAILOVER, self.cas_failover.to_string()),
            (&fields::PARALLEL_COMMANDS, self.parallel.to_string()),
            (&fields::MAX_PARALLEL_RUNSPACES, self.max_runspaces.clone()),
            (&fields::QUICK_SYNC_INTERVAL, self.quick_sync.clone()),
            (&fields::FULL_SYNC_TIME, self.full_sync.clone()),
            (
                &fields::AUTHENTICATION_METHOD,
                self.auth_method.name().to_string(),
            ),
            (&fields::LOG_LEVEL, self.log_level.name().to_string()),
            // "Access policy file only" leaves no Intune source configured.
            (
                &fields::CLOUD_TENANT_ID,
                if self.intune {
                    self.cloud_tenant.clone()
                } else {
                    String::new()
                },
            ),
            (
                &fields::CLOUD_APPLICATION_ID,
                if self.intune {
                    self.cloud_app.clone()
                } else {
                    String::new()
                },
            ),
            (
                &fields::CLOUD_CREDENTIAL,
                self.cloud_credential.name().to_string(),
            ),
            (&fields::CLOUD_AUTHORITY, self.cloud_authority.clone()),
            (&fields::CLOUD_GRAPH_URL, self.cloud_graph_url.clone()),
            // What `configure --answers` writes for the certificate it imports.
            (
                &fields::CLOUD_CERTIFICATE_THUMBPRINT,
                match self.cloud_certificate() {
                    Some(c) => c.thumbprint,
                    None => self.cloud_thumbprint.clone(),
                },
            ),
        ];
        f.into_iter()
            .map(|(k, v)| (k, v.trim().to_string()))
            .collect()
    }

    /// The passwords that were typed (the rest keep their stored value).
    pub fn typed_passwords(&self) -> Vec<(SecretKind, Secret)> {
        let mut out = Vec::new();
        if !self.service_password.is_empty() {
            out.push((SecretKind::ServiceAccount, self.service_password.clone()));
        }
        if !self.notify_password.is_empty() {
            out.push((
                SecretKind::NotificationAccount,
                self.notify_password.clone(),
            ));
        }
        if self.proxy_enabled && self.proxy_use_credentials && !self.proxy_password.is_empty() {
            out.push((SecretKind::Proxy, self.proxy_password.clone()));
        }
        if self.intune
            && self.cloud_credential == CloudCredential::Secret
            && !self.cloud_secret.is_empty()
        {
            out.push((SecretKind::CloudClientSecret, self.cloud_secret.clone()));
        }
        out
    }

    /// The certificate to import, when Intune signs in with one and a file was read.
    pub fn cloud_certificate(&self) -> Option<AppCertificate> {
        match (&self.cloud_cert, self.intune, self.cloud_credential) {
            (Some(Ok(c)), true, CloudCredential::Certificate) => Some((**c).clone()),
            _ => None,
        }
    }

    /// Read the certificate file again (after its path or password changed): `None` while
    /// the path names no file.
    pub fn read_cloud_certificate(&mut self) {
        let path = self.cloud_cert_file.trim();
        self.cloud_cert = (!path.is_empty() && std::path::Path::new(path).is_file()).then(|| {
            let password =
                (!self.cloud_cert_password.is_empty()).then_some(&self.cloud_cert_password);
            crate::cloud::certificate::import_file(std::path::Path::new(path), password)
                .map(Arc::new)
                .map_err(Arc::new)
        });
    }

    /// The Compliance source page is complete: the policy file alone, or Intune's tenant,
    /// application and a credential (a certificate read without error, a secret typed, or
    /// either already stored).
    pub fn compliance_ok(&self) -> bool {
        if !self.intune {
            return true;
        }
        let ids = self.ok(
            &[&fields::CLOUD_TENANT_ID, &fields::CLOUD_APPLICATION_ID],
            &[&fields::CLOUD_TENANT_ID, &fields::CLOUD_APPLICATION_ID],
        );
        ids && self.cloud_credential_ok()
    }

    /// Intune's credential is there: typed, read, or stored.
    pub fn cloud_credential_ok(&self) -> bool {
        match self.cloud_credential {
            CloudCredential::Certificate => match &self.cloud_cert {
                Some(r) => r.is_ok(),
                None => self.cloud_cert_file.trim().is_empty() && self.stored.cloud_certificate,
            },
            CloudCredential::Secret => self.has_password(SecretKind::CloudClientSecret),
        }
    }

    /// The plan for `setup::apply` / `setup::validate_plan`.
    pub fn plan(&self, replace: bool, register_service: bool) -> Plan {
        Plan {
            fields: self.fields(),
            passwords: self.typed_passwords(),
            cloud_certificate: self.cloud_certificate(),
            replace,
            register_service,
            skip_validation: false,
            service_exe: service_exe(),
        }
    }

    /// The value typed for a configuration field.
    pub fn value(&self, field: &Field) -> String {
        self.fields()
            .into_iter()
            .find(|(k, _)| *k == field)
            .map(|(_, v)| v)
            .unwrap_or_default()
    }

    /// A field's value as the configuration will hold it (e.g. a realm in capitals), or as
    /// typed while it is invalid.
    pub fn written(&self, field: &Field) -> String {
        let v = self.value(field);
        let mut c = ConnectorConfig::new("default");
        match field.set(&mut c, &v) {
            Ok(()) => field.get(&c),
            Err(_) => v,
        }
    }

    /// The configuration module's complaint about a field's value, if any, in English. Empty
    /// values are not errors here; [`Form::missing`] reports required fields.
    pub fn error(&self, field: &Field) -> Option<String> {
        self.error_in(Lang::En, field)
    }

    /// [`Form::error`] in the admin's language; after a refused Next also "required" under
    /// an empty required field.
    pub fn error_in(&self, l: Lang, field: &Field) -> Option<String> {
        if self.show_required && self.required(field) && self.missing(field) {
            return Some(l.t("Required: fill this in to go on.").to_string());
        }
        self.problem(field).map(|p| p.text(l))
    }

    /// The message under a password box after a refused Next, when none is typed or stored.
    pub fn password_error(&self, l: Lang, kind: SecretKind) -> Option<String> {
        (self.show_required && !self.has_password(kind))
            .then(|| l.t("Required: fill this in to go on.").to_string())
    }

    /// Whether a field must be filled in (with the sections now switched on).
    pub fn required(&self, field: &Field) -> bool {
        let address = match self.server_type {
            ExchangeServerType::OnPremises => &fields::CLIENT_ACCESS_SERVER,
            ExchangeServerType::Hosted => &fields::HOSTED_SERVER_ADDRESS,
            ExchangeServerType::Online => &fields::CLOUD_TENANT_ID,
        };
        *field == *address
            || *field == fields::SERVICE_ACCOUNT_USER
            || *field == fields::NOTIFICATION_ACCOUNT_USER
            || *field == fields::NOTIFICATION_MAILBOX
            || (self.proxy_enabled && *field == fields::PROXY_HOST)
            || (self.proxy_enabled && self.proxy_use_credentials && *field == fields::PROXY_USER)
            || (self.intune
                && (*field == fields::CLOUD_TENANT_ID || *field == fields::CLOUD_APPLICATION_ID))
    }

    /// What is wrong with a field's value, as data.
    pub fn problem(&self, field: &Field) -> Option<Problem> {
        let raw = self.raw(field);
        let v = raw.trim();
        if v.is_empty() {
            return None;
        }
        if *field == fields::TRUSTED_CA_FILE {
            if let Some(p) = ca_file_problem(v) {
                return Some(p);
            }
        }
        let mut c = ConnectorConfig::new("default");
        field.set(&mut c, v).err().map(Problem::Value)
    }

    /// A field's text as typed, also while its page does not write it (the address of the
    /// server type not chosen).
    fn raw(&self, field: &Field) -> String {
        if *field == fields::CLIENT_ACCESS_SERVER {
            self.cas.clone()
        } else if *field == fields::HOSTED_SERVER_ADDRESS {
            self.hosted.clone()
        } else {
            self.value(field)
        }
    }

    /// Whether a required text field is still empty.
    pub fn missing(&self, field: &Field) -> bool {
        self.raw(field).trim().is_empty()
    }

    /// Whether a password is either typed or stored.
    pub fn has_password(&self, kind: SecretKind) -> bool {
        let typed = match kind {
            SecretKind::ServiceAccount => &self.service_password,
            SecretKind::NotificationAccount => &self.notify_password,
            SecretKind::Proxy => &self.proxy_password,
            SecretKind::CloudClientSecret => &self.cloud_secret,
            SecretKind::CloudCertificate | SecretKind::CloudPrivateKey => {
                return self.cloud_certificate().is_some() || self.stored.has(kind)
            }
        };
        !typed.is_empty() || self.stored.has(kind)
    }

    fn ok(&self, paths: &[&Field], required: &[&Field]) -> bool {
        paths.iter().all(|p| self.error(p).is_none()) && required.iter().all(|p| !self.missing(p))
    }

    /// The Server page is complete.
    pub fn server_ok(&self) -> bool {
        let addr = match self.server_type {
            ExchangeServerType::OnPremises => &fields::CLIENT_ACCESS_SERVER,
            ExchangeServerType::Hosted => &fields::HOSTED_SERVER_ADDRESS,
            ExchangeServerType::Online => &fields::CLOUD_TENANT_ID,
        };
        self.ok(&[addr, &fields::EWS_URL, &fields::TRUSTED_CA_FILE], &[addr])
    }

    /// The Proxy page is complete.
    pub fn proxy_ok(&self) -> bool {
        if !self.proxy_enabled {
            return true;
        }
        if !self.ok(
            &[&fields::PROXY_HOST, &fields::PROXY_PORT],
            &[&fields::PROXY_HOST],
        ) {
            return false;
        }
        !self.proxy_use_credentials
            || (self.ok(&[&fields::PROXY_USER], &[&fields::PROXY_USER])
                && self.has_password(SecretKind::Proxy))
    }

    /// The Service account page is complete.
    pub fn service_ok(&self) -> bool {
        let mut paths = vec![&fields::SERVICE_ACCOUNT_USER];
        paths.extend(KERBEROS_FIELDS);
        self.ok(&paths, &[&fields::SERVICE_ACCOUNT_USER])
            && self.has_password(SecretKind::ServiceAccount)
    }

    /// Whether the advanced Kerberos settings are shown: when asked for, and always while one
    /// of them is wrong (an error must never hide behind a collapsed section).
    pub fn kerberos_open(&self) -> bool {
        self.show_kerberos || KERBEROS_FIELDS.iter().any(|p| self.error(p).is_some())
    }

    /// The host part of the Exchange server's address as typed: `host[:port]` or a URL
    /// (`http://cas01.contoso.com/PowerShell/`); empty when there is none.
    pub fn server_host(&self) -> String {
        let address = match self.server_type {
            ExchangeServerType::OnPremises => self.cas.trim(),
            ExchangeServerType::Hosted => self.hosted.trim(),
            ExchangeServerType::Online => self.cloud_tenant.trim(),
        };
        let host = if address.contains("://") {
            url::Url::parse(address)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_default()
        } else {
            crate::config::validate::split_host_port(address)
                .map(|(h, _)| h)
                .unwrap_or_else(|_| address.to_string())
        };
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string()
    }

    /// The Kerberos realm the service account will use and where it comes from, or why none
    /// can be found (`exchange::kerberos::names::client_principal`, which the sign-in itself
    /// uses). `None` while the account is empty or invalid (its own error says why); a realm
    /// setting is shown as typed, valid or not (its error is under its field). The server's
    /// name is taken as typed; at sign-in Kerberos uses its canonical DNS name, which has the
    /// same domain unless it is an alias.
    pub fn kerberos_realm(&self) -> Option<Result<(String, RealmSource), NameError>> {
        let user = self.service_user.trim();
        if user.is_empty() || self.error(&fields::SERVICE_ACCOUNT_USER).is_some() {
            return None;
        }
        let realm = self.kerberos_realm.trim();
        let configured = (!realm.is_empty()).then_some(realm);
        Some(
            names::client_principal(user, configured, &self.server_host())
                .map(|(p, source)| (p.realm, source)),
        )
    }

    /// The Notification account page is complete.
    pub fn notification_ok(&self) -> bool {
        let f = [
            &fields::NOTIFICATION_ACCOUNT_USER,
            &fields::NOTIFICATION_MAILBOX,
        ];
        self.ok(&f, &f) && self.has_password(SecretKind::NotificationAccount)
    }

    /// The Options page is complete.
    pub fn options_ok(&self) -> bool {
        self.ok(
            &[
                &fields::MAX_PARALLEL_RUNSPACES,
                &fields::QUICK_SYNC_INTERVAL,
                &fields::FULL_SYNC_TIME,
            ],
            &[],
        )
    }
}

/// What is wrong with a value the admin typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The configuration validators refused it.
    Value(ValueError),
    /// The CA file does not exist or is a folder.
    NoSuchFile(String),
    /// The CA file holds no PEM certificate (e.g. a DER `.cer`).
    NotPem(String),
    /// The CA file could not be read.
    Unreadable { path: String, error: String },
}

impl Problem {
    /// The message under the field.
    pub fn text(&self, l: Lang) -> String {
        match self {
            Problem::Value(e) => super::words::value_error(l, e),
            Problem::NoSuchFile(p) => l.f(
                "'{}' does not exist or is not a file; give the full path of a PEM file, or clear the field",
                &[&shown(p)],
            ),
            Problem::NotPem(p) => l.f(
                "'{}' holds no PEM certificate (-----BEGIN CERTIFICATE-----); choose the CA certificate exported as Base-64 (PEM), or clear the field",
                &[&shown(p)],
            ),
            Problem::Unreadable { path, error } => {
                l.f("'{}' could not be read: {}", &[&shown(path), error])
            }
        }
    }
}

/// Whether a CA file can be used: it exists and holds at least one PEM certificate. Reads at
/// most 4 MiB (a bundle of every public root is about 250 KiB).
fn ca_file_problem(path: &str) -> Option<Problem> {
    use std::io::Read;
    let p = std::path::Path::new(path);
    if !p.is_file() {
        return Some(Problem::NoSuchFile(path.to_string()));
    }
    let mut buf = Vec::new();
    match std::fs::File::open(p).and_then(|f| f.take(4 << 20).read_to_end(&mut buf)) {
        Err(e) => Some(Problem::Unreadable {
            path: path.to_string(),
            error: e.to_string(),
        }),
        Ok(_) => {
            let text = String::from_utf8_lossy(&buf);
            (!text.contains("-----BEGIN CERTIFICATE-----"))
                .then(|| Problem::NotPem(path.to_string()))
        }
    }
}

/// The Kerberos settings on the Service account page (advanced).
pub const KERBEROS_FIELDS: [&Field; 3] = [
    &fields::KERBEROS_REALM,
    &fields::KERBEROS_KDC_ADDRESS,
    &fields::KERBEROS_SPN,
];

/// The `eas-connector` executable the service runs: beside this program.
pub fn service_exe() -> std::path::PathBuf {
    let name = if cfg!(windows) {
        "eas-connector.exe"
    } else {
        "eas-connector"
    };
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)))
        .unwrap_or_else(|| name.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_come_from_the_config_validators() {
        let mut f = Form {
            proxy_port: "70000".into(),
            ..Form::default()
        };
        assert!(f.error(&fields::PROXY_PORT).unwrap().contains("1-65535"));
        f.service_user = "nodomain".into();
        assert!(f
            .error(&fields::SERVICE_ACCOUNT_USER)
            .unwrap()
            .contains("DOMAIN\\user"));
        assert!(!f.service_ok());
        f.service_user = "CONTOSO\\svc".into();
        assert!(!f.service_ok(), "no password yet");
        f.stored.service = true;
        assert!(f.service_ok(), "a stored password counts");
    }

    #[test]
    fn plan_sends_only_typed_passwords() {
        let f = Form {
            service_password: Secret::new("x"),
            stored: Stored {
                notification: true,
                ..Stored::default()
            },
            ..Form::default()
        };
        let p = f.plan(false, false);
        assert_eq!(p.passwords.len(), 1);
        assert!(p.fields.contains(&(&fields::PROXY_ENABLED, "false".into())));
        assert!(!format!("{f:?}").contains("\"x\""));
    }

    #[test]
    fn server_host_from_a_name_or_a_url() {
        let mut f = Form {
            cas: "http://cas01.contoso.com/PowerShell/".into(),
            ..Form::default()
        };
        assert_eq!(f.server_host(), "cas01.contoso.com");
        f.cas = " cas02.corp.contoso.com:8443 ".into();
        assert_eq!(f.server_host(), "cas02.corp.contoso.com");
        f.cas = "[2001:db8::5]:443".into();
        assert_eq!(f.server_host(), "2001:db8::5");
        f.cas = "https://[2001:db8::5]/PowerShell".into();
        assert_eq!(f.server_host(), "2001:db8::5");
        f.server_type = ExchangeServerType::Hosted;
        f.hosted = "https://ps.hoster.net/PowerShell".into();
        assert_eq!(f.server_host(), "ps.hoster.net");
    }

    #[test]
    fn the_kerberos_realm_and_its_source() {
        let mut f = Form {
            cas: "http://cas01.corp.contoso.com/PowerShell/".into(),
            ..Form::default()
        };
        assert!(f.kerberos_realm().is_none(), "no account yet");
        f.service_user = "CONTOSO\\svc".into();
        let (realm, source) = f.kerberos_realm().unwrap().unwrap();
        assert_eq!(realm, "CORP.CONTOSO.COM");
        assert_eq!(source, RealmSource::ServerDomain);
        f.service_user = "svc@ad.contoso.com".into();
        assert_eq!(
            f.kerberos_realm().unwrap().unwrap(),
            ("AD.CONTOSO.COM".to_string(), RealmSource::Account)
        );
        f.kerberos_realm = "other.contoso.com".into();
        assert_eq!(
            f.kerberos_realm().unwrap().unwrap(),
            ("OTHER.CONTOSO.COM".to_string(), RealmSource::Setting)
        );
        f.kerberos_realm = "corp\\x".into();
        assert_eq!(
            f.kerberos_realm().unwrap().unwrap(),
            ("CORP\\X".to_string(), RealmSource::Setting),
            "as typed; its own error says what is wrong"
        );
        assert!(f.error(&fields::KERBEROS_REALM).is_some());
        assert!(!f.service_ok() && f.kerberos_open());
        f.kerberos_realm.clear();
        f.service_user = "CONTOSO\\svc".into();
        f.cas = "10.0.0.5".into();
        assert!(matches!(
            f.kerberos_realm(),
            Some(Err(NameError::NoRealm { .. }))
        ));
        assert!(!f.kerberos_open());
        assert!(f.fields().contains(&(&fields::KERBEROS_SPN, String::new())));
    }
}
