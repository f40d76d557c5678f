//! Transient scopes from the user's systemd instance over D-Bus (zbus, the
//! blocking API): `StartTransientUnit` of `NAME.scope` in `user.slice` with
//! `Delegate=yes` and the given pids, as Podman does for conmon and its
//! pause process.
//!
//! hutch talks to the bus from inside its user namespace, where the
//! process's euid is 0; the EXTERNAL authentication must name the real uid
//! (the bus daemon compares it with the socket peer's credentials, which
//! the kernel reports in the daemon's namespace), so the uid the CLI
//! exported before joining is sent instead of the euid.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use zbus::zvariant::Value;

/// How long systemd may take to move the pids into a new scope.
const SCOPE_TIMEOUT: Duration = Duration::from_secs(10);

/// The uid the session bus knows this user by.
pub fn real_uid() -> u32 {
    std::env::var(hutch_userns::ROOTLESS_UID_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| rustix::process::getuid().as_raw())
}

/// A connection to the session bus at `bus`, authenticated as the real uid.
pub fn connect(bus: &Path) -> anyhow::Result<zbus::blocking::Connection> {
    zbus::blocking::connection::Builder::address(format!("unix:path={}", bus.display()).as_str())
        .with_context(|| format!("the session bus address {}", bus.display()))?
        .auth_mechanism(zbus::AuthMechanism::External)
        .user_id(real_uid())
        .build()
        .with_context(|| format!("authenticating on the session bus at {}", bus.display()))
}

/// Starts `unit` (a ".scope" name) holding `pids` in `slice`, and waits
/// until the first pid sits in it. Returns the scope's cgroup path.
pub fn start_scope(
    bus: &Path,
    unit: &str,
    slice: &str,
    description: &str,
    pids: &[u32],
) -> anyhow::Result<String> {
    let conn = connect(bus)?;
    let props: Vec<(&str, Value<'_>)> = vec![
        ("Description", Value::from(description)),
        ("Slice", Value::from(slice)),
        ("Delegate", Value::from(true)),
        ("PIDs", Value::from(pids.to_vec())),
        // A failed scope is collected too: the next container of the same
        // name must not find a stale unit.
        ("CollectMode", Value::from("inactive-or-failed")),
        ("DefaultDependencies", Value::from(false)),
    ];
    let aux: Vec<(&str, Vec<(&str, Value<'_>)>)> = Vec::new();
    conn.call_method(
        Some("org.freedesktop.systemd1"),
        "/org/freedesktop/systemd1",
        Some("org.freedesktop.systemd1.Manager"),
        "StartTransientUnit",
        &(unit, "fail", props, aux),
    )
    .with_context(|| format!("asking the systemd user instance for scope {unit}"))?;
    // The job runs asynchronously; the pid's own cgroup file says when the
    // move is done, without subscribing to JobRemoved.
    let first = pids.first().copied().context("a scope needs a pid")?;
    let deadline = Instant::now() + SCOPE_TIMEOUT;
    loop {
        if let Some(path) = super::v2::cgroup_of(Some(first as i32))
            && let Some(end) = path.find(&format!("/{unit}"))
        {
            return Ok(path[..end + 1 + unit.len()].to_owned());
        }
        if Instant::now() > deadline {
            bail!(
                "systemd did not move process {first} into {unit} within {}s",
                SCOPE_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Moves the pause process into `hutch-pause.scope`, so that the user's
/// systemd tracks it as its own unit (visible to `systemctl --user`, and
/// not killed with the login session that happened to start it). Errors
/// are only logged: the namespace works without it.
pub fn move_pause(ctx: &crate::config::Context, pause_pid: i32) {
    let host = super::detect_for(ctx);
    if host.manager != super::Manager::Systemd {
        return;
    }
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").map(std::path::PathBuf::from);
    let Some(bus) = super::session_bus(xdg.as_deref()) else {
        return;
    };
    if let Err(e) = start_scope(
        &bus,
        "hutch-pause.scope",
        "user.slice",
        "hutch user namespace pause process",
        &[pause_pid as u32],
    ) {
        tracing::warn!("moving the pause process into hutch-pause.scope: {e:#}");
    }
}

#[cfg(test)]
mod tests {
    /// Run by hand inside a user namespace (`unshare -U -r`) with a session
    /// bus of the real user at $HUTCH_TEST_BUS and _HUTCH_ROOTLESS_UID set:
    /// the EXTERNAL authentication must succeed although euid is 0.
    #[test]
    #[ignore = "needs a session bus and a user namespace"]
    fn external_auth_presents_the_real_uid() {
        let bus = std::env::var("HUTCH_TEST_BUS").expect("HUTCH_TEST_BUS");
        let conn = super::connect(std::path::Path::new(&bus)).expect("authenticated");
        let reply = conn
            .call_method(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                Some("org.freedesktop.DBus"),
                "GetId",
                &(),
            )
            .expect("GetId");
        let id: String = reply.body().deserialize().expect("a string");
        assert!(!id.is_empty());
    }
}
