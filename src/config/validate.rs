//! Syntax checks for the values admins type: host names, ports, accounts, mailboxes, realms,
//! URLs and times.
//!
//! Each check answers a [`ValueError`] that says what is wrong and what is expected, ready to be
//! prefixed with the field's name. These are offline checks only: they must not resolve names
//! or open connections (that is the validation engine's job).

use std::net::{IpAddr, Ipv6Addr};

/// What is wrong with one typed value; its text says what is expected instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("'{0}' is not a usable organization name; use 1-64 letters, digits, '-', '_' or '.'")]
    OrgName(String),
    #[error("'{0}' is longer than the 253 characters a host name may have")]
    HostTooLong(String),
    #[error("'{0}' is not a valid host name: each dot-separated part must be 1-63 letters, digits or '-', not starting or ending with '-'")]
    HostName(String),
    #[error("'{0}' is not fully qualified; enter the full name, e.g. {0}.contoso.com")]
    NotFullyQualified(String),
    #[error("'{port}' in '{value}' is not a port number; use 1-65535")]
    Port { port: String, value: String },
    #[error("'{0}' opens '[' for an IPv6 address but never closes it")]
    UnclosedBracket(String),
    #[error("'{0}' is not an IPv6 address")]
    Ipv6(String),
    #[error("unexpected '{after}' after the address in '{value}'")]
    AfterAddress { after: String, value: String },
    #[error("'{value}' is not a valid URL ({reason}); use e.g. {example}")]
    Url {
        value: String,
        reason: url::ParseError,
        example: &'static str,
    },
    #[error("'{value}' must {rule}")]
    Scheme { value: String, rule: &'static str },
    #[error("'{0}' carries a user name; remove it (the service account is set on its own page)")]
    UserInUrl(String),
    #[error("'{0}' has no server name")]
    NoHost(String),
    #[error("'{0}' is neither a server name nor a URL; enter e.g. cas01.contoso.com or http://cas01.contoso.com/PowerShell/")]
    NeitherNameNorUrl(String),
    #[error("'{value}' has an empty entry; separate {what} with commas, e.g. {example}")]
    EmptyEntry {
        value: String,
        what: &'static str,
        example: &'static str,
    },
    #[error("'{0}' is not a Kerberos realm; use the Active Directory DNS domain in capitals, e.g. CORP.CONTOSO.COM (not the NetBIOS name)")]
    Realm(String),
    #[error("'{0}' is not a service principal name; use HTTP/<name clients connect to>, e.g. HTTP/mail.contoso.com")]
    ServicePrincipalName(String),
    #[error(
        "'{domain}' in '{value}' is not a valid domain name; use DOMAIN\\user or user@domain.com"
    )]
    AccountDomain { domain: String, value: String },
    #[error("'{user}' in '{value}' is not a valid user name; use DOMAIN\\user or user@domain.com")]
    AccountUser { user: String, value: String },
    #[error("'{0}' is not a valid user principal name; use DOMAIN\\user or user@domain.com")]
    UserPrincipalName(String),
    #[error("'{0}' names no domain; use DOMAIN\\user or user@domain.com")]
    NoDomain(String),
    #[error("'{0}' is not a valid proxy user name (no spaces or ':')")]
    ProxyUser(String),
    #[error("'{0}' is not an email address; use e.g. notifications@contoso.com")]
    Mailbox(String),
    #[error("'{0}' is not a time of day; use HH:MM, 24-hour, e.g. 02:00")]
    TimeOfDay(String),
    #[error("'{0}' is not true or false")]
    NotBool(String),
    #[error("'{value}' is not a whole number; use {min}-{max}{unit}")]
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
    #[error("'{value}' is not {what}; use {choices}")]
    NotOneOf {
        value: String,
        what: &'static str,
        choices: String,
    },
    #[error("schema version {0} was written by a newer EAS Connector (this one reads up to {max}); upgrade EAS Connector", max = super::model::SCHEMA_VERSION)]
    NewerSchema(u32),
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
