//! Test images built on the fly from the host's busybox-static: no network,
//! no image files in the repository.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One entry of a layer tar.
pub enum Entry<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8]),
    /// An executable file.
    Exec(&'a str, &'a [u8]),
    /// A file with an owner.
    Owned(&'a str, &'a [u8], u64, u64),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    /// A raw name the tar crate would refuse (`../x`, `/abs`), as a file.
    RawName(&'a [u8], &'a [u8]),
    /// A character device node (major, minor).
    CharDevice(&'a str, u32, u32),
}

fn header(kind: tar::EntryType, size: u64, mode: u32, uid: u64, gid: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(uid);
    h.set_gid(gid);
    h.set_mtime(1_700_000_000);
    h
}

/// An uncompressed layer tar.
pub fn layer(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            Entry::Dir(p) => {
                let mut h = header(tar::EntryType::Directory, 0, 0o755, 0, 0);
                b.append_data(&mut h, p, &[][..]).expect("dir entry");
            }
            Entry::File(p, data) => {
                let mut h = header(tar::EntryType::Regular, data.len() as u64, 0o644, 0, 0);
                b.append_data(&mut h, p, *data).expect("file entry");
            }
            Entry::Exec(p, data) => {
                let mut h = header(tar::EntryType::Regular, data.len() as u64, 0o755, 0, 0);
                b.append_data(&mut h, p, *data).expect("file entry");
            }
            Entry::Owned(p, data, uid, gid) => {
                let mut h = header(
                    tar::EntryType::Regular,
                    data.len() as u64,
                    0o644,
                    *uid,
                    *gid,
                );
                b.append_data(&mut h, p, *data).expect("file entry");
            }
            Entry::Symlink(p, target) => {
                let mut h = header(tar::EntryType::Symlink, 0, 0o777, 0, 0);
                b.append_link(&mut h, p, target).expect("symlink entry");
            }
            Entry::Hardlink(p, target) => {
                let mut h = header(tar::EntryType::Link, 0, 0o644, 0, 0);
                b.append_link(&mut h, p, target).expect("hardlink entry");
            }
            Entry::RawName(name, data) => {
                let mut h = header(tar::EntryType::Regular, data.len() as u64, 0o644, 0, 0);
                let gnu = h.as_old_mut();
                gnu.name.fill(0);
                gnu.name[..name.len()].copy_from_slice(name);
                h.set_cksum();
                b.append(&h, *data).expect("raw entry");
            }
            Entry::CharDevice(p, major, minor) => {
                let mut h = header(tar::EntryType::Char, 0, 0o666, 0, 0);
                h.set_device_major(*major).expect("device major");
                h.set_device_minor(*minor).expect("device minor");
                b.append_data(&mut h, p, &[][..]).expect("device entry");
            }
        }
    }
    b.into_inner().expect("finish tar")
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip")
}

/// A busybox root file system as a layer tar: /bin/busybox plus the applet
/// links the tests use, /etc/passwd and /tmp.
pub fn busybox_rootfs() -> Vec<u8> {
    let busybox =
        fs::read("/bin/busybox").expect("busybox-static is installed (tests/setup-host.sh)");
    let mut entries = vec![
        Entry::Dir("bin"),
        Entry::Dir("etc"),
        Entry::Dir("tmp"),
        // Mount points a runtime needs on a read-only root, as real images have.
        Entry::Dir("proc"),
        Entry::Dir("dev"),
        Entry::Dir("sys"),
        Entry::Dir("run"),
        Entry::Dir("var"),
        Entry::Dir("var/tmp"),
        Entry::Exec("bin/busybox", &busybox),
        Entry::File(
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
        ),
        Entry::File("etc/group", b"root:x:0:\nnobody:x:65534:\n"),
    ];
    let applets = [
        "sh", "ls", "cat", "echo", "id", "true", "false", "sleep", "stat", "touch",
    ];
    let links: Vec<String> = applets.iter().map(|a| format!("bin/{a}")).collect();
    for l in &links {
        entries.push(Entry::Hardlink(l, "bin/busybox"));
    }
    layer(&entries)
}

/// Writes `data` to a file the test user can read.
pub fn write_readable(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    fs::write(&path, data).expect("write test file");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod test file");
    path
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(data))
}

/// A docker-archive (what `docker save`/`podman save` write) of an image
/// made of `layers` (uncompressed tars), named `repo_tag`.
pub fn docker_archive(layers: &[Vec<u8>], repo_tag: &str) -> Vec<u8> {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(l)))
        .collect();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let config_bytes = serde_json::to_vec(&config).expect("config json");
    let config_name = format!("{}.json", sha256_hex(&config_bytes));
    let layer_names: Vec<String> = layers
        .iter()
        .map(|l| format!("{}.tar", sha256_hex(l)))
        .collect();
    let manifest =
        serde_json::json!([{"Config": config_name, "RepoTags": [repo_tag], "Layers": layer_names}]);
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = header(tar::EntryType::Regular, data.len() as u64, 0o644, 0, 0);
        b.append_data(&mut h, name, data).expect("archive member");
    };
    add(&config_name, &config_bytes);
    for (name, data) in layer_names.iter().zip(layers) {
        add(name, data);
    }
    add(
        "manifest.json",
        &serde_json::to_vec(&manifest).expect("manifest json"),
    );
    b.into_inner().expect("finish archive")
}

/// A test environment of the default user with the busybox rootfs imported
/// as image "busybox" (CMD /bin/sh), plus `changes` as `--change` values.
pub fn busybox_env(changes: &[&str]) -> super::TestEnv {
    let env = super::TestEnv::new(super::TestUser::default_user());
    let tar = write_readable(&env.root, "bb.tar.gz", &gzip(&busybox_rootfs()));
    let mut args = vec!["import".to_owned(), "--change".into(), "CMD=/bin/sh".into()];
    for c in changes {
        args.push("--change".into());
        args.push((*c).to_owned());
    }
    args.push(tar.to_string_lossy().into_owned());
    args.push("busybox".into());
    env.ok(args);
    env
}

/// A static UDP echo server (busybox's nc here has no UDP), compiled for
/// the test into an image "udpecho" of its own.
pub fn udp_echo_image(env: &super::TestEnv) {
    let src = env.root.join("echo.c");
    std::fs::write(
        &src,
        r#"#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_port = htons(argc > 1 ? atoi(argv[1]) : 7);
  if (bind(s, (struct sockaddr *)&a, sizeof a)) return 1;
  for (;;) {
    char buf[2048]; struct sockaddr_in p; socklen_t l = sizeof p;
    int n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&p, &l);
    if (n > 0) sendto(s, buf, n, 0, (struct sockaddr *)&p, l);
  }
}
"#,
    )
    .expect("write echo.c");
    let bin = env.root.join("udpecho");
    let st = std::process::Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .expect("a C compiler (gcc, libc6-dev) to build the UDP echo server");
    assert!(st.success(), "compiling the UDP echo server");
    let exe = std::fs::read(&bin).expect("read udpecho");
    let tar = layer(&[
        Entry::Dir("etc"),
        Entry::Dir("proc"),
        Entry::Dir("dev"),
        Entry::Dir("sys"),
        Entry::Exec("udpecho", &exe),
    ]);
    let tar = write_readable(&env.root, "echo.tar.gz", &gzip(&tar));
    env.ok(["import", tar.to_str().unwrap(), "udpecho"]);
}
