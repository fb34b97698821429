//! CLIXML: round trips over every message in the recordings, every primitive,
//! escapes, references, type-name sharing, JSON mapping, ErrorRecord helpers.

mod clixml_pypsrp;
mod common;
mod support;

use common::XorShift;
use eas_connector::wire::capture::Capture;
use eas_connector::wire::clixml::{
    escape, from_clixml, from_clixml_document, to_clixml, to_clixml_document, Collection,
    ErrorRecord, ErrorRecordBuilder, ListKind, ProgressRecord, PsObject, Value,
};
use eas_connector::wire::psrp::MessageType;
use serde_json::json;
use uuid::Uuid;

#[test]
fn recordings_roundtrip_decode_encode_decode() {
    let recs = common::recordings();
    let mut n = 0usize;
    for (name, text) in &recs {
        let cap = Capture::parse(text).unwrap();
        for (raw, value) in cap.decode_values().unwrap() {
            let Some(v) = value else { continue };
            let xml = to_clixml(&v);
            let back = from_clixml(&xml)
                .unwrap_or_else(|e| panic!("{name} #{}: re-decode failed: {e}\n{xml}", raw.index));
            assert_eq!(
                back, v,
                "{name} #{} {}",
                raw.index, raw.message.message_type
            );
            // Serialization is stable.
            assert_eq!(to_clixml(&back), xml);
            n += 1;
        }
    }
    println!("{n} CLIXML messages round-tripped");
    if !recs.is_empty() {
        assert!(n > 500);
    }
}

fn all_primitives() -> Value {
    Value::object(
        PsObject::new()
            .with_type_names(["Test.AllPrimitives", "System.Object"])
            .with_to_string("all")
            .with_extended("S", Value::string("a\r\nb\t<&>\"' _x0041_ 😀 \u{1}"))
            .with_extended("C", Value::Char(97))
            .with_extended("B", Value::Bool(true))
            .with_extended(
                "DT",
                Value::DateTime("2008-04-11T10:42:32.2731993-07:00".into()),
            )
            .with_extended("TS", Value::Duration("PT9.0269026S".into()))
            .with_extended("By", Value::UInt8(255))
            .with_extended("SB", Value::Int8(-128))
            .with_extended("U16", Value::UInt16(65535))
            .with_extended("I16", Value::Int16(-32768))
            .with_extended("U32", Value::UInt32(u32::MAX))
            .with_extended("I32", Value::Int32(i32::MIN))
            .with_extended("U64", Value::UInt64(u64::MAX))
            .with_extended("I64", Value::Int64(i64::MIN))
            .with_extended("Sg", Value::Single(-1.5e-7))
            .with_extended("Db", Value::Double(1.0e300))
            .with_extended("DbInf", Value::Double(f64::NEG_INFINITY))
            .with_extended("D", Value::Decimal("-79228162514264337593543950335".into()))
            .with_extended("BA", Value::Bytes(vec![0, 1, 2, 254, 255]))
            .with_extended(
                "G",
                Value::Guid(Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef)),
            )
            .with_extended("URI", Value::Uri("http://x/_y?a=1&b=2".into()))
            .with_extended("Nil", Value::Nil)
            .with_extended("Version", Value::Version("10.0.14393.2248".into()))
            .with_extended("XD", Value::XmlDocument("<a>b</a>".into()))
            .with_extended(
                "SBK",
                Value::ScriptBlock("Get-Mailbox | ? { $_.Name }".into()),
            )
            .with_extended("SS", Value::SecureString("AAECAw==".into()))
            .with_extended(
                "PR",
                Value::ProgressRecord(Box::new(ProgressRecord {
                    activity: "Working".into(),
                    activity_id: 1,
                    current_operation: Some("op".into()),
                    parent_activity_id: -1,
                    percent_complete: 50,
                    record_type: "Processing".into(),
                    seconds_remaining: -1,
                    status_description: "half".into(),
                })),
            )
            .with_extended("Enum", Value::enumeration("System.ConsoleColor", "Red", 12))
            .with_extended(
                "Enum2",
                Value::enumeration("System.ConsoleColor", "Blue", 9),
            )
            .with_extended(
                "Arr",
                Value::array(vec![Value::string("a"), Value::Int32(1)]),
            )
            .with_extended(
                "Stack",
                Value::object(PsObject {
                    type_names: vec!["System.Collections.Stack".into(), "System.Object".into()],
                    collection: Some(Collection::List {
                        kind: ListKind::Stack,
                        items: vec![Value::Int32(1)],
                    }),
                    ..PsObject::default()
                }),
            )
            .with_extended(
                "Queue",
                Value::object(PsObject {
                    collection: Some(Collection::List {
                        kind: ListKind::Queue,
                        items: vec![],
                    }),
                    ..PsObject::default()
                }),
            )
            .with_extended(
                "IE",
                Value::object(PsObject {
                    collection: Some(Collection::List {
                        kind: ListKind::Enumerable,
                        items: vec![Value::Nil],
                    }),
                    ..PsObject::default()
                }),
            )
            .with_extended(
                "Dict",
                Value::object(PsObject {
                    collection: Some(Collection::Dictionary(vec![
                        (Value::Int32(1), Value::string("one")),
                        (Value::string("k"), Value::Nil),
                    ])),
                    ..PsObject::default()
                }),
            )
            .with_adapted("Adapted", Value::string("prop"))
            .with_adapted("_x weird name", Value::Bool(false)),
    )
}

#[test]
fn every_primitive_roundtrips() {
    let v = all_primitives();
    let xml = to_clixml(&v);
    assert!(
        xml.contains("<TNRef RefId=\"1\" />"),
        "type names shared: {xml}"
    );
    assert!(xml.contains("_x000D__x000A_"));
    assert!(xml.contains("_xD83D__xDE00_"));
    assert!(xml.contains("_x005F_x0041_"));
    assert_eq!(from_clixml(&xml).unwrap(), v);
    // And as an <Objs> document.
    let doc = to_clixml_document(&[v.clone(), Value::Int32(5)]);
    assert_eq!(
        from_clixml_document(&doc).unwrap(),
        vec![v, Value::Int32(5)]
    );
    assert_eq!(
        from_clixml_document(&format!("#< CLIXML\r\n{doc}"))
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn escapes() {
    assert_eq!(escape::decode("a_x000A_b"), "a\nb");
    assert_eq!(escape::decode("_x000d__x000a_"), "\r\n");
    assert_eq!(escape::decode("_xD83D__xDE00_"), "😀");
    assert_eq!(escape::decode("_x005F_x0041_"), "_x0041_");
    assert_eq!(escape::decode("_xD83D_x"), "\u{FFFD}x");
    assert_eq!(escape::decode("_xDE00_"), "\u{FFFD}");
    assert_eq!(escape::decode("_x12_ _xZZZZ_ _x"), "_x12_ _xZZZZ_ _x");
    assert_eq!(escape::encode("a\nb"), "a_x000A_b");
    assert_eq!(escape::encode("😀"), "_xD83D__xDE00_");
    assert_eq!(escape::encode("_x"), "_x005F_x");
    assert_eq!(escape::encode("plain_text"), "plain_text");
    let mut rng = XorShift(7);
    for _ in 0..2000 {
        let s: String = (0..rng.below(12))
            .map(|_| match rng.below(6) {
                0 => '_',
                1 => 'x',
                2 => char::from_u32(rng.below(0x20) as u32).unwrap(),
                3 => '😀',
                4 => char::from_u32(0x30 + rng.below(10) as u32).unwrap(),
                _ => char::from_u32(0xA0 + rng.below(0x3000) as u32).unwrap_or('a'),
            })
            .collect();
        assert_eq!(escape::decode(&escape::encode(&s)), s, "{s:?}");
    }
}

#[test]
fn refs_and_type_name_sharing_resolve() {
    let xml = r#"<Obj RefId="0"><TN RefId="0"><T>A</T><T>System.Object</T></TN><MS><Obj N="a" RefId="1"><TNRef RefId="0"/><MS><S N="x">1</S></MS></Obj><Ref N="b" RefId="1"/></MS></Obj>"#;
    let v = from_clixml(xml).unwrap();
    assert_eq!(v.get("a"), v.get("b"));
    assert_eq!(v.get("b").unwrap().type_names(), ["A", "System.Object"]);
    assert_eq!(v.get("b").unwrap().get("x").unwrap().as_str(), Some("1"));
    // BOM and whitespace-formatted input.
    let v = from_clixml(
        "\u{FEFF}<Obj RefId=\"0\">\n  <MS>\n    <S N=\"s\">  keep  </S>\n  </MS>\n</Obj>",
    )
    .unwrap();
    assert_eq!(v.get("s").unwrap().as_str(), Some("  keep  "));
}

#[test]
fn json_mapping() {
    let v = from_clixml(&to_clixml(&all_primitives())).unwrap();
    let j = v.to_json();
    assert_eq!(
        j["type_names"],
        json!(["Test.AllPrimitives", "System.Object"])
    );
    assert_eq!(j["to_string"], "all");
    let e = &j["extended"];
    assert_eq!(e["C"], "a");
    assert_eq!(e["U64"], json!(u64::MAX));
    assert_eq!(e["I64"], json!(i64::MIN));
    assert_eq!(e["DbInf"], "-INF");
    assert_eq!(e["BA"], "AAEC/v8=");
    assert_eq!(e["G"], "01234567-89ab-cdef-0123-456789abcdef");
    assert_eq!(e["Nil"], json!(null));
    assert_eq!(e["Enum"]["value"], 12);
    assert_eq!(e["Enum"]["to_string"], "Red");
    assert_eq!(e["Arr"]["items"], json!(["a", 1]));
    assert_eq!(e["Stack"]["list_kind"], "STK");
    assert_eq!(
        e["Dict"]["dict"],
        json!([{"key": 1, "value": "one"}, {"key": "k", "value": null}])
    );
    assert_eq!(e["SS"]["secure_string"], "AAECAw==");
    assert_eq!(e["PR"]["percent_complete"], 50);
    assert_eq!(j["props"]["Adapted"], "prop");
    let h = Value::hashtable([
        ("Add", Value::array(vec!["a".into(), "b".into()])),
        ("Remove", "c".into()),
    ]);
    assert_eq!(
        h.to_json()["dict"],
        json!({"Add": {"items": ["a", "b"], "type_names": ["System.Object[]", "System.Array", "System.Object"]}, "Remove": "c"})
    );
}

#[test]
fn error_record_from_recording_and_builder() {
    let recs = common::recordings();
    if let Some((_, text)) = recs
        .iter()
        .find(|(n, _)| n == "test_client_execute_ps_failure.yml")
    {
        let cap = Capture::parse(text).unwrap();
        let (_, v) = cap
            .decode_values()
            .unwrap()
            .into_iter()
            .find(|(m, _)| m.message.message_type.known() == Some(MessageType::PipelineState))
            .unwrap();
        let v = v.unwrap();
        let er = ErrorRecord::from_value(v.get("ExceptionAsErrorRecord").unwrap()).unwrap();
        assert!(er
            .message()
            .unwrap()
            .starts_with("The term 'Get-ServiceTypo' is not recognized"));
        assert_eq!(
            er.fully_qualified_error_id().unwrap(),
            "CommandNotFoundException,Microsoft.PowerShell.Commands.InvokeExpressionCommand"
        );
        let ci = er.category_info();
        assert_eq!(ci.category, Some(13));
        assert_eq!(ci.target_name.as_deref(), Some("Get-ServiceTypo"));
        assert_eq!(
            er.exception_type().unwrap(),
            "System.Management.Automation.CommandNotFoundException"
        );
    }
    let built = ErrorRecordBuilder::new(
        "The operation couldn't be performed because object 'x' couldn't be found.",
        "ABC123,Microsoft.Exchange.Management.Tasks.GetMobileDevice",
    )
    .category(13, "ObjectNotFound")
    .activity("Get-MobileDevice")
    .target("x", "String")
    .build();
    let back = from_clixml(&to_clixml(&built)).unwrap();
    let er = ErrorRecord::from_value(&back).unwrap();
    assert!(er.message().unwrap().contains("object 'x'"));
    assert_eq!(
        er.category_info().message.unwrap(),
        "ObjectNotFound (x:String) [Get-MobileDevice], RemoteException"
    );
    assert!(er
        .fully_qualified_error_id()
        .unwrap()
        .starts_with("ABC123,"));
}

#[test]
fn progress_record_primitive_decodes() {
    let v = from_clixml(r#"<Obj RefId="0"><MS><PR N="Record"><AV>Preparing modules for first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj>"#).unwrap();
    match v.get("Record").unwrap() {
        Value::ProgressRecord(pr) => {
            assert_eq!(pr.activity, "Preparing modules for first use.");
            assert_eq!(pr.current_operation, None);
            assert_eq!(pr.record_type, "Completed");
            assert_eq!(pr.status_description, " ");
        }
        other => panic!("{other:?}"),
    }
}

/// What a real server may put in an `<Obj>` (MS-PSRP 2.2.5.2.2), in any order: an unnamed
/// `<Obj>` it extends (as in the held-back Windows Server 2016 response that once failed with
/// "unexpected element <Obj> in <Obj> content"), property sets, and elements this decoder does
/// not know — which are skipped and reported while the rest of the object is kept.
#[test]
fn every_obj_member_in_any_order_and_unknown_ones_skipped() {
    use eas_connector::wire::clixml::{decode, ClixmlLimits};
    let doc = r#"<Obj RefId="0">
      <MS><S N="Name">iPhone</S><MS N="PSStandardMembers"><I32 N="Depth">2</I32></MS></MS>
      <Obj RefId="1"><TN RefId="0"><T>Deserialized.Microsoft.Exchange.Data.Directory.ADObjectId</T><T>Deserialized.System.Object</T></TN><ToString>lab.test/Users/alice</ToString><Props><G N="ObjectGuid">3f2504e0-4f89-11d3-9a0c-0305e82c3301</G></Props></Obj>
      <ToString>alice's iPhone</ToString>
      <FutureThing><S>kept out</S></FutureThing>
      <TN RefId="1"><T>Deserialized.Microsoft.Exchange.Data.Directory.SystemConfiguration.MobileDevice</T><T>Deserialized.System.Object</T></TN>
      <Props><Obj N="Identity" RefId="2"><TNRef RefId="0" /><ToString>x</ToString></Obj><Unknown N="Odd">1</Unknown><Ref N="Again" RefId="1" /></Props>
    </Obj>"#;
    let d = decode(doc, &ClixmlLimits::default()).unwrap();
    let o = d.value.as_object().unwrap();
    assert_eq!(
        o.type_names[0],
        "Deserialized.Microsoft.Exchange.Data.Directory.SystemConfiguration.MobileDevice"
    );
    assert_eq!(o.to_string.as_deref(), Some("alice's iPhone"));
    assert_eq!(o.get("Name").and_then(Value::as_str), Some("iPhone"));
    match o.get("PSStandardMembers") {
        Some(Value::MemberSet(props)) => {
            assert_eq!(props[0].name, "Depth");
            assert_eq!(props[0].value, Value::Int32(2));
        }
        other => panic!("property set: {other:?}"),
    }
    let base = o.base.as_ref().and_then(Value::as_object).unwrap();
    assert_eq!(base.to_string.as_deref(), Some("lab.test/Users/alice"));
    assert_eq!(
        o.get("Identity").unwrap().type_names()[0],
        "Deserialized.Microsoft.Exchange.Data.Directory.ADObjectId"
    );
    assert_eq!(o.get("Again").and_then(Value::as_object), Some(base));
    let skipped: Vec<String> = d.skipped.iter().map(ToString::to_string).collect();
    assert_eq!(
        skipped,
        [
            "skipped <FutureThing> in <Obj> content (not part of CLIXML)",
            "skipped <Unknown> in a value position (not part of CLIXML)"
        ]
    );
    assert_eq!(d.skipped_total, 2);
    // The serializer writes a property set back as one, and the object decodes the same.
    let again = decode(&to_clixml(&d.value), &ClixmlLimits::default()).unwrap();
    assert_eq!(again.value, d.value);
    assert_eq!(again.skipped_total, 0);
}
