//! `stats`: live figures of running containers from two cgroup v2 samples
//! of each (CPU % over the interval and since the start, memory against
//! its limit, network and block I/O, pids). The front end decides how
//! often to sample and how to print; a REST stream samples the same way.

use std::path::PathBuf;

use crate::cgroups::{self, stats as cgstats, v2::Sample};
use crate::config::Context;
use crate::engine::state::{Container, ContainerState, State};
use crate::engine::{Error, Result};
use crate::host::time;

/// `stats [-a] NAME...`.
#[derive(Debug, Clone, Default)]
pub struct StatsOptions {
    /// Containers to read; every running one when empty.
    pub names: Vec<String>,
    /// With no names: stopped containers listed too (they have no row).
    pub all: bool,
}

/// One container's figures at one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsReport {
    pub id: String,
    pub name: String,
    /// CPU use since the previous sample (since the start for the first).
    pub cpu_percent: f64,
    /// CPU use averaged since the start.
    pub avg_cpu_percent: f64,
    pub cpu_usec: u64,
    pub mem_usage: u64,
    /// The container's limit, else the host's memory.
    pub mem_limit: u64,
    pub mem_percent: f64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub block_read: u64,
    pub block_write: u64,
    pub pids: u64,
    pub uptime_ns: i64,
}

/// One container's cgroup and its previous sample.
struct Watch {
    id: String,
    name: String,
    /// When it started (ns), the base of the first CPU figure.
    started: i64,
    dir: PathBuf,
    pid: i32,
    previous: Option<(Sample, i64)>,
}

/// The running containers asked for, sampled on each [`Stats::sample`].
pub struct Stats {
    watches: Vec<Watch>,
    host_mem: u64,
}

impl Stats {
    /// Refuses, as Podman does, where containers have no cgroup of their
    /// own; a named container that does not exist is not found.
    pub fn open(ctx: &Context, state: &State, opts: &StatsOptions) -> Result<Stats> {
        cgstats::check(&cgroups::detect_for(ctx), ctx.rootless())
            .map_err(|e| Error::from(e).with_kind(crate::engine::ErrorKind::InvalidState))?;
        state.recover()?;
        let listed = if opts.names.is_empty() {
            state.list_containers(opts.all)?
        } else {
            opts.names
                .iter()
                .map(|q| state.container(q))
                .collect::<std::result::Result<Vec<_>, _>>()?
        };
        Ok(Stats {
            watches: watches(listed),
            host_mem: cgstats::host_memory(),
        })
    }

    /// A report for each container whose cgroup could be read now.
    pub fn sample(&mut self) -> Vec<StatsReport> {
        let now = time::now_ns();
        let host_mem = self.host_mem;
        self.watches
            .iter_mut()
            .filter_map(|w| {
                let s = cgroups::v2::sample(&w.dir, w.pid).ok()?;
                Some(figures(w, s, now, host_mem))
            })
            .collect()
    }

    /// Only the containers among `ids` (`pod stats` of pods without any).
    pub fn only(mut self, ids: &[String]) -> Stats {
        self.watches.retain(|w| ids.contains(&w.id));
        self
    }

    /// Drops the containers that are gone; false once none is left.
    pub fn retain_live(&mut self) -> bool {
        self.watches.retain(|w| w.dir.exists());
        !self.watches.is_empty()
    }
}

/// The running containers among `all`, with their cgroups.
fn watches(all: Vec<Container>) -> Vec<Watch> {
    all.into_iter()
        .filter(|c| c.state == ContainerState::Running)
        .filter_map(|c| {
            let pid = c.pid?;
            let dir = cgroups::container::live_dir(pid)?;
            Some(Watch {
                started: c.started_at.unwrap_or(c.created),
                id: c.id,
                name: c.name,
                dir,
                pid,
                previous: None,
            })
        })
        .collect()
}

/// The figures from a new sample taken at `now_ns`.
fn figures(w: &mut Watch, s: Sample, now_ns: i64, host_mem: u64) -> StatsReport {
    let (prev_cpu, prev_at) = match &w.previous {
        Some((p, at)) => (p.cpu_usec, *at),
        None => (0, w.started),
    };
    let pct = |cpu_usec: u64, since: i64| -> f64 {
        let elapsed = (now_ns - since).max(1) as f64;
        cpu_usec as f64 * 1000.0 / elapsed * 100.0
    };
    let limit = s.mem_limit.unwrap_or(host_mem).min(host_mem.max(1));
    let report = StatsReport {
        id: w.id.clone(),
        name: w.name.clone(),
        cpu_percent: pct(s.cpu_usec.saturating_sub(prev_cpu), prev_at),
        avg_cpu_percent: pct(s.cpu_usec, w.started),
        cpu_usec: s.cpu_usec,
        mem_usage: s.mem_usage,
        mem_limit: limit,
        mem_percent: s.mem_usage as f64 * 100.0 / limit.max(1) as f64,
        net_rx: s.net_rx,
        net_tx: s.net_tx,
        block_read: s.block_read,
        block_write: s.block_write,
        pids: s.pids,
        uptime_ns: now_ns - w.started,
    };
    w.previous = Some((s, now_ns));
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_percent_over_the_interval_and_average() {
        let mut w = Watch {
            id: "0123456789abcdef".into(),
            name: "c".into(),
            started: 0,
            dir: PathBuf::from("/nonexistent"),
            pid: 1,
            previous: None,
        };
        // 0.5 s of CPU in the first 1 s: 50% now and on average.
        let s = Sample {
            cpu_usec: 500_000,
            mem_usage: 32 << 20,
            mem_limit: Some(64 << 20),
            pids: 3,
            ..Sample::default()
        };
        let r = figures(&mut w, s.clone(), 1_000_000_000, 1 << 30);
        assert_eq!(r.cpu_percent, 50.0);
        assert_eq!(r.mem_percent, 50.0);
        assert_eq!(r.mem_limit, 64 << 20);
        assert_eq!(r.pids, 3);
        // Then a full CPU for the next second: 100% now, 75% on average.
        let s2 = Sample {
            cpu_usec: 1_500_000,
            mem_limit: None,
            ..s
        };
        let r = figures(&mut w, s2, 2_000_000_000, 1 << 30);
        assert_eq!(r.cpu_percent, 100.0);
        assert_eq!(r.avg_cpu_percent, 75.0);
        assert_eq!(r.mem_limit, 1 << 30);
        assert_eq!(r.uptime_ns, 2_000_000_000);
    }
}
