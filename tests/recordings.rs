//! Every pypsrp recording decodes with zero errors, and every file that
//! carries PSRP yields PSRP messages.

mod common;

use eas_connector::wire::capture::{decode_capture, Capture};

#[test]
fn every_recording_decodes() {
    let recs = common::recordings();
    if recs.is_empty() {
        return;
    }
    assert!(
        recs.len() >= 60,
        "expected the 60 recordings, found {}",
        recs.len()
    );
    let mut total = 0usize;
    let mut failures = Vec::new();
    for (name, text) in &recs {
        let cap = match Capture::parse(text) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        match decode_capture(text) {
            Ok(msgs) => {
                println!("{name}: {} PSRP messages", msgs.len());
                if cap.carries_psrp() && msgs.is_empty() {
                    failures.push(format!("{name}: carries PSRP but decoded 0 messages"));
                }
                total += msgs.len();
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    println!("total: {total} PSRP messages in {} files", recs.len());
    assert!(
        failures.is_empty(),
        "decode failures:\n{}",
        failures.join("\n")
    );
    assert!(total > 0);
}
