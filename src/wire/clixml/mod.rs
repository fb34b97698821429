//! CLIXML, the PowerShell object serialization carried inside PSRP messages
//! (MS-PSRP 2.2.5): one value model shared by our client (reading Exchange
//! objects such as MobileDevice) and the lab server (emitting them).
//!
//! [`Value`] covers every primitive of MS-PSRP 2.2.5.1, and [`PsObject`] the
//! complex objects of 2.2.5.2 (type names, `ToString`, adapted `<Props>`,
//! extended `<MS>`, lists/stacks/queues/enumerables and dictionaries, enums as
//! objects wrapping their integer). `<TN>`/`<TNRef>` sharing and `<Ref>` object
//! references are resolved while decoding and re-created while encoding, so
//! they are not part of the model. An element the decoder does not know inside an object is
//! skipped and reported ([`Skipped`]), never the loss of the whole value. This module must not know about PSRP
//! message framing or WS-Man, and decoding must never panic on input: depth,
//! element count and reference-expansion are capped ([`ClixmlLimits`]).

pub mod de;
pub mod error_record;
pub mod escape;
pub mod json;
pub mod ser;

pub use de::{
    decode, decode_tree, from_clixml, from_clixml_document, from_clixml_tree_with_limits,
    from_clixml_with_limits, ClixmlLimits, Decoded, Skipped,
};
pub use error_record::{CategoryInfo, ErrorRecord, ErrorRecordBuilder};
pub use ser::{to_clixml, to_clixml_document};

use uuid::Uuid;

use crate::xml::XmlError;

/// Why a CLIXML document could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClixmlError {
    /// The XML itself is broken or over a limit.
    #[error("CLIXML is not well-formed: {0}")]
    Xml(#[from] XmlError),
    /// An element name that is not part of CLIXML at this position.
    #[error("unexpected element <{element}> in {context}")]
    UnexpectedElement {
        element: String,
        context: &'static str,
    },
    /// A primitive whose text does not parse as its type.
    #[error("invalid <{tag}> value {text:?}")]
    InvalidPrimitive { tag: &'static str, text: String },
    /// A required attribute is missing or malformed.
    #[error("<{element}> has a missing or invalid {attribute} attribute")]
    BadAttribute {
        element: &'static str,
        attribute: &'static str,
    },
    /// `<Ref>`/`<TNRef>` pointing at an id not (yet) defined.
    #[error("reference to unknown {kind} RefId {id}")]
    UnknownRef { kind: &'static str, id: String },
    /// Object references would expand past [`ClixmlLimits::max_values`].
    #[error("CLIXML expands to more than {limit} values")]
    TooManyValues { limit: usize },
    /// Values nested (directly or through `<Ref>`) deeper than
    /// [`ClixmlLimits::max_nesting`].
    #[error("CLIXML values nested deeper than {limit} levels")]
    TooDeep { limit: usize },
    /// The input is not valid UTF-8.
    #[error("CLIXML is not valid UTF-8")]
    NotUtf8,
}

/// The kind of a CLIXML list element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListKind {
    /// `<LST>`: arrays and lists.
    List,
    /// `<STK>`: stacks.
    Stack,
    /// `<QUE>`: queues.
    Queue,
    /// `<IE>`: other enumerables.
    Enumerable,
}

impl ListKind {
    /// The CLIXML tag.
    pub fn tag(self) -> &'static str {
        match self {
            ListKind::List => "LST",
            ListKind::Stack => "STK",
            ListKind::Queue => "QUE",
            ListKind::Enumerable => "IE",
        }
    }
}

/// The collection content of an object.
#[derive(Debug, Clone, PartialEq)]
pub enum Collection {
    /// `<LST>`, `<STK>`, `<QUE>` or `<IE>`.
    List { kind: ListKind, items: Vec<Value> },
    /// `<DCT>` with `<En>` key/value entries, in document order.
    Dictionary(Vec<(Value, Value)>),
}

/// A named property in `<Props>` or `<MS>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub name: String,
    pub value: Value,
}

impl Property {
    pub fn new(name: impl Into<String>, value: Value) -> Self {
        Property {
            name: name.into(),
            value,
        }
    }
}

/// A complex object, `<Obj>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PsObject {
    /// `<TN>` type names, most derived first (empty when absent).
    pub type_names: Vec<String>,
    /// `<ToString>`.
    pub to_string: Option<String>,
    /// The value the object extends: a primitive (an extended primitive, an enum's
    /// integer) or an unnamed `<Obj>`/`<Ref>` directly in the object's content.
    pub base: Option<Value>,
    /// List or dictionary content.
    pub collection: Option<Collection>,
    /// `<Props>`: adapted properties.
    pub adapted: Vec<Property>,
    /// `<MS>`: extended (member set) properties.
    pub extended: Vec<Property>,
}

impl PsObject {
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the type names.
    pub fn with_type_names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.type_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Set `ToString`.
    pub fn with_to_string(mut self, s: impl Into<String>) -> Self {
        self.to_string = Some(s.into());
        self
    }

    /// Add an extended (`<MS>`) property.
    pub fn with_extended(mut self, name: impl Into<String>, value: Value) -> Self {
        self.extended.push(Property::new(name, value));
        self
    }

    /// Add an adapted (`<Props>`) property.
    pub fn with_adapted(mut self, name: impl Into<String>, value: Value) -> Self {
        self.adapted.push(Property::new(name, value));
        self
    }

    /// Property by name: extended first, then adapted.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.extended
            .iter()
            .chain(self.adapted.iter())
            .find(|p| p.name == name)
            .map(|p| &p.value)
    }

    /// Value for a string key in a dictionary object.
    pub fn dict_get(&self, key: &str) -> Option<&Value> {
        match &self.collection {
            Some(Collection::Dictionary(entries)) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// List items when the object is a list/stack/queue/enumerable.
    pub fn items(&self) -> Option<&[Value]> {
        match &self.collection {
            Some(Collection::List { items, .. }) => Some(items),
            _ => None,
        }
    }

    /// True when `System.Enum` is among the type names.
    pub fn is_enum(&self) -> bool {
        self.type_names.iter().any(|t| t == "System.Enum")
    }
}

/// An MS-PSRP progress record primitive, `<PR>` (2.2.5.1.25).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProgressRecord {
    pub activity: String,
    pub activity_id: i32,
    pub current_operation: Option<String>,
    pub parent_activity_id: i32,
    pub percent_complete: i32,
    /// `Processing` or `Completed`.
    pub record_type: String,
    pub seconds_remaining: i32,
    pub status_description: String,
}

/// One CLIXML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `<Nil/>`.
    Nil,
    /// `<S>`.
    String(String),
    /// `<C>`: one UTF-16 code unit.
    Char(u16),
    /// `<B>`.
    Bool(bool),
    /// `<DT>`: kept in its lexical xs:dateTime form so it round-trips exactly.
    DateTime(String),
    /// `<TS>`: kept in its lexical xs:duration form.
    Duration(String),
    /// `<By>`.
    UInt8(u8),
    /// `<SB>`.
    Int8(i8),
    /// `<U16>`.
    UInt16(u16),
    /// `<I16>`.
    Int16(i16),
    /// `<U32>`.
    UInt32(u32),
    /// `<I32>`.
    Int32(i32),
    /// `<U64>`.
    UInt64(u64),
    /// `<I64>`.
    Int64(i64),
    /// `<Sg>`.
    Single(f32),
    /// `<Db>`.
    Double(f64),
    /// `<D>`: kept in its lexical form (arbitrary precision).
    Decimal(String),
    /// `<BA>`.
    Bytes(Vec<u8>),
    /// `<G>`.
    Guid(Uuid),
    /// `<URI>`.
    Uri(String),
    /// `<Version>`, e.g. `2.3` or `10.0.14393.2248`.
    Version(String),
    /// `<XD>`: an XML document as text.
    XmlDocument(String),
    /// `<SBK>`: script block text.
    ScriptBlock(String),
    /// `<SS>`: the base64 of an encrypted secure string, as sent.
    SecureString(String),
    /// `<PR>`.
    ProgressRecord(Box<ProgressRecord>),
    /// `<Obj>`.
    Object(Box<PsObject>),
    /// A property set (`<MS N="...">` nested in `<MS>`, MS-PSRP 2.2.5.2.9): a named group of
    /// extended properties. Only a property's value is ever one.
    MemberSet(Vec<Property>),
}

impl Value {
    /// A `<S>` value.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// An object value.
    pub fn object(o: PsObject) -> Value {
        Value::Object(Box::new(o))
    }

    /// An enum value as PowerShell serializes it: type names
    /// `[type_name, System.Enum, System.ValueType, System.Object]`, the label as
    /// `ToString` and the integer as an `<I32>`.
    pub fn enumeration(type_name: &str, label: impl Into<String>, value: i32) -> Value {
        Value::object(PsObject {
            type_names: vec![
                type_name.to_string(),
                "System.Enum".into(),
                "System.ValueType".into(),
                "System.Object".into(),
            ],
            to_string: Some(label.into()),
            base: Some(Value::Int32(value)),
            ..PsObject::default()
        })
    }

    /// A list object (`<LST>`) with the given type names.
    pub fn list<I, S>(type_names: I, items: Vec<Value>) -> Value
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Value::object(PsObject {
            type_names: type_names.into_iter().map(Into::into).collect(),
            collection: Some(Collection::List {
                kind: ListKind::List,
                items,
            }),
            ..PsObject::default()
        })
    }

    /// A `System.Object[]` array.
    pub fn array(items: Vec<Value>) -> Value {
        Value::list(["System.Object[]", "System.Array", "System.Object"], items)
    }

    /// A `System.Collections.Hashtable` with string keys, in the given order.
    pub fn hashtable<I, K>(entries: I) -> Value
    where
        I: IntoIterator<Item = (K, Value)>,
        K: Into<String>,
    {
        Value::object(PsObject {
            type_names: vec![
                "System.Collections.Hashtable".into(),
                "System.Object".into(),
            ],
            collection: Some(Collection::Dictionary(
                entries
                    .into_iter()
                    .map(|(k, v)| (Value::String(k.into()), v))
                    .collect(),
            )),
            ..PsObject::default()
        })
    }

    /// True for `<Nil/>`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The string of `S`, `URI`, `Version`, `XD`, `SBK`, `DT`, `TS`, `D`; for an
    /// object, its wrapped base value's string, if any.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s)
            | Value::Uri(s)
            | Value::Version(s)
            | Value::XmlDocument(s)
            | Value::ScriptBlock(s)
            | Value::DateTime(s)
            | Value::Duration(s)
            | Value::Decimal(s) => Some(s),
            Value::Object(o) => o.base.as_ref().and_then(Value::as_str),
            _ => None,
        }
    }

    /// A boolean, directly or wrapped in an object.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Object(o) => o.base.as_ref().and_then(Value::as_bool),
            _ => None,
        }
    }

    /// Any integer primitive (also an enum's value) as i64, if it fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::UInt8(v) => Some(i64::from(*v)),
            Value::Int8(v) => Some(i64::from(*v)),
            Value::UInt16(v) => Some(i64::from(*v)),
            Value::Int16(v) => Some(i64::from(*v)),
            Value::UInt32(v) => Some(i64::from(*v)),
            Value::Int32(v) => Some(i64::from(*v)),
            Value::UInt64(v) => i64::try_from(*v).ok(),
            Value::Int64(v) => Some(*v),
            Value::Object(o) => o.base.as_ref().and_then(Value::as_i64),
            _ => None,
        }
    }

    /// Any integer as i32, if it fits.
    pub fn as_i32(&self) -> Option<i32> {
        self.as_i64().and_then(|v| i32::try_from(v).ok())
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&PsObject> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Property by name (extended then adapted), for objects.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.as_object().and_then(|o| o.get(name))
    }

    /// Type names of an object (empty for primitives).
    pub fn type_names(&self) -> &[String] {
        match self {
            Value::Object(o) => &o.type_names,
            _ => &[],
        }
    }

    /// List items of a list object.
    pub fn items(&self) -> Option<&[Value]> {
        self.as_object().and_then(PsObject::items)
    }

    /// The CLIXML tag of this value.
    pub fn tag(&self) -> &'static str {
        match self {
            Value::Nil => "Nil",
            Value::String(_) => "S",
            Value::Char(_) => "C",
            Value::Bool(_) => "B",
            Value::DateTime(_) => "DT",
            Value::Duration(_) => "TS",
            Value::UInt8(_) => "By",
            Value::Int8(_) => "SB",
            Value::UInt16(_) => "U16",
            Value::Int16(_) => "I16",
            Value::UInt32(_) => "U32",
            Value::Int32(_) => "I32",
            Value::UInt64(_) => "U64",
            Value::Int64(_) => "I64",
            Value::Single(_) => "Sg",
            Value::Double(_) => "Db",
            Value::Decimal(_) => "D",
            Value::Bytes(_) => "BA",
            Value::Guid(_) => "G",
            Value::Uri(_) => "URI",
            Value::Version(_) => "Version",
            Value::XmlDocument(_) => "XD",
            Value::ScriptBlock(_) => "SBK",
            Value::SecureString(_) => "SS",
            Value::ProgressRecord(_) => "PR",
            Value::Object(_) => "Obj",
            Value::MemberSet(_) => "MS",
        }
    }

    /// Convert to JSON; see [`json`] for the mapping.
    pub fn to_json(&self) -> serde_json::Value {
        json::to_json(self)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int32(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int64(v)
    }
}
