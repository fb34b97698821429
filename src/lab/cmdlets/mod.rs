//! The Exchange cmdlets the lab runs for `/PowerShell`. Each is a [`Cmdlet`]: what it is (a
//! [`Spec`]: its name, the parameters it accepts, the role it needs, the Exchange versions
//! that have it) and what it does over the in-memory [`Org`]. [`TABLE`] lists them all;
//! [`execute`] looks a command up there, binds its parameters (`params.rs`, the one place
//! binding happens) and runs it. The objects they emit are shaped like Exchange's (type
//! names, adapted properties with Exchange's names and types), built with `render.rs` (the
//! one place CLIXML objects are made; each family lists its objects' properties), and their
//! failures are Exchange's error records (`error.rs`).
//!
//! The families, one module each: `discovery` (Get-Command), `servers` (Get-ExchangeServer,
//! Set-ADServerSettings), `mailboxes` (Get-Recipient, Get/Set-CASMailbox), `devices` (Get,
//! statistics, Clear and Remove of mobile devices), `classes` (Get-ActiveSyncDeviceClass),
//! `organization` (Get/Set-ActiveSyncOrganizationSettings), `rules` (device access rules),
//! `policies` (mailbox policies) and `groups` (Get-DistributionGroupMember). Adding a cmdlet is one type in its family's module (or a
//! new module) and one line in [`TABLE`]; the tests walk the table, so a cmdlet added by half
//! fails them.
//!
//! The runspace is in no-language mode like Exchange's: only commands run, scripts are refused.
//! A cmdlet the caller's roles do not grant does not exist for that caller (as with RBAC's
//! proxy runspace), nor does one the org's Exchange version lacks. Large results are not
//! rendered up front: a [`Lazy`] keeps the matching indices and renders objects page by page,
//! so 100 000 devices never sit in memory as objects. This module knows nothing of WS-Man or
//! PSRP framing and must not do I/O; it must never put a password into an error.
//!
//! Lab-only deviations from Exchange: `Get-ExchangeServer` reports `Fqdn` as the CAS's
//! `host:port` (e.g. `127.0.0.1:4443`) so a client can reach it; times are UTC; one command
//! per pipeline (no `|`); object GUIDs are derived from the seed; `-Filter` knows the
//! properties listed in the filterable records of the families, not every Exchange property.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod classes;
mod devices;
mod discovery;
mod error;
mod groups;
mod mailboxes;
mod organization;
mod params;
mod policies;
mod render;
mod rules;
mod servers;

use std::sync::RwLock;

use super::accounts::{Account, Role};
use super::org::{ExchangeVersion, Org};
use crate::wire::clixml::Value;
use crate::wire::psrp::objects::Command;

pub use error::CmdError;
pub use params::{Parameters, Params};

/// Exchange's default `ResultSize`.
pub const DEFAULT_RESULT_SIZE: usize = 1000;

/// The lab's domain controller, as Exchange names it in objects and errors.
const DOMAIN_CONTROLLER: &str = "LAB-DC01.contoso.test";

/// One CAS as `Get-ExchangeServer` reports it.
#[derive(Debug, Clone)]
pub struct ServerDesc {
    pub name: String,
    /// `host:port` (the lab's stand-in for an FQDN).
    pub address: String,
}

/// Who runs a command, where and when.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub account: &'a Account,
    pub servers: &'a [ServerDesc],
    /// The CAS answering (for error ids).
    pub server: &'a str,
    pub now: i64,
}

/// One record a command emits, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Emitted {
    Output(Value),
    Warning(String),
    /// A non-terminating error record.
    Error(Value),
}

/// Renders the object at an index into the org's devices or mailboxes; `None` when the index
/// no longer names one (a device removed meanwhile).
pub type Render = fn(&Org, u32) -> Option<Value>;

/// Objects still to render: indices into the org's devices or mailboxes.
#[derive(Debug, Clone)]
pub struct Lazy {
    pub render: Render,
    pub indices: Vec<u32>,
    pub pos: usize,
}

impl Lazy {
    /// Render the next object; `None` when done. An index that vanished meanwhile (device
    /// removed) is skipped.
    pub fn next_value(&mut self, org: &Org) -> Option<Value> {
        loop {
            let &i = self.indices.get(self.pos)?;
            self.pos += 1;
            if let Some(v) = (self.render)(org, i) {
                return Some(v);
            }
        }
    }

    /// Objects not rendered yet.
    pub fn remaining(&self) -> usize {
        self.indices.len().saturating_sub(self.pos)
    }
}

/// How the pipeline ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Completed,
    /// Failed with this error record (PIPELINE_STATE carries it).
    Failed(Value),
}

/// The result of running a pipeline: records, then lazily rendered objects, then trailing
/// records, then the outcome.
#[derive(Debug, Clone)]
pub struct Execution {
    pub records: Vec<Emitted>,
    pub lazy: Option<Lazy>,
    pub trailing: Vec<Emitted>,
    pub outcome: Outcome,
}

impl Execution {
    /// Completed with these records.
    fn done(records: Vec<Emitted>) -> Self {
        Execution {
            records,
            lazy: None,
            trailing: Vec::new(),
            outcome: Outcome::Completed,
        }
    }

    /// Completed with these objects, the first `size` of them (all with `None`), rendered
    /// lazily; a warning follows when more matched.
    fn listing(mut indices: Vec<u32>, size: Option<usize>, explicit: bool, render: Render) -> Self {
        let mut trailing = Vec::new();
        if let Some(n) = size {
            if indices.len() > n {
                indices.truncate(n);
                trailing.push(Emitted::Warning(truncation_warning(explicit)));
            }
        }
        Execution {
            records: Vec::new(),
            lazy: Some(Lazy {
                render,
                indices,
                pos: 0,
            }),
            trailing,
            outcome: Outcome::Completed,
        }
    }

    /// Completed with the objects of `items` that `-Identity` names (all without it), or
    /// Exchange's not-found error when it names none.
    fn picked<'a, T: 'a>(
        cmdlet: &'static str,
        identity: Option<String>,
        items: impl IntoIterator<Item = &'a T>,
        is: impl Fn(&T, &str) -> bool,
        render: impl Fn(&T) -> Value,
    ) -> Result<Self, CmdError> {
        let out: Vec<Emitted> = items
            .into_iter()
            .filter(|x| identity.as_deref().is_none_or(|i| is(x, i)))
            .map(|x| Emitted::Output(render(x)))
            .collect();
        match identity {
            Some(i) if out.is_empty() => Err(CmdError::not_found(cmdlet, &i)),
            _ => Ok(Execution::done(out)),
        }
    }
}

/// The warning Exchange adds when `ResultSize` cut a listing short.
fn truncation_warning(explicit: bool) -> String {
    if explicit {
        "There are more results available than are currently displayed. To view them, increase the value for the ResultSize parameter.".into()
    } else {
        "By default, only the first 1000 items are returned. Use the ResultSize parameter to specify the number of items returned. To return all items, specify \"-ResultSize Unlimited\". Be aware that, depending on the actual number of items, returning all items can take a long time and consume a large amount of memory. Also, we don't recommend storing the results in a variable. Instead, pipe the results to another task or script to perform batch changes.".into()
    }
}

// ---------------------------------------------------------------------------------------
// The cmdlet trait and the table.

/// Who may run a cmdlet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Anyone who may log in.
    Anyone,
    /// Any management role (view-only is enough).
    View,
    Role(Role),
}

impl Needs {
    fn granted_to(self, account: &Account) -> bool {
        match self {
            Needs::Anyone => true,
            Needs::View => !account.roles.is_empty(),
            Needs::Role(r) => account.roles.contains(&r),
        }
    }
}

/// The Exchange versions that have a cmdlet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versions {
    /// 2010 and later.
    All,
    /// 2013 and later (the `*-MobileDevice*` names).
    Since2013,
}

impl Versions {
    pub fn include(self, version: ExchangeVersion) -> bool {
        match self {
            Versions::All => true,
            Versions::Since2013 => version.has_mobile_device_cmdlets(),
        }
    }
}

/// Which of its two names a cmdlet goes by: Exchange 2010's `*-ActiveSync*` (still there in
/// later versions) or the `*-MobileDevice*` name 2013 added. Both run the same code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    ActiveSync,
    MobileDevice,
}

impl Naming {
    /// `activesync` or `mobile_device`, whichever this naming picks.
    pub const fn pick(self, activesync: &'static str, mobile_device: &'static str) -> &'static str {
        match self {
            Naming::ActiveSync => activesync,
            Naming::MobileDevice => mobile_device,
        }
    }

    pub const fn versions(self) -> Versions {
        match self {
            Naming::ActiveSync => Versions::All,
            Naming::MobileDevice => Versions::Since2013,
        }
    }
}

/// What the lab knows of a cmdlet before running it.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Its name, as Exchange spells it.
    pub name: &'static str,
    /// The parameters it takes besides the common ones; the binder refuses any other.
    pub parameters: Parameters,
    /// Who may run it (and see it in `Get-Command`).
    pub needs: Needs,
    /// The Exchange versions that have it.
    pub versions: Versions,
}

/// One cmdlet of the lab: what it is ([`Spec`]) and what it does.
pub trait Cmdlet: Sync {
    fn spec(&self) -> Spec;
    /// Run it with its bound parameters.
    fn run(&self, org: &RwLock<Org>, ctx: &Context<'_>, p: &Params) -> Result<Execution, CmdError>;

    fn name(&self) -> &'static str {
        self.spec().name
    }
}

/// Every cmdlet of the lab, in the order `Get-Command` lists them.
pub static TABLE: &[&dyn Cmdlet] = &[
    &discovery::GetCommand,
    &servers::GetExchangeServer,
    &servers::SetAdServerSettings,
    &mailboxes::GetRecipient,
    &devices::GetDevice(Naming::MobileDevice),
    &devices::GetDevice(Naming::ActiveSync),
    &devices::GetStatistics(Naming::MobileDevice),
    &devices::GetStatistics(Naming::ActiveSync),
    &classes::GetDeviceClass,
    &mailboxes::GetCasMailbox,
    &mailboxes::SetCasMailbox,
    &groups::GetDistributionGroupMember,
    &devices::ClearDevice(Naming::MobileDevice),
    &devices::ClearDevice(Naming::ActiveSync),
    &devices::RemoveDevice(Naming::MobileDevice),
    &devices::RemoveDevice(Naming::ActiveSync),
    &organization::GetSettings,
    &organization::SetSettings,
    &rules::GetRule,
    &rules::NewRule,
    &rules::SetRule,
    &rules::RemoveRule,
    &policies::GetPolicy(Naming::ActiveSync),
    &policies::NewPolicy(Naming::ActiveSync),
    &policies::SetPolicy(Naming::ActiveSync),
    &policies::RemovePolicy(Naming::ActiveSync),
    &policies::GetPolicy(Naming::MobileDevice),
    &policies::NewPolicy(Naming::MobileDevice),
    &policies::SetPolicy(Naming::MobileDevice),
    &policies::RemovePolicy(Naming::MobileDevice),
];

fn allowed(spec: Spec, account: &Account, version: ExchangeVersion) -> bool {
    spec.versions.include(version) && spec.needs.granted_to(account)
}

/// The cmdlets `account` may run on an org of `version`, in table order.
pub fn visible_cmdlets(account: &Account, version: ExchangeVersion) -> Vec<&'static str> {
    TABLE
        .iter()
        .map(|c| c.spec())
        .filter(|s| allowed(*s, account, version))
        .map(|s| s.name)
        .collect()
}

/// The cmdlet `name` (any case, spaces around ignored), if `account` may run it on `version`.
fn lookup(name: &str, account: &Account, version: ExchangeVersion) -> Option<&'static dyn Cmdlet> {
    let name = name.trim();
    TABLE.iter().copied().find(|c| {
        let spec = c.spec();
        spec.name.eq_ignore_ascii_case(name) && allowed(spec, account, version)
    })
}

fn read(org: &RwLock<Org>) -> std::sync::RwLockReadGuard<'_, Org> {
    match org.read() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn write(org: &RwLock<Org>) -> std::sync::RwLockWriteGuard<'_, Org> {
    match org.write() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

// ---------------------------------------------------------------------------------------
// Execution.

/// Run one pipeline (a list of commands) as `ctx.account`.
pub fn execute(org: &RwLock<Org>, ctx: &Context<'_>, commands: &[Command]) -> Execution {
    match run(org, ctx, commands) {
        Ok(e) => e,
        Err(err) => {
            let rec = err.error_record(ctx.server);
            let records = if err.is_binding() {
                Vec::new()
            } else {
                vec![Emitted::Error(rec.clone())]
            };
            Execution {
                records,
                lazy: None,
                trailing: Vec::new(),
                outcome: Outcome::Failed(rec),
            }
        }
    }
}

fn run(org: &RwLock<Org>, ctx: &Context<'_>, commands: &[Command]) -> Result<Execution, CmdError> {
    let Some(cmd) = commands.first() else {
        return Ok(Execution::done(Vec::new()));
    };
    if cmd.is_script || commands.iter().any(|c| c.is_script) {
        return Err(CmdError::ScriptsNotAllowed {
            script: cmd.name.clone(),
        });
    }
    let version = read(org).version;
    let cmdlet = lookup(&cmd.name, ctx.account, version)
        .ok_or_else(|| CmdError::CommandNotFound(cmd.name.clone()))?;
    if let Some(next) = commands.get(1) {
        // Name the unsupported piece, but report unknown commands first.
        lookup(&next.name, ctx.account, version)
            .ok_or_else(|| CmdError::CommandNotFound(next.name.clone()))?;
        return Err(CmdError::Pipeline(cmdlet.name()));
    }
    let spec = cmdlet.spec();
    let p = Params::bind(spec.name, cmd, spec.parameters)?;
    cmdlet.run(org, ctx, &p)
}

#[cfg(test)]
mod golden;

#[cfg(test)]
mod tests;
