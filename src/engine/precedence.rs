//! Exchange's order of precedence, as the engine must predict it: a device on its mailbox's
//! blocked or allowed list is blocked or allowed (`Individual`), whatever else is set; a device
//! on neither list gets what the organization's device access rules say (`DeviceRule`: a
//! model rule before a type rule, then OS, then user agent), and without a matching rule the
//! organization's `DefaultAccessLevel` (`Global`).
//!
//! The policy's Allow and Block are mailbox-list entries, so they always hold. Its Quarantine
//! is "on neither list", so a device access rule (or a default level other than Quarantine)
//! overrides it: that is a [`Conflict`], resolved as the policy's `rule_conflict` says —
//! `report` leaves the device where Exchange puts it and reports it, `block` blocks it
//! individually (the only per-device way to stop a device a rule allows). [`resolve`] returns
//! what goes into the lists and what Exchange will then do; the plan records and reports the
//! latter, so nobody is told "quarantined" about a device Exchange lets sync.
//!
//! Pure: no I/O, nothing read here; the rules come from the driver
//! (`Get-ActiveSyncDeviceAccessRule` on every sync).

use serde::{Deserialize, Serialize};

use super::policy::{Action, DeviceFacts};
use crate::exchange::ops::DeviceAccessRule;
use crate::wire::exchange::{AccessLevel, DeviceAccessCharacteristic, DeviceAccessStateReason};

/// The `DefaultAccessLevel` the connector keeps the organization at (the organization step of
/// every full sync sets it), and so the level a device on neither list and matched by no rule
/// ends up with.
pub const DEFAULT_ACCESS_LEVEL: AccessLevel = AccessLevel::Quarantine;

/// What the policy does when a device access rule (or the default level) would override its
/// decision (`rule_conflict` in `AccessPolicy.toml`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleConflict {
    /// Leave the device where Exchange puts it, and report the conflict.
    #[default]
    Report,
    /// Block the device individually (its mailbox's blocked list) when Exchange would let it
    /// sync against the policy's Quarantine.
    Block,
}

impl RuleConflict {
    pub fn parse(s: &str) -> Option<RuleConflict> {
        match s.trim().to_ascii_lowercase().as_str() {
            "report" => Some(RuleConflict::Report),
            "block" => Some(RuleConflict::Block),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RuleConflict::Report => "report",
            RuleConflict::Block => "block",
        }
    }
}

/// One device access rule as the engine uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    /// Exchange's name for it (`Pixel 8 (DeviceModel)`).
    pub name: String,
    pub characteristic: DeviceAccessCharacteristic,
    pub query_string: String,
    pub level: AccessLevel,
}

/// The organization's side of the precedence: its device access rules and default level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccess {
    pub rules: Vec<AccessRule>,
    pub default_level: AccessLevel,
}

impl Default for OrgAccess {
    fn default() -> Self {
        OrgAccess {
            rules: Vec::new(),
            default_level: DEFAULT_ACCESS_LEVEL,
        }
    }
}

/// Exchange evaluates model rules before type, OS and user-agent rules.
fn rank(c: DeviceAccessCharacteristic) -> u8 {
    match c {
        DeviceAccessCharacteristic::DeviceModel => 0,
        DeviceAccessCharacteristic::DeviceType => 1,
        DeviceAccessCharacteristic::DeviceOS => 2,
        DeviceAccessCharacteristic::UserAgent => 3,
    }
}

impl OrgAccess {
    /// From what Exchange answered; a rule whose characteristic or level this version does
    /// not know cannot be predicted and is returned apart (for the report).
    pub fn from_rules(
        rules: &[DeviceAccessRule],
        default_level: AccessLevel,
    ) -> (OrgAccess, Vec<String>) {
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for r in rules {
            match (r.characteristic, r.access_level) {
                (Some(characteristic), Some(level)) => known.push(AccessRule {
                    name: r.identity.clone(),
                    characteristic,
                    query_string: r.query_string.clone(),
                    level,
                }),
                _ => unknown.push(r.identity.clone()),
            }
        }
        (
            OrgAccess {
                rules: known,
                default_level,
            },
            unknown,
        )
    }

    /// The rule Exchange applies to a device on neither of its mailbox's lists.
    pub fn rule_for(&self, d: &DeviceFacts<'_>) -> Option<&AccessRule> {
        self.rules
            .iter()
            .filter(|r| {
                let value = match r.characteristic {
                    DeviceAccessCharacteristic::DeviceModel => d.device_model,
                    DeviceAccessCharacteristic::DeviceType => d.device_type,
                    DeviceAccessCharacteristic::DeviceOS => d.device_os,
                    DeviceAccessCharacteristic::UserAgent => d.user_agent,
                };
                value.eq_ignore_ascii_case(r.query_string.trim())
            })
            .min_by_key(|r| rank(r.characteristic))
    }

    /// What Exchange does with a device whose lists say `listed` (Allow: on the allowed list,
    /// Block: on the blocked list, Quarantine: on neither).
    pub fn exchange_does(&self, listed: Action, d: &DeviceFacts<'_>) -> Exchanged {
        match listed {
            Action::Allow | Action::Block => Exchanged {
                action: listed,
                reason: DeviceAccessStateReason::Individual,
                rule: None,
            },
            Action::Quarantine => match self.rule_for(d) {
                Some(r) => Exchanged {
                    action: r.level.into(),
                    reason: DeviceAccessStateReason::DeviceRule,
                    rule: Some(r.name.clone()),
                },
                None => Exchanged {
                    action: self.default_level.into(),
                    reason: DeviceAccessStateReason::Global,
                    rule: None,
                },
            },
        }
    }
}

/// What Exchange does with a device, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchanged {
    pub action: Action,
    pub reason: DeviceAccessStateReason,
    /// The device access rule that decides (`reason` is `DeviceRule`).
    pub rule: Option<String>,
}

/// How a conflict was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resolution {
    /// Left where Exchange puts it (`rule_conflict = "report"`, or a rule that blocks).
    Reported,
    /// Blocked individually (`rule_conflict = "block"`).
    BlockedIndividually,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Reported => "reported",
            Resolution::BlockedIndividually => "blocked-individually",
        }
    }
}

/// A decision of the policy that Exchange would override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// What the policy decided.
    pub wanted: Action,
    /// What Exchange does instead when the device is on neither list.
    pub exchange: Action,
    /// `DeviceRule` or `Global`.
    pub reason: DeviceAccessStateReason,
    /// The device access rule (when `reason` is `DeviceRule`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub resolution: Resolution,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let by = match &self.rule {
            Some(r) => format!("device access rule \"{r}\""),
            None => "the organization's DefaultAccessLevel".to_string(),
        };
        let then = match self.resolution {
            Resolution::Reported => format!("left {}", past(self.exchange)),
            Resolution::BlockedIndividually => "blocked individually".to_string(),
        };
        write!(
            f,
            "policy says {}, {by} says {}: {then}",
            self.wanted, self.exchange
        )
    }
}

fn past(a: Action) -> &'static str {
    match a {
        Action::Allow => "allowed",
        Action::Block => "blocked",
        Action::Quarantine => "quarantined",
    }
}

/// A decision put through Exchange's precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Where the device goes in its mailbox's lists.
    pub listed: Action,
    /// What Exchange then does: the state the connector records, reports and tells the user.
    pub exchange: Exchanged,
    pub conflict: Option<Conflict>,
}

/// Put the policy's decision `wanted` through Exchange's precedence and resolve a conflict as
/// `mode` says.
pub fn resolve(
    wanted: Action,
    org: &OrgAccess,
    d: &DeviceFacts<'_>,
    mode: RuleConflict,
) -> Resolved {
    let exchange = org.exchange_does(wanted, d);
    if exchange.action == wanted {
        return Resolved {
            listed: wanted,
            exchange,
            conflict: None,
        };
    }
    // Only Quarantine (neither list) can be overridden. A device Exchange would let sync is
    // blocked individually when the policy says so; one Exchange blocks stays blocked.
    let block = mode == RuleConflict::Block && exchange.action == Action::Allow;
    let conflict = Conflict {
        wanted,
        exchange: exchange.action,
        reason: exchange.reason,
        rule: exchange.rule.clone(),
        resolution: if block {
            Resolution::BlockedIndividually
        } else {
            Resolution::Reported
        },
    };
    if block {
        Resolved {
            listed: Action::Block,
            exchange: org.exchange_does(Action::Block, d),
            conflict: Some(conflict),
        }
    } else {
        Resolved {
            listed: wanted,
            exchange,
            conflict: Some(conflict),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::wire::exchange::DeviceAccessState;

    fn facts() -> DeviceFacts<'static> {
        DeviceFacts {
            device_id: "D1",
            device_type: "Android",
            device_model: "Pixel 8",
            device_os: "Android 14",
            user_agent: "Android-Mail/1",
            user_display_name: "Anna",
            user_alias: "anna",
            user_smtp: "anna@contoso.test",
            mailbox: "contoso.com/Users/Anna",
            access_state: DeviceAccessState::Allowed,
            groups: &crate::engine::policy::NO_GROUPS,
        }
    }

    fn rule(c: DeviceAccessCharacteristic, q: &str, level: AccessLevel) -> AccessRule {
        AccessRule {
            name: format!("{q} ({c})"),
            characteristic: c,
            query_string: q.into(),
            level,
        }
    }

    #[test]
    fn lists_win_then_the_most_specific_rule_then_the_default() {
        use DeviceAccessCharacteristic::*;
        let org = OrgAccess {
            rules: vec![
                rule(DeviceType, "android", AccessLevel::Block),
                rule(DeviceModel, "Pixel 8", AccessLevel::Allow),
            ],
            default_level: AccessLevel::Quarantine,
        };
        let d = facts();
        assert_eq!(
            org.exchange_does(Action::Block, &d).reason,
            DeviceAccessStateReason::Individual
        );
        let q = org.exchange_does(Action::Quarantine, &d);
        assert_eq!(
            (q.action, q.reason, q.rule.as_deref()),
            (
                Action::Allow,
                DeviceAccessStateReason::DeviceRule,
                Some("Pixel 8 (DeviceModel)")
            )
        );
        let none = OrgAccess::default();
        let q = none.exchange_does(Action::Quarantine, &d);
        assert_eq!(
            (q.action, q.reason),
            (Action::Quarantine, DeviceAccessStateReason::Global)
        );
    }

    #[test]
    fn every_combination_resolves_as_configured() {
        use DeviceAccessCharacteristic::DeviceModel;
        let d = facts();
        let levels = [
            None,
            Some(AccessLevel::Allow),
            Some(AccessLevel::Block),
            Some(AccessLevel::Quarantine),
        ];
        for default_level in AccessLevel::ALL.iter().copied() {
            for level in levels {
                let org = OrgAccess {
                    rules: level
                        .map(|l| rule(DeviceModel, "Pixel 8", l))
                        .into_iter()
                        .collect(),
                    default_level,
                };
                let org_level = level.unwrap_or(default_level);
                for wanted in [Action::Allow, Action::Block, Action::Quarantine] {
                    for mode in [RuleConflict::Report, RuleConflict::Block] {
                        let r = resolve(wanted, &org, &d, mode);
                        let overridden =
                            wanted == Action::Quarantine && org_level != AccessLevel::Quarantine;
                        assert_eq!(r.conflict.is_some(), overridden, "{wanted} {org_level}");
                        let want_state = match (overridden, mode, org_level) {
                            (false, _, _) => wanted,
                            (true, RuleConflict::Block, AccessLevel::Allow) => Action::Block,
                            (true, _, l) => l.into(),
                        };
                        assert_eq!(
                            r.exchange.action, want_state,
                            "{wanted} {org_level} {mode:?}"
                        );
                        // What goes into the lists gives what the resolution says.
                        assert_eq!(org.exchange_does(r.listed, &d), r.exchange);
                    }
                }
            }
        }
        let org = OrgAccess {
            rules: vec![rule(DeviceModel, "Pixel 8", AccessLevel::Allow)],
            default_level: AccessLevel::Quarantine,
        };
        let c = resolve(Action::Quarantine, &org, &d, RuleConflict::Report)
            .conflict
            .unwrap();
        assert_eq!(
            c.to_string(),
            "policy says Quarantine, device access rule \"Pixel 8 (DeviceModel)\" says Allow: left allowed"
        );
    }

    #[test]
    fn rules_the_connector_cannot_read_are_set_apart() {
        let rules = vec![
            DeviceAccessRule {
                identity: "a (DeviceModel)".into(),
                query_string: "a".into(),
                characteristic: Some(DeviceAccessCharacteristic::DeviceModel),
                access_level: Some(AccessLevel::Block),
            },
            DeviceAccessRule {
                identity: "b (XMSWLHeader)".into(),
                query_string: "b".into(),
                characteristic: None,
                access_level: Some(AccessLevel::Block),
            },
        ];
        let (org, unknown) = OrgAccess::from_rules(&rules, AccessLevel::Quarantine);
        assert_eq!(org.rules.len(), 1);
        assert_eq!(unknown, vec!["b (XMSWLHeader)"]);
    }
}
