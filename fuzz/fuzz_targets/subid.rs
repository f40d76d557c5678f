#![no_main]
libfuzzer_sys::fuzz_target!(|s: &str| {
    let _ = hutch_userns::subid::SubIdFile::parse(std::path::Path::new("/etc/subuid"), s);
});
