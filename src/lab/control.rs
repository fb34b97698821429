//! The lab's control endpoint: plain HTTP on loopback, every request carrying the bearer
//! token from `lab.json`.
//!
//! `GET /state`; `POST /servers/<name>/stop|start`; `POST /servers/<name>/throttle?count=N`
//! (the next N requests get 503); `POST /servers/<name>/latency?ms=N`;
//! `POST /devices/touch?count=N&seed=S` (N devices sync now); `GET /devices` (every device and
//! its access state); `GET /outbox` (sent mail). The cloud ([`super::cloud`]): `GET /cloud`
//! (switches and counts); `GET /cloud/devices` (every managed device as Graph renders it);
//! `POST /cloud/throttle?count=N&retry_after=S` (the next N Graph requests get 429 with
//! `Retry-After: S`, default 0); `POST /cloud/outage?mode=off|503|refuse&service=graph|login`
//! (default Graph); `POST /cloud/permission?granted=0|1`; `POST /cloud/secret?expired=0|1`;
//! `POST /cloud/tokens/expire` (every token issued so far is refused);
//! `POST /cloud/devices/<id or EAS id>?complianceState=S`. It exists for tests and demos; it
//! must never listen on anything but loopback.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;

use super::http::{respond, Resp};
use super::{now, Shared};

pub(super) async fn serve(shared: Arc<Shared>, listener: TcpListener, token: String) {
    let token = Arc::new(token);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        let token = token.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let shared = shared.clone();
                let token = token.clone();
                async move { Ok::<_, Infallible>(handle(shared, &token, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

fn query(req: &Request<Incoming>, key: &str) -> Option<u64> {
    req.uri()
        .query()?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
}

fn query_str(req: &Request<Incoming>, key: &str) -> Option<String> {
    url::form_urlencoded::parse(req.uri().query()?.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn json_resp(status: u16, v: serde_json::Value) -> Resp {
    respond(status, "application/json", v.to_string())
}

async fn handle(shared: Arc<Shared>, token: &str, req: Request<Incoming>) -> Resp {
    let authorized = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| t == token);
    if !authorized {
        return json_resp(
            401,
            json!({"error": "missing or wrong bearer token; it is in lab.json under control.token"}),
        );
    }
    let path = req.uri().path().to_string();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (req.method(), parts.as_slice()) {
        (&Method::GET, ["state"]) => {
            let servers: Vec<_> = shared
                .servers
                .iter()
                .map(|s| {
                    json!({
                        "name": s.name,
                        "url": s.url(),
                        "running": s.running.load(Ordering::SeqCst),
                        "latency_ms": s.latency_ms.load(Ordering::SeqCst),
                        "throttle_remaining": s.throttle.load(Ordering::SeqCst),
                    })
                })
                .collect();
            let counts = match shared.org.read() {
                Ok(o) => o.state_counts(),
                Err(p) => p.into_inner().state_counts(),
            };
            let counts: serde_json::Map<String, serde_json::Value> = counts
                .into_iter()
                .map(|(k, v)| (k.as_str().to_string(), json!(v)))
                .collect();
            json_resp(200, json!({"servers": servers, "device_states": counts}))
        }
        (&Method::POST, ["servers", name, action]) => {
            let Some(cas) = shared
                .servers
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(name))
                .cloned()
            else {
                return json_resp(404, json!({"error": format!("no server named '{name}'")}));
            };
            match *action {
                "stop" => super::http::stop_server(&cas),
                "start" => {
                    if let Err(e) = super::http::start_server(shared.clone(), cas.clone()).await {
                        return json_resp(500, json!({"error": e.to_string()}));
                    }
                }
                "throttle" => cas
                    .throttle
                    .store(query(&req, "count").unwrap_or(u64::MAX), Ordering::SeqCst),
                "auth" => cas.auth_schemes.store(
                    query(&req, "schemes")
                        .and_then(|b| u8::try_from(b).ok())
                        .unwrap_or(super::auth_schemes::DEFAULT),
                    Ordering::SeqCst,
                ),
                "latency" => cas
                    .latency_ms
                    .store(query(&req, "ms").unwrap_or(0), Ordering::SeqCst),
                other => {
                    return json_resp(404, json!({"error": format!("unknown action '{other}'")}))
                }
            }
            json_resp(
                200,
                json!({"ok": true, "server": cas.name, "running": cas.running.load(Ordering::SeqCst)}),
            )
        }
        (&Method::POST, ["devices", "touch"]) => {
            let count = query(&req, "count").unwrap_or(1) as usize;
            let seed = query(&req, "seed").unwrap_or(1);
            let touched = match shared.org.write() {
                Ok(mut o) => o.touch_devices(count, seed, now()),
                Err(p) => p.into_inner().touch_devices(count, seed, now()),
            };
            json_resp(200, json!({"touched": touched.len(), "indices": touched}))
        }
        (&Method::GET, ["devices"]) => {
            let org = match shared.org.read() {
                Ok(o) => o,
                Err(p) => p.into_inner(),
            };
            let views: Vec<_> = (0..org.devices.len() as u32)
                .filter_map(|i| org.view(i))
                .collect();
            respond(
                200,
                "application/json",
                serde_json::to_vec(&views).unwrap_or_default(),
            )
        }
        (&Method::GET, ["cloud"]) => json_resp(200, shared.cloud.state_json()),
        (&Method::GET, ["cloud", "devices"]) => {
            let org = match shared.org.read() {
                Ok(o) => o,
                Err(p) => p.into_inner(),
            };
            let all = super::cloud::graph::all(&shared.cloud, &org, now());
            respond(
                200,
                "application/json",
                serde_json::to_vec(&all).unwrap_or_default(),
            )
        }
        (&Method::POST, ["cloud", "throttle"]) => {
            shared.cloud.set_throttle(
                query(&req, "count").unwrap_or(1),
                query(&req, "retry_after").unwrap_or(0),
            );
            json_resp(200, shared.cloud.state_json())
        }
        (&Method::POST, ["cloud", "outage"]) => {
            let mode = query_str(&req, "mode").unwrap_or_else(|| "503".into());
            let Some(outage) = super::cloud::Outage::parse(&mode) else {
                return json_resp(
                    400,
                    json!({"error": format!("mode '{mode}' is not off, 503 or refuse")}),
                );
            };
            let which = query_str(&req, "service").unwrap_or_else(|| "graph".into());
            let Some(service) = super::cloud::Service::parse(&which) else {
                return json_resp(
                    400,
                    json!({"error": format!("service '{which}' is not graph or login")}),
                );
            };
            if let Err(e) = shared.cloud.set_outage(&shared, service, outage).await {
                return json_resp(500, json!({"error": e.to_string()}));
            }
            json_resp(200, shared.cloud.state_json())
        }
        (&Method::POST, ["cloud", "permission"]) => {
            shared
                .cloud
                .set_permission(query(&req, "granted").unwrap_or(1) != 0);
            json_resp(200, shared.cloud.state_json())
        }
        (&Method::POST, ["cloud", "secret"]) => {
            shared
                .cloud
                .set_secret_expired(query(&req, "expired").unwrap_or(1) != 0);
            json_resp(200, shared.cloud.state_json())
        }
        (&Method::POST, ["cloud", "tokens", "expire"]) => {
            shared.cloud.expire_tokens();
            json_resp(200, shared.cloud.state_json())
        }
        (&Method::POST, ["cloud", "devices", id]) => {
            let wanted = query_str(&req, "complianceState").unwrap_or_default();
            let Some(state) = super::cloud::graph::ComplianceState::parse(&wanted) else {
                return json_resp(
                    400,
                    json!({"error": format!("complianceState '{wanted}' is not one of unknown, compliant, noncompliant, conflict, error, inGracePeriod, configManager")}),
                );
            };
            let changed = shared.cloud.set_compliance(&shared, id, state);
            if changed == 0 {
                return json_resp(
                    404,
                    json!({"error": format!("no managed device with id or EAS device id '{id}'")}),
                );
            }
            json_resp(200, json!({"changed": changed}))
        }
        (&Method::GET, ["outbox"]) => {
            let mut mails = Vec::new();
            if let Ok(entries) = std::fs::read_dir(&shared.outbox) {
                let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
                paths.sort();
                for p in paths {
                    if let Ok(b) = std::fs::read(&p) {
                        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&b) {
                            mails.push(v);
                        }
                    }
                }
            }
            json_resp(200, json!(mails))
        }
        _ => json_resp(
            404,
            json!({"error": "unknown control request; see the lab module's documentation"}),
        ),
    }
}
