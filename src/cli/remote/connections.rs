//! `system connection add|list|default|remove|rename`: named service
//! destinations in `$XDG_CONFIG_HOME/hutch/connections.json` (the shape of
//! Podman 4.x's `podman-connections.json`: `Default` and `Connections`
//! with `URI` and `Identity`), written whole by rename under the user's
//! config directory, mode 0600.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use super::Destination;

/// Largest connections file read (it holds a few names and URLs).
const MAX_FILE: u64 = 1024 * 1024;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Connections {
    #[serde(default)]
    pub default: String,
    #[serde(default)]
    pub connections: BTreeMap<String, Connection>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Connection {
    #[serde(rename = "URI")]
    pub uri: String,
    #[serde(rename = "Identity", default, skip_serializing_if = "String::is_empty")]
    pub identity: String,
}

/// The file, from the caller's environment (`XDG_CONFIG_HOME`, `HOME`).
pub fn path() -> anyhow::Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("hutch/connections.json"));
    }
    let home = std::env::var_os("HOME").context("HOME is not set: cannot find connections.json")?;
    Ok(PathBuf::from(home).join(".config/hutch/connections.json"))
}

impl Connections {
    pub fn load() -> anyhow::Result<Connections> {
        use std::io::Read;
        let p = path()?;
        let mut text = String::new();
        match std::fs::File::open(&p) {
            Ok(f) => {
                f.take(MAX_FILE)
                    .read_to_string(&mut text)
                    .with_context(|| format!("reading {}", p.display()))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
        }
        serde_json::from_str(&text).with_context(|| format!("{} is not valid", p.display()))
    }

    fn save(&self) -> anyhow::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let p = path()?;
        let dir = p.parent().context("connections.json has no directory")?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let tmp = p.with_extension(format!("tmp-{}", std::process::id()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(serde_json::to_string_pretty(self)?.as_bytes())
            .and_then(|()| f.sync_all())
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &p).with_context(|| format!("writing {}", p.display()))
    }

    pub fn get(&self, name: &str) -> anyhow::Result<&Connection> {
        self.connections.get(name).with_context(|| {
            format!("connection {name:?} not found: see `hutch system connection list`")
        })
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum ConnectionCommand {
    /// Record a destination for the remote client
    Add(AddArgs),
    /// List the destinations
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Set the default destination
    Default(NameArg),
    /// Delete a destination
    #[command(visible_alias = "rm")]
    Remove(RemoveArgs),
    /// Rename a destination
    #[command(visible_alias = "mv")]
    Rename(RenameArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Make it the default destination
    #[arg(short, long)]
    default: bool,
    /// SSH private key to use for this destination
    #[arg(long, value_name = "PATH")]
    identity: Option<PathBuf>,
    /// SSH port of the destination (in place of the URL's)
    #[arg(short, long)]
    port: Option<u16>,
    /// Path to the service's socket on the destination (in place of the URL's)
    #[arg(long, value_name = "PATH")]
    socket_path: Option<String>,
    name: String,
    /// unix:///path or ssh://user@host[:port]/run/user/UID/hutch/hutch.sock
    destination: String,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Custom Go template, or json
    #[arg(short, long)]
    format: Option<String>,
    /// Names only
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct NameArg {
    name: String,
}

#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// Remove every destination
    #[arg(short, long)]
    all: bool,
    name: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RenameArgs {
    old: String,
    new: String,
}

/// Longest connection name taken.
const MAX_NAME: usize = 256;

pub fn run(cmd: ConnectionCommand) -> anyhow::Result<ExitCode> {
    let mut all = Connections::load()?;
    match cmd {
        ConnectionCommand::Add(a) => {
            if a.name.is_empty() || a.name.len() > MAX_NAME {
                bail!("connection name must be 1 to {MAX_NAME} bytes");
            }
            let mut uri = a.destination.clone();
            if !uri.contains("://") {
                // Podman's short form: user@host means ssh.
                uri = format!("ssh://{uri}");
            }
            if let Some(port) = a.port {
                let d = Destination::parse(&uri)?;
                if let Destination::Ssh {
                    user, host, socket, ..
                } = d
                {
                    uri = Destination::Ssh {
                        user,
                        host,
                        port: Some(port),
                        socket,
                    }
                    .to_string();
                }
            }
            if let Some(sock) = &a.socket_path {
                let d = Destination::parse(&uri)?;
                uri = match d {
                    Destination::Unix(_) => format!("unix://{sock}"),
                    Destination::Ssh {
                        user, host, port, ..
                    } => Destination::Ssh {
                        user,
                        host,
                        port,
                        socket: sock.clone(),
                    }
                    .to_string(),
                };
            }
            // Refused now rather than at first use.
            Destination::parse(&uri)?;
            let identity = match a.identity {
                Some(p) => std::path::absolute(&p)
                    .with_context(|| format!("--identity {}", p.display()))?
                    .display()
                    .to_string(),
                None => String::new(),
            };
            all.connections
                .insert(a.name.clone(), Connection { uri, identity });
            if a.default || all.default.is_empty() {
                all.default = a.name;
            }
            all.save()?;
        }
        ConnectionCommand::List(a) => {
            let rows: Vec<serde_json::Value> = all
                .connections
                .iter()
                .map(|(n, c)| {
                    serde_json::json!({
                        "Name": n, "URI": c.uri, "Identity": c.identity,
                        "Default": *n == all.default,
                    })
                })
                .collect();
            if a.quiet {
                for n in all.connections.keys() {
                    println!("{n}");
                }
            } else if a.format.as_deref() == Some("json") {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if let Some(f) = &a.format {
                for r in &rows {
                    println!("{}", render(f, r));
                }
            } else {
                let w = rows
                    .iter()
                    .map(|r| r["Name"].as_str().map_or(0, str::len))
                    .max()
                    .unwrap_or(0)
                    .max(4);
                let u = rows
                    .iter()
                    .map(|r| r["URI"].as_str().map_or(0, str::len))
                    .max()
                    .unwrap_or(0)
                    .max(3);
                let i = rows
                    .iter()
                    .map(|r| r["Identity"].as_str().map_or(0, str::len))
                    .max()
                    .unwrap_or(0)
                    .max(8);
                println!("{:w$}  {:u$}  {:i$}  Default", "Name", "URI", "Identity");
                for r in &rows {
                    println!(
                        "{:w$}  {:u$}  {:i$}  {}",
                        r["Name"].as_str().unwrap_or(""),
                        r["URI"].as_str().unwrap_or(""),
                        r["Identity"].as_str().unwrap_or(""),
                        r["Default"]
                    );
                }
            }
        }
        ConnectionCommand::Default(a) => {
            all.get(&a.name)?;
            all.default = a.name;
            all.save()?;
        }
        ConnectionCommand::Remove(a) => {
            if a.all {
                all = Connections::default();
            } else {
                let Some(name) = a.name else {
                    bail!("accepts 1 arg(s), received 0");
                };
                // As Podman: removing an unknown name is not an error.
                all.connections.remove(&name);
                if all.default == name {
                    all.default = all.connections.keys().next().cloned().unwrap_or_default();
                }
            }
            all.save()?;
        }
        ConnectionCommand::Rename(a) => {
            let c = all.get(&a.old)?.clone();
            if a.new.is_empty() || a.new.len() > MAX_NAME {
                bail!("connection name must be 1 to {MAX_NAME} bytes");
            }
            all.connections.remove(&a.old);
            all.connections.insert(a.new.clone(), c);
            if all.default == a.old {
                all.default = a.new;
            }
            all.save()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `{{.Name}}`-style fields of one row: enough for `--format` with the
/// four fields (a full Go template is the local commands' business).
fn render(format: &str, row: &serde_json::Value) -> String {
    let mut out = format.replace("\\t", "\t");
    for k in ["Name", "URI", "Identity", "Default"] {
        let v = match &row[k] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out = out.replace(&format!("{{{{.{k}}}}}"), &v);
    }
    out
}
