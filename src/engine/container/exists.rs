//! `container exists`: whether a name or id names a container.

use crate::engine::Result;
use crate::engine::state::{State, StateError};

/// True if `name` names a container; an error only when the state cannot
/// be read.
pub fn exists(state: &State, name: &str) -> Result<bool> {
    match state.container(name) {
        Ok(_) => Ok(true),
        Err(StateError::NoSuchContainer { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
