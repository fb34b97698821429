//! The answers file of `eas-connector configure --answers FILE`: the wizard's answers as TOML.
//!
//! Keys are the configuration file's own element names (`ClientAccessServer`,
//! `[Proxy] Port`, …), so there is one vocabulary; passwords are `Password = "…"` or, better,
//! `PasswordEnv = "VARIABLE"` in the `[ServiceAccount]`, `[NotificationAccount]` and `[Proxy]`
//! tables. `[Cloud]` takes the cloud app's credential: `CertificateFile = "path"` (PEM or
//! PFX, with `CertificatePasswordEnv` (or `CertificatePassword`) for a PFX's password) or
//! `Secret`/`SecretEnv`.
//! Unknown keys are errors that name the key. This module only parses (and reads the
//! certificate file named); it must not write anything.

use crate::config::validate::shown;
use crate::config::{fields, ConnectorConfig, Field, ValueError, FIELDS};
use crate::secrets::{Secret, SecretKind};

/// Parsed answers: field values to set, and passwords.
#[derive(Debug, Clone, Default)]
pub struct Answers {
    /// `(field, value)` in file order, e.g. `(&PROXY_PORT, "3128")`.
    pub fields: Vec<(&'static Field, String)>,
    pub passwords: Vec<(SecretKind, Secret)>,
    /// `[Cloud] CertificateFile`, read and checked (the file is not needed afterwards).
    pub cloud_certificate: Option<crate::cloud::AppCertificate>,
}

/// What is wrong with an answers file.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AnswersError {
    /// Only the position and the parser's reason: the file may hold passwords, so its text is
    /// never quoted.
    #[error("answers file, line {line}, column {column}: not valid TOML: {reason}; correct the file (see `eas-connector configure --help` for its keys)", reason = shown(.reason))]
    Toml {
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("answers file: '{k}' is not a configuration field; the fields are: {known}", k = shown(.key))]
    UnknownKey { key: String, known: String },
    #[error("answers file: '{k}' must be {expected}", k = shown(.key))]
    WrongType { key: String, expected: &'static str },
    #[error("answers file: {k}: {problem}", k = shown(.key))]
    BadValue { key: String, problem: ValueError },
    #[error("answers file: {0} is empty")]
    EmptyPassword(String),
    #[error("answers file: {key} names environment variable {v}, which is not set", v = shown(.var))]
    MissingEnv { key: String, var: String },
    #[error("answers file: {0} is managed by EAS Connector (the organization comes from --org)")]
    Managed(String),
    #[error("answers file: Cloud/CertificateFile: {0}")]
    Certificate(String),
    #[error("answers file: [Cloud] has both {0}; keep one")]
    Both(&'static str),
}

/// A value given inline (`KEY`) or through an environment variable (`KEY` + `Env`).
fn inline_or_env(path: &str, sub: &str, v: &toml::Value) -> Result<Secret, AnswersError> {
    let raw = scalar(path, v)?;
    let value = if sub.ends_with("Env") {
        std::env::var(&raw).map_err(|_| AnswersError::MissingEnv {
            key: path.to_string(),
            var: raw.clone(),
        })?
    } else {
        raw
    };
    if value.is_empty() {
        return Err(AnswersError::EmptyPassword(path.to_string()));
    }
    Ok(Secret::new(value))
}

/// `[Cloud]`'s keys that are not configuration fields: the credential.
fn cloud_credential(out: &mut Answers, section: &toml::Table) -> Result<(), AnswersError> {
    if section.contains_key("Secret") && section.contains_key("SecretEnv") {
        return Err(AnswersError::Both("Secret and SecretEnv"));
    }
    for key in ["Secret", "SecretEnv"] {
        if let Some(v) = section.get(key) {
            let s = inline_or_env(&format!("Cloud/{key}"), key, v)?;
            out.passwords.push((SecretKind::CloudClientSecret, s));
            push_field(
                out,
                "Cloud/Credential",
                &toml::Value::String("Secret".into()),
            )?;
        }
    }
    if let Some(file) = section.get("CertificateFile") {
        if out
            .passwords
            .iter()
            .any(|(k, _)| *k == SecretKind::CloudClientSecret)
        {
            return Err(AnswersError::Both("CertificateFile and Secret"));
        }
        let path = scalar("Cloud/CertificateFile", file)?;
        if section.contains_key("CertificatePassword")
            && section.contains_key("CertificatePasswordEnv")
        {
            return Err(AnswersError::Both(
                "CertificatePassword and CertificatePasswordEnv",
            ));
        }
        let mut password = None;
        for key in ["CertificatePassword", "CertificatePasswordEnv"] {
            if let Some(v) = section.get(key) {
                password = Some(inline_or_env(&format!("Cloud/{key}"), key, v)?);
            }
        }
        let cert =
            crate::cloud::certificate::import_file(std::path::Path::new(&path), password.as_ref())
                .map_err(|e| AnswersError::Certificate(e.to_string()))?;
        push_field(
            out,
            "Cloud/Credential",
            &toml::Value::String("Certificate".into()),
        )?;
        push_field(
            out,
            "Cloud/CertificateThumbprint",
            &toml::Value::String(cert.thumbprint.clone()),
        )?;
        out.cloud_certificate = Some(cert);
    } else if section.contains_key("CertificatePasswordEnv")
        || section.contains_key("CertificatePassword")
    {
        return Err(AnswersError::Certificate(
            "CertificatePasswordEnv is set but CertificateFile is not; name the PFX file".into(),
        ));
    }
    Ok(())
}

const CLOUD_CREDENTIAL_KEYS: [&str; 5] = [
    "Secret",
    "SecretEnv",
    "CertificateFile",
    "CertificatePassword",
    "CertificatePasswordEnv",
];

fn secret_kind(section: &str) -> Option<SecretKind> {
    match section {
        "ServiceAccount" => Some(SecretKind::ServiceAccount),
        "NotificationAccount" => Some(SecretKind::NotificationAccount),
        "Proxy" => Some(SecretKind::Proxy),
        _ => None,
    }
}

fn scalar(key: &str, v: &toml::Value) -> Result<String, AnswersError> {
    match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        _ => Err(AnswersError::WrongType {
            key: key.to_string(),
            expected: "a string, number or true/false",
        }),
    }
}

fn known() -> String {
    FIELDS.iter().map(|f| f.path).collect::<Vec<_>>().join(", ")
}

/// A TOML syntax error located by line and column, without the source line that
/// `toml::de::Error`'s own text quotes (it could be `Password = "…`).
fn toml_error(text: &str, e: &toml::de::Error) -> AnswersError {
    let at = e.span().map_or(0, |s| s.start).min(text.len());
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    AnswersError::Toml {
        line,
        column,
        reason: e.message().trim().to_string(),
    }
}

/// Parse answers text. Environment variables are read for `PasswordEnv`.
pub fn parse(text: &str) -> Result<Answers, AnswersError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
    let mut out = Answers::default();
    for (key, value) in &table {
        match value {
            toml::Value::Table(section) => {
                if key == "Cloud" {
                    cloud_credential(&mut out, section)?;
                }
                for (sub, v) in section {
                    if key == "Cloud" && CLOUD_CREDENTIAL_KEYS.contains(&sub.as_str()) {
                        continue;
                    }
                    let path = format!("{key}/{sub}");
                    if sub == "Password" || sub == "PasswordEnv" {
                        let Some(kind) = secret_kind(key) else {
                            return Err(AnswersError::UnknownKey {
                                key: path,
                                known: known(),
                            });
                        };
                        let raw = scalar(&path, v)?;
                        let password = if sub == "PasswordEnv" {
                            std::env::var(&raw).map_err(|_| AnswersError::MissingEnv {
                                key: path.clone(),
                                var: raw.clone(),
                            })?
                        } else {
                            raw
                        };
                        if password.is_empty() {
                            return Err(AnswersError::EmptyPassword(path));
                        }
                        out.passwords.push((kind, Secret::new(password)));
                        continue;
                    }
                    push_field(&mut out, &path, v)?;
                }
            }
            v => push_field(&mut out, key, v)?,
        }
    }
    Ok(out)
}

fn push_field(out: &mut Answers, key: &str, v: &toml::Value) -> Result<(), AnswersError> {
    let Some(spec) = fields::find(key) else {
        return Err(AnswersError::UnknownKey {
            key: key.to_string(),
            known: known(),
        });
    };
    if spec.managed() {
        return Err(AnswersError::Managed(spec.path.to_string()));
    }
    let value = scalar(key, v)?;
    // Check the value now, so the error names the answers file's key.
    spec.set(&mut ConnectorConfig::new("check"), &value)
        .map_err(|problem| AnswersError::BadValue {
            key: key.to_string(),
            problem,
        })?;
    out.fields.push((spec, value));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_sections_and_passwords() {
        std::env::set_var("EAS_TEST_ANSWERS_PW", "from-env");
        let a = parse(
            r#"
ExchangeServerType = "OnPremises"
ClientAccessServer = "cas01.contoso.com"
IsCasFailoverEnabled = false
MaxParallelRunspaces = 4
[Proxy]
Enabled = true
Host = "proxy.contoso.com"
Port = 3128
[ServiceAccount]
User = 'CONTOSO\svc-eas'
PasswordEnv = "EAS_TEST_ANSWERS_PW"
[NotificationAccount]
User = "notify@contoso.com"
Mailbox = "notify@contoso.com"
Password = "inline"
"#,
        )
        .unwrap();
        assert!(a.fields.contains(&(&fields::PROXY_PORT, "3128".into())));
        assert!(a.fields.contains(&(&fields::CAS_FAILOVER, "false".into())));
        assert!(a
            .fields
            .contains(&(&fields::SERVICE_ACCOUNT_USER, "CONTOSO\\svc-eas".into())));
        assert_eq!(a.passwords.len(), 2);
        let service = a
            .passwords
            .iter()
            .find(|(k, _)| *k == SecretKind::ServiceAccount)
            .unwrap();
        assert_eq!(service.1.expose(), "from-env");
    }

    #[test]
    fn errors_name_the_key() {
        assert!(parse("Nonsense = 1")
            .unwrap_err()
            .to_string()
            .contains("'Nonsense' is not a configuration field"));
        assert!(parse("[Proxy]\nPort = 70000")
            .unwrap_err()
            .to_string()
            .contains("Proxy/Port: 70000 is out of range"));
        assert!(parse("[Logs]\nPassword = \"x\"")
            .unwrap_err()
            .to_string()
            .contains("'Logs/Password'"));
        assert!(
            parse("[ServiceAccount]\nPasswordEnv = \"EAS_NOT_SET_ANYWHERE\"")
                .unwrap_err()
                .to_string()
                .contains("EAS_NOT_SET_ANYWHERE, which is not set")
        );
        assert!(parse("Organization = \"x\"")
            .unwrap_err()
            .to_string()
            .contains("managed by EAS Connector"));
        let e = parse("[ServiceAccount]\nPassword = \"TopSecret9\"\nUser = 5.5")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("TopSecret9"), "{e}");
    }

    /// The secret in clear, in base64 and in UTF-16 (as a log or a Windows tool could hold it).
    fn leaks(text: &str, secret: &str) -> bool {
        use base64::Engine as _;
        let utf16: String = secret.chars().flat_map(|c| [c, '\0']).collect();
        text.contains(secret)
            || text.contains(&base64::engine::general_purpose::STANDARD.encode(secret))
            || text.contains(&utf16)
    }

    #[test]
    fn syntax_errors_give_a_place_and_never_quote_the_file() {
        let secret = "TopSecret9-Pw";
        for (text, line) in [
            (format!("[ServiceAccount]\nPassword = \"{secret}"), 2),
            (format!("[ServiceAccount]\nPassword = {secret}"), 2),
            (
                format!("[ServiceAccount]\nPassword = \"{secret}\" trailing"),
                2,
            ),
            (
                format!("[Proxy]\nPassword = \"{secret}\"\nPassword = \"{secret}\""),
                3,
            ),
            (
                format!("ClientAccessServer = \"cas\"\n[Proxy\nPassword = \"{secret}\""),
                2,
            ),
        ] {
            let e = parse(&text).unwrap_err();
            let shown = e.to_string();
            assert!(matches!(e, AnswersError::Toml { .. }), "{shown}");
            assert!(!leaks(&shown, secret), "{shown}");
            assert!(!leaks(&format!("{e:?}"), secret), "{e:?}");
            assert!(shown.contains(&format!("line {line},")), "{shown}");
            assert!(!shown.contains('\n'), "one line: {shown}");
        }
    }
}

#[cfg(test)]
mod cloud_tests {
    use super::*;

    #[test]
    fn cloud_table_takes_fields_a_certificate_or_a_secret() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = crate::cloud::certificate::tests::test_pem();
        let pem = dir.path().join("app.pem");
        std::fs::write(&pem, format!("{cert}{key}")).unwrap();
        let a = parse(&format!(
            "[Cloud]\nTenantId = \"contoso.onmicrosoft.com\"\nApplicationId = \"11111111-2222-3333-4444-555555555555\"\nCertificateFile = '{}'\n",
            pem.display()
        ))
        .unwrap();
        let c = a.cloud_certificate.as_ref().unwrap();
        assert!(a
            .fields
            .contains(&(&fields::CLOUD_CERTIFICATE_THUMBPRINT, c.thumbprint.clone())));
        assert!(a
            .fields
            .contains(&(&fields::CLOUD_CREDENTIAL, "Certificate".into())));
        std::env::set_var("EAS_TEST_CLOUD_SECRET", "Cl0ud-Secret~");
        let a = parse("[Cloud]\nSecretEnv = \"EAS_TEST_CLOUD_SECRET\"\n").unwrap();
        assert_eq!(a.passwords[0].0, SecretKind::CloudClientSecret);
        assert_eq!(a.passwords[0].1.expose(), "Cl0ud-Secret~");
        let e = parse("[Cloud]\nSecret = \"x\"\nSecretEnv = \"Y\"\n").unwrap_err();
        assert!(e.to_string().contains("keep one"), "{e}");
        let e = parse("[Cloud]\nCertificateFile = \"/nonexistent/app.pfx\"\n").unwrap_err();
        assert!(e.to_string().contains("Cloud/CertificateFile"), "{e}");
    }
}
