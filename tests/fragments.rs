//! Fragment split/reassemble, property style (loops over sizes), plus the
//! 40-byte message header.

mod common;

use common::XorShift;
use eas_connector::wire::psrp::{
    fragment_message, parse_fragments, split_message, Destination, Fragment, FragmentError,
    Message, MessageType, MessageTypeCode, Reassembler, ReassemblyLimits, FRAGMENT_HEADER_LEN,
};
use uuid::Uuid;

fn payload(rng: &mut XorShift, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.next() as u8).collect()
}

#[test]
fn split_then_reassemble_for_many_sizes() {
    let mut rng = XorShift(0x1234_5678_9ABC_DEF1);
    let mut cases = 0;
    for len in [0usize, 1, 2, 3, 20, 21, 22, 100, 1000, 4096, 65_537] {
        for max in [22usize, 23, 30, 64, 100, 512, 4096, 200_000] {
            let data = payload(&mut rng, len);
            let frags = split_message(7, &data, max).unwrap();
            assert!(frags.first().unwrap().start);
            assert!(frags.last().unwrap().end);
            for (i, f) in frags.iter().enumerate() {
                assert_eq!(f.fragment_id, i as u64);
                assert!(f.encode().len() <= max, "fragment over max size");
                assert_eq!(f.start, i == 0);
                assert_eq!(f.end, i + 1 == frags.len());
            }
            // Feed the encoded fragments split across "envelopes" of random size.
            let wire: Vec<Vec<u8>> = frags.iter().map(Fragment::encode).collect();
            let mut ra = Reassembler::new();
            let mut got = Vec::new();
            let mut i = 0;
            while i < wire.len() {
                let take = 1 + rng.below(3);
                let chunk: Vec<u8> = wire[i..(i + take).min(wire.len())].concat();
                got.extend(ra.push_payload(&chunk).unwrap());
                i += take;
            }
            assert_eq!(got, vec![data]);
            assert_eq!(ra.pending(), 0);
            cases += 1;
        }
    }
    assert_eq!(cases, 88);
}

#[test]
fn interleaved_objects_reassemble_independently() {
    let mut rng = XorShift(99);
    let a = payload(&mut rng, 5000);
    let b = payload(&mut rng, 3000);
    let fa = split_message(1, &a, 700).unwrap();
    let fb = split_message(2, &b, 500).unwrap();
    let mut ra = Reassembler::new();
    let mut out = Vec::new();
    let (mut ia, mut ib) = (fa.into_iter(), fb.into_iter());
    loop {
        let x = ia.next();
        let y = ib.next();
        if x.is_none() && y.is_none() {
            break;
        }
        for f in [x, y].into_iter().flatten() {
            if let Some(m) = ra.push(f).unwrap() {
                out.push(m);
            }
        }
    }
    assert_eq!(out.len(), 2);
    assert!(out.contains(&a) && out.contains(&b));
}

#[test]
fn fragment_header_is_big_endian() {
    let f = Fragment {
        object_id: 0x0102_0304_0506_0708,
        fragment_id: 9,
        start: true,
        end: true,
        blob: b"xy".to_vec(),
    };
    let w = f.encode();
    assert_eq!(w.len(), FRAGMENT_HEADER_LEN + 2);
    assert_eq!(&w[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(&w[8..16], &[0, 0, 0, 0, 0, 0, 0, 9]);
    assert_eq!(w[16], 3);
    assert_eq!(&w[17..21], &[0, 0, 0, 2]);
    assert_eq!(parse_fragments(&w).unwrap(), vec![f]);
    assert_eq!(fragment_message(1, b"", 100).unwrap().len(), 1);
}

#[test]
fn fragment_errors() {
    assert!(matches!(
        split_message(1, b"abc", 21),
        Err(FragmentError::MaxSizeTooSmall(21))
    ));
    let frags = split_message(5, &[7u8; 100], 40).unwrap();
    // Truncated header and truncated blob.
    let w = frags[0].encode();
    assert!(matches!(
        parse_fragments(&w[..10]),
        Err(FragmentError::Truncated { .. })
    ));
    assert!(matches!(
        parse_fragments(&w[..w.len() - 1]),
        Err(FragmentError::Truncated { .. })
    ));
    // Out of order.
    let mut ra = Reassembler::new();
    ra.push(frags[0].clone()).unwrap();
    assert!(matches!(
        ra.push(frags[2].clone()),
        Err(FragmentError::OutOfOrder {
            expected: 1,
            got: 2,
            ..
        })
    ));
    // Missing start.
    let mut ra = Reassembler::new();
    assert!(matches!(
        ra.push(frags[1].clone()),
        Err(FragmentError::MissingStart { .. })
    ));
    // Duplicate start.
    let mut ra = Reassembler::new();
    ra.push(frags[0].clone()).unwrap();
    assert!(matches!(
        ra.push(frags[0].clone()),
        Err(FragmentError::DuplicateStart { .. })
    ));
    // Start fragment with a non-zero id.
    let mut bad = frags[0].clone();
    bad.fragment_id = 3;
    assert!(matches!(
        Reassembler::new().push(bad),
        Err(FragmentError::OutOfOrder { expected: 0, .. })
    ));
    // Oversized.
    let mut ra = Reassembler::with_limits(ReassemblyLimits {
        max_message_len: 50,
        max_pending: 4,
    });
    let mut res = Ok(None);
    for f in &frags {
        res = ra.push(f.clone());
        if res.is_err() {
            break;
        }
    }
    assert!(matches!(res, Err(FragmentError::Oversized { .. })));
    // Too many pending.
    let mut ra = Reassembler::with_limits(ReassemblyLimits {
        max_message_len: 1000,
        max_pending: 2,
    });
    for id in 0..2 {
        let mut f = frags[0].clone();
        f.object_id = id;
        ra.push(f).unwrap();
    }
    let mut f = frags[0].clone();
    f.object_id = 9;
    assert!(matches!(
        ra.push(f),
        Err(FragmentError::TooManyPending { limit: 2 })
    ));
    // Bad flags.
    let mut w = frags[0].encode();
    w[16] = 0x80;
    assert!(matches!(
        parse_fragments(&w),
        Err(FragmentError::BadFlags(0x80))
    ));
}

#[test]
fn message_header_roundtrip_and_guid_order() {
    let rpid = Uuid::parse_str("76056a84-51dc-4f24-9262-ca2a55464b2b").unwrap();
    let pid = Uuid::parse_str("f91bd61f-cec7-47a3-8ce3-de7eb7aa5773").unwrap();
    let m = Message {
        destination: Destination::Server,
        message_type: MessageType::CreatePipeline.into(),
        rpid,
        pid,
        data: b"<S>x</S>".to_vec(),
    };
    let w = m.encode();
    assert_eq!(&w[..4], &[2, 0, 0, 0]);
    assert_eq!(&w[4..8], &[0x06, 0x10, 0x02, 0x00]);
    // .NET order: first three groups little-endian.
    assert_eq!(&w[8..16], &[0x84, 0x6a, 0x05, 0x76, 0xdc, 0x51, 0x24, 0x4f]);
    assert_eq!(
        &w[16..24],
        &[0x92, 0x62, 0xca, 0x2a, 0x55, 0x46, 0x4b, 0x2b]
    );
    assert_eq!(Message::parse(&w).unwrap(), m);
    assert_eq!(m.value().unwrap().unwrap().as_str(), Some("x"));
}

#[test]
fn every_message_type_has_its_ms_psrp_name_and_value() {
    assert_eq!(MessageType::ALL.len(), 31);
    for t in MessageType::ALL {
        assert_eq!(MessageType::from_value(t.value()), Some(*t));
        assert_eq!(MessageType::from_name(t.name()), Some(*t));
    }
    assert_eq!(MessageType::SessionCapability.value(), 0x0001_0002);
    assert_eq!(MessageType::InitRunspacePool.value(), 0x0001_0004);
    assert_eq!(
        MessageType::PipelineHostResponse.name(),
        "PIPELINE_HOST_RESPONSE"
    );
    let unknown = MessageTypeCode(0xDEAD_BEEF);
    assert_eq!(unknown.known(), None);
    assert_eq!(unknown.name(), "UNKNOWN(0xDEADBEEF)");
}
