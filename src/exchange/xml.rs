//! A small, namespace-aware XML element tree built on quick-xml, shared by the
//! WS-Man envelope parser and the CLIXML deserializer.
//!
//! It exists so that both codecs walk a tree whose element and attribute names
//! are resolved to namespace URIs (prefixes differ between servers), and so that
//! every size and nesting limit is enforced in one place. It must not interpret
//! any protocol: no SOAP, no CLIXML knowledge lives here. It must never panic on
//! input: broken XML, unknown entities, excessive depth or node counts all come
//! back as [`XmlError`].

use std::borrow::Cow;
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

fn is_xmlns(raw: &str) -> bool {
    raw == "xmlns" || raw.starts_with("xmlns:")
}

/// One event of a [`Pull`] reader.
#[derive(Debug)]
pub enum PullEvent<'a> {
    /// An element starts. An empty element (`<a/>`) is a `Start` followed by
    /// an `End`. Its name and attributes were already checked (prefixes bound,
    /// attribute syntax and entities valid, limits respected).
    Start(BytesStart<'a>),
    /// The innermost open element ends.
    End,
    /// A piece of the innermost element's direct text (CDATA included, XML 1.0
    /// end-of-line normalisation applied); one element's text may come in
    /// several pieces.
    Text(Cow<'a, str>),
    /// A resolved entity or character reference in the innermost element.
    Char(char),
    /// End of input, after the root element closed.
    Eof,
}

/// A pull parser over a whole document that enforces the same well-formedness
/// rules and [`XmlLimits`] as [`parse`], without building a tree: callers pick
/// out what they need and skip the rest (every skipped element is still
/// checked). Whitespace outside the root is skipped; any other content there
/// is an error, as are unbound prefixes and unknown entities.
pub struct Pull<'a> {
    reader: NsReader<&'a [u8]>,
    limits: XmlLimits,
    resolve: bool,
    depth: usize,
    count: usize,
    pending_end: bool,
    root_done: bool,
    text: &'a str,
    last_start: usize,
}

impl<'a> Pull<'a> {
    /// A reader over `text`; with `resolve`, element and attribute prefixes
    /// must be bound (as in [`parse`]), without it names are local (as in
    /// [`parse_local`]).
    pub fn new(text: &'a str, limits: &XmlLimits, resolve: bool) -> Result<Self, XmlError> {
        if text.len() > limits.max_input_len {
            return Err(XmlError::TooLarge {
                len: text.len(),
                limit: limits.max_input_len,
            });
        }
        let mut reader = NsReader::from_reader(text.as_bytes());
        reader.config_mut().check_end_names = true;
        Ok(Pull {
            reader,
            limits: *limits,
            resolve,
            depth: 0,
            count: 0,
            pending_end: false,
            root_done: false,
            text,
            last_start: 0,
        })
    }

    /// Byte offset of the `<` of the tag just read, the reader having been
    /// at `from` before it.
    fn tag_start(&self, from: usize) -> usize {
        let b = self.text.as_bytes();
        if b.get(from) == Some(&b'<') {
            return from;
        }
        if from > 0 && b.get(from - 1) == Some(&b'<') {
            return from - 1;
        }
        from + self.text.get(from..).and_then(|r| r.find('<')).unwrap_or(0)
    }

    /// The source text of the element whose `Start` began at `start` and
    /// whose `End` was just returned (for re-reading it later).
    pub fn span_since(&self, start: usize) -> &'a str {
        let end = usize::try_from(self.reader.buffer_position()).unwrap_or(0);
        self.text.get(start..end).unwrap_or("")
    }

    /// Byte offset of the `<` of the last element started.
    pub fn last_start(&self) -> usize {
        self.last_start
    }

    /// Number of open elements.
    pub fn depth(&self) -> usize {
        self.depth
    }

    fn close(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        if self.depth == 0 {
            self.root_done = true;
        }
    }

    fn check_attrs(&self, s: &BytesStart<'_>) -> Result<(), XmlError> {
        let pos = self.reader.buffer_position();
        for a in s.attributes() {
            let a = a.map_err(|e| syntax(pos, e))?;
            let raw = a.key.as_ref();
            if is_xmlns(raw) {
                continue;
            }
            if self.resolve && !raw.starts_with("xml:") {
                if let (ResolveResult::Unknown(p), _) =
                    self.reader.resolver().resolve_attribute(a.key)
                {
                    return Err(XmlError::UnknownPrefix(p));
                }
            }
            // Only references can make a value invalid.
            if a.value.contains('&') {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(|e| syntax(pos, e))?;
            }
        }
        Ok(())
    }

    /// The next event.
    pub fn next_event(&mut self) -> Result<PullEvent<'a>, XmlError> {
        if self.pending_end {
            self.pending_end = false;
            self.close();
            return Ok(PullEvent::End);
        }
        loop {
            let pos = self.reader.buffer_position();
            let ev = self.reader.read_event().map_err(|e| syntax(pos, e))?;
            let empty = matches!(ev, Event::Empty(_));
            match ev {
                Event::Start(s) | Event::Empty(s) => {
                    if self.resolve {
                        if let (ResolveResult::Unknown(p), _) =
                            self.reader.resolver().resolve_element(s.name())
                        {
                            return Err(XmlError::UnknownPrefix(p));
                        }
                    }
                    if self.root_done {
                        return Err(XmlError::TrailingContent);
                    }
                    self.count += 1;
                    if self.count > self.limits.max_elements {
                        return Err(XmlError::TooManyElements {
                            limit: self.limits.max_elements,
                        });
                    }
                    if self.depth >= self.limits.max_depth {
                        return Err(XmlError::TooDeep {
                            limit: self.limits.max_depth,
                        });
                    }
                    self.check_attrs(&s)?;
                    self.last_start = self.tag_start(usize::try_from(pos).unwrap_or(0));
                    self.depth += 1;
                    self.pending_end = empty;
                    return Ok(PullEvent::Start(s));
                }
                Event::End(_) => {
                    if self.depth == 0 {
                        return Err(XmlError::TrailingContent);
                    }
                    self.close();
                    return Ok(PullEvent::End);
                }
                Event::Text(t) => {
                    let content = t.xml10_content();
                    if self.depth > 0 {
                        return Ok(PullEvent::Text(content));
                    }
                    if !content.trim().is_empty() {
                        return Err(if self.root_done {
                            XmlError::TrailingContent
                        } else {
                            XmlError::LeadingText
                        });
                    }
                }
                Event::CData(c) => {
                    if self.depth == 0 {
                        return Err(XmlError::TrailingContent);
                    }
                    return Ok(PullEvent::Text(c.xml10_content()));
                }
                Event::GeneralRef(r) => {
                    let ch = if r.is_char_ref() {
                        r.resolve_char_ref()
                            .ok()
                            .flatten()
                            .ok_or_else(|| XmlError::BadEntity(r.to_string()))?
                    } else {
                        resolve_entity(&r).ok_or_else(|| XmlError::BadEntity(r.to_string()))?
                    };
                    if self.depth == 0 {
                        return Err(XmlError::LeadingText);
                    }
                    return Ok(PullEvent::Char(ch));
                }
                Event::Eof => {
                    if self.depth > 0 {
                        return Err(XmlError::Unclosed);
                    }
                    if !self.root_done {
                        return Err(XmlError::NoRoot);
                    }
                    return Ok(PullEvent::Eof);
                }
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            }
        }
    }

    /// Namespace URI of an element just returned by [`Pull::next`] (before the
    /// next call); `None` when unbound or when not resolving.
    pub fn ns(&self, s: &BytesStart<'_>) -> Option<&str> {
        if !self.resolve {
            return None;
        }
        match self.reader.resolver().resolve_element(s.name()) {
            (ResolveResult::Bound(ns), _) => Some(ns.0),
            _ => None,
        }
    }

    /// True when the element just started has this namespace URI and local name.
    pub fn is(&self, s: &BytesStart<'_>, ns: &str, name: &str) -> bool {
        s.local_name().as_ref() == name && self.ns(s) == Some(ns)
    }

    /// After a `Start`: consume the element up to and including its `End`.
    pub fn skip(&mut self) -> Result<(), XmlError> {
        let target = self.depth.saturating_sub(1);
        while self.depth > target {
            if let PullEvent::Eof = self.next_event()? {
                return Err(XmlError::Unclosed);
            }
        }
        Ok(())
    }

    /// After a `Start`: consume the element and return its direct text
    /// (child elements are checked and skipped). Borrowed when the text is
    /// one piece.
    pub fn text(&mut self) -> Result<Cow<'a, str>, XmlError> {
        let target = self.depth.saturating_sub(1);
        let mut out: Cow<'a, str> = Cow::Borrowed("");
        loop {
            match self.next_event()? {
                PullEvent::End if self.depth == target => return Ok(out),
                PullEvent::Text(t) if self.depth == target + 1 => {
                    if out.is_empty() {
                        out = t;
                    } else {
                        out.to_mut().push_str(&t);
                    }
                }
                PullEvent::Char(c) if self.depth == target + 1 => out.to_mut().push(c),
                PullEvent::Eof => return Err(XmlError::Unclosed),
                _ => {}
            }
        }
    }

    /// After a `Start`: consume the element and return it as a tree.
    pub fn element(&mut self, start: &BytesStart<'_>) -> Result<Element, XmlError> {
        let mut stack = vec![self.make_element(start)?];
        loop {
            match self.next_event()? {
                PullEvent::Start(s) => {
                    let el = self.make_element(&s)?;
                    stack.push(el);
                }
                PullEvent::End => {
                    let Some(el) = stack.pop() else {
                        return Err(XmlError::Unclosed);
                    };
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => return Ok(el),
                    }
                }
                PullEvent::Text(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&t);
                    }
                }
                PullEvent::Char(c) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push(c);
                    }
                }
                PullEvent::Eof => return Err(XmlError::Unclosed),
            }
        }
    }

    /// Consume the rest of the document (which must hold nothing but
    /// whitespace, comments and processing instructions after the root).
    pub fn finish(&mut self) -> Result<(), XmlError> {
        loop {
            if let PullEvent::Eof = self.next_event()? {
                return Ok(());
            }
        }
    }

    fn make_element(&self, start: &BytesStart<'_>) -> Result<Element, XmlError> {
        let pos = self.reader.buffer_position();
        let ns = if self.resolve {
            resolved_ns(self.reader.resolver().resolve_element(start.name()).0)?
        } else {
            None
        };
        let name = start.local_name().as_ref().to_string();
        let mut attrs = Vec::new();
        for a in start.attributes() {
            let a = a.map_err(|e| syntax(pos, e))?;
            let key = a.key;
            let raw = key.as_ref();
            if is_xmlns(raw) {
                continue;
            }
            let (ans, local) = if !self.resolve {
                (None, key.local_name())
            } else {
                let (res, local) = self.reader.resolver().resolve_attribute(key);
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
}

/// Value of an attribute of a start tag by local name, unprefixed first (as
/// [`Element::attr`]); entities resolved and whitespace normalised.
pub fn start_attr<'s>(s: &'s BytesStart<'_>, name: &str) -> Option<Cow<'s, str>> {
    let mut fallback = None;
    for a in s.attributes().flatten() {
        let raw = a.key.as_ref();
        if is_xmlns(raw) || a.key.local_name().as_ref() != name {
            continue;
        }
        if a.key.prefix().is_none() {
            return a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok();
        }
        if fallback.is_none() {
            fallback = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok();
        }
    }
    fallback
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
    let mut p = Pull::new(text, limits, resolve)?;
    loop {
        // Before the root, `next` yields only a Start (or an error).
        if let PullEvent::Start(s) = p.next_event()? {
            let root = p.element(&s)?;
            p.finish()?;
            return Ok(root);
        }
    }
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
