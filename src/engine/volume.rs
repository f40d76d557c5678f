//! Named and anonymous volumes: a directory `<graphroot>/volumes/NAME/_data`
//! and a row in the state database (which refuses to drop a volume a
//! container uses). The directory is made before the row and removed after
//! it, so a crash leaves at worst a directory without a row, never a row
//! pointing at nothing.
//!
//! Only the `local` driver exists; `--opt type=/device=` (mounting a
//! filesystem at start) is refused rather than silently ignored.

use std::collections::BTreeMap;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::engine::{Error, Result, ResultExt};
use hutch_storage::Store;

use crate::config::Context;
use crate::engine::container::remove::{self, RemoveOptions};
use crate::engine::container::stop;
use crate::engine::state::{ContainerState, State, StateError, Volume, names};
use crate::host::time;

/// `volume create` and the volumes `create` makes for `-v`.
#[derive(Debug, Clone, Default)]
pub struct VolumeCreate {
    /// `None`: a random 64-hex name, as Podman gives anonymous volumes.
    pub name: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub anonymous: bool,
}

/// `<graphroot>/volumes`.
pub fn volumes_dir(graphroot: &Path) -> PathBuf {
    graphroot.join("volumes")
}

/// Where new volumes go: `--volumepath`, else `<graphroot>/volumes`.
pub fn volumes_root(ctx: &Context, graphroot: &Path) -> PathBuf {
    ctx.volume_path
        .clone()
        .or_else(|| ctx.containers_conf().volume_path.clone())
        .unwrap_or_else(|| volumes_dir(graphroot))
}

/// The row for a new volume under `volumes` (nothing is written yet).
pub fn record(volumes: &Path, req: &VolumeCreate) -> Result<Volume> {
    let name = match &req.name {
        Some(n) => {
            names::validate("volume", n)?;
            n.clone()
        }
        None => names::generate_id().context("generating a volume name")?,
    };
    for (k, v) in &req.options {
        match k.as_str() {
            "o" => {
                for o in v.split(',') {
                    let key = o.split_once('=').map_or(o, |(k, _)| k);
                    if !matches!(key, "uid" | "gid") {
                        crate::fail!(
                            BadInput,
                            "volume option o={o}: only uid= and gid= are supported by hutch's local driver"
                        );
                    }
                    id_option(o)?;
                }
            }
            "nocopy" | "copy" => {}
            "type" | "device" => crate::fail!(
                BadInput,
                "volume option {k}={v}: mounting a filesystem as a volume is not supported by hutch yet"
            ),
            _ => crate::fail!(BadInput, "invalid mount option {k} for driver 'local'"),
        }
    }
    Ok(Volume {
        mountpoint: volumes.join(&name).join("_data").display().to_string(),
        name,
        driver: "local".to_string(),
        created: time::now_ns(),
        labels: req.labels.clone(),
        options: req.options.clone(),
        anonymous: req.anonymous,
    })
}

fn id_option(o: &str) -> Result<Option<(&str, u32)>> {
    match o.split_once('=') {
        Some((k @ ("uid" | "gid"), v)) => Ok(Some((
            k,
            v.parse()
                .map_err(|_| Error::bad_input(format!("volume option {o}: not a number")))?,
        ))),
        _ => Ok(None),
    }
}

/// The volume's own directory, parent of `_data`.
pub fn volume_dir(v: &Volume) -> PathBuf {
    let data = Path::new(&v.mountpoint);
    data.parent().unwrap_or(data).to_path_buf()
}

/// Makes `volumes/NAME` (0700: other users must not reach the data) and
/// `_data` (0755), owned as `o=uid=,gid=` ask.
pub fn make_dirs(v: &Volume) -> Result<()> {
    let dir = volume_dir(v);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(&v.mountpoint)
        .with_context(|| format!("creating {}", v.mountpoint))?;
    let (mut uid, mut gid) = (None, None);
    for o in v
        .options
        .get("o")
        .map(String::as_str)
        .unwrap_or("")
        .split(',')
    {
        match id_option(o)? {
            Some(("uid", n)) => uid = Some(n),
            Some(("gid", n)) => gid = Some(n),
            _ => {}
        }
    }
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::chown(&v.mountpoint, uid, gid)
            .with_context(|| format!("changing the owner of {}", v.mountpoint))?;
    }
    Ok(())
}

/// Deletes a volume's files (after its row is gone).
pub fn remove_dirs(v: &Volume) {
    let dir = volume_dir(v);
    if let Err(e) = std::fs::remove_dir_all(&dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(volume = %v.name, "removing {}: {e}", dir.display());
    }
}

/// Records volume event `action` (`create`, `remove`, `prune`) as
/// Podman's event log has them: the volume's name only, no id or
/// attributes. A failure to record is logged, not the operation's.
pub fn record_event(state: &State, name: &str, action: &str) {
    let event = crate::engine::state::Event {
        id: 0,
        time: time::now_ns(),
        kind: crate::engine::state::EventType::Volume,
        action: action.to_owned(),
        actor_id: String::new(),
        actor_name: name.to_owned(),
        attributes: Default::default(),
    };
    if let Err(e) = state.append_event(&event) {
        tracing::warn!(volume = %name, action, "recording event: {e}");
    }
}

/// `volume create`.
pub fn create(state: &State, volumes: &Path, req: &VolumeCreate) -> Result<Volume> {
    let v = record(volumes, req)?;
    if state.volume(&v.name).is_ok() {
        crate::fail!(
            Conflict,
            "volume with name {} already exists: volume already exists",
            v.name
        );
    }
    make_dirs(&v)?;
    if let Err(e) = state.create_volume(&v) {
        // Another process made the same volume in between: its directory
        // is the one just made, so leave it.
        if !matches!(e, StateError::VolumeExists { .. }) {
            remove_dirs(&v);
        }
        return Err(e.into());
    }
    record_event(state, &v.name, "create");
    Ok(v)
}

/// `volume rm [-f]`. With `force`, the containers using the volume are
/// removed first (running ones stopped with their stop signal and timeout,
/// their networks torn down), as Podman does; `timeout` (`-t`) replaces
/// their stop timeouts.
pub fn remove_volume(
    ctx: &Context,
    store: &Store,
    state: &State,
    name: &str,
    force: bool,
    timeout: Option<u32>,
) -> Result<()> {
    let v = state.volume(name)?;
    if force {
        let users = state.volume_users(name)?;
        // Podman stops a running user with its own StopSignal and stop
        // timeout (10 s unless `--stop-timeout`), warning when it has to
        // kill, before removing it: not `rm -f`'s kill at once.
        for user in &users {
            if let Ok(c) = state.container(user)
                && matches!(c.state, ContainerState::Running | ContainerState::Paused)
            {
                stop::stop_one(ctx, store, state, &c, timeout)
                    .with_context(|| format!("stopping container {}", c.name))?;
            }
        }
        if !users.is_empty() {
            let opts = RemoveOptions {
                names: users,
                force: true,
                ..RemoveOptions::default()
            };
            for r in remove::remove(ctx, store, state, &opts)? {
                if let Some(e) = r.error {
                    return Err(e.context(format!(
                        "removing container {} that uses volume {name}",
                        &r.id[..12.min(r.id.len())]
                    )));
                }
            }
        }
    }
    state.remove_volume(name)?;
    remove_dirs(&v);
    record_event(state, &v.name, "remove");
    Ok(())
}

/// `volume prune`: every volume no container uses. Returns their names.
pub fn prune(state: &State, keep: &dyn Fn(&Volume) -> bool) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for v in state.list_volumes()? {
        if keep(&v) || !state.volume_users(&v.name)?.is_empty() {
            continue;
        }
        match state.remove_volume(&v.name) {
            Ok(()) => {
                remove_dirs(&v);
                // Podman's pair per volume: its removal, then the prune.
                record_event(state, &v.name, "remove");
                record_event(state, &v.name, "prune");
                removed.push(v.name);
            }
            // Taken by a container created meanwhile: not unused any more.
            Err(StateError::VolumeInUse { .. }) | Err(StateError::NoSuchVolume { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(removed)
}

/// For `rm -v` (and `run --rm`): removes the anonymous volumes
/// [`State::remove_container`] reported as used by no other container.
pub fn remove_orphans(state: &State, orphans: &[Volume]) -> Result<()> {
    for v in orphans {
        match state.remove_volume(&v.name) {
            Ok(()) => {
                remove_dirs(v);
                record_event(state, &v.name, "remove");
            }
            Err(StateError::NoSuchVolume { .. }) => remove_dirs(v),
            Err(StateError::VolumeInUse { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// `volume inspect`'s object, Podman's field names.
pub fn inspect_view(state: &State, v: &Volume) -> serde_json::Value {
    let users = state.volume_users(&v.name).map(|u| u.len()).unwrap_or(0);
    serde_json::json!({
        "Name": v.name,
        "Driver": v.driver,
        "Mountpoint": v.mountpoint,
        "CreatedAt": time::rfc3339(v.created / 1_000_000_000),
        "Labels": v.labels,
        "Scope": "local",
        "Options": v.options,
        "MountCount": 0,
        "NeedsCopyUp": !v.options.contains_key("nocopy"),
        "NeedsChown": true,
        "Anonymous": v.anonymous,
        "UsedBy": users,
    })
}

/// Copies the image's files at a volume's mount point into the new, empty
/// volume (Podman's copy-up), keeping owners, modes and symlinks. Device
/// nodes and sockets are skipped. `dst`'s own mode and owner follow `src`.
pub fn copy_up(src: &Path, dst: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(src)?;
    if !meta.is_dir() {
        return Ok(());
    }
    let empty = std::fs::read_dir(dst)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    if !empty {
        return Ok(());
    }
    std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()))
        .with_context(|| format!("changing the owner of {}", dst.display()))?;
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    copy_tree(src, dst).with_context(|| format!("copying {} into the volume", src.display()))
}

fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&from)?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else if ft.is_dir() {
            std::fs::create_dir(&to)?;
            copy_tree(&from, &to)?;
        } else if ft.is_file() {
            std::fs::copy(&from, &to)?;
        } else {
            continue;
        }
        // In the user namespace, owners beyond the mapped ids cannot exist
        // here either; the copy keeps what it can.
        let _ = std::os::unix::fs::lchown(&to, Some(meta.uid()), Some(meta.gid()));
        if !ft.is_symlink() {
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
    }
    Ok(())
}

/// `--filter` for `ls` and `prune`: name, label, driver, dangling; the
/// same key given twice matches either value, different keys all must.
pub struct VolumeFilters(Vec<(String, String)>);

impl VolumeFilters {
    pub fn parse(list: &[String]) -> Result<VolumeFilters> {
        let mut out = Vec::new();
        for f in list {
            let (k, v) = f.split_once('=').ok_or_else(|| {
                Error::bad_input(format!("invalid filter {f:?}: expected key=value"))
            })?;
            if !matches!(
                k,
                "name" | "label" | "driver" | "dangling" | "opt" | "label!"
            ) {
                crate::fail!(BadInput, "invalid filter {k:?}");
            }
            if k == "dangling" && !matches!(v, "true" | "false" | "1" | "0") {
                crate::fail!(BadInput, "invalid dangling filter value {v:?}");
            }
            out.push((k.to_string(), v.to_string()));
        }
        Ok(VolumeFilters(out))
    }

    /// Whether `v` passes; `in_use`: some container uses it.
    pub fn matches(&self, v: &Volume, in_use: bool) -> bool {
        let mut keys: Vec<&str> = self.0.iter().map(|(k, _)| k.as_str()).collect();
        keys.dedup();
        keys.iter().all(|key| {
            self.0
                .iter()
                .filter(|(k, _)| k == key)
                .any(|(k, val)| match k.as_str() {
                    "name" => crate::engine::name_filter::matches(val, &v.name),
                    "driver" => v.driver == *val,
                    "label" => label_match(&v.labels, val),
                    "label!" => !label_match(&v.labels, val),
                    "opt" => label_match(&v.options, val),
                    "dangling" => matches!(val.as_str(), "true" | "1") != in_use,
                    _ => false,
                })
        })
    }
}

fn label_match(map: &std::collections::BTreeMap<String, String>, spec: &str) -> bool {
    match spec.split_once('=') {
        Some((k, val)) => map.get(k).is_some_and(|x| x == val),
        None => map.contains_key(spec),
    }
}

/// `volume ls`: the volumes that pass `filters`.
pub fn list(state: &State, filters: &VolumeFilters) -> Result<Vec<Volume>> {
    let mut out = Vec::new();
    for v in state.list_volumes()? {
        let in_use = !state.volume_users(&v.name)?.is_empty();
        if filters.matches(&v, in_use) {
            out.push(v);
        }
    }
    Ok(out)
}

/// What `volume prune` with `filters` would remove now (for its prompt).
pub fn prune_candidates(state: &State, filters: &VolumeFilters) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for v in state.list_volumes()? {
        if state.volume_users(&v.name)?.is_empty() && filters.matches(&v, false) {
            out.push(v.name);
        }
    }
    Ok(out)
}

/// The bytes a volume's files take (`system df`).
pub fn size(v: &Volume) -> u64 {
    crate::engine::container::list::tree_size(Path::new(&v.mountpoint))
}

/// `volume exists`.
pub fn exists(state: &State, name: &str) -> Result<bool> {
    match state.volume(name) {
        Ok(_) => Ok(true),
        Err(StateError::NoSuchVolume { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked_and_matched() {
        let list = |f: &[&str]| f.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let bad = VolumeFilters::parse(&list(&["color=red"]))
            .err()
            .map(|e| e.kind());
        assert_eq!(bad, Some(crate::engine::ErrorKind::BadInput));
        assert!(VolumeFilters::parse(&list(&["dangling=maybe"])).is_err());
        assert!(VolumeFilters::parse(&list(&["name"])).is_err());
        let v = Volume {
            name: "data".into(),
            driver: "local".into(),
            mountpoint: "/g/volumes/data/_data".into(),
            created: 0,
            labels: [("app".to_owned(), "web".to_owned())].into(),
            options: Default::default(),
            anonymous: false,
        };
        let f = VolumeFilters::parse(&list(&["label=app=web", "dangling=true"])).unwrap();
        assert!(f.matches(&v, false));
        assert!(!f.matches(&v, true));
        let f = VolumeFilters::parse(&list(&["name=other", "name=dat"])).unwrap();
        assert!(f.matches(&v, true));
    }

    #[test]
    fn record_paths_and_options() {
        let v = record(
            Path::new("/g/volumes"),
            &VolumeCreate {
                name: Some("data".into()),
                ..VolumeCreate::default()
            },
        )
        .unwrap();
        assert_eq!(v.mountpoint, "/g/volumes/data/_data");
        assert_eq!(volume_dir(&v), Path::new("/g/volumes/data"));
        let anon = record(Path::new("/g/volumes"), &VolumeCreate::default()).unwrap();
        assert_eq!(anon.name.len(), 64);
        let bad = |k: &str, val: &str| {
            record(
                Path::new("/g"),
                &VolumeCreate {
                    name: Some("x".into()),
                    options: BTreeMap::from([(k.to_string(), val.to_string())]),
                    ..VolumeCreate::default()
                },
            )
            .is_err()
        };
        assert!(bad("type", "tmpfs"));
        assert!(bad("o", "size=1m"));
        assert!(bad("o", "uid=x"));
        assert!(bad("what", "1"));
        assert!(!bad("o", "uid=1000,gid=1000"));
    }

    #[test]
    fn copy_up_copies_into_empty_volume_only() {
        let tmp = std::env::temp_dir().join(format!("hutch-copyup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let (src, dst) = (tmp.join("src"), tmp.join("dst"));
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/f"), "x").unwrap();
        std::os::unix::fs::symlink("sub/f", src.join("l")).unwrap();
        std::fs::create_dir_all(&dst).unwrap();
        copy_up(&src, &dst).unwrap();
        assert_eq!(std::fs::read_to_string(dst.join("sub/f")).unwrap(), "x");
        assert_eq!(
            std::fs::read_link(dst.join("l")).unwrap(),
            Path::new("sub/f")
        );
        std::fs::write(src.join("new"), "y").unwrap();
        copy_up(&src, &dst).unwrap();
        assert!(
            !dst.join("new").exists(),
            "a non-empty volume is left alone"
        );
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
