//! The kill-anywhere harness: SIGKILLs of the CLI, the monitor, the network
//! helper or the runtime at random moments of run, run -d, create, start,
//! stop, rm, pull, rmi, commit, network connect and volume rm. After each
//! kill a checker requires that the next commands accept the state, that no
//! process is left but the pause process, live monitors and what they
//! watch, that no container directory, mount or runtime record outlives its
//! container, and that the state database passes SQLite's integrity check.
//! At the end, removing everything must leave no layer, blob or lock.
//!
//! Bounded: `HUTCH_KILL_ITERATIONS` (default 100, about two minutes here)
//! iterations; `HUTCH_KILL_SEED` replays a run (the seed is printed
//! first); `HUTCH_KILL_ONLY=RunRm/Cli,Start` keeps only some operations
//! (and targets) for a hunt.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::images::*;
use common::registry::Registry;
use common::*;

/// xorshift64*: enough randomness for choosing, and replayable from a seed
/// without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Cli,
    Monitor,
    Helper,
    Runtime,
}

const TARGETS: [Target; 4] = [
    Target::Cli,
    Target::Monitor,
    Target::Helper,
    Target::Runtime,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    RunRm,
    RunDetached,
    RunPublished,
    Create,
    Start,
    Stop,
    Remove,
    Pull,
    Rmi,
    Commit,
    NetworkConnect,
    VolumeRm,
}

const OPS: [Op; 12] = [
    Op::RunRm,
    Op::RunDetached,
    Op::RunPublished,
    Op::Create,
    Op::Start,
    Op::Stop,
    Op::Remove,
    Op::Pull,
    Op::Rmi,
    Op::Commit,
    Op::NetworkConnect,
    Op::VolumeRm,
];

impl Op {
    /// The processes this operation runs, so that a kill is aimed at one
    /// that exists (the CLI is always there).
    fn targets(self) -> &'static [Target] {
        match self {
            Op::RunRm | Op::RunDetached | Op::RunPublished | Op::Start => &TARGETS,
            Op::Stop | Op::Remove => &[Target::Cli, Target::Monitor, Target::Runtime],
            Op::NetworkConnect => &[Target::Cli, Target::Monitor, Target::Helper],
            Op::Create | Op::Pull | Op::Rmi | Op::Commit | Op::VolumeRm => &[Target::Cli],
        }
    }
}

fn args_of(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            c.split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn has_env(pid: i32, needle: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
        .unwrap_or(false)
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

struct World {
    env: TestEnv,
    /// `HOME=...` of this environment: every process hutch starts for it
    /// inherits it (containers do not: they get the image's environment).
    home_var: String,
    /// The argument every container command carries, to find container
    /// processes of this run.
    marker: String,
    remote: String,
    storage: PathBuf,
    _registry: Registry,
}

impl World {
    fn new() -> Option<World> {
        let mut env = busybox_env(&[]);
        let registry = Registry::start(&env.root.join("registry"), None)?;
        let conf = write_readable(
            &env.root,
            "registries.conf",
            format!(
                "[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
                registry.address()
            )
            .as_bytes(),
        );
        env.vars.push((
            "CONTAINERS_REGISTRIES_CONF".into(),
            conf.display().to_string(),
        ));
        let remote = format!("{}/kill/busybox:latest", registry.address());
        env.ok(["tag", "busybox", &remote]);
        env.ok(["push", &remote]);
        env.ok(["rmi", &remote]);
        env.ok(["network", "create", "kn"]);
        let home_var = format!("HOME={}", env.home.display());
        let storage = env.home.join(".local/share/hutch/storage");
        Some(World {
            marker: format!("{}", 70_000 + std::process::id() % 10_000),
            env,
            home_var,
            remote,
            storage,
            _registry: registry,
        })
    }

    fn ours(&self, pid: i32) -> bool {
        has_env(pid, &self.home_var)
    }

    /// Brings the state an operation needs, and returns its command.
    fn prepare(&self, op: Op, name: &str) -> Vec<String> {
        let s = |v: &[&str]| v.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
        let sleep = ["sleep", &self.marker];
        let run_d = |extra: &[&str]| {
            let mut a = vec!["run", "-d", "--name", name];
            a.extend_from_slice(extra);
            a.push("busybox");
            a.extend_from_slice(&sleep);
            let _ = self.env.run(a);
        };
        match op {
            Op::RunRm => s(&["run", "--rm", "--name", name, "busybox", "true"]),
            Op::RunDetached => {
                let mut a = s(&["run", "-d", "--name", name, "busybox"]);
                a.extend(s(&sleep));
                a
            }
            Op::RunPublished => {
                let mut a = s(&["run", "-d", "--name", name, "-p", "80", "busybox"]);
                a.extend(s(&sleep));
                a
            }
            Op::Create => s(&["create", "--name", name, "busybox", "true"]),
            Op::Start => {
                let mut a = vec!["create", "--name", name, "busybox"];
                a.extend_from_slice(&sleep);
                let _ = self.env.run(a);
                s(&["start", name])
            }
            Op::Stop => {
                run_d(&[]);
                s(&["stop", "-t", "0", name])
            }
            Op::Remove => {
                run_d(&[]);
                s(&["rm", "-f", name])
            }
            Op::Pull => {
                let _ = self.env.run(["rmi", "-f", &self.remote]);
                s(&["pull", "-q", &self.remote])
            }
            Op::Rmi => {
                let _ = self.env.run(["pull", "-q", &self.remote]);
                s(&["rmi", "-f", &self.remote])
            }
            Op::Commit => {
                run_d(&[]);
                s(&["commit", name, &format!("localhost/commit-{name}")])
            }
            Op::NetworkConnect => {
                run_d(&[]);
                s(&["network", "connect", "kn", name])
            }
            Op::VolumeRm => {
                let _ = self.env.run(["volume", "create", name]);
                s(&["volume", "rm", "-f", name])
            }
        }
    }

    /// The newest live process of `target` kind for this environment
    /// (`cli` is the command's own pid).
    fn find(&self, target: Target, cli: i32) -> Option<i32> {
        if target == Target::Cli {
            return Some(cli);
        }
        live_processes()
            .into_iter()
            .filter(|&p| p != cli && self.ours(p))
            .filter(|&p| {
                let comm = comm(p).unwrap_or_default();
                match target {
                    Target::Cli => false,
                    Target::Monitor => comm == "hutch-monitor",
                    Target::Helper => comm == "pasta" || comm == "slirp4netns",
                    Target::Runtime => comm == "crun" || comm == "runc",
                }
            })
            .max()
    }
}

/// Waits for `child` until `limit`; `None` if it still runs (it is killed
/// then, and the hang is reported).
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn kill9(pid: i32) {
    // SAFETY: a plain kill(2) of a process this test started (directly or
    // through hutch); at worst the pid is already gone.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// Container ids and states as `ps -a` reports them.
fn containers(env: &TestEnv) -> Result<Vec<(String, String, String)>, String> {
    let out = env
        .hutch([
            "ps",
            "-a",
            "--format",
            "{{.ID}} {{.Names}} {{.State}}",
            "--no-trunc",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("ps -a failed: {}", stderr(&out)));
    }
    Ok(stdout(&out)
        .lines()
        .filter_map(|l| {
            // The State text has blanks ("Up 2 seconds ago"): last.
            let mut f = l.splitn(3, ' ');
            let (id, name, state) = (f.next()?, f.next()?, f.next()?);
            Some((id.to_owned(), state.to_owned(), name.to_owned()))
        })
        .collect())
}

/// One look at the world; the problems found (empty: consistent).
fn problems(w: &World) -> Vec<String> {
    let mut found = Vec::new();
    let listed = match containers(&w.env) {
        Ok(l) => l,
        Err(e) => return vec![e],
    };
    for cmd in [
        &["images", "-q"][..],
        &["volume", "ls", "-q"],
        &["network", "ls", "-q"],
    ] {
        let out = w.env.run(cmd);
        if !out.status.success() {
            found.push(format!("{} failed: {}", cmd.join(" "), stderr(&out)));
        }
    }
    let ids: BTreeSet<&str> = listed.iter().map(|(id, _, _)| id.as_str()).collect();
    let running: BTreeSet<&str> = listed
        .iter()
        .filter(|(_, s, _)| s.starts_with("Up ") || s == "Paused")
        .map(|(id, _, _)| id.as_str())
        .collect();

    // Processes: the pause process, monitors of running containers, and
    // what those monitors started; nothing else of ours may live.
    let ours: Vec<i32> = live_processes()
        .into_iter()
        .filter(|&p| w.ours(p))
        .collect();
    let monitors: Vec<i32> = ours
        .iter()
        .copied()
        .filter(|&p| comm(p).as_deref() == Some("hutch-monitor"))
        .collect();
    for &p in &ours {
        let c = comm(p).unwrap_or_default();
        let under_monitor = {
            let mut q = parent_of(p);
            let mut hops = 0;
            while let Some(pp) = q {
                if monitors.contains(&pp) || hops > 8 {
                    break;
                }
                q = parent_of(pp);
                hops += 1;
            }
            q.is_some_and(|pp| monitors.contains(&pp))
        };
        let fine = c == "hutch-pause" || (c == "hutch-monitor") || under_monitor;
        if !fine {
            found.push(format!("leftover process {p} {:?}", args_of(p)));
        }
    }
    for &m in &monitors {
        let args = args_of(m).join(" ");
        if !running.iter().any(|id| args.contains(id)) && !ids.iter().any(|id| args.contains(id)) {
            found.push(format!("monitor {m} of no container: {args}"));
        }
    }
    // Container processes (they carry the marker, not our HOME).
    let sleepers = live_processes()
        .into_iter()
        .filter(|&p| {
            let a = args_of(p);
            a.len() == 2 && a[0].ends_with("sleep") && a[1] == w.marker
        })
        .count();
    if sleepers > running.len() {
        found.push(format!(
            "{sleepers} container processes for {} running containers",
            running.len()
        ));
    }
    // Container directories and mounts outlive no container; mounts only
    // for running ones.
    if let Ok(dir) = std::fs::read_dir(w.storage.join("containers")) {
        for e in dir.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if !ids.contains(n.as_str()) {
                found.push(format!("container directory of no container: {n}"));
            }
        }
    }
    for pause in w.env.pause_pids() {
        let mounts =
            std::fs::read_to_string(format!("/proc/{pause}/mountinfo")).unwrap_or_default();
        for line in mounts.lines().filter(|l| l.contains("/containers/")) {
            let Some(id) = line
                .split("/containers/")
                .nth(1)
                .and_then(|r| r.split('/').next())
            else {
                continue;
            };
            if id.len() == 64 && !running.contains(id) {
                let state = listed
                    .iter()
                    .find(|(i, _, _)| i == id)
                    .map_or("no row", |(_, s, _)| s.as_str());
                let files: Vec<String> =
                    std::fs::read_dir(w.storage.join("containers").join(id).join("userdata"))
                        .into_iter()
                        .flatten()
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect();
                found.push(format!(
                    "mount of a container that is not running ({state}; userdata {files:?}): {line}"
                ));
            }
        }
    }
    // Runtime records of containers that are not running.
    if let Ok(roots) = std::fs::read_dir(w.env.run_dir().join("runtime")) {
        for root in roots.flatten() {
            for rec in std::fs::read_dir(root.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let n = rec.file_name().to_string_lossy().into_owned();
                if n.len() == 64 && !running.contains(n.as_str()) {
                    let files: Vec<String> = std::fs::read_dir(rec.path())
                        .into_iter()
                        .flatten()
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect();
                    found.push(format!(
                        "runtime record of a container not running: {n} (holding {files:?})"
                    ));
                }
            }
        }
    }
    if let Err(e) = integrity(&w.storage.join("state/hutch.db")) {
        found.push(e);
    }
    found
}

/// The end of the monitor logs of the containers that `problems` name:
/// what the monitor saw when it was cut short.
fn monitor_logs(w: &World, problems: &[&String]) -> String {
    let mut out = String::new();
    let Ok(dir) = std::fs::read_dir(w.storage.join("containers")) else {
        return out;
    };
    for e in dir.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        if problems.iter().any(|p| p.contains(&id)) {
            let log =
                std::fs::read_to_string(e.path().join("userdata/monitor.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            out += &format!("\n    monitor.log of {}: {:?}", &id[..12], tail);
        }
    }
    out
}

/// SQLite's integrity check, on a copy (the database and its WAL), so that
/// root never opens the user's files.
fn integrity(db: &Path) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let copy = dir.path().join("hutch.db");
    std::fs::copy(db, &copy).map_err(|e| format!("copying the state database: {e}"))?;
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    if wal.exists() {
        let _ = std::fs::copy(&wal, dir.path().join("hutch.db-wal"));
    }
    let conn = rusqlite::Connection::open(&copy).map_err(|e| e.to_string())?;
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| format!("integrity check: {e}"))?;
    if verdict == "ok" {
        Ok(())
    } else {
        Err(format!("state database integrity: {verdict}"))
    }
}

#[test]
fn random_kills_leave_a_consistent_state() {
    let Some(w) = World::new() else { return };
    let seed = std::env::var("HUTCH_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    let iterations: u64 = std::env::var("HUTCH_KILL_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    eprintln!(
        "kill-anywhere: seed {seed} (HUTCH_KILL_SEED={seed} replays), {iterations} iterations"
    );
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut kills: std::collections::BTreeMap<(Op, Target), u32> = Default::default();
    let mut missed = 0u32;
    let mut failures: Vec<String> = Vec::new();
    let mut known: BTreeSet<String> = BTreeSet::new();
    // `HUTCH_KILL_ONLY=RunRm/Cli,Start` narrows a hunt to some operations
    // (and targets) without changing what the seed picks elsewhere.
    let only = std::env::var("HUTCH_KILL_ONLY").unwrap_or_default();
    let wanted = |op: Op, target: Target| {
        only.is_empty()
            || only.split(',').any(|w| {
                let (o, t) = w.split_once('/').unwrap_or((w, ""));
                o == format!("{op:?}") && (t.is_empty() || t == format!("{target:?}"))
            })
    };
    for i in 0..iterations {
        let op = OPS[rng.below(OPS.len() as u64) as usize];
        let targets = op.targets();
        let target = targets[rng.below(targets.len() as u64) as usize];
        let delay = Duration::from_millis(rng.below(40));
        if !wanted(op, target) {
            continue;
        }
        let name = format!("k{i}");
        let t0 = Instant::now();
        let args = w.prepare(op, &name);
        let t_prep = t0.elapsed();
        let what = format!(
            "iteration {i}: {op:?}, kill {target:?} {} ms after it appears",
            delay.as_millis()
        );
        let mut child = match w
            .env
            .hutch(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => panic!("starting hutch: {e}"),
        };
        let cli = child.id() as i32;
        // Wait for the target to appear (or the command to end), then for
        // the chosen delay, then kill it if it still lives.
        let mut victim = None;
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(p) = w.find(target, cli) {
                victim = Some(p);
                break;
            }
            if matches!(child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        match victim {
            Some(p) => {
                std::thread::sleep(delay);
                if std::env::var_os("HUTCH_KILL_VERBOSE").is_some() {
                    eprintln!("{what}: victim {p}: {:?}", args_of(p));
                }
                if is_alive(p) {
                    kill9(p);
                    *kills.entry((op, target)).or_default() += 1;
                } else {
                    missed += 1;
                }
            }
            None => missed += 1,
        }
        if wait_bounded(&mut child, Duration::from_secs(60)).is_none() {
            failures.push(format!("{what}: the command hung for 60 s"));
        }
        // Whatever was cut short must be accepted by the next commands:
        // the checker gives cleanup that runs on its own (a monitor's exit)
        // a bounded time to finish.
        let mut last = Vec::new();
        let clean = wait_until(Duration::from_secs(15), || {
            last = problems(&w);
            last.iter().all(|p| known.contains(p))
        });
        if !clean {
            let new: Vec<&String> = last.iter().filter(|p| !known.contains(*p)).collect();
            failures.push(format!(
                "{what}: {}{}",
                new.iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
                monitor_logs(&w, &new)
            ));
        }
        let t_check = t0.elapsed();
        if std::env::var_os("HUTCH_KILL_VERBOSE").is_some() {
            eprintln!(
                "{what}: prepared in {} ms, checked at {} ms",
                t_prep.as_millis(),
                t_check.as_millis()
            );
        }
        // Reported once; a problem that stays is not reported again.
        known = last.into_iter().collect();
        // The next command of a user: removing what this iteration made.
        let out = w.env.run(["rm", "-f", "--time", "0", &name]);
        if !out.status.success() && !stderr(&out).contains("no container with name or ID") {
            failures.push(format!("{what}: rm -f afterwards failed: {}", stderr(&out)));
        }
        let _ = w.env.run(["volume", "rm", "-f", &name]);
        let _ = w
            .env
            .run(["rmi", "-f", &format!("localhost/commit-{name}")]);
        if failures.len() > 20 {
            break;
        }
    }
    // Everything removed: no layer, blob, lock or container directory stays.
    w.env.ok(["rm", "-a", "-f", "--time", "0"]);
    w.env.ok(["rmi", "-a", "-f"]);
    let mut final_left = Vec::new();
    for sub in ["containers", "layers", "blobs/sha256"] {
        if let Ok(d) = std::fs::read_dir(w.storage.join(sub)) {
            for e in d.flatten() {
                final_left.push(format!("{sub}/{}", e.file_name().to_string_lossy()));
            }
        }
    }
    if !final_left.is_empty() {
        failures.push(format!("after rm -a -f and rmi -a -f: {final_left:?}"));
    }
    let total: u32 = kills.values().sum();
    eprintln!(
        "kill-anywhere: seed {seed}: {total} kills, {missed} missed (the target had ended), {} inconsistencies, {:.0} s",
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    for ((op, target), n) in &kills {
        eprintln!("  {op:?} / {target:?}: {n}");
    }
    assert!(
        failures.is_empty(),
        "seed {seed}: {} inconsistencies:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
