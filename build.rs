//! Build script. Only when the target is Windows it embeds, into `eas-connector.exe`, the icon
//! (`assets/eas-connector.ico`), a VERSIONINFO resource (ProductName, FileDescription,
//! CompanyName, file and product version taken from Cargo.toml) and the application manifest
//! (`assets/eas-connector.manifest`), and the Event Log message table: every event ID of
//! `src/logging/event_ids.in` with the message "%1", so the Event Viewer shows the service's
//! own text (the exe is the source's EventMessageFile). The resource compiler is binutils' windres: on Linux
//! `x86_64-w64-mingw32-windres` (package binutils-mingw-w64-x86-64), on a Windows gnu toolchain
//! `windres`; `WINDRES` overrides. For any other target this script does nothing, so Linux
//! builds never need windres.

use std::env;
use std::path::Path;

mod event_ids {
    include!("src/logging/event_ids.in");
}

/// A MESSAGETABLE resource (MESSAGE_RESOURCE_DATA): one block per run of consecutive IDs, each
/// entry the UTF-16 text "%1" (length-prefixed, flag 1 = Unicode, padded to 4 bytes).
fn message_table(catalogue: &[(u32, &str)]) -> Vec<u8> {
    let mut ids: Vec<u32> = catalogue.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut blocks: Vec<(u32, u32)> = Vec::new();
    for id in ids {
        match blocks.last_mut() {
            Some((_, high)) if *high + 1 == id => *high = id,
            _ => blocks.push((id, id)),
        }
    }
    let mut entry: Vec<u8> = Vec::new();
    for unit in "%1".encode_utf16().chain([0]) {
        entry.extend_from_slice(&unit.to_le_bytes());
    }
    while !entry.len().is_multiple_of(4) {
        entry.push(0);
    }
    let entry_len = u16::try_from(entry.len() + 4).expect("short entry");
    let mut head = (blocks.len() as u32).to_le_bytes().to_vec();
    let mut body = Vec::new();
    let mut offset = 4 + 12 * blocks.len() as u32;
    for (low, high) in &blocks {
        for v in [*low, *high, offset] {
            head.extend_from_slice(&v.to_le_bytes());
        }
        for _ in *low..=*high {
            body.extend_from_slice(&entry_len.to_le_bytes());
            body.extend_from_slice(&1u16.to_le_bytes());
            body.extend_from_slice(&entry);
            offset += u32::from(entry_len);
        }
    }
    head.extend_from_slice(&body);
    head
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=assets/eas-connector.ico");
    println!("cargo:rerun-if-changed=assets/eas-connector.manifest");
    println!("cargo:rerun-if-changed=src/logging/event_ids.in");
    println!("cargo:rerun-if-env-changed=WINDRES");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    let dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let asset = |name: &str| Path::new(&dir).join("assets").join(name);
    let icon = asset("eas-connector.ico");
    let manifest = asset("eas-connector.manifest");

    let mut res = winresource::WindowsResource::new();
    // winresource fills FILEVERSION/PRODUCTVERSION and the FileVersion/ProductVersion strings
    // from CARGO_PKG_VERSION; the strings below replace its defaults (crate name, description).
    res.set_icon(icon.to_str().expect("UTF-8 path"))
        .set_manifest_file(manifest.to_str().expect("UTF-8 path"))
        .set("ProductName", "EAS Connector")
        .set(
            "FileDescription",
            "EAS Connector - service and admin command line",
        )
        .set("CompanyName", "EAS Connector project")
        .set("LegalCopyright", "EAS Connector project, MIT OR Apache-2.0")
        .set("InternalName", "eas-connector")
        .set("OriginalFilename", "eas-connector.exe");
    let out = env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let table = Path::new(&out).join("eventlog-messages.bin");
    std::fs::write(&table, message_table(event_ids::CATALOGUE))
        .expect("writing the Event Log message table into OUT_DIR");
    res.append_rc_content(&format!(
        "LANGUAGE 0x09, 0x01\n1 MESSAGETABLE \"{}\"\n",
        table.to_str().expect("UTF-8 path").replace('\\', "/")
    ));
    // Linked into the eas-connector binary only (cargo:rustc-link-arg-bin), as an object file:
    // a static archive would let the GNU linker drop the unreferenced resource section.
    if let Err(e) = res.compile_for("eas-connector") {
        panic!(
            "embedding the Windows icon and version resource failed: {e}\n\
             (needs x86_64-w64-mingw32-windres from binutils-mingw-w64-x86-64, or set WINDRES)"
        );
    }
}
