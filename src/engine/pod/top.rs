//! `pod top`: the processes of every running container of the pod, one
//! table (Podman's `pod top`), each container's as `top` reads them.

use hutch_storage::Store;

use super::lookup;
use crate::engine::Result;
use crate::engine::container::top::{self, TopOptions, TopReport};
use crate::engine::state::{ContainerState, State};

pub fn top(store: &Store, state: &State, query: &str, opts: &TopOptions) -> Result<TopReport> {
    opts.validate()?;
    state.recover()?;
    let pod = lookup(state, query)?;
    let running: Vec<_> = pod
        .containers(state)?
        .into_iter()
        .filter(|c| matches!(c.state, ContainerState::Running | ContainerState::Paused))
        .collect();
    // None running: an empty report, which podman 4.3.1 prints as
    // nothing (exit 0).
    let mut out = TopReport {
        headers: Vec::new(),
        rows: Vec::new(),
    };
    for c in running {
        // A container that exits meanwhile has no processes to show.
        let Ok(one) = top::top(store, state, &c.id, opts) else {
            continue;
        };
        out.headers = one.headers;
        out.rows.extend(one.rows);
    }
    Ok(out)
}
