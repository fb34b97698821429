//! Reading Intune's managed devices from a running lab, for scripts/bench-intune:
//! `cargo run --release --example intune_read -- LAB_DIR`. Signs in with the lab app's
//! certificate (its PFX, PS256), reads every managed device in pages of 1 000 through the
//! connector's own Graph client, builds the snapshot the engine decides with, and prints the
//! devices, pages, the time (sign-in included) and this process's peak resident memory
//! (VmHWM, Linux) as one JSON line. The lab runs in its own process, so the memory is the
//! connector's alone.

use std::time::Instant;

use eas_connector::cloud::{self, AppCredential, AppIdentity, AssertionAlg, GraphClient};
use eas_connector::secrets::Secret;

fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: intune_read LAB_DIR"));
    let info: eas_connector::lab::LabInfo =
        serde_json::from_slice(&std::fs::read(dir.join("lab.json"))?)?;
    let cl = info.cloud.clone().expect("the lab has a cloud");
    let mut cfg = eas_connector::config::ConnectorConfig::new("bench");
    cfg.set("TrustedCaFile", &info.ca_file.display().to_string())?;
    let before = peak_rss_kib();
    let started = Instant::now();
    let cert =
        cloud::certificate::import_file(&cl.pfx_file, Some(&Secret::new(&cl.pfx_password)))?;
    let mut g = GraphClient {
        http: cloud::http::CloudHttp::new(cloud::connect_options(&cfg, None)?),
        tokens: cloud::token::TokenCache::default(),
        identity: AppIdentity {
            authority: cl.authority.clone(),
            tenant: cl.tenant_id.clone(),
            client_id: cl.application_id.clone(),
            credential: AppCredential::Certificate(cert, AssertionAlg::Ps256),
        },
        graph_url: cl.graph_url.clone(),
    };
    let read = g
        .managed_devices(1000, false, &mut |_, _| {}, &mut |_| {})
        .await?;
    let read_s = started.elapsed().as_secs_f64();
    let snap = eas_connector::engine::policy::intune::IntuneSnapshot::from_devices(
        &read.devices,
        jiff::Timestamp::now(),
    );
    let total_s = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "managed_devices": read.devices.len(),
            "with_eas_id": snap.devices.len(),
            "pages": read.pages,
            "read_s": read_s,
            "ms_per_page": read_s * 1000.0 / f64::from(read.pages.max(1)),
            "with_snapshot_s": total_s,
            "peak_rss_mib": peak_rss_kib().map(|k| k as f64 / 1024.0),
            "rss_before_mib": before.map(|k| k as f64 / 1024.0),
        })
    );
    Ok(())
}
