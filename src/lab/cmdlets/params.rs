//! Parameter binding for the lab's cmdlets, the one place it happens: a command's parameters
//! are matched against what its [`Cmdlet`](super::Cmdlet) declares ([`Parameters`]) plus
//! PowerShell's and Exchange's common parameters, and read back through typed getters that
//! fail with PowerShell's binding errors (wrong type, missing mandatory parameter).
//!
//! It must not look at the org or run anything: binding errors are reported before a cmdlet
//! runs, as PowerShell does.

use super::CmdError;
use crate::wire::clixml::Value;
use crate::wire::exchange::opath::{Filter, Record};
use crate::wire::exchange::{AccessLevel, DeviceAccessCharacteristic, MultiValuedUpdate};
use crate::wire::psrp::objects::{Command, Parameter};

/// Parameters every cmdlet accepts (PowerShell's common parameters and Exchange's).
pub const COMMON: &[&str] = &[
    "Confirm",
    "WhatIf",
    "ErrorAction",
    "WarningAction",
    "InformationAction",
    "Verbose",
    "Debug",
    "DomainController",
    "OutVariable",
    "ErrorVariable",
    "WarningVariable",
    "OutBuffer",
    "PipelineVariable",
];

/// The parameters a cmdlet takes besides the common ones (`COMMON`).
#[derive(Debug, Clone, Copy)]
pub struct Parameters {
    /// Their names, as Exchange spells them (a caller may use any case).
    pub named: &'static [&'static str],
    /// The one a positional argument binds to; with none, a positional argument is refused.
    pub positional: Option<&'static str>,
}

impl Parameters {
    /// Named parameters; a positional argument binds to `Identity` (which must be one).
    pub const fn identity(named: &'static [&'static str]) -> Self {
        Parameters {
            named,
            positional: Some("Identity"),
        }
    }

    /// Named parameters only.
    pub const fn named(named: &'static [&'static str]) -> Self {
        Parameters {
            named,
            positional: None,
        }
    }

    /// Whether `name` (as Exchange spells it) is one of them or a common parameter.
    pub fn declares(&self, name: &str) -> bool {
        self.named.iter().chain(COMMON).any(|k| *k == name)
    }
}

/// Bound parameters of one command.
#[derive(Debug)]
pub struct Params {
    cmdlet: &'static str,
    declared: Parameters,
    values: Vec<(&'static str, Value)>,
}

/// A value as PowerShell prints it in binding errors (and as a string parameter takes it).
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Nil => "$null".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Object(o) => o
            .to_string
            .clone()
            .or_else(|| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        other => other
            .as_str()
            .map(str::to_string)
            .or_else(|| other.as_i64().map(|n| n.to_string()))
            .unwrap_or_default(),
    }
}

/// The strings of a list, or of a comma-separated string.
fn strings_of(v: &Value) -> Vec<String> {
    if let Some(items) = v.items() {
        return items.iter().flat_map(strings_of).collect();
    }
    match v {
        Value::Nil => Vec::new(),
        _ => value_text(v)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    }
}

impl Params {
    /// Bind `cmd`'s parameters to those `declared` (plus the common ones) of `cmdlet`; the
    /// first positional argument binds to the declared positional parameter.
    pub fn bind(
        cmdlet: &'static str,
        cmd: &Command,
        declared: Parameters,
    ) -> Result<Params, CmdError> {
        let mut values = Vec::new();
        let mut positional_used = false;
        for Parameter { name, value } in &cmd.parameters {
            let name = match name {
                Some(n) => {
                    let n = n.trim_start_matches('-').trim_end_matches(':');
                    declared
                        .named
                        .iter()
                        .chain(COMMON)
                        .find(|k| k.eq_ignore_ascii_case(n))
                        .copied()
                        .ok_or_else(|| CmdError::ParameterNotFound {
                            cmdlet,
                            name: n.to_string(),
                        })?
                }
                None => match declared.positional {
                    Some(t) if !positional_used => {
                        positional_used = true;
                        t
                    }
                    _ => {
                        return Err(CmdError::Positional {
                            cmdlet,
                            arg: value_text(value),
                        })
                    }
                },
            };
            values.push((name, value.clone()));
        }
        Ok(Params {
            cmdlet,
            declared,
            values,
        })
    }

    /// The value bound to `name`. Asking for a parameter the cmdlet does not declare is a
    /// bug in the cmdlet (debug builds stop on it).
    fn get(&self, name: &str) -> Option<&Value> {
        debug_assert!(
            self.declared.declares(name),
            "{} reads -{name}, which it does not declare",
            self.cmdlet
        );
        self.values.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// Every bound parameter, in the order given.
    pub fn bound(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.values.iter().map(|(k, v)| (*k, v))
    }

    /// Whether the parameter was given.
    pub fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// PowerShell's error for a value `param` cannot take.
    pub fn bad(&self, param: &str, value: &Value, ty: &'static str, reason: &str) -> CmdError {
        CmdError::BadArgument {
            cmdlet: self.cmdlet,
            param: param.to_string(),
            value: value_text(value),
            ty,
            reason: reason.to_string(),
        }
    }

    /// A string parameter.
    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(value_text)
    }

    /// A list of strings (a list, or a comma-separated string).
    pub fn strings(&self, name: &str) -> Option<Vec<String>> {
        self.get(name).map(strings_of)
    }

    /// A mandatory string parameter.
    pub fn required(&self, name: &str) -> Result<String, CmdError> {
        match self.string(name) {
            Some(s) if !s.trim().is_empty() && s != "$null" => Ok(s),
            _ => Err(CmdError::Missing {
                cmdlet: self.cmdlet,
                param: name.to_string(),
            }),
        }
    }

    /// A switch or boolean parameter (`-X`, `-X:$true`, `-X $false`, `-X 'true'`).
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, CmdError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        if v.is_nil() {
            return Ok(Some(true));
        }
        if let Some(b) = v.as_bool() {
            return Ok(Some(b));
        }
        match value_text(v).to_ascii_lowercase().as_str() {
            "true" | "$true" | "1" => Ok(Some(true)),
            "false" | "$false" | "0" => Ok(Some(false)),
            _ => Err(self.bad(name, v, "System.Boolean", "Invalid boolean value.")),
        }
    }

    /// `-WhatIf` given (and not `-WhatIf:$false`).
    pub fn whatif(&self) -> bool {
        matches!(self.boolean("WhatIf"), Ok(Some(true)))
    }

    /// `-ResultSize Unlimited|N`: the size (`None` for Unlimited, else 1000 unless given) and
    /// whether it was given.
    pub fn result_size(&self) -> Result<(Option<usize>, bool), CmdError> {
        let Some(v) = self.get("ResultSize") else {
            return Ok((Some(super::DEFAULT_RESULT_SIZE), false));
        };
        let text = value_text(v);
        if text.eq_ignore_ascii_case("unlimited") {
            return Ok((None, true));
        }
        match v
            .as_i64()
            .map(Ok)
            .unwrap_or_else(|| text.trim().parse::<i64>())
        {
            Ok(n) if n > 0 => Ok((Some(usize::try_from(n).unwrap_or(usize::MAX)), true)),
            _ => Err(self.bad(
                "ResultSize",
                v,
                "Microsoft.Exchange.Data.Unlimited`1[System.UInt32]",
                "The value must be a positive number or \"Unlimited\".",
            )),
        }
    }

    /// A multi-valued property parameter: a list (replace) or `@{Add=…; Remove=…}`.
    pub fn list_update(&self, name: &str) -> Result<Option<MultiValuedUpdate>, CmdError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        MultiValuedUpdate::from_value(v, strings_of, value_text)
            .map(Some)
            .map_err(|_| {
                self.bad(
                    name,
                    v,
                    "Microsoft.Exchange.Data.MultiValuedProperty`1[System.String]",
                    "The hash table may contain only the keys Add and Remove.",
                )
            })
    }

    /// `-Filter` parsed and checked against a sample record.
    pub fn filter(&self, sample: Option<&dyn Record>) -> Result<Option<Filter>, CmdError> {
        let Some(text) = self.string("Filter") else {
            return Ok(None);
        };
        let err = |source| CmdError::Filter {
            cmdlet: self.cmdlet,
            param: "Filter",
            source,
        };
        let f = Filter::parse(&text).map_err(err)?;
        if let Some(s) = sample {
            f.validate(s).map_err(err)?;
        }
        Ok(Some(f))
    }

    /// An access level given as `text`. The error names `AccessLevel` whichever parameter
    /// carried it (also `DefaultAccessLevel`), as the lab always has.
    pub fn access_level(&self, text: &str) -> Result<AccessLevel, CmdError> {
        self.enumerated(
            "AccessLevel",
            text,
            AccessLevel::parse,
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.DeviceAccessLevel",
            "Allow, Block, Quarantine",
        )
    }

    /// A device access rule's characteristic given as `text` (of `-Characteristic`).
    pub fn characteristic(&self, text: &str) -> Result<DeviceAccessCharacteristic, CmdError> {
        self.enumerated(
            "Characteristic",
            text,
            DeviceAccessCharacteristic::parse,
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.DeviceAccessCharacteristic",
            "DeviceType, DeviceModel, DeviceOS, UserAgent, XMSWLHeader",
        )
    }

    /// A value of the .NET enum `ty` (whose names are `names`) given as `text` to `param`.
    fn enumerated<T>(
        &self,
        param: &str,
        text: &str,
        parse: fn(&str) -> Option<T>,
        ty: &'static str,
        names: &str,
    ) -> Result<T, CmdError> {
        parse(text).ok_or_else(|| {
            self.bad(
                param,
                &Value::String(text.to_string()),
                ty,
                &format!("Unable to match the identifier name to a valid enumerator name. Specify one of the following enumerator names and try again: {names}"),
            )
        })
    }
}
