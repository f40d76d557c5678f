//! The set-up flags of issue 12 that `create` resolves against the host
//! and the state: `--volumes-from` (another container's volumes and
//! binds), `--secret` (a secret's data as a file or a variable),
//! `--env-merge` and the `--user` account `--passwd-entry` shapes. Each
//! matches Podman 4.3's behaviour and words; `create` calls them in order.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::Paths;
use crate::config::Context;
use crate::engine::secret::SecretStore;
use crate::engine::state::State;
use crate::runtime::spec::MountRequest;
use crate::spec::{ContainerSpec, Mount, MountSource};

/// The mounts `--volumes-from CTR[:ro|rw]` borrows: the other container's
/// volumes (by name, so they count as in use) and bind mounts, not its
/// tmpfs or the files hutch writes for it; `ro`/`rw` replaces their
/// read-only-ness, else each keeps its own. A destination the spec mounts
/// itself is skipped (Podman: the container's own mount wins).
pub fn volumes_from(
    ctx: &Context,
    store_root: &Path,
    state: &State,
    req: &ContainerSpec,
) -> anyhow::Result<Vec<Mount>> {
    let mut out: Vec<Mount> = Vec::new();
    if req.setup.volumes_from.is_empty() {
        return Ok(out);
    }
    let volumes = state.list_volumes()?;
    for from in &req.setup.volumes_from {
        let (name, mode) = match from.rsplit_once(':') {
            Some((n, m)) => (n, Some(m)),
            None => (from.as_str(), None),
        };
        let ro = match mode {
            None => None,
            Some("ro") => Some(true),
            Some("rw") => Some(false),
            Some(m) => bail!("invalid options {m:?}, can only specify 'ro', 'rw', and 'z'"),
        };
        let other = state
            .container(name)
            .map_err(|e| anyhow::anyhow!("looking up container {name:?} for volumes-from: {e}"))?;
        let paths = Paths::new(ctx, store_root, &other.id);
        let config: serde_json::Value = std::fs::read(paths.userdata.join("config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let userdata = paths.userdata.to_string_lossy().into_owned();
        for m in config["mounts"].as_array().into_iter().flatten() {
            let (Some(src), Some(dest)) = (m["source"].as_str(), m["destination"].as_str()) else {
                continue;
            };
            let options: Vec<&str> = m["options"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| o.as_str())
                .collect();
            let bind =
                m["type"] == "bind" || options.contains(&"bind") || options.contains(&"rbind");
            if !bind
                || src.starts_with(&userdata)
                || dest == "/etc/localtime"
                || req.mounts.iter().any(|x| x.destination == dest)
                || out.iter().any(|x| x.destination == dest)
            {
                continue;
            }
            let ro = ro.unwrap_or(options.contains(&"ro"));
            let source = match volumes.iter().find(|v| v.mountpoint == src) {
                Some(v) => MountSource::Named(v.name.clone()),
                None => MountSource::Bind(PathBuf::from(src)),
            };
            out.push(Mount {
                source,
                destination: dest.to_owned(),
                options: if ro { vec!["ro".into()] } else { Vec::new() },
            });
        }
    }
    Ok(out)
}

/// `--secret`: a mount's data is copied into the userdata (with the
/// requested owner and mode) and bind-mounted read-only; an env secret's
/// value joins `env`. A missing secret fails the create, as in Podman.
pub fn secrets(
    store_root: &Path,
    userdata: &Path,
    req: &ContainerSpec,
    env: &mut Vec<String>,
    mounts: &mut Vec<MountRequest>,
) -> anyhow::Result<()> {
    if req.setup.secrets.is_empty() {
        return Ok(());
    }
    let store = SecretStore::new(store_root);
    let dir = userdata.join("secrets");
    for s in &req.setup.secrets {
        let secret = store.lookup(&s.name).map_err(|_| {
            anyhow::anyhow!("no secret with name or id {:?}: no such secret", s.name)
        })?;
        let data = store.data(&secret)?;
        if s.env {
            let value = String::from_utf8(data).map_err(|_| {
                anyhow::anyhow!("secret {:?} is not text: it cannot be a variable", s.name)
            })?;
            crate::spec::parse::env::set(env, format!("{}={value}", s.target));
            continue;
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let file = dir.join(&secret.id);
        std::fs::write(&file, &data).with_context(|| format!("writing {}", file.display()))?;
        std::os::unix::fs::chown(&file, Some(s.uid), Some(s.gid))
            .with_context(|| format!("giving secret {} to {}:{}", s.name, s.uid, s.gid))?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(s.mode & 0o7777))
            .with_context(|| format!("setting the mode of {}", file.display()))?;
        let destination = if s.target.starts_with('/') {
            s.target.clone()
        } else {
            format!("/run/secrets/{}", s.target)
        };
        mounts.push(MountRequest::Bind {
            source_flags: super::host::source_flags(&file)?,
            source: file,
            destination,
            options: vec!["ro".into()],
        });
    }
    Ok(())
}

/// `--env-merge NAME=VALUE`: `${NAME}` (and `$NAME`) in VALUE stand for
/// the image's and the default environment's values; as in Podman 4.3,
/// only a variable that environment has is changed, and the value ends
/// at its next `=`. Runs before `-e`, which still wins.
pub fn env_merge(env: &mut [String], merges: &[String]) {
    for m in merges {
        let expanded = expand(m, env);
        let mut parts = expanded.split('=');
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        if let Some(slot) = env.iter_mut().find(|e| e.split('=').next() == Some(key)) {
            *slot = format!("{key}={value}");
        }
    }
}

fn expand(text: &str, env: &[String]) -> String {
    let lookup = |k: &str| {
        env.iter()
            .find_map(|e| e.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
            .unwrap_or("")
            .to_owned()
    };
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(inner) = after.strip_prefix('{')
            && let Some(end) = inner.find('}')
        {
            out.push_str(&lookup(&inner[..end]));
            rest = &inner[end + 1..];
            continue;
        }
        let n = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if n == 0 {
            out.push('$');
        } else {
            out.push_str(&lookup(&after[..n]));
        }
        rest = &after[n..];
    }
    out.push_str(rest);
    out
}

/// The /etc/passwd line (and /etc/group line) Podman adds for a numeric
/// `--user UID[:GID]` the image does not name: `UID:*:UID:GID:container
/// user:WORKDIR:/bin/sh`, or `--passwd-entry` with $USERNAME, $UID, $GID,
/// $NAME and $HOME put in. `--passwd=false` adds none.
pub fn user_entry(
    req: &ContainerSpec,
    user: Option<&str>,
    workdir: &str,
    image_passwd: Option<&str>,
    image_group: Option<&str>,
) -> (Option<String>, Option<String>) {
    let Some(user) = user.filter(|_| !req.setup.no_passwd) else {
        return (None, None);
    };
    let (u, g) = user.split_once(':').unwrap_or((user, ""));
    let Ok(uid) = u.parse::<u32>() else {
        return (None, None);
    };
    let named = |text: Option<&str>, key: &str| {
        text.unwrap_or("").lines().any(|l| {
            let mut f = l.split(':');
            let n = f.next();
            n == Some(key) || f.nth(1) == Some(key)
        })
    };
    if named(image_passwd, u) {
        return (None, None);
    }
    let gid = if g.is_empty() {
        0
    } else if let Ok(n) = g.parse::<u32>() {
        n
    } else {
        image_group
            .unwrap_or("")
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.first() == Some(&g)).then(|| f.get(2)?.parse().ok())?
            })
            .unwrap_or(0)
    };
    let home = if workdir.is_empty() { "/" } else { workdir };
    let line = match &req.setup.passwd_entry {
        Some(t) => t
            .replace("$USERNAME", &uid.to_string())
            .replace("$UID", &uid.to_string())
            .replace("$GID", &gid.to_string())
            .replace("$NAME", "container user")
            .replace("$HOME", home),
        None => format!("{uid}:*:{uid}:{gid}:container user:{home}:/bin/sh"),
    };
    // Podman's group entry: the group part, else the user's number, as a
    // gid the image's /etc/group does not have.
    let gname = if g.is_empty() { u } else { g };
    let group = gname
        .parse::<u32>()
        .ok()
        .filter(|_| !named(image_group, gname))
        .map(|n| format!("{n}:x:{n}:{uid}"));
    (Some(line), group)
}

/// `text` (the image's file or what was added already) with `line`
/// appended.
pub fn append_line(text: Option<String>, line: &str) -> String {
    let mut t = text.unwrap_or_default();
    if !t.is_empty() && !t.ends_with('\n') {
        t.push('\n');
    }
    t.push_str(line);
    t.push('\n');
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_merge_changes_only_known_variables() {
        let mut env = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        env_merge(
            &mut env,
            &["PATH=/x:${PATH}".into(), "FOO=a".into(), "A=$A-2=3".into()],
        );
        assert_eq!(env, ["PATH=/x:/bin", "A=1-2"]);
    }

    #[test]
    fn user_entries_follow_podman() {
        let mut req = ContainerSpec::default();
        let (p, g) = user_entry(
            &req,
            Some("1234"),
            "/tmp",
            Some("root:x:0:0::/:/bin/sh"),
            None,
        );
        assert_eq!(
            p.as_deref(),
            Some("1234:*:1234:0:container user:/tmp:/bin/sh")
        );
        assert_eq!(g.as_deref(), Some("1234:x:1234:1234"));
        req.setup.passwd_entry = Some("X$USERNAME:$UID:$GID:$NAME:$HOME".into());
        let (p, g) = user_entry(&req, Some("1234:5678"), "", None, None);
        assert_eq!(p.as_deref(), Some("X1234:1234:5678:container user:/"));
        assert_eq!(g.as_deref(), Some("5678:x:5678:1234"));
        assert_eq!(
            user_entry(&req, Some("0"), "/", Some("root:x:0:0::/:/bin/sh"), None).0,
            None
        );
        assert_eq!(user_entry(&req, Some("bob"), "/", None, None).0, None);
        req.setup.no_passwd = true;
        assert_eq!(user_entry(&req, Some("1234"), "/", None, None).0, None);
    }
}
