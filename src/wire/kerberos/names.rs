//! Who signs in where: the client principal and realm from the configured account, and the
//! service principal name of an Exchange server.
//!
//! Pure functions over strings and settings; they never resolve names (the caller passes the
//! server's canonical name in) and never see a password.

/// A Kerberos principal name with its realm, e.g. `svc-eas` in `CORP.CONTOSO.COM`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// Name components: one for a user (`svc-eas`), two for a service (`HTTP`, `host`).
    pub components: Vec<String>,
    pub realm: String,
    /// An enterprise name (`user@upn-suffix` as one component, RFC 6806), which the realm's
    /// KDC maps to the account: how a UPN is sent (its prefix need not be the account's
    /// sAMAccountName). A KDC that does not know it gets the plain name instead.
    pub enterprise: bool,
}

impl Principal {
    /// The plain name of an enterprise principal (`svc` of `svc@corp.contoso.com`), for a KDC
    /// that does not resolve enterprise names.
    pub fn plain(&self) -> Option<Principal> {
        if !self.enterprise {
            return None;
        }
        let name = self.components.first()?.rsplit_once('@')?.0.to_string();
        Some(Principal {
            components: vec![name],
            realm: self.realm.clone(),
            enterprise: false,
        })
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.enterprise {
            // The UPN itself (its realm is where it is looked up, not part of the name).
            return write!(f, "{}", self.components.join("/"));
        }
        write!(f, "{}@{}", self.components.join("/"), self.realm)
    }
}

/// Where the realm came from, for `validate` and the wizard to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RealmSource {
    /// The `Kerberos/Realm` setting.
    Setting,
    /// The account's UPN suffix (or a DNS domain before the backslash).
    Account,
    /// The Exchange server's DNS domain.
    ServerDomain,
}

impl RealmSource {
    pub fn describe(self) -> &'static str {
        match self {
            RealmSource::Setting => "from Kerberos/Realm",
            RealmSource::Account => "from the account's UPN suffix",
            RealmSource::ServerDomain => "from the Exchange server's DNS domain",
        }
    }
}

/// Why no client principal could be formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("'{user}' is not a user name Kerberos can use")]
    BadUser { user: String },
    #[error("no Kerberos realm is known for '{user}': the account is DOMAIN\\user (a NetBIOS name, not a realm) and the server '{server}' has no DNS domain")]
    NoRealm { user: String, server: String },
    #[error("Kerberos needs the Exchange server's name, but '{server}' is an IP address")]
    AddressWithoutName { server: String },
}

/// The DNS domain of a host name: everything after the first label, if it has two or more
/// further labels' worth of name (`cas01.corp.contoso.com` → `corp.contoso.com`). IP
/// addresses and single-label names have none.
pub fn dns_domain(host: &str) -> Option<&str> {
    if host.parse::<core::net::IpAddr>().is_ok() {
        return None;
    }
    let host = host.trim_end_matches('.');
    let (_, domain) = host.split_once('.')?;
    (!domain.is_empty()).then_some(domain)
}

/// The realm and client principal for `user` (`user@domain` or `DOMAIN\user`): the realm is
/// `configured` when set, else the UPN suffix (or a dotted domain before a backslash), else
/// `server`'s DNS domain — never a NetBIOS `DOMAIN\` prefix.
pub fn client_principal(
    user: &str,
    configured: Option<&str>,
    server: &str,
) -> Result<(Principal, RealmSource), NameError> {
    let bad = || NameError::BadUser {
        user: user.to_string(),
    };
    let configured = configured
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_ascii_uppercase);
    let (name, account_domain) = if let Some((domain, name)) = user.split_once('\\') {
        // A dotted domain (contoso.com\user) is a DNS domain; a NetBIOS name is not a realm.
        (name, domain.contains('.').then_some(domain))
    } else if let Some((name, suffix)) = user.rsplit_once('@') {
        (name, Some(suffix))
    } else {
        return Err(bad());
    };
    if name.is_empty() || name.contains(['/', '@', '\\']) || name.contains(char::is_whitespace) {
        return Err(bad());
    }
    let (realm, source) = match (&configured, account_domain) {
        (Some(r), _) => (r.clone(), RealmSource::Setting),
        (None, Some(d)) if !d.is_empty() => (d.to_ascii_uppercase(), RealmSource::Account),
        (None, _) => match dns_domain(server) {
            Some(d) => (d.to_ascii_uppercase(), RealmSource::ServerDomain),
            None => {
                return Err(NameError::NoRealm {
                    user: user.to_string(),
                    server: server.to_string(),
                })
            }
        },
    };
    // A UPN goes as an enterprise name: Active Directory maps it to the account whatever its
    // sAMAccountName and whether the suffix is the realm's or an alternative one.
    let enterprise = !user.contains('\\') && user.contains('@');
    let components = if enterprise {
        vec![user.to_string()]
    } else {
        vec![name.to_string()]
    };
    Ok((
        Principal {
            components,
            realm,
            enterprise,
        },
        source,
    ))
}

/// The service principal name for an Exchange server: `configured` (`HTTP/host`, with an
/// optional `@REALM`) when set, else `HTTP/<canonical>` where `canonical` is the server's
/// canonical FQDN. Returns the components and the realm written in the setting, if any.
pub fn service_principal(
    configured: Option<&str>,
    canonical: &str,
) -> Result<(Vec<String>, Option<String>), NameError> {
    if let Some(spn) = configured.map(str::trim).filter(|s| !s.is_empty()) {
        let (name, realm) = match spn.rsplit_once('@') {
            Some((n, r)) => (n, Some(r.to_ascii_uppercase())),
            None => (spn, None),
        };
        let comps: Vec<String> = name.split('/').map(str::to_string).collect();
        return Ok((comps, realm));
    }
    if canonical.parse::<core::net::IpAddr>().is_ok() {
        return Err(NameError::AddressWithoutName {
            server: canonical.to_string(),
        });
    }
    Ok((
        vec![
            "HTTP".to_string(),
            canonical.trim_end_matches('.').to_ascii_lowercase(),
        ],
        None,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn the_realm_comes_from_the_setting_then_the_upn_then_the_server() {
        let (p, s) = client_principal("svc-eas@corp.contoso.com", None, "cas01.x.y").unwrap();
        assert_eq!(p.realm, "CORP.CONTOSO.COM");
        assert_eq!(s, RealmSource::Account);
        assert!(p.enterprise);
        assert_eq!(p.components, vec!["svc-eas@corp.contoso.com"]);
        assert_eq!(p.plain().unwrap().to_string(), "svc-eas@CORP.CONTOSO.COM");
        // NetBIOS prefix: never the realm; the server's domain is.
        let (p, s) = client_principal("CONTOSO\\svc-eas", None, "cas01.corp.contoso.com").unwrap();
        assert_eq!(p.to_string(), "svc-eas@CORP.CONTOSO.COM");
        assert_eq!(s, RealmSource::ServerDomain);
        assert!(!p.enterprise && p.plain().is_none());
        // The setting wins.
        let (p, s) = client_principal("CONTOSO\\svc", Some("ad.contoso.com"), "x.y.z").unwrap();
        assert_eq!(p.realm, "AD.CONTOSO.COM");
        assert_eq!(s, RealmSource::Setting);
        // A dotted domain before the backslash is a DNS domain.
        let (p, _) = client_principal("corp.contoso.com\\svc", None, "127.0.0.1").unwrap();
        assert_eq!(p.realm, "CORP.CONTOSO.COM");
        // Alternative UPN suffix with the realm set: an enterprise name.
        let (p, _) = client_principal("svc@contoso.com", Some("CORP.CONTOSO.COM"), "x").unwrap();
        assert!(p.enterprise);
        assert_eq!(p.components, vec!["svc@contoso.com"]);
    }

    #[test]
    fn no_realm_and_bad_names_are_explained() {
        let e = client_principal("CONTOSO\\svc", None, "127.0.0.1").unwrap_err();
        assert!(e.to_string().contains("NetBIOS"), "{e}");
        assert!(client_principal("svc", None, "a.b.c").is_err());
        assert!(client_principal("CONTOSO\\a/b", None, "a.b.c").is_err());
        assert!(client_principal("CONTOSO\\", None, "a.b.c").is_err());
    }

    #[test]
    fn service_names() {
        assert_eq!(
            service_principal(None, "CAS01.corp.contoso.com.").unwrap(),
            (vec!["HTTP".into(), "cas01.corp.contoso.com".into()], None)
        );
        assert_eq!(
            service_principal(Some("HTTP/mail.contoso.com@CORP.CONTOSO.COM"), "x").unwrap(),
            (
                vec!["HTTP".into(), "mail.contoso.com".into()],
                Some("CORP.CONTOSO.COM".into())
            )
        );
        assert!(service_principal(None, "10.0.0.5").is_err());
        assert_eq!(
            dns_domain("cas01.corp.contoso.com"),
            Some("corp.contoso.com")
        );
        assert_eq!(dns_domain("localhost"), None);
        assert_eq!(dns_domain("::1"), None);
    }
}
