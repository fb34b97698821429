//! CLIXML serialization: [`Value`] to XML text, as PowerShell writes it.
//!
//! Every `<Obj>` gets a fresh `RefId`; identical type-name lists are written
//! once as `<TN RefId>` and then as `<TNRef>`. Strings, names and type names
//! get `_xHHHH_` escaping, then XML escaping. Objects are always written out in
//! full (no `<Ref>`), which any PowerShell peer accepts. Element order inside
//! `<Obj>` is TN, ToString, base value, collection, Props, MS. This module must
//! not parse anything and cannot fail.

use std::collections::HashMap;
use std::fmt::Write as _;

use base64::Engine as _;

use super::escape;
use super::{Collection, ProgressRecord, Property, PsObject, Value};
use crate::xml::{escape_attr, escape_text};

/// Serialize one value as a CLIXML fragment (no `<Objs>` wrapper, no BOM), as
/// carried in a PSRP message.
pub fn to_clixml(value: &Value) -> String {
    let mut s = Serializer::default();
    s.value(value, None);
    s.out
}

/// Serialize values as an `<Objs>` document (the `Export-Clixml` form).
pub fn to_clixml_document(values: &[Value]) -> String {
    let mut s = Serializer {
        out: String::from(
            "<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">",
        ),
        ..Serializer::default()
    };
    for v in values {
        s.value(v, None);
    }
    s.out.push_str("</Objs>");
    s.out
}

#[derive(Default)]
struct Serializer {
    out: String,
    next_obj: u32,
    tn_ids: HashMap<Vec<String>, u32>,
}

fn fmt_f64(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "INF".into()
    } else if v == f64::NEG_INFINITY {
        "-INF".into()
    } else {
        format!("{v:?}")
    }
}

fn fmt_f32(v: f32) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f32::INFINITY {
        "INF".into()
    } else if v == f32::NEG_INFINITY {
        "-INF".into()
    } else {
        format!("{v:?}")
    }
}

impl Serializer {
    fn open(&mut self, tag: &str, name: Option<&str>) {
        self.out.push('<');
        self.out.push_str(tag);
        if let Some(n) = name {
            self.out.push_str(" N=\"");
            escape_attr(&escape::encode(n), &mut self.out);
            self.out.push('"');
        }
    }

    fn simple(&mut self, tag: &str, name: Option<&str>, text: &str) {
        self.open(tag, name);
        if text.is_empty() {
            self.out.push_str(" />");
            return;
        }
        self.out.push('>');
        escape_text(text, &mut self.out);
        let _ = write!(self.out, "</{tag}>");
    }

    fn string(&mut self, tag: &str, name: Option<&str>, text: &str) {
        self.simple(tag, name, &escape::encode(text));
    }

    fn value(&mut self, v: &Value, name: Option<&str>) {
        match v {
            Value::Nil => {
                self.open("Nil", name);
                self.out.push_str(" />");
            }
            Value::String(s) => self.string("S", name, s),
            Value::Char(c) => self.simple("C", name, &c.to_string()),
            Value::Bool(b) => self.simple("B", name, if *b { "true" } else { "false" }),
            Value::DateTime(s) => self.simple("DT", name, s),
            Value::Duration(s) => self.simple("TS", name, s),
            Value::UInt8(n) => self.simple("By", name, &n.to_string()),
            Value::Int8(n) => self.simple("SB", name, &n.to_string()),
            Value::UInt16(n) => self.simple("U16", name, &n.to_string()),
            Value::Int16(n) => self.simple("I16", name, &n.to_string()),
            Value::UInt32(n) => self.simple("U32", name, &n.to_string()),
            Value::Int32(n) => self.simple("I32", name, &n.to_string()),
            Value::UInt64(n) => self.simple("U64", name, &n.to_string()),
            Value::Int64(n) => self.simple("I64", name, &n.to_string()),
            Value::Single(f) => self.simple("Sg", name, &fmt_f32(*f)),
            Value::Double(f) => self.simple("Db", name, &fmt_f64(*f)),
            Value::Decimal(s) => self.simple("D", name, s),
            Value::Bytes(b) => self.simple(
                "BA",
                name,
                &base64::engine::general_purpose::STANDARD.encode(b),
            ),
            Value::Guid(g) => self.simple("G", name, &g.hyphenated().to_string()),
            Value::Uri(s) => self.string("URI", name, s),
            Value::Version(s) => self.simple("Version", name, s),
            Value::XmlDocument(s) => self.string("XD", name, s),
            Value::ScriptBlock(s) => self.string("SBK", name, s),
            Value::SecureString(s) => self.simple("SS", name, s),
            Value::ProgressRecord(pr) => self.progress(pr, name),
            Value::Object(o) => self.object(o, name),
            Value::MemberSet(props) => {
                self.open("MS", name);
                self.out.push('>');
                for p in props {
                    self.value(&p.value, Some(&p.name));
                }
                self.out.push_str("</MS>");
            }
        }
    }

    fn progress(&mut self, pr: &ProgressRecord, name: Option<&str>) {
        self.open("PR", name);
        self.out.push('>');
        self.string("AV", None, &pr.activity);
        self.simple("AI", None, &pr.activity_id.to_string());
        match &pr.current_operation {
            None => self.out.push_str("<Nil />"),
            Some(s) => self.string("S", None, s),
        }
        self.simple("PI", None, &pr.parent_activity_id.to_string());
        self.simple("PC", None, &pr.percent_complete.to_string());
        self.simple("T", None, &pr.record_type);
        self.simple("SR", None, &pr.seconds_remaining.to_string());
        // An empty SD must still round-trip as an element with empty text.
        self.string("SD", None, &pr.status_description);
        self.out.push_str("</PR>");
    }

    fn props(&mut self, tag: &str, props: &[Property]) {
        let _ = write!(self.out, "<{tag}>");
        for p in props {
            self.value(&p.value, Some(&p.name));
        }
        let _ = write!(self.out, "</{tag}>");
    }

    fn object(&mut self, o: &PsObject, name: Option<&str>) {
        let id = self.next_obj;
        self.next_obj = self.next_obj.wrapping_add(1);
        self.open("Obj", name);
        let _ = write!(self.out, " RefId=\"{id}\">");
        if !o.type_names.is_empty() {
            if let Some(tn) = self.tn_ids.get(&o.type_names) {
                let _ = write!(self.out, "<TNRef RefId=\"{tn}\" />");
            } else {
                let tn = u32::try_from(self.tn_ids.len()).unwrap_or(u32::MAX);
                self.tn_ids.insert(o.type_names.clone(), tn);
                let _ = write!(self.out, "<TN RefId=\"{tn}\">");
                for t in &o.type_names {
                    self.string("T", None, t);
                }
                self.out.push_str("</TN>");
            }
        }
        if let Some(ts) = &o.to_string {
            self.string("ToString", None, ts);
        }
        if let Some(b) = &o.base {
            self.value(b, None);
        }
        match &o.collection {
            Some(Collection::List { kind, items }) => {
                let tag = kind.tag();
                if items.is_empty() {
                    let _ = write!(self.out, "<{tag} />");
                } else {
                    let _ = write!(self.out, "<{tag}>");
                    for i in items {
                        self.value(i, None);
                    }
                    let _ = write!(self.out, "</{tag}>");
                }
            }
            Some(Collection::Dictionary(entries)) => {
                self.out.push_str("<DCT>");
                for (k, v) in entries {
                    self.out.push_str("<En>");
                    self.value(k, Some("Key"));
                    self.value(v, Some("Value"));
                    self.out.push_str("</En>");
                }
                self.out.push_str("</DCT>");
            }
            None => {}
        }
        if !o.adapted.is_empty() {
            self.props("Props", &o.adapted);
        }
        if !o.extended.is_empty() {
            self.props("MS", &o.extended);
        }
        self.out.push_str("</Obj>");
    }
}
