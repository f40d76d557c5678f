//! Rootless networking for hutch: pasta and slirp4netns attached to a
//! container's network namespace, port forwarding, the rootless network
//! namespace that holds user networks, and their DNS.
//!
//! It is empty until the networking issue lands; the workspace keeps its place
//! so that the layout is the architecture from the first commit.
