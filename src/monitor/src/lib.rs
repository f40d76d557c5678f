//! hutch's per-container monitor (conmon's role), run as `hutch-monitor ID
//! LAUNCH_FILE` by `hutch run`/`start`, one per running container.
//!
//! It reads one launch description ([`launch::Launch`], written by hutch),
//! starts the network helper, runs the runtime's `create`/`start`, relays
//! the container's output to the log and to attach clients
//! ([`relay::Relay`], [`frame`] protocol), waits for the init through a
//! pidfd, writes the exit code atomically, then runs hutch's cleanup
//! command (`hutch __cleanup ID`, as conmon's exit command) and only then
//! tells the clients the exit code.
//!
//! What it deliberately does not do: open the state database or the image
//! store, talk to D-Bus, parse configuration. hutch prepares all of that
//! (mount, cgroup, user network attachment) and records the state
//! transitions; the monitor only reports on its sync socket (fd 3):
//! `attach`, then `ok PID` or `err CODE MESSAGE`. That keeps the monitor a
//! small binary (std, libc, rustix, serde_json and the rootless-net
//! helpers) with a resident size near conmon's, however many containers
//! run. Its warnings go to its stderr, `userdata/monitor.log`.
//!
//! Run as `hutch-monitor __netns-holder DIR` it is the process that holds
//! the rootless netns of user networks instead.

pub mod forward;
pub mod frame;
pub mod health;
pub mod launch;
pub mod logfile;
mod monitor;
pub mod notify;
pub mod relay;
pub mod terminal;

use std::path::Path;
use std::process::ExitCode;

/// The binary's entry point: the container's exit code, 125 when the
/// monitor could not run it.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // The holder of the rootless netns of user networks (see
    // `hutch_rootless_net::usernet`) is this small binary too: it lives as
    // long as any container is on a user network.
    if args.get(1).is_some_and(|a| a == "__netns-holder") {
        let Some(dir) = args.get(2) else {
            eprintln!("usage: hutch-monitor __netns-holder DIR");
            return ExitCode::from(125);
        };
        return match hutch_rootless_net::usernet::holder_main(Path::new(dir)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("hutch-monitor __netns-holder: {e}");
                ExitCode::from(125)
            }
        };
    }
    let (Some(id), Some(file)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: hutch-monitor ID LAUNCH_FILE (it is started by hutch run/start)");
        return ExitCode::from(125);
    };
    let launch = match launch::Launch::read(Path::new(file)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("hutch-monitor {}: {e}", id.to_string_lossy());
            return ExitCode::from(125);
        }
    };
    let code = monitor::run(&launch);
    ExitCode::from(u8::try_from(code).unwrap_or(125))
}
