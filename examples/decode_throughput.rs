//! Decode throughput over the pypsrp recordings, for scripts/bench-vs-pypsrp.py:
//! `cargo run --release --example decode_throughput -- DIR [SECONDS]`.
//! Work per message: envelope XML parse, base64, fragment reassembly, 40-byte
//! header, CLIXML deserialization (no JSON). YAML loading is done once, outside
//! the timed loop (the Python side does the same).

use std::time::{Duration, Instant};

use eas_connector::wire::capture::Capture;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .unwrap_or_else(|| "/work/shared/fixtures/pypsrp-recordings".into());
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p: &std::path::PathBuf| p.extension().is_some_and(|x| x == "yml"));
    files.sort();
    let caps: Vec<Capture> = files
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|t| Capture::parse(&t).ok())
        .collect();
    let per_pass: usize = caps
        .iter()
        .map(|c| c.decode_values().map(|v| v.len()).unwrap_or(0))
        .sum();
    let budget = Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut passes = 0u64;
    let mut total = 0usize;
    while start.elapsed() < budget || passes == 0 {
        for c in &caps {
            total += c.decode_values().map(|v| v.len()).unwrap_or(0);
        }
        passes += 1;
    }
    let el = start.elapsed().as_secs_f64();
    println!(
        "files={} messages_per_pass={per_pass} passes={passes}",
        caps.len()
    );
    println!("messages_per_second={:.0}", total as f64 / el);
}
