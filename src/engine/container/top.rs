//! `top`: a container's processes from /proc, with the descriptors of
//! psgo (the library behind `podman top`) and its output formats.
//!
//! The processes are those in the container's pid namespace (found by the
//! namespace inode of its init, which also catches `exec`'d processes whose
//! parents live outside), shown with their pids in that namespace.

use std::fs;
use std::os::fd::AsFd;

use hutch_storage::Store;

use super::inroot;
use super::rootfs::MountedRoot;
use crate::engine::Result;
use crate::engine::state::{ContainerState, State};

/// `top CONTAINER [DESCRIPTORS...]`.
#[derive(Debug, Clone, Default)]
pub struct TopOptions {
    /// psgo descriptors or AIX codes, as given; empty: Podman's defaults.
    pub descriptors: Vec<String>,
}

impl TopOptions {
    /// The descriptors by psgo name; an unknown one is bad input.
    pub fn validate(&self) -> Result<Vec<String>> {
        parse_descriptors(&self.descriptors)
    }
}

/// The table `top` shows: a header per descriptor, a row per process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopReport {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The processes of running container `name`.
pub fn top(store: &Store, state: &State, name: &str, opts: &TopOptions) -> Result<TopReport> {
    let descriptors = opts.validate()?;
    state.recover()?;
    let c = state.container(name).map_err(|e| {
        crate::engine::Error::from(e).context("unable to look up requested container")
    })?;
    let (ContainerState::Running | ContainerState::Paused, Some(pid)) = (c.state, c.pid) else {
        crate::fail!(InvalidState, "top can only be used on running containers");
    };
    // User and group names come from the container's own files.
    let root = MountedRoot::mount(store, state, &c)?;
    let read = |p: &[u8]| -> String {
        inroot::resolve(root.fd.as_fd(), p)
            .ok()
            .filter(|r| r.exists)
            .and_then(|r| {
                let (leaf, parent) = r.parts.split_last()?;
                let dir = inroot::open_dir(root.fd.as_fd(), parent).ok()?;
                let fd = rustix::fs::openat(
                    dir.as_fd(),
                    std::ffi::OsStr::new(std::str::from_utf8(leaf).ok()?),
                    rustix::fs::OFlags::RDONLY
                        | rustix::fs::OFlags::NOFOLLOW
                        | rustix::fs::OFlags::CLOEXEC,
                    rustix::fs::Mode::empty(),
                )
                .ok()?;
                std::io::read_to_string(std::fs::File::from(fd)).ok()
            })
            .unwrap_or_default()
    };
    let lookup = Lookup::new(read(b"/etc/passwd"), read(b"/etc/group"));
    drop(root);
    let pids = processes(pid);
    Ok(TopReport {
        headers: descriptors.iter().map(|d| header(d).to_owned()).collect(),
        rows: rows(&pids, &descriptors, &lookup),
    })
}

/// Podman's default columns.
pub const DEFAULT_DESCRIPTORS: [&str; 8] = [
    "user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args",
];

/// AIX format codes psgo accepts for the normal names.
const CODES: [(&str, &str); 15] = [
    ("%C", "pcpu"),
    ("%G", "group"),
    ("%P", "ppid"),
    ("%U", "user"),
    ("%a", "args"),
    ("%c", "comm"),
    ("%g", "rgroup"),
    ("%n", "nice"),
    ("%p", "pid"),
    ("%r", "pgid"),
    ("%t", "etime"),
    ("%u", "ruser"),
    ("%x", "time"),
    ("%y", "tty"),
    ("%z", "vsz"),
];

/// Descriptor → header, in psgo's names.
const HEADERS: [(&str, &str); 27] = [
    ("args", "COMMAND"),
    ("capamb", "AMBIENT CAPS"),
    ("capbnd", "BOUNDING CAPS"),
    ("capeff", "EFFECTIVE CAPS"),
    ("capinh", "INHERITED CAPS"),
    ("capprm", "PERMITTED CAPS"),
    ("comm", "COMMAND"),
    ("etime", "ELAPSED"),
    ("group", "GROUP"),
    ("hgroup", "HGROUP"),
    ("hpid", "HPID"),
    ("huser", "HUSER"),
    ("label", "LABEL"),
    ("nice", "NI"),
    ("pcpu", "%CPU"),
    ("pgid", "PGID"),
    ("pid", "PID"),
    ("ppid", "PPID"),
    ("rgroup", "RGROUP"),
    ("ruser", "RUSER"),
    ("seccomp", "SECCOMP"),
    ("state", "STATE"),
    ("stime", "STIME"),
    ("time", "TIME"),
    ("tty", "TTY"),
    ("user", "USER"),
    ("vsz", "VSZ"),
];

/// Splits `podman top` arguments (`pid,args`, `pid args`, `%p %a`) into
/// descriptors, checking each; none given means Podman's defaults.
pub fn parse_descriptors(args: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for word in args
        .iter()
        .flat_map(|a| a.split([',', ' ']))
        .filter(|w| !w.is_empty())
    {
        let name = CODES
            .iter()
            .find(|(c, _)| *c == word)
            .map_or(word, |(_, n)| *n);
        if !HEADERS.iter().any(|(d, _)| *d == name) {
            crate::fail!(BadInput, "unknown descriptor: {word}");
        }
        out.push(name.to_owned());
    }
    if out.is_empty() {
        out = DEFAULT_DESCRIPTORS.iter().map(|s| s.to_string()).collect();
    }
    Ok(out)
}

pub fn header(descriptor: &str) -> &'static str {
    HEADERS
        .iter()
        .find(|(d, _)| *d == descriptor)
        .map_or("?", |(_, h)| h)
}

/// Host pids of the processes in the pid namespace of `init`, init first.
pub fn processes(init: i32) -> Vec<i32> {
    let ns = |pid: i32| fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(want) = ns(init) else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .filter(|p| ns(*p).as_ref() == Some(&want))
                .collect()
        })
        .unwrap_or_default();
    pids.sort_by_key(|p| (*p != init, *p));
    pids
}

/// What the formatting of one process needs besides /proc.
pub struct Lookup {
    /// The container's /etc/passwd and /etc/group.
    pub passwd: String,
    pub group: String,
    pub clock_ticks: u64,
    pub boot_time: u64,
    pub now_ns: u128,
}

impl Lookup {
    pub fn new(passwd: String, group: String) -> Lookup {
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let boot_time = fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
            })
            .unwrap_or(0);
        Lookup {
            passwd,
            group,
            clock_ticks: u64::try_from(ticks).unwrap_or(100).max(1),
            boot_time,
            now_ns: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        }
    }
}

/// One process as /proc shows it.
struct Proc {
    pid: i32,
    stat: Vec<String>,
    status: String,
    cmdline: Vec<u8>,
    comm: String,
}

impl Proc {
    fn read(pid: i32) -> Option<Proc> {
        let raw = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // comm may hold spaces and parentheses: split after the last ')'.
        let (head, rest) = raw.rsplit_once(") ")?;
        let comm = head.split_once(" (").map(|(_, c)| c.to_owned())?;
        let mut stat = vec![pid.to_string(), comm.clone()];
        stat.extend(rest.split_whitespace().map(String::from));
        Some(Proc {
            pid,
            stat,
            status: fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default(),
            cmdline: fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default(),
            comm,
        })
    }

    /// Field `n` of /proc/PID/stat, numbered from 1 as in proc(5).
    fn stat_u64(&self, n: usize) -> u64 {
        self.stat
            .get(n - 1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    fn status(&self, key: &str) -> Option<&str> {
        self.status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .map(str::trim)
    }

    /// The last (innermost) value of an `NSpid:`-style line.
    fn ns_last(&self, key: &str) -> String {
        self.status(key)
            .and_then(|v| v.split_whitespace().last())
            .unwrap_or("0")
            .to_owned()
    }

    fn id(&self, key: &str, index: usize) -> Option<u32> {
        self.status(key)?
            .split_whitespace()
            .nth(index)?
            .parse()
            .ok()
    }
}

/// The rows of `top` for `pids`, one cell per descriptor.
pub fn rows(pids: &[i32], descriptors: &[String], l: &Lookup) -> Vec<Vec<String>> {
    pids.iter()
        .filter_map(|p| Proc::read(*p))
        .map(|p| descriptors.iter().map(|d| cell(&p, d, l)).collect())
        .collect()
}

fn cell(p: &Proc, d: &str, l: &Lookup) -> String {
    let ticks_ns = |t: u64| u128::from(t) * 1_000_000_000 / u128::from(l.clock_ticks);
    let start_ns = u128::from(l.boot_time) * 1_000_000_000 + ticks_ns(p.stat_u64(22));
    let elapsed = l.now_ns.saturating_sub(start_ns);
    let cpu = ticks_ns(p.stat_u64(14) + p.stat_u64(15));
    match d {
        "args" => {
            if p.cmdline.is_empty() {
                format!("[{}]", p.comm)
            } else {
                // psgo turns every NUL into a space, the last one too.
                String::from_utf8_lossy(&p.cmdline).replace('\0', " ")
            }
        }
        "comm" => p.comm.clone(),
        "pid" => p.ns_last("NSpid"),
        "ppid" => {
            let ppid = p.stat_u64(4) as i32;
            match Proc::read(ppid) {
                // A parent outside the container's namespace shows as 0.
                Some(pp) if same_pid_ns(p.pid, ppid) => pp.ns_last("NSpid"),
                _ => "0".to_owned(),
            }
        }
        "pgid" => p.ns_last("NSpgid"),
        "hpid" => p.pid.to_string(),
        "user" => name_of(&l.passwd, p.id("Uid", 1)),
        "ruser" => name_of(&l.passwd, p.id("Uid", 0)),
        "group" => name_of(&l.group, p.id("Gid", 1)),
        "rgroup" => name_of(&l.group, p.id("Gid", 0)),
        "huser" => host_name("/etc/passwd", "/proc/self/uid_map", p.id("Uid", 1)),
        "hgroup" => host_name("/etc/group", "/proc/self/gid_map", p.id("Gid", 1)),
        "pcpu" => {
            let pct = match elapsed {
                0 => 0.0,
                e => 100.0 * cpu as f64 / e as f64,
            };
            format!("{pct:.3}")
        }
        "etime" => go_duration(elapsed),
        "time" => go_duration(cpu),
        "tty" => tty_name(p.stat_u64(7)),
        "nice" => p.stat.get(18).cloned().unwrap_or_default(),
        "state" => p.stat.get(2).cloned().unwrap_or_default(),
        "vsz" => (p.stat_u64(23) / 1024).to_string(),
        "stime" => {
            let secs = (start_ns / 1_000_000_000) as i64;
            crate::host::time::rfc3339(secs)
        }
        "seccomp" => match p.status("Seccomp") {
            Some("0") => "disabled",
            Some("1") => "strict",
            Some("2") => "filter",
            _ => "?",
        }
        .to_owned(),
        "label" => fs::read_to_string(format!("/proc/{}/attr/current", p.pid))
            .map(|s| s.trim_end_matches(['\0', '\n']).to_owned())
            .unwrap_or_else(|_| "?".to_owned()),
        "capamb" => caps(p.status("CapAmb")),
        "capbnd" => caps(p.status("CapBnd")),
        "capeff" => caps(p.status("CapEff")),
        "capinh" => caps(p.status("CapInh")),
        "capprm" => caps(p.status("CapPrm")),
        _ => "?".to_owned(),
    }
}

fn same_pid_ns(a: i32, b: i32) -> bool {
    let ns = |pid: i32| fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    ns(a).is_some() && ns(a) == ns(b)
}

/// The name of `id` in a passwd- or group-format file, else the number.
fn name_of(file: &str, id: Option<u32>) -> String {
    let Some(id) = id else {
        return "?".to_owned();
    };
    file.lines()
        .find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            f.next()?;
            (f.next()?.parse::<u32>().ok()? == id).then(|| name.to_owned())
        })
        .unwrap_or_else(|| id.to_string())
}

/// The host's name for an id of this user namespace.
fn host_name(file: &str, map: &str, id: Option<u32>) -> String {
    let Some(id) = id else {
        return "?".to_owned();
    };
    let outer = fs::read_to_string(map)
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| {
                let v: Vec<u32> = l
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                let [inside, outside, len] = v[..] else {
                    return None;
                };
                (id >= inside && id - inside < len).then(|| outside + (id - inside))
            })
        })
        .unwrap_or(id);
    name_of(&fs::read_to_string(file).unwrap_or_default(), Some(outer))
}

fn tty_name(nr: u64) -> String {
    if nr == 0 {
        return "?".to_owned();
    }
    let major = ((nr >> 8) & 0xfff) as u32;
    let minor = ((nr & 0xff) | ((nr >> 12) & 0xfff00)) as u32;
    match major {
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        4 if minor < 64 => format!("tty{minor}"),
        _ => "?".to_owned(),
    }
}

/// psgo's capability sets: "none", "full", or the names.
fn caps(hex: Option<&str>) -> String {
    let Some(bits) = hex.and_then(|h| u64::from_str_radix(h, 16).ok()) else {
        return "?".to_owned();
    };
    let all = crate::runtime::spec::caps::ALL_CAPABILITIES;
    if bits == 0 {
        return "none".to_owned();
    }
    if (0..all.len()).all(|i| bits & (1 << i) != 0) {
        return "full".to_owned();
    }
    all.iter()
        .enumerate()
        .filter(|(i, _)| bits & (1u64 << i) != 0)
        .map(|(_, n)| n.trim_start_matches("CAP_"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Go's `time.Duration.String()`: `0s`, `1.5ms`, `2m3.25s`, `1h0m0s`.
pub fn go_duration(ns: u128) -> String {
    fn frac(v: u128, unit: u128, digits: usize) -> String {
        let (int, rem) = (v / unit, v % unit);
        if rem == 0 {
            return int.to_string();
        }
        let f = format!("{rem:0digits$}");
        format!("{int}.{}", f.trim_end_matches('0'))
    }
    match ns {
        0 => "0s".to_owned(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}µs", frac(n, 1_000, 3)),
        n if n < 1_000_000_000 => format!("{}ms", frac(n, 1_000_000, 6)),
        n => {
            let h = n / 3_600_000_000_000;
            let m = (n / 60_000_000_000) % 60;
            let s = frac(n % 60_000_000_000, 1_000_000_000, 9);
            match (h, m) {
                (0, 0) => format!("{s}s"),
                (0, m) => format!("{m}m{s}s"),
                (h, m) => format!("{h}h{m}m{s}s"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_go_does() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(10_000_000), "10ms");
        assert_eq!(go_duration(1_216_463_763), "1.216463763s");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(123_500_000_000), "2m3.5s");
    }

    #[test]
    fn descriptors_split_and_check() {
        let d = parse_descriptors(&["pid,args".into(), "%U".into()]).unwrap();
        assert_eq!(d, ["pid", "args", "user"]);
        assert_eq!(parse_descriptors(&[]).unwrap().len(), 8);
        let e = parse_descriptors(&["bogus".into()]).unwrap_err();
        assert_eq!(e.to_string(), "unknown descriptor: bogus");
        assert_eq!(header("pcpu"), "%CPU");
    }

    #[test]
    fn ids_and_ttys_are_named() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\n";
        assert_eq!(name_of(passwd, Some(0)), "root");
        assert_eq!(name_of(passwd, Some(7)), "7");
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name((136 << 8) | 3), "pts/3");
        assert_eq!(caps(Some("0000000000000000")), "none");
        assert_eq!(caps(Some("0000000000000003")), "CHOWN,DAC_OVERRIDE");
    }
}
