//! Descriptors handed to a container at its start (`--preserve-fds`, or a
//! systemd socket unit's), and the socket activation variables its process
//! gets with them. The front end takes the descriptors over; the monitor
//! places them at 3.. for the runtime (`--preserve-fds N`).

use std::os::fd::OwnedFd;

use anyhow::Context as _;

use super::Paths;

/// What the caller hands on.
#[derive(Debug, Default)]
pub struct PassedFds {
    /// In order: the container's process sees them as 3, 4, ...
    pub fds: Vec<OwnedFd>,
    /// Socket activation: the container's process gets `LISTEN_FDS`,
    /// `LISTEN_PID=1` and `LISTEN_FDNAMES` (when given) for this start.
    pub activation: Option<Activation>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    pub count: u32,
    pub names: Option<String>,
}

/// Set when config.json carries a start's activation variables, so that
/// the next start without activation removes them (the common case reads
/// nothing but this file's absence).
const MARK: &str = "listen-env";

const VARS: [&str; 3] = ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"];

/// The activation variables for this start in config.json's process
/// environment (Podman sets them at each start too, not at create).
pub fn apply_env(paths: &Paths, activation: Option<&Activation>) -> anyhow::Result<()> {
    let mark = paths.userdata.join(MARK);
    if activation.is_none() && !mark.exists() {
        return Ok(());
    }
    let file = paths.userdata.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?,
    )
    .with_context(|| format!("parsing {}", file.display()))?;
    let env = spec["process"]["env"]
        .as_array_mut()
        .with_context(|| format!("{} has no process environment", file.display()))?;
    env.retain(|e| {
        e.as_str().is_none_or(|e| {
            !VARS
                .iter()
                .any(|v| e.strip_prefix(v).is_some_and(|r| r.starts_with('=')))
        })
    });
    if let Some(a) = activation {
        env.push(format!("LISTEN_FDS={}", a.count).into());
        // The container's init is pid 1 in its pid namespace (Podman's
        // value; the runtime execs it as the process it starts).
        env.push("LISTEN_PID=1".into());
        if let Some(names) = &a.names {
            env.push(format!("LISTEN_FDNAMES={names}").into());
        }
    }
    let bytes = serde_json::to_vec_pretty(&spec)?;
    write_replacing(&file, &bytes)?;
    if activation.is_some() {
        std::fs::write(&mark, b"").with_context(|| format!("writing {}", mark.display()))?;
    } else {
        let _ = std::fs::remove_file(&mark);
    }
    Ok(())
}

/// Written beside and renamed over: a runtime never reads half a file.
fn write_replacing(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_come_with_activation_and_go_without() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = Paths {
            userdata: dir.path().to_path_buf(),
            attach: dir.path().join("a"),
        };
        let file = dir.path().join("config.json");
        std::fs::write(
            &file,
            r#"{"process":{"env":["PATH=/bin","LISTEN_FDS=9","LISTEN_FDSX=keep"]}}"#,
        )
        .expect("write");
        let env = || -> Vec<String> {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
            serde_json::from_value(v["process"]["env"].clone()).expect("env")
        };
        // Without a mark and without activation the file is not read.
        apply_env(&paths, None).expect("nothing to do");
        assert_eq!(env().len(), 3);
        let a = Activation {
            count: 2,
            names: Some("web:admin".into()),
        };
        apply_env(&paths, Some(&a)).expect("applied");
        assert_eq!(
            env(),
            [
                "PATH=/bin",
                "LISTEN_FDSX=keep",
                "LISTEN_FDS=2",
                "LISTEN_PID=1",
                "LISTEN_FDNAMES=web:admin"
            ]
        );
        apply_env(&paths, None).expect("removed");
        assert_eq!(env(), ["PATH=/bin", "LISTEN_FDSX=keep"]);
        assert!(!dir.path().join(MARK).exists());
    }
}
