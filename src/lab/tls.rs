//! Certificates for the lab (and for tests that need bad ones): a private CA made with rcgen,
//! and server certificates it issues for loopback names.
//!
//! The lab writes the CA as PEM so clients can trust it (`TrustedCaFile`, `curl --cacert`).
//! Tests use [`LeafSpec`] to make expired, misnamed or self-signed certificates on purpose.
//! Nothing here touches the system trust store, and private keys never leave memory.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not create a certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("could not set up TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A certificate authority that issues the lab's server certificates.
pub struct LabCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

/// What a server certificate should look like.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    /// DNS names and IP addresses for the subjectAltName.
    pub names: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// Sign with its own key instead of the CA (an untrusted, self-signed certificate).
    pub self_signed: bool,
}

impl LeafSpec {
    /// Valid from a day ago for two years, issued by the CA, for these names.
    pub fn valid_for(names: &[&str]) -> Self {
        let now = OffsetDateTime::now_utc();
        LeafSpec {
            names: names.iter().map(|s| s.to_string()).collect(),
            not_before: now - Duration::days(1),
            not_after: now + Duration::days(730),
            self_signed: false,
        }
    }
    /// The usual lab names: loopback addresses and `localhost`, plus `extra`.
    pub fn loopback(extra: &[&str]) -> Self {
        let mut names = vec!["127.0.0.1", "::1", "localhost"];
        names.extend_from_slice(extra);
        Self::valid_for(&names)
    }
}

/// A server certificate chain and its key, ready for rustls.
pub struct ServerCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub pem: String,
}

impl ServerCert {
    /// A rustls server configuration presenting this certificate (HTTP/1.1 only).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

impl LabCa {
    /// A new CA named `common_name`, valid for ten years.
    pub fn new(common_name: &str) -> Result<Self, TlsError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "EAS Connector Lab");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(3650);
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(LabCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// Issue a server certificate.
    pub fn issue(&self, spec: &LeafSpec) -> Result<ServerCert, TlsError> {
        let mut params = CertificateParams::new(spec.names.clone())?;
        params.distinguished_name.push(
            DnType::CommonName,
            spec.names.first().map(String::as_str).unwrap_or("lab"),
        );
        params.not_before = spec.not_before;
        params.not_after = spec.not_after;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate()?;
        let cert = if spec.self_signed {
            params.self_signed(&key)?
        } else {
            params.signed_by(&key, &self.issuer)?
        };
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok(ServerCert {
            pem: cert.pem(),
            chain: vec![cert.der().clone()],
            key: key_der,
        })
    }
}
