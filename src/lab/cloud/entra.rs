//! The lab's Entra ID: OpenID discovery, the signing keys, and the v2.0 token endpoint for
//! the client credentials grant — with the app's client secret or a JWT client assertion
//! signed by its registered certificate — answering like Entra, errors with its real AADSTS
//! codes. It also checks the access tokens it issued when Graph is called ([`validate`]).
//!
//! Access tokens are JWTs like Entra's v1 app-only tokens (`aud` the Graph resource, `iss`
//! `https://sts.windows.net/<tenant>/`, `roles` with the granted application permissions),
//! signed RS256 with a key made once per process and published at `jwks_uri`; Graph accepts
//! only those, for its own URL and tenant. Secrets, assertions and tokens are never logged or echoed in an error.

use std::sync::atomic::Ordering;

use base64::Engine;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Request};
use serde_json::{json, Value};

use super::{Cloud, GRAPH_APP_ID, PERMISSION, TENANT_DOMAIN};
use crate::lab::http::{read_body, respond, Resp};
use crate::lab::{now, LabError};

/// The `client_assertion_type` of a JWT client assertion (RFC 7523).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Lifetime of the tokens issued, as Entra's `expires_in` says it (seconds).
pub const TOKEN_LIFETIME: i64 = 3599;

/// How far an assertion's `nbf`/`exp` may be off the lab's clock.
pub const CLOCK_SKEW: i64 = 300;

fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
}

/// A client secret shaped like Entra's (40 characters, `~` at the fourth).
pub(crate) fn new_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
    let mut buf = [0u8; 40];
    if aws_lc_rs::rand::fill(&mut buf).is_err() {
        let mut rng = crate::lab::org::SplitMix::new(now() as u64 ^ u64::from(std::process::id()));
        for b in &mut buf {
            *b = rng.next_u64() as u8;
        }
    }
    let mut s: String = buf
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    s.replace_range(3..4, "~");
    s
}

/// The key the lab's Entra signs access tokens with.
pub(crate) struct TokenKeys {
    key: aws_lc_rs::rsa::KeyPair,
    /// Its public key, PKCS#1 DER.
    public_der: Vec<u8>,
    /// Key id (`kid`, also `x5t` as Entra sets both).
    kid: String,
}

/// The modulus and exponent of a PKCS#1 `RSAPublicKey` (`SEQUENCE { INTEGER, INTEGER }`).
fn rsa_components(der: &[u8]) -> Option<(&[u8], &[u8])> {
    fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        Some((tag, &rest[..len], &rest[len..]))
    }
    let (0x30, seq, _) = tlv(der)? else {
        return None;
    };
    let (0x02, n, rest) = tlv(seq)? else {
        return None;
    };
    let (0x02, e, _) = tlv(rest)? else {
        return None;
    };
    let n = n.strip_prefix(&[0]).unwrap_or(n);
    let e = e.strip_prefix(&[0]).unwrap_or(e);
    Some((n, e))
}

impl TokenKeys {
    /// The token signing key, made once per process when first needed (like the app's key,
    /// for start-up time); every lab's Graph still accepts only tokens for its own URL and
    /// tenant.
    pub(crate) fn shared() -> Result<std::sync::Arc<TokenKeys>, LabError> {
        static KEYS: std::sync::OnceLock<std::sync::Arc<TokenKeys>> = std::sync::OnceLock::new();
        if let Some(k) = KEYS.get() {
            return Ok(k.clone());
        }
        let k = std::sync::Arc::new(TokenKeys::generate()?);
        Ok(KEYS.get_or_init(|| k).clone())
    }

    pub(crate) fn generate() -> Result<TokenKeys, LabError> {
        use aws_lc_rs::signature::KeyPair as _;
        let key =
            aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(|_| {
                LabError::Options("could not make the cloud's token signing key".into())
            })?;
        let public_der = key.public_key().as_ref().to_vec();
        let sha1 =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &public_der);
        Ok(TokenKeys {
            key,
            kid: b64url(sha1.as_ref()),
            public_der,
        })
    }

    fn sign(&self, header: &Value, payload: &Value) -> Option<String> {
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(payload.to_string().as_bytes())
        );
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.key
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &rng,
                input.as_bytes(),
                &mut sig,
            )
            .ok()?;
        Some(format!("{input}.{}", b64url(&sig)))
    }

    /// The JSON Web Key Set `jwks_uri` serves.
    fn jwks(&self) -> Value {
        let (n, e) = rsa_components(&self.public_der).unwrap_or((&[], &[]));
        json!({"keys": [{
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": b64url(n),
            "e": b64url(e),
            "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
        }]})
    }
}

/// A NumericDate claim: seconds, which RFC 7519 lets be fractional (MSAL Python sends
/// `time.time()` floats).
fn numeric_date(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite())
            .map(|f| f.floor() as i64)
    })
}

/// A JWT split into its parts.
struct Jwt<'a> {
    header: Value,
    payload: Value,
    signing_input: &'a str,
    signature: Vec<u8>,
}

fn parse_jwt(token: &str) -> Option<Jwt<'_>> {
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&b64url_decode(h)?).ok()?;
    let payload: Value = serde_json::from_slice(&b64url_decode(p)?).ok()?;
    if !header.is_object() || !payload.is_object() {
        return None;
    }
    Some(Jwt {
        header,
        payload,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature: b64url_decode(s)?,
    })
}

/// An Entra error: HTTP status, OAuth `error`, AADSTS code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraError {
    pub status: u16,
    pub error: &'static str,
    pub code: u32,
    pub message: String,
}

impl EntraError {
    fn new(status: u16, error: &'static str, code: u32, message: impl Into<String>) -> Self {
        EntraError {
            status,
            error,
            code,
            message: message.into(),
        }
    }

    fn response(&self, authority: &str) -> Resp {
        let ts = jiff::Timestamp::from_second(now()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let stamp = ts.strftime("%Y-%m-%d %H:%M:%SZ").to_string();
        let mut rng = crate::lab::org::SplitMix::new(now() as u64 ^ u64::from(self.code));
        let trace = super::guid(&mut rng);
        let correlation = super::guid(&mut rng);
        let body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {stamp}",
                self.code, self.message
            ),
            "error_codes": [self.code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("{authority}/error?code={}", self.code),
        });
        json_response(self.status, &body)
    }
}

fn json_response(status: u16, body: &Value) -> Resp {
    let mut r = respond(status, "application/json; charset=utf-8", body.to_string());
    let h = r.headers_mut();
    h.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store, no-cache"),
    );
    h.insert(
        hyper::header::PRAGMA,
        hyper::header::HeaderValue::from_static("no-cache"),
    );
    r
}

/// Entra's answer in an outage (the lab's outage switch on the authority).
pub(crate) fn temporarily_unavailable(authority: &str) -> Resp {
    EntraError::new(
        503,
        "temporarily_unavailable",
        90033,
        "A transient error has occurred. Please try again. (lab outage switch)",
    )
    .response(authority)
}

fn tenant_not_found(tenant: &str) -> EntraError {
    EntraError::new(
        400,
        "invalid_tenant",
        90002,
        format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."),
    )
}

impl Cloud {
    /// Whether `tenant` (GUID or verified domain) names this tenant.
    fn is_tenant(&self, tenant: &str) -> bool {
        tenant.eq_ignore_ascii_case(&self.tenant_id) || tenant.eq_ignore_ascii_case(TENANT_DOMAIN)
    }

    fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.authority)
    }

    /// The OpenID configuration of the tenant (v2.0), as Entra serves it.
    fn discovery(&self) -> Value {
        let a = &self.authority;
        let t = &self.tenant_id;
        json!({
            "token_endpoint": format!("{a}/{t}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{a}/{t}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": format!("{a}/{t}/v2.0"),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": format!("{}/oidc/userinfo", self.graph_url),
            "authorization_endpoint": format!("{a}/{t}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{a}/{t}/oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{a}/{t}/oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": format!("{a}/{t}/kerberos"),
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": self.graph_url.trim_start_matches("https://"),
            "rbac_url": "https://pas.windows.net",
        })
    }
}

/// What a token request carries.
#[derive(Debug, Default)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    scope: Option<String>,
    client_secret: Option<String>,
    assertion_type: Option<String>,
    assertion: Option<String>,
}

impl TokenRequest {
    fn parse(body: &[u8], authorization: Option<&str>) -> TokenRequest {
        let mut r = TokenRequest::default();
        for (k, v) in url::form_urlencoded::parse(body) {
            let v = Some(v.into_owned());
            match k.as_ref() {
                "grant_type" => r.grant_type = v,
                "client_id" => r.client_id = v,
                "scope" => r.scope = v,
                "client_secret" => r.client_secret = v,
                "client_assertion_type" => r.assertion_type = v,
                "client_assertion" => r.assertion = v,
                _ => {}
            }
        }
        // client_secret_basic: `Authorization: Basic base64(url(id):url(secret))`.
        if let Some(basic) = authorization.and_then(|h| {
            h.split_once(' ')
                .filter(|(s, _)| s.eq_ignore_ascii_case("basic"))
                .map(|(_, v)| v.trim().to_string())
        }) {
            if let Some((id, secret)) = base64::engine::general_purpose::STANDARD
                .decode(basic)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| {
                    s.split_once(':').map(|(a, b)| {
                        let dec = |x: &str| {
                            url::form_urlencoded::parse(format!("x={x}").as_bytes())
                                .next()
                                .map(|(_, v)| v.into_owned())
                                .unwrap_or_default()
                        };
                        (dec(a), dec(b))
                    })
                })
            {
                r.client_id.get_or_insert(id);
                r.client_secret.get_or_insert(secret);
            }
        }
        r
    }
}

/// How the app proved itself (Entra's `appidacr`: 1 secret, 2 certificate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Secret,
    Certificate,
}

fn missing(param: &str) -> EntraError {
    EntraError::new(
        400,
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{param}'."),
    )
}

impl Cloud {
    /// Check a token request and issue the token, or say why not.
    fn token(&self, tenant: &str, req: &TokenRequest, now: i64) -> Result<Value, EntraError> {
        if !self.is_tenant(tenant) {
            return Err(tenant_not_found(tenant));
        }
        let grant = req
            .grant_type
            .as_deref()
            .ok_or_else(|| missing("grant_type"))?;
        if grant != "client_credentials" {
            return Err(EntraError::new(
                400,
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{grant}'."),
            ));
        }
        let client_id = req
            .client_id
            .as_deref()
            .ok_or_else(|| missing("client_id"))?;
        if !client_id.eq_ignore_ascii_case(&self.app.application_id) {
            return Err(EntraError::new(
                400,
                "unauthorized_client",
                700016,
                format!("Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", self.tenant_id),
            ));
        }
        let scope = req.scope.as_deref().ok_or_else(|| missing("scope"))?;
        let audience = self.scope_audience(scope)?;
        let auth = if req.assertion_type.is_some() || req.assertion.is_some() {
            if req.assertion_type.as_deref() != Some(JWT_BEARER) {
                return Err(EntraError::new(
                    400,
                    "invalid_request",
                    50027,
                    format!("Invalid client_assertion_type; it must be '{JWT_BEARER}'."),
                ));
            }
            let assertion = req
                .assertion
                .as_deref()
                .ok_or_else(|| missing("client_assertion"))?;
            self.check_assertion(tenant, client_id, assertion, now)?;
            ClientAuth::Certificate
        } else if let Some(secret) = req.client_secret.as_deref() {
            let ok = secret.len() == self.app.secret.len()
                && aws_lc_rs::constant_time::verify_slices_are_equal(
                    secret.as_bytes(),
                    self.app.secret.as_bytes(),
                )
                .is_ok();
            if !ok {
                return Err(EntraError::new(
                    401,
                    "invalid_client",
                    7000215,
                    format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.", self.app.application_id),
                ));
            }
            if self.secret_expired.load(Ordering::SeqCst) {
                return Err(EntraError::new(
                    401,
                    "invalid_client",
                    7000222,
                    format!("The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", self.app.application_id),
                ));
            }
            ClientAuth::Secret
        } else {
            return Err(EntraError::new(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        };
        let token = self.issue(&audience, auth, now).ok_or_else(|| {
            EntraError::new(
                500,
                "server_error",
                90000,
                "The lab could not sign the token.",
            )
        })?;
        self.tokens_issued.fetch_add(1, Ordering::SeqCst);
        Ok(json!({
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME,
            "ext_expires_in": TOKEN_LIFETIME,
            "access_token": token,
        }))
    }

    /// The resource a client credentials scope names (`<resource>/.default`), if it is Graph.
    fn scope_audience(&self, scope: &str) -> Result<String, EntraError> {
        let scopes: Vec<&str> = scope.split_whitespace().collect();
        let [one] = scopes.as_slice() else {
            return Err(EntraError::new(
                400,
                "invalid_scope",
                1002012,
                format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
            ));
        };
        let Some(resource) = one.strip_suffix("/.default") else {
            return Err(EntraError::new(
                400,
                "invalid_scope",
                1002012,
                format!("The provided value for scope {one} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
            ));
        };
        let resource = resource.trim_end_matches('/');
        if resource.eq_ignore_ascii_case(&self.graph_url) {
            Ok(self.graph_url.clone())
        } else if resource.eq_ignore_ascii_case(GRAPH_APP_ID) {
            Ok(GRAPH_APP_ID.to_string())
        } else {
            Err(EntraError::new(
                400,
                "invalid_resource",
                500011,
                format!("The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", self.tenant_id),
            ))
        }
    }

    /// Verify a client assertion: signature with the registered certificate (matched by
    /// `x5t` or `x5t#S256`), `iss` = `sub` = the client id, `aud` the token URL, `exp` and
    /// `nbf` within [`CLOCK_SKEW`], `jti` never seen before.
    fn check_assertion(
        &self,
        tenant: &str,
        client_id: &str,
        assertion: &str,
        now: i64,
    ) -> Result<(), EntraError> {
        let malformed = || {
            EntraError::new(
                400,
                "invalid_request",
                50027,
                "JWT token is invalid or malformed.",
            )
        };
        let jwt = parse_jwt(assertion).ok_or_else(malformed)?;
        let alg = jwt.header["alg"].as_str().unwrap_or_default();
        let verify_alg: &'static dyn aws_lc_rs::signature::VerificationAlgorithm = match alg {
            "RS256" => &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            "PS256" => &aws_lc_rs::signature::RSA_PSS_2048_8192_SHA256,
            other => {
                return Err(EntraError::new(
                    401,
                    "invalid_client",
                    5002738,
                    format!("Invalid JWT token. '{other}' is not a supported signature algorithm. Supported signing algorithms are: 'RS256, PS256'"),
                ))
            }
        };
        let x5t = jwt.header["x5t"].as_str().and_then(b64url_decode);
        let x5t256 = jwt.header["x5t#S256"].as_str().and_then(b64url_decode);
        let matches = x5t.as_deref() == Some(&self.app.sha1[..])
            || x5t256.as_deref() == Some(&self.app.sha256[..]);
        if !matches {
            let sent = x5t256
                .or(x5t)
                .map(|t| b64url(&t))
                .unwrap_or_else(|| "(none)".into());
            return Err(EntraError::new(
                401,
                "invalid_client",
                700027,
                format!("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{sent}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/{}']", self.app.application_id, self.app.application_id),
            ));
        }
        let key =
            aws_lc_rs::signature::UnparsedPublicKey::new(verify_alg, &self.app.cert_public_key);
        if key
            .verify(jwt.signing_input.as_bytes(), &jwt.signature)
            .is_err()
        {
            return Err(EntraError::new(
                401,
                "invalid_client",
                700027,
                "Client assertion failed signature validation.",
            ));
        }
        let claim = |k: &str| jwt.payload[k].as_str().map(str::to_string);
        if claim("iss").as_deref() != Some(client_id) || claim("sub").as_deref() != Some(client_id)
        {
            return Err(EntraError::new(
                401,
                "invalid_client",
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .",
            ));
        }
        let aud_ok = |aud: &str| {
            let aud = aud.trim_end_matches('/');
            [tenant, self.tenant_id.as_str(), TENANT_DOMAIN]
                .iter()
                .flat_map(|t| {
                    [
                        self.token_url(t),
                        format!("{}/{t}/oauth2/token", self.authority),
                    ]
                })
                .any(|u| u.eq_ignore_ascii_case(aud))
        };
        let aud_matches = match &jwt.payload["aud"] {
            Value::String(a) => aud_ok(a),
            Value::Array(list) => list.iter().filter_map(Value::as_str).any(aud_ok),
            _ => false,
        };
        if !aud_matches {
            return Err(EntraError::new(
                401,
                "invalid_client",
                700023,
                "Client assertion audience claim does not match Realm issuer. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .",
            ));
        }
        let exp = numeric_date(&jwt.payload["exp"]).ok_or_else(malformed)?;
        let nbf = numeric_date(&jwt.payload["nbf"]);
        if now > exp + CLOCK_SKEW || nbf.is_some_and(|n| n > now + CLOCK_SKEW) {
            let t = |s: i64| {
                jiff::Timestamp::from_second(s)
                    .map(|t| t.to_string())
                    .unwrap_or_else(|_| s.to_string())
            };
            return Err(EntraError::new(
                401,
                "invalid_client",
                700024,
                format!(
                    "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .",
                    t(now),
                    nbf.map(t).unwrap_or_else(|| "(not set)".into()),
                    t(exp)
                ),
            ));
        }
        if let Some(jti) = claim("jti") {
            let mut used = match self.used_jti.lock() {
                Ok(u) => u,
                Err(p) => p.into_inner(),
            };
            used.retain(|_, e| *e + CLOCK_SKEW >= now);
            if used.contains_key(&jti) {
                return Err(EntraError::new(
                    401,
                    "invalid_client",
                    50013,
                    "Assertion is invalid: this client assertion's 'jti' was already used. A client assertion is accepted once; sign a new one with a new 'jti'.",
                ));
            }
            used.insert(jti, exp);
        }
        Ok(())
    }

    /// A signed access token for `audience`.
    fn issue(&self, audience: &str, auth: ClientAuth, now: i64) -> Option<String> {
        let serial = self.token_serial.fetch_add(1, Ordering::SeqCst);
        let mut rng = crate::lab::org::SplitMix::new(serial ^ 0x0A11_D0C5);
        let oid = {
            let mut r = crate::lab::org::SplitMix::new(
                u64::from_str_radix(&self.app.application_id[..8], 16).unwrap_or(7),
            );
            super::guid(&mut r)
        };
        let issuer = format!("https://sts.windows.net/{}/", self.tenant_id);
        let mut claims = json!({
            "aud": audience,
            "iss": issuer,
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME + 1,
            "aio": b64url(&rng.next_u64().to_be_bytes()),
            "app_displayname": "EAS Connector",
            "appid": self.app.application_id,
            "appidacr": match auth { ClientAuth::Secret => "1", ClientAuth::Certificate => "2" },
            "idp": issuer,
            "idtyp": "app",
            "oid": oid,
            "sub": oid,
            "tid": self.tenant_id,
            "uti": format!("lab{serial}"),
            "ver": "1.0",
        });
        if self.permission.load(Ordering::SeqCst) {
            claims["roles"] = json!([PERMISSION]);
        }
        let keys = TokenKeys::shared().ok()?;
        let header = json!({"typ": "JWT", "alg": "RS256", "x5t": keys.kid, "kid": keys.kid});
        keys.sign(&header, &claims)
    }
}

/// Why Graph refuses an access token (its 401 `InvalidAuthenticationToken` message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenProblem {
    #[error("Access token is empty.")]
    Empty,
    #[error("IDX14100: JWT is not well formed, there are no dots (.). The token needs to be in JWS or JWE Compact Serialization Format.")]
    Malformed,
    #[error("Access token validation failure. Invalid signature.")]
    Signature,
    #[error("Access token validation failure. Invalid audience.")]
    Audience,
    #[error("Access token validation failure. Invalid issuer.")]
    Issuer,
    #[error("Lifetime validation failed, the token is expired.")]
    Expired,
}

/// The claims of a valid token that Graph uses.
#[derive(Debug, Clone)]
pub struct TokenClaims {
    pub roles: Vec<String>,
}

/// Check an access token presented to Graph: signed by this lab's Entra, for Graph, for this
/// tenant, unexpired and not expired by the switch.
pub(crate) fn validate(cloud: &Cloud, token: &str, now: i64) -> Result<TokenClaims, TokenProblem> {
    if token.is_empty() {
        return Err(TokenProblem::Empty);
    }
    let jwt = parse_jwt(token).ok_or(TokenProblem::Malformed)?;
    if jwt.header["alg"].as_str() != Some("RS256") {
        return Err(TokenProblem::Signature);
    }
    let keys = TokenKeys::shared().map_err(|_| TokenProblem::Signature)?;
    let key = aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        &keys.public_der,
    );
    key.verify(jwt.signing_input.as_bytes(), &jwt.signature)
        .map_err(|_| TokenProblem::Signature)?;
    let p = &jwt.payload;
    let aud = p["aud"].as_str().unwrap_or_default();
    if aud != cloud.graph_url && aud != GRAPH_APP_ID {
        return Err(TokenProblem::Audience);
    }
    if p["tid"].as_str() != Some(cloud.tenant_id.as_str()) {
        return Err(TokenProblem::Issuer);
    }
    let exp = numeric_date(&p["exp"]).unwrap_or(0);
    let nbf = numeric_date(&p["nbf"]).unwrap_or(0);
    let serial = p["uti"]
        .as_str()
        .and_then(|u| u.strip_prefix("lab"))
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    if now >= exp || nbf > now + CLOCK_SKEW || serial < cloud.revoked_below.load(Ordering::SeqCst) {
        return Err(TokenProblem::Expired);
    }
    let roles = p["roles"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(TokenClaims { roles })
}

/// Route a request to the authority: `/<tenant>/v2.0/.well-known/openid-configuration`,
/// `/<tenant>/discovery/v2.0/keys`, `/<tenant>/oauth2/v2.0/token`.
pub(crate) async fn handle(cloud: &Cloud, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_string();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method().clone();
    match (method, parts.as_slice()) {
        (Method::GET, [tenant, "v2.0", ".well-known", "openid-configuration"]) => {
            if !cloud.is_tenant(tenant) {
                return tenant_not_found(tenant).response(&cloud.authority);
            }
            json_response(200, &cloud.discovery())
        }
        (Method::GET, [tenant, "discovery", "v2.0", "keys"]) => {
            if !cloud.is_tenant(tenant) {
                return tenant_not_found(tenant).response(&cloud.authority);
            }
            match TokenKeys::shared() {
                Ok(k) => json_response(200, &k.jwks()),
                Err(e) => respond(500, "text/plain", e.to_string()),
            }
        }
        (Method::POST, [tenant, "oauth2", "v2.0", "token"]) => {
            let tenant = tenant.to_string();
            let authorization = req
                .headers()
                .get(hyper::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = match read_body(req).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let request = TokenRequest::parse(&body, authorization.as_deref());
            match cloud.token(&tenant, &request, now()) {
                Ok(v) => json_response(200, &v),
                Err(e) => {
                    tracing::debug!(code = e.code, "lab cloud: token request refused");
                    e.response(&cloud.authority)
                }
            }
        }
        (_, [_, "oauth2", "v2.0", "token"]) => respond(
            405,
            "text/plain",
            Bytes::from_static(b"The token endpoint takes POST."),
        ),
        _ => respond(404, "text/plain", Bytes::from_static(b"404 - not found")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::{Lab, LabOptions};

    #[test]
    fn rsa_components_read_a_pkcs1_key() {
        let keys = TokenKeys::generate().unwrap();
        let (n, e) = rsa_components(&keys.public_der).unwrap();
        assert_eq!(n.len(), 256);
        assert_eq!(e, &[1, 0, 1]);
    }

    #[test]
    fn secrets_look_like_entra_secrets() {
        let s = new_secret();
        assert_eq!(s.len(), 40);
        assert_eq!(&s[3..4], "~");
        assert_ne!(s, new_secret());
    }

    async fn lab(dir: &std::path::Path) -> Lab {
        Lab::start(LabOptions {
            servers: 1,
            devices: 50,
            state_dir: dir.to_path_buf(),
            ..LabOptions::default()
        })
        .await
        .unwrap()
    }

    /// A client assertion signed with the lab app's key file.
    fn assertion(lab: &Lab, alg: &str, claims: Value) -> String {
        let info = lab.info().cloud.clone().unwrap();
        let pem = std::fs::read_to_string(&info.private_key_file).unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let key = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).unwrap();
        let cloud = &lab.shared.cloud;
        let header = if alg == "PS256" {
            json!({"alg": alg, "typ": "JWT", "x5t#S256": b64url(&cloud.app.sha256)})
        } else {
            json!({"alg": alg, "typ": "JWT", "x5t": b64url(&cloud.app.sha1)})
        };
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let mut sig = vec![0u8; key.public_modulus_len()];
        let enc: &'static dyn aws_lc_rs::signature::RsaEncoding = if alg == "PS256" {
            &aws_lc_rs::signature::RSA_PSS_SHA256
        } else {
            &aws_lc_rs::signature::RSA_PKCS1_SHA256
        };
        key.sign(
            enc,
            &aws_lc_rs::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .unwrap();
        format!("{input}.{}", b64url(&sig))
    }

    fn request(lab: &Lab, assertion: Option<String>, secret: Option<&str>) -> TokenRequest {
        let cloud = &lab.shared.cloud;
        TokenRequest {
            grant_type: Some("client_credentials".into()),
            client_id: Some(cloud.app.application_id.clone()),
            scope: Some(format!("{}/.default", cloud.graph_url)),
            client_secret: secret.map(str::to_string),
            assertion_type: assertion.as_ref().map(|_| JWT_BEARER.to_string()),
            assertion,
        }
    }

    fn code(r: Result<Value, EntraError>) -> u32 {
        r.err().map(|e| e.code).unwrap_or(0)
    }

    #[tokio::test]
    async fn the_token_endpoint_checks_secret_and_assertions_like_entra() {
        let dir = tempfile::tempdir().unwrap();
        let lab = lab(dir.path()).await;
        let cloud = lab.shared.cloud.clone();
        let tenant = cloud.tenant_id.clone();
        let t = now();
        let secret =
            std::fs::read_to_string(&lab.info().cloud.clone().unwrap().client_secret_file).unwrap();

        // The secret: a token Graph accepts, with the permission as a role.
        let ok = cloud
            .token(&tenant, &request(&lab, None, Some(&secret)), t)
            .unwrap();
        assert_eq!(ok["token_type"], "Bearer");
        assert_eq!(ok["expires_in"], 3599);
        let token = ok["access_token"].as_str().unwrap();
        assert_eq!(
            validate(&cloud, token, t).unwrap().roles,
            vec![PERMISSION.to_string()]
        );
        assert_eq!(
            validate(&cloud, token, t + TOKEN_LIFETIME + 1).err(),
            Some(TokenProblem::Expired)
        );
        let mut forged = token.to_string();
        forged.pop();
        forged.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(validate(&cloud, &forged, t).is_err());
        assert_eq!(
            code(cloud.token(&tenant, &request(&lab, None, Some("nope")), t)),
            7000215
        );
        assert_eq!(
            code(cloud.token("other.example", &request(&lab, None, Some(&secret)), t)),
            90002
        );
        assert_eq!(
            code(cloud.token(&tenant, &request(&lab, None, None), t)),
            7000218
        );
        let mut r = request(&lab, None, Some(&secret));
        r.scope = Some(format!(
            "{}/DeviceManagementManagedDevices.Read.All",
            cloud.graph_url
        ));
        assert_eq!(code(cloud.token(&tenant, &r, t)), 1002012);
        r.scope = Some("https://outlook.office365.com/.default".into());
        assert_eq!(code(cloud.token(&tenant, &r, t)), 500011);
        r.scope = Some(format!("{GRAPH_APP_ID}/.default"));
        assert!(cloud.token(&tenant, &r, t).is_ok());
        r.client_id = Some("11111111-2222-3333-4444-555555555555".into());
        assert_eq!(code(cloud.token(&tenant, &r, t)), 700016);

        // Client assertions.
        let app = cloud.app.application_id.clone();
        let claims = |aud: String, jti: &str, nbf: i64, exp: i64| json!({"aud": aud, "iss": app, "sub": app, "jti": jti, "nbf": nbf, "exp": exp, "iat": nbf});
        let url = cloud.token_url(&tenant);
        for (alg, jti) in [("RS256", "a"), ("PS256", "b")] {
            let a = assertion(&lab, alg, claims(url.clone(), jti, t - 10, t + 600));
            let ok = cloud
                .token(&tenant, &request(&lab, Some(a.clone()), None), t)
                .unwrap();
            assert!(validate(&cloud, ok["access_token"].as_str().unwrap(), t).is_ok());
            // The same assertion again: replayed.
            assert_eq!(
                code(cloud.token(&tenant, &request(&lab, Some(a), None), t)),
                50013
            );
        }
        let by_domain = format!("{}/{TENANT_DOMAIN}/oauth2/v2.0/token", cloud.authority);
        let a = assertion(&lab, "PS256", claims(by_domain, "c", t - 10, t + 600));
        assert!(cloud
            .token(TENANT_DOMAIN, &request(&lab, Some(a), None), t)
            .is_ok());
        let a = assertion(&lab, "PS256", claims(url.clone(), "d", t - 900, t - 600));
        assert_eq!(
            code(cloud.token(&tenant, &request(&lab, Some(a), None), t)),
            700024
        );
        let a = assertion(&lab, "PS256", claims(url.clone(), "e", t + 900, t + 1200));
        assert_eq!(
            code(cloud.token(&tenant, &request(&lab, Some(a), None), t)),
            700024
        );
        // Within the allowed skew.
        let a = assertion(&lab, "PS256", claims(url.clone(), "f", t + 60, t + 600));
        assert!(cloud
            .token(&tenant, &request(&lab, Some(a), None), t)
            .is_ok());
        let a = assertion(
            &lab,
            "PS256",
            claims(format!("{}/v2.0", cloud.authority), "g", t, t + 600),
        );
        assert_eq!(
            code(cloud.token(&tenant, &request(&lab, Some(a), None), t)),
            700023
        );
        let mut a = assertion(&lab, "RS256", claims(url.clone(), "h", t, t + 600));
        a.truncate(a.len() - 4);
        a.push_str("AAAA");
        assert_eq!(
            code(cloud.token(&tenant, &request(&lab, Some(a), None), t)),
            700027
        );
        assert_eq!(
            code(cloud.token(&tenant, &request(&lab, Some("not.a.jwt".into()), None), t)),
            50027
        );

        // Switches: revoked permission (no role), expired secret, expired tokens.
        cloud.set_permission(false);
        let ok = cloud
            .token(&tenant, &request(&lab, None, Some(&secret)), t)
            .unwrap();
        assert!(validate(&cloud, ok["access_token"].as_str().unwrap(), t)
            .unwrap()
            .roles
            .is_empty());
        cloud.set_permission(true);
        cloud.set_secret_expired(true);
        assert_eq!(
            code(cloud.token(&tenant, &request(&lab, None, Some(&secret)), t)),
            7000222
        );
        cloud.set_secret_expired(false);
        let ok = cloud
            .token(&tenant, &request(&lab, None, Some(&secret)), t)
            .unwrap();
        cloud.expire_tokens();
        assert_eq!(
            validate(&cloud, ok["access_token"].as_str().unwrap(), t).err(),
            Some(TokenProblem::Expired)
        );
        let ok = cloud
            .token(&tenant, &request(&lab, None, Some(&secret)), t)
            .unwrap();
        assert!(validate(&cloud, ok["access_token"].as_str().unwrap(), t).is_ok());
    }

    #[tokio::test]
    async fn the_app_files_are_owner_only_and_listed_in_lab_json() {
        let dir = tempfile::tempdir().unwrap();
        let lab = lab(dir.path()).await;
        let json: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("lab.json")).unwrap()).unwrap();
        let c = &json["cloud"];
        for k in ["tenant_id", "authority", "graph_url", "application_id"] {
            assert!(c[k].as_str().is_some_and(|v| !v.is_empty()), "{k}: {c}");
        }
        for k in [
            "client_secret_file",
            "certificate_file",
            "private_key_file",
            "pfx_file",
        ] {
            let path = std::path::PathBuf::from(c[k].as_str().unwrap());
            assert!(path.starts_with(dir.path()), "{k}");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{k}");
            }
        }
        let key = std::fs::read_to_string(c["private_key_file"].as_str().unwrap()).unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
        let cert = std::fs::read_to_string(c["certificate_file"].as_str().unwrap()).unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
        let cloud = &lab.shared.cloud;
        assert_eq!(
            c["certificate_thumbprint"],
            super::super::hex_upper(&cloud.app.sha1)
        );
        // The secret is in its file and in no other file of the folder but that one.
        let secret = std::fs::read_to_string(c["client_secret_file"].as_str().unwrap()).unwrap();
        for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
            if e.path().is_file()
                && e.path() != std::path::Path::new(c["client_secret_file"].as_str().unwrap())
            {
                let text = String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).to_string();
                assert!(!text.contains(&secret), "{}", e.path().display());
            }
        }
        assert_eq!(
            cloud.discovery()["token_endpoint"],
            format!("{}/{}/oauth2/v2.0/token", cloud.authority, cloud.tenant_id)
        );
    }
}
