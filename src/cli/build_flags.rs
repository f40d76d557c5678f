//! `build`'s flags beyond the Containerfile's own: those that shape the
//! containers of RUN instructions (limits, namespaces, /etc/hosts, DNS,
//! devices), those of the base images' pulls, and Podman's flags that
//! hutch accepts without acting on (as Podman does for some) or refuses
//! with the reason. Podman 4.3.1's `podman build --help` is the list.

use anyhow::bail;

use crate::cli::container::resource_flags::{memory, swap};
use crate::runtime::spec::resources::ResourceRequest;
use crate::spec::parse;

/// The limits of RUN containers: `podman build`'s subset of `run`'s (no
/// `--cpus`, `--pids-limit`, ... there).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BuildLimits {
    /// Memory limit (format: <number>[<unit>], where unit = b, k, m or g)
    #[arg(short, long, value_parser = memory, value_name = "MEMORY")]
    memory: Option<i64>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long, value_parser = swap, value_name = "MEMORY", allow_negative_numbers = true)]
    memory_swap: Option<i64>,
    /// Limit the CPU CFS (Completely Fair Scheduler) period
    #[arg(long)]
    cpu_period: Option<u64>,
    /// Limit the CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, allow_negative_numbers = true)]
    cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    cpu_shares: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    cpuset_cpus: Option<String>,
    /// Memory nodes (MEMs) in which to allow execution (0-3, 0,1)
    #[arg(long)]
    cpuset_mems: Option<String>,
    /// Optional parent cgroup for the containers of RUN instructions
    #[arg(long)]
    cgroup_parent: Option<String>,
}

impl BuildLimits {
    pub fn request(&self) -> ResourceRequest {
        ResourceRequest {
            memory: self.memory,
            memory_swap: self.memory_swap,
            cpu_period: self.cpu_period,
            cpu_quota: self.cpu_quota,
            cpu_shares: self.cpu_shares,
            cpuset_cpus: self.cpuset_cpus.clone(),
            cpuset_mems: self.cpuset_mems.clone(),
            cgroup_parent: self.cgroup_parent.clone(),
            ..ResourceRequest::default()
        }
    }
}

/// What else every RUN container gets.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunContainerFlags {
    #[command(flatten)]
    pub limits: BuildLimits,
    /// Size of '/dev/shm'. The format is <number><unit> (default 65536k)
    #[arg(long, value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// Ulimit options for the containers of RUN instructions
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long, value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// 'private', path of IPC namespace to join, or 'host'
    #[arg(long, value_name = "PATH")]
    pub ipc: Option<String>,
    /// 'private', path of PID namespace to join, or 'host'
    #[arg(long, value_name = "PATH")]
    pub pid: Option<String>,
    /// 'private', path of UTS namespace to join, or 'host'
    #[arg(long, value_name = "PATH")]
    pub uts: Option<String>,
    /// 'private', or 'host'
    #[arg(long, value_name = "MODE")]
    pub cgroupns: Option<String>,
    /// Additional devices to be used within containers
    #[arg(long)]
    pub device: Vec<String>,
    /// Set custom DNS servers ('none': no /etc/resolv.conf of hutch's)
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// Set custom DNS options
    #[arg(long)]
    pub dns_option: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long)]
    pub dns_search: Vec<String>,
    /// containerUID:hostUID:length UID mapping to use in user namespace
    #[arg(long, value_name = "CONTAINERUID:HOSTUID:LENGTH")]
    pub userns_uid_map: Vec<String>,
    /// containerGID:hostGID:length GID mapping to use in user namespace
    #[arg(long, value_name = "CONTAINERGID:HOSTGID:LENGTH")]
    pub userns_gid_map: Vec<String>,
    /// Pass through HTTP Proxy environment variables (default true)
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub http_proxy: bool,
}

/// `--pid`/`--ipc`/`--uts`: Podman's build takes a namespace's path bare
/// (`/proc/PID/ns/pid`); `run`'s forms are accepted too.
pub fn namespace(flag: &str, value: Option<&str>) -> anyhow::Result<crate::spec::Namespace> {
    match value {
        Some(p) if p.starts_with('/') => Ok(crate::spec::Namespace::Path(p.into())),
        v => parse::userns::namespace(flag, v),
    }
}

/// `--userns-uid-map`/`--userns-gid-map`: each value one mapping or
/// several joined by commas, as Podman's build takes them; a malformed one
/// in Podman's words.
pub fn id_maps(values: &[String]) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for v in values {
        for m in v.split(',') {
            let parts: Vec<&str> = m.split(':').collect();
            if parts.len() != 3 || parts.iter().any(|p| p.parse::<u32>().is_err()) {
                bail!("mapping {m:?} is not in the form containerid:hostid:size[,...]");
            }
            out.push(m.to_owned());
        }
    }
    Ok(out)
}

/// `--cgroupns`: Podman's two values.
pub fn cgroupns(value: Option<&str>) -> anyhow::Result<Option<String>> {
    match value {
        None | Some("") => Ok(None),
        Some(m @ ("host" | "private")) => Ok(Some(m.to_owned())),
        Some(m) => bail!("invalid --cgroupns value {m:?}: use 'private' or 'host'"),
    }
}

/// `--shm-size`: 0 keeps the default, as `run`'s.
pub fn shm_size(value: Option<&str>) -> anyhow::Result<Option<u64>> {
    Ok(value.map(parse::log::size).transpose()?.filter(|n| *n > 0))
}

/// The pulls of `FROM` images (and `COPY --from`/`RUN --mount=from=`
/// images).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BuildPullFlags {
    /// Path of the authentication file
    #[arg(long, value_name = "PATH")]
    pub authfile: Option<std::path::PathBuf>,
    /// Require HTTPS and verify certificates when accessing the registry (default true)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Use [username[:password]] for accessing the registry
    #[arg(long, value_name = "USERNAME[:PASSWORD]")]
    pub creds: Option<String>,
    /// Use certificates at the specified path to access the registry (not supported)
    #[arg(long, value_name = "PATH")]
    pub cert_dir: Option<String>,
    /// Set the ARCH of the image (the native one only)
    #[arg(long)]
    pub arch: Option<String>,
    /// Set the OS of the image (the native one only)
    #[arg(long)]
    pub os: Option<String>,
    /// Override the variant of the specified image (the native one only)
    #[arg(long)]
    pub variant: Option<String>,
    /// Number of times to retry in case of failure when performing pull (hutch pulls once)
    #[arg(long)]
    pub retry: Option<u32>,
    /// Delay between retries in case of pull failures
    #[arg(long)]
    pub retry_delay: Option<String>,
}

/// Podman's build flags that change nothing in hutch's build (as in
/// Podman for some), and those hutch refuses with the reason.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OtherBuildFlags {
    /// This is a legacy option, which has no effect on the image
    #[arg(long)]
    pub compress: bool,
    /// This is a Docker specific option and is a NOOP
    #[arg(long)]
    pub disable_content_trust: bool,
    /// Don't compress layers (default true; local layers are stored uncompressed)
    #[arg(short = 'D', long, default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub disable_compression: bool,
    /// Add default identity label (default true; hutch adds none)
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub identity_label: bool,
    /// Skips stages in multi-stage builds which do not affect the final target (default true)
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub skip_unused_stages: bool,
    /// Type of process isolation to use (oci only)
    #[arg(long, value_name = "TYPE")]
    pub isolation: Option<String>,
    /// Log to file instead of stdout/stderr
    #[arg(long, value_name = "FILE")]
    pub logfile: Option<std::path::PathBuf>,
    /// Image name used to replace the value in the first FROM instruction in the Containerfile
    #[arg(long)]
    pub from: Option<String>,
    /// Add global flags for the container runtime
    #[arg(long)]
    pub runtime_flag: Vec<String>,
    /// Attempt to build for all base image platforms (not supported)
    #[arg(long)]
    pub all_platforms: bool,
    /// argument=value to supply additional build context to the builder (not supported)
    #[arg(long, value_name = "NAME=VALUE")]
    pub build_context: Vec<String>,
    /// Remote repository to utilise as potential cache source (not supported)
    #[arg(long)]
    pub cache_from: Option<String>,
    /// Remote repository to utilise as potential cache destination (not supported)
    #[arg(long)]
    pub cache_to: Option<String>,
    /// Only consider cache images under specified duration (not supported)
    #[arg(long)]
    pub cache_ttl: Option<String>,
    /// Set additional flag to pass to C preprocessor (not supported)
    #[arg(long)]
    pub cpp_flag: Vec<String>,
    /// Key needed to decrypt the image (not supported)
    #[arg(long)]
    pub decryption_key: Vec<String>,
    /// Set the OCI hooks directory path (not supported)
    #[arg(long)]
    pub hooks_dir: Vec<String>,
    /// Split logfile to different files for each platform (not supported)
    #[arg(long)]
    pub logsplit: bool,
    /// Add the image to the specified manifest list (not supported)
    #[arg(long)]
    pub manifest: Option<String>,
    /// Do not create new /etc/hosts files for RUN instructions (not supported)
    #[arg(long)]
    pub no_hosts: bool,
    /// Set required OS feature for the target image (not supported)
    #[arg(long, value_name = "FEATURE")]
    pub os_feature: Vec<String>,
    /// Set required OS version for the target image (not supported)
    #[arg(long, value_name = "VERSION")]
    pub os_version: Option<String>,
    /// Output destination (format: type=local,dest=path) (not supported)
    #[arg(short, long)]
    pub output: Option<String>,
    /// Sign the image using a GPG key with the specified FINGERPRINT (not supported)
    #[arg(long, value_name = "FINGERPRINT")]
    pub sign_by: Option<String>,
    /// Pass stdin into containers (not supported)
    #[arg(long)]
    pub stdin: bool,
    /// Name of entries from /etc/subuid to use to set user namespace UID mapping (not supported)
    #[arg(long, value_name = "NAME")]
    pub userns_uid_map_user: Option<String>,
    /// Name of entries from /etc/subgid to use to set user namespace GID mapping (not supported)
    #[arg(long, value_name = "NAME")]
    pub userns_gid_map_group: Option<String>,
}

impl OtherBuildFlags {
    /// The first flag given that hutch's build does not do, with why and
    /// what to do instead.
    pub fn refused(&self) -> Option<String> {
        let why: &[(bool, &str, &str)] = &[
            (
                self.all_platforms,
                "--all-platforms",
                "hutch builds for the native platform only",
            ),
            (
                !self.build_context.is_empty(),
                "--build-context",
                "copy the files into the context or use COPY --from=IMAGE",
            ),
            (
                self.cache_from.is_some() || self.cache_to.is_some() || self.cache_ttl.is_some(),
                "--cache-from/--cache-to/--cache-ttl",
                "the layer cache is local only",
            ),
            (
                !self.cpp_flag.is_empty(),
                "--cpp-flag",
                "Containerfile.in files are not preprocessed; run cpp first and build with -f -",
            ),
            (
                !self.decryption_key.is_empty(),
                "--decryption-key",
                "encrypted images are not supported",
            ),
            (
                !self.hooks_dir.is_empty(),
                "--hooks-dir",
                "OCI hooks are not run (CDI specs' hooks are)",
            ),
            (
                self.logsplit,
                "--logsplit",
                "it splits per platform and hutch builds for one",
            ),
            (
                self.manifest.is_some(),
                "--manifest",
                "manifest lists are not built",
            ),
            (
                self.no_hosts,
                "--no-hosts",
                "RUN containers always get hutch's /etc/hosts",
            ),
            (
                !self.os_feature.is_empty() || self.os_version.is_some(),
                "--os-feature/--os-version",
                "the image's platform is the native one as is",
            ),
            (
                self.output.is_some(),
                "--output",
                "export the image's files with `hutch create` and `hutch export` instead",
            ),
            (
                self.sign_by.is_some(),
                "--sign-by",
                "sign when pushing (push --sign-by)",
            ),
            (self.stdin, "--stdin", "RUN instructions read no input"),
            (
                self.userns_uid_map_user.is_some() || self.userns_gid_map_group.is_some(),
                "--userns-uid-map-user/--userns-gid-map-group",
                "give the ranges with --userns-uid-map/--userns-gid-map",
            ),
            (
                !self.skip_unused_stages,
                "--skip-unused-stages=false",
                "stages the target does not need are always skipped",
            ),
        ];
        if let Some(iso) = self.isolation.as_deref()
            && iso != "oci"
        {
            return Some(format!(
                "hutch build does not support --isolation {iso}: RUN instructions run in OCI containers (--isolation oci)"
            ));
        }
        why.iter()
            .find(|(given, _, _)| *given)
            .map(|(_, flag, reason)| format!("hutch build does not support {flag}: {reason}"))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        run: RunContainerFlags,
        #[command(flatten)]
        other: OtherBuildFlags,
    }

    #[test]
    fn limits_and_refusals() {
        let t = T::parse_from([
            "t",
            "-m",
            "64m",
            "--cpu-quota",
            "50000",
            "-c",
            "512",
            "--isolation",
            "oci",
            "--compress",
        ]);
        let r = t.run.limits.request();
        assert_eq!(r.memory, Some(64 << 20));
        assert_eq!(r.cpu_quota, Some(50000));
        assert_eq!(r.cpu_shares, Some(512));
        assert!(t.run.http_proxy);
        assert_eq!(t.other.refused(), None);
        let t = T::parse_from(["t", "--isolation", "chroot"]);
        assert!(t.other.refused().unwrap().contains("--isolation chroot"));
        let t = T::parse_from(["t", "--skip-unused-stages=false"]);
        assert!(t.other.refused().unwrap().contains("--skip-unused-stages"));
        let t = T::parse_from(["t", "--manifest", "m"]);
        assert!(t.other.refused().unwrap().contains("--manifest"));
    }

    #[test]
    fn bare_namespace_paths() {
        assert_eq!(
            namespace("pid", Some("/proc/1/ns/pid")).unwrap(),
            crate::spec::Namespace::Path("/proc/1/ns/pid".into())
        );
        assert_eq!(
            namespace("pid", Some("host")).unwrap(),
            crate::spec::Namespace::Host
        );
        assert!(cgroupns(Some("bogus")).is_err());
        assert_eq!(
            id_maps(&["0:1:1000,1000:2000:10".into()]).unwrap(),
            ["0:1:1000", "1000:2000:10"]
        );
        assert!(
            id_maps(&["0:x:1".into()])
                .unwrap_err()
                .to_string()
                .contains("is not in the form containerid:hostid:size")
        );
    }
}
