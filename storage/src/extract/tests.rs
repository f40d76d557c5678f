//! Layers are built in memory. Hostile names that `tar::Header::set_path`
//! would refuse are written into the header bytes directly.

use super::*;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::process::Command;

use tar::{Builder, EntryType, Header};

const MTIME: u64 = 1_600_000_000;

const NAIVE: ApplyOptions = ApplyOptions {
    whiteouts: WhiteoutFormat::Naive,
    ownership: Ownership::Preserve,
    skip_devices: true,
};

const OVERLAY: ApplyOptions = ApplyOptions {
    whiteouts: WhiteoutFormat::Overlay {
        opaque_xattr: USER_OVERLAY_OPAQUE,
    },
    ownership: Ownership::Preserve,
    skip_devices: true,
};

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

fn egid() -> u32 {
    rustix::process::getegid().as_raw()
}

/// Root with every id mapped: not root of a rootless user namespace, which
/// can neither chown to unmapped ids nor run a child as uid 65534.
fn is_root() -> bool {
    let full_map = fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|map| map.split_whitespace().eq(["0", "0", "4294967295"]));
    euid() == 0 && full_map
}

/// A layer tar under construction; every entry is owned by the caller's ids
/// unless said otherwise.
struct Layer(Builder<Vec<u8>>);

impl Layer {
    fn new() -> Self {
        Layer(Builder::new(Vec::new()))
    }

    fn entry(self, name: &str, kind: EntryType, link: &str, data: &[u8], mode: u32) -> Self {
        self.owned(name, kind, link, data, mode, (euid(), egid()))
    }

    fn owned(
        mut self,
        name: &str,
        kind: EntryType,
        link: &str,
        data: &[u8],
        mode: u32,
        (uid, gid): (u32, u32),
    ) -> Self {
        let mut h = Header::new_gnu();
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(MTIME);
        h.set_uid(uid.into());
        h.set_gid(gid.into());
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    fn dir(self, name: &str, mode: u32) -> Self {
        self.entry(name, EntryType::Directory, "", b"", mode)
    }

    fn file(self, name: &str, data: &str) -> Self {
        self.entry(name, EntryType::Regular, "", data.as_bytes(), 0o644)
    }

    fn symlink(self, name: &str, target: &str) -> Self {
        self.entry(name, EntryType::Symlink, target, b"", 0o777)
    }

    fn hardlink(self, name: &str, target: &str) -> Self {
        self.entry(name, EntryType::Link, target, b"", 0o644)
    }

    /// PAX records for the next entry.
    fn pax(mut self, records: &[(&str, &[u8])]) -> Self {
        self.0
            .append_pax_extensions(records.iter().map(|(k, v)| (*k, *v)))
            .unwrap();
        self
    }

    fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// A temp dir holding the layer dir `layer` and a sibling `outside` with one
/// file, which no extraction may touch.
struct Sandbox {
    tmp: tempfile::TempDir,
    dest: PathBuf,
    outside: PathBuf,
}

fn sandbox() -> Sandbox {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("layer");
    let outside = tmp.path().join("outside");
    fs::create_dir(&dest).unwrap();
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret"), "secret").unwrap();
    Sandbox { tmp, dest, outside }
}

impl Sandbox {
    fn apply(&self, layer: Vec<u8>, opts: &ApplyOptions) -> Result<LayerStats, ExtractError> {
        apply_layer(layer.as_slice(), &self.dest, opts)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dest.join(rel)
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap()
    }

    fn exists(&self, rel: &str) -> bool {
        fs::symlink_metadata(self.path(rel)).is_ok()
    }

    fn assert_contained(&self) {
        let mut top: Vec<_> = fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        top.sort();
        assert_eq!(top, ["layer", "outside"], "something escaped the layer dir");
        let outside: Vec<_> = fs::read_dir(&self.outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(outside, ["secret"], "something was written outside");
        let secret = self.outside.join("secret");
        assert!(fs::symlink_metadata(&secret).unwrap().is_file());
        assert_eq!(fs::read_to_string(secret).unwrap(), "secret");
    }
}

/// Applies `layer` and checks that it is refused naming `entry` and that
/// nothing outside the layer dir changed.
fn assert_refused(sb: &Sandbox, layer: Vec<u8>, entry: &str) {
    for opts in [NAIVE, OVERLAY] {
        let err = sb.apply(layer.clone(), &opts).unwrap_err();
        match &err {
            ExtractError::Unsafe { entry: e, .. } => assert_eq!(e, Path::new(entry), "{err}"),
            other => panic!("{entry}: expected a refusal, got: {other}"),
        }
        assert!(err.to_string().contains(entry), "{err}");
        sb.assert_contained();
    }
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

const AS_USER_ENV: &str = "HUTCH_EXTRACT_TEST_AS_USER";

/// Runs `body` as an unprivileged user: directly when the tests are not run
/// as root, else by re-running the test `name` in a child process as uid and
/// gid 65534.
fn as_ordinary_user(name: &str, body: impl FnOnce()) {
    if !is_root() || std::env::var_os(AS_USER_ENV).is_some() {
        body();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let output = Command::new(exe)
        .args(["--exact", &format!("extract::tests::{name}"), "--nocapture"])
        .env(AS_USER_ENV, "1")
        .env("TMPDIR", "/tmp")
        .current_dir("/")
        .uid(65534)
        .gid(65534)
        .output();
    match output {
        Err(e) => println!("skipped: cannot run {name} as uid 65534: {e}"),
        Ok(out) => {
            let stdout = String::from_utf8_lossy(&out.stdout);
            print!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success(), "{name} as uid 65534 failed");
            assert!(
                stdout.contains("1 passed"),
                "{name} did not run as uid 65534"
            );
        }
    }
}

#[test]
fn detects_compression_from_magic() {
    assert_eq!(detect_compression(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
    assert_eq!(
        detect_compression(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
        Compression::Zstd
    );
    assert_eq!(detect_compression(b"etc/"), Compression::None);
    assert_eq!(detect_compression(&[0x28, 0xb5]), Compression::None);
    assert_eq!(detect_compression(&[]), Compression::None);
}

#[test]
fn decompress_passes_short_and_plain_streams_through() {
    for input in [&b""[..], b"a", b"abcdef"] {
        let mut out = Vec::new();
        decompress(input).unwrap().read_to_end(&mut out).unwrap();
        assert_eq!(out, input);
    }
}

#[test]
fn applies_gzip_and_zstd_layers() {
    let tar = Layer::new().file("etc/os-release", "hutch").finish();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(tar.as_slice(), 3).unwrap();
    for blob in [tar.clone(), gz, zst] {
        let sb = sandbox();
        let stats = apply_layer(decompress(blob.as_slice()).unwrap(), &sb.dest, &NAIVE).unwrap();
        assert_eq!(stats.entries, 1);
        assert_eq!(sb.read("etc/os-release"), "hutch");
    }
}

#[test]
fn reads_the_stream_to_its_end() {
    struct Counting<'a>(&'a [u8], usize);
    impl Read for Counting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.read(buf)?;
            self.1 += n;
            Ok(n)
        }
    }
    let mut blob = Layer::new().file("f", "x").finish();
    blob.extend_from_slice(&[0; 8192]);
    let sb = sandbox();
    let mut reader = Counting(&blob, 0);
    apply_layer(&mut reader, &sb.dest, &NAIVE).unwrap();
    assert_eq!(reader.1, blob.len());
}

#[test]
fn applies_files_dirs_links_and_fifos() {
    let sb = sandbox();
    let layer = Layer::new()
        .dir("./", 0o755)
        .dir("./etc/", 0o750)
        .file("./etc/hostname", "box\n")
        .entry("usr/bin/tool", EntryType::Regular, "", b"#!", 0o755)
        .symlink("bin", "usr/bin")
        .symlink("abs", "/etc/hostname")
        .hardlink("usr/bin/tool2", "./usr/bin/tool")
        .entry("run/fifo", EntryType::Fifo, "", b"", 0o620)
        .pax(&[("mtime", b"1600000000.5")])
        .file("precise", "")
        .finish();
    let stats = sb.apply(layer, &NAIVE).unwrap();
    assert_eq!(
        stats,
        LayerStats {
            entries: 9,
            bytes: 6,
            skipped_devices: 0
        }
    );

    assert_eq!(sb.read("etc/hostname"), "box\n");
    assert_eq!(mode(&sb.path("etc")), 0o750);
    assert_eq!(mode(&sb.path("etc/hostname")), 0o644);
    assert_eq!(mode(&sb.path("usr/bin/tool")), 0o755);
    // A parent the tar does not list is made 0755 whatever the umask.
    assert_eq!(mode(&sb.path("usr")), 0o755);
    assert_eq!(fs::read_link(sb.path("bin")).unwrap(), Path::new("usr/bin"));
    assert_eq!(
        fs::read_link(sb.path("abs")).unwrap(),
        Path::new("/etc/hostname")
    );
    let tool = fs::metadata(sb.path("usr/bin/tool")).unwrap();
    let tool2 = fs::metadata(sb.path("usr/bin/tool2")).unwrap();
    assert_eq!(tool.ino(), tool2.ino());
    let fifo = fs::symlink_metadata(sb.path("run/fifo")).unwrap();
    assert!(fifo.file_type().is_fifo());
    assert_eq!(fifo.mode() & 0o7777, 0o620);

    // Directory mtimes are set after their children were written.
    for rel in ["etc", "etc/hostname", "usr/bin/tool", "run/fifo", "."] {
        assert_eq!(
            fs::symlink_metadata(sb.path(rel)).unwrap().mtime(),
            MTIME as i64,
            "{rel}"
        );
    }
    assert_eq!(
        fs::symlink_metadata(sb.path("bin")).unwrap().mtime(),
        MTIME as i64
    );
    let precise = fs::metadata(sb.path("precise")).unwrap();
    assert_eq!(
        (precise.mtime(), precise.mtime_nsec()),
        (MTIME as i64, 500_000_000)
    );
    sb.assert_contained();
}

#[test]
fn keeps_setuid_and_read_only_directories() {
    let sb = sandbox();
    let layer = Layer::new()
        .entry("suid", EntryType::Regular, "", b"x", 0o4755)
        .dir("ro/", 0o555)
        .file("ro/inside", "y")
        .finish();
    sb.apply(layer, &NAIVE).unwrap();
    assert_eq!(mode(&sb.path("suid")), 0o4755);
    assert_eq!(mode(&sb.path("ro")), 0o555);
    assert_eq!(sb.read("ro/inside"), "y");
    fs::set_permissions(sb.path("ro"), fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn replaces_what_is_in_the_way() {
    let sb = sandbox();
    let lower = Layer::new()
        .file("a", "file")
        .file("d/x", "in dir")
        .dir("e/", 0o755)
        .file("e/kept", "kept")
        .file("linked", "shared")
        .hardlink("other", "linked")
        .finish();
    sb.apply(lower, &NAIVE).unwrap();
    let upper = Layer::new()
        .dir("a/", 0o755)
        .file("d", "now a file")
        .dir("e/", 0o700)
        .file("linked", "replaced")
        .finish();
    sb.apply(upper, &NAIVE).unwrap();
    assert!(fs::symlink_metadata(sb.path("a")).unwrap().is_dir());
    assert_eq!(sb.read("d"), "now a file");
    assert_eq!(mode(&sb.path("e")), 0o700);
    assert_eq!(sb.read("e/kept"), "kept");
    // Replacing unlinks first: the other hardlink keeps the old content.
    assert_eq!(sb.read("linked"), "replaced");
    assert_eq!(sb.read("other"), "shared");
}

#[test]
fn naive_whiteouts_delete_lower_paths() {
    let sb = sandbox();
    let lower = Layer::new()
        .file("gone", "x")
        .file("gonedir/sub/file", "x")
        .file("keep/old", "x")
        .file("keep/olddir/x", "x")
        .file("keep/both/lower", "x")
        .file("stay", "x")
        .finish();
    sb.apply(lower, &NAIVE).unwrap();
    let upper = Layer::new()
        .file(".wh.gone", "")
        .file(".wh.gonedir", "")
        .file("samelayer", "mine")
        .file(".wh.samelayer", "")
        .file(".wh.never-existed", "")
        .file("absent/.wh.x", "")
        .dir("keep/", 0o755)
        .file("keep/new", "new")
        .dir("keep/both/", 0o755)
        .file("keep/both/upper", "up")
        // After its siblings, as tar writers may put it.
        .file("keep/.wh..wh..opq", "")
        .file(".wh..wh.plnk", "")
        .finish();
    let stats = sb.apply(upper, &NAIVE).unwrap();
    assert_eq!(stats.entries, 12);
    assert!(!sb.exists("gone"));
    assert!(!sb.exists("gonedir"));
    assert!(!sb.exists("absent"));
    assert_eq!(sb.read("samelayer"), "mine");
    assert_eq!(sb.read("stay"), "x");
    let mut keep: Vec<_> = fs::read_dir(sb.path("keep"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    keep.sort();
    assert_eq!(keep, ["both", "new"]);
    let both: Vec<_> = fs::read_dir(sb.path("keep/both"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(both, ["upper"]);
    sb.assert_contained();
}

fn can_mknod_whiteout() -> bool {
    let tmp = tempfile::tempdir().unwrap();
    let made = rustix::fs::mknodat(
        rustix::fs::CWD,
        tmp.path().join("probe"),
        FileType::CharacterDevice,
        Mode::empty(),
        makedev(0, 0),
    );
    made.is_ok()
}

fn overlay_whiteouts_body() {
    let sb = sandbox();
    let layer = Layer::new()
        .file(".wh.gone", "")
        .dir("d/", 0o755)
        .file("d/.wh..wh..opq", "")
        .file("d/f", "f")
        // An image must not forge overlay metadata.
        .pax(&[
            ("SCHILY.xattr.user.overlay.opaque", b"y"),
            ("SCHILY.xattr.trusted.overlay.opaque", b"y"),
        ])
        .dir("forged/", 0o755)
        .file(".wh.re", "")
        .dir("re/", 0o755)
        .finish();
    if !can_mknod_whiteout() {
        let err = sb.apply(layer, &OVERLAY).unwrap_err();
        assert!(matches!(err, ExtractError::Whiteout { .. }), "{err}");
        assert!(err.to_string().contains(".wh.gone"), "{err}");
        println!("skipped: this user cannot mknod 0:0 whiteouts; got: {err}");
        return;
    }
    sb.apply(layer, &OVERLAY).unwrap();
    let gone = fs::symlink_metadata(sb.path("gone")).unwrap();
    assert!(gone.file_type().is_char_device());
    assert_eq!(gone.rdev(), 0);
    let opaque = |rel: &str| {
        let mut buf = [0u8; 8];
        rustix::fs::lgetxattr(sb.path(rel), USER_OVERLAY_OPAQUE, &mut buf)
            .map(|n| buf[..n].to_vec())
    };
    assert_eq!(opaque("d").unwrap(), b"y");
    assert_eq!(sb.read("d/f"), "f");
    assert!(opaque("forged").is_err());
    // `.wh.re` then `re/`: the new directory hides the lower one.
    assert!(fs::symlink_metadata(sb.path("re")).unwrap().is_dir());
    assert_eq!(opaque("re").unwrap(), b"y");
    sb.assert_contained();
}

#[test]
fn overlay_whiteouts() {
    overlay_whiteouts_body();
}

#[test]
fn overlay_whiteouts_as_user() {
    as_ordinary_user("overlay_whiteouts_as_user", overlay_whiteouts_body);
}

#[test]
fn applies_user_xattrs() {
    let sb = sandbox();
    let probe = sb.tmp.path().join("probe");
    fs::write(&probe, "").unwrap();
    if let Err(e) = rustix::fs::setxattr(&probe, "user.probe", b"1", XattrFlags::empty()) {
        println!("skipped: no user xattrs on this filesystem: {e}");
        return;
    }
    fs::remove_file(probe).unwrap();
    let layer = Layer::new()
        .pax(&[("SCHILY.xattr.user.hutch", b"v1")])
        .entry("f", EntryType::Regular, "", b"", 0o444)
        .finish();
    sb.apply(layer, &NAIVE).unwrap();
    let mut buf = [0u8; 8];
    let n = rustix::fs::getxattr(sb.path("f"), "user.hutch", &mut buf).unwrap();
    assert_eq!(&buf[..n], b"v1");
    assert_eq!(mode(&sb.path("f")), 0o444);
}

#[test]
fn devices_are_skipped_rootless() {
    let sb = sandbox();
    let layer = || {
        Layer::new()
            .entry("dev/null", EntryType::Char, "", b"", 0o666)
            .finish()
    };
    let stats = sb.apply(layer(), &NAIVE).unwrap();
    assert_eq!(stats.skipped_devices, 1);
    assert!(!sb.exists("dev/null"));
    if !is_root() {
        println!("skipped: making a device node needs root");
        return;
    }
    let rootful = ApplyOptions {
        skip_devices: false,
        ..NAIVE
    };
    let mut tar = layer();
    // Set the device numbers: 1:3 is /dev/null.
    let mut h = Header::from_byte_slice(&tar[..512]).clone();
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    h.set_cksum();
    tar[..512].copy_from_slice(h.as_bytes());
    sb.apply(tar, &rootful).unwrap();
    let node = fs::symlink_metadata(sb.path("dev/null")).unwrap();
    assert!(node.file_type().is_char_device());
    assert_eq!(node.rdev(), makedev(1, 3));
    assert_eq!(node.mode() & 0o7777, 0o666);
}

#[test]
fn unknown_entry_types_are_errors() {
    let sb = sandbox();
    let layer = Layer::new()
        .entry("odd", EntryType::new(b'Z'), "", b"", 0o644)
        .finish();
    let err = sb.apply(layer, &NAIVE).unwrap_err();
    assert!(matches!(err, ExtractError::Unsupported { .. }), "{err}");
}

fn collapse_body() {
    let other = if euid() == 0 { 1000 } else { 0 };
    let layer = || {
        Layer::new()
            .owned("f", EntryType::Regular, "", b"x", 0o4755, (other, other))
            .owned("d/", EntryType::Directory, "", b"", 0o755, (other, other))
            .owned("l", EntryType::Symlink, "f", b"", 0o777, (other, other))
            .finish()
    };
    let sb = sandbox();
    let collapse = ApplyOptions {
        ownership: Ownership::Collapse,
        ..NAIVE
    };
    sb.apply(layer(), &collapse).unwrap();
    for rel in ["f", "d", "l"] {
        let meta = fs::symlink_metadata(sb.path(rel)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (euid(), egid()), "{rel}");
    }
    assert_eq!(mode(&sb.path("f")), 0o4755);

    let sb = sandbox();
    let err = sb.apply(layer(), &NAIVE).unwrap_err();
    match err {
        ExtractError::Entry { entry, op, .. } => {
            assert_eq!(
                (entry.as_path(), op),
                (Path::new("f"), "changing the owner")
            )
        }
        other => panic!("expected a chown error, got: {other}"),
    }
}

#[test]
fn collapse_keeps_the_owner_when_chown_fails() {
    as_ordinary_user("collapse_keeps_the_owner_when_chown_fails", collapse_body);
}

#[test]
fn preserve_sets_owners_as_root() {
    if !is_root() {
        println!("skipped: chown to another uid needs root");
        return;
    }
    let sb = sandbox();
    let layer = Layer::new()
        .owned("f", EntryType::Regular, "", b"x", 0o2755, (1000, 1000))
        .owned("d/", EntryType::Directory, "", b"", 0o755, (1000, 1001))
        .owned(
            "l",
            EntryType::Symlink,
            "/nowhere",
            b"",
            0o777,
            (1000, 1000),
        )
        .finish();
    sb.apply(layer, &NAIVE).unwrap();
    let f = fs::metadata(sb.path("f")).unwrap();
    assert_eq!((f.uid(), f.gid(), f.mode() & 0o7777), (1000, 1000, 0o2755));
    let d = fs::metadata(sb.path("d")).unwrap();
    assert_eq!((d.uid(), d.gid()), (1000, 1001));
    let l = fs::symlink_metadata(sb.path("l")).unwrap();
    assert_eq!((l.uid(), l.gid()), (1000, 1000));

    let ignore = ApplyOptions {
        ownership: Ownership::Ignore,
        ..NAIVE
    };
    let sb = sandbox();
    let layer = Layer::new()
        .owned("f", EntryType::Regular, "", b"x", 0o644, (1000, 1000))
        .finish();
    sb.apply(layer, &ignore).unwrap();
    assert_eq!(fs::metadata(sb.path("f")).unwrap().uid(), 0);
}

#[test]
fn refuses_dot_dot_names() {
    let sb = sandbox();
    assert_refused(
        &sb,
        Layer::new().file("../escape", "x").finish(),
        "../escape",
    );
    assert_refused(
        &sb,
        Layer::new().file("a/../../escape", "x").finish(),
        "a/../../escape",
    );
    assert_refused(
        &sb,
        Layer::new().file("./../outside/secret", "x").finish(),
        "./../outside/secret",
    );
    assert_refused(
        &sb,
        Layer::new().dir("../outside/new/", 0o755).finish(),
        "../outside/new/",
    );
    assert_refused(
        &sb,
        Layer::new().file("../.wh.outside", "").finish(),
        "../.wh.outside",
    );
    assert_refused(&sb, Layer::new().file(".wh...", "").finish(), ".wh...");
    // Long names come from PAX records and GNU entries, not the header.
    let pax_path = Layer::new()
        .pax(&[("path", b"ok/../../outside/secret")])
        .file("innocent", "x");
    assert_refused(&sb, pax_path.finish(), "ok/../../outside/secret");
    let pax_link = Layer::new()
        .pax(&[("linkpath", b"../outside/secret")])
        .hardlink("h", "innocent");
    assert_refused(&sb, pax_link.finish(), "h");
    let mut gnu = Builder::new(Vec::new());
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Regular);
    h.set_size(0);
    h.set_mode(0o644);
    h.set_mtime(MTIME);
    h.set_uid(euid().into());
    h.set_gid(egid().into());
    let long = format!("{}/../../escape", "d".repeat(117));
    // append_data writes a GNU long-name entry, and refuses `..`: go around.
    gnu.append_data(&mut h, "d".repeat(130), io::empty())
        .unwrap();
    let mut tar = gnu.into_inner().unwrap();
    let start = tar
        .windows(130)
        .position(|w| w == "d".repeat(130).as_bytes())
        .unwrap();
    tar[start..start + long.len()].copy_from_slice(long.as_bytes());
    assert_refused(&sb, tar, &long);
}

#[test]
fn refuses_absolute_names() {
    let sb = sandbox();
    assert_refused(
        &sb,
        Layer::new().file("/abs/path", "x").finish(),
        "/abs/path",
    );
    let abs = format!("{}/escape", sb.outside.display());
    assert_refused(&sb, Layer::new().file(&abs, "x").finish(), &abs);
    assert!(!Path::new("/abs").exists());
}

#[test]
fn refuses_the_root_as_a_non_directory() {
    let sb = sandbox();
    assert_refused(&sb, Layer::new().symlink(".", "/").finish(), ".");
    assert_refused(&sb, Layer::new().hardlink("./", "x").finish(), "./");
}

#[test]
fn refuses_writing_through_symlinked_parents() {
    let escape = "hutch-extract-test-escape";
    let cases = [
        Layer::new().symlink("link", "..").file("link/escape", "x"),
        Layer::new()
            .symlink("link", "/")
            .file(&format!("link/tmp/{escape}"), "x"),
        Layer::new()
            .symlink("link", "../outside")
            .file("link/secret", "pwned"),
        Layer::new()
            .symlink("link", "../outside")
            .dir("link/new/", 0o755),
        Layer::new()
            .symlink("link", "../outside")
            .symlink("link/new", "/"),
        Layer::new()
            .symlink("link", "../outside")
            .file("link/.wh.secret", ""),
        Layer::new()
            .symlink("link", "../outside")
            .file("link/.wh..wh..opq", ""),
        Layer::new()
            .dir("d/", 0o755)
            .symlink("d/up", "../..")
            .file("d/up/outside/x", ""),
    ];
    let entries = [
        "link/escape".to_owned(),
        format!("link/tmp/{escape}"),
        "link/secret".into(),
        "link/new/".into(),
        "link/new".into(),
        "link/.wh.secret".into(),
        "link/.wh..wh..opq".into(),
        "d/up/outside/x".into(),
    ];
    for (layer, entry) in cases.into_iter().zip(entries) {
        let sb = sandbox();
        assert_refused(&sb, layer.finish(), &entry);
        assert!(!Path::new("/tmp").join(escape).exists());
    }
}

#[test]
fn refuses_hardlinks_leaving_the_layer() {
    let sb = sandbox();
    let abs_secret = format!("{}/secret", sb.outside.display());
    let cases = [
        Layer::new()
            .symlink("link", "..")
            .hardlink("h", "link/../../etc/passwd"),
        Layer::new().hardlink("h", "/etc/passwd"),
        Layer::new().hardlink("h", &abs_secret),
        Layer::new().hardlink("h", "../outside/secret"),
        Layer::new()
            .symlink("link", "../outside")
            .hardlink("h", "link/secret"),
        Layer::new().dir("d/", 0o755).hardlink("h", "d"),
        Layer::new().hardlink("h", "."),
    ];
    for layer in cases {
        let sb = sandbox();
        assert_refused(&sb, layer.finish(), "h");
        assert!(!sb.exists("h"));
    }
}

#[test]
fn replaces_symlinks_instead_of_writing_through_them() {
    let sb = sandbox();
    symlink("../outside/secret", sb.path("victim")).unwrap();
    symlink("../outside", sb.path("victimdir")).unwrap();
    let layer = Layer::new()
        .file("victim", "mine")
        .dir("victimdir/", 0o755)
        .symlink("inlayer", "../outside/secret")
        .file("inlayer", "mine too")
        .symlink("tolink", "../outside/secret")
        .hardlink("h", "tolink")
        .finish();
    sb.apply(layer, &NAIVE).unwrap();
    assert_eq!(sb.read("victim"), "mine");
    assert!(fs::symlink_metadata(sb.path("victimdir")).unwrap().is_dir());
    assert_eq!(sb.read("inlayer"), "mine too");
    // A hardlink to a symlink is the symlink, not what it points to.
    assert!(
        fs::symlink_metadata(sb.path("h"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    sb.assert_contained();
}

#[test]
fn runs_of_zeros_take_no_disk() {
    let sandbox = tempfile::tempdir().unwrap();
    let dest = sandbox.path().join("layer");
    fs::create_dir(&dest).unwrap();
    let mut data = vec![0u8; 64 << 20];
    data[0] = 1;
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    b.append_data(&mut h, "zeros", &data[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let opts = ApplyOptions {
        whiteouts: WhiteoutFormat::Naive,
        ownership: Ownership::Ignore,
        skip_devices: true,
    };
    apply_layer(&tar[..], &dest, &opts).unwrap();
    let meta = fs::metadata(dest.join("zeros")).unwrap();
    assert_eq!(meta.len(), 64 << 20, "full length");
    assert!(
        meta.blocks() * 512 < 1 << 20,
        "zeros not written: {} blocks",
        meta.blocks()
    );
    let back = fs::read(dest.join("zeros")).unwrap();
    assert_eq!(back[0], 1);
    assert!(back[1..].iter().all(|b| *b == 0));
}

#[test]
fn literal_whiteouts_and_fixed_owners_for_cp() {
    let sb = sandbox();
    fs::write(sb.path("gone"), "stays").unwrap();
    let layer = Layer::new()
        .file(".wh.gone", "a file")
        .file("f", "x")
        .finish();
    let dir = rustix::fs::open(
        sb.path(""),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap();
    let opts = ApplyOptions {
        whiteouts: WhiteoutFormat::Literal,
        ownership: Ownership::Fixed {
            uid: euid(),
            gid: egid(),
        },
        skip_devices: true,
    };
    apply_layer_at(&layer[..], dir.as_fd(), &opts).unwrap();
    assert_eq!(sb.read("gone"), "stays", "a .wh. name is no whiteout here");
    assert_eq!(sb.read(".wh.gone"), "a file");
    assert_eq!(fs::metadata(sb.path("f")).unwrap().uid(), euid());
}
