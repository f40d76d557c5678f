//! `--secret` and `--expose`: the set-up flags whose text has a shape of
//! its own (issue 12). Errors in Podman's words.

use anyhow::bail;

use crate::spec::SecretUse;

/// `NAME[,type=mount|env][,target=T][,uid=N][,gid=N][,mode=OCTAL]`, as
/// Podman's `parseSecrets` reads it: a mount defaults to
/// /run/secrets/NAME, 0444, owned by 0:0; an env secret to the variable
/// NAME and takes no uid, gid or mode.
pub fn secret(text: &str) -> anyhow::Result<SecretUse> {
    let mut parts = text.split(',');
    let name = parts.next().unwrap_or_default();
    if name.is_empty() {
        bail!("no source found {text}: parsing secret");
    }
    let (mut kind, mut target, mut owner_set) = (None::<String>, None::<String>, false);
    let (mut uid, mut gid, mut mode) = (0u32, 0u32, 0o444u32);
    for opt in parts {
        let Some((k, v)) = opt.split_once('=') else {
            bail!("option {opt} must be in form option=value: parsing secret");
        };
        let num = |radix| {
            u32::from_str_radix(v, radix)
                .map_err(|_| anyhow::anyhow!("{k} {v} invalid: parsing secret"))
        };
        match k {
            "type" => {
                if !matches!(v, "mount" | "env") {
                    bail!("type {v} is invalid: parsing secret");
                }
                kind = Some(v.to_owned());
            }
            "target" => target = Some(v.to_owned()),
            "uid" => (uid, owner_set) = (num(10)?, true),
            "gid" => (gid, owner_set) = (num(10)?, true),
            "mode" => (mode, owner_set) = (num(8)?, true),
            _ => bail!("option {opt} invalid: parsing secret"),
        }
    }
    let env = kind.as_deref() == Some("env");
    if env && owner_set {
        bail!("UID, GID, Mode options cannot be set with secret type env: parsing secret");
    }
    Ok(SecretUse {
        name: name.to_owned(),
        env,
        target: target
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| name.to_owned()),
        uid,
        gid,
        mode,
    })
}

/// `--expose PORT[-END][/PROTO]`: the numbers checked (Podman 4.3 takes
/// any protocol word here), kept as given.
pub fn expose(text: &str) -> anyhow::Result<String> {
    let (ports, proto) = text.split_once('/').unwrap_or((text, "tcp"));
    let port = |p: &str| match p.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        Ok(n) => bail!("port numbers must be between 1 and 65535 (inclusive), got {n}"),
        Err(_) => bail!("invalid range format for --expose: {text}: parsing {p:?}: invalid syntax"),
    };
    let (start, end) = match ports.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(ports)?, port(ports)?),
    };
    if end < start {
        bail!(
            "invalid range format for --expose: {text}: Invalid range specified for the Port: {ports}"
        );
    }
    Ok(format!("{ports}/{proto}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_read_as_podman_reads_them() {
        let s = secret("db").unwrap();
        assert_eq!((s.env, s.target.as_str(), s.mode), (false, "db", 0o444));
        let s = secret("db,type=env,target=PW").unwrap();
        assert_eq!((s.env, s.target.as_str()), (true, "PW"));
        let s = secret("db,target=/etc/x,uid=5,gid=6,mode=0400").unwrap();
        assert_eq!((s.uid, s.gid, s.mode), (5, 6, 0o400));
        let err = |t: &str| secret(t).unwrap_err().to_string();
        assert_eq!(
            err("db,type=bogus"),
            "type bogus is invalid: parsing secret"
        );
        assert!(err("db,type=env,uid=3").contains("cannot be set with secret type env"));
        assert!(err("db,color=red").contains("invalid"));
        assert!(err("db,uid=x").contains("invalid"));
    }

    #[test]
    fn exposed_ports_are_checked() {
        assert_eq!(expose("80").unwrap(), "80/tcp");
        assert_eq!(expose("90-91/udp").unwrap(), "90-91/udp");
        assert!(expose("x").is_err());
        assert!(expose("0").is_err());
        assert!(expose("91-90").is_err());
    }
}
