//! Fuzz target: arbitrary bytes through fragment reassembly, the PSRP message
//! header, CLIXML, WS-Man envelope parsing and capture decoding. Any panic is
//! a bug. Run with `cargo +nightly fuzz run fragments_clixml`.
#![no_main]

use eas_connector::wire::capture::decode_capture;
use eas_connector::wire::clixml::{from_clixml, to_clixml};
use eas_connector::wire::psrp::{Message, Reassembler};
use eas_connector::wire::wsman::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut ra = Reassembler::new();
    if let Ok(msgs) = ra.push_payload(data) {
        for m in msgs {
            if let Ok(msg) = Message::parse(&m) {
                let _ = msg.value();
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(v) = from_clixml(text) {
            // What we decode must re-encode and decode to the same value
            // (NaN aside, which is not equal to itself).
            let again = from_clixml(&to_clixml(&v));
            assert!(again.is_ok());
        }
        let _ = Envelope::parse(text);
        let _ = decode_capture(text);
    }
});
