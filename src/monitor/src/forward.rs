//! Published ports of a container on user networks: listeners in the
//! host's namespace (where the monitor runs) whose connections are opened
//! from threads that entered the rootless netns, towards the container's
//! address. They live in the monitor, one forwarder per container like
//! Podman's rootlessport, so the ports live and die with it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hutch_rootless_net::{PortMapping, Protocol};

/// Listeners in the host's namespace (where the monitor runs) whose
/// connections are opened from threads that entered the rootless netns
/// (namespaces are per thread), towards the container's address.
pub struct Forwarder {
    tcp: Vec<Arc<TcpListener>>,
    udp: Vec<Arc<UdpSocket>>,
}

impl Forwarder {
    /// Binds every published port (all or nothing) and starts its thread.
    pub fn start(
        rootless_ns: &Path,
        ports: &[PortMapping],
        ip: Ipv4Addr,
    ) -> Result<Forwarder, String> {
        let mut f = Forwarder {
            tcp: Vec::new(),
            udp: Vec::new(),
        };
        for p in ports {
            let host_ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                p.host_ip.as_str()
            };
            for k in 0..p.range {
                let bind = format!("{host_ip}:{}", p.host_port + k);
                let bind = bind
                    .parse::<SocketAddr>()
                    .or_else(|_| format!("[{host_ip}]:{}", p.host_port + k).parse())
                    .map_err(|_| format!("invalid host address {host_ip}"))?;
                let target = SocketAddr::from((ip, p.container_port + k));
                let ns = rootless_ns.to_owned();
                match p.protocol {
                    Protocol::Tcp => {
                        let l = Arc::new(
                            TcpListener::bind(bind)
                                .map_err(|e| format!("binding port {bind}/tcp: {e}"))?,
                        );
                        f.tcp.push(l.clone());
                        std::thread::spawn(move || accept_loop(&l, &ns, target));
                    }
                    Protocol::Udp => {
                        let s = Arc::new(
                            UdpSocket::bind(bind)
                                .map_err(|e| format!("binding port {bind}/udp: {e}"))?,
                        );
                        f.udp.push(s.clone());
                        std::thread::spawn(move || udp_loop(&s, &ns, target));
                    }
                }
            }
        }
        Ok(f)
    }

    /// Closes the listeners: a shutdown wakes their threads, which drop
    /// them (connections already made end on their own).
    pub fn stop(self) {
        for l in &self.tcp {
            // SAFETY: shutdown of a socket we still hold.
            unsafe { libc::shutdown(l.as_raw_fd(), libc::SHUT_RDWR) };
        }
        for s in &self.udp {
            // SAFETY: as above.
            unsafe { libc::shutdown(s.as_raw_fd(), libc::SHUT_RDWR) };
        }
    }
}

/// Moves the calling thread into the namespace held at `ns`.
fn enter(ns: &Path) -> std::io::Result<()> {
    let f = File::open(ns)?;
    // SAFETY: setns of this thread with an fd we own.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn accept_loop(l: &TcpListener, ns: &Path, target: SocketAddr) {
    loop {
        let client = match l.accept() {
            Ok((c, _)) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // Shut down by `stop`.
            Err(_) => return,
        };
        let ns = ns.to_owned();
        std::thread::spawn(move || {
            let Ok(server) = enter(&ns)
                .and_then(|_| TcpStream::connect_timeout(&target, Duration::from_secs(10)))
            else {
                return;
            };
            relay_tcp(client, server);
        });
    }
}

fn relay_tcp(client: TcpStream, server: TcpStream) {
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || copy_half(client, server));
    copy_half(s2, c2);
    let _ = up.join();
}

/// Copies until EOF, then passes the EOF on (half close).
fn copy_half(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 32 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// UDP: one socket in the rootless netns per client address, connected to
/// the container; its replies go back through the listening socket. A
/// client quiet for a minute is forgotten.
fn udp_loop(listener: &Arc<UdpSocket>, ns: &Path, target: SocketAddr) {
    let sessions: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Arc::default();
    let mut buf = [0u8; 65536];
    loop {
        let (n, client) = match listener.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        // A shutdown socket reads empty datagrams from nowhere.
        if n == 0 && client.port() == 0 {
            return;
        }
        let known = sessions.lock().ok().and_then(|m| m.get(&client).cloned());
        if let Some(s) = known {
            let _ = s.send(&buf[..n]);
            continue;
        }
        let first = buf[..n].to_vec();
        let (ns, sessions, reply) = (ns.to_owned(), sessions.clone(), listener.clone());
        std::thread::spawn(move || {
            let made = enter(&ns)
                .and_then(|_| UdpSocket::bind("0.0.0.0:0"))
                .and_then(|s| s.connect(target).map(|_| s));
            let Ok(s) = made else {
                return;
            };
            let s = Arc::new(s);
            let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
            if let Ok(mut m) = sessions.lock() {
                m.insert(client, s.clone());
            }
            let _ = s.send(&first);
            let mut buf = [0u8; 65536];
            while let Ok(n) = s.recv(&mut buf) {
                if reply.send_to(&buf[..n], client).is_err() {
                    break;
                }
            }
            if let Ok(mut m) = sessions.lock() {
                m.remove(&client);
            }
        });
    }
}
