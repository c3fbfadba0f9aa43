//! The example programs every executor is tested on.

use std::path::{Path, PathBuf};

/// Every `examples/*.pxs`, sorted.
pub fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pxs"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "examples missing: {files:?}");
    files
}
