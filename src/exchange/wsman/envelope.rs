//! Parsing WS-Man SOAP envelopes (requests and responses) into typed headers
//! and bodies, matching on namespace URIs so any prefix choice works.
//!
//! Stream, Arguments, creationXml and connectXml payloads are base64-decoded
//! here, but their content (PSRP fragments or raw WinRS bytes) is not
//! interpreted: that is `psrp`'s and `capture`'s job. Unknown headers are
//! ignored; an unknown body element is reported as [`Body::Other`]. SOAP faults
//! become [`Body::Fault`] and, via [`Envelope::into_result`], a typed error.
//! This module must not panic on any input.

use base64::Engine as _;

use super::fault::{parse_fault, WsManFault};
use super::ns;
use crate::exchange::xml::{self, Element, XmlError, XmlLimits};

/// Envelope parse errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Not well-formed XML, or over a size/depth limit.
    #[error("envelope XML: {0}")]
    Xml(#[from] XmlError),
    /// The root is not a SOAP 1.2 `Envelope`.
    #[error("root element is not a SOAP 1.2 Envelope")]
    NotSoap,
    /// No `Body`.
    #[error("envelope has no Body")]
    NoBody,
    /// A payload element whose text is not base64.
    #[error("{element} is not valid base64")]
    BadBase64 { element: &'static str },
    /// A header/body value has the wrong form.
    #[error("invalid {field}: {value:?}")]
    BadValue { field: &'static str, value: String },
}

/// `<wsman:Option>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsOption {
    pub name: String,
    pub value: String,
    pub must_comply: Option<bool>,
}

/// Header fields the connector cares about.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    pub action: Option<String>,
    pub to: Option<String>,
    pub message_id: Option<String>,
    pub relates_to: Option<String>,
    pub reply_to: Option<String>,
    pub resource_uri: Option<String>,
    /// All selectors (name, value); `ShellId` is the one that matters.
    pub selectors: Vec<(String, String)>,
    pub operation_timeout: Option<String>,
    pub max_envelope_size: Option<u64>,
    pub options: Vec<WsOption>,
    pub session_id: Option<String>,
    pub locale: Option<String>,
    pub data_locale: Option<String>,
    pub activity_id: Option<String>,
    /// Local names of every header element, in order (for shape comparison).
    pub element_names: Vec<String>,
}

impl Header {
    /// The `ShellId` selector.
    pub fn shell_id(&self) -> Option<&str> {
        self.selectors
            .iter()
            .find(|(n, _)| n == "ShellId")
            .map(|(_, v)| v.as_str())
    }

    /// An option's value by name.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|o| o.name == name)
            .map(|o| o.value.as_str())
    }
}

/// One `<rsp:Stream>` (in Send or ReceiveResponse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamData {
    pub name: String,
    pub command_id: Option<String>,
    pub end: bool,
    /// Decoded bytes.
    pub data: Vec<u8>,
}

/// `<rsp:CommandState>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandState {
    pub command_id: Option<String>,
    pub state: Option<String>,
    pub exit_code: Option<i64>,
}

impl CommandState {
    /// True when the state is `.../CommandState/Done`.
    pub fn is_done(&self) -> bool {
        self.state.as_deref() == Some(ns::command_state::DONE)
    }
}

/// `<rsp:Shell>` in a Create request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShellCreate {
    pub shell_id: Option<String>,
    pub name: Option<String>,
    pub input_streams: Option<String>,
    pub output_streams: Option<String>,
    /// Decoded creationXml (PSRP fragments) for PowerShell shells.
    pub creation_xml: Option<Vec<u8>>,
}

/// Shell facts in a CreateResponse or EnumerateResponse.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShellInfo {
    pub shell_id: Option<String>,
    pub resource_uri: Option<String>,
    pub state: Option<String>,
    pub owner: Option<String>,
    pub input_streams: Option<String>,
    pub output_streams: Option<String>,
}

/// The body of an envelope.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Empty body (Delete, DeleteResponse, SignalResponse-less servers, ...).
    Empty,
    /// Create request.
    CreateShell(ShellCreate),
    /// CreateResponse.
    Created {
        address: Option<String>,
        resource_uri: Option<String>,
        shell_id: Option<String>,
        shell: Option<ShellInfo>,
    },
    /// Command request (`rsp:CommandLine`).
    Command {
        command_id: Option<String>,
        command: Option<String>,
        /// Raw text of each `<rsp:Arguments>` (base64 PSRP for PowerShell shells).
        arguments: Vec<String>,
    },
    /// CommandResponse.
    CommandResponse { command_id: Option<String> },
    /// Send request.
    Send(Vec<StreamData>),
    /// SendResponse.
    SendResponse,
    /// Receive request: desired stream names and command id.
    Receive {
        streams: Option<String>,
        command_id: Option<String>,
    },
    /// ReceiveResponse.
    ReceiveResponse {
        streams: Vec<StreamData>,
        command_state: Option<CommandState>,
    },
    /// Signal request.
    Signal {
        command_id: Option<String>,
        code: Option<String>,
    },
    /// SignalResponse.
    SignalResponse,
    /// Connect request with decoded connectXml.
    Connect { connect_xml: Option<Vec<u8>> },
    /// ConnectResponse with decoded connectResponseXml.
    ConnectResponse {
        connect_response_xml: Option<Vec<u8>>,
    },
    /// Disconnect request.
    Disconnect,
    /// DisconnectResponse.
    DisconnectResponse,
    /// Reconnect request.
    Reconnect,
    /// ReconnectResponse.
    ReconnectResponse,
    /// Enumerate request.
    Enumerate,
    /// EnumerateResponse (shells listed).
    EnumerateResponse(Vec<ShellInfo>),
    /// A SOAP fault.
    Fault(WsManFault),
    /// Anything else (e.g. a WS-Management config Get response).
    Other { ns: Option<String>, name: String },
}

/// A parsed envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub header: Header,
    pub body: Body,
}

/// Limits used for envelopes: larger input, modest depth.
pub fn envelope_limits() -> XmlLimits {
    XmlLimits {
        max_depth: 32,
        max_elements: 200_000,
        max_input_len: 64 * 1024 * 1024,
    }
}

fn text(el: Option<&Element>) -> Option<String> {
    el.map(|e| e.text.trim().to_string())
}

fn b64(el: &Element, element: &'static str) -> Result<Vec<u8>, EnvelopeError> {
    let t = el.text.trim();
    let owned;
    let t = if t.bytes().any(|b| b.is_ascii_whitespace()) {
        owned = t
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect::<String>();
        owned.as_str()
    } else {
        t
    };
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .map_err(|_| EnvelopeError::BadBase64 { element })
}

fn parse_bool_attr(v: Option<&str>) -> bool {
    matches!(
        v.map(str::trim),
        Some("true") | Some("TRUE") | Some("True") | Some("1")
    )
}

fn parse_header(h: &Element) -> Result<Header, EnvelopeError> {
    let mut out = Header::default();
    for c in &h.children {
        out.element_names.push(c.name.clone());
        let ns = c.ns.as_deref().unwrap_or("");
        match (ns, c.name.as_str()) {
            (ns::ADDRESSING, "Action") => out.action = text(Some(c)),
            (ns::ADDRESSING, "To") => out.to = text(Some(c)),
            (ns::ADDRESSING, "MessageID") => out.message_id = text(Some(c)),
            (ns::ADDRESSING, "RelatesTo") => out.relates_to = text(Some(c)),
            (ns::ADDRESSING, "ReplyTo") => {
                out.reply_to = text(c.child(ns::ADDRESSING, "Address"));
            }
            (ns::WSMAN, "ResourceURI") => out.resource_uri = text(Some(c)),
            (ns::WSMAN, "OperationTimeout") => out.operation_timeout = text(Some(c)),
            (ns::WSMAN, "MaxEnvelopeSize") => {
                let t = c.text.trim();
                out.max_envelope_size = Some(t.parse().map_err(|_| EnvelopeError::BadValue {
                    field: "MaxEnvelopeSize",
                    value: t.chars().take(32).collect(),
                })?);
            }
            (ns::WSMAN, "SelectorSet") => {
                for s in c.children_named(ns::WSMAN, "Selector") {
                    out.selectors.push((
                        s.attr("Name").unwrap_or("").to_string(),
                        s.text.trim().to_string(),
                    ));
                }
            }
            (ns::WSMAN, "OptionSet") => {
                for o in c.children_named(ns::WSMAN, "Option") {
                    out.options.push(WsOption {
                        name: o.attr("Name").unwrap_or("").to_string(),
                        value: o.text.trim().to_string(),
                        must_comply: o.attr("MustComply").map(|v| parse_bool_attr(Some(v))),
                    });
                }
            }
            (ns::WSMAN, "Locale") => out.locale = c.attr("lang").map(str::to_string),
            (ns::WSMV, "DataLocale") => out.data_locale = c.attr("lang").map(str::to_string),
            (ns::WSMV, "SessionId") => out.session_id = text(Some(c)),
            (ns::WSMV, "ActivityId") => out.activity_id = text(Some(c)),
            _ => {}
        }
    }
    Ok(out)
}

fn streams(parent: &Element) -> Result<Vec<StreamData>, EnvelopeError> {
    parent
        .children_named(ns::SHELL, "Stream")
        .map(|s| {
            Ok(StreamData {
                name: s.attr("Name").unwrap_or("").to_string(),
                command_id: s.attr("CommandId").map(str::to_string),
                end: parse_bool_attr(s.attr("End")),
                data: b64(s, "Stream")?,
            })
        })
        .collect()
}

fn shell_info(s: &Element) -> ShellInfo {
    ShellInfo {
        shell_id: text(s.child(ns::SHELL, "ShellId")),
        resource_uri: text(s.child(ns::SHELL, "ResourceUri")),
        state: text(s.child(ns::SHELL, "State")),
        owner: text(s.child(ns::SHELL, "Owner")),
        input_streams: text(s.child(ns::SHELL, "InputStreams")),
        output_streams: text(s.child(ns::SHELL, "OutputStreams")),
    }
}

fn parse_body(body: &Element) -> Result<Body, EnvelopeError> {
    let Some(first) = body.children.first() else {
        return Ok(Body::Empty);
    };
    let ns = first.ns.as_deref().unwrap_or("");
    Ok(match (ns, first.name.as_str()) {
        (ns::SOAP, "Fault") => Body::Fault(parse_fault(first)),
        (ns::SHELL, "Shell") => Body::CreateShell(ShellCreate {
            shell_id: first.attr("ShellId").map(str::to_string),
            name: first.attr("Name").map(str::to_string),
            input_streams: text(first.child(ns::SHELL, "InputStreams")),
            output_streams: text(first.child(ns::SHELL, "OutputStreams")),
            creation_xml: first
                .child(ns::POWERSHELL, "creationXml")
                .map(|c| b64(c, "creationXml"))
                .transpose()?,
        }),
        (ns::TRANSFER, "ResourceCreated") => {
            let rp = first.child(ns::ADDRESSING, "ReferenceParameters");
            let shell_id = rp
                .and_then(|r| r.child(ns::WSMAN, "SelectorSet"))
                .and_then(|s| {
                    s.children_named(ns::WSMAN, "Selector")
                        .find(|x| x.attr("Name") == Some("ShellId"))
                })
                .map(|x| x.text.trim().to_string());
            Body::Created {
                address: text(first.child(ns::ADDRESSING, "Address")),
                resource_uri: text(rp.and_then(|r| r.child(ns::WSMAN, "ResourceURI"))),
                shell_id,
                shell: body.child(ns::SHELL, "Shell").map(shell_info),
            }
        }
        (ns::SHELL, "CommandLine") => Body::Command {
            command_id: first.attr("CommandId").map(str::to_string),
            command: first.child(ns::SHELL, "Command").map(|c| c.text.clone()),
            arguments: first
                .children_named(ns::SHELL, "Arguments")
                .map(|a| a.text.clone())
                .collect(),
        },
        (ns::SHELL, "CommandResponse") => Body::CommandResponse {
            command_id: text(first.child(ns::SHELL, "CommandId")),
        },
        (ns::SHELL, "Send") => Body::Send(streams(first)?),
        (ns::SHELL, "SendResponse") => Body::SendResponse,
        (ns::SHELL, "Receive") => {
            let d = first.child(ns::SHELL, "DesiredStream");
            Body::Receive {
                streams: text(d),
                command_id: d.and_then(|d| d.attr("CommandId")).map(str::to_string),
            }
        }
        (ns::SHELL, "ReceiveResponse") => Body::ReceiveResponse {
            streams: streams(first)?,
            command_state: first
                .child(ns::SHELL, "CommandState")
                .map(|cs| {
                    let exit_code = match cs.child(ns::SHELL, "ExitCode") {
                        Some(e) => {
                            let t = e.text.trim();
                            Some(t.parse::<i64>().map_err(|_| EnvelopeError::BadValue {
                                field: "ExitCode",
                                value: t.chars().take(32).collect(),
                            })?)
                        }
                        None => None,
                    };
                    Ok::<_, EnvelopeError>(CommandState {
                        command_id: cs.attr("CommandId").map(str::to_string),
                        state: cs.attr("State").map(str::to_string),
                        exit_code,
                    })
                })
                .transpose()?,
        },
        (ns::SHELL, "Signal") => Body::Signal {
            command_id: first.attr("CommandId").map(str::to_string),
            code: text(first.child(ns::SHELL, "Code")),
        },
        (ns::SHELL, "SignalResponse") => Body::SignalResponse,
        (ns::SHELL, "Connect") => Body::Connect {
            connect_xml: first
                .child(ns::POWERSHELL, "connectXml")
                .map(|c| b64(c, "connectXml"))
                .transpose()?,
        },
        (ns::SHELL, "ConnectResponse") => Body::ConnectResponse {
            connect_response_xml: first
                .child(ns::POWERSHELL, "connectResponseXml")
                .map(|c| b64(c, "connectResponseXml"))
                .transpose()?,
        },
        (ns::SHELL, "Disconnect") => Body::Disconnect,
        (ns::SHELL, "DisconnectResponse") => Body::DisconnectResponse,
        (ns::SHELL, "Reconnect") => Body::Reconnect,
        (ns::SHELL, "ReconnectResponse") => Body::ReconnectResponse,
        (ns::ENUMERATION, "Enumerate") => Body::Enumerate,
        (ns::ENUMERATION, "EnumerateResponse") => Body::EnumerateResponse(
            first
                .child(ns::WSMAN, "Items")
                .map(|i| {
                    i.children_named(ns::SHELL, "Shell")
                        .map(shell_info)
                        .collect()
                })
                .unwrap_or_default(),
        ),
        _ => Body::Other {
            ns: first.ns.clone(),
            name: first.name.clone(),
        },
    })
}

/// A WS-Man fault turned into an error (see [`Envelope::into_result`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FaultError(pub Box<WsManFault>);

impl Envelope {
    /// Parse an envelope from text.
    pub fn parse(text: &str) -> Result<Envelope, EnvelopeError> {
        let root = xml::parse(text, &envelope_limits())?;
        Self::from_element(&root)
    }

    /// Parse from an already-built tree.
    pub fn from_element(root: &Element) -> Result<Envelope, EnvelopeError> {
        if !root.is(ns::SOAP, "Envelope") {
            return Err(EnvelopeError::NotSoap);
        }
        let header = match root.child(ns::SOAP, "Header") {
            Some(h) => parse_header(h)?,
            None => Header::default(),
        };
        let body = root.child(ns::SOAP, "Body").ok_or(EnvelopeError::NoBody)?;
        Ok(Envelope {
            header,
            body: parse_body(body)?,
        })
    }

    /// The fault, if this envelope carries one.
    pub fn fault(&self) -> Option<&WsManFault> {
        match &self.body {
            Body::Fault(f) => Some(f),
            _ => None,
        }
    }

    /// `Err` with the typed fault when the body is a fault, else the envelope.
    pub fn into_result(self) -> Result<Envelope, FaultError> {
        match self.body {
            Body::Fault(f) => Err(FaultError(Box::new(f))),
            _ => Ok(self),
        }
    }
}
