#![no_main]
libfuzzer_sys::fuzz_target!(|s: &str| {
    if let Ok(t) = hutch::format::Template::parse(s) {
        let v = serde_json::json!({"ID": "abc", "Names": ["x"], "Labels": {"a": "b"}, "Size": 1});
        let _ = t.render_one(&v);
    }
});
