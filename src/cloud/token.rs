//! Entra ID app-only sign-in (OAuth 2.0 client credentials): a JWT client assertion signed
//! with the app's certificate key (PS256 with `x5t#S256` by default, RS256 with `x5t` where
//! asked) or a client secret; tokens cached per (tenant, app, scope) until shortly before
//! they expire; Entra's AADSTS codes turned into [`TokenError`]s that say what to fix.
//!
//! Nothing here logs or shows the key, the secret, the assertion or the token.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

use super::certificate::{b64url, AppCertificate};
use super::http::CloudHttp;
use crate::exchange::http::HttpError;
use crate::secrets::Secret;

/// The assertion's signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssertionAlg {
    /// RSASSA-PSS with SHA-256, header `x5t#S256` (Microsoft's current recommendation).
    #[default]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, header `x5t` (SHA-1 thumbprint), for older setups.
    Rs256,
}

impl AssertionAlg {
    pub fn name(self) -> &'static str {
        match self {
            AssertionAlg::Ps256 => "PS256",
            AssertionAlg::Rs256 => "RS256",
        }
    }
}

/// How the app proves who it is.
#[derive(Clone)]
pub enum AppCredential {
    Certificate(AppCertificate, AssertionAlg),
    Secret(Secret),
}

impl std::fmt::Debug for AppCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppCredential::Certificate(c, a) => {
                write!(f, "Certificate({}, {})", c.thumbprint, a.name())
            }
            AppCredential::Secret(_) => f.write_str("Secret(***)"),
        }
    }
}

/// An Entra ID app registration in a tenant.
#[derive(Debug, Clone)]
pub struct AppIdentity {
    /// `https://login.microsoftonline.com`, no trailing '/'.
    pub authority: String,
    pub tenant: String,
    pub client_id: String,
    pub credential: AppCredential,
}

impl AppIdentity {
    /// `<authority>/<tenant>/oauth2/v2.0/token`: where tokens come from, and the assertion's
    /// audience.
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority, self.tenant)
    }
}

/// Why the assertion could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the stored certificate key cannot sign (it is not an RSA PKCS#8 key); import the certificate again with `cloud set-certificate`")]
    Key,
    #[error("signing the client assertion failed; import the certificate again with `cloud set-certificate`")]
    Sign,
}

/// The JWT client assertion (RFC 7523) for `identity`'s certificate: `aud` the token URL,
/// `iss` = `sub` the client id, `jti` unique, valid from `now` for 10 minutes.
pub fn client_assertion(
    cert: &AppCertificate,
    alg: AssertionAlg,
    client_id: &str,
    audience: &str,
    now_unix: i64,
    jti: &str,
) -> Result<String, SignError> {
    let header = match alg {
        AssertionAlg::Ps256 => {
            serde_json::json!({"alg": "PS256", "typ": "JWT", "x5t#S256": cert.x5t_s256()})
        }
        AssertionAlg::Rs256 => serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": cert.x5t()}),
    };
    let claims = serde_json::json!({
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": jti,
        "nbf": now_unix,
        "iat": now_unix,
        "exp": now_unix + 600,
    });
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(cert.private_key.expose())
        .map_err(|_| SignError::Key)?;
    let padding: &dyn aws_lc_rs::signature::RsaEncoding = match alg {
        AssertionAlg::Ps256 => &aws_lc_rs::signature::RSA_PSS_SHA256,
        AssertionAlg::Rs256 => &aws_lc_rs::signature::RSA_PKCS1_SHA256,
    };
    let mut sig = vec![0u8; pair.public_modulus_len()];
    pair.sign(
        padding,
        &aws_lc_rs::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut sig,
    )
    .map_err(|_| SignError::Sign)?;
    Ok(format!("{signing_input}.{}", b64url(&sig)))
}

/// An access token. No `Display`; `Debug` shows only when it expires.
#[derive(Clone)]
pub struct AccessToken {
    value: Secret,
    /// When it stops working (from `expires_in`).
    pub expires_at: Instant,
}

impl AccessToken {
    /// The bearer token; call only where it is sent.
    pub fn expose(&self) -> &str {
        self.value.expose()
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AccessToken(***, expires in {:?})",
            self.expires_at.saturating_duration_since(Instant::now())
        )
    }
}

/// Why no token came, with what to do.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("Entra ID does not know the tenant '{tenant}' (AADSTS{code}); check Cloud/TenantId (the directory ID on the Entra admin center's Overview page) and Cloud/Authority (national clouds have their own)")]
    UnknownTenant { tenant: String, code: u32 },
    #[error("Entra ID has no app {client_id} in this tenant (AADSTS700016); check Cloud/ApplicationId (the app registration's Application (client) ID) and that the app is registered in tenant Cloud/TenantId")]
    UnknownApp { client_id: String },
    #[error("Entra ID refused the client secret (AADSTS7000215: invalid secret); copy the secret's Value (not its ID) from Certificates & secrets and store it again with `cloud set-secret`")]
    WrongSecret,
    #[error("the client secret has expired (AADSTS7000222); create a new one in the app registration's Certificates & secrets and store it with `cloud set-secret`")]
    SecretExpired,
    #[error("Entra ID does not accept the certificate {thumbprint} (AADSTS{code}): it is not uploaded to the app registration; upload its public part (.cer) under Certificates & secrets → Certificates, or import the certificate that is there with `cloud set-certificate`")]
    CertificateNotRegistered { thumbprint: String, code: u32 },
    #[error("Entra ID says the sign-in is outside its valid time (AADSTS{code}): this machine's clock is off; synchronize it (NTP) and try again")]
    ClockSkew { code: u32 },
    #[error("admin consent is missing for the app (AADSTS{code}); in the app registration's API permissions, click \"Grant admin consent\" for DeviceManagementManagedDevices.Read.All (Application)")]
    ConsentMissing { code: u32 },
    #[error("Entra ID does not know the resource {scope} (AADSTS{code}); check Cloud/GraphUrl (it must match Cloud/Authority's cloud)")]
    BadScope { scope: String, code: u32 },
    #[error("Entra ID is temporarily unavailable (AADSTS{code}, HTTP {status}); retry later (the last good Intune snapshot decides meanwhile)")]
    TemporarilyUnavailable { status: u16, code: u32 },
    #[error("Entra ID refused the sign-in: {description} (HTTP {status}); see https://login.microsoftonline.com/error?code={code} for the code")]
    Refused {
        status: u16,
        code: u32,
        description: String,
    },
    #[error("the token endpoint {url} could not be reached: {source}{hint}")]
    Http {
        url: String,
        source: Box<HttpError>,
        hint: &'static str,
    },
    #[error("the token endpoint {url} answered HTTP {status} without a token ({detail}); check Cloud/Authority")]
    BadResponse {
        url: String,
        status: u16,
        detail: String,
    },
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// Entra's error body.
#[derive(serde::Deserialize, Default)]
struct EntraError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u32>,
}

/// The first AADSTS code, from `error_codes` or the description's `AADSTS<n>:`.
fn aadsts(e: &EntraError) -> u32 {
    e.error_codes.first().copied().unwrap_or_else(|| {
        e.error_description
            .split("AADSTS")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|d| d.parse().ok())
            .unwrap_or(0)
    })
}

/// The typed error for an Entra error answer.
fn classify(identity: &AppIdentity, scope: &str, status: u16, body: &[u8]) -> TokenError {
    let e: EntraError = serde_json::from_slice(body).unwrap_or_default();
    let code = aadsts(&e);
    let thumbprint = match &identity.credential {
        AppCredential::Certificate(c, _) => c.thumbprint.clone(),
        AppCredential::Secret(_) => String::new(),
    };
    match code {
        90002 | 900023 | 90072 => TokenError::UnknownTenant {
            tenant: identity.tenant.clone(),
            code,
        },
        700016 => TokenError::UnknownApp {
            client_id: identity.client_id.clone(),
        },
        7000215 => TokenError::WrongSecret,
        7000222 => TokenError::SecretExpired,
        700027 | 700021 | 700023 => TokenError::CertificateNotRegistered { thumbprint, code },
        700024 | 700025 => TokenError::ClockSkew { code },
        65001 | 650057 | 7000112 => TokenError::ConsentMissing { code },
        90033 | 90006 => TokenError::TemporarilyUnavailable { status, code },
        _ if e.error == "temporarily_unavailable" || status == 503 => {
            TokenError::TemporarilyUnavailable { status, code }
        }
        500011 | 70011 | 1002012 => TokenError::BadScope {
            scope: scope.to_string(),
            code,
        },
        0 if e.error.is_empty() => TokenError::BadResponse {
            url: identity.token_url(),
            status,
            detail: "not an OAuth error answer".into(),
        },
        _ => TokenError::Refused {
            status,
            code,
            // Entra's description names no secret; it is cut to its first line.
            description: crate::config::validate::shown(
                e.error_description.lines().next().unwrap_or(&e.error),
            ),
        },
    }
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// The form body of a client-credentials token request (it holds the secret or assertion).
fn token_form(identity: &AppIdentity, scope: &str, url: &str) -> Result<String, TokenError> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials")
        .append_pair("client_id", &identity.client_id)
        .append_pair("scope", scope);
    match &identity.credential {
        AppCredential::Secret(s) => {
            form.append_pair("client_secret", s.expose());
        }
        AppCredential::Certificate(cert, alg) => {
            let now = jiff::Timestamp::now().as_second();
            let jti = uuid::Uuid::new_v4().to_string();
            let assertion = client_assertion(cert, *alg, &identity.client_id, url, now, &jti)?;
            form.append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .append_pair("client_assertion", &assertion);
        }
    }
    Ok(form.finish())
}

/// Ask the token endpoint for a token for `scope` (e.g. `https://graph.microsoft.com/.default`).
pub async fn request_token(
    http: &mut CloudHttp,
    identity: &AppIdentity,
    scope: &str,
) -> Result<AccessToken, TokenError> {
    let url = identity.token_url();
    let body = zeroize::Zeroizing::new(token_form(identity, scope, &url)?);
    let started = Instant::now();
    let resp = http
        .send(&url, |path| {
            let mut r = Request::new(Full::new(Bytes::from(body.as_bytes().to_vec())));
            *r.method_mut() = hyper::Method::POST;
            *r.uri_mut() = path.parse().unwrap_or_default();
            let h = r.headers_mut();
            h.insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            h.insert(
                hyper::header::ACCEPT,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            r
        })
        .await
        .map_err(|source| TokenError::Http {
            url: url.clone(),
            hint: http_hint(&source),
            source: Box::new(source),
        })?;
    if resp.status != 200 {
        return Err(classify(identity, scope, resp.status, &resp.body));
    }
    let answer: TokenAnswer =
        serde_json::from_slice(&resp.body).map_err(|e| TokenError::BadResponse {
            url: url.clone(),
            status: resp.status,
            detail: format!("not a token answer: {}", e.classify_name()),
        })?;
    // `expires_in` is a number (v2) or a string (v1).
    let secs = match answer.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(3599),
        Some(serde_json::Value::String(s)) => s.parse().unwrap_or(3599),
        _ => 3599,
    };
    Ok(AccessToken {
        value: Secret::new(answer.access_token),
        expires_at: started + Duration::from_secs(secs),
    })
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "no access_token",
            serde_json::error::Category::Eof => "cut short",
        }
    }
}

/// What to do about a connection failure to the cloud.
pub fn http_hint(e: &HttpError) -> &'static str {
    match e {
        HttpError::ProxyUnreachable { .. }
        | HttpError::ProxyAuth { .. }
        | HttpError::ProxyAuthScheme { .. }
        | HttpError::ProxySignIn { .. }
        | HttpError::ProxyRefused { .. } => "; the cloud is reached through the configured proxy (Proxy/…): check it allows the Microsoft endpoints",
        HttpError::Dns { .. } | HttpError::ConnectTimeout { .. } | HttpError::Refused { .. } | HttpError::Connect { .. } => "; this machine must reach the Microsoft cloud: set Proxy/Enabled and Proxy/Host if the internet is only reached through a proxy",
        HttpError::Tls { .. } => "; a TLS-inspecting proxy needs its CA in TrustedCaFile",
        _ => "",
    }
}

/// Tokens by (tenant, app, scope), renewed [`TokenCache::renew_before`] before they expire.
#[derive(Debug)]
pub struct TokenCache {
    tokens: HashMap<(String, String, String), AccessToken>,
    pub renew_before: Duration,
    /// How many tokens were fetched (for tests and status).
    pub fetched: u32,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache {
            tokens: HashMap::new(),
            renew_before: Duration::from_secs(300),
            fetched: 0,
        }
    }
}

impl TokenCache {
    /// A cached token still good for [`Self::renew_before`], else a new one.
    pub async fn get(
        &mut self,
        http: &mut CloudHttp,
        identity: &AppIdentity,
        scope: &str,
    ) -> Result<AccessToken, TokenError> {
        let key = (
            identity.tenant.to_ascii_lowercase(),
            identity.client_id.to_ascii_lowercase(),
            scope.to_string(),
        );
        if let Some(t) = self.tokens.get(&key) {
            if t.expires_at.saturating_duration_since(Instant::now()) > self.renew_before {
                return Ok(t.clone());
            }
        }
        let t = request_token(http, identity, scope).await?;
        self.fetched += 1;
        self.tokens.insert(key, t.clone());
        Ok(t)
    }

    /// Forget a token the resource refused (HTTP 401), so the next call fetches another.
    pub fn forget(&mut self, identity: &AppIdentity, scope: &str) {
        self.tokens.remove(&(
            identity.tenant.to_ascii_lowercase(),
            identity.client_id.to_ascii_lowercase(),
            scope.to_string(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> AppIdentity {
        AppIdentity {
            authority: "https://login.example".into(),
            tenant: "contoso.onmicrosoft.com".into(),
            client_id: "11111111-2222-3333-4444-555555555555".into(),
            credential: AppCredential::Secret(Secret::new("s3cr3t-Value")),
        }
    }

    #[test]
    fn aadsts_codes_map_to_fixes() {
        let id = identity();
        let body = |code: u32| {
            format!(
                r#"{{"error":"invalid_client","error_description":"AADSTS{code}: words","error_codes":[{code}]}}"#
            )
        };
        let e = |code| {
            classify(
                &id,
                "https://graph.microsoft.com/.default",
                401,
                body(code).as_bytes(),
            )
        };
        assert!(matches!(e(700016), TokenError::UnknownApp { .. }));
        assert!(matches!(e(7000215), TokenError::WrongSecret));
        assert!(matches!(
            e(700027),
            TokenError::CertificateNotRegistered { .. }
        ));
        assert!(matches!(e(700024), TokenError::ClockSkew { .. }));
        assert!(matches!(e(90002), TokenError::UnknownTenant { .. }));
        assert!(matches!(e(65001), TokenError::ConsentMissing { .. }));
        assert!(matches!(e(12345), TokenError::Refused { code: 12345, .. }));
        assert!(matches!(
            e(90033),
            TokenError::TemporarilyUnavailable { code: 90033, .. }
        ));
        // Without error_codes, the description's code is used.
        let x = classify(&id, "s", 400, br#"{"error":"invalid_request","error_description":"AADSTS700016: Application not found"}"#);
        assert!(matches!(x, TokenError::UnknownApp { .. }), "{x}");
        for code in [700016, 7000215, 700027, 700024, 90002, 65001] {
            let text = e(code).to_string();
            assert!(!text.contains("s3cr3t-Value"), "{text}");
        }
    }

    #[test]
    fn assertion_has_the_claims_and_a_verifiable_signature() {
        let (cert, key) = crate::cloud::certificate::tests::test_pem();
        let c = crate::cloud::certificate::import_bytes(
            std::path::Path::new("a.pem"),
            format!("{cert}{key}").as_bytes(),
            None,
            jiff::Timestamp::now(),
        )
        .unwrap();
        for alg in [AssertionAlg::Ps256, AssertionAlg::Rs256] {
            let jwt = client_assertion(
                &c,
                alg,
                "app-id",
                "https://login.example/t/oauth2/v2.0/token",
                1_700_000_000,
                "j1",
            )
            .unwrap();
            let parts: Vec<&str> = jwt.split('.').collect();
            assert_eq!(parts.len(), 3);
            use base64::Engine as _;
            let d = |s: &str| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(s)
                    .unwrap()
            };
            let h: serde_json::Value = serde_json::from_slice(&d(parts[0])).unwrap();
            let claims: serde_json::Value = serde_json::from_slice(&d(parts[1])).unwrap();
            assert_eq!(h["alg"], alg.name());
            assert_eq!(claims["aud"], "https://login.example/t/oauth2/v2.0/token");
            assert_eq!(claims["iss"], "app-id");
            assert_eq!(claims["exp"], 1_700_000_600);
            // Verify with the certificate's public key (aws-lc-rs; PyJWT does the same in
            // tests/cloud_peers.rs).
            let (_, x) = x509_parser::parse_x509_certificate(&c.certificate).unwrap();
            let pk = x.public_key().subject_public_key.data.to_vec();
            let alg_v: &dyn aws_lc_rs::signature::VerificationAlgorithm = match alg {
                AssertionAlg::Ps256 => &aws_lc_rs::signature::RSA_PSS_2048_8192_SHA256,
                AssertionAlg::Rs256 => &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            };
            let input = format!("{}.{}", parts[0], parts[1]);
            let key = aws_lc_rs::signature::UnparsedPublicKey::new(alg_v, &pk);
            key.verify(input.as_bytes(), &d(parts[2])).unwrap();
            assert!(key
                .verify(format!("{input}x").as_bytes(), &d(parts[2]))
                .is_err());
        }
    }
}
