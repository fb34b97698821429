//! Reaching a realm's KDC: where it is (the `Kerberos/KdcAddress` setting, else DNS SRV
//! `_kerberos._tcp.<REALM>`, else the realm's own name, as Windows and MIT do) and one
//! request/answer over TCP (RFC 4120 §7.2.2: a 4-byte big-endian length, then the message).
//!
//! I/O only; it does not read Kerberos messages. Each KDC in turn gets a connect timeout, and
//! every address tried is reported when none answers.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest KDC answer read (a ticket with a large PAC is tens of KB).
const MAX_REPLY: usize = 1024 * 1024;
/// Per KDC, as MIT's default.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a KDC address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KdcSource {
    Setting,
    DnsSrv,
    RealmName,
}

impl KdcSource {
    pub fn describe(self) -> &'static str {
        match self {
            KdcSource::Setting => "from Kerberos/KdcAddress",
            KdcSource::DnsSrv => "from DNS SRV _kerberos._tcp",
            KdcSource::RealmName => "the realm's own DNS name",
        }
    }
}

/// A KDC to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kdc {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Kdc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

fn parse_list(list: &str) -> Vec<Kdc> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            crate::config::validate::split_host_port(s)
                .ok()
                .map(|(host, port)| Kdc {
                    host,
                    port: port.unwrap_or(88),
                })
        })
        .collect()
}

/// The KDCs of `realm`: the configured list, else SRV records, else the realm's name.
pub async fn locate(realm: &str, configured: Option<&str>) -> (Vec<Kdc>, KdcSource) {
    if let Some(list) = configured {
        let kdcs = parse_list(list);
        if !kdcs.is_empty() {
            return (kdcs, KdcSource::Setting);
        }
    }
    let srv =
        crate::exchange::dns::srv_lookup(&format!("_kerberos._tcp.{}", realm.to_ascii_lowercase()))
            .await;
    if !srv.is_empty() {
        return (
            srv.into_iter()
                .map(|(host, port)| Kdc { host, port })
                .collect(),
            KdcSource::DnsSrv,
        );
    }
    (
        vec![Kdc {
            host: realm.to_ascii_lowercase(),
            port: 88,
        }],
        KdcSource::RealmName,
    )
}

/// What happened at one KDC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KdcFailure {
    #[error("the name does not resolve ({0})")]
    Resolve(String),
    #[error("the name has no address")]
    NoAddress,
    #[error("{addr} refused the connection (nothing listens on port {})", .addr.port())]
    Refused { addr: std::net::SocketAddr },
    #[error("{addr}: {detail}")]
    Connect {
        addr: std::net::SocketAddr,
        detail: String,
    },
    #[error("{addr} did not answer within {secs} s (a firewall may drop port {})", .addr.port())]
    ConnectTimeout {
        addr: std::net::SocketAddr,
        secs: u64,
    },
    #[error("{addr}: the connection broke ({detail})")]
    Broken {
        addr: std::net::SocketAddr,
        detail: String,
    },
    #[error("{addr} accepted the connection but did not answer within {secs} s")]
    NoAnswer {
        addr: std::net::SocketAddr,
        secs: u64,
    },
}

/// No KDC answered: what was tried and what happened at each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable {
    pub tried: Vec<(String, KdcFailure)>,
}

async fn exchange(kdc: &Kdc, message: &[u8]) -> Result<Vec<u8>, KdcFailure> {
    let addrs = crate::exchange::dns::lookup(&kdc.host, kdc.port)
        .await
        .map_err(|e| KdcFailure::Resolve(e.to_string()))?;
    let mut last = KdcFailure::NoAddress;
    for addr in addrs {
        let mut s = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = KdcFailure::Refused { addr };
                continue;
            }
            Ok(Err(e)) => {
                last = KdcFailure::Connect {
                    addr,
                    detail: e.to_string(),
                };
                continue;
            }
            Err(_) => {
                last = KdcFailure::ConnectTimeout {
                    addr,
                    secs: CONNECT_TIMEOUT.as_secs(),
                };
                continue;
            }
        };
        let _ = s.set_nodelay(true);
        let io = async {
            let mut framed = (message.len() as u32).to_be_bytes().to_vec();
            framed.extend_from_slice(message);
            s.write_all(&framed).await?;
            let mut len = [0u8; 4];
            s.read_exact(&mut len).await?;
            let n = u32::from_be_bytes(len) as usize;
            if n > MAX_REPLY {
                return Err(std::io::Error::other("the answer is implausibly long"));
            }
            let mut buf = vec![0u8; n];
            s.read_exact(&mut buf).await?;
            Ok::<_, std::io::Error>(buf)
        };
        match tokio::time::timeout(REPLY_TIMEOUT, io).await {
            Ok(Ok(reply)) => return Ok(reply),
            Ok(Err(e)) => {
                last = KdcFailure::Broken {
                    addr,
                    detail: e.to_string(),
                }
            }
            Err(_) => {
                last = KdcFailure::NoAnswer {
                    addr,
                    secs: REPLY_TIMEOUT.as_secs(),
                }
            }
        }
    }
    Err(last)
}

/// Send `message` to the first of `kdcs` that answers.
pub async fn send(kdcs: &[Kdc], message: &[u8]) -> Result<Vec<u8>, Unreachable> {
    let mut tried = Vec::new();
    for kdc in kdcs {
        match exchange(kdc, message).await {
            Ok(r) => return Ok(r),
            Err(e) => tried.push((kdc.to_string(), e)),
        }
    }
    Err(Unreachable { tried })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn kdc_lists() {
        assert_eq!(
            parse_list("dc1.corp.contoso.com, dc2.corp.contoso.com:1088,[::1]:88"),
            vec![
                Kdc {
                    host: "dc1.corp.contoso.com".into(),
                    port: 88
                },
                Kdc {
                    host: "dc2.corp.contoso.com".into(),
                    port: 1088
                },
                Kdc {
                    host: "::1".into(),
                    port: 88
                },
            ]
        );
    }

    #[tokio::test]
    async fn a_kdc_that_is_not_there_is_reported_with_its_address() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let e = send(
            &[Kdc {
                host: "127.0.0.1".into(),
                port,
            }],
            b"x",
        )
        .await
        .unwrap_err();
        assert!(matches!(e.tried[0].1, KdcFailure::Refused { .. }), "{e:?}");
        assert!(e.tried[0].1.to_string().contains("refused the connection"));
        let (k, src) = locate("EAS.TEST", Some("127.0.0.1:8888")).await;
        assert_eq!((k[0].port, src), (8888, KdcSource::Setting));
    }
}
