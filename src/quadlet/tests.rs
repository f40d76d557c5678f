//! Golden files: every `testdata/NAME.EXT` is translated and compared
//! with `testdata/NAME.EXT.service` (the service) or
//! `testdata/NAME.EXT.error` (the one-line error naming file, line and
//! key). `HUTCH_BLESS=1 cargo test --lib quadlet` rewrites them after a
//! deliberate change; review the diff.

use std::path::Path;

use super::*;

fn opts() -> Options {
    Options {
        hutch: "/usr/bin/hutch".into(),
        run_dir: "%t/hutch".into(),
    }
}

#[test]
fn golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/quadlet/testdata");
    let bless = std::env::var_os("HUTCH_BLESS").is_some();
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.contains(&e))
        })
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "the golden files are there");
    // One set, as the generator reads a directory: files refer to each
    // other.
    let sources: Vec<Source> = inputs
        .iter()
        .map(|input| {
            let name = input.file_name().and_then(|n| n.to_str()).expect("name");
            Source {
                name: name.to_owned(),
                path: format!("/etc/hutch/systemd/{name}"),
                text: std::fs::read_to_string(input).expect("read"),
            }
        })
        .collect();
    let mut failures = Vec::new();
    for (src, result) in sources.iter().zip(translate_all(&sources, &opts())) {
        let name = &src.name;
        let (got, golden) = match result {
            Ok(s) => (
                format!(
                    "---{}---\nwanted-by: {:?}\nrequired-by: {:?}\n{}",
                    s.name, s.wanted_by, s.required_by, s.content
                ),
                dir.join(format!("{name}.service")),
            ),
            Err(e) => (format!("{e}\n"), dir.join(format!("{name}.error"))),
        };
        if bless {
            // A file that changed from error to service (or back) must
            // not leave the other golden file behind.
            let other = if golden.extension().is_some_and(|e| e == "error") {
                dir.join(format!("{name}.service"))
            } else {
                dir.join(format!("{name}.error"))
            };
            let _ = std::fs::remove_file(other);
            std::fs::write(&golden, &got).expect("bless");
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!("{name}:\n--- want\n{want}--- got\n{got}")),
            Err(_) => failures.push(format!("{name}: no {}\n--- got\n{got}", golden.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn search_directories() {
    let home = Path::new("/home/u/.config");
    assert_eq!(
        search_dirs(false, 1000, Some(home), None),
        [
            PathBuf::from("/home/u/.config/hutch/systemd"),
            PathBuf::from("/etc/hutch/systemd/users/1000"),
            PathBuf::from("/etc/hutch/systemd/users"),
        ]
    );
    assert_eq!(
        search_dirs(true, 0, None, None),
        [
            PathBuf::from("/etc/hutch/systemd"),
            PathBuf::from("/usr/share/hutch/systemd"),
        ]
    );
    assert_eq!(
        search_dirs(false, 1000, Some(home), Some("/a:/b")),
        [PathBuf::from("/a"), PathBuf::from("/b")]
    );
}
