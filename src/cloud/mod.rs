//! The Microsoft cloud client: Entra ID app-only sign-in and the Microsoft Graph calls the
//! connector makes (Intune's managed devices).
//!
//! One module for every Microsoft cloud call (Intune now, Exchange Online later): the identity
//! is the configuration's `<Cloud>` section, the credential (a certificate's key or a client
//! secret) comes from the secret store ([`certificate`]), and every request goes through the
//! configured proxy and `TrustedCaFile`. It decides nothing about devices (that is the
//! engine's), writes no file and never puts a key, secret or token into an error, log line
//! or `Debug` output.

pub mod certificate;

pub use certificate::{AppCertificate, ImportError};
pub mod graph;
pub mod http;
pub mod token;

use crate::config::{model::CloudCredential, ConnectorConfig};
use crate::exchange::http::{ConnectOptions, HttpError};
use crate::secrets::{SecretKind, SecretStore};

pub use graph::{ComplianceState, GraphClient, GraphError, ManagedDevice};
pub use token::{AppCredential, AppIdentity, AssertionAlg, TokenError};

/// Connection options for the cloud: the configured proxy always (`Proxy/BypassForExchange`
/// concerns Exchange only) and `TrustedCaFile`.
pub fn connect_options(
    cfg: &ConnectorConfig,
    proxy_password: Option<&crate::secrets::Secret>,
) -> Result<ConnectOptions, HttpError> {
    ConnectOptions::new(
        cfg.trusted_ca_file.as_deref().map(std::path::Path::new),
        crate::engine::target::proxy_config(cfg, proxy_password),
    )
}

/// Why the cloud client could not be built from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum CloudSetupError {
    #[error("no Microsoft cloud identity is configured: set Cloud/TenantId and Cloud/ApplicationId (`eas-connector config set Cloud/TenantId …`)")]
    NotConfigured,
    #[error("Cloud/Credential is Secret but no client secret is stored; run `eas-connector --org {org} cloud set-secret`")]
    NoSecret { org: String },
    #[error("Cloud/Credential is Certificate: {0}")]
    Certificate(#[from] certificate::LoadError),
    #[error("the credential store could not be read: {0}")]
    Store(#[from] crate::secrets::SecretError),
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// The credential `cfg`'s `Cloud/Credential` names, from `store`.
pub fn credential(
    cfg: &ConnectorConfig,
    store: &dyn SecretStore,
    alg: AssertionAlg,
) -> Result<AppCredential, CloudSetupError> {
    Ok(match cfg.cloud.credential {
        CloudCredential::Secret => {
            AppCredential::Secret(store.get(SecretKind::CloudClientSecret)?.ok_or_else(|| {
                CloudSetupError::NoSecret {
                    org: cfg.organization.clone(),
                }
            })?)
        }
        CloudCredential::Certificate => AppCredential::Certificate(certificate::load(store)?, alg),
    })
}

/// The app identity of `cfg`'s `<Cloud>` with its credential from `store`.
pub fn identity(
    cfg: &ConnectorConfig,
    store: &dyn SecretStore,
    alg: AssertionAlg,
) -> Result<AppIdentity, CloudSetupError> {
    let c = &cfg.cloud;
    let (Some(tenant), Some(client_id)) = (&c.tenant_id, &c.application_id) else {
        return Err(CloudSetupError::NotConfigured);
    };
    let credential = credential(cfg, store, alg)?;
    Ok(AppIdentity {
        authority: c.authority.clone(),
        tenant: tenant.clone(),
        client_id: client_id.clone(),
        credential,
    })
}

/// A Graph client for `cfg`'s cloud identity.
pub fn graph_client(
    cfg: &ConnectorConfig,
    store: &dyn SecretStore,
    proxy_password: Option<&crate::secrets::Secret>,
    alg: AssertionAlg,
) -> Result<GraphClient, CloudSetupError> {
    Ok(GraphClient {
        http: http::CloudHttp::new(connect_options(cfg, proxy_password)?),
        tokens: token::TokenCache::default(),
        identity: identity(cfg, store, alg)?,
        graph_url: cfg.cloud.graph_url.clone(),
    })
}
