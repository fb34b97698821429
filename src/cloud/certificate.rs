//! The cloud app's certificate: imported once from a PEM (certificate + PKCS#8 or RSA key) or
//! a PFX/PKCS#12 file into the secret store as DER bytes, then read from there only.
//!
//! [`import_file`] reads and checks a file (an RSA key that matches the certificate); [`save`]
//! and [`load`] move it through the store's byte API ([`SecretKind::CloudCertificate`],
//! [`SecretKind::CloudPrivateKey`]). This module never writes key material to a file, and its
//! errors name the file and what to do, never a byte of the key.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::secrets::{Secret, SecretBytes, SecretError, SecretKind, SecretStore};

/// A certificate and its private key, checked to belong together.
#[derive(Clone)]
pub struct AppCertificate {
    /// The certificate, DER.
    pub certificate: Vec<u8>,
    /// Its RSA private key, PKCS#8 DER.
    pub private_key: SecretBytes,
    /// SHA-1 of the certificate, upper-case hex: what the Entra admin center shows.
    pub thumbprint: String,
    /// The certificate's subject, for people.
    pub subject: String,
    /// The end of its validity.
    pub not_after: jiff::Timestamp,
}

impl std::fmt::Debug for AppCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCertificate")
            .field("thumbprint", &self.thumbprint)
            .field("subject", &self.subject)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl AppCertificate {
    /// `x5t`: base64url of the certificate's SHA-1 (RS256 assertions).
    pub fn x5t(&self) -> String {
        b64url(
            aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
                &self.certificate,
            )
            .as_ref(),
        )
    }

    /// `x5t#S256`: base64url of the certificate's SHA-256 (PS256 assertions).
    pub fn x5t_s256(&self) -> String {
        b64url(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.certificate).as_ref())
    }
}

pub(crate) fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Why a certificate file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the certificate file {path} could not be read: {source}; check the path and that this account may read it")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no certificate; use a PEM file with the certificate and its private key, or a PFX (.pfx/.p12)")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no private key; put the certificate's private key in the same PEM file (PKCS#8 `PRIVATE KEY` or `RSA PRIVATE KEY`), or export a PFX with its private key")]
    NoKey { path: PathBuf },
    #[error("{path}'s private key is encrypted; export it unencrypted into a PEM only you can read, or use the PFX and its password (--password-env)")]
    EncryptedPem { path: PathBuf },
    #[error("{path} could not be opened as a PFX: {reason}; if it has a password, give it (--password-env VAR or CertificatePasswordEnv), else check the file is a PKCS#12 export")]
    Pfx { path: PathBuf, reason: String },
    #[error("{path}'s private key is not an RSA key; Entra ID client assertions here need an RSA certificate (e.g. New-SelfSignedCertificate -KeyAlgorithm RSA -KeyLength 2048)")]
    NotRsa { path: PathBuf },
    #[error("{path}'s private key does not belong to its certificate; export the certificate together with its own key")]
    Mismatch { path: PathBuf },
    #[error("{path}'s certificate could not be read: {reason}; export it again as a PFX with its private key, or as PEM (certificate and key)")]
    BadCertificate { path: PathBuf, reason: String },
    #[error("{path}'s certificate expired on {not_after}; create a new one, upload it to the app registration (Certificates & secrets) and import it")]
    Expired {
        path: PathBuf,
        not_after: jiff::Timestamp,
    },
}

/// Read and check `path`: PEM (certificate and key) or PFX with `password` (empty if none).
/// Key and certificate must match; an expired certificate is refused.
pub fn import_file(path: &Path, password: Option<&Secret>) -> Result<AppCertificate, ImportError> {
    let bytes =
        zeroize::Zeroizing::new(std::fs::read(path).map_err(|source| ImportError::Read {
            path: path.to_path_buf(),
            source,
        })?);
    import_bytes(path, &bytes, password, jiff::Timestamp::now())
}

/// [`import_file`] of bytes already read (`path` names them in errors), checked against `now`.
pub fn import_bytes(
    path: &Path,
    bytes: &[u8],
    password: Option<&Secret>,
    now: jiff::Timestamp,
) -> Result<AppCertificate, ImportError> {
    let p = || path.to_path_buf();
    let is_pem = bytes.windows(11).any(|w| w == b"-----BEGIN ");
    let (certificate, key): (Vec<u8>, SecretBytes) = if is_pem {
        let certificate = CertificateDer::pem_slice_iter(bytes)
            .find_map(Result::ok)
            .ok_or_else(|| ImportError::NoCertificate { path: p() })?
            .to_vec();
        let key = match PrivateKeyDer::from_pem_slice(bytes) {
            Ok(PrivateKeyDer::Pkcs8(k)) => SecretBytes::new(k.secret_pkcs8_der()),
            Ok(PrivateKeyDer::Pkcs1(k)) => pkcs1_to_pkcs8(k.secret_pkcs1_der()),
            Ok(_) => return Err(ImportError::NotRsa { path: p() }),
            Err(_) if bytes.windows(9).any(|w| w == b"ENCRYPTED") => {
                return Err(ImportError::EncryptedPem { path: p() })
            }
            Err(_) => return Err(ImportError::NoKey { path: p() }),
        };
        (certificate, key)
    } else {
        let pw = password.map(|s| s.expose()).unwrap_or("");
        let store = p12_keystore::KeyStore::from_pkcs12(
            bytes,
            pw,
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )
        .map_err(|e| ImportError::Pfx {
            path: p(),
            reason: pfx_reason(&e),
        })?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or_else(|| ImportError::NoKey { path: p() })?;
        let certificate = chain
            .certs()
            .first()
            .ok_or_else(|| ImportError::NoCertificate { path: p() })?
            .as_der()
            .to_vec();
        (certificate, SecretBytes::new(chain.key().as_der()))
    };
    let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(key.expose())
        .map_err(|_| ImportError::NotRsa { path: p() })?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&certificate).map_err(|e| {
        ImportError::BadCertificate {
            path: p(),
            reason: e.to_string(),
        }
    })?;
    use aws_lc_rs::signature::KeyPair as _;
    if parsed.public_key().subject_public_key.data.as_ref() != pair.public_key().as_ref() {
        return Err(ImportError::Mismatch { path: p() });
    }
    let not_after = jiff::Timestamp::from_second(parsed.validity().not_after.timestamp())
        .unwrap_or(jiff::Timestamp::MAX);
    if not_after < now {
        return Err(ImportError::Expired {
            path: p(),
            not_after,
        });
    }
    let subject = parsed.subject().to_string();
    let thumbprint = hex_upper(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &certificate)
            .as_ref(),
    );
    Ok(AppCertificate {
        certificate,
        private_key: key,
        thumbprint,
        subject,
        not_after,
    })
}

/// p12-keystore's error, in words: a wrong password shows as a MAC failure.
fn pfx_reason(e: &p12_keystore::error::Error) -> String {
    let text = e.to_string();
    if text.to_ascii_lowercase().contains("mac") {
        "the password is wrong or missing".into()
    } else {
        text
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Wrap a PKCS#1 `RSAPrivateKey` into PKCS#8 `PrivateKeyInfo` (rsaEncryption, NULL params).
fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> SecretBytes {
    fn len(n: usize) -> Vec<u8> {
        if n < 0x80 {
            vec![n as u8]
        } else {
            let b: Vec<u8> = n
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            let mut out = vec![0x80 | b.len() as u8];
            out.extend(b);
            out
        }
    }
    // INTEGER 0, SEQUENCE { OID 1.2.840.113549.1.1.1, NULL }
    let mut body: Vec<u8> = vec![
        0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
        0x01, 0x05, 0x00, 0x04,
    ];
    body.extend(len(pkcs1.len()));
    body.extend_from_slice(pkcs1);
    let mut out = vec![0x30];
    out.extend(len(body.len()));
    out.extend(body);
    SecretBytes::new(out)
}

/// Keep the certificate and its key in `store` (as DER bytes).
pub fn save(store: &dyn SecretStore, cert: &AppCertificate) -> Result<(), SecretError> {
    store.set_bytes(
        SecretKind::CloudCertificate,
        &SecretBytes::new(cert.certificate.clone()),
    )?;
    store.set_bytes(SecretKind::CloudPrivateKey, &cert.private_key)
}

/// Why the stored certificate cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Store(#[from] SecretError),
    #[error("no certificate is imported for the cloud app; run `eas-connector --org ORG cloud set-certificate FILE`")]
    Missing,
    #[error("the stored cloud certificate is damaged ({0}); import it again with `eas-connector --org ORG cloud set-certificate FILE`")]
    Damaged(String),
}

/// The certificate and key from `store`.
pub fn load(store: &dyn SecretStore) -> Result<AppCertificate, LoadError> {
    let cert = store
        .get_bytes(SecretKind::CloudCertificate)?
        .ok_or(LoadError::Missing)?;
    let key = store
        .get_bytes(SecretKind::CloudPrivateKey)?
        .ok_or(LoadError::Missing)?;
    // Expiry is the sign-in's business (Entra says so); here only the pair is checked.
    let mut pem = zeroize::Zeroizing::new(String::new());
    let b64 = base64::engine::general_purpose::STANDARD;
    pem.push_str("-----BEGIN CERTIFICATE-----\n");
    pem.push_str(&b64.encode(cert.expose()));
    pem.push_str("\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\n");
    pem.push_str(&b64.encode(key.expose()));
    pem.push_str("\n-----END PRIVATE KEY-----\n");
    import_bytes(
        Path::new("(the credential store)"),
        pem.as_bytes(),
        None,
        jiff::Timestamp::UNIX_EPOCH,
    )
    .map_err(|e| LoadError::Damaged(e.to_string()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh self-signed RSA-2048 certificate and key as PEM (rcgen + aws-lc-rs).
    pub(crate) fn test_pem() -> (String, String) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["eas-connector-test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn pem_imports_with_a_matching_key_and_refuses_a_foreign_one() {
        let (cert, key) = test_pem();
        let both = format!("{cert}{key}");
        let c = import_bytes(
            Path::new("a.pem"),
            both.as_bytes(),
            None,
            jiff::Timestamp::now(),
        )
        .unwrap();
        assert_eq!(c.thumbprint.len(), 40);
        assert!(!format!("{c:?}").contains(&key[40..80]));
        let (_, other_key) = test_pem();
        let e = import_bytes(
            Path::new("b.pem"),
            format!("{cert}{other_key}").as_bytes(),
            None,
            jiff::Timestamp::now(),
        )
        .unwrap_err();
        assert!(matches!(e, ImportError::Mismatch { .. }), "{e}");
        let e = import_bytes(
            Path::new("c.pem"),
            cert.as_bytes(),
            None,
            jiff::Timestamp::now(),
        )
        .unwrap_err();
        assert!(matches!(e, ImportError::NoKey { .. }), "{e}");
    }

    #[test]
    fn pfx_imports_with_its_password_and_a_wrong_one_is_named() {
        let (cert, key) = test_pem();
        let both = format!("{cert}{key}");
        let pem = import_bytes(
            Path::new("a.pem"),
            both.as_bytes(),
            None,
            jiff::Timestamp::now(),
        )
        .unwrap();
        let mut ks = p12_keystore::KeyStore::new();
        let chain = p12_keystore::PrivateKeyChain::new(
            vec![1u8; 20],
            p12_keystore::PrivateKey::from_der(pem.private_key.expose()).unwrap(),
            [p12_keystore::Certificate::from_der(&pem.certificate).unwrap()],
        );
        ks.add_entry("app", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        let pfx = ks.writer("Pfx-Pa55").write().unwrap();
        let c = import_bytes(
            Path::new("a.pfx"),
            &pfx,
            Some(&Secret::new("Pfx-Pa55")),
            jiff::Timestamp::now(),
        )
        .unwrap();
        assert_eq!(c.thumbprint, pem.thumbprint);
        assert_eq!(c.private_key, pem.private_key);
        let e = import_bytes(
            Path::new("a.pfx"),
            &pfx,
            Some(&Secret::new("wrong")),
            jiff::Timestamp::now(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("password"), "{e}");
    }

    #[test]
    fn pkcs1_keys_are_wrapped_into_pkcs8() {
        let (cert, key) = test_pem();
        let k8 = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
        let PrivateKeyDer::Pkcs8(k8) = k8 else {
            panic!("rcgen writes PKCS#8")
        };
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(k8.secret_pkcs8_der()).unwrap();
        // Re-derive PKCS#1 from PKCS#8: the inner OCTET STRING's content.
        let der = k8.secret_pkcs8_der();
        let inner = &der[der.len() - pkcs1_len(der)..];
        let wrapped = pkcs1_to_pkcs8(inner);
        let again = aws_lc_rs::rsa::KeyPair::from_pkcs8(wrapped.expose()).unwrap();
        use aws_lc_rs::signature::KeyPair as _;
        assert_eq!(pair.public_key().as_ref(), again.public_key().as_ref());
        let _ = cert;
    }

    /// The length of the PKCS#1 key at the end of an rcgen PKCS#8 key (last OCTET STRING).
    fn pkcs1_len(der: &[u8]) -> usize {
        // SEQUENCE hdr, INTEGER 0 (3), AlgorithmIdentifier (15), then OCTET STRING hdr.
        let mut i = if der[1] & 0x80 != 0 {
            2 + (der[1] & 0x7f) as usize
        } else {
            2
        };
        i += 3 + 15;
        assert_eq!(der[i], 0x04);
        let l = der[i + 1];
        if l & 0x80 != 0 {
            let n = (l & 0x7f) as usize;
            der[i + 2..i + 2 + n]
                .iter()
                .fold(0usize, |a, b| a << 8 | *b as usize)
        } else {
            l as usize
        }
    }
}
