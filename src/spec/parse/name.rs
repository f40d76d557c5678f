//! Names of containers and volumes (Podman's `[a-zA-Z0-9][a-zA-Z0-9_.-]*`).

/// Whether `name` is a valid container or volume name.
pub fn is_valid(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Refuses an invalid name, in the state database's words.
pub fn validate(kind: &str, name: &str) -> anyhow::Result<()> {
    if is_valid(name) {
        Ok(())
    } else {
        anyhow::bail!(
            "invalid {kind} name {name:?}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
        )
    }
}
