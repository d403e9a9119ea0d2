//! Finds libquiver.so for the linker.
//!
//! QUIVER_LIB_DIR (the directory holding libquiver.so) wins: CMake sets it to
//! its build tree when ctest runs `cargo test`, so the crate is tested against
//! the library just built, never an installed one.  Without it, pkg-config's
//! `quiver` module (installed by `cmake --install`) says where the library is.
//! Either way the directory is also written into the run path of this
//! crate's own binaries (tests, examples), so they run without
//! LD_LIBRARY_PATH.  Cargo does not pass link arguments on to the binaries
//! of crates that depend on this one: an application needs the library on
//! the loader's path (an install under /usr/local/lib and ldconfig, or
//! LD_LIBRARY_PATH), or can read the directory in its own build script from
//! DEP_QUIVER_LIB_DIR (this crate `links = "quiver"`) and set its run path.
use std::env;
use std::process::Command;

fn pkg_config_dirs() -> Vec<String> {
    let out = Command::new("pkg-config")
        .args(["--libs-only-L", "quiver"])
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("-L").map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=QUIVER_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let dirs = match env::var("QUIVER_LIB_DIR") {
        Ok(d) if !d.is_empty() => vec![d],
        _ => pkg_config_dirs(),
    };
    if let Some(d) = dirs.first() {
        println!("cargo:lib_dir={}", d);
    }
    for d in &dirs {
        println!("cargo:rustc-link-search=native={}", d);
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", d);
    }
    if dirs.is_empty() {
        println!(
            "cargo:warning=libquiver not located: set QUIVER_LIB_DIR to the \
             directory holding libquiver.so, or install Quiver (pkg-config quiver)"
        );
    }
    println!("cargo:rustc-link-lib=dylib=quiver");
}
