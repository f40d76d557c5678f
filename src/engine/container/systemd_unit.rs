//! `generate systemd`: a systemd service for a container, as Podman 4.3.1
//! writes it, running hutch. Without `--new` the unit starts and stops the
//! existing container (`Type=forking`, the monitor's pid file); with
//! `--new` it creates a fresh container at each start from the command
//! line that created this one (`run --cidfile ... --rm --replace -d`) and
//! removes it at the stop.
//!
//! Rendering is a pure function of [`UnitInput`] and [`SystemdOptions`]
//! (unit-tested against Podman's text); [`generate`] gathers the input.
//! A pod's units (the pod's, then one per container, bound to it) are
//! `engine::pod::systemd_unit`'s, which renders its containers here.

use hutch_storage::Store;

use super::Paths;
use super::lifecycle::DEFAULT_STOP_TIMEOUT;
use crate::config::Context;
use crate::engine::Result;
use crate::engine::state::{Container, State};
use crate::host::time;

/// Podman's `--restart-policy` values (systemd's `Restart=`).
pub const RESTART_POLICIES: [&str; 7] = [
    "no",
    "on-success",
    "on-failure",
    "on-abnormal",
    "on-watchdog",
    "on-abort",
    "always",
];

/// The flags of `generate systemd`.
#[derive(Debug, Clone)]
pub struct SystemdOptions {
    pub new: bool,
    /// `--name`: the container's name instead of its id, in the unit's
    /// name and commands.
    pub use_name: bool,
    pub restart_policy: String,
    pub restart_sec: Option<u32>,
    pub start_timeout: Option<u32>,
    /// `--stop-timeout`/`-t`; `None`: the container's own.
    pub stop_timeout: Option<u32>,
    pub container_prefix: String,
    /// `--pod-prefix`: the pod unit's name is `PREFIX-NAME`.
    pub pod_prefix: String,
    pub separator: String,
    pub no_header: bool,
    /// `-e KEY=VALUE`: `Environment=` lines.
    pub env: Vec<String>,
    pub wants: Vec<String>,
    pub after: Vec<String>,
    pub requires: Vec<String>,
}

impl Default for SystemdOptions {
    fn default() -> Self {
        SystemdOptions {
            new: false,
            use_name: false,
            restart_policy: "on-failure".into(),
            restart_sec: None,
            start_timeout: None,
            stop_timeout: None,
            container_prefix: "container".into(),
            pod_prefix: "pod".into(),
            separator: "-".into(),
            no_header: false,
            env: Vec::new(),
            wants: Vec::new(),
            after: Vec::new(),
            requires: Vec::new(),
        }
    }
}

impl SystemdOptions {
    pub fn validate(&self) -> Result<()> {
        if !RESTART_POLICIES.contains(&self.restart_policy.as_str()) {
            crate::fail!(
                BadInput,
                "{} is not a valid restart policy",
                self.restart_policy
            );
        }
        if let Some(bad) = self.env.iter().find(|e| !e.contains('=')) {
            crate::fail!(
                BadInput,
                "invalid environment variable {bad:?}: use KEY=VALUE"
            );
        }
        Ok(())
    }
}

/// What a unit is made of, gathered from the container and this hutch.
#[derive(Debug, Clone, Default)]
pub struct UnitInput {
    pub id: String,
    pub name: String,
    /// The command line that created the container (`--new`).
    pub create_command: Vec<String>,
    /// The container's `--stop-timeout` (10 unless set).
    pub stop_timeout: u32,
    /// The hutch binary and its global flags (`--root ...`).
    pub hutch: Vec<String>,
    /// The runtime directory, for `RequiresMountsFor=` without `--new`.
    pub run_dir: String,
    /// The monitor's pid file, for `PIDFile=` without `--new`.
    pub pid_file: String,
    pub version: String,
    /// Seconds since the epoch, for the header.
    pub now: i64,
    /// A pod's member: the pod's unit (`pod-NAME`), which it is bound to.
    pub pod_unit: Option<String>,
    /// A pod's member with `--new`: the file the pod unit's `pod create
    /// --pod-id-file` writes (`%t/pod-NAME.pod-id`), which `run` reads.
    pub pod_id_file: Option<String>,
}

/// One generated unit: its name (`container-NAME`, without `.service`)
/// and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub name: String,
    pub content: String,
}

/// The unit for the container `name_or_id`.
pub fn generate(
    ctx: &Context,
    store: &Store,
    state: &State,
    name_or_id: &str,
    opts: &SystemdOptions,
) -> Result<Unit> {
    opts.validate()?;
    let c = state.container(name_or_id).map_err(|e| {
        crate::engine::Error::from(e)
            // Podman's chain: the pod lookup failed too (the front end
            // tried it).
            .context(format!(
                "{name_or_id} does not refer to a container or pod: no pod with name or ID {name_or_id} found: no such pod"
            ))
    })?;
    let input = input_of(ctx, store, &c)?;
    render(&input, opts)
}

pub(crate) fn input_of(ctx: &Context, store: &Store, c: &Container) -> Result<UnitInput> {
    let paths = Paths::new(ctx, store.root(), &c.id);
    Ok(UnitInput {
        id: c.id.clone(),
        name: c.name.clone(),
        create_command: c.spec.create_command.clone(),
        stop_timeout: c.spec.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT),
        hutch: super::launch::hutch_command(ctx)?,
        run_dir: ctx.run_dir.to_string_lossy().into_owned(),
        pid_file: paths
            .userdata
            .join(super::monitor::MONITOR_PID_FILE)
            .to_string_lossy()
            .into_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        now: time::now(),
        pod_unit: None,
        pod_id_file: None,
    })
}

/// Podman's continuation of long command lines: each option on a line of
/// its own.
pub(crate) const CONTINUATION: &str = " \\\n\t";

/// Podman's `formatOptions`: words joined by spaces, a word starting with
/// `-` on a new line.
pub(crate) fn format_options(words: &[String]) -> String {
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        if i == 0 {
            out.push_str(w);
        } else if w.starts_with('-') {
            out.push_str(CONTINUATION);
            out.push_str(w);
        } else {
            out.push(' ');
            out.push_str(w);
        }
    }
    out
}

/// One argument of a command line in a unit: quoted when it holds
/// blanks or quotes (systemd splits on them), `\` and `"` escaped, `%`
/// doubled (systemd's specifiers) and `$` doubled (its variables).
pub fn escape_arg(arg: &str) -> String {
    let mut a = arg.replace('\\', "\\\\").replace('"', "\\\"");
    a = a.replace('%', "%%").replace('$', "$$");
    if arg.is_empty() || arg.contains([' ', '\t', '\n', '"', '\'']) {
        a = format!("\"{a}\"");
    }
    a
}

/// Go's `time.UnixDate` in UTC: `Sun Dec  6 21:13:27 UTC 2026`.
pub(crate) fn unix_date(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let text = time::rfc3339(secs); // YYYY-MM-DDTHH:MM:SSZ
    let num = |r: std::ops::Range<usize>| text.get(r).and_then(|s| s.parse::<usize>().ok());
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return text;
    };
    let clock = text.get(11..19).unwrap_or("00:00:00");
    let day = DAYS[secs.div_euclid(86_400).rem_euclid(7) as usize];
    let month = MONTHS.get(m.wrapping_sub(1)).copied().unwrap_or("Jan");
    format!("{day} {month} {d:>2} {clock} UTC {y}")
}

/// The text of the unit.
/// The unit's first lines, alike for containers and pods: the name, the
/// header (unless `--no-header`) and the `[Unit]` keys before the
/// dependencies.
pub(crate) fn unit_head(
    unit: &str,
    opts: &SystemdOptions,
    input: &UnitInput,
    mounts: &str,
) -> String {
    let mut s = format!("# {unit}.service\n");
    if !opts.no_header {
        s.push_str(&format!("# autogenerated by hutch {}\n", input.version));
        s.push_str(&format!("# {}\n", unix_date(input.now)));
    }
    s.push_str("\n[Unit]\n");
    s.push_str(&format!("Description=hutch {unit}.service\n"));
    s.push_str("Documentation=man:podman-generate-systemd(1)\n");
    s.push_str("Wants=network-online.target\nAfter=network-online.target\n");
    s.push_str(&format!("RequiresMountsFor={mounts}\n"));
    s
}

/// The user's `--wants/--after/--requires`, then the `[Service]` keys every
/// unit starts with (Podman writes them alike for containers and pods).
pub(crate) fn user_dependencies_and_service_head(
    s: &mut String,
    opts: &SystemdOptions,
    stop_timeout: u32,
) {
    if !(opts.wants.is_empty() && opts.after.is_empty() && opts.requires.is_empty()) {
        s.push_str("\n# User-defined dependencies\n");
    }
    for (key, list) in [
        ("Wants", &opts.wants),
        ("After", &opts.after),
        ("Requires", &opts.requires),
    ] {
        if !list.is_empty() {
            s.push_str(&format!("{key}={}\n", list.join(" ")));
        }
    }
    s.push_str("\n[Service]\n");
    s.push_str("Environment=PODMAN_SYSTEMD_UNIT=%n\n");
    for e in &opts.env {
        s.push_str(&format!("Environment={}\n", escape_arg(e)));
    }
    s.push_str(&format!("Restart={}\n", opts.restart_policy));
    if let Some(sec) = opts.restart_sec.filter(|s| *s > 0) {
        s.push_str(&format!("RestartSec={sec}\n"));
    }
    if let Some(t) = opts.start_timeout.filter(|t| *t > 0) {
        s.push_str(&format!("TimeoutStartSec={t}\n"));
    }
    s.push_str(&format!(
        "TimeoutStopSec={}\n",
        u64::from(stop_timeout) + 60
    ));
}

pub fn render(input: &UnitInput, opts: &SystemdOptions) -> Result<Unit> {
    let ident = if opts.use_name {
        input.name.as_str()
    } else {
        input.id.as_str()
    };
    let unit = format!("{}{}{ident}", opts.container_prefix, opts.separator);
    let stop_timeout = opts.stop_timeout.unwrap_or(input.stop_timeout);
    let hutch = input
        .hutch
        .iter()
        .map(|a| escape_arg(a))
        .collect::<Vec<_>>();
    let Some((exe, root_flags)) = hutch.split_first() else {
        crate::fail!(Internal, "no hutch binary to run in the unit");
    };
    let mounts = if opts.new {
        "%t/hutch"
    } else {
        input.run_dir.as_str()
    };
    let mut s = unit_head(&unit, opts, input, mounts);
    if let Some(pod) = &input.pod_unit {
        s.push_str(&format!("BindsTo={pod}.service\nAfter={pod}.service\n"));
    }
    user_dependencies_and_service_head(&mut s, opts, stop_timeout);
    let with = |words: &[&str]| -> Vec<String> {
        let mut v = vec![exe.clone()];
        v.extend(root_flags.iter().cloned());
        v.extend(words.iter().map(|w| (*w).to_owned()));
        v
    };
    if opts.new {
        let run = new_run_command(input, with(&[]))?;
        let t = stop_timeout.to_string();
        s.push_str("ExecStartPre=/bin/rm \\\n\t-f %t/%n.ctr-id\n");
        s.push_str(&format!("ExecStart={}\n", format_options(&run)));
        s.push_str(&format!(
            "ExecStop={}{CONTINUATION}--ignore -t {t}{CONTINUATION}--cidfile=%t/%n.ctr-id\n",
            format_options(&with(&["stop"]))
        ));
        s.push_str(&format!(
            "ExecStopPost={}{CONTINUATION}-f{CONTINUATION}--ignore -t {t}{CONTINUATION}--cidfile=%t/%n.ctr-id\n",
            format_options(&with(&["rm"]))
        ));
        s.push_str("Type=notify\nNotifyAccess=all\n");
    } else {
        let target = escape_arg(ident);
        let start = with(&["start", &target]);
        s.push_str(&format!("ExecStart={}\n", format_options(&start)));
        // Podman's doubled space before the continuation (its empty root
        // flags) is kept: diffs against its units stay empty.
        let stop = with(&["stop", "", "-t", &stop_timeout.to_string(), &target]);
        s.push_str(&format!("ExecStop={}\n", format_options(&stop)));
        s.push_str(&format!("ExecStopPost={}\n", format_options(&stop)));
        s.push_str(&format!("PIDFile={}\n", input.pid_file));
        s.push_str("Type=forking\n");
    }
    s.push_str("\n[Install]\nWantedBy=default.target\n");
    Ok(Unit {
        name: unit,
        content: s,
    })
}

/// `--new`: the command that created the container, as `run` with the
/// unit's flags first (`--cidfile`, `--cgroups=no-conmon`, `--rm`,
/// `--sdnotify=conmon`, `--replace` for a named one, `-d`), without the
/// flags the unit decides (`--rm`, `--cgroups`, `--cidfile`, `--restart`),
/// as Podman 4.3.1 rewrites it.
fn new_run_command(input: &UnitInput, mut out: Vec<String>) -> Result<Vec<String>> {
    let cmd = &input.create_command;
    let Some(at) = cmd.iter().position(|w| w == "run" || w == "create") else {
        crate::fail!(
            InvalidState,
            "cannot use --new on container {:?}: no create command found: only works on containers created directly with hutch but not via REST API",
            input.id
        );
    };
    let rest = &cmd[at + 1..];
    out.extend(
        [
            "run",
            "--cidfile=%t/%n.ctr-id",
            "--cgroups=no-conmon",
            "--rm",
        ]
        .map(String::from),
    );
    // A pod member joins the pod the pod unit made (by the file its
    // `pod create --pod-id-file` wrote), not the pod it was made in.
    if let Some(f) = &input.pod_id_file {
        out.push("--pod-id-file".into());
        out.push(f.clone());
    }
    // Which options the command line has, up to its image (the first word
    // that is not an option or an option's value).
    let (options, positional) = split_options(rest);
    let has = |long: &str, short: Option<&str>| {
        options.iter().any(|o| {
            o == long
                || o.starts_with(&format!("{long}="))
                || short.is_some_and(|s| o == s || is_short_cluster(o, s))
        })
    };
    if !has("--sdnotify", None) {
        out.push("--sdnotify=conmon".into());
    }
    if has("--name", None) && !has("--replace", None) {
        out.push("--replace".into());
    }
    if !has("--detach", Some("-d")) {
        out.push("-d".into());
    }
    let mut skip_value = false;
    for o in &options {
        if skip_value {
            skip_value = false;
            continue;
        }
        match o.as_str() {
            "--rm" => continue,
            "--cgroups" | "--cidfile" | "--restart" => {
                skip_value = true;
                continue;
            }
            "--pod" | "--pod-id-file" if input.pod_id_file.is_some() => {
                skip_value = true;
                continue;
            }
            _ if input.pod_id_file.is_some()
                && (o.starts_with("--pod=") || o.starts_with("--pod-id-file=")) =>
            {
                continue;
            }
            _ if ["--rm=", "--cgroups=", "--cidfile=", "--restart="]
                .iter()
                .any(|p| o.starts_with(p)) =>
            {
                continue;
            }
            _ => out.push(escape_arg(o)),
        }
    }
    out.extend(positional.iter().map(|p| escape_arg(p)));
    Ok(out)
}

/// Whether `word` is a cluster of short flags (`-dit`) holding `short`.
fn is_short_cluster(word: &str, short: &str) -> bool {
    let Some(letter) = short.strip_prefix('-') else {
        return false;
    };
    word.len() > 2
        && word.starts_with('-')
        && !word.starts_with("--")
        && word[1..].chars().all(|c| c.is_ascii_alphabetic())
        && word[1..].contains(letter)
}

/// Flags of `create`/`run` that take no value (so that the word after one
/// is not read as its value).
const BOOLEAN_FLAGS: [&str; 22] = [
    "--rm",
    "-d",
    "--detach",
    "-i",
    "--interactive",
    "-t",
    "--tty",
    "--replace",
    "--privileged",
    "--read-only",
    "--init",
    "-P",
    "--publish-all",
    "--no-healthcheck",
    "--env-host",
    "--rmi",
    "-q",
    "--quiet",
    "--sig-proxy",
    "--no-hosts",
    "--oom-kill-disable",
    "--read-only-tmpfs",
];

/// The words before the image (options with their values) and from the
/// image on (image, command, arguments).
fn split_options(words: &[String]) -> (Vec<String>, Vec<String>) {
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        if w == "--" {
            return (words[..i].to_vec(), words[i + 1..].to_vec());
        }
        if !w.starts_with('-') || w == "-" {
            break;
        }
        // `-dit` (short flags together) or `-p8080` (value attached).
        let short_cluster = w.len() > 2 && !w.starts_with("--");
        let takes_value =
            !w.contains('=') && !BOOLEAN_FLAGS.contains(&w.as_str()) && !short_cluster;
        i += if takes_value { 2 } else { 1 };
    }
    let i = i.min(words.len());
    (words[..i].to_vec(), words[i..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> UnitInput {
        UnitInput {
            id: "dd3cd0e16ff2a13dda91c262adf48edf965ca5b5dd8dea3170726f54c18f7705".into(),
            name: "hcp3".into(),
            create_command: [
                "hutch",
                "run",
                "-d",
                "--name",
                "hcp3",
                "--health-cmd",
                "[\"true\"]",
                "--health-interval",
                "disable",
                "localhost/hcbusybox",
                "sleep",
                "1000",
            ]
            .map(String::from)
            .to_vec(),
            stop_timeout: 10,
            hutch: vec!["/usr/bin/hutch".into()],
            run_dir: "/run/user/1001/hutch".into(),
            pid_file: "/home/u/.local/share/hutch/containers/dd3c/userdata/monitor.pid".into(),
            version: "0.1.0".into(),
            now: 1_796_591_607, // Sun Dec  6 21:13:27 UTC 2026
            pod_unit: None,
            pod_id_file: None,
        }
    }

    /// Podman 4.3.1's unit for the same container (`podman generate
    /// systemd hcp3`), with hutch's names and paths.
    const EXISTING: &str =
        "# container-dd3cd0e16ff2a13dda91c262adf48edf965ca5b5dd8dea3170726f54c18f7705.service
# autogenerated by hutch 0.1.0
# Sun Dec  6 21:13:27 UTC 2026

[Unit]
Description=hutch container-dd3cd0e16ff2a13dda91c262adf48edf965ca5b5dd8dea3170726f54c18f7705.service
Documentation=man:podman-generate-systemd(1)
Wants=network-online.target
After=network-online.target
RequiresMountsFor=/run/user/1001/hutch

[Service]
Environment=PODMAN_SYSTEMD_UNIT=%n
Restart=on-failure
TimeoutStopSec=70
ExecStart=/usr/bin/hutch start dd3cd0e16ff2a13dda91c262adf48edf965ca5b5dd8dea3170726f54c18f7705
ExecStop=/usr/bin/hutch stop  \\
\t-t 10 dd3cd0e16ff2a13dda91c262adf48edf965ca5b5dd8dea3170726f54c18f7705
ExecStopPost=/usr/bin/hutch stop  \\
\t-t 10 dd3cd0e16ff2a13dda91c262adf48edf965ca5b5dd8dea3170726f54c18f7705
PIDFile=/home/u/.local/share/hutch/containers/dd3c/userdata/monitor.pid
Type=forking

[Install]
WantedBy=default.target
";

    /// `podman generate systemd --new --name --restart-policy always
    /// --after a.service --wants b.service --requires c.service -t 5 hcp3`.
    const NEW: &str = "# container-hcp3.service
# autogenerated by hutch 0.1.0
# Sun Dec  6 21:13:27 UTC 2026

[Unit]
Description=hutch container-hcp3.service
Documentation=man:podman-generate-systemd(1)
Wants=network-online.target
After=network-online.target
RequiresMountsFor=%t/hutch

# User-defined dependencies
Wants=b.service
After=a.service
Requires=c.service

[Service]
Environment=PODMAN_SYSTEMD_UNIT=%n
Restart=always
TimeoutStopSec=65
ExecStartPre=/bin/rm \\
\t-f %t/%n.ctr-id
ExecStart=/usr/bin/hutch run \\
\t--cidfile=%t/%n.ctr-id \\
\t--cgroups=no-conmon \\
\t--rm \\
\t--sdnotify=conmon \\
\t--replace \\
\t-d \\
\t--name hcp3 \\
\t--health-cmd \"[\\\"true\\\"]\" \\
\t--health-interval disable localhost/hcbusybox sleep 1000
ExecStop=/usr/bin/hutch stop \\
\t--ignore -t 5 \\
\t--cidfile=%t/%n.ctr-id
ExecStopPost=/usr/bin/hutch rm \\
\t-f \\
\t--ignore -t 5 \\
\t--cidfile=%t/%n.ctr-id
Type=notify
NotifyAccess=all

[Install]
WantedBy=default.target
";

    #[test]
    fn an_existing_container_as_podman_writes_it() {
        let unit = render(&input(), &SystemdOptions::default()).unwrap();
        assert_eq!(unit.content, EXISTING);
        assert_eq!(unit.name, format!("container-{}", input().id));
    }

    #[test]
    fn a_new_container_each_start_as_podman_writes_it() {
        let opts = SystemdOptions {
            new: true,
            use_name: true,
            restart_policy: "always".into(),
            stop_timeout: Some(5),
            wants: vec!["b.service".into()],
            after: vec!["a.service".into()],
            requires: vec!["c.service".into()],
            ..SystemdOptions::default()
        };
        let unit = render(&input(), &opts).unwrap();
        assert_eq!(unit.content, NEW);
    }

    #[test]
    fn options_and_their_checks() {
        let opts = SystemdOptions {
            use_name: true,
            no_header: true,
            container_prefix: "ctr".into(),
            separator: "_".into(),
            restart_sec: Some(7),
            start_timeout: Some(9),
            stop_timeout: Some(3),
            env: vec!["A=1".into(), "B=x y".into()],
            ..SystemdOptions::default()
        };
        let unit = render(&input(), &opts).unwrap();
        assert_eq!(unit.name, "ctr_hcp3");
        assert!(unit.content.starts_with("# ctr_hcp3.service\n\n[Unit]\n"));
        assert!(unit.content.contains(
            "Environment=PODMAN_SYSTEMD_UNIT=%n\nEnvironment=A=1\nEnvironment=\"B=x y\"\nRestart=on-failure\nRestartSec=7\nTimeoutStartSec=9\nTimeoutStopSec=63\n"
        ));
        assert!(
            unit.content
                .contains("ExecStart=/usr/bin/hutch start hcp3\n")
        );
        assert!(unit.content.contains("\t-t 3 hcp3\n"));
        let bad = SystemdOptions {
            restart_policy: "bogus".into(),
            ..SystemdOptions::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "bogus is not a valid restart policy"
        );
        // A container from the REST API has no command line to replay.
        let api = UnitInput {
            create_command: Vec::new(),
            ..input()
        };
        let new = SystemdOptions {
            new: true,
            ..SystemdOptions::default()
        };
        let e = render(&api, &new).unwrap_err();
        assert_eq!(e.kind(), crate::engine::ErrorKind::InvalidState);
        assert!(e.to_string().contains("no create command found"), "{e}");
    }

    #[test]
    fn new_drops_the_flags_the_unit_decides() {
        let i = UnitInput {
            create_command: [
                "hutch",
                "--root",
                "/r",
                "container",
                "create",
                "--rm",
                "--restart=always",
                "--cgroups",
                "split",
                "-it",
                "--cidfile",
                "/x",
                "-e",
                "A=50%",
                "busybox",
                "sh",
                "-c",
                "echo $HOME",
            ]
            .map(String::from)
            .to_vec(),
            hutch: vec!["/usr/bin/hutch".into(), "--root".into(), "/r".into()],
            ..input()
        };
        let opts = SystemdOptions {
            new: true,
            ..SystemdOptions::default()
        };
        let unit = render(&i, &opts).unwrap();
        let start = unit
            .content
            .lines()
            .skip_while(|l| !l.starts_with("ExecStart="))
            .take_while(|l| !l.starts_with("ExecStop="))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(
            start,
            "ExecStart=/usr/bin/hutch \\\n\t--root /r run \\\n\t--cidfile=%t/%n.ctr-id \\\n\t--cgroups=no-conmon \\\n\t--rm \\\n\t--sdnotify=conmon \\\n\t-d \\\n\t-it \\\n\t-e A=50%% busybox sh \\\n\t-c \"echo $$HOME\""
        );
    }

    #[test]
    fn dates_as_go_prints_them() {
        assert_eq!(unix_date(1_796_591_607), "Sun Dec  6 21:13:27 UTC 2026");
        assert_eq!(unix_date(0), "Thu Jan  1 00:00:00 UTC 1970");
    }
}
