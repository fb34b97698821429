//! Expanding the groups the policy's rules name (`groups = [...]`) through Exchange, once per
//! sync: `Get-DistributionGroupMember` on each group, and again on every nested group (by its
//! primary SMTP address), each group read once however often rules name it or it is nested
//! (so a cycle ends) — once per spelling: a group named by its display name in one rule and
//! by its address in another is read twice; its members' primary SMTP addresses, aliases
//! and identities collected for the policy to match device owners with.
//!
//! A group Exchange refuses (unknown, or one it cannot list such as a dynamic group) is kept
//! as an error for the rules that name it: the plan then leaves the devices those rules would
//! decide as they are, rather than treat everybody as a non-member. It decides nothing itself.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::policy::{AccessPolicy, GroupMembers};
use crate::exchange::ops::{Exchange, ExchangeError};

/// What expanding the policy's groups found.
#[derive(Debug, Default)]
pub struct Expanded {
    pub members: GroupMembers,
    /// One line per group that could not be expanded, naming the rules that use it.
    pub problems: Vec<String>,
    /// `Get-DistributionGroupMember` calls made.
    pub calls: usize,
}

/// Expand every group the policy's rules name (nothing is read when none do).
pub async fn expand(ex: &impl Exchange, policy: &AccessPolicy) -> Result<Expanded, ExchangeError> {
    // Group (any case) → the rules naming it.
    let mut wanted: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for r in &policy.rules.0 {
        for g in &r.groups {
            wanted
                .entry(g.to_lowercase())
                .or_insert_with(|| (g.clone(), Vec::new()))
                .1
                .push(r.name.clone());
        }
    }
    let mut out = Expanded::default();
    // Each group's direct members, read once per sync (nested groups are shared).
    let mut read: BTreeMap<
        String,
        Result<Vec<crate::exchange::ops::GroupMember>, crate::exchange::ops::GroupRefused>,
    > = BTreeMap::new();
    for (key, (name, rules)) in wanted {
        let mut members = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([key.clone()]);
        let mut error = None;
        while let Some(g) = queue.pop_front() {
            if !seen.insert(g.clone()) {
                continue;
            }
            if !read.contains_key(&g) {
                out.calls += 1;
                let answer = ex.get_group_members(&g).await?;
                read.insert(g.clone(), answer);
            }
            match read.get(&g) {
                Some(Ok(direct)) => {
                    for m in direct {
                        if m.is_group() {
                            // The address is the most specific name a nested group has.
                            let id = [&m.primary_smtp_address, &m.identity, &m.name]
                                .into_iter()
                                .find(|s| !s.is_empty())
                                .map(|s| s.to_lowercase());
                            if let Some(id) = id {
                                queue.push_back(id);
                            }
                        } else {
                            for k in [&m.primary_smtp_address, &m.alias, &m.identity] {
                                if !k.is_empty() {
                                    members.insert(k.clone());
                                }
                            }
                        }
                    }
                }
                Some(Err(e)) => {
                    // Only the named group's own refusal makes it unknown; a nested group that
                    // vanished meanwhile is reported and skipped.
                    if g == key {
                        error = Some(e.clone());
                    } else {
                        out.problems
                            .push(format!("group \"{name}\": nested group {g}: {e}"));
                    }
                }
                None => {}
            }
        }
        match error {
            Some(e) => {
                out.problems.push(format!(
                    "rule {}: group \"{name}\" could not be expanded ({e}); the devices it would decide are left as they are",
                    rules
                        .iter()
                        .map(|r| format!("\"{r}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                out.members.insert_error(&name, e.to_string());
            }
            None => out.members.insert(&name, members),
        }
    }
    Ok(out)
}
