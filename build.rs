//! Link the release binary with GNU ld (bfd) where it is installed, instead
//! of rustc's default LLD. Same code, laid out so that the pages the running
//! pipeline touches are fewer: at 100,000 events/s the binary's resident code
//! is ~54 MB linked by bfd vs ~60 MB by LLD (docs/PERFORMANCE.md). Tests and
//! debug builds keep LLD, which links faster.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=COURIER_LINKER");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|o| o == "linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|e| e == "gnu");
    // COURIER_LINKER=default keeps rustc's choice.
    let opted_out = std::env::var("COURIER_LINKER").is_ok_and(|v| v == "default");
    if release && linux_gnu && !opted_out && has_bfd() {
        println!("cargo:rustc-link-arg-bins=-fuse-ld=bfd");
    }
    prebuilt_duckdb();
}

/// Without the bundled DuckDB, libduckdb-sys links `DUCKDB_LIB_DIR/libduckdb.so`.
/// The prebuilt one scripts/prebuilt-duckdb.sh prepares is the PyPI wheel's
/// module, which needs CPython's symbols: link the libpython found beside it
/// (not dropped by --as-needed, as nothing of ours calls it) and find both at
/// run time through the directory, wherever the binary is started from.
fn prebuilt_duckdb() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if std::env::var_os("CARGO_FEATURE_BUNDLED_DUCKDB").is_some() {
        return;
    }
    let Ok(dir) = std::env::var("DUCKDB_LIB_DIR") else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("libpython") && name.contains(".so") {
            let path = entry.path();
            println!(
                "cargo:rustc-link-arg=-Wl,--push-state,--no-as-needed,{},--pop-state",
                path.display()
            );
        }
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
}

fn has_bfd() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| Path::new(&d).join("ld.bfd").is_file()))
}
