//! `RUN --mount` made real for one step: cache directories kept under
//! the graph root, bind sources resolved inside the context (or a stage's
//! or image's root, mounted read-only), tmpfs, and secrets written to a
//! private file in the runtime directory for the step's life only.
//!
//! Two phases: [`Resolved::resolve`] finds bind sources and hashes them
//! (the cache key needs their digest), [`Resolved::materialize`] makes
//! what the container mounts, only when the step really runs. Everything
//! made is undone when the [`Resolved`] is dropped: copies and secret
//! files removed, cache locks released, images unmounted.

use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::engine::{Error, Result, ResultExt};
use crate::image::build::ignore::IgnoreRules;
use crate::image::build::runmount::{RunMount, Sharing};
use crate::spec::{Mount, MountSource, Tmpfs};
use hutch_storage::extract::{self, ApplyOptions, Ownership, WhiteoutFormat};
use hutch_storage::images::ImageRecord;
use hutch_storage::{Digest, Store};

use super::sources::{self, EntryOptions, Found, SourceRoot, SourceWriter};

/// Bytes of one secret at most (BuildKit's limit is 500 KiB; a secret is
/// a token or a key, never a data set).
pub const MAX_SECRET: usize = 512 * 1024;

/// A bind source, found.
struct Bind {
    /// The root it was found in (the context, or a mounted image).
    root: std::sync::Arc<SourceRoot>,
    found: Found,
    target: String,
    rw: bool,
}

pub struct Resolved<'a> {
    store: &'a Store,
    mounts: Vec<RunMount>,
    binds: Vec<Bind>,
    /// What the cache key takes from the mounts: each mount's kind and
    /// target, bind sources' content digests (or the image id they come
    /// from), never a secret's or a cache's contents.
    pub key: Vec<String>,
    images: Vec<Digest>,
    made: Vec<PathBuf>,
    locks: Vec<std::fs::File>,
    proxies: Vec<super::sshagent::AgentProxy>,
    /// The first ssh mount's target once its socket is made: the step's
    /// `SSH_AUTH_SOCK` (BuildKit's rule).
    pub ssh_auth_sock: Option<String>,
}

/// Where a stage's or image's root for `from=` comes from.
pub type FromResolver<'r> = dyn FnMut(&str) -> Result<ImageRecord> + 'r;

impl<'a> Resolved<'a> {
    pub fn resolve(
        store: &'a Store,
        context: &std::sync::Arc<SourceRoot>,
        mounts: Vec<RunMount>,
        from: &mut FromResolver<'_>,
    ) -> Result<Resolved<'a>> {
        let mut r = Resolved {
            store,
            mounts: Vec::new(),
            binds: Vec::new(),
            key: Vec::new(),
            images: Vec::new(),
            made: Vec::new(),
            locks: Vec::new(),
            proxies: Vec::new(),
            ssh_auth_sock: None,
        };
        let mut n_ssh = 0;
        for mut m in mounts {
            if let RunMount::Ssh { target, .. } = &mut m
                && target.is_none()
            {
                *target = Some(format!("/run/buildkit/ssh_agent.{n_ssh}"));
                n_ssh += 1;
            }
            match &m {
                RunMount::Bind {
                    target,
                    source,
                    from: src_from,
                    rw,
                } => {
                    let root = match src_from {
                        None => context.clone(),
                        Some(name) => {
                            let img = from(name)?;
                            let path = store
                                .mount_image(&img)
                                .with_context(|| format!("mounting {name} for --mount"))?;
                            r.images.push(img.id.clone());
                            r.key.push(format!("image {}", img.id.hex()));
                            std::sync::Arc::new(SourceRoot::open(
                                &path,
                                IgnoreRules::default(),
                                format!("stage or image {name:?}"),
                            )?)
                        }
                    };
                    let found = root
                        .find(source)
                        .with_context(|| format!("--mount source {source:?}"))?
                        .into_iter()
                        .next()
                        .ok_or_else(|| Error::not_found(format!("--mount source {source:?}")))?;
                    if src_from.is_none() {
                        // The context's files are read now: an edit to one
                        // re-runs the step.
                        let digest = sources::digest_of(|w| {
                            let mut sw = SourceWriter::new(
                                &root,
                                w,
                                EntryOptions {
                                    chmod: None,
                                    zero_times: true,
                                },
                            );
                            sw.add(&found, "src")?;
                            sw.finish()?;
                            Ok(())
                        })?;
                        r.key.push(format!("context {digest}"));
                    }
                    r.key.push(format!("bind {source} {target} rw={rw}"));
                    r.binds.push(Bind {
                        root,
                        found,
                        target: target.clone(),
                        rw: *rw,
                    });
                }
                RunMount::Cache { target, id, .. } => r.key.push(format!("cache {id} {target}")),
                RunMount::Tmpfs { target, size } => r.key.push(format!("tmpfs {target} {size:?}")),
                RunMount::Secret { id, target, .. } => r.key.push(format!("secret {id} {target}")),
                RunMount::Ssh { id, .. } => r.key.push(format!("ssh {id} {}", m.target())),
            }
            r.mounts.push(m);
        }
        Ok(r)
    }

    /// The targets, for the mount points the step leaves behind.
    pub fn targets(&self) -> Vec<String> {
        self.mounts.iter().map(|m| m.target().to_owned()).collect()
    }

    /// Makes what the step's container mounts: cache directories (locked
    /// when asked), copies of `rw` bind sources, secret files under
    /// `secret_dir` (the runtime directory, never the graph root).
    pub fn materialize(
        &mut self,
        secrets: &BTreeMap<String, Vec<u8>>,
        ssh: &BTreeMap<String, PathBuf>,
        secret_dir: &Path,
        rootless: bool,
    ) -> Result<(Vec<Mount>, Vec<Tmpfs>)> {
        let mut mounts = Vec::new();
        let mut tmpfs = Vec::new();
        let mut next_bind = 0;
        for m in self.mounts.clone() {
            match m {
                RunMount::Cache {
                    target,
                    id,
                    sharing,
                    readonly,
                    uid,
                    gid,
                    mode,
                } => {
                    let dir = self.cache_dir(&id, uid, gid, mode, sharing)?;
                    mounts.push(Mount {
                        source: MountSource::Bind(dir),
                        destination: target,
                        options: vec![if readonly { "ro" } else { "rw" }.into()],
                    });
                }
                RunMount::Bind { .. } => {
                    let b = self
                        .binds
                        .get(next_bind)
                        .ok_or_else(|| Error::internal("a bind mount was not resolved"))?;
                    next_bind += 1;
                    let path = if b.rw {
                        let tmp = private_dir(&self.store.root().join("build-mounts/tmp"))?;
                        self.made.push(tmp.clone());
                        copy_tree(&b.root, &b.found, &tmp, rootless)?;
                        if b.found.is_dir {
                            tmp.clone()
                        } else {
                            tmp.join(sources::base_name(&b.found))
                        }
                    } else {
                        b.root.path.join(b.found.parts.join("/"))
                    };
                    mounts.push(Mount {
                        source: MountSource::Bind(path),
                        destination: b.target.clone(),
                        options: vec![if b.rw { "rw" } else { "ro" }.into()],
                    });
                }
                RunMount::Tmpfs { target, size } => tmpfs.push(Tmpfs {
                    destination: target,
                    options: size.map(|s| vec![format!("size={s}")]).unwrap_or_default(),
                }),
                RunMount::Secret {
                    id,
                    target,
                    required,
                    uid,
                    gid,
                    mode,
                } => {
                    let Some(value) = secrets.get(&id) else {
                        if required {
                            crate::fail!(
                                BadInput,
                                "secret {id:?} is required but was not given: use --secret id={id},src=FILE"
                            );
                        }
                        // BuildKit: an optional secret not given is not mounted.
                        continue;
                    };
                    let dir = private_dir(secret_dir)?;
                    self.made.push(dir.clone());
                    let file = dir.join("secret");
                    write_secret(&file, value, uid, gid, mode)
                        .with_context(|| format!("writing secret {id:?} for the step"))?;
                    mounts.push(Mount {
                        source: MountSource::Bind(file),
                        destination: target,
                        options: vec!["ro".into()],
                    });
                }
                RunMount::Ssh {
                    id,
                    target,
                    required,
                    uid,
                    gid,
                    mode,
                } => {
                    let Some(agent) = ssh.get(&id) else {
                        if required {
                            crate::fail!(
                                BadInput,
                                "ssh agent {id:?} is required but was not given: use --ssh {id}=SOCKET (or --ssh default with SSH_AUTH_SOCK set)"
                            );
                        }
                        // BuildKit: an optional agent not given is not mounted.
                        continue;
                    };
                    let target =
                        target.ok_or_else(|| Error::internal("an ssh mount without a target"))?;
                    let dir = private_dir(secret_dir)?;
                    self.made.push(dir.clone());
                    let proxy = super::sshagent::AgentProxy::start(
                        &dir.join("agent"),
                        agent,
                        uid,
                        gid,
                        mode,
                    )
                    .with_context(|| format!("--ssh {id}"))?;
                    mounts.push(Mount {
                        source: MountSource::Bind(proxy.path.clone()),
                        destination: target.clone(),
                        options: vec!["rw".into()],
                    });
                    self.proxies.push(proxy);
                    self.ssh_auth_sock.get_or_insert(target);
                }
            }
        }
        Ok((mounts, tmpfs))
    }

    /// `<graphroot>/build-mounts/cache/<sha256 of id>`, made on first use
    /// with the mount's owner and mode (kept across builds, as buildah's
    /// per-user cache directory); locked for `locked` and `private`.
    fn cache_dir(
        &mut self,
        id: &str,
        uid: u32,
        gid: u32,
        mode: u32,
        s: Sharing,
    ) -> Result<PathBuf> {
        let base = self.store.root().join("build-mounts/cache");
        std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
        let name = sources::hex(&Sha256::digest(id.as_bytes()));
        let dir = base.join(&name);
        if s != Sharing::Shared {
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(base.join(format!("{name}.lock")))
                .context("opening the cache mount's lock")?;
            rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
                .map_err(|e| Error::from(std::io::Error::from_raw_os_error(e.raw_os_error())))
                .with_context(|| format!("locking cache {id:?}"))?;
            self.locks.push(lock);
        }
        if !dir.exists() {
            // Made aside and renamed, so a concurrent first use sees either
            // nothing or the finished directory with its owner and mode.
            // Unique per thread too: `--jobs` runs stages at once.
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tmp = base.join(format!(".{name}.{}.{n}", std::process::id()));
            let _ = std::fs::remove_dir(&tmp);
            std::fs::create_dir(&tmp).with_context(|| format!("creating cache {id:?}"))?;
            set_owner_mode(&tmp, uid, gid, mode).with_context(|| format!("cache {id:?}"))?;
            if let Err(e) = std::fs::rename(&tmp, &dir) {
                let _ = std::fs::remove_dir(&tmp);
                if !dir.exists() {
                    return Err(e).with_context(|| format!("creating cache {id:?}"));
                }
            }
        }
        Ok(dir)
    }
}

impl Drop for Resolved<'_> {
    fn drop(&mut self) {
        // Stopped before their directories go.
        self.proxies.clear();
        for p in &self.made {
            if let Err(e) = std::fs::remove_dir_all(p) {
                tracing::warn!(path = %p.display(), "removing a build mount's files: {e}");
            }
        }
        for id in &self.images {
            let _ = self.store.unmount_image(id);
        }
    }
}

/// A new 0700 directory below `parent`.
pub(super) fn private_dir(parent: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    for n in 0..1000u32 {
        let p = parent.join(format!("{}-{n}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", p.display())),
        }
    }
    crate::fail!(Internal, "no free directory name in {}", parent.display())
}

pub(super) fn set_owner_mode(p: &Path, uid: u32, gid: u32, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if (uid, gid) != (0, 0) {
        std::os::unix::fs::chown(p, Some(uid), Some(gid))?;
    }
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
}

fn write_secret(file: &Path, value: &[u8], uid: u32, gid: u32, mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)?;
    f.write_all(value)?;
    drop(f);
    set_owner_mode(file, uid, gid, mode)
}

/// A copy of `found` (and what is below it) in `dest`, for an `rw` bind:
/// the step may write to it, the context never changes.
fn copy_tree(root: &SourceRoot, found: &Found, dest: &Path, rootless: bool) -> Result<()> {
    let dir = std::fs::File::open(dest).with_context(|| format!("opening {}", dest.display()))?;
    let opts = ApplyOptions {
        whiteouts: WhiteoutFormat::Literal,
        ownership: Ownership::Fixed { uid: 0, gid: 0 },
        skip_devices: rootless,
    };
    let name = if found.is_dir {
        String::new()
    } else {
        sources::base_name(found).to_owned()
    };
    let (reader, writer) = std::io::pipe().context("creating a pipe")?;
    std::thread::scope(|s| {
        let producer = s.spawn(move || -> std::io::Result<()> {
            let mut sw = SourceWriter::new(
                root,
                writer,
                EntryOptions {
                    chmod: None,
                    zero_times: false,
                },
            );
            sw.add(found, &name)?;
            sw.finish()?;
            Ok(())
        });
        let applied = extract::apply_layer_at(std::io::BufReader::new(reader), dir.as_fd(), &opts);
        let produced = producer
            .join()
            .map_err(|_| Error::internal("the copy writer panicked"))?;
        applied.map_err(|e| Error::from(anyhow::Error::from(e)))?;
        produced.context("reading the bind source")?;
        Ok(())
    })
}
