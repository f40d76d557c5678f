//! Capability sets: Podman's defaults, `--cap-add`/`--cap-drop` merging as
//! containers-common `pkg/capabilities` `MergeCapabilities` does it, and
//! the conversion to oci-spec's typed set.
//!
//! Names are kept in the kernel's "CAP_X" form as strings until the very
//! end, because the seccomp profile's `includes.caps` compares against those
//! strings, not against a typed enum.

use oci_spec::runtime::{Capabilities, Capability};

use super::SpecError;

/// Every capability the kernel defines up to CAP_CHECKPOINT_RESTORE, in the
/// kernel's numbering (bit N of /proc/PID/status CapBnd is entry N).
pub const ALL_CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// containers-common `pkg/config/default.go` `DefaultCapabilities` since
/// v0.51 (Podman 4.4): CAP_AUDIT_WRITE, CAP_MKNOD and CAP_NET_RAW were
/// dropped from the older 14-entry list.
pub const DEFAULT_CAPABILITIES: [&str; 11] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// The capabilities Podman compares a container's with where it shows
/// them as additions and removals (`inspect`'s `HostConfig.CapAdd/CapDrop`,
/// `kube generate`'s securityContext): runtime-tools' defaults, in their
/// order, which are Docker's and not Podman's own default set.
pub const RUNTIME_TOOLS_DEFAULTS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// `have` as (added, dropped) against runtime-tools' defaults: the added
/// ones sorted and once each, the dropped ones in the defaults' order.
pub fn against_runtime_defaults(have: &[String]) -> (Vec<String>, Vec<String>) {
    let mut add: Vec<String> = have
        .iter()
        .filter(|cap| !RUNTIME_TOOLS_DEFAULTS.contains(&cap.as_str()))
        .cloned()
        .collect();
    add.sort();
    add.dedup();
    let drop = RUNTIME_TOOLS_DEFAULTS
        .iter()
        .filter(|d| !have.iter().any(|h| h == *d))
        .map(|d| d.to_string())
        .collect();
    (add, drop)
}

const ALL: &str = "ALL";

/// The names of the bits set in a CapBnd/CapEff mask from /proc/PID/status;
/// bits past the known capabilities are ignored.
pub fn from_mask(mask: u64) -> Vec<String> {
    ALL_CAPABILITIES
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1u64 << bit) != 0)
        .map(|(_, name)| name.to_string())
        .collect()
}

/// Upper-cases and adds the "CAP_" prefix; "all" becomes "ALL".
pub fn normalize(name: &str) -> Result<String, SpecError> {
    let upper = name.trim().to_ascii_uppercase();
    if upper == ALL {
        return Ok(upper);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    if ALL_CAPABILITIES.contains(&full.as_str()) {
        Ok(full)
    } else {
        Err(SpecError::UnknownCapability(name.to_string()))
    }
}

fn normalize_all(names: &[String]) -> Result<Vec<String>, SpecError> {
    names.iter().map(|n| normalize(n)).collect()
}

/// `MergeCapabilities(base, adds, drops)`: "ALL" in the drops leaves only the
/// adds; "ALL" in the adds starts from the bounding set (then drops apply);
/// a capability both added and dropped is an error.
pub fn merge(
    base: &[String],
    add: &[String],
    drop: &[String],
    bounding: &[String],
) -> Result<Vec<String>, SpecError> {
    let base = normalize_all(base)?;
    if add.is_empty() && drop.is_empty() {
        return Ok(base);
    }
    let drop = normalize_all(drop)?;
    let add = normalize_all(add)?;
    let add_all = add.iter().any(|c| c == ALL);
    if drop.iter().any(|c| c == ALL) {
        if add_all {
            return Err(SpecError::CapabilityAllAddedAndDropped);
        }
        return Ok(dedup(add));
    }
    let (base, add) = if add_all {
        (bounding.to_vec(), Vec::new())
    } else {
        (base, add)
    };
    if let Some(both) = add.iter().find(|c| drop.contains(c)) {
        return Err(SpecError::CapabilityAddedAndDropped(both.clone()));
    }
    let mut caps: Vec<String> = base.iter().filter(|c| !drop.contains(c)).cloned().collect();
    caps.extend(add.into_iter().filter(|c| !base.contains(c)));
    Ok(dedup(caps))
}

fn dedup(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for c in list {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// oci-spec's typed set, for `process.capabilities`.
pub fn to_oci(names: &[String]) -> Result<Capabilities, SpecError> {
    names
        .iter()
        .map(|n| {
            serde_json::from_value::<Capability>(serde_json::Value::String(n.clone()))
                .map_err(|_| SpecError::UnknownCapability(n.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(list: &[&str]) -> Vec<String> {
        list.iter().map(|c| c.to_string()).collect()
    }

    fn defaults() -> Vec<String> {
        s(&DEFAULT_CAPABILITIES)
    }

    fn all() -> Vec<String> {
        s(&ALL_CAPABILITIES)
    }

    #[test]
    fn default_set_is_podmans() {
        // containers-common pkg/config/default.go DefaultCapabilities (and the
        // default_capabilities of the containers.conf Debian ships,
        // /usr/share/containers/containers.conf from 0.50.1+ds1-4).
        let mut expected = s(&[
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FOWNER",
            "CAP_FSETID",
            "CAP_KILL",
            "CAP_NET_BIND_SERVICE",
            "CAP_SETFCAP",
            "CAP_SETGID",
            "CAP_SETPCAP",
            "CAP_SETUID",
            "CAP_SYS_CHROOT",
        ]);
        let mut got = merge(&defaults(), &[], &[], &all()).expect("merges");
        expected.sort();
        got.sort();
        assert_eq!(got, expected);
    }

    #[test]
    fn names_normalise_with_or_without_prefix_any_case() {
        assert_eq!(normalize("net_admin").expect("known"), "CAP_NET_ADMIN");
        assert_eq!(normalize("CAP_NET_ADMIN").expect("known"), "CAP_NET_ADMIN");
        assert_eq!(normalize("cap_Sys_Admin").expect("known"), "CAP_SYS_ADMIN");
        assert_eq!(normalize("all").expect("known"), "ALL");
        let err = normalize("CAP_FLY").expect_err("unknown");
        assert!(err.to_string().contains("CAP_FLY"), "{err}");
    }

    #[test]
    fn add_and_drop() {
        let got = merge(
            &defaults(),
            &s(&["net_admin"]),
            &s(&["chown", "CAP_KILL"]),
            &all(),
        )
        .expect("merges");
        assert!(got.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!got.contains(&"CAP_CHOWN".to_string()));
        assert!(!got.contains(&"CAP_KILL".to_string()));
        assert_eq!(got.len(), 10);
    }

    #[test]
    fn drop_all_keeps_only_adds() {
        let got = merge(&defaults(), &s(&["sys_ptrace"]), &s(&["ALL"]), &all()).expect("merges");
        assert_eq!(got, s(&["CAP_SYS_PTRACE"]));
        let none = merge(&defaults(), &[], &s(&["all"]), &all()).expect("merges");
        assert!(none.is_empty());
    }

    #[test]
    fn add_all_takes_the_bounding_set_minus_drops() {
        let bounding = s(&["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_KILL"]);
        let got = merge(&defaults(), &s(&["ALL"]), &s(&["kill"]), &bounding).expect("merges");
        assert_eq!(got, s(&["CAP_CHOWN", "CAP_SYS_ADMIN"]));
    }

    #[test]
    fn conflicts_are_errors() {
        let err =
            merge(&defaults(), &s(&["chown"]), &s(&["CAP_CHOWN"]), &all()).expect_err("conflict");
        assert!(err.to_string().contains("CAP_CHOWN"), "{err}");
        assert!(matches!(
            merge(&defaults(), &s(&["all"]), &s(&["all"]), &all()),
            Err(SpecError::CapabilityAllAddedAndDropped)
        ));
    }

    #[test]
    fn mask_bits_follow_kernel_numbering() {
        assert_eq!(from_mask(0b1), s(&["CAP_CHOWN"]));
        assert_eq!(from_mask(1 << 21), s(&["CAP_SYS_ADMIN"]));
        assert_eq!(from_mask(0x1ff_ffff_ffff).len(), 41);
    }

    #[test]
    fn every_known_name_converts_to_oci() {
        let set = to_oci(&all()).expect("all known to oci-spec");
        assert_eq!(set.len(), 41);
    }
}
