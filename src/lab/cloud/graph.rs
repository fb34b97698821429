//! The lab's Microsoft Graph: `GET /v1.0/deviceManagement/managedDevices` (Intune's managed
//! devices) with `$select`, `$top` (default and most 1 000 per page, as Intune pages),
//! `$count`, and paging by `@odata.nextLink` with an opaque `$skiptoken`; property names, enum
//! spellings and date formats as Graph's v1.0 `managedDevice`. Errors are Graph's
//! `{"error":{"code","message","innerError"}}`: 401 `InvalidAuthenticationToken` for a token
//! the lab's Entra did not issue (or expired, or for another audience), 403
//! `Authorization_RequestDenied` without `DeviceManagementManagedDevices.Read.All`, 429
//! `TooManyRequests` with `Retry-After` when the throttle switch says so, 503 in an outage.
//!
//! The managed devices ([`Directory`]) are made at lab start from the org's ActiveSync
//! devices, deterministically from the seed: most enrolled and compliant, some noncompliant,
//! in their grace period, unknown, in conflict, in error or managed by Configuration Manager,
//! some compliant but not checked in for months, some re-enrolled (an old record and a new one
//! with the same EAS id), some EAS ids in lower case, and some not enrolled at all (no
//! record); plus Intune devices with no ActiveSync (laptops). A record is a few dozen bytes; a
//! page is rendered only when asked for.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use base64::Engine;
use hyper::body::Incoming;
use hyper::{Method, Request};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{entra, guid, Cloud, PERMISSION};
use crate::lab::http::{respond, Resp};
use crate::lab::org::{Device, Org, SplitMix};
use crate::lab::{now, Shared};

/// Intune's page size: the default, and the most `$top` gives.
pub const MAX_PAGE: usize = 1000;

/// Intune's `complianceState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ComplianceState {
    Unknown,
    Compliant,
    Noncompliant,
    Conflict,
    Error,
    InGracePeriod,
    ConfigManager,
}

impl ComplianceState {
    pub const ALL: [ComplianceState; 7] = [
        ComplianceState::Unknown,
        ComplianceState::Compliant,
        ComplianceState::Noncompliant,
        ComplianceState::Conflict,
        ComplianceState::Error,
        ComplianceState::InGracePeriod,
        ComplianceState::ConfigManager,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceState::Unknown => "unknown",
            ComplianceState::Compliant => "compliant",
            ComplianceState::Noncompliant => "noncompliant",
            ComplianceState::Conflict => "conflict",
            ComplianceState::Error => "error",
            ComplianceState::InGracePeriod => "inGracePeriod",
            ComplianceState::ConfigManager => "configManager",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
    }
}

/// Intune's `managementState` (the values the lab uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ManagementState {
    Managed,
    RetirePending,
    WipePending,
}

impl ManagementState {
    pub fn as_str(self) -> &'static str {
        match self {
            ManagementState::Managed => "managed",
            ManagementState::RetirePending => "retirePending",
            ManagementState::WipePending => "wipePending",
        }
    }
}

/// What a managed device is, besides its state.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// A phone or app that syncs with Exchange: the org's device (copied: Intune keeps it
    /// when Exchange forgets it), its EAS id in upper case or (`lower`) lower case.
    Eas { device: Device, lower: bool },
    /// A laptop with no ActiveSync, of mailbox `mailbox`'s user.
    Laptop { mailbox: u32, mac: bool },
}

/// One managed device record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record {
    source: Source,
    /// Makes the record's GUIDs and serial number.
    key: u64,
    pub compliance: ComplianceState,
    pub management: ManagementState,
    /// Seconds since the epoch.
    pub last_sync: i64,
    pub enrolled: i64,
}

/// Every managed device of the tenant, in Graph's order.
pub(crate) struct Directory {
    pub(crate) records: Vec<Record>,
}

/// How the lab's mix is drawn, per ActiveSync device (out of 1 000).
fn draw(u: u64) -> Option<(ComplianceState, bool)> {
    // (state, stale)
    Some(match u {
        0..=549 => (ComplianceState::Compliant, false),
        550..=669 => (ComplianceState::Noncompliant, false),
        670..=709 => (ComplianceState::InGracePeriod, false),
        710..=739 => (ComplianceState::Unknown, false),
        740..=754 => (ComplianceState::Conflict, false),
        755..=764 => (ComplianceState::Error, false),
        765..=774 => (ComplianceState::ConfigManager, false),
        775..=829 => (ComplianceState::Compliant, true),
        _ => return None,
    })
}

const DAY: i64 = 86_400;

impl Directory {
    /// The tenant's devices for `org`'s ActiveSync devices, as of `now`.
    pub(crate) fn generate(org: &Org, seed: u64, now: i64) -> Directory {
        let mut records = Vec::with_capacity(org.devices.len() * 9 / 10 + 16);
        let mut laptops = SplitMix::new(seed ^ 0x1A97_0915);
        for (i, d) in org.devices.iter().enumerate() {
            let mut rng = SplitMix::new(seed ^ d.id_number.rotate_left(17) ^ 0x1D7E_C0DE);
            let u = rng.below(1000);
            let Some((compliance, stale)) = draw(u) else {
                continue; // not enrolled: no record
            };
            let lower = rng.below(7) == 0;
            let last_sync = if stale {
                now - 45 * DAY - rng.below(200 * DAY as u64) as i64
            } else {
                now - rng.below(3 * DAY as u64) as i64
            };
            let enrolled = (d.first_sync + rng.below(DAY as u64) as i64).min(last_sync);
            let management = match rng.below(200) {
                0 => ManagementState::RetirePending,
                1 => ManagementState::WipePending,
                _ => ManagementState::Managed,
            };
            // Re-enrolled: the old record stays, noncompliant and stale, before the new one.
            if rng.below(200) == 0 {
                records.push(Record {
                    source: Source::Eas { device: *d, lower },
                    key: rng.next_u64(),
                    compliance: ComplianceState::Noncompliant,
                    management: ManagementState::Managed,
                    last_sync: enrolled - 5 * DAY,
                    enrolled: enrolled - 400 * DAY,
                });
            }
            records.push(Record {
                source: Source::Eas { device: *d, lower },
                key: rng.next_u64(),
                compliance,
                management,
                last_sync,
                enrolled,
            });
            // Every tenth device's user also has a laptop in Intune.
            if i % 10 == 9 {
                let mac = laptops.below(4) == 0;
                let compliance = match laptops.below(10) {
                    0..=6 => ComplianceState::Compliant,
                    7 => ComplianceState::Noncompliant,
                    8 => ComplianceState::InGracePeriod,
                    _ => ComplianceState::Unknown,
                };
                let last_sync = now - laptops.below(5 * DAY as u64) as i64;
                records.push(Record {
                    source: Source::Laptop {
                        mailbox: d.mailbox,
                        mac,
                    },
                    key: laptops.next_u64(),
                    compliance,
                    management: ManagementState::Managed,
                    last_sync,
                    enrolled: last_sync - 100 * DAY,
                });
            }
        }
        Directory { records }
    }

    /// How many records per complianceState, and the other counts `/cloud` shows.
    pub(crate) fn counts(&self) -> Value {
        let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
        let mut eas = 0usize;
        for r in &self.records {
            *by_state.entry(r.compliance.as_str()).or_default() += 1;
            if matches!(r.source, Source::Eas { .. }) {
                eas += 1;
            }
        }
        json!({"total": self.records.len(), "with_eas": eas, "by_compliance_state": by_state})
    }

    /// Set the compliance of every record with this Intune id or EAS device id
    /// (case-insensitive); how many changed.
    pub(crate) fn set_compliance(&mut self, org: &Org, id: &str, state: ComplianceState) -> usize {
        let mut n = 0;
        for r in &mut self.records {
            let hit = guid(&mut SplitMix::new(r.key)).eq_ignore_ascii_case(id)
                || matches!(r.source, Source::Eas { device, .. } if org.device_id(&device).eq_ignore_ascii_case(id));
            if hit {
                r.compliance = state;
                n += 1;
            }
        }
        n
    }
}

/// Every property of Graph v1.0's `managedDevice` the lab serves, in Graph's order.
pub const PROPERTIES: &[&str] = &[
    "id",
    "userId",
    "deviceName",
    "managedDeviceOwnerType",
    "enrolledDateTime",
    "lastSyncDateTime",
    "operatingSystem",
    "complianceState",
    "jailBroken",
    "managementAgent",
    "osVersion",
    "easActivated",
    "easDeviceId",
    "easActivationDateTime",
    "azureADRegistered",
    "deviceEnrollmentType",
    "activationLockBypassCode",
    "emailAddress",
    "azureADDeviceId",
    "deviceRegistrationState",
    "deviceCategoryDisplayName",
    "isSupervised",
    "exchangeLastSuccessfulSyncDateTime",
    "exchangeAccessState",
    "exchangeAccessStateReason",
    "remoteAssistanceSessionUrl",
    "remoteAssistanceSessionErrorDetails",
    "isEncrypted",
    "userPrincipalName",
    "model",
    "manufacturer",
    "imei",
    "complianceGracePeriodExpirationDateTime",
    "serialNumber",
    "phoneNumber",
    "androidSecurityPatchLevel",
    "userDisplayName",
    "configurationManagerClientEnabledFeatures",
    "wiFiMacAddress",
    "deviceHealthAttestationState",
    "subscriberCarrier",
    "meid",
    "totalStorageSpaceInBytes",
    "freeStorageSpaceInBytes",
    "managedDeviceName",
    "partnerReportedThreatState",
    "requireUserEnrollmentApproval",
    "managementCertificateExpirationDate",
    "iccid",
    "udid",
    "notes",
    "ethernetMacAddress",
    "physicalMemoryInBytes",
    "enrollmentProfileName",
    "managementState",
];

/// Graph's date-time: `2026-12-05T10:11:12Z`.
fn date_time(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| "0001-01-01T00:00:00Z".into())
}

/// The operating system, its version, maker and model of an ActiveSync device as Intune
/// reports the phone (an Outlook app runs on an iPhone or an Android phone).
fn phone(org: &Org, d: &Device) -> (&'static str, String, &'static str, &'static str) {
    let k = org.kind(d);
    let version = |os: &str| os.split_whitespace().nth(1).unwrap_or("").to_string();
    if k.os.starts_with("iOS") {
        ("iOS", version(k.os), "Apple", k.model)
    } else if k.os.starts_with("Android") {
        let maker = if k.model.starts_with("SM-") {
            "samsung"
        } else {
            "Google"
        };
        ("Android", version(k.os), maker, k.model)
    } else if k.os.starts_with("Windows") {
        (
            "Windows",
            version(k.os),
            "Microsoft Corporation",
            "Surface Laptop 5",
        )
    } else if d.id_number.is_multiple_of(2) {
        ("iOS", "17.5.1".into(), "Apple", "iPhone 15")
    } else {
        ("Android", "14".into(), "samsung", "SM-S918B")
    }
}

impl Record {
    /// The record as Graph renders it, only `select`'s properties (all when empty).
    fn render(&self, org: &Org, select: &[&'static str], now: i64) -> Map<String, Value> {
        let mut rng = SplitMix::new(self.key);
        let id = guid(&mut rng);
        let azure_id = guid(&mut rng);
        let serial = format!("{:012X}", rng.next_u64() >> 16);
        let mailbox = match self.source {
            Source::Eas { device, .. } => device.mailbox,
            Source::Laptop { mailbox, .. } => mailbox,
        };
        let mb = org.mailboxes.get(mailbox as usize);
        let upn = mb.map(|m| m.primary_smtp.as_str()).unwrap_or_default();
        let alias = mb.map(|m| m.alias.as_str()).unwrap_or_default();
        let user_id = guid(&mut SplitMix::new(0x05E7_1D00 ^ u64::from(mailbox)));
        let (os, os_version, maker, model, eas_id, eas_since) = match self.source {
            Source::Eas { device, lower } => {
                let (os, v, maker, model) = phone(org, &device);
                let mut id = org.device_id(&device);
                if lower {
                    id = id.to_lowercase();
                }
                (os, v, maker, model, id, Some(device.first_sync))
            }
            Source::Laptop { mac: true, .. } => (
                "macOS",
                "14.5 (23F79)".into(),
                "Apple",
                "MacBookPro18,3",
                String::new(),
                None,
            ),
            Source::Laptop { mac: false, .. } => (
                "Windows",
                "10.0.22631.3737".into(),
                "Microsoft Corporation",
                "Surface Laptop 5",
                String::new(),
                None,
            ),
        };
        let never = "0001-01-01T00:00:00Z";
        let grace = if self.compliance == ComplianceState::InGracePeriod {
            date_time(now + 3 * DAY)
        } else {
            "9999-12-31T23:59:59Z".into()
        };
        let device_name = format!("{alias}_{os}_{}", &serial[8..]);
        let value = |name: &str| -> Value {
            match name {
                "id" => json!(id),
                "userId" => json!(user_id),
                "deviceName" => json!(device_name),
                "managedDeviceOwnerType" => json!(if self.key.is_multiple_of(3) {
                    "company"
                } else {
                    "personal"
                }),
                "enrolledDateTime" => json!(date_time(self.enrolled)),
                "lastSyncDateTime" => json!(date_time(self.last_sync)),
                "operatingSystem" => json!(os),
                "complianceState" => json!(self.compliance.as_str()),
                "jailBroken" => json!(if os == "iOS" || os == "Android" {
                    "False"
                } else {
                    "Unknown"
                }),
                "managementAgent" => json!("mdm"),
                "osVersion" => json!(os_version),
                "easActivated" => json!(eas_since.is_some()),
                "easDeviceId" => json!(eas_id),
                "easActivationDateTime" => {
                    json!(eas_since.map(date_time).unwrap_or_else(|| never.into()))
                }
                "azureADRegistered" => json!(true),
                "deviceEnrollmentType" => json!(if os == "Windows" {
                    "windowsAzureADJoin"
                } else {
                    "userEnrollment"
                }),
                "activationLockBypassCode" => Value::Null,
                "emailAddress" => json!(upn),
                "azureADDeviceId" => json!(azure_id),
                "deviceRegistrationState" => json!("registered"),
                "deviceCategoryDisplayName" => json!("Unknown"),
                "isSupervised" => json!(self.key.is_multiple_of(5)),
                "exchangeLastSuccessfulSyncDateTime" => json!(never),
                "exchangeAccessState" => json!("none"),
                "exchangeAccessStateReason" => json!("none"),
                "remoteAssistanceSessionUrl" => json!(""),
                "remoteAssistanceSessionErrorDetails" => json!(""),
                "isEncrypted" => json!(self.compliance == ComplianceState::Compliant),
                "userPrincipalName" => json!(upn),
                "model" => json!(model),
                "manufacturer" => json!(maker),
                "imei" => json!(if os == "iOS" || os == "Android" {
                    format!("35{:013}", self.key % 10_000_000_000_000)
                } else {
                    String::new()
                }),
                "complianceGracePeriodExpirationDateTime" => json!(grace),
                "serialNumber" => json!(serial),
                "phoneNumber" => json!(""),
                "androidSecurityPatchLevel" => {
                    json!(if os == "Android" { "2024-05-01" } else { "" })
                }
                "userDisplayName" => json!(mb.map(|m| m.display_name.as_str()).unwrap_or_default()),
                "configurationManagerClientEnabledFeatures" => Value::Null,
                "wiFiMacAddress" => json!(format!("{:012x}", self.key >> 16)),
                "deviceHealthAttestationState" => Value::Null,
                "subscriberCarrier" => json!(""),
                "meid" => json!(""),
                "totalStorageSpaceInBytes" => json!(128_849_018_880u64),
                "freeStorageSpaceInBytes" => json!(40_802_189_312u64 + (self.key % 1_000_000_000)),
                "managedDeviceName" => json!(device_name),
                "partnerReportedThreatState" => json!("unknown"),
                "requireUserEnrollmentApproval" => Value::Null,
                "managementCertificateExpirationDate" => {
                    json!(date_time(self.enrolled + 365 * DAY))
                }
                "iccid" => Value::Null,
                "udid" => Value::Null,
                "notes" => Value::Null,
                "ethernetMacAddress" => Value::Null,
                "physicalMemoryInBytes" => json!(0),
                "enrollmentProfileName" => Value::Null,
                "managementState" => json!(self.management.as_str()),
                _ => Value::Null,
            }
        };
        let names: &[&str] = if select.is_empty() {
            PROPERTIES
        } else {
            select
        };
        let mut m = Map::new();
        for n in names {
            m.insert((*n).to_string(), value(n));
        }
        m
    }
}

/// A Graph error body.
fn graph_error(status: u16, code: &str, message: &str) -> Resp {
    let mut rng = SplitMix::new(now() as u64 ^ u64::from(status));
    let body = json!({"error": {
        "code": code,
        "message": message,
        "innerError": {
            "date": date_time(now()),
            "request-id": guid(&mut rng),
            "client-request-id": guid(&mut rng),
        }
    }});
    respond(status, "application/json", body.to_string())
}

/// Graph's answer in an outage.
pub(crate) fn service_unavailable() -> Resp {
    graph_error(
        503,
        "ServiceUnavailable",
        "The service is temporarily unavailable (lab outage switch). Try again later.",
    )
}

fn bad_request(message: &str) -> Resp {
    graph_error(400, "BadRequest", message)
}

/// The query options of a managedDevices request.
struct Query {
    select: Vec<&'static str>,
    top: usize,
    skip: usize,
    count: bool,
}

/// Why Graph refuses a query (its 400 `BadRequest` message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum QueryError {
    #[error("Could not find a property named '{0}' on type 'microsoft.graph.managedDevice'.")]
    UnknownProperty(String),
    #[error("Invalid value '{0}' for $top query option found. The $top query option requires a non-negative integer value.")]
    Top(String),
    #[error("The $skiptoken is not valid: use @odata.nextLink as it was given.")]
    SkipToken,
    #[error("The lab's Graph does not implement the ${0} query option (Graph does); use $select, $top and @odata.nextLink.")]
    Unsupported(String),
}

fn parse_query(raw: Option<&str>) -> Result<Query, QueryError> {
    let mut q = Query {
        select: Vec::new(),
        top: MAX_PAGE,
        skip: 0,
        count: false,
    };
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let key = k.to_ascii_lowercase();
        let key = key.strip_prefix('$').unwrap_or(&key);
        match key {
            "select" => {
                for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let Some(p) = PROPERTIES.iter().find(|p| p.eq_ignore_ascii_case(name)) else {
                        return Err(QueryError::UnknownProperty(name.to_string()));
                    };
                    if !q.select.contains(p) {
                        q.select.push(p);
                    }
                }
            }
            "top" => {
                let n: usize = v
                    .trim()
                    .parse()
                    .map_err(|_| QueryError::Top(v.to_string()))?;
                q.top = n.clamp(1, MAX_PAGE);
            }
            "skiptoken" => {
                q.skip = decode_skiptoken(&v).ok_or(QueryError::SkipToken)?;
            }
            "count" => q.count = v.eq_ignore_ascii_case("true"),
            "filter" | "orderby" | "search" | "expand" | "skip" | "apply" => {
                return Err(QueryError::Unsupported(key.to_string()))
            }
            _ => {}
        }
    }
    Ok(q)
}

fn encode_skiptoken(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("LabOffset={offset}"))
}

fn decode_skiptoken(s: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("LabOffset=")?
        .parse()
        .ok()
}

/// One page of the managed devices, as Graph answers `GET .../managedDevices`.
fn page(cloud: &Cloud, org: &Org, dir: &Directory, q: &Query, now: i64) -> Value {
    let base = format!("{}/v1.0", cloud.graph_url);
    let context = if q.select.is_empty() {
        format!("{base}/$metadata#deviceManagement/managedDevices")
    } else {
        format!(
            "{base}/$metadata#deviceManagement/managedDevices({})",
            q.select.join(",")
        )
    };
    let end = (q.skip + q.top).min(dir.records.len());
    let start = q.skip.min(end);
    let value: Vec<Value> = dir.records[start..end]
        .iter()
        .map(|r| Value::Object(r.render(org, &q.select, now)))
        .collect();
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(context));
    if q.count {
        out.insert("@odata.count".into(), json!(dir.records.len()));
    }
    if end < dir.records.len() {
        let mut link = url::Url::parse(&format!("{base}/deviceManagement/managedDevices"))
            .unwrap_or_else(|_| url::Url::parse("https://localhost/").expect("a valid URL"));
        {
            let mut qp = link.query_pairs_mut();
            if !q.select.is_empty() {
                qp.append_pair("$select", &q.select.join(","));
            }
            qp.append_pair("$top", &q.top.to_string());
            if q.count {
                qp.append_pair("$count", "true");
            }
            qp.append_pair("$skiptoken", &encode_skiptoken(end));
        }
        out.insert("@odata.nextLink".into(), json!(link.to_string()));
    }
    out.insert("value".into(), Value::Array(value));
    Value::Object(out)
}

/// Every managed device, rendered with every property (the control endpoint's
/// `GET /cloud/devices`).
pub(crate) fn all(cloud: &Cloud, org: &Org, now: i64) -> Value {
    let dir = match cloud.directory.read() {
        Ok(d) => d,
        Err(p) => p.into_inner(),
    };
    Value::Array(
        dir.records
            .iter()
            .map(|r| Value::Object(r.render(org, &[], now)))
            .collect(),
    )
}

/// Route a Graph request; every answer carries `request-id` and the client's
/// `client-request-id` (or a new one), as Graph's do.
pub(crate) async fn handle(cloud: &Cloud, shared: &Shared, req: Request<Incoming>) -> Resp {
    let client_id = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut rng = SplitMix::new(cloud.pages_served.load(Ordering::Relaxed) ^ now() as u64);
    let request_id = guid(&mut rng);
    let client_id = client_id.unwrap_or_else(|| guid(&mut rng));
    let mut r = answer(cloud, shared, req).await;
    for (k, v) in [("request-id", request_id), ("client-request-id", client_id)] {
        if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

async fn answer(cloud: &Cloud, shared: &Shared, req: Request<Incoming>) -> Resp {
    let throttled = cloud
        .throttle
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if throttled {
        cloud.requests_throttled.fetch_add(1, Ordering::SeqCst);
        let mut r = graph_error(
            429,
            "TooManyRequests",
            "Too many requests. The request has been throttled (lab throttle switch).",
        );
        let secs = cloud.retry_after.load(Ordering::SeqCst).to_string();
        if let Ok(v) = hyper::header::HeaderValue::from_str(&secs) {
            r.headers_mut().insert(hyper::header::RETRY_AFTER, v);
        }
        return r;
    }
    let path = req.uri().path().trim_end_matches('/').to_ascii_lowercase();
    if path != "/v1.0/devicemanagement/manageddevices" {
        return graph_error(
            400,
            "BadRequest",
            &format!(
                "Resource not found for the segment '{}' (the lab's Graph serves /v1.0/deviceManagement/managedDevices).",
                req.uri().path().rsplit('/').next().unwrap_or_default()
            ),
        );
    }
    if req.method() != Method::GET {
        return graph_error(
            405,
            "Request_BadRequest",
            "The lab's Graph serves GET here.",
        );
    }
    let token = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| {
            h.split_once(' ')
                .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim().to_string())
        })
        .unwrap_or_default();
    let now = now();
    let claims = match entra::validate(cloud, &token, now) {
        Ok(c) => c,
        Err(problem) => {
            let mut r = graph_error(401, "InvalidAuthenticationToken", &problem.to_string());
            let v = format!(
                "Bearer realm=\"\", authorization_uri=\"{}/common/oauth2/authorize\", client_id=\"{}\"",
                cloud.authority,
                super::GRAPH_APP_ID
            );
            if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
                r.headers_mut().insert(hyper::header::WWW_AUTHENTICATE, v);
            }
            return r;
        }
    };
    // Graph reads the token's roles; the lab also checks the grant now, so revoking bites
    // at once instead of when the token expires.
    let granted =
        claims.roles.iter().any(|r| r == PERMISSION) && cloud.permission.load(Ordering::SeqCst);
    if !granted {
        return graph_error(
            403,
            "Authorization_RequestDenied",
            &format!("Insufficient privileges to complete the operation. Application is not authorized to perform this operation. Application must have one of the following scopes: {PERMISSION}, DeviceManagementManagedDevices.ReadWrite.All"),
        );
    }
    let q = match parse_query(req.uri().query()) {
        Ok(q) => q,
        Err(e) => return bad_request(&e.to_string()),
    };
    let body = {
        let org = match shared.org.read() {
            Ok(o) => o,
            Err(p) => p.into_inner(),
        };
        let dir = match cloud.directory.read() {
            Ok(d) => d,
            Err(p) => p.into_inner(),
        };
        page(cloud, &org, &dir, &q, now)
    };
    cloud.pages_served.fetch_add(1, Ordering::SeqCst);
    let mut r = respond(
        200,
        "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
        serde_json::to_vec(&body).unwrap_or_default(),
    );
    r.headers_mut().insert(
        "OData-Version",
        hyper::header::HeaderValue::from_static("4.0"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::org::ExchangeVersion;

    #[test]
    fn the_mix_has_every_state_and_unenrolled_devices() {
        let org = Org::generate(1, 5000, ExchangeVersion::V2019);
        let dir = Directory::generate(&org, 1, 1_800_000_000);
        let states: std::collections::BTreeSet<_> =
            dir.records.iter().map(|r| r.compliance).collect();
        assert_eq!(states.len(), ComplianceState::ALL.len(), "{states:?}");
        let eas: std::collections::HashSet<String> = dir
            .records
            .iter()
            .filter_map(|r| match r.source {
                Source::Eas { device, .. } => Some(org.device_id(&device)),
                Source::Laptop { .. } => None,
            })
            .collect();
        let unenrolled = org
            .devices
            .iter()
            .filter(|d| !eas.contains(&org.device_id(d)))
            .count();
        assert!((500..1200).contains(&unenrolled), "{unenrolled}");
        assert!(dir
            .records
            .iter()
            .any(|r| matches!(r.source, Source::Laptop { .. })));
        let stale = dir
            .records
            .iter()
            .filter(|r| r.last_sync < 1_800_000_000 - 40 * DAY)
            .count();
        assert!(stale > 100, "{stale}");
    }

    /// Paging 20 000 devices 1 000 at a time through nextLink's skiptoken: every record once,
    /// every EAS id one of the org's devices, the last page without a nextLink.
    #[tokio::test]
    async fn paging_twenty_thousand_devices_gives_every_record_once() {
        let dir = tempfile::tempdir().unwrap();
        let lab = crate::lab::Lab::start(crate::lab::LabOptions {
            servers: 1,
            devices: 20_000,
            state_dir: dir.path().to_path_buf(),
            ..Default::default()
        })
        .await
        .unwrap();
        let cloud = lab.shared.cloud.clone();
        let exchange: std::collections::HashSet<String> = lab.with_org(|o| {
            o.devices
                .iter()
                .map(|d| o.device_id(d).to_uppercase())
                .collect()
        });
        let mut query =
            Some("$select=id,easDeviceId,complianceState&$top=1000&$count=true".to_string());
        let (mut ids, mut pages, mut eas) = (std::collections::HashSet::new(), 0, 0);
        let mut total = 0;
        while let Some(raw) = query.take() {
            let q = parse_query(Some(&raw)).unwrap();
            let v = lab.with_org(|org| {
                let dir = cloud.directory.read().unwrap();
                page(&cloud, org, &dir, &q, 1_800_000_000)
            });
            pages += 1;
            total = v["@odata.count"].as_u64().unwrap();
            for d in v["value"].as_array().unwrap() {
                assert_eq!(d.as_object().unwrap().len(), 3);
                assert!(ids.insert(d["id"].as_str().unwrap().to_string()));
                let e = d["easDeviceId"].as_str().unwrap();
                if !e.is_empty() {
                    eas += 1;
                    assert!(exchange.contains(&e.to_uppercase()), "{e}");
                }
            }
            query = v["@odata.nextLink"]
                .as_str()
                .map(|l| l.split_once('?').unwrap().1.to_string());
        }
        assert_eq!(ids.len() as u64, total);
        assert_eq!(pages, total.div_ceil(1000));
        assert!(eas > 15_000 && eas < 18_500, "{eas}");
    }

    #[test]
    fn skiptokens_round_trip_and_refuse_garbage() {
        assert_eq!(decode_skiptoken(&encode_skiptoken(12_345)), Some(12_345));
        assert_eq!(decode_skiptoken("bm9wZQ"), None);
    }

    #[test]
    fn select_names_are_checked_and_spelled_like_graph() {
        let q = parse_query(Some("%24select=ID,easdeviceid,complianceState&%24top=5000"))
            .ok()
            .unwrap();
        assert_eq!(q.select, vec!["id", "easDeviceId", "complianceState"]);
        assert_eq!(q.top, MAX_PAGE);
        assert_eq!(
            parse_query(Some("$select=nope")).err(),
            Some(QueryError::UnknownProperty("nope".into()))
        );
        assert_eq!(
            parse_query(Some("$filter=x eq 1")).err(),
            Some(QueryError::Unsupported("filter".into()))
        );
        assert_eq!(
            parse_query(Some("$top=x")).err(),
            Some(QueryError::Top("x".into()))
        );
    }
}
