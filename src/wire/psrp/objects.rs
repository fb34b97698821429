//! Builders and readers for the PSRP-specific objects a client and a server
//! exchange (MS-PSRP 2.2.2 / 2.2.3): SESSION_CAPABILITY, INIT_RUNSPACEPOOL,
//! APPLICATION_PRIVATE_DATA, RUNSPACEPOOL_STATE, CREATE_PIPELINE (a PowerShell
//! object of Commands with parameters), PIPELINE_STATE, PIPELINE_OUTPUT.
//!
//! Builders produce [`Value`]s shaped like Windows PowerShell's own output;
//! readers are what the lab server uses to understand a client's request and
//! what the client uses to understand state messages. Exchange's endpoint is
//! NoLanguage, so pipelines are commands only (`IsScript=false`). This module
//! must not do framing or transport, and its readers must return
//! [`ObjectError`] (not panic) on objects of the wrong shape.

use uuid::Uuid;

use super::message::{Destination, Message, MessageType};
use crate::clixml::{Collection, ListKind, PsObject, Value};

/// An object did not have the shape its message type requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// A required property is absent.
    #[error("missing property {0}")]
    Missing(&'static str),
    /// A property has the wrong type.
    #[error("property {0} has the wrong type")]
    WrongType(&'static str),
}

const PSOBJECT_LIST: &str = "System.Collections.Generic.List`1[[System.Management.Automation.PSObject, System.Management.Automation, Version=1.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35]]";

/// PSRP protocol versions this codec speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProtocolVersion {
    V2_1,
    V2_2,
    V2_3,
}

impl ProtocolVersion {
    /// `"2.1"`, `"2.2"` or `"2.3"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V2_1 => "2.1",
            ProtocolVersion::V2_2 => "2.2",
            ProtocolVersion::V2_3 => "2.3",
        }
    }

    /// Parse `"2.1"`..`"2.3"`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "2.1" => Some(ProtocolVersion::V2_1),
            "2.2" => Some(ProtocolVersion::V2_2),
            "2.3" => Some(ProtocolVersion::V2_3),
            _ => None,
        }
    }
}

fn ms(v: &Value) -> Result<&PsObject, ObjectError> {
    v.as_object().ok_or(ObjectError::WrongType("<root>"))
}

fn req<'a>(o: &'a PsObject, name: &'static str) -> Result<&'a Value, ObjectError> {
    o.get(name).ok_or(ObjectError::Missing(name))
}

fn req_str(o: &PsObject, name: &'static str) -> Result<String, ObjectError> {
    req(o, name)?
        .as_str()
        .map(str::to_string)
        .ok_or(ObjectError::WrongType(name))
}

fn req_i32(o: &PsObject, name: &'static str) -> Result<i32, ObjectError> {
    req(o, name)?.as_i32().ok_or(ObjectError::WrongType(name))
}

/// SESSION_CAPABILITY (MS-PSRP 2.2.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCapability {
    pub protocol_version: String,
    pub ps_version: String,
    pub serialization_version: String,
    /// Optional serialized TimeZone blob some clients send.
    pub time_zone: Option<Vec<u8>>,
}

impl SessionCapability {
    /// What a PowerShell 2.0-compatible client/server announces.
    pub fn new(protocol: ProtocolVersion) -> Self {
        SessionCapability {
            protocol_version: protocol.as_str().into(),
            ps_version: "2.0".into(),
            serialization_version: "1.1.0.1".into(),
            time_zone: None,
        }
    }

    /// As a CLIXML value.
    pub fn to_value(&self) -> Value {
        let mut o = PsObject::new()
            .with_extended(
                "protocolversion",
                Value::Version(self.protocol_version.clone()),
            )
            .with_extended("PSVersion", Value::Version(self.ps_version.clone()))
            .with_extended(
                "SerializationVersion",
                Value::Version(self.serialization_version.clone()),
            );
        if let Some(tz) = &self.time_zone {
            o = o.with_extended("TimeZone", Value::Bytes(tz.clone()));
        }
        Value::object(o)
    }

    /// Read from a CLIXML value.
    pub fn from_value(v: &Value) -> Result<Self, ObjectError> {
        let o = ms(v)?;
        Ok(SessionCapability {
            protocol_version: req_str(o, "protocolversion")?,
            ps_version: req_str(o, "PSVersion")?,
            serialization_version: req_str(o, "SerializationVersion")?,
            time_zone: match o.get("TimeZone") {
                Some(Value::Bytes(b)) => Some(b.clone()),
                _ => None,
            },
        })
    }

    /// The negotiated protocol version, if recognised.
    pub fn protocol(&self) -> Option<ProtocolVersion> {
        ProtocolVersion::parse(&self.protocol_version)
    }
}

/// HostInfo (MS-PSRP 2.2.3.14). Only the "no host" form is modelled; the
/// connector never offers an interactive host.
pub fn host_info_null() -> Value {
    Value::object(
        PsObject::new()
            .with_extended("_isHostNull", Value::Bool(true))
            .with_extended("_isHostUINull", Value::Bool(true))
            .with_extended("_isHostRawUINull", Value::Bool(true))
            .with_extended("_useRunspaceHost", Value::Bool(true)),
    )
}

/// `ApartmentState` enum value (UNKNOWN = 2 by default).
pub fn apartment_state(label: &str, value: i32) -> Value {
    Value::enumeration(
        "System.Management.Automation.Runspaces.ApartmentState",
        label,
        value,
    )
}

/// `PSThreadOptions` enum value (Default = 0).
pub fn thread_options(label: &str, value: i32) -> Value {
    Value::enumeration(
        "System.Management.Automation.Runspaces.PSThreadOptions",
        label,
        value,
    )
}

/// INIT_RUNSPACEPOOL (MS-PSRP 2.2.2.2).
#[derive(Debug, Clone, PartialEq)]
pub struct InitRunspacePool {
    pub min_runspaces: i32,
    pub max_runspaces: i32,
    /// PSThreadOptions enum value (Default = 0).
    pub thread_options: i32,
    /// ApartmentState enum value (UNKNOWN = 2).
    pub apartment_state: i32,
    /// Application arguments, a PSPrimitiveDictionary, or None for `<Nil/>`.
    pub application_arguments: Option<Vec<(String, Value)>>,
}

impl Default for InitRunspacePool {
    fn default() -> Self {
        InitRunspacePool {
            min_runspaces: 1,
            max_runspaces: 1,
            thread_options: 0,
            apartment_state: 2,
            application_arguments: None,
        }
    }
}

fn thread_options_label(v: i32) -> &'static str {
    match v {
        1 => "UseNewThread",
        2 => "ReuseThread",
        3 => "UseCurrentThread",
        _ => "Default",
    }
}

fn apartment_label(v: i32) -> &'static str {
    match v {
        0 => "STA",
        1 => "MTA",
        _ => "UNKNOWN",
    }
}

/// A `PSPrimitiveDictionary` with string keys.
pub fn primitive_dictionary(entries: &[(String, Value)]) -> Value {
    Value::object(PsObject {
        type_names: vec![
            "System.Management.Automation.PSPrimitiveDictionary".into(),
            "System.Collections.Hashtable".into(),
            "System.Object".into(),
        ],
        collection: Some(Collection::Dictionary(
            entries
                .iter()
                .map(|(k, v)| (Value::String(k.clone()), v.clone()))
                .collect(),
        )),
        ..PsObject::default()
    })
}

fn string_dict(v: &Value) -> Option<Vec<(String, Value)>> {
    match &v.as_object()?.collection {
        Some(Collection::Dictionary(e)) => e
            .iter()
            .map(|(k, v)| Some((k.as_str()?.to_string(), v.clone())))
            .collect(),
        _ => None,
    }
}

impl InitRunspacePool {
    /// As a CLIXML value.
    pub fn to_value(&self) -> Value {
        Value::object(
            PsObject::new()
                .with_extended("MinRunspaces", Value::Int32(self.min_runspaces))
                .with_extended("MaxRunspaces", Value::Int32(self.max_runspaces))
                .with_extended(
                    "PSThreadOptions",
                    thread_options(
                        thread_options_label(self.thread_options),
                        self.thread_options,
                    ),
                )
                .with_extended(
                    "ApartmentState",
                    apartment_state(apartment_label(self.apartment_state), self.apartment_state),
                )
                .with_extended("HostInfo", host_info_null())
                .with_extended(
                    "ApplicationArguments",
                    match &self.application_arguments {
                        Some(a) => primitive_dictionary(a),
                        None => Value::Nil,
                    },
                ),
        )
    }

    /// Read from a CLIXML value.
    pub fn from_value(v: &Value) -> Result<Self, ObjectError> {
        let o = ms(v)?;
        Ok(InitRunspacePool {
            min_runspaces: req_i32(o, "MinRunspaces")?,
            max_runspaces: req_i32(o, "MaxRunspaces")?,
            thread_options: o
                .get("PSThreadOptions")
                .and_then(Value::as_i32)
                .unwrap_or(0),
            apartment_state: o.get("ApartmentState").and_then(Value::as_i32).unwrap_or(2),
            application_arguments: o.get("ApplicationArguments").and_then(string_dict),
        })
    }
}

/// APPLICATION_PRIVATE_DATA (MS-PSRP 2.2.2.13) from its entries (Exchange
/// sends a PSPrimitiveDictionary; an empty one is fine for the lab).
pub fn application_private_data(entries: &[(String, Value)]) -> Value {
    Value::object(
        PsObject::new().with_extended("ApplicationPrivateData", primitive_dictionary(entries)),
    )
}

/// RunspacePoolState values (MS-PSRP 2.2.3.4).
pub mod runspace_pool_state {
    pub const BEFORE_OPEN: i32 = 0;
    pub const OPENING: i32 = 1;
    pub const OPENED: i32 = 2;
    pub const CLOSED: i32 = 3;
    pub const CLOSING: i32 = 4;
    pub const BROKEN: i32 = 5;
    pub const NEGOTIATION_SENT: i32 = 6;
    pub const NEGOTIATION_SUCCEEDED: i32 = 7;
    pub const CONNECTING: i32 = 8;
    pub const DISCONNECTED: i32 = 9;
}

/// PSInvocationState values for PIPELINE_STATE (MS-PSRP 2.2.3.5).
pub mod pipeline_state {
    pub const NOT_STARTED: i32 = 0;
    pub const RUNNING: i32 = 1;
    pub const STOPPING: i32 = 2;
    pub const STOPPED: i32 = 3;
    pub const COMPLETED: i32 = 4;
    pub const FAILED: i32 = 5;
    pub const DISCONNECTED: i32 = 6;
}

/// A state with an optional error record: RUNSPACEPOOL_STATE or PIPELINE_STATE.
#[derive(Debug, Clone, PartialEq)]
pub struct StateInfo {
    pub state: i32,
    /// `ExceptionAsErrorRecord`, when present.
    pub error: Option<Value>,
}

impl StateInfo {
    fn to_value(&self, field: &str) -> Value {
        let mut o = PsObject::new().with_extended(field, Value::Int32(self.state));
        if let Some(e) = &self.error {
            o = o.with_extended("ExceptionAsErrorRecord", e.clone());
        }
        Value::object(o)
    }

    fn from_value(v: &Value, field: &'static str) -> Result<Self, ObjectError> {
        let o = ms(v)?;
        Ok(StateInfo {
            state: req_i32(o, field)?,
            error: o
                .get("ExceptionAsErrorRecord")
                .filter(|e| !e.is_nil())
                .cloned(),
        })
    }

    /// RUNSPACEPOOL_STATE value.
    pub fn runspace_pool_value(&self) -> Value {
        self.to_value("RunspaceState")
    }

    /// PIPELINE_STATE value.
    pub fn pipeline_value(&self) -> Value {
        self.to_value("PipelineState")
    }

    /// Read a RUNSPACEPOOL_STATE.
    pub fn from_runspace_pool(v: &Value) -> Result<Self, ObjectError> {
        Self::from_value(v, "RunspaceState")
    }

    /// Read a PIPELINE_STATE.
    pub fn from_pipeline(v: &Value) -> Result<Self, ObjectError> {
        Self::from_value(v, "PipelineState")
    }
}

/// One command parameter: named (`-Identity x`) or positional (name None).
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: Option<String>,
    pub value: Value,
}

impl Parameter {
    /// `-name value`.
    pub fn named(name: impl Into<String>, value: impl Into<Value>) -> Self {
        Parameter {
            name: Some(name.into()),
            value: value.into(),
        }
    }

    /// A switch sent as `-name:$true`.
    pub fn switch(name: impl Into<String>) -> Self {
        Parameter::named(name, Value::Bool(true))
    }

    /// A switch sent with a nil value (how `AddParameter(name)` serializes).
    pub fn switch_nil(name: impl Into<String>) -> Self {
        Parameter::named(name, Value::Nil)
    }

    /// A positional argument.
    pub fn positional(value: impl Into<Value>) -> Self {
        Parameter {
            name: None,
            value: value.into(),
        }
    }
}

/// One command of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub name: String,
    /// Always false against Exchange (NoLanguage runspace).
    pub is_script: bool,
    pub use_local_scope: Option<bool>,
    pub parameters: Vec<Parameter>,
}

impl Command {
    /// A cmdlet invocation (`IsScript=false`).
    pub fn new(name: impl Into<String>) -> Self {
        Command {
            name: name.into(),
            is_script: false,
            use_local_scope: None,
            parameters: Vec::new(),
        }
    }

    /// Add a parameter.
    pub fn param(mut self, p: Parameter) -> Self {
        self.parameters.push(p);
        self
    }

    /// Add `-name value`.
    pub fn arg(self, name: &str, value: impl Into<Value>) -> Self {
        self.param(Parameter::named(name, value))
    }

    /// Add a switch `-name`.
    pub fn switch(self, name: &str) -> Self {
        self.param(Parameter::switch(name))
    }

    fn merge(label: &str, value: i32) -> Value {
        Value::enumeration(
            "System.Management.Automation.Runspaces.PipelineResultTypes",
            label,
            value,
        )
    }

    fn to_value(&self, protocol: ProtocolVersion) -> Value {
        let args = self
            .parameters
            .iter()
            .map(|p| {
                Value::object(
                    PsObject::new()
                        .with_extended("N", p.name.clone().map_or(Value::Nil, Value::String))
                        .with_extended("V", p.value.clone()),
                )
            })
            .collect();
        let mut o = PsObject::new()
            .with_extended("Cmd", Value::string(self.name.clone()))
            .with_extended("IsScript", Value::Bool(self.is_script))
            .with_extended(
                "UseLocalScope",
                self.use_local_scope.map_or(Value::Nil, Value::Bool),
            )
            .with_extended("MergeMyResult", Self::merge("None", 0))
            .with_extended("MergeToResult", Self::merge("None", 0))
            .with_extended("MergePreviousResults", Self::merge("None", 0))
            .with_extended("Args", Value::list([PSOBJECT_LIST, "System.Object"], args));
        if protocol >= ProtocolVersion::V2_2 {
            for n in ["MergeError", "MergeWarning", "MergeVerbose", "MergeDebug"] {
                o = o.with_extended(n, Self::merge("None", 0));
            }
        }
        if protocol >= ProtocolVersion::V2_3 {
            o = o.with_extended("MergeInformation", Self::merge("None", 0));
        }
        Value::object(o)
    }

    fn from_value(v: &Value) -> Result<Self, ObjectError> {
        let o = ms(v)?;
        let mut parameters = Vec::new();
        if let Some(args) = o.get("Args") {
            for a in args.items().ok_or(ObjectError::WrongType("Args"))? {
                let ao = a.as_object().ok_or(ObjectError::WrongType("Args"))?;
                let name = match ao.get("N") {
                    None | Some(Value::Nil) => None,
                    Some(n) => Some(n.as_str().ok_or(ObjectError::WrongType("N"))?.to_string()),
                };
                parameters.push(Parameter {
                    name,
                    value: ao.get("V").cloned().unwrap_or(Value::Nil),
                });
            }
        }
        Ok(Command {
            name: req_str(o, "Cmd")?,
            is_script: o.get("IsScript").and_then(Value::as_bool).unwrap_or(false),
            use_local_scope: o.get("UseLocalScope").and_then(Value::as_bool),
            parameters,
        })
    }
}

/// The CREATE_PIPELINE payload (MS-PSRP 2.2.2.10): a PowerShell object and
/// its invocation settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatePipeline {
    pub commands: Vec<Command>,
    pub no_input: bool,
    pub add_to_history: bool,
    pub is_nested: bool,
}

impl CreatePipeline {
    /// One pipeline of `commands`, no input, not in history.
    pub fn new(commands: Vec<Command>) -> Self {
        CreatePipeline {
            commands,
            no_input: true,
            add_to_history: false,
            is_nested: false,
        }
    }

    /// As a CLIXML value, shaped for `protocol`.
    pub fn to_value(&self, protocol: ProtocolVersion) -> Value {
        let cmds = self.commands.iter().map(|c| c.to_value(protocol)).collect();
        let powershell = PsObject::new()
            .with_extended("IsNested", Value::Bool(self.is_nested))
            .with_extended("ExtraCmds", Value::Nil)
            .with_extended("Cmds", Value::list([PSOBJECT_LIST, "System.Object"], cmds))
            .with_extended("History", Value::Nil)
            .with_extended("RedirectShellErrorOutputPipe", Value::Bool(false));
        Value::object(
            PsObject::new()
                .with_extended("NoInput", Value::Bool(self.no_input))
                .with_extended("ApartmentState", apartment_state("UNKNOWN", 2))
                .with_extended(
                    "RemoteStreamOptions",
                    Value::enumeration(
                        "System.Management.Automation.Runspaces.RemoteStreamOptions",
                        "AddInvocationInfo",
                        15,
                    ),
                )
                .with_extended("AddToHistory", Value::Bool(self.add_to_history))
                .with_extended("HostInfo", host_info_null())
                .with_extended("PowerShell", Value::object(powershell))
                .with_extended("IsNested", Value::Bool(self.is_nested)),
        )
    }

    /// Read from a CLIXML value (what the lab server does).
    pub fn from_value(v: &Value) -> Result<Self, ObjectError> {
        let o = ms(v)?;
        let ps = req(o, "PowerShell")?
            .as_object()
            .ok_or(ObjectError::WrongType("PowerShell"))?;
        let cmds = req(ps, "Cmds")?
            .items()
            .ok_or(ObjectError::WrongType("Cmds"))?;
        Ok(CreatePipeline {
            commands: cmds
                .iter()
                .map(Command::from_value)
                .collect::<Result<_, _>>()?,
            no_input: o.get("NoInput").and_then(Value::as_bool).unwrap_or(true),
            add_to_history: o
                .get("AddToHistory")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            is_nested: o.get("IsNested").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

/// Helper: a message from the client to the server.
pub fn to_server(t: MessageType, rpid: Uuid, pid: Uuid, v: &Value) -> Message {
    Message::new(Destination::Server, t, rpid, pid, v)
}

/// Helper: a message from the server to the client.
pub fn to_client(t: MessageType, rpid: Uuid, pid: Uuid, v: &Value) -> Message {
    Message::new(Destination::Client, t, rpid, pid, v)
}

/// A PIPELINE_OUTPUT message carrying `value`.
pub fn pipeline_output(rpid: Uuid, pid: Uuid, value: &Value) -> Message {
    to_client(MessageType::PipelineOutput, rpid, pid, value)
}

/// Is `v` a list object of the given kind?
pub fn is_list(v: &Value, kind: ListKind) -> bool {
    matches!(
        v.as_object().and_then(|o| o.collection.as_ref()),
        Some(Collection::List { kind: k, .. }) if *k == kind
    )
}
