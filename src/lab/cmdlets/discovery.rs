//! `Get-Command`: the cmdlets the caller may run on this org (the table's entries its roles
//! grant and its Exchange version has), as `CmdletInfo` objects, filtered by name patterns.
//!
//! It must list exactly what [`execute`](super::execute) would run for the caller, no more.

use std::sync::RwLock;

use super::error::task_class;
use super::render::{object, s, DOTNET_OBJECT};
use super::{read, visible_cmdlets, CmdError, Cmdlet, Context, Emitted, Execution, Needs};
use super::{Parameters, Params, Spec, Versions};
use crate::lab::org::Org;
use crate::wire::clixml::Value;
use crate::wire::exchange::opath::wildcard_match;

/// `Get-Command`.
pub struct GetCommand;

impl Cmdlet for GetCommand {
    fn spec(&self) -> Spec {
        Spec {
            name: "Get-Command",
            parameters: Parameters {
                named: &["Name", "Module", "CommandType", "Noun", "Verb"],
                positional: Some("Name"),
            },
            needs: Needs::Anyone,
            versions: Versions::All,
        }
    }

    fn run(&self, org: &RwLock<Org>, ctx: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        let version = read(org).version;
        let visible = visible_cmdlets(ctx.account, version);
        let Some(patterns) = p.strings("Name") else {
            return Ok(Execution::done(
                visible
                    .iter()
                    .map(|n| Emitted::Output(command_object(n)))
                    .collect(),
            ));
        };
        let mut out = Vec::new();
        for pattern in patterns {
            let wild = pattern.contains(['*', '?']);
            let hits: Vec<&&str> = visible
                .iter()
                .filter(|n| wildcard_match(&pattern, n))
                .collect();
            if hits.is_empty() && !wild {
                let e = CmdError::CommandNotFound(pattern.clone());
                out.push(Emitted::Error(e.error_record(ctx.server)));
            }
            out.extend(hits.into_iter().map(|n| Emitted::Output(command_object(n))));
        }
        Ok(Execution::done(out))
    }
}

/// A `CmdletInfo` object for the cmdlet `name`.
fn command_object(name: &str) -> Value {
    let (verb, noun) = name.split_once('-').unwrap_or((name, ""));
    object(
        &[
            "System.Management.Automation.CmdletInfo",
            "System.Management.Automation.CommandInfo",
        ],
        DOTNET_OBJECT,
        name.into(),
        vec![
            ("Verb", s(verb)),
            ("Noun", s(noun)),
            ("HelpFile", s("Microsoft.Exchange.Management.dll-Help.xml")),
            ("ImplementingType", s(task_class(name))),
            ("Definition", s(format!("{name} [<CommonParameters>]"))),
            ("DefaultParameterSet", s("Identity")),
            ("Name", s(name)),
            (
                "CommandType",
                Value::enumeration("System.Management.Automation.CommandTypes", "Cmdlet", 8),
            ),
            (
                "Visibility",
                Value::enumeration(
                    "System.Management.Automation.SessionStateEntryVisibility",
                    "Public",
                    0,
                ),
            ),
            ("ModuleName", s("")),
            ("Module", Value::Nil),
        ],
    )
}
