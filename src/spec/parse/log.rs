//! `--log-driver`/`--log-opt`, and Docker's size units.

use std::path::PathBuf;

use anyhow::{Context as _, bail};

use crate::spec::{LogConfig, LogDriver};

pub fn log(driver: Option<&str>, opts: &[String]) -> anyhow::Result<LogConfig> {
    let driver = match driver.unwrap_or("") {
        "" | "k8s-file" | "json-file" => LogDriver::K8sFile,
        "none" => LogDriver::None,
        other => bail!("invalid log driver {other:?}: hutch supports k8s-file, json-file and none"),
    };
    let mut cfg = LogConfig {
        driver,
        ..LogConfig::default()
    };
    for o in opts {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("invalid log option {o:?}: expected key=value"))?;
        match k {
            "max-size" => {
                // Podman reads this one in decimal units (go-units'
                // FromHumanSize: 1m is 1000000 bytes), unlike --memory.
                let size = decimal_size(v)
                    .with_context(|| format!("invalid log option {o:?}: bad size"))?;
                // Podman's minimum: smaller sizes would rotate on every line.
                cfg.max_size = (size > 0).then_some(size.max(8192));
            }
            "path" => {
                if !v.starts_with('/') {
                    bail!("invalid log option {o:?}: the path must be absolute");
                }
                cfg.path = Some(PathBuf::from(v));
            }
            "tag" => cfg.tag = Some(v.to_owned()),
            // Accepted for compatibility; hutch keeps one rotated file.
            "max-file" | "mode" => {}
            _ => bail!("invalid log option {o:?}"),
        }
    }
    Ok(cfg)
}

/// go-units' `FromHumanSize`: a number with an optional k, m, g, t or p
/// (then optional "i" and "b"), powers of 1000.
pub fn decimal_size(text: &str) -> anyhow::Result<u64> {
    let t = text.trim().to_ascii_lowercase();
    let digits_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid size {text:?}"))?;
    let mult: f64 = match unit
        .trim_start()
        .trim_end_matches('b')
        .trim_end_matches('i')
    {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "p" => 1e15,
        _ => bail!("invalid size {text:?}"),
    };
    Ok((n * mult) as u64)
}

/// Docker's `units.RAMInBytes`: a number with an optional b, k, m, g (and
/// "b"-suffixed) unit, powers of 1024.
pub fn size(text: &str) -> anyhow::Result<u64> {
    let t = text.trim().to_ascii_lowercase();
    let digits_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid size {text:?}"))?;
    let mult: u64 = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => bail!("invalid size {text:?}"),
    };
    Ok((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_options() {
        let c = log(Some("json-file"), &["max-size=1m".into()]).unwrap();
        assert_eq!(c.driver, LogDriver::K8sFile);
        assert_eq!(c.max_size, Some(1_000_000), "decimal, as Podman");
        assert_eq!(decimal_size("3.097m").unwrap(), 3_097_000);
        assert_eq!(decimal_size("2 GB").unwrap(), 2_000_000_000);
        assert!(decimal_size("3x").is_err());
        assert_eq!(crate::host::time::human_size_compact(3_097_000), "3.097MB");
        assert_eq!(crate::host::time::human_size_compact(0), "0B");
        assert_eq!(log(Some("none"), &[]).unwrap().driver, LogDriver::None);
        assert!(log(Some("journald"), &[]).is_err());
        assert!(log(None, &["path=rel".into()]).is_err());
        assert_eq!(size("10kb").unwrap(), 10240);
        assert!(size("ten").is_err());
    }
}
