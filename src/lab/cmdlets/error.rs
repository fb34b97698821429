//! Why a lab cmdlet failed, in Exchange's and PowerShell's words, and the serialized
//! `ErrorRecord` each failure is sent as (exception types, category, fully qualified error id
//! as Exchange builds it).
//!
//! It must keep Exchange's wording to the letter: clients match on these messages and ids. It
//! must never carry a password.

use super::render::short_hash;
use super::DOMAIN_CONTROLLER;
use crate::lab::org::OrgError;
use crate::wire::clixml::{ErrorRecordBuilder, Value};
use crate::wire::exchange::opath::FilterError;

/// Why a command failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CmdError {
    #[error("The syntax is not supported by this runspace. This can occur if the runspace is in no-language mode.")]
    ScriptsNotAllowed { script: String },
    #[error("The term '{0}' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again.")]
    CommandNotFound(String),
    #[error("A parameter cannot be found that matches parameter name '{name}'.")]
    ParameterNotFound { cmdlet: &'static str, name: String },
    #[error("A positional parameter cannot be found that accepts argument '{arg}'.")]
    Positional { cmdlet: &'static str, arg: String },
    #[error(
        "Cannot process command because of one or more missing mandatory parameters: {param}."
    )]
    Missing { cmdlet: &'static str, param: String },
    #[error("Cannot bind parameter '{param}'. Cannot convert value \"{value}\" to type \"{ty}\". Error: \"{reason}\"")]
    BadArgument {
        cmdlet: &'static str,
        param: String,
        value: String,
        ty: &'static str,
        reason: String,
    },
    #[error("Cannot bind parameter '{param}' to the target. Exception setting \"{param}\": \"{source}\"")]
    Filter {
        cmdlet: &'static str,
        param: &'static str,
        source: FilterError,
    },
    #[error("The operation couldn't be performed because object '{identity}' couldn't be found on '{dc}'.")]
    NotFound {
        cmdlet: &'static str,
        identity: String,
        dc: &'static str,
    },
    #[error("{message}")]
    AlreadyExists {
        cmdlet: &'static str,
        message: String,
    },
    #[error("{message}")]
    Invalid {
        cmdlet: &'static str,
        message: String,
    },
    #[error("The lab runs one command per pipeline; '{0}' was piped into another command.")]
    Pipeline(&'static str),
}

/// The .NET class implementing `cmdlet` (for error ids and `Get-Command`).
pub fn task_class(cmdlet: &str) -> String {
    let ns = if cmdlet.contains("CASMailbox") || cmdlet.contains("Recipient") {
        "Microsoft.Exchange.Management.RecipientTasks"
    } else {
        "Microsoft.Exchange.Management.Tasks"
    };
    format!("{ns}.{}", cmdlet.replace('-', ""))
}

impl CmdError {
    /// Exchange's error for an `-Identity` (or `-Mailbox`) that names nothing.
    pub fn not_found(cmdlet: &'static str, identity: &str) -> Self {
        CmdError::NotFound {
            cmdlet,
            identity: identity.to_string(),
            dc: DOMAIN_CONTROLLER,
        }
    }

    /// What `cmdlet` reports when the org refuses a change.
    pub fn from_org(cmdlet: &'static str, e: OrgError) -> Self {
        match e {
            OrgError::NotFound(id) => CmdError::not_found(cmdlet, &id),
            OrgError::AlreadyExists(_) => CmdError::AlreadyExists {
                cmdlet,
                message: e.to_string(),
            },
            OrgError::Invalid(message) => CmdError::Invalid { cmdlet, message },
        }
    }

    /// Whether PowerShell reports this before the command runs (parameter binding, parsing,
    /// command lookup): then only PIPELINE_STATE Failed carries it, as in real traffic.
    pub fn is_binding(&self) -> bool {
        !matches!(
            self,
            CmdError::NotFound { .. } | CmdError::AlreadyExists { .. } | CmdError::Invalid { .. }
        )
    }

    /// The serialized ErrorRecord Exchange would send.
    pub fn error_record(&self, server: &str) -> Value {
        let msg = self.to_string();
        let binding_types = [
            "System.Management.Automation.ParameterBindingException",
            "System.Management.Automation.RuntimeException",
            "System.SystemException",
            "System.Exception",
            "System.Object",
        ];
        let binding = |id: &str, cmdlet: &str| {
            ErrorRecordBuilder::new(msg.clone(), format!("{id},{cmdlet}"))
                .exception_types(binding_types)
                .category(5, "InvalidArgument")
                .activity(cmdlet.to_string())
        };
        let b = match self {
            CmdError::ScriptsNotAllowed { script } => {
                ErrorRecordBuilder::new(msg, "ScriptsNotAllowed")
                    .exception_types([
                        "System.Management.Automation.ParseException",
                        "System.Management.Automation.RuntimeException",
                        "System.SystemException",
                        "System.Exception",
                        "System.Object",
                    ])
                    .category(17, "ParserError")
                    .target(script.clone(), "String")
            }
            CmdError::CommandNotFound(name) => {
                ErrorRecordBuilder::new(msg, "CommandNotFoundException")
                    .exception_types([
                        "System.Management.Automation.CommandNotFoundException",
                        "System.Management.Automation.RuntimeException",
                        "System.SystemException",
                        "System.Exception",
                        "System.Object",
                    ])
                    .category(13, "ObjectNotFound")
                    .target(name.clone(), "String")
            }
            CmdError::ParameterNotFound { cmdlet, .. } => binding("NamedParameterNotFound", cmdlet),
            CmdError::Positional { cmdlet, .. } => binding("PositionalParameterNotFound", cmdlet),
            CmdError::Missing { cmdlet, .. } => binding("MissingMandatoryParameter", cmdlet),
            CmdError::BadArgument { cmdlet, .. } => {
                binding("CannotConvertArgumentNoMessage", cmdlet)
            }
            CmdError::Filter { cmdlet, .. } => binding("ParameterBindingFailed", cmdlet),
            CmdError::Pipeline(cmdlet) => {
                ErrorRecordBuilder::new(msg, format!("PipelineNotSupported,{cmdlet}"))
                    .category(8, "InvalidOperation")
                    .activity(cmdlet.to_string())
            }
            CmdError::NotFound { cmdlet, .. } => exchange_error(
                msg,
                cmdlet,
                server,
                "ManagementObjectNotFoundException",
                &[
                    "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
                    "Microsoft.Exchange.Data.LocalizedException",
                    "System.Exception",
                    "System.Object",
                ],
            ),
            CmdError::AlreadyExists { cmdlet, .. } => exchange_error(
                msg,
                cmdlet,
                server,
                "ADObjectAlreadyExistsException",
                &[
                    "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
                    "Microsoft.Exchange.Data.Directory.ADOperationException",
                    "Microsoft.Exchange.Data.LocalizedException",
                    "System.Exception",
                    "System.Object",
                ],
            ),
            CmdError::Invalid { cmdlet, .. } => exchange_error(
                msg,
                cmdlet,
                server,
                "ArgumentException",
                &[
                    "System.ArgumentException",
                    "System.SystemException",
                    "System.Exception",
                    "System.Object",
                ],
            ),
        };
        b.build()
    }
}

/// An error thrown by an Exchange task, with Exchange's fully qualified error id.
fn exchange_error(
    msg: String,
    cmdlet: &str,
    server: &str,
    exception: &str,
    types: &[&str],
) -> ErrorRecordBuilder {
    let fqid = format!(
        "[Server={server}] [FailureCategory=Cmdlet-{exception}] {:08X},{}",
        short_hash(&msg),
        task_class(cmdlet)
    );
    let mut b = ErrorRecordBuilder::new(msg, fqid)
        .exception_types(types.iter().copied())
        .activity(cmdlet.to_string());
    b.reason = exception.to_string();
    b
}
