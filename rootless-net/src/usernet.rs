//! Containers on user networks, rootless, the way Podman 4's rootless-netns
//! works (see docs/networking.md, "User networks"):
//!
//! - one network namespace per user, the *rootless netns*, made by the
//!   first container that joins a user network: `hutch-monitor
//!   __netns-holder` (the caller names the executable)
//!   unshares it, bind-mounts it at `RUN/rootless-netns/netns`, attaches
//!   slirp4netns to it (the way out to the host and the internet), and
//!   serves DNS on its port 53 ([`crate::dns`]);
//! - one Linux bridge per network in it, holding the gateway address;
//! - one veth pair per container and network: one end on the bridge, the
//!   other in the container's own namespace with an address of the subnet.
//!
//! Links are made by running iproute2's `ip -batch` inside the namespaces
//! (setns between fork and exec): no netlink crate is available offline,
//! and `ip` takes a namespace file path where netlink would need an fd.
//!
//! `RUN/rootless-netns/endpoints.json` is the state (addresses in use, by
//! container and network), changed under `lock` and read by the resolver on
//! each question. The holder ends when the last endpoint leaves.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::networks::Network;
use crate::{NetError, NetworkMode, NetworkPlan, dns, helper, netns};

/// The files of the rootless netns, all under `RUN/rootless-netns`.
#[derive(Debug, Clone)]
pub struct UserNetPaths {
    pub dir: PathBuf,
    pub netns: PathBuf,
    pub lock: PathBuf,
    pub endpoints: PathBuf,
    pub holder: PathBuf,
    pub log: PathBuf,
}

impl UserNetPaths {
    pub fn new(run_dir: &Path) -> UserNetPaths {
        UserNetPaths::in_dir(&run_dir.join("rootless-netns"))
    }

    pub fn in_dir(dir: &Path) -> UserNetPaths {
        UserNetPaths {
            dir: dir.to_owned(),
            netns: dir.join("netns"),
            lock: dir.join("lock"),
            endpoints: dir.join("endpoints.json"),
            holder: dir.join("holder.json"),
            log: dir.join("holder.log"),
        }
    }

    fn slirp(&self) -> crate::NetPaths {
        crate::NetPaths {
            netns: self.netns.clone(),
            record: self.dir.join("slirp.json"),
            pid: self.dir.join("slirp.pid"),
            log: self.dir.join("slirp.log"),
            socket: self.dir.join("slirp.sock"),
        }
    }
}

/// One container on one network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Endpoint {
    pub id: String,
    pub name: String,
    pub network: String,
    pub network_id: String,
    /// The bridge in the rootless netns.
    pub bridge: String,
    /// The host-side veth end (on the bridge).
    pub veth: String,
    /// The container-side name (eth0, eth1...).
    pub interface: String,
    pub ip: String,
    pub prefix: u32,
    pub gateway: String,
    pub mac: String,
    pub aliases: Vec<String>,
}

/// `endpoints.json`: the endpoints, and the bridges the current rootless
/// netns already has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Records {
    pub endpoints: Vec<Endpoint>,
    pub bridges: Vec<Bridge>,
}

/// A bridge made in the rootless netns, as made (a network removed and
/// another created may reuse the name with other values).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Bridge {
    pub name: String,
    pub gateway: String,
    pub prefix: u32,
    pub internal: bool,
}

/// The forward chain for `bridges`: containers of one network do not reach
/// another network's (Podman's isolation); only the way out is open, and
/// not for an `--internal` network.
fn forward_rules(bridges: &[Bridge]) -> String {
    let mut out = String::from("flush chain ip hutch forward\n");
    for b in bridges {
        let name = &b.name;
        let allowed = if b.internal {
            format!("\"{name}\"")
        } else {
            format!("{{ \"{name}\", \"{TAP}\" }}")
        };
        out.push_str(&format!(
            "add rule ip hutch forward iifname \"{name}\" oifname != {allowed} drop\n"
        ));
    }
    out
}

fn apply_forward_rules(paths: &UserNetPaths, bridges: &[Bridge]) {
    if let Err(e) = run_in(&paths.netns, "nft", &["-f", "-"], &forward_rules(bridges)) {
        tracing::warn!("isolating user networks: {e}");
    }
}

/// `holder.json`, written by the holder once ready.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HolderInfo {
    pub pid: i32,
    pub slirp_pid: i32,
    /// Outbound NAT set up (nft); without it containers only reach each
    /// other.
    pub nat: bool,
}

/// Where slirp4netns's built-in resolver answers inside the namespace.
const UPSTREAM_DNS: &str = "10.0.2.3:53";
/// slirp4netns's device in the rootless netns.
const TAP: &str = "tap0";

/// An exclusive lock on the rootless netns's state, released on drop.
pub struct Lock(#[allow(dead_code)] File);

pub fn lock(paths: &UserNetPaths) -> Result<Lock, NetError> {
    std::fs::create_dir_all(&paths.dir)
        .map_err(|e| NetError::io(format!("creating {}", paths.dir.display()), e))?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&paths.lock)
        .map_err(|e| NetError::io(format!("opening {}", paths.lock.display()), e))?;
    // SAFETY: flock on an fd we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(NetError::io(
            format!("locking {}", paths.lock.display()),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(Lock(f))
}

pub fn read_records(paths: &UserNetPaths) -> Records {
    std::fs::read(&paths.endpoints)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn write_records(paths: &UserNetPaths, r: &Records) -> Result<(), NetError> {
    let tmp = paths.dir.join(".endpoints.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(r).unwrap_or_default())
        .and_then(|_| std::fs::rename(&tmp, &paths.endpoints))
        .map_err(|e| NetError::io(format!("writing {}", paths.endpoints.display()), e))
}

pub fn read_holder(paths: &UserNetPaths) -> Option<HolderInfo> {
    let b = std::fs::read(&paths.holder).ok()?;
    serde_json::from_slice(&b).ok()
}

fn cmdline(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            c.split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `pid` runs and is a holder of `paths` (pids get reused).
fn holder_alive(paths: &UserNetPaths, pid: i32) -> bool {
    let args = cmdline(pid);
    let dir = paths.dir.display().to_string();
    pid > 0 && args.iter().any(|a| a == "__netns-holder") && args.contains(&dir)
}

/// The live holder's record, if one runs.
pub fn holder(paths: &UserNetPaths) -> Option<HolderInfo> {
    read_holder(paths).filter(|h| holder_alive(paths, h.pid))
}

fn find_tool(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Runs `tool args` with `script` on stdin inside the network namespace
/// held at `ns`.
fn run_in(ns: &Path, tool: &str, args: &[&str], script: &str) -> Result<(), NetError> {
    let bin = find_tool(tool).ok_or_else(|| {
        NetError::Helper(format!(
            "{tool} is not installed (needed for user networks)"
        ))
    })?;
    let nsf = File::open(ns).map_err(|e| NetError::io(format!("opening {}", ns.display()), e))?;
    let fd = nsf.as_raw_fd();
    let mut cmd = Command::new(&bin);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: setns only, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    let mut child = cmd
        .spawn()
        .map_err(|e| NetError::io(format!("starting {}", bin.display()), e))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(script.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| NetError::io(format!("running {}", bin.display()), e))?;
    drop(nsf);
    if !out.status.success() {
        return Err(NetError::Helper(format!(
            "{tool} {} in {} failed: {}",
            args.join(" "),
            ns.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn ip_batch(ns: &Path, script: &str, force: bool) -> Result<(), NetError> {
    let args: &[&str] = if force {
        &["-force", "-batch", "-"]
    } else {
        &["-batch", "-"]
    };
    run_in(ns, "ip", args, script)
}

/// FNV-1a: stable names and MAC addresses from ids.
fn hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for p in parts {
        for b in p.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    h
}

fn cidr(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('/')?;
    let a: Ipv4Addr = a.parse().ok()?;
    let bits: u32 = b.parse().ok()?;
    (bits <= 30).then(|| {
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        };
        (u32::from(a) & mask, bits)
    })
}

/// The lowest host address of `subnet` that is neither the gateway nor in
/// `used`.
pub fn allocate(subnet: &str, gateway: &str, used: &[String]) -> Option<Ipv4Addr> {
    let (base, bits) = cidr(subnet)?;
    let size = 1u32 << (32 - bits);
    (1..size - 1).map(|n| Ipv4Addr::from(base + n)).find(|a| {
        let s = a.to_string();
        s != gateway && !used.contains(&s)
    })
}

/// The address `--ip`/`--ip6` asked for, checked against the network's
/// (IPv4) subnet and the addresses in use, in Podman 4.3's words: its own
/// "requested static ip … not in any subnet", then those of the host-local
/// IPAM its CNI bridge uses (hutch's networks are host-local too, less the
/// plugin's prefix). `None`: none asked for.
fn static_address(
    req: &JoinRequest,
    subnet: &str,
    gateway: &str,
    endpoints: &[Endpoint],
) -> Result<Option<Ipv4Addr>, NetError> {
    let name = &req.network.name;
    // Podman checks `--ip`, then `--ip6`; neither flag is held to its
    // family, so an IPv4 address given as `--ip6` is taken as one.
    let asked: Vec<std::net::IpAddr> = [req.static_ip, req.static_ip6]
        .into_iter()
        .flatten()
        .collect();
    let (base, bits) = cidr(subnet)
        .ok_or_else(|| NetError::Mode(subnet.to_owned(), "not an IPv4 subnet".into()))?;
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    let mut chosen = None;
    for ip in asked {
        match ip {
            std::net::IpAddr::V4(v4) if u32::from(v4) & mask == base => {
                // host-local hands out one address per range: a second
                // one in the subnet is left over, as Podman reports it.
                if let Some(first) = chosen {
                    return Err(NetError::Address(format!(
                        "failed to allocate all requested IPs: {first}"
                    )));
                }
                chosen = Some(v4);
            }
            _ => {
                return Err(NetError::Address(format!(
                    "requested static ip {ip} not in any subnet on network {name}"
                )));
            }
        }
    }
    let Some(v4) = chosen else {
        return Ok(None);
    };
    let host = u32::from(v4) & !mask;
    if host == 0 || host == !mask {
        // Outside host-local's range (the network and broadcast addresses).
        return Err(NetError::Address(format!(
            "failed to allocate all requested IPs: {v4}"
        )));
    }
    if v4.to_string() == gateway {
        return Err(NetError::Address(format!(
            "failed to allocate for range 0: requested ip {v4} is subnet's gateway"
        )));
    }
    if endpoints
        .iter()
        .any(|e| e.network == *name && e.ip == v4.to_string() && e.id != req.id)
    {
        return Err(NetError::Address(format!(
            "failed to allocate for range 0: requested IP address {v4} is not available in range set {}-{}",
            Ipv4Addr::from(base | 1),
            Ipv4Addr::from((base | !mask) - 1)
        )));
    }
    Ok(Some(v4))
}

/// A MAC address (`aa:bb:cc:dd:ee:ff`) the kernel takes for an interface:
/// not multicast, not all zeros.
fn unicast(mac: &str) -> bool {
    let bytes: Vec<u8> = mac
        .split(':')
        .filter_map(|b| u8::from_str_radix(b, 16).ok())
        .collect();
    bytes.len() == 6 && bytes[0] & 1 == 0 && bytes.iter().any(|&b| b != 0)
}

/// What a container brings to [`join`].
pub struct JoinRequest<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub network: &'a Network,
    pub aliases: &'a [String],
    /// `--ip`, `--ip6`, `--mac-address`: the address and MAC asked for
    /// (refused, as Podman refuses them, outside the subnet or in use).
    pub static_ip: Option<std::net::IpAddr>,
    pub static_ip6: Option<std::net::IpAddr>,
    pub static_mac: Option<&'a str>,
    /// The container's namespace (already created).
    pub container_netns: &'a Path,
    /// The hutch binary, to start the holder.
    pub exe: &'a Path,
    /// A cgroup directory for the holder (the pause process's), so that it
    /// does not stay in the cgroup of the container that happened to start
    /// it; best effort.
    pub holder_cgroup: Option<&'a Path>,
}

/// Connects a container's namespace to a user network: starts the holder
/// if needed, makes the bridge, allocates an address, adds the veth pair.
pub fn join(paths: &UserNetPaths, req: &JoinRequest) -> Result<Endpoint, NetError> {
    let _lock = lock(paths)?;
    let holder = ensure_holder(paths, req.exe, req.holder_cgroup)?;
    let mut recs = read_records(paths);
    let net = req.network;
    let sub = net
        .subnets
        .first()
        .ok_or_else(|| NetError::Helper(format!("network {} has no subnet", net.name)))?;
    let (_, prefix) = cidr(&sub.subnet)
        .ok_or_else(|| NetError::Mode(sub.subnet.clone(), "not an IPv4 subnet".into()))?;
    // A stale endpoint of the same container (a killed monitor) goes first.
    let stale: Vec<Endpoint> = recs
        .endpoints
        .iter()
        .filter(|e| e.id == req.id && e.network == net.name)
        .cloned()
        .collect();
    if !stale.is_empty() {
        let script: String = stale
            .iter()
            .map(|e| format!("link del {}\n", e.veth))
            .collect();
        let _ = ip_batch(&paths.netns, &script, true);
        recs.endpoints
            .retain(|e| !(e.id == req.id && e.network == net.name));
    }
    let used: Vec<String> = recs
        .endpoints
        .iter()
        .filter(|e| e.network == net.name)
        .map(|e| e.ip.clone())
        .collect();
    // The kernel takes no multicast or all-zero address for a veth
    // (EADDRNOTAVAIL); said before anything is made, in the words of
    // Podman's bridge plugin.
    if let Some(mac) = req.static_mac
        && !unicast(mac)
    {
        return Err(NetError::Address(
            "failed to make veth pair: cannot assign requested address".into(),
        ));
    }
    let ip = match static_address(req, &sub.subnet, &sub.gateway, &recs.endpoints)? {
        Some(ip) => ip,
        None => allocate(&sub.subnet, &sub.gateway, &used).ok_or_else(|| {
            NetError::Helper(format!(
                "network {}: no free address left in {}",
                net.name, sub.subnet
            ))
        })?,
    };
    let bridge = net.network_interface.clone();
    let h = hash(&[req.id, &net.name]);
    let veth = format!("veth{:011x}", h & 0xfff_ffff_ffff);
    let m = h.to_be_bytes();
    // Locally administered, unicast.
    let mac = req.static_mac.map(str::to_owned).unwrap_or_else(|| {
        format!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            (m[2] & 0xfe) | 0x02,
            m[3],
            m[4],
            m[5],
            m[6],
            m[7]
        )
    });
    let first = !recs.endpoints.iter().any(|e| e.id == req.id);
    let interface = format!(
        "eth{}",
        recs.endpoints.iter().filter(|e| e.id == req.id).count()
    );
    let mut script = String::new();
    let wanted = Bridge {
        name: bridge.clone(),
        gateway: sub.gateway.clone(),
        prefix,
        internal: net.internal,
    };
    let existing = recs.bridges.iter().find(|b| b.name == bridge).cloned();
    let new_bridge = existing.as_ref() != Some(&wanted);
    if let Some(old) = &existing
        && new_bridge
    {
        // A removed network's bridge under a reused name: made again.
        script.push_str(&format!("link del {}\n", old.name));
        recs.bridges.retain(|b| b.name != bridge);
    }
    if new_bridge {
        script.push_str(&format!(
            "link add {bridge} type bridge\naddr add {}/{prefix} dev {bridge}\nlink set {bridge} up\n",
            sub.gateway
        ));
    }
    script.push_str(&format!(
        "link add {veth} type veth peer name {interface} address {mac} netns {}\nlink set {veth} master {bridge}\nlink set {veth} up\n",
        req.container_netns.display()
    ));
    ip_batch(&paths.netns, &script, false)
        .map_err(|e| NetError::Helper(format!("connecting to network {}: {e}", net.name)))?;
    if new_bridge {
        recs.bridges.push(wanted);
        if holder.nat {
            apply_forward_rules(paths, &recs.bridges);
        }
    }
    // With the broadcast address, as Podman's bridge sets it (`ip addr`
    // inside shows `brd`).
    let mut script =
        format!("addr add {ip}/{prefix} broadcast + dev {interface}\nlink set {interface} up\n");
    if first {
        script.push_str(&format!("route add default via {}\n", sub.gateway));
    }
    let configured = ip_batch(req.container_netns, &script, false);
    let ep = Endpoint {
        id: req.id.to_owned(),
        name: req.name.to_owned(),
        network: net.name.clone(),
        network_id: net.id.clone(),
        bridge,
        veth: veth.clone(),
        interface,
        ip: ip.to_string(),
        prefix,
        gateway: sub.gateway.clone(),
        mac,
        aliases: req.aliases.to_vec(),
    };
    if let Err(e) = configured {
        let _ = ip_batch(&paths.netns, &format!("link del {veth}\n"), true);
        write_records(paths, &recs)?;
        return Err(e);
    }
    recs.endpoints.push(ep.clone());
    write_records(paths, &recs)?;
    Ok(ep)
}

/// Disconnects a container from `network` (all its networks for `None`):
/// deletes the veth pairs and frees the addresses; the last endpoint to
/// leave ends the holder. Idempotent.
pub fn leave(paths: &UserNetPaths, id: &str, network: Option<&str>) -> Result<(), NetError> {
    if !paths.endpoints.exists() && !paths.holder.exists() {
        return Ok(());
    }
    let _lock = lock(paths)?;
    let mut recs = read_records(paths);
    let (gone, keep): (Vec<Endpoint>, Vec<Endpoint>) = recs
        .endpoints
        .into_iter()
        .partition(|e| e.id == id && network.is_none_or(|n| e.network == n));
    recs.endpoints = keep;
    if recs.endpoints.is_empty() {
        stop_holder(paths);
        return Ok(());
    }
    if gone.is_empty() {
        return Ok(());
    }
    let script: String = gone
        .iter()
        .map(|e| format!("link del {}\n", e.veth))
        .collect();
    if let Err(e) = ip_batch(&paths.netns, &script, true) {
        tracing::warn!("removing the links of {id}: {e}");
    }
    write_records(paths, &recs)
}

/// Points the default route of the container's namespace at `gateway`
/// (after its first network was disconnected).
pub fn set_default_route(container_ns: &Path, gateway: &str) -> Result<(), NetError> {
    ip_batch(
        container_ns,
        &format!("route replace default via {gateway}\n"),
        false,
    )
}

/// `rename`: the endpoints of container `id` answer to `name`.
pub fn rename(paths: &UserNetPaths, id: &str, name: &str) -> Result<(), NetError> {
    if !paths.endpoints.exists() {
        return Ok(());
    }
    let _lock = lock(paths)?;
    let mut recs = read_records(paths);
    let mut changed = false;
    for e in recs.endpoints.iter_mut().filter(|e| e.id == id) {
        e.name = name.to_owned();
        changed = true;
    }
    if changed {
        write_records(paths, &recs)?;
    }
    Ok(())
}

/// `network rm`: the network's bridge goes from a running rootless netns.
pub fn remove_bridge(paths: &UserNetPaths, bridge: &str) -> Result<(), NetError> {
    if !paths.endpoints.exists() {
        return Ok(());
    }
    let _lock = lock(paths)?;
    let mut recs = read_records(paths);
    if !recs.bridges.iter().any(|b| b.name == bridge) {
        return Ok(());
    }
    recs.bridges.retain(|b| b.name != bridge);
    if let Some(h) = holder(paths) {
        let _ = ip_batch(&paths.netns, &format!("link del {bridge}\n"), true);
        if h.nat {
            apply_forward_rules(paths, &recs.bridges);
        }
    }
    write_records(paths, &recs)
}

/// The endpoints of one container.
pub fn endpoints_of(paths: &UserNetPaths, id: &str) -> Vec<Endpoint> {
    read_records(paths)
        .endpoints
        .into_iter()
        .filter(|e| e.id == id)
        .collect()
}

/// Starts the holder unless one runs (the caller holds the lock).
fn ensure_holder(
    paths: &UserNetPaths,
    exe: &Path,
    cgroup: Option<&Path>,
) -> Result<HolderInfo, NetError> {
    if let Some(h) = holder(paths)
        && is_netns(&paths.netns)
    {
        return Ok(h);
    }
    // A dead holder's leftovers: its namespace, links and addresses are gone.
    stop_holder(paths);
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fds we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(NetError::io(
            "creating a pipe",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: fresh fds from pipe2.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let log = File::create(&paths.log)
        .map_err(|e| NetError::io(format!("creating {}", paths.log.display()), e))?;
    let raw = w.as_raw_fd();
    let mut cmd = Command::new(exe);
    cmd.arg("__netns-holder")
        .arg(&paths.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    let procs = cgroup.and_then(|d| {
        std::ffi::CString::new(d.join("cgroup.procs").into_os_string().into_encoded_bytes()).ok()
    });
    // SAFETY: setsid/dup2/open/write only, between fork and exec. The
    // holder outlives the container that started it: its own session, no
    // death signal, and (where allowed) the pause process's cgroup, moved
    // before it can start slirp4netns.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            if let Some(p) = &procs {
                let fd = libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd >= 0 {
                    libc::write(fd, b"0".as_ptr().cast(), 1);
                    libc::close(fd);
                }
            }
            if libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    let child = cmd
        .spawn()
        .map_err(|e| NetError::io(format!("starting {} __netns-holder", exe.display()), e))?;
    drop(w);
    let mut line = String::new();
    let _ = BufReader::new(File::from(r)).read_line(&mut line);
    let line = line.trim_end();
    if line != "ok" {
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        stop_holder(paths);
        let why = line.strip_prefix("err ").unwrap_or(line);
        return Err(NetError::Helper(format!(
            "starting the rootless network namespace: {}",
            if why.is_empty() {
                std::fs::read_to_string(&paths.log).unwrap_or_default()
            } else {
                why.to_owned()
            }
        )));
    }
    read_holder(paths)
        .ok_or_else(|| NetError::Helper("the rootless netns holder left no record".into()))
}

/// Whether `path` is a mounted namespace (not the bare file a new mount
/// namespace shows after the pause process was replaced).
fn is_netns(path: &Path) -> bool {
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs into a zeroed struct we own, NUL-terminated path.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as i64 == NSFS_MAGIC
    }
}

/// Whether `pid` is gone or a zombie (dead, waiting for its parent).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

fn kill_and_wait(pid: i32) {
    // SAFETY: signalling a pid just verified to be ours.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let mut status = 0;
    // SAFETY: reaping if it is our child; ECHILD otherwise.
    unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    let deadline = Instant::now() + Duration::from_secs(2);
    while !gone(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    // SAFETY: as above.
    unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
}

/// Ends the holder and slirp4netns, unmounts the namespace and forgets the
/// endpoints (their links died with the namespace). The caller holds the
/// lock.
fn stop_holder(paths: &UserNetPaths) {
    if let Some(h) = read_holder(paths) {
        // slirp4netns first, while the holder (which ignores SIGCHLD) is
        // there to reap it; the holder's own parent reaps the holder.
        let ns = paths.netns.display().to_string();
        if h.slirp_pid > 0
            && cmdline(h.slirp_pid)
                .first()
                .is_some_and(|a| a.contains("slirp4netns"))
            && cmdline(h.slirp_pid).contains(&ns)
        {
            kill_and_wait(h.slirp_pid);
        }
        if holder_alive(paths, h.pid) {
            kill_and_wait(h.pid);
        }
    }
    if let Err(e) = netns::remove(&paths.netns) {
        tracing::warn!("{e}");
    }
    let s = paths.slirp();
    for f in [
        &paths.endpoints,
        &paths.holder,
        &s.record,
        &s.pid,
        &s.log,
        &s.socket,
    ] {
        let _ = std::fs::remove_file(f);
    }
}

/// `hutch-monitor __netns-holder DIR`: makes the rootless netns, attaches
/// slirp4netns, sets up NAT and the resolver, reports "ok" on fd 3, then
/// holds everything until killed.
pub fn holder_main(dir: &Path) -> Result<(), NetError> {
    let paths = UserNetPaths::in_dir(dir);
    // SAFETY: fd 3 was placed by the spawner for this process alone.
    let mut ready = unsafe { File::from_raw_fd(3) };
    match holder_setup(&paths) {
        Ok(_slirp) => {
            let _ = writeln!(ready, "ok");
            drop(ready);
            loop {
                // SAFETY: waits for a signal; SIGKILL ends the process
                // (slirp4netns follows through its death signal).
                unsafe { libc::pause() };
            }
        }
        Err(e) => {
            let _ = writeln!(ready, "err {}", e.to_string().replace('\n', " "));
            let _ = netns::remove(&paths.netns);
            Err(e)
        }
    }
}

fn holder_setup(paths: &UserNetPaths) -> Result<helper::Helper, NetError> {
    // The namespace is made (and bound) by a short thread: this process
    // stays in the host's namespace, where slirp4netns must run to open its
    // outbound sockets (it only enters the target to make its tap device).
    netns::create(&paths.netns)?;
    let plan = NetworkPlan {
        mode: NetworkMode::Slirp4netns {
            options: Vec::new(),
        },
        ..NetworkPlan::default()
    };
    let mut slirp_helper = helper::spawn(&plan, &paths.slirp())?;
    slirp_helper.wait_ready()?;
    let nat = match setup_nat(&paths.netns) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("no outbound NAT for user networks: {e}");
            false
        }
    };
    let records = paths.endpoints.clone();
    let upstream = UPSTREAM_DNS
        .parse()
        .map_err(|_| NetError::Helper("bad upstream address".into()))?;
    // The resolver's thread lives in the rootless netns (setns is per
    // thread), and so do the forwarding threads it starts.
    let ns = File::open(&paths.netns)
        .map_err(|e| NetError::io(format!("opening {}", paths.netns.display()), e))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let bound = enter(&ns)
            // /proc/sys/net is the opening thread's namespace's.
            .and_then(|_| {
                std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
                    .map_err(|e| NetError::io("setting net.ipv4.ip_forward=1", e))
            })
            .and_then(|_| {
                std::net::UdpSocket::bind("0.0.0.0:53")
                    .map_err(|e| NetError::io("binding the resolver on port 53", e))
            });
        match bound {
            Ok(sock) => {
                let _ = tx.send(Ok(()));
                dns::serve(sock, records, upstream);
            }
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        }
    });
    rx.recv()
        .map_err(|_| NetError::Helper("the resolver thread died".into()))??;
    let info = HolderInfo {
        pid: std::process::id() as i32,
        slirp_pid: slirp_helper.record.pid,
        nat,
    };
    // No more children to wait for: slirp4netns is reaped by the kernel
    // when it ends.
    // SAFETY: changing this process's SIGCHLD disposition.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    std::fs::write(&paths.holder, serde_json::to_vec(&info).unwrap_or_default())
        .map_err(|e| NetError::io(format!("writing {}", paths.holder.display()), e))?;
    Ok(slirp_helper)
}

/// Moves the calling thread into the namespace `ns`.
fn enter(ns: &File) -> Result<(), NetError> {
    // SAFETY: setns on this thread with an fd we own.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(NetError::io(
            "entering the rootless netns",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Masquerades everything leaving through slirp4netns's tap device that is
/// not slirp4netns's own address, and makes the chain per-bridge isolation
/// rules go into.
fn setup_nat(ns: &Path) -> Result<(), NetError> {
    let rules = format!(
        "table ip hutch {{\n\
         chain postrouting {{ type nat hook postrouting priority srcnat; policy accept;\n\
         oifname \"{TAP}\" ip saddr != 10.0.2.0/24 masquerade\n}}\n\
         chain forward {{ type filter hook forward priority filter; policy accept; }}\n}}\n"
    );
    run_in(ns, "nft", &["-f", "-"], &rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_skip_gateway_and_used() {
        assert_eq!(
            allocate("10.89.0.0/24", "10.89.0.1", &[]),
            Some(Ipv4Addr::new(10, 89, 0, 2))
        );
        let used = vec!["10.89.0.2".to_string(), "10.89.0.4".to_string()];
        assert_eq!(
            allocate("10.89.0.0/24", "10.89.0.1", &used),
            Some(Ipv4Addr::new(10, 89, 0, 3))
        );
        let full = vec!["10.0.0.2".to_string()];
        assert_eq!(allocate("10.0.0.0/30", "10.0.0.1", &full), None);
    }

    #[test]
    fn static_addresses_are_checked_as_host_local_checks_them() {
        let network = Network {
            name: "rn1".into(),
            id: "0".into(),
            driver: "bridge".into(),
            network_interface: "hutch1".into(),
            created: String::new(),
            subnets: Vec::new(),
            ipv6_enabled: false,
            internal: false,
            dns_enabled: true,
            labels: Default::default(),
        };
        let held = Endpoint {
            id: "other".into(),
            network: "rn1".into(),
            ip: "10.99.7.60".into(),
            ..Endpoint::default()
        };
        let check = |ip: Option<&str>, ip6: Option<&str>| {
            let req = JoinRequest {
                id: "me",
                name: "me",
                network: &network,
                aliases: &[],
                static_ip: ip.map(|a| a.parse().unwrap()),
                static_ip6: ip6.map(|a| a.parse().unwrap()),
                static_mac: None,
                container_netns: Path::new("/nonexistent"),
                exe: Path::new("/nonexistent"),
                holder_cgroup: None,
            };
            static_address(
                &req,
                "10.99.7.0/24",
                "10.99.7.1",
                std::slice::from_ref(&held),
            )
            .map_err(|e| e.to_string())
        };
        assert_eq!(check(None, None), Ok(None));
        assert_eq!(
            check(Some("10.99.7.50"), None),
            Ok(Some(Ipv4Addr::new(10, 99, 7, 50)))
        );
        // An IPv4 address given as `--ip6` is taken, as Podman takes it.
        assert_eq!(
            check(None, Some("10.99.7.50")),
            Ok(Some(Ipv4Addr::new(10, 99, 7, 50)))
        );
        let err = |ip, ip6| check(ip, ip6).unwrap_err();
        assert_eq!(
            err(Some("10.98.0.5"), None),
            "requested static ip 10.98.0.5 not in any subnet on network rn1"
        );
        assert_eq!(
            err(Some("10.99.7.5"), Some("fd00::5")),
            "requested static ip fd00::5 not in any subnet on network rn1"
        );
        assert_eq!(
            err(Some("10.99.7.1"), None),
            "failed to allocate for range 0: requested ip 10.99.7.1 is subnet's gateway"
        );
        for edge in ["10.99.7.0", "10.99.7.255"] {
            assert_eq!(
                err(Some(edge), None),
                format!("failed to allocate all requested IPs: {edge}")
            );
        }
        assert_eq!(
            err(Some("10.99.7.5"), Some("10.99.7.6")),
            "failed to allocate all requested IPs: 10.99.7.5"
        );
        assert_eq!(
            err(Some("10.99.7.60"), None),
            "failed to allocate for range 0: requested IP address 10.99.7.60 is not available in range set 10.99.7.1-10.99.7.254"
        );
        assert!(unicast("92:d0:c6:0a:29:33"));
        assert!(!unicast("93:d0:c6:0a:29:33"));
        assert!(!unicast("00:00:00:00:00:00"));
    }

    #[test]
    fn forward_rules_isolate_and_close_internal_networks() {
        let b = |name: &str, internal| Bridge {
            name: name.into(),
            internal,
            ..Bridge::default()
        };
        let r = forward_rules(&[b("hutch0", false), b("hutch1", true)]);
        assert_eq!(
            r,
            "flush chain ip hutch forward\n\
             add rule ip hutch forward iifname \"hutch0\" oifname != { \"hutch0\", \"tap0\" } drop\n\
             add rule ip hutch forward iifname \"hutch1\" oifname != \"hutch1\" drop\n"
        );
    }

    #[test]
    fn namespace_files_are_told_from_plain_files() {
        assert!(is_netns(Path::new("/proc/self/ns/net")));
        assert!(!is_netns(Path::new("/proc/self/status")));
        assert!(!is_netns(Path::new("/nonexistent")));
    }

    #[test]
    fn names_fit_interface_limits() {
        let h = hash(&["0123456789abcdef", "n1"]);
        let veth = format!("veth{:011x}", h & 0xfff_ffff_ffff);
        assert_eq!(veth.len(), 15);
        assert_ne!(h, hash(&["0123456789abcdef", "n2"]));
    }
}
