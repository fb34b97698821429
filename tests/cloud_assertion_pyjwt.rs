//! The JWT client assertion the connector sends to Entra ID, verified by an independent peer:
//! PyJWT with `cryptography` (PyPI) checks the PS256 and RS256 signatures with the
//! certificate's public key, the audience, issuer, subject and time claims, and the `x5t` /
//! `x5t#S256` thumbprints; a tampered assertion is refused.

mod support;

use std::path::Path;
use std::process::Command;

use eas_connector::cloud::certificate::import_bytes;
use eas_connector::cloud::token::{client_assertion, AssertionAlg};

const VERIFY: &str = r#"
import base64, hashlib, json, sys, time
import jwt
from cryptography import x509
cert = x509.load_pem_x509_certificate(open(sys.argv[1], 'rb').read())
token, alg, aud, client = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
header = jwt.get_unverified_header(token)
assert header['alg'] == alg, header
der = cert.public_bytes(encoding=__import__('cryptography.hazmat.primitives.serialization', fromlist=['Encoding']).Encoding.DER)
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b'=').decode()
if alg == 'PS256':
    assert header['x5t#S256'] == b64(hashlib.sha256(der).digest()), header
else:
    assert header['x5t'] == b64(hashlib.sha1(der).digest()), header
try:
    claims = jwt.decode(token, cert.public_key(), algorithms=[alg], audience=aud, issuer=client,
                        options={'require': ['exp', 'nbf', 'iat', 'jti', 'sub', 'iss', 'aud']})
except jwt.InvalidSignatureError:
    print('INVALID-SIGNATURE'); sys.exit(3)
assert claims['sub'] == client
assert claims['exp'] - claims['nbf'] <= 3600
assert abs(claims['nbf'] - time.time()) < 600
print('VERIFIED')
"#;

#[test]
fn pyjwt_verifies_our_ps256_and_rs256_assertions_and_refuses_a_tampered_one() {
    if !support::python_module("jwt", "PyJWT")
        || !support::python_module("cryptography", "cryptography")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["eas-connector-app".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let cert_pem = dir.path().join("app.crt");
    std::fs::write(&cert_pem, cert.pem()).unwrap();
    let app = import_bytes(
        Path::new("app.pem"),
        format!("{}{}", cert.pem(), key.serialize_pem()).as_bytes(),
        None,
        jiff::Timestamp::now(),
    )
    .unwrap();
    let aud = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";
    let client = "11111111-2222-3333-4444-555555555555";
    let script = dir.path().join("verify.py");
    std::fs::write(&script, VERIFY).unwrap();
    let run = |token: &str, alg: &str| {
        let out = Command::new("python3")
            .arg(&script)
            .args([cert_pem.to_str().unwrap(), token, alg, aud, client])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let now = jiff::Timestamp::now().as_second();
    for alg in [AssertionAlg::Ps256, AssertionAlg::Rs256] {
        let jwt = client_assertion(&app, alg, client, aud, now, "jti-1").unwrap();
        let (code, out, err) = run(&jwt, alg.name());
        assert_eq!(
            (code, out.as_str()),
            (Some(0), "VERIFIED"),
            "{alg:?}: {err}"
        );
        // Tampered: the claims changed after signing (another audience), signature kept.
        let parts: Vec<&str> = jwt.split('.').collect();
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let claims = String::from_utf8(b64.decode(parts[1]).unwrap())
            .unwrap()
            .replace("\"sub\":\"1111", "\"sub\":\"9111");
        let forged = format!("{}.{}.{}", parts[0], b64.encode(claims), parts[2]);
        let (code, out, _) = run(&forged, alg.name());
        assert_eq!(
            (code, out.as_str()),
            (Some(3), "INVALID-SIGNATURE"),
            "{alg:?}"
        );
    }
}
