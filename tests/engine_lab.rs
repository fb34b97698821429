//! The access-control engine against the lab: a 10 000-device organization with a policy of
//! inventory, rules and grandfathering — dry run first (the lab untouched, the exact changes
//! reported), then enforcement (the lab matches the policy device by device), notifications
//! once per state change, a second full sync that changes nothing, and a quick sync that
//! touches only the devices that changed. Then a CAS stopped in the middle of enforcement.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use eas_connector::engine::notify::{EwsSender, EwsSettings, Queue};
use eas_connector::engine::policy::Action;
use eas_connector::engine::precedence::Resolution;
use eas_connector::engine::state::EngineState;
use eas_connector::engine::target::Target;
use eas_connector::engine::{AccessOptions, AccessReport, Engine, SyncKind, SyncState};
use eas_connector::exchange::client::Credentials;
use eas_connector::lab::{ExchangeVersion, Lab, LabInfo, LabOptions};
use eas_connector::secrets::Secret;
use eas_connector::wire::exchange::{
    AccessLevel, DeviceAccessState, DeviceAccessStateReason, ListUpdate, MultiValuedUpdate,
};

async fn lab(devices: u32, dir: &Path) -> Lab {
    Lab::start(LabOptions {
        devices,
        servers: 2,
        version: ExchangeVersion::V2019,
        state_dir: dir.to_path_buf(),
        ..LabOptions::default()
    })
    .await
    .unwrap()
}

fn target(info: &LabInfo, runspaces: usize) -> Target {
    let mut c = eas_connector::config::ConnectorConfig::new("default");
    c.set("ClientAccessServer", &info.servers[0].address)
        .unwrap();
    c.set("TrustedCaFile", &info.ca_file.display().to_string())
        .unwrap();
    c.set("ServiceAccount/User", &info.accounts.service.user)
        .unwrap();
    let mut t = Target::from_config(
        &c,
        Some(&Secret::new(info.accounts.service.password.clone())),
        None,
    )
    .unwrap();
    t.max_runspaces = runspaces;
    t
}

fn engine(info: &LabInfo, org_dir: &Path, runspaces: usize) -> Engine {
    let t = target(info, runspaces);
    let sender = EwsSender::new(EwsSettings {
        ews_url: Some(format!("{}/EWS/Exchange.asmx", info.servers[0].url)),
        mailbox: info.accounts.notification.mailbox.clone().unwrap(),
        cas: None,
        connect: t.connect.clone(),
        credentials: Credentials {
            user: info.accounts.notification.user.clone(),
            password: Secret::new(info.accounts.notification.password.clone()),
        },
    });
    Engine::new(t, true).with_access(
        AccessOptions::new(org_dir.to_path_buf(), org_dir.join("Logs")).sender(Box::new(sender)),
    )
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Lists, org settings and policies: everything enforcement may change.
fn snapshot(lab: &Lab) -> String {
    lab.with_org(|o| {
        let lists: Vec<_> = o
            .mailboxes
            .iter()
            .map(|m| (m.allowed.clone(), m.blocked.clone()))
            .collect();
        format!("{lists:?}{:?}{:?}", o.settings, o.policies)
    })
}

fn outbox(info: &LabInfo) -> Vec<serde_json::Value> {
    let mut v: Vec<_> = std::fs::read_dir(&info.outbox_dir)
        .unwrap()
        .flatten()
        .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
        .collect();
    v.sort_by_key(|m: &serde_json::Value| m["id"].as_u64());
    v
}

const POLICY: &str = r#"
precedence = ["inventory", "rules", "grandfathered"]
default = "Quarantine"

[grandfathering]
enabled = true
only_allowed = true

[inventory]
files = ["inventory.csv"]
noncompliant = "Block"

[[rule]]
name = "Old iPhones"
device_model = "iPhone12C1"
action = "Block"

[[rule]]
name = "Jansens"
user = "*.jansen@contoso.test"
action = "Allow"

[organization]
admin_mail_recipients = ["helpdesk@contoso.test"]
user_mail_insert = "Enroll at https://mdm.contoso.test"

[mailbox_policy]
name = "EAS Connector"
[mailbox_policy.password]
DevicePasswordEnabled = true
MinDevicePasswordLength = 6

[notifications]
language = "nl"
"#;

/// What the policy above says for device `i`.
fn expected(i: usize, model: &str, smtp: &str, grandfathered: bool) -> Action {
    if i % 10 == 3 {
        if i % 50 == 3 {
            Action::Block
        } else {
            Action::Allow
        }
    } else if model == "iPhone12C1" {
        Action::Block
    } else if smtp.ends_with(".jansen@contoso.test") || grandfathered {
        // The "Jansens" rule, then grandfathering.
        Action::Allow
    } else {
        Action::Quarantine
    }
}

fn state_of(a: Action) -> DeviceAccessState {
    match a {
        Action::Allow => DeviceAccessState::Allowed,
        Action::Block => DeviceAccessState::Blocked,
        Action::Quarantine => DeviceAccessState::Quarantined,
    }
}

fn ids_in(r: &AccessReport) -> BTreeSet<String> {
    r.mailbox_changes
        .iter()
        .flat_map(|c| c.device_ids().cloned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_devices_dry_run_enforce_notify_and_quick_sync() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(10_000, &dir.path().join("lab")).await;
    let info = lab.info().clone();
    let org = dir.path().join("org");
    std::fs::create_dir_all(&org).unwrap();

    // The org already quarantines by default, and every 20th device is individually allowed:
    // those are what grandfathering keeps.
    lab.with_org_mut(|o| {
        o.set_default_access_level(AccessLevel::Quarantine, 0);
        for i in (0..o.devices.len()).step_by(20) {
            let d = o.devices[i];
            let id = o.device_id(&d);
            o.update_device_list(
                d.mailbox,
                false,
                &MultiValuedUpdate::Update(ListUpdate::adding([id])),
                0,
            );
        }
    });
    let mut csv = String::from("EAS device id,User,Compliant,Last check-in\n");
    lab.with_org(|o| {
        for i in (3..o.devices.len()).step_by(10) {
            let d = &o.devices[i];
            csv.push_str(&format!(
                "{},{},{},2026-03-01\n",
                o.device_id(d),
                o.mailboxes[d.mailbox as usize].primary_smtp,
                if i % 50 == 3 { "no" } else { "yes" }
            ));
        }
    });
    std::fs::write(org.join("inventory.csv"), csv).unwrap();
    std::fs::write(org.join("AccessPolicy.toml"), POLICY).unwrap();
    let before: Vec<DeviceAccessState> =
        lab.with_org(|o| o.devices.iter().map(|d| d.state).collect());

    let engine = engine(&info, &org, 4);
    let mut state = SyncState::default();

    // 1. Not confirmed yet: a dry run that leaves the lab untouched.
    let untouched = snapshot(&lab);
    let dry = engine
        .sync(SyncKind::Full, &mut state, |_| {})
        .await
        .unwrap();
    let dry_r = dry.access.clone().unwrap();
    assert!(dry_r.dry_run && dry_r.dry_run_reason.as_deref().unwrap().contains("confirm"));
    assert_eq!(dry.devices, 10_000);
    assert_eq!(dry_r.grandfathered, Some(500));
    assert_eq!(snapshot(&lab), untouched, "a dry run changes nothing");
    assert!(outbox(&info).is_empty());
    assert!(!dry_r.mailbox_changes.is_empty());
    assert!(dry_r
        .org_changes
        .iter()
        .any(|c| c.starts_with("AdminMailRecipients")));
    assert_eq!(dry_r.set_cas_mailbox_calls, 0);

    // 2. Confirmed: the real run does exactly what the dry run reported.
    EngineState::confirm(&org, "test").unwrap();
    let real = engine
        .sync(SyncKind::Quick, &mut state, |_| {})
        .await
        .unwrap();
    assert_eq!(
        real.kind,
        SyncKind::Full,
        "the confirmed first sync is full"
    );
    let r = real.access.clone().unwrap();
    assert!(!r.dry_run, "{r:?}");
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_eq!(r.mailbox_changes, dry_r.mailbox_changes);
    assert_eq!(r.org_changes, dry_r.org_changes);
    assert_eq!(r.policy_changes, dry_r.policy_changes);
    assert_eq!(r.set_cas_mailbox_calls, r.mailbox_changes.len());
    assert!(r.passes >= 2, "a settle pass reads our own changes back");

    // The lab's devices are exactly where the policy puts them.
    let grandfathered: BTreeSet<usize> = (0..10_000).step_by(20).collect();
    let mismatches = lab.with_org(|o| {
        let mut bad = Vec::new();
        for (i, d) in o.devices.iter().enumerate() {
            let want = expected(
                i,
                o.kind(d).model,
                &o.mailboxes[d.mailbox as usize].primary_smtp,
                grandfathered.contains(&i),
            );
            if d.state != state_of(want) {
                bad.push((i, o.device_id(d), want, d.state));
            }
        }
        bad
    });
    assert!(
        mismatches.is_empty(),
        "{} mismatches: {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(5)]
    );
    lab.with_org(|o| {
        assert_eq!(o.settings.default_access_level, AccessLevel::Quarantine);
        assert_eq!(
            o.settings.admin_mail_recipients,
            vec!["helpdesk@contoso.test"]
        );
        let p = o
            .policies
            .iter()
            .find(|p| p.name == "EAS Connector")
            .unwrap();
        assert!(p
            .settings
            .contains(&("MinDevicePasswordLength".to_string(), "6".to_string())));
        for m in &o.mailboxes {
            for l in [&m.allowed, &m.blocked] {
                let set: BTreeSet<_> = l.iter().map(|s| s.to_lowercase()).collect();
                assert_eq!(set.len(), l.len(), "no duplicates in {}", m.alias);
            }
        }
    });

    // Notifications: one per device whose state became Blocked or Quarantined, in Dutch.
    let after: Vec<DeviceAccessState> =
        lab.with_org(|o| o.devices.iter().map(|d| d.state).collect());
    let changed_to_held = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| {
            a != b
                && matches!(
                    a,
                    DeviceAccessState::Blocked | DeviceAccessState::Quarantined
                )
        })
        .count();
    let mails = outbox(&info);
    assert!(changed_to_held > 100, "{changed_to_held}");
    assert_eq!(mails.len(), changed_to_held);
    assert_eq!(r.notifications_queued, changed_to_held);
    assert_eq!(r.notifications.as_ref().unwrap().sent, changed_to_held);
    assert!(mails[0]["subject"]
        .as_str()
        .unwrap()
        .starts_with("Uw apparaat"));
    assert!(mails[0]["body"]
        .as_str()
        .unwrap()
        .contains("https://mdm.contoso.test"));
    let recipients: BTreeSet<String> = mails
        .iter()
        .map(|m| m["to"][0].as_str().unwrap().to_string())
        .collect();
    assert!(recipients.iter().all(|r| r.ends_with("@contoso.test")));

    // The audit trail has every decision of the real run.
    let audit = std::fs::read_to_string(org.join("Logs/decisions.jsonl")).unwrap();
    assert!(audit.lines().any(|l| l.contains("\"outcome\":\"applied\"")));
    assert!(audit.lines().any(|l| l.contains("\"outcome\":\"dry-run\"")));
    let summary = eas_connector::engine::audit::summarize(&org.join("Logs"), None).unwrap();
    assert_eq!(summary.devices, 10_000);

    // 3. A second full sync changes nothing and mails nobody.
    let again = engine
        .sync(SyncKind::Full, &mut state, |_| {})
        .await
        .unwrap();
    let a = again.access.unwrap();
    assert_eq!(a.set_cas_mailbox_calls, 0, "{:?}", a.mailbox_changes);
    assert!(
        a.mailbox_changes.is_empty() && a.org_changes.is_empty() && a.policy_changes.is_empty()
    );
    assert_eq!(a.notifications_queued, 0);
    assert_eq!(outbox(&info).len(), changed_to_held);

    // 4. 50 devices change (an admin takes them off their allowed lists by hand): a quick
    //    sync reads those and puts exactly those back.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let changed: BTreeSet<String> = lab.with_org_mut(|o| {
        let picked: Vec<usize> = (0..o.devices.len())
            .filter(|&i| o.devices[i].state == DeviceAccessState::Allowed)
            .step_by(7)
            .take(50)
            .collect();
        let mut ids = BTreeSet::new();
        for i in picked {
            let d = o.devices[i];
            let id = o.device_id(&d);
            o.update_device_list(
                d.mailbox,
                false,
                &MultiValuedUpdate::Update(ListUpdate::removing([id.clone()])),
                now(),
            );
            ids.insert(id);
        }
        ids
    });
    assert_eq!(changed.len(), 50);
    let quick = engine
        .sync(SyncKind::Quick, &mut state, |_| {})
        .await
        .unwrap();
    assert_eq!(quick.kind, SyncKind::Quick);
    assert_eq!(quick.devices, 50);
    let q = quick.access.unwrap();
    assert_eq!(ids_in(&q), changed);
    let mailboxes: BTreeSet<_> = q
        .mailbox_changes
        .iter()
        .map(|c| c.mailbox.clone())
        .collect();
    assert_eq!(q.set_cas_mailbox_calls, mailboxes.len());
    let restored = lab.with_org(|o| {
        changed.iter().all(|id| {
            o.devices[o.find_device(id).unwrap() as usize].state == DeviceAccessState::Allowed
        })
    });
    assert!(restored);
    assert_eq!(q.notifications_queued, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cas_stopped_mid_enforcement_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lab = Arc::new(lab(3_000, &dir.path().join("lab")).await);
    let info = lab.info().clone();
    let org = dir.path().join("org");
    std::fs::create_dir_all(&org).unwrap();
    std::fs::write(
        org.join("AccessPolicy.toml"),
        "[[rule]]\nname = \"Apple\"\ndevice_type = \"iP*\"\naction = \"Allow\"\n\n[[rule]]\nname = \"Nine\"\nuser_agent = \"Nine/*\"\naction = \"Block\"\n\n[notifications]\nenabled = false\n",
    )
    .unwrap();
    EngineState::confirm(&org, "test").unwrap();
    for s in &info.servers {
        lab.set_latency(&s.name, 2).unwrap();
    }
    let engine = engine(&info, &org, 4);
    let mut state = SyncState::default();
    // Learn both servers first (a full sync of an empty policy would change things, so
    // discovery only).
    Engine::new(target(&info, 1), true)
        .sync(SyncKind::Full, &mut state, |_| {})
        .await
        .unwrap();
    state.watermark = None;

    let stopper = {
        let lab = lab.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                let n =
                    lab.with_org(|o| o.mailboxes.iter().filter(|m| !m.allowed.is_empty()).count());
                if n >= 150 {
                    lab.stop_server("LAB-CAS01").unwrap();
                    return n;
                }
            }
        })
    };
    let out = engine
        .sync(SyncKind::Full, &mut state, |_| {})
        .await
        .unwrap();
    let when = stopper.await.unwrap();
    let r = out.access.unwrap();
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_eq!(
        r.failovers,
        vec![info.servers[1].address.clone()],
        "stopped after {when} mailboxes"
    );

    let (bad, dups, expected_changes) = lab.with_org(|o| {
        let mut bad = 0;
        let mut per_mailbox: HashMap<u32, ()> = HashMap::new();
        for d in &o.devices {
            let k = o.kind(d);
            let want = if k.device_type.starts_with("iP") {
                DeviceAccessState::Allowed
            } else if k.user_agent.starts_with("Nine/") {
                DeviceAccessState::Blocked
            } else {
                DeviceAccessState::Quarantined
            };
            if d.state != want {
                bad += 1;
            }
            if want != DeviceAccessState::Quarantined {
                per_mailbox.insert(d.mailbox, ());
            }
        }
        let dups = o
            .mailboxes
            .iter()
            .filter(|m| {
                let a: BTreeSet<_> = m.allowed.iter().collect();
                let b: BTreeSet<_> = m.blocked.iter().collect();
                a.len() != m.allowed.len() || b.len() != m.blocked.len()
            })
            .count();
        (bad, dups, per_mailbox.len())
    });
    assert_eq!((bad, dups), (0, 0));
    assert_eq!(
        r.mailbox_changes.len(),
        expected_changes,
        "every mailbox reported once"
    );

    // Through the surviving CAS, a second full sync finds nothing left to do.
    let again = engine
        .sync(SyncKind::Full, &mut state, |_| {})
        .await
        .unwrap();
    assert_eq!(again.access.unwrap().set_cas_mailbox_calls, 0);
}

/// The very first start (no full sync ever done, so no servers learned from Exchange) with
/// the first configured CAS down: the sync runs on the second one of `ClientAccessServer`.
#[tokio::test(flavor = "multi_thread")]
async fn first_start_with_the_first_cas_down_uses_the_next_configured_one() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(20, &dir.path().join("lab")).await;
    let info = lab.info().clone();
    lab.stop_server(&info.servers[0].name).unwrap();
    let loc = eas_connector::config::ConfigLocation::new(Some(&dir.path().join("cfg")), "default")
        .unwrap();
    let mut c = eas_connector::config::ConnectorConfig::new("default");
    c.set(
        "ClientAccessServer",
        &format!("{}, {}", info.servers[0].address, info.servers[1].address),
    )
    .unwrap();
    c.set("TrustedCaFile", &info.ca_file.display().to_string())
        .unwrap();
    c.set("ServiceAccount/User", &info.accounts.service.user)
        .unwrap();
    let pw = Secret::new(info.accounts.service.password.clone());
    let engine =
        eas_connector::engine::configured_engine(&c, &loc, Some(&pw), None, None, false).unwrap();
    let mut state = SyncState::default();
    let out = engine
        .sync(SyncKind::Full, &mut state, |_| {})
        .await
        .unwrap();
    assert_eq!(out.server, info.servers[1].address);
    assert_eq!(out.devices, 20);
    let tried: Vec<&str> = out
        .failed_over_from
        .iter()
        .map(|(s, _)| s.as_str())
        .collect();
    assert_eq!(tried, [info.servers[0].address.as_str()]);
    assert!(
        state.failover_servers.len() == 2,
        "the servers are learned now: {:?}",
        state.failover_servers
    );
}

/// Where a device starts in its mailbox's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Listed {
    Neither,
    Allowed,
    Blocked,
}

/// One device of the precedence table: its list, the device access rule that matches it and
/// what the policy decides for it.
#[derive(Debug, Clone, Copy)]
struct Case {
    index: usize,
    listed: Listed,
    rule: Option<AccessLevel>,
    wanted: Action,
}

/// The device access rules of the precedence test, by model (other models: no rule).
const PRECEDENCE_RULES: [(&str, AccessLevel); 3] = [
    ("iPhone15C2", AccessLevel::Allow),
    ("Outlook for iOS and Android", AccessLevel::Block),
    ("SM-S918B", AccessLevel::Quarantine),
];

/// What Exchange (by its documented precedence) ends up doing with a device after the sync:
/// the connector's lists first; on neither, the rule, else the default the connector keeps
/// (Quarantine); a device a rule allows against the policy's Quarantine blocked individually
/// when `rule_conflict = "block"`.
fn exchange_after(c: &Case, block_conflicts: bool) -> (Action, Option<Action>) {
    match (c.wanted, c.rule) {
        (Action::Quarantine, Some(AccessLevel::Allow)) if block_conflicts => {
            (Action::Block, Some(Action::Allow))
        }
        (Action::Quarantine, Some(l)) if l != AccessLevel::Quarantine => {
            (Action::from(l), Some(Action::from(l)))
        }
        (w, _) => (w, None),
    }
}

/// Every combination of individual list (none/allowed/blocked) × device access rule
/// (allow/block/quarantine/none) × the organization's default level (allow/block/quarantine)
/// × the policy's action (allow/block/quarantine), for both `rule_conflict` settings: one lab,
/// every list × rule × action combination among its devices in each sync; what the connector
/// records, reports and mails equals what the lab then does, and conflicts are reported and
/// resolved as configured (a dry run reports the same conflicts first).
#[tokio::test(flavor = "multi_thread")]
async fn exchange_precedence_every_combination() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(120, &dir.path().join("lab")).await;
    let info = lab.info().clone();
    let cases: Vec<Case> = lab.with_org(|o| {
        let mut seen: HashMap<Option<AccessLevel>, usize> = HashMap::new();
        (0..o.devices.len())
            .map(|index| {
                let model = o.kind(&o.devices[index]).model;
                let rule = PRECEDENCE_RULES
                    .iter()
                    .find(|(m, _)| *m == model)
                    .map(|(_, l)| *l);
                let k = seen.entry(rule).or_default();
                let listed = [Listed::Neither, Listed::Allowed, Listed::Blocked][*k % 3];
                let wanted = [Action::Allow, Action::Block, Action::Quarantine][(*k / 3) % 3];
                *k += 1;
                Case {
                    index,
                    listed,
                    rule,
                    wanted,
                }
            })
            .collect()
    });
    let combos: BTreeSet<_> = cases.iter().map(|c| (c.listed, c.rule, c.wanted)).collect();
    assert_eq!(
        combos.len(),
        3 * 4 * 3,
        "every list × rule × action is present"
    );
    let ids: Vec<String> = lab.with_org(|o| {
        cases
            .iter()
            .map(|c| o.device_id(&o.devices[c.index]))
            .collect()
    });
    let mut csv = String::from("EAS device id,User,Compliant,Last check-in\n");
    for (c, id) in cases.iter().zip(&ids) {
        match c.wanted {
            Action::Allow => csv.push_str(&format!("{id},,yes,2026-03-01\n")),
            Action::Block => csv.push_str(&format!("{id},,no,2026-03-01\n")),
            Action::Quarantine => {}
        }
    }

    let mut round = 0;
    let mut sync_state = SyncState::default();
    let mut last = None;
    for default in AccessLevel::ALL.iter().copied() {
        for block_conflicts in [false, true] {
            round += 1;
            // The lab as the combinations say: lists, rules, default level.
            lab.with_org_mut(|o| {
                o.rules = PRECEDENCE_RULES
                    .iter()
                    .map(|(m, l)| eas_connector::lab::org::DeviceAccessRule {
                        query_string: m.to_string(),
                        characteristic:
                            eas_connector::wire::exchange::DeviceAccessCharacteristic::DeviceModel,
                        access_level: *l,
                    })
                    .collect();
                for m in &mut o.mailboxes {
                    m.allowed.clear();
                    m.blocked.clear();
                }
                for (c, id) in cases.iter().zip(&ids) {
                    let m = &mut o.mailboxes[o.devices[c.index].mailbox as usize];
                    match c.listed {
                        Listed::Neither => {}
                        Listed::Allowed => m.allowed.push(id.clone()),
                        Listed::Blocked => m.blocked.push(id.clone()),
                    }
                }
                o.set_default_access_level(default, now());
            });
            let org = dir.path().join(format!("org{round}"));
            std::fs::create_dir_all(&org).unwrap();
            std::fs::write(org.join("inventory.csv"), &csv).unwrap();
            let mode = if block_conflicts { "block" } else { "report" };
            std::fs::write(
                org.join("AccessPolicy.toml"),
                format!(
                    "precedence = [\"inventory\"]\ndefault = \"Quarantine\"\nrule_conflict = \"{mode}\"\n\
                     [inventory]\nfiles = [\"inventory.csv\"]\nnoncompliant = \"Block\"\n\
                     [notifications]\nlanguage = \"en\"\n"
                ),
            )
            .unwrap();
            // Mails are queued, not sent (sending is tested above): the queue is what users
            // would be told.
            let engine = Engine::new(target(&info, 4), true)
                .with_access(AccessOptions::new(org.clone(), org.join("Logs")));
            let want_conflicts: BTreeSet<&str> = cases
                .iter()
                .zip(&ids)
                .filter(|(c, _)| exchange_after(c, block_conflicts).1.is_some())
                .map(|(_, id)| id.as_str())
                .collect();
            let conflict_ids = |r: &AccessReport| -> BTreeSet<String> {
                r.conflicts.iter().map(|c| c.device_id.clone()).collect()
            };
            if round == 1 {
                // Not confirmed: the dry run reports the same conflicts and changes nothing.
                let dry = engine
                    .sync(SyncKind::Full, &mut SyncState::default(), |_| {})
                    .await
                    .unwrap()
                    .access
                    .unwrap();
                assert!(dry.dry_run);
                assert_eq!(
                    conflict_ids(&dry),
                    want_conflicts.iter().map(|s| s.to_string()).collect()
                );
            }
            EngineState::confirm(&org, "test").unwrap();
            sync_state = SyncState::default();
            let r = engine
                .sync(SyncKind::Full, &mut sync_state, |_| {})
                .await
                .unwrap()
                .access
                .unwrap();
            last = Some((engine, org.clone()));
            let what = format!("default {default}, rule_conflict {mode}");
            assert!(!r.dry_run && r.failures.is_empty(), "{what}: {r:?}");
            assert_eq!(
                conflict_ids(&r),
                want_conflicts.iter().map(|s| s.to_string()).collect(),
                "{what}"
            );
            for c in &r.conflicts {
                let case = &cases[ids.iter().position(|i| *i == c.device_id).unwrap()];
                let blocked_individually = block_conflicts && case.rule == Some(AccessLevel::Allow);
                assert_eq!(
                    c.conflict.0.resolution,
                    if blocked_individually {
                        Resolution::BlockedIndividually
                    } else {
                        Resolution::Reported
                    },
                    "{what}: {c}"
                );
                assert_eq!(c.conflict.0.wanted, Action::Quarantine);
            }

            // What the connector recorded (and would mail) is what the lab does now.
            let st = EngineState::load(&org).unwrap();
            let queue = Queue::load(&org).unwrap();
            let mut told = 0;
            lab.with_org(|o| {
                assert_eq!(o.settings.default_access_level, AccessLevel::Quarantine);
                for (c, id) in cases.iter().zip(&ids) {
                    let d = &o.devices[c.index];
                    let rec = &st.devices[&id.to_ascii_lowercase()];
                    let (want, _) = exchange_after(c, block_conflicts);
                    assert_eq!(
                        (d.state, rec.action),
                        (state_of(want), want),
                        "{what}: {c:?} ({:?})",
                        d.reason
                    );
                    if let Some(n) = rec.notified {
                        told += 1;
                        assert_eq!(state_of(n), d.state, "{what}: {c:?} was told {n}");
                        let mail = queue.mails.iter().find(|m| m.device_id == *id).unwrap();
                        assert_eq!(
                            mail.subject.contains("waiting for approval"),
                            d.state == DeviceAccessState::Quarantined,
                            "{what}: {c:?}: {}",
                            mail.subject
                        );
                    }
                    assert!(
                        d.state != DeviceAccessState::Allowed || rec.notified.is_none(),
                        "{what}: {c:?}"
                    );
                }
            });
            assert_eq!(queue.mails.len(), told, "{what}");
            assert!(told > 0, "{what}");
        }
    }

    // The rules are read on quick syncs too: a rule that now allows what the policy
    // quarantines is a conflict at once (here blocked individually, the last round's setting).
    let (engine, org) = last.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    lab.with_org_mut(|o| {
        o.set_rule_level("SM-S918B (DeviceModel)", AccessLevel::Allow, now())
            .unwrap()
    });
    let newly: BTreeSet<String> = cases
        .iter()
        .zip(&ids)
        .filter(|(c, _)| c.rule == Some(AccessLevel::Quarantine) && c.wanted == Action::Quarantine)
        .map(|(_, id)| id.clone())
        .collect();
    assert!(!newly.is_empty());
    let quick = engine
        .sync(SyncKind::Quick, &mut sync_state, |_| {})
        .await
        .unwrap();
    assert_eq!(quick.kind, SyncKind::Quick);
    let r = quick.access.unwrap();
    let now_conflicting: BTreeSet<String> =
        r.conflicts.iter().map(|c| c.device_id.clone()).collect();
    assert!(
        newly.is_subset(&now_conflicting),
        "{newly:?} {now_conflicting:?}"
    );
    let st = EngineState::load(&org).unwrap();
    lab.with_org(|o| {
        for (c, id) in cases.iter().zip(&ids) {
            if newly.contains(id) {
                let d = &o.devices[c.index];
                assert_eq!(
                    (d.state, d.reason),
                    (
                        DeviceAccessState::Blocked,
                        DeviceAccessStateReason::Individual
                    ),
                    "{id}"
                );
                assert_eq!(st.devices[&id.to_ascii_lowercase()].action, Action::Block);
            }
        }
    });
}

/// Rules on groups: members of "Sales" (through the nested, cyclic "Field Sales") are
/// allowed, everyone else gets the default; a rule naming a group Exchange does not know is
/// reported by rule and group, and the devices it would decide are left as they are.
#[tokio::test(flavor = "multi_thread")]
async fn group_rules_expand_nested_groups_and_hold_for_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(80, &dir.path().join("lab")).await;
    let info = lab.info().clone();
    // lab.json lists the groups, nesting included.
    let sales = info.groups.iter().find(|g| g.name == "Sales").unwrap();
    assert!(
        !sales.security
            && sales
                .members
                .contains(&"field-sales@contoso.test".to_string())
    );
    let org = dir.path().join("org");
    std::fs::create_dir_all(&org).unwrap();
    std::fs::write(
        org.join("AccessPolicy.toml"),
        r#"precedence = ["rules"]
default = "Quarantine"
[[rule]]
name = "Ghosts"
groups = ["No Such Group"]
device_type = "Android"
action = "Block"
[[rule]]
name = "Sales"
groups = ["sales@contoso.test"]
action = "Allow"
[[rule]]
name = "Field"
groups = ["Field-Sales@contoso.test", "SALES@contoso.test"]
device_type = "nothing"
action = "Block"
"#,
    )
    .unwrap();
    EngineState::confirm(&org, "test").unwrap();
    let engine = Engine::new(target(&info, 2), true)
        .with_access(AccessOptions::new(org.clone(), org.join("Logs")));
    let r = engine
        .sync(SyncKind::Full, &mut SyncState::default(), |_| {})
        .await
        .unwrap()
        .access
        .unwrap();
    assert!(
        r.failures.len() == 1
            && r.failures[0]
                .contains("rule \"Ghosts\": group \"No Such Group\" could not be expanded")
            && r.failures[0].contains("couldn't be found"),
        "{:?}",
        r.failures
    );
    // Sales, its nested Field Sales (which nests Sales again) and the unknown group: each
    // read once, though three rules name them and they nest in a cycle.
    assert_eq!(r.group_reads, 3);
    let st = EngineState::load(&org).unwrap();
    lab.with_org(|o| {
        let sales = o.group_mailboxes("Sales").unwrap();
        // Through the nested group: someone only in "Field Sales" counts.
        assert!(sales.iter().any(|&m| m % 7 != 2), "{sales:?}");
        let mut held = 0;
        for d in &o.devices {
            let id = o.device_id(d);
            let m = &o.mailboxes[d.mailbox as usize];
            if o.kind(d).device_type == "Android" {
                held += 1;
                assert!(!st.devices.contains_key(&id.to_ascii_lowercase()), "{id}");
                assert!(!m.allowed.contains(&id) && !m.blocked.contains(&id), "{id}");
                continue;
            }
            let want = if sales.contains(&d.mailbox) {
                DeviceAccessState::Allowed
            } else {
                DeviceAccessState::Quarantined
            };
            assert_eq!(d.state, want, "{id} of {}", m.alias);
        }
        assert!(held > 0);
        // Counted per pass, like `decided` (the settle pass reads them again).
        assert!(r.held >= held, "{} < {held}", r.held);
    });
}
