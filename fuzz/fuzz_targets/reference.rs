#![no_main]
libfuzzer_sys::fuzz_target!(|s: &str| {
    if let Ok(r) = hutch::image::reference::Reference::parse(s) {
        assert!(hutch::image::reference::Reference::parse(&r.to_string()).is_ok());
    }
});
