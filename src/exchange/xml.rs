//! A small, namespace-aware XML element tree built on quick-xml, shared by the
//! WS-Man envelope parser and the CLIXML deserializer.
//!
//! It exists so that both codecs walk a tree whose element and attribute names
//! are resolved to namespace URIs (prefixes differ between servers), and so that
//! every size and nesting limit is enforced in one place. It must not interpret
//! any protocol: no SOAP, no CLIXML knowledge lives here. It must never panic on
//! input: broken XML, unknown entities, excessive depth or node counts all come
//! back as [`XmlError`].

use std::fmt::Write as _;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// Limits applied while building a tree. The defaults fit WS-Man envelopes of
/// a few megabytes and CLIXML as PowerShell emits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmlLimits {
    /// Maximum element nesting depth (the root is depth 1).
    pub max_depth: usize,
    /// Maximum number of elements in one document.
    pub max_elements: usize,
    /// Maximum input length in bytes.
    pub max_input_len: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        XmlLimits {
            max_depth: 128,
            max_elements: 1_000_000,
            max_input_len: 64 * 1024 * 1024,
        }
    }
}

/// Everything that can go wrong while building a tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// The underlying parser rejected the input.
    #[error("malformed XML at byte {position}: {message}")]
    Syntax { position: u64, message: String },
    /// A prefix was used without a matching `xmlns:` declaration.
    #[error("unknown namespace prefix {0:?}")]
    UnknownPrefix(String),
    /// An entity reference other than the five predefined ones or a valid
    /// character reference.
    #[error("unknown or invalid entity reference &{0};")]
    BadEntity(String),
    /// Nesting deeper than [`XmlLimits::max_depth`].
    #[error("XML nesting deeper than {limit} levels")]
    TooDeep { limit: usize },
    /// More elements than [`XmlLimits::max_elements`].
    #[error("XML has more than {limit} elements")]
    TooManyElements { limit: usize },
    /// Input longer than [`XmlLimits::max_input_len`].
    #[error("XML input of {len} bytes exceeds the {limit}-byte limit")]
    TooLarge { len: usize, limit: usize },
    /// No root element at all.
    #[error("XML document has no root element")]
    NoRoot,
    /// Elements or text after the root element closed.
    #[error("content after the root element")]
    TrailingContent,
    /// Non-whitespace text before the root element.
    #[error("text before the root element")]
    LeadingText,
    /// The document ended with unclosed elements.
    #[error("XML document ended inside an element")]
    Unclosed,
}

/// One attribute with its resolved namespace (None for unprefixed attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub ns: Option<String>,
    pub name: String,
    pub value: String,
}

/// One element: resolved namespace, local name, attributes, child elements and
/// the concatenation of its direct text content (entities resolved, CDATA
/// included, XML 1.0 end-of-line normalisation applied).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub ns: Option<String>,
    pub name: String,
    pub attrs: Vec<Attribute>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    /// True when this element has the given namespace URI and local name.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.name == name && self.ns.as_deref() == Some(ns)
    }

    /// First child with this namespace and local name.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    /// All children with this namespace and local name.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    /// First child with this local name, whatever its namespace.
    pub fn child_local(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Value of an attribute by local name (any namespace, unprefixed first).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_none() && a.name == name)
            .or_else(|| self.attrs.iter().find(|a| a.name == name))
            .map(|a| a.value.as_str())
    }

    /// Text of all descendants, in document order, concatenated.
    pub fn deep_text(&self) -> String {
        let mut out = String::new();
        self.collect_text(&mut out);
        out
    }

    fn collect_text(&self, out: &mut String) {
        out.push_str(&self.text);
        for c in &self.children {
            c.collect_text(out);
        }
    }
}

fn resolved_ns(r: ResolveResult<'_>) -> Result<Option<String>, XmlError> {
    match r {
        ResolveResult::Bound(ns) => Ok(Some(ns.0.to_string())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(p) => Err(XmlError::UnknownPrefix(p)),
    }
}

fn syntax(reader_pos: u64, e: impl std::fmt::Display) -> XmlError {
    XmlError::Syntax {
        position: reader_pos,
        message: e.to_string(),
    }
}

fn make_element(
    reader: &NsReader<&[u8]>,
    ns: Option<String>,
    start: &BytesStart<'_>,
    resolve: bool,
) -> Result<Element, XmlError> {
    let pos = reader.buffer_position();
    let name = start.local_name().as_ref().to_string();
    let mut attrs = Vec::new();
    for a in start.attributes() {
        let a = a.map_err(|e| syntax(pos, e))?;
        let key = a.key;
        let raw = key.as_ref();
        if raw == "xmlns" || raw.starts_with("xmlns:") {
            continue;
        }
        let (ans, local) = if !resolve {
            (None, key.local_name())
        } else {
            let (res, local) = reader.resolver().resolve_attribute(key);
            let ans = if raw.starts_with("xml:") {
                Some("http://www.w3.org/XML/1998/namespace".to_string())
            } else {
                resolved_ns(res)?
            };
            (ans, local)
        };
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| syntax(pos, e))?;
        attrs.push(Attribute {
            ns: ans,
            name: local.as_ref().to_string(),
            value: value.into_owned(),
        });
    }
    Ok(Element {
        ns,
        name,
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

fn resolve_entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

/// Parse `text` into a tree under `limits`, resolving namespaces.
pub fn parse(text: &str, limits: &XmlLimits) -> Result<Element, XmlError> {
    parse_impl(text, limits, true)
}

/// Parse without namespace resolution: every `ns` is `None` and names are
/// local names. Faster; for formats matched by local name only (CLIXML).
pub fn parse_local(text: &str, limits: &XmlLimits) -> Result<Element, XmlError> {
    parse_impl(text, limits, false)
}

fn parse_impl(text: &str, limits: &XmlLimits, resolve: bool) -> Result<Element, XmlError> {
    if text.len() > limits.max_input_len {
        return Err(XmlError::TooLarge {
            len: text.len(),
            limit: limits.max_input_len,
        });
    }
    let mut reader = NsReader::from_reader(text.as_bytes());
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let pos = reader.buffer_position();
        let (ns, ev) = if resolve {
            let (res, ev) = reader.read_resolved_event().map_err(|e| syntax(pos, e))?;
            let ns = match &ev {
                Event::Start(_) | Event::Empty(_) => resolved_ns(res)?,
                _ => None,
            };
            (ns, ev)
        } else {
            (None, reader.read_event().map_err(|e| syntax(pos, e))?)
        };
        match ev {
            Event::Start(s) | Event::Empty(s) if root.is_some() => {
                let _ = s;
                return Err(XmlError::TrailingContent);
            }
            Event::Start(s) => {
                count += 1;
                if count > limits.max_elements {
                    return Err(XmlError::TooManyElements {
                        limit: limits.max_elements,
                    });
                }
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::TooDeep {
                        limit: limits.max_depth,
                    });
                }
                let el = make_element(&reader, ns, &s, resolve)?;
                stack.push(el);
            }
            Event::Empty(s) => {
                count += 1;
                if count > limits.max_elements {
                    return Err(XmlError::TooManyElements {
                        limit: limits.max_elements,
                    });
                }
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::TooDeep {
                        limit: limits.max_depth,
                    });
                }
                let el = make_element(&reader, ns, &s, resolve)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or(XmlError::TrailingContent)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&content),
                    None => {
                        if !content.trim().is_empty() {
                            return Err(if root.is_some() {
                                XmlError::TrailingContent
                            } else {
                                XmlError::LeadingText
                            });
                        }
                    }
                }
            }
            Event::CData(c) => match stack.last_mut() {
                Some(top) => top.text.push_str(&c.xml10_content()),
                None => return Err(XmlError::TrailingContent),
            },
            Event::GeneralRef(r) => {
                let ch = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .ok()
                        .flatten()
                        .ok_or_else(|| XmlError::BadEntity(r.to_string()))?
                } else {
                    resolve_entity(&r).ok_or_else(|| XmlError::BadEntity(r.to_string()))?
                };
                match stack.last_mut() {
                    Some(top) => top.text.push(ch),
                    None => return Err(XmlError::LeadingText),
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Unclosed);
    }
    root.ok_or(XmlError::NoRoot)
}

/// Escape text content for XML (`&`, `<`, `>`).
pub fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(c),
        }
    }
}

/// Escape an attribute value for XML (also quotes and whitespace controls).
pub fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => {
                let _ = write!(out, "&#x{:X};", c as u32);
            }
            _ => out.push(c),
        }
    }
}
