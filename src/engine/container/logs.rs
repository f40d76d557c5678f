//! `logs`: a container's k8s-file log, in a time window, the last lines of
//! it, and with `follow` what the monitor appends until the container is no
//! longer running.

use std::path::PathBuf;
use std::time::Duration;

use hutch_storage::Store;

use super::Paths;
use super::lifecycle::log_path_of;
use crate::config::Context;
use crate::engine::state::State;
use crate::engine::{Result, ResultExt};
use crate::runtime::logfile::{self, LogFilter, LogLine};

/// `logs [-n N] [--since T] [--until T] [-f] CONTAINER`.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    /// Nanoseconds since the epoch.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Only the last `tail` lines of what is there at the start.
    pub tail: Option<usize>,
    pub follow: bool,
}

/// The log of one container, read in batches.
pub struct LogStream<'a> {
    state: &'a State,
    id: String,
    name: String,
    path: PathBuf,
    filter: LogFilter,
    tail: Option<usize>,
    follow: bool,
    /// Lines returned so far (of the file as it is now).
    seen: Option<usize>,
    done: bool,
}

impl<'a> LogStream<'a> {
    pub fn open(
        ctx: &Context,
        store: &Store,
        state: &'a State,
        name: &str,
        opts: &LogsOptions,
    ) -> Result<LogStream<'a>> {
        let c = state.container(name)?;
        let paths = Paths::new(ctx, store.root(), &c.id);
        let Some(path) = log_path_of(&paths, &c) else {
            crate::fail!(
                InvalidState,
                "this container is using the 'none' log driver, cannot read logs: this container is not logging output"
            );
        };
        Ok(LogStream {
            state,
            id: c.id,
            name: c.name,
            path,
            filter: LogFilter {
                since_ns: opts.since.map(i128::from),
                until_ns: opts.until.map(i128::from),
                tail: None,
            },
            tail: opts.tail,
            follow: opts.follow,
            seen: None,
            done: false,
        })
    }

    fn read(&self) -> Result<Vec<LogLine>> {
        logfile::read(&self.path, &self.filter)
            .with_context(|| format!("reading the log of {}", self.name))
    }

    /// The lines there are (the first call), then with `follow` the new
    /// ones, polling every 100 ms; `None` once there is nothing more.
    pub fn next_batch(&mut self) -> Result<Option<Vec<LogLine>>> {
        if self.done {
            return Ok(None);
        }
        let Some(seen) = self.seen else {
            let lines = self.read()?;
            let skip = self.tail.map_or(0, |n| lines.len().saturating_sub(n));
            self.seen = Some(lines.len());
            self.done = !self.follow;
            return Ok(Some(lines.into_iter().skip(skip).collect()));
        };
        // A killed monitor must not keep `-f` waiting forever.
        let _ = self.state.recover();
        let running = self
            .state
            .container(&self.id)
            .is_ok_and(|c| c.state.is_active());
        let lines = self.read()?;
        // A rotation drops the older half: start again from what is left.
        let seen = seen.min(lines.len());
        self.seen = Some(lines.len());
        // Not running: this last read took what it wrote before the end.
        if running {
            std::thread::sleep(Duration::from_millis(100));
        } else {
            self.done = true;
        }
        Ok(Some(lines.into_iter().skip(seen).collect()))
    }
}
