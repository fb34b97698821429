//! Criterion benchmark: decode every PSRP message of all pypsrp recordings
//! (envelope XML + base64 + fragment reassembly + CLIXML), reported as
//! messages per second. Set EAS_PSRP_RECORDINGS if the folder is elsewhere.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use eas_connector::wire::capture::Capture;

fn load() -> Vec<Capture> {
    let dirs = [
        std::env::var_os("EAS_PSRP_RECORDINGS").map(PathBuf::from),
        Some(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/pypsrp-recordings"),
        ),
        Some(PathBuf::from("/work/shared/fixtures/pypsrp-recordings")),
    ];
    let Some(dir) = dirs.into_iter().flatten().find(|d| d.is_dir()) else {
        eprintln!("recordings not found; nothing to benchmark");
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|x| x == "yml"));
    files.sort();
    files
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|t| Capture::parse(&t).ok())
        .collect()
}

fn bench(c: &mut Criterion) {
    let caps = load();
    let count: usize = caps
        .iter()
        .map(|c| c.decode_values().map(|v| v.len()).unwrap_or(0))
        .sum();
    if count == 0 {
        return;
    }
    let mut g = c.benchmark_group("decode_recordings");
    g.throughput(Throughput::Elements(count as u64));
    g.bench_function("envelope+base64+fragments+clixml", |b| {
        b.iter(|| {
            let mut n = 0;
            for cap in &caps {
                n += cap.decode_values().map(|v| v.len()).unwrap_or(0);
            }
            assert_eq!(n, count);
        })
    });
    g.bench_function("plus_json", |b| {
        b.iter(|| {
            let mut n = 0;
            for cap in &caps {
                n += cap.decode().map(|v| v.len()).unwrap_or(0);
            }
            assert_eq!(n, count);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
