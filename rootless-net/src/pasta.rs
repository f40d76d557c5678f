//! pasta's command line, as Podman builds it (libpod/networking_pasta.go).

use std::path::Path;

use crate::ports::{PortMapping, Protocol};

/// The address pasta answers DNS queries on and forwards them to the host's
/// resolver (Podman 5's choice): the container's resolv.conf points at it.
pub const DNS_FORWARD: &str = "169.254.1.1";

/// Arguments for `pasta`, run in the foreground (so that it is the
/// monitor's child and dies with it) against the namespace at `netns`.
pub fn args(
    netns: &Path,
    ports: &[PortMapping],
    options: &[String],
    pid_file: &Path,
) -> Vec<String> {
    let mut args: Vec<String> = vec!["--config-net".into()];
    let (mut tcp, mut udp, mut tcp_ns, mut udp_ns, mut map_gw) =
        (false, false, false, false, false);
    for o in options {
        match o.as_str() {
            "-t" | "--tcp-ports" => tcp = true,
            "-u" | "--udp-ports" => udp = true,
            "-T" | "--tcp-ns" => tcp_ns = true,
            "-U" | "--udp-ns" => udp_ns = true,
            // Podman's own option, not pasta's: let the container reach
            // the host's loopback through the gateway address.
            "--map-gw" => {
                map_gw = true;
                continue;
            }
            _ => {}
        }
        args.push(o.clone());
    }
    for p in ports {
        let mut spec = String::new();
        if !p.host_ip.is_empty() {
            spec.push_str(&p.host_ip);
            spec.push('/');
        }
        spec.push_str(&format!(
            "{}-{}:{}-{}",
            p.host_port,
            p.host_port + (p.range - 1),
            p.container_port,
            p.container_port + (p.range - 1)
        ));
        match p.protocol {
            Protocol::Tcp => {
                tcp = true;
                args.push("-t".into());
            }
            Protocol::Udp => {
                udp = true;
                args.push("-u".into());
            }
        }
        args.push(spec);
    }
    // pasta's default is "auto" (every port bound at start); Podman asks for
    // exactly the published ones.
    for (given, flag) in [(tcp, "-t"), (udp, "-u"), (tcp_ns, "-T"), (udp_ns, "-U")] {
        if !given {
            args.push(flag.into());
            args.push("none".into());
        }
    }
    if !map_gw {
        args.push("--no-map-gw".into());
    }
    args.extend(
        [
            "--dns-forward",
            DNS_FORWARD,
            "--quiet",
            "--foreground",
            "--pid",
        ]
        .map(String::from),
    );
    args.push(pid_file.display().to_string());
    args.push("--netns".into());
    args.push(netns.display().to_string());
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_arguments() {
        let ports = vec![
            PortMapping {
                host_ip: "127.0.0.1".into(),
                host_port: 8080,
                container_port: 80,
                range: 1,
                protocol: Protocol::Tcp,
            },
            PortMapping {
                host_ip: String::new(),
                host_port: 5000,
                container_port: 53,
                range: 2,
                protocol: Protocol::Udp,
            },
        ];
        let a = args(Path::new("/run/ns"), &ports, &[], Path::new("/run/p"));
        let s = a.join(" ");
        assert!(s.starts_with("--config-net -t 127.0.0.1/8080-8080:80-80 -u 5000-5001:53-54 -T none -U none --no-map-gw"), "{s}");
        assert!(s.ends_with("--pid /run/p --netns /run/ns"), "{s}");
        let a = args(
            Path::new("/n"),
            &[],
            &["--map-gw".into(), "-T".into(), "9000".into()],
            Path::new("/p"),
        );
        let s = a.join(" ");
        assert!(
            s.starts_with("--config-net -T 9000 -t none -u none -U none --dns-forward"),
            "{s}"
        );
        assert!(!s.contains("map-gw"), "{s}");
    }
}
