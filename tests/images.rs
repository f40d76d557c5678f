//! Images as users handle them: import, list, inspect, tag, remove, mount;
//! ownership on disk; hostile layers.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::images::*;
use common::*;

/// Imports the busybox root file system as `name` and returns the image id.
fn import_busybox(env: &TestEnv, name: &str) -> String {
    let tar = write_readable(&env.root, "busybox.tar.gz", &gzip(&busybox_rootfs()));
    let id = env.ok(["import", tar.to_str().unwrap(), name]);
    id.trim().to_owned()
}

#[test]
fn import_list_inspect_tag_and_remove() {
    let env = TestEnv::new(TestUser::default_user());
    let id = import_busybox(&env, "busybox");
    assert_eq!(id.len(), 64, "full image id printed: {id}");

    let listing = env.ok(["images"]);
    let lines: Vec<&str> = listing.lines().collect();
    assert!(
        lines[0].starts_with("REPOSITORY") && lines[0].contains("IMAGE ID"),
        "{listing}"
    );
    assert!(
        lines[1].starts_with("localhost/busybox") && lines[1].contains(&id[..12]),
        "{listing}"
    );

    assert_eq!(env.ok(["images", "-q"]).trim(), &id[..12]);
    assert_eq!(
        env.ok([
            "image",
            "inspect",
            "busybox",
            "--format",
            "{{.Id}} {{index .RepoTags 0}}"
        ])
        .trim(),
        format!("{id} localhost/busybox:latest")
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(["image", "inspect", &id[..12]])).unwrap();
    assert_eq!(
        json[0]["RootFS"]["Layers"].as_array().map(|a| a.len()),
        Some(1)
    );

    env.ok(["tag", "busybox", "mybox:v1"]);
    assert!(
        env.ok(["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .contains("localhost/mybox:v1")
    );
    assert!(env.run(["image", "exists", "mybox:v1"]).status.success());
    // Removing one of two names only untags.
    assert_eq!(
        env.ok(["rmi", "mybox:v1"]).trim(),
        "Untagged: localhost/mybox:v1"
    );
    assert_eq!(
        env.run(["image", "exists", "mybox:v1"]).status.code(),
        Some(1)
    );
    let out = env.ok(["rmi", "busybox"]);
    assert!(out.contains(&format!("Deleted: {id}")), "{out}");
    assert!(env.ok(["images", "-q"]).trim().is_empty());
    let layers = env.home.join(".local/share/hutch/storage/layers");
    let left: Vec<_> = fs::read_dir(&layers)
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().ends_with(".lock"))
        .collect();
    assert!(left.is_empty(), "layers left after rmi: {left:?}");
}

#[test]
fn mounted_image_shows_its_files_inside_the_namespace() {
    let env = TestEnv::new(TestUser::default_user());
    import_busybox(&env, "busybox");
    let mnt = env.ok(["image", "mount", "busybox"]);
    let mnt = mnt.trim();
    let listing = env.ok(["unshare", "ls", &format!("{mnt}/bin")]);
    assert!(listing.lines().any(|l| l == "busybox"), "{listing}");
    // Mounted read-only.
    let out = env.run(["unshare", "touch", &format!("{mnt}/newfile")]);
    assert!(!out.status.success());
    env.ok(["image", "unmount", "busybox"]);
}

#[test]
fn image_owners_land_on_the_subordinate_range() {
    let env = TestEnv::new(TestUser::default_user());
    let Some((start, _)) = env.user.sub_range("/etc/subuid") else {
        eprintln!("skipped: {} has no subuid range", env.user.name);
        return;
    };
    let tar = layer(&[
        Entry::Dir("home"),
        Entry::Owned("home/owned-by-1000", b"x", 1000, 1000),
        Entry::Owned("root-file", b"y", 0, 0),
    ]);
    let path = write_readable(&env.root, "owned.tar", &tar);
    env.ok(["import", path.to_str().unwrap(), "owned"]);
    let diff = fs::read_dir(env.home.join(".local/share/hutch/storage/layers"))
        .unwrap()
        .flatten()
        .find(|e| e.path().join("diff").is_dir())
        .unwrap()
        .path()
        .join("diff");
    let meta = fs::metadata(diff.join("home/owned-by-1000")).unwrap();
    assert_eq!(
        meta.uid(),
        start + 999,
        "uid 1000 in the image is subuid {start} + 999 on disk"
    );
    assert_eq!(
        fs::metadata(diff.join("root-file")).unwrap().uid(),
        env.user.uid,
        "root is the user"
    );
}

#[test]
fn hostile_layers_are_refused_and_write_nothing_outside() {
    let env = TestEnv::new(TestUser::default_user());
    let sentinel_dir = env.home.join(".local/share/hutch");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dotdot",
            layer(&[Entry::RawName(b"../escape", b"evil")]),
            "../escape",
        ),
        (
            "absolute",
            layer(&[Entry::RawName(b"/tmp/hutch-abs-escape", b"evil")]),
            "/tmp/hutch-abs-escape",
        ),
        (
            "symlink-parent",
            layer(&[
                Entry::Symlink("link", "../../../.."),
                Entry::File("link/escape", b"evil"),
            ]),
            "link/escape",
        ),
        (
            "hardlink-out",
            layer(&[Entry::Hardlink("h", "../../../../etc/passwd")]),
            "h",
        ),
    ];
    for (name, tar, entry) in cases {
        let path = write_readable(&env.root, &format!("{name}.tar"), &tar);
        let out = env.run(["import", path.to_str().unwrap(), name]);
        assert_eq!(out.status.code(), Some(125), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(entry),
            "{name}: error names the entry: {}",
            stderr(&out)
        );
        assert_eq!(
            env.run(["image", "exists", name]).status.code(),
            Some(1),
            "{name}: no image"
        );
    }
    assert!(!std::path::Path::new("/tmp/hutch-abs-escape").exists());
    for escaped in ["escape", "storage/escape", "storage/layers/escape"] {
        assert!(
            !sentinel_dir.join(escaped).exists(),
            "{escaped} written outside the layer"
        );
    }
    assert!(!env.home.join("escape").exists());
}

#[test]
fn bad_input_is_a_clear_error_that_changes_nothing() {
    let env = TestEnv::new(TestUser::default_user());
    import_busybox(&env, "busybox");
    let before = env.ok(["images", "--format", "{{.ID}} {{.Repository}}"]);

    let out = env.run(["image", "inspect", "no-such-image"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("no-such-image: image not known"),
        "{}",
        stderr(&out)
    );

    let out = env.run(["rmi", "no-such-image"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "Podman's rmi exit code for an unknown image"
    );

    let out = env.run(["tag", "busybox", "Bad:Name!"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));

    let out = env.run(["import", "/nonexistent.tar", "x"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("/nonexistent.tar"),
        "{}",
        stderr(&out)
    );

    let out = env.run(["import", "--change", "FROB x", "/dev/null", "x"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("FROB"), "{}", stderr(&out));

    let out = env.run(["images", "--filter", "bogus=1"]);
    assert_eq!(out.status.code(), Some(125));

    assert_eq!(
        env.ok(["images", "--format", "{{.ID}} {{.Repository}}"]),
        before
    );
}

#[test]
fn import_applies_changes() {
    let env = TestEnv::new(TestUser::default_user());
    let tar = write_readable(&env.root, "bb.tar", &busybox_rootfs());
    env.ok([
        "import",
        "--change",
        "CMD=/bin/sh",
        "--change",
        "ENV FOO=bar",
        "--change",
        "WORKDIR /tmp",
        "-m",
        "first",
        tar.to_str().unwrap(),
        "withchanges",
    ]);
    let cfg = env.ok([
        "image",
        "inspect",
        "withchanges",
        "--format",
        "{{json .Config}} {{.Comment}}",
    ]);
    assert!(cfg.contains(r#""Cmd":["/bin/sh","-c","/bin/sh"]"#), "{cfg}");
    assert!(
        cfg.contains("FOO=bar") && cfg.contains(r#""WorkingDir":"/tmp""#),
        "{cfg}"
    );
    assert!(cfg.trim_end().ends_with("first"), "{cfg}");
}

#[test]
fn additional_image_stores_are_listed_used_and_never_changed() {
    let env = TestEnv::new(TestUser::default_user());
    let shared = env.home.join("shared-store");
    let tar = write_readable(&env.root, "bb.tar.gz", &gzip(&busybox_rootfs()));
    env.ok([
        "--root",
        shared.to_str().unwrap(),
        "import",
        tar.to_str().unwrap(),
        "shared",
    ]);
    let conf_dir = env.home.join(".config/containers");
    fs::create_dir_all(&conf_dir).unwrap();
    fs::write(
        conf_dir.join("storage.conf"),
        format!(
            "[storage]\n[storage.options]\nadditionalimagestores = [\"{}\"]\n",
            shared.display()
        ),
    )
    .unwrap();
    for d in [
        env.home.join(".config"),
        conf_dir.clone(),
        conf_dir.join("storage.conf"),
    ] {
        chown(&d, env.user.uid, env.user.gid);
    }
    let listing = env.ok(["images", "--format", "{{.Repository}} {{.ReadOnly}}"]);
    assert_eq!(listing.trim(), "localhost/shared true");
    let mnt = env.ok(["image", "mount", "shared"]);
    assert!(
        env.ok(["unshare", "ls", &format!("{}/bin", mnt.trim())])
            .contains("busybox")
    );
    env.ok(["image", "unmount", "shared"]);
    let out = env.run(["rmi", "shared"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("read-only"), "{}", stderr(&out));
    let info: serde_json::Value =
        serde_json::from_str(&env.ok(["info", "--format", "json"])).unwrap();
    assert_eq!(
        info["store"]["additionalImageStores"][0],
        serde_json::json!(shared.display().to_string())
    );
}

#[test]
fn whiteouts_hide_lower_files_in_the_mounted_root() {
    let env = TestEnv::new(TestUser::default_user());
    let lower = layer(&[
        Entry::Dir("etc"),
        Entry::File("etc/lower", b"gone"),
        Entry::File("etc/kept", b"kept"),
        Entry::Dir("opq"),
        Entry::File("opq/old", b"old"),
    ]);
    let upper = layer(&[
        Entry::Dir("etc"),
        Entry::File("etc/.wh.lower", b""),
        Entry::Dir("opq"),
        Entry::File("opq/.wh..wh..opq", b""),
        Entry::File("opq/new", b"new"),
    ]);
    let archive = write_readable(
        &env.root,
        "layered.tar",
        &docker_archive(&[lower, upper], "layered:latest"),
    );
    let out = env.ok(["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(out.trim(), "Loaded image: docker.io/library/layered:latest");
    let mnt = env.ok(["image", "mount", "layered"]);
    let mnt = mnt.trim();
    let etc = env.ok(["unshare", "ls", "-A", &format!("{mnt}/etc")]);
    assert_eq!(
        etc.split_whitespace().collect::<Vec<_>>(),
        vec!["kept"],
        "whiteout hides etc/lower"
    );
    let opq = env.ok(["unshare", "ls", "-A", &format!("{mnt}/opq")]);
    assert_eq!(
        opq.split_whitespace().collect::<Vec<_>>(),
        vec!["new"],
        "opaque dir hides opq/old"
    );
    env.ok(["image", "unmount", "layered"]);
}

#[test]
fn save_rmi_load_restores_the_same_image() {
    let env = TestEnv::new(TestUser::default_user());
    let id = import_busybox(&env, "busybox");
    for format in ["docker-archive", "oci-archive"] {
        let archive = env.home.join(format!("saved-{format}.tar"));
        env.ok([
            "save",
            "--format",
            format,
            "-o",
            archive.to_str().unwrap(),
            "busybox",
        ]);
        env.ok(["rmi", "busybox"]);
        assert_eq!(
            env.run(["image", "exists", "busybox"]).status.code(),
            Some(1)
        );
        let out = env.ok(["load", "-i", archive.to_str().unwrap()]);
        assert!(out.contains("localhost/busybox:latest"), "{format}: {out}");
        assert_eq!(
            env.ok(["image", "inspect", "busybox", "--format", "{{.Id}}"])
                .trim(),
            id,
            "{format}: same image id after save, rmi, load"
        );
    }
    // Through a pipe, as `save | load` on another machine would be.
    let saved = env.hutch(["save", "busybox"]).output().expect("save");
    assert!(saved.status.success(), "{}", stderr(&saved));
    assert!(saved.stdout.len() > 1_000_000, "busybox is in the archive");
}

#[test]
fn corrupt_archive_loads_nothing() {
    let env = TestEnv::new(TestUser::default_user());
    let mut bytes = docker_archive(
        &[layer(&[Entry::File("f", b"original content")])],
        "corrupt:latest",
    );
    let pos = bytes
        .windows(16)
        .position(|w| w == b"original content")
        .expect("layer content in archive");
    bytes[pos] = b'O';
    let archive = write_readable(&env.root, "corrupt.tar", &bytes);
    let out = env.run(["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("sha256:"),
        "names the digest: {}",
        stderr(&out)
    );
    assert!(
        env.ok(["images", "-q"]).trim().is_empty(),
        "nothing visible"
    );
}

#[test]
fn zstd_layers_import_and_history_shows_them() {
    let env = TestEnv::new(TestUser::default_user());
    let tar = busybox_rootfs();
    let compressed = zstd::encode_all(&tar[..], 3).expect("zstd");
    let path = write_readable(&env.root, "bb.tar.zst", &compressed);
    env.ok([
        "import",
        "-m",
        "zstd import",
        path.to_str().unwrap(),
        "zbox",
    ]);
    let mt = env.ok(["image", "inspect", "zbox", "--format", "{{.ManifestType}}"]);
    assert!(mt.contains("oci"), "{mt}");
    let mnt = env.ok(["image", "mount", "zbox"]);
    assert!(
        env.ok(["unshare", "ls", &format!("{}/bin", mnt.trim())])
            .contains("busybox")
    );
    env.ok(["image", "unmount", "zbox"]);
    let hist = env.ok(["history", "zbox"]);
    let lines: Vec<&str> = hist.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("CREATED BY"),
        "{hist}"
    );
    assert!(
        lines[1].contains("zstd import") && lines[1].contains("MB"),
        "{hist}"
    );
}

#[test]
fn rmi_follows_podman_for_names_and_ids() {
    let env = TestEnv::new(TestUser::default_user());
    let id = import_busybox(&env, "busybox");
    env.ok(["tag", "busybox", "second"]);
    // By id with two names: refused without --force.
    let out = env.run(["rmi", &id[..12]]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("more than one tag"),
        "{}",
        stderr(&out)
    );
    // By name, even forced: only that name goes.
    assert_eq!(
        env.ok(["rmi", "-f", "second"]).trim(),
        "Untagged: localhost/second:latest"
    );
    assert!(env.run(["image", "exists", "busybox"]).status.success());
    // JSON listing: one object per image, numeric size.
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(["images", "--format", "json"])).unwrap();
    assert_eq!(json.as_array().map(|a| a.len()), Some(1));
    assert!(
        json[0]["Size"].as_u64().is_some_and(|s| s > 1_000_000),
        "{json}"
    );
    assert_eq!(json[0]["Id"], serde_json::json!(id));
    // Prune -a removes it and leaves no layers or blobs behind.
    env.ok(["image", "prune", "-a", "-f"]);
    let storage = env.home.join(".local/share/hutch/storage");
    assert_eq!(
        fs::read_dir(storage.join("blobs/sha256")).unwrap().count(),
        0
    );
}
