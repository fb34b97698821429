//! CLIXML deserialization: XML text to [`Value`].
//!
//! Element names are matched by local name only (PSRP payloads carry no
//! namespace, `Export-Clixml` documents use the 2004/04 default namespace).
//! `<TN>`/`<TNRef>` are resolved into `type_names`, and `<Ref RefId>` is
//! resolved to a copy of the referenced object; references only to objects
//! that are already complete are accepted, and the total number of values a
//! document may expand to is capped, so a reference bomb is an error and not
//! an out-of-memory. This module must not panic on any input.
//!
//! An `<Obj>` may hold, in any order (MS-PSRP 2.2.5.2.2): `<TN>`/`<TNRef>`, `<ToString>`,
//! one value it extends (a primitive, an enum's integer, or an unnamed `<Obj>`/`<Ref>`), one
//! container (`<LST>`, `<STK>`, `<QUE>`, `<IE>`, `<DCT>`), `<Props>` and `<MS>` (whose
//! `<MS N>` children are property sets). What a real server may add that this decoder does
//! not know — an unknown element, a second base value, a `<Ref>` to an object that is not
//! complete (a cycle), an `<En>` without its key — is skipped and reported as a [`Skipped`],
//! so one odd member never costs the whole message. Only a root element that is no value at
//! all, text that does not parse as its type, broken XML and exceeded limits are errors.

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

/// What was skipped while decoding: an element the decoder does not know at its position, or
/// one it cannot keep (see the module doc). Carried to the caller, who logs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The element's local name (at most 64 characters).
    pub element: String,
    /// Where it was and why it was skipped, e.g. `"<Obj> content"`.
    pub context: &'static str,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "skipped <{}> in {}", self.element, self.context)
    }
}

/// At most this many [`Skipped`] are kept one by one; [`Decoded::skipped_total`] counts all.
pub const MAX_SKIPPED_KEPT: usize = 64;

/// A decoded value and what was skipped to get it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub value: Value,
    /// The first [`MAX_SKIPPED_KEPT`] skipped elements, in document order.
    pub skipped: Vec<Skipped>,
    /// How many elements were skipped in all.
    pub skipped_total: usize,
}

/// The skipped-element record both decoders keep.
#[derive(Debug, Default)]
struct SkipLog {
    kept: Vec<Skipped>,
    total: usize,
    /// Above 0 while a `<Ref>` re-decodes its object: what it skips was reported already.
    replaying: usize,
}

impl SkipLog {
    fn push(&mut self, element: &str, context: &'static str) {
        if self.replaying > 0 {
            return;
        }
        self.total = self.total.saturating_add(1);
        if self.kept.len() < MAX_SKIPPED_KEPT {
            self.kept.push(Skipped {
                element: element.chars().take(64).collect(),
                context,
            });
        }
    }

    fn into_decoded(self, value: Value) -> Decoded {
        Decoded {
            value,
            skipped: self.kept,
            skipped_total: self.total,
        }
    }
}

/// Why an element is skipped, one wording per case for both decoders.
const IN_OBJ: &str = "<Obj> content (not part of CLIXML)";
const SECOND_BASE: &str = "<Obj> content (a second base value)";
const SECOND_COLLECTION: &str = "<Obj> content (a second container)";
const IN_VALUE: &str = "a value position (not part of CLIXML)";
const IN_TN: &str = "<TN> (not a <T>)";
const IN_DCT: &str = "<DCT> (not an <En>)";
const EN_KEY: &str = "<DCT> (an <En> without its Key)";
const EN_VALUE: &str = "<DCT> (an <En> without its Value)";
const IN_PR: &str = "<PR> (not a progress record field)";
const CYCLE_REF: &str = "a value position (a reference to an unknown or incomplete object)";
const UNKNOWN_TNREF: &str = "<Obj> content (a reference to unknown type names)";

/// Decode one CLIXML value (the root element) with default limits. What was skipped is
/// dropped; use [`decode`] to see it.
pub fn from_clixml(text: &str) -> Result<Value, ClixmlError> {
    from_clixml_with_limits(text, &ClixmlLimits::default())
}

/// [`decode`] without the record of what was skipped.
pub fn from_clixml_with_limits(text: &str, limits: &ClixmlLimits) -> Result<Value, ClixmlError> {
    decode(text, limits).map(|d| d.value)
}

/// Decode one CLIXML value with explicit limits. A leading UTF-8 BOM is
/// ignored. Streams through the XML without building a tree; the result is
/// the one of [`decode_tree`] (XML errors anywhere win over CLIXML errors).
pub fn decode(text: &str, limits: &ClixmlLimits) -> Result<Decoded, ClixmlError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut p = Pull::new(text, &limits.xml, false)?;
    let root = loop {
        if let PullEvent::Start(s) = p.next_event()? {
            break s;
        }
    };
    let mut d = Stream::new(limits);
    match d.root(&mut p, &root) {
        Ok(v) => {
            p.finish()?;
            Ok(d.skipped.into_decoded(v))
        }
        Err(ClixmlError::Xml(e)) => Err(ClixmlError::Xml(e)),
        Err(e) => {
            p.finish()?;
            Err(e)
        }
    }
}

/// [`decode_tree`] without the record of what was skipped.
pub fn from_clixml_tree_with_limits(
    text: &str,
    limits: &ClixmlLimits,
) -> Result<Value, ClixmlError> {
    decode_tree(text, limits).map(|d| d.value)
}

/// The reference decoder: builds the element tree first, then walks it.
/// Slower than [`decode`]; kept to cross-check it.
pub fn decode_tree(text: &str, limits: &ClixmlLimits) -> Result<Decoded, ClixmlError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let root = xml::parse_local(text, &limits.xml)?;
    let mut d = Decoder::new(limits);
    let v = d.root(&root)?;
    Ok(d.skipped.into_decoded(v))
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
        root.children.iter().map(|c| d.root(c)).collect()
    } else {
        Ok(vec![d.root(&root)?])
    }
}

struct Decoder<'a> {
    skipped: SkipLog,
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
            skipped: SkipLog::default(),
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

    /// The root value: an element that is no value at all is an error here.
    fn root(&mut self, el: &'a Element) -> Result<Value, ClixmlError> {
        if el.name == "Ref" {
            let id = ref_id(el, "Ref")?;
            if !self.objects.contains_key(id.as_str()) {
                return Err(ClixmlError::UnknownRef { kind: "object", id });
            }
        }
        match self.value(el)? {
            Some(v) => Ok(v),
            None => Err(ClixmlError::UnexpectedElement {
                element: el.name.chars().take(64).collect(),
                context: "a value position",
            }),
        }
    }

    /// A value, or `None` when the element was skipped (and recorded).
    fn value(&mut self, el: &'a Element) -> Result<Option<Value>, ClixmlError> {
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

    fn value_inner(&mut self, el: &'a Element) -> Result<Option<Value>, ClixmlError> {
        self.count(1)?;
        Ok(Some(match el.name.as_str() {
            "PR" => Value::ProgressRecord(Box::new(self.progress(el)?)),
            "Obj" => self.object(el)?,
            "Ref" => {
                let id = ref_id(el, "Ref")?;
                let Some(target) = self.objects.get(id.as_str()).copied() else {
                    self.skipped.push("Ref", CYCLE_REF);
                    return Ok(None);
                };
                // Re-decoding the referenced (complete) element gives an equal
                // value; every value it yields is counted against the cap.
                self.skipped.replaying += 1;
                let v = self.object(target);
                self.skipped.replaying -= 1;
                v?
            }
            other => match primitive(other, &el.text)? {
                Some(v) => v,
                None => {
                    self.skipped.push(other, IN_VALUE);
                    return Ok(None);
                }
            },
        }))
    }

    fn progress(&mut self, el: &Element) -> Result<ProgressRecord, ClixmlError> {
        let mut pr = ProgressRecord::default();
        let mut saw_av = false;
        for c in &el.children {
            let t = c.text.as_str();
            saw_av |= c.name == "AV";
            if !progress_field(&mut pr, &c.name, t)? {
                self.skipped.push(&c.name, IN_PR);
            }
        }
        if !saw_av {
            return Err(invalid("PR", "missing <AV>"));
        }
        Ok(pr)
    }

    fn properties(&mut self, el: &'a Element) -> Result<Vec<Property>, ClixmlError> {
        let mut out = Vec::with_capacity(el.children.len());
        for c in &el.children {
            let name = escape::decode(c.attr("N").unwrap_or(""));
            let value = if c.name == "MS" {
                // A property set: counted as one value, nested like one.
                self.count(1)?;
                self.enter()?;
                let r = self.properties(c);
                self.nesting -= 1;
                Some(Value::MemberSet(r?))
            } else {
                self.value(c)?
            };
            if let Some(value) = value {
                out.push(Property { name, value });
            }
        }
        Ok(out)
    }

    fn enter(&mut self) -> Result<(), ClixmlError> {
        if self.nesting >= self.max_nesting {
            return Err(ClixmlError::TooDeep {
                limit: self.max_nesting,
            });
        }
        self.nesting += 1;
        Ok(())
    }

    fn object(&mut self, el: &'a Element) -> Result<Value, ClixmlError> {
        let mut obj = PsObject::default();
        for c in &el.children {
            match c.name.as_str() {
                "TN" => {
                    let mut names = Vec::new();
                    for t in &c.children {
                        if t.name == "T" {
                            names.push(escape::decode(&t.text));
                        } else {
                            self.skipped.push(&t.name, IN_TN);
                        }
                    }
                    if let Some(id) = c.attr("RefId") {
                        self.type_names.insert(id.to_string(), names.clone());
                    }
                    obj.type_names = names;
                }
                "TNRef" => {
                    let id = ref_id(c, "TNRef")?;
                    match self.type_names.get(&id) {
                        Some(names) => obj.type_names = names.clone(),
                        None => self.skipped.push("TNRef", UNKNOWN_TNREF),
                    }
                }
                "ToString" => obj.to_string = Some(escape::decode(&c.text)),
                "Props" => obj.adapted.extend(self.properties(c)?),
                "MS" => obj.extended.extend(self.properties(c)?),
                "LST" | "STK" | "QUE" | "IE" => {
                    let kind = list_kind(&c.name);
                    let mut items = Vec::with_capacity(c.children.len());
                    for i in &c.children {
                        items.extend(self.value(i)?);
                    }
                    set_collection(
                        &mut obj,
                        &mut self.skipped,
                        &c.name,
                        Collection::List { kind, items },
                    );
                }
                "DCT" => {
                    let mut entries = Vec::with_capacity(c.children.len());
                    for en in &c.children {
                        if en.name != "En" {
                            self.skipped.push(&en.name, IN_DCT);
                            continue;
                        }
                        // The first Key and the first Value, in document order.
                        let (mut k, mut v) = (None, None);
                        let (mut saw_k, mut saw_v) = (false, false);
                        for kv in &en.children {
                            match kv.attr("N") {
                                Some("Key") if !saw_k => {
                                    saw_k = true;
                                    k = self.value(kv)?;
                                }
                                Some("Value") if !saw_v => {
                                    saw_v = true;
                                    v = self.value(kv)?;
                                }
                                _ => {}
                            }
                        }
                        dict_entry(&mut self.skipped, &mut entries, k, v);
                    }
                    set_collection(
                        &mut obj,
                        &mut self.skipped,
                        "DCT",
                        Collection::Dictionary(entries),
                    );
                }
                other => {
                    if !is_value_element(other) {
                        self.skipped.push(other, IN_OBJ);
                        continue;
                    }
                    if let Some(v) = self.value(c)? {
                        set_base(&mut obj, &mut self.skipped, other, v);
                    }
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
    skipped: SkipLog,
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
            skipped: SkipLog::default(),
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

    fn enter(&mut self) -> R<()> {
        if self.nesting >= self.max_nesting {
            return Err(ClixmlError::TooDeep {
                limit: self.max_nesting,
            });
        }
        self.nesting += 1;
        Ok(())
    }

    /// The root value: an element that is no value at all is an error here.
    fn root(&mut self, p: &mut Pull<'a>, s: &Tag<'a>) -> R<Value> {
        if s.local_name() == "Ref" {
            let id = start_attr(s, "RefId").ok_or(ClixmlError::BadAttribute {
                element: "Ref",
                attribute: "RefId",
            })?;
            if !self.objects.contains_key(id.as_ref()) {
                return Err(ClixmlError::UnknownRef {
                    kind: "object",
                    id: id.into_owned(),
                });
            }
        }
        match self.value(p, s)? {
            Some(v) => Ok(v),
            None => Err(ClixmlError::UnexpectedElement {
                element: tag(s),
                context: "a value position",
            }),
        }
    }

    /// A value, or `None` when the element was skipped (and recorded).
    fn value(&mut self, p: &mut Pull<'a>, s: &Tag<'a>) -> R<Option<Value>> {
        self.enter()?;
        let r = self.value_inner(p, s);
        self.nesting -= 1;
        r
    }

    fn value_inner(&mut self, p: &mut Pull<'a>, s: &Tag<'a>) -> R<Option<Value>> {
        self.count()?;
        let name = s.local_name();
        match name {
            "Obj" => return self.object(p, s).map(Some),
            "PR" => return Ok(Some(Value::ProgressRecord(Box::new(self.progress(p)?)))),
            "Ref" => {
                let id = start_attr(s, "RefId").ok_or(ClixmlError::BadAttribute {
                    element: "Ref",
                    attribute: "RefId",
                })?;
                p.skip()?;
                let Some(span) = self.objects.get(id.as_ref()).map(|s| s.text) else {
                    self.skipped.push("Ref", CYCLE_REF);
                    return Ok(None);
                };
                let mut sub = Pull::new(span, &self.xml, false)?;
                let root = loop {
                    if let PullEvent::Start(s) = sub.next_event()? {
                        break s;
                    }
                };
                self.skipped.replaying += 1;
                let v = self.object(&mut sub, &root);
                self.skipped.replaying -= 1;
                return v.map(Some);
            }
            _ => {}
        }
        if !is_value_element(name) {
            // Skipped whole, whatever it holds.
            p.skip()?;
            self.skipped.push(name, IN_VALUE);
            return Ok(None);
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
                self.skipped.push(name, IN_PR);
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
            let value = if c.local_name() == "MS" {
                // A property set: counted as one value, nested like one.
                self.count()?;
                self.enter()?;
                let r = self.properties(p);
                self.nesting -= 1;
                Some(Value::MemberSet(r?))
            } else {
                self.value(p, &c)?
            };
            if let Some(value) = value {
                out.push(Property { name, value });
            }
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
                            self.skipped.push(t.local_name(), IN_TN);
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
                    match self.type_names.get(id.as_ref()) {
                        Some(names) => obj.type_names = names.clone(),
                        None => self.skipped.push("TNRef", UNKNOWN_TNREF),
                    }
                }
                "ToString" => obj.to_string = Some(escape::decode(&p.text()?)),
                "Props" => {
                    let props = self.properties(p)?;
                    obj.adapted.extend(props);
                }
                "MS" => {
                    let props = self.properties(p)?;
                    obj.extended.extend(props);
                }
                "LST" | "STK" | "QUE" | "IE" => {
                    let kind = list_kind(name);
                    let mut items = Vec::new();
                    each_child(p, |p, i| {
                        items.extend(self.value(p, &i)?);
                        Ok(())
                    })?;
                    set_collection(
                        &mut obj,
                        &mut self.skipped,
                        name,
                        Collection::List { kind, items },
                    );
                }
                "DCT" => {
                    let mut entries = Vec::new();
                    each_child(p, |p, en| {
                        if en.local_name() != "En" {
                            p.skip()?;
                            self.skipped.push(en.local_name(), IN_DCT);
                            return Ok(());
                        }
                        // The first Key and the first Value, in document order.
                        let (mut k, mut v) = (None, None);
                        let (mut saw_k, mut saw_v) = (false, false);
                        each_child(p, |p, kv| {
                            match start_attr(&kv, "N").as_deref() {
                                Some("Key") if !saw_k => {
                                    saw_k = true;
                                    k = self.value(p, &kv)?;
                                }
                                Some("Value") if !saw_v => {
                                    saw_v = true;
                                    v = self.value(p, &kv)?;
                                }
                                _ => p.skip()?,
                            }
                            Ok(())
                        })?;
                        dict_entry(&mut self.skipped, &mut entries, k, v);
                        Ok(())
                    })?;
                    set_collection(
                        &mut obj,
                        &mut self.skipped,
                        "DCT",
                        Collection::Dictionary(entries),
                    );
                }
                other => {
                    if !is_value_element(other) {
                        p.skip()?;
                        self.skipped.push(other, IN_OBJ);
                        return Ok(());
                    }
                    if let Some(v) = self.value(p, &c)? {
                        set_base(&mut obj, &mut self.skipped, other, v);
                    }
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

/// A dictionary entry with both its key and value, else the record of what it lacks.
fn dict_entry(
    skipped: &mut SkipLog,
    entries: &mut Vec<(Value, Value)>,
    k: Option<Value>,
    v: Option<Value>,
) {
    match (k, v) {
        (Some(k), Some(v)) => entries.push((k, v)),
        (None, _) => skipped.push("En", EN_KEY),
        (_, None) => skipped.push("En", EN_VALUE),
    }
}

/// The object's container, unless it has one already (then `tag` is skipped).
fn set_collection(obj: &mut PsObject, skipped: &mut SkipLog, tag: &str, c: Collection) {
    if obj.collection.is_some() {
        skipped.push(tag, SECOND_COLLECTION);
    } else {
        obj.collection = Some(c);
    }
}

/// The value the object extends, unless it has one already (then `tag` is skipped).
fn set_base(obj: &mut PsObject, skipped: &mut SkipLog, tag: &str, v: Value) {
    if obj.base.is_some() {
        skipped.push(tag, SECOND_BASE);
    } else {
        obj.base = Some(v);
    }
}

fn list_kind(name: &str) -> ListKind {
    match name {
        "LST" => ListKind::List,
        "STK" => ListKind::Stack,
        "QUE" => ListKind::Queue,
        _ => ListKind::Enumerable,
    }
}

/// The element names that are values (MS-PSRP 2.2.5.1 primitives, `<Obj>`, `<Ref>`).
fn is_value_element(name: &str) -> bool {
    matches!(
        name,
        "Obj"
            | "Ref"
            | "PR"
            | "Nil"
            | "S"
            | "C"
            | "B"
            | "DT"
            | "TS"
            | "By"
            | "SB"
            | "U16"
            | "I16"
            | "U32"
            | "I32"
            | "U64"
            | "I64"
            | "Sg"
            | "Db"
            | "D"
            | "BA"
            | "G"
            | "URI"
            | "Version"
            | "XD"
            | "SBK"
            | "SS"
    )
}

/// A primitive value (every element that holds only text), the same for the tree and the
/// streaming decoder; `None` for a name that is no primitive.
fn primitive(name: &str, t: &str) -> R<Option<Value>> {
    Ok(Some(match name {
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
        _ => return Ok(None),
    }))
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
