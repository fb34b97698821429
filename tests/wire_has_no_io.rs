//! `src/wire` does no I/O: its crate depends on no I/O crate (tokio, hyper, reqwest, mio,
//! socket2), and outside its tests its sources use neither `std::fs`, `std::net`, `std::process`
//! nor `tokio`/`hyper` paths. The compiler enforces the first for the dependencies; this test
//! the rest, and that the check itself finds what it looks for.

use std::path::{Path, PathBuf};

const FORBIDDEN: &[&str] = &[
    "std::fs",
    "std::net",
    "std::process",
    "tokio::",
    "hyper::",
    "reqwest::",
    "mio::",
];

/// The code of a source file without comments and `#[cfg(test)]` items (modules
/// brace-counted).
fn without_tests(src: &str) -> String {
    let code: String = src
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut out = String::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        // A `mod name;` (a test-only file, skipped by its own check) or `mod name { ... }`.
        let open = after.find('{').unwrap_or(usize::MAX);
        let semi = after.find(';').unwrap_or(usize::MAX);
        if semi < open {
            rest = &after[semi + 1..];
            continue;
        }
        if open == usize::MAX {
            rest = "";
            break;
        }
        let mut depth = 0usize;
        let mut end = after.len();
        for (i, c) in after.char_indices().skip(open) {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Files declared test-only (`#[cfg(test)] mod name;`) in their parent.
fn test_only_files(dir: &Path, files: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for f in files {
        let src = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = src.lines().collect();
        for w in lines.windows(2) {
            if w[0].trim() == "#[cfg(test)]" {
                if let Some(name) = w[1]
                    .trim()
                    .strip_prefix("mod ")
                    .and_then(|r| r.strip_suffix(';'))
                {
                    let stem = f.with_extension("");
                    let parent = if f
                        .file_name()
                        .is_some_and(|n| n == "mod.rs" || n == "lib.rs")
                    {
                        f.parent().unwrap().to_path_buf()
                    } else {
                        stem
                    };
                    out.push(parent.join(format!("{name}.rs")));
                    out.push(parent.join(name).join("mod.rs"));
                }
            }
        }
    }
    let _ = dir;
    out
}

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(sources(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_wire_crate_does_no_io() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/wire");
    let files = sources(&dir);
    assert!(files.len() > 10, "src/wire not found: {files:?}");
    let test_only = test_only_files(&dir, &files);
    let mut found = Vec::new();
    for f in &files {
        if test_only.contains(f) {
            continue;
        }
        let src = without_tests(&std::fs::read_to_string(f).unwrap());
        for bad in FORBIDDEN {
            if src.contains(bad) {
                found.push(format!("{}: {bad}", f.display()));
            }
        }
    }
    assert!(found.is_empty(), "I/O in src/wire: {found:#?}");
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    for dep in ["tokio", "hyper", "reqwest", "mio", "socket2"] {
        assert!(
            !manifest.lines().any(|l| l.trim_start().starts_with(dep)),
            "src/wire/Cargo.toml depends on {dep}"
        );
    }
}

#[test]
fn the_check_finds_io_and_skips_tests() {
    let src = "use std::fs;\n#[cfg(test)]\nmod tests {\n fn f() { std::net::TcpStream::connect(\"x\"); { } }\n}\nfn g() {}\n";
    let kept = without_tests(src);
    assert!(kept.contains("std::fs"));
    assert!(!kept.contains("std::net"));
    assert!(kept.contains("fn g()"));
    let only_test = "#[cfg(test)]\nmod reference;\nuse tokio::net;\n";
    assert!(without_tests(only_test).contains("tokio::"));
    assert!(!without_tests("//! no std::fs here\nfn f() {}\n").contains("std::fs"));
}
