//! The container's user namespace maps for each `--userns` mode.
//!
//! Rootless, the runtime runs inside the user's pause namespace, whose map
//! puts the user at 0 and the subordinate ids at 1..=N (Podman's
//! "intermediate" ids). Maps written into the spec are relative to that
//! namespace, so they count in intermediate ids. keep-id reproduces Podman's
//! `getRootlessKeepIDMapping` (pkg/util/utils.go): container ids below the
//! user's uid come from the subordinate ids, the user's uid is intermediate
//! 0 (the user), and the rest continue one to one; nomap is Podman's
//! `GetNoMapMapping`: the subordinate ids alone, from container id 0.

use super::SpecError;
use super::config::{IdMap, UsernsMode};

/// The maps to write and, for keep-id, the identity the process takes when
/// `--user` is not given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// `None`: no new user namespace.
    pub maps: Option<(Vec<IdMap>, Vec<IdMap>)>,
    pub default_user: Option<(u32, u32)>,
}

/// Host facts keep-id and nomap need.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    pub rootless: bool,
    pub uid: u32,
    pub gid: u32,
    /// Total subordinate ids in the pause namespace (0 in single-id mode).
    pub subuid_size: u32,
    pub subgid_size: u32,
}

pub fn plan(mode: &UsernsMode, ids: &Ids) -> Result<Plan, SpecError> {
    match mode {
        UsernsMode::Host => Ok(Plan::default()),
        UsernsMode::KeepId { uid, gid, size } => {
            if !ids.rootless {
                // Podman: a rootful keep-id copies its own (identity) maps
                // and only changes the user.
                let full = vec![IdMap {
                    container_id: 0,
                    host_id: 0,
                    size: u32::MAX,
                }];
                return Ok(Plan {
                    maps: Some((full.clone(), full)),
                    default_user: Some((uid.unwrap_or(0), gid.unwrap_or(0))),
                });
            }
            let uid = uid.unwrap_or(ids.uid);
            let gid = gid.unwrap_or(ids.gid);
            Ok(Plan {
                maps: Some((
                    keep_id_map(uid, ids.subuid_size, *size),
                    keep_id_map(gid, ids.subgid_size, *size),
                )),
                default_user: Some((uid, gid)),
            })
        }
        UsernsMode::NoMap => {
            if !ids.rootless {
                return Err(SpecError::UsernsNeedsRootless("nomap"));
            }
            if ids.subuid_size == 0 || ids.subgid_size == 0 {
                return Err(SpecError::NoSubordinateIds("nomap"));
            }
            let map = |size| {
                vec![IdMap {
                    container_id: 0,
                    host_id: 1,
                    size,
                }]
            };
            Ok(Plan {
                maps: Some((map(ids.subuid_size), map(ids.subgid_size))),
                default_user: None,
            })
        }
        UsernsMode::Auto { uid_map, gid_map } | UsernsMode::Explicit { uid_map, gid_map } => {
            if uid_map.is_empty() || gid_map.is_empty() {
                return Err(SpecError::EmptyIdMap);
            }
            Ok(Plan {
                maps: Some((uid_map.clone(), gid_map.clone())),
                default_user: None,
            })
        }
    }
}

/// `getRootlessKeepIDMapping` for one of uid or gid. `available` counts the
/// subordinate ids; `max_size` is keep-id's `size=`.
fn keep_id_map(id: u32, available: u32, max_size: Option<u32>) -> Vec<IdMap> {
    let max = match max_size.filter(|s| *s > 0) {
        Some(size) => available.min(size - 1),
        None => available,
    };
    let mut map = Vec::with_capacity(3);
    if available > 0 && id != 0 {
        map.push(IdMap {
            container_id: 0,
            host_id: 1,
            size: id.min(max),
        });
    }
    map.push(IdMap {
        container_id: id,
        host_id: 0,
        size: 1,
    });
    if max > id {
        map.push(IdMap {
            container_id: id + 1,
            host_id: id + 1,
            size: max - id,
        });
    }
    map.retain(|m| m.size > 0);
    map
}

/// Whether gid 5 (tty, devpts's default group) exists in the container, as
/// Podman checks before asking devpts for `gid=5`.
pub fn gid5_available(rootless: bool, subgid_size: u32, gid_map: Option<&[IdMap]>) -> bool {
    // Rootless, the pause namespace holds 1 + subgid ids.
    if rootless && u64::from(subgid_size) + 1 < 5 {
        return false;
    }
    match gid_map {
        Some(map) => map
            .iter()
            .any(|m| m.container_id <= 5 && 5 < u64::from(m.container_id) + u64::from(m.size)),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(container_id: u32, host_id: u32, size: u32) -> IdMap {
        IdMap {
            container_id,
            host_id,
            size,
        }
    }

    fn rootless(subids: u32) -> Ids {
        Ids {
            rootless: true,
            uid: 1000,
            gid: 1000,
            subuid_size: subids,
            subgid_size: subids,
        }
    }

    #[test]
    fn keep_id_matches_podman() {
        let p = plan(
            &UsernsMode::KeepId {
                uid: None,
                gid: None,
                size: None,
            },
            &rootless(65536),
        )
        .expect("plans");
        let (uids, gids) = p.maps.expect("new namespace");
        // Container 0..1000 -> intermediate 1..1001 (subordinate ids),
        // container 1000 -> intermediate 0 (the user), then 1001.. one to one.
        assert_eq!(
            uids,
            vec![m(0, 1, 1000), m(1000, 0, 1), m(1001, 1001, 64536)]
        );
        assert_eq!(gids, uids);
        assert_eq!(p.default_user, Some((1000, 1000)));
    }

    #[test]
    fn keep_id_with_explicit_ids_and_size() {
        let p = plan(
            &UsernsMode::KeepId {
                uid: Some(0),
                gid: Some(5),
                size: Some(1024),
            },
            &rootless(65536),
        )
        .expect("plans");
        let (uids, gids) = p.maps.expect("new namespace");
        // size=1024 caps the top id at 1023, as Podman's min(maxUID, size-1).
        assert_eq!(uids, vec![m(0, 0, 1), m(1, 1, 1023)]);
        assert_eq!(gids, vec![m(0, 1, 5), m(5, 0, 1), m(6, 6, 1018)]);
        assert_eq!(p.default_user, Some((0, 5)));
    }

    #[test]
    fn keep_id_single_id_mode() {
        let p = plan(
            &UsernsMode::KeepId {
                uid: None,
                gid: None,
                size: None,
            },
            &rootless(0),
        )
        .expect("plans");
        let (uids, _) = p.maps.expect("new namespace");
        assert_eq!(uids, vec![m(1000, 0, 1)]);
    }

    #[test]
    fn nomap_uses_subordinate_ids_only() {
        let p = plan(&UsernsMode::NoMap, &rootless(65536)).expect("plans");
        let (uids, _) = p.maps.expect("new namespace");
        assert_eq!(uids, vec![m(0, 1, 65536)]);
        assert!(matches!(
            plan(&UsernsMode::NoMap, &rootless(0)),
            Err(SpecError::NoSubordinateIds(_))
        ));
        let mut rootful = rootless(65536);
        rootful.rootless = false;
        assert!(plan(&UsernsMode::NoMap, &rootful).is_err());
    }

    #[test]
    fn host_means_no_namespace() {
        assert_eq!(
            plan(&UsernsMode::Host, &rootless(65536)).expect("plans"),
            Plan::default()
        );
    }

    #[test]
    fn gid5() {
        assert!(gid5_available(false, 0, None));
        assert!(gid5_available(true, 65536, None));
        assert!(!gid5_available(true, 0, None));
        assert!(!gid5_available(true, 65536, Some(&[m(1000, 0, 1)])));
        assert!(gid5_available(
            true,
            65536,
            Some(&[m(0, 1, 1000), m(1000, 0, 1)])
        ));
    }
}
