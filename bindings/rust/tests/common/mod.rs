//! Shared by the integration tests.
use std::path::PathBuf;

/// A fresh, empty directory under the cargo target dir (removed by the
/// test on success only, so a failure leaves its files to look at).
pub fn scratch(name: &str) -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("quiver-rs-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
