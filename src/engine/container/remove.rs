//! `rm`: a stopped container's layer, files and record.

use anyhow::{Context as _, bail};
use hutch_storage::Store;

use super::Paths;
use crate::engine::state::{ContainerState, State, Transition};

/// Removes a container that no longer runs.
pub fn remove_stopped(store: &Store, state: &State, paths: &Paths, id: &str) -> anyhow::Result<()> {
    remove_stopped_with(store, state, paths, id, false)
}

/// [`remove_stopped`]; with `volumes` (`rm -v`) also the anonymous volumes
/// it used that no other container uses. Named volumes always stay.
pub fn remove_stopped_with(
    store: &Store,
    state: &State,
    paths: &Paths,
    id: &str,
    volumes: bool,
) -> anyhow::Result<()> {
    let row = state.container(id)?;
    if row.state.is_active()
        && !matches!(
            row.state,
            ContainerState::Created | ContainerState::Configured
        )
    {
        bail!(
            "cannot remove container {} as it is {}: stop it first or use -f",
            row.name,
            row.state.as_str()
        );
    }
    if row.state != ContainerState::Removing {
        state.update_state(id, Transition::Removing)?;
    }
    store.remove_container_layer(id)?;
    if let Some(dir) = paths.userdata.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
    let orphans = state.remove_container(id)?;
    super::events::record(state, &row, "remove", &[]);
    if volumes {
        crate::engine::volume::remove_orphans(state, &orphans)
            .with_context(|| format!("removing the anonymous volumes of {}", row.name))?;
    }
    Ok(())
}
