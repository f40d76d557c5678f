//! Container events (`hutch events`): what happened to which container,
//! appended to the state database's event log. Recording an event never
//! fails the operation it describes. Reading them is [`EventStream`]: the
//! past events in a window, then (for `--stream` and the API's streaming
//! GET) the new ones as they are appended.

use crate::engine::state::{Container, Event, EventFilter, EventType, State};
use crate::engine::{Error, Result};
use crate::host::time;

/// A time as `--since` takes it: Unix seconds (fractions too), RFC 3339,
/// a date, or a duration back from `now_ns` (`10m`).
pub fn parse_time(s: &str, now_ns: i64) -> Result<i64> {
    parse_time_toward(s, now_ns, -1)
}

/// A time as `logs --until` and `events --until` take it: as
/// [`parse_time`], but a duration counts forward from `now_ns`, as
/// Podman's ParseInputTime(until, false) does (`--until 10s` shows what
/// is already there, not what is older than 10 seconds).
pub fn parse_until(s: &str, now_ns: i64) -> Result<i64> {
    parse_time_toward(s, now_ns, 1)
}

fn parse_time_toward(s: &str, now_ns: i64, sign: i64) -> Result<i64> {
    if let Ok(secs) = s.parse::<f64>() {
        return Ok((secs * 1e9) as i64);
    }
    if let Some(secs) = time::parse_rfc3339(s) {
        return Ok(secs * 1_000_000_000);
    }
    if let Some(secs) = time::parse_rfc3339(&format!("{s}T00:00:00Z")) {
        return Ok(secs * 1_000_000_000);
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|i| *i > 0);
    if let Some(i) = split {
        let (num, unit) = s.split_at(i);
        let n: f64 = num.parse().unwrap_or(f64::NAN);
        let unit_ns = match unit {
            "ns" => Some(1.0),
            "us" | "µs" => Some(1e3),
            "ms" => Some(1e6),
            "s" => Some(1e9),
            "m" => Some(60e9),
            "h" => Some(3600e9),
            _ => None,
        };
        if let Some(u) = unit_ns
            && n.is_finite()
        {
            return Ok(now_ns.saturating_add(sign.saturating_mul((n * u) as i64)));
        }
    }
    crate::fail!(
        BadInput,
        "invalid time {s:?}: use RFC 3339, a Unix timestamp or a duration such as 10m"
    )
}

/// `events [--filter K=V]... [--since T] [--until T] [--stream]`.
#[derive(Debug, Clone, Default)]
pub struct EventsOptions {
    /// `KEY=VALUE`: container, event (or status), type, image, label
    /// (`label=K` or `label=K=V`, every one must match).
    pub filters: Vec<String>,
    /// Nanoseconds since the epoch.
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl EventsOptions {
    /// The database filter and the image names to match, from `filters`.
    fn parse(&self) -> Result<(EventFilter, Vec<String>, Vec<String>)> {
        let mut filter = EventFilter::default();
        let mut images = Vec::new();
        let mut labels = Vec::new();
        for f in &self.filters {
            let Some((k, v)) = f.split_once('=') else {
                crate::fail!(BadInput, "invalid filter {f:?}: use KEY=VALUE");
            };
            match k {
                "container" => filter.actors.push(v.to_owned()),
                "event" | "status" => filter
                    .actions
                    .push(if v == "die" { "died" } else { v }.to_owned()),
                "type" => filter.types.push(
                    EventType::parse(v)
                        .ok_or_else(|| Error::bad_input(format!("invalid event type {v:?}")))?,
                ),
                // A volume's events by its name (Podman's `volume=`).
                "volume" => {
                    filter.actors.push(v.to_owned());
                    filter.types.push(EventType::Volume);
                }
                "image" => images.push(v.to_owned()),
                "label" => labels.push(v.to_owned()),
                _ => crate::fail!(BadInput, "{k} is an invalid filter"),
            }
        }
        Ok((filter, images, labels))
    }

    pub fn validate(&self) -> Result<()> {
        self.parse().map(drop)
    }
}

/// The events of a window, read in batches.
pub struct EventStream<'a> {
    state: &'a State,
    filter: EventFilter,
    images: Vec<String>,
    labels: Vec<String>,
    since: Option<i64>,
    until: Option<i64>,
    /// The id of the last event returned; `None` before the first read.
    last: Option<i64>,
    started: bool,
}

impl<'a> EventStream<'a> {
    pub fn open(state: &'a State, opts: &EventsOptions) -> Result<EventStream<'a>> {
        let (filter, images, labels) = opts.parse()?;
        Ok(EventStream {
            state,
            filter,
            images,
            labels,
            since: opts.since,
            until: opts.until,
            last: None,
            started: false,
        })
    }

    /// The events recorded so far (the first call) or since the previous
    /// call; filtered.
    pub fn next_batch(&mut self) -> Result<Vec<Event>> {
        let filter = EventFilter {
            after_id: self.last,
            ..self.filter.clone()
        };
        let events = self.state.events(self.since, self.until, &filter)?;
        if let Some(e) = events.last() {
            self.last = Some(e.id);
        } else if !self.started {
            // Start after whatever exists now, even outside the window.
            self.last = self
                .state
                .events(None, None, &EventFilter::default())?
                .last()
                .map(|e| e.id);
        }
        self.started = true;
        Ok(events.into_iter().filter(|e| self.wanted(e)).collect())
    }

    /// `--stream`: waits for the next events, polling every 100 ms; `None`
    /// once the window has closed.
    pub fn wait_batch(&mut self) -> Result<Option<Vec<Event>>> {
        loop {
            if self.ended() {
                return Ok(None);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            let batch = self.next_batch()?;
            if !batch.is_empty() {
                return Ok(Some(batch));
            }
        }
    }

    /// Whether the window has closed (`until` is past): no event can come.
    pub fn ended(&self) -> bool {
        self.until.is_some_and(|u| time::now_ns() > u)
    }

    fn wanted(&self, e: &Event) -> bool {
        let labelled = self.labels.iter().all(|l| match l.split_once('=') {
            Some((k, v)) => e.attributes.get(k).is_some_and(|x| x == v),
            None => e.attributes.contains_key(l.as_str()),
        });
        labelled
            && (self.images.is_empty()
                || e.attributes.get("image").is_some_and(|i| {
                    self.images.iter().any(|f| {
                        i == f
                            || i.starts_with(&format!("{f}:"))
                            || i.ends_with(&format!("/{f}"))
                            || i.contains(&format!("/{f}:"))
                    })
                }))
    }
}

/// Appends container event `action` for `c`, with the image and name as
/// Podman records them, plus `extra` attributes.
pub fn record(state: &State, c: &Container, action: &str, extra: &[(&str, String)]) {
    // The container's labels first, as Docker lists them among the
    // actor's attributes (`events --filter label=`); its own keys win.
    let mut attributes = c.spec.labels.clone();
    attributes.insert("image".to_owned(), c.image_name.clone());
    attributes.insert("name".to_owned(), c.name.clone());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ErrorKind;

    #[test]
    fn times() {
        let now = 1_000_000_000_000_000_000;
        assert_eq!(
            parse_time("1700000000", now).unwrap(),
            1_700_000_000_000_000_000
        );
        assert_eq!(parse_time("10m", now).unwrap(), now - 600_000_000_000);
        assert_eq!(parse_until("10m", now).unwrap(), now + 600_000_000_000);
        assert_eq!(
            parse_until("1700000000", now).unwrap(),
            1_700_000_000_000_000_000
        );
        assert_eq!(
            parse_time("1970-01-02T00:00:00Z", now).unwrap(),
            86_400_000_000_000
        );
        assert_eq!(parse_time("1970-01-02", now).unwrap(), 86_400_000_000_000);
        assert_eq!(
            parse_time("yesterday", now).unwrap_err().kind(),
            ErrorKind::BadInput
        );
    }

    #[test]
    fn filters_are_checked() {
        let with = |f: &str| EventsOptions {
            filters: vec![f.to_owned()],
            ..EventsOptions::default()
        };
        assert!(with("container=web").validate().is_ok());
        assert!(with("event=die").validate().is_ok());
        assert!(with("type=container").validate().is_ok());
        assert!(with("type=bogus").validate().is_err());
        assert!(with("color=red").validate().is_err());
        assert!(with("container").validate().is_err());
    }
}
