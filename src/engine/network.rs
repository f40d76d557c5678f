//! User network operations that reach across containers: which containers
//! use a network, and `network rm [-f]`, which removes those containers
//! first by the same removal as `rm -f` (network teardown included).

use hutch_rootless_net::networks::{Network, NetworkStore};
use hutch_rootless_net::{NetError, NetworkMode};
use hutch_storage::Store;

use crate::config::Context;
use crate::engine::container::remove::{self, RemoveOptions};
use crate::engine::container::{Paths, network, usernet};
use crate::engine::state::{Container, State};
use crate::engine::{Error, ErrorKind, Result};

/// The kind of a network error: a missing network is not found.
pub fn error(e: NetError) -> Error {
    let kind = match &e {
        NetError::NoSuchNetwork(_) => ErrorKind::NotFound,
        NetError::Mode(..) | NetError::Port(..) => ErrorKind::BadInput,
        NetError::PortInUse { .. } => ErrorKind::Conflict,
        _ => ErrorKind::Internal,
    };
    Error::from(anyhow::Error::new(e)).with_kind(kind)
}

/// The networks' records, beside the image store.
pub fn store(ctx: &Context) -> Result<NetworkStore> {
    let conf = crate::engine::image::storage_conf(ctx)?;
    Ok(NetworkStore::new(
        crate::engine::image::graph_root(ctx, &conf).join("networks"),
    ))
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
        let report = match remove_one(ctx, store, state, &nets, q, opts.force) {
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
    force: bool,
) -> Result<String> {
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
