//! A Containerfile as hutch evaluates it: the `parse-dockerfile` crate's
//! syntax tree (which borrows the text) turned into owned stages and
//! steps, each with the text Podman prints for it. Nothing is expanded
//! here: ARG and ENV values are known only while the build runs.

use parse_dockerfile as pd;

/// Bytes of Containerfile read at most (Podman has no limit; hutch holds
/// the whole text and its tree in memory).
pub const MAX_CONTAINERFILE: usize = 16 << 20;

#[derive(Debug, Clone)]
pub struct Containerfile {
    pub escape: char,
    /// `# syntax=` asks for a BuildKit frontend hutch does not run.
    pub syntax: Option<String>,
    /// ARGs before the first FROM: usable in FROM lines only.
    pub global_args: Vec<String>,
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone)]
pub struct Stage {
    pub name: Option<String>,
    /// The base as written (`busybox`, `$BASE`, a stage name, `scratch`).
    pub base: String,
    pub platform: Option<String>,
    pub from_text: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub struct Step {
    /// `RUN echo hi`: the first logical line, as Podman's STEP line shows.
    pub text: String,
    pub inst: Inst,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandForm {
    Exec(Vec<String>),
    /// The text for `sh -c`, line continuations removed.
    Shell(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// False when the delimiter was quoted: no expansion.
    pub expand: bool,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopySource {
    Path(String),
    Heredoc(Heredoc),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySpec {
    pub add: bool,
    pub flags: Vec<Flag>,
    pub sources: Vec<CopySource>,
    pub dest: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inst {
    Run {
        command: CommandForm,
        heredocs: Vec<Heredoc>,
        flags: Vec<Flag>,
    },
    Copy(CopySpec),
    /// The raw arguments (`A=1 B="2 3"` or the legacy `A 1`).
    Env(String),
    Arg(String),
    Label(String),
    Workdir(String),
    User(String),
    Expose(Vec<String>),
    Volume(Vec<String>),
    Entrypoint(CommandForm),
    Cmd(CommandForm),
    Shell(Vec<String>),
    Stopsignal(String),
    Healthcheck {
        flags: Vec<Flag>,
        /// `None`: `HEALTHCHECK NONE`.
        command: Option<CommandForm>,
    },
    /// The trigger's text, stored in the image's OnBuild list.
    Onbuild(String),
    Maintainer(String),
}

impl Inst {
    /// Whether the step changes the file system (and so needs a container).
    pub fn touches_files(&self) -> bool {
        matches!(self, Inst::Run { .. } | Inst::Copy(_))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the Containerfile is larger than {MAX_CONTAINERFILE} bytes")]
    TooLarge,
    #[error("{0}")]
    Syntax(String),
    #[error("no FROM instruction: a Containerfile must start a stage with FROM")]
    NoFrom,
}

pub fn parse(text: &str) -> Result<Containerfile, ParseError> {
    if text.len() > MAX_CONTAINERFILE {
        return Err(ParseError::TooLarge);
    }
    let escape_hint = if text.lines().take_while(|l| l.starts_with('#')).any(|l| {
        l.trim_start_matches('#')
            .trim()
            .to_ascii_lowercase()
            .replace(' ', "")
            == "escape=`"
    }) {
        '`'
    } else {
        '\\'
    };
    let (wrapped, originals) = wrap_run_heredocs(text, escape_hint);
    let text = wrapped.as_str();
    let df = pd::parse(text).map_err(|e| ParseError::Syntax(format!("{e}")))?;
    let escape = df
        .parser_directives
        .escape
        .as_ref()
        .map(|d| d.value.value)
        .unwrap_or('\\');
    let syntax = df
        .parser_directives
        .syntax
        .as_ref()
        .map(|d| d.value.value.to_owned());
    let mut out = Containerfile {
        escape,
        syntax,
        global_args: Vec::new(),
        stages: Vec::new(),
    };
    for inst in &df.instructions {
        match inst {
            pd::Instruction::From(f) => {
                let text_start = f.from.span.start;
                out.stages.push(Stage {
                    name: f.as_.as_ref().map(|(_, n)| n.value.to_string()),
                    base: f.image.value.to_string(),
                    platform: f
                        .options
                        .iter()
                        .find(|o| o.name.value == "platform")
                        .and_then(|o| o.value.as_ref().map(|v| v.value.to_string())),
                    from_text: logical_line(text, text_start, escape),
                    steps: Vec::new(),
                });
            }
            pd::Instruction::Arg(a) if out.stages.is_empty() => {
                out.global_args.push(a.arguments.value.to_string());
            }
            other => {
                let Some(stage) = out.stages.last_mut() else {
                    return Err(ParseError::NoFrom);
                };
                stage.steps.push(step(text, other, escape)?);
            }
        }
    }
    if out.stages.is_empty() {
        return Err(ParseError::NoFrom);
    }
    for step in out.stages.iter_mut().flat_map(|s| s.steps.iter_mut()) {
        if let Some((_, original)) = originals
            .iter()
            .find(|(w, _)| step.text.contains(w.as_str()))
        {
            step.text = original.clone();
        }
    }
    Ok(out)
}

/// parse-dockerfile finds a RUN heredoc only where `<<` starts the
/// arguments; BuildKit takes them anywhere in the command
/// (`RUN cat <<EOF >f`), several on a line. Such a RUN is rewritten before parsing into
/// `RUN [flags] <<'HUTCH_RUN_N'` whose document is the whole shell text
/// (the command line, each document and its delimiter), so the shell
/// reads the documents itself, as BuildKit has it do. Returns the text and
/// (wrapper delimiter, the RUN's own first line) pairs for the step texts.
fn wrap_run_heredocs(text: &str, escape: char) -> (String, Vec<(String, String)>) {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(text.len());
    let mut originals = Vec::new();
    let mut i = 0;
    let mut continued = false;
    while i < lines.len() {
        let line = lines[i];
        let bare = line.trim_end_matches(['\n', '\r']);
        let was_continued = continued;
        continued = bare.trim_end().ends_with(escape);
        let t = bare.trim_start();
        // Byte-wise: `t` may start with any UTF-8 (found by the parser fuzz test).
        let is_run = !was_continued
            && t.len() > 4
            && t.as_bytes()[..3].eq_ignore_ascii_case(b"RUN")
            && matches!(t.as_bytes()[3], b' ' | b'\t');
        if !is_run || continued {
            out.push_str(line);
            i += 1;
            continue;
        }
        // Flags first, then the command.
        let mut rest = t[3..].trim_start();
        let mut flags = Vec::new();
        while rest.starts_with("--") {
            let end = rest.find([' ', '\t']).unwrap_or(rest.len());
            flags.push(&rest[..end]);
            rest = rest[end..].trim_start();
        }
        let delims = if rest.starts_with("<<") {
            Vec::new()
        } else {
            shell_heredocs(rest)
        };
        // Every document's end must be there, else the crate reports it.
        let mut j = i + 1;
        let mut ends = true;
        for (d, strip) in &delims {
            loop {
                let Some(l) = lines.get(j) else {
                    ends = false;
                    break;
                };
                j += 1;
                let l = l.trim_end_matches(['\n', '\r']);
                let l = if *strip {
                    l.trim_start_matches('\t')
                } else {
                    l
                };
                if l == d {
                    break;
                }
            }
        }
        if delims.is_empty() || !ends {
            out.push_str(line);
            i += 1;
            continue;
        }
        let wrapper = format!("HUTCH_RUN_{}", originals.len());
        let mut head = String::from("RUN ");
        for f in &flags {
            head.push_str(f);
            head.push(' ');
        }
        out.push_str(&format!("{head}<<'{wrapper}'\n{rest}\n"));
        for l in &lines[i + 1..j] {
            out.push_str(l.trim_end_matches(['\n', '\r']));
            out.push('\n');
        }
        out.push_str(&wrapper);
        out.push('\n');
        originals.push((wrapper, t.trim_end().to_owned()));
        i = j;
    }
    (out, originals)
}

/// The here-documents a shell command line opens (`<<EOF`, `<<-EOF`,
/// `<<'EOF'`, `<< "EOF"`), outside quotes, in order; `<<<` is not one.
fn shell_heredocs(cmd: &str) -> Vec<(String, bool)> {
    let b = cmd.as_bytes();
    let mut out = Vec::new();
    let (mut single, mut double) = (false, false);
    let mut k = 0;
    while k < b.len() {
        match b[k] {
            b'\'' if !double => single = !single,
            b'"' if !single => double = !double,
            b'\\' if !single => k += 1,
            b'<' if !single
                && !double
                && b.get(k + 1) == Some(&b'<')
                && b.get(k + 2) != Some(&b'<')
                && (k == 0 || b[k - 1] != b'<') =>
            {
                let mut m = k + 2;
                let strip = b.get(m) == Some(&b'-');
                if strip {
                    m += 1;
                }
                while b.get(m).is_some_and(|c| *c == b' ' || *c == b'\t') {
                    m += 1;
                }
                let quote = b.get(m).copied().filter(|c| *c == b'\'' || *c == b'"');
                if quote.is_some() {
                    m += 1;
                }
                let start = m;
                while b
                    .get(m)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    m += 1;
                }
                let word = &cmd[start..m];
                if word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                    out.push((word.to_owned(), strip));
                }
                if quote.is_some() && b.get(m) == quote.as_ref() {
                    m += 1;
                }
                k = m;
                continue;
            }
            _ => {}
        }
        k += 1;
    }
    out
}

/// Parses the text of an ONBUILD trigger as a step.
pub fn parse_trigger(trigger: &str) -> Result<Step, ParseError> {
    let text = format!("FROM scratch\n{trigger}\n");
    let mut cf = parse(&text)?;
    cf.stages
        .pop()
        .and_then(|mut s| s.steps.pop())
        .ok_or_else(|| ParseError::Syntax(format!("empty ONBUILD trigger {trigger:?}")))
}

fn keyword_start(i: &pd::Instruction<'_>) -> usize {
    use pd::Instruction as I;
    match i {
        I::Add(x) => x.add.span.start,
        I::Arg(x) => x.arg.span.start,
        I::Cmd(x) => x.cmd.span.start,
        I::Copy(x) => x.copy.span.start,
        I::Entrypoint(x) => x.entrypoint.span.start,
        I::Env(x) => x.env.span.start,
        I::Expose(x) => x.expose.span.start,
        I::From(x) => x.from.span.start,
        I::Healthcheck(x) => x.healthcheck.span.start,
        I::Label(x) => x.label.span.start,
        I::Maintainer(x) => x.maintainer.span.start,
        I::Onbuild(x) => x.onbuild.span.start,
        I::Run(x) => x.run.span.start,
        I::Shell(x) => x.shell.span.start,
        I::Stopsignal(x) => x.stopsignal.span.start,
        I::User(x) => x.user.span.start,
        I::Volume(x) => x.volume.span.start,
        I::Workdir(x) => x.workdir.span.start,
        _ => 0,
    }
}

/// The instruction's line from `start`, continuation lines joined.
fn logical_line(text: &str, start: usize, escape: char) -> String {
    let mut out = String::new();
    for line in text[start..].lines() {
        let t = line.trim_end();
        match t.strip_suffix(escape) {
            Some(head) => out.push_str(head),
            None => {
                out.push_str(t);
                break;
            }
        }
    }
    out.trim().to_owned()
}

/// Shell-form text with the escape-newline continuations removed (and
/// comment lines inside them, as Docker drops them).
fn unescape_shell(s: &str, escape: char) -> String {
    let mut out = String::new();
    let mut lines = s.split('\n').peekable();
    while let Some(line) = lines.next() {
        let l = line.strip_suffix('\r').unwrap_or(line);
        if !out.is_empty() && l.trim_start().starts_with('#') {
            continue;
        }
        match l.strip_suffix(escape) {
            Some(head) if lines.peek().is_some() => out.push_str(head),
            _ => {
                out.push_str(l);
                if lines.peek().is_some() {
                    out.push('\n');
                }
            }
        }
    }
    out.trim().to_owned()
}

fn command(c: &pd::Command<'_>, escape: char) -> CommandForm {
    match c {
        pd::Command::Exec(v) => {
            CommandForm::Exec(v.value.iter().map(|s| s.value.to_string()).collect())
        }
        pd::Command::Shell(s) => CommandForm::Shell(unescape_shell(s.value, escape)),
        _ => CommandForm::Shell(String::new()),
    }
}

fn flags(f: &[pd::Flag<'_>]) -> Vec<Flag> {
    f.iter()
        .map(|f| Flag {
            name: f.name.value.to_string(),
            value: f.value.as_ref().map(|v| v.value.to_string()),
        })
        .collect()
}

fn heredoc(h: &pd::HereDoc<'_>) -> Heredoc {
    Heredoc {
        expand: h.expand,
        body: h.value.to_string(),
    }
}

fn copy_spec(
    add: bool,
    opts: &[pd::Flag<'_>],
    src: &[pd::Source<'_>],
    dest: &pd::UnescapedString<'_>,
) -> CopySpec {
    CopySpec {
        add,
        flags: flags(opts),
        sources: src
            .iter()
            .map(|s| match s {
                pd::Source::Path(p) => CopySource::Path(p.value.to_string()),
                pd::Source::HereDoc(h) => CopySource::Heredoc(heredoc(h)),
                _ => CopySource::Path(String::new()),
            })
            .collect(),
        dest: dest.value.to_string(),
    }
}

fn step(text: &str, i: &pd::Instruction<'_>, escape: char) -> Result<Step, ParseError> {
    use pd::Instruction as I;
    let start = keyword_start(i);
    let inst = match i {
        I::Run(r) => Inst::Run {
            command: command(&r.arguments, escape),
            heredocs: r.here_docs.iter().map(heredoc).collect(),
            flags: flags(&r.options),
        },
        I::Copy(c) => Inst::Copy(copy_spec(false, &c.options, &c.src, &c.dest)),
        I::Add(c) => Inst::Copy(copy_spec(true, &c.options, &c.src, &c.dest)),
        I::Env(e) => Inst::Env(e.arguments.value.to_string()),
        I::Arg(a) => Inst::Arg(a.arguments.value.to_string()),
        I::Label(l) => Inst::Label(l.arguments.value.to_string()),
        I::Workdir(w) => Inst::Workdir(w.arguments.value.to_string()),
        I::User(u) => Inst::User(u.arguments.value.to_string()),
        I::Expose(e) => Inst::Expose(e.arguments.iter().map(|s| s.value.to_string()).collect()),
        I::Volume(v) => Inst::Volume(match &v.arguments {
            pd::JsonOrStringArray::Json(a) => a.value.iter().map(|s| s.value.to_string()).collect(),
            pd::JsonOrStringArray::String(a) => a.iter().map(|s| s.value.to_string()).collect(),
        }),
        I::Entrypoint(e) => Inst::Entrypoint(command(&e.arguments, escape)),
        I::Cmd(c) => Inst::Cmd(command(&c.arguments, escape)),
        I::Shell(s) => Inst::Shell(s.arguments.iter().map(|s| s.value.to_string()).collect()),
        I::Stopsignal(s) => Inst::Stopsignal(s.arguments.value.to_string()),
        I::Healthcheck(h) => Inst::Healthcheck {
            flags: flags(&h.options),
            command: match &h.arguments {
                pd::HealthcheckArguments::Cmd { arguments, .. } => Some(command(arguments, escape)),
                _ => None,
            },
        },
        I::Onbuild(o) => {
            let inner = keyword_start(&o.instruction);
            Inst::Onbuild(logical_line(text, inner, escape))
        }
        I::Maintainer(m) => Inst::Maintainer(m.name.value.to_string()),
        I::From(_) => unreachable!("FROM is handled by the caller"),
        _ => return Err(ParseError::Syntax("unknown instruction".into())),
    };
    Ok(Step {
        text: logical_line(text, start, escape),
        inst,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# syntax=docker/dockerfile:1\nARG BASE=busybox\nFROM $BASE AS build\nRUN echo a && \\\n    echo b\nRUN [\"/bin/echo\", \"x\"]\nRUN <<EOF\necho from heredoc\nEOF\nCOPY --chown=1:2 a b /dst/\nENV A=1 B=\"two words\"\nONBUILD RUN echo trig\nHEALTHCHECK --interval=5s CMD true\nFROM scratch\nCOPY --from=build /x /\n";

    #[test]
    fn stages_steps_and_texts() {
        let cf = parse(FILE).unwrap();
        assert_eq!(cf.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(cf.global_args, ["BASE=busybox"]);
        assert_eq!(cf.stages.len(), 2);
        let s = &cf.stages[0];
        assert_eq!(
            (s.name.as_deref(), s.base.as_str()),
            (Some("build"), "$BASE")
        );
        assert_eq!(s.steps[0].text, "RUN echo a &&     echo b");
        assert_eq!(
            s.steps[0].inst,
            Inst::Run {
                command: CommandForm::Shell("echo a &&     echo b".into()),
                heredocs: vec![],
                flags: vec![]
            }
        );
        assert!(
            matches!(&s.steps[1].inst, Inst::Run { command: CommandForm::Exec(v), .. } if v == &["/bin/echo", "x"])
        );
        match &s.steps[2].inst {
            Inst::Run { heredocs, .. } => assert_eq!(heredocs[0].body, "echo from heredoc\n"),
            other => panic!("{other:?}"),
        }
        match &s.steps[3].inst {
            Inst::Copy(c) => {
                assert_eq!(c.flags[0].name, "chown");
                assert_eq!(c.sources.len(), 2);
                assert_eq!(c.dest, "/dst/");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.steps[5].inst, Inst::Onbuild("RUN echo trig".into()));
        assert!(matches!(
            s.steps[6].inst,
            Inst::Healthcheck {
                command: Some(_),
                ..
            }
        ));
        assert_eq!(
            parse_trigger("RUN echo trig").unwrap().text,
            "RUN echo trig"
        );
    }

    #[test]
    fn heredocs_after_a_command_become_the_script() {
        let cf = parse("FROM x\nRUN --mount=type=cache,target=/c cat <<EOF > /f && cat <<-'B' >> /f\nhello $X\nEOF\n\tbee\n\tB\nRUN echo \"a<<b\" $((1<<2))\nRUN <<EOF\necho plain\nEOF\n").unwrap();
        let s = &cf.stages[0].steps;
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!(
            s[0].text,
            "RUN --mount=type=cache,target=/c cat <<EOF > /f && cat <<-'B' >> /f"
        );
        match &s[0].inst {
            Inst::Run {
                heredocs, flags, ..
            } => {
                assert_eq!(flags[0].name, "mount");
                assert_eq!(
                    heredocs[0].body,
                    "cat <<EOF > /f && cat <<-'B' >> /f\nhello $X\nEOF\n\tbee\n\tB\n"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s[1].text, "RUN echo \"a<<b\" $((1<<2))");
        assert_eq!(s[2].text, "RUN <<EOF");
        // A document without its end is left to the parser's error.
        assert!(parse("FROM x\nRUN cat <<EOF\nno end\n").is_err());
    }

    #[test]
    fn no_from_is_an_error() {
        assert!(matches!(
            parse("RUN true\n"),
            Err(ParseError::NoFrom | ParseError::Syntax(_))
        ));
        assert!(matches!(
            parse("ARG X\n"),
            Err(ParseError::NoFrom | ParseError::Syntax(_))
        ));
    }
}
