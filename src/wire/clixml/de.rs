//! CLIXML deserialization: XML text to [`Value`].
//!
//! Element names are matched by local name only (PSRP payloads carry no
//! namespace, `Export-Clixml` documents use the 2004/04 default namespace).
//! `<TN>`/`<TNRef>` are resolved into `type_names`, and `<Ref RefId>` is
//! resolved to a copy of the referenced object; references only to objects
//! that are already complete are accepted, and the total number of values a
//! document may expand to is capped, so a reference bomb is an error and not
//! an out-of-memory. This module must not panic on any input.

use std::collections::HashMap;

use base64::Engine as _;
use uuid::Uuid;

use super::escape;
use super::{ClixmlError, Collection, ListKind, ProgressRecord, Property, PsObject, Value};
use crate::xml::{self, start_attr, Element, Pull, PullEvent, Tag, XmlLimits};

/// Limits for decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClixmlLimits {
    /// XML limits (depth, element count, input size).
    pub xml: XmlLimits,
    /// Maximum number of values after `<Ref>` expansion.
    pub max_values: usize,
    /// Maximum value nesting, counting levels entered through `<Ref>`.
    pub max_nesting: usize,
}

impl Default for ClixmlLimits {
    fn default() -> Self {
        ClixmlLimits {
            xml: XmlLimits {
                max_depth: 100,
                max_elements: 2_000_000,
                max_input_len: 64 * 1024 * 1024,
            },
            max_values: 4_000_000,
            max_nesting: 64,
        }
    }
}

/// Decode one CLIXML value (the root element) with default limits.
pub fn from_clixml(text: &str) -> Result<Value, ClixmlError> {
    from_clixml_with_limits(text, &ClixmlLimits::default())
}

/// Decode one CLIXML value with explicit limits. A leading UTF-8 BOM is
/// ignored. Streams through the XML without building a tree; the result is
/// the one of [`from_clixml_tree_with_limits`] (XML errors anywhere win over
/// CLIXML errors).
pub fn from_clixml_with_limits(text: &str, limits: &ClixmlLimits) -> Result<Value, ClixmlError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut p = Pull::new(text, &limits.xml, false)?;
    let root = loop {
        if let PullEvent::Start(s) = p.next_event()? {
            break s;
        }
    };
    let mut d = Stream::new(limits);
    match d.value(&mut p, &root) {
        Ok(v) => {
            p.finish()?;
            Ok(v)
        }
        Err(ClixmlError::Xml(e)) => Err(ClixmlError::Xml(e)),
        Err(e) => {
            p.finish()?;
            Err(e)
        }
    }
}

/// The reference decoder: builds the element tree first, then walks it.
/// Slower than [`from_clixml_with_limits`]; kept to cross-check it.
pub fn from_clixml_tree_with_limits(
    text: &str,
    limits: &ClixmlLimits,
) -> Result<Value, ClixmlError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let root = xml::parse_local(text, &limits.xml)?;
    let mut d = Decoder::new(limits);
    d.value(&root)
}

/// Decode an `<Objs>` document (as written by `Export-Clixml` or a
/// `#< CLIXML` stream), optionally prefixed by the `#< CLIXML` marker. A
/// document whose root is not `<Objs>` yields one value.
pub fn from_clixml_document(text: &str) -> Result<Vec<Value>, ClixmlError> {
    let limits = ClixmlLimits::default();
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let text = text.trim_start();
    let text = text.strip_prefix("#< CLIXML").unwrap_or(text);
    let root = xml::parse_local(text, &limits.xml)?;
    let mut d = Decoder::new(&limits);
    if root.name == "Objs" {
        root.children.iter().map(|c| d.value(c)).collect()
    } else {
        Ok(vec![d.value(&root)?])
    }
}

struct Decoder<'a> {
    objects: HashMap<&'a str, &'a Element>,
    type_names: HashMap<String, Vec<String>>,
    values: usize,
    max_values: usize,
    nesting: usize,
    max_nesting: usize,
}

fn invalid(tag: &'static str, text: &str) -> ClixmlError {
    ClixmlError::InvalidPrimitive {
        tag,
        text: text.chars().take(64).collect(),
    }
}

fn parse_num<T: std::str::FromStr>(tag: &'static str, text: &str) -> Result<T, ClixmlError> {
    text.trim().parse::<T>().map_err(|_| invalid(tag, text))
}

fn parse_bool(text: &str) -> Result<bool, ClixmlError> {
    match text.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(invalid("B", text)),
    }
}

fn parse_f64(tag: &'static str, text: &str) -> Result<f64, ClixmlError> {
    match text.trim() {
        "INF" => Ok(f64::INFINITY),
        "-INF" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        t => {
            // Reject Rust-only spellings ("inf", "infinity") that xs:double lacks.
            if t.chars()
                .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
            {
                return Err(invalid(tag, text));
            }
            t.parse::<f64>().map_err(|_| invalid(tag, text))
        }
    }
}

fn ref_id(el: &Element, element: &'static str) -> Result<String, ClixmlError> {
    el.attr("RefId")
        .map(str::to_string)
        .ok_or(ClixmlError::BadAttribute {
            element,
            attribute: "RefId",
        })
}

impl<'a> Decoder<'a> {
    fn new(limits: &ClixmlLimits) -> Self {
        Decoder {
            objects: HashMap::new(),
            type_names: HashMap::new(),
            values: 0,
            max_values: limits.max_values,
            nesting: 0,
            max_nesting: limits.max_nesting,
        }
    }

    fn count(&mut self, n: usize) -> Result<(), ClixmlError> {
        self.values = self.values.saturating_add(n);
        if self.values > self.max_values {
            return Err(ClixmlError::TooManyValues {
                limit: self.max_values,
            });
        }
        Ok(())
    }

    fn value(&mut self, el: &'a Element) -> Result<Value, ClixmlError> {
        if self.nesting >= self.max_nesting {
            return Err(ClixmlError::TooDeep {
                limit: self.max_nesting,
            });
        }
        self.nesting += 1;
        let r = self.value_inner(el);
        self.nesting -= 1;
        r
    }

    fn value_inner(&mut self, el: &'a Element) -> Result<Value, ClixmlError> {
        self.count(1)?;
        Ok(match el.name.as_str() {
            "PR" => Value::ProgressRecord(Box::new(self.progress(el)?)),
            "Obj" => self.object(el)?,
            "Ref" => {
                let id = ref_id(el, "Ref")?;
                let target = *self
                    .objects
                    .get(id.as_str())
                    .ok_or(ClixmlError::UnknownRef { kind: "object", id })?;
                // Re-decoding the referenced (complete) element gives an equal
                // value; every value it yields is counted against the cap.
                self.object(target)?
            }
            other => primitive(other, &el.text)?,
        })
    }

    fn progress(&mut self, el: &Element) -> Result<ProgressRecord, ClixmlError> {
        let mut pr = ProgressRecord::default();
        let mut saw_av = false;
        for c in &el.children {
            let t = c.text.as_str();
            saw_av |= c.name == "AV";
            if !progress_field(&mut pr, &c.name, t)? {
                return Err(ClixmlError::UnexpectedElement {
                    element: c.name.chars().take(64).collect(),
                    context: "<PR>",
                });
            }
        }
        if !saw_av {
            return Err(invalid("PR", "missing <AV>"));
        }
        Ok(pr)
    }

    fn properties(&mut self, el: &'a Element) -> Result<Vec<Property>, ClixmlError> {
        el.children
            .iter()
            .map(|c| {
                Ok(Property {
                    name: escape::decode(c.attr("N").unwrap_or("")),
                    value: self.value(c)?,
                })
            })
            .collect()
    }

    fn object(&mut self, el: &'a Element) -> Result<Value, ClixmlError> {
        let mut obj = PsObject::default();
        for c in &el.children {
            match c.name.as_str() {
                "TN" => {
                    let names: Vec<String> = c
                        .children
                        .iter()
                        .filter(|t| t.name == "T")
                        .map(|t| escape::decode(&t.text))
                        .collect();
                    if let Some(id) = c.attr("RefId") {
                        self.type_names.insert(id.to_string(), names.clone());
                    }
                    obj.type_names = names;
                }
                "TNRef" => {
                    let id = ref_id(c, "TNRef")?;
                    obj.type_names =
                        self.type_names
                            .get(&id)
                            .cloned()
                            .ok_or(ClixmlError::UnknownRef {
                                kind: "type name",
                                id,
                            })?;
                }
                "ToString" => obj.to_string = Some(escape::decode(&c.text)),
                "Props" => obj.adapted = self.properties(c)?,
                "MS" => obj.extended = self.properties(c)?,
                "LST" | "STK" | "QUE" | "IE" => {
                    let kind = match c.name.as_str() {
                        "LST" => ListKind::List,
                        "STK" => ListKind::Stack,
                        "QUE" => ListKind::Queue,
                        _ => ListKind::Enumerable,
                    };
                    let items = c
                        .children
                        .iter()
                        .map(|i| self.value(i))
                        .collect::<Result<Vec<_>, _>>()?;
                    obj.collection = Some(Collection::List { kind, items });
                }
                "DCT" => {
                    let mut entries = Vec::with_capacity(c.children.len());
                    for en in &c.children {
                        if en.name != "En" {
                            return Err(ClixmlError::UnexpectedElement {
                                element: en.name.chars().take(64).collect(),
                                context: "<DCT>",
                            });
                        }
                        let key = en
                            .children
                            .iter()
                            .find(|k| k.attr("N") == Some("Key"))
                            .ok_or(ClixmlError::BadDictionaryEntry("Key"))?;
                        let val = en
                            .children
                            .iter()
                            .find(|k| k.attr("N") == Some("Value"))
                            .ok_or(ClixmlError::BadDictionaryEntry("Value"))?;
                        let k = self.value(key)?;
                        let v = self.value(val)?;
                        entries.push((k, v));
                    }
                    obj.collection = Some(Collection::Dictionary(entries));
                }
                _ => {
                    let v = self.value(c)?;
                    if matches!(v, Value::Object(_)) {
                        return Err(ClixmlError::UnexpectedElement {
                            element: c.name.chars().take(64).collect(),
                            context: "<Obj> content",
                        });
                    }
                    obj.base = Some(v);
                }
            }
        }
        let value = Value::Object(Box::new(obj));
        if let Some(id) = el.attr("RefId") {
            self.objects.insert(id, el);
        }
        Ok(value)
    }
}

/// Where an `<Obj RefId>` came from, to decode it again for a `<Ref>`.
struct Span<'a> {
    text: &'a str,
}

/// The streaming decoder: the same rules as [`Decoder`], reading
/// [`PullEvent`]s. A `<Ref>` re-decodes the referenced object's source text,
/// as the tree decoder re-decodes its element, so counts and nesting match.
struct Stream<'a> {
    objects: HashMap<String, Span<'a>>,
    type_names: HashMap<String, Vec<String>>,
    values: usize,
    max_values: usize,
    nesting: usize,
    max_nesting: usize,
    xml: XmlLimits,
}

type R<T> = Result<T, ClixmlError>;

fn tag(s: &Tag<'_>) -> String {
    s.local_name().chars().take(64).collect()
}

/// Calls `f` for each child element of the current element (`f` consumes
/// it), until the element's end.
fn each_child<'a>(p: &mut Pull<'a>, mut f: impl FnMut(&mut Pull<'a>, Tag<'a>) -> R<()>) -> R<()> {
    let target = p.depth().saturating_sub(1);
    loop {
        match p.next_event()? {
            PullEvent::Start(s) => f(p, s)?,
            PullEvent::End if p.depth() == target => return Ok(()),
            PullEvent::Eof => return Err(xml::XmlError::Unclosed.into()),
            _ => {}
        }
    }
}

impl<'a> Stream<'a> {
    fn new(limits: &ClixmlLimits) -> Self {
        Stream {
            objects: HashMap::new(),
            type_names: HashMap::new(),
            values: 0,
            max_values: limits.max_values,
            nesting: 0,
            max_nesting: limits.max_nesting,
            xml: limits.xml,
        }
    }

    fn count(&mut self) -> R<()> {
        self.values = self.values.saturating_add(1);
        if self.values > self.max_values {
            return Err(ClixmlError::TooManyValues {
                limit: self.max_values,
            });
        }
        Ok(())
    }

    fn value(&mut self, p: &mut Pull<'a>, s: &Tag<'a>) -> R<Value> {
        if self.nesting >= self.max_nesting {
            return Err(ClixmlError::TooDeep {
                limit: self.max_nesting,
            });
        }
        self.nesting += 1;
        let r = self.value_inner(p, s);
        self.nesting -= 1;
        r
    }

    fn value_inner(&mut self, p: &mut Pull<'a>, s: &Tag<'a>) -> R<Value> {
        self.count()?;
        let name = s.local_name();
        match name {
            "Obj" => return self.object(p, s),
            "PR" => return Ok(Value::ProgressRecord(Box::new(self.progress(p)?))),
            "Ref" => {
                let id = start_attr(s, "RefId").ok_or(ClixmlError::BadAttribute {
                    element: "Ref",
                    attribute: "RefId",
                })?;
                p.skip()?;
                let span = self
                    .objects
                    .get(id.as_ref())
                    .map(|s| s.text)
                    .ok_or_else(|| ClixmlError::UnknownRef {
                        kind: "object",
                        id: id.into_owned(),
                    })?;
                let mut sub = Pull::new(span, &self.xml, false)?;
                let root = loop {
                    if let PullEvent::Start(s) = sub.next_event()? {
                        break s;
                    }
                };
                return self.object(&mut sub, &root);
            }
            _ => {}
        }
        let t = p.text()?;
        primitive(name, t.as_ref())
    }

    fn progress(&mut self, p: &mut Pull<'a>) -> R<ProgressRecord> {
        let mut pr = ProgressRecord::default();
        let mut saw_av = false;
        each_child(p, |p, c| {
            let name = c.local_name();
            let t = p.text()?;
            let t = t.as_ref();
            saw_av |= name == "AV";
            if !progress_field(&mut pr, name, t)? {
                return Err(ClixmlError::UnexpectedElement {
                    element: tag(&c),
                    context: "<PR>",
                });
            }
            Ok(())
        })?;
        if !saw_av {
            return Err(invalid("PR", "missing <AV>"));
        }
        Ok(pr)
    }

    fn properties(&mut self, p: &mut Pull<'a>) -> R<Vec<Property>> {
        let mut out = Vec::new();
        each_child(p, |p, c| {
            let name = escape::decode(start_attr(&c, "N").as_deref().unwrap_or(""));
            let value = self.value(p, &c)?;
            out.push(Property { name, value });
            Ok(())
        })?;
        Ok(out)
    }

    fn object(&mut self, p: &mut Pull<'a>, s: &Tag<'a>) -> R<Value> {
        let start = p.last_start();
        let mut obj = PsObject::default();
        each_child(p, |p, c| {
            let name = c.local_name();
            match name {
                "TN" => {
                    let mut names = Vec::new();
                    each_child(p, |p, t| {
                        if t.local_name() == "T" {
                            names.push(escape::decode(&p.text()?));
                        } else {
                            p.skip()?;
                        }
                        Ok(())
                    })?;
                    if let Some(id) = start_attr(&c, "RefId") {
                        self.type_names.insert(id.into_owned(), names.clone());
                    }
                    obj.type_names = names;
                }
                "TNRef" => {
                    let id = start_attr(&c, "RefId").ok_or(ClixmlError::BadAttribute {
                        element: "TNRef",
                        attribute: "RefId",
                    })?;
                    p.skip()?;
                    obj.type_names =
                        self.type_names.get(id.as_ref()).cloned().ok_or_else(|| {
                            ClixmlError::UnknownRef {
                                kind: "type name",
                                id: id.into_owned(),
                            }
                        })?;
                }
                "ToString" => obj.to_string = Some(escape::decode(&p.text()?)),
                "Props" => obj.adapted = self.properties(p)?,
                "MS" => obj.extended = self.properties(p)?,
                "LST" | "STK" | "QUE" | "IE" => {
                    let kind = match name {
                        "LST" => ListKind::List,
                        "STK" => ListKind::Stack,
                        "QUE" => ListKind::Queue,
                        _ => ListKind::Enumerable,
                    };
                    let mut items = Vec::new();
                    each_child(p, |p, i| {
                        items.push(self.value(p, &i)?);
                        Ok(())
                    })?;
                    obj.collection = Some(Collection::List { kind, items });
                }
                "DCT" => {
                    let mut entries = Vec::new();
                    each_child(p, |p, en| {
                        if en.local_name() != "En" {
                            return Err(ClixmlError::UnexpectedElement {
                                element: tag(&en),
                                context: "<DCT>",
                            });
                        }
                        let mut key = None;
                        let mut val = None;
                        each_child(p, |p, k| {
                            match start_attr(&k, "N").as_deref() {
                                Some("Key") if key.is_none() => key = Some(self.value(p, &k)?),
                                Some("Value") if val.is_none() => val = Some(self.value(p, &k)?),
                                _ => p.skip()?,
                            }
                            Ok(())
                        })?;
                        let k = key.ok_or(ClixmlError::BadDictionaryEntry("Key"))?;
                        let v = val.ok_or(ClixmlError::BadDictionaryEntry("Value"))?;
                        entries.push((k, v));
                        Ok(())
                    })?;
                    obj.collection = Some(Collection::Dictionary(entries));
                }
                _ => {
                    let v = self.value(p, &c)?;
                    if matches!(v, Value::Object(_)) {
                        return Err(ClixmlError::UnexpectedElement {
                            element: tag(&c),
                            context: "<Obj> content",
                        });
                    }
                    obj.base = Some(v);
                }
            }
            Ok(())
        })?;
        if let Some(id) = start_attr(s, "RefId") {
            let text = p.span_since(start);
            self.objects.insert(id.into_owned(), Span { text });
        }
        Ok(Value::Object(Box::new(obj)))
    }
}

/// A primitive value (every element that holds only text), the same for the tree and the
/// streaming decoder; anything else is an unexpected element.
fn primitive(name: &str, t: &str) -> R<Value> {
    Ok(match name {
        "Nil" => Value::Nil,
        "S" => Value::String(escape::decode(t)),
        "C" => Value::Char(parse_num("C", t)?),
        "B" => Value::Bool(parse_bool(t)?),
        "DT" => Value::DateTime(t.trim().to_string()),
        "TS" => Value::Duration(t.trim().to_string()),
        "By" => Value::UInt8(parse_num("By", t)?),
        "SB" => Value::Int8(parse_num("SB", t)?),
        "U16" => Value::UInt16(parse_num("U16", t)?),
        "I16" => Value::Int16(parse_num("I16", t)?),
        "U32" => Value::UInt32(parse_num("U32", t)?),
        "I32" => Value::Int32(parse_num("I32", t)?),
        "U64" => Value::UInt64(parse_num("U64", t)?),
        "I64" => Value::Int64(parse_num("I64", t)?),
        // f32 via f64 keeps INF/NaN handling in one place.
        "Sg" => Value::Single(parse_f64("Sg", t)? as f32),
        "Db" => Value::Double(parse_f64("Db", t)?),
        "D" => Value::Decimal(decimal(t)?),
        "BA" => Value::Bytes(bytes(t)?),
        "G" => Value::Guid(Uuid::parse_str(t.trim()).map_err(|_| invalid("G", t))?),
        "URI" => Value::Uri(escape::decode(t)),
        "Version" => Value::Version(version(t)?),
        "XD" => Value::XmlDocument(escape::decode(t)),
        "SBK" => Value::ScriptBlock(escape::decode(t)),
        "SS" => Value::SecureString(t.trim().to_string()),
        other => {
            return Err(ClixmlError::UnexpectedElement {
                element: other.chars().take(64).collect(),
                context: "a value position",
            })
        }
    })
}

/// One child of `<PR>` into `pr`; `Ok(false)` for a name a progress record does not have.
fn progress_field(pr: &mut ProgressRecord, name: &str, t: &str) -> R<bool> {
    match name {
        "AV" => pr.activity = escape::decode(t),
        "AI" => pr.activity_id = parse_num("AI", t)?,
        "Nil" => pr.current_operation = None,
        "S" | "CO" => pr.current_operation = Some(escape::decode(t)),
        "PI" => pr.parent_activity_id = parse_num("PI", t)?,
        "PC" => pr.percent_complete = parse_num("PC", t)?,
        "T" => pr.record_type = t.trim().to_string(),
        "SR" => pr.seconds_remaining = parse_num("SR", t)?,
        "SD" => pr.status_description = escape::decode(t),
        _ => return Ok(false),
    }
    Ok(true)
}

fn decimal(t: &str) -> R<String> {
    let s = t.trim();
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'E' | 'e'))
    {
        return Err(invalid("D", t));
    }
    Ok(s.to_string())
}

fn bytes(t: &str) -> R<Vec<u8>> {
    let compact: String = t.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| invalid("BA", t))
}

fn version(t: &str) -> R<String> {
    let s = t.trim();
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(invalid("Version", t));
    }
    Ok(s.to_string())
}
