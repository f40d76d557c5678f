//! `RUN --mount=...` values (BuildKit's syntax, as buildah reads it) and
//! `build --secret` values, parsed into typed requests. Pure: the engine
//! makes the cache directories, resolves bind sources and writes secrets.

/// One `RUN --mount`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMount {
    /// A directory kept across builds under the user's graph root.
    Cache {
        target: String,
        /// The cache's name; the target when not given (BuildKit's rule).
        id: String,
        sharing: Sharing,
        readonly: bool,
        uid: u32,
        gid: u32,
        mode: u32,
    },
    /// A path of the context (or of `from`'s stage or image), read-only
    /// unless `rw` (then writes go to a copy, thrown away after the step).
    Bind {
        target: String,
        source: String,
        from: Option<String>,
        rw: bool,
    },
    Tmpfs {
        target: String,
        /// `size=`/`tmpfs-size=` as written (`64m`, bytes).
        size: Option<String>,
    },
    /// A `build --secret`, mounted as a file, never committed.
    Secret {
        id: String,
        target: String,
        required: bool,
        uid: u32,
        gid: u32,
        mode: u32,
    },
    /// A `build --ssh` agent, reached through a socket at the target that
    /// forwards to it (BuildKit's `type=ssh`).
    Ssh {
        /// The `--ssh` id; `default` when not given.
        id: String,
        /// `None`: `/run/buildkit/ssh_agent.N`, N counting the step's ssh
        /// mounts (BuildKit's default), given by the engine.
        target: Option<String>,
        required: bool,
        uid: u32,
        gid: u32,
        mode: u32,
    },
}

impl RunMount {
    pub fn target(&self) -> &str {
        match self {
            RunMount::Cache { target, .. }
            | RunMount::Bind { target, .. }
            | RunMount::Tmpfs { target, .. }
            | RunMount::Secret { target, .. } => target,
            RunMount::Ssh { target, .. } => target.as_deref().unwrap_or(""),
        }
    }
}

/// `sharing=` of a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Builds running at once use the directory together.
    Shared,
    /// One build at a time (a lock held while the step runs).
    Locked,
    /// BuildKit gives a concurrent user a fresh directory; hutch waits for
    /// the lock as with `locked`, so the contents are never lost.
    Private,
}

fn boolean(key: &str, v: Option<&str>) -> Result<bool, String> {
    match v {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(other) => Err(format!("{key}={other}: not a boolean")),
    }
}

fn number(key: &str, v: Option<&str>, radix: u32) -> Result<u32, String> {
    let v = v.ok_or_else(|| format!("{key} needs a value"))?;
    u32::from_str_radix(v, radix).map_err(|_| format!("{key}={v}: not a number"))
}

/// An absolute, cleaned target: `..` refused, relative ones taken from
/// `workdir` (BuildKit's rule).
fn target_path(t: &str, workdir: &str) -> Result<String, String> {
    let joined = if t.starts_with('/') {
        t.to_owned()
    } else {
        format!("{}/{t}", workdir.trim_end_matches('/'))
    };
    let mut parts = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => return Err(format!("target {t:?}: \"..\" is not allowed")),
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(format!("target {t:?}: cannot mount over /"));
    }
    Ok(format!("/{}", parts.join("/")))
}

/// Parses one `--mount` value (already expanded). `workdir` makes a
/// relative target absolute.
pub fn parse(value: &str, workdir: &str) -> Result<RunMount, String> {
    let mut kind = "bind".to_owned();
    let mut target = None;
    let mut source = None;
    let mut from = None;
    let mut id = None;
    let mut sharing = Sharing::Shared;
    let mut readonly = None;
    let mut rw = false;
    let mut size = None;
    let mut required = false;
    let mut uid = 0;
    let mut gid = 0;
    let mut mode = None;
    for field in value.split(',').filter(|f| !f.is_empty()) {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v)),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let need = || {
            v.map(String::from)
                .ok_or_else(|| format!("{k} needs a value"))
        };
        match k.as_str() {
            "type" => kind = need()?,
            "target" | "dst" | "destination" => target = Some(need()?),
            "source" | "src" => source = Some(need()?),
            "from" => from = Some(need()?),
            "id" => id = Some(need()?),
            "sharing" => {
                sharing = match v {
                    Some("shared") => Sharing::Shared,
                    Some("locked") => Sharing::Locked,
                    Some("private") => Sharing::Private,
                    other => {
                        return Err(format!(
                            "sharing={}: use shared, private or locked",
                            other.unwrap_or("")
                        ));
                    }
                }
            }
            "readonly" | "ro" => readonly = Some(boolean(&k, v)?),
            "rw" | "readwrite" => rw = boolean(&k, v)?,
            "size" | "tmpfs-size" => size = Some(need()?),
            "required" => required = boolean(&k, v)?,
            "uid" => uid = number(&k, v, 10)?,
            "gid" => gid = number(&k, v, 10)?,
            "mode" => mode = Some(number(&k, v, 8)?),
            other => return Err(format!("unknown --mount option {other:?}")),
        }
    }
    let need_target = |t: Option<String>| -> Result<String, String> {
        target_path(
            &t.ok_or_else(|| format!("type={kind} needs a target"))?,
            workdir,
        )
    };
    match kind.as_str() {
        "cache" => {
            if from.is_some() {
                return Err("type=cache,from= (seeding a cache from a stage) is not supported by hutch build".into());
            }
            let target = need_target(target)?;
            Ok(RunMount::Cache {
                id: id.unwrap_or_else(|| target.clone()),
                target,
                sharing,
                readonly: readonly.unwrap_or(false),
                uid,
                gid,
                mode: mode.unwrap_or(0o755),
            })
        }
        "bind" => Ok(RunMount::Bind {
            target: need_target(target)?,
            source: source.unwrap_or_else(|| "/".into()),
            from,
            // BuildKit: read-only unless rw; `readonly=false` means rw too.
            rw: rw || readonly == Some(false),
        }),
        "tmpfs" => Ok(RunMount::Tmpfs {
            target: need_target(target)?,
            size,
        }),
        "secret" => {
            let id = match (id, &target) {
                (Some(id), _) => id,
                // BuildKit: the id defaults to the target's file name.
                (None, Some(t)) => t.rsplit('/').next().unwrap_or_default().to_owned(),
                (None, None) => return Err("type=secret needs an id or a target".into()),
            };
            if id.is_empty() {
                return Err("type=secret: an empty id".into());
            }
            let target = target_path(
                &target.unwrap_or_else(|| format!("/run/secrets/{id}")),
                workdir,
            )?;
            Ok(RunMount::Secret {
                id,
                target,
                required,
                uid,
                gid,
                mode: mode.unwrap_or(0o400),
            })
        }
        "ssh" => Ok(RunMount::Ssh {
            id: id
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| "default".into()),
            target: target.map(|t| target_path(&t, workdir)).transpose()?,
            required,
            uid,
            gid,
            mode: mode.unwrap_or(0o600),
        }),
        other => Err(format!(
            "unknown mount type {other:?}: use cache, bind, tmpfs, secret or ssh"
        )),
    }
}

/// Where a `build --secret` takes its value from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    File(String),
    Env(String),
}

/// Parses `--secret id=ID,src=PATH` (also `source=`, `type=file|env`,
/// `env=VAR`); an `id` alone reads the environment variable of that name
/// when there is one, else the file (buildah's rule).
pub fn parse_secret(value: &str) -> Result<(String, SecretSource), String> {
    let mut id = None;
    let mut src = None;
    let mut env = None;
    let mut kind = None;
    for field in value.split(',').filter(|f| !f.is_empty()) {
        let (k, v) = field
            .split_once('=')
            .ok_or_else(|| format!("--secret {value}: {field:?} is not KEY=VALUE"))?;
        match k {
            "id" => id = Some(v.to_owned()),
            "src" | "source" => src = Some(v.to_owned()),
            "env" => env = Some(v.to_owned()),
            "type" if v == "file" || v == "env" => kind = Some(v.to_owned()),
            _ => return Err(format!("--secret {value}: unknown option {k:?}")),
        }
    }
    let id = id
        .or_else(|| {
            src.as_deref()
                .and_then(|s| s.rsplit('/').next())
                .map(String::from)
        })
        .or_else(|| env.clone())
        .filter(|i| !i.is_empty())
        .ok_or_else(|| format!("--secret {value}: an id is needed"))?;
    if id.contains('/') {
        return Err(format!("--secret {value}: the id must not contain /"));
    }
    let source = match (kind.as_deref(), src, env) {
        (_, Some(_), Some(_)) => {
            return Err(format!("--secret {value}: give src= or env=, not both"));
        }
        (Some("env"), Some(s), None) | (_, None, Some(s)) => SecretSource::Env(s),
        (_, Some(s), None) => SecretSource::File(s),
        (Some("env"), None, None) => SecretSource::Env(id.clone()),
        (_, None, None) => SecretSource::File(id.clone()),
    };
    Ok((id, source))
}

/// Parses `build --ssh ID[=PATH[,PATH...]]` (buildah's and BuildKit's
/// syntax): the id and the paths given (none: the caller's
/// `SSH_AUTH_SOCK`, which the front end reads).
pub fn parse_ssh(value: &str) -> Result<(String, Vec<String>), String> {
    let (id, paths) = match value.split_once('=') {
        None => (value, Vec::new()),
        Some((id, rest)) => {
            let paths: Vec<String> = rest.split(',').map(String::from).collect();
            if paths.iter().any(|p| p.is_empty()) {
                return Err(format!("--ssh {value}: an empty path"));
            }
            (id, paths)
        }
    };
    if id.is_empty() || id.contains(['/', ',']) {
        return Err(format!(
            "--ssh {value}: use default or ID, optionally =PATH to an agent socket"
        ));
    }
    Ok((id.to_owned(), paths))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_defaults_and_options() {
        let m = parse("type=cache,target=/root/.cache", "/").unwrap();
        assert_eq!(
            m,
            RunMount::Cache {
                target: "/root/.cache".into(),
                id: "/root/.cache".into(),
                sharing: Sharing::Shared,
                readonly: false,
                uid: 0,
                gid: 0,
                mode: 0o755
            }
        );
        let m = parse(
            "type=cache,id=x,target=c,sharing=locked,ro,uid=7,gid=8,mode=0700",
            "/w",
        )
        .unwrap();
        assert_eq!(
            m,
            RunMount::Cache {
                target: "/w/c".into(),
                id: "x".into(),
                sharing: Sharing::Locked,
                readonly: true,
                uid: 7,
                gid: 8,
                mode: 0o700
            }
        );
        assert!(parse("type=cache,target=/c,sharing=odd", "/").is_err());
        assert!(parse("type=cache,target=/c,mode=9", "/").is_err());
    }

    #[test]
    fn bind_tmpfs_and_secret() {
        assert_eq!(
            parse("target=/src", "/").unwrap(),
            RunMount::Bind {
                target: "/src".into(),
                source: "/".into(),
                from: None,
                rw: false
            }
        );
        assert_eq!(
            parse("type=bind,from=build,src=/out,dst=/o,rw", "/").unwrap(),
            RunMount::Bind {
                target: "/o".into(),
                source: "/out".into(),
                from: Some("build".into()),
                rw: true
            }
        );
        assert_eq!(
            parse("type=tmpfs,target=/t,size=1m", "/").unwrap(),
            RunMount::Tmpfs {
                target: "/t".into(),
                size: Some("1m".into())
            }
        );
        assert_eq!(
            parse("type=secret,id=tok", "/").unwrap(),
            RunMount::Secret {
                id: "tok".into(),
                target: "/run/secrets/tok".into(),
                required: false,
                uid: 0,
                gid: 0,
                mode: 0o400
            }
        );
        match parse("type=secret,target=/a/key,required", "/").unwrap() {
            RunMount::Secret { id, required, .. } => {
                assert_eq!((id.as_str(), required), ("key", true))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_mounts_are_refused() {
        for bad in [
            "type=cache",
            "type=bind,target=/../x",
            "type=tmpfs,target=/",
            "type=ssh,target=/x/../y",
            "type=nfs,target=/x",
            "type=bind,target=/x,color=red",
            "type=secret",
            "type=cache,target=/c,from=x",
        ] {
            assert!(parse(bad, "/").is_err(), "{bad}");
        }
    }

    #[test]
    fn ssh_defaults_and_options() {
        assert_eq!(
            parse("type=ssh", "/").unwrap(),
            RunMount::Ssh {
                id: "default".into(),
                target: None,
                required: false,
                uid: 0,
                gid: 0,
                mode: 0o600
            }
        );
        assert_eq!(
            parse(
                "type=ssh,id=git,target=agent,required,uid=1,gid=2,mode=0666",
                "/w"
            )
            .unwrap(),
            RunMount::Ssh {
                id: "git".into(),
                target: Some("/w/agent".into()),
                required: true,
                uid: 1,
                gid: 2,
                mode: 0o666
            }
        );
    }

    /// `--ssh default`, `--ssh id=/path`, `--ssh id=/a,/b`.
    #[test]
    fn ssh_flags() {
        assert_eq!(parse_ssh("default").unwrap(), ("default".into(), vec![]));
        assert_eq!(
            parse_ssh("git=/run/a.sock").unwrap(),
            ("git".into(), vec!["/run/a.sock".into()])
        );
        assert_eq!(
            parse_ssh("k=/a,/b").unwrap(),
            ("k".into(), vec!["/a".into(), "/b".into()])
        );
        assert!(parse_ssh("").is_err());
        assert!(parse_ssh("=/a").is_err());
        assert!(parse_ssh("a=").is_err());
    }

    #[test]
    fn secrets() {
        assert_eq!(
            parse_secret("id=a,src=/p/f").unwrap(),
            ("a".into(), SecretSource::File("/p/f".into()))
        );
        assert_eq!(
            parse_secret("id=a,env=TOKEN").unwrap(),
            ("a".into(), SecretSource::Env("TOKEN".into()))
        );
        assert_eq!(
            parse_secret("id=a,type=env").unwrap(),
            ("a".into(), SecretSource::Env("a".into()))
        );
        assert_eq!(
            parse_secret("src=/p/key").unwrap(),
            ("key".into(), SecretSource::File("/p/key".into()))
        );
        assert!(parse_secret("id=a,src=x,env=y").is_err());
        assert!(parse_secret("nonsense").is_err());
        assert!(parse_secret("id=a/b,src=x").is_err());
    }
}
