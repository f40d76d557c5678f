//! The flags `create` and `run` share, and the request they make.

use crate::engine::container::create::CreateRequest;

/// Flags of `hutch create` and `hutch run` (Podman's names).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CreateFlags {
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables in the container
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Make the container's root filesystem read-only
    #[arg(long)]
    pub read_only: bool,
    /// Path or name of the OCI runtime (crun, runc)
    #[arg(long)]
    pub runtime: Option<String>,
    // Lifecycle flags.
    /// Restart policy to apply when a container exits (no, on-failure[:N], always, unless-stopped)
    #[arg(long)]
    pub restart: Option<String>,
    /// Signal to stop a container (default SIGTERM)
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container (default 10)
    #[arg(long)]
    pub stop_timeout: Option<u32>,
    /// Write the container ID to the file
    #[arg(long)]
    pub cidfile: Option<String>,
    /// If a container with the same name exists, replace it
    #[arg(long)]
    pub replace: bool,
}

impl CreateFlags {
    /// The engine request for IMAGE and COMMAND with these flags.
    pub fn request(&self, image: &str, command: &[String]) -> CreateRequest {
        CreateRequest {
            image: image.to_owned(),
            command: command.to_vec(),
            name: self.name.clone(),
            entrypoint: self.entrypoint.clone(),
            env: self.env.clone(),
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            read_only: self.read_only,
            remove: self.rm,
            runtime: self.runtime.clone(),
            restart: self.restart.clone(),
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            cidfile: self.cidfile.clone(),
            replace: self.replace,
        }
    }
}
