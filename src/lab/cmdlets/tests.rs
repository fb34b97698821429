//! Tests of the cmdlets: role checks, binding errors, result sizes, object shapes, changes to
//! the org; and a walk of [`TABLE`] that fails for a cmdlet added by half.

use super::*;
use crate::lab::accounts::{Accounts, Role};
use crate::lab::org::LAB_EPOCH;
use crate::wire::clixml::ErrorRecord;
use crate::wire::exchange::{DeviceAccessState, DeviceAccessStateReason};

struct T {
    org: RwLock<Org>,
    accounts: Accounts,
    servers: Vec<ServerDesc>,
}

fn lab(devices: u32, version: ExchangeVersion) -> T {
    T {
        org: RwLock::new(Org::generate(5, devices, version)),
        accounts: Accounts::generate(5, "contoso.test"),
        servers: vec![ServerDesc {
            name: "LAB-CAS01".into(),
            address: "127.0.0.1:4443".into(),
        }],
    }
}

impl T {
    fn run_as(&self, who: &Account, cmd: Command) -> Vec<Emitted> {
        let ctx = Context {
            account: who,
            servers: &self.servers,
            server: "LAB-CAS01",
            now: LAB_EPOCH + 100,
        };
        let mut e = execute(&self.org, &ctx, &[cmd]);
        let mut out = e.records.clone();
        if let Some(l) = e.lazy.as_mut() {
            let o = self.org.read().unwrap();
            while let Some(v) = l.next_value(&o) {
                out.push(Emitted::Output(v));
            }
        }
        out.extend(e.trailing.clone());
        if let Outcome::Failed(v) = e.outcome {
            out.push(Emitted::Error(v));
        }
        out
    }

    fn run(&self, cmd: Command) -> Vec<Emitted> {
        self.run_as(&self.accounts.service, cmd)
    }
}

fn outputs(v: &[Emitted]) -> Vec<&Value> {
    v.iter()
        .filter_map(|e| match e {
            Emitted::Output(v) => Some(v),
            _ => None,
        })
        .collect()
}

fn error_id(v: &[Emitted]) -> Option<String> {
    v.iter().find_map(|e| match e {
        Emitted::Error(v) => ErrorRecord::from_value(v).and_then(|r| r.fully_qualified_error_id()),
        _ => None,
    })
}

fn prop<'a>(v: &'a Value, name: &str) -> &'a Value {
    v.get(name).unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn rbac_hides_cmdlets_from_the_help_desk() {
    let t = lab(10, ExchangeVersion::V2019);
    let names = |who: &Account| -> Vec<String> {
        outputs(&t.run_as(who, Command::new("Get-Command")))
            .iter()
            .map(|v| prop(v, "Name").as_str().unwrap().to_string())
            .collect()
    };
    let all = names(&t.accounts.service);
    let limited = names(&t.accounts.limited);
    assert!(all.contains(&"Set-CASMailbox".to_string()));
    assert!(all.contains(&"Get-MobileDevice".to_string()));
    assert!(!limited.contains(&"Set-CASMailbox".to_string()));
    assert!(limited
        .iter()
        .all(|n| n.starts_with("Get-") || n == "Set-ADServerSettings"));
    assert!(limited.contains(&"Get-MobileDevice".to_string()));
    let r = t.run_as(
        &t.accounts.limited,
        Command::new("Set-CASMailbox").arg("Identity", "anna.devries"),
    );
    assert_eq!(error_id(&r).as_deref(), Some("CommandNotFoundException"));
    let r = t.run_as(
        &t.accounts.limited,
        Command::new("Get-Command").arg("Name", "Set-CASMailbox"),
    );
    assert_eq!(error_id(&r).as_deref(), Some("CommandNotFoundException"));
    // 2010 has no *-MobileDevice cmdlets.
    let t10 = lab(5, ExchangeVersion::V2010);
    let r = t10.run(Command::new("Get-MobileDevice"));
    assert_eq!(error_id(&r).as_deref(), Some("CommandNotFoundException"));
    assert_eq!(
        outputs(&t10.run(Command::new("Get-ActiveSyncDevice"))).len(),
        5
    );
}

#[test]
fn scripts_and_bad_parameters_fail_like_exchange() {
    let t = lab(3, ExchangeVersion::V2019);
    let mut c = Command::new("Get-MobileDevice | fl");
    c.is_script = true;
    let r = t.run(c);
    assert_eq!(error_id(&r).as_deref(), Some("ScriptsNotAllowed"));
    let r = t.run(Command::new("Get-MobileDevice").arg("Colour", "red"));
    assert_eq!(
        error_id(&r).as_deref(),
        Some("NamedParameterNotFound,Get-MobileDevice")
    );
    let r = t.run(Command::new("Get-MobileDevice").arg("ResultSize", "lots"));
    assert_eq!(
        error_id(&r).as_deref(),
        Some("CannotConvertArgumentNoMessage,Get-MobileDevice")
    );
    let r = t.run(Command::new("Set-CASMailbox").arg("ActiveSyncEnabled", false));
    assert_eq!(
        error_id(&r).as_deref(),
        Some("MissingMandatoryParameter,Set-CASMailbox")
    );
    let r = t.run(Command::new("Get-MobileDevice").arg("Filter", "Nope -eq 'x'"));
    assert_eq!(
        error_id(&r).as_deref(),
        Some("ParameterBindingFailed,Get-MobileDevice")
    );
    let r = t.run(Command::new("Get-MobileDevice").arg("Identity", "nope"));
    let id = error_id(&r).unwrap();
    assert!(id.contains("ManagementObjectNotFoundException"), "{id}");
    assert!(
        id.ends_with("Microsoft.Exchange.Management.Tasks.GetMobileDevice"),
        "{id}"
    );
    let r = t.run(
        Command::new("Set-MobileDeviceMailboxPolicy")
            .arg("Identity", "Default")
            .arg("AllowTelepathy", true),
    );
    assert_eq!(
        error_id(&r).as_deref(),
        Some("NamedParameterNotFound,Set-MobileDeviceMailboxPolicy")
    );
}

#[test]
fn result_size_and_warning() {
    let t = lab(1200, ExchangeVersion::V2019);
    let r = t.run(Command::new("Get-MobileDevice"));
    assert_eq!(outputs(&r).len(), 1000);
    assert!(
        matches!(r.last(), Some(Emitted::Warning(w)) if w.starts_with("By default, only the first 1000"))
    );
    let r = t.run(Command::new("Get-MobileDevice").arg("ResultSize", "Unlimited"));
    assert_eq!(outputs(&r).len(), 1200);
    assert!(!r.iter().any(|e| matches!(e, Emitted::Warning(_))));
    let r = t.run(Command::new("Get-MobileDevice").arg("ResultSize", 7));
    assert_eq!(outputs(&r).len(), 7);
    assert!(
        matches!(r.last(), Some(Emitted::Warning(w)) if w.starts_with("There are more results"))
    );
}

#[test]
fn device_objects_have_exchange_shape() {
    let t = lab(20, ExchangeVersion::V2019);
    let r = t.run(Command::new("Get-MobileDevice").arg("ResultSize", "Unlimited"));
    let d = outputs(&r)[0];
    assert_eq!(
        d.type_names()[0],
        "Microsoft.Exchange.Data.Directory.SystemConfiguration.MobileDevice"
    );
    assert_eq!(d.type_names().last().unwrap(), "System.Object");
    for p in [
        "Identity",
        "Guid",
        "DeviceId",
        "DeviceType",
        "DeviceModel",
        "DeviceOS",
        "DeviceUserAgent",
        "DeviceImei",
        "DeviceMobileOperator",
        "FriendlyName",
        "FirstSyncTime",
        "WhenChanged",
        "WhenCreated",
        "DeviceAccessState",
        "DeviceAccessStateReason",
        "DeviceAccessControlRule",
        "ClientType",
        "UserDisplayName",
        "DistinguishedName",
        "IsValid",
    ] {
        assert!(d.get(p).is_some(), "{p}");
    }
    assert!(matches!(prop(d, "WhenChanged"), Value::DateTime(s) if s.ends_with('Z')));
    assert_eq!(
        prop(d, "DeviceAccessState")
            .as_object()
            .unwrap()
            .to_string
            .as_deref(),
        Some("Allowed")
    );
    assert_eq!(prop(d, "DeviceAccessState").as_i64(), Some(1));
    // By identity, by device id, by GUID; statistics.
    let id = prop(d, "Identity").as_str().unwrap().to_string();
    let dev_id = prop(d, "DeviceId").as_str().unwrap().to_string();
    for ident in [id.clone(), dev_id.clone()] {
        let r = t.run(Command::new("Get-MobileDevice").arg("Identity", ident.as_str()));
        assert_eq!(outputs(&r).len(), 1);
    }
    let r = t.run(Command::new("Get-MobileDeviceStatistics").arg("Identity", id.as_str()));
    let st = outputs(&r)[0];
    assert_eq!(prop(st, "DeviceID").as_str(), Some(dev_id.as_str()));
    assert!(st.get("LastSuccessSync").is_some());
    // Filter on type and date.
    let r = t.run(Command::new("Get-MobileDevice").arg(
        "Filter",
        "DeviceType -eq 'iPhone' -and WhenChanged -gt '01/01/2020 00:00:00'",
    ));
    assert!(outputs(&r)
        .iter()
        .all(|v| prop(v, "DeviceType").as_str() == Some("iPhone")));
}

#[test]
fn set_cas_mailbox_with_hashtable_blocks_and_unblocks() {
    let t = lab(10, ExchangeVersion::V2019);
    let (alias, dev_id) = {
        let o = t.org.read().unwrap();
        let d = o.devices[0];
        (
            o.mailboxes[d.mailbox as usize].alias.clone(),
            o.device_id(&d),
        )
    };
    let r = t.run(
        Command::new("Set-CASMailbox")
            .arg("Identity", alias.as_str())
            .arg(
                "ActiveSyncBlockedDeviceIDs",
                Value::hashtable([(
                    "Add",
                    Value::array(vec![Value::string(dev_id.clone()), Value::string("other")]),
                )]),
            ),
    );
    assert!(outputs(&r).is_empty() && error_id(&r).is_none(), "{r:?}");
    {
        let o = t.org.read().unwrap();
        assert_eq!(o.devices[0].state, DeviceAccessState::Blocked);
        assert_eq!(o.devices[0].reason, DeviceAccessStateReason::Individual);
        assert_eq!(o.devices[0].when_changed, LAB_EPOCH + 100);
    }
    let r = t.run(Command::new("Get-CASMailbox").arg("Identity", alias.as_str()));
    let m = outputs(&r)[0];
    assert_eq!(
        prop(m, "ActiveSyncBlockedDeviceIDs").items().unwrap().len(),
        2
    );
    t.run(
        Command::new("Set-CASMailbox")
            .arg("Identity", alias.as_str())
            .arg(
                "ActiveSyncBlockedDeviceIDs",
                Value::hashtable([("Remove", Value::string(dev_id.clone()))]),
            )
            .arg(
                "ActiveSyncAllowedDeviceIDs",
                Value::array(vec![Value::string(dev_id.clone())]),
            ),
    );
    let o = t.org.read().unwrap();
    assert_eq!(o.devices[0].state, DeviceAccessState::Allowed);
    assert_eq!(o.devices[0].reason, DeviceAccessStateReason::Individual);
    assert_eq!(
        o.mailboxes[o.devices[0].mailbox as usize].blocked,
        vec!["other".to_string()]
    );
    drop(o);
    let r = t.run(
        Command::new("Set-CASMailbox")
            .arg("Identity", alias.as_str())
            .arg(
                "ActiveSyncBlockedDeviceIDs",
                Value::hashtable([("Replace", Value::string("x"))]),
            ),
    );
    assert_eq!(
        error_id(&r).as_deref(),
        Some("CannotConvertArgumentNoMessage,Set-CASMailbox")
    );
}

#[test]
fn rules_policies_settings_wipe_and_remove() {
    let t = lab(30, ExchangeVersion::V2016);
    t.run(
        Command::new("Set-ActiveSyncOrganizationSettings")
            .arg("DefaultAccessLevel", "Quarantine")
            .arg(
                "AdminMailRecipients",
                Value::array(vec![Value::string("a@contoso.test")]),
            ),
    );
    let r = t.run(Command::new("Get-ActiveSyncOrganizationSettings"));
    assert_eq!(
        outputs(&r)[0]
            .get("DefaultAccessLevel")
            .unwrap()
            .as_object()
            .unwrap()
            .to_string
            .as_deref(),
        Some("Quarantine")
    );
    assert!(t
        .org
        .read()
        .unwrap()
        .devices
        .iter()
        .all(|d| d.state == DeviceAccessState::Quarantined));
    let r = t.run(
        Command::new("New-ActiveSyncDeviceAccessRule")
            .arg("QueryString", "iPhone")
            .arg("Characteristic", "DeviceType")
            .arg("AccessLevel", "Allow"),
    );
    assert_eq!(
        prop(outputs(&r)[0], "Identity").as_str(),
        Some("iPhone (DeviceType)")
    );
    let r = t
        .run(Command::new("Get-ActiveSyncDeviceAccessRule").arg("Identity", "iPhone (DeviceType)"));
    assert_eq!(outputs(&r).len(), 1);
    t.run(
        Command::new("Set-ActiveSyncDeviceAccessRule")
            .arg("Identity", "iPhone (DeviceType)")
            .arg("AccessLevel", "Block"),
    );
    t.run(
        Command::new("Remove-ActiveSyncDeviceAccessRule")
            .arg("Identity", "iPhone (DeviceType)")
            .switch("Confirm"),
    );
    assert!(t.org.read().unwrap().rules.is_empty());

    let r = t.run(
        Command::new("New-MobileDeviceMailboxPolicy")
            .arg("Name", "Strict")
            .arg("DevicePasswordEnabled", true)
            .arg("MinDevicePasswordLength", 6),
    );
    let p = outputs(&r)[0];
    assert_eq!(prop(p, "DevicePasswordEnabled"), &Value::Bool(true));
    assert_eq!(prop(p, "MinDevicePasswordLength"), &Value::Int32(6));
    assert_eq!(prop(p, "IsDefault"), &Value::Bool(false));
    t.run(
        Command::new("Set-ActiveSyncMailboxPolicy")
            .arg("Identity", "Strict")
            .switch("IsDefault")
            .arg("AllowCamera", false),
    );
    let r = t.run(Command::new("Get-MobileDeviceMailboxPolicy"));
    assert_eq!(outputs(&r).len(), 2);
    let r = t.run(Command::new("Remove-MobileDeviceMailboxPolicy").arg("Identity", "Strict"));
    assert!(error_id(&r).unwrap().contains("ArgumentException"));
    t.run(Command::new("Remove-MobileDeviceMailboxPolicy").arg("Identity", "Default"));
    assert_eq!(t.org.read().unwrap().policies.len(), 1);

    let id = t
        .org
        .read()
        .unwrap()
        .device_id(&t.org.read().unwrap().devices[3]);
    t.run(
        Command::new("Clear-MobileDevice")
            .arg("Identity", id.as_str())
            .arg("Confirm", false),
    );
    let r = t.run(Command::new("Get-MobileDeviceStatistics").arg("Identity", id.as_str()));
    assert!(!outputs(&r).is_empty(), "{r:?}");
    assert_eq!(
        prop(outputs(&r)[0], "Status")
            .as_object()
            .unwrap()
            .to_string
            .as_deref(),
        Some("DeviceWipePending")
    );
    t.run(Command::new("Remove-MobileDevice").arg("Identity", id.as_str()));
    assert_eq!(t.org.read().unwrap().devices.len(), 29);
    let r = t.run(Command::new("Get-MobileDevice").arg("Identity", id.as_str()));
    assert!(error_id(&r).is_some());
    let r = t.run(Command::new("Get-ActiveSyncDeviceClass"));
    assert!(!outputs(&r).is_empty());
    let r = t.run(Command::new("Get-ExchangeServer"));
    assert_eq!(
        prop(outputs(&r)[0], "Fqdn").as_str(),
        Some("127.0.0.1:4443")
    );
    assert!(outputs(&t.run(Command::new("Get-Recipient").arg("ResultSize", 3))).len() == 3);
    assert!(
        outputs(&t.run(Command::new("Set-ADServerSettings").arg("ViewEntireForest", true)))
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------
// The table, walked: a cmdlet added by half fails here.

const VERSIONS: [ExchangeVersion; 4] = [
    ExchangeVersion::V2010,
    ExchangeVersion::V2013,
    ExchangeVersion::V2016,
    ExchangeVersion::V2019,
];

fn is_identifier(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric())
}

#[test]
fn every_entry_has_one_name_and_well_formed_parameters() {
    let mut names: Vec<&str> = Vec::new();
    for c in TABLE {
        let name = c.name();
        let (verb, noun) = name.split_once('-').expect(name);
        assert!(
            ["Get", "Set", "New", "Remove", "Clear"].contains(&verb),
            "{name}: a verb the lab does not use"
        );
        assert!(is_identifier(noun), "{name}: noun");
        assert!(
            !names.iter().any(|n| n.eq_ignore_ascii_case(name)),
            "{name} is in the table twice"
        );
        names.push(name);
        // The *-MobileDevice* names came with 2013; every other name is in 2010 too.
        assert_eq!(
            c.spec().versions == Versions::Since2013,
            name.contains("MobileDevice"),
            "{name}: versions"
        );
        let p = c.spec().parameters;
        let mut declared: Vec<&str> = Vec::new();
        for n in p.named {
            assert!(is_identifier(n), "{name}: parameter '{n}'");
            assert!(
                !params::COMMON.iter().any(|k| k.eq_ignore_ascii_case(n)),
                "{name}: -{n} is a common parameter"
            );
            assert!(
                !declared.iter().any(|k| k.eq_ignore_ascii_case(n)),
                "{name}: -{n} declared twice"
            );
            declared.push(n);
        }
        if let Some(pos) = p.positional {
            assert!(
                p.named.contains(&pos),
                "{name}: positional -{pos} is not declared"
            );
        }
    }
}

/// Run `cmd` as `who`, rendering every object; the outputs and how it ended.
fn run_to_end(t: &T, who: &Account, cmd: Command) -> (usize, Outcome) {
    let ctx = Context {
        account: who,
        servers: &t.servers,
        server: "LAB-CAS01",
        now: LAB_EPOCH + 100,
    };
    let mut e = execute(&t.org, &ctx, &[cmd]);
    let mut outputs = e
        .records
        .iter()
        .filter(|r| matches!(r, Emitted::Output(_)))
        .count();
    if let Some(l) = e.lazy.as_mut() {
        let o = t.org.read().unwrap();
        while l.next_value(&o).is_some() {
            outputs += 1;
        }
    }
    (outputs, e.outcome)
}

fn failure_id(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Completed => None,
        Outcome::Failed(v) => ErrorRecord::from_value(v).and_then(|r| r.fully_qualified_error_id()),
    }
}

#[test]
fn the_full_rights_account_sees_every_entry_on_2019() {
    let t = lab(4, ExchangeVersion::V2019);
    let visible = visible_cmdlets(&t.accounts.service, ExchangeVersion::V2019);
    let all: Vec<&str> = TABLE.iter().map(|c| c.name()).collect();
    assert_eq!(visible, all);
}

#[test]
fn every_visible_cmdlet_runs_without_arguments_or_asks_for_a_mandatory_one() {
    for version in VERSIONS {
        let t = lab(4, version);
        for who in t.accounts.all() {
            let visible = visible_cmdlets(who, version);
            for c in TABLE {
                let name = c.name();
                let (outputs, outcome) = run_to_end(&t, who, Command::new(name));
                let id = failure_id(&outcome);
                if !visible.contains(&name) {
                    assert_eq!(
                        id.as_deref(),
                        Some("CommandNotFoundException"),
                        "{name} as {} on {version:?}",
                        who.user
                    );
                    continue;
                }
                match id {
                    None => {}
                    Some(id) => {
                        assert_eq!(
                            id,
                            format!("MissingMandatoryParameter,{name}"),
                            "{name} as {} on {version:?}",
                            who.user
                        );
                        assert_eq!(outputs, 0, "{name}");
                    }
                }
            }
        }
    }
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "which it does not declare")]
fn a_cmdlet_reading_a_parameter_it_does_not_declare_stops_debug_builds() {
    let spec = devices::GetDevice(Naming::MobileDevice).spec();
    let p = Params::bind(spec.name, &Command::new(spec.name), spec.parameters).unwrap();
    let _ = p.string("Colour");
}

/// The lab's cmdlets agree with the connector's permission table: every cmdlet the connector
/// calls on a version exists in the lab for that version (and none the connector uses only on
/// the other), and the lab grants it as the table says — reads to any management role, writes
/// by their role (Organization Client Access; Mail Recipients and Recipient Policies, which
/// the lab's Recipient Management holds).
#[test]
fn the_lab_and_the_permission_table_agree() {
    use crate::exchange::powershell::permissions::{ManagementRole, TABLE};
    for v in [
        ExchangeVersion::V2010,
        ExchangeVersion::V2013,
        ExchangeVersion::V2016,
        ExchangeVersion::V2019,
    ] {
        for e in TABLE {
            let spec = lab_spec(e.name);
            let spec = spec.unwrap_or_else(|| panic!("{} is not a lab cmdlet", e.name));
            if e.used.on(v.has_mobile_device_cmdlets()) {
                assert!(spec.versions.include(v), "{} on {v:?}", e.name);
            }
            let want = if e.role == ManagementRole::Session {
                Needs::Anyone
            } else if e.name.starts_with("Get-") {
                Needs::View
            } else {
                match e.role {
                    ManagementRole::OrganizationClientAccess => {
                        Needs::Role(Role::OrganizationClientAccess)
                    }
                    ManagementRole::MailRecipients | ManagementRole::RecipientPolicies => {
                        Needs::Role(Role::RecipientManagement)
                    }
                    other => panic!("{}: a write with role {other:?}", e.name),
                }
            };
            assert_eq!(spec.needs, want, "{}", e.name);
        }
    }
}

fn lab_spec(name: &str) -> Option<Spec> {
    TABLE
        .iter()
        .map(|c| c.spec())
        .find(|s| s.name.eq_ignore_ascii_case(name))
}
