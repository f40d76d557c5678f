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

/// `--filter` on `rm`, `stop`, `start`, `restart`, `pause` and `unpause`:
/// the full ids of every container (running or not) that passes `ps`'s
/// filters, which Podman then prints. `None` without filters.
pub fn filtered(
    ctx: &crate::config::Context,
    store: &hutch_storage::Store,
    state: &State,
    filters: &[String],
    names: &[String],
) -> anyhow::Result<Option<Vec<String>>> {
    use crate::engine::container::list::{self, Filter, ListOptions};
    if filters.is_empty() {
        return Ok(None);
    }
    if !names.is_empty() {
        bail!("--filter takes no arguments");
    }
    let opts = ListOptions {
        all: true,
        filters: filters
            .iter()
            .map(|f| Filter::parse(f))
            .collect::<Result<_, _>>()?,
        ..ListOptions::default()
    };
    Ok(Some(
        list::list(ctx, store, state, &opts)?
            .into_iter()
            .map(|c| c.id)
            .collect(),
    ))
}
