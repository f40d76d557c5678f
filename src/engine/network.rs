//! User network operations: create, inspect (with the containers on it),
//! prune, and `network rm [-f]`, which removes the containers using a
//! network first by the same removal as `rm -f` (network teardown
//! included).

use std::collections::BTreeMap;

use hutch_rootless_net::networks::{Network, NetworkStore};
use hutch_rootless_net::{NetError, NetworkMode};
use hutch_storage::Store;

use crate::config::Context;
use crate::engine::container::remove::{self, RemoveOptions};
use crate::engine::container::{Paths, network, usernet};
use crate::engine::state::{Container, State, names};
use crate::engine::{Error, ErrorKind, Result, ResultExt};
use crate::host::time;

/// `network create [--subnet S] [--gateway G] [--internal] [--label K=V] [NAME]`.
#[derive(Debug, Clone, Default)]
pub struct NetworkCreateOptions {
    /// `None`: the first free `podmanN`, as Podman names them.
    pub name: Option<String>,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
}

pub fn create(ctx: &Context, opts: &NetworkCreateOptions) -> Result<Network> {
    let nets = store(ctx)?;
    let existing = nets.list().map_err(error)?;
    let name = match &opts.name {
        Some(n) => {
            names::validate("network", n)?;
            n.clone()
        }
        None => (1..)
            .map(|i| format!("podman{i}"))
            .find(|n| !existing.iter().any(|e| &e.name == n))
            .unwrap_or_default(),
    };
    let id = names::generate_id().context("generating a network id")?;
    nets.create(
        &name,
        id,
        time::rfc3339(time::now()),
        opts.subnet.as_deref(),
        opts.gateway.as_deref(),
        opts.internal,
        opts.labels.clone(),
    )
    .map_err(error)
}

/// The endpoints of the running containers on `net`.
pub fn endpoints_on(ctx: &Context, net: &Network) -> Vec<hutch_rootless_net::usernet::Endpoint> {
    hutch_rootless_net::usernet::read_records(&usernet::paths(ctx))
        .endpoints
        .into_iter()
        .filter(|e| e.network == net.name)
        .collect()
}

/// `network inspect`'s "containers" (Podman 5's key): the running ones
/// with their interface, address and MAC.
pub fn containers_on(ctx: &Context, net: &Network) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for e in endpoints_on(ctx, net) {
        out.insert(
            e.id.clone(),
            serde_json::json!({
                "name": e.name,
                "interfaces": {
                    e.interface.clone(): {
                        "subnets": [{"ipnet": format!("{}/{}", e.ip, e.prefix), "gateway": e.gateway}],
                        "mac_address": e.mac,
                    }
                }
            }),
        );
    }
    serde_json::Value::Object(out)
}

/// A network as Podman shows it: its record and `ipam_options` (the
/// addresses come from the network's own allocator, which Podman names
/// after CNI's).
pub fn view(n: &Network) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(n)?;
    v["ipam_options"] = serde_json::json!({"driver": "host-local"});
    Ok(v)
}

/// `network inspect NAME...`: each network's record with its containers.
pub fn inspect(ctx: &Context, names: &[String]) -> Result<Vec<serde_json::Value>> {
    let nets = store(ctx)?;
    let mut out = Vec::new();
    for q in names {
        let n = nets.get(q).map_err(error)?;
        let mut v = view(&n)?;
        v["containers"] = containers_on(ctx, &n);
        out.push(v);
    }
    Ok(out)
}

/// Network list filters (the REST API's; Docker's keys): `name`
/// (substring), `id` (prefix), `label` (`K` or `K=V`), `driver`; values of
/// one key are alternatives, different keys must all match.
pub struct NetworkFilters(Vec<(String, String)>);

impl NetworkFilters {
    pub fn parse(list: &[String]) -> Result<NetworkFilters> {
        let mut out = Vec::new();
        for f in list {
            let (k, v) = f.split_once('=').ok_or_else(|| {
                Error::bad_input(format!("invalid filter {f:?}: expected key=value"))
            })?;
            if !matches!(k, "name" | "id" | "label" | "driver" | "type") {
                crate::fail!(BadInput, "invalid filter {k:?}");
            }
            out.push((k.to_owned(), v.to_owned()));
        }
        Ok(NetworkFilters(out))
    }

    pub fn matches(&self, n: &Network) -> bool {
        let mut keys: Vec<&str> = self.0.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        keys.iter().all(|key| {
            self.0
                .iter()
                .filter(|(k, _)| k == key)
                .any(|(k, v)| match k.as_str() {
                    "name" => crate::engine::name_filter::matches(v, &n.name),
                    "id" => n.id.starts_with(v.as_str()),
                    "driver" => n.driver == *v,
                    // Docker's types: the default network is the builtin one.
                    "type" => {
                        let builtin = n.id == hutch_rootless_net::networks::DEFAULT_NETWORK_ID;
                        v == if builtin { "builtin" } else { "custom" }
                    }
                    "label" => match v.split_once('=') {
                        Some((lk, lv)) => n.labels.get(lk).is_some_and(|x| x == lv),
                        None => n.labels.contains_key(v.as_str()),
                    },
                    _ => false,
                })
        })
    }
}

/// The networks that pass `filters`.
pub fn list(ctx: &Context, filters: &NetworkFilters) -> Result<Vec<Network>> {
    Ok(store(ctx)?
        .list()
        .map_err(error)?
        .into_iter()
        .filter(|n| filters.matches(n))
        .collect())
}

/// `network prune`: every network no container uses; their names.
pub fn prune(
    ctx: &Context,
    store: &Store,
    state: &State,
    filters: &crate::engine::prune_filter::PruneFilters,
) -> Result<Vec<String>> {
    let nets = self::store(ctx)?;
    let mut removed = Vec::new();
    for n in nets.list().map_err(error)? {
        if n.name == hutch_rootless_net::networks::DEFAULT_NETWORK {
            continue;
        }
        let created = crate::host::time::parse_rfc3339(&n.created)
            .unwrap_or(0)
            .saturating_mul(1_000_000_000);
        if !filters.matches(
            created,
            n.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ) {
            continue;
        }
        if users_of(ctx, store.root(), state, &n)?.is_empty() {
            nets.remove(&n.name).map_err(error)?;
            let _ = hutch_rootless_net::usernet::remove_bridge(
                &usernet::paths(ctx),
                &n.network_interface,
            );
            removed.push(n.name);
        }
    }
    Ok(removed)
}

/// The kind of a network error: a missing network is not found.
pub fn error(e: NetError) -> Error {
    let kind = match &e {
        NetError::NoSuchNetwork(_) => ErrorKind::NotFound,
        NetError::Helper(m) if m.ends_with("already exists") => ErrorKind::Conflict,
        NetError::Mode(..) | NetError::Port(..) => ErrorKind::BadInput,
        // Podman's rootlessport fails the start with 126 ("cannot invoke").
        NetError::PortInUse { .. } => ErrorKind::Runtime { code: 126 },
        // Podman's network setup fails the start the same way.
        NetError::Address(_) => ErrorKind::Runtime { code: 126 },
        _ => ErrorKind::Internal,
    };
    Error::from(anyhow::Error::new(e)).with_kind(kind)
}

impl From<NetError> for Error {
    fn from(e: NetError) -> Error {
        error(e)
    }
}

/// The networks' records, beside the image store.
pub fn store(ctx: &Context) -> Result<NetworkStore> {
    let conf = crate::engine::image::storage_conf(ctx)?;
    Ok(
        NetworkStore::new(crate::engine::image::graph_root(ctx, &conf).join("networks"))
            .with_default(time::rfc3339(time::now())),
    )
}

/// The containers whose network plan names `net`.
pub fn users_of(
    ctx: &Context,
    graphroot: &std::path::Path,
    state: &State,
    net: &Network,
) -> Result<Vec<Container>> {
    Ok(state
        .list_containers(true)?
        .into_iter()
        .filter(|c| {
            network::read_plan(&Paths::new(ctx, graphroot, &c.id)).is_some_and(|p| {
                usernet::uses(&p, &net.name)
                    || matches!(&p.mode, NetworkMode::Network { name } if *name == net.id)
            })
        })
        .collect())
}

/// `network rm [-f] NAME...`.
#[derive(Debug, Clone, Default)]
pub struct NetworkRemoveOptions {
    pub names: Vec<String>,
    /// Remove the containers using a network first (running ones too).
    pub force: bool,
    /// `-t`: seconds those containers get to stop before SIGKILL; `None`
    /// kills at once, as `rm -f` does.
    pub timeout: Option<u32>,
}

/// One network's outcome; `name` is the network's name when it was found,
/// else the input.
#[derive(Debug)]
pub struct NetworkRemoveReport {
    pub name: String,
    pub error: Option<Error>,
}

pub fn remove_networks(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &NetworkRemoveOptions,
) -> Result<Vec<NetworkRemoveReport>> {
    let nets = self::store(ctx)?;
    let mut reports = Vec::new();
    for q in &opts.names {
        let report = match remove_one(ctx, store, state, &nets, q, opts) {
            Ok(name) => NetworkRemoveReport { name, error: None },
            Err(e) => NetworkRemoveReport {
                name: q.clone(),
                error: Some(e),
            },
        };
        reports.push(report);
    }
    Ok(reports)
}

fn remove_one(
    ctx: &Context,
    store: &Store,
    state: &State,
    nets: &NetworkStore,
    query: &str,
    opts: &NetworkRemoveOptions,
) -> Result<String> {
    let force = opts.force;
    let n = nets.get(query).map_err(error)?;
    let users = users_of(ctx, store.root(), state, &n)?;
    if !users.is_empty() && !force {
        let names: Vec<&str> = users.iter().map(|c| c.name.as_str()).collect();
        crate::fail!(
            Conflict,
            "network {} is being used by container(s) {}: network is being used",
            n.name,
            names.join(", ")
        );
    }
    if !users.is_empty() {
        // Podman's -f: the containers go first, as `rm -f` removes them.
        let opts = RemoveOptions {
            names: users.iter().map(|c| c.id.clone()).collect(),
            force: true,
            timeout: opts.timeout,
            ..RemoveOptions::default()
        };
        for r in remove::remove(ctx, store, state, &opts)? {
            if let Some(e) = r.error {
                return Err(e.context(format!("removing the containers of network {}", n.name)));
            }
        }
    }
    nets.remove(&n.name).map_err(error)?;
    let _ = hutch_rootless_net::usernet::remove_bridge(&usernet::paths(ctx), &n.network_interface);
    Ok(n.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_network_is_not_found() {
        let e = error(NetError::NoSuchNetwork("x".into()));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            e.text(),
            "unable to find network with name or ID x: network not found"
        );
        assert_eq!(
            error(NetError::Helper("h".into())).kind(),
            ErrorKind::Internal
        );
    }
}
