//! `rename`: a container's name, in the database and in the resolver of
//! its user networks.

use super::events;
use crate::config::Context;
use crate::engine::Result;
use crate::engine::state::State;

/// `rename CONTAINER NAME`.
#[derive(Debug, Clone, Default)]
pub struct RenameOptions {
    pub container: String,
    pub name: String,
}

pub fn rename(ctx: &Context, state: &State, opts: &RenameOptions) -> Result<()> {
    let c = state.container(&opts.container)?;
    state.rename(&c.id, &opts.name)?;
    // The resolver of user networks answers the new name from now on.
    super::usernet::rename(ctx, &c.id, &opts.name);
    let renamed = state.container(&c.id)?;
    events::record(state, &renamed, "rename", &[("oldName", c.name.clone())]);
    Ok(())
}
