//! The steps that change files run in containers made by the engine's own
//! create and start, as `run` makes them: RUN in the user namespace with
//! the image's user, default capabilities and seccomp; COPY and ADD write
//! into a created (not started) container's mounted root. Each container
//! is removed after its changes are committed.

use std::io::Write;
use std::os::fd::AsFd;

use crate::config::Context;
use crate::engine::container::attach::{AttachOptions, Output};
use crate::engine::container::create::{self, CreateOptions, PullPolicy};
use crate::engine::container::remove::{self, RemoveOptions};
use crate::engine::container::rootfs::MountedRoot;
use crate::engine::container::select::Selection;
use crate::engine::container::start::{self, StartOptions, Started};
use crate::engine::container::{commit, inroot};
use crate::engine::state::{Container, State};
use crate::engine::{Error, Result, ResultExt};
use crate::spec::ContainerSpec;
use hutch_storage::extract::{self, ApplyOptions, Ownership, WhiteoutFormat};
use hutch_storage::images::ImageRecord;
use hutch_storage::{Digest, Store};

/// What a step's container runs as.
#[derive(Debug, Clone, Default)]
pub struct Process {
    pub argv: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// RUN --mount and `-v`.
    pub mounts: Vec<crate::spec::Mount>,
    pub tmpfs: Vec<crate::spec::Tmpfs>,
    /// `--network`, `--cap-add`, ... for RUN.
    pub settings: RunSettings,
}

/// What `build`'s flags set for every RUN container (`RUN --network`
/// overrides the network).
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    /// `None`: the engine's default (as `run`).
    pub network: Option<hutch_rootless_net::NetworkMode>,
    /// `-v`/`--volume`: host directories mounted into every RUN.
    pub volumes: Vec<crate::spec::Mount>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security: crate::spec::SecurityOpts,
    pub userns: crate::spec::Userns,
    /// `--memory`, `--cpu-*`, `--cpuset-*`: as `run`'s limits.
    pub resources: crate::runtime::spec::resources::ResourceRequest,
    pub shm_size: Option<u64>,
    pub ulimits: crate::spec::Ulimits,
    pub add_hosts: Vec<crate::spec::AddHost>,
    /// `--ipc`, `--pid`, `--uts`.
    pub namespaces: crate::spec::Namespaces,
    pub cgroupns: Option<String>,
    pub devices: Vec<crate::spec::DeviceRequest>,
    /// `--dns`, `--dns-search`, `--dns-option`.
    pub dns: hutch_rootless_net::DnsConfig,
    /// `--http-proxy`: variables set before the step's own environment,
    /// which overrides them.
    pub env: Vec<String>,
}

/// A step's container, removed when dropped.
pub struct StepContainer<'a> {
    ctx: &'a Context,
    store: &'a Store,
    state: &'a State,
    pub c: Container,
}

impl<'a> StepContainer<'a> {
    pub fn create(
        ctx: &'a Context,
        store: &'a Store,
        state: &'a State,
        image: &ImageRecord,
        p: &Process,
    ) -> Result<StepContainer<'a>> {
        let spec = ContainerSpec {
            image: image.id.hex().to_owned(),
            command: p.argv.clone(),
            entrypoint: Some(Vec::new()),
            env: {
                let mut env = p.settings.env.clone();
                for e in &p.env {
                    crate::spec::parse::env::set(&mut env, e.clone());
                }
                env
            },
            workdir: p.workdir.clone(),
            user: p.user.clone().filter(|u| !u.is_empty()),
            mounts: p.mounts.clone(),
            tmpfs: p.tmpfs.clone(),
            network: crate::spec::NetworkSpec {
                mode: p.settings.network.clone(),
                dns: p.settings.dns.clone(),
                ..Default::default()
            },
            cap_add: p.settings.cap_add.clone(),
            cap_drop: p.settings.cap_drop.clone(),
            security: p.settings.security.clone(),
            userns: p.settings.userns.clone(),
            resources: p.settings.resources.clone(),
            shm_size: p.settings.shm_size,
            ulimits: p.settings.ulimits.clone(),
            add_hosts: p.settings.add_hosts.clone(),
            namespaces: p.settings.namespaces.clone(),
            cgroupns: p.settings.cgroupns.clone(),
            devices: p.settings.devices.clone(),
            ..ContainerSpec::default()
        };
        let opts = CreateOptions {
            pull: PullPolicy::Never,
            replace: false,
            progress: None,
            ..CreateOptions::default()
        };
        let report = create::create(ctx, store, state, &spec, &opts)
            .context("creating the build step's container")?;
        let c = state.container(&report.id)?;
        Ok(StepContainer {
            ctx,
            store,
            state,
            c,
        })
    }

    /// Runs the container to its end, its output relayed as it comes;
    /// the exit code.
    pub fn run(&self, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
        let opts = StartOptions {
            select: Selection::names(std::slice::from_ref(&self.c.id)),
            passed: None,
            attach: Some(AttachOptions {
                stdin: false,
                stdout: true,
                stderr: true,
                detach_keys: String::new(),
                sig_proxy: false,
            }),
        };
        let Started::Attached(Some(mut session)) =
            start::start(self.ctx, self.store, self.state, &opts)?
        else {
            crate::fail!(Internal, "the build step's container did not start");
        };
        loop {
            match session.read_output()? {
                Some(Output::Stdout(d)) => {
                    out.write_all(&d)?;
                    out.flush()?;
                }
                Some(Output::Stderr(d)) => {
                    err.write_all(&d)?;
                    err.flush()?;
                }
                Some(Output::Exit(code)) => return Ok(code),
                None => crate::fail!(
                    Internal,
                    "the monitor of the build step's container went away before it exited"
                ),
            }
        }
    }

    /// The container's changes as a layer blob (caller holds `adding`).
    pub fn diff(&self) -> Result<(Digest, u64)> {
        commit::diff_layer(self.store, &self.c)
    }

    /// Applies a tar stream in directory `dest` (created with its missing
    /// parents, root-owned 0755) of the container's root, resolved with
    /// the container's `/` as root. Entries are owned by `owner`.
    pub fn apply(
        &self,
        dest: &str,
        owner: (u32, u32),
        rootless: bool,
        write: impl FnOnce(std::io::PipeWriter) -> Result<()> + Send,
    ) -> Result<()> {
        let root = MountedRoot::mount(self.store, self.state, &self.c)?;
        let dir = mkdir_all(&root, dest, owner)?;
        let opts = ApplyOptions {
            whiteouts: WhiteoutFormat::Literal,
            ownership: Ownership::Fixed {
                uid: owner.0,
                gid: owner.1,
            },
            skip_devices: rootless,
        };
        let (reader, writer) = std::io::pipe().context("creating a pipe")?;
        std::thread::scope(|s| {
            let producer = s.spawn(move || write(writer));
            let applied =
                extract::apply_layer_at(std::io::BufReader::new(reader), dir.as_fd(), &opts);
            let produced = producer
                .join()
                .map_err(|_| Error::internal("the archive writer panicked"))?;
            applied.map_err(|e| Error::from(anyhow::Error::from(e)))?;
            produced
        })
        .with_context(|| format!("copying into {dest}"))
    }

    /// Applies an image layer onto the container's root (`--squash`):
    /// whiteouts remove what they name, owners are kept.
    pub fn apply_layer(&self, layer: impl std::io::Read, rootless: bool) -> Result<()> {
        let root = MountedRoot::mount(self.store, self.state, &self.c)?;
        let opts = ApplyOptions {
            whiteouts: WhiteoutFormat::Naive,
            ownership: if rootless {
                Ownership::Collapse
            } else {
                Ownership::Preserve
            },
            skip_devices: rootless,
        };
        extract::apply_layer_at(layer, root.fd.as_fd(), &opts)
            .map_err(|e| Error::from(anyhow::Error::from(e)))
            .context("applying a layer to squash it")?;
        Ok(())
    }

    /// Whether `path` is a directory in the container's root.
    pub fn is_dir(&self, path: &str) -> Result<bool> {
        let root = MountedRoot::mount(self.store, self.state, &self.c)?;
        let Ok(r) = inroot::resolve(root.fd.as_fd(), path.as_bytes()) else {
            return Ok(false);
        };
        if !r.exists {
            return Ok(false);
        }
        let Some((leaf, parent)) = r.parts.split_last() else {
            return Ok(true);
        };
        let d = inroot::open_dir(root.fd.as_fd(), parent)?;
        Ok(inroot::lstat_at(d.as_fd(), leaf)?
            .is_some_and(|st| inroot::file_type(&st) == rustix::fs::FileType::Directory))
    }

    /// Whether `path` exists in the container's root (not following a
    /// final symlink).
    pub fn exists(&self, path: &str) -> Result<bool> {
        let root = MountedRoot::mount(self.store, self.state, &self.c)?;
        Ok(inroot::resolve(root.fd.as_fd(), path.as_bytes()).is_ok_and(|r| r.exists))
    }

    /// Removes `path` when it is an empty directory or an empty file: the
    /// mount point a RUN mount left, which buildah does not commit either.
    pub fn remove_mount_point(&self, path: &str) -> Result<()> {
        let root = MountedRoot::mount(self.store, self.state, &self.c)?;
        let Ok(r) = inroot::resolve(root.fd.as_fd(), path.as_bytes()) else {
            return Ok(());
        };
        let Some((leaf, parent)) = r.parts.split_last().filter(|_| r.exists) else {
            return Ok(());
        };
        let d = inroot::open_dir(root.fd.as_fd(), parent)?;
        let Some(st) = inroot::lstat_at(d.as_fd(), leaf)? else {
            return Ok(());
        };
        let name = std::ffi::OsStr::new(std::str::from_utf8(leaf).unwrap_or("_"));
        let flags = match inroot::file_type(&st) {
            rustix::fs::FileType::Directory => rustix::fs::AtFlags::REMOVEDIR,
            rustix::fs::FileType::RegularFile if st.st_size == 0 => rustix::fs::AtFlags::empty(),
            _ => return Ok(()),
        };
        // A directory the step filled (ENOTEMPTY) stays, as it should.
        let _ = rustix::fs::unlinkat(d.as_fd(), name, flags);
        Ok(())
    }

    /// `path`'s directories created as needed; an `O_PATH` fd of the last.
    pub fn mkdir(&self, path: &str) -> Result<()> {
        let root = MountedRoot::mount(self.store, self.state, &self.c)?;
        mkdir_all(&root, path, (0, 0)).map(|_| ())
    }

    /// The uid and gid a `--chown` user names, looked up in the
    /// container's /etc/passwd and /etc/group.
    pub fn user_ids(&self, user: &str) -> Result<(u32, u32)> {
        let root = MountedRoot::mount(self.store, self.state, &self.c)?;
        let read = |p: &[u8]| -> Option<String> {
            let r = inroot::resolve(root.fd.as_fd(), p)
                .ok()
                .filter(|r| r.exists)?;
            let mut path = root.path.clone();
            for part in &r.parts {
                path.push(std::ffi::OsStr::new(std::str::from_utf8(part).ok()?));
            }
            std::fs::read_to_string(path).ok()
        };
        let passwd = read(b"/etc/passwd");
        let group = read(b"/etc/group");
        let u = crate::runtime::spec::user::resolve(user, passwd.as_deref(), group.as_deref(), &[])
            .with_context(|| format!("--chown={user}: finding the user in the image"))?;
        Ok((u.uid, u.gid))
    }
}

/// Creates `path`'s missing directories (0755, owned by `owner`, as
/// buildah gives a COPY --chown's new parents); an `O_PATH` fd of the last.
fn mkdir_all(
    root: &MountedRoot<'_>,
    path: &str,
    owner: (u32, u32),
) -> Result<std::os::fd::OwnedFd> {
    let mut cur: Vec<Vec<u8>> = Vec::new();
    for part in inroot::split(path.as_bytes()) {
        let mut probe = cur.clone();
        probe.push(part.clone());
        let joined = probe.join(&b'/');
        let r = inroot::resolve(root.fd.as_fd(), &joined)
            .with_context(|| format!("resolving {path} in the image"))?;
        if !r.exists {
            let (leaf, parent) = r
                .parts
                .split_last()
                .ok_or_else(|| Error::internal("an empty path component"))?;
            let d = inroot::open_dir(root.fd.as_fd(), parent)?;
            let name = std::ffi::OsStr::new(std::str::from_utf8(leaf).unwrap_or("_"));
            let errno = |e: rustix::io::Errno| std::io::Error::from_raw_os_error(e.raw_os_error());
            rustix::fs::mkdirat(d.as_fd(), name, rustix::fs::Mode::from_raw_mode(0o755))
                .map_err(errno)
                .with_context(|| format!("creating {path} in the image"))?;
            if owner != (0, 0) {
                rustix::fs::chownat(
                    d.as_fd(),
                    name,
                    Some(rustix::fs::Uid::from_raw(owner.0)),
                    Some(rustix::fs::Gid::from_raw(owner.1)),
                    rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(errno)
                .with_context(|| format!("chown of {path} in the image"))?;
            }
        }
        cur = r.parts;
    }
    inroot::open_dir(root.fd.as_fd(), &cur).with_context(|| format!("opening {path} in the image"))
}

impl Drop for StepContainer<'_> {
    fn drop(&mut self) {
        let opts = RemoveOptions {
            names: vec![self.c.id.clone()],
            force: true,
            volumes: true,
            ..RemoveOptions::default()
        };
        if let Err(e) = remove::remove(self.ctx, self.store, self.state, &opts) {
            tracing::warn!(container = %self.c.id, "removing the build step's container: {e}");
        }
    }
}
