//! Which containers an operation acts on (names, every one, or the latest
//! created) and the per-container report that multi-container operations
//! return: an error on one container is its report's, the others go on
//! (Podman's `[]*StopReport`, `[]*KillReport`, ... shape).

use crate::engine::state::{Container, State};
use crate::engine::{Error, Result};

/// Names or ids as given, `--all` or `--latest`.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub names: Vec<String>,
    pub all: bool,
    pub latest: bool,
}

impl Selection {
    pub fn names(names: &[String]) -> Selection {
        Selection {
            names: names.to_vec(),
            ..Selection::default()
        }
    }

    /// The flag combination, checked before anything is looked up.
    pub fn validate(&self) -> Result<()> {
        if self.latest && !self.names.is_empty() {
            crate::fail!(BadInput, "--latest and containers cannot be used together");
        }
        if self.all && !self.names.is_empty() {
            crate::fail!(BadInput, "no arguments are needed with --all");
        }
        if !self.all && !self.latest && self.names.is_empty() {
            crate::fail!(BadInput, "you must provide at least one name or id");
        }
        Ok(())
    }

    /// Each target: the input as the user gave it (printed back as Podman
    /// does; the full id for `all` and `latest`) and its row, or why there
    /// is none.
    pub fn resolve(&self, state: &State) -> Result<Vec<(String, Result<Container>)>> {
        self.validate()?;
        if self.all {
            return Ok(state
                .list_containers(true)?
                .into_iter()
                .map(|c| (c.id.clone(), Ok(c)))
                .collect());
        }
        if self.latest {
            let c = latest(state)?;
            return Ok(vec![(c.id.clone(), Ok(c))]);
        }
        Ok(self
            .names
            .iter()
            .map(|n| (n.clone(), state.container(n).map_err(Error::from)))
            .collect())
    }
}

/// The most recently created container (`--latest`).
pub fn latest(state: &State) -> Result<Container> {
    match state
        .list_containers(true)?
        .into_iter()
        .max_by_key(|c| c.created)
    {
        Some(c) => Ok(c),
        None => Err(Error::not_found(
            "no containers to act on: no such container",
        )),
    }
}

/// One container's outcome in a multi-container operation.
#[derive(Debug)]
pub struct Report {
    /// The name or id as given (the full id for `all`/`latest`).
    pub input: String,
    /// The full id, empty when the container was not found.
    pub id: String,
    /// `None`: done.
    pub error: Option<Error>,
}

impl Report {
    pub fn of(input: String, id: String, result: Result<()>) -> Report {
        Report {
            input,
            id,
            error: result.err(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ErrorKind;

    #[test]
    fn selections_are_checked() {
        let s = |names: &[&str], all, latest| Selection {
            names: names.iter().map(|n| n.to_string()).collect(),
            all,
            latest,
        };
        assert!(s(&["a"], false, false).validate().is_ok());
        assert!(s(&[], true, false).validate().is_ok());
        assert!(s(&[], false, true).validate().is_ok());
        let e = s(&[], false, false).validate().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadInput);
        assert_eq!(e.text(), "you must provide at least one name or id");
        assert!(s(&["a"], false, true).validate().is_err());
        assert!(s(&["a"], true, false).validate().is_err());
    }
}
