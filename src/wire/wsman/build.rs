//! Building WS-Man envelopes: the client's requests (Create with creationXml,
//! Command, Send, Receive, Signal, Delete) and the server's responses
//! (CreateResponse, CommandResponse, SendResponse, ReceiveResponse,
//! SignalResponse, DeleteResponse, Fault), in the shapes Windows clients and
//! servers use.
//!
//! Endpoint and resource URI are parameters (Exchange:
//! [`ns::RESOURCE_EXCHANGE`] at `https://<cas>/PowerShell`). Ids are passed in;
//! this module generates no randomness and reads no clock, so output is
//! deterministic. It must not parse, and it cannot fail.

use std::fmt::Write as _;

use base64::Engine as _;
use uuid::Uuid;

use super::fault::WsManFault;
use super::ns;
use crate::xml::{escape_attr, escape_text};

/// Upper-case hyphenated GUID, as WinRM writes shell and command ids.
pub fn guid_upper(u: Uuid) -> String {
    let mut s = u.hyphenated().to_string();
    s.make_ascii_uppercase();
    s
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    escape_text(s, &mut o);
    o
}

fn esc_attr(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    escape_attr(s, &mut o);
    o
}

/// Settings shared by every request a client sends to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// Endpoint URL, e.g. `https://cas.example.com/PowerShell`.
    pub to: String,
    /// Resource URI, e.g. [`ns::RESOURCE_EXCHANGE`].
    pub resource_uri: String,
    /// `MaxEnvelopeSize` in bytes.
    pub max_envelope_size: u32,
    /// `OperationTimeout` in seconds.
    pub operation_timeout_secs: u32,
    /// `Locale` / `DataLocale`, e.g. `en-US`.
    pub locale: String,
    /// `SessionId` (one per client session), if any.
    pub session_id: Option<Uuid>,
}

impl RequestContext {
    /// Context for Exchange remote PowerShell at `to`.
    pub fn exchange(to: impl Into<String>) -> Self {
        RequestContext {
            to: to.into(),
            resource_uri: ns::RESOURCE_EXCHANGE.into(),
            max_envelope_size: 153_600,
            operation_timeout_secs: 20,
            locale: "en-US".into(),
            session_id: None,
        }
    }

    fn envelope(
        &self,
        action: &str,
        message_id: Uuid,
        options: &[(&str, &str, bool)],
        shell_id: Option<Uuid>,
        body: &str,
    ) -> String {
        let mut o = String::with_capacity(1536 + body.len());
        let _ = write!(
            o,
            "<s:Envelope xmlns:rsp=\"{}\" xmlns:s=\"{}\" xmlns:wsa=\"{}\" xmlns:wsman=\"{}\" xmlns:wsmv=\"{}\"><s:Header>",
            ns::SHELL,
            ns::SOAP,
            ns::ADDRESSING,
            ns::WSMAN,
            ns::WSMV
        );
        let _ = write!(
            o,
            "<wsa:Action s:mustUnderstand=\"true\">{}</wsa:Action>",
            esc(action)
        );
        let loc = esc_attr(&self.locale);
        let _ = write!(
            o,
            "<wsmv:DataLocale s:mustUnderstand=\"false\" xml:lang=\"{loc}\" /><wsman:Locale s:mustUnderstand=\"false\" xml:lang=\"{loc}\" />"
        );
        let _ = write!(
            o,
            "<wsman:MaxEnvelopeSize s:mustUnderstand=\"true\">{}</wsman:MaxEnvelopeSize>",
            self.max_envelope_size
        );
        let _ = write!(
            o,
            "<wsa:MessageID>uuid:{}</wsa:MessageID>",
            guid_upper(message_id)
        );
        let _ = write!(
            o,
            "<wsman:OperationTimeout>PT{}S</wsman:OperationTimeout>",
            self.operation_timeout_secs
        );
        let _ = write!(
            o,
            "<wsa:ReplyTo><wsa:Address s:mustUnderstand=\"true\">{}</wsa:Address></wsa:ReplyTo>",
            ns::ANONYMOUS
        );
        let _ = write!(
            o,
            "<wsman:ResourceURI s:mustUnderstand=\"true\">{}</wsman:ResourceURI>",
            esc(&self.resource_uri)
        );
        if let Some(sid) = self.session_id {
            let _ = write!(
                o,
                "<wsmv:SessionId s:mustUnderstand=\"false\">uuid:{}</wsmv:SessionId>",
                guid_upper(sid)
            );
        }
        let _ = write!(o, "<wsa:To>{}</wsa:To>", esc(&self.to));
        if !options.is_empty() {
            o.push_str("<wsman:OptionSet s:mustUnderstand=\"true\">");
            for (name, value, must) in options {
                o.push_str("<wsman:Option");
                if *must {
                    o.push_str(" MustComply=\"true\"");
                }
                let _ = write!(
                    o,
                    " Name=\"{}\">{}</wsman:Option>",
                    esc_attr(name),
                    esc(value)
                );
            }
            o.push_str("</wsman:OptionSet>");
        }
        if let Some(sid) = shell_id {
            let _ = write!(
                o,
                "<wsman:SelectorSet><wsman:Selector Name=\"ShellId\">{}</wsman:Selector></wsman:SelectorSet>",
                guid_upper(sid)
            );
        }
        o.push_str("</s:Header>");
        if body.is_empty() {
            o.push_str("<s:Body />");
        } else {
            let _ = write!(o, "<s:Body>{body}</s:Body>");
        }
        o.push_str("</s:Envelope>");
        o
    }

    /// Create a PowerShell shell: `creation_xml` is the fragment bytes of
    /// SESSION_CAPABILITY + INIT_RUNSPACEPOOL; `protocol_version` goes in the
    /// `protocolversion` option.
    pub fn create_shell(
        &self,
        message_id: Uuid,
        shell_id: Uuid,
        creation_xml: &[u8],
        protocol_version: &str,
    ) -> String {
        let body = format!(
            "<rsp:Shell ShellId=\"{}\"><rsp:InputStreams>stdin pr</rsp:InputStreams><rsp:OutputStreams>stdout</rsp:OutputStreams><creationXml xmlns=\"{}\">{}</creationXml></rsp:Shell>",
            guid_upper(shell_id),
            ns::POWERSHELL,
            b64(creation_xml)
        );
        self.envelope(
            ns::action::CREATE,
            message_id,
            &[("protocolversion", protocol_version, true)],
            None,
            &body,
        )
    }

    /// Start a pipeline: `arguments` is the fragment bytes of CREATE_PIPELINE.
    pub fn command(
        &self,
        message_id: Uuid,
        shell_id: Uuid,
        command_id: Uuid,
        arguments: &[u8],
    ) -> String {
        let body = format!(
            "<rsp:CommandLine CommandId=\"{}\"><rsp:Command /><rsp:Arguments>{}</rsp:Arguments></rsp:CommandLine>",
            guid_upper(command_id),
            b64(arguments)
        );
        self.envelope(
            ns::action::COMMAND,
            message_id,
            &[("WINRS_SKIP_CMD_SHELL", "False", false)],
            Some(shell_id),
            &body,
        )
    }

    /// Send data (fragment bytes) on `stream` (`stdin` or `pr`).
    pub fn send(
        &self,
        message_id: Uuid,
        shell_id: Uuid,
        command_id: Option<Uuid>,
        stream: &str,
        data: &[u8],
    ) -> String {
        let cmd = command_id
            .map(|c| format!(" CommandId=\"{}\"", guid_upper(c)))
            .unwrap_or_default();
        let body = format!(
            "<rsp:Send><rsp:Stream Name=\"{}\"{cmd}>{}</rsp:Stream></rsp:Send>",
            esc_attr(stream),
            b64(data)
        );
        self.envelope(ns::action::SEND, message_id, &[], Some(shell_id), &body)
    }

    /// Receive output of the shell (command_id None) or of a pipeline.
    pub fn receive(
        &self,
        message_id: Uuid,
        shell_id: Uuid,
        command_id: Option<Uuid>,
        stream: &str,
    ) -> String {
        let cmd = command_id
            .map(|c| format!(" CommandId=\"{}\"", guid_upper(c)))
            .unwrap_or_default();
        let body = format!(
            "<rsp:Receive><rsp:DesiredStream{cmd}>{}</rsp:DesiredStream></rsp:Receive>",
            esc(stream)
        );
        self.envelope(
            ns::action::RECEIVE,
            message_id,
            &[("WSMAN_CMDSHELL_OPTION_KEEPALIVE", "True", false)],
            Some(shell_id),
            &body,
        )
    }

    /// Signal a pipeline (e.g. [`ns::signal::TERMINATE`]).
    pub fn signal(&self, message_id: Uuid, shell_id: Uuid, command_id: Uuid, code: &str) -> String {
        let body = format!(
            "<rsp:Signal CommandId=\"{}\"><rsp:Code>{}</rsp:Code></rsp:Signal>",
            guid_upper(command_id),
            esc(code)
        );
        self.envelope(ns::action::SIGNAL, message_id, &[], Some(shell_id), &body)
    }

    /// Delete (close) the shell.
    pub fn delete(&self, message_id: Uuid, shell_id: Uuid) -> String {
        self.envelope(ns::action::DELETE, message_id, &[], Some(shell_id), "")
    }
}

/// Identity of a server response: its own id and the request it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseContext {
    pub message_id: Uuid,
    /// The request's `MessageID`, verbatim (e.g. `uuid:…`).
    pub relates_to: String,
}

/// One output stream chunk of a ReceiveResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOut<'a> {
    pub name: &'a str,
    pub command_id: Option<&'a str>,
    pub end: bool,
    pub data: &'a [u8],
}

fn response(action: &str, rc: &ResponseContext, extra_ns: &str, body: &str) -> String {
    let mut o = String::with_capacity(1024 + body.len());
    let _ = write!(
        o,
        "<s:Envelope xml:lang=\"en-US\" xmlns:s=\"{}\" xmlns:a=\"{}\" xmlns:w=\"{}\" xmlns:p=\"{}\"{extra_ns}><s:Header>",
        ns::SOAP,
        ns::ADDRESSING,
        ns::WSMAN,
        ns::WSMV
    );
    let _ = write!(
        o,
        "<a:Action>{}</a:Action><a:MessageID>uuid:{}</a:MessageID><a:To>{}</a:To><a:RelatesTo>{}</a:RelatesTo></s:Header>",
        esc(action),
        guid_upper(rc.message_id),
        ns::ANONYMOUS,
        esc(&rc.relates_to)
    );
    if body.is_empty() {
        o.push_str("<s:Body></s:Body>");
    } else {
        let _ = write!(o, "<s:Body>{body}</s:Body>");
    }
    o.push_str("</s:Envelope>");
    o
}

fn rsp_ns() -> String {
    format!(" xmlns:rsp=\"{}\"", ns::SHELL)
}

/// CreateResponse for a new shell at `address` (the endpoint URL).
pub fn create_response(
    rc: &ResponseContext,
    address: &str,
    resource_uri: &str,
    shell_id: &str,
) -> String {
    let body = format!(
        "<x:ResourceCreated><a:Address>{}</a:Address><a:ReferenceParameters><w:ResourceURI>{}</w:ResourceURI><w:SelectorSet><w:Selector Name=\"ShellId\">{}</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated><rsp:Shell><rsp:ShellId>{}</rsp:ShellId><rsp:ResourceUri>{}</rsp:ResourceUri><rsp:InputStreams>stdin pr</rsp:InputStreams><rsp:OutputStreams>stdout</rsp:OutputStreams><rsp:State>Connected</rsp:State></rsp:Shell>",
        esc(address),
        esc(resource_uri),
        esc(shell_id),
        esc(shell_id),
        esc(resource_uri)
    );
    let extra = format!(" xmlns:x=\"{}\"{}", ns::TRANSFER, rsp_ns());
    response(ns::action::CREATE_RESPONSE, rc, &extra, &body)
}

/// CommandResponse.
pub fn command_response(rc: &ResponseContext, command_id: &str) -> String {
    let body = format!(
        "<rsp:CommandResponse><rsp:CommandId>{}</rsp:CommandId></rsp:CommandResponse>",
        esc(command_id)
    );
    response(ns::action::COMMAND_RESPONSE, rc, &rsp_ns(), &body)
}

/// SendResponse.
pub fn send_response(rc: &ResponseContext) -> String {
    response(
        ns::action::SEND_RESPONSE,
        rc,
        &rsp_ns(),
        "<rsp:SendResponse />",
    )
}

/// ReceiveResponse with output streams and an optional command state
/// (`state` is a [`ns::command_state`] URI).
pub fn receive_response(
    rc: &ResponseContext,
    streams: &[StreamOut<'_>],
    command_state: Option<(&str, &str, Option<i64>)>,
) -> String {
    let mut body = String::from("<rsp:ReceiveResponse>");
    for s in streams {
        let _ = write!(body, "<rsp:Stream Name=\"{}\"", esc_attr(s.name));
        if let Some(c) = s.command_id {
            let _ = write!(body, " CommandId=\"{}\"", esc_attr(c));
        }
        if s.end {
            body.push_str(" End=\"true\"");
        }
        let _ = write!(body, ">{}</rsp:Stream>", b64(s.data));
    }
    if let Some((cid, state, exit)) = command_state {
        let _ = write!(
            body,
            "<rsp:CommandState CommandId=\"{}\" State=\"{}\"",
            esc_attr(cid),
            esc_attr(state)
        );
        match exit {
            Some(code) => {
                let _ = write!(
                    body,
                    "><rsp:ExitCode>{code}</rsp:ExitCode></rsp:CommandState>"
                );
            }
            None => body.push_str(" />"),
        }
    }
    body.push_str("</rsp:ReceiveResponse>");
    response(ns::action::RECEIVE_RESPONSE, rc, &rsp_ns(), &body)
}

/// SignalResponse.
pub fn signal_response(rc: &ResponseContext) -> String {
    response(
        ns::action::SIGNAL_RESPONSE,
        rc,
        &rsp_ns(),
        "<rsp:SignalResponse />",
    )
}

/// DeleteResponse.
pub fn delete_response(rc: &ResponseContext) -> String {
    response(ns::action::DELETE_RESPONSE, rc, "", "")
}

const ADDRESSING_SUBCODES: &[&str] = &[
    "InvalidMessageInformationHeader",
    "MessageInformationHeaderRequired",
    "DestinationUnreachable",
    "ActionNotSupported",
    "EndpointUnavailable",
];

/// A fault envelope carrying `fault` (code, subcode, reason, detail, WinRM
/// code, machine and message are all written when present).
pub fn fault_response(rc: &ResponseContext, fault: &WsManFault) -> String {
    let mut body = String::from("<s:Fault><s:Code>");
    let code = if fault.code.is_empty() {
        "Receiver"
    } else {
        fault.code.as_str()
    };
    let _ = write!(body, "<s:Value>s:{}</s:Value>", esc(code));
    let addressing = fault
        .subcode
        .as_deref()
        .is_some_and(|s| ADDRESSING_SUBCODES.contains(&s));
    if let Some(sub) = &fault.subcode {
        let p = if addressing { "a" } else { "w" };
        let _ = write!(
            body,
            "<s:Subcode><s:Value>{p}:{}</s:Value></s:Subcode>",
            esc(sub)
        );
    }
    body.push_str("</s:Code>");
    if let Some(r) = &fault.reason {
        let _ = write!(
            body,
            "<s:Reason><s:Text xml:lang=\"en-US\">{}</s:Text></s:Reason>",
            esc(r)
        );
    }
    body.push_str("<s:Detail>");
    if let Some(d) = &fault.detail {
        let _ = write!(body, "<w:FaultDetail>{}</w:FaultDetail>", esc(d));
    }
    let _ = write!(body, "<f:WSManFault xmlns:f=\"{}\"", ns::WSMAN_FAULT);
    if let Some(c) = fault.wsman_code {
        let _ = write!(body, " Code=\"{c}\"");
    }
    if let Some(m) = &fault.machine {
        let _ = write!(body, " Machine=\"{}\"", esc_attr(m));
    }
    let msg = fault
        .message
        .as_deref()
        .or(fault.reason.as_deref())
        .unwrap_or("");
    match &fault.provider {
        Some(p) => {
            let _ = write!(
                body,
                "><f:Message><f:ProviderFault provider=\"{}\">{}</f:ProviderFault></f:Message></f:WSManFault>",
                esc_attr(p),
                esc(msg)
            );
        }
        None => {
            let _ = write!(body, "><f:Message>{}</f:Message></f:WSManFault>", esc(msg));
        }
    }
    body.push_str("</s:Detail></s:Fault>");
    let action = if addressing {
        ns::action::ADDRESSING_FAULT
    } else {
        ns::action::FAULT
    };
    response(action, rc, "", &body)
}
