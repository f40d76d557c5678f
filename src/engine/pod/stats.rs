//! `pod stats`: the container figures of `stats` (cgroup v2 samples) for
//! every running container of the pods asked for, each with its pod.
//! Refused, as by Podman, where containers have no cgroup of their own
//! (rootless on cgroup v1 or hybrid hosts).

use std::collections::HashMap;

use crate::cgroups::{self, stats as cgstats};
use crate::config::Context;
use crate::engine::container::stats::{Stats, StatsOptions, StatsReport};
use crate::engine::state::State;
use crate::engine::{Error, ErrorKind, Result};

/// `pod stats [-a | -l | POD...]`; none of them means every pod.
#[derive(Debug, Clone, Default)]
pub struct PodStatsOptions {
    pub pods: Vec<String>,
    pub all: bool,
    /// The pod created last.
    pub latest: bool,
}

impl PodStatsOptions {
    pub fn validate(&self) -> Result<()> {
        let given = [!self.pods.is_empty(), self.all, self.latest];
        if given.iter().filter(|g| **g).count() > 1 {
            crate::fail!(
                BadInput,
                "--all, --latest and arguments cannot be used together"
            );
        }
        Ok(())
    }
}

/// One container's figures with the pod it belongs to.
#[derive(Debug, Clone)]
pub struct PodStatsReport {
    pub pod_id: String,
    pub container: StatsReport,
}

impl PodStatsReport {
    /// Podman's `PodStatsReport` (its entities type is all strings, the
    /// same for the CLI's JSON and the REST API): figures formatted, ids
    /// cut to 12.
    pub fn podman_view(&self) -> serde_json::Value {
        let c = &self.container;
        let human = cgstats::human;
        let short = |id: &str| id.chars().take(12).collect::<String>();
        serde_json::json!({
            "CPU": format!("{:.2}%", c.cpu_percent),
            "MemUsage": format!("{} / {}", human(c.mem_usage), human(c.mem_limit)),
            "MemUsageBytes": format!("{} / {}", c.mem_usage, c.mem_limit),
            "Mem": format!("{:.2}%", c.mem_percent),
            "NetIO": format!("{} / {}", human(c.net_rx), human(c.net_tx)),
            "BlockIO": format!("{} / {}", human(c.block_read), human(c.block_write)),
            "PIDS": c.pids.to_string(),
            "Pod": short(&self.pod_id),
            "CID": short(&c.id),
            "Name": c.name,
        })
    }
}

/// The pods' running containers, sampled on each [`PodStats::sample`].
pub struct PodStats {
    stats: Stats,
    /// Container id → pod id.
    pod_of: HashMap<String, String>,
}

impl PodStats {
    pub fn open(ctx: &Context, state: &State, opts: &PodStatsOptions) -> Result<PodStats> {
        opts.validate()?;
        cgstats::check(&cgroups::detect_for(ctx), ctx.rootless())
            .map_err(|e| Error::new(ErrorKind::InvalidState, format!("pod {e:#}")))?;
        state.recover()?;
        let pods = if !opts.pods.is_empty() {
            opts.pods
                .iter()
                .map(|q| super::lookup(state, q))
                .collect::<Result<Vec<_>>>()?
        } else {
            let all = super::all(state)?;
            if opts.latest {
                // `all` is oldest first.
                all.into_iter().last().into_iter().collect()
            } else {
                all
            }
        };
        let mut pod_of = HashMap::new();
        let mut ids = Vec::new();
        for p in &pods {
            for c in p.containers(state)? {
                pod_of.insert(c.id.clone(), p.id.clone());
                ids.push(c.id);
            }
        }
        // Stats of no names means every container: a pod list without
        // containers must read none.
        let stats = if ids.is_empty() {
            Stats::open(
                ctx,
                state,
                &StatsOptions {
                    names: Vec::new(),
                    all: false,
                },
            )
            .map(|s| s.only(&[]))?
        } else {
            Stats::open(
                ctx,
                state,
                &StatsOptions {
                    names: ids,
                    all: false,
                },
            )?
        };
        Ok(PodStats { stats, pod_of })
    }

    /// A report for each running container of the pods.
    pub fn sample(&mut self) -> Vec<PodStatsReport> {
        self.stats
            .sample()
            .into_iter()
            .map(|r| PodStatsReport {
                pod_id: self.pod_of.get(&r.id).cloned().unwrap_or_default(),
                container: r,
            })
            .collect()
    }

    /// Drops the containers that are gone; false once none is left.
    pub fn retain_live(&mut self) -> bool {
        self.stats.retain_live()
    }
}
