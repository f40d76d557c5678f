//! Kernel settings under /proc/sys, and the security modules that decide
//! whether an unprivileged user may make a user namespace.
//!
//! Test hook: `HUTCH_TEST_PROC_SYS_DIR=DIR` makes a file `DIR/<key>` (for
//! example `DIR/kernel/apparmor_restrict_unprivileged_userns`) answer for
//! `/proc/sys/<key>`; keys without a file there are read from /proc/sys.
//! A test cannot switch on Ubuntu's AppArmor restriction on a Debian
//! kernel; this is how it simulates one. Read here and nowhere else.

use std::path::{Path, PathBuf};

/// The documented test hook (see the module comment).
pub const TEST_PROC_SYS_ENV: &str = "HUTCH_TEST_PROC_SYS_DIR";

/// The file that answers for `key` ("user/max_user_namespaces").
fn file_for(key: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os(TEST_PROC_SYS_ENV).filter(|v| !v.is_empty()) {
        let hooked = Path::new(&dir).join(key);
        if hooked.is_file() {
            return hooked;
        }
    }
    Path::new("/proc/sys").join(key)
}

/// A sysctl's value, trimmed; None when the kernel has no such key.
pub fn read(key: &str) -> Option<String> {
    std::fs::read_to_string(file_for(key))
        .ok()
        .map(|v| v.trim().to_owned())
}

/// A numeric sysctl.
pub fn read_u64(key: &str) -> Option<u64> {
    read(key)?.parse().ok()
}

/// SELinux's mode: "enforcing", "permissive" or "disabled".
pub fn selinux_mode() -> &'static str {
    match std::fs::read_to_string("/sys/fs/selinux/enforce") {
        Ok(v) if v.trim() == "1" => "enforcing",
        Ok(_) => "permissive",
        Err(_) => "disabled",
    }
}

/// Whether AppArmor is active in the kernel.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.trim().eq_ignore_ascii_case("y"))
}
