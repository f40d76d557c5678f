//! `.volume` files: a oneshot service that creates the named volume
//! `systemd-NAME` (`hutch volume create --ignore`), which `.container`
//! files use as `Volume=NAME.volume:/dest`.

use super::unit_file::UnitFile;
use super::{Options, Service, UnitError, copy_section, install, words};
use crate::engine::container::systemd_unit::escape_arg;

pub fn translate(file: &UnitFile, stem: &str, opts: &Options) -> Result<Service, UnitError> {
    if !file.has_section("Volume") {
        return Err(UnitError {
            file: file.path.clone(),
            line: 0,
            key: String::new(),
            message: "no [Volume] section".into(),
        });
    }
    let mut args: Vec<String> = vec!["volume".into(), "create".into(), "--ignore".into()];
    let mut opt: Vec<String> = Vec::new();
    for e in file.section("Volume") {
        let v = e.value.as_str();
        match e.key.as_str() {
            "Label" => {
                for w in words(file, e)? {
                    args.push("--label".into());
                    args.push(w);
                }
            }
            "Device" => opt.push(format!("device={v}")),
            "Type" => opt.push(format!("type={v}")),
            "Options" => opt.push(format!("o={v}")),
            "VolumeName" => {
                return Err(file.error(
                    e,
                    format!("not supported by hutch yet: the volume is systemd-{stem}"),
                ));
            }
            other => {
                return Err(file.error(e, format!("unsupported key {other:?} in group \"Volume\"")));
            }
        }
    }
    for o in opt {
        args.push("--opt".into());
        args.push(o);
    }
    args.push(format!("systemd-{stem}"));
    let line: Vec<String> = args.iter().map(|a| escape_arg(a)).collect();
    let mut s = String::from(super::HEADER);
    s.push_str("[X-Volume]\n");
    s.push_str(&copy_section(file, "Volume"));
    s.push_str("\n[Unit]\n");
    s.push_str(&copy_section(file, "Unit"));
    s.push_str(&format!("SourcePath={}\n", file.path));
    s.push_str(&format!("RequiresMountsFor={}\n", opts.run_dir));
    s.push_str("\n[Service]\n");
    s.push_str(&format!("ExecStart={} {}\n", opts.hutch, line.join(" ")));
    s.push_str("Type=oneshot\nRemainAfterExit=yes\nSyslogIdentifier=%N\n");
    s.push_str(&copy_section(file, "Service"));
    let (wanted_by, required_by, install_text) = install(file);
    if !install_text.is_empty() {
        s.push_str("\n[Install]\n");
        s.push_str(&install_text);
    }
    Ok(Service {
        name: super::service_name(stem, "volume"),
        content: s,
        wanted_by,
        required_by,
    })
}
