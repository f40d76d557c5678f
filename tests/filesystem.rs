//! Container file systems and processes: cp (both ways, tar streams,
//! symlink escapes), diff, commit, export, mount, top, port, pause.

mod common;

use std::path::Path;
use std::time::Duration;

use common::images::*;
use common::*;

fn env_with_busybox() -> TestEnv {
    busybox_env(&[])
}

fn start_sleeper(env: &TestEnv, name: &str) {
    env.ok(["run", "-d", "--name", name, "busybox", "sleep", "600"]);
    assert!(
        wait_until(Duration::from_secs(10), || env
            .ok(["ps", "--format", "{{.Names}}"])
            .contains(name)),
        "{name} runs"
    );
}

/// The names in a tar stream.
fn tar_names(bytes: &[u8]) -> Vec<String> {
    let mut ar = tar::Archive::new(bytes);
    ar.entries()
        .expect("a tar stream")
        .map(|e| {
            e.expect("a tar entry")
                .path()
                .expect("a name")
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// A directory the test user can write, for files copied out.
fn user_dir(env: &TestEnv, name: &str) -> std::path::PathBuf {
    let d = env.home.join(name);
    std::fs::create_dir(&d).unwrap();
    chown(&d, env.user.uid, env.user.gid);
    d
}

#[test]
fn cp_into_a_running_container_and_back_out() {
    let env = env_with_busybox();
    start_sleeper(&env, "live");
    let src = write_readable(&env.root, "in.txt", b"from the host\n");
    env.ok(["cp", src.to_str().unwrap(), "live:/tmp/in.txt"]);
    // Into an existing directory: the file keeps its name.
    env.ok(["cp", src.to_str().unwrap(), "live:/etc"]);
    let out = user_dir(&env, "out");
    env.ok([
        "cp",
        "live:/tmp/in.txt",
        out.join("back.txt").to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(out.join("back.txt")).unwrap(),
        b"from the host\n"
    );
    assert_eq!(owner(&out.join("back.txt")), Some(env.user.uid));
    let tar = env.hutch(["cp", "live:/etc/in.txt", "-"]).output().unwrap();
    assert!(tar.status.success(), "{}", stderr(&tar));
    assert_eq!(tar_names(&tar.stdout), ["in.txt"]);
    // Owned by the container's root (the default --archive), not the
    // host user's id.
    let mut ar = tar::Archive::new(&tar.stdout[..]);
    let e = ar.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(e.header().uid().unwrap(), 0);
    env.ok(["rm", "-f", "live"]);
}

#[test]
fn cp_out_of_a_stopped_container_and_as_a_tar_stream() {
    let env = env_with_busybox();
    env.ok([
        "run",
        "--name",
        "done",
        "busybox",
        "sh",
        "-c",
        "echo data > /tmp/f",
    ]);
    let out = user_dir(&env, "out");
    env.ok(["cp", "done:/tmp/f", out.to_str().unwrap()]);
    assert_eq!(std::fs::read(out.join("f")).unwrap(), b"data\n");
    // A directory, copied under a new name.
    env.ok(["cp", "done:/etc", out.join("etc2").to_str().unwrap()]);
    assert!(out.join("etc2/passwd").is_file());
    let tar = env.hutch(["cp", "done:/etc/passwd", "-"]).output().unwrap();
    assert!(tar.status.success(), "{}", stderr(&tar));
    assert_eq!(tar_names(&tar.stdout), ["passwd"]);
    let missing = env.run(["cp", "done:/nonexist", out.to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(125));
    assert!(
        stderr(&missing).contains("could not be found on container done"),
        "{}",
        stderr(&missing)
    );
    // Podman's refusals, with its exit code.
    let file = write_readable(&env.root, "small", b"small\n");
    let file = file.to_str().unwrap();
    for (args, msg) in [
        (
            vec!["cp", "/etc", "done:/etc/passwd"],
            "destination must be a directory when copying a directory",
        ),
        (
            vec!["cp", file, "done:/nodir/x"],
            "\"/nodir/x\" could not be found on container done",
        ),
        (vec!["cp", file, "done:/etc"], ""),
        (
            vec!["cp", file, "/tmp/x"],
            "you must use just one container",
        ),
    ] {
        let out = env.run(&args);
        if msg.is_empty() {
            assert!(out.status.success(), "{args:?}: {}", stderr(&out));
            continue;
        }
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        assert!(stderr(&out).contains(msg), "{args:?}: {}", stderr(&out));
    }
    let out = env.run(["cp", file, "done:/etc/small"]);
    assert!(
        out.status.success(),
        "a file replaces a file: {}",
        stderr(&out)
    );
    // Container to container, keeping the archive's owners.
    env.ok(["run", "--name", "other", "busybox", "true"]);
    env.ok(["cp", "--archive=false", "done:/tmp/f", "other:/tmp/copied"]);
    let back = env
        .hutch(["cp", "other:/tmp/copied", "-"])
        .output()
        .unwrap();
    assert_eq!(tar_names(&back.stdout), ["copied"]);
    // A tar on stdin goes into a directory.
    let mut child = env
        .hutch(["cp", "-", "done:/tmp"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(&layer(&[Entry::File("streamed", b"s\n")]))
            .unwrap();
    }
    assert!(child.wait().unwrap().success());
    let back = env
        .hutch(["cp", "done:/tmp/streamed", "-"])
        .output()
        .unwrap();
    assert_eq!(tar_names(&back.stdout), ["streamed"]);
}

#[test]
fn cp_through_symlinks_stays_inside_the_container() {
    let env = env_with_busybox();
    let tag = format!("hutch-pwned-{}", std::process::id());
    let home_link = format!("busybox ln -s {} /homeesc", env.home.display());
    env.ok([
        "run",
        "--name",
        "trap",
        "busybox",
        "sh",
        "-c",
        &format!("busybox ln -s / /escape && busybox ln -s ../../../../tmp /up && {home_link}"),
    ]);
    let src = write_readable(&env.root, "payload", b"payload\n");
    let src = src.to_str().unwrap();
    env.ok(["cp", src, &format!("trap:/escape/{tag}")]);
    env.ok(["cp", src, &format!("trap:/up/{tag}")]);
    let _ = env.run(["cp", src, &format!("trap:/homeesc/{tag}")]);
    for host in [
        Path::new("/").join(&tag),
        Path::new("/tmp").join(&tag),
        env.home.join(&tag),
    ] {
        assert!(!host.exists(), "{} was written on the host", host.display());
    }
    // The files landed inside the container, where the links point there.
    for inside in [format!("trap:/{tag}"), format!("trap:/tmp/{tag}")] {
        let out = env.hutch(["cp", &inside, "-"]).output().unwrap();
        assert!(out.status.success(), "{inside}: {}", stderr(&out));
        assert_eq!(tar_names(&out.stdout), std::slice::from_ref(&tag));
    }
    // Reading through the links stays inside too: /escape/etc/passwd is
    // the container's passwd, not the host's.
    let out = user_dir(&env, "out");
    env.ok(["cp", "trap:/escape/etc/passwd", out.to_str().unwrap()]);
    let passwd = std::fs::read_to_string(out.join("passwd")).unwrap();
    assert_eq!(
        passwd,
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"
    );
}

#[test]
fn diff_commit_and_run_the_new_image() {
    let env = env_with_busybox();
    env.ok([
        "run",
        "--name",
        "changer",
        "busybox",
        "sh",
        "-c",
        "echo new > /newfile; busybox rm /etc/group",
    ]);
    let diff = env.ok(["diff", "changer"]);
    let lines: Vec<&str> = diff.lines().collect();
    assert!(lines.contains(&"A /newfile"), "{diff}");
    assert!(lines.contains(&"D /etc/group"), "{diff}");
    assert!(lines.contains(&"C /etc"), "{diff}");
    assert!(
        !diff.contains("/proc"),
        "runtime mount points are left out: {diff}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(["diff", "--format", "json", "changer"])).unwrap();
    assert_eq!(json["added"], serde_json::json!(["/newfile"]));
    assert_eq!(json["deleted"], serde_json::json!(["/etc/group"]));

    let id = env.ok(["commit", "-q", "-m", "my change", "changer", "committed"]);
    assert_eq!(id.trim().len(), 64, "{id}");
    assert_eq!(
        env.ok(["run", "--rm", "committed", "cat", "/newfile"]),
        "new\n"
    );
    let gone = env.run(["run", "--rm", "committed", "cat", "/etc/group"]);
    assert_eq!(gone.status.code(), Some(1), "a deleted file stays deleted");
    assert!(
        env.ok(["run", "--rm", "committed", "cat", "/etc/passwd"])
            .starts_with("root:")
    );
    let history = env.ok([
        "history",
        "--no-trunc",
        "--format",
        "{{.Comment}}",
        "committed",
    ]);
    assert!(history.lines().next() == Some("my change"), "{history}");

    env.ok([
        "commit",
        "-q",
        "--change",
        r#"CMD ["cat", "/newfile"]"#,
        "changer",
        "withcmd",
    ]);
    assert_eq!(env.ok(["run", "--rm", "withcmd"]), "new\n");
}

#[test]
fn export_writes_the_root_file_system() {
    let env = env_with_busybox();
    env.ok(["run", "--name", "ex", "busybox", "true"]);
    let file = env.home.join("ex.tar");
    env.ok(["export", "-o", file.to_str().unwrap(), "ex"]);
    let names = tar_names(&std::fs::read(&file).unwrap());
    assert!(names.iter().any(|n| n == "bin/busybox"), "{names:?}");
    let out = env.hutch(["export", "ex"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(tar_names(&out.stdout).iter().any(|n| n == "etc/passwd"));
}

#[test]
fn top_port_pause_and_mount_of_a_running_container() {
    let env = env_with_busybox();
    start_sleeper(&env, "proc");
    let top = env.ok(["top", "proc"]);
    let mut lines = top.lines();
    assert_eq!(
        lines
            .next()
            .map(|h| h.split_whitespace().collect::<Vec<_>>()),
        Some(vec![
            "USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"
        ]),
        "{top}"
    );
    let row = lines.next().unwrap_or_default();
    assert!(row.starts_with("root        1 "), "{top}");
    assert!(row.contains("sleep 600"), "{top}");
    assert_eq!(
        env.ok(["top", "proc", "pid,args"])
            .lines()
            .nth(1)
            .map(str::trim_end),
        Some("1           sleep 600")
    );
    let bad = env.run(["top", "proc", "bogus"]);
    assert_eq!(bad.status.code(), Some(125));

    // No ports published: nothing, and success, as Podman.
    let port = env.run(["port", "proc"]);
    assert_eq!(
        (port.status.code(), stdout(&port)),
        (Some(0), String::new())
    );
    assert_eq!(env.run(["port", "-a"]).status.code(), Some(0));

    let pause = env.run(["pause", "proc"]);
    assert_eq!(pause.status.code(), Some(125));
    let err = stderr(&pause);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cgroup"), "{err}");
    let ps = env.ok(["ps", "--format", "{{.Names}} {{.State}}"]);
    assert!(ps.starts_with("proc Up "), "{ps}");

    // Rootless, mount needs `hutch unshare`, where its path is visible.
    let outside = env.run(["mount", "proc"]);
    assert_eq!(outside.status.code(), Some(125));
    assert!(stderr(&outside).contains("hutch unshare"));
    let bin = hutch_bin().to_str().unwrap();
    let script = format!("p=$({bin} mount proc) && cat $p/etc/passwd && {bin} umount proc");
    let inside = env.ok(["unshare", "sh", "-c", &script]);
    assert!(inside.starts_with("root:x:0:0"), "{inside}");
    assert!(inside.ends_with("proc\n"), "{inside}");

    env.ok(["rm", "-f", "proc"]);
    let stopped = env.run(["top", "proc"]);
    assert_eq!(stopped.status.code(), Some(125));
}

/// `cp` sees a container's paths as the container does: relative paths
/// start at its working directory, a volume's destination of a container
/// that never ran is its volume, a running container's volume and tmpfs
/// are written (not hidden under the mount), and a gzip tar on stdin is
/// unpacked, as Podman does each.
#[test]
fn cp_follows_workdir_mounts_and_compressed_streams() {
    let env = env_with_busybox();
    let src = write_readable(&env.root, "in.txt", b"payload\n");
    let src = src.to_str().unwrap();
    env.ok([
        "create",
        "--name",
        "made",
        "-w",
        "/tmp",
        "-v",
        "cpvol:/vol",
        "busybox",
        "sleep",
        "600",
    ]);
    env.ok(["cp", src, "made:rel.txt"]);
    env.ok(["cp", src, "made:/vol/"]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    {
        let mut b = tar::Builder::new(&mut gz);
        let mut h = tar::Header::new_gnu();
        h.set_size(4);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, "zipped.txt", &b"zip\n"[..]).unwrap();
        b.finish().unwrap();
    }
    let gz = gz.finish().unwrap();
    let mut child = env
        .hutch(["cp", "-", "made:/"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &gz).unwrap();
    drop(child.stdin.take());
    let done = child.wait_with_output().unwrap();
    assert!(done.status.success(), "cp - : {}", stderr(&done));
    env.ok(["start", "made"]);
    let got = env.ok([
        "exec",
        "made",
        "cat",
        "/tmp/rel.txt",
        "/vol/in.txt",
        "/zipped.txt",
    ]);
    assert_eq!(got, "payload\npayload\nzip\n");
    env.ok(["rm", "-f", "-t0", "made"]);

    env.ok([
        "run",
        "-d",
        "--name",
        "live",
        "-v",
        "cpvol:/vol",
        "--tmpfs",
        "/scratch",
        "busybox",
        "sleep",
        "600",
    ]);
    env.ok(["cp", src, "live:/scratch/t.txt"]);
    env.ok(["cp", src, "live:/vol/second.txt"]);
    let got = env.ok(["exec", "live", "cat", "/scratch/t.txt", "/vol/second.txt"]);
    assert_eq!(got, "payload\npayload\n");
    // And out of the running container's volume.
    let tar = env.hutch(["cp", "live:/vol", "-"]).output().unwrap();
    assert!(tar.status.success(), "{}", stderr(&tar));
    let mut names = tar_names(&tar.stdout);
    names.sort();
    assert_eq!(names, ["vol/", "vol/in.txt", "vol/second.txt"]);
    env.ok(["rm", "-f", "-t0", "live"]);
}
