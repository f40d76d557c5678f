//! The launch description a container's monitor runs from
//! (`userdata/launch.json`, [`hutch_monitor::launch::Launch`]): built here
//! from the stored container and what the spawner prepared.

use std::path::PathBuf;

use anyhow::Context as _;
use hutch_monitor::launch::{ForwardLaunch, HelperLaunch, Launch, LogTarget, RuntimeCommands};

use super::Paths;
use super::lifecycle::{self, RestartPolicy};
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
}

pub fn fields_of(c: &Container, paths: &Paths) -> MonitorFields {
    let req = lifecycle::request_of(c);
    MonitorFields {
        tty: req.tty,
        interactive: req.interactive,
        restart: req
            .restart
            .as_deref()
            .and_then(|p| RestartPolicy::parse(p).ok())
            .unwrap_or(RestartPolicy::No),
        log: super::create::log_path(paths, &req).map(|path| LogTarget {
            path,
            max_size: super::create::log_config(&req).max_size,
        }),
    }
}

/// What the spawner decided for one start.
pub struct Prepared {
    pub wait_for_attach: bool,
    pub remove: bool,
    pub helper: Option<HelperLaunch>,
    pub forward: Option<ForwardLaunch>,
    pub cgroup: bool,
    pub cgroup_return: Option<PathBuf>,
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
    let single = prep.helper.is_none() && !prep.cgroup;
    let pid_file = paths.pid_file();
    let (create, start) = if single {
        (
            runtime.run_detached_args(id, &paths.userdata, &pid_file, console.as_deref()),
            None,
        )
    } else {
        (
            runtime.create_args(id, &paths.userdata, &pid_file, console.as_deref()),
            Some(texts(runtime.start_args(id))?),
        )
    };
    let exe = std::fs::read_link("/proc/self/exe").context("finding the hutch binary")?;
    let mut cleanup = vec![text(exe)?];
    if let Some(root) = &ctx.root_override {
        cleanup.extend(["--root".to_owned(), text(root.clone())?]);
    }
    if let Some(driver) = &ctx.storage_driver {
        cleanup.extend(["--storage-driver".to_owned(), driver.clone()]);
    }
    if let Some(manager) = &ctx.cgroup_manager {
        cleanup.extend(["--cgroup-manager".to_owned(), manager.clone()]);
    }
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
        wait_go: prep.cgroup,
        helper: prep.helper,
        forward: prep.forward,
        cgroup_return: prep.cgroup_return,
        cleanup,
    })
}
