//! `RUN --mount=type=ssh`: a socket made for the step that forwards each
//! connection to the agent `build --ssh` names, as buildah serves one.
//! A forwarder rather than the agent's own socket bind-mounted: the
//! socket gets the mount's owner and mode (an agent's socket is its
//! user's alone, which a RUN as another USER could not open), the agent's
//! path is not shown inside, and the socket goes when the step ends.
//! Bytes are copied as they come, never buffered whole: an agent's
//! messages are small, and a connection lasts as long as both ends.

use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crate::engine::{Result, ResultExt};

/// A listening forwarder; stopped (and its socket removed) when dropped.
pub struct AgentProxy {
    pub path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AgentProxy {
    /// Listens at `path` (owned `uid`:`gid`, `mode`), forwarding to
    /// `agent`, which must answer now: a build that cannot reach its agent
    /// fails here, naming it, rather than in a RUN's own ssh client.
    pub fn start(path: &Path, agent: &Path, uid: u32, gid: u32, mode: u32) -> Result<AgentProxy> {
        UnixStream::connect(agent)
            .with_context(|| format!("connecting to the ssh agent at {}", agent.display()))?;
        let listener = UnixListener::bind(path)
            .with_context(|| format!("creating the ssh agent socket {}", path.display()))?;
        super::runmounts::set_owner_mode(path, uid, gid, mode)
            .with_context(|| format!("setting the owner of {}", path.display()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let agent = agent.to_owned();
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    match conn {
                        Ok(client) => {
                            let agent = agent.clone();
                            std::thread::spawn(move || {
                                if let Err(e) = forward(client, &agent) {
                                    tracing::debug!("ssh agent connection: {e}");
                                }
                            });
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            tracing::warn!("the ssh agent socket stopped accepting: {e}");
                            break;
                        }
                    }
                }
            })
        };
        Ok(AgentProxy {
            path: path.to_owned(),
            stop,
            thread: Some(thread),
        })
    }
}

/// Copies both ways until either side closes.
fn forward(client: UnixStream, agent: &Path) -> io::Result<()> {
    let server = UnixStream::connect(agent)?;
    let (mut c_read, mut s_write) = (client.try_clone()?, server.try_clone()?);
    let up = std::thread::spawn(move || {
        let _ = io::copy(&mut c_read, &mut s_write);
        let _ = s_write.shutdown(std::net::Shutdown::Write);
    });
    let (mut s_read, mut c_write) = (server, client);
    let _ = io::copy(&mut s_read, &mut c_write);
    let _ = c_write.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
    Ok(())
}

impl Drop for AgentProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees `stop`.
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}
