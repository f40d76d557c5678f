//! `container runlabel`: the host command an image label describes,
//! made as Podman 4.3 makes it (libpod's `generateRunlabelCommand`): the
//! arguments appended, the words split as a shell would, a first word
//! `podman` or `docker` replaced by this program, `IMAGE` and `NAME`
//! substituted, then `$OPT1`..`$OPT3` and `$PWD` expanded and the words
//! split once more (which is why quotes in a label do not survive, in
//! Podman as here). Pure: the caller looks the label up, resolves the
//! program on the host and runs it.

use std::collections::BTreeMap;

/// What a label's command is made from.
#[derive(Debug, Clone, Default)]
pub struct LabelRequest {
    /// The label's value.
    pub label: String,
    /// The image's newest name, or its id when it has none.
    pub image: String,
    /// `--name`, or the name [`default_name`] gives.
    pub name: String,
    /// Arguments after IMAGE, appended to the label.
    pub args: Vec<String>,
    /// `$OPT1`..`$OPT3` and `$PWD`; every other variable expands to
    /// nothing, as in Podman.
    pub vars: BTreeMap<String, String>,
}

/// Why no command came out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("EOF found when expecting closing quote")]
    UnclosedQuote,
    #[error("EOF found after escape character")]
    TrailingEscape,
    #[error("the label's command is empty")]
    Empty,
}

/// The value of `label` among `labels`, its name compared without case
/// (Podman); an empty value counts as none.
pub fn find_label<'a>(
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
    label: &str,
) -> Option<String> {
    labels
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(label))
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
}

/// The container name when `--name` is not given: the last path part of
/// the name the user gave (of the image's own name when that was an id
/// prefix), without its tag.
pub fn default_name(input: &str, image_id: &str, image_name: &str) -> String {
    let source = if image_id.starts_with(input) {
        image_name
    } else {
        input
    };
    let last = source.rsplit('/').next().unwrap_or(source);
    last.split(':').next().unwrap_or(last).to_owned()
}

/// The words of the command; the first is the label's program as
/// written, or `this_program` for `podman`/`docker` (the caller checks
/// that a path names an existing file, as Podman does).
pub fn command(req: &LabelRequest, this_program: &str) -> Result<Vec<String>, LabelError> {
    let mut text = req.label.clone();
    if !req.args.is_empty() {
        text = format!("{text} {}", req.args.join(" "));
    }
    let words = split(&text)?;
    let (first, rest) = words.split_first().ok_or(LabelError::Empty)?;
    let base = first.rsplit('/').next().unwrap_or(first);
    let program = if first == "podman" || base == "docker" {
        this_program.to_owned()
    } else {
        first.clone()
    };
    let mut out = vec![program];
    for w in rest {
        out.push(match w.as_str() {
            "IMAGE=IMAGE" => format!("IMAGE={}", req.image),
            "NAME=NAME" => format!("NAME={}", req.name),
            _ => substitute(&substitute(w, "NAME", &req.name), "IMAGE", &req.image),
        });
    }
    let expanded = expand(&out.join(" "), &|k| {
        req.vars.get(k).cloned().unwrap_or_default()
    });
    let words = split(&expanded)?;
    if words.is_empty() {
        return Err(LabelError::Empty);
    }
    Ok(words)
}

/// `program` from `cwd`, cleaned as Go's `filepath.Abs` cleans it (the
/// path Podman checks and runs).
pub fn absolute(cwd: &std::path::Path, program: &str) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::from("/");
    for c in cwd.join(program).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// `KEY`, `$KEY`, `${KEY}` and a trailing `=KEY` replaced by `value`.
fn substitute(word: &str, key: &str, value: &str) -> String {
    if word == key {
        return value.to_owned();
    }
    let mut w = word
        .replace(&format!("${key}"), value)
        .replace(&format!("${{{key}}}"), value);
    let tail = format!("={key}");
    if w.ends_with(&tail) {
        w = w.replace(&tail, &format!("={value}"));
    }
    w
}

/// Go's `os.Expand`: `$NAME` and `${NAME}` replaced by `var(NAME)`; a
/// `$` followed by nothing that can start a name stays; bad syntax
/// (`${}`, the `${` of an unclosed one) is dropped.
fn expand(s: &str, var: &dyn Fn(&str) -> String) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let mut start = 0;
    while i < b.len() {
        if b[i] != b'$' || i + 1 >= b.len() {
            i += 1;
            continue;
        }
        out.push_str(&s[start..i]);
        let next = b[i + 1];
        let (name, width): (Option<&str>, usize) = if next == b'{' {
            match s[i + 2..].find('}') {
                Some(0) => (None, 2),
                Some(end) => (Some(&s[i + 2..i + 2 + end]), end + 2),
                None => (None, 1),
            }
        } else if b"*#$@!?-".contains(&next) || next.is_ascii_digit() {
            (Some(&s[i + 1..i + 2]), 1)
        } else {
            let len = b[i + 1..].iter().take_while(|c| is_name_byte(**c)).count();
            if len == 0 {
                out.push('$');
                i += 1;
                start = i;
                continue;
            }
            (Some(&s[i + 1..i + 1 + len]), len)
        };
        if let Some(n) = name {
            out.push_str(&var(n));
        }
        i += 1 + width;
        start = i;
    }
    out.push_str(&s[start..]);
    out
}

fn is_name_byte(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

/// Shell-like words, as the `shlex` package Podman uses splits them:
/// blanks separate, `'…'` is literal, `"…"` takes `\` before `"`, `\`,
/// `$` and a newline, a `\` outside quotes escapes the next character and
/// a `#` that begins a word comments out the rest.
pub fn split(s: &str) -> Result<Vec<String>, LabelError> {
    let mut words = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else {
            return Ok(words);
        };
        if c == '#' {
            return Ok(words);
        }
        let mut w = String::new();
        while let Some(c) = chars.next() {
            match c {
                c if c.is_whitespace() => break,
                '\\' => w.push(chars.next().ok_or(LabelError::TrailingEscape)?),
                '\'' => loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(LabelError::UnclosedQuote),
                    }
                },
                '"' => loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '\n')) => w.push(e),
                            Some(e) => {
                                w.push('\\');
                                w.push(e);
                            }
                            None => return Err(LabelError::UnclosedQuote),
                        },
                        Some(c) => w.push(c),
                        None => return Err(LabelError::UnclosedQuote),
                    }
                },
                c => w.push(c),
            }
        }
        words.push(w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(label: &str, args: &[&str]) -> LabelRequest {
        LabelRequest {
            label: label.into(),
            image: "localhost/web:v1".into(),
            name: "web".into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            vars: [("PWD".to_string(), "/tmp".to_string())].into(),
        }
    }

    #[test]
    fn podman_and_docker_become_this_program_and_names_are_substituted() {
        let c = command(
            &req("podman run --name NAME IMAGE echo $PWD", &[]),
            "/bin/hutch",
        );
        assert_eq!(
            c.unwrap(),
            [
                "/bin/hutch",
                "run",
                "--name",
                "web",
                "localhost/web:v1",
                "echo",
                "/tmp"
            ]
        );
        let c = command(&req("/usr/bin/docker run ${IMAGE} n=$NAME", &["a"]), "/h");
        assert_eq!(c.unwrap(), ["/h", "run", "localhost/web:v1", "n=web", "a"]);
        // Only a bare `podman`: a path to podman is run as written (Podman).
        let c = command(&req("/usr/bin/podman version", &[]), "/h");
        assert_eq!(c.unwrap()[0], "/usr/bin/podman");
        let c = command(&req("/bin/echo IMAGE=IMAGE NAME=NAME x=IMAGE", &[]), "/h");
        assert_eq!(
            c.unwrap(),
            [
                "/bin/echo",
                "IMAGE=localhost/web:v1",
                "NAME=web",
                "x=localhost/web:v1"
            ]
        );
    }

    #[test]
    fn quotes_do_not_survive_and_unknown_variables_are_empty() {
        // Podman joins the words and splits them again after expansion.
        let c = command(&req(r#"/bin/sh -c "exit 3""#, &["y z"]), "/h");
        assert_eq!(c.unwrap(), ["/bin/sh", "-c", "exit", "3", "y", "z"]);
        let c = command(&req("echo $HOME ${OPT1} $$ $ x", &[]), "/h");
        assert_eq!(c.unwrap(), ["echo", "$", "x"]);
        assert_eq!(
            command(&req("echo 'open", &[]), "/h"),
            Err(LabelError::UnclosedQuote)
        );
        assert_eq!(command(&req("  ", &[]), "/h"), Err(LabelError::Empty));
    }

    #[test]
    fn programs_are_made_absolute_and_clean() {
        let cwd = std::path::Path::new("/home/u");
        assert_eq!(absolute(cwd, "./x"), std::path::Path::new("/home/u/x"));
        assert_eq!(
            absolute(cwd, "../b//c/."),
            std::path::Path::new("/home/b/c")
        );
        assert_eq!(
            absolute(cwd, "/usr/bin/env"),
            std::path::Path::new("/usr/bin/env")
        );
    }

    #[test]
    fn names_come_from_what_the_user_typed() {
        let id = "0123456789abcdef";
        assert_eq!(
            default_name("quay.io/a/web:v1", id, "quay.io/a/web:v1"),
            "web"
        );
        assert_eq!(default_name("0123", id, "localhost/web:v1"), "web");
        let labels: BTreeMap<String, String> =
            [("RUN".to_string(), "podman run IMAGE".to_string())].into();
        assert_eq!(
            find_label(&labels, "run").as_deref(),
            Some("podman run IMAGE")
        );
        assert_eq!(find_label(&labels, "install"), None);
    }
}
