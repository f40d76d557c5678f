//! The engine's error: what went wrong, as a chain of context that says
//! what, where and the fix, plus the *kind* of failure, which travels with
//! it to every front end (Podman's `define.ErrNoSuchCtr`,
//! `ErrCtrStateInvalid`, ... role). The CLI maps kinds to Podman's exit
//! codes, the REST API to HTTP status codes; neither parses message text.
//!
//! Module errors stay `thiserror` enums ([`StateError`], [`LookupError`],
//! [`RuntimeError`], ...); converting one into an [`Error`] derives its kind
//! from the variant, so a `?` keeps "no such container" a not-found.

use std::fmt;

use crate::engine::image::LookupError;
use crate::engine::state::StateError;
use crate::runtime::oci::RuntimeError;

/// What kind of failure an error is: what a caller may act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No such container, image, volume, network or exec session.
    NotFound,
    /// A name or id in use, an object in use by another (`volume rm` of a
    /// mounted volume, `rm` of a container others depend on).
    Conflict,
    /// The object exists but is in the wrong state for the operation
    /// (`exec` into a stopped container, `rm` of a running one).
    InvalidState,
    /// The request itself is wrong: a malformed flag value, an unknown
    /// option, values that contradict each other.
    BadInput,
    /// The OCI runtime or the container's command failed; `code` is the
    /// exit status Podman gives (125 the runtime, 126 cannot invoke, 127
    /// not found, or the container's own).
    Runtime { code: u8 },
    /// Anything else: I/O, the database, a helper that died.
    Internal,
}

impl ErrorKind {
    /// Podman's exit code for a command that failed with this kind, where
    /// the command has no rule of its own (`rm` of a missing container
    /// exits 1, for instance: that is the command's choice).
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Runtime { code } => code,
            _ => 125,
        }
    }

    /// The HTTP status the Docker and libpod APIs give for this kind.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict | ErrorKind::InvalidState => 409,
            ErrorKind::BadInput => 400,
            ErrorKind::Runtime { .. } | ErrorKind::Internal => 500,
        }
    }
}

/// An engine failure: its kind and the chain of what was being done.
pub struct Error {
    kind: ErrorKind,
    inner: anyhow::Error,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl fmt::Display) -> Error {
        Error {
            kind,
            inner: anyhow::anyhow!("{message}"),
        }
    }

    pub fn not_found(message: impl fmt::Display) -> Error {
        Error::new(ErrorKind::NotFound, message)
    }

    pub fn conflict(message: impl fmt::Display) -> Error {
        Error::new(ErrorKind::Conflict, message)
    }

    pub fn invalid_state(message: impl fmt::Display) -> Error {
        Error::new(ErrorKind::InvalidState, message)
    }

    pub fn bad_input(message: impl fmt::Display) -> Error {
        Error::new(ErrorKind::BadInput, message)
    }

    pub fn runtime(code: u8, message: impl fmt::Display) -> Error {
        Error::new(ErrorKind::Runtime { code }, message)
    }

    pub fn internal(message: impl fmt::Display) -> Error {
        Error::new(ErrorKind::Internal, message)
    }

    /// Any error, with its kind derived from the typed errors in its chain
    /// (an `anyhow` chain built inside the engine keeps the kind of the
    /// module error at its root).
    pub fn from_any(inner: anyhow::Error) -> Error {
        if let Some(e) = inner.downcast_ref::<Error>() {
            let kind = e.kind;
            return Error { kind, inner };
        }
        let kind = kind_of_chain(&inner);
        Error { kind, inner }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The same error with another kind: the caller knows better (a
    /// missing file named by the user is bad input, not internal).
    pub fn with_kind(mut self, kind: ErrorKind) -> Error {
        self.kind = kind;
        self
    }

    /// Adds what was being done, keeping the kind.
    pub fn context(self, what: impl fmt::Display + Send + Sync + 'static) -> Error {
        Error {
            kind: self.kind,
            inner: self.inner.context(what),
        }
    }

    /// The whole chain on one line, each cause once: "starting x: running
    /// crun create: no such file". Module errors already print their
    /// source, so a cause whose text the line holds already is skipped.
    pub fn text(&self) -> String {
        chain_text(&self.inner)
    }

    /// The underlying chain, for front ends that walk it.
    pub fn chain(&self) -> anyhow::Chain<'_> {
        self.inner.chain()
    }

    /// The typed module error at the root of the chain, when it is one.
    pub fn downcast_ref<E>(&self) -> Option<&E>
    where
        E: std::error::Error + 'static,
    {
        self.inner.chain().find_map(|c| c.downcast_ref::<E>())
    }

    pub fn into_anyhow(self) -> anyhow::Error {
        anyhow::Error::from(self)
    }
}

/// One line from an error chain, each cause once (see [`Error::text`]).
pub fn chain_text(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

fn kind_of_chain(e: &anyhow::Error) -> ErrorKind {
    for cause in e.chain() {
        if let Some(e) = cause.downcast_ref::<Error>() {
            return e.kind;
        }
        if let Some(e) = cause.downcast_ref::<StateError>() {
            return state_kind(e);
        }
        if let Some(e) = cause.downcast_ref::<LookupError>() {
            return lookup_kind(e);
        }
        if let Some(e) = cause.downcast_ref::<RuntimeError>() {
            return runtime_kind(e);
        }
    }
    ErrorKind::Internal
}

fn state_kind(e: &StateError) -> ErrorKind {
    match e {
        StateError::NoSuchContainer { .. }
        | StateError::NoSuchVolume { .. }
        | StateError::NoSuchExec { .. }
        | StateError::NoSuchPod { .. } => ErrorKind::NotFound,
        StateError::NameInUse { .. }
        | StateError::IdInUse { .. }
        | StateError::VolumeExists { .. }
        | StateError::VolumeInUse { .. }
        | StateError::ExecExists { .. }
        | StateError::AmbiguousContainer { .. }
        | StateError::AmbiguousPod { .. }
        | StateError::PodNameInUse { .. }
        | StateError::PodHasContainers { .. } => ErrorKind::Conflict,
        StateError::IllegalTransition { .. }
        | StateError::RemoveActive { .. }
        | StateError::IllegalExecTransition { .. } => ErrorKind::InvalidState,
        StateError::InvalidName { .. } | StateError::InvalidId { .. } => ErrorKind::BadInput,
        _ => ErrorKind::Internal,
    }
}

fn lookup_kind(e: &LookupError) -> ErrorKind {
    match e {
        LookupError::NotKnown(_) => ErrorKind::NotFound,
        LookupError::Ambiguous { .. } => ErrorKind::Conflict,
        LookupError::Store(_) => ErrorKind::Internal,
    }
}

fn runtime_kind(e: &RuntimeError) -> ErrorKind {
    match e {
        RuntimeError::NoneInstalled | RuntimeError::NotFound(_) => ErrorKind::Runtime { code: 125 },
        RuntimeError::Spawn { .. } | RuntimeError::Failed { .. } => {
            ErrorKind::Runtime { code: 125 }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.write_str(&self.text())
        } else {
            fmt::Display::fmt(&self.inner, f)
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({:?})", self.inner, self.kind)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Error {
        Error::from_any(e)
    }
}

macro_rules! typed_from {
    ($($t:ty => $kind:expr),* $(,)?) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Error {
                #[allow(clippy::redundant_closure_call)]
                let kind = ($kind)(&e);
                Error { kind, inner: anyhow::Error::new(e) }
            }
        }
    )*};
}

typed_from! {
    StateError => state_kind,
    LookupError => lookup_kind,
    RuntimeError => runtime_kind,
    std::io::Error => |_: &std::io::Error| ErrorKind::Internal,
    serde_json::Error => |_: &serde_json::Error| ErrorKind::Internal,
    hutch_storage::StoreError => |_: &hutch_storage::StoreError| ErrorKind::Internal,
    crate::runtime::spec::SpecError => |_: &crate::runtime::spec::SpecError| ErrorKind::BadInput,
    crate::runtime::spec::resources::ResourceError =>
        |_: &crate::runtime::spec::resources::ResourceError| ErrorKind::BadInput,
}

/// `.context()` and `.kind()` on results whose error becomes an [`Error`],
/// so engine code adds what it was doing without losing the kind.
pub trait ResultExt<T> {
    fn context<C>(self, what: C) -> Result<T>
    where
        C: fmt::Display + Send + Sync + 'static;
    fn with_context<C, F>(self, f: F) -> Result<T>
    where
        C: fmt::Display + Send + Sync + 'static,
        F: FnOnce() -> C;
    /// Sets the kind: the caller knows what this failure means here.
    fn kind(self, kind: ErrorKind) -> Result<T>;
}

impl<T, E> ResultExt<T> for std::result::Result<T, E>
where
    E: Into<Error>,
{
    fn context<C>(self, what: C) -> Result<T>
    where
        C: fmt::Display + Send + Sync + 'static,
    {
        self.map_err(|e| e.into().context(what))
    }

    fn with_context<C, F>(self, f: F) -> Result<T>
    where
        C: fmt::Display + Send + Sync + 'static,
        F: FnOnce() -> C,
    {
        self.map_err(|e| e.into().context(f()))
    }

    fn kind(self, kind: ErrorKind) -> Result<T> {
        self.map_err(|e| e.into().with_kind(kind))
    }
}

/// `bail!` with a kind: `fail!(BadInput, "invalid pull policy {p:?}")`.
#[macro_export]
macro_rules! fail {
    ($kind:ident, $($arg:tt)*) => {
        return Err($crate::engine::Error::new(
            $crate::engine::ErrorKind::$kind,
            format!($($arg)*),
        ))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_travel_through_context() {
        let e: Error = StateError::NoSuchContainer { query: "x".into() }.into();
        let e = e.context("starting x");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            e.text(),
            "starting x: no container with name or ID \"x\" found: no such container"
        );
        // Through anyhow and back, as code that still uses anyhow does.
        let any = anyhow::Error::from(e).context("outer");
        let back = Error::from(any);
        assert_eq!(back.kind(), ErrorKind::NotFound);
        assert!(
            back.text().starts_with("outer: starting x"),
            "{}",
            back.text()
        );
    }

    #[test]
    fn kinds_from_module_errors_in_an_anyhow_chain() {
        let any = anyhow::Error::new(StateError::RemoveActive {
            id: "abc".into(),
            state: crate::engine::state::ContainerState::Running,
        })
        .context("removing abc");
        assert_eq!(Error::from(any).kind(), ErrorKind::InvalidState);
        let any = anyhow::anyhow!("plain");
        assert_eq!(Error::from(any).kind(), ErrorKind::Internal);
    }

    #[test]
    fn exit_codes_and_statuses() {
        assert_eq!(ErrorKind::NotFound.exit_code(), 125);
        assert_eq!(ErrorKind::Runtime { code: 127 }.exit_code(), 127);
        assert_eq!(ErrorKind::NotFound.http_status(), 404);
        assert_eq!(ErrorKind::Conflict.http_status(), 409);
        assert_eq!(ErrorKind::BadInput.http_status(), 400);
        let r: Result<()> = Err(std::io::Error::other("x")).kind(ErrorKind::BadInput);
        assert_eq!(r.unwrap_err().kind(), ErrorKind::BadInput);
    }
}
