//! Syntax checks for the values admins type: host names, ports, accounts, mailboxes, realms,
//! URLs and times.
//!
//! Each check answers a [`ValueError`] that says what is wrong and what is expected, ready to be
//! prefixed with the field's name. Every value an error repeats goes through [`shown`]: control
//! characters escaped, cut to [`SHOWN_MAX`] characters, so a hostile value can neither forge
//! lines in a terminal or log nor flood it. One rule holds for every field: [`one_line`] refuses
//! control characters (line breaks, tabs, escapes) anywhere inside a value. These are offline checks only: they must not resolve names
//! or open connections (that is the validation engine's job).

use std::net::{IpAddr, Ipv6Addr};

/// What is wrong with one typed value; its text says what is expected instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("'{v}' is not a usable organization name; use 1-64 letters, digits, '-', '_' or '.'", v = shown(.0))]
    OrgName(String),
    #[error("'{v}' is longer than the 253 characters a host name may have", v = shown(.0))]
    HostTooLong(String),
    #[error("'{v}' is not a valid host name: each dot-separated part must be 1-63 letters, digits or '-', not starting or ending with '-'", v = shown(.0))]
    HostName(String),
    #[error("'{v}' is not fully qualified; enter the full name, e.g. {v}.contoso.com", v = shown(.0))]
    NotFullyQualified(String),
    #[error("'{port_}' in '{value_}' is not a port number; use 1-65535", value_ = shown(.value), port_ = shown(.port))]
    Port { port: String, value: String },
    #[error("'{v}' opens '[' for an IPv6 address but never closes it", v = shown(.0))]
    UnclosedBracket(String),
    #[error("'{v}' is not an IPv6 address", v = shown(.0))]
    Ipv6(String),
    #[error("unexpected '{after_}' after the address in '{value_}'", value_ = shown(.value), after_ = shown(.after))]
    AfterAddress { after: String, value: String },
    #[error("'{value_}' is not a valid URL ({reason}); use e.g. {example}", value_ = shown(.value))]
    Url {
        value: String,
        reason: url::ParseError,
        example: &'static str,
    },
    #[error("'{value_}' must {rule}", value_ = shown(.value))]
    Scheme { value: String, rule: &'static str },
    #[error("'{v}' carries a user name; remove it (the service account is set on its own page)", v = shown(.0))]
    UserInUrl(String),
    #[error("'{v}' has no server name", v = shown(.0))]
    NoHost(String),
    #[error("'{v}' is neither a server name nor a URL; enter e.g. cas01.contoso.com or http://cas01.contoso.com/PowerShell/", v = shown(.0))]
    NeitherNameNorUrl(String),
    #[error("'{value_}' has an empty entry; separate {what} with commas, e.g. {example}", value_ = shown(.value))]
    EmptyEntry {
        value: String,
        what: &'static str,
        example: &'static str,
    },
    #[error("'{v}' is not a Kerberos realm; use the Active Directory DNS domain in capitals, e.g. CORP.CONTOSO.COM (not the NetBIOS name)", v = shown(.0))]
    Realm(String),
    #[error("'{v}' is not a service principal name; use HTTP/<name clients connect to>, e.g. HTTP/mail.contoso.com", v = shown(.0))]
    ServicePrincipalName(String),
    #[error("'{domain_}' in '{value_}' is not a valid domain name; use DOMAIN\\user or user@domain.com", value_ = shown(.value), domain_ = shown(.domain))]
    AccountDomain { domain: String, value: String },
    #[error("'{user_}' in '{value_}' is not a valid user name; use DOMAIN\\user or user@domain.com", value_ = shown(.value), user_ = shown(.user))]
    AccountUser { user: String, value: String },
    #[error("'{v}' is not a valid user principal name; use DOMAIN\\user or user@domain.com", v = shown(.0))]
    UserPrincipalName(String),
    #[error("'{v}' names no domain; use DOMAIN\\user or user@domain.com", v = shown(.0))]
    NoDomain(String),
    #[error("'{v}' is not a valid proxy user name (no spaces or ':')", v = shown(.0))]
    ProxyUser(String),
    #[error("'{v}' is not an email address; use e.g. notifications@contoso.com", v = shown(.0))]
    Mailbox(String),
    #[error("'{v}' is not a time of day; use HH:MM, 24-hour, e.g. 02:00", v = shown(.0))]
    TimeOfDay(String),
    #[error("'{v}' is not true or false", v = shown(.0))]
    NotBool(String),
    #[error("'{value_}' is not a whole number; use {min}-{max}{unit}", value_ = shown(.value))]
    NotNumber {
        value: String,
        min: u32,
        max: u32,
        unit: &'static str,
    },
    #[error("{n} is out of range; use {min}-{max}{unit}")]
    OutOfRange {
        n: u64,
        min: u32,
        max: u32,
        unit: &'static str,
    },
    #[error("'{value_}' is not {what}; use {choices}", value_ = shown(.value))]
    NotOneOf {
        value: String,
        what: &'static str,
        choices: String,
    },
    #[error("'{v}' contains a control character ({c}); type the value on one line, without line breaks, tabs or escape characters", v = shown(.value), c = .character.escape_default())]
    ControlCharacter { value: String, character: char },
    #[error("'{v}' is not a tenant; use the directory (tenant) ID, a GUID from the Entra admin center's Overview page, or a verified domain such as contoso.onmicrosoft.com", v = shown(.0))]
    Tenant(String),
    #[error("'{v}' is not an application (client) ID; copy the GUID from the app registration's Overview page, e.g. 11111111-2222-3333-4444-555555555555", v = shown(.0))]
    Guid(String),
    #[error("'{v}' is not a certificate thumbprint; use the 40 hex digits of its SHA-1 (set by `cloud set-certificate`)", v = shown(.0))]
    Thumbprint(String),
    #[error("schema version {0} was written by a newer EAS Connector (this one reads up to {max}); upgrade EAS Connector", max = super::model::SCHEMA_VERSION)]
    NewerSchema(u32),
}

/// The most characters of a value an error message repeats.
pub const SHOWN_MAX: usize = 200;

/// `v` as an error message repeats it: control characters escaped (`\n`, `\u{1b}`), and at
/// most [`SHOWN_MAX`] characters, then `…` and the value's full length.
pub fn shown(v: &str) -> String {
    let mut out = String::new();
    for (count, c) in v.chars().enumerate() {
        if count == SHOWN_MAX {
            out.push_str(&format!("… ({} characters in all)", v.chars().count()));
            return out;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Every field's first rule: no control character anywhere in the value (a line break in a
/// user name would forge a second line wherever it is written).
pub fn one_line(v: &str) -> Result<(), ValueError> {
    match v.chars().find(|c| c.is_control()) {
        Some(character) => Err(ValueError::ControlCharacter {
            value: v.into(),
            character,
        }),
        None => Ok(()),
    }
}

/// An organization name, used as a folder name and in service names.
pub fn org_name(v: &str) -> Result<(), ValueError> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v != "."
        && v != ".."
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ValueError::OrgName(v.into()))
    }
}

/// A DNS host name (not necessarily fully qualified) or an IP address.
pub fn host(v: &str) -> Result<(), ValueError> {
    if v.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    if v.len() > 253 {
        return Err(ValueError::HostTooLong(v.into()));
    }
    let trimmed = v.strip_suffix('.').unwrap_or(v);
    for label in trimmed.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid {
            return Err(ValueError::HostName(v.into()));
        }
    }
    Ok(())
}

/// A fully qualified host name (at least two labels), `localhost`, or an IP address.
pub fn fqdn(v: &str) -> Result<(), ValueError> {
    host(v)?;
    if v.parse::<IpAddr>().is_err() && !v.contains('.') && !v.eq_ignore_ascii_case("localhost") {
        return Err(ValueError::NotFullyQualified(v.into()));
    }
    Ok(())
}

/// Split `host[:port]` / `[v6]:port` into host and optional port, checking the port.
pub fn split_host_port(v: &str) -> Result<(String, Option<u16>), ValueError> {
    let parse_port = |p: &str| -> Result<u16, ValueError> {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(ValueError::Port {
                port: p.into(),
                value: v.into(),
            }),
        }
    };
    if let Some(rest) = v.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or_else(|| ValueError::UnclosedBracket(v.into()))?;
        addr.parse::<Ipv6Addr>()
            .map_err(|_| ValueError::Ipv6(addr.into()))?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((addr.to_string(), Some(parse_port(p)?))),
            None if after.is_empty() => Ok((addr.to_string(), None)),
            None => Err(ValueError::AfterAddress {
                after: after.into(),
                value: v.into(),
            }),
        };
    }
    if v.parse::<Ipv6Addr>().is_ok() {
        return Ok((v.to_string(), None));
    }
    match v.rsplit_once(':') {
        Some((h, p)) => Ok((h.to_string(), Some(parse_port(p)?))),
        None => Ok((v.to_string(), None)),
    }
}

/// A Kerberos realm: DNS-domain-like labels, e.g. `CORP.CONTOSO.COM` (any case here).
pub fn realm(v: &str) -> Result<(), ValueError> {
    let ok = !v.is_empty()
        && v.len() <= 253
        && v.split('.').all(|l| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(ValueError::Realm(v.into()))
    }
}

/// One or more KDC addresses, `host[:port]`, comma-separated.
pub fn kdc_addresses(v: &str) -> Result<(), ValueError> {
    for part in v.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(ValueError::EmptyEntry {
                value: v.into(),
                what: "domain controllers",
                example: "dc1.corp.contoso.com, dc2.corp.contoso.com",
            });
        }
        let (h, _) = split_host_port(part)?;
        host(&h)?;
    }
    Ok(())
}

/// A service principal name `service/host[:port][@REALM]`, e.g. `HTTP/mail.contoso.com`.
pub fn service_principal_name(v: &str) -> Result<(), ValueError> {
    let err = || ValueError::ServicePrincipalName(v.into());
    let (service, rest) = v.split_once('/').ok_or_else(err)?;
    let host_part = rest.split('@').next().unwrap_or_default();
    let host_part = host_part.split(':').next().unwrap_or_default();
    if service.is_empty()
        || !service.chars().all(|c| c.is_ascii_alphanumeric())
        || host(host_part).is_err()
        || v.contains(char::is_whitespace)
    {
        return Err(err());
    }
    if let Some((_, r)) = rest.split_once('@') {
        realm(r)?;
    }
    Ok(())
}

/// An EWS URL: must be https with a host.
pub fn ews_url(v: &str) -> Result<(), ValueError> {
    let u = url::Url::parse(v).map_err(|reason| ValueError::Url {
        value: v.into(),
        reason,
        example: "https://mail.contoso.com/EWS/Exchange.asmx",
    })?;
    if u.scheme() != "https" {
        return Err(ValueError::Scheme {
            value: v.into(),
            rule: "use https:// (EWS credentials must not travel unencrypted)",
        });
    }
    if u.host_str().is_none() {
        return Err(ValueError::NoHost(v.into()));
    }
    Ok(())
}

/// A GUID as Entra writes it: 8-4-4-4-12 hex digits.
pub fn guid(v: &str) -> Result<(), ValueError> {
    let parts: Vec<&str> = v.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    let ok = parts.len() == 5
        && parts
            .iter()
            .zip(lens)
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(ValueError::Guid(v.into()))
    }
}

/// An Entra tenant: its GUID, or a verified domain name (`contoso.onmicrosoft.com`).
pub fn tenant(v: &str) -> Result<(), ValueError> {
    if guid(v).is_ok() || (v.contains('.') && fqdn(v).is_ok()) {
        Ok(())
    } else {
        Err(ValueError::Tenant(v.into()))
    }
}

/// An https URL with a host and nothing after the path (the cloud's authority, Graph):
/// returned without a trailing '/'.
pub fn cloud_url(v: &str, example: &'static str) -> Result<String, ValueError> {
    let u = url::Url::parse(v).map_err(|reason| ValueError::Url {
        value: v.into(),
        reason,
        example,
    })?;
    if u.scheme() != "https" {
        return Err(ValueError::Scheme {
            value: v.into(),
            rule: "use https:// (tokens must not travel unencrypted)",
        });
    }
    if u.host_str().is_none() {
        return Err(ValueError::NoHost(v.into()));
    }
    if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() {
        return Err(ValueError::Scheme {
            value: v.into(),
            rule: "be a plain https://host[/path] address, without user, query or fragment",
        });
    }
    Ok(v.trim_end_matches('/').to_string())
}

/// A SHA-1 thumbprint: 40 hex digits (upper case is written).
pub fn thumbprint(v: &str) -> Result<String, ValueError> {
    let t: String = v.chars().filter(|c| *c != ':' && *c != ' ').collect();
    if t.len() == 40 && t.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(t.to_ascii_uppercase())
    } else {
        Err(ValueError::Thumbprint(v.into()))
    }
}

const BAD_USER_CHARS: &[char] = &[
    '"', '/', '\\', '[', ']', ':', ';', '|', '=', ',', '+', '*', '?', '<', '>', '@',
];

/// A Windows account: `DOMAIN\user` or a UPN `user@domain.tld`.
pub fn account(v: &str) -> Result<(), ValueError> {
    if let Some((domain, user)) = v.split_once('\\') {
        let domain_ok = !domain.is_empty()
            && domain.len() <= 15
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        // Also accept a DNS domain, e.g. contoso.com\user.
        let domain_ok = domain_ok || (domain.contains('.') && host(domain).is_ok());
        if !domain_ok {
            return Err(ValueError::AccountDomain {
                domain: domain.into(),
                value: v.into(),
            });
        }
        if user.is_empty() || user.len() > 104 || user.contains(BAD_USER_CHARS) {
            return Err(ValueError::AccountUser {
                user: user.into(),
                value: v.into(),
            });
        }
        return Ok(());
    }
    if v.contains('@') {
        return mailbox(v).map_err(|_| ValueError::UserPrincipalName(v.into()));
    }
    Err(ValueError::NoDomain(v.into()))
}

/// A proxy user: like [`account`], but a plain user name is allowed too (Basic proxies).
pub fn proxy_user(v: &str) -> Result<(), ValueError> {
    if v.contains('\\') || v.contains('@') {
        return account(v);
    }
    if v.contains(char::is_whitespace) || v.contains(':') {
        return Err(ValueError::ProxyUser(v.into()));
    }
    Ok(())
}

/// An SMTP address `local@domain.tld`.
pub fn mailbox(v: &str) -> Result<(), ValueError> {
    let err = || ValueError::Mailbox(v.into());
    let (local, domain) = v.rsplit_once('@').ok_or_else(err)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    if !local_ok || !domain.contains('.') || host(domain).is_err() {
        return Err(err());
    }
    Ok(())
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`).
pub fn boolean(v: &str) -> Result<bool, ValueError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ValueError::NotBool(v.trim().into())),
    }
}

/// A whole number in `min..=max`; `unit` follows the range in the message (e.g. " (a TCP
/// port)").
pub fn number(v: &str, min: u32, max: u32, unit: &'static str) -> Result<u32, ValueError> {
    let v = v.trim();
    let n: u64 = v.parse().map_err(|_| ValueError::NotNumber {
        value: v.into(),
        min,
        max,
        unit,
    })?;
    if n < u64::from(min) || n > u64::from(max) {
        return Err(ValueError::OutOfRange { n, min, max, unit });
    }
    Ok(n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_escapes_and_cuts() {
        assert_eq!(shown("LAB\\svc\nevil\x1b[2J"), "LAB\\svc\\nevil\\u{1b}[2J");
        let long = "x".repeat(50_000);
        let s = shown(&long);
        assert!(s.starts_with(&"x".repeat(SHOWN_MAX)), "{s}");
        assert!(s.ends_with("… (50000 characters in all)"), "{s}");
        assert!(s.chars().count() < SHOWN_MAX + 40);
        // Every error that repeats a value repeats it shown, whatever the check.
        let e = mailbox(&format!("{long}\n")).unwrap_err().to_string();
        assert!(e.len() < 400 && !e.contains('\n'), "{e}");
        assert!(one_line("LAB\\svc\nevil")
            .unwrap_err()
            .to_string()
            .contains("control character (\\n)"));
        assert!(one_line("tab\there").is_err());
        assert!(one_line("cas01.contoso.com").is_ok());
    }

    #[test]
    fn accounts() {
        for ok in [
            "CONTOSO\\svc-eas",
            "svc-eas@contoso.com",
            "contoso.com\\svc",
        ] {
            assert!(account(ok).is_ok(), "{ok}");
        }
        for bad in [
            "svc-eas",
            "\\svc",
            "CONTOSO\\",
            "CONTOSO\\a:b",
            "@contoso.com",
            "a@b",
        ] {
            assert!(account(bad).is_err(), "{bad}");
        }
        assert!(proxy_user("squiduser").is_ok());
        assert!(proxy_user("a b").is_err());
    }

    #[test]
    fn mailboxes_urls_times() {
        assert!(mailbox("eas.notify@contoso.com").is_ok());
        assert!(mailbox("no-at-sign").is_err());
        assert!(mailbox("a@localhost").is_err());
        assert!(ews_url("https://mail.contoso.com/EWS/Exchange.asmx").is_ok());
        assert!(ews_url("http://mail.contoso.com/EWS/Exchange.asmx")
            .unwrap_err()
            .to_string()
            .contains("https"));
        assert!(ews_url("mail.contoso.com").is_err());
        use crate::config::TimeOfDay;
        assert!(TimeOfDay::parse("02:00").is_ok());
        assert_eq!(TimeOfDay::parse("23:59").unwrap().to_string(), "23:59");
        for bad in ["24:00", "2:00", "02:60", "0200", "aa:bb"] {
            assert!(TimeOfDay::parse(bad).is_err(), "{bad}");
        }
        assert!(org_name("contoso").is_ok());
        assert!(org_name("../etc").is_err());
        assert!(org_name("").is_err());
    }
}
