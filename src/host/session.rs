//! The user's login session as systemd-logind sees it: whether the user
//! lingers (a user manager without a login) and whether logind kills a
//! user's processes when the last session ends (`KillUserProcesses`),
//! which ends containers started from an ssh login.

use std::path::Path;

/// Whether systemd is the init system (logind settings mean something).
pub fn systemd_booted() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// `loginctl enable-linger USER` leaves this file.
pub fn lingers(user: &str) -> bool {
    !user.is_empty() && Path::new("/var/lib/systemd/linger").join(user).exists()
}

/// logind.conf's `KillUserProcesses`, drop-ins applied in logind's order
/// (the main file, then `*.conf` of the drop-in directories by name);
/// systemd's compiled-in default is `no`.
pub fn kill_user_processes() -> bool {
    let mut files = vec![std::path::PathBuf::from("/etc/systemd/logind.conf")];
    let mut dropins: Vec<std::path::PathBuf> = [
        "/usr/lib/systemd/logind.conf.d",
        "/run/systemd/logind.conf.d",
        "/etc/systemd/logind.conf.d",
    ]
    .iter()
    .filter_map(|d| std::fs::read_dir(d).ok())
    .flatten()
    .flatten()
    .map(|e| e.path())
    .filter(|p| p.extension().is_some_and(|x| x == "conf"))
    .collect();
    dropins.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    files.extend(dropins);
    let mut value = false;
    for f in files {
        if let Ok(text) = std::fs::read_to_string(&f)
            && let Some(v) = kill_setting(&text)
        {
            value = v;
        }
    }
    value
}

fn kill_setting(text: &str) -> Option<bool> {
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("KillUserProcesses="))
        .map(|v| matches!(v.trim(), "yes" | "true" | "1" | "on"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn last_kill_setting_wins_and_comments_do_not_count() {
        assert_eq!(
            super::kill_setting("[Login]\n#KillUserProcesses=yes\n"),
            None
        );
        assert_eq!(
            super::kill_setting("KillUserProcesses=yes\nKillUserProcesses=no\n"),
            Some(false)
        );
        assert_eq!(super::kill_setting("KillUserProcesses=yes"), Some(true));
    }
}
