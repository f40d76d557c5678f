//! Docker's `GET /events` (the engine's event log, streamed as Docker's
//! JSON messages) and `GET /system/df`.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::containers::{blocking, filters, open};
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::{Shared, held_stream};
use crate::engine::container::events::{EventStream, EventsOptions, parse_time};
use crate::engine::container::list::{self as clist, ListOptions};
use crate::engine::image::list as ilist;
use crate::engine::state::{Event, EventType};
use crate::engine::volume;
use crate::host::time;

type Q = Query<HashMap<String, String>>;

/// How often a streaming client's events are looked for.
const EVENT_POLL: Duration = Duration::from_millis(100);

/// Event batches buffered for a slow client.
const EVENT_QUEUE: usize = 16;

fn bad(flavor: ApiVersion, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message, flavor)
}

/// Docker's action names where Podman's differ.
fn docker_action(kind: EventType, action: &str) -> String {
    match (kind, action) {
        (_, "died") => "die".to_owned(),
        (EventType::Container, "remove") => "destroy".to_owned(),
        (_, a) => a.to_owned(),
    }
}

/// Docker's filter values in the engine's words.
fn engine_filter(f: String) -> String {
    match f.split_once('=') {
        Some(("event", "destroy")) => "event=remove".to_owned(),
        _ => f,
    }
}

/// One event as Docker's JSON message (the old `status`/`id`/`from` keys
/// too, which older clients read).
fn docker_event(e: &Event) -> Value {
    let action = docker_action(e.kind, &e.action);
    let mut attributes = e.attributes.clone();
    if let Some(code) = attributes.remove("containerExitCode") {
        attributes.insert("exitCode".to_owned(), code);
    }
    // Docker names a volume by its name (the engine records no id).
    let actor = if e.actor_id.is_empty() {
        &e.actor_name
    } else {
        &e.actor_id
    };
    if e.kind == EventType::Volume && !e.actor_name.is_empty() {
        attributes
            .entry("driver".to_owned())
            .or_insert_with(|| "local".to_owned());
    }
    let mut v = json!({
        "Type": e.kind.as_str(),
        "Action": action,
        "Actor": {"ID": actor, "Attributes": attributes},
        "scope": "local",
        "time": e.time / 1_000_000_000,
        "timeNano": e.time,
    });
    if e.kind == EventType::Container {
        v["status"] = json!(action);
        v["id"] = json!(e.actor_id);
        v["from"] = json!(e.attributes.get("image").cloned().unwrap_or_default());
    }
    v
}

/// `GET /events?since=&until=&filters=`: past events in the window when
/// `since` is given, then new ones as they happen, until `until` passes or
/// the client hangs up. Filters: type, container, event, image, label.
pub async fn events(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let now = time::now_ns();
    let when = |key: &str| -> Result<Option<i64>, ApiError> {
        match q.get(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => parse_time(v, now)
                .map(Some)
                .map_err(|e| bad(flavor, e.text())),
        }
    };
    let opts = EventsOptions {
        filters: filters(&q, flavor)?
            .into_iter()
            .map(engine_filter)
            .collect(),
        since: when("since")?,
        until: when("until")?,
    };
    opts.validate().map_err(|e| bad(flavor, e.text()))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(EVENT_QUEUE);
    let ctx = shared.ctx.clone();
    tokio::task::spawn_blocking(move || {
        let Ok((_, state)) = open(&ctx) else {
            return;
        };
        let Ok(mut stream) = EventStream::open(&state, &opts) else {
            return;
        };
        // Without `since` (or `until`) Docker sends only what happens from
        // now on; the first batch is the past.
        let past_wanted = opts.since.is_some() || opts.until.is_some();
        let mut first = true;
        loop {
            let batch = match stream.next_batch() {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!("reading events: {}", e.text());
                    return;
                }
            };
            if !first || past_wanted {
                let mut text = String::new();
                for e in &batch {
                    text.push_str(&docker_event(e).to_string());
                    text.push('\n');
                }
                if !text.is_empty() && tx.blocking_send(Bytes::from(text)).is_err() {
                    return;
                }
            }
            first = false;
            if stream.ended() || tx.is_closed() {
                return;
            }
            std::thread::sleep(EVENT_POLL);
        }
    });
    let body = held_stream(&shared, rx);
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

/// `GET /system/df`: images, containers and volumes, each with its size,
/// volumes with how many containers use them.
pub async fn df(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let v = blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        let images = ilist::list(
            &store,
            &ilist::ListRequest {
                filters: Vec::new(),
                name: None,
            },
        )?;
        let layers_size: u64 = images.iter().map(|i| i.record.size).sum();
        let opts = ListOptions {
            all: true,
            filters: Vec::new(),
            last: None,
            latest: false,
            size: true,
        };
        let containers = clist::list(&ctx, &store, &state, &opts)?;
        let now = time::now_ns();
        let mut image_views = Vec::new();
        for l in &images {
            let mut v = super::images::docker_view(l);
            let id = l.record.id.hex();
            let users = containers
                .iter()
                .filter(|c| c.image_id.trim_start_matches("sha256:") == id)
                .count();
            v["Containers"] = json!(users);
            image_views.push(v);
        }
        let container_views: Vec<Value> = containers
            .iter()
            .map(|c| {
                let (rw, root) = c.size.unwrap_or((0, 0));
                json!({
                    "Id": c.id,
                    "Names": [format!("/{}", c.name)],
                    "Image": c.image,
                    "ImageID": c.image_id,
                    "Command": c.command,
                    "Created": c.created / 1_000_000_000,
                    "State": c.state_name,
                    "Status": clist::status_text(c, now),
                    "SizeRw": rw,
                    "SizeRootFs": rw + root,
                    "Labels": c.labels.iter().cloned().collect::<HashMap<_, _>>(),
                    "Mounts": [],
                })
            })
            .collect();
        let mut volume_views = Vec::new();
        for vol in state.list_volumes()? {
            let refs = state.volume_users(&vol.name)?.len();
            let mut v = volume::inspect_view(&state, &vol);
            v["UsageData"] = json!({"Size": volume::size(&vol), "RefCount": refs});
            volume_views.push(v);
        }
        Ok(json!({
            "LayersSize": layers_size,
            "Images": image_views,
            "Containers": container_views,
            "Volumes": volume_views,
            "BuildCache": [],
        }))
    })
    .await?;
    Ok(axum::Json(v).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn events_in_dockers_words() {
        let e = Event {
            id: 7,
            time: 1_700_000_000_123_456_789,
            kind: EventType::Container,
            action: "died".into(),
            actor_id: "abc".into(),
            actor_name: "web".into(),
            attributes: BTreeMap::from([
                ("image".to_owned(), "busybox".to_owned()),
                ("containerExitCode".to_owned(), "3".to_owned()),
            ]),
        };
        let v = docker_event(&e);
        assert_eq!(v["Action"], "die");
        assert_eq!(v["status"], "die");
        assert_eq!(v["from"], "busybox");
        assert_eq!(v["time"], 1_700_000_000);
        assert_eq!(v["timeNano"], 1_700_000_000_123_456_789_i64);
        assert_eq!(v["Actor"]["Attributes"]["exitCode"], "3");
        assert!(v["Actor"]["Attributes"].get("containerExitCode").is_none());
        assert_eq!(docker_action(EventType::Container, "remove"), "destroy");
        assert_eq!(docker_action(EventType::Volume, "remove"), "remove");
        assert_eq!(engine_filter("event=destroy".into()), "event=remove");
        assert_eq!(engine_filter("type=container".into()), "type=container");
    }
}
