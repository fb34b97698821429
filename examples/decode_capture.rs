//! Print the PSRP messages of a recording or envelope file as JSON lines:
//! `cargo run --example decode_capture -- FILE`.

use eas_connector::exchange::capture::decode_capture;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: decode_capture FILE");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    match decode_capture(&text) {
        Ok(msgs) => {
            for m in msgs {
                match serde_json::to_string(&m) {
                    Ok(s) => println!("{s}"),
                    Err(e) => eprintln!("{e}"),
                }
            }
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    }
}
