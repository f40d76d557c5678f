//! Container events (`hutch events`): what happened to which container,
//! appended to the state database's event log. Recording an event never
//! fails the operation it describes.

use std::collections::BTreeMap;

use crate::engine::state::{Container, Event, EventType, State};
use crate::host::time;

/// Appends container event `action` for `c`, with the image and name as
/// Podman records them, plus `extra` attributes.
pub fn record(state: &State, c: &Container, action: &str, extra: &[(&str, String)]) {
    let mut attributes = BTreeMap::from([
        ("image".to_owned(), c.image_name.clone()),
        ("name".to_owned(), c.name.clone()),
    ]);
    for (k, v) in extra {
        attributes.insert((*k).to_owned(), v.clone());
    }
    let event = Event {
        id: 0,
        time: time::now_ns(),
        kind: EventType::Container,
        action: action.to_owned(),
        actor_id: c.id.clone(),
        actor_name: c.name.clone(),
        attributes,
    };
    if let Err(e) = state.append_event(&event) {
        tracing::warn!(container = %c.id, action, "recording event: {e}");
    }
}
