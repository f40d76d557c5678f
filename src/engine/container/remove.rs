//! `rm`: a stopped container's layer, files and record.

use anyhow::bail;
use hutch_storage::Store;

use super::Paths;
use crate::engine::state::{ContainerState, State, Transition};

/// Removes a container that no longer runs.
pub fn remove_stopped(store: &Store, state: &State, paths: &Paths, id: &str) -> anyhow::Result<()> {
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
    state.remove_container(id)?;
    super::events::record(state, &row, "remove", &[]);
    Ok(())
}
