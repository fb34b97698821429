//! The previous `Pull`, on quick-xml's `NsReader`: kept for tests only, as the reference the
//! hand-written tokenizer is compared with event by event (`super::tests`). Not used by the
//! product; it must not grow features of its own.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::{is_xmlns, resolve_entity, resolved_ns, syntax, Attribute, XmlError, XmlLimits};

/// One event of a [`Pull`] reader.
#[derive(Debug)]
pub enum RefEvent<'a> {
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
pub struct RefPull<'a> {
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

impl<'a> RefPull<'a> {
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
        Ok(RefPull {
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
    pub fn next_event(&mut self) -> Result<RefEvent<'a>, XmlError> {
        if self.pending_end {
            self.pending_end = false;
            self.close();
            return Ok(RefEvent::End);
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
                    return Ok(RefEvent::Start(s));
                }
                Event::End(_) => {
                    if self.depth == 0 {
                        return Err(XmlError::TrailingContent);
                    }
                    self.close();
                    return Ok(RefEvent::End);
                }
                Event::Text(t) => {
                    let content = t.xml10_content();
                    if self.depth > 0 {
                        return Ok(RefEvent::Text(content));
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
                    return Ok(RefEvent::Text(c.xml10_content()));
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
                    return Ok(RefEvent::Char(ch));
                }
                Event::Eof => {
                    if self.depth > 0 {
                        return Err(XmlError::Unclosed);
                    }
                    if !self.root_done {
                        return Err(XmlError::NoRoot);
                    }
                    return Ok(RefEvent::Eof);
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
}

impl RefPull<'_> {
    /// The attributes of a start tag as the tree builder sees them.
    pub fn attributes(&self, start: &BytesStart<'_>) -> Result<Vec<Attribute>, XmlError> {
        let pos = self.reader.buffer_position();
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
        Ok(attrs)
    }
}
