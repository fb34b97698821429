//! What the admin typed, as text, and how it becomes a [`Plan`].
//!
//! The form holds every field of the wizard's input pages as the text in its box. Field
//! errors come from the configuration module's own validators ([`ConnectorConfig::set`]), so
//! the wizard accepts exactly what `eas-connector config set` accepts. Passwords are
//! [`Secret`]s: typed ones replace the stored ones, empty ones keep what is stored. This module
//! does no I/O and must never put a password into an error, a label or a `Debug` string.

use crate::config::{ConnectorConfig, ExchangeServerType};
use crate::secrets::{Secret, SecretKind};
use crate::setup::Plan;

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
    pub service_user: String,
    pub service_password: Secret,
    pub notify_user: String,
    pub notify_mailbox: String,
    pub notify_password: Secret,
    pub cas_failover: bool,
    pub parallel: bool,
    pub max_runspaces: String,
    pub quick_sync: String,
    pub full_sync: String,
    /// Which passwords are already in the vault (kept unless retyped).
    pub stored: Stored,
}

/// Which passwords the vault already holds. Never the values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stored {
    pub service: bool,
    pub notification: bool,
    pub proxy: bool,
}

impl Stored {
    pub fn has(self, kind: SecretKind) -> bool {
        match kind {
            SecretKind::ServiceAccount => self.service,
            SecretKind::NotificationAccount => self.notification,
            SecretKind::Proxy => self.proxy,
        }
    }
}

impl Default for Form {
    fn default() -> Self {
        Form::from_config(&ConnectorConfig::new("default"), Stored::default())
    }
}

fn s(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

impl Form {
    /// The form for an existing configuration (Reconfigure), or defaults.
    pub fn from_config(c: &ConnectorConfig, stored: Stored) -> Self {
        Form {
            server_type: c.exchange_server_type,
            cas: s(&c.client_access_server),
            hosted: s(&c.hosted_server_address),
            show_advanced: c.exchange_web_service_url.is_some() || c.trusted_ca_file.is_some(),
            ews_url: s(&c.exchange_web_service_url),
            ca_file: s(&c.trusted_ca_file),
            proxy_enabled: c.proxy.enabled,
            proxy_host: s(&c.proxy.host),
            proxy_port: c.proxy.port.to_string(),
            proxy_use_credentials: c.proxy.use_credentials,
            proxy_user: s(&c.proxy.user),
            proxy_password: Secret::new(""),
            service_user: s(&c.service_account.user),
            service_password: Secret::new(""),
            notify_user: s(&c.notification_account.user),
            notify_mailbox: s(&c.notification_account.mailbox),
            notify_password: Secret::new(""),
            cas_failover: c.is_cas_failover_enabled,
            parallel: c.enable_parallel_command_support,
            max_runspaces: c.max_parallel_runspaces.to_string(),
            quick_sync: c.quick_sync_interval_minutes.to_string(),
            full_sync: c.full_sync_time_of_day.clone(),
            stored,
        }
    }

    /// Every field the wizard owns, as (configuration path, text). Fields of switched-off
    /// sections are written as they are, so turning a proxy off keeps its host for later.
    pub fn fields(&self) -> Vec<(String, String)> {
        let hosted = self.server_type == ExchangeServerType::Hosted;
        let f: Vec<(&str, String)> = vec![
            ("ExchangeServerType", self.server_type.as_str().to_string()),
            (
                "ClientAccessServer",
                if hosted {
                    String::new()
                } else {
                    self.cas.clone()
                },
            ),
            (
                "HostedServerAddress",
                if hosted {
                    self.hosted.clone()
                } else {
                    String::new()
                },
            ),
            ("ExchangeWebServiceURL", self.ews_url.clone()),
            ("TrustedCaFile", self.ca_file.clone()),
            ("Proxy/Enabled", self.proxy_enabled.to_string()),
            ("Proxy/Host", self.proxy_host.clone()),
            ("Proxy/Port", self.proxy_port.clone()),
            (
                "Proxy/UseCredentials",
                self.proxy_use_credentials.to_string(),
            ),
            ("Proxy/User", self.proxy_user.clone()),
            ("ServiceAccount/User", self.service_user.clone()),
            ("NotificationAccount/User", self.notify_user.clone()),
            ("NotificationAccount/Mailbox", self.notify_mailbox.clone()),
            ("IsCasFailoverEnabled", self.cas_failover.to_string()),
            ("EnableParallelCommandSupport", self.parallel.to_string()),
            ("MaxParallelRunspaces", self.max_runspaces.clone()),
            ("QuickSyncIntervalMinutes", self.quick_sync.clone()),
            ("FullSyncTimeOfDay", self.full_sync.clone()),
        ];
        f.into_iter()
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
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
        out
    }

    /// The plan for `setup::apply` / `setup::validate_plan`.
    pub fn plan(&self, replace: bool, register_service: bool) -> Plan {
        Plan {
            fields: self.fields(),
            passwords: self.typed_passwords(),
            replace,
            register_service,
            skip_validation: false,
            service_exe: service_exe(),
        }
    }

    /// The value typed for a configuration field.
    pub fn value(&self, path: &str) -> String {
        self.fields()
            .into_iter()
            .find(|(k, _)| k == path)
            .map(|(_, v)| v)
            .unwrap_or_default()
    }

    /// The configuration module's complaint about a field's value, if any. Empty values are
    /// not errors here; [`Form::missing`] reports required fields.
    pub fn error(&self, path: &str) -> Option<String> {
        let raw = match path {
            "ClientAccessServer" => self.cas.clone(),
            "HostedServerAddress" => self.hosted.clone(),
            _ => self.value(path),
        };
        let v = raw.trim();
        if v.is_empty() {
            return None;
        }
        if path == "TrustedCaFile" && !std::path::Path::new(v).is_file() {
            return Some(format!("'{v}' does not exist or is not a file; give the full path of a PEM file, or clear the field"));
        }
        let mut c = ConnectorConfig::new("default");
        c.set(path, v).err()
    }

    /// Whether a required text field is still empty.
    pub fn missing(&self, path: &str) -> bool {
        let v = match path {
            "ClientAccessServer" => self.cas.clone(),
            "HostedServerAddress" => self.hosted.clone(),
            _ => self.value(path),
        };
        v.trim().is_empty()
    }

    /// Whether a password is either typed or stored.
    pub fn has_password(&self, kind: SecretKind) -> bool {
        let typed = match kind {
            SecretKind::ServiceAccount => &self.service_password,
            SecretKind::NotificationAccount => &self.notify_password,
            SecretKind::Proxy => &self.proxy_password,
        };
        !typed.is_empty() || self.stored.has(kind)
    }

    fn ok(&self, paths: &[&str], required: &[&str]) -> bool {
        paths.iter().all(|p| self.error(p).is_none()) && required.iter().all(|p| !self.missing(p))
    }

    /// The Server page is complete.
    pub fn server_ok(&self) -> bool {
        let addr = match self.server_type {
            ExchangeServerType::OnPremises => "ClientAccessServer",
            ExchangeServerType::Hosted => "HostedServerAddress",
        };
        self.ok(&[addr, "ExchangeWebServiceURL", "TrustedCaFile"], &[addr])
    }

    /// The Proxy page is complete.
    pub fn proxy_ok(&self) -> bool {
        if !self.proxy_enabled {
            return true;
        }
        if !self.ok(&["Proxy/Host", "Proxy/Port"], &["Proxy/Host"]) {
            return false;
        }
        !self.proxy_use_credentials
            || (self.ok(&["Proxy/User"], &["Proxy/User"]) && self.has_password(SecretKind::Proxy))
    }

    /// The Service account page is complete.
    pub fn service_ok(&self) -> bool {
        self.ok(&["ServiceAccount/User"], &["ServiceAccount/User"])
            && self.has_password(SecretKind::ServiceAccount)
    }

    /// The Notification account page is complete.
    pub fn notification_ok(&self) -> bool {
        let f = ["NotificationAccount/User", "NotificationAccount/Mailbox"];
        self.ok(&f, &f) && self.has_password(SecretKind::NotificationAccount)
    }

    /// The Options page is complete.
    pub fn options_ok(&self) -> bool {
        self.ok(
            &[
                "MaxParallelRunspaces",
                "QuickSyncIntervalMinutes",
                "FullSyncTimeOfDay",
            ],
            &[],
        )
    }
}

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
        assert!(f.error("Proxy/Port").unwrap().contains("1-65535"));
        f.service_user = "nodomain".into();
        assert!(f
            .error("ServiceAccount/User")
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
        assert!(p.fields.contains(&("Proxy/Enabled".into(), "false".into())));
        assert!(!format!("{f:?}").contains("\"x\""));
    }
}
