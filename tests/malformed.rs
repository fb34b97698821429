//! Hostile input gives typed errors, one test per error class.

use eas_connector::wire::capture::{decode_capture, CaptureError, Direction};
use eas_connector::wire::clixml::{
    from_clixml, from_clixml_with_limits, ClixmlError, ClixmlLimits, Value,
};
use eas_connector::wire::psrp::{Message, MessageError, MessageType, MESSAGE_HEADER_LEN};
use eas_connector::wire::wsman::{Envelope, EnvelopeError};
use eas_connector::wire::xml::{parse, XmlError, XmlLimits};

#[test]
fn xml_errors() {
    let l = XmlLimits::default();
    assert!(matches!(
        parse("<a><b></a>", &l),
        Err(XmlError::Syntax { .. })
    ));
    assert!(matches!(
        parse("<a>&bogus;</a>", &l),
        Err(XmlError::BadEntity(_))
    ));
    assert!(matches!(
        parse("<a>&#0;</a>", &l),
        Err(XmlError::BadEntity(_))
    ));
    assert!(matches!(
        parse("<p:a/>", &l),
        Err(XmlError::UnknownPrefix(_))
    ));
    assert!(matches!(parse("", &l), Err(XmlError::NoRoot)));
    assert!(matches!(
        parse("<a/><b/>", &l),
        Err(XmlError::TrailingContent)
    ));
    assert!(matches!(parse("x<a/>", &l), Err(XmlError::LeadingText)));
    assert!(matches!(
        parse("<a><b>", &l),
        Err(XmlError::Unclosed | XmlError::Syntax { .. })
    ));
    let deep = "<a>".repeat(10_000);
    assert!(matches!(parse(&deep, &l), Err(XmlError::TooDeep { .. })));
    let small = XmlLimits {
        max_elements: 3,
        ..l
    };
    assert!(matches!(
        parse("<a><b/><b/><b/></a>", &small),
        Err(XmlError::TooManyElements { limit: 3 })
    ));
    let tiny = XmlLimits {
        max_input_len: 4,
        ..l
    };
    assert!(matches!(
        parse("<abc/>", &tiny),
        Err(XmlError::TooLarge { .. })
    ));
    // Entities are resolved, CDATA kept.
    let e = parse("<a>&lt;&#x41;&amp;<![CDATA[<z>]]></a>", &l).unwrap();
    assert_eq!(e.text, "<A&<z>");
}

#[test]
fn clixml_errors() {
    assert!(matches!(
        from_clixml("<I32>x</I32>"),
        Err(ClixmlError::InvalidPrimitive { tag: "I32", .. })
    ));
    assert!(matches!(
        from_clixml("<By>256</By>"),
        Err(ClixmlError::InvalidPrimitive { .. })
    ));
    assert!(matches!(
        from_clixml("<B>yes</B>"),
        Err(ClixmlError::InvalidPrimitive { .. })
    ));
    assert!(matches!(
        from_clixml("<BA>!!!</BA>"),
        Err(ClixmlError::InvalidPrimitive { tag: "BA", .. })
    ));
    assert!(matches!(
        from_clixml("<G>nope</G>"),
        Err(ClixmlError::InvalidPrimitive { tag: "G", .. })
    ));
    assert!(matches!(
        from_clixml("<Db>inf</Db>"),
        Err(ClixmlError::InvalidPrimitive { .. })
    ));
    assert!(matches!(
        from_clixml("<Version>a.b</Version>"),
        Err(ClixmlError::InvalidPrimitive { .. })
    ));
    assert!(matches!(
        from_clixml("<Bogus/>"),
        Err(ClixmlError::UnexpectedElement { .. })
    ));
    assert!(matches!(
        from_clixml("<Ref RefId=\"9\"/>"),
        Err(ClixmlError::UnknownRef { kind: "object", .. })
    ));
    assert!(matches!(
        from_clixml("<Ref/>"),
        Err(ClixmlError::BadAttribute { .. })
    ));
    // Inside an object, what cannot be kept is skipped and reported, not the whole value.
    let skipped = |doc: &str| {
        let d = eas_connector::wire::clixml::decode(doc, &Default::default()).unwrap();
        d.skipped
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    assert_eq!(
        skipped("<Obj RefId=\"0\"><TNRef RefId=\"4\"/></Obj>"),
        "skipped <TNRef> in <Obj> content (a reference to unknown type names)"
    );
    assert_eq!(
        skipped("<Obj RefId=\"0\"><DCT><En><S N=\"Key\">k</S></En></DCT></Obj>"),
        "skipped <En> in <DCT> (an <En> without its Value)"
    );
    assert_eq!(
        skipped("<Obj RefId=\"0\"><DCT><X/></DCT></Obj>"),
        "skipped <X> in <DCT> (not an <En>)"
    );
    assert!(matches!(
        from_clixml("<S>unterminated"),
        Err(ClixmlError::Xml(_))
    ));
    // A self-reference is not resolvable (the object is not complete yet): that member is
    // skipped and reported, the object is kept.
    assert_eq!(
        skipped("<Obj RefId=\"0\"><MS><Ref N=\"me\" RefId=\"0\"/><S N=\"x\">1</S></MS></Obj>"),
        "skipped <Ref> in a value position (a reference to an unknown or incomplete object)"
    );
    assert_eq!(
        from_clixml("<Obj RefId=\"0\"><MS><Ref N=\"me\" RefId=\"0\"/><S N=\"x\">1</S></MS></Obj>")
            .unwrap()
            .get("x"),
        Some(&Value::String("1".into()))
    );
    // Reference bomb: each level references the previous one twice.
    let mut doc = String::from("<Obj RefId=\"0\"><LST>");
    doc.push_str("<Obj RefId=\"1\"><LST><S>x</S><S>y</S></LST></Obj>");
    for i in 2..60 {
        doc.push_str(&format!(
            "<Obj RefId=\"{i}\"><LST><Ref RefId=\"{}\"/><Ref RefId=\"{}\"/></LST></Obj>",
            i - 1,
            i - 1
        ));
    }
    doc.push_str("</LST></Obj>");
    let limits = ClixmlLimits {
        max_values: 100_000,
        ..ClixmlLimits::default()
    };
    assert!(matches!(
        from_clixml_with_limits(&doc, &limits),
        Err(ClixmlError::TooManyValues { .. })
    ));
    // Reference chain deeper than the nesting cap.
    let mut chain =
        String::from("<Obj RefId=\"r\"><LST><Obj RefId=\"0\"><LST><S>x</S></LST></Obj>");
    for i in 1..500 {
        chain.push_str(&format!(
            "<Obj RefId=\"{i}\"><LST><Ref RefId=\"{}\"/></LST></Obj>",
            i - 1
        ));
    }
    chain.push_str("</LST></Obj>");
    assert!(matches!(
        from_clixml(&chain),
        Err(ClixmlError::TooDeep { .. })
    ));
    // Deep element nesting is caught by the XML layer.
    let deep = "<Obj><LST>".repeat(1000);
    assert!(matches!(
        from_clixml(&deep),
        Err(ClixmlError::Xml(XmlError::TooDeep { .. }))
    ));
}

#[test]
fn message_errors() {
    assert!(matches!(
        Message::parse(&[1, 0, 0]),
        Err(MessageError::Truncated(3))
    ));
    assert!(matches!(
        Message::parse(&[0u8; 39]),
        Err(MessageError::BadDestination(0)) | Err(MessageError::Truncated(39))
    ));
    let mut w = vec![0u8; MESSAGE_HEADER_LEN];
    w[0] = 7;
    assert!(matches!(
        Message::parse(&w),
        Err(MessageError::BadDestination(7))
    ));
    w[0] = 1;
    w[4..8].copy_from_slice(&0x0009_9999u32.to_le_bytes());
    let m = Message::parse(&w).unwrap();
    assert_eq!(m.message_type.known(), None);
    assert!(m.message_type.name().starts_with("UNKNOWN"));
    assert_eq!(m.value().unwrap(), None);
    let mut bad = w.clone();
    bad.extend_from_slice(&[0xff, 0xfe]);
    assert!(matches!(
        Message::parse(&bad).unwrap().value(),
        Err(MessageError::NotUtf8)
    ));
    let mut bad = w.clone();
    bad[4..8].copy_from_slice(&MessageType::PipelineOutput.value().to_le_bytes());
    bad.extend_from_slice(b"<I32>zz</I32>");
    let err = Message::parse(&bad).unwrap().value().unwrap_err();
    assert!(err.to_string().contains("PIPELINE_OUTPUT"), "{err}");
}

const SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
const RSP: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell";

#[test]
fn envelope_errors() {
    assert!(matches!(
        Envelope::parse("<a/>"),
        Err(EnvelopeError::NotSoap)
    ));
    assert!(matches!(
        Envelope::parse(&format!(
            "<s:Envelope xmlns:s=\"{SOAP}\"><s:Header/></s:Envelope>"
        )),
        Err(EnvelopeError::NoBody)
    ));
    let bad64 = format!(
        "<s:Envelope xmlns:s=\"{SOAP}\" xmlns:rsp=\"{RSP}\"><s:Body><rsp:ReceiveResponse><rsp:Stream Name=\"stdout\">*not base64*</rsp:Stream></rsp:ReceiveResponse></s:Body></s:Envelope>"
    );
    assert!(matches!(
        Envelope::parse(&bad64),
        Err(EnvelopeError::BadBase64 { element: "Stream" })
    ));
    assert!(matches!(
        Envelope::parse("<s:Envelope"),
        Err(EnvelopeError::Xml(_))
    ));
}

#[test]
fn capture_errors_name_the_envelope() {
    assert!(matches!(
        decode_capture("just: text"),
        Err(CaptureError::Format(_))
    ));
    assert!(matches!(
        decode_capture("messages: 5"),
        Err(CaptureError::Format(_))
    ));
    let rec = "messages:\n- request: <a/>\n  response: null\n";
    match decode_capture(rec) {
        Err(CaptureError::Envelope {
            index: 0,
            direction: Direction::Request,
            ..
        }) => {}
        other => panic!("unexpected {other:?}"),
    }
    // A truncated fragment inside a PowerShell shell's stream.
    let frag = "AAAAAAAAAAEAAAAAAAAAAAMAAADH"; // header claims 199 bytes, none follow
    let env = format!(
        "<s:Envelope xmlns:s=\"{SOAP}\" xmlns:rsp=\"{RSP}\" xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\"><s:Header><a:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse</a:Action></s:Header><s:Body><rsp:ReceiveResponse><rsp:Stream Name=\"stdout\">{frag}</rsp:Stream></rsp:ReceiveResponse></s:Body></s:Envelope>"
    );
    let err = decode_capture(&env).unwrap_err();
    assert!(
        matches!(
            err,
            CaptureError::Fragment {
                index: 0,
                direction: Direction::Response,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("envelope 0 (response)"),
        "{err}"
    );
    // Empty responses and fault-injection items are "no envelope".
    let rec = "messages:\n- request: ''\n  response: ''\n  http_error: true\n";
    assert_eq!(decode_capture(rec).unwrap(), vec![]);
}
