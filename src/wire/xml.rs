//! A small, namespace-aware XML pull parser and element tree, shared by the
//! WS-Man envelope parser and the CLIXML deserializer. The tokenizer is our
//! own (it was quick-xml's: reading each tag once here made decoding ~1.5×
//! faster); quick-xml stays as the reference it is tested against.
//!
//! It exists so that both codecs walk a tree whose element and attribute names
//! are resolved to namespace URIs (prefixes differ between servers), and so that
//! every size and nesting limit is enforced in one place. It must not interpret
//! any protocol: no SOAP, no CLIXML knowledge lives here. It must never panic on
//! input: broken XML, unknown entities, excessive depth or node counts all come
//! back as [`XmlError`].

use std::borrow::Cow;
use std::fmt::Write as _;

#[cfg(test)]
use quick_xml::name::ResolveResult;

#[cfg(test)]
mod reference;

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

#[cfg(test)]
fn resolved_ns(r: ResolveResult<'_>) -> Result<Option<String>, XmlError> {
    match r {
        ResolveResult::Bound(ns) => Ok(Some(ns.0.to_string())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(p) => Err(XmlError::UnknownPrefix(p)),
    }
}

#[cfg(test)]
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
    Start(Tag<'a>),
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

/// A start tag, already checked: its qualified name, its namespace (when the
/// reader resolves them) and its attribute text, which [`Tag::attrs`] walks
/// without checking again.
#[derive(Debug, Clone)]
pub struct Tag<'a> {
    qname: &'a str,
    /// Where the local name starts (0 when there is no prefix).
    local: usize,
    ns: Option<Cow<'a, str>>,
    attrs: &'a str,
}

impl<'a> Tag<'a> {
    /// The name as written, prefix included.
    pub fn qname(&self) -> &'a str {
        self.qname
    }

    /// The name without its prefix.
    pub fn local_name(&self) -> &'a str {
        &self.qname[self.local..]
    }

    /// The attributes as written: (qualified name, raw value between the quotes),
    /// `xmlns` declarations included.
    pub fn attrs(&self) -> RawAttrs<'a> {
        RawAttrs { rest: self.attrs }
    }
}

/// Iterator over a checked tag's attributes; see [`Tag::attrs`].
pub struct RawAttrs<'a> {
    rest: &'a str,
}

impl<'a> Iterator for RawAttrs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        // The tag was checked: `name S? = S? quote value quote`, separated by white space.
        let r = self.rest;
        let b = r.as_bytes();
        let mut i = 0;
        while b.get(i).is_some_and(|&c| is_space_byte(c)) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(|&c| !ends_name(c)) {
            i += 1;
        }
        let name = &r[start..i];
        let eq = i + memchr::memchr(b'=', b.get(i..)?)?;
        let mut j = eq + 1;
        while b.get(j).is_some_and(|&c| is_space_byte(c)) {
            j += 1;
        }
        let q = *b.get(j)?;
        let close = j + 1 + memchr::memchr(q, b.get(j + 1..)?)?;
        self.rest = &r[close + 1..];
        Some((name, &r[j + 1..close]))
    }
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_space_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Bytes that end a name.
fn ends_name(b: u8) -> bool {
    is_space_byte(b) || matches!(b, b'/' | b'>' | b'=')
}

/// A name as error messages show it: at most 64 characters (input can be hostile).
fn short(name: &str) -> String {
    name.chars().take(64).collect()
}

/// At most this many attributes in one tag (real ones have a handful): the duplicate check
/// compares each with the others.
const MAX_ATTRS: usize = 256;

/// Equality for the short strings of names and prefixes, without a call to memcmp.
#[inline]
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// Whether an ASCII byte may be part of a name (non-ASCII bytes all may).
#[inline]
fn name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b':')
}

/// Read the name starting at `start` in `b`: its end, and the offset of its
/// local part (0 without a prefix). The same rules as [`check_name`].
#[inline]
fn scan_name(b: &[u8], start: usize) -> Result<(usize, usize), ()> {
    let mut i = start;
    let mut local = 0;
    while let Some(&c) = b.get(i) {
        if c < 128 {
            if name_byte(c) {
                if c == b':' {
                    if local != 0 {
                        return Err(());
                    }
                    local = i + 1 - start;
                }
            } else if ends_name(c) {
                break;
            } else {
                return Err(());
            }
        }
        i += 1;
    }
    let first = *b.get(start).ok_or(())?;
    if i == start
        || first.is_ascii_digit()
        || matches!(first, b'-' | b'.' | b':')
        || local == i - start
    {
        return Err(());
    }
    Ok((i, local))
}

/// A checked XML name (element or attribute): no markup characters, a
/// sensible first character, at most one prefix separator, not at either end.
fn check_name(name: &str, pos: usize) -> Result<(), XmlError> {
    let bad = |what: &str| XmlError::Syntax {
        position: pos as u64,
        message: format!(
            "invalid name {:?}: {what}",
            name.chars().take(64).collect::<String>()
        ),
    };
    let first = name.bytes().next().ok_or_else(|| bad("empty"))?;
    if first.is_ascii_digit() || matches!(first, b'-' | b'.' | b':') {
        return Err(bad("it cannot start with this character"));
    }
    if name.ends_with(':') || name.matches(':').count() > 1 {
        return Err(bad("misplaced ':'"));
    }
    if name
        .bytes()
        .any(|b| b < 0x80 && !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':')))
    {
        return Err(bad("it contains a character names cannot have"));
    }
    Ok(())
}

/// Resolve the reference `&…;` whose body (between `&` and `;`) is `body`.
fn reference(body: &str) -> Result<char, XmlError> {
    let bad = || XmlError::BadEntity(body.chars().take(32).collect());
    let c = if let Some(num) = body.strip_prefix('#') {
        let n = match num.strip_prefix('x') {
            Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                u32::from_str_radix(hex, 16).map_err(|_| bad())?
            }
            None if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) => {
                num.parse::<u32>().map_err(|_| bad())?
            }
            _ => return Err(bad()),
        };
        char::from_u32(n).filter(|&c| c != '\0').ok_or_else(bad)?
    } else {
        resolve_entity(body).ok_or_else(bad)?
    };
    Ok(c)
}

/// The length (from `&`, `;` included) of the reference at the start of `s`.
fn reference_len(s: &str, pos: usize) -> Result<(usize, char), XmlError> {
    // The longest valid reference is a character reference: "&#x10FFFF;" with leading zeros
    // allowed, so look a little further than that for the ';'.
    let window = s.as_bytes().get(1..s.len().min(64)).unwrap_or(&[]);
    let semi = window
        .iter()
        .position(|&b| b == b';')
        .ok_or_else(|| XmlError::Syntax {
            position: pos as u64,
            message: "'&' does not start a reference ending in ';'".into(),
        })?;
    let c = reference(&s[1..1 + semi])?;
    Ok((semi + 2, c))
}

/// An attribute value with references resolved and whitespace characters made
/// spaces (XML 1.0 attribute-value normalisation for CDATA attributes).
fn normalize_attr(raw: &str) -> Cow<'_, str> {
    if !raw
        .bytes()
        .any(|b| matches!(b, b'&' | b'\t' | b'\n' | b'\r'))
    {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '\t', '\n', '\r']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        match tail.as_bytes().first().copied().unwrap_or(0) {
            b'&' => match reference_len(tail, 0) {
                Ok((len, c)) => {
                    out.push(c);
                    rest = &tail[len..];
                }
                // Values are checked before anyone normalises them.
                Err(_) => {
                    out.push('&');
                    rest = &tail[1..];
                }
            },
            b'\r' => {
                out.push(' ');
                rest = tail.strip_prefix("\r\n").unwrap_or(&tail[1..]);
            }
            _ => {
                out.push(' ');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// XML 1.0 end-of-line normalisation: "\r\n" and a lone "\r" become "\n".
fn normalize_eol(s: &str) -> Cow<'_, str> {
    if memchr::memchr(b'\r', s.as_bytes()).is_none() {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.replace("\r\n", "\n").replace('\r', "\n"))
}

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// A pull parser over a whole document that enforces the same well-formedness
/// rules and [`XmlLimits`] as [`parse`], without building a tree: callers pick
/// out what they need and skip the rest (every skipped element is still
/// checked). Whitespace outside the root is skipped; any other content there
/// is an error, as are unbound prefixes, unknown entities and a DOCTYPE.
///
/// A tokenizer of its own over the `&str` it is given (the input is UTF-8
/// already): every tag is read once, its attributes checked once (syntax,
/// duplicates, references, prefixes) and then handed out as slices.
pub struct Pull<'a> {
    text: &'a str,
    pos: usize,
    limits: XmlLimits,
    resolve: bool,
    count: usize,
    pending_end: bool,
    root_done: bool,
    last_start: usize,
    /// Open elements: qualified name, and how many namespace bindings it declared.
    open: Vec<(&'a str, usize)>,
    /// In-scope namespace bindings, innermost last; prefix "" is the default namespace.
    bindings: Vec<(&'a str, Cow<'a, str>)>,
    /// The attribute names of the tag being read, with their local parts' offsets
    /// (for the duplicate and prefix checks).
    names: Vec<(&'a str, usize)>,
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
        // A byte order mark is not content.
        let pos = if text.starts_with('\u{feff}') { 3 } else { 0 };
        Ok(Pull {
            text,
            pos,
            limits: *limits,
            resolve,
            count: 0,
            pending_end: false,
            root_done: false,
            last_start: 0,
            open: Vec::new(),
            bindings: Vec::new(),
            names: Vec::new(),
        })
    }

    /// The source text of the element whose `Start` began at `start` and
    /// whose `End` was just returned (for re-reading it later).
    pub fn span_since(&self, start: usize) -> &'a str {
        self.text.get(start..self.pos).unwrap_or("")
    }

    /// Byte offset of the `<` of the last element started.
    pub fn last_start(&self) -> usize {
        self.last_start
    }

    /// Number of open elements.
    pub fn depth(&self) -> usize {
        self.open.len()
    }

    fn err(&self, at: usize, message: impl Into<String>) -> XmlError {
        XmlError::Syntax {
            position: at as u64,
            message: message.into(),
        }
    }

    fn close(&mut self) {
        if let Some((_, n)) = self.open.pop() {
            self.bindings
                .truncate(self.bindings.len().saturating_sub(n));
        }
        if self.open.is_empty() {
            self.root_done = true;
        }
    }

    /// The namespace bound to `prefix` ("" for the default namespace).
    fn lookup(&self, prefix: &str) -> Option<&Cow<'a, str>> {
        self.bindings
            .iter()
            .rev()
            .find(|(p, _)| same(p, prefix))
            .map(|(_, ns)| ns)
    }

    /// Skip to just after `end`, which must occur; `what` names the construct.
    fn skip_past(&mut self, end: &str, what: &str) -> Result<(), XmlError> {
        match self.text[self.pos..].find(end) {
            Some(i) => {
                self.pos += i + end.len();
                Ok(())
            }
            None => Err(self.err(self.pos, format!("unclosed {what}"))),
        }
    }

    /// The next event.
    pub fn next_event(&mut self) -> Result<PullEvent<'a>, XmlError> {
        if self.pending_end {
            self.pending_end = false;
            self.close();
            return Ok(PullEvent::End);
        }
        let b = self.text.as_bytes();
        loop {
            let at = self.pos;
            let Some(&c) = b.get(at) else {
                if !self.open.is_empty() {
                    return Err(XmlError::Unclosed);
                }
                if !self.root_done {
                    return Err(XmlError::NoRoot);
                }
                return Ok(PullEvent::Eof);
            };
            if c == b'<' {
                match b.get(at + 1) {
                    Some(b'/') => return self.end_tag(at),
                    Some(b'?') => {
                        self.pos = at + 2;
                        self.skip_past("?>", "processing instruction")?;
                    }
                    Some(b'!') => {
                        let rest = &self.text[at..];
                        if rest.starts_with("<!--") {
                            self.pos = at + 4;
                            self.skip_past("-->", "comment")?;
                        } else if rest.starts_with("<![CDATA[") {
                            self.pos = at + 9;
                            let body = &self.text[self.pos..];
                            let Some(i) = body.find("]]>") else {
                                return Err(self.err(at, "unclosed CDATA section"));
                            };
                            self.pos += i + 3;
                            if self.open.is_empty() {
                                return Err(XmlError::TrailingContent);
                            }
                            return Ok(PullEvent::Text(normalize_eol(&body[..i])));
                        } else if rest.starts_with("<!DOCTYPE") {
                            return Err(self.err(at, "a DOCTYPE is not allowed"));
                        } else {
                            return Err(self.err(at, "'<!' starts no comment or CDATA section"));
                        }
                    }
                    _ => return self.start_tag(at),
                }
            } else if c == b'&' {
                let (len, ch) = reference_len(&self.text[at..], at)?;
                self.pos = at + len;
                if self.open.is_empty() {
                    return Err(XmlError::LeadingText);
                }
                return Ok(PullEvent::Char(ch));
            } else {
                let end = memchr::memchr2(b'<', b'&', b.get(at..).unwrap_or(&[]))
                    .map_or(b.len(), |i| at + i);
                self.pos = end;
                let piece = &self.text[at..end];
                if !self.open.is_empty() {
                    return Ok(PullEvent::Text(normalize_eol(piece)));
                }
                if !piece.trim_matches(is_xml_space).is_empty() {
                    return Err(if self.root_done {
                        XmlError::TrailingContent
                    } else {
                        XmlError::LeadingText
                    });
                }
            }
        }
    }

    fn end_tag(&mut self, at: usize) -> Result<PullEvent<'a>, XmlError> {
        let b = self.text.as_bytes();
        let name_start = at + 2;
        let mut i = name_start;
        while b.get(i).is_some_and(|&c| !ends_name(c)) {
            i += 1;
        }
        let name = &self.text[name_start..i];
        while b.get(i).is_some_and(|&c| is_space_byte(c)) {
            i += 1;
        }
        if b.get(i) != Some(&b'>') {
            return Err(self.err(
                at,
                format!("end tag </{}> is not closed by '>'", short(name)),
            ));
        }
        self.pos = i + 1;
        match self.open.last() {
            None => Err(XmlError::TrailingContent),
            Some((open, _)) if same(open, name) => {
                self.close();
                Ok(PullEvent::End)
            }
            Some((open, _)) => Err(self.err(
                at,
                format!("expected </{}>, found </{}>", short(open), short(name)),
            )),
        }
    }

    fn start_tag(&mut self, at: usize) -> Result<PullEvent<'a>, XmlError> {
        let text = self.text;
        let b = text.as_bytes();
        let (mut i, local) = match scan_name(b, at + 1) {
            Ok(r) => r,
            Err(()) => {
                let mut e = at + 1;
                while b.get(e).is_some_and(|&c| !ends_name(c)) {
                    e += 1;
                }
                check_name(&text[at + 1..e], at)?;
                return Err(self.err(at, "invalid element name"));
            }
        };
        let qname = &text[at + 1..i];
        let attrs_start = i;
        let bindings_before = self.bindings.len();
        self.names.clear();
        let empty = loop {
            let ws = i;
            while b.get(i).is_some_and(|&c| is_space_byte(c)) {
                i += 1;
            }
            match b.get(i) {
                None => return Err(self.err(at, format!("tag <{}> is not closed", short(qname)))),
                Some(b'>') => break false,
                Some(b'/') => {
                    if b.get(i + 1) == Some(&b'>') {
                        break true;
                    }
                    return Err(self.err(i, "'/' in a tag must be followed by '>'"));
                }
                Some(_) if i == ws => {
                    return Err(self.err(
                        i,
                        format!(
                            "attributes of <{}> must be separated by white space",
                            short(qname)
                        ),
                    ));
                }
                Some(_) => {}
            }
            // One attribute: name, '=', a quoted value.
            let name_start = i;
            let (end, colon) = match scan_name(b, i) {
                Ok(r) => r,
                Err(()) => {
                    let mut e = i;
                    while b.get(e).is_some_and(|&c| !ends_name(c)) {
                        e += 1;
                    }
                    check_name(&text[i..e], i)?;
                    return Err(self.err(i, "invalid attribute name"));
                }
            };
            i = end;
            let name = &text[name_start..i];
            while b.get(i).is_some_and(|&c| is_space_byte(c)) {
                i += 1;
            }
            if b.get(i) != Some(&b'=') {
                return Err(self.err(i, format!("attribute {} has no value", short(name))));
            }
            i += 1;
            while b.get(i).is_some_and(|&c| is_space_byte(c)) {
                i += 1;
            }
            let q = match b.get(i) {
                Some(&q @ (b'"' | b'\'')) => q,
                _ => {
                    return Err(self.err(
                        i,
                        format!("the value of attribute {} is not quoted", short(name)),
                    ))
                }
            };
            let Some(len) = memchr::memchr(q, b.get(i + 1..).unwrap_or(&[])) else {
                return Err(self.err(
                    i,
                    format!("the value of attribute {} is not closed", short(name)),
                ));
            };
            let value = &text[i + 1..i + 1 + len];
            let mut k = 0;
            while let Some(m) =
                memchr::memchr2(b'<', b'&', value.as_bytes().get(k..).unwrap_or(&[]))
            {
                if value.as_bytes().get(k + m) == Some(&b'<') {
                    return Err(self.err(
                        i,
                        format!("the value of attribute {} contains '<'", short(name)),
                    ));
                }
                let (l, _) = reference_len(&value[k + m..], i)?;
                k += m + l;
            }
            i += len + 2;
            if self.names.len() >= MAX_ATTRS {
                return Err(self.err(at, format!("more than {MAX_ATTRS} attributes in one tag")));
            }
            if self.names.iter().any(|(n, _)| same(n, name)) {
                return Err(self.err(name_start, format!("duplicate attribute {}", short(name))));
            }
            self.names.push((name, colon));
            if self.resolve {
                let prefix = match colon {
                    0 if same(name, "xmlns") => Some(""),
                    6 if same(&name[..5], "xmlns") => Some(&name[6..]),
                    _ => None,
                };
                if let Some(p) = prefix {
                    self.bindings.push((p, normalize_attr(value)));
                }
            }
        };
        let attrs = &text[attrs_start..i];
        self.pos = i + if empty { 2 } else { 1 };
        let declared = self.bindings.len() - bindings_before;
        let ns = if self.resolve {
            let prefix = (local > 0).then(|| &qname[..local - 1]);
            let found = match prefix {
                Some("xml") => Some(Cow::Borrowed(XML_NS)),
                Some(p) => match self.lookup(p) {
                    Some(ns) if !ns.is_empty() => Some(ns.clone()),
                    _ => {
                        self.bindings.truncate(bindings_before);
                        return Err(XmlError::UnknownPrefix(p.to_string()));
                    }
                },
                None => self.lookup("").filter(|ns| !ns.is_empty()).cloned(),
            };
            for &(name, colon) in &self.names {
                if colon > 0 {
                    let p = &name[..colon - 1];
                    if !same(p, "xml")
                        && !same(p, "xmlns")
                        && self.lookup(p).is_none_or(|ns| ns.is_empty())
                    {
                        let p = p.to_string();
                        self.bindings.truncate(bindings_before);
                        return Err(XmlError::UnknownPrefix(p));
                    }
                }
            }
            found
        } else {
            None
        };
        let fail = |s: &mut Self, e: XmlError| {
            s.bindings.truncate(bindings_before);
            Err(e)
        };
        if self.root_done {
            return fail(self, XmlError::TrailingContent);
        }
        self.count += 1;
        if self.count > self.limits.max_elements {
            let limit = self.limits.max_elements;
            return fail(self, XmlError::TooManyElements { limit });
        }
        if self.open.len() >= self.limits.max_depth {
            let limit = self.limits.max_depth;
            return fail(self, XmlError::TooDeep { limit });
        }
        self.last_start = at;
        self.open.push((qname, declared));
        self.pending_end = empty;
        Ok(PullEvent::Start(Tag {
            qname,
            local,
            ns,
            attrs,
        }))
    }

    /// Namespace URI of an element just returned by [`Pull::next_event`];
    /// `None` when unbound or when not resolving.
    pub fn ns<'t>(&self, s: &'t Tag<'_>) -> Option<&'t str> {
        s.ns.as_deref()
    }

    /// True when the element just started has this namespace URI and local name.
    pub fn is(&self, s: &Tag<'_>, ns: &str, name: &str) -> bool {
        same(s.local_name(), name) && s.ns.as_deref() == Some(ns)
    }

    /// After a `Start`: consume the element up to and including its `End`.
    pub fn skip(&mut self) -> Result<(), XmlError> {
        let target = self.depth().saturating_sub(1);
        while self.depth() > target {
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
        let target = self.depth().saturating_sub(1);
        let mut out: Cow<'a, str> = Cow::Borrowed("");
        loop {
            match self.next_event()? {
                PullEvent::End if self.depth() == target => return Ok(out),
                PullEvent::Text(t) if self.depth() == target + 1 => {
                    if out.is_empty() {
                        out = t;
                    } else {
                        out.to_mut().push_str(&t);
                    }
                }
                PullEvent::Char(c) if self.depth() == target + 1 => out.to_mut().push(c),
                PullEvent::Eof => return Err(XmlError::Unclosed),
                _ => {}
            }
        }
    }

    /// After a `Start`: consume the element and return it as a tree.
    pub fn element(&mut self, start: &Tag<'_>) -> Result<Element, XmlError> {
        let mut stack = vec![self.make_element(start)];
        loop {
            match self.next_event()? {
                PullEvent::Start(s) => {
                    let el = self.make_element(&s);
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

    /// The attributes of a tag just started, resolved as [`Element::attrs`]
    /// holds them (`xmlns` declarations left out).
    pub fn attributes(&self, start: &Tag<'_>) -> Vec<Attribute> {
        start
            .attrs()
            .filter(|(name, _)| !is_xmlns(name))
            .map(|(name, value)| {
                let (prefix, local) = match name.split_once(':') {
                    Some((p, l)) => (Some(p), l),
                    None => (None, name),
                };
                let ns = match prefix {
                    Some(_) if !self.resolve => None,
                    Some("xml") => Some(XML_NS.to_string()),
                    Some(p) => self.lookup(p).map(|ns| ns.to_string()),
                    None => None,
                };
                Attribute {
                    ns,
                    name: local.to_string(),
                    value: normalize_attr(value).into_owned(),
                }
            })
            .collect()
    }

    fn make_element(&self, start: &Tag<'_>) -> Element {
        Element {
            ns: start.ns.as_ref().map(|ns| ns.to_string()),
            name: start.local_name().to_string(),
            attrs: self.attributes(start),
            children: Vec::new(),
            text: String::new(),
        }
    }
}

/// Value of an attribute of a start tag by local name, unprefixed first (as
/// [`Element::attr`]); entities resolved and whitespace normalised.
pub fn start_attr<'s>(s: &Tag<'s>, name: &str) -> Option<Cow<'s, str>> {
    let mut fallback = None;
    for (qname, value) in s.attrs() {
        if is_xmlns(qname) {
            continue;
        }
        match qname.split_once(':') {
            None if qname == name => return Some(normalize_attr(value)),
            Some((_, local)) if local == name && fallback.is_none() => {
                fallback = Some(normalize_attr(value));
            }
            _ => {}
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    //! The tokenizer against quick-xml (`reference`), event by event, on every
    //! envelope and CLIXML payload of the pypsrp recordings, on hand-written
    //! corner cases, and on thousands of mutations of both.

    use super::reference::{RefEvent, RefPull};
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Tok {
        Start(Option<String>, String, Vec<Attribute>),
        End,
        Text(String),
    }

    fn push_text(out: &mut Vec<Tok>, t: &str) {
        if let Some(Tok::Text(s)) = out.last_mut() {
            s.push_str(t);
        } else {
            out.push(Tok::Text(t.to_string()));
        }
    }

    fn kind(e: &XmlError) -> &'static str {
        match e {
            XmlError::Syntax { .. } => "Syntax",
            XmlError::UnknownPrefix(_) => "UnknownPrefix",
            XmlError::BadEntity(_) => "BadEntity",
            XmlError::TooDeep { .. } => "TooDeep",
            XmlError::TooManyElements { .. } => "TooManyElements",
            XmlError::TooLarge { .. } => "TooLarge",
            XmlError::NoRoot => "NoRoot",
            XmlError::TrailingContent => "TrailingContent",
            XmlError::LeadingText => "LeadingText",
            XmlError::Unclosed => "Unclosed",
        }
    }

    fn ours(text: &str, resolve: bool) -> Result<Vec<Tok>, XmlError> {
        let mut p = Pull::new(text, &XmlLimits::default(), resolve)?;
        let mut out = Vec::new();
        loop {
            match p.next_event()? {
                PullEvent::Start(s) => {
                    let attrs = p.attributes(&s);
                    out.push(Tok::Start(
                        p.ns(&s).map(str::to_string),
                        s.local_name().into(),
                        attrs,
                    ));
                }
                PullEvent::End => out.push(Tok::End),
                PullEvent::Text(t) => push_text(&mut out, &t),
                PullEvent::Char(c) => push_text(&mut out, c.encode_utf8(&mut [0; 4])),
                PullEvent::Eof => return Ok(out),
            }
        }
    }

    fn theirs(text: &str, resolve: bool) -> Result<Vec<Tok>, XmlError> {
        let mut p = RefPull::new(text, &XmlLimits::default(), resolve)?;
        let mut out = Vec::new();
        loop {
            match p.next_event()? {
                RefEvent::Start(s) => {
                    let attrs = p.attributes(&s)?;
                    let ln = s.local_name();
                    let local: &str = ln.as_ref();
                    let local = local.to_string();
                    // quick-xml keeps references in namespace names; the Namespaces
                    // spec (and ours) resolves them.
                    let ns = p.ns(&s).map(|ns| normalize_attr(ns).into_owned());
                    let attrs = attrs
                        .into_iter()
                        .map(|a| Attribute {
                            ns: a.ns.map(|ns| normalize_attr(&ns).into_owned()),
                            ..a
                        })
                        .collect();
                    out.push(Tok::Start(ns, local, attrs));
                }
                RefEvent::End => out.push(Tok::End),
                RefEvent::Text(t) => push_text(&mut out, &t),
                RefEvent::Char(c) => push_text(&mut out, c.encode_utf8(&mut [0; 4])),
                RefEvent::Eof => return Ok(out),
            }
        }
    }

    /// Where the two may differ: ours refuses some malformed input quick-xml lets through
    /// (a DOCTYPE, '<' in an attribute value, attributes not separated by white space, bad
    /// name characters, '/' not followed by '>'). Never the other way round, and never in
    /// what a well-formed document yields.
    /// `strict`: no difference at all (for real documents).
    fn compare(text: &str, resolve: bool, strict: bool) -> Result<(), String> {
        match (ours(text, resolve), theirs(text, resolve)) {
            (Ok(a), Ok(b)) if a == b => Ok(()),
            (Ok(a), Ok(b)) => Err(format!("different events:\n ours {a:?}\n ref  {b:?}")),
            (Ok(_), Err(e)) => Err(format!("ours accepts what quick-xml refuses ({e})")),
            (Err(e), Ok(_)) if !strict && matches!(e, XmlError::Syntax { .. }) => Ok(()),
            (Err(e), Ok(_)) => Err(format!(
                "ours refuses ({}: {e}) what quick-xml accepts",
                kind(&e)
            )),
            (Err(_), Err(_)) => Ok(()),
        }
    }

    /// The hand-written corner cases first ([`CORNER_CASES`] of them), then the recordings.
    fn corpus() -> Vec<String> {
        let mut v: Vec<String> = [
            "<a/>",
            "<?xml version=\"1.0\"?>\n<!-- c --><a x='1' y=\"2\">t&amp;u&#x41;&#66;<b/>v<![CDATA[<w>]]></a>\n",
            "<s:E xmlns:s='urn:s' xmlns='urn:d'><s:H a='1' s:b='2'/><B xmlns=''>x</B></s:E>",
            "<a xml:lang='en' xmlns:p='urn:p'><p:b p:c='&lt;&#9;\r\n z'/></a>",
            "<a>line\r\nnext\rlast</a>",
            "<a  b = 'x' \n c=\"y\" ></a >",
            "\u{feff}<a/>",
            "<a><?pi x?></a>",
            "<a>&bogus;</a>",
            "<a>&#0;</a>",
            "<p:a/>",
            "<a p:b='1'/>",
            "<a><b></a>",
            "<a/><b/>",
            "x<a/>",
            "<a><b>",
            "",
            "<a b='1' b='2'/>",
            "<a b='1'c='2'/>",
            "<a b=1/>",
            "<a b='<'/>",
            "<!DOCTYPE a><a/>",
            "<a>]]></a>",
            "<a xmlns:p='urn:&amp;x'><p:b/></a>",
        ][..CORNER_CASES]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let dir = std::env::var_os("EAS_PSRP_RECORDINGS")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                [
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("../../../shared/fixtures/pypsrp-recordings"),
                    std::path::PathBuf::from("/work/shared/fixtures/pypsrp-recordings"),
                ]
                .into_iter()
                .find(|d| d.is_dir())
            });
        let Some(dir) = dir else {
            println!("pypsrp recordings not found; the corner cases only");
            return v;
        };
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for f in files
            .iter()
            .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        {
            let cap = crate::capture::Capture::parse(&std::fs::read_to_string(f).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            for item in &cap.items {
                v.extend(item.request.iter().chain(item.response.iter()).cloned());
            }
            for m in cap.messages().unwrap_or_default() {
                if let Ok(t) = std::str::from_utf8(&m.message.data) {
                    v.push(t.to_string());
                }
            }
        }
        v
    }

    const CORNER_CASES: usize = 24;

    #[test]
    fn same_events_as_quick_xml_on_real_and_corner_cases() {
        let corpus = corpus();
        let mut failures = Vec::new();
        for (i, text) in corpus.iter().enumerate() {
            for resolve in [true, false] {
                if let Err(e) = compare(text, resolve, i >= CORNER_CASES) {
                    failures.push(format!(
                        "#{i} resolve={resolve}: {e}\n  input: {:.300}",
                        text
                    ));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {}:\n{}",
            failures.len(),
            corpus.len() * 2,
            failures.join("\n")
        );
    }

    #[test]
    fn same_events_as_quick_xml_on_mutations() {
        let corpus = corpus();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        const PIECES: [&str; 12] = [
            "<",
            ">",
            "/",
            "&",
            ";",
            "'",
            "\"",
            "=",
            " ",
            ":",
            "&#x41;",
            "<![CDATA[",
        ];
        let mut failures = Vec::new();
        let mut runs = 0;
        for round in 0..8 {
            for text in &corpus {
                if text.is_empty() {
                    continue;
                }
                let mut t = text.clone();
                for _ in 0..1 + next() % 3 {
                    let mut at = (next() as usize) % (t.len() + 1);
                    while !t.is_char_boundary(at) {
                        at -= 1;
                    }
                    match next() % 3 {
                        0 => t.insert_str(at, PIECES[(next() % 12) as usize]),
                        1 => {
                            let mut end = (at + 1 + (next() % 4) as usize).min(t.len());
                            while !t.is_char_boundary(end) {
                                end += 1;
                            }
                            t.replace_range(at..end, "");
                        }
                        _ => t.truncate(at),
                    }
                }
                runs += 1;
                let resolve = round % 2 == 0;
                if let Err(e) = compare(&t, resolve, false) {
                    failures.push(format!("resolve={resolve}: {e}\n  input: {t:.400}"));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {runs}:\n{}",
            failures.len(),
            failures[..failures.len().min(8)].join("\n")
        );
    }
}
