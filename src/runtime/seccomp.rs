//! Seccomp profiles in the containers-common (Docker/moby) format, turned
//! into the OCI runtime spec's `linux.seccomp` for one container.
//!
//! A profile lists syscall rules with `includes`/`excludes` conditions on the
//! container's capabilities, the host architecture and the kernel version;
//! the runtime (crun, runc) only understands the flattened result. The
//! filtering here follows moby's `profiles/seccomp` `setupSeccomp` and its
//! copy in containers-common `pkg/seccomp` rule for rule: a rule is dropped
//! when an excluded arch is the host's, when *any* excluded capability is in
//! the bounding set, or when the kernel is at least the excluded version; it
//! is dropped unless the host arch is among the included ones, unless *all*
//! included capabilities are in the bounding set, and unless the kernel is
//! at least the included version. The module does no I/O: callers read the
//! profile file (or use [`BUILTIN_PROFILE`]) and pass the text in.

use std::str::FromStr;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};
use serde::{Deserialize, Deserializer};

/// containers-common's `seccomp.json` (Debian's golang-github-containers-common
/// 0.50.1), used when the host has no profile of its own installed.
pub const BUILTIN_PROFILE: &str = include_str!("seccomp-default.json");

/// Where containers-common installs the default profile.
pub const HOST_PROFILE_PATH: &str = "/usr/share/containers/seccomp.json";

/// An administrator's override, which containers-common prefers over
/// [`HOST_PROFILE_PATH`] when it exists.
pub const OVERRIDE_PROFILE_PATH: &str = "/etc/containers/seccomp.json";

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp profile is not valid JSON: {0}")]
    Parse(#[source] serde_json::Error),
    #[error("seccomp profile sets both 'architectures' and 'archMap'; use one")]
    ArchitecturesAndArchMap,
    #[error("seccomp profile rule {index} sets both 'name' and 'names'; use one")]
    NameAndNames { index: usize },
    #[error("seccomp profile rule {index} names no syscall")]
    NoNames { index: usize },
    #[error("seccomp profile has an unknown action {0:?}")]
    UnknownAction(String),
    #[error("seccomp profile has an unknown architecture {0:?}")]
    UnknownArch(String),
    #[error("seccomp profile has an unknown argument operator {0:?}")]
    UnknownOperator(String),
    #[error("seccomp profile has an unknown filter flag {0:?}")]
    UnknownFlag(String),
    #[error("seccomp profile has a kernel version {0:?} that is not MAJOR.MINOR[.PATCH]")]
    BadKernelVersion(String),
    #[error("building a seccomp argument rule: {0}")]
    Build(#[source] oci_spec::OciSpecError),
}

/// The facts about the host and container the rules are filtered by.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// libseccomp's name for the host architecture as the profile writes it
    /// in `includes.arches` ("amd64", "arm64", ...); see [`native_arch`].
    pub arch: &'a str,
    /// The container's bounding capability set, names with the `CAP_` prefix.
    pub capabilities: &'a [String],
    /// The running kernel's (major, minor, patch), when known. When it is
    /// unknown, rules that need a minimum kernel are left out and rules
    /// excluded from a minimum kernel are kept: both fail closed, to the
    /// profile's default action.
    pub kernel: Option<(u32, u32, u32)>,
}

/// libseccomp's name for the architecture this binary was built for, the
/// form moby's `goToNative` table produces from GOARCH.
pub fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "powerpc" => "ppc",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "mips64" if cfg!(target_endian = "little") => "mipsel64",
        "mips64" => "mips64",
        "mips" if cfg!(target_endian = "little") => "mipsel",
        "mips" => "mips",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// moby's `nativeToSeccomp`: the archMap entry that applies to a host arch.
fn seccomp_arch_name(native: &str) -> Option<&'static str> {
    Some(match native {
        "x86" => "SCMP_ARCH_X86",
        "amd64" => "SCMP_ARCH_X86_64",
        "arm" => "SCMP_ARCH_ARM",
        "arm64" => "SCMP_ARCH_AARCH64",
        "mips64" => "SCMP_ARCH_MIPS64",
        "mips64n32" => "SCMP_ARCH_MIPS64N32",
        "mipsel64" => "SCMP_ARCH_MIPSEL64",
        "mipsel64n32" => "SCMP_ARCH_MIPSEL64N32",
        "mipsel" => "SCMP_ARCH_MIPSEL",
        "ppc" => "SCMP_ARCH_PPC",
        "ppc64" => "SCMP_ARCH_PPC64",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "s390" => "SCMP_ARCH_S390",
        "s390x" => "SCMP_ARCH_S390X",
        "loong64" => "SCMP_ARCH_LOONGARCH64",
        _ => return None,
    })
}

/// Converts a profile for one container. `Ok(None)` means the profile turns
/// seccomp off (no default action and no rules), as moby treats it.
pub fn convert(
    profile_json: &str,
    target: &Target<'_>,
) -> Result<Option<LinuxSeccomp>, SeccompError> {
    let profile: Profile = serde_json::from_str(profile_json).map_err(SeccompError::Parse)?;
    if profile.default_action.is_empty() && profile.syscalls.is_empty() {
        return Ok(None);
    }
    if !profile.architectures.is_empty() && !profile.arch_map.is_empty() {
        return Err(SeccompError::ArchitecturesAndArchMap);
    }

    let mut arches = Vec::new();
    for name in &profile.architectures {
        arches.push(parse_arch(name)?);
    }
    // Only the host's own entry of the archMap is used: listing every arch
    // would make libseccomp compile filters for ABIs the host cannot run.
    if let Some(host) = seccomp_arch_name(target.arch)
        && let Some(entry) = profile.arch_map.iter().find(|e| e.architecture == host)
    {
        arches.push(parse_arch(&entry.architecture)?);
        for sub in &entry.sub_architectures {
            arches.push(parse_arch(sub)?);
        }
    }

    let default_action = parse_action(&profile.default_action)?;
    let mut syscalls = Vec::new();
    for (index, rule) in profile.syscalls.iter().enumerate() {
        if !rule.applies(target)? {
            continue;
        }
        let names = match (rule.name.is_empty(), rule.names.is_empty()) {
            (false, false) => return Err(SeccompError::NameAndNames { index }),
            (false, true) => vec![rule.name.clone()],
            (true, false) => rule.names.clone(),
            (true, true) => return Err(SeccompError::NoNames { index }),
        };
        let mut args = Vec::new();
        for arg in rule.args.iter().flatten() {
            let op = LinuxSeccompOperator::from_str(&arg.op)
                .map_err(|_| SeccompError::UnknownOperator(arg.op.clone()))?;
            // Go's runtime-spec omits a zero valueTwo; do the same so specs
            // compare equal to Podman's.
            let mut builder = LinuxSeccompArgBuilder::default()
                .index(arg.index)
                .value(arg.value)
                .op(op);
            if arg.value_two != 0 {
                builder = builder.value_two(arg.value_two);
            }
            let converted = builder.build().map_err(SeccompError::Build)?;
            args.push(converted);
        }
        let mut call = LinuxSyscall::default();
        call.set_names(names);
        call.set_action(parse_action(&rule.action)?);
        call.set_errno_ret(rule.errno_ret);
        call.set_args((!args.is_empty()).then_some(args));
        syscalls.push(call);
    }

    let mut flags = Vec::new();
    for flag in &profile.flags {
        flags.push(
            LinuxSeccompFilterFlag::from_str(flag)
                .map_err(|_| SeccompError::UnknownFlag(flag.clone()))?,
        );
    }

    let mut out = LinuxSeccomp::default();
    out.set_default_action(default_action);
    out.set_default_errno_ret(profile.default_errno_ret);
    out.set_architectures((!arches.is_empty()).then_some(arches));
    out.set_flags((!flags.is_empty()).then_some(flags));
    out.set_listener_path(profile.listener_path.map(Into::into));
    out.set_listener_metadata(profile.listener_metadata);
    out.set_syscalls(Some(syscalls));
    Ok(Some(out))
}

fn parse_action(name: &str) -> Result<LinuxSeccompAction, SeccompError> {
    LinuxSeccompAction::from_str(name).map_err(|_| SeccompError::UnknownAction(name.to_string()))
}

fn parse_arch(name: &str) -> Result<Arch, SeccompError> {
    Arch::from_str(name).map_err(|_| SeccompError::UnknownArch(name.to_string()))
}

/// moby's `kernel.ParseRelease` for the "major.minor[.patch]" a profile
/// writes; anything after the numbers (a flavour like "-rc1") is ignored.
fn parse_kernel(text: &str) -> Result<(u32, u32, u32), SeccompError> {
    let bad = || SeccompError::BadKernelVersion(text.to_string());
    let numeric: String = text
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = numeric.split('.').filter(|p| !p.is_empty());
    let major = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let minor = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let patch = match parts.next() {
        Some(p) => p.parse().map_err(|_| bad())?,
        None => 0,
    };
    Ok((major, minor, patch))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    #[serde(default)]
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "null_as_default")]
    architectures: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    arch_map: Vec<ArchMapEntry>,
    #[serde(default, deserialize_with = "null_as_default")]
    syscalls: Vec<Rule>,
    #[serde(default, deserialize_with = "null_as_default")]
    flags: Vec<String>,
    #[serde(default)]
    listener_path: Option<String>,
    #[serde(default)]
    listener_metadata: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMapEntry {
    architecture: String,
    #[serde(default, deserialize_with = "null_as_default")]
    sub_architectures: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    names: Vec<String>,
    action: String,
    #[serde(default)]
    args: Option<Vec<RuleArg>>,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "null_as_default")]
    includes: Condition,
    #[serde(default, deserialize_with = "null_as_default")]
    excludes: Condition,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Condition {
    #[serde(default, deserialize_with = "null_as_default")]
    caps: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    arches: Vec<String>,
    #[serde(default)]
    min_kernel: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuleArg {
    index: usize,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

/// Go writes `null` for an empty slice or struct; treat it as empty.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl Rule {
    /// The include/exclude filter of moby's `setupSeccomp`, in its order.
    fn applies(&self, target: &Target<'_>) -> Result<bool, SeccompError> {
        let has_cap = |c: &String| target.capabilities.iter().any(|have| have == c);
        let ex = &self.excludes;
        if ex.arches.iter().any(|a| a == target.arch) || ex.caps.iter().any(has_cap) {
            return Ok(false);
        }
        if let Some(min) = ex.min_kernel.as_deref().filter(|m| !m.is_empty()) {
            let min = parse_kernel(min)?;
            if target.kernel.is_some_and(|k| k >= min) {
                return Ok(false);
            }
        }
        let inc = &self.includes;
        if !inc.arches.is_empty() && !inc.arches.iter().any(|a| a == target.arch) {
            return Ok(false);
        }
        if !inc.caps.iter().all(has_cap) {
            return Ok(false);
        }
        if let Some(min) = inc.min_kernel.as_deref().filter(|m| !m.is_empty()) {
            let min = parse_kernel(min)?;
            if target.kernel.is_none_or(|k| k < min) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn rules_naming(seccomp: &LinuxSeccomp, name: &str) -> Vec<LinuxSyscall> {
        seccomp
            .syscalls()
            .iter()
            .flatten()
            .filter(|s| s.names().iter().any(|n| n == name))
            .cloned()
            .collect()
    }

    fn target<'a>(arch: &'a str, capabilities: &'a [String]) -> Target<'a> {
        Target {
            arch,
            capabilities,
            kernel: Some((6, 1, 0)),
        }
    }

    #[test]
    fn builtin_profile_converts_for_amd64() {
        let none = caps(&[]);
        let out = convert(BUILTIN_PROFILE, &target("amd64", &none))
            .expect("builtin converts")
            .expect("profile is not empty");
        assert_eq!(out.default_action(), LinuxSeccompAction::ScmpActErrno);
        // ENOSYS rather than EPERM, so that glibc falls back from syscalls
        // newer than the profile.
        assert_eq!(out.default_errno_ret(), Some(38));
        assert_eq!(
            out.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
        );
        assert!(!rules_naming(&out, "read").is_empty());
    }

    #[test]
    fn cap_sys_admin_rule_only_with_the_capability() {
        let without = caps(&["CAP_CHOWN"]);
        let out = convert(BUILTIN_PROFILE, &target("amd64", &without))
            .expect("converts")
            .expect("not empty");
        // bpf is allowed only through the CAP_SYS_ADMIN rule; without the
        // capability only the EPERM rule excluded by it remains.
        let bpf = rules_naming(&out, "bpf");
        assert_eq!(bpf.len(), 1, "only the EPERM rule: {bpf:?}");
        assert_eq!(bpf[0].action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(bpf[0].errno_ret(), Some(1));

        let with = caps(&["CAP_CHOWN", "CAP_SYS_ADMIN"]);
        let out = convert(BUILTIN_PROFILE, &target("amd64", &with))
            .expect("converts")
            .expect("not empty");
        let bpf = rules_naming(&out, "bpf");
        assert_eq!(bpf.len(), 1, "only the allow rule: {bpf:?}");
        assert_eq!(bpf[0].action(), LinuxSeccompAction::ScmpActAllow);
    }

    #[test]
    fn arch_filtering_follows_includes() {
        let none = caps(&[]);
        let amd = convert(BUILTIN_PROFILE, &target("amd64", &none))
            .expect("converts")
            .expect("not empty");
        assert!(!rules_naming(&amd, "arch_prctl").is_empty());
        assert!(rules_naming(&amd, "s390_runtime_instr").is_empty());
        assert!(rules_naming(&amd, "breakpoint").is_empty());

        let arm = convert(BUILTIN_PROFILE, &target("arm64", &none))
            .expect("converts")
            .expect("not empty");
        assert!(rules_naming(&arm, "arch_prctl").is_empty());
        assert!(!rules_naming(&arm, "breakpoint").is_empty());
        assert_eq!(
            arm.architectures().as_deref(),
            Some(&[Arch::ScmpArchAarch64, Arch::ScmpArchArm][..])
        );
    }

    #[test]
    fn args_and_errno_ret_are_carried() {
        let none = caps(&[]);
        let out = convert(BUILTIN_PROFILE, &target("amd64", &none))
            .expect("converts")
            .expect("not empty");
        let personality = rules_naming(&out, "personality");
        assert_eq!(personality.len(), 5);
        let first = personality[0].args().as_ref().expect("has args");
        assert_eq!(first[0].op(), LinuxSeccompOperator::ScmpCmpEq);
        // socket(AF_NETLINK, ..., NETLINK_AUDIT) gets EINVAL without
        // CAP_AUDIT_WRITE.
        let socket_errno: Vec<_> = rules_naming(&out, "socket")
            .into_iter()
            .filter(|s| s.action() == LinuxSeccompAction::ScmpActErrno)
            .collect();
        assert_eq!(socket_errno.len(), 1);
        assert_eq!(socket_errno[0].errno_ret(), Some(22));
    }

    #[test]
    fn min_kernel_conditions() {
        let profile = r#"{
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["new_call"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.6"}},
                {"names": ["old_fallback"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.6"}}
            ]
        }"#;
        let none = caps(&[]);
        let mut t = target("amd64", &none);
        t.kernel = Some((6, 1, 0));
        let out = convert(profile, &t).expect("converts").expect("not empty");
        assert!(!rules_naming(&out, "new_call").is_empty());
        assert!(rules_naming(&out, "old_fallback").is_empty());

        t.kernel = Some((5, 4, 0));
        let out = convert(profile, &t).expect("converts").expect("not empty");
        assert!(rules_naming(&out, "new_call").is_empty());
        assert!(!rules_naming(&out, "old_fallback").is_empty());

        t.kernel = None;
        let out = convert(profile, &t).expect("converts").expect("not empty");
        assert!(rules_naming(&out, "new_call").is_empty());
        assert!(!rules_naming(&out, "old_fallback").is_empty());
    }

    #[test]
    fn empty_profile_means_no_seccomp() {
        let none = caps(&[]);
        assert!(
            convert("{}", &target("amd64", &none))
                .expect("parses")
                .is_none()
        );
    }

    #[test]
    fn errors_name_the_bad_value() {
        let none = caps(&[]);
        let t = target("amd64", &none);
        let bad_action = r#"{"defaultAction": "SCMP_ACT_BOGUS"}"#;
        let err = convert(bad_action, &t).expect_err("unknown action");
        assert!(err.to_string().contains("SCMP_ACT_BOGUS"), "{err}");

        let both = r#"{"defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]}"#;
        assert!(matches!(
            convert(both, &t),
            Err(SeccompError::NameAndNames { index: 0 })
        ));

        let bad_kernel = r#"{"defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "new"}}]}"#;
        let err = convert(bad_kernel, &t).expect_err("bad kernel version");
        assert!(err.to_string().contains("\"new\""), "{err}");

        assert!(matches!(
            convert("not json", &t),
            Err(SeccompError::Parse(_))
        ));
    }

    #[test]
    fn kernel_versions_parse_like_moby() {
        assert_eq!(parse_kernel("4.8").expect("parses"), (4, 8, 0));
        assert_eq!(parse_kernel("5.10.2-rc1").expect("parses"), (5, 10, 2));
        assert!(parse_kernel("5").is_err());
    }

    #[test]
    fn native_arch_is_mapped() {
        // Whatever the build host, the name must be one the archMap knows or
        // the profile filters will silently drop the host's arch rules.
        assert!(
            seccomp_arch_name(native_arch()).is_some(),
            "{}",
            native_arch()
        );
    }
}
