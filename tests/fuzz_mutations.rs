//! Randomly mutated and truncated real data (fragments, CLIXML, envelopes,
//! recordings) must never panic — errors are fine. Deterministic xorshift.

mod common;

use common::XorShift;
use eas_connector::wire::capture::{decode_capture, Capture};
use eas_connector::wire::clixml::{decode, decode_tree, from_clixml, ClixmlLimits};
use eas_connector::wire::psrp::{Message, Reassembler};
use eas_connector::wire::wsman::envelope::envelope_limits;
use eas_connector::wire::wsman::{Envelope, EnvelopeError};
use eas_connector::wire::xml;

fn mutate(rng: &mut XorShift, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    match rng.below(5) {
        0 => v.truncate(rng.below(v.len() + 1)),
        1 => {
            for _ in 0..1 + rng.below(8) {
                if !v.is_empty() {
                    let i = rng.below(v.len());
                    v[i] = rng.next() as u8;
                }
            }
        }
        2 => {
            if !v.is_empty() {
                let a = rng.below(v.len());
                let b = rng.below(v.len());
                let (a, b) = (a.min(b), a.max(b));
                v.drain(a..b);
            }
        }
        3 => {
            if !v.is_empty() {
                let a = rng.below(v.len());
                let b = (a + rng.below(64)).min(v.len());
                let chunk = v[a..b].to_vec();
                let at = rng.below(v.len());
                for (k, c) in chunk.into_iter().enumerate() {
                    v.insert(at + k, c);
                }
            }
        }
        _ => {
            const TOKENS: &[&[u8]] = &[
                b"<",
                b">",
                b"</Obj>",
                b"<Ref RefId=\"0\"/>",
                b"_x",
                b"&",
                b"<LST>",
                b"\xff",
                b"\"",
                b"<TNRef RefId=\"9\"/>",
            ];
            let t = TOKENS[rng.below(TOKENS.len())];
            let at = rng.below(v.len() + 1);
            v.splice(at..at, t.iter().copied());
        }
    }
    v
}

struct Corpus {
    fragments: Vec<Vec<u8>>,
    clixml: Vec<String>,
    envelopes: Vec<String>,
}

fn corpus() -> Option<Corpus> {
    let recs = common::recordings();
    if recs.is_empty() {
        return None;
    }
    let mut c = Corpus {
        fragments: Vec::new(),
        clixml: Vec::new(),
        envelopes: Vec::new(),
    };
    for (_, text) in recs.iter().step_by(3) {
        let cap = Capture::parse(text).unwrap();
        for item in cap.items.iter().take(6) {
            c.envelopes.extend(item.request.clone());
            c.envelopes.extend(item.response.clone());
        }
        for m in cap.messages().unwrap() {
            let enc = m.message.encode();
            c.fragments.push(
                eas_connector::wire::psrp::fragment_message(1, &enc, 300)
                    .unwrap()
                    .concat(),
            );
            if let Ok(s) = m.message.data_str() {
                if !s.is_empty() && s.len() < 20_000 {
                    c.clixml.push(s.to_string());
                }
            }
        }
    }
    Some(c)
}

#[test]
fn mutated_inputs_never_panic() {
    let Some(c) = corpus() else { return };
    let mut rng = XorShift(0xC0FF_EE00_D15E_A5E5);
    let mut errors = 0usize;
    let iterations = 3000;
    for _ in 0..iterations {
        // Fragments → reassembly → message → CLIXML.
        let f = &c.fragments[rng.below(c.fragments.len())];
        let m = mutate(&mut rng, f);
        let mut ra = Reassembler::new();
        match ra.push_payload(&m) {
            Ok(msgs) => {
                for b in msgs {
                    if let Ok(msg) = Message::parse(&b) {
                        let _ = msg.value();
                    }
                }
            }
            Err(_) => errors += 1,
        }
        // CLIXML text.
        let x = &c.clixml[rng.below(c.clixml.len())];
        let m = mutate(&mut rng, x.as_bytes());
        let text = String::from_utf8_lossy(&m);
        let streamed = decode(&text, &ClixmlLimits::default());
        // The streaming decoder agrees with the tree decoder, errors and skipped elements
        // included.
        assert_eq!(
            format!("{streamed:?}"),
            format!("{:?}", decode_tree(&text, &ClixmlLimits::default())),
            "{text}"
        );
        if streamed.is_err() {
            errors += 1;
        }
        // Envelopes.
        let e = &c.envelopes[rng.below(c.envelopes.len())];
        let m = mutate(&mut rng, e.as_bytes());
        let s = String::from_utf8_lossy(&m);
        let streamed = Envelope::parse(&s);
        // The streaming parser agrees with the tree walk, errors included.
        let tree = xml::parse(&s, &envelope_limits())
            .map_err(EnvelopeError::from)
            .and_then(|t| Envelope::from_element(&t));
        assert_eq!(streamed, tree, "{s}");
        if streamed.is_err() {
            errors += 1;
        }
        let _ = decode_capture(&s);
    }
    println!("{iterations} iterations, {errors} typed errors, no panic");
    assert!(errors > 0);
}

#[test]
fn mutated_recordings_never_panic() {
    let recs = common::recordings();
    let mut rng = XorShift(42);
    for (name, text) in recs.iter().filter(|(_, t)| t.len() < 100_000).take(10) {
        for _ in 0..20 {
            let m = mutate(&mut rng, text.as_bytes());
            let _ = decode_capture(&String::from_utf8_lossy(&m));
        }
        println!("{name}: 20 mutations survived");
    }
}

#[test]
fn streaming_clixml_matches_tree_on_every_recorded_message() {
    let recs = common::recordings();
    let mut n = 0;
    for (name, text) in &recs {
        let cap = Capture::parse(text).unwrap();
        for m in cap.messages().unwrap() {
            let Ok(s) = m.message.data_str() else {
                continue;
            };
            if s.trim().is_empty() {
                continue;
            }
            let streamed = decode(s, &ClixmlLimits::default());
            assert_eq!(
                format!("{streamed:?}"),
                format!("{:?}", decode_tree(s, &ClixmlLimits::default())),
                "{name} #{}",
                m.index
            );
            // Real servers' messages decode with nothing skipped.
            assert_eq!(streamed.unwrap().skipped_total, 0, "{name} #{}", m.index);
            n += 1;
        }
    }
    println!("{n} messages decoded alike");
}

#[test]
fn references_decode_alike_whatever_surrounds_the_object() {
    let docs = [
        r#"<Obj RefId="0"><MS><Obj N="a" RefId="1"><MS><S N="x">1</S></MS></Obj><Ref N="b" RefId="1"/></MS></Obj>"#,
        "<Obj RefId=\"0\"><MS>\n  <Obj N=\"a\" RefId=\"1\" />\n  <Ref N=\"b\" RefId=\"1\" />\n</MS></Obj>",
        "<Obj RefId=\"0\"><MS>text<!-- c --><Obj N=\"a\" RefId=\"1\"><I32>5</I32></Obj>&amp;<Ref N=\"b\" RefId=\"1\"/></MS></Obj>",
        "<Obj RefId=\"0\"><LST><S>&lt;x</S><Obj RefId=\"1\"><LST><Obj RefId=\"2\"><ToString>t</ToString></Obj><Ref RefId=\"2\"/></LST></Obj><Ref RefId=\"1\"/><Ref RefId=\"2\"/></LST></Obj>",
    ];
    for d in docs {
        let s = from_clixml(d).unwrap();
        let t = decode_tree(d, &ClixmlLimits::default()).unwrap().value;
        assert_eq!(s, t, "{d}");
    }
}
