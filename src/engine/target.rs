//! From configuration to connection: the PowerShell endpoint, connection options (proxy,
//! trusted CA) and credentials the connector uses for one Exchange organization, and opening
//! remote PowerShell on one server or, with failover, on the first that answers.
//!
//! Shared by validation, the service and the engine so that all three connect the same way;
//! it lives here, above `exchange`, so that the Exchange client never reads the configuration.
//! It holds passwords only inside [`Credentials`]/[`Secret`] and never logs them.

use std::sync::Arc;

use crate::config::{AuthenticationMethod, ConnectorConfig, ServerAddress};
use crate::exchange::client::{Credentials, Session};
use crate::exchange::http::{AuthMethod, ConnectOptions, Endpoint, HttpError, ProxyConfig};
use crate::exchange::powershell::RemotePowerShell;
use crate::exchange::powershell::{PoolOptions, PsError, RunspacePool, SessionFactory};
use crate::secrets::Secret;

/// The PowerShell endpoint of an address: its own URL, or `https://<server><path>` for a bare
/// name or a URL without a path.
pub fn endpoint(address: &ServerAddress, path: &str) -> Result<Endpoint, HttpError> {
    Endpoint::parse(&address.url_with_default_path(path))
}

/// The PowerShell endpoint for a configuration: the first Client Access Server on-premises,
/// the hosted address otherwise; `None` when none is configured.
pub fn powershell_endpoint(
    cfg: &ConnectorConfig,
    path: &str,
) -> Option<Result<Endpoint, HttpError>> {
    cfg.server_address().map(|a| endpoint(a, path))
}

/// The session authentication method for the configuration's `AuthenticationMethod`.
pub fn auth_method(m: AuthenticationMethod) -> AuthMethod {
    match m {
        AuthenticationMethod::Auto => AuthMethod::Auto,
        AuthenticationMethod::Kerberos => AuthMethod::Kerberos,
        AuthenticationMethod::Negotiate => AuthMethod::Negotiate,
        AuthenticationMethod::Ntlm => AuthMethod::Ntlm,
        AuthenticationMethod::Basic => AuthMethod::Basic,
    }
}

/// The configured proxy (`Proxy/…`), when enabled: Microsoft cloud traffic always takes it,
/// Exchange's unless `Proxy/BypassForExchange`.
pub fn proxy_config(cfg: &ConnectorConfig, proxy_password: Option<&Secret>) -> Option<ProxyConfig> {
    cfg.proxy.enabled.then(|| ProxyConfig {
        host: cfg.proxy.host.clone().unwrap_or_default(),
        port: cfg.proxy.port,
        credentials: if cfg.proxy.use_credentials {
            cfg.proxy.user.clone().zip(proxy_password.cloned())
        } else {
            None
        },
        auth: auth_method(cfg.proxy.authentication_method),
    })
}

/// Connection options to Exchange from the configuration's proxy (none with
/// `Proxy/BypassForExchange`), trusted CA, authentication method, Kerberos and channel
/// binding settings.
pub fn connect_options(
    cfg: &ConnectorConfig,
    proxy_password: Option<&Secret>,
) -> Result<ConnectOptions, HttpError> {
    let proxy = if cfg.proxy.bypass_for_exchange {
        None
    } else {
        proxy_config(cfg, proxy_password)
    };
    let mut opts = ConnectOptions::new(
        cfg.trusted_ca_file.as_deref().map(std::path::Path::new),
        proxy,
    )?;
    opts.auth = auth_method(cfg.authentication_method);
    opts.kerberos = crate::exchange::auth::kerberos::KerberosOptions {
        realm: cfg.kerberos.realm.clone(),
        kdc: cfg.kerberos.kdc_address.clone(),
        spn: cfg.kerberos.service_principal_name.clone(),
        renew_before_expiry_secs: cfg.kerberos.renew_before_expiry_seconds,
    };
    opts.channel_binding = cfg.channel_binding == crate::config::ChannelBinding::Auto;
    Ok(opts)
}

/// Why a target could not be built.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TargetError {
    #[error("no Exchange server is configured: set ClientAccessServer (on-premises) or HostedServerAddress (hosted)")]
    NoServer,
    #[error("no service account is configured: set ServiceAccount/User and store its password")]
    NoServiceAccount,
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// Everything needed to open remote PowerShell on one organization's servers.
#[derive(Debug, Clone)]
pub struct Target {
    pub powershell: Endpoint,
    pub connect: ConnectOptions,
    pub service: Credentials,
    pub resource_uri: String,
    /// Pipelines at once (1 unless parallel command support is on).
    pub max_runspaces: usize,
}

impl Target {
    /// The target for `cfg` with these passwords.
    pub fn from_config(
        cfg: &ConnectorConfig,
        service_password: Option<&Secret>,
        proxy_password: Option<&Secret>,
    ) -> Result<Target, TargetError> {
        let powershell =
            powershell_endpoint(cfg, "/PowerShell/").ok_or(TargetError::NoServer)??;
        let service = Credentials {
            user: cfg
                .service_account
                .user
                .clone()
                .ok_or(TargetError::NoServiceAccount)?,
            password: service_password
                .cloned()
                .ok_or(TargetError::NoServiceAccount)?,
        };
        Ok(Target {
            powershell,
            connect: connect_options(cfg, proxy_password)?,
            service,
            resource_uri: crate::wire::wsman::ns::RESOURCE_EXCHANGE.to_string(),
            max_runspaces: if cfg.enable_parallel_command_support {
                cfg.max_parallel_runspaces as usize
            } else {
                1
            },
        })
    }

    /// The same target on another server (`host[:port]`), keeping scheme, path and settings.
    pub fn on_server(&self, address: &str) -> Option<Target> {
        let scheme = if self.powershell.https {
            "https"
        } else {
            "http"
        };
        let ep = Endpoint::parse(&format!("{scheme}://{address}{}", self.powershell.path)).ok()?;
        Some(self.moved_to(ep))
    }

    /// The same target at another configured address (its own scheme and path).
    pub fn at(&self, address: &ServerAddress) -> Result<Target, TargetError> {
        Ok(self.moved_to(endpoint(address, "/PowerShell/")?))
    }

    /// This target on another server. Kerberos there asks for that server's own SPN,
    /// `HTTP/<its FQDN>`: `Kerberos/ServicePrincipalName` names the configured (first) server
    /// — e.g. a load-balanced name served by an alternate service account — and is kept only
    /// for a server on that same host.
    fn moved_to(&self, powershell: Endpoint) -> Target {
        let mut t = Target {
            powershell,
            ..self.clone()
        };
        if !t
            .powershell
            .host
            .eq_ignore_ascii_case(&self.powershell.host)
        {
            t.connect.kerberos.spn = None;
        }
        t
    }

    /// `host[:port]` of this target's server.
    pub fn address(&self) -> String {
        self.powershell.authority()
    }

    /// Open a runspace pool and wrap it in [`Exchange`].
    pub async fn open(&self) -> Result<RemotePowerShell, PsError> {
        let mut po = PoolOptions::exchange(&self.powershell.url());
        po.resource_uri = self.resource_uri.clone();
        po.max_runspaces = self.max_runspaces;
        let (ep, connect, creds) = (
            self.powershell.clone(),
            self.connect.clone(),
            self.service.clone(),
        );
        let factory: SessionFactory =
            Arc::new(move || Session::connect(ep.clone(), connect.clone(), &creds));
        let first = Session::connect(self.powershell.clone(), self.connect.clone(), &self.service);
        let pool = RunspacePool::open(first, factory, &po).await?;
        Ok(RemotePowerShell::new(pool, None))
    }
}

/// Open on the first server of `candidates` that answers; returns the index used and the
/// failures of those tried before it. A refused account stops at once: every other server
/// would only add a failed logon toward the account's lockout.
pub async fn open_with_failover(
    candidates: &[Target],
) -> Result<(RemotePowerShell, usize, Vec<(String, PsError)>), Vec<(String, PsError)>> {
    let mut failures = Vec::new();
    for (i, t) in candidates.iter().enumerate() {
        match t.open().await {
            Ok(ex) => return Ok((ex, i, failures)),
            Err(e) => {
                let stop = e.is_credential_error();
                failures.push((t.address(), e));
                if stop {
                    break;
                }
            }
        }
    }
    Err(failures)
}
