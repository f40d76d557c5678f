//! `build`: Containerfiles built by hutch (and, where podman is installed,
//! by `podman build` from the same busybox tar) compared by their exported
//! file trees and image configs; the layer cache; hostile contexts.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::images::*;
use common::*;

/// A busybox layer whose applet hard links carry busybox's own mode
/// (containers/storage applies a hard link header's mode to the inode, so
/// the common harness's 0644 links would leave podman a busybox it cannot
/// execute).
fn bb_layer() -> Vec<u8> {
    let busybox = fs::read("/bin/busybox").expect("busybox-static is installed");
    let mut b = tar::Builder::new(Vec::new());
    let hdr = |kind: tar::EntryType, size: u64, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h
    };
    for d in [
        "bin", "etc", "tmp", "proc", "dev", "sys", "run", "var", "var/tmp",
    ] {
        let mut h = hdr(
            tar::EntryType::Directory,
            0,
            if d.ends_with("tmp") { 0o1777 } else { 0o755 },
        );
        b.append_data(&mut h, format!("{d}/"), std::io::empty())
            .unwrap();
    }
    let mut h = hdr(tar::EntryType::Regular, busybox.len() as u64, 0o755);
    b.append_data(&mut h, "bin/busybox", &busybox[..]).unwrap();
    for (name, data) in [
        (
            "etc/passwd",
            &b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"[..],
        ),
        ("etc/group", &b"root:x:0:\nnobody:x:65534:\n"[..]),
    ] {
        let mut h = hdr(tar::EntryType::Regular, data.len() as u64, 0o644);
        b.append_data(&mut h, name, data).unwrap();
    }
    for a in [
        "sh", "ls", "cat", "echo", "id", "true", "false", "test", "mkdir", "chmod", "stat", "wc",
        "touch", "rm",
    ] {
        let mut h = hdr(tar::EntryType::Link, 0, 0o755);
        b.append_link(&mut h, format!("bin/{a}"), "bin/busybox")
            .unwrap();
    }
    b.into_inner().unwrap()
}

/// A test environment whose hutch has `localhost/busybox` (CMD /bin/sh)
/// from [`bb_layer`]; the tar is kept for podman.
fn bb_env() -> (TestEnv, PathBuf) {
    let env = TestEnv::new(TestUser::default_user());
    let tar = write_readable(&env.root, "bb.tar", &bb_layer());
    env.ok([
        "import",
        "--change",
        "CMD=/bin/sh",
        tar.to_str().unwrap(),
        "localhost/busybox",
    ]);
    (env, tar)
}

/// A context directory the test user can read, with `files` (name, data).
fn context(env: &TestEnv, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = env.root.join(name);
    fs::create_dir_all(&dir).unwrap();
    for (n, data) in files {
        let p = dir.join(n);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, data).unwrap();
    }
    open_up(&dir);
    dir
}

/// Every directory 0755 and file at least 0644, so hutch-test reads them.
fn open_up(dir: &Path) {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    for e in fs::read_dir(dir).unwrap().flatten() {
        let m = fs::symlink_metadata(e.path()).unwrap();
        if m.is_dir() {
            open_up(&e.path());
        } else if m.is_file() {
            let mode = m.permissions().mode() | 0o444;
            fs::set_permissions(e.path(), fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}

fn build(env: &TestEnv, dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<String> = vec!["build".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(dir.to_string_lossy().into_owned());
    env.run(args)
}

fn inspect(env: &TestEnv, image: &str) -> serde_json::Value {
    let out = env.ok(["image", "inspect", image]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("inspect json");
    v[0].clone()
}

#[test]
fn a_simple_build_runs_copies_and_sets_the_config() {
    let env = busybox_env(&[]);
    let dir = context(
        &env,
        "ctx",
        &[
            (
                "Containerfile",
                "FROM busybox\nARG GREETING=hello\nENV WHO=world PATHX=${GREETING:-x}\nRUN echo \"$GREETING $WHO\" > /greeting\nCOPY a.txt /srv/\nWORKDIR /srv\nUSER nobody\nLABEL a=b\nEXPOSE 8080\nCMD [\"cat\", \"/greeting\"]\n",
            ),
            ("a.txt", "file a\n"),
        ],
    );
    let out = build(&env, &dir, &["-t", "simple"]);
    let so = stdout(&out);
    assert!(out.status.success(), "{so}\n{}", stderr(&out));
    println!("{so}");
    assert!(so.contains("STEP 1/10: FROM busybox"), "{so}");
    assert!(so.contains("COMMIT localhost/simple:latest"), "{so}");
    assert!(
        so.contains("Successfully tagged localhost/simple:latest"),
        "{so}"
    );
    let cfg = inspect(&env, "simple");
    let c = &cfg["Config"];
    assert_eq!(c["WorkingDir"], "/srv");
    assert_eq!(c["User"], "nobody");
    assert_eq!(c["Labels"]["a"], "b");
    assert!(c["ExposedPorts"]["8080/tcp"].is_object(), "{c}");
    assert!(c["Env"].to_string().contains("PATHX=hello"), "{c}");
    let run = env.ok(["run", "--rm", "simple"]);
    assert_eq!(run, "hello world\n");
    let ls = env.ok(["run", "--rm", "simple", "cat", "/srv/a.txt"]);
    assert_eq!(ls, "file a\n");
}

// ---- the corpus, built by hutch and by podman -------------------------

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/build");

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap().flatten() {
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// The fixture `name` copied into the test's root (so links can be added
/// and the test user can read it).
fn fixture(env: &TestEnv, name: &str) -> PathBuf {
    let dir = env.root.join(format!("fx-{name}"));
    copy_tree(&Path::new(FIXTURES).join(name), &dir);
    if name == "links" {
        let t = dir.join("tree");
        std::os::unix::fs::symlink("file", t.join("link-in")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", t.join("link-out")).unwrap();
        std::os::unix::fs::symlink("../../../../..", t.join("up")).unwrap();
        fs::hard_link(t.join("file"), t.join("hard")).unwrap();
    }
    open_up(&dir);
    dir
}

fn podman_available() -> bool {
    Path::new("/usr/bin/podman").exists()
}

/// podman as the test user in the test's home: its own storage, removed
/// with the test root; its pause process ended when the test ends.
struct Podman<'a> {
    env: &'a TestEnv,
}

impl<'a> Podman<'a> {
    fn new(env: &'a TestEnv, tar: &Path) -> Podman<'a> {
        let p = Podman { env };
        let out = p.run(&[
            "import",
            "--change",
            "CMD=/bin/sh",
            tar.to_str().unwrap(),
            "localhost/busybox",
        ]);
        assert!(out.status.success(), "podman import: {}", stderr(&out));
        p
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.env
            .hutch_at(Path::new("/usr/bin/podman"), args)
            .output()
            .expect("start podman")
    }
}

impl Drop for Podman<'_> {
    fn drop(&mut self) {
        if let Some(x) = &self.env.xdg_runtime_dir
            && let Ok(pid) = fs::read_to_string(x.join("libpod/tmp/pause.pid"))
            && let Ok(pid) = pid.trim().parse::<i32>()
        {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// An exported root file system as `path → description` (type, mode,
/// owner, content digest or link target), plus hard-link groups. Files a
/// runtime adds on create are left out.
fn tree_of(tar_bytes: &[u8]) -> (std::collections::BTreeMap<String, String>, Vec<Vec<String>>) {
    use sha2::Digest;
    let mut map = std::collections::BTreeMap::new();
    let mut links: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut a = tar::Archive::new(tar_bytes);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_owned();
        if path.is_empty()
            || [
                "dev",
                "proc",
                "sys",
                "run",
                "etc/hosts",
                "etc/hostname",
                "etc/resolv.conf",
                ".containerenv",
            ]
            .iter()
            .any(|x| path == *x || path.starts_with(&format!("{x}/")))
        {
            continue;
        }
        let h = e.header().clone();
        let (uid, gid, mode) = (
            h.uid().unwrap(),
            h.gid().unwrap(),
            h.mode().unwrap() & 0o7777,
        );
        let kind = match h.entry_type() {
            tar::EntryType::Directory => "dir".to_owned(),
            tar::EntryType::Symlink => {
                format!("symlink -> {}", e.link_name().unwrap().unwrap().display())
            }
            tar::EntryType::Link => {
                let target = e
                    .link_name()
                    .unwrap()
                    .unwrap()
                    .to_string_lossy()
                    .trim_start_matches("./")
                    .to_owned();
                let desc = map.get(&target).cloned().unwrap_or_default();
                links.entry(target).or_default().push(path.clone());
                map.insert(path, desc);
                continue;
            }
            _ => {
                let mut data = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut data).unwrap();
                format!("file {:x}", sha2::Sha256::digest(&data))
            }
        };
        map.insert(path, format!("{kind} {mode:o} {uid}:{gid}"));
    }
    let groups = links
        .into_iter()
        .map(|(first, mut rest)| {
            rest.push(first);
            rest.sort();
            rest
        })
        .collect();
    (map, groups)
}

const CONFIG_FIELDS: [&str; 11] = [
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "Labels",
    "ExposedPorts",
    "Volumes",
    "Healthcheck",
    "StopSignal",
    "OnBuild",
];

/// The compared config fields; empty and missing are the same.
fn config_of(inspect: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    let c = &inspect["Config"];
    CONFIG_FIELDS
        .iter()
        .filter_map(|f| {
            // podman shows the healthcheck beside Config.
            let v = match *f {
                "Healthcheck" => c.get(*f).or_else(|| inspect.get("Healthcheck"))?,
                _ => c.get(*f)?,
            };
            let empty = v.is_null()
                || v.as_str() == Some("")
                || v.as_array().is_some_and(|a| a.is_empty())
                || v.as_object().is_some_and(|o| o.is_empty());
            let mut v = v.clone();
            // podman's own stamp.
            if let Some(o) = v.as_object_mut() {
                o.remove("io.buildah.version");
            }
            let empty = empty || v.as_object().is_some_and(|o| o.is_empty());
            (!empty).then(|| (f.to_string(), v))
        })
        .collect()
}

/// hutch's and podman's builds of fixture `name`: trees and configs equal.
fn compare_with_podman(name: &str) {
    let (env, bb) = bb_env();
    compare_with_podman_in(&env, &bb, name, &[]);
}

/// [`compare_with_podman`] in `env`, both builds given `extra` flags.
fn compare_with_podman_in(env: &TestEnv, bb: &Path, name: &str, extra: &[&str]) {
    let dir = fixture(env, name);
    let tag = format!("fx-{name}");
    let mut args = vec!["-t", tag.as_str()];
    args.extend_from_slice(extra);
    let out = build(env, &dir, &args);
    assert!(
        out.status.success(),
        "hutch build {name}: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let ctr = env.ok(["create", &tag, "true"]);
    let hutch_tar = env.hutch(["export", ctr.trim()]).output().unwrap();
    assert!(
        hutch_tar.status.success(),
        "hutch export: {}",
        stderr(&hutch_tar)
    );
    let hutch_cfg = config_of(&inspect(env, &tag));
    if !podman_available() {
        eprintln!("podman is not installed: {name} checked by hutch alone");
        return;
    }
    let podman = Podman::new(env, bb);
    let mut args = vec!["build", "--format", "docker", "-t", &tag];
    args.extend_from_slice(extra);
    args.push(dir.to_str().unwrap());
    let out = podman.run(&args);
    assert!(
        out.status.success(),
        "podman build {name}: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let pctr = podman.run(&["create", &tag, "true"]);
    assert!(pctr.status.success(), "podman create: {}", stderr(&pctr));
    let ptar_path = env.home.join("podman-export.tar");
    let podman_tar = podman.run(&[
        "export",
        "-o",
        ptar_path.to_str().unwrap(),
        String::from_utf8_lossy(&pctr.stdout).trim(),
    ]);
    assert!(
        podman_tar.status.success(),
        "podman export: {}",
        stderr(&podman_tar)
    );
    let podman_tar_bytes = fs::read(&ptar_path).unwrap();
    let pi = podman.run(&["image", "inspect", &tag]);
    let pi: serde_json::Value = serde_json::from_slice(&pi.stdout).unwrap();
    let podman_cfg = config_of(&pi[0]);
    let (ht, hl) = tree_of(&hutch_tar.stdout);
    let (pt, pl) = tree_of(&podman_tar_bytes);
    let diff: Vec<String> = ht
        .keys()
        .chain(pt.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|k| ht.get(*k) != pt.get(*k))
        .map(|k| format!("{k}: hutch {:?} podman {:?}", ht.get(k), pt.get(k)))
        .collect();
    assert!(
        diff.is_empty(),
        "{name}: trees differ:\n{}",
        diff.join("\n")
    );
    assert_eq!(hl, pl, "{name}: hard-link groups");
    assert_eq!(
        serde_json::Value::Object(hutch_cfg),
        serde_json::Value::Object(podman_cfg),
        "{name}: configs"
    );
}

#[test]
fn corpus_multistage_matches_podman() {
    compare_with_podman("multistage");
}

#[test]
fn corpus_args_and_env_match_podman() {
    compare_with_podman("argsenv");
}

#[test]
fn corpus_user_workdir_chown_chmod_match_podman() {
    compare_with_podman("userdir");
}

#[test]
fn corpus_containerignore_matches_podman() {
    compare_with_podman("ignore");
}

#[test]
fn corpus_symlinks_and_hard_links_match_podman() {
    compare_with_podman("links");
}

// ---- failures, the cache, hostile contexts, hutch-only features -------

#[test]
fn a_failing_run_exits_with_its_code_and_names_the_step() {
    let (env, _) = bb_env();
    let dir = fixture(&env, "failing");
    let out = build(&env, &dir, &[]);
    assert_eq!(
        out.status.code(),
        Some(7),
        "podman exits with the RUN's code"
    );
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(so.contains("before\n"), "RUN output is relayed: {so}");
    assert!(se.contains("on-stderr"), "{se}");
    assert!(
        se.contains("building at STEP \"RUN echo on-stderr >&2; exit 7\": while running runtime: exit status 7"),
        "{se}"
    );
    assert!(
        !so.contains("never"),
        "no step after the failure runs: {so}"
    );
    // The step's container is gone.
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty());
}

#[test]
fn a_missing_copy_source_names_the_file_and_the_context() {
    let (env, _) = bb_env();
    let dir = context(
        &env,
        "ctx",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nCOPY nothere.txt /x\n",
        )],
    );
    let out = build(&env, &dir, &[]);
    assert_eq!(out.status.code(), Some(125));
    let se = stderr(&out);
    assert!(
        se.contains("\"/nothere.txt\": no such file or directory"),
        "{se}"
    );
    assert!(
        se.contains(&format!("{:?}", dir.display().to_string())),
        "names the context: {se}"
    );
}

#[test]
fn hostile_contexts_stay_inside() {
    let (env, _) = bb_env();
    let dir = fixture(&env, "links");
    // ../x is refused, not quietly read from the context's root.
    fs::write(
        dir.join("Containerfile"),
        "FROM localhost/busybox\nCOPY ../x /x\n",
    )
    .unwrap();
    let out = build(&env, &dir, &[]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("outside the build context"),
        "{}",
        stderr(&out)
    );
    // A link to /etc/passwd resolves inside the context, where there is none.
    for src in ["tree/link-out", "tree/up/etc/passwd"] {
        fs::write(
            dir.join("Containerfile"),
            format!("FROM localhost/busybox\nCOPY {src} /x\n"),
        )
        .unwrap();
        let out = build(&env, &dir, &[]);
        assert_eq!(out.status.code(), Some(125), "{src}: {}", stdout(&out));
        assert!(
            stderr(&out).contains("no such file or directory"),
            "{src}: {}",
            stderr(&out)
        );
    }
    // Copied as links, they point where they pointed, and nothing of the
    // host's came along.
    fs::write(
        dir.join("Containerfile"),
        "FROM localhost/busybox\nCOPY tree /t/\n",
    )
    .unwrap();
    let out = build(&env, &dir, &["-t", "links"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ls = env.ok([
        "run",
        "--rm",
        "links",
        "sh",
        "-c",
        "readlink /t/link-out; readlink /t/up; cat /etc/passwd | wc -l",
    ]);
    assert_eq!(ls, "/etc/passwd\n../../../../..\n2\n");
    // A huge ignore file is read in full (its last exception counts).
    let mut ig = String::new();
    for i in 0..50_000 {
        ig.push_str(&format!("nomatch-{i}/**\n"));
    }
    ig.push_str("tree/file\n");
    fs::write(dir.join(".containerignore"), ig).unwrap();
    fs::write(
        dir.join("Containerfile"),
        "FROM localhost/busybox\nCOPY tree /t/\n",
    )
    .unwrap();
    open_up(&dir);
    let started = std::time::Instant::now();
    let out = build(&env, &dir, &["-t", "ignored"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let ls = env.ok(["run", "--rm", "ignored", "ls", "/t"]);
    assert!(!ls.contains("file\n"), "tree/file was ignored: {ls}");
    assert!(ls.contains("hard"), "{ls}");
}

#[test]
fn an_unchanged_rebuild_runs_nothing_and_an_edit_reruns_only_what_follows() {
    let (env, _) = bb_env();
    let cf = "FROM localhost/busybox\nRUN echo first-run-$((1+1))\nCOPY a.txt /a.txt\nRUN echo after-copy-$((1+2))\nCOPY b.txt /b.txt\nRUN cat /a.txt /b.txt\n";
    let dir = context(
        &env,
        "ctx",
        &[("Containerfile", cf), ("a.txt", "a1\n"), ("b.txt", "b1\n")],
    );
    let first = build(&env, &dir, &["-t", "cached"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let so = stdout(&first);
    assert!(
        so.contains("first-run-2\n") && so.contains("a1\nb1\n"),
        "{so}"
    );
    let id1 = env.ok(["image", "inspect", "--format", "{{.Id}}", "cached"]);

    let again = build(&env, &dir, &["-t", "cached"]);
    assert!(again.status.success(), "{}", stderr(&again));
    let so = stdout(&again);
    assert_eq!(
        so.matches("--> Using cache ").count(),
        5,
        "every step from the cache: {so}"
    );
    assert!(
        !so.contains("first-run-2\n") && !so.contains("after-copy-3\n"),
        "no RUN ran: {so}"
    );
    assert_eq!(
        env.ok(["image", "inspect", "--format", "{{.Id}}", "cached"]),
        id1
    );

    // Only b.txt changes: the steps up to its COPY come from the cache.
    fs::write(dir.join("b.txt"), "b2\n").unwrap();
    let edited = build(&env, &dir, &["-t", "cached"]);
    assert!(edited.status.success(), "{}", stderr(&edited));
    let so = stdout(&edited);
    assert_eq!(so.matches("--> Using cache ").count(), 3, "{so}");
    assert!(
        !so.contains("first-run-2\n") && !so.contains("after-copy-3\n"),
        "{so}"
    );
    assert!(so.contains("a1\nb2\n"), "the last RUN ran again: {so}");

    // A touch that changes no content keeps the cache.
    let f = fs::File::options()
        .append(true)
        .open(dir.join("a.txt"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    let touched = build(&env, &dir, &["-t", "cached"]);
    assert_eq!(
        stdout(&touched).matches("--> Using cache ").count(),
        5,
        "{}",
        stdout(&touched)
    );

    // --no-cache runs everything.
    let fresh = build(&env, &dir, &["--no-cache", "-t", "cached"]);
    let so = stdout(&fresh);
    assert!(
        !so.contains("Using cache") && so.contains("first-run-2\n"),
        "{so}"
    );
}

#[test]
fn heredocs_onbuild_add_archives_scratch_and_flags() {
    let (env, _) = bb_env();
    // An archive ADD unpacks.
    let mut tb = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(4);
    h.set_mode(0o640);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    tb.append_data(&mut h, "inner/packed.txt", &b"tar\n"[..])
        .unwrap();
    let archive = gzip(&tb.into_inner().unwrap());
    let dir = context(&env, "ctx", &[("plain.txt", "plain\n")]);
    fs::write(dir.join("files.tar.gz"), archive).unwrap();
    open_up(&dir);
    let base = "FROM localhost/busybox AS base\nONBUILD RUN echo trigger-ran > /trigger\n\n";
    let cf = format!(
        "{base}FROM base\nARG P=/usr/local/bin/tool.tar.gz\nRUN <<EOF\necho heredoc-one > /h1\necho \"${{P##*/}}\" > /h2\nEOF\nADD files.tar.gz /unpacked/\nADD plain.txt /plain\nCOPY <<EOF /from-heredoc\ncopied text\nEOF\nENV SUFFIX=${{P%.tar.gz}}\n\nFROM scratch AS empty\nCOPY plain.txt /only/\n"
    );
    // -f outside the context.
    let cf_path = env.root.join("elsewhere.Containerfile");
    fs::write(&cf_path, cf).unwrap();
    open_up(&env.root.join("ctx"));
    fs::set_permissions(&cf_path, fs::Permissions::from_mode(0o644)).unwrap();
    let iid = env.home.join("iid");
    let out = build(
        &env,
        &dir,
        &[
            "-f",
            cf_path.to_str().unwrap(),
            "--target",
            "1",
            "-t",
            "feat",
            "--iidfile",
            iid.to_str().unwrap(),
            "--build-arg",
            "P=/opt/x.tar.gz",
            "--label",
            "from=cli",
        ],
    );
    // --target takes a stage name; "1" is not one.
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let out = build(
        &env,
        &dir,
        &[
            "-f",
            cf_path.to_str().unwrap(),
            "-t",
            "feat",
            "--iidfile",
            iid.to_str().unwrap(),
            "--build-arg",
            "P=/opt/x.tar.gz",
            "--label",
            "from=cli",
        ],
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    // The last stage is `empty`: scratch with one file.
    let empty_id = fs::read_to_string(&iid).unwrap();
    assert!(empty_id.starts_with("sha256:"), "{empty_id}");
    let cfg = inspect(&env, "feat");
    assert_eq!(cfg["Config"]["Labels"]["from"], "cli");
    let ctr = env.ok(["create", "feat", "x"]);
    let tarb = env.hutch(["export", ctr.trim()]).output().unwrap();
    let (tree, _) = tree_of(&tarb.stdout);
    assert!(
        tree.contains_key("only/plain.txt") && !tree.contains_key("bin/busybox"),
        "{tree:?}"
    );

    let out = build(
        &env,
        &dir,
        &["-f", cf_path.to_str().unwrap(), "--target", "empty", "-q"],
    );
    assert!(out.status.success());
    assert_eq!(
        stdout(&out).lines().count(),
        1,
        "-q prints the id alone: {}",
        stdout(&out)
    );

    // The middle stage, by --target of a later name: check its files.
    let cf2 = fs::read_to_string(&cf_path)
        .unwrap()
        .replace("FROM base\n", "FROM base AS main\n");
    fs::write(&cf_path, cf2).unwrap();
    let out = build(
        &env,
        &dir,
        &[
            "-f",
            cf_path.to_str().unwrap(),
            "--target",
            "main",
            "-t",
            "main",
            "--build-arg",
            "P=/opt/x.tar.gz",
        ],
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let got = env.ok([
        "run", "--rm", "main", "sh", "-c",
        "cat /trigger /h1 /h2 /unpacked/inner/packed.txt /plain /from-heredoc; stat -c %a /unpacked/inner/packed.txt; echo $SUFFIX",
    ]);
    assert_eq!(
        got,
        "trigger-ran\nheredoc-one\nx.tar.gz\ntar\nplain\ncopied text\n640\n/opt/x\n"
    );
    // ONBUILD triggers are not inherited further.
    assert!(
        inspect(&env, "main")["Config"]["OnBuild"]
            .as_array()
            .is_none_or(|a| a.is_empty())
    );
}

#[test]
fn build_is_also_image_build_and_buildx_build() {
    let (env, _) = bb_env();
    let dir = context(
        &env,
        "ctx",
        &[("Dockerfile", "FROM localhost/busybox\nLABEL k=v\n")],
    );
    for cmd in [&["image", "build"][..], &["buildx", "build"][..]] {
        let mut args: Vec<&str> = cmd.to_vec();
        args.extend(["-t", "alias", dir.to_str().unwrap()]);
        let out = env.run(&args);
        assert!(out.status.success(), "{cmd:?}: {}", stderr(&out));
    }
    // --layers=false leaves one image per build, not one per step.
    let images = |env: &TestEnv| env.ok(["images", "-a", "-q", "--no-trunc"]).lines().count();
    let before = images(&env);
    let dir2 = context(
        &env,
        "ctx2",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nENV A=1\nRUN echo x > /x\nLABEL z=1\n",
        )],
    );
    let out = build(&env, &dir2, &["--layers=false", "-t", "flat"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(images(&env), before + 1, "{}", env.ok(["images", "-a"]));
    assert_eq!(env.ok(["run", "--rm", "flat", "cat", "/x"]), "x\n");
    // A foreign platform is refused with a clear error.
    let out = build(&env, &dir, &["--platform", "linux/s390x"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("native platform"), "{}", stderr(&out));
}

#[test]
fn a_200_mb_context_builds_and_copies_whole() {
    let (env, _) = bb_env();
    let dir = context(
        &env,
        "big",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nCOPY blobs/ /blobs/\nRUN cat /blobs/* | wc -c > /size\n",
        )],
    );
    fs::create_dir_all(dir.join("blobs")).unwrap();
    // 200 files of 1 MiB, each different (no dedup can hide a short copy).
    let mut chunk = vec![0u8; 1 << 20];
    for i in 0..200u32 {
        for (j, b) in chunk.iter_mut().enumerate() {
            *b = (j as u32).wrapping_mul(2654435761).wrapping_add(i) as u8;
        }
        fs::write(dir.join(format!("blobs/b{i:03}")), &chunk).unwrap();
    }
    open_up(&dir);
    let started = std::time::Instant::now();
    let out = build(&env, &dir, &["-t", "big"]);
    assert!(out.status.success(), "{}", stderr(&out));
    eprintln!("200 MiB context built in {:?}", started.elapsed());
    let size = env.ok(["run", "--rm", "big", "cat", "/size"]);
    assert_eq!(size.trim(), (200u64 << 20).to_string());
    // Unchanged: the cache, without copying again.
    let again = build(&env, &dir, &["-t", "big"]);
    assert_eq!(
        stdout(&again).matches("--> Using cache").count(),
        2,
        "{}",
        stdout(&again)
    );
}

#[test]
fn files_a_run_removes_are_gone_from_the_image() {
    let (env, _) = bb_env();
    let dir = context(
        &env,
        "ctx",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nRUN rm /etc/group && mkdir /made\nRUN ls /etc\n",
        )],
    );
    let out = build(&env, &dir, &["-t", "removed"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("passwd\n") && !stdout(&out).contains("group\n"),
        "{}",
        stdout(&out)
    );
    let ls = env.ok(["run", "--rm", "removed", "ls", "/etc", "/made"]);
    assert!(!ls.contains("group"), "a whiteout hides /etc/group: {ls}");
}

// ---- RUN mounts, secrets, build flags, ADD URLs (issue 14) -------------

/// A file the test user can read, outside any context.
fn readable_file(env: &TestEnv, name: &str, data: &[u8]) -> PathBuf {
    let p = env.root.join(name);
    fs::write(&p, data).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
    p
}

fn run_in(env: &TestEnv, image: &str, script: &str) -> String {
    env.ok(["run", "--rm", image, "sh", "-c", script])
}

#[test]
fn corpus_run_mounts_and_secrets_match_podman() {
    let (env, bb) = bb_env();
    let secret = readable_file(&env, "tok.txt", b"s3cr3t-value\n");
    let arg = format!("id=tok,src={}", secret.display());
    compare_with_podman_in(&env, &bb, "mounts", &["--secret", &arg]);
    let out = run_in(
        &env,
        "fx-mounts",
        "cat /from-bind /ctx-ro /from-stage /cache-stat /tmpfs-seen /secret-len /secret-stat /secret-len2 /optional",
    );
    assert_eq!(
        out,
        "from the context\nread-only\ntool\n750 65534 65534\nx\n13\n400 0 0\n13\nabsent\n"
    );
    // Mount points the image did not have are not in it.
    let out = run_in(
        &env,
        "fx-mounts",
        "for p in /data /ctx /t /scratch /etc/tok /cachedir; do test -e $p && echo $p; done; true",
    );
    assert_eq!(out, "", "left-over mount points");
}

#[test]
fn secrets_stay_out_of_layers_history_and_cache_keys() {
    let (env, _) = bb_env();
    let secret = readable_file(&env, "tok.txt", b"TOPSECRET-4711");
    let dir = context(
        &env,
        "ctx",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nRUN --mount=type=secret,id=tok,required cat /run/secrets/tok > /dev/null && echo used-$((6*7))\nRUN --mount=type=secret,id=tok,target=/etc/tok,uid=65534,mode=0440 stat -c '%a %u' /etc/tok > /tok-stat\n",
        )],
    );
    let arg = format!("id=tok,src={}", secret.display());
    let out = build(&env, &dir, &["--secret", &arg, "-t", "sec"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("used-42"), "{}", stdout(&out));
    assert_eq!(run_in(&env, "sec", "cat /tok-stat"), "440 65534\n");
    // Not in any layer, nor in the config and its history.
    let archive = env.home.join("sec.tar");
    env.ok(["save", "-o", archive.to_str().unwrap(), "sec"]);
    let bytes = fs::read(&archive).unwrap();
    assert!(
        !bytes.windows(14).any(|w| w == b"TOPSECRET-4711"),
        "the secret is in the saved image"
    );
    let history = env.ok(["history", "--no-trunc", "sec"]);
    assert!(!history.contains("TOPSECRET"), "{history}");
    assert!(
        env.run(["run", "--rm", "sec", "test", "-e", "/etc/tok"])
            .status
            .code()
            == Some(1),
        "the secret's mount point is not committed"
    );
    // The secret's value is not in the cache key: a new value keeps the
    // cache, as buildah does.
    let secret2 = readable_file(&env, "tok2.txt", b"OTHER");
    let arg2 = format!("id=tok,src={}", secret2.display());
    let out = build(&env, &dir, &["--secret", &arg2]);
    assert_eq!(
        stdout(&out).matches("--> Using cache").count(),
        2,
        "{}",
        stdout(&out)
    );
    // From the environment too.
    let out = env
        .hutch([
            "build",
            "--no-cache",
            "--secret",
            "id=tok,env=MY_TOKEN",
            dir.to_str().unwrap(),
        ])
        .env("MY_TOKEN", "from-env")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // A required secret not given fails the step, naming it.
    let out = build(&env, &dir, &["--no-cache"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("secret \"tok\" is required"),
        "{}",
        stderr(&out)
    );
    // A secret over the bound is refused before anything runs.
    let big = readable_file(&env, "big.txt", &vec![b'x'; 600 * 1024]);
    let out = build(
        &env,
        &dir,
        &["--secret", &format!("id=tok,src={}", big.display())],
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("larger than"), "{}", stderr(&out));
}

#[test]
fn cache_mounts_persist_and_bind_sources_key_the_cache() {
    let (env, _) = bb_env();
    let dir = context(
        &env,
        "ctx",
        &[
            (
                "Containerfile",
                "FROM localhost/busybox\nRUN --mount=type=cache,target=/c,sharing=locked sh -c 'echo x >> /c/n; wc -l < /c/n > /count'\nRUN --mount=type=bind,source=in.txt,target=/in cat /in > /out && echo bound-$((2+3))\nRUN --mount=type=bind,target=/ctx,rw echo changed > /ctx/in.txt && cat /ctx/in.txt > /rw-seen\n",
            ),
            ("in.txt", "one\n"),
        ],
    );
    for expect in ["1\n", "2\n"] {
        let out = build(&env, &dir, &["--no-cache", "-t", "cm"]);
        assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
        assert_eq!(
            run_in(&env, "cm", "cat /count"),
            expect,
            "the cache is kept"
        );
    }
    // Cached while the bind source is unchanged, re-run when it changes.
    let out = build(&env, &dir, &["-t", "cm"]);
    assert!(!stdout(&out).contains("bound-5"), "{}", stdout(&out));
    fs::write(dir.join("in.txt"), "two\n").unwrap();
    let out = build(&env, &dir, &["-t", "cm"]);
    assert!(stdout(&out).contains("bound-5"), "{}", stdout(&out));
    assert_eq!(run_in(&env, "cm", "cat /out /rw-seen"), "two\nchanged\n");
    // An rw bind wrote to a copy: the context is as it was.
    assert_eq!(fs::read_to_string(dir.join("in.txt")).unwrap(), "two\n");
    // Bad mounts are refused with the reason.
    fs::write(
        dir.join("Containerfile"),
        "FROM localhost/busybox\nRUN --mount=type=bind,source=../x,target=/x true\n",
    )
    .unwrap();
    let out = build(&env, &dir, &[]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("outside"), "{}", stderr(&out));
}

#[test]
fn run_network_volumes_caps_security_and_userns() {
    let (env, _) = bb_env();
    let vol = env.root.join("vol");
    fs::create_dir_all(&vol).unwrap();
    fs::write(vol.join("f"), "from the host\n").unwrap();
    open_up(&vol);
    let dir = context(
        &env,
        "ctx",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nRUN ls /sys/class/net > /nets\nRUN --network=none ls /sys/class/net > /nets-none\nRUN cat /data/f > /from-volume\nRUN cat /proc/self/status > /status\n",
        )],
    );
    let v = format!("{}:/data", vol.display());
    let out = build(
        &env,
        &dir,
        &[
            "--network",
            "none",
            "-v",
            &v,
            "--cap-drop",
            "all",
            "--security-opt",
            "no-new-privileges",
            "--userns",
            "host",
            "--jobs",
            "2",
            "-t",
            "flags",
        ],
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(run_in(&env, "flags", "cat /nets /nets-none"), "lo\nlo\n");
    assert_eq!(run_in(&env, "flags", "cat /from-volume"), "from the host\n");
    let status = run_in(&env, "flags", "cat /status");
    assert!(status.contains("CapEff:\t0000000000000000"), "{status}");
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");
    assert_eq!(
        env.run(["run", "--rm", "flags", "test", "-e", "/data"])
            .status
            .code(),
        Some(1),
        "the volume's mount point is not committed"
    );
    // The default network has more than the loopback; RUN --network=none
    // still has only that.
    let out = build(&env, &dir, &["-v", &v, "--no-cache", "-t", "flags2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(run_in(&env, "flags2", "cat /nets"), "lo\n");
    assert_eq!(run_in(&env, "flags2", "cat /nets-none"), "lo\n");
    for bad in [
        &["--network", "nonsense:x"][..],
        &["--cap-add", "CAP_NOPE"],
        &["--security-opt", "bogus=1"],
        &["-v", "named-volume:/x"],
    ] {
        let out = build(&env, &dir, bad);
        assert_eq!(out.status.code(), Some(125), "{bad:?}: {}", stderr(&out));
    }
    fs::write(
        dir.join("Containerfile"),
        "FROM localhost/busybox\nRUN --network=bogus true\n",
    )
    .unwrap();
    let out = build(&env, &dir, &[]);
    assert!(
        stderr(&out).contains("RUN --network=bogus"),
        "{}",
        stderr(&out)
    );
}

const ENV_FILE: &str = "FROM localhost/busybox AS a\nRUN echo \"a: FOO=$FOO\" > /a\nFROM a\nENV BAR=b2\nCOPY f /f\nRUN echo \"FOO=$FOO BAR=$BAR\" > /out\n";

#[test]
fn env_unsetenv_annotation_timestamp_and_omit_history_match_podman() {
    let (env, bb) = bb_env();
    let dir = context(&env, "ctx", &[("Containerfile", ENV_FILE), ("f", "hi\n")]);
    let flags = [
        "--env",
        "FOO=foo",
        "--env",
        "BAR=bar",
        "--unsetenv",
        "BAR",
        "--annotation",
        "an=av",
        "--timestamp",
        "1000000000",
        "--omit-history",
    ];
    let mut args = flags.to_vec();
    args.extend(["--no-cache", "-t", "stamped"]);
    let out = build(&env, &dir, &args);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let i = inspect(&env, "stamped");
    assert_eq!(
        i["Config"]["Env"],
        serde_json::json!([
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "FOO=foo"
        ])
    );
    assert_eq!(i["Annotations"]["an"], "av");
    assert!(
        i["History"].is_null() || i["History"] == serde_json::json!([]),
        "{}",
        i["History"]
    );
    assert_eq!(i["Created"], "2001-09-09T01:46:40Z");
    assert_eq!(run_in(&env, "stamped", "cat /out"), "FOO=foo BAR=b2\n");
    assert_eq!(
        run_in(&env, "stamped", "stat -c %Y /f /out"),
        "1000000000\n1000000000\n",
        "new files carry the timestamp"
    );
    // Reproducible: the same inputs make the same image.
    let id1 = i["Id"].clone();
    let out = build(&env, &dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        inspect(&env, "stamped")["Id"],
        id1,
        "a rebuild with --timestamp is identical"
    );
    if !podman_available() {
        return;
    }
    let podman = Podman::new(&env, &bb);
    let mut pargs = vec!["build"];
    pargs.extend(flags);
    pargs.extend(["-t", "stamped", dir.to_str().unwrap()]);
    let out = podman.run(&pargs);
    assert!(out.status.success(), "{}", stderr(&out));
    let pi: serde_json::Value =
        serde_json::from_slice(&podman.run(&["image", "inspect", "stamped"]).stdout).unwrap();
    assert_eq!(pi[0]["Config"]["Env"], i["Config"]["Env"]);
    assert_eq!(pi[0]["Annotations"]["an"], "av");
    assert!(pi[0]["History"].is_null());
    let pout = podman.run(&[
        "run",
        "--rm",
        "stamped",
        "sh",
        "-c",
        "cat /out; stat -c %Y /f /out",
    ]);
    assert_eq!(stdout(&pout), "FOO=foo BAR=b2\n1000000000\n1000000000\n");
}

#[test]
fn squash_and_squash_all_match_podman() {
    let (env, bb) = bb_env();
    let cf = "FROM localhost/busybox\nRUN echo a > /a && mkdir /d && echo 1 > /d/1\nRUN rm /a /d/1 && echo b > /b\nCOPY f /f\n";
    let dir = context(&env, "ctx", &[("Containerfile", cf), ("f", "hi\n")]);
    let layers = |i: &serde_json::Value| i["RootFS"]["Layers"].as_array().unwrap().len();
    let tree = |env: &TestEnv, tag: &str| {
        let ctr = env.ok(["create", tag, "true"]);
        let t = env.hutch(["export", ctr.trim()]).output().unwrap();
        tree_of(&t.stdout).0
    };
    let out = build(&env, &dir, &["-t", "plain"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plain = tree(&env, "plain");
    assert!(!plain.contains_key("a") && !plain.contains_key("d/1") && plain.contains_key("b"));
    let mut counts = Vec::new();
    for (flag, tag) in [("--squash", "sq"), ("--squash-all", "sqa")] {
        let out = build(&env, &dir, &[flag, "-t", tag]);
        assert!(
            out.status.success(),
            "{flag}: {}\n{}",
            stdout(&out),
            stderr(&out)
        );
        assert_eq!(tree(&env, tag), plain, "{flag} keeps the files");
        counts.push(layers(&inspect(&env, tag)));
    }
    assert_eq!(counts, [2, 1], "base + one, and one");
    assert_eq!(run_in(&env, "sq", "cat /b /f; ls /d"), "b\nhi\n");
    assert!(
        build(&env, &dir, &["--squash", "--squash-all"])
            .status
            .code()
            == Some(125)
    );
    if !podman_available() {
        return;
    }
    let podman = Podman::new(&env, &bb);
    let mut pcounts = Vec::new();
    for (flag, tag) in [("--squash", "sq"), ("--squash-all", "sqa")] {
        let out = podman.run(&["build", flag, "-t", tag, dir.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        let pi: serde_json::Value =
            serde_json::from_slice(&podman.run(&["image", "inspect", tag]).stdout).unwrap();
        pcounts.push(layers(&pi[0]));
    }
    assert_eq!(counts, pcounts, "layer counts as podman's");
}

/// A one-thread HTTP server on 127.0.0.1 serving `body` at every path
/// (with `Last-Modified`), or, for `/huge`, a Content-Length past the
/// download bound. Serves until the test process ends.
fn http_server(body: &'static [u8]) -> u16 {
    use std::io::{BufRead, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut r = std::io::BufReader::new(c.try_clone().unwrap());
            let mut first = String::new();
            let _ = r.read_line(&mut first);
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = first.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let _ = if path == "/huge" {
                c.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 4294967296\r\nConnection: close\r\n\r\n",
                )
            } else if path == "/missing" {
                c.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
            } else {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Sun, 09 Sep 2001 01:46:40 GMT\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                c.write_all(head.as_bytes())
                    .and_then(|()| c.write_all(body))
            };
        }
    });
    port
}

#[test]
fn add_urls_download_with_checksums_and_bounds() {
    use sha2::Digest;
    let (env, bb) = bb_env();
    let body: &'static [u8] = b"remote content\n";
    let port = http_server(body);
    let sum = format!("{:x}", sha2::Sha256::digest(body));
    let cf = format!(
        "FROM localhost/busybox\nADD http://127.0.0.1:{port}/files/file.txt /dl/\nADD http://127.0.0.1:{port}/x/y.tar.gz?v=1 /named\n"
    );
    let dir = context(&env, "ctx", &[("Containerfile", &cf)]);
    let out = build(&env, &dir, &["-t", "urls"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(
        run_in(
            &env,
            "urls",
            "cat /dl/file.txt /named; stat -c '%a %u %g %Y' /dl/file.txt /named"
        ),
        "remote content\nremote content\n600 0 0 1000000000\n600 0 0 1000000000\n",
        "mode 0600, Last-Modified's time, never unpacked"
    );
    if podman_available() {
        let podman = Podman::new(&env, &bb);
        let out = podman.run(&["build", "-t", "urls", dir.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        let pout = podman.run(&[
            "run",
            "--rm",
            "urls",
            "sh",
            "-c",
            "cat /dl/file.txt /named; stat -c '%a %u %g %Y' /dl/file.txt /named",
        ]);
        assert_eq!(
            stdout(&pout),
            "remote content\nremote content\n600 0 0 1000000000\n600 0 0 1000000000\n"
        );
    }
    // --checksum (not in buildah 1.28): a match builds, a mismatch fails.
    let write = |cf: String| fs::write(dir.join("Containerfile"), cf).unwrap();
    write(format!(
        "FROM localhost/busybox\nADD --checksum=sha256:{sum} http://127.0.0.1:{port}/f /f\n"
    ));
    let out = build(&env, &dir, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    write(format!(
        "FROM localhost/busybox\nADD --checksum=sha256:{} http://127.0.0.1:{port}/f /f\n",
        "0".repeat(64)
    ));
    let out = build(&env, &dir, &[]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains(&format!("has digest sha256:{sum}")),
        "{}",
        stderr(&out)
    );
    // Unreachable, missing and oversized downloads are refused, naming the URL.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    for (url, says) in [
        (
            format!("http://127.0.0.1:{closed_port}/f"),
            "reading \"http://127.0.0.1",
        ),
        (format!("http://127.0.0.1:{port}/missing"), "404"),
        (
            format!("http://127.0.0.1:{port}/huge"),
            "larger than 1073741824 bytes",
        ),
    ] {
        write(format!("FROM localhost/busybox\nADD {url} /f\n"));
        let out = build(&env, &dir, &[]);
        assert_eq!(out.status.code(), Some(125), "{url}");
        let se = stderr(&out);
        assert!(se.contains(says) && se.contains(&url), "{url}: {se}");
    }
    write(format!(
        "FROM localhost/busybox\nCOPY http://127.0.0.1:{port}/f /f\n"
    ));
    assert_eq!(
        build(&env, &dir, &[]).status.code(),
        Some(125),
        "COPY takes no URL"
    );
}

#[test]
fn heredocs_after_a_command_are_read_by_the_shell() {
    // podman 4.3.1 has no heredocs: hutch alone, with BuildKit's meaning.
    let (env, _) = bb_env();
    let dir = context(
        &env,
        "ctx",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nENV WHO=world\nRUN cat <<EOF > /f && cat <<-'RAW' >> /f\nhello $WHO\nEOF\n\tliteral $WHO\n\tRAW\nRUN --mount=type=tmpfs,target=/t cat <<EOF > /t/x && cat /t/x > /g\nvia tmpfs\nEOF\n",
        )],
    );
    let out = build(&env, &dir, &["-t", "docs"]);
    let so = stdout(&out);
    assert!(out.status.success(), "{so}\n{}", stderr(&out));
    assert!(
        so.contains("STEP 3/4: RUN cat <<EOF > /f && cat <<-'RAW' >> /f"),
        "{so}"
    );
    assert_eq!(
        run_in(&env, "docs", "cat /f /g"),
        "hello world\nliteral $WHO\nvia tmpfs\n"
    );
}

/// A directory the test user owns, for `-v` in RUN.
fn user_dir(env: &TestEnv, name: &str) -> PathBuf {
    let d = env.root.join(name);
    fs::create_dir_all(&d).unwrap();
    chown(&d, env.user.uid, env.user.gid);
    d
}

/// `--jobs 2` builds the two stages the last one copies from at once
/// (each RUN waits, with a deadline, for the other's file in a shared
/// volume: one after the other, the first would time out), skips the
/// stage nothing uses, and makes the image `--jobs 1` makes: a rebuild
/// with one job takes every step from the cache and gives the same id.
#[test]
fn jobs_build_independent_stages_at_once_and_unused_stages_are_skipped() {
    let (env, _) = bb_env();
    let sync = user_dir(&env, "sync");
    let wait = |mine: &str, other: &str| {
        format!(
            "touch /sync/{mine}; i=0; while ! test -e /sync/{other}; do i=$((i+1)); test $i -gt 1200 && exit 9; busybox sleep 0.05; done"
        )
    };
    let cf = format!(
        "FROM localhost/busybox AS one\nRUN {}; echo one-$((1+1)) > /one; cat /one\n\nFROM localhost/busybox AS unused\nRUN echo unused-ran-$((2+2))\n\nFROM localhost/busybox AS two\nRUN {}; echo two-$((3+3)) > /two; cat /two\n\nFROM localhost/busybox\nCOPY --from=one /one /one\nCOPY --from=two /two /two\nRUN cat /one /two > /both\n",
        wait("one", "two"),
        wait("two", "one")
    );
    let dir = context(&env, "ctx", &[("Containerfile", &cf)]);
    let vol = format!("{}:/sync", sync.display());
    let out = build(&env, &dir, &["--jobs", "2", "-v", &vol, "-t", "j2"]);
    let so = stdout(&out);
    assert!(out.status.success(), "{so}\n{}", stderr(&out));
    let lines: Vec<&str> = so.lines().collect();
    assert!(lines.contains(&"one-2") && lines.contains(&"two-6"), "{so}");
    assert!(!so.contains("unused-ran"), "the unused stage ran:\n{so}");
    assert!(!so.contains("[2/4]"), "{so}");
    assert!(so.contains("[4/4] COMMIT"), "{so}");
    assert_eq!(run_in(&env, "j2", "cat /both"), "one-2\ntwo-6\n");
    // One job: the same steps, all cached, the same image.
    let out = build(&env, &dir, &["--jobs", "1", "-v", &vol, "-t", "j1"]);
    let so1 = stdout(&out);
    assert!(out.status.success(), "{so1}\n{}", stderr(&out));
    assert_eq!(so1.matches("--> Using cache").count(), 5, "{so1}");
    assert_eq!(inspect(&env, "j1")["Id"], inspect(&env, "j2")["Id"]);
    // --target builds what the target needs, numbered up to it, as Podman.
    let out = build(&env, &dir, &["--target", "two", "-v", &vol, "--jobs", "0"]);
    let so = stdout(&out);
    assert!(out.status.success(), "{so}\n{}", stderr(&out));
    assert!(
        so.contains("[3/3] STEP 1/2: FROM localhost/busybox AS two"),
        "{so}"
    );
    assert!(!so.contains("[1/3]") && !so.contains("[2/3]"), "{so}");
    // A failing stage fails the build with its step named.
    let bad = cf.replace("echo two-$((3+3)) > /two", "exit 3");
    fs::write(dir.join("Containerfile"), bad).unwrap();
    let out = build(&env, &dir, &["--jobs", "2", "--no-cache", "-v", &vol]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("exit 3"), "{}", stderr(&out));
}

/// `RUN --mount=type=ssh` reaches a real ssh-agent the test starts: the
/// step's `SSH_AUTH_SOCK` is a socket that answers `ssh-add -l` with the
/// agent's key (the host's ssh-add and its libraries mounted with `-v`:
/// busybox has no ssh client), also as another USER with the mount's
/// owner, and nothing of it is committed.
#[test]
fn ssh_mounts_forward_the_agent() {
    let (env, _) = bb_env();
    let keys = env.root.join("keys");
    fs::create_dir_all(&keys).unwrap();
    fs::set_permissions(&keys, fs::Permissions::from_mode(0o755)).unwrap();
    chown(&keys, env.user.uid, env.user.gid);
    let sock = keys.join("agent.sock");
    let mut agent = std::process::Command::new("ssh-agent");
    agent.args(["-D", "-a"]).arg(&sock);
    agent.stdout(std::process::Stdio::null());
    as_user(&mut agent, &env.user);
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let agent_guard = Kill(agent.spawn().expect("ssh-agent is installed"));
    common::api::wait_socket(&sock);
    let key = keys.join("id");
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "build-test", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{}", stderr(&keygen));
    let add = std::process::Command::new("ssh-add")
        .arg(&key)
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    assert!(add.status.success(), "{}", stderr(&add));
    let fp = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(keys.join("id.pub"))
        .output()
        .unwrap();
    let fingerprint = stdout(&fp).split_whitespace().nth(1).unwrap().to_owned();
    assert!(fingerprint.starts_with("SHA256:"), "{fingerprint}");
    let dir = context(
        &env,
        "ctx",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nRUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo \"sock=$SSH_AUTH_SOCK\" && /usr/bin/ssh-add -l\nUSER nobody\nRUN --mount=type=ssh,id=other,uid=65534,target=/run/other.sock stat -c 'mode=%a uid=%u' /run/other.sock && SSH_AUTH_SOCK=/run/other.sock /usr/bin/ssh-add -l && echo nobody-$(id -u)\n",
        )],
    );
    let default = format!("default={}", sock.display());
    let other = format!("other={}", sock.display());
    let host = [
        "-v",
        "/usr:/usr:ro",
        "-v",
        "/lib:/lib:ro",
        "-v",
        "/lib64:/lib64:ro",
    ];
    let mut args = vec!["--ssh", &default, "--ssh", &other, "-t", "sshd"];
    args.extend(host);
    let out = build(&env, &dir, &args);
    let so = stdout(&out);
    assert!(out.status.success(), "{so}\n{}", stderr(&out));
    assert!(so.contains("sock=/run/buildkit/ssh_agent.0"), "{so}");
    assert_eq!(so.matches(fingerprint.as_str()).count(), 2, "{so}");
    assert!(so.contains("mode=600 uid=65534"), "{so}");
    assert!(so.contains("nobody-65534"), "{so}");
    // Neither the sockets nor SSH_AUTH_SOCK are in the image.
    let img = inspect(&env, "sshd");
    assert!(
        !img["Config"]["Env"].to_string().contains("SSH_AUTH_SOCK"),
        "{}",
        img["Config"]["Env"]
    );
    let left = run_in(
        &env,
        "sshd",
        "for p in /run/buildkit/ssh_agent.0 /run/other.sock /usr /lib64; do test -e $p && echo $p; done; true",
    );
    assert_eq!(left, "", "left-over mount points");
    drop(agent_guard);
    // A required agent not given fails, naming it; an optional one is
    // not mounted (BuildKit); a non-socket is refused.
    fs::write(
        dir.join("Containerfile"),
        "FROM localhost/busybox\nRUN --mount=type=ssh test -z \"$SSH_AUTH_SOCK\" && echo no-agent-$((1+1))\nRUN --mount=type=ssh,id=deploy,required true\n",
    )
    .unwrap();
    let out = build(&env, &dir, &[]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stdout(&out).contains("no-agent-2"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("ssh agent \"deploy\" is required"),
        "{}",
        stderr(&out)
    );
    let out = build(&env, &dir, &["--ssh", "deploy=/etc/passwd"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("is not a socket"), "{}", stderr(&out));
}

/// `COPY --parents` keeps the sources' directories below the destination,
/// from the context's top or from a `/./` pivot; directories keep their
/// own path; into a scratch stage too.
#[test]
fn copy_parents_keeps_the_source_directories() {
    let (env, _) = bb_env();
    let dir = context(
        &env,
        "ctx",
        &[
            ("x/a.txt", "xa\n"),
            ("y/a.txt", "ya\n"),
            ("x/sub/deep/b.txt", "deep\n"),
            ("x/sub/deep/skip.md", "no\n"),
            ("keep/dir/c.txt", "c\n"),
            (
                "Containerfile",
                "FROM scratch AS s\nCOPY --parents x/a.txt y/a.txt /out/\n\nFROM localhost/busybox\nCOPY --parents x/a.txt y/a.txt /no_pivot/\nCOPY --parents ./x/./sub/deep/*.txt /pivot/\nCOPY --parents keep/dir /tree/\nCOPY --from=s /out /s/\n",
            ),
        ],
    );
    fs::set_permissions(dir.join("keep/dir"), fs::Permissions::from_mode(0o775)).unwrap();
    let out = build(&env, &dir, &["-t", "par"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let got = run_in(
        &env,
        "par",
        "cat /no_pivot/x/a.txt /no_pivot/y/a.txt /pivot/sub/deep/b.txt /tree/keep/dir/c.txt /s/x/a.txt /s/y/a.txt; ls /pivot; ls /pivot/sub/deep; stat -c %a /tree/keep/dir",
    );
    assert_eq!(got, "xa\nya\ndeep\nc\nxa\nya\nsub\nb.txt\n775\n");
}
