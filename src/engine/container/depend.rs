//! Dependencies between containers: one that joins another's namespaces
//! (`--network container:X`, `--pid/--ipc/--uts container:X`) depends on
//! it. The full ids are resolved at create and stored in the spec, so a
//! later rename or a reused name cannot change what a container depends
//! on. `--requires` names more dependencies, which `start` starts first.
//! `rm` refuses a container others depend on, or with `--depend` removes
//! them first.

use hutch_rootless_net::NetworkMode;

use crate::engine::state::{Container, State};
use crate::spec::{ContainerSpec, Namespace};

/// The queries (name or id, as given) of the containers whose namespaces
/// `req` joins, in flag order, without repeats.
pub fn queries(spec: &ContainerSpec) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let n = &spec.namespaces;
    for v in [&n.pid, &n.ipc, &n.uts] {
        if let Namespace::Container(q) = v {
            out.push(q.clone());
        }
    }
    if let Some(NetworkMode::Container { id }) = &spec.network.mode {
        out.push(id.clone());
    }
    let mut seen = Vec::new();
    out.retain(|q| {
        let new = !seen.contains(q);
        seen.push(q.clone());
        new
    });
    out
}

/// The full ids of the containers `req` depends on (for the stored
/// request). A missing one is refused: create would fail on it anyway.
pub fn resolve(state: &State, spec: &ContainerSpec) -> anyhow::Result<Vec<String>> {
    let mut ids: Vec<String> = Vec::new();
    for q in queries(spec) {
        let c = state.container(&q)?;
        if !ids.contains(&c.id) {
            ids.push(c.id);
        }
    }
    for q in &spec.requires {
        let c = state.container(q).map_err(|e| {
            anyhow::anyhow!("{q:?} is not a valid container, cannot be used as a dependency: {e:#}")
        })?;
        if !ids.contains(&c.id) {
            ids.push(c.id);
        }
    }
    Ok(ids)
}

/// Every container with what it depends on (each stored request parsed
/// once: `rm -a` of many containers asks for each one's dependents).
pub struct Graph {
    nodes: Vec<(Container, Vec<String>)>,
}

impl Graph {
    /// `all`: every container, oldest first.
    pub fn new(all: Vec<Container>) -> Graph {
        Graph {
            nodes: all
                .into_iter()
                .map(|c| {
                    let deps = c.spec.dependencies.clone();
                    (c, deps)
                })
                .collect(),
        }
    }

    pub fn containers(&self) -> impl Iterator<Item = &Container> {
        self.nodes.iter().map(|(c, _)| c)
    }

    /// The containers that depend on `id` directly, oldest first.
    pub fn dependents(&self, id: &str) -> Vec<&Container> {
        self.nodes
            .iter()
            .filter(|(c, deps)| c.id != id && deps.iter().any(|d| d == id))
            .map(|(c, _)| c)
            .collect()
    }

    /// `rm --depend` (and `rm -a`): `roots` and every container that
    /// depends on one of them, directly or through others, in removal
    /// order (each after all that depend on it).
    pub fn removal_order(&self, roots: &[&str]) -> Vec<Container> {
        let mut order: Vec<Container> = Vec::new();
        // Ids on the current path: a cycle (impossible through create,
        // which needs the other container to exist first) must not loop.
        let mut path: Vec<String> = Vec::new();
        for root in roots {
            if let Some((c, _)) = self.nodes.iter().find(|(c, _)| c.id == *root) {
                self.visit(c, &mut order, &mut path);
            }
        }
        order
    }

    fn visit(&self, c: &Container, order: &mut Vec<Container>, path: &mut Vec<String>) {
        if order.iter().any(|o| o.id == c.id) || path.contains(&c.id) {
            return;
        }
        path.push(c.id.clone());
        for d in self.dependents(&c.id) {
            self.visit(d, order, path);
        }
        path.pop();
        order.push(c.clone());
    }
}

/// Podman's refusal of `rm` without `--depend` for a container others
/// depend on.
pub fn refusal(id: &str, dependents: &[&Container]) -> String {
    format!(
        "container {id} has dependent containers which must be removed before it: {}: container already exists",
        dependents
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::state::ContainerState;

    fn container(id: &str, deps: &[&str]) -> Container {
        let spec = ContainerSpec {
            dependencies: deps.iter().map(|d| d.to_string()).collect(),
            ..ContainerSpec::default()
        };
        Container {
            id: id.to_string(),
            name: format!("n{id}"),
            image_id: String::new(),
            image_name: String::new(),
            created: 0,
            state: ContainerState::Configured,
            pid: None,
            exit_code: None,
            exited_at: None,
            started_at: None,
            oom_killed: false,
            restart_count: 0,
            spec,
            pod_id: None,
            health: None,
            runtime: String::new(),
            monitor_pid: None,
            monitor_start_time: None,
        }
    }

    #[test]
    fn queries_from_namespace_flags() {
        let spec = ContainerSpec {
            namespaces: crate::spec::Namespaces {
                pid: Namespace::Container("a".into()),
                ipc: Namespace::Container("b".into()),
                uts: Namespace::Host,
            },
            network: crate::spec::NetworkSpec {
                mode: Some(NetworkMode::Container { id: "a".into() }),
                ..Default::default()
            },
            ..ContainerSpec::default()
        };
        assert_eq!(queries(&spec), vec!["a".to_string(), "b".to_string()]);
        assert!(queries(&ContainerSpec::default()).is_empty());
    }

    #[test]
    fn dependents_come_first() {
        let g = Graph::new(vec![
            container("base", &[]),
            container("d1", &["base"]),
            container("d2", &["base"]),
            container("d3", &["d1"]),
            container("other", &[]),
        ]);
        let ids = |v: Vec<Container>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
        let deps: Vec<&str> = g.dependents("base").iter().map(|c| c.id.as_str()).collect();
        assert_eq!(deps, vec!["d1", "d2"]);
        assert!(g.dependents("other").is_empty());
        assert_eq!(
            ids(g.removal_order(&["base"])),
            vec!["d3", "d1", "d2", "base"]
        );
        let every: Vec<&str> = g.containers().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids(g.removal_order(&every)),
            vec!["d3", "d1", "d2", "base", "other"]
        );
        assert!(refusal("base", &g.dependents("base")).contains(": d1, d2: "));
    }
}
