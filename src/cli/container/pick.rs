//! Choosing the containers a command acts on: by name or ID, or `--latest`.

use anyhow::bail;

use crate::engine::state::{Container, State};

/// The containers named, or with `latest` the last one created.
pub fn containers(state: &State, names: &[String], latest: bool) -> anyhow::Result<Vec<Container>> {
    if latest {
        if !names.is_empty() {
            bail!("--latest and containers cannot be used together");
        }
        return match state
            .list_containers(true)?
            .into_iter()
            .max_by_key(|c| c.created)
        {
            Some(c) => Ok(vec![c]),
            None => bail!("no containers to use as latest"),
        };
    }
    names
        .iter()
        .map(|n| state.container(n).map_err(Into::into))
        .collect()
}
