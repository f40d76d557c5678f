//! What `stats` needs from the cgroup side: whether containers have a
//! cgroup to read, the host's memory (the limit of an unlimited
//! container) and Go's size units. The samples themselves are
//! [`super::v2::sample`] of a cgroup path; the engine's stats operation
//! gathers them per container.

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
