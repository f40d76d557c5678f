//! `manifest …` against podman: the local list commands (exit codes and
//! `manifest inspect` with digests and sizes masked, which differ because
//! each engine writes its own image manifests), then a round trip through
//! a real registry: a two-platform list pushed by each, read and pulled by
//! platform by the other.

use super::*;
use common::registry::Registry;

/// Digests and sizes masked: each engine's manifests are its own bytes.
fn masked(text: &str) -> String {
    text.lines()
        .map(|l| {
            let t = l.trim_end();
            if let Some(i) = t.find("\"sha256:") {
                format!(
                    "{}\"sha256:X\"{}",
                    &t[..i],
                    if t.ends_with(',') { "," } else { "" }
                )
            } else if let Some(i) = t.find("\"size\": ") {
                format!("{}\"size\": N,", &t[..i])
            } else {
                t.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Pair {
    /// Both engines' outputs for `args`: the codes must match and the
    /// masked stdout too.
    fn same_masked(&self, args: &[&str]) -> String {
        let (h, p) = (self.hutch(args), self.podman(args));
        assert_eq!(
            h.status.code(),
            p.status.code(),
            "{args:?}\nhutch stderr: {}\npodman stderr: {}",
            stderr(&h),
            stderr(&p)
        );
        assert_eq!(
            masked(&stdout(&h)),
            masked(&stdout(&p)),
            "{args:?}: hutch (left) and podman (right) differ"
        );
        stdout(&h)
    }

    /// A second image, `bb2` (another layer), imported into both.
    fn with_second_image(&self) {
        let tar = write_readable(
            &self.env.root,
            "bb2.tar",
            &layer(&[Entry::Dir("etc"), Entry::File("etc/second", b"2\n")]),
        );
        let tar = tar.to_string_lossy().into_owned();
        self.env.ok(["import", "-q", &tar, "bb2"]);
        let out = self.podman(&["import", "-q", &tar, "bb2"]);
        assert!(out.status.success(), "podman import: {}", stderr(&out));
    }
}

impl Pair {
    /// Plain HTTP to the test registry, for both, through registries.conf
    /// (podman's `manifest inspect` has no --tls-verify).
    fn plain_http_to(&self, reg: &Registry) {
        let dir = self.env.home.join(".config/containers");
        std::fs::create_dir_all(&dir).expect("config dir");
        std::fs::write(
            dir.join("registries.conf"),
            format!(
                "[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
                reg.address()
            ),
        )
        .expect("registries.conf");
        for d in [self.env.home.join(".config"), dir] {
            chown(&d, self.env.user.uid, self.env.user.gid);
        }
    }
}

/// The digest of the instance at `index` in a printed list.
fn instance_digest(inspect: &str, index: usize) -> String {
    let v: serde_json::Value = serde_json::from_str(inspect).expect("manifest inspect is JSON");
    v["manifests"][index]["digest"]
        .as_str()
        .unwrap_or_else(|| panic!("no instance {index} in {inspect}"))
        .to_owned()
}

/// The subcommands a `--help` lists: the first word of each line after
/// the heading (clap's "Commands:", cobra's "Available Commands:") up to
/// the next blank line, clap's own `help` left out.
fn subcommands(help: &str) -> Vec<String> {
    let mut words: Vec<String> = help
        .lines()
        .skip_while(|l| !l.ends_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|w| w != "help")
        .collect();
    words.sort();
    words
}

#[test]
fn manifest_help_lists_podmans_subcommands() {
    let Some(p) = Pair::new() else {
        return;
    };
    let (h, q) = (
        p.hutch(&["manifest", "--help"]),
        p.podman(&["manifest", "--help"]),
    );
    assert_eq!(h.status.code(), q.status.code());
    let ours = subcommands(&stdout(&h));
    assert_eq!(ours.len(), 8, "{}", stdout(&h));
    assert_eq!(ours, subcommands(&stdout(&q)));
    // No subcommand, or an unknown one: Podman's 125.
    p.same_code(&["manifest"]);
    p.same_code(&["manifest", "bogus"]);
}

#[test]
fn manifest_commands_match_podman() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    p.with_second_image();
    p.same_code(&["manifest", "create", "ml"]);
    p.same(&["manifest", "inspect", "ml"]);
    p.same_code(&["manifest", "create", "ml"]);
    p.same_code(&["manifest", "create", "--amend", "ml"]);
    p.same_code(&["manifest", "add", "ml", "containers-storage:localhost/bb"]);
    p.same_masked(&["manifest", "inspect", "ml"]);
    p.same_code(&[
        "manifest",
        "add",
        "--arch",
        "arm64",
        "--variant",
        "v8",
        "--os-version",
        "1.0",
        "--annotation",
        "k=v",
        "ml",
        "containers-storage:localhost/bb2",
    ]);
    let listed = p.same_masked(&["manifest", "inspect", "ml"]);
    assert!(
        listed.contains("\"architecture\": \"arm64\"") && listed.contains("\"k\": \"v\""),
        "{listed}"
    );
    // annotate and remove take each engine's own digest.
    let podman_listed = stdout(&p.podman(&["manifest", "inspect", "ml"]));
    for (run, text) in [(0, &listed), (1, &podman_listed)] {
        let d = instance_digest(text, 0);
        let args = [
            "manifest",
            "annotate",
            "--arch",
            "s390x",
            "--annotation",
            "a=b",
            "ml",
            &d,
        ];
        let out = if run == 0 {
            p.hutch(&args)
        } else {
            p.podman(&args)
        };
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    p.same_masked(&["manifest", "inspect", "ml"]);
    let bogus = format!("sha256:{}", "1".repeat(64));
    p.same_code(&["manifest", "annotate", "--arch", "x", "ml", &bogus]);
    p.same_code(&["manifest", "remove", "ml", &bogus]);
    for (run, text) in [(0, &listed), (1, &podman_listed)] {
        let d = instance_digest(text, 1);
        let args = ["manifest", "remove", "ml", &d];
        let out = if run == 0 {
            p.hutch(&args)
        } else {
            p.podman(&args)
        };
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let after = p.same_masked(&["manifest", "inspect", "ml"]);
    assert!(!after.contains("arm64"), "{after}");
    // The list is an image: `images` lists it.
    for args in [
        &["manifest", "exists", "ml"][..],
        &["manifest", "exists", "nope"],
        &["manifest", "exists", "bb"],
        &["manifest", "inspect", "nope"],
        &["manifest", "add", "nope", "containers-storage:localhost/bb"],
        &["manifest", "add", "ml", "containers-storage:localhost/nope"],
        &["manifest", "rm", "nope"],
    ] {
        p.same_code(args);
    }
    let names = |out: Output| {
        let mut v: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
        v.sort();
        v
    };
    let fmt = ["images", "--format", "{{.Repository}}:{{.Tag}}"];
    assert_eq!(names(p.hutch(&fmt)), names(p.podman(&fmt)));
    let (h, q) = (
        p.hutch(&["manifest", "rm", "ml"]),
        p.podman(&["manifest", "rm", "ml"]),
    );
    assert_eq!(h.status.code(), Some(0), "{}", stderr(&h));
    assert_eq!(h.status.code(), q.status.code());
    let first = |o: &Output| stdout(o).lines().next().map(str::to_owned);
    assert_eq!(first(&h), Some("Untagged: localhost/ml:latest".to_owned()));
    assert_eq!(first(&h), first(&q));
    p.same_code(&["manifest", "exists", "ml"]);
    // The images the list named stay.
    p.same_code(&["image", "exists", "bb"]);
}

#[test]
fn manifest_push_round_trip_through_a_registry() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let Some(reg) = Registry::start(&p.env.root.join("registry"), None) else {
        return;
    };
    p.with_second_image();
    p.plain_http_to(&reg);
    let addr = reg.address();
    for (run, list) in [(0, "hl"), (1, "pl")] {
        let go = |args: &[&str]| {
            let out = if run == 0 {
                p.hutch(args)
            } else {
                p.podman(args)
            };
            assert!(out.status.success(), "{run} {args:?}: {}", stderr(&out));
            stdout(&out)
        };
        go(&[
            "manifest",
            "create",
            list,
            "containers-storage:localhost/bb",
        ]);
        go(&[
            "manifest",
            "add",
            "--arch",
            "arm64",
            "--variant",
            "v8",
            list,
            "containers-storage:localhost/bb2",
        ]);
        go(&["manifest", "push", "-q", list, &format!("{addr}/{list}")]);
    }
    // Each reads the other's list; both print the same shape.
    let hl = format!("{addr}/hl");
    let pl = format!("{addr}/pl");
    let (h, q) = (
        p.hutch(&["manifest", "inspect", &pl]),
        p.podman(&["manifest", "inspect", &hl]),
    );
    assert!(h.status.success(), "hutch inspect: {}", stderr(&h));
    assert!(q.status.success(), "podman inspect: {}", stderr(&q));
    assert_eq!(masked(&stdout(&h)), masked(&stdout(&q)));
    let pushed = stdout(&p.hutch(&["manifest", "inspect", &hl]));
    assert!(
        pushed.contains("\"arm64\"") && pushed.contains("\"amd64\""),
        "{pushed}"
    );
    // Pulled by platform, by the other: the arm64 entry is bb2, whose
    // config (and so id) both engines share.
    let bb2 = stdout(&p.hutch(&["image", "inspect", "--format", "{{.Id}}", "bb2"]));
    let q = p.podman(&["pull", "-q", "--platform", "linux/arm64", &hl]);
    assert!(q.status.success(), "podman pull: {}", stderr(&q));
    assert_eq!(stdout(&q).trim(), bb2.trim());
    let h = p.hutch(&["pull", "-q", "--platform", "linux/arm64", &pl]);
    assert!(h.status.success(), "hutch pull: {}", stderr(&h));
    let id = stdout(&h);
    let pulled = stdout(&p.hutch(&["image", "inspect", "--format", "{{.Id}}", id.trim()]));
    let podman_bb2 = stdout(&p.podman(&["image", "inspect", "--format", "{{.Id}}", "bb2"]));
    assert_eq!(pulled.trim(), podman_bb2.trim());
    // --format v2s2 writes a Docker list of Docker manifests; --rm drops
    // the local list once pushed.
    let out = p.hutch(&[
        "manifest",
        "push",
        "-q",
        "--rm",
        "--format",
        "v2s2",
        "hl",
        &format!("{addr}/hl2"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v2 = stdout(&p.podman(&["manifest", "inspect", &format!("{addr}/hl2")]));
    assert!(
        v2.contains("application/vnd.docker.distribution.manifest.v2+json")
            && !v2.contains("vnd.oci"),
        "{v2}"
    );
    assert_eq!(
        p.hutch(&["manifest", "exists", "hl"]).status.code(),
        Some(1)
    );
    // Bad push options: Podman's words and codes.
    for args in [
        &["manifest", "push", "--format", "v2s1x", "pl", "x/y"][..],
        &["push", "--format", "v2s1x", "bb", "127.0.0.1:1/y"],
        &["push", "--compression-format", "foo", "bb", "127.0.0.1:1/y"],
    ] {
        let (h, q) = (p.hutch(args), p.podman(args));
        assert_eq!(h.status.code(), q.status.code(), "{args:?}: {}", stderr(&h));
        assert_eq!(stderr(&h).trim(), without_mount_warning(&stderr(&q)).trim());
    }
    // push --format v2s2 of one image: a Docker manifest in the registry.
    let out = p.hutch(&[
        "push",
        "-q",
        "--format",
        "v2s2",
        "bb",
        &format!("{addr}/one"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A single image is no list: both refuse to inspect it as one.
    p.same_code(&["manifest", "inspect", &format!("{addr}/one")]);
    let q = p.podman(&["pull", "-q", &format!("{addr}/one")]);
    assert!(q.status.success(), "podman pull: {}", stderr(&q));
    let kind = p.podman(&[
        "image",
        "inspect",
        "--format",
        "{{.ManifestType}}",
        &format!("{addr}/one"),
    ]);
    assert_eq!(
        stdout(&kind).trim(),
        "application/vnd.docker.distribution.manifest.v2+json"
    );
}

#[test]
fn manifest_add_all_of_a_registry_list_matches_podman() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let Some(reg) = Registry::start(&p.env.root.join("registry"), None) else {
        return;
    };
    p.with_second_image();
    let addr = reg.address();
    let list = format!("docker://{addr}/list");
    // hutch pushes a two-platform list, one entry annotated...
    for args in [
        &[
            "manifest",
            "create",
            "src",
            "containers-storage:localhost/bb",
        ][..],
        &[
            "manifest",
            "add",
            "--arch",
            "arm64",
            "--variant",
            "v8",
            "--annotation",
            "k=v",
            "src",
            "containers-storage:localhost/bb2",
        ],
        &[
            "manifest",
            "push",
            "--all",
            "-q",
            "--tls-verify=false",
            "src",
            &list,
        ],
    ] {
        p.env.ok(args);
    }
    // ...then starts from an empty store, as podman's is for this list:
    // every entry must come from the registry.
    p.env.ok(["rmi", "-a", "-f"]);
    assert_eq!(stdout(&p.hutch(&["images", "-q"])).trim(), "");
    // Both take every entry by digest (the registry's bytes: digests and
    // sizes alike), with its platform; Podman 4.3 drops the annotation.
    p.same_code(&["manifest", "create", "l2"]);
    p.same_code(&[
        "manifest",
        "add",
        "--all",
        "--tls-verify=false",
        "l2",
        &list,
    ]);
    p.same(&["manifest", "inspect", "l2"]);
    let text = stdout(&p.hutch(&["manifest", "inspect", "l2"]));
    assert!(
        text.contains("\"arm64\"") && text.contains("\"amd64\"") && !text.contains("\"k\""),
        "{text}"
    );
    // Without --all: the host's entry only.
    p.same_code(&["manifest", "create", "l3"]);
    p.same_code(&["manifest", "add", "--tls-verify=false", "l3", &list]);
    p.same(&["manifest", "inspect", "l3"]);
    // What hutch holds pushes on, even after a prune (the pulled entries
    // are untagged): the copy is the list it came from.
    p.env.ok(["image", "prune", "-f"]);
    let copy = format!("{addr}/copy");
    p.env
        .ok(["manifest", "push", "-q", "--tls-verify=false", "l2", &copy]);
    // Only now plain HTTP by registries.conf: the adds above had to work
    // by --tls-verify=false alone.
    p.plain_http_to(&reg);
    p.same(&["manifest", "inspect", &copy]);
    let (h, q) = (
        p.hutch(&["manifest", "inspect", &copy]),
        p.podman(&["manifest", "inspect", &format!("{addr}/list")]),
    );
    assert_eq!(outcome(&h), outcome(&q));
    // Errors: a missing list, a missing repository (with --all and
    // without), an unreachable registry, bad references: Podman's codes.
    let missing = format!("docker://{addr}/nope");
    for args in [
        &["manifest", "add", "--all", "nolist", &list][..],
        &["manifest", "add", "--tls-verify=false", "l2", &missing],
        &[
            "manifest",
            "add",
            "--all",
            "--tls-verify=false",
            "l2",
            &missing,
        ],
        &[
            "manifest",
            "add",
            "--all",
            "--tls-verify=false",
            "l2",
            "docker://127.0.0.1:1/x",
        ],
        &["manifest", "add", "--all", "l2", "bad::ref"],
        &["manifest", "add", "l2", &format!("docker://{addr}/UPPER")],
        &["manifest", "create", "Bad"],
        &["manifest", "inspect", "bad::ref"],
    ] {
        p.same_code(args);
    }
}
