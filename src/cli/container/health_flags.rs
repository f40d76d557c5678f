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
    /// Control sd-notify behavior (conmon, ignore; container and healthy are not supported yet)
    #[arg(long, value_name = "MODE")]
    pub sdnotify: Option<String>,
}

impl HealthFlags {
    /// `--sdnotify` and, for `conmon`, the caller's `NOTIFY_SOCKET`.
    pub fn notify(
        &self,
        notify_socket: Option<&str>,
    ) -> anyhow::Result<(SdNotify, Option<String>)> {
        // Podman's default, `container`, hands the socket to the container;
        // hutch cannot yet, and leaves the socket alone (no flag given) or
        // refuses (`--sdnotify=container` asked for it).
        let Some(asked) = self.sdnotify.as_deref() else {
            return Ok((SdNotify::Container, None));
        };
        let mode = match asked {
            "conmon" => SdNotify::Conmon,
            "ignore" => SdNotify::Ignore,
            // Without a NOTIFY_SOCKET there is nobody to tell: Podman's
            // default is then a no-op, and so is hutch's.
            "container" if notify_socket.is_none() => SdNotify::Container,
            "container" | "healthy" => anyhow::bail!(
                "--sdnotify={asked}: not supported by hutch yet (use --sdnotify=conmon)"
            ),
            other => anyhow::bail!(
                "invalid argument \"{other}\" for \"--sdnotify\" flag: must be one of container, conmon, healthy, or ignore"
            ),
        };
        let socket = notify_socket
            .filter(|_| mode == SdNotify::Conmon)
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
