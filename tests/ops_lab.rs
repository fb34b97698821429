//! Every typed Exchange operation, over the connector's own WinRM/PSRP client, against the
//! lab's /PowerShell (in-process), on Exchange 2019 and 2010 cmdlet sets; plus CAS failover
//! and the engine's full and quick discovery.

use std::collections::BTreeSet;

use eas_connector::engine::target::{open_with_failover, Target};
use eas_connector::engine::{Engine, SyncKind, SyncState};
use eas_connector::exchange::ops::{Exchange as _, ExchangeError};
use eas_connector::exchange::powershell::permissions::{self, Cmdlet, ManagementRole};
use eas_connector::exchange::powershell::PsError;
use eas_connector::exchange::powershell::RemotePowerShell;
use eas_connector::lab::{ExchangeVersion, Lab, LabInfo, LabOptions};
use eas_connector::secrets::Secret;
use eas_connector::wire::exchange::DeviceAccessCharacteristic::DeviceModel;
use eas_connector::wire::exchange::SettingValue;
use eas_connector::wire::exchange::{
    AccessLevel, DeviceAccessState, DeviceAccessStateReason, ListUpdate,
};

async fn lab(devices: u32, version: ExchangeVersion) -> (Lab, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(LabOptions {
        devices,
        servers: 2,
        version,
        state_dir: dir.path().to_path_buf(),
        ..LabOptions::default()
    })
    .await
    .unwrap();
    (lab, dir)
}

fn target(info: &LabInfo, who: &str) -> Target {
    let mut c = eas_connector::config::ConnectorConfig::new("default");
    c.set("ClientAccessServer", &info.servers[0].address)
        .unwrap();
    c.set("TrustedCaFile", &info.ca_file.display().to_string())
        .unwrap();
    let a = if who == "limited" {
        &info.accounts.limited
    } else {
        &info.accounts.service
    };
    c.set("ServiceAccount/User", &a.user).unwrap();
    Target::from_config(&c, Some(&Secret::new(a.password.clone())), None).unwrap()
}

async fn exchange(info: &LabInfo) -> RemotePowerShell {
    let mut ex = target(info, "service").open().await.unwrap();
    let servers = ex.get_exchange_servers().await.unwrap();
    ex.set_version(servers.iter().filter_map(|s| s.version).max());
    ex
}

async fn all_devices(ex: &RemotePowerShell) -> Vec<eas_connector::exchange::ops::MobileDevice> {
    let mut v = Vec::new();
    ex.get_mobile_devices(None, |d| v.push(d)).await.unwrap();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_servers_devices_and_statistics() {
    let (lab, _d) = lab(40, ExchangeVersion::V2019).await;
    let info = lab.info().clone();
    let ex = exchange(&info).await;

    let cmds = ex.get_command().await.unwrap();
    assert!(
        cmds.iter().any(|c| c == "Set-CASMailbox") && cmds.iter().any(|c| c == "Get-MobileDevice"),
        "{cmds:?}"
    );
    assert!(ex.check_cmdlets().await.unwrap().missing.is_empty());

    let limited = target(&info, "limited").open().await.unwrap();
    let check = limited.check_cmdlets().await.unwrap();
    let set_cas = check
        .missing
        .iter()
        .find(|e| e.name == "Set-CASMailbox")
        .unwrap_or_else(|| panic!("{check:?}"));
    assert_eq!(set_cas.role, ManagementRole::MailRecipients);
    // The view-only account lacks exactly the table's writes.
    let missing: BTreeSet<&str> = check.missing.iter().map(|e| e.name).collect();
    let writes: BTreeSet<&str> = permissions::required(true)
        .map(|e| e.name)
        .filter(|n| !n.starts_with("Get-"))
        .collect();
    assert_eq!(missing, writes);

    let servers = ex.get_exchange_servers().await.unwrap();
    assert_eq!(servers.len(), 2);
    assert_eq!(servers[0].fqdn, info.servers[0].address);
    assert_eq!(servers[0].version.unwrap().product(), "Exchange 2019 / SE");

    let devices = all_devices(&ex).await;
    assert_eq!(devices.len(), 40);
    let d = &devices[0];
    assert!(
        !d.device_id.is_empty() && !d.device_type.is_empty() && !d.user_display_name.is_empty()
    );
    assert_eq!(d.access_state, DeviceAccessState::Allowed);
    assert!(d.when_changed.is_some() && d.first_sync_time.is_some());

    let stats = ex
        .get_device_statistics(&d.identity)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stats.device_id, d.device_id);
    assert!(stats.last_success_sync.is_some());

    // A failing cmdlet comes back with Exchange's own error.
    let e = ex
        .get_device_statistics("nobody\\nothing")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ExchangeError::PowerShell(p) if matches!(**p, PsError::PipelineFailed { .. }))
            && e.is_refusal(),
        "{e:?}"
    );

    // The operations call exactly the permission table's cmdlets for 2013+, and the
    // permission check asks for exactly those (Get-Command aside: every session has it).
    assert_eq!(every_operation(&info).await, table_for(true));
    let asked: BTreeSet<&str> = permissions::required(true).map(|e| e.name).collect();
    let mut all = asked.clone();
    all.insert("Get-Command");
    assert_eq!(all, table_for(true));
    assert!(e.to_string().contains("couldn't be found"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn mailbox_lists_org_settings_rules_policies_and_wipe() {
    let (lab, _d) = lab(30, ExchangeVersion::V2019).await;
    let info = lab.info().clone();
    let ex = exchange(&info).await;
    let devices = all_devices(&ex).await;
    let d = devices
        .iter()
        .find(|d| !d.user_display_name.is_empty())
        .unwrap()
        .clone();
    let mailbox = lab.with_org(|o| {
        let idx = o.find_device(&d.device_id).unwrap();
        o.mailboxes[o.devices[idx as usize].mailbox as usize]
            .alias
            .clone()
    });

    // Block with a minimal @{Add=…} diff, then unblock.
    let none = ListUpdate::default();
    let this = || vec![d.device_id.clone()];
    ex.update_device_lists(&mailbox, &none, &ListUpdate::adding(this()))
        .await
        .unwrap();
    let cas = ex.get_cas_mailbox(&mailbox).await.unwrap().unwrap();
    assert_eq!(cas.blocked_device_ids, vec![d.device_id.clone()]);
    let now = ex.get_mailbox_devices(&mailbox).await.unwrap();
    let blocked = now.iter().find(|x| x.device_id == d.device_id).unwrap();
    assert_eq!(
        (blocked.access_state, blocked.access_state_reason),
        (
            DeviceAccessState::Blocked,
            DeviceAccessStateReason::Individual
        )
    );
    ex.update_device_lists(
        &mailbox,
        &ListUpdate::adding(this()),
        &ListUpdate::removing(this()),
    )
    .await
    .unwrap();
    let cas = ex.get_cas_mailbox(&mailbox).await.unwrap().unwrap();
    assert!(cas.blocked_device_ids.is_empty());
    assert_eq!(cas.allowed_device_ids, vec![d.device_id.clone()]);
    // Nothing to change: nothing is sent.
    ex.update_device_lists(&mailbox, &none, &none)
        .await
        .unwrap();

    // Organization settings.
    ex.set_org_settings(
        Some(AccessLevel::Quarantine),
        Some(&["admin@contoso.test".to_string()]),
        Some("Enroll your device at https://mdm.contoso.test"),
    )
    .await
    .unwrap();
    let s = ex.get_org_settings().await.unwrap();
    assert_eq!(s.default_access_level, Some(AccessLevel::Quarantine));
    assert_eq!(s.admin_mail_recipients, vec!["admin@contoso.test"]);
    assert_eq!(
        s.user_mail_insert.as_deref(),
        Some("Enroll your device at https://mdm.contoso.test")
    );
    let quarantined = all_devices(&ex)
        .await
        .iter()
        .filter(|x| x.access_state == DeviceAccessState::Quarantined)
        .count();
    assert_eq!(quarantined, 29, "all but the individually allowed device");

    // Device access rules.
    ex.new_rule(&d.device_model, DeviceModel, AccessLevel::Block)
        .await
        .unwrap();
    let rules = ex.get_rules().await.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        rules[0].identity,
        format!("{} (DeviceModel)", d.device_model)
    );
    assert_eq!(rules[0].characteristic, Some(DeviceModel));
    assert_eq!(rules[0].access_level, Some(AccessLevel::Block));
    ex.set_rule(&rules[0].identity, AccessLevel::Allow)
        .await
        .unwrap();
    assert_eq!(
        ex.get_rules().await.unwrap()[0].access_level,
        Some(AccessLevel::Allow)
    );
    let e = ex
        .new_rule(&d.device_model, DeviceModel, AccessLevel::Block)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    ex.remove_rule(&rules[0].identity).await.unwrap();
    assert!(ex.get_rules().await.unwrap().is_empty());

    // Mailbox policies.
    let settings = vec![
        (
            "DevicePasswordEnabled".to_string(),
            SettingValue::Bool(true),
        ),
        ("MinDevicePasswordLength".to_string(), SettingValue::Int(6)),
    ];
    ex.new_policy("EAS Connector", &settings).await.unwrap();
    let p = ex
        .get_policies()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == "EAS Connector")
        .unwrap();
    assert_eq!(
        p.settings.get("DevicePasswordEnabled").map(String::as_str),
        Some("True")
    );
    assert_eq!(
        p.settings
            .get("MinDevicePasswordLength")
            .map(String::as_str),
        Some("6")
    );
    ex.set_policy(
        "EAS Connector",
        &[("MinDevicePasswordLength".to_string(), SettingValue::Int(8))],
    )
    .await
    .unwrap();
    let p = ex
        .get_policies()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == "EAS Connector")
        .unwrap();
    assert_eq!(
        p.settings
            .get("MinDevicePasswordLength")
            .map(String::as_str),
        Some("8")
    );
    let e = ex
        .set_policy(
            "EAS Connector",
            &[("NoSuchSetting".to_string(), SettingValue::Bool(true))],
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("NoSuchSetting"), "{e}");
    ex.remove_policy("EAS Connector").await.unwrap();
    assert!(!ex
        .get_policies()
        .await
        .unwrap()
        .iter()
        .any(|p| p.name == "EAS Connector"));

    // Remote wipe.
    ex.clear_device(&d.identity).await.unwrap();
}

/// The permission table's cmdlets for a version (with or without the `*-MobileDevice*` ones).
fn table_for(mobile: bool) -> BTreeSet<&'static str> {
    permissions::TABLE
        .iter()
        .filter(|e| e.used.on(mobile))
        .map(|e| e.name)
        .collect()
}

/// Every operation of the `Exchange` trait once, on a fresh connection; the cmdlets it ran.
async fn every_operation(info: &LabInfo) -> BTreeSet<&'static str> {
    let ex = exchange(info).await;
    ex.check_cmdlets().await.unwrap();
    let devices = all_devices(&ex).await;
    let d = &devices[0];
    let mailbox = d.parsed_identity().unwrap().mailbox.to_string();
    ex.get_mailbox_devices(&mailbox).await.unwrap();
    ex.get_device_statistics(&d.identity).await.unwrap();
    ex.get_cas_mailbox(&mailbox).await.unwrap().unwrap();
    ex.get_cas_mailboxes(None, |_| {}).await.unwrap();
    ex.update_device_lists(
        &mailbox,
        &ListUpdate::adding([d.device_id.clone()]),
        &ListUpdate::default(),
    )
    .await
    .unwrap();
    let org = ex.get_org_settings().await.unwrap();
    ex.set_org_settings(org.default_access_level, None, None)
        .await
        .unwrap();
    ex.new_rule("Coverage", DeviceModel, AccessLevel::Block)
        .await
        .unwrap();
    let rule = ex.get_rules().await.unwrap().pop().unwrap();
    ex.set_rule(&rule.identity, AccessLevel::Allow)
        .await
        .unwrap();
    ex.remove_rule(&rule.identity).await.unwrap();
    assert!(!ex
        .get_group_members("Sales")
        .await
        .unwrap()
        .unwrap()
        .is_empty());
    ex.new_policy("Coverage", &[]).await.unwrap();
    ex.get_policies().await.unwrap();
    ex.set_policy(
        "Coverage",
        &[("AllowCamera".to_string(), SettingValue::Bool(false))],
    )
    .await
    .unwrap();
    ex.remove_policy("Coverage").await.unwrap();
    ex.clear_device(&d.identity).await.unwrap();
    ex.invoked().into_iter().map(Cmdlet::name).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn exchange_2010_uses_the_activesync_cmdlets() {
    let (lab, _d) = lab(12, ExchangeVersion::V2010).await;
    let info = lab.info().clone();
    let ex = exchange(&info).await;
    let check = ex.check_cmdlets().await.unwrap();
    assert!(check.missing.is_empty(), "{check:?}");
    assert!(!check.available.contains(&"Get-MobileDevice"));
    assert_eq!(every_operation(&info).await, table_for(false));
    let devices = all_devices(&ex).await;
    assert_eq!(devices.len(), 12);
    let stats = ex
        .get_device_statistics(&devices[0].identity)
        .await
        .unwrap();
    assert!(stats.is_some());
    ex.new_policy("P2010", &[]).await.unwrap();
    assert!(ex
        .get_policies()
        .await
        .unwrap()
        .iter()
        .any(|p| p.name == "P2010"));
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_and_engine_discovery() {
    let (lab, _d) = lab(60, ExchangeVersion::V2019).await;
    let info = lab.info().clone();
    let primary = target(&info, "service");

    // The first CAS down: the second answers.
    lab.stop_server("LAB-CAS01").unwrap();
    let second = primary.on_server(&info.servers[1].address).unwrap();
    let (_, used, failures) = match open_with_failover(&[primary.clone(), second]).await {
        Ok(x) => x,
        Err(f) => panic!("{f:?}"),
    };
    assert_eq!(used, 1);
    // Refused, or reset when the connection landed in the backlog as the listener closed.
    let why = failures[0].1.to_string();
    assert!(
        why.contains("refused") || why.contains("reset") || why.contains("broke"),
        "{failures:?}"
    );
    lab.start_server("LAB-CAS01").await.unwrap();

    // Engine: a full sync learns the other CAS; a quick sync reads only changed devices.
    let engine = Engine::new(primary, true);
    let mut state = SyncState::default();
    let mut seen = 0;
    let full = engine
        .sync(SyncKind::Full, &mut state, |_| seen += 1)
        .await
        .unwrap();
    assert_eq!((full.devices, seen), (60, 60));
    assert_eq!(state.failover_servers.len(), 2);
    assert!(state.watermark.is_some());
    let quick = engine
        .sync(SyncKind::Quick, &mut state, |_| {})
        .await
        .unwrap();
    assert_eq!(quick.devices, 0, "nothing changed since the full sync");

    // Five devices sync (their WhenChanged moves): a quick sync sees exactly those.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let touched: Vec<String> = lab.with_org_mut(|o| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        o.touch_devices(5, 7, now)
            .into_iter()
            .map(|i| o.device_id(&o.devices[i as usize]))
            .collect()
    });
    let mut ids = Vec::new();
    let quick = engine
        .sync(SyncKind::Quick, &mut state, |d| ids.push(d.device_id))
        .await
        .unwrap();
    assert_eq!(quick.devices, 5);
    ids.sort();
    let mut expected = touched.clone();
    expected.sort();
    assert_eq!(ids, expected);

    // The primary down during the next sync: the engine fails over to the learned CAS.
    lab.stop_server("LAB-CAS01").unwrap();
    let again = engine
        .sync(SyncKind::Full, &mut state, |_| {})
        .await
        .unwrap();
    assert_eq!(again.server, info.servers[1].address);
    assert_eq!(again.devices, 60);
    assert_eq!(again.failed_over_from.len(), 1);
}
