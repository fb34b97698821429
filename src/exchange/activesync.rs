//! The ActiveSync endpoint probe: `OPTIONS /Microsoft-Server-ActiveSync`, as a phone's first
//! request, returning the protocol versions and commands the server offers (MS-ASHTTP).
//!
//! It only reads headers; it never sends ActiveSync commands.

use bytes::Bytes;
use hyper::Method;

use super::client::{Session, SessionError};

/// What the server offers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActiveSyncInfo {
    pub server_version: Option<String>,
    pub protocol_versions: Vec<String>,
    pub commands: Vec<String>,
}

/// Why the probe failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ActiveSyncError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("{url}: HTTP {status}; the ActiveSync virtual directory did not answer OPTIONS")]
    Status { url: String, status: u16 },
    #[error(
        "{url}: the answer has no MS-ASProtocolVersions header; this is not an ActiveSync endpoint"
    )]
    NotActiveSync { url: String },
}

/// Send OPTIONS to `/Microsoft-Server-ActiveSync` on `session`'s server.
pub async fn options(session: &mut Session) -> Result<ActiveSyncInfo, ActiveSyncError> {
    let path = "/Microsoft-Server-ActiveSync";
    let url = session.endpoint().with_path(path).url();
    let resp = session
        .request(Method::OPTIONS, path, None, Bytes::new())
        .await?;
    if resp.status != 200 {
        return Err(ActiveSyncError::Status {
            url,
            status: resp.status,
        });
    }
    let split = |name: &str| -> Vec<String> {
        resp.header_values(name)
            .iter()
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let protocol_versions = split("ms-asprotocolversions");
    if protocol_versions.is_empty() {
        return Err(ActiveSyncError::NotActiveSync { url });
    }
    Ok(ActiveSyncInfo {
        server_version: resp
            .header_values("ms-server-activesync")
            .into_iter()
            .next(),
        protocol_versions,
        commands: split("ms-asprotocolcommands"),
    })
}
