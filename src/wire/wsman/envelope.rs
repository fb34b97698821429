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
use crate::xml::{Element, XmlError, XmlLimits};

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
    b64_text(&el.text, element)
}

fn b64_text(t: &str, element: &'static str) -> Result<Vec<u8>, EnvelopeError> {
    // Payloads almost never carry whitespace: try them as they are, and only on failure strip
    // whitespace and retry (same result either way).
    if let Ok(v) = base64::engine::general_purpose::STANDARD.decode(t) {
        return Ok(v);
    }
    let compact: String = t.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
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
    /// Parse an envelope from text. Streams through the document (no tree is
    /// built except for a fault body) and gives the same result as
    /// [`Envelope::from_element`] on [`crate::xml::parse`]'s tree, errors included:
    /// XML errors anywhere win over envelope errors.
    pub fn parse(text: &str) -> Result<Envelope, EnvelopeError> {
        stream::parse(text)
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

/// The streaming envelope parser behind [`Envelope::parse`]. Every helper is
/// called right after an element's `Start` and consumes the element through
/// its `End`; envelope-level problems (bad base64, bad numbers) are collected
/// and reported only once the whole document proved well-formed.
mod stream {
    use std::borrow::Cow;

    use super::*;
    use crate::xml::{start_attr, Pull, PullEvent, Tag};

    type X<T> = Result<T, XmlError>;

    fn attr(s: &Tag<'_>, name: &str) -> Option<String> {
        start_attr(s, name).map(Cow::into_owned)
    }

    fn trimmed(p: &mut Pull<'_>) -> X<String> {
        Ok(p.text()?.trim().to_string())
    }

    /// Keeps the first envelope-level error.
    #[derive(Default)]
    struct Errs(Option<EnvelopeError>);

    impl Errs {
        fn take<T>(&mut self, r: Result<T, EnvelopeError>) -> Option<T> {
            match r {
                Ok(v) => Some(v),
                Err(e) => {
                    if self.0.is_none() {
                        self.0 = Some(e);
                    }
                    None
                }
            }
        }
    }

    /// Calls `f` for each child element start of the current element (which
    /// must consume it), ignoring direct text, until the element's end.
    fn children<'a>(p: &mut Pull<'a>, mut f: impl FnMut(&mut Pull<'a>, Tag<'a>) -> X<()>) -> X<()> {
        let target = p.depth().saturating_sub(1);
        loop {
            match p.next_event()? {
                PullEvent::Start(s) => f(p, s)?,
                PullEvent::End if p.depth() == target => return Ok(()),
                PullEvent::Eof => return Err(XmlError::Unclosed),
                _ => {}
            }
        }
    }

    /// The text of the first child `ns:name` (others skipped).
    fn first_child_text(p: &mut Pull<'_>, ns: &str, name: &str) -> X<Option<String>> {
        let mut out = None;
        children(p, |p, c| {
            if out.is_none() && p.is(&c, ns, name) {
                out = Some(trimmed(p)?);
                Ok(())
            } else {
                p.skip()
            }
        })?;
        Ok(out)
    }

    pub(super) fn parse(text: &str) -> Result<Envelope, EnvelopeError> {
        let mut p = Pull::new(text, &envelope_limits(), true)?;
        let root = loop {
            if let PullEvent::Start(s) = p.next_event()? {
                break s;
            }
        };
        if !p.is(&root, ns::SOAP, "Envelope") {
            p.skip()?;
            p.finish()?;
            return Err(EnvelopeError::NotSoap);
        }
        let mut header: Option<Result<Header, EnvelopeError>> = None;
        let mut body: Option<Result<Body, EnvelopeError>> = None;
        children(&mut p, |p, c| {
            if header.is_none() && p.is(&c, ns::SOAP, "Header") {
                header = Some(parse_header(p)?);
            } else if body.is_none() && p.is(&c, ns::SOAP, "Body") {
                body = Some(parse_body(p)?);
            } else {
                p.skip()?;
            }
            Ok(())
        })?;
        p.finish()?;
        let header = header.transpose()?.unwrap_or_default();
        let body = body.ok_or(EnvelopeError::NoBody)??;
        Ok(Envelope { header, body })
    }

    fn parse_header(p: &mut Pull<'_>) -> X<Result<Header, EnvelopeError>> {
        let mut out = Header::default();
        let mut errs = Errs::default();
        children(p, |p, c| {
            out.element_names.push(c.local_name().to_string());
            let local = c.local_name();
            let ns = p.ns(&c).unwrap_or("");
            match (ns, local) {
                (ns::ADDRESSING, "Action") => out.action = Some(trimmed(p)?),
                (ns::ADDRESSING, "To") => out.to = Some(trimmed(p)?),
                (ns::ADDRESSING, "MessageID") => out.message_id = Some(trimmed(p)?),
                (ns::ADDRESSING, "RelatesTo") => out.relates_to = Some(trimmed(p)?),
                (ns::ADDRESSING, "ReplyTo") => {
                    out.reply_to = first_child_text(p, ns::ADDRESSING, "Address")?;
                }
                (ns::WSMAN, "ResourceURI") => out.resource_uri = Some(trimmed(p)?),
                (ns::WSMAN, "OperationTimeout") => out.operation_timeout = Some(trimmed(p)?),
                (ns::WSMAN, "MaxEnvelopeSize") => {
                    let t = p.text()?;
                    let t = t.trim();
                    out.max_envelope_size =
                        errs.take(t.parse().map_err(|_| EnvelopeError::BadValue {
                            field: "MaxEnvelopeSize",
                            value: t.chars().take(32).collect(),
                        }));
                }
                (ns::WSMAN, "SelectorSet") => children(p, |p, s| {
                    if p.is(&s, ns::WSMAN, "Selector") {
                        let name = attr(&s, "Name").unwrap_or_default();
                        out.selectors.push((name, trimmed(p)?));
                        Ok(())
                    } else {
                        p.skip()
                    }
                })?,
                (ns::WSMAN, "OptionSet") => children(p, |p, o| {
                    if p.is(&o, ns::WSMAN, "Option") {
                        let name = attr(&o, "Name").unwrap_or_default();
                        let must_comply =
                            start_attr(&o, "MustComply").map(|v| parse_bool_attr(Some(&v)));
                        out.options.push(WsOption {
                            name,
                            value: trimmed(p)?,
                            must_comply,
                        });
                        Ok(())
                    } else {
                        p.skip()
                    }
                })?,
                (ns::WSMAN, "Locale") => {
                    out.locale = attr(&c, "lang");
                    p.skip()?;
                }
                (ns::WSMV, "DataLocale") => {
                    out.data_locale = attr(&c, "lang");
                    p.skip()?;
                }
                (ns::WSMV, "SessionId") => out.session_id = Some(trimmed(p)?),
                (ns::WSMV, "ActivityId") => out.activity_id = Some(trimmed(p)?),
                _ => p.skip()?,
            }
            Ok(())
        })?;
        Ok(match errs.0 {
            Some(e) => Err(e),
            None => Ok(out),
        })
    }

    /// All `rsp:Stream` children of a Send/ReceiveResponse, plus (for
    /// ReceiveResponse) the first `rsp:CommandState`.
    fn streams(
        p: &mut Pull<'_>,
        stream_errs: &mut Errs,
        mut state: Option<(&mut Option<CommandState>, &mut Errs)>,
    ) -> X<Vec<StreamData>> {
        let mut out = Vec::new();
        let mut saw_state = false;
        children(p, |p, c| {
            if p.is(&c, ns::SHELL, "Stream") {
                let name = attr(&c, "Name").unwrap_or_default();
                let command_id = attr(&c, "CommandId");
                let end = parse_bool_attr(start_attr(&c, "End").as_deref());
                let t = p.text()?;
                if let Some(data) = stream_errs.take(b64_text(&t, "Stream")) {
                    out.push(StreamData {
                        name,
                        command_id,
                        end,
                        data,
                    });
                }
                return Ok(());
            }
            if let Some((cs, errs)) = state.as_mut() {
                if !saw_state && p.is(&c, ns::SHELL, "CommandState") {
                    saw_state = true;
                    let command_id = attr(&c, "CommandId");
                    let st = attr(&c, "State");
                    let mut exit: Option<Result<i64, EnvelopeError>> = None;
                    children(p, |p, e| {
                        if exit.is_none() && p.is(&e, ns::SHELL, "ExitCode") {
                            let t = p.text()?;
                            let t = t.trim();
                            exit = Some(t.parse::<i64>().map_err(|_| EnvelopeError::BadValue {
                                field: "ExitCode",
                                value: t.chars().take(32).collect(),
                            }));
                            Ok(())
                        } else {
                            p.skip()
                        }
                    })?;
                    let exit_code = match exit {
                        Some(r) => errs.take(r),
                        None => None,
                    };
                    **cs = Some(CommandState {
                        command_id,
                        state: st,
                        exit_code,
                    });
                    return Ok(());
                }
            }
            p.skip()
        })?;
        Ok(out)
    }

    fn shell_info(p: &mut Pull<'_>) -> X<ShellInfo> {
        let mut out = ShellInfo::default();
        children(p, |p, c| {
            let slot = match (p.ns(&c), c.local_name()) {
                (Some(ns::SHELL), "ShellId") => &mut out.shell_id,
                (Some(ns::SHELL), "ResourceUri") => &mut out.resource_uri,
                (Some(ns::SHELL), "State") => &mut out.state,
                (Some(ns::SHELL), "Owner") => &mut out.owner,
                (Some(ns::SHELL), "InputStreams") => &mut out.input_streams,
                (Some(ns::SHELL), "OutputStreams") => &mut out.output_streams,
                _ => return p.skip(),
            };
            if slot.is_none() {
                *slot = Some(trimmed(p)?);
                Ok(())
            } else {
                p.skip()
            }
        })?;
        Ok(out)
    }

    /// The first `ns:name` child decoded as base64 (`None` if absent).
    fn first_child_b64(
        p: &mut Pull<'_>,
        ns: &str,
        name: &'static str,
    ) -> X<Result<Option<Vec<u8>>, EnvelopeError>> {
        let mut out = None;
        children(p, |p, c| {
            if out.is_none() && p.is(&c, ns, name) {
                out = Some(b64_text(&p.text()?, name));
                Ok(())
            } else {
                p.skip()
            }
        })?;
        Ok(out.transpose())
    }

    fn parse_body(p: &mut Pull<'_>) -> X<Result<Body, EnvelopeError>> {
        let mut body: Option<Result<Body, EnvelopeError>> = None;
        // ResourceCreated: the first rsp:Shell sibling after it.
        let mut want_shell = false;
        let mut created_shell: Option<ShellInfo> = None;
        children(p, |p, first| {
            if body.is_some() {
                if want_shell && created_shell.is_none() && p.is(&first, ns::SHELL, "Shell") {
                    created_shell = Some(shell_info(p)?);
                    return Ok(());
                }
                return p.skip();
            }
            let fns = p.ns(&first).unwrap_or("");
            let b = match (fns, first.local_name()) {
                (ns::SOAP, "Fault") => Ok(Body::Fault(parse_fault(&p.element(&first)?))),
                (ns::SHELL, "Shell") => {
                    let shell_id = attr(&first, "ShellId");
                    let name = attr(&first, "Name");
                    let mut c = ShellCreate {
                        shell_id,
                        name,
                        ..ShellCreate::default()
                    };
                    let mut xml: Option<Result<Vec<u8>, EnvelopeError>> = None;
                    children(p, |p, e| {
                        match (p.ns(&e), e.local_name()) {
                            (Some(ns::SHELL), "InputStreams") if c.input_streams.is_none() => {
                                c.input_streams = Some(trimmed(p)?);
                            }
                            (Some(ns::SHELL), "OutputStreams") if c.output_streams.is_none() => {
                                c.output_streams = Some(trimmed(p)?);
                            }
                            (Some(ns::POWERSHELL), "creationXml") if xml.is_none() => {
                                xml = Some(b64_text(&p.text()?, "creationXml"));
                            }
                            _ => p.skip()?,
                        }
                        Ok(())
                    })?;
                    xml.transpose().map(|x| {
                        c.creation_xml = x;
                        Body::CreateShell(c)
                    })
                }
                (ns::TRANSFER, "ResourceCreated") => {
                    want_shell = true;
                    let mut address = None;
                    let mut rp_seen = false;
                    let mut resource_uri = None;
                    let mut shell_id = None;
                    children(p, |p, c| {
                        if address.is_none() && p.is(&c, ns::ADDRESSING, "Address") {
                            address = Some(trimmed(p)?);
                            return Ok(());
                        }
                        if rp_seen || !p.is(&c, ns::ADDRESSING, "ReferenceParameters") {
                            return p.skip();
                        }
                        rp_seen = true;
                        let mut set_seen = false;
                        children(p, |p, r| {
                            if resource_uri.is_none() && p.is(&r, ns::WSMAN, "ResourceURI") {
                                resource_uri = Some(trimmed(p)?);
                                return Ok(());
                            }
                            if set_seen || !p.is(&r, ns::WSMAN, "SelectorSet") {
                                return p.skip();
                            }
                            set_seen = true;
                            children(p, |p, s| {
                                if shell_id.is_none()
                                    && p.is(&s, ns::WSMAN, "Selector")
                                    && start_attr(&s, "Name").as_deref() == Some("ShellId")
                                {
                                    shell_id = Some(trimmed(p)?);
                                    Ok(())
                                } else {
                                    p.skip()
                                }
                            })
                        })
                    })?;
                    Ok(Body::Created {
                        address,
                        resource_uri,
                        shell_id,
                        shell: None,
                    })
                }
                (ns::SHELL, "CommandLine") => {
                    let command_id = attr(&first, "CommandId");
                    let mut command = None;
                    let mut arguments = Vec::new();
                    children(p, |p, c| {
                        match (p.ns(&c), c.local_name()) {
                            (Some(ns::SHELL), "Command") if command.is_none() => {
                                command = Some(p.text()?.into_owned());
                            }
                            (Some(ns::SHELL), "Arguments") => {
                                arguments.push(p.text()?.into_owned());
                            }
                            _ => p.skip()?,
                        }
                        Ok(())
                    })?;
                    Ok(Body::Command {
                        command_id,
                        command,
                        arguments,
                    })
                }
                (ns::SHELL, "CommandResponse") => Ok(Body::CommandResponse {
                    command_id: first_child_text(p, ns::SHELL, "CommandId")?,
                }),
                (ns::SHELL, "Send") => {
                    let mut errs = Errs::default();
                    let s = streams(p, &mut errs, None)?;
                    match errs.0 {
                        Some(e) => Err(e),
                        None => Ok(Body::Send(s)),
                    }
                }
                (ns::SHELL, "Receive") => {
                    let mut out = None;
                    children(p, |p, d| {
                        if out.is_none() && p.is(&d, ns::SHELL, "DesiredStream") {
                            let command_id = attr(&d, "CommandId");
                            out = Some((trimmed(p)?, command_id));
                            Ok(())
                        } else {
                            p.skip()
                        }
                    })?;
                    let (streams, command_id) = match out {
                        Some((s, c)) => (Some(s), c),
                        None => (None, None),
                    };
                    Ok(Body::Receive {
                        streams,
                        command_id,
                    })
                }
                (ns::SHELL, "ReceiveResponse") => {
                    let mut errs = Errs::default();
                    let mut cs_errs = Errs::default();
                    let mut command_state = None;
                    let streams = streams(p, &mut errs, Some((&mut command_state, &mut cs_errs)))?;
                    match errs.0.or(cs_errs.0) {
                        Some(e) => Err(e),
                        None => Ok(Body::ReceiveResponse {
                            streams,
                            command_state,
                        }),
                    }
                }
                (ns::SHELL, "Signal") => {
                    let command_id = attr(&first, "CommandId");
                    Ok(Body::Signal {
                        command_id,
                        code: first_child_text(p, ns::SHELL, "Code")?,
                    })
                }
                (ns::SHELL, "Connect") => first_child_b64(p, ns::POWERSHELL, "connectXml")?
                    .map(|connect_xml| Body::Connect { connect_xml }),
                (ns::SHELL, "ConnectResponse") => {
                    first_child_b64(p, ns::POWERSHELL, "connectResponseXml")?.map(
                        |connect_response_xml| Body::ConnectResponse {
                            connect_response_xml,
                        },
                    )
                }
                (ns::ENUMERATION, "EnumerateResponse") => {
                    let mut shells = None;
                    children(p, |p, c| {
                        if shells.is_none() && p.is(&c, ns::WSMAN, "Items") {
                            let mut v = Vec::new();
                            children(p, |p, s| {
                                if p.is(&s, ns::SHELL, "Shell") {
                                    v.push(shell_info(p)?);
                                    Ok(())
                                } else {
                                    p.skip()
                                }
                            })?;
                            shells = Some(v);
                            Ok(())
                        } else {
                            p.skip()
                        }
                    })?;
                    Ok(Body::EnumerateResponse(shells.unwrap_or_default()))
                }
                (fns, local) => {
                    let simple = match (fns, local) {
                        (ns::SHELL, "SendResponse") => Some(Body::SendResponse),
                        (ns::SHELL, "SignalResponse") => Some(Body::SignalResponse),
                        (ns::SHELL, "Disconnect") => Some(Body::Disconnect),
                        (ns::SHELL, "DisconnectResponse") => Some(Body::DisconnectResponse),
                        (ns::SHELL, "Reconnect") => Some(Body::Reconnect),
                        (ns::SHELL, "ReconnectResponse") => Some(Body::ReconnectResponse),
                        (ns::ENUMERATION, "Enumerate") => Some(Body::Enumerate),
                        _ => None,
                    };
                    let b = simple.unwrap_or_else(|| Body::Other {
                        ns: p.ns(&first).map(str::to_string),
                        name: local.to_string(),
                    });
                    p.skip()?;
                    Ok(b)
                }
            };
            body = Some(b);
            Ok(())
        })?;
        Ok(match body {
            None => Ok(Body::Empty),
            Some(Ok(Body::Created {
                address,
                resource_uri,
                shell_id,
                ..
            })) => Ok(Body::Created {
                address,
                resource_uri,
                shell_id,
                shell: created_shell,
            }),
            Some(b) => b,
        })
    }
}
