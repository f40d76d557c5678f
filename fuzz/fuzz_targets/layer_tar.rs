#![no_main]
use hutch_storage::extract::{ApplyOptions, Ownership, WhiteoutFormat, apply_layer};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let root = dir.path().join("root");
    if std::fs::create_dir(&root).is_err() {
        return;
    }
    let opts = ApplyOptions {
        whiteouts: WhiteoutFormat::Naive,
        ownership: Ownership::Ignore,
        skip_devices: true,
    };
    let _ = apply_layer(data, &root, &opts);
    // Nothing may appear beside the root.
    let outside = std::fs::read_dir(dir.path()).map(|d| d.count()).unwrap_or(1);
    assert_eq!(outside, 1);
});
