//! Build script. Only when the target is Windows it embeds, into `eas-connector.exe`, the icon
//! (`assets/eas-connector.ico`), a VERSIONINFO resource (ProductName, FileDescription,
//! CompanyName, file and product version taken from Cargo.toml) and the application manifest
//! (`assets/eas-connector.manifest`). The resource compiler is binutils' windres: on Linux
//! `x86_64-w64-mingw32-windres` (package binutils-mingw-w64-x86-64), on a Windows gnu toolchain
//! `windres`; `WINDRES` overrides. For any other target this script does nothing, so Linux
//! builds never need windres.

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=assets/eas-connector.ico");
    println!("cargo:rerun-if-changed=assets/eas-connector.manifest");
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
    // Linked into the eas-connector binary only (cargo:rustc-link-arg-bin), as an object file:
    // a static archive would let the GNU linker drop the unreferenced resource section.
    if let Err(e) = res.compile_for("eas-connector") {
        panic!(
            "embedding the Windows icon and version resource failed: {e}\n\
             (needs x86_64-w64-mingw32-windres from binutils-mingw-w64-x86-64, or set WINDRES)"
        );
    }
}
