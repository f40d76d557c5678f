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
        "sh", "ls", "cat", "echo", "id", "true", "false", "test", "mkdir", "chmod", "stat",
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
    let dir = fixture(&env, name);
    let tag = format!("fx-{name}");
    let out = build(&env, &dir, &["-t", &tag]);
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
    let hutch_cfg = config_of(&inspect(&env, &tag));
    if !podman_available() {
        eprintln!("podman is not installed: {name} checked by hutch alone");
        return;
    }
    let podman = Podman::new(&env, &bb);
    let out = podman.run(&[
        "build",
        "--format",
        "docker",
        "-t",
        &tag,
        dir.to_str().unwrap(),
    ]);
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
