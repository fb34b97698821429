//! DNS lookups beyond the system resolver's address lookups: SRV records (Autodiscover,
//! Kerberos KDCs) and a host's canonical name (the Kerberos service principal).
//!
//! Uses the system's resolver configuration, or the DNS server [`DNS_SERVER_ENV`] names (for a
//! connector host whose resolver does not serve the Active Directory zone, and for tests).
//! Lookups are bounded in time; a failed lookup is an empty answer, not an error.

use std::time::Duration;

/// The environment variable naming a DNS server (`addr[:port]`) for SRV and canonical-name
/// lookups.
pub const DNS_SERVER_ENV: &str = "EAS_CONNECTOR_DNS_SERVER";

const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// The resolver for SRV lookups: the system's, or the server [`DNS_SERVER_ENV`] names.
fn resolver() -> Option<hickory_resolver::TokioResolver> {
    use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
    if let Ok(server) = std::env::var(DNS_SERVER_ENV) {
        let (host, port) = crate::config::validate::split_host_port(server.trim()).ok()?;
        let ip: std::net::IpAddr = host.parse().ok()?;
        let mut udp = ConnectionConfig::udp();
        udp.port = port.unwrap_or(53);
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = port.unwrap_or(53);
        let cfg = ResolverConfig::from_name_servers(vec![NameServerConfig::new(
            ip,
            true,
            vec![udp, tcp],
        )]);
        return hickory_resolver::Resolver::builder_with_config(cfg, Default::default())
            .build()
            .ok();
    }
    hickory_resolver::Resolver::builder_tokio()
        .ok()
        .and_then(|b| b.build().ok())
}

/// The SRV records of `name` (`_service._tcp.domain`), best first: `(target, port)`.
pub async fn srv_lookup(name: &str) -> Vec<(String, u16)> {
    let Some(resolver) = resolver() else {
        return Vec::new();
    };
    let fqdn = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    let Ok(Ok(lookup)) = tokio::time::timeout(LOOKUP_TIMEOUT, resolver.srv_lookup(fqdn)).await
    else {
        return Vec::new();
    };
    let mut records: Vec<_> = lookup
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            hickory_resolver::proto::rr::RData::SRV(srv) => Some(srv.clone()),
            _ => None,
        })
        .collect();
    records.sort_by_key(|s| (s.priority, u16::MAX - s.weight));
    records
        .into_iter()
        .map(|s| (s.target.to_utf8().trim_end_matches('.').to_string(), s.port))
        .filter(|(t, _)| !t.is_empty())
        .collect()
}

/// The canonical name of `host`: the end of its CNAME chain (what Windows and MIT use for the
/// `HTTP/<host>` service principal name). The name itself when it has no CNAME, is an address,
/// or cannot be looked up.
pub async fn canonical_name(host: &str) -> String {
    if host.parse::<std::net::IpAddr>().is_ok() || !host.contains('.') {
        return host.to_string();
    }
    let Some(resolver) = resolver() else {
        return host.to_string();
    };
    let fqdn = format!("{}.", host.trim_end_matches('.'));
    let Ok(Ok(lookup)) = tokio::time::timeout(LOOKUP_TIMEOUT, resolver.lookup_ip(fqdn)).await
    else {
        return host.to_string();
    };
    // The last CNAME target in the answer is the canonical name.
    let mut name = host.trim_end_matches('.').to_string();
    for r in lookup.as_lookup().answers() {
        if let hickory_resolver::proto::rr::RData::CNAME(c) = &r.data {
            name = c.0.to_utf8().trim_end_matches('.').to_string();
        }
    }
    name
}

/// The addresses of `host`: through the DNS server [`DNS_SERVER_ENV`] names when it is set
/// (the names SRV records give live in that zone), else the system's resolver.
pub async fn lookup(host: &str, port: u16) -> std::io::Result<Vec<std::net::SocketAddr>> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![std::net::SocketAddr::new(ip, port)]);
    }
    if std::env::var_os(DNS_SERVER_ENV).is_some() {
        if let Some(resolver) = resolver() {
            let fqdn = format!("{}.", host.trim_end_matches('.'));
            if let Ok(Ok(found)) =
                tokio::time::timeout(LOOKUP_TIMEOUT, resolver.lookup_ip(fqdn)).await
            {
                let addrs: Vec<_> = found
                    .iter()
                    .map(|ip| std::net::SocketAddr::new(ip, port))
                    .collect();
                if !addrs.is_empty() {
                    return Ok(addrs);
                }
            }
        }
    }
    Ok(tokio::net::lookup_host((host, port)).await?.collect())
}
