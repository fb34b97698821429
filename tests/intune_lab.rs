//! The Intune source end to end against the lab's Microsoft cloud: the connector signs in to
//! the lab's Entra ID with the app's certificate (imported from the lab's PFX), pages Graph's
//! managedDevices and enforces. A full sync of 20 000 devices allows exactly the enrolled,
//! compliant, recently checked-in ones and puts every other where the policy says (the lab's
//! Exchange states match device by device); a Graph outage blocks nothing that was allowed (the
//! snapshot decides); past max_snapshot_age every device is held where it is; injected 429s
//! (Retry-After: 0) complete and the waits are reported; a read that shrinks too much waits for
//! `intune accept`; and no byte of the key or secret lands in any file of the org folder.

mod support;

use std::collections::HashMap;
use std::path::Path;

use eas_connector::cloud::{self, AppCredential, AppIdentity, AssertionAlg, GraphClient};
use eas_connector::engine::policy::Action;
use eas_connector::engine::state::EngineState;
use eas_connector::engine::target::Target;
use eas_connector::engine::{AccessOptions, Engine, SyncKind, SyncState};
use eas_connector::lab::{ExchangeVersion, Lab, LabInfo, LabOptions};
use eas_connector::secrets::Secret;
use eas_connector::wire::exchange::{AccessLevel, DeviceAccessState};

const POLICY: &str = r#"
precedence = ["inventory"]
default = "Quarantine"

[inventory.intune]
noncompliant = "Block"
in_grace_period = "Quarantine"
stale = "Quarantine"
max_checkin_age_days = 7
max_snapshot_age_hours = 24
max_shrink_percent = 20
"#;

fn config(info: &LabInfo) -> eas_connector::config::ConnectorConfig {
    let mut c = eas_connector::config::ConnectorConfig::new("default");
    c.set("ClientAccessServer", &info.servers[0].address)
        .unwrap();
    c.set("TrustedCaFile", &info.ca_file.display().to_string())
        .unwrap();
    c.set("ServiceAccount/User", &info.accounts.service.user)
        .unwrap();
    let cl = info.cloud.as_ref().unwrap();
    c.set("Cloud/TenantId", &cl.tenant_id).unwrap();
    c.set("Cloud/ApplicationId", &cl.application_id).unwrap();
    c.set("Cloud/Authority", &cl.authority).unwrap();
    c.set("Cloud/GraphUrl", &cl.graph_url).unwrap();
    c
}

fn graph(info: &LabInfo, alg: AssertionAlg) -> GraphClient {
    let c = config(info);
    let cl = info.cloud.as_ref().unwrap();
    let cert = cloud::certificate::import_file(&cl.pfx_file, Some(&Secret::new(&cl.pfx_password)))
        .unwrap();
    GraphClient {
        http: cloud::http::CloudHttp::new(cloud::connect_options(&c, None).unwrap()),
        tokens: cloud::token::TokenCache::default(),
        identity: AppIdentity {
            authority: cl.authority.clone(),
            tenant: cl.tenant_id.clone(),
            client_id: cl.application_id.clone(),
            credential: AppCredential::Certificate(cert, alg),
        },
        graph_url: cl.graph_url.clone(),
    }
}

fn engine(info: &LabInfo, org: &Path) -> Engine {
    let c = config(info);
    let t = Target::from_config(
        &c,
        Some(&Secret::new(info.accounts.service.password.clone())),
        None,
    )
    .unwrap();
    Engine::new(t, true).with_access(
        AccessOptions::new(org.to_path_buf(), org.join("Logs"))
            .graph(Ok(graph(info, AssertionAlg::Ps256))),
    )
}

/// What the policy gives each EAS device id, from the lab's own managed devices (every
/// property, as Graph renders them): the latest enrolled record decides.
fn expected(lab: &Lab) -> HashMap<String, Action> {
    let now = jiff::Timestamp::now();
    let mut latest: HashMap<String, (jiff::Timestamp, String)> = HashMap::new();
    for d in lab.managed_devices().as_array().unwrap() {
        let Some(eas) = d["easDeviceId"].as_str().filter(|e| !e.is_empty()) else {
            continue;
        };
        if d["managementState"].as_str() != Some("managed") {
            continue;
        }
        let t: jiff::Timestamp = d["lastSyncDateTime"].as_str().unwrap().parse().unwrap();
        let state = d["complianceState"].as_str().unwrap().to_string();
        let e = latest
            .entry(eas.to_ascii_lowercase())
            .or_insert((t, state.clone()));
        if t > e.0 {
            *e = (t, state);
        }
    }
    latest
        .into_iter()
        .map(|(id, (t, state))| {
            let fresh = now.duration_since(t).as_secs() <= 7 * 86_400;
            let a = match state.as_str() {
                "compliant" if fresh => Action::Allow,
                "noncompliant" => Action::Block,
                _ => Action::Quarantine,
            };
            (id, a)
        })
        .collect()
}

fn state_of(a: Action) -> DeviceAccessState {
    match a {
        Action::Allow => DeviceAccessState::Allowed,
        Action::Block => DeviceAccessState::Blocked,
        Action::Quarantine => DeviceAccessState::Quarantined,
    }
}

/// Every device's state by lower-case id.
fn states(lab: &Lab) -> HashMap<String, DeviceAccessState> {
    lab.with_org(|o| {
        o.devices
            .iter()
            .map(|d| (o.device_id(d).to_ascii_lowercase(), d.state))
            .collect()
    })
}

/// Whether `text` holds `secret` in clear, base64 or UTF-16.
fn leaks(bytes: &[u8], secret: &[u8]) -> bool {
    use base64::Engine as _;
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let utf16: Vec<u8> = secret.iter().flat_map(|b| [*b, 0]).collect();
    contains(bytes, secret)
        || contains(bytes, b64.as_bytes())
        || contains(bytes, b64url.as_bytes())
        || contains(bytes, &utf16)
}

/// A lab of `devices` devices with its cloud, an org folder with the policy, enforcement
/// confirmed, and the engine reading Intune through the lab's Graph.
async fn setup(
    devices: u32,
) -> (
    tempfile::TempDir,
    Lab,
    LabInfo,
    std::path::PathBuf,
    Engine,
    SyncState,
) {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(LabOptions {
        devices,
        servers: 1,
        version: ExchangeVersion::V2019,
        state_dir: dir.path().join("lab"),
        ..LabOptions::default()
    })
    .await
    .unwrap();
    let info = lab.info().clone();
    let org = dir.path().join("org");
    std::fs::create_dir_all(&org).unwrap();
    std::fs::write(org.join("AccessPolicy.toml"), POLICY).unwrap();
    lab.with_org_mut(|o| o.set_default_access_level(AccessLevel::Quarantine, 0));
    EngineState::confirm(&org, "test").unwrap();
    let engine = engine(&info, &org);
    (dir, lab, info, org, engine, SyncState::default())
}

/// A full sync places every device as the policy says from Intune's records (`want`), the
/// lab's Exchange states compared device by device; returns (allowed, not enrolled).
async fn full_sync_matches(
    lab: &Lab,
    engine: &Engine,
    state: &mut SyncState,
    devices: u32,
) -> (usize, usize) {
    let want = expected(lab);
    let out = engine.sync(SyncKind::Full, state, |_| {}).await.unwrap();
    assert_eq!(out.devices, devices as usize);
    let r = out.access.clone().unwrap();
    let intune = r.intune.clone().unwrap();
    assert_eq!(intune.state, "fresh", "{intune:?}");
    assert!(intune.pages >= devices / 1_100, "{intune:?}");
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    let got = states(lab);
    let mut bad = Vec::new();
    let (mut allowed, mut not_enrolled) = (0, 0);
    for (id, s) in &got {
        let a = want.get(id).copied().unwrap_or_else(|| {
            not_enrolled += 1;
            Action::Quarantine
        });
        allowed += usize::from(a == Action::Allow);
        if *s != state_of(a) {
            bad.push((id.clone(), a, *s));
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
    for a in [Action::Block, Action::Quarantine] {
        assert!(want.values().any(|w| *w == a));
    }
    (allowed, not_enrolled)
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_thousand_devices_from_intune_match_in_exchange_and_for_pypsrp() {
    let (_dir, lab, info, _org, engine, mut state) = setup(20_000).await;
    // A full sync: Intune decides every device it knows, the default the others.
    let (allowed, not_enrolled) = full_sync_matches(&lab, &engine, &mut state, 20_000).await;
    // The lab's mix holds every case.
    assert!(
        allowed > 9_000 && not_enrolled > 2_000,
        "{allowed} {not_enrolled}"
    );
    let want = expected(&lab);
    // And read back by an independent PSRP client, pypsrp: Exchange reports the same.
    if support::python_module("pypsrp", "pypsrp") {
        let lab_dir = info.state_dir.clone();
        let r = tokio::task::spawn_blocking(move || pypsrp_states(&lab_dir))
            .await
            .unwrap();
        assert_eq!(r["devices"], 20_000);
        let mut bad = Vec::new();
        for (id, s) in r["states"].as_object().unwrap() {
            let a = want.get(id).copied().unwrap_or(Action::Quarantine);
            if s.as_str() != Some(&format!("{:?}", state_of(a))) {
                bad.push((id.clone(), a, s.clone()));
            }
        }
        assert!(
            bad.is_empty(),
            "pypsrp: {} mismatches: {:?}",
            bad.len(),
            &bad[..bad.len().min(5)]
        );
    }
}

/// The rest at 2 000 devices (each step is a full sync; the size does not change what they
/// show, and the 20 000-device test above has the scale).
#[tokio::test(flavor = "multi_thread")]
async fn intune_outage_throttling_live_changes_shrink_and_no_secret_on_disk() {
    let (_dir, lab, info, org, engine, mut state) = setup(2_000).await;
    // 1. A full sync while Intune answers: the snapshot the next steps fall back to.
    let want = expected(&lab);
    full_sync_matches(&lab, &engine, &mut state, 2_000).await;

    // 2. Graph down: the snapshot decides; nothing allowed is blocked or quarantined.
    lab.set_cloud_outage(cloud_service(), outage(true))
        .await
        .unwrap();
    let before = states(&lab);
    let out = engine
        .sync(SyncKind::Full, &mut state, |_| {})
        .await
        .unwrap();
    let i = out.access.unwrap().intune.unwrap();
    assert_eq!(i.state, "snapshot", "{i:?}");
    assert_eq!(states(&lab), before, "an outage changes nothing");

    // 3. Past max_snapshot_age: every device is held where it is, said in the report. A
    //    device whose compliance changed in Intune meanwhile is not touched either.
    let snap_path = org.join("IntuneSnapshot.json");
    let mut snap: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&snap_path).unwrap()).unwrap();
    let old = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(30);
    snap["taken_at"] = serde_json::Value::String(old.to_string());
    std::fs::write(&snap_path, serde_json::to_vec(&snap).unwrap()).unwrap();
    let victim = lab.with_org(|o| o.device_id(&o.devices[0]));
    lab.with_org_mut(|o| {
        // An admin takes one device off its list in Exchange: with Intune stale the sync
        // must not put it back nor move it anywhere.
        let d = o.devices[0];
        o.update_device_list(
            d.mailbox,
            false,
            &eas_connector::wire::exchange::MultiValuedUpdate::Update(
                eas_connector::wire::exchange::ListUpdate::removing([victim.clone()]),
            ),
            0,
        );
    });
    let before = states(&lab);
    let out = engine
        .sync(SyncKind::Full, &mut state, |_| {})
        .await
        .unwrap();
    let r = out.access.unwrap();
    let i = r.intune.unwrap();
    assert_eq!(i.state, "held", "{i:?}");
    assert!(r
        .failures
        .iter()
        .any(|f| f.contains("past max_snapshot_age_hours = 24")));
    assert_eq!(states(&lab), before, "held: nothing moves");

    // 4. Graph back, with three 429s (Retry-After: 0): the sync completes, the waits are
    //    reported, and the snapshot is fresh again.
    lab.set_cloud_outage(cloud_service(), outage(false))
        .await
        .unwrap();
    lab.cloud().set_throttle(3, 0);
    let out = engine
        .sync(SyncKind::Full, &mut state, |_| {})
        .await
        .unwrap();
    let i = out.access.unwrap().intune.unwrap();
    assert_eq!(i.state, "fresh", "{i:?}");
    assert_eq!(i.waits, vec![(429, 0); 3]);

    // 4b. Live: a device allowed now turns noncompliant in Intune, another compliant: the
    //     next sync blocks the one and allows the other (and changes nothing else).
    let now_states = states(&lab);
    let allowed_id = want
        .iter()
        .find(|(id, a)| {
            **a == Action::Allow && now_states.get(*id) == Some(&DeviceAccessState::Allowed)
        })
        .map(|(id, _)| id.clone())
        .unwrap();
    let blocked_id = want
        .iter()
        .find(|(id, a)| {
            **a == Action::Block && now_states.get(*id) == Some(&DeviceAccessState::Blocked)
        })
        .map(|(id, _)| id.clone())
        .unwrap();
    use eas_connector::lab::cloud::graph::ComplianceState as LabState;
    assert!(lab.set_device_compliance(&allowed_id, LabState::Noncompliant) >= 1);
    assert!(lab.set_device_compliance(&blocked_id, LabState::Compliant) >= 1);
    let want_now = expected(&lab);
    engine
        .sync(SyncKind::Full, &mut state, |_| {})
        .await
        .unwrap();
    let after = states(&lab);
    assert_eq!(after[&allowed_id], DeviceAccessState::Blocked);
    assert_eq!(
        after[&blocked_id],
        state_of(want_now[&blocked_id]),
        "a device compliant again follows Intune"
    );
    let moved: Vec<_> = after
        .iter()
        .filter(|(id, s)| now_states[*id] != **s)
        .map(|(id, _)| id.clone())
        .collect();
    assert!(moved.len() <= 2, "{moved:?}");

    // 5. A read that shrinks by more than 20 % waits for `intune accept`: the old snapshot
    //    (fresh) decides meanwhile.
    let mut snap: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&snap_path).unwrap()).unwrap();
    let devices = snap["devices"].as_object().unwrap().clone();
    let mut doubled = devices.clone();
    for (k, v) in &devices {
        doubled.insert(format!("{k}-gone"), v.clone());
    }
    snap["devices"] = serde_json::Value::Object(doubled);
    std::fs::write(&snap_path, serde_json::to_vec(&snap).unwrap()).unwrap();
    let out = engine
        .sync(SyncKind::Full, &mut state, |_| {})
        .await
        .unwrap();
    let i = out.access.unwrap().intune.unwrap();
    assert_eq!(i.state, "snapshot", "{i:?}");
    assert!(i.problem.as_deref().unwrap().contains("intune accept"));
    assert!(org.join("IntunePending.json").exists());
    let a = eas_connector::engine::intune::accept(&org).unwrap();
    assert_eq!(a.previous, devices.len() * 2);
    assert_eq!(a.accepted, devices.len());

    // 6. Neither the key nor the secret is anywhere under the org folder.
    let cl = info.cloud.as_ref().unwrap();
    let cert = cloud::certificate::import_file(&cl.pfx_file, Some(&Secret::new(&cl.pfx_password)))
        .unwrap();
    let secret = std::fs::read(&cl.client_secret_file).unwrap();
    let key = cert.private_key.expose().to_vec();
    let mut files = 0;
    for entry in walk(&org) {
        let bytes = std::fs::read(&entry).unwrap();
        files += 1;
        assert!(
            !leaks(&bytes, &key[key.len() - 64..]),
            "{}",
            entry.display()
        );
        assert!(!leaks(&bytes, &secret), "{}", entry.display());
    }
    assert!(files >= 4, "{files}");
}

/// Every device's state as pypsrp reads it from the lab (`tests/peers/pypsrp_device_states.py`).
fn pypsrp_states(lab_dir: &Path) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pypsrp_device_states.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(lab_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pypsrp_device_states.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn cloud_service() -> eas_connector::lab::cloud::Service {
    eas_connector::lab::cloud::Service::Graph
}

fn outage(on: bool) -> eas_connector::lab::cloud::Outage {
    if on {
        eas_connector::lab::cloud::Outage::Unavailable
    } else {
        eas_connector::lab::cloud::Outage::Off
    }
}

/// The lab's answers file configures the Intune source's identity: `configure --answers`
/// imports the lab's PFX and sets every `<Cloud>` field, and check 14 then passes.
#[tokio::test(flavor = "multi_thread")]
async fn the_labs_answers_configure_the_cloud_identity_and_check_14_passes() {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(LabOptions {
        devices: 200,
        servers: 1,
        state_dir: dir.path().join("lab"),
        ..LabOptions::default()
    })
    .await
    .unwrap();
    let info = lab.info().clone();
    let answers =
        eas_connector::setup::answers::parse(&eas_connector::lab::answers_toml(&info)).unwrap();
    let cert = answers.cloud_certificate.clone().unwrap();
    let mut c = eas_connector::config::ConnectorConfig::new("default");
    for (f, v) in &answers.fields {
        f.set(&mut c, v).unwrap();
    }
    let cl = info.cloud.as_ref().unwrap();
    assert_eq!(c.cloud.tenant_id.as_deref(), Some(cl.tenant_id.as_str()));
    assert_eq!(
        c.cloud.certificate_thumbprint.as_deref(),
        Some(cl.certificate_thumbprint.as_str())
    );
    for alg in [AssertionAlg::Ps256, AssertionAlg::Rs256] {
        let o = eas_connector::probe::intune_check(
            &c,
            Some(AppCredential::Certificate(cert.clone(), alg)),
            None,
            std::time::Duration::from_secs(20),
        )
        .await;
        assert_eq!(
            o.status,
            eas_connector::probe::Status::Passed,
            "{alg:?}: {}",
            o.finding
        );
    }
    // The secret works too; a wrong one is named with its fix.
    let secret = std::fs::read_to_string(&cl.client_secret_file).unwrap();
    c.set("Cloud/Credential", "Secret").unwrap();
    let o = eas_connector::probe::intune_check(
        &c,
        Some(AppCredential::Secret(Secret::new(secret.trim()))),
        None,
        std::time::Duration::from_secs(20),
    )
    .await;
    assert_eq!(
        o.status,
        eas_connector::probe::Status::Passed,
        "{}",
        o.finding
    );
    let o = eas_connector::probe::intune_check(
        &c,
        Some(AppCredential::Secret(Secret::new("not-the-secret"))),
        None,
        std::time::Duration::from_secs(20),
    )
    .await;
    assert_eq!(o.status, eas_connector::probe::Status::Failed);
    assert!(o.finding.to_string().contains("7000215"), "{}", o.finding);
    assert_eq!(
        o.fix.as_deref(),
        Some(&eas_connector::probe::Fix::Cloud(
            eas_connector::probe::CloudFix::Credential
        ))
    );
    // Permission revoked: the Graph 403 says what to grant.
    lab.cloud().set_permission(false);
    c.set("Cloud/Credential", "Certificate").unwrap();
    let o = eas_connector::probe::intune_check(
        &c,
        Some(AppCredential::Certificate(cert, AssertionAlg::Ps256)),
        None,
        std::time::Duration::from_secs(20),
    )
    .await;
    assert_eq!(o.status, eas_connector::probe::Status::Failed);
    assert!(o
        .fix
        .unwrap()
        .to_string()
        .contains("DeviceManagementManagedDevices.Read.All"));
}
