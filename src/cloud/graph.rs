//! Microsoft Graph: Intune's managed devices (`/v1.0/deviceManagement/managedDevices`), read
//! page by page through `@odata.nextLink`, with 429/503 `Retry-After` honoured a bounded
//! number of times (each wait reported), and Graph's errors as [`GraphError`]s with the fix.
//!
//! It reads; it decides nothing about devices and keeps nothing on disk.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use serde::{Deserialize, Serialize};

use super::http::CloudHttp;
use super::token::{http_hint, AppIdentity, TokenCache, TokenError};
use crate::exchange::http::HttpError;

/// The fields asked for (`$select`).
pub const SELECT: &str = "id,easDeviceId,easActivated,complianceState,userPrincipalName,lastSyncDateTime,managementState,deviceName,operatingSystem";
/// Devices per page asked for (`$top`).
pub const PAGE_SIZE: u32 = 1000;
/// Throttled or unavailable answers retried per request before giving up.
pub const MAX_RETRIES: u32 = 6;
/// The longest single wait honoured (a longer `Retry-After` is cut to this).
pub const MAX_WAIT: Duration = Duration::from_secs(120);

/// Intune's compliance state of a device (`complianceState`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ComplianceState {
    Compliant,
    Noncompliant,
    InGracePeriod,
    Conflict,
    Error,
    Unknown,
    ConfigManager,
    /// A value Graph added after this was written.
    #[serde(untagged)]
    Other(String),
}

impl ComplianceState {
    pub fn as_str(&self) -> &str {
        match self {
            ComplianceState::Compliant => "compliant",
            ComplianceState::Noncompliant => "noncompliant",
            ComplianceState::InGracePeriod => "inGracePeriod",
            ComplianceState::Conflict => "conflict",
            ComplianceState::Error => "error",
            ComplianceState::Unknown => "unknown",
            ComplianceState::ConfigManager => "configManager",
            ComplianceState::Other(s) => s,
        }
    }
}

/// One Intune managed device, as `$select` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedDevice {
    pub id: String,
    #[serde(default)]
    pub eas_device_id: Option<String>,
    #[serde(default)]
    pub eas_activated: bool,
    pub compliance_state: ComplianceState,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub last_sync_date_time: Option<jiff::Timestamp>,
    #[serde(default)]
    pub management_state: Option<String>,
    #[serde(default)]
    pub device_name: Option<String>,
    #[serde(default)]
    pub operating_system: Option<String>,
}

#[derive(Deserialize)]
struct Page {
    value: Vec<ManagedDevice>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

/// A wait Graph asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Wait {
    /// 429 or 503.
    pub status: u16,
    pub seconds: u64,
}

/// Everything read, and how.
#[derive(Debug, Clone, Default)]
pub struct DeviceRead {
    pub devices: Vec<ManagedDevice>,
    pub pages: u32,
    /// Every throttling wait, in order.
    pub waits: Vec<Wait>,
    /// Tokens fetched during the read.
    pub tokens_fetched: u32,
}

/// Why Graph could not be read, with the fix.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("signing in to Entra ID failed: {0}")]
    Token(#[from] Box<TokenError>),
    #[error("the app may not read Intune's devices (HTTP {status} {code}): add the Microsoft Graph application permission DeviceManagementManagedDevices.Read.All to the app registration and click \"Grant admin consent\"")]
    PermissionMissing { status: u16, code: String },
    #[error("Graph refused the token (HTTP 401 {code}) twice; check that Cloud/GraphUrl matches Cloud/Authority's cloud")]
    Unauthorized { code: String },
    #[error("Graph stayed {what} after {retries} retries (last Retry-After {last_wait} s); the last good snapshot is used meanwhile")]
    Throttled {
        what: &'static str,
        retries: u32,
        last_wait: u64,
    },
    #[error("Graph answered HTTP {status} {code}: {message}; the last good snapshot is used meanwhile — if it persists, check Microsoft 365's service health (Intune) and run `eas-connector intune read` to retry")]
    Status {
        status: u16,
        code: String,
        message: String,
    },
    #[error("Graph at {url} could not be reached: {source}{hint}")]
    Http {
        url: String,
        source: Box<HttpError>,
        hint: &'static str,
    },
    #[error("Graph's answer for page {page} could not be read: {detail}; check that Cloud/GraphUrl is Microsoft Graph's address (a proxy or portal page answering instead shows up this way)")]
    BadPage { page: u32, detail: String },
    #[error("Graph's next page link {0} is not under Cloud/GraphUrl; refused")]
    ForeignLink(String),
}

#[derive(Deserialize, Default)]
struct GraphErrorBody {
    #[serde(default)]
    error: GraphErrorInner,
}

#[derive(Deserialize, Default)]
struct GraphErrorInner {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// A Graph client for one app identity.
#[derive(Debug)]
pub struct GraphClient {
    pub http: CloudHttp,
    pub tokens: TokenCache,
    pub identity: AppIdentity,
    /// `https://graph.microsoft.com`, no trailing '/'.
    pub graph_url: String,
}

impl GraphClient {
    /// `<graph>/.default`.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.graph_url)
    }

    /// The first page's URL.
    pub fn managed_devices_url(&self, top: u32) -> String {
        format!(
            "{}/v1.0/deviceManagement/managedDevices?$select={SELECT}&$top={top}",
            self.graph_url
        )
    }

    /// GET `url` with the token, retrying 429/503 after `Retry-After` and a 401 once with a
    /// new token; `on_wait` hears every wait before it is slept.
    async fn get(
        &mut self,
        url: &str,
        on_wait: &mut (dyn FnMut(Wait) + Send),
        waits: &mut Vec<Wait>,
    ) -> Result<Bytes, GraphError> {
        let scope = self.scope();
        let mut retries = 0;
        let mut refreshed = false;
        loop {
            let token = self
                .tokens
                .get(&mut self.http, &self.identity, &scope)
                .await
                .map_err(Box::new)?;
            let bearer = format!("Bearer {}", token.expose());
            let resp = self
                .http
                .send(url, |path| {
                    let mut r = Request::new(Full::new(Bytes::new()));
                    *r.uri_mut() = path.parse().unwrap_or_default();
                    let h = r.headers_mut();
                    if let Ok(v) = hyper::header::HeaderValue::from_str(&bearer) {
                        h.insert(hyper::header::AUTHORIZATION, v);
                    }
                    h.insert(
                        hyper::header::ACCEPT,
                        hyper::header::HeaderValue::from_static("application/json"),
                    );
                    r
                })
                .await
                .map_err(|source| GraphError::Http {
                    url: self.graph_url.clone(),
                    hint: http_hint(&source),
                    source: Box::new(source),
                })?;
            match resp.status {
                200 => return Ok(resp.body),
                429 | 503 | 504 => {
                    let secs = resp
                        .header_values("retry-after")
                        .first()
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .unwrap_or(if resp.status == 429 { 10 } else { 5 })
                        .min(MAX_WAIT.as_secs());
                    if retries >= MAX_RETRIES {
                        return Err(GraphError::Throttled {
                            what: if resp.status == 429 {
                                "throttled (429)"
                            } else {
                                "unavailable (503)"
                            },
                            retries,
                            last_wait: secs,
                        });
                    }
                    retries += 1;
                    let w = Wait {
                        status: resp.status,
                        seconds: secs,
                    };
                    tracing::warn!(
                        status = w.status,
                        seconds = w.seconds,
                        "Microsoft Graph asked to wait"
                    );
                    on_wait(w);
                    waits.push(w);
                    tokio::time::sleep(Duration::from_secs(secs)).await;
                }
                status => {
                    let e: GraphErrorBody = serde_json::from_slice(&resp.body).unwrap_or_default();
                    let code = e.error.code;
                    if status == 401 && !refreshed {
                        refreshed = true;
                        self.tokens.forget(&self.identity, &scope);
                        continue;
                    }
                    return Err(match status {
                        401 => GraphError::Unauthorized { code },
                        403 if code == "Authorization_RequestDenied"
                            || code.is_empty()
                            || code == "Forbidden"
                            || code == "UnknownError" =>
                        {
                            GraphError::PermissionMissing { status, code }
                        }
                        _ => GraphError::Status {
                            status,
                            code,
                            message: crate::config::validate::shown(&e.error.message),
                        },
                    });
                }
            }
        }
    }

    /// Read managed devices: the first page only (`first_page_only`, for validation), or
    /// every page. `on_page` hears the count read so far after each page.
    pub async fn managed_devices(
        &mut self,
        top: u32,
        first_page_only: bool,
        on_page: &mut (dyn FnMut(u32, usize) + Send),
        on_wait: &mut (dyn FnMut(Wait) + Send),
    ) -> Result<DeviceRead, GraphError> {
        let before = self.tokens.fetched;
        let mut read = DeviceRead::default();
        let mut url = self.managed_devices_url(top);
        loop {
            let body = self.get(&url, on_wait, &mut read.waits).await?;
            read.pages += 1;
            let page: Page = serde_json::from_slice(&body).map_err(|e| GraphError::BadPage {
                page: read.pages,
                detail: e.to_string(),
            })?;
            read.devices.extend(page.value);
            on_page(read.pages, read.devices.len());
            match page.next_link {
                Some(next) if !first_page_only => {
                    // The token goes only to the configured Graph.
                    if !next.starts_with(&format!("{}/", self.graph_url)) {
                        return Err(GraphError::ForeignLink(crate::config::validate::shown(
                            &next,
                        )));
                    }
                    url = next;
                }
                _ => break,
            }
        }
        read.tokens_fetched = self.tokens.fetched - before;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_deserialize_with_unknown_states_kept() {
        let page: Page = serde_json::from_str(
            r#"{"@odata.context":"x","value":[
              {"id":"1","easDeviceId":"ABC","easActivated":true,"complianceState":"compliant","userPrincipalName":"a@b.c","lastSyncDateTime":"2026-12-01T10:00:00Z","managementState":"managed","deviceName":"d","operatingSystem":"iOS"},
              {"id":"2","easDeviceId":null,"easActivated":false,"complianceState":"somethingNew","lastSyncDateTime":"0001-01-01T00:00:00Z"}
            ],"@odata.nextLink":"https://graph.microsoft.com/v1.0/deviceManagement/managedDevices?$skiptoken=x"}"#,
        )
        .unwrap();
        assert_eq!(page.value[0].compliance_state, ComplianceState::Compliant);
        assert_eq!(
            page.value[1].compliance_state,
            ComplianceState::Other("somethingNew".into())
        );
        assert!(page.next_link.is_some());
    }
}
