//! SOAP 1.2 / WS-Management faults: decoding a `<s:Fault>` into
//! [`WsManFault`] (SOAP code, WS-Man subcode, reason, fault detail, the WinRM /
//! WMI error code and the server's message) — the typed error the client
//! surfaces, and what the lab server emits to imitate Exchange.
//!
//! QName values such as `w:InvalidSelectors` are reduced to their local part,
//! because prefixes differ between servers. This module must not decide what a
//! fault means for retry logic, and parsing is infallible (missing parts are
//! `None`).

use std::fmt;

use super::ns;
use crate::xml::Element;

/// A decoded fault.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WsManFault {
    /// SOAP code local name: `Sender` or `Receiver`.
    pub code: String,
    /// WS-Man/addressing subcode local name, e.g. `InvalidSelectors`, `TimedOut`.
    pub subcode: Option<String>,
    /// `<s:Reason><s:Text>`.
    pub reason: Option<String>,
    /// `<w:FaultDetail>` URI, e.g. `.../faultDetail/UnexpectedSelectors`.
    pub detail: Option<String>,
    /// `WSManFault/@Code`: WinRM/WMI/Win32 error code, e.g. 2150858843.
    pub wsman_code: Option<u32>,
    /// `WSManFault/@Machine`.
    pub machine: Option<String>,
    /// The server's message text (innermost, whitespace-trimmed).
    pub message: Option<String>,
    /// `ProviderFault/@provider`, when present.
    pub provider: Option<String>,
}

fn local(qname: &str) -> String {
    qname
        .rsplit_once(':')
        .map_or(qname, |(_, l)| l)
        .trim()
        .to_string()
}

fn find<'a>(el: &'a Element, ns: &str, name: &str) -> Option<&'a Element> {
    if el.is(ns, name) {
        return Some(el);
    }
    el.children.iter().find_map(|c| find(c, ns, name))
}

fn nonempty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Decode a `<s:Fault>` element.
pub fn parse_fault(fault: &Element) -> WsManFault {
    let code_el = fault.child(ns::SOAP, "Code");
    let code = code_el
        .and_then(|c| c.child(ns::SOAP, "Value"))
        .map(|v| local(&v.text))
        .unwrap_or_default();
    let subcode = code_el
        .and_then(|c| c.child(ns::SOAP, "Subcode"))
        .and_then(|s| s.child(ns::SOAP, "Value"))
        .map(|v| local(&v.text));
    let reason = fault
        .child(ns::SOAP, "Reason")
        .and_then(|r| r.child(ns::SOAP, "Text"))
        .and_then(|t| nonempty(t.text.clone()));
    let detail_el = fault.child(ns::SOAP, "Detail");
    let detail = detail_el
        .and_then(|d| d.child(ns::WSMAN, "FaultDetail"))
        .and_then(|f| nonempty(f.text.clone()));
    let wf = detail_el.and_then(|d| find(d, ns::WSMAN_FAULT, "WSManFault"));
    let wsman_code = wf
        .and_then(|w| w.attr("Code"))
        .and_then(|c| c.trim().parse::<u32>().ok());
    let machine = wf.and_then(|w| w.attr("Machine")).map(str::to_string);
    let message = wf
        .and_then(|w| w.child(ns::WSMAN_FAULT, "Message"))
        .and_then(|m| {
            // The innermost WSManFault's Message if nested, else all text.
            let inner = m
                .child(ns::WSMAN_FAULT, "ProviderFault")
                .and_then(|p| find(p, ns::WSMAN_FAULT, "Message"));
            nonempty(inner.unwrap_or(m).deep_text())
        });
    let provider = wf
        .and_then(|w| find(w, ns::WSMAN_FAULT, "ProviderFault"))
        .and_then(|p| p.attr("provider"))
        .map(str::to_string);
    WsManFault {
        code,
        subcode,
        reason,
        detail,
        wsman_code,
        machine,
        message,
        provider,
    }
}

impl WsManFault {
    /// True for the `TimedOut` subcode a Receive gets when no output arrived
    /// within OperationTimeout (not an error for a polling client).
    pub fn is_timeout(&self) -> bool {
        self.subcode.as_deref() == Some("TimedOut")
    }
}

impl fmt::Display for WsManFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WS-Management fault {}", self.code)?;
        if let Some(s) = &self.subcode {
            write!(f, "/{s}")?;
        }
        if let Some(c) = self.wsman_code {
            write!(f, " (code {c})")?;
        }
        if let Some(m) = self.message.as_ref().or(self.reason.as_ref()) {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}
