//! `stats`: the figures of running containers, computed from two cgroup v2
//! samples (see [`super::v2::sample`]) with Podman's columns and units.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::v2::Sample;
use crate::engine::state::{Container, ContainerState};

/// Podman's refusal on hosts where a rootless user has no cgroup v2.
pub const NO_CGROUPS_V2: &str = "stats is not supported in rootless mode without cgroups v2";

/// Refuses when containers have no cgroup of their own to read.
pub fn check(host: &super::CgroupHost, rootless: bool) -> anyhow::Result<()> {
    if rootless && host.version != super::CgroupVersion::V2 {
        anyhow::bail!("{NO_CGROUPS_V2}");
    }
    if host.manager == super::Manager::None {
        anyhow::bail!(
            "containers have no cgroup of their own to read statistics from: {}",
            host.reason
        );
    }
    Ok(())
}

/// Go's units.HumanSize: decimal units, four significant digits, no space
/// ("4.096kB", "64MB"), as Podman's stats prints.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", g4(v), UNITS[i])
}

/// %.4g for 0 <= v < 1000: four significant digits, trailing zeros cut.
fn g4(v: f64) -> String {
    if v == 0.0 {
        return "0".to_owned();
    }
    let magnitude = v.log10().floor() as i32;
    let decimals = (3 - magnitude).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// One container's live reading: its cgroup and the previous sample.
pub struct Watch {
    pub container: Container,
    pub dir: PathBuf,
    pub pid: i32,
    pub previous: Option<(Sample, i64)>,
}

/// The row for `watch` from a new sample taken at `now_ns`; CPU % is over
/// the time since the previous sample (since the start for the first).
pub fn row(w: &mut Watch, s: Sample, now_ns: i64, host_mem: u64, no_trunc: bool) -> Value {
    let started = w.container.started_at.unwrap_or(w.container.created);
    let (prev_cpu, prev_at) = match &w.previous {
        Some((p, at)) => (p.cpu_usec, *at),
        None => (0, started),
    };
    let pct = |cpu_usec: u64, since: i64| -> f64 {
        let elapsed = (now_ns - since).max(1) as f64;
        cpu_usec as f64 * 1000.0 / elapsed * 100.0
    };
    let cpu = pct(s.cpu_usec.saturating_sub(prev_cpu), prev_at);
    let avg = pct(s.cpu_usec, started);
    let limit = s.mem_limit.unwrap_or(host_mem).min(host_mem.max(1));
    let mem_pct = s.mem_usage as f64 * 100.0 / limit.max(1) as f64;
    let c = &w.container;
    let value = json!({
        "ID": if no_trunc { c.id.clone() } else { c.id[..12.min(c.id.len())].to_owned() },
        "ContainerID": c.id,
        "Name": c.name,
        "CPUPerc": format!("{cpu:.2}%"),
        "CPU": format!("{:.6}s", s.cpu_usec as f64 / 1e6),
        "AvgCPU": format!("{avg:.2}%"),
        "MemUsage": format!("{} / {}", human(s.mem_usage), human(limit)),
        "MemUsageBytes": format!("{} / {}", s.mem_usage, limit),
        "MemPerc": format!("{mem_pct:.2}%"),
        "NetIO": format!("{} / {}", human(s.net_rx), human(s.net_tx)),
        "BlockIO": format!("{} / {}", human(s.block_read), human(s.block_write)),
        "PIDs": s.pids,
        "UpTime": format!("{:.3}s", (now_ns - started) as f64 / 1e9),
    });
    w.previous = Some((s, now_ns));
    value
}

/// The running containers among `all`, with their cgroups.
pub fn watches(all: Vec<Container>) -> Vec<Watch> {
    all.into_iter()
        .filter(|c| c.state == ContainerState::Running)
        .filter_map(|c| {
            let pid = c.pid?;
            let dir = super::container::live_dir(pid)?;
            Some(Watch {
                container: c,
                dir,
                pid,
                previous: None,
            })
        })
        .collect()
}

/// MemTotal in bytes: the limit shown for a container without one.
pub fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_like_go_units() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(4096), "4.096kB");
        assert_eq!(human(64 << 20), "67.11MB");
        assert_eq!(human(1_000_000), "1MB");
        assert_eq!(human(999), "999B");
    }

    #[test]
    fn cpu_percent_over_the_interval_and_average() {
        let container = Container {
            id: "0123456789abcdef".into(),
            name: "c".into(),
            image_id: String::new(),
            image_name: String::new(),
            created: 0,
            state: ContainerState::Running,
            pid: Some(1),
            exit_code: None,
            exited_at: None,
            started_at: Some(0),
            oom_killed: false,
            restart_count: 0,
            spec: Default::default(),
            pod_id: None,
            health: None,
            runtime: "crun".into(),
            monitor_pid: None,
            monitor_start_time: None,
        };
        let mut w = Watch {
            container,
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
        let r = row(&mut w, s.clone(), 1_000_000_000, 1 << 30, false);
        assert_eq!(r["CPUPerc"], "50.00%");
        assert_eq!(r["MemPerc"], "50.00%");
        assert_eq!(r["MemUsage"], "33.55MB / 67.11MB");
        assert_eq!(r["PIDs"], 3);
        assert_eq!(r["ID"], "0123456789ab");
        // Then a full CPU for the next second: 100% now, 75% on average.
        let s2 = Sample {
            cpu_usec: 1_500_000,
            mem_limit: None,
            ..s
        };
        let r = row(&mut w, s2, 2_000_000_000, 1 << 30, true);
        assert_eq!(r["CPUPerc"], "100.00%");
        assert_eq!(r["AvgCPU"], "75.00%");
        assert_eq!(r["ID"], "0123456789abcdef");
        assert!(
            r["MemUsage"]
                .as_str()
                .is_some_and(|m| m.ends_with("1.074GB"))
        );
    }

    #[test]
    fn refuses_without_v2() {
        let host = super::super::CgroupHost {
            version: super::super::CgroupVersion::Hybrid,
            manager: super::super::Manager::None,
            reason: "r".into(),
        };
        let err = check(&host, true).expect_err("refused");
        assert_eq!(err.to_string(), NO_CGROUPS_V2);
    }
}
