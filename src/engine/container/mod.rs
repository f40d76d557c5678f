//! Containers: create from an image, start under a monitor, remove. One
//! file per operation; the request types are plain data.

mod accounts;
pub mod activation;
pub mod attach;
pub mod cdi;
pub mod changes;
pub mod checkpoint;
pub mod checkpoint_archive;
pub mod checkpoint_image;
pub mod cleanup;
pub mod clone;
pub mod commit;
pub mod conf_defaults;
pub mod copy;
pub mod create;
mod criu_stats;
pub mod depend;
pub mod etc;
pub mod events;
pub mod exec;
pub mod exists;
pub mod export;
pub mod generate_spec;
pub mod health;
pub(crate) mod host;
pub mod init;
pub mod inroot;
pub mod inspect;
pub mod kill;
pub mod launch;
pub mod lifecycle;
pub mod list;
pub mod logs;
pub mod monitor;
pub mod network;
pub mod notify;
pub mod oci_config;
pub mod path_stat;
pub mod pause;
pub mod pod_join;
pub mod port;
pub mod prune;
pub mod remove;
pub mod rename;
pub mod restart;
pub mod restore;
pub mod rootfs;
pub mod select;
mod setup;
pub mod start;
pub mod stats;
pub mod stop;
pub mod sysctl;
pub mod systemd_unit;
pub mod top;
pub mod tree;
pub mod update;
pub mod usernet;
pub mod userns_view;
pub mod wait;
mod workdir;

use std::path::PathBuf;

use crate::config::Context;
use crate::engine::state::State;

/// Where a container's files live.
pub struct Paths {
    /// `<graphroot>/containers/<id>/userdata`: the bundle (config.json),
    /// the log, the exit record.
    pub userdata: PathBuf,
    /// The attach socket, in the runtime dir (short: socket paths are
    /// limited to 108 bytes).
    pub attach: PathBuf,
}

impl Paths {
    pub fn new(ctx: &Context, graphroot: &std::path::Path, id: &str) -> Paths {
        Paths {
            userdata: graphroot.join("containers").join(id).join("userdata"),
            attach: ctx.run_dir.join("s").join(&id[..12.min(id.len())]),
        }
    }

    pub fn log(&self) -> PathBuf {
        self.userdata.join("ctr.log")
    }

    pub fn exit(&self) -> PathBuf {
        self.userdata.join("exit")
    }

    /// Where the runtime hands over a `-t` container's terminal (beside the
    /// attach socket, for the same length limit).
    pub fn console_socket(&self) -> PathBuf {
        let mut p = self.attach.clone().into_os_string();
        p.push(".c");
        PathBuf::from(p)
    }

    /// Where an initialized container's monitor waits for its `start`
    /// (beside the attach socket, for the same length limit).
    pub fn hold_socket(&self) -> PathBuf {
        let mut p = self.attach.clone().into_os_string();
        p.push(".i");
        PathBuf::from(p)
    }

    pub fn pid_file(&self) -> PathBuf {
        self.userdata.join("pidfile")
    }
}

/// The OCI runtime for a container: selected by name, its state under
/// the caller's run root, with the `--runtime-flag` global flags.
pub(crate) fn oci_runtime(
    ctx: &Context,
    requested: Option<&str>,
    cgroups_disabled: bool,
) -> std::result::Result<
    (crate::runtime::oci::OciRuntime, Option<String>),
    crate::runtime::oci::RuntimeError,
> {
    use crate::runtime::oci;
    let (mut runtime, note) = oci::select(
        requested,
        &oci::host_facts(),
        &ctx.runtime_root(),
        cgroups_disabled,
    )?;
    runtime.extra_flags = ctx.runtime_flags.iter().map(|f| format!("--{f}")).collect();
    Ok((runtime, note))
}

/// The state database beside the image store.
pub fn open_state(ctx: &Context) -> crate::engine::Result<State> {
    use crate::engine::ResultExt as _;
    let conf = crate::engine::image::storage_conf(ctx)?;
    let root = crate::engine::image::graph_root(ctx, &conf);
    let path = root.join("state").join("hutch.db");
    // What the database records lives on in these directories: an
    // emptied database must not forget it silently.
    let tracked = [
        ("containers", root.join("containers")),
        ("volumes", crate::engine::volume::volumes_dir(&root)),
    ];
    let mut state = State::open_tracking(&path, &tracked)
        .with_context(|| format!("opening the container state at {}", path.display()))?;
    if let Some(max) = &ctx.containers_conf().events_logfile_max_size {
        match crate::spec::parse::log::size(max) {
            Ok(bytes) => state.set_events_max_size(bytes),
            Err(e) => tracing::warn!(
                "containers.conf [engine] events_logfile_max_size: {e}; keeping {} bytes",
                crate::engine::state::event::DEFAULT_EVENTS_MAX
            ),
        }
    }
    Ok(state)
}
