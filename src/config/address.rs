//! Exchange server addresses as the configuration holds them: parsed once, when the file is
//! read or a field is set, into a [`ServerAddress`] that says how to reach remote PowerShell.
//!
//! An address is a name (`cas01.contoso.com`, `cas01.contoso.com:8443`, `[::1]:443`: HTTPS, the
//! default path) or a URL of the PowerShell directory, such as Microsoft's default
//! `http://cas01.contoso.com/PowerShell/` (Kerberos with message encryption).
//! `ClientAccessServer` holds a comma-separated list of them ([`ServerList`]): the first is
//! where the connector connects, the others are tried in order when it fails over. This module
//! only parses and prints; it must not resolve names or connect.

use std::fmt;

use super::validate::{self, ValueError};

/// How an address was written, so that it is written back the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Form {
    /// `host[:port]`: HTTPS on the default path.
    Name,
    /// An `http://` or `https://` URL.
    Url,
}

/// One Exchange server's remote PowerShell address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddress {
    /// `https://` (the default for a bare name) or plain `http://` (WinRM message encryption).
    pub https: bool,
    /// The host name or IP address (IPv6 without brackets).
    pub host: String,
    /// The port when one was given.
    pub port: Option<u16>,
    /// The path of the PowerShell directory when the URL gave one (`/PowerShell/`); `None`
    /// for a bare name or a URL without a path.
    pub path: Option<String>,
    form: Form,
}

impl ServerAddress {
    /// A Client Access Server: a fully qualified name or IP address, optionally with `:port`
    /// (HTTPS), or an `http://` / `https://` URL of its PowerShell directory.
    pub fn client_access_server(v: &str) -> Result<ServerAddress, ValueError> {
        let v = v.trim();
        if v.contains("://") {
            let a = Self::url(
                v,
                "start with http:// or https://, e.g. http://cas01.contoso.com/PowerShell/",
            )?;
            validate::fqdn(&a.host)?;
            return Ok(a);
        }
        if v.contains('/') {
            return Err(ValueError::NeitherNameNorUrl(v.into()));
        }
        let (host, port) = validate::split_host_port(v)?;
        validate::fqdn(&host)?;
        Ok(ServerAddress {
            https: true,
            host,
            port,
            path: None,
            form: Form::Name,
        })
    }

    /// A hosted Exchange address: `host[:port]`, an `https://` URL, or an `http://` URL (WinRM
    /// over plain HTTP, where NTLM/Negotiate message encryption protects the envelopes and
    /// Basic is refused). A URL's host need not be fully qualified.
    pub fn hosted(v: &str) -> Result<ServerAddress, ValueError> {
        let v = v.trim();
        if v.contains("://") {
            return Self::url(
                v,
                "use https:// (or http:// with NTLM/Negotiate message encryption)",
            );
        }
        Self::client_access_server(v)
    }

    fn url(v: &str, rule: &'static str) -> Result<ServerAddress, ValueError> {
        let u = url::Url::parse(v).map_err(|reason| ValueError::Url {
            value: v.into(),
            reason,
            example: "http://cas01.contoso.com/PowerShell/",
        })?;
        let https = match u.scheme() {
            "https" => true,
            "http" => false,
            _ => {
                return Err(ValueError::Scheme {
                    value: v.into(),
                    rule,
                })
            }
        };
        if !u.username().is_empty() || u.password().is_some() {
            return Err(ValueError::UserInUrl(v.into()));
        }
        let host = match u.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            None => return Err(ValueError::NoHost(v.into())),
        };
        let mut path = u.path().to_string();
        if let Some(q) = u.query() {
            path.push('?');
            path.push_str(q);
        }
        Ok(ServerAddress {
            https,
            host,
            port: u.port(),
            path: (path != "/").then_some(path),
            form: Form::Url,
        })
    }

    /// `host[:port]`, IPv6 in brackets: how the server is named in messages and failover.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
    }

    /// The URL of the PowerShell directory, `default_path` (e.g. `/PowerShell/`) when the
    /// address names none.
    pub fn url_with_default_path(&self, default_path: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let path = self.path.as_deref().unwrap_or(default_path);
        format!("{scheme}://{}{path}", self.authority())
    }

    /// The same kind of address (scheme and path) on another server, `host[:port]` as
    /// Exchange names it (failover to a server it listed).
    pub fn on_server(&self, authority: &str) -> Result<ServerAddress, ValueError> {
        let (host, port) = validate::split_host_port(authority)?;
        validate::host(&host)?;
        Ok(ServerAddress {
            host,
            port,
            ..self.clone()
        })
    }
}

impl fmt::Display for ServerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.form {
            Form::Name => f.write_str(&self.authority()),
            Form::Url => {
                let scheme = if self.https { "https" } else { "http" };
                let path = self.path.as_deref().unwrap_or("/");
                write!(f, "{scheme}://{}{path}", self.authority())
            }
        }
    }
}

/// `ClientAccessServer`: one or more addresses, comma-separated; the first is the one the
/// connector uses, the rest are where it fails over first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerList(pub Vec<ServerAddress>);

impl ServerList {
    /// Parse a comma-separated list; empty text is an empty list.
    pub fn parse(v: &str) -> Result<ServerList, ValueError> {
        if v.trim().is_empty() {
            return Ok(ServerList::default());
        }
        v.split(',')
            .map(|part| {
                if part.trim().is_empty() {
                    Err(ValueError::EmptyEntry {
                        value: v.trim().into(),
                        what: "Client Access Servers",
                        example: "cas01.contoso.com, cas02.contoso.com",
                    })
                } else {
                    ServerAddress::client_access_server(part)
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(ServerList)
    }

    /// The server the connector connects to.
    pub fn first(&self) -> Option<&ServerAddress> {
        self.0.first()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ServerList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for ServerList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl serde::Serialize for ServerAddress {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cas(v: &str) -> Result<ServerAddress, ValueError> {
        ServerAddress::client_access_server(v)
    }

    fn err(v: &str) -> String {
        cas(v).unwrap_err().to_string()
    }

    #[test]
    fn names_and_urls_are_accepted_and_written_back_as_given() {
        for ok in [
            "cas01.contoso.com",
            "cas01.contoso.com:8443",
            "127.0.0.1:4443",
            "localhost",
            "[::1]:443",
            "10.0.0.5",
            "http://cas01.contoso.com/PowerShell/",
            "https://cas01.contoso.com/PowerShell",
            "http://cas01.contoso.com:8080/PowerShell/",
        ] {
            assert_eq!(cas(ok).unwrap().to_string(), ok);
        }
    }

    #[test]
    fn the_powershell_url_comes_from_the_address() {
        let a = cas("cas01.contoso.com").unwrap();
        assert_eq!(
            a.url_with_default_path("/PowerShell/"),
            "https://cas01.contoso.com/PowerShell/"
        );
        let a = cas("http://cas01.contoso.com/PowerShell/").unwrap();
        assert!(!a.https);
        assert_eq!(
            a.url_with_default_path("/x/"),
            "http://cas01.contoso.com/PowerShell/"
        );
        let a = cas("https://cas01.contoso.com").unwrap();
        assert_eq!(
            a.url_with_default_path("/PowerShell/"),
            "https://cas01.contoso.com/PowerShell/"
        );
        let b = a.on_server("cas02.contoso.com:444").unwrap();
        assert_eq!(
            b.url_with_default_path("/PowerShell/"),
            "https://cas02.contoso.com:444/PowerShell/"
        );
        assert_eq!(cas("[::1]:443").unwrap().authority(), "[::1]:443");
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        assert!(err("cas01").contains("fully qualified"));
        assert!(err("ftp://cas01.contoso.com/").contains("http://"));
        assert!(err("http://cas01/PowerShell/").contains("fully qualified"));
        assert!(err("http://u:p@cas01.contoso.com/PowerShell/").contains("user name"));
        assert!(err("cas01.contoso.com/PowerShell").contains("neither"));
        assert!(err("cas01.contoso.com:0").contains("port"));
        assert!(err("cas01.contoso.com:99999").contains("port"));
        assert!(cas("-bad.contoso.com").is_err());
        assert!(cas("under_score.contoso.com").is_err());
    }

    #[test]
    fn hosted_addresses() {
        for ok in [
            "https://ps.hoster.net/PowerShell",
            "ps.hoster.net:444",
            "http://ps.hoster.net/PowerShell",
            "https://ps/PowerShell",
        ] {
            assert_eq!(ServerAddress::hosted(ok).unwrap().to_string(), ok);
        }
        assert!(ServerAddress::hosted("ftp://ps.hoster.net")
            .unwrap_err()
            .to_string()
            .contains("https://"));
    }

    #[test]
    fn a_list_of_client_access_servers() {
        let l =
            ServerList::parse("cas01.contoso.com, http://cas02.contoso.com/PowerShell/").unwrap();
        assert_eq!(l.0.len(), 2);
        assert_eq!(l.first().unwrap().host, "cas01.contoso.com");
        assert_eq!(
            l.to_string(),
            "cas01.contoso.com, http://cas02.contoso.com/PowerShell/"
        );
        assert!(ServerList::parse("  ").unwrap().is_empty());
        assert!(ServerList::parse("cas01.contoso.com,,cas02.contoso.com")
            .unwrap_err()
            .to_string()
            .contains("empty entry"));
        assert!(ServerList::parse("cas01.contoso.com, cas02")
            .unwrap_err()
            .to_string()
            .contains("'cas02' is not fully qualified"));
    }
}
