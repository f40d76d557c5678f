#![no_main]
libfuzzer_sys::fuzz_target!(|s: &str| {
    let _ = hutch::image::build::containerfile::parse(s);
    let vars = |k: &str| (k == "A").then(|| "v".to_owned());
    let _ = hutch::image::build::expand::words(s, '\\', &vars);
    if let Ok(rules) = hutch::image::build::ignore::IgnoreRules::parse(s) {
        let _ = rules.excluded("a/b/c");
    }
});
