//! Host accounts by name or uid, through NSS (getpwnam_r/getpwuid_r), so
//! that directory-service users (LDAP on HPC nodes) resolve as well as
//! those in /etc/passwd. For `--hostuser` and `--userns=keep-id`'s
//! /etc/passwd entry.

use std::ffi::{CStr, CString};

/// A host account, the fields an /etc/passwd line needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
}

/// `name` or a numeric uid.
pub fn lookup(name_or_uid: &str) -> Option<HostUser> {
    match name_or_uid.parse::<u32>() {
        Ok(uid) => by_uid(uid),
        Err(_) => by_name(name_or_uid),
    }
}

pub fn by_uid(uid: u32) -> Option<HostUser> {
    // SAFETY: getpwuid_r writes into `pwd` and `buf`, both owned by `call`.
    call(&|pwd, buf, len, result| unsafe { libc::getpwuid_r(uid, pwd, buf, len, result) })
}

pub fn by_name(name: &str) -> Option<HostUser> {
    let name = CString::new(name).ok()?;
    // SAFETY: as in `by_uid`; `name` outlives the call.
    call(&|pwd, buf, len, result| unsafe { libc::getpwnam_r(name.as_ptr(), pwd, buf, len, result) })
}

type Lookup<'a> = dyn Fn(*mut libc::passwd, *mut libc::c_char, libc::size_t, *mut *mut libc::passwd) -> libc::c_int
    + 'a;

fn call(f: &Lookup<'_>) -> Option<HostUser> {
    let mut buf = vec![0u8; 16 << 10];
    // SAFETY: a zeroed passwd is a valid out-parameter; the strings it
    // points to live in `buf`, read before `buf` is dropped.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = f(&mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut result);
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        let text = |p: *const libc::c_char| {
            if p.is_null() {
                String::new()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        Some(HostUser {
            name: text(pwd.pw_name),
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
            gecos: text(pwd.pw_gecos),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_by_name_and_uid() {
        let r = lookup("root").expect("root exists");
        assert_eq!((r.uid, r.gid), (0, 0));
        assert_eq!(lookup("0").map(|u| u.name).as_deref(), Some("root"));
        assert!(lookup("no-such-user-hutch").is_none());
    }
}
