//! Generated CLIXML objects that use every MS-PSRP 2.2.5 construct — nested and unnamed
//! objects, RefIds and `<Ref>`, `<TN>`/`<TNRef>`, `<Props>`/`<MS>` mixes with property sets,
//! `ToString`, enums, extended primitives, lists, stacks, queues, enumerables, dictionaries,
//! secure strings, every primitive, children in any order, and elements CLIXML does not have —
//! decoded by our two decoders and by pypsrp's deserializer (an independent implementation,
//! through `tests/peers/clixml_pypsrp.py`); all must agree on each, and ours must report exactly
//! the unknown elements as skipped. Required when `EAS_TEST_PEERS=1`, skipped with a note
//! otherwise.

//!
//! A module of the `clixml` test binary (one binary less to link).

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::XorShift;
use crate::support;
use base64::Engine as _;
use eas_connector::wire::clixml::{decode, decode_tree, ClixmlLimits, Collection, ListKind, Value};
use serde_json::{json, Map, Value as Json};

const DOCS: usize = 300;

/// The kinds pypsrp tells apart by type name.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Generic,
    Enum,
    Hashtable,
    Array,
    Stack,
    Queue,
}

struct Gen {
    rng: XorShift,
    next_ref: u32,
    next_tn: u32,
    /// TN RefIds already written, with the kind their names give.
    tns: Vec<(u32, Kind)>,
    /// Complete objects a `<Ref>` may point at.
    done: Vec<u32>,
    /// Elements unknown to CLIXML written (all must be reported as skipped).
    unknown: usize,
    /// Constructs used, to show the generator covers them.
    used: std::collections::BTreeMap<&'static str, usize>,
}

fn attr_n(name: Option<&str>) -> String {
    name.map(|n| format!(" N=\"{n}\"")).unwrap_or_default()
}

impl Gen {
    fn pick(&mut self, n: usize) -> usize {
        self.rng.below(n)
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.rng.below(100) < percent
    }

    fn mark(&mut self, what: &'static str) {
        *self.used.entry(what).or_default() += 1;
    }

    fn prim(&mut self, name: Option<&str>) -> String {
        let n = attr_n(name);
        let i = self.pick(1000);
        let (tag, text) = match self.pick(25) {
            0 => ("S", format!("text {i} a_x000A_b &amp; c")),
            1 => ("S", format!("plain{i}")),
            2 => ("I32", format!("-{i}")),
            3 => ("I64", format!("{}", i64::MAX - i as i64)),
            4 => ("U64", format!("{}", u64::MAX - i as u64)),
            5 => (
                "B",
                if i.is_multiple_of(2) { "true" } else { "false" }.into(),
            ),
            6 => ("Db", format!("{}.25", i)),
            7 => ("Sg", format!("{}.5", i % 100)),
            8 => ("Nil", String::new()),
            9 => ("G", format!("3f2504e0-4f89-11d3-9a0c-0305e82c{:04x}", i)),
            10 => (
                "BA",
                base64::engine::general_purpose::STANDARD.encode(format!("b{i}")),
            ),
            11 => ("C", format!("{}", 65 + i % 26)),
            12 => ("DT", "2026-12-05T13:04:05.1234567+00:00".into()),
            13 => ("TS", "PT1H2M3.5S".into()),
            14 => ("Version", format!("15.1.{i}.6")),
            15 => ("D", format!("{i}.125")),
            16 => ("URI", format!("https://cas{i}.lab.test/owa")),
            17 => ("SS", "AAECAwQFBgcICQoLDA0ODw==".into()),
            18 => ("By", format!("{}", i % 256)),
            19 => ("SB", format!("-{}", i % 128)),
            20 => ("U16", format!("{i}")),
            21 => ("I16", format!("-{i}")),
            22 => ("U32", format!("{i}")),
            23 => ("XD", "doc&lt;a/&gt;".into()),
            _ => ("SBK", format!("Get-Thing -Id {i}")),
        };
        self.mark(match tag {
            "SS" => "secure string",
            _ => "primitive",
        });
        if text.is_empty() {
            format!("<{tag}{n} />")
        } else {
            format!("<{tag}{n}>{text}</{tag}>")
        }
    }

    fn unknown_el(&mut self, name: Option<&str>) -> String {
        self.unknown += 1;
        self.mark("unknown element");
        let n = attr_n(name);
        match self.pick(3) {
            0 => format!("<ZzFuture{n} />"),
            1 => format!("<ZzNote{n}>x</ZzNote>"),
            _ => format!("<ZzBlock{n}><S>inner</S><Obj RefId=\"zz\"><I32>1</I32></Obj></ZzBlock>"),
        }
    }

    /// A value in a property or item position.
    fn value(&mut self, name: Option<&str>, depth: usize, refable: bool) -> String {
        let r = self.pick(10);
        if depth < 3 && r < 3 {
            self.object(name, depth + 1, refable)
        } else if refable && r == 3 && !self.done.is_empty() {
            let id = self.done[self.rng.below(self.done.len())];
            self.mark("Ref");
            format!("<Ref{} RefId=\"{id}\" />", attr_n(name))
        } else {
            self.prim(name)
        }
    }

    /// `<TN>`, or a `<TNRef>` to one of the first `visible` TNs (those written before the object
    /// began: pypsrp reads an object's type names before its members).
    fn tn(&mut self, visible: usize, kind: Kind, names: &[&str]) -> String {
        let reuse: Vec<u32> = self.tns[..visible]
            .iter()
            .filter(|(_, k)| *k == kind)
            .map(|(id, _)| *id)
            .collect();
        if !reuse.is_empty() && self.chance(50) {
            self.mark("TNRef");
            return format!("<TNRef RefId=\"{}\" />", reuse[self.pick(reuse.len())]);
        }
        let id = self.next_tn;
        self.next_tn += 1;
        self.tns.push((id, kind));
        self.mark("TN");
        let ts: String = names.iter().map(|t| format!("<T>{t}</T>")).collect();
        format!("<TN RefId=\"{id}\">{ts}</TN>")
    }

    fn props(&mut self, tag: &str, depth: usize, sets: bool) -> String {
        let mut out = format!("<{tag}>");
        for k in 0..1 + self.pick(4) {
            let name = format!("{tag}{k}");
            if self.chance(8) {
                out.push_str(&self.unknown_el(Some(&name)));
            } else if sets && self.chance(15) {
                self.mark("property set");
                out.push_str(&format!("<MS N=\"{name}\">"));
                out.push_str(&self.prim(Some("InSet0")));
                // (pypsrp keeps a property set as raw XML: no object it could refer to.)
                out.push_str(&self.prim(Some("InSet1")));
                out.push_str("</MS>");
            } else {
                out.push_str(&self.value(Some(&name), depth, true));
            }
        }
        out.push_str(&format!("</{tag}>"));
        out
    }

    /// `unknown`: also elements CLIXML does not have; without it (a container pypsrp keeps as
    /// raw XML in a generic object, where it registers no RefId or TN) only primitives.
    fn items(&mut self, tag: &str, depth: usize, refable: bool, unknown: bool) -> String {
        let mut out = format!("<{tag}>");
        for _ in 0..self.pick(4) {
            if unknown && self.chance(10) {
                out.push_str(&self.unknown_el(None));
            } else if !unknown {
                out.push_str(&self.prim(None));
            } else {
                out.push_str(&self.value(None, depth, refable));
            }
        }
        out.push_str(&format!("</{tag}>"));
        out
    }

    fn object(&mut self, name: Option<&str>, depth: usize, refable: bool) -> String {
        self.object_of(name, depth, refable, None)
    }

    /// An object of `kind`, or of a random one.
    fn object_of(
        &mut self,
        name: Option<&str>,
        depth: usize,
        refable: bool,
        kind: Option<Kind>,
    ) -> String {
        let id = self.next_ref;
        self.next_ref += 1;
        let visible = self.tns.len();
        let kind = kind.unwrap_or_else(|| match self.pick(10) {
            0..=3 => Kind::Generic,
            4 => Kind::Enum,
            5 => Kind::Hashtable,
            6 => Kind::Array,
            7 => Kind::Stack,
            8 => Kind::Queue,
            _ => Kind::Generic,
        });
        let mut parts: Vec<String> = Vec::new();
        match kind {
            Kind::Generic => {
                self.mark("generic object");
                // Which parts, in a random order, generated in document order (a <Ref> or
                // <TNRef> must follow what it names).
                #[derive(Clone, Copy)]
                enum Part {
                    Tn,
                    ToString,
                    Base,
                    Props,
                    Ms,
                    Container,
                    Unknown,
                }
                let mut order = vec![Part::Tn, Part::Base, Part::Container];
                if self.chance(50) {
                    order.push(Part::ToString);
                }
                if self.chance(60) {
                    order.push(Part::Props);
                }
                if self.chance(60) {
                    order.push(Part::Ms);
                }
                if self.chance(15) {
                    order.push(Part::Unknown);
                }
                for i in (1..order.len()).rev() {
                    let j = self.pick(i + 1);
                    order.swap(i, j);
                }
                for part in order {
                    match part {
                        Part::Tn => match self.pick(3) {
                            0 => {}
                            1 => {
                                let tn = self.tn(
                                    visible,
                                    Kind::Generic,
                                    &["Deserialized.Lab.Gen.Thing", "Deserialized.System.Object"],
                                );
                                parts.push(tn);
                            }
                            _ => {
                                let tn = self.tn(
                                    visible,
                                    Kind::Generic,
                                    &["Lab.Gen.Item", "System.Object"],
                                );
                                parts.push(tn);
                            }
                        },
                        Part::ToString => {
                            parts.push(format!("<ToString>thing {id} _x0009_tab</ToString>"));
                            self.mark("ToString");
                        }
                        Part::Base => match self.pick(5) {
                            0 if depth < 3 => {
                                self.mark("unnamed Obj in Obj");
                                let o = self.object(None, depth + 1, refable);
                                parts.push(o);
                            }
                            1 => {
                                self.mark("extended primitive");
                                let p = self.prim(None);
                                parts.push(p);
                            }
                            2 if !self.done.is_empty() => {
                                self.mark("unnamed Ref in Obj");
                                let r = self.done[self.rng.below(self.done.len())];
                                parts.push(format!("<Ref RefId=\"{r}\" />"));
                            }
                            _ => {}
                        },
                        Part::Props => {
                            let p = self.props("Props", depth, false);
                            parts.push(p);
                            self.mark("Props");
                        }
                        Part::Ms => {
                            let p = self.props("MS", depth, true);
                            parts.push(p);
                            self.mark("MS");
                        }
                        Part::Container => match self.pick(6) {
                            0 => {
                                self.mark("LST in generic object");
                                let l = self.items("LST", depth, true, false);
                                parts.push(l);
                            }
                            1 => {
                                self.mark("IE");
                                let l = self.items("IE", depth, true, false);
                                parts.push(l);
                            }
                            2 => {
                                self.mark("DCT in generic object");
                                let v = self.prim(Some("Value"));
                                parts.push(format!("<DCT><En><S N=\"Key\">k</S>{v}</En></DCT>"));
                            }
                            _ => {}
                        },
                        Part::Unknown => {
                            let u = self.unknown_el(None);
                            parts.push(u);
                        }
                    }
                }
            }
            Kind::Enum => {
                self.mark("enum");
                parts.push(self.tn(
                    visible,
                    Kind::Enum,
                    &[
                        "Lab.Gen.Color",
                        "System.Enum",
                        "System.ValueType",
                        "System.Object",
                    ],
                ));
                let v = self.pick(4);
                parts.push(format!("<ToString>Color{v}</ToString>"));
                parts.push(format!("<I32>{v}</I32>"));
            }
            Kind::Hashtable => {
                self.mark("dictionary");
                parts.push(self.tn(
                    visible,
                    Kind::Hashtable,
                    &["System.Collections.Hashtable", "System.Object"],
                ));
                let mut dct = String::from("<DCT>");
                for k in 0..self.pick(4) {
                    let v = self.value(Some("Value"), depth, true);
                    if self.chance(50) {
                        dct.push_str(&format!("<En><S N=\"Key\">key{k}</S>{v}</En>"));
                    } else {
                        dct.push_str(&format!("<En>{v}<I32 N=\"Key\">{k}</I32></En>"));
                    }
                }
                dct.push_str("</DCT>");
                parts.push(dct);
            }
            Kind::Array => {
                self.mark("list");
                parts.push(self.tn(
                    visible,
                    Kind::Array,
                    &["System.Object[]", "System.Array", "System.Object"],
                ));
                // pypsrp decodes an array's items as generic objects whatever their type, and a
                // <Ref> resolves to the object as first decoded: no Ref into or out of here.
                parts.push(self.items_array(depth));
            }
            Kind::Stack => {
                self.mark("stack");
                parts.push(self.tn(
                    visible,
                    Kind::Stack,
                    &["System.Collections.Stack", "System.Object"],
                ));
                parts.push(self.items("STK", depth, refable, true));
            }
            Kind::Queue => {
                self.mark("queue");
                parts.push(self.tn(
                    visible,
                    Kind::Queue,
                    &["System.Collections.Queue", "System.Object"],
                ));
                parts.push(self.items("QUE", depth, refable, true));
            }
        }
        if refable {
            self.done.push(id);
        }
        format!(
            "<Obj{} RefId=\"{id}\">{}</Obj>",
            attr_n(name),
            parts.concat()
        )
    }

    fn items_array(&mut self, depth: usize) -> String {
        let mut out = String::from("<LST>");
        // (pypsrp decodes every item of an array as an object, an unknown element too.)
        for _ in 0..self.pick(4) {
            if depth < 3 && self.chance(30) {
                // (pypsrp decodes an array's items as generic objects whatever their type.)
                out.push_str(&self.object_of(None, depth + 1, false, Some(Kind::Generic)));
            } else {
                out.push_str(&self.prim(None));
            }
        }
        out.push_str("</LST>");
        out
    }
}

/// pypsrp's kind for these type names (the first it knows, `Deserialized.` removed).
fn pypsrp_kind(names: &[String]) -> Kind {
    for t in names {
        let t = t.strip_prefix("Deserialized.").unwrap_or(t);
        match t {
            "System.Collections.Hashtable" => return Kind::Hashtable,
            "System.Object[]" => return Kind::Array,
            "System.Collections.Stack" => return Kind::Stack,
            "System.Collections.Queue" => return Kind::Queue,
            "System.Object" => return Kind::Generic,
            _ => {}
        }
    }
    Kind::Generic
}

fn sorted(mut v: Vec<Json>) -> Json {
    v.sort_by_key(|x| serde_json::to_string(x).unwrap());
    Json::Array(v)
}

/// Our value in the normal form of `tests/peers/clixml_pypsrp.py`. `generic`: pypsrp decodes
/// this position as a generic object whatever its type names (an array's items).
fn norm(v: &Value, generic: bool) -> Json {
    let f = |x: f64| Json::Number(serde_json::Number::from_f64(x).unwrap());
    match v {
        Value::Nil => Json::Null,
        Value::String(s)
        | Value::Uri(s)
        | Value::XmlDocument(s)
        | Value::ScriptBlock(s)
        | Value::Decimal(s)
        | Value::DateTime(s)
        | Value::Duration(s)
        | Value::Version(s) => json!(s),
        Value::Char(c) => json!(char::from_u32(u32::from(*c)).unwrap().to_string()),
        Value::Bool(b) => json!(b),
        Value::UInt8(n) => json!(n),
        Value::Int8(n) => json!(n),
        Value::UInt16(n) => json!(n),
        Value::Int16(n) => json!(n),
        Value::UInt32(n) => json!(n),
        Value::Int32(n) => json!(n),
        Value::UInt64(n) => json!(n),
        Value::Int64(n) => json!(n),
        Value::Single(x) => f(f64::from(*x)),
        Value::Double(x) => f(*x),
        Value::Bytes(b) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Guid(g) => json!(g.hyphenated().to_string()),
        Value::SecureString(s) => json!({ "SS": s }),
        Value::MemberSet(_) => json!({ "raw": "MS" }),
        Value::ProgressRecord(_) => json!({ "raw": "PR" }),
        Value::Object(o) => {
            let items = |want: ListKind, item_generic: bool| match &o.collection {
                Some(Collection::List { kind, items }) if *kind == want => items
                    .iter()
                    .map(|i| norm(i, item_generic))
                    .collect::<Vec<_>>(),
                _ => Vec::new(),
            };
            match if generic {
                Kind::Generic
            } else {
                pypsrp_kind(&o.type_names)
            } {
                Kind::Hashtable => {
                    let entries = match &o.collection {
                        Some(Collection::Dictionary(e)) => e
                            .iter()
                            .map(|(k, v)| json!([norm(k, false), norm(v, false)]))
                            .collect(),
                        _ => Vec::new(),
                    };
                    json!({ "DCT": sorted(entries) })
                }
                Kind::Array => json!({ "LIST": items(ListKind::List, true) }),
                Kind::Stack => json!({ "LIST": items(ListKind::Stack, false) }),
                Kind::Queue => json!({ "QUE": items(ListKind::Queue, false) }),
                Kind::Generic | Kind::Enum => {
                    let props = |ps: &[eas_connector::wire::clixml::Property]| {
                        let mut m = Map::new();
                        for p in ps {
                            m.insert(p.name.clone(), norm(&p.value, false));
                        }
                        Json::Object(m)
                    };
                    let mut sets = Vec::new();
                    if let Some(b) = &o.base {
                        sets.push(norm(b, false));
                    }
                    if let Some(c) = &o.collection {
                        let tag = match c {
                            Collection::List { kind, .. } => kind.tag(),
                            Collection::Dictionary(_) => "DCT",
                        };
                        sets.push(json!({ "raw": tag }));
                    }
                    json!({
                        "T": o.type_names,
                        "ToString": o.to_string,
                        "Props": props(&o.adapted),
                        "MS": props(&o.extended),
                        "sets": sorted(sets),
                    })
                }
            }
        }
    }
}

#[test]
fn generated_objects_decode_as_pypsrp_decodes_them() {
    if !support::python_module("pypsrp", "pypsrp") {
        return;
    }
    let mut docs = Vec::new();
    let mut unknown = Vec::new();
    let mut used = std::collections::BTreeMap::new();
    for seed in 0..DOCS as u64 {
        let mut g = Gen {
            rng: XorShift(0x9E37_79B9_7F4A_7C15 ^ (seed + 1).wrapping_mul(0x1000_0000_01B3)),
            next_ref: 0,
            next_tn: 0,
            tns: Vec::new(),
            done: Vec::new(),
            unknown: 0,
            used: std::collections::BTreeMap::new(),
        };
        // A root generic object with members, so each document nests several constructs.
        let mut doc = g.object(None, 0, true);
        while !doc.starts_with("<Obj RefId=\"0\">") || doc.len() < 120 {
            g.next_ref = 0;
            g.next_tn = 0;
            g.tns.clear();
            g.done.clear();
            g.unknown = 0;
            doc = g.object(None, 0, true);
        }
        for (k, n) in g.used {
            *used.entry(k).or_insert(0usize) += n;
        }
        docs.push(doc);
        unknown.push(g.unknown);
    }
    println!("constructs used: {used:?}");
    for c in [
        "Ref",
        "TN",
        "TNRef",
        "ToString",
        "Props",
        "MS",
        "property set",
        "unnamed Obj in Obj",
        "unnamed Ref in Obj",
        "extended primitive",
        "enum",
        "list",
        "stack",
        "queue",
        "IE",
        "dictionary",
        "secure string",
        "unknown element",
    ] {
        assert!(
            used.get(c).copied().unwrap_or(0) >= 5,
            "{c} too rare: {used:?}"
        );
    }

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/clixml_pypsrp.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&docs).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "pypsrp script failed");
    let theirs: Vec<Json> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(theirs.len(), docs.len());

    let limits = ClixmlLimits::default();
    let mut skipped_total = 0;
    for (i, doc) in docs.iter().enumerate() {
        let ours = decode(doc, &limits).unwrap_or_else(|e| panic!("doc {i}: {e}\n{doc}"));
        assert_eq!(
            ours,
            decode_tree(doc, &limits).unwrap(),
            "doc {i}: the streaming and tree decoders differ\n{doc}"
        );
        assert_eq!(
            ours.skipped_total, unknown[i],
            "doc {i}: skipped {:?}\n{doc}",
            ours.skipped
        );
        skipped_total += ours.skipped_total;
        assert_eq!(
            norm(&ours.value, false),
            theirs[i],
            "doc {i}: ours and pypsrp's differ\n{doc}"
        );
    }
    println!(
        "{} generated documents agree with pypsrp; {skipped_total} unknown elements skipped and reported",
        docs.len()
    );
}
