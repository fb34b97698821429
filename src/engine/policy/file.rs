//! Reading `AccessPolicy.toml`: the TOML file as people write it (`Raw*`), validated into an
//! [`AccessPolicy`], with every problem reported by file, line and column and nothing
//! guessed; the inventory files it names are read through [`super::inventory`]; and the
//! documented example `eas-connector policy example` prints. It decides nothing.

use crate::config::OrgFile;
use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::inventory::parse_inventory;
use super::*;
use crate::config::xmltree::line_column;

/// FNV-1a, 64 bits: stable across builds (unlike `DefaultHasher`).
fn fnv(h: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *h ^= u64::from(*b);
        *h = h.wrapping_mul(0x0100_0000_01b3);
    }
}

impl AccessPolicy {
    /// Load and validate `<org_dir>/AccessPolicy.toml` and the inventory files it names.
    pub fn load(org_dir: &Path) -> Result<AccessPolicy, PolicyError> {
        let path = org_dir.join(OrgFile::Policy.name());
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PolicyError::Missing(path))
            }
            Err(e) => {
                return Err(PolicyError::Read {
                    path,
                    message: e.to_string(),
                })
            }
        };
        Self::parse(&text, &path, org_dir)
    }

    /// Parse policy text (`path` names it in messages; inventory files are relative to `dir`).
    pub fn parse(text: &str, path: &Path, dir: &Path) -> Result<AccessPolicy, PolicyError> {
        let at = |span: std::ops::Range<usize>, message: String| {
            let (line, column) = line_column(text, span.start);
            Problem {
                file: path.to_path_buf(),
                line,
                column,
                message,
            }
        };
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            PolicyError::Invalid(vec![at(
                e.span().unwrap_or(0..0),
                e.message().trim().to_string(),
            )])
        })?;
        let mut problems = Vec::new();
        let action = |s: &Spanned<String>, problems: &mut Vec<Problem>| {
            Action::parse(s.get_ref()).or_else(|| {
                problems.push(at(
                    s.span(),
                    format!(
                        "'{}' is not an action: use Allow, Block or Quarantine",
                        s.get_ref()
                    ),
                ));
                None
            })
        };
        let default = raw
            .default
            .as_ref()
            .and_then(|d| action(d, &mut problems))
            .unwrap_or(Action::Quarantine);
        let mut precedence = Vec::new();
        match &raw.precedence {
            None => precedence = vec![Step::Inventory, Step::Rules, Step::Grandfathered],
            Some(list) => {
                for s in list {
                    let step = match s.get_ref().to_ascii_lowercase().as_str() {
                        "inventory" => Some(Step::Inventory),
                        "rules" => Some(Step::Rules),
                        "grandfathered" => Some(Step::Grandfathered),
                        _ => None,
                    };
                    match step {
                        Some(st) if precedence.contains(&st) => problems.push(at(
                            s.span(),
                            format!("'{}' appears twice in precedence", s.get_ref()),
                        )),
                        Some(st) => precedence.push(st),
                        None => problems.push(at(
                            s.span(),
                            format!(
                                "'{}' is not a step: use inventory, rules and grandfathered (the default comes last)",
                                s.get_ref()
                            ),
                        )),
                    }
                }
            }
        }
        let mut rules = Vec::new();
        let mut names = BTreeSet::new();
        for r in raw.rule.unwrap_or_default() {
            let line = line_column(text, r.name.span().start).0;
            let name = r.name.get_ref().trim().to_string();
            if name.is_empty() {
                problems.push(at(r.name.span(), "a rule needs a name".into()));
            } else if !names.insert(name.to_lowercase()) {
                problems.push(at(r.name.span(), format!("two rules are named \"{name}\"")));
            }
            let Some(act) = action(&r.action, &mut problems) else {
                continue;
            };
            let pat = |p: &Option<Spanned<String>>, problems: &mut Vec<Problem>| {
                p.as_ref().and_then(|s| {
                    if s.get_ref().trim().is_empty() {
                        problems.push(at(
                            s.span(),
                            "an empty pattern matches nothing; remove it or use \"*\"".into(),
                        ));
                        None
                    } else {
                        Some(Pattern::new(s.get_ref()))
                    }
                })
            };
            let mut groups = Vec::new();
            for g in r.groups.iter().flatten() {
                let name = g.get_ref().trim();
                if name.is_empty() || name.contains('*') {
                    problems.push(at(
                        g.span(),
                        format!(
                            "rule \"{name_}\": '{}' is not a group: give its name, alias or address, without wildcards",
                            g.get_ref(),
                            name_ = r.name.get_ref().trim()
                        ),
                    ));
                } else {
                    groups.push(name.to_string());
                }
            }
            let users: Vec<Pattern> = match &r.user {
                None => Vec::new(),
                Some(StringOrList::One(s)) => vec![Pattern::new(s)],
                Some(StringOrList::Many(v)) => v.iter().map(|s| Pattern::new(s)).collect(),
            };
            let rule = Rule {
                name,
                device_type: pat(&r.device_type, &mut problems),
                device_model: pat(&r.device_model, &mut problems),
                device_os: pat(&r.device_os, &mut problems),
                user_agent: pat(&r.user_agent, &mut problems),
                users,
                groups,
                action: act,
                line,
            };
            if rule.device_type.is_none()
                && rule.device_model.is_none()
                && rule.device_os.is_none()
                && rule.user_agent.is_none()
                && rule.users.is_empty()
                && rule.groups.is_empty()
            {
                problems.push(at(
                    r.name.span(),
                    format!(
                        "rule \"{}\" matches nothing: give device_type, device_model, device_os, user_agent, user or groups",
                        rule.name
                    ),
                ));
            }
            rules.push(rule);
        }
        let mut digest: u64 = 0xcbf2_9ce4_8422_2325;
        fnv(&mut digest, text.as_bytes());
        let mut inventory = Inventory::default();
        let mut intune = None;
        if let Some(raw_intune) = raw.inventory.as_ref().and_then(|i| i.intune.as_ref()) {
            let mut st = super::intune::IntuneSettings::default();
            let r = raw_intune;
            let mut set = |slot: &mut Action, v: &Option<Spanned<String>>| {
                if let Some(v) = v {
                    if let Some(a) = action(v, &mut problems) {
                        *slot = a;
                    }
                }
            };
            set(&mut st.noncompliant, &r.noncompliant);
            set(&mut st.in_grace_period, &r.in_grace_period);
            set(&mut st.conflict, &r.conflict);
            set(&mut st.error, &r.error);
            set(&mut st.unknown, &r.unknown);
            set(&mut st.config_manager, &r.config_manager);
            set(&mut st.other, &r.other);
            set(&mut st.stale, &r.stale);
            if let Some(d) = r.max_checkin_age_days {
                st.max_checkin_age_days = d;
            }
            if let Some(h) = r.max_snapshot_age_hours {
                st.max_snapshot_age_hours = h;
            }
            if let Some(p) = &r.max_shrink_percent {
                if *p.get_ref() > 100 {
                    problems.push(at(
                        p.span(),
                        format!(
                            "max_shrink_percent = {} is more than 100; use 0-100",
                            p.get_ref()
                        ),
                    ));
                } else {
                    st.max_shrink_percent = *p.get_ref();
                }
            }
            if r.enabled.unwrap_or(true) {
                intune = Some(super::intune::IntuneSource {
                    settings: st,
                    ..Default::default()
                });
            }
        }
        if let Some(inv) = raw.inventory {
            inventory.noncompliant = match &inv.noncompliant {
                Some(s) => action(s, &mut problems),
                None => Some(Action::Quarantine),
            };
            inventory.max_checkin_age_days = inv.max_checkin_age_days.unwrap_or(0);
            for f in inv.files.unwrap_or_default() {
                let file = dir.join(f.get_ref());
                match std::fs::read_to_string(&file) {
                    Ok(t) => {
                        fnv(&mut digest, t.as_bytes());
                        let (entries, mut p) = parse_inventory(&t, &file);
                        problems.append(&mut p);
                        for e in entries {
                            inventory
                                .entries
                                .insert(e.device_id.to_ascii_lowercase(), e);
                        }
                    }
                    Err(e) => problems.push(at(
                        f.span(),
                        format!("could not read {}: {e}", file.display()),
                    )),
                }
            }
            for d in inv.device.unwrap_or_default() {
                let line = line_column(text, d.id.span().start).0;
                let last_checkin = match &d.last_checkin {
                    None => None,
                    Some(s) => match parse_date(s.get_ref()) {
                        Some(t) => Some(t),
                        None => {
                            problems.push(at(
                                s.span(),
                                format!(
                                    "'{}' is not a date (use 2026-03-01 or RFC 3339)",
                                    s.get_ref()
                                ),
                            ));
                            None
                        }
                    },
                };
                inventory.entries.insert(
                    d.id.get_ref().to_ascii_lowercase(),
                    InventoryEntry {
                        device_id: d.id.get_ref().clone(),
                        user: d.user.unwrap_or_default(),
                        compliant: d.compliant,
                        last_checkin,
                        origin: format!("{}:{line}", OrgFile::Policy.name()),
                    },
                );
            }
        }
        let mut organization = OrganizationSettings::default();
        if let Some(o) = raw.organization {
            organization.admin_mail_recipients = o.admin_mail_recipients;
            organization.user_mail_insert = o.user_mail_insert;
        }
        let mailbox_policy = raw.mailbox_policy.map(|mp| {
            let mut settings = Vec::new();
            for (group, table) in [
                ("general", mp.general),
                ("password", mp.password),
                ("email", mp.email),
                ("security", mp.security),
                ("application", mp.application),
            ] {
                let known = POLICY_GROUPS
                    .iter()
                    .find(|(g, _)| *g == group)
                    .map(|(_, k)| *k)
                    .unwrap_or_default();
                for (k, v) in table.unwrap_or_default() {
                    let Some(canonical) = known.iter().find(|n| n.eq_ignore_ascii_case(&k)) else {
                        let span = v.span();
                        problems.push(at(
                            span,
                            format!(
                                "'{k}' is not a setting of [mailbox_policy.{group}]; known: {}",
                                known.join(", ")
                            ),
                        ));
                        continue;
                    };
                    let value = match v.get_ref() {
                        toml::Value::Boolean(b) => SettingValue::Bool(*b),
                        toml::Value::Integer(n) => match i32::try_from(*n) {
                            Ok(n) => SettingValue::Int(n),
                            Err(_) => {
                                problems.push(at(v.span(), format!("{k}: {n} is too large")));
                                continue;
                            }
                        },
                        toml::Value::String(s) => SettingValue::Text(s.clone()),
                        _ => {
                            problems.push(at(
                                v.span(),
                                format!("{k}: use true/false, a number or a string"),
                            ));
                            continue;
                        }
                    };
                    settings.push((canonical.to_string(), value));
                }
            }
            MailboxPolicySpec {
                name: mp.name.unwrap_or_else(|| "EAS Connector".into()),
                is_default: mp.is_default.unwrap_or(false),
                settings,
            }
        });
        let notifications = match raw.notifications {
            None => NotificationSettings {
                enabled: true,
                language: "en".into(),
                enroll_url: None,
                send_as: None,
            },
            Some(n) => {
                let language = match &n.language {
                    None => "en".to_string(),
                    Some(l) => {
                        let v = l.get_ref().to_ascii_lowercase();
                        if !["en", "nl", "fr"].contains(&v.as_str()) {
                            problems.push(at(
                                l.span(),
                                format!(
                                    "language '{}' has no templates: use en, nl or fr",
                                    l.get_ref()
                                ),
                            ));
                        }
                        v
                    }
                };
                let enroll_url = n.enroll_url.as_ref().and_then(|u| {
                    web_link(u.get_ref())
                        .map_err(|why| {
                            problems
                                .push(at(u.span(), format!("enroll_url '{}' {why}", u.get_ref())))
                        })
                        .ok()
                });
                let send_as = n.send_as.as_ref().and_then(|a| {
                    let v = a.get_ref().trim();
                    let ok = v.split_once('@').is_some_and(|(l, d)| {
                        !l.is_empty() && d.contains('.') && !v.contains(char::is_whitespace)
                    });
                    if ok {
                        Some(v.to_string())
                    } else {
                        problems.push(at(
                            a.span(),
                            format!(
                                "send_as '{}' is not an SMTP address (e.g. it-helpdesk@contoso.com)",
                                a.get_ref()
                            ),
                        ));
                        None
                    }
                });
                NotificationSettings {
                    enabled: n.enabled.unwrap_or(true),
                    language,
                    enroll_url,
                    send_as,
                }
            }
        };
        let grandfathering = match raw.grandfathering {
            None => Grandfathering {
                enabled: false,
                only_allowed: true,
            },
            Some(g) => Grandfathering {
                enabled: g.enabled,
                only_allowed: g.only_allowed.unwrap_or(true),
            },
        };
        let mut audit_rotation = crate::logging::RotationPolicy::default();
        if let Some(a) = &raw.audit {
            if let Some(kb) = &a.max_file_kb {
                match *kb.get_ref() {
                    1..=1_048_576 => audit_rotation.max_bytes = kb.get_ref() * 1024,
                    n => problems.push(at(
                        kb.span(),
                        format!("max_file_kb = {n}: use 1 to 1048576 (KB; the default is 10240)"),
                    )),
                }
            }
            if let Some(n) = &a.max_files {
                match usize::try_from(*n.get_ref()) {
                    Ok(v @ 1..=1000) => audit_rotation.max_files = v,
                    _ => problems.push(at(
                        n.span(),
                        format!(
                            "max_files = {}: use 1 to 1000 (files kept, the live one included; the default is 30)",
                            n.get_ref()
                        ),
                    )),
                }
            }
        }
        let rule_conflict = match &raw.rule_conflict {
            None => RuleConflict::default(),
            Some(s) => RuleConflict::parse(s.get_ref()).unwrap_or_else(|| {
                problems.push(at(
                    s.span(),
                    format!(
                        "rule_conflict '{}' is not known: use \"report\" (leave the device where Exchange's device access rule puts it, and report it) or \"block\" (block it individually)",
                        s.get_ref()
                    ),
                ));
                RuleConflict::default()
            }),
        };
        if !problems.is_empty() {
            problems.sort_by_key(|p| (p.file.clone(), p.line, p.column));
            return Err(PolicyError::Invalid(problems));
        }
        Ok(AccessPolicy {
            precedence,
            default,
            dry_run: raw.dry_run.unwrap_or(false),
            grandfathering,
            inventory,
            intune,
            rules: RuleSet(rules),
            organization,
            mailbox_policy,
            notifications,
            audit_unchanged: raw
                .audit
                .as_ref()
                .and_then(|a| a.log_unchanged)
                .unwrap_or(false),
            audit_rotation,
            rule_conflict,
            digest: format!("{digest:016x}"),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    precedence: Option<Vec<Spanned<String>>>,
    default: Option<Spanned<String>>,
    dry_run: Option<bool>,
    rule_conflict: Option<Spanned<String>>,
    grandfathering: Option<RawGrandfathering>,
    inventory: Option<RawInventory>,
    rule: Option<Vec<RawRule>>,
    organization: Option<RawOrganization>,
    mailbox_policy: Option<RawMailboxPolicy>,
    notifications: Option<RawNotifications>,
    audit: Option<RawAudit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrandfathering {
    enabled: bool,
    only_allowed: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInventory {
    files: Option<Vec<Spanned<String>>>,
    noncompliant: Option<Spanned<String>>,
    max_checkin_age_days: Option<u32>,
    device: Option<Vec<RawDevice>>,
    intune: Option<RawIntune>,
}

/// `[inventory.intune]`: Intune (Microsoft Graph) through the configuration's `<Cloud>`
/// identity; every key optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntune {
    enabled: Option<bool>,
    noncompliant: Option<Spanned<String>>,
    in_grace_period: Option<Spanned<String>>,
    conflict: Option<Spanned<String>>,
    error: Option<Spanned<String>>,
    unknown: Option<Spanned<String>>,
    config_manager: Option<Spanned<String>>,
    other: Option<Spanned<String>>,
    stale: Option<Spanned<String>>,
    max_checkin_age_days: Option<u32>,
    max_snapshot_age_hours: Option<u32>,
    max_shrink_percent: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    id: Spanned<String>,
    user: Option<String>,
    compliant: bool,
    last_checkin: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Spanned<String>,
    action: Spanned<String>,
    device_type: Option<Spanned<String>>,
    device_model: Option<Spanned<String>>,
    device_os: Option<Spanned<String>>,
    user_agent: Option<Spanned<String>>,
    user: Option<StringOrList>,
    groups: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrganization {
    admin_mail_recipients: Option<Vec<String>>,
    user_mail_insert: Option<String>,
}

type RawSettings = Option<BTreeMap<String, Spanned<toml::Value>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMailboxPolicy {
    name: Option<String>,
    is_default: Option<bool>,
    general: RawSettings,
    password: RawSettings,
    email: RawSettings,
    security: RawSettings,
    application: RawSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotifications {
    enabled: Option<bool>,
    language: Option<Spanned<String>>,
    enroll_url: Option<Spanned<String>>,
    send_as: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    log_unchanged: Option<bool>,
    max_file_kb: Option<Spanned<u64>>,
    max_files: Option<Spanned<u64>>,
}

/// Why a text is not a link people may click (said after the text: "'x' is not a URL").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("is not a URL ({0}): write it as https://host/path")]
    NotUrl(url::ParseError),
    #[error("uses '{0}:': only https:// (or http://) links are put in mail")]
    Scheme(String),
    #[error("has no host name: write it as https://host/path")]
    NoHost,
    #[error("carries a user name or password: leave them out of the link")]
    Credentials,
}

/// A link people may click: an absolute `http` or `https` URL with a host and no user or
/// password in it.
pub fn web_link(text: &str) -> Result<url::Url, LinkError> {
    let u = url::Url::parse(text.trim()).map_err(LinkError::NotUrl)?;
    if !matches!(u.scheme(), "https" | "http") {
        return Err(LinkError::Scheme(u.scheme().to_string()));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(LinkError::NoHost);
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(LinkError::Credentials);
    }
    Ok(u)
}

/// An example policy, documented, for `eas-connector policy example`.
pub const EXAMPLE: &str = r#"# AccessPolicy.toml: which ActiveSync devices may sync with Exchange.
# Check it with: eas-connector policy check

# Order of the deciding steps; the first with an answer wins, `default` comes last.
precedence = ["inventory", "rules", "grandfathered"]
# Devices nothing else decides on: Allow, Block or Quarantine.
default = "Quarantine"
# true: compute and report every change, enforce nothing.
dry_run = false
# When an Exchange device access rule would override a decision (the policy says Quarantine,
# a rule allows the device): "report" leaves the device where the rule puts it and reports
# the conflict; "block" blocks the device individually (its mailbox's blocked list).
rule_conflict = "report"

[grandfathering]
# Allow the devices that exist when the connector is first enabled.
enabled = true
only_allowed = true          # only those Exchange allows at that moment

[inventory]
# MDM exports (CSV or JSON) in this folder: EAS device id, user, compliant, last check-in.
# files = ["inventory.csv"]
noncompliant = "Block"       # managed but not compliant
max_checkin_age_days = 30    # older check-ins count as not compliant (0: ignore)

# Intune (Microsoft Graph), read live through the configuration's <Cloud> identity
# (Cloud/TenantId, Cloud/ApplicationId and its certificate or secret). It answers first; a
# device Intune does not know goes on to the files and devices above.
# [inventory.intune]
# noncompliant = "Block"
# in_grace_period = "Allow"
# conflict = "Quarantine"      # also: error, unknown, config_manager, other
# stale = "Quarantine"         # compliant, but last check-in older than max_checkin_age_days
# max_checkin_age_days = 7
# max_snapshot_age_hours = 24  # Graph unreachable: the last good read decides this long
# max_shrink_percent = 20      # a read this much smaller waits for `eas-connector intune accept`

[[inventory.device]]
id = "ApplF17XK2LMN0QR"
user = "anna@contoso.com"
compliant = true
last_checkin = "2026-03-01"

[[rule]]
name = "Old iOS"
device_os = "iOS 15*"
action = "Block"

[[rule]]
name = "Board members"
user = ["ceo@contoso.com", "cfo@contoso.com"]
action = "Allow"

# Distribution or security groups (name, alias or address), nested groups included; a group
# Exchange does not know is reported and the devices the rule would decide are left alone.
# [[rule]]
# name = "Sales"
# groups = ["Sales", "field-sales@contoso.com"]
# device_type = "iPhone"
# action = "Allow"

[organization]
admin_mail_recipients = ["helpdesk@contoso.com"]
user_mail_insert = "Enroll your device at https://mdm.contoso.com first."

[mailbox_policy]
name = "EAS Connector"
is_default = false
[mailbox_policy.password]
DevicePasswordEnabled = true
MinDevicePasswordLength = 6
[mailbox_policy.security]
RequireDeviceEncryption = true

[notifications]
enabled = true
language = "en"              # en, nl or fr; files in Templates/ override the built-ins
# A link to where users enroll their device, put in the quarantine mail ({{enroll_link}}).
# enroll_url = "https://mdm.contoso.com/enroll"
# Send as another address (the notification account needs SendAs on it).
# send_as = "it-helpdesk@contoso.com"

[audit]
log_unchanged = false        # a line for every device on every sync, not only changes
max_file_kb = 10240          # Logs/decisions.jsonl rotates at this size...
max_files = 30               # ...and this many files are kept, the live one included
"#;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// The example's groups: "Sales" has Sam, nested "field-sales@" nobody.
    fn sales() -> &'static GroupMembers {
        static G: std::sync::OnceLock<GroupMembers> = std::sync::OnceLock::new();
        G.get_or_init(|| {
            let mut g = GroupMembers::default();
            g.insert("sales", ["sam@contoso.com".to_string()]);
            g.insert("Field-Sales@contoso.com", []);
            g
        })
    }

    fn facts<'a>(id: &'a str, os: &'a str, smtp: &'a str) -> DeviceFacts<'a> {
        DeviceFacts {
            device_id: id,
            device_type: "iPhone",
            device_model: "iPhone15C2",
            device_os: os,
            user_agent: "Apple-iPhone15C2/2104.219",
            user_display_name: "Anna",
            user_alias: "anna",
            user_smtp: smtp,
            mailbox: "contoso.com/Users/Anna",
            access_state: DeviceAccessState::Allowed,
            groups: sales(),
        }
    }

    #[test]
    fn example_parses_and_decides_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("inventory.csv"),
            "EAS device id,User,Compliant,Last check-in\nDEV1,a@x,yes,2099-01-01\nDEV2,b@x,no,2099-01-01\n",
        )
        .unwrap();
        // As printed, the example works with no inventory file; with its `files` line on, it
        // reads the CSV too.
        let p = AccessPolicy::parse(EXAMPLE, Path::new("AccessPolicy.toml"), dir.path()).unwrap();
        assert_eq!(p.inventory.entries.len(), 1);
        assert_eq!(p.rules.0.len(), 2, "the group rule is commented out");
        let uncommented: String = EXAMPLE
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(r)
                    if r.starts_with("[[rule]]")
                        || r.starts_with("[inventory.intune]")
                        || r.contains(" = ") && !r.contains("files") =>
                {
                    r
                }
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let with_files = uncommented.replace("# files = ", "files = ");
        let p =
            AccessPolicy::parse(&with_files, Path::new("AccessPolicy.toml"), dir.path()).unwrap();
        assert_eq!(p.inventory.entries.len(), 3);
        // Its [inventory.intune] block, switched on, reads with every key.
        let intune = p.intune.as_ref().expect("[inventory.intune] on");
        assert_eq!(intune.settings.max_shrink_percent, 20);
        assert_eq!(intune.settings.noncompliant, Action::Block);
        let old = ["old1".to_string()].into();
        let g = Grandfathered(&old);
        let d = p.decide(&facts("DEV1", "iOS 15.8", "a@x"), &g);
        assert_eq!((d.action, d.source.as_str()), (Action::Allow, "inventory"));
        let d = p.decide(&facts("DEV2", "iOS 17", "b@x"), &g);
        assert_eq!((d.action, d.source.as_str()), (Action::Block, "inventory"));
        let d = p.decide(&facts("X", "iOS 15.8", "c@x"), &g);
        assert_eq!((d.action, d.source.as_str()), (Action::Block, "rules"));
        let d = p.decide(&facts("X", "iOS 17", "CEO@contoso.com"), &g);
        assert_eq!(d.action, Action::Allow);
        let d = p.decide(&facts("OLD1", "iOS 17", "z@x"), &g);
        assert_eq!(
            (d.action, d.source.as_str()),
            (Action::Allow, "grandfathered")
        );
        let d = p.decide(&facts("NEW", "iOS 17", "z@x"), &g);
        assert_eq!(
            (d.action, d.source.as_str()),
            (Action::Quarantine, "default")
        );
        let d = p.decide(&facts("S1", "iOS 17", "Sam@contoso.com"), &g);
        assert_eq!(
            (d.action, d.reason.as_str()),
            (Action::Allow, "rule \"Sales\" (line 57)")
        );
        // A group Exchange could not expand holds the device instead of deciding it.
        let mut broken = GroupMembers::default();
        broken.insert_error("sales", "not found".into());
        let f = DeviceFacts {
            groups: &broken,
            ..facts("S1", "iOS 17", "sam@contoso.com")
        };
        let d = p.decide(&f, &g);
        assert!(d.held.unwrap().contains("group \"Sales\": not found"));
        assert_eq!(p.rule_conflict, RuleConflict::Report);
        let ms = p.mailbox_policy.unwrap();
        assert_eq!(ms.settings.len(), 3);
    }

    #[test]
    fn enroll_url_send_as_and_audit_rotation_are_checked() {
        let ok = "[notifications]\nenroll_url = \"https://mdm.contoso.com/enroll\"\nsend_as = \"it-helpdesk@contoso.com\"\n[audit]\nmax_file_kb = 64\nmax_files = 5\n";
        let p = AccessPolicy::parse(ok, Path::new("P.toml"), Path::new(".")).unwrap();
        assert_eq!(
            p.notifications.enroll_url.unwrap().as_str(),
            "https://mdm.contoso.com/enroll"
        );
        assert_eq!(
            p.notifications.send_as.as_deref(),
            Some("it-helpdesk@contoso.com")
        );
        assert_eq!(
            (p.audit_rotation.max_bytes, p.audit_rotation.max_files),
            (64 * 1024, 5)
        );
        let bad = "[notifications]\nenroll_url = \"javascript:alert(1)\"\nsend_as = \"helpdesk\"\n[audit]\nmax_file_kb = 0\nmax_files = 0\n";
        let e = AccessPolicy::parse(bad, Path::new("P.toml"), Path::new(".")).unwrap_err();
        let PolicyError::Invalid(p) = e else { panic!() };
        let at: Vec<(usize, &str)> = p.iter().map(|x| (x.line, x.message.as_str())).collect();
        assert_eq!(at.len(), 4, "{at:?}");
        assert!(at[0].1.contains("only https://"), "{at:?}");
        assert!(at[1].1.contains("not an SMTP address"), "{at:?}");
        assert!(
            at[2].1.contains("max_file_kb") && at[3].1.contains("max_files"),
            "{at:?}"
        );
        let e = AccessPolicy::parse(
            "[notifications]\nenroll_url = \"mdm.contoso.com\"\n",
            Path::new("P.toml"),
            Path::new("."),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("P.toml:2:14: enroll_url 'mdm.contoso.com' is not a URL"),
            "{e}"
        );
    }

    #[test]
    fn problems_have_lines() {
        let text = "default = \"Maybe\"\n\n[[rule]]\nname = \"r\"\naction = \"Allow\"\n\n[[rule]]\nname = \"s\"\ndevice_os = \"x\"\naction = \"Nope\"\n[mailbox_policy.password]\nMinPasswordLenght = 4\n";
        let e = AccessPolicy::parse(text, Path::new("P.toml"), Path::new(".")).unwrap_err();
        let PolicyError::Invalid(p) = e else { panic!() };
        let lines: Vec<usize> = p.iter().map(|x| x.line).collect();
        assert_eq!(lines, vec![1, 4, 10, 12], "{p:?}");
        assert!(p[1].message.contains("matches nothing"));
        assert!(p[3].message.contains("MinPasswordLenght"));
        let text = "rule_conflict = \"allow\"\n[[rule]]\nname = \"g\"\ndevice_type = \"x\"\ngroups = [\"*\"]\naction = \"Allow\"\n";
        let e = AccessPolicy::parse(text, Path::new("P.toml"), Path::new(".")).unwrap_err();
        let PolicyError::Invalid(p) = e else { panic!() };
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].message.contains("\"report\"") && p[0].line == 1,
            "{p:?}"
        );
        assert!(
            p[1].message.contains("is not a group") && p[1].line == 5,
            "{p:?}"
        );
        let ok = "rule_conflict = \"Block\"\n";
        let p = AccessPolicy::parse(ok, Path::new("P.toml"), Path::new(".")).unwrap();
        assert_eq!(p.rule_conflict, RuleConflict::Block);
        let e =
            AccessPolicy::parse("defualt = 1\n", Path::new("P.toml"), Path::new(".")).unwrap_err();
        let PolicyError::Invalid(p) = e else { panic!() };
        assert_eq!((p[0].line, p[0].column), (1, 1), "{p:?}");
        assert!(p[0].message.contains("defualt"), "{p:?}");
    }
}
