//! Build script of the root package (`build = ...` in the top Cargo.toml):
//! links the `hutch-monitor` binary as a static PIE where the C library's
//! static archive is installed (glibc: libc6-dev), and leaves it dynamic
//! otherwise. No other target of the package is affected.
//!
//! Why: one monitor runs per container, and a dynamically linked one has
//! the whole shared libc (about 1.3 MB), ld.so and libgcc_s mapped and
//! resident in its RSS; static, it maps only the parts it uses (RSS about
//! 1.8 MB instead of 2.6 MB in a release build; conmon has 2.4 MB).
//!
//! How: `-static-pie` for that binary alone (`rustc-link-arg-bin`). The
//! standard library was built for dynamic linking and asks for `-lgcc_s`
//! and `-lc` between `-Bdynamic` switches, so a directory searched before
//! the system's (all `-L` apply to every `-l`) holds linker scripts of the
//! same names that name the static archives instead.

use std::path::{Path, PathBuf};
use std::process::Command;

fn archive(cc: &str, name: &str) -> Option<PathBuf> {
    let out = Command::new(cc)
        .arg(format!("-print-file-name={name}"))
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    // An unknown file is printed back as given, without a directory.
    (path.is_absolute() && path.is_file()).then_some(path)
}

fn main() {
    println!("cargo:rerun-if-changed=src/monitor/link-static.rs");
    println!("cargo:rerun-if-env-changed=HUTCH_MONITOR_DYNAMIC");
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if !linux_gnu || std::env::var_os("HUTCH_MONITOR_DYNAMIC").is_some() {
        return;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let (Some(libc), Some(libm), Some(_)) = (
        archive(&cc, "libc.a"),
        archive(&cc, "libm.a"),
        archive(&cc, "libgcc_eh.a"),
    ) else {
        println!("cargo:warning=no static libc.a: hutch-monitor is linked dynamically (more RSS)");
        return;
    };
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return;
    };
    let dir = out.join("monitor-static");
    let scripts: [(&str, String); 3] = [
        ("libc.a", format!("INPUT({})\n", libc.display())),
        ("libm.a", format!("INPUT({})\n", libm.display())),
        ("libgcc_s.a", "INPUT(-lgcc_eh)\n".to_owned()),
    ];
    let written = std::fs::create_dir_all(&dir).is_ok()
        && scripts
            .iter()
            .all(|(name, text)| std::fs::write(dir.join(name), text).is_ok());
    if !written {
        println!(
            "cargo:warning=cannot write {}: hutch-monitor is linked dynamically",
            dir.display()
        );
        return;
    }
    link_static(&dir);
}

fn link_static(dir: &Path) {
    println!("cargo:rustc-link-arg-bin=hutch-monitor=-static-pie");
    println!("cargo:rustc-link-arg-bin=hutch-monitor=-L{}", dir.display());
}
