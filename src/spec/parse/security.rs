//! `--security-opt`. A seccomp profile named by path stays a path here;
//! the front end reads its content into the spec.

use std::path::PathBuf;

use crate::runtime::spec::SpecError;
use crate::spec::{SeccompChoice, SecurityOpts};

/// Accepts `key=value` and, as Podman does for old scripts, `key:value`.
pub fn security(opts: &[String]) -> Result<SecurityOpts, SpecError> {
    let mut out = SecurityOpts::default();
    for opt in opts {
        let bad = || SpecError::BadSecurityOpt(opt.clone());
        if opt == "no-new-privileges" {
            out.no_new_privileges = true;
            continue;
        }
        let (key, value) = opt
            .split_once('=')
            .or_else(|| opt.split_once(':'))
            .ok_or_else(bad)?;
        match key {
            "no-new-privileges" => {
                out.no_new_privileges = match value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad()),
                }
            }
            "seccomp" => {
                out.seccomp = match value {
                    "" => return Err(bad()),
                    "unconfined" => SeccompChoice::Unconfined,
                    path => SeccompChoice::Path(PathBuf::from(path)),
                }
            }
            // SELinux labels mean nothing on a host without SELinux; only
            // "disable" changes what hutch does (nothing, for now), the
            // others are accepted so that Podman command lines work.
            "label" => {
                if value == "disable" {
                    out.label_disable = true;
                } else if value.is_empty() {
                    return Err(bad());
                }
            }
            "apparmor" => out.apparmor = Some(value.to_string()),
            "mask" => out.mask.extend(split_paths(value, opt)?),
            "unmask" => out.unmask.extend(
                value
                    .split(':')
                    .filter(|p| !p.is_empty())
                    .map(str::to_string),
            ),
            "proc-opts" => out.proc_opts = Some(value.split(',').map(str::to_string).collect()),
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

fn split_paths(value: &str, opt: &str) -> Result<Vec<String>, SpecError> {
    value
        .split(':')
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.starts_with('/') {
                Ok(p.to_string())
            } else {
                Err(SpecError::MaskPathNotAbsolute {
                    path: p.to_string(),
                    opt: opt.to_string(),
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(list: &[&str]) -> Vec<String> {
        list.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn parses_podman_security_opts() {
        let o = security(&s(&[
            "seccomp=unconfined",
            "no-new-privileges",
            "label=disable",
            "mask=/proc/a:/proc/b",
            "unmask=/proc/kcore",
        ]))
        .expect("parses");
        assert_eq!(o.seccomp, SeccompChoice::Unconfined);
        assert!(o.no_new_privileges && o.label_disable);
        assert_eq!(o.mask, s(&["/proc/a", "/proc/b"]));
        assert_eq!(o.unmask, s(&["/proc/kcore"]));

        let o = security(&s(&["seccomp:/etc/p.json", "no-new-privileges=false"]))
            .expect("parses the colon form");
        assert_eq!(o.seccomp, SeccompChoice::Path(PathBuf::from("/etc/p.json")));
        assert!(!o.no_new_privileges);
    }

    #[test]
    fn bad_opts_are_named() {
        let err = security(&s(&["bogus=1"])).expect_err("unknown key");
        assert!(err.to_string().contains("bogus=1"), "{err}");
        let err = security(&s(&["mask=relative/path"])).expect_err("relative");
        assert!(err.to_string().contains("relative/path"), "{err}");
        assert!(security(&s(&["no-new-privileges=maybe"])).is_err());
    }
}
