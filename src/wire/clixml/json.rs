//! CLIXML [`Value`] to JSON, for support engineers reading decoded captures.
//!
//! Mapping (readable first, lossless enough to tell what the server sent):
//!
//! | CLIXML | JSON |
//! |---|---|
//! | `Nil` | `null` |
//! | `S`, `URI`, `XD`, `SBK` | string |
//! | `B` | bool |
//! | `By` `SB` `U16` `I16` `U32` `I32` `U64` `I64` | number |
//! | `Sg`, `Db` | number; NaN/±infinity as the strings `"NaN"`, `"INF"`, `"-INF"` |
//! | `D` (decimal), `DT`, `TS`, `G`, `Version` | string in its CLIXML lexical form |
//! | `C` | one-character string (unpaired surrogate: its number) |
//! | `BA` | base64 string |
//! | `SS` | `{"secure_string": "<base64>"}` |
//! | `PR` | `{"activity", "activity_id", "current_operation", "parent_activity_id", "percent_complete", "type", "seconds_remaining", "status_description"}` |
//! | `Obj` | `{"type_names": [..], "to_string": .., "value": <wrapped primitive>, "items": [..] / "dict": .., "props": {adapted}, "extended": {MS}}`, keys present only when non-empty |
//!
//! Dictionaries whose keys are all strings become JSON objects; otherwise an
//! array of `{"key": .., "value": ..}`. List kind (LST/STK/QUE/IE) is kept as
//! `"list_kind"` only when it is not a plain `LST`. This module must not fail
//! or panic; it is a pure conversion.

use base64::Engine as _;
use serde_json::{json, Map, Value as Json};

use super::{Collection, ListKind, Property, PsObject, Value};

fn float(v: f64) -> Json {
    if v.is_nan() {
        Json::String("NaN".into())
    } else if v.is_infinite() {
        Json::String(if v > 0.0 { "INF" } else { "-INF" }.into())
    } else {
        serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number)
    }
}

fn props(list: &[Property]) -> Json {
    let mut m = Map::new();
    for p in list {
        m.insert(p.name.clone(), to_json(&p.value));
    }
    Json::Object(m)
}

fn object(o: &PsObject) -> Json {
    let mut m = Map::new();
    if !o.type_names.is_empty() {
        m.insert("type_names".into(), json!(o.type_names));
    }
    if let Some(ts) = &o.to_string {
        m.insert("to_string".into(), Json::String(ts.clone()));
    }
    if let Some(b) = &o.base {
        m.insert("value".into(), to_json(b));
    }
    match &o.collection {
        Some(Collection::List { kind, items }) => {
            if *kind != ListKind::List {
                m.insert("list_kind".into(), Json::String(kind.tag().into()));
            }
            m.insert("items".into(), items.iter().map(to_json).collect());
        }
        Some(Collection::Dictionary(entries)) => {
            let all_str = entries.iter().all(|(k, _)| matches!(k, Value::String(_)));
            let d = if all_str {
                let mut dm = Map::new();
                for (k, v) in entries {
                    if let Value::String(ks) = k {
                        dm.insert(ks.clone(), to_json(v));
                    }
                }
                Json::Object(dm)
            } else {
                entries
                    .iter()
                    .map(|(k, v)| json!({"key": to_json(k), "value": to_json(v)}))
                    .collect()
            };
            m.insert("dict".into(), d);
        }
        None => {}
    }
    if !o.adapted.is_empty() {
        m.insert("props".into(), props(&o.adapted));
    }
    if !o.extended.is_empty() {
        m.insert("extended".into(), props(&o.extended));
    }
    Json::Object(m)
}

/// Convert a value to JSON (see the module doc for the mapping).
pub fn to_json(v: &Value) -> Json {
    match v {
        Value::Nil => Json::Null,
        Value::String(s)
        | Value::Uri(s)
        | Value::XmlDocument(s)
        | Value::ScriptBlock(s)
        | Value::Decimal(s)
        | Value::DateTime(s)
        | Value::Duration(s)
        | Value::Version(s) => Json::String(s.clone()),
        Value::Char(c) => match char::from_u32(u32::from(*c)) {
            Some(ch) => Json::String(ch.to_string()),
            None => json!(c),
        },
        Value::Bool(b) => Json::Bool(*b),
        Value::UInt8(n) => json!(n),
        Value::Int8(n) => json!(n),
        Value::UInt16(n) => json!(n),
        Value::Int16(n) => json!(n),
        Value::UInt32(n) => json!(n),
        Value::Int32(n) => json!(n),
        Value::UInt64(n) => json!(n),
        Value::Int64(n) => json!(n),
        Value::Single(f) => float(f64::from(*f)),
        Value::Double(f) => float(*f),
        Value::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Guid(g) => Json::String(g.hyphenated().to_string()),
        Value::SecureString(s) => json!({ "secure_string": s }),
        Value::ProgressRecord(pr) => json!({
            "activity": pr.activity,
            "activity_id": pr.activity_id,
            "current_operation": pr.current_operation,
            "parent_activity_id": pr.parent_activity_id,
            "percent_complete": pr.percent_complete,
            "type": pr.record_type,
            "seconds_remaining": pr.seconds_remaining,
            "status_description": pr.status_description,
        }),
        Value::Object(o) => object(o),
        Value::MemberSet(props) => Json::Object(
            props
                .iter()
                .map(|p| (p.name.clone(), to_json(&p.value)))
                .collect(),
        ),
    }
}
