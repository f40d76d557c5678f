//! `--user` resolution against the image's own /etc/passwd and /etc/group,
//! which the caller reads from the rootfs and passes in as text.
//!
//! The rules are runc's `libcontainer/user` `GetExecUser`, which Podman's
//! `pkg/lookup` follows: a numeric uid need not exist in passwd (its group is
//! then 0 and its home "/"), a name must; a numeric gid need not exist in
//! group, a name must; when no group is given, the user's primary group
//! comes from passwd and its supplementary groups are the /etc/group entries
//! that list the user's name.

use super::SpecError;

/// The identity the container process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// passwd's home directory, "/" when the user has no entry.
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

/// Lines that do not parse are skipped, as libc's getpwent does: one bad
/// line in an image must not make every user unknown.
fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|line| {
        if line.trim_start().starts_with('#') {
            return None;
        }
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 4 {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f.get(5).copied().unwrap_or(""),
        })
    })
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().filter_map(|line| {
        if line.trim_start().starts_with('#') {
            return None;
        }
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 3 {
            return None;
        }
        Some(GroupEntry {
            name: f[0],
            gid: f[2].parse().ok()?,
            members: f
                .get(3)
                .map(|m| m.split(',').filter(|s| !s.is_empty()).collect())
                .unwrap_or_default(),
        })
    })
}

/// Resolves `user` ("", "name", "uid", "name:group", "uid:gid") and the
/// `--group-add` list. "keep-groups" in `group_add` is not a group; callers
/// handle it and it is skipped here.
pub fn resolve(
    user: &str,
    passwd: Option<&str>,
    group: Option<&str>,
    group_add: &[String],
) -> Result<ResolvedUser, SpecError> {
    let (user_part, group_part) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let passwd = passwd.unwrap_or("");
    let group = group.unwrap_or("");

    let entry = match user_part.parse::<u32>() {
        Ok(uid) => passwd_entries(passwd).find(|e| e.uid == uid),
        Err(_) => Some(
            passwd_entries(passwd)
                .find(|e| e.name == user_part)
                .ok_or_else(|| SpecError::UnknownUser(user_part.to_string()))?,
        ),
    };
    let uid = match &entry {
        Some(e) => e.uid,
        None => user_part
            .parse()
            .map_err(|_| SpecError::UnknownUser(user_part.to_string()))?,
    };
    let home = entry
        .as_ref()
        .map(|e| e.home)
        .filter(|h| !h.is_empty())
        .unwrap_or("/")
        .to_string();

    let mut additional_gids = Vec::new();
    let gid = match group_part.filter(|g| !g.is_empty()) {
        Some(g) => lookup_group(g, group)?,
        None => {
            if let Some(e) = &entry {
                for g in group_entries(group) {
                    if g.members.contains(&e.name) && !additional_gids.contains(&g.gid) {
                        additional_gids.push(g.gid);
                    }
                }
            }
            entry.as_ref().map(|e| e.gid).unwrap_or(0)
        }
    };

    for g in group_add {
        if g == "keep-groups" {
            continue;
        }
        let gid = lookup_group(g, group)?;
        if !additional_gids.contains(&gid) {
            additional_gids.push(gid);
        }
    }

    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

fn lookup_group(spec: &str, group: &str) -> Result<u32, SpecError> {
    if let Ok(gid) = spec.parse::<u32>() {
        return Ok(gid);
    }
    group_entries(group)
        .find(|g| g.name == spec)
        .map(|g| g.gid)
        .ok_or_else(|| SpecError::UnknownGroup(spec.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        # a comment\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        broken line\n\
        alice:x:1000:1000:Alice:/home/alice:/bin/sh\n";
    const GROUP: &str = "root:x:0:\n\
        wheel:x:10:alice,bob\n\
        alice:x:1000:\n\
        docker:x:999:alice\n\
        audio:x:29:\n";

    fn r(user: &str) -> Result<ResolvedUser, SpecError> {
        resolve(user, Some(PASSWD), Some(GROUP), &[])
    }

    #[test]
    fn empty_means_root() {
        let u = r("").expect("root");
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
    }

    #[test]
    fn name_takes_passwd_group_and_memberships() {
        let u = r("alice").expect("alice");
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert_eq!(u.additional_gids, vec![10, 999]);
        assert_eq!(u.home, "/home/alice");
    }

    #[test]
    fn numeric_uid_with_and_without_entry() {
        let u = r("1000").expect("known uid");
        assert_eq!((u.uid, u.gid), (1000, 1000));
        let u = r("4242").expect("unknown uid is fine");
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4242, 0, "/"));
        assert!(u.additional_gids.is_empty());
    }

    #[test]
    fn uid_gid_and_named_group() {
        let u = r("1000:29").expect("uid:gid");
        assert_eq!((u.uid, u.gid), (1000, 29));
        // An explicit group replaces the supplementary ones, as in runc.
        assert!(u.additional_gids.is_empty());
        let u = r("alice:audio").expect("name:group");
        assert_eq!((u.uid, u.gid), (1000, 29));
        let u = r("5:7").expect("numbers need no entries");
        assert_eq!((u.uid, u.gid), (5, 7));
    }

    #[test]
    fn unknown_names_are_errors_naming_them() {
        let err = r("mallory").expect_err("unknown user");
        assert!(matches!(&err, SpecError::UnknownUser(n) if n == "mallory"));
        assert!(err.to_string().contains("mallory"), "{err}");
        let err = r("alice:nogroup").expect_err("unknown group");
        assert!(matches!(&err, SpecError::UnknownGroup(n) if n == "nogroup"));
        // No passwd at all: names cannot resolve, numbers can.
        assert!(resolve("alice", None, None, &[]).is_err());
        assert_eq!(resolve("12", None, None, &[]).expect("numeric").uid, 12);
    }

    #[test]
    fn group_add_resolves_names_and_numbers() {
        let add = vec![
            "audio".to_string(),
            "1234".to_string(),
            "keep-groups".to_string(),
        ];
        let u = resolve("alice", Some(PASSWD), Some(GROUP), &add).expect("resolves");
        assert_eq!(u.additional_gids, vec![10, 999, 29, 1234]);
        let err = resolve("", Some(PASSWD), Some(GROUP), &["video".to_string()])
            .expect_err("unknown group");
        assert!(err.to_string().contains("video"), "{err}");
    }
}
