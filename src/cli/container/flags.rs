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
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY for the container
    #[arg(short, long)]
    pub tty: bool,
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
            interactive: self.interactive,
            tty: self.tty,
        }
    }
}
