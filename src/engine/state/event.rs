//! The event log (`hutch events`): append-only rows (a trigger refuses
//! updates), read back filtered by time, type, action and actor, and pruned
//! by age. Filters follow Podman: values of one key are alternatives, and
//! different keys must all match.

use std::collections::BTreeMap;
use std::fmt;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, Value, ValueRef};
use rusqlite::{Row, params, params_from_iter};
use serde::{Deserialize, Serialize};

use super::{State, StateError, map_from_json, to_json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Container,
    Image,
    Volume,
    Network,
    Pod,
    System,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::Container,
        EventType::Image,
        EventType::Volume,
        EventType::Network,
        EventType::Pod,
        EventType::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Container => "container",
            EventType::Image => "image",
            EventType::Volume => "volume",
            EventType::Network => "network",
            EventType::Pod => "pod",
            EventType::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToSql for EventType {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for EventType {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        EventType::parse(s)
            .ok_or_else(|| FromSqlError::Other(format!("unknown event type {s:?}").into()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Assigned by `append_event` (ignored there); increasing, never reused.
    pub id: i64,
    /// Unix nanoseconds.
    pub time: i64,
    #[serde(rename = "type")]
    pub kind: EventType,
    /// `create`, `start`, `died`, `remove`, `pull`, ...
    pub action: String,
    pub actor_id: String,
    pub actor_name: String,
    pub attributes: BTreeMap<String, String>,
}

/// Which events to return. Empty lists match everything.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub types: Vec<EventType>,
    pub actions: Vec<String>,
    /// Actor IDs or names (`--filter container=web`).
    pub actors: Vec<String>,
    /// Only events after this id: how `--stream` picks up where it left off.
    pub after_id: Option<i64>,
}

const COLUMNS: &str = "id, time, type, action, actor_id, actor_name, attributes";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: row.get(0)?,
        time: row.get(1)?,
        kind: row.get(2)?,
        action: row.get(3)?,
        actor_id: row.get(4)?,
        actor_name: row.get(5)?,
        attributes: map_from_json(6, row.get_ref(6)?.as_str()?)?,
    })
}

/// Appends `column IN (?, ?, ...)` for `values` to the query, if any.
fn push_in(sql: &mut String, args: &mut Vec<Value>, columns: &[&str], values: Vec<Value>) {
    if values.is_empty() {
        return;
    }
    let marks = vec!["?"; values.len()].join(", ");
    let alternatives: Vec<String> = columns
        .iter()
        .map(|c| format!("{c} IN ({marks})"))
        .collect();
    sql.push_str(&format!(" AND ({})", alternatives.join(" OR ")));
    for _ in columns {
        args.extend(values.iter().cloned());
    }
}

/// Podman's default `events_logfile_max_size` ("1m").
pub const DEFAULT_EVENTS_MAX: u64 = 1 << 20;

/// What an event's line in Podman's events file holds beside the fields
/// kept here as text (time, type, keys, quotes): an estimate, so that
/// the bound means about what it means for Podman's file.
const EVENT_LINE_OVERHEAD: i64 = 96;

/// The size of an event's text fields.
const EVENT_SIZE_SQL: &str =
    "length(action) + length(actor_id) + length(actor_name) + length(attributes)";

/// How many events go in between two checks of the bound: summing the
/// table costs about half a millisecond at Podman's default bound, too
/// much for every event of a `run`, so it is summed every 64th event
/// there (the table then passes the bound by at most 64 events, about a
/// sixtieth of it); a small bound is checked more often.
fn rotation_stride(max: u64) -> i64 {
    i64::try_from(max / 16_384).unwrap_or(64).clamp(1, 64)
}

impl State {
    /// containers.conf `events_logfile_max_size` (0: no bound).
    pub fn set_events_max_size(&mut self, bytes: u64) {
        self.events_max = bytes;
    }

    /// Appends `event` (its `id` is ignored) and returns the id given.
    /// Past the events bound the oldest go (down to half the bound) and a
    /// `system log-rotation` event says so, as Podman's file logger
    /// rotates its file.
    pub fn append_event(&self, event: &Event) -> Result<i64, StateError> {
        let id = self.insert_event(event)?;
        if self.events_max > 0 && id % rotation_stride(self.events_max) == 0 {
            self.rotate_events()?;
        }
        Ok(id)
    }

    fn rotate_events(&self) -> Result<(), StateError> {
        let op = "rotating the events";
        let max = i64::try_from(self.events_max).unwrap_or(i64::MAX);
        let total: i64 = self
            .conn
            .query_row(
                &format!(
                    "SELECT coalesce(sum({EVENT_SIZE_SQL} + {EVENT_LINE_OVERHEAD}), 0) FROM events"
                ),
                [],
                |r| r.get(0),
            )
            .map_err(StateError::sql(op))?;
        if total <= max {
            return Ok(());
        }
        // The newest events that fit in half the bound stay.
        let mut kept = EVENT_LINE_OVERHEAD;
        let mut cut = None;
        {
            let mut stmt = self
                .conn
                .prepare(&format!(
                    "SELECT id, {EVENT_SIZE_SQL} + {EVENT_LINE_OVERHEAD} FROM events ORDER BY id DESC"
                ))
                .map_err(StateError::sql(op))?;
            let mut rows = stmt.query([]).map_err(StateError::sql(op))?;
            while let Some(row) = rows.next().map_err(StateError::sql(op))? {
                let id: i64 = row.get(0).map_err(StateError::sql(op))?;
                let size: i64 = row.get(1).map_err(StateError::sql(op))?;
                kept += size;
                if kept > max / 2 {
                    cut = Some(id);
                    break;
                }
            }
        }
        if let Some(id) = cut {
            self.conn
                .execute("DELETE FROM events WHERE id <= ?1", [id])
                .map_err(StateError::sql(op))?;
        }
        self.insert_event(&Event {
            id: 0,
            time: crate::host::time::now_ns(),
            kind: EventType::System,
            action: "log-rotation".to_owned(),
            actor_id: String::new(),
            actor_name: self.path().display().to_string(),
            attributes: Default::default(),
        })?;
        Ok(())
    }

    fn insert_event(&self, event: &Event) -> Result<i64, StateError> {
        let op = "recording event";
        let attributes = to_json("event attributes", &event.attributes)?;
        // A single INSERT is its own transaction; no BEGIN needed.
        self.conn
            .prepare_cached(
                "INSERT INTO events (time, type, action, actor_id, actor_name, attributes) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    event.time,
                    event.kind,
                    event.action,
                    event.actor_id,
                    event.actor_name,
                    attributes,
                ])
            })
            .map_err(StateError::sql(op))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Events with `since <= time <= until` (Unix nanoseconds, either bound
    /// optional) that match `filter`, oldest first.
    pub fn events(
        &self,
        since: Option<i64>,
        until: Option<i64>,
        filter: &EventFilter,
    ) -> Result<Vec<Event>, StateError> {
        let mut sql = format!("SELECT {COLUMNS} FROM events WHERE 1");
        let mut args: Vec<Value> = Vec::new();
        if let Some(since) = since {
            sql.push_str(" AND time >= ?");
            args.push(Value::Integer(since));
        }
        if let Some(until) = until {
            sql.push_str(" AND time <= ?");
            args.push(Value::Integer(until));
        }
        if let Some(after) = filter.after_id {
            sql.push_str(" AND id > ?");
            args.push(Value::Integer(after));
        }
        let text = |v: &str| Value::Text(v.to_string());
        let types = filter.types.iter().map(|t| text(t.as_str())).collect();
        push_in(&mut sql, &mut args, &["type"], types);
        let actions = filter.actions.iter().map(|a| text(a)).collect();
        push_in(&mut sql, &mut args, &["action"], actions);
        let actors = filter.actors.iter().map(|a| text(a)).collect();
        push_in(&mut sql, &mut args, &["actor_id", "actor_name"], actors);
        sql.push_str(" ORDER BY id");
        self.conn
            .prepare(&sql)
            .and_then(|mut s| s.query_map(params_from_iter(args), from_row)?.collect())
            .map_err(StateError::sql("reading events"))
    }

    /// Deletes events older than `older_than` (Unix nanoseconds); returns
    /// how many went.
    pub fn prune_events(&self, older_than: i64) -> Result<usize, StateError> {
        self.conn
            .execute("DELETE FROM events WHERE time < ?1", [older_than])
            .map_err(StateError::sql("pruning events"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::temp_state;
    use super::*;

    fn event(time: i64, kind: EventType, action: &str, name: &str) -> Event {
        Event {
            id: 0,
            time,
            kind,
            action: action.to_string(),
            actor_id: format!("id-{name}"),
            actor_name: name.to_string(),
            attributes: BTreeMap::from([("image".to_string(), "busybox".to_string())]),
        }
    }

    fn actions(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| format!("{}:{}", e.actor_name, e.action))
            .collect()
    }

    fn filled() -> (tempfile::TempDir, State) {
        let (dir, state) = temp_state();
        for e in [
            event(10, EventType::Container, "create", "web"),
            event(20, EventType::Container, "start", "web"),
            event(30, EventType::Image, "pull", "busybox"),
            event(40, EventType::Container, "died", "web"),
            event(50, EventType::Volume, "create", "data"),
            event(60, EventType::Container, "start", "db"),
        ] {
            state.append_event(&e).unwrap();
        }
        (dir, state)
    }

    #[test]
    fn filters() {
        let (_dir, state) = filled();
        let all = state.events(None, None, &EventFilter::default()).unwrap();
        assert_eq!(all.len(), 6);
        assert!(all.windows(2).all(|w| w[0].id < w[1].id));
        assert_eq!(all[0].attributes["image"], "busybox");

        let by_type = EventFilter {
            types: vec![EventType::Image, EventType::Volume],
            ..Default::default()
        };
        assert_eq!(
            actions(&state.events(None, None, &by_type).unwrap()),
            ["busybox:pull", "data:create"]
        );

        let starts = EventFilter {
            types: vec![EventType::Container],
            actions: vec!["start".into()],
            ..Default::default()
        };
        assert_eq!(
            actions(&state.events(None, None, &starts).unwrap()),
            ["web:start", "db:start"]
        );

        let window = state
            .events(Some(20), Some(40), &EventFilter::default())
            .unwrap();
        assert_eq!(actions(&window), ["web:start", "busybox:pull", "web:died"]);

        let web = EventFilter {
            actors: vec!["web".into(), "id-db".into()],
            actions: vec!["start".into(), "died".into()],
            ..Default::default()
        };
        assert_eq!(
            actions(&state.events(Some(25), None, &web).unwrap()),
            ["web:died", "db:start"]
        );

        let after = EventFilter {
            after_id: Some(all[4].id),
            ..Default::default()
        };
        assert_eq!(
            actions(&state.events(None, None, &after).unwrap()),
            ["db:start"]
        );
    }

    #[test]
    fn append_only_and_prune() {
        let (_dir, state) = filled();
        let err = state
            .conn
            .execute("UPDATE events SET action = 'x'", [])
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        let last = state.events(None, None, &EventFilter::default()).unwrap()[5].id;
        assert_eq!(state.prune_events(35).unwrap(), 3);
        let left = state.events(None, None, &EventFilter::default()).unwrap();
        assert_eq!(actions(&left), ["web:died", "data:create", "db:start"]);
        // Ids keep increasing after a prune of the newest rows.
        assert_eq!(state.prune_events(i64::MAX).unwrap(), 3);
        let id = state
            .append_event(&event(70, EventType::System, "refresh", ""))
            .unwrap();
        assert!(id > last);
    }

    /// Past `events_logfile_max_size` the oldest events go, the newest
    /// stay within half the bound, and one `log-rotation` event is last.
    #[test]
    fn events_rotate_past_the_bound() {
        let (_dir, mut state) = temp_state();
        state.set_events_max_size(2000);
        for i in 0..40 {
            state
                .append_event(&event(i, EventType::Container, "start", &format!("c{i}")))
                .unwrap();
        }
        let all = state.events(None, None, &EventFilter::default()).unwrap();
        assert!(all.len() < 40, "{}", all.len());
        assert!(
            all.iter()
                .any(|e| e.action == "log-rotation" && e.kind == EventType::System)
        );
        // The newest container event survives.
        assert!(all.iter().any(|e| e.actor_name == "c39"));
        assert!(!all.iter().any(|e| e.actor_name == "c0"));
        // Unbounded: nothing goes.
        let (_dir, mut state) = temp_state();
        state.set_events_max_size(0);
        for i in 0..40 {
            state
                .append_event(&event(i, EventType::Container, "start", &format!("c{i}")))
                .unwrap();
        }
        let all = state.events(None, None, &EventFilter::default()).unwrap();
        assert_eq!(all.len(), 40);
    }

    /// Podman's default bound is checked every 64th event, a small one at
    /// every event, so the table passes neither by more than a sixtieth.
    #[test]
    fn rotation_stride_scales_with_the_bound() {
        assert_eq!(rotation_stride(DEFAULT_EVENTS_MAX), 64);
        assert_eq!(rotation_stride(u64::MAX), 64);
        assert_eq!(rotation_stride(2000), 1);
        assert_eq!(rotation_stride(16_384 * 8), 8);
    }
}
