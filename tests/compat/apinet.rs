//! Issue 12 (apinet): `pod create --ip/--ip6/--mac-address` (the infra
//! container's addresses, shared by the pod), `ps --format '{{.State}}'`,
//! `logs --until DURATION` and volume events, each against podman 4.3.

use super::*;

/// A `ps` State/Status text with its time phrase masked ("Up 3 seconds
/// ago" and "Up Less than a second ago" alike): the rest must match.
fn no_times(text: &str) -> String {
    text.lines()
        .map(|l| match (l.find("Up "), l.find(") "), l.rfind(" ago")) {
            (Some(i), _, Some(j)) if i < j => format!("{}Up T{}", &l[..i], &l[j..]),
            (_, Some(i), Some(j)) if i < j => format!("{}) T{}", &l[..i], &l[j..]),
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn pod_static_addresses() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    for args in [
        ["network", "create", "--subnet", "10.123.0.0/24", "apn"].as_slice(),
        [
            "pod",
            "create",
            "--network",
            "apn",
            "--ip",
            "10.123.0.50",
            "--mac-address",
            "92:D0:C6:0A:29:33",
            "--name",
            "p1",
        ]
        .as_slice(),
    ] {
        p.same_code(args);
    }
    // The pod's containers share the infra container's address and MAC.
    let show = [
        "run", "--rm", "--pod", "p1", "bb", "busybox", "ip", "addr", "show", "eth0",
    ];
    let (h, q) = (p.hutch(&show), p.podman(&show));
    let pick = |out: &Output| -> Vec<String> {
        stdout(out)
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("link/ether") || l.starts_with("inet "))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(h.status.code(), Some(0), "{}", stderr(&h));
    assert_eq!(pick(&h), pick(&q), "{}\npodman: {}", stdout(&h), stderr(&q));
    assert!(
        pick(&h)
            .iter()
            .any(|l| l.starts_with("inet 10.123.0.50/24")),
        "{}",
        stdout(&h)
    );
    // Refusals: Podman's words and codes.
    for args in [
        ["pod", "create", "--ip", "10.123.0.51", "--name", "p2"].as_slice(),
        ["pod", "create", "--infra=false", "--ip", "10.123.0.52"].as_slice(),
        ["pod", "create", "--infra=false", "--ip6", "fd00::5"].as_slice(),
        [
            "pod",
            "create",
            "--infra=false",
            "--mac-address",
            "92:d0:c6:0a:29:33",
        ]
        .as_slice(),
        ["pod", "create", "--network", "apn", "--ip", "bogus"].as_slice(),
        ["pod", "create", "--network", "apn", "--mac-address", "zz"].as_slice(),
    ] {
        let (h, q) = p.same(args);
        assert_eq!(
            h.lines().last().unwrap_or(""),
            without_mount_warning(&q).lines().last().unwrap_or(""),
            "{args:?}"
        );
    }
}

/// `kube play --ip/--mac-address`: the i-th address to the i-th pod.
#[test]
fn kube_play_static_addresses() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let yaml = write_readable(
        &p.env.root,
        "pod.yaml",
        b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: kp\nspec:\n  containers:\n  - name: c\n    image: localhost/bb\n    command: [\"/bin/sleep\", \"100\"]\n",
    );
    let yaml = yaml.to_string_lossy().into_owned();
    p.same_code(&["network", "create", "--subnet", "10.124.0.0/24", "kn"]);
    for args in [
        ["kube", "play", "--network", "kn", "--ip", "bogus", &yaml].as_slice(),
        [
            "kube",
            "play",
            "--network",
            "kn",
            "--mac-address",
            "zz",
            &yaml,
        ]
        .as_slice(),
        [
            "kube",
            "play",
            "--network",
            "kn,podman",
            "--ip",
            "10.124.0.6",
            &yaml,
        ]
        .as_slice(),
    ] {
        let (h, q) = p.same(args);
        assert_eq!(
            h.lines().next().unwrap_or(""),
            without_mount_warning(&q).lines().next().unwrap_or(""),
            "{args:?}"
        );
    }
    let play = [
        "kube",
        "play",
        "--network",
        "kn",
        "--ip",
        "10.124.0.5",
        "--mac-address",
        "92:d0:c6:0a:29:36",
        &yaml,
    ];
    p.same_code(&play);
    let show = ["exec", "kp-c", "/bin/busybox", "ip", "addr", "show", "eth0"];
    let out = p.env.ok(show);
    assert!(
        out.contains("inet 10.124.0.5/24") && out.contains("link/ether 92:d0:c6:0a:29:36"),
        "{out}"
    );
    p.same_code(&["kube", "down", &yaml]);
}

#[test]
fn ps_state_words_and_logs_until() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    for args in [
        ["create", "--network", "none", "--name", "c1", "bb", "true"].as_slice(),
        [
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "c2",
            "bb",
            "sleep",
            "100",
        ]
        .as_slice(),
        [
            "run",
            "--network",
            "none",
            "--name",
            "c3",
            "bb",
            "sh",
            "-c",
            "echo hello; exit 3",
        ]
        .as_slice(),
    ] {
        p.same_code(args);
    }
    // `{{.Status}}` is left out: hutch's says "Up 3 seconds" where
    // podman 4.3.1's says "Up 3 seconds ago" (docs/compat.md).
    let fmt = [
        "ps",
        "-a",
        "--sort",
        "names",
        "--format",
        "{{.Names}} {{.State}}",
    ];
    let (h, q) = (p.hutch(&fmt), p.podman(&fmt));
    assert_eq!(
        no_times(&stdout(&h)),
        no_times(&stdout(&q)),
        "{}",
        stdout(&h)
    );
    let h = stdout(&h);
    assert!(h.contains("c3 Exited (3) ") && h.contains("c2 Up "), "{h}");
    // JSON keeps the lower-case word.
    let json = p.env.ok(["ps", "-a", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("ps json");
    let mut states: Vec<&str> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["State"].as_str())
        .collect();
    states.sort();
    assert_eq!(states, ["created", "exited", "running"], "{json}");
    // A duration counts forward from now, as Podman's: what is there shows.
    for until in ["30s", "2000-01-01"] {
        p.same(&["logs", "--until", until, "c3"]);
    }
    assert_eq!(p.env.ok(["logs", "--until", "30s", "c3"]), "hello\n");
    for args in [
        ["rm", "-f", "-t", "0", "c2"].as_slice(),
        ["rm", "c1", "c3"].as_slice(),
    ] {
        p.same_code(args);
    }
}

#[test]
fn volume_events() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    // Podman's events in a file (no journal in the test's session); hutch
    // reads the same file's setting and keeps its own log.
    let conf = p.env.home.join(".config/containers");
    std::fs::create_dir_all(&conf).expect("config dir");
    std::fs::write(
        conf.join("containers.conf"),
        "[engine]\nevents_logger = \"file\"\n",
    )
    .expect("containers.conf");
    for path in [
        p.env.home.join(".config"),
        conf.clone(),
        conf.join("containers.conf"),
    ] {
        chown(&path, p.env.user.uid, p.env.user.gid);
    }
    for args in [
        ["volume", "create", "v1"].as_slice(),
        ["volume", "rm", "v1"].as_slice(),
        ["volume", "create", "v2"].as_slice(),
        [
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            "v3:/d",
            "bb",
            "true",
        ]
        .as_slice(),
        ["run", "--rm", "--network", "none", "-v", "/d", "bb", "true"].as_slice(),
        ["volume", "prune", "-f"].as_slice(),
    ] {
        p.same_code(args);
    }
    // Anonymous volumes' names differ: masked.
    let mask = |text: String| -> String {
        text.split_whitespace()
            .map(|w| {
                if w.len() == 64 && w.chars().all(|c| c.is_ascii_hexdigit()) {
                    "ANON"
                } else {
                    w
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let fields = "{{.Type}} {{.Status}} {{.Name}} [{{.ID}}] [{{.Image}}]\n";
    for format in [fields, ""] {
        let mut args = vec!["events", "--stream=false", "--filter", "type=volume"];
        if !format.is_empty() {
            args.extend(["--format", format]);
        }
        let (h, q) = (p.hutch(&args), p.podman(&args));
        assert_eq!(h.status.code(), q.status.code(), "{}", stderr(&h));
        // The default line starts with the time.
        let cut = |out: &Output| -> String {
            mask(
                stdout(out)
                    .lines()
                    .map(|l| l.split_once(" UTC ").map_or(l, |(_, r)| r))
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        };
        assert_eq!(cut(&h), cut(&q), "{args:?}\n{}", stdout(&h));
    }
    let json = p.env.ok([
        "events",
        "--stream=false",
        "--filter",
        "volume=v1",
        "--format",
        "json",
    ]);
    let first: serde_json::Value =
        serde_json::from_str(json.lines().next().unwrap_or("")).expect("event json");
    assert_eq!(first["Name"], "v1", "{json}");
    assert_eq!(first["Attributes"], serde_json::Value::Null, "{json}");
    assert!(first.get("ID").is_none(), "{json}");
}
