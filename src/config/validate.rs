//! Syntax checks for the values admins type: host names, server addresses, accounts,
//! mailboxes, URLs and times.
//!
//! Each check returns `Err` with a sentence that says what is wrong and what is expected, ready
//! to be prefixed with the field's name. These are offline checks only: they must not resolve
//! names or open connections (that is the validation engine's job).

use std::net::{IpAddr, Ipv6Addr};

/// An organization name, used as a folder name and in service names.
pub fn org_name(v: &str) -> Result<(), String> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v != "."
        && v != ".."
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{v}' is not a usable organization name; use 1-64 letters, digits, '-', '_' or '.'"
        ))
    }
}

/// A DNS host name (not necessarily fully qualified) or an IP address.
pub fn host(v: &str) -> Result<(), String> {
    if v.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    if v.len() > 253 {
        return Err(format!(
            "'{v}' is longer than the 253 characters a host name may have"
        ));
    }
    let trimmed = v.strip_suffix('.').unwrap_or(v);
    for label in trimmed.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid {
            return Err(format!(
                "'{v}' is not a valid host name: each dot-separated part must be 1-63 letters, digits or '-', not starting or ending with '-'"
            ));
        }
    }
    Ok(())
}

/// A fully qualified host name (at least two labels), `localhost`, or an IP address.
pub fn fqdn(v: &str) -> Result<(), String> {
    host(v)?;
    if v.parse::<IpAddr>().is_err() && !v.contains('.') && !v.eq_ignore_ascii_case("localhost") {
        return Err(format!(
            "'{v}' is not fully qualified; enter the full name, e.g. {v}.contoso.com"
        ));
    }
    Ok(())
}

/// Split `host[:port]` / `[v6]:port` into host and optional port, checking both.
pub fn split_host_port(v: &str) -> Result<(String, Option<u16>), String> {
    let port_err = |p: &str| format!("'{p}' in '{v}' is not a port number; use 1-65535");
    let parse_port = |p: &str| -> Result<u16, String> {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(port_err(p)),
        }
    };
    if let Some(rest) = v.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("'{v}' opens '[' for an IPv6 address but never closes it"))?;
        addr.parse::<Ipv6Addr>()
            .map_err(|_| format!("'{addr}' is not an IPv6 address"))?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((addr.to_string(), Some(parse_port(p)?))),
            None if after.is_empty() => Ok((addr.to_string(), None)),
            None => Err(format!("unexpected '{after}' after the address in '{v}'")),
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

/// A Client Access Server: an FQDN or IP address, optionally with `:port` (HTTPS), or a
/// `http://` / `https://` URL of its PowerShell directory, e.g. Microsoft's default
/// `http://cas01.contoso.com/PowerShell/` (Kerberos with message encryption).
pub fn server_address(v: &str) -> Result<(), String> {
    if v.contains("://") {
        let u = url::Url::parse(v).map_err(|e| {
            format!("'{v}' is not a valid URL ({e}); use e.g. http://cas01.contoso.com/PowerShell/")
        })?;
        if u.scheme() != "https" && u.scheme() != "http" {
            return Err(format!(
                "'{v}' must start with http:// or https://, e.g. http://cas01.contoso.com/PowerShell/"
            ));
        }
        if !u.username().is_empty() || u.password().is_some() {
            return Err(format!(
                "'{v}' carries a user name; remove it (the service account is set on its own page)"
            ));
        }
        let host = match u.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            None => return Err(format!("'{v}' has no server name")),
        };
        return fqdn(&host);
    }
    if v.contains('/') {
        return Err(format!(
            "'{v}' is neither a server name nor a URL; enter e.g. cas01.contoso.com or http://cas01.contoso.com/PowerShell/"
        ));
    }
    let (h, _) = split_host_port(v)?;
    fqdn(&h)
}

/// A Kerberos realm: DNS-domain-like labels, e.g. `CORP.CONTOSO.COM` (any case here).
pub fn realm(v: &str) -> Result<(), String> {
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
        Err(format!(
            "'{v}' is not a Kerberos realm; use the Active Directory DNS domain in capitals, e.g. CORP.CONTOSO.COM (not the NetBIOS name)"
        ))
    }
}

/// One or more KDC addresses, `host[:port]`, comma-separated.
pub fn kdc_addresses(v: &str) -> Result<(), String> {
    for part in v.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(format!(
                "'{v}' has an empty entry; separate domain controllers with commas, e.g. dc1.corp.contoso.com, dc2.corp.contoso.com"
            ));
        }
        let (h, _) = split_host_port(part)?;
        host(&h)?;
    }
    Ok(())
}

/// A service principal name `service/host[:port][@REALM]`, e.g. `HTTP/mail.contoso.com`.
pub fn service_principal_name(v: &str) -> Result<(), String> {
    let err = || {
        format!(
            "'{v}' is not a service principal name; use HTTP/<name clients connect to>, e.g. HTTP/mail.contoso.com"
        )
    };
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

/// A hosted Exchange address: `host[:port]` or an `https://` URL, or an `http://` URL (WinRM
/// over plain HTTP, where NTLM/Negotiate message encryption protects the envelopes and Basic is
/// refused; see `AuthenticationMethod`).
pub fn hosted_address(v: &str) -> Result<(), String> {
    if v.contains("://") {
        let u = url::Url::parse(v).map_err(|e| format!("'{v}' is not a valid URL: {e}"))?;
        if u.scheme() != "https" && u.scheme() != "http" {
            return Err(format!(
                "'{v}' must use https:// (or http:// with NTLM/Negotiate message encryption)"
            ));
        }
        if u.host_str().is_none() {
            return Err(format!("'{v}' has no host name"));
        }
        return Ok(());
    }
    server_address(v)
}

/// An EWS URL: must be https with a host.
pub fn ews_url(v: &str) -> Result<(), String> {
    let u = url::Url::parse(v).map_err(|e| {
        format!(
            "'{v}' is not a valid URL ({e}); use e.g. https://mail.contoso.com/EWS/Exchange.asmx"
        )
    })?;
    if u.scheme() != "https" {
        return Err(format!(
            "'{v}' must use https:// (EWS credentials must not travel unencrypted)"
        ));
    }
    if u.host_str().is_none() {
        return Err(format!("'{v}' has no host name"));
    }
    Ok(())
}

const BAD_USER_CHARS: &[char] = &[
    '"', '/', '\\', '[', ']', ':', ';', '|', '=', ',', '+', '*', '?', '<', '>', '@',
];

/// A Windows account: `DOMAIN\user` or a UPN `user@domain.tld`.
pub fn account(v: &str) -> Result<(), String> {
    let hint = "use DOMAIN\\user or user@domain.com";
    if let Some((domain, user)) = v.split_once('\\') {
        let domain_ok = !domain.is_empty()
            && domain.len() <= 15
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        // Also accept a DNS domain, e.g. contoso.com\user.
        let domain_ok = domain_ok || (domain.contains('.') && host(domain).is_ok());
        if !domain_ok {
            return Err(format!(
                "'{domain}' in '{v}' is not a valid domain name; {hint}"
            ));
        }
        if user.is_empty() || user.len() > 104 || user.contains(BAD_USER_CHARS) {
            return Err(format!(
                "'{user}' in '{v}' is not a valid user name; {hint}"
            ));
        }
        return Ok(());
    }
    if v.contains('@') {
        return mailbox(v).map_err(|_| format!("'{v}' is not a valid user principal name; {hint}"));
    }
    Err(format!("'{v}' names no domain; {hint}"))
}

/// A proxy user: like [`account`], but a plain user name is allowed too (Basic proxies).
pub fn proxy_user(v: &str) -> Result<(), String> {
    if v.contains('\\') || v.contains('@') {
        return account(v);
    }
    if v.contains(char::is_whitespace) || v.contains(':') {
        return Err(format!(
            "'{v}' is not a valid proxy user name (no spaces or ':')"
        ));
    }
    Ok(())
}

/// An SMTP address `local@domain.tld`.
pub fn mailbox(v: &str) -> Result<(), String> {
    let err = || format!("'{v}' is not an email address; use e.g. notifications@contoso.com");
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

/// A time of day `HH:MM`, 24-hour.
pub fn time_of_day(v: &str) -> Result<(), String> {
    let err = || format!("'{v}' is not a time of day; use HH:MM, 24-hour, e.g. 02:00");
    let (h, m) = v.split_once(':').ok_or_else(err)?;
    let h: u32 = h.parse().map_err(|_| err())?;
    let m: u32 = m.parse().map_err(|_| err())?;
    if h > 23 || m > 59 || v.len() != 5 {
        return Err(err());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses() {
        for ok in [
            "cas01.contoso.com",
            "cas01.contoso.com:8443",
            "127.0.0.1:4443",
            "localhost",
            "[::1]:443",
            "10.0.0.5",
        ] {
            assert!(server_address(ok).is_ok(), "{ok}");
        }
        assert!(server_address("cas01")
            .unwrap_err()
            .contains("fully qualified"));
        for ok in [
            "http://cas01.contoso.com/PowerShell/",
            "https://cas01.contoso.com/PowerShell",
            "http://cas01.contoso.com:8080/PowerShell/",
        ] {
            assert!(server_address(ok).is_ok(), "{ok}");
        }
        assert!(server_address("ftp://cas01.contoso.com/")
            .unwrap_err()
            .contains("http://"));
        assert!(server_address("http://cas01/PowerShell/")
            .unwrap_err()
            .contains("fully qualified"));
        assert!(server_address("http://u:p@cas01.contoso.com/PowerShell/")
            .unwrap_err()
            .contains("user name"));
        assert!(server_address("cas01.contoso.com/PowerShell")
            .unwrap_err()
            .contains("neither"));
        assert!(server_address("cas01.contoso.com:0")
            .unwrap_err()
            .contains("port"));
        assert!(server_address("cas01.contoso.com:99999")
            .unwrap_err()
            .contains("port"));
        assert!(server_address("-bad.contoso.com").is_err());
        assert!(server_address("under_score.contoso.com").is_err());
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
            .contains("https"));
        assert!(ews_url("mail.contoso.com").is_err());
        assert!(hosted_address("https://ps.hoster.net/PowerShell").is_ok());
        assert!(hosted_address("ps.hoster.net:444").is_ok());
        assert!(hosted_address("http://ps.hoster.net/PowerShell").is_ok());
        assert!(hosted_address("ftp://ps.hoster.net").is_err());
        assert!(time_of_day("02:00").is_ok());
        assert!(time_of_day("23:59").is_ok());
        for bad in ["24:00", "2:00", "02:60", "0200", "aa:bb"] {
            assert!(time_of_day(bad).is_err(), "{bad}");
        }
        assert!(org_name("contoso").is_ok());
        assert!(org_name("../etc").is_err());
        assert!(org_name("").is_err());
    }
}
