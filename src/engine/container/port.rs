//! `port`: the published ports of containers, from their network plans.

use hutch_storage::Store;

use super::{Paths, network};
use crate::config::Context;
use crate::engine::Result;
use crate::engine::state::State;

/// `port [-a] [CONTAINER] [PORT[/PROTO]]`.
#[derive(Debug, Clone, Default)]
pub struct PortOptions {
    /// One container; ignored with `all`.
    pub container: Option<String>,
    pub all: bool,
    /// Only this private port (`80` is `80/tcp`, as in Podman).
    pub port: Option<String>,
}

impl PortOptions {
    pub fn validate(&self) -> Result<()> {
        if !self.all && self.container.is_none() {
            crate::fail!(BadInput, "you must supply a running container name or ID");
        }
        Ok(())
    }

    fn filter(&self) -> Option<String> {
        self.port.as_ref().map(|f| {
            if f.contains('/') {
                f.clone()
            } else {
                format!("{f}/tcp")
            }
        })
    }
}

/// One published port of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMappingReport {
    pub id: String,
    /// `80/tcp`.
    pub private: String,
    /// `0.0.0.0:8080`.
    pub public: String,
}

/// The published ports asked for; with a port filter that matches none,
/// not found (Podman's "failed to find published port", with the port as
/// given); a container that publishes nothing answers nothing, as
/// Podman's does.
pub fn port(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &PortOptions,
) -> Result<Vec<PortMappingReport>> {
    opts.validate()?;
    let containers = match (&opts.container, opts.all) {
        (_, true) => state.list_containers(true)?,
        (Some(name), false) => vec![state.container(name)?],
        (None, false) => Vec::new(),
    };
    let filter = opts.filter();
    let mut out = Vec::new();
    let mut published = false;
    for c in &containers {
        let plan = network::read_plan(&Paths::new(ctx, store.root(), &c.id)).unwrap_or_default();
        published |= !plan.ports.is_empty();
        for line in plan.ports.iter().flat_map(|p| p.lines()) {
            let (private, public) = line.split_once(" -> ").unwrap_or((&line, ""));
            if filter.as_deref().is_none_or(|f| f == private) {
                out.push(PortMappingReport {
                    id: c.id.clone(),
                    private: private.to_owned(),
                    public: public.to_owned(),
                });
            }
        }
    }
    if filter.is_some() && published && out.is_empty() {
        let given = opts.port.as_deref().unwrap_or_default();
        crate::fail!(NotFound, "failed to find published port {given:?}");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        assert!(PortOptions::default().validate().is_err());
        let all = PortOptions {
            all: true,
            ..PortOptions::default()
        };
        assert!(all.validate().is_ok());
        let tcp = PortOptions {
            container: Some("c".into()),
            port: Some("80".into()),
            ..PortOptions::default()
        };
        assert_eq!(tcp.filter().as_deref(), Some("80/tcp"));
        let udp = PortOptions {
            port: Some("53/udp".into()),
            ..tcp
        };
        assert_eq!(udp.filter().as_deref(), Some("53/udp"));
    }
}
