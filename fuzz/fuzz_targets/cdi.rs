#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    for name in ["a.json", "b.yaml"] {
        if std::fs::write(dir.path().join(name), data).is_err() {
            return;
        }
    }
    let registry = hutch::runtime::cdi::Registry::load(&[dir.path().to_path_buf()]);
    let names = registry.device_names();
    let _ = registry.resolve(&names);
});
