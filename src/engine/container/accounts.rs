//! The accounts a container's /etc/passwd and /etc/group gain, as Podman
//! adds them: `--userns=keep-id` makes the user's uid the container's
//! user, and tools (`id`, `whoami`, shells) want a name for it; each
//! `--hostuser` copies a host account in. The image's files are left
//! alone: the result is written to the userdata dir and bind-mounted.

use crate::config::Context;
use crate::engine::{Error, Result};
use crate::host::users;
use crate::spec::{ContainerSpec, Userns};

use super::etc::{self, PasswdEntry};

/// The new passwd and group texts (`None`: nothing added, the image's
/// file is used as it is).
pub struct Accounts {
    pub passwd: Option<String>,
    pub group: Option<String>,
}

pub fn plan(
    ctx: &Context,
    req: &ContainerSpec,
    workdir: &str,
    image_passwd: Option<&str>,
    image_group: Option<&str>,
) -> Result<Accounts> {
    let home = if workdir.is_empty() { "/" } else { workdir };
    let mut add = Vec::new();
    let mut group = None;
    if let Userns::KeepId { uid, gid, .. } = &req.userns {
        let uid = uid.unwrap_or(ctx.identity.uid);
        let gid = gid.unwrap_or(ctx.identity.gid);
        let host = users::by_uid(uid);
        let name = host
            .as_ref()
            .map(|h| h.name.clone())
            .or_else(|| (uid == ctx.identity.uid).then(|| ctx.identity.user_name.clone())?)
            .unwrap_or_else(|| uid.to_string());
        add.push(PasswdEntry {
            name: name.clone(),
            uid,
            gid,
            gecos: host.map(|h| h.gecos).unwrap_or_default(),
            home: home.to_owned(),
        });
        group = etc::group_text(image_group, &name, gid, &name);
    }
    for wanted in &req.host_users {
        let Some(h) = users::lookup(wanted) else {
            return Err(Error::bad_input(format!(
                "--hostuser {wanted}: no such user on the host"
            )));
        };
        add.push(PasswdEntry {
            name: h.name,
            uid: h.uid,
            gid: h.gid,
            gecos: h.gecos,
            home: home.to_owned(),
        });
    }
    Ok(Accounts {
        passwd: etc::passwd_text(image_passwd, &add),
        group,
    })
}
