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
                let size =
                    size(v).with_context(|| format!("invalid log option {o:?}: bad size"))?;
                // Podman's minimum: smaller sizes would rotate on every line.
                cfg.max_size = (size > 0).then_some(size.max(8192));
            }
            "path" => {
                if !v.starts_with('/') {
                    bail!("invalid log option {o:?}: the path must be absolute");
                }
                cfg.path = Some(PathBuf::from(v));
            }
            // Accepted for compatibility; hutch keeps one rotated file.
            "tag" | "max-file" | "mode" => {}
            _ => bail!("invalid log option {o:?}"),
        }
    }
    Ok(cfg)
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
        assert_eq!(c.max_size, Some(1 << 20));
        assert_eq!(log(Some("none"), &[]).unwrap().driver, LogDriver::None);
        assert!(log(Some("journald"), &[]).is_err());
        assert!(log(None, &["path=rel".into()]).is_err());
        assert_eq!(size("10kb").unwrap(), 10240);
        assert!(size("ten").is_err());
    }
}
