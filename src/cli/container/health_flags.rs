//! The health-check flags of `create` and `run` (turned into the spec's
//! `health_check` and `health_on_failure` by `CreateFlags::spec`).

use crate::spec::parse::health;
use crate::spec::{HealthCheck, HealthOnFailure, SdNotify};

#[derive(Debug, Clone, Default, clap::Args)]
pub struct HealthFlags {
    /// Set a healthcheck command for the container ('none' disables the existing healthcheck)
    #[arg(long, value_name = "COMMAND")]
    pub health_cmd: Option<String>,
    /// Set an interval for the healthcheck (a value of disable results in no automatic timer setup)
    #[arg(long, value_name = "INTERVAL", default_value = health::DEFAULT_INTERVAL, allow_hyphen_values = true)]
    pub health_interval: String,
    /// The number of retries allowed before a healthcheck is considered to be unhealthy
    #[arg(long, value_name = "RETRIES", default_value_t = health::DEFAULT_RETRIES)]
    pub health_retries: u32,
    /// The initialization time needed for a container to bootstrap
    #[arg(long, value_name = "PERIOD", default_value = health::DEFAULT_START_PERIOD, allow_hyphen_values = true)]
    pub health_start_period: String,
    /// The maximum time allowed to complete the healthcheck before an interval is considered failed
    #[arg(long, value_name = "TIMEOUT", default_value = health::DEFAULT_TIMEOUT, allow_hyphen_values = true)]
    pub health_timeout: String,
    /// Action to take once the container turns unhealthy (none, kill, restart, stop)
    #[arg(long, value_name = "ACTION", default_value = "none")]
    pub health_on_failure: String,
    /// Disable healthchecks on container
    #[arg(long)]
    pub no_healthcheck: bool,
    /// Control sd-notify behavior (container, conmon, healthy, ignore)
    #[arg(long, value_name = "MODE")]
    pub sdnotify: Option<String>,
}

impl HealthFlags {
    /// `--sdnotify` and the caller's `NOTIFY_SOCKET` (kept for every mode
    /// but `ignore`). Without the flag, Podman's default: `container`.
    pub fn notify(
        &self,
        notify_socket: Option<&str>,
    ) -> anyhow::Result<(SdNotify, Option<String>)> {
        let mode = match self.sdnotify.as_deref() {
            None | Some("container") => SdNotify::Container,
            Some("conmon") => SdNotify::Conmon,
            Some("healthy") => SdNotify::Healthy,
            Some("ignore") => SdNotify::Ignore,
            Some(other) => anyhow::bail!(
                "invalid argument \"{other}\" for \"--sdnotify\" flag: must be one of container, conmon, healthy, or ignore"
            ),
        };
        if mode == SdNotify::Healthy && self.no_healthcheck {
            anyhow::bail!("--sdnotify=healthy needs a health check (--no-healthcheck given)");
        }
        // systemd's sd_notify(3) takes a path or an abstract name (`@`);
        // anything else is nobody's socket.
        let socket = notify_socket
            .filter(|s| s.starts_with('/') || s.starts_with('@'))
            .filter(|_| mode != SdNotify::Ignore)
            .map(String::from);
        Ok((mode, socket))
    }

    pub fn check(&self) -> anyhow::Result<(Option<HealthCheck>, HealthOnFailure)> {
        let check = health::health(&health::HealthFlags {
            cmd: self.health_cmd.as_deref(),
            interval: &self.health_interval,
            retries: self.health_retries,
            timeout: &self.health_timeout,
            start_period: &self.health_start_period,
            no_healthcheck: self.no_healthcheck,
        })?;
        Ok((check, health::on_failure(&self.health_on_failure)?))
    }
}
