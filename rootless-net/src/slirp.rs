//! slirp4netns's command line (as Podman's libpod/networking_slirp4netns.go)
//! and its API socket, through which ports are published.

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::NetError;
use crate::mode::NetworkMode;
use crate::ports::PortMapping;

/// The fd numbers the child gets: slirp4netns exits when the exit fd
/// closes (the monitor died), and writes to the ready fd once configured.
pub const EXIT_FD: i32 = 3;
pub const READY_FD: i32 = 4;

const DEFAULT_CIDR: &str = "10.0.2.0/24";

/// The network's base address (10.0.2.0 by default).
fn base(mode: &NetworkMode) -> Result<Ipv4Addr, NetError> {
    let cidr = mode.slirp_option("cidr").unwrap_or(DEFAULT_CIDR);
    let bad = || NetError::Mode(format!("cidr={cidr}"), "not an IPv4 CIDR".into());
    let (addr, bits) = cidr.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let bits: u32 = bits.parse().map_err(|_| bad())?;
    if !(1..=25).contains(&bits) {
        return Err(bad());
    }
    Ok(Ipv4Addr::from(u32::from(addr) & (u32::MAX << (32 - bits))))
}

fn nth(mode: &NetworkMode, n: u32) -> Result<Ipv4Addr, NetError> {
    Ok(Ipv4Addr::from(u32::from(base(mode)?) + n))
}

/// The container's own address (slirp4netns gives .100).
pub fn guest_addr(mode: &NetworkMode) -> Result<Ipv4Addr, NetError> {
    nth(mode, 100)
}

/// slirp4netns's built-in DNS forwarder (.3).
pub fn dns_addr(mode: &NetworkMode) -> Result<Ipv4Addr, NetError> {
    nth(mode, 3)
}

/// Arguments for slirp4netns against the namespace at `netns`.
pub fn args(mode: &NetworkMode, netns: &Path, api_socket: &Path) -> Result<Vec<String>, NetError> {
    base(mode)?;
    let mut a: Vec<String> = Vec::new();
    if mode.slirp_option("allow_host_loopback") != Some("true") {
        a.push("--disable-host-loopback".into());
    }
    a.push(format!(
        "--mtu={}",
        mode.slirp_option("mtu").unwrap_or("65520")
    ));
    a.push("--enable-sandbox".into());
    a.push("--enable-seccomp".into());
    if let Some(c) = mode.slirp_option("cidr") {
        a.push(format!("--cidr={c}"));
    }
    // Podman's default is on (its command line carries --enable-ipv6).
    if mode.slirp_option("enable_ipv6") != Some("false") {
        a.push("--enable-ipv6".into());
    }
    if let Some(o) = mode.slirp_option("outbound_addr") {
        a.push(format!("--outbound-addr={o}"));
    }
    if let Some(o) = mode.slirp_option("outbound_addr6") {
        a.push(format!("--outbound-addr6={o}"));
    }
    a.push(format!("--exit-fd={EXIT_FD}"));
    a.push(format!("--ready-fd={READY_FD}"));
    a.push(format!("--api-socket={}", api_socket.display()));
    a.push("--netns-type=path".into());
    a.push("--configure".into());
    a.push(netns.display().to_string());
    a.push("tap0".into());
    Ok(a)
}

/// Publishes one port range through the API socket.
pub fn add_hostfwd(api_socket: &Path, mode: &NetworkMode, p: &PortMapping) -> Result<(), NetError> {
    let guest = guest_addr(mode)?;
    let host_addr = if p.host_ip.is_empty() {
        "0.0.0.0"
    } else {
        &p.host_ip
    };
    for k in 0..p.range {
        let req = serde_json::json!({
            "execute": "add_hostfwd",
            "arguments": {
                "proto": p.protocol.to_string(),
                "host_addr": host_addr,
                "host_port": p.host_port + k,
                "guest_addr": guest.to_string(),
                "guest_port": p.container_port + k,
            }
        });
        let what = || {
            format!(
                "publishing port {} through {}",
                p.host_port + k,
                api_socket.display()
            )
        };
        let mut s = UnixStream::connect(api_socket).map_err(|e| NetError::io(what(), e))?;
        s.write_all(req.to_string().as_bytes())
            .and_then(|_| s.shutdown(std::net::Shutdown::Write))
            .map_err(|e| NetError::io(what(), e))?;
        let mut reply = String::new();
        s.read_to_string(&mut reply)
            .map_err(|e| NetError::io(what(), e))?;
        let v: serde_json::Value = serde_json::from_str(&reply).unwrap_or_default();
        if v.get("return").is_none() {
            return Err(NetError::Helper(format!(
                "slirp4netns refused port {} ({}): {}",
                p.host_port + k,
                p.protocol,
                v.get("error").map(|e| e.to_string()).unwrap_or(reply)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_arguments_and_addresses() {
        let m = NetworkMode::parse("slirp4netns", &NetworkMode::None).unwrap();
        let a = args(&m, Path::new("/ns"), Path::new("/s"))
            .unwrap()
            .join(" ");
        assert_eq!(
            a,
            "--disable-host-loopback --mtu=65520 --enable-sandbox --enable-seccomp --enable-ipv6 --exit-fd=3 --ready-fd=4 --api-socket=/s --netns-type=path --configure /ns tap0"
        );
        assert_eq!(guest_addr(&m).unwrap().to_string(), "10.0.2.100");
        let m = NetworkMode::parse(
            "slirp4netns:allow_host_loopback=true,cidr=10.5.0.0/16",
            &NetworkMode::None,
        )
        .unwrap();
        let a = args(&m, Path::new("/ns"), Path::new("/s"))
            .unwrap()
            .join(" ");
        assert!(!a.contains("disable-host-loopback") && a.contains("--cidr=10.5.0.0/16"));
        let v4 = NetworkMode::parse("slirp4netns:enable_ipv6=false", &NetworkMode::None).unwrap();
        let a = args(&v4, Path::new("/ns"), Path::new("/s"))
            .unwrap()
            .join(" ");
        assert!(!a.contains("ipv6"), "{a}");
        assert_eq!(dns_addr(&m).unwrap().to_string(), "10.5.0.3");
        let m = NetworkMode::parse("slirp4netns:cidr=bogus", &NetworkMode::None).unwrap();
        assert!(args(&m, Path::new("/ns"), Path::new("/s")).is_err());
    }
}
