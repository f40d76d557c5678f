//! The launch description a container's monitor runs from
//! (`userdata/launch.json`, [`hutch_monitor::launch::Launch`]): built here
//! from the stored container and what the spawner prepared.

use std::path::PathBuf;

use anyhow::Context as _;
use hutch_monitor::launch::{
    ForwardLaunch, HealthLaunch, HelperLaunch, Launch, LogTarget, Notify, RuntimeCommands,
};

use super::Paths;
use super::lifecycle::RestartPolicy;
use crate::config::Context;
use crate::engine::state::Container;
use crate::runtime::oci::OciRuntime;

/// What the monitor and the cleanup need of the container's spec. The one
/// place that reads the stored request for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorFields {
    pub tty: bool,
    pub interactive: bool,
    pub restart: RestartPolicy,
    /// `None`: `--log-driver none`.
    pub log: Option<LogTarget>,
    /// `--timeout` in seconds.
    pub timeout: Option<u64>,
    /// The health check's interval, when it has a timer.
    pub health_interval_ns: Option<u64>,
    /// `--sdnotify` (all but `ignore`): the socket the monitor tells, and
    /// what.
    pub notify_socket: Option<String>,
    pub notify: Notify,
}

pub fn fields_of(ctx: &Context, c: &Container, paths: &Paths) -> MonitorFields {
    use crate::spec::SdNotify;
    let spec = &c.spec;
    MonitorFields {
        tty: spec.tty,
        interactive: spec.interactive,
        restart: spec.restart,
        log: super::create::log_path(paths, &spec.log).map(|path| LogTarget {
            path,
            max_size: spec.log.max_size,
        }),
        timeout: spec.run_timeout,
        health_interval_ns: super::health::timer_interval(c),
        notify_socket: spec
            .notify_socket
            .clone()
            .filter(|_| spec.sdnotify != SdNotify::Ignore),
        notify: match spec.sdnotify {
            SdNotify::Conmon | SdNotify::Ignore => Notify::Conmon,
            SdNotify::Healthy => Notify::Healthy,
            SdNotify::Container => Notify::Container {
                socket: super::notify::dir(ctx, &c.id).join(super::notify::SOCKET_NAME),
            },
        },
    }
}

/// What the spawner decided for one start.
pub struct Prepared {
    pub wait_for_attach: bool,
    pub remove: bool,
    pub helper: Option<HelperLaunch>,
    pub forward: Option<ForwardLaunch>,
    pub cgroup: bool,
    /// The container may start before its network helper is ready (a
    /// pod's default infra container, see `pod_join::is_default_infra`).
    pub start_before_network: bool,
    pub cgroup_return: Option<PathBuf>,
    /// Descriptors the spawner places for the container (from 4 in the
    /// monitor; 3.. in the container).
    pub pass_fds: u32,
    /// `container restore`: the runtime's `restore --detach` instead of
    /// `create`/`start`.
    pub restore: Option<super::monitor::RestoreFlags>,
    /// `init`: the monitor holds the created container until `start`.
    pub hold: bool,
}

fn text(p: impl Into<std::ffi::OsString>) -> anyhow::Result<String> {
    p.into()
        .into_string()
        .map_err(|p| anyhow::anyhow!("path {p:?} is not UTF-8: the monitor cannot be given it"))
}

fn texts(args: Vec<std::ffi::OsString>) -> anyhow::Result<Vec<String>> {
    args.into_iter().map(text).collect()
}

pub fn build(
    ctx: &Context,
    id: &str,
    paths: &Paths,
    fields: &MonitorFields,
    runtime: &OciRuntime,
    prep: Prepared,
) -> anyhow::Result<Launch> {
    let console = fields.tty.then(|| paths.console_socket());
    // Without a hook between the two (a network helper to wait for, a
    // cgroup to finish), `run --detach` creates and starts the container
    // in one runtime process instead of two.
    // A container that may run before its network is ready needs no hook
    // for it either: the monitor waits for the helper after the runtime's
    // `run --detach`, before it reports the start.
    let single = (prep.helper.is_none() || prep.start_before_network) && !prep.cgroup && !prep.hold;
    let pid_file = paths.pid_file();
    // A container with a user namespace of its own gets a root it can
    // reach (see userns_view).
    let bundle = super::userns_view::bundle(ctx, id, paths)?;
    let (mut create, start) = if let Some(r) = prep.restore {
        // One runtime process makes and runs the restored container, as
        // `run --detach` does; the monitor needs no other step.
        let image = super::checkpoint::image_dir(paths);
        let args = crate::runtime::oci::CheckpointArgs {
            image_path: &image,
            work_path: &paths.userdata,
            leave_running: false,
            tcp_established: r.tcp_established,
            file_locks: r.file_locks,
            pre_dump: false,
            parent_path: None,
        };
        (
            runtime.restore_args(id, &paths.userdata, &pid_file, console.as_deref(), &args),
            None,
        )
    } else if single {
        (
            runtime.run_detached_args(id, &bundle, &pid_file, console.as_deref()),
            None,
        )
    } else {
        (
            runtime.create_args(id, &bundle, &pid_file, console.as_deref()),
            Some(texts(runtime.start_args(id))?),
        )
    };
    if prep.pass_fds > 0 {
        // Before the container id, which ends the arguments.
        let id_arg = create.pop();
        create.extend(["--preserve-fds".into(), prep.pass_fds.to_string().into()]);
        create.extend(id_arg);
    }
    // hutch with this command's global flags: the cleanup and the health
    // check run against the same store.
    let hutch = hutch_command(ctx)?;
    let health = fields.health_interval_ns.map(|interval_ns| {
        let mut command = hutch.clone();
        command.extend(["healthcheck".to_owned(), "run".to_owned(), id.to_owned()]);
        HealthLaunch {
            interval_ns,
            command,
        }
    });
    let mut cleanup = hutch;
    cleanup.extend(["__cleanup".to_owned(), id.to_owned()]);
    if prep.remove {
        cleanup.push("--rm".to_owned());
    }
    Ok(Launch {
        id: id.to_owned(),
        runtime: RuntimeCommands {
            name: runtime.name.clone(),
            path: runtime.path.clone(),
            create: texts(create)?,
            start,
        },
        pid_file,
        exit_file: paths.exit(),
        attach_socket: paths.attach.clone(),
        console_socket: console,
        interactive: fields.interactive,
        log: fields.log.clone(),
        wait_for_attach: prep.wait_for_attach,
        // hutch mounts the layer after the monitor started (its start, and
        // the helper's, overlap the mount), and enters the cgroup.
        wait_go: true,
        helper_after_go: prep.cgroup,
        helper: prep.helper,
        forward: prep.forward,
        cgroup_return: prep.cgroup_return,
        cleanup,
        timeout: fields.timeout,
        health,
        notify_socket: fields.notify_socket.clone(),
        notify: fields.notify.clone(),
        pass_fds: prep.pass_fds,
        hold_socket: prep.hold.then(|| paths.hold_socket()),
    })
}

/// This hutch binary with the global flags of this command (`--root`,
/// `--runroot`, ...): what runs later against the same store (the
/// cleanup, health checks, a systemd unit's commands).
pub fn hutch_command(ctx: &Context) -> anyhow::Result<Vec<String>> {
    let exe = std::fs::read_link("/proc/self/exe").context("finding the hutch binary")?;
    let mut hutch = vec![text(exe)?];
    if let Some(root) = &ctx.root_override {
        hutch.extend(["--root".to_owned(), text(root.clone())?]);
    }
    if let Some(driver) = &ctx.storage_driver {
        hutch.extend(["--storage-driver".to_owned(), driver.clone()]);
    }
    if let Some(manager) = &ctx.cgroup_manager {
        hutch.extend(["--cgroup-manager".to_owned(), manager.clone()]);
    }
    if let Some(run_root) = &ctx.run_root {
        hutch.extend(["--runroot".to_owned(), text(run_root.clone())?]);
    }
    for flag in &ctx.runtime_flags {
        hutch.extend(["--runtime-flag".to_owned(), flag.clone()]);
    }
    for opt in &ctx.storage_opts {
        hutch.extend(["--storage-opt".to_owned(), opt.clone()]);
    }
    Ok(hutch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::oci::Kind;

    fn runtime() -> OciRuntime {
        OciRuntime {
            name: "runc".into(),
            path: "/usr/bin/runc".into(),
            kind: Kind::Runc,
            state_root: "/run/hutch/runtime/runc".into(),
            cgroups_disabled: true,
            extra_flags: Vec::new(),
        }
    }

    fn prep(cgroup: bool, remove: bool) -> Prepared {
        Prepared {
            wait_for_attach: false,
            remove,
            helper: None,
            forward: None,
            cgroup,
            start_before_network: false,
            cgroup_return: None,
            pass_fds: 0,
            restore: None,
            hold: false,
        }
    }

    #[test]
    fn one_runtime_process_without_a_hook_and_the_cleanup_command() {
        let mut ctx = Context::detect();
        ctx.root_override = Some("/srv/graph".into());
        let id = "0123456789abcdef";
        let paths = Paths::new(&ctx, std::path::Path::new("/srv/graph"), id);
        let fields = MonitorFields {
            tty: true,
            interactive: true,
            restart: RestartPolicy::No,
            log: None,
            timeout: None,
            health_interval_ns: Some(1_000_000_000),
            notify_socket: None,
            notify: Notify::Conmon,
        };
        let l = build(&ctx, id, &paths, &fields, &runtime(), prep(false, true)).expect("built");
        assert!(l.runtime.start.is_none(), "run --detach does both");
        assert!(
            l.runtime
                .create
                .windows(2)
                .any(|w| w == ["run", "--detach"]),
            "{:?}",
            l.runtime.create
        );
        let console = l.console_socket.clone().expect("-t: a console socket");
        assert!(
            l.runtime
                .create
                .iter()
                .any(|a| *a == console.display().to_string())
        );
        assert!(l.wait_go && !l.helper_after_go);
        let tail: Vec<&str> = l.cleanup.iter().map(String::as_str).skip(1).collect();
        assert_eq!(tail, ["--root", "/srv/graph", "__cleanup", id, "--rm"]);
        let health = l.health.as_ref().expect("a health timer");
        let tail: Vec<&str> = health.command.iter().map(String::as_str).skip(1).collect();
        assert_eq!(tail, ["--root", "/srv/graph", "healthcheck", "run", id]);
        assert_eq!(health.interval_ns, 1_000_000_000);
        assert_eq!(l.exit_file, paths.exit());

        // A cgroup to enter between fork and create: two runtime steps, and
        // the helper starts in it, after hutch's `go`.
        let l = build(&ctx, id, &paths, &fields, &runtime(), prep(true, false)).expect("built");
        assert!(l.runtime.create.iter().any(|a| a == "create"));
        assert!(
            l.runtime
                .start
                .as_ref()
                .is_some_and(|s| s.iter().any(|a| a == "start"))
        );
        assert!(l.wait_go && l.helper_after_go);
        assert!(!l.cleanup.iter().any(|a| a == "--rm"));

        // Descriptors for the container: the runtime's `create` is told,
        // before the container id that ends its arguments.
        let mut with_fds = prep(false, false);
        with_fds.pass_fds = 2;
        let l = build(&ctx, id, &paths, &fields, &runtime(), with_fds).expect("built");
        assert_eq!(
            l.runtime.create[l.runtime.create.len() - 3..],
            ["--preserve-fds", "2", id]
        );
        assert_eq!(l.pass_fds, 2);

        // A restore: one `restore --detach` from the userdata's images,
        // whatever else the start needs.
        let mut p = prep(true, false);
        p.restore = Some(super::super::monitor::RestoreFlags {
            tcp_established: true,
            file_locks: true,
        });
        let l = build(&ctx, id, &paths, &fields, &runtime(), p).expect("built");
        assert!(l.runtime.start.is_none());
        let args = &l.runtime.create;
        assert!(
            args.windows(2).any(|w| w == ["restore", "--detach"]),
            "{args:?}"
        );
        let images = paths.userdata.join("checkpoint").display().to_string();
        assert!(
            args.windows(2)
                .any(|w| w[0] == "--image-path" && w[1] == images)
        );
        assert!(args.iter().any(|a| a == "--tcp-established"));
        assert_eq!(args.last().map(String::as_str), Some(id));
    }
}
