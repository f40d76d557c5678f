//! The cgroup v2 files hutch reads and writes: where a process's cgroup is,
//! enabling controllers for children, moving a process, and the figures
//! `stats` shows and the OOM check reads. Parsers are pure and tested; the
//! readers around them only open files.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

pub const ROOT: &str = "/sys/fs/cgroup";

/// The v2 cgroup path of a process ("/user.slice/..."), from the `0::` line
/// of its /proc/PID/cgroup.
pub fn cgroup_of(pid: Option<i32>) -> Option<String> {
    let file = match pid {
        Some(p) => format!("/proc/{p}/cgroup"),
        None => "/proc/self/cgroup".to_owned(),
    };
    let text = std::fs::read_to_string(file).ok()?;
    parse_proc_cgroup(&text)
}

pub fn parse_proc_cgroup(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_owned)
}

/// The directory under /sys/fs/cgroup of a cgroup path.
pub fn dir_of(path: &str) -> PathBuf {
    Path::new(ROOT).join(path.trim_start_matches('/'))
}

/// Moves `pid` into the cgroup at `dir` (created if missing).
pub fn move_into(dir: &Path, pid: i32) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating cgroup {}", dir.display()))?;
    std::fs::write(dir.join("cgroup.procs"), pid.to_string())
        .with_context(|| format!("moving process {pid} into cgroup {}", dir.display()))
}

/// Enables for the children of `dir` every controller `dir` has that a
/// container limit uses. The cgroup must hold no process itself (cgroup
/// v2's no-internal-process rule), which is why the monitor moves to a
/// child first.
pub fn enable_controllers(dir: &Path) -> anyhow::Result<()> {
    let available = std::fs::read_to_string(dir.join("cgroup.controllers"))
        .with_context(|| format!("reading the controllers of {}", dir.display()))?;
    let wanted: Vec<String> = available
        .split_whitespace()
        .filter(|c| ["cpu", "cpuset", "io", "memory", "pids"].contains(c))
        .map(|c| format!("+{c}"))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    std::fs::write(dir.join("cgroup.subtree_control"), wanted.join(" "))
        .with_context(|| format!("enabling controllers in {}", dir.display()))
}

/// A `key value` per line file (cpu.stat, memory.events) as pairs.
pub fn parse_flat_keyed(text: &str) -> Vec<(&str, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?, it.next()?.parse().ok()?))
        })
        .collect()
}

fn keyed(text: &str, key: &str) -> Option<u64> {
    parse_flat_keyed(text)
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// The number of OOM kills memory.events has counted in `dir`.
pub fn oom_kills(dir: &Path) -> u64 {
    std::fs::read_to_string(dir.join("memory.events"))
        .ok()
        .and_then(|t| keyed(&t, "oom_kill"))
        .unwrap_or(0)
}

/// io.stat's read and written bytes, summed over devices.
pub fn parse_io_stat(text: &str) -> (u64, u64) {
    let mut read = 0u64;
    let mut written = 0u64;
    for field in text.split_whitespace() {
        if let Some(v) = field.strip_prefix("rbytes=") {
            read += v.parse::<u64>().unwrap_or(0);
        } else if let Some(v) = field.strip_prefix("wbytes=") {
            written += v.parse::<u64>().unwrap_or(0);
        }
    }
    (read, written)
}

/// /proc/PID/net/dev's received and transmitted bytes over every interface
/// but loopback.
pub fn parse_net_dev(text: &str) -> (u64, u64) {
    let mut rx = 0u64;
    let mut tx = 0u64;
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        rx += f.first().copied().unwrap_or(0);
        tx += f.get(8).copied().unwrap_or(0);
    }
    (rx, tx)
}

/// "max" or a number.
pub fn parse_limit(text: &str) -> Option<u64> {
    match text.trim() {
        "max" => None,
        v => v.parse().ok(),
    }
}

/// One reading of a container's cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    /// cpu.stat usage_usec.
    pub cpu_usec: u64,
    pub mem_usage: u64,
    /// memory.max; `None` is unlimited.
    pub mem_limit: Option<u64>,
    pub pids: u64,
    pub block_read: u64,
    pub block_write: u64,
    pub net_rx: u64,
    pub net_tx: u64,
}

/// Reads the figures of the cgroup at `dir` and the network counters of
/// `pid`'s network namespace.
pub fn sample(dir: &Path, pid: i32) -> anyhow::Result<Sample> {
    let read = |f: &str| std::fs::read_to_string(dir.join(f));
    let cpu = read("cpu.stat").with_context(|| format!("reading {}/cpu.stat", dir.display()))?;
    let (block_read, block_write) = read("io.stat").map(|t| parse_io_stat(&t)).unwrap_or((0, 0));
    let (net_rx, net_tx) = std::fs::read_to_string(format!("/proc/{pid}/net/dev"))
        .map(|t| parse_net_dev(&t))
        .unwrap_or((0, 0));
    Ok(Sample {
        cpu_usec: keyed(&cpu, "usage_usec").unwrap_or(0),
        mem_usage: read("memory.current")
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0),
        mem_limit: read("memory.max").ok().and_then(|t| parse_limit(&t)),
        pids: read("pids.current")
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0),
        block_read,
        block_write,
        net_rx,
        net_tx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_cgroup_v2_line() {
        let text = "12:pids:/user.slice\n1:name=systemd:/x\n0::/user.slice/user-1000.slice/hutch-ab.scope/container\n";
        assert_eq!(
            parse_proc_cgroup(text).as_deref(),
            Some("/user.slice/user-1000.slice/hutch-ab.scope/container")
        );
        assert_eq!(parse_proc_cgroup("1:cpu:/\n"), None);
        assert_eq!(
            dir_of("/a/b"),
            PathBuf::from("/sys/fs/cgroup/a/b"),
            "joined under the root"
        );
    }

    #[test]
    fn keyed_files() {
        let ev = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(keyed(ev, "oom_kill"), Some(2));
        let cpu = "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n";
        assert_eq!(keyed(cpu, "usage_usec"), Some(123_456));
    }

    #[test]
    fn io_and_net() {
        let io = "8:0 rbytes=1000 wbytes=2000 rios=1 wios=2 dbytes=0 dios=0\n\
                  8:16 rbytes=24 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n";
        assert_eq!(parse_io_stat(io), (1024, 2000));
        let net = "Inter-|   Receive                                                |  Transmit\n \
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
 lo:    500       5    0    0    0     0          0         0      500       5    0    0    0     0       0          0\n  \
 eth0:   1500      10    0    0    0     0          0         0      700       7    0    0    0     0       0          0\n";
        assert_eq!(parse_net_dev(net), (1500, 700));
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("67108864\n"), Some(67_108_864));
    }
}
