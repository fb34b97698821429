//! The answers file of `eas-connector configure --answers FILE`: the wizard's answers as TOML.
//!
//! Keys are the configuration file's own element names (`ClientAccessServer`,
//! `[Proxy] Port`, …), so there is one vocabulary; passwords are `Password = "…"` or, better,
//! `PasswordEnv = "VARIABLE"` in the `[ServiceAccount]`, `[NotificationAccount]` and `[Proxy]`
//! tables. Unknown keys are errors that name the key. This module only parses; it must not
//! write anything.

use crate::config::{fields, ConnectorConfig, Field, ValueError, FIELDS};
use crate::secrets::{Secret, SecretKind};

/// Parsed answers: field values to set, and passwords.
#[derive(Debug, Clone, Default)]
pub struct Answers {
    /// `(field, value)` in file order, e.g. `(&PROXY_PORT, "3128")`.
    pub fields: Vec<(&'static Field, String)>,
    pub passwords: Vec<(SecretKind, Secret)>,
}

/// What is wrong with an answers file.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AnswersError {
    #[error("answers file: not valid TOML: {0}")]
    Toml(String),
    #[error("answers file: '{key}' is not a configuration field; the fields are: {known}")]
    UnknownKey { key: String, known: String },
    #[error("answers file: '{key}' must be {expected}")]
    WrongType { key: String, expected: &'static str },
    #[error("answers file: {key}: {problem}")]
    BadValue { key: String, problem: ValueError },
    #[error("answers file: {0} is empty")]
    EmptyPassword(String),
    #[error("answers file: {key} names environment variable {var}, which is not set")]
    MissingEnv { key: String, var: String },
    #[error("answers file: {0} is managed by EAS Connector (the organization comes from --org)")]
    Managed(String),
}

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

/// Parse answers text. Environment variables are read for `PasswordEnv`.
pub fn parse(text: &str) -> Result<Answers, AnswersError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| AnswersError::Toml(e.to_string()))?;
    let mut out = Answers::default();
    for (key, value) in &table {
        match value {
            toml::Value::Table(section) => {
                for (sub, v) in section {
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
}
