//! Decoding captured WinRM/PSRP traffic for support engineers and tests:
//! [`decode_capture`] takes either a YAML recording (a top-level `messages:`
//! list of `request:`/`response:` SOAP strings) or one SOAP envelope, and
//! returns every PSRP message in it, deserialized, as JSON.
//!
//! Fragments are reassembled the way a real peer does it: state is kept per
//! shell, direction and command id, across envelopes. Payloads are read from
//! `creationXml`, `connectXml`/`connectResponseXml`, `CommandLine/Arguments`,
//! `Send/Stream` and `ReceiveResponse/Stream`, only for shells whose resource
//! URI is a PowerShell configuration (`http://schemas.microsoft.com/powershell/…`,
//! e.g. Microsoft.Exchange); cmd.exe WinRS shells carry raw bytes and are
//! skipped. Items with an empty response are "no envelope". Items carrying
//! pypsrp fault-injection keys (`http_error`, `transport_error`, `auth_error`,
//! `timeout`, `overrides`) were altered by the recorder: they are decoded when
//! possible and skipped, not reported, when they do not decode. Messages still
//! incomplete at the end of a capture are dropped.
//!
//! JSON mapping of each message's object is the one of
//! [`crate::clixml::json`]: primitives → JSON scalars (strings for
//! DateTime, TimeSpan, GUID, Version, Decimal; base64 for byte arrays),
//! lists → arrays, string-keyed dictionaries → objects, objects →
//! `{"type_names", "to_string", "value", "items"|"dict", "props", "extended"}`;
//! an empty message body → `null`.
//!
//! This module must not perform I/O (callers read files) and must never panic:
//! every failure is a [`CaptureError`] naming the envelope index and reason.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clixml::Value;
use crate::psrp::{FragmentError, Message, MessageError, Reassembler};
use crate::wsman::{ns, Body, Envelope, EnvelopeError};

/// Which half of an exchange an envelope was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Request,
    Response,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::Request => "request",
            Direction::Response => "response",
        })
    }
}

/// Why a capture could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// Neither a SOAP envelope nor a YAML recording with `messages:`.
    #[error("not a recording or envelope: {0}")]
    Format(String),
    /// The capture is larger than [`MAX_CAPTURE_LEN`].
    #[error("capture of {0} bytes is too large")]
    TooLarge(usize),
    /// An envelope did not parse.
    #[error("envelope {index} ({direction}): {source}")]
    Envelope {
        index: usize,
        direction: Direction,
        #[source]
        source: EnvelopeError,
    },
    /// PSRP fragment framing failed.
    #[error("envelope {index} ({direction}): PSRP fragment: {source}")]
    Fragment {
        index: usize,
        direction: Direction,
        #[source]
        source: FragmentError,
    },
    /// PSRP message header or CLIXML failed.
    #[error("envelope {index} ({direction}): {source}")]
    Message {
        index: usize,
        direction: Direction,
        #[source]
        source: MessageError,
    },
}

/// Largest capture accepted.
pub const MAX_CAPTURE_LEN: usize = 256 * 1024 * 1024;

/// One decoded PSRP message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecodedMessage {
    /// Position in `messages` (0 for a single envelope).
    pub index: usize,
    pub direction: Direction,
    /// MS-PSRP name, e.g. `PIPELINE_OUTPUT` (or `UNKNOWN(0x…)`).
    pub message_type: String,
    /// `client` or `server`.
    pub destination: String,
    /// Runspace pool id.
    pub rpid: String,
    /// Pipeline id, `None` when nil.
    pub pid: Option<String>,
    /// The command (pipeline) id of the WS-Man stream, when there is one.
    pub command_id: Option<String>,
    /// The deserialized CLIXML as JSON (`null` for an empty body).
    pub object: serde_json::Value,
}

/// One reassembled PSRP message before CLIXML decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    pub index: usize,
    pub direction: Direction,
    pub command_id: Option<String>,
    pub message: Message,
}

/// One request/response pair of a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureItem {
    pub index: usize,
    pub request: Option<String>,
    pub response: Option<String>,
    /// The item carries recorder fault-injection keys.
    pub injected: bool,
}

/// A parsed capture (YAML done, envelopes not yet parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub items: Vec<CaptureItem>,
}

#[derive(Deserialize)]
struct Recording {
    messages: Vec<RecItem>,
}

#[derive(Deserialize)]
struct RecItem {
    #[serde(default)]
    request: Option<String>,
    #[serde(default)]
    response: Option<String>,
    #[serde(flatten)]
    extra: BTreeMap<String, serde_norway::Value>,
}

const INJECTION_KEYS: &[&str] = &[
    "http_error",
    "transport_error",
    "auth_error",
    "timeout",
    "overrides",
];

fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

fn is_response_action(env: &Envelope) -> bool {
    matches!(env.body, Body::Fault(_))
        || env
            .header
            .action
            .as_deref()
            .is_some_and(|a| a.ends_with("Response") || a.ends_with("/fault"))
}

fn is_psrp_uri(uri: &str) -> bool {
    uri.starts_with(ns::RESOURCE_POWERSHELL_PREFIX)
}

type Key = (String, Direction, String);

#[derive(Default)]
struct State {
    reassemblers: HashMap<Key, Reassembler>,
    /// shell id (upper-case) → carries PSRP.
    shells: HashMap<String, bool>,
}

impl Capture {
    /// Parse a YAML recording or a single envelope.
    pub fn parse(text: &str) -> Result<Capture, CaptureError> {
        if text.len() > MAX_CAPTURE_LEN {
            return Err(CaptureError::TooLarge(text.len()));
        }
        let t = text.trim_start_matches('\u{FEFF}').trim_start();
        if t.starts_with('<') {
            return Ok(Capture {
                items: vec![CaptureItem {
                    index: 0,
                    request: Some(t.to_string()),
                    response: None,
                    injected: false,
                }],
            });
        }
        let rec: Recording =
            serde_norway::from_str(t).map_err(|e| CaptureError::Format(e.to_string()))?;
        Ok(Capture {
            items: rec
                .messages
                .into_iter()
                .enumerate()
                .map(|(index, m)| CaptureItem {
                    index,
                    injected: m.extra.keys().any(|k| INJECTION_KEYS.contains(&k.as_str())),
                    request: nonempty(m.request),
                    response: nonempty(m.response),
                })
                .collect(),
        })
    }

    /// True when any request targets a PowerShell configuration.
    pub fn carries_psrp(&self) -> bool {
        self.items.iter().any(|i| {
            i.request.as_deref().is_some_and(|r| {
                r.contains(ns::RESOURCE_POWERSHELL_PREFIX)
                    && (r.contains("creationXml") || r.contains("ResourceURI"))
            })
        })
    }

    /// Reassemble all PSRP messages (base64 + fragments + 40-byte header).
    pub fn messages(&self) -> Result<Vec<RawMessage>, CaptureError> {
        let single = self.items.len() == 1 && self.items.iter().all(|i| i.response.is_none());
        let mut st = State::default();
        let mut out = Vec::new();
        for item in &self.items {
            let mut local = Vec::new();
            let r = process_item(&mut st, item, single, &mut local);
            match r {
                Ok(()) => out.extend(local),
                Err(_) if item.injected => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Decode everything: messages plus CLIXML, converted to JSON.
    pub fn decode(&self) -> Result<Vec<DecodedMessage>, CaptureError> {
        self.messages()?
            .into_iter()
            .map(|m| {
                let value = m.message.value().map_err(|source| CaptureError::Message {
                    index: m.index,
                    direction: m.direction,
                    source,
                })?;
                Ok(DecodedMessage {
                    index: m.index,
                    direction: m.direction,
                    message_type: m.message.message_type.name(),
                    destination: m.message.destination.as_str().to_string(),
                    rpid: m.message.rpid.hyphenated().to_string(),
                    pid: (!m.message.pid.is_nil()).then(|| m.message.pid.hyphenated().to_string()),
                    command_id: m.command_id,
                    object: value
                        .as_ref()
                        .map_or(serde_json::Value::Null, Value::to_json),
                })
            })
            .collect()
    }

    /// Decode every message's CLIXML into [`Value`]s without JSON conversion
    /// (what the throughput benchmark measures).
    pub fn decode_values(&self) -> Result<Vec<(RawMessage, Option<Value>)>, CaptureError> {
        self.messages()?
            .into_iter()
            .map(|m| {
                let v = m.message.value().map_err(|source| CaptureError::Message {
                    index: m.index,
                    direction: m.direction,
                    source,
                })?;
                Ok((m, v))
            })
            .collect()
    }
}

fn norm_id(s: &str) -> String {
    s.trim().to_ascii_uppercase()
}

fn feed(
    st: &mut State,
    out: &mut Vec<RawMessage>,
    index: usize,
    direction: Direction,
    shell: &str,
    command_id: Option<&str>,
    payload: &[u8],
) -> Result<(), CaptureError> {
    let key = (
        shell.to_string(),
        direction,
        command_id.map(norm_id).unwrap_or_default(),
    );
    let ra = st.reassemblers.entry(key).or_default();
    let done = ra
        .push_payload(payload)
        .map_err(|source| CaptureError::Fragment {
            index,
            direction,
            source,
        })?;
    for blob in done {
        let message = Message::parse(&blob).map_err(|source| CaptureError::Message {
            index,
            direction,
            source,
        })?;
        out.push(RawMessage {
            index,
            direction,
            command_id: command_id.map(norm_id),
            message,
        });
    }
    Ok(())
}

fn process_item(
    st: &mut State,
    item: &CaptureItem,
    single: bool,
    out: &mut Vec<RawMessage>,
) -> Result<(), CaptureError> {
    let index = item.index;
    let mut shell = String::new();
    let mut psrp = single;
    if let Some(req) = &item.request {
        let env = Envelope::parse(req).map_err(|source| CaptureError::Envelope {
            index,
            direction: Direction::Request,
            source,
        })?;
        let direction = if single && is_response_action(&env) {
            Direction::Response
        } else {
            Direction::Request
        };
        if let Some(uri) = env.header.resource_uri.as_deref() {
            psrp = is_psrp_uri(uri);
        }
        shell = env.header.shell_id().map(norm_id).unwrap_or_default();
        if let Body::CreateShell(c) = &env.body {
            if let Some(id) = &c.shell_id {
                shell = norm_id(id);
            }
        }
        if shell.is_empty() {
            // Shell id unknown (e.g. a Create without ShellId): decide by URI.
        } else if env.header.resource_uri.is_some() {
            st.shells.insert(shell.clone(), psrp);
        } else if let Some(p) = st.shells.get(&shell) {
            psrp = *p;
        }
        if psrp {
            match &env.body {
                Body::CreateShell(c) => {
                    if let Some(x) = &c.creation_xml {
                        feed(st, out, index, direction, &shell, None, x)?;
                    }
                }
                Body::Connect {
                    connect_xml: Some(x),
                } => feed(st, out, index, direction, &shell, None, x)?,
                Body::Command {
                    command_id,
                    arguments,
                    ..
                } => {
                    for a in arguments {
                        let bytes = base64_decode(a).map_err(|source| CaptureError::Envelope {
                            index,
                            direction,
                            source,
                        })?;
                        feed(
                            st,
                            out,
                            index,
                            direction,
                            &shell,
                            command_id.as_deref(),
                            &bytes,
                        )?;
                    }
                }
                Body::Send(streams) | Body::ReceiveResponse { streams, .. } => {
                    for s in streams {
                        feed(
                            st,
                            out,
                            index,
                            direction,
                            &shell,
                            s.command_id.as_deref(),
                            &s.data,
                        )?;
                    }
                }
                Body::ConnectResponse {
                    connect_response_xml: Some(x),
                } => feed(st, out, index, direction, &shell, None, x)?,
                _ => {}
            }
        }
    }
    if let Some(resp) = &item.response {
        let env = Envelope::parse(resp).map_err(|source| CaptureError::Envelope {
            index,
            direction: Direction::Response,
            source,
        })?;
        if let Body::Created {
            shell_id: Some(id), ..
        } = &env.body
        {
            let id = norm_id(id);
            st.shells.insert(id.clone(), psrp);
            if shell.is_empty() {
                shell = id;
            }
        }
        if psrp {
            let d = Direction::Response;
            match &env.body {
                Body::ReceiveResponse { streams, .. } => {
                    for s in streams {
                        feed(st, out, index, d, &shell, s.command_id.as_deref(), &s.data)?;
                    }
                }
                Body::ConnectResponse {
                    connect_response_xml: Some(x),
                } => feed(st, out, index, d, &shell, None, x)?,
                _ => {}
            }
        }
    }
    Ok(())
}

fn base64_decode(text: &str) -> Result<Vec<u8>, EnvelopeError> {
    use base64::Engine as _;
    // Almost never any whitespace: decode as is first, strip only on failure.
    if let Ok(v) = base64::engine::general_purpose::STANDARD.decode(text.as_bytes()) {
        return Ok(v);
    }
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| EnvelopeError::BadBase64 {
            element: "Arguments",
        })
}

/// Decode a YAML recording or a single SOAP envelope into PSRP messages.
pub fn decode_capture(text: &str) -> Result<Vec<DecodedMessage>, CaptureError> {
    Capture::parse(text)?.decode()
}

/// Format a GUID the way [`DecodedMessage`] does.
pub fn guid_string(u: &Uuid) -> String {
    u.hyphenated().to_string()
}
