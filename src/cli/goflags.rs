//! What Podman's flag library (Go's pflag, under cobra) accepts and says
//! that clap does not: a boolean flag given a value (`--rm=false`,
//! `--all=true`, `-d=1`), and cobra's words for a flag or command it does
//! not know. Both work on the command line as given, before clap parses
//! it; nothing here decides what a flag means.

use std::ffi::OsString;

use clap::CommandFactory as _;

use super::Cli;

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Whether `arg` is a plain switch (clap's `SetTrue`): what Go declares
/// as a `bool` flag.
fn is_switch(arg: &clap::Arg) -> bool {
    matches!(arg.get_action(), clap::ArgAction::SetTrue)
}

/// Whether `arg` takes the next word as its value when none is attached.
fn takes_value(arg: &clap::Arg) -> bool {
    arg.get_action().takes_values() && arg.get_num_args().is_none_or(|n| n.min_values() > 0)
}

/// The command line with each `--switch=BOOL` (and `-s=BOOL`) of the
/// commands' own switches turned into clap's form: the switch alone for
/// true, nothing for false (a switch is off unless given). Words after
/// the command's first positional argument (a container's command line)
/// and after `--` are left as they are, as is anything not a switch.
pub fn normalize(args: Vec<OsString>) -> Vec<OsString> {
    // The command tree is built only where a flag may carry a boolean
    // (building it costs as much as clap's own parse).
    let maybe = args.iter().skip(1).any(|a| {
        a.to_str().is_some_and(|s| {
            s.starts_with('-')
                && s.split_once('=')
                    .is_some_and(|(_, v)| parse_bool(v).is_some())
        })
    });
    if !maybe {
        return args;
    }
    let root = Cli::command();
    let mut path: Vec<clap::Command> = vec![root.clone()];
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter();
    if let Some(program) = iter.next() {
        out.push(program);
    }
    let mut skip_value = false;
    let mut done = false;
    for word in iter {
        if done {
            out.push(word);
            continue;
        }
        if skip_value {
            skip_value = false;
            out.push(word);
            continue;
        }
        let Some(text) = word.to_str().map(str::to_owned) else {
            out.push(word);
            continue;
        };
        let current = path.last().cloned().unwrap_or_else(|| root.clone());
        let find_long = |name: &str| {
            path.iter().rev().find_map(|c| {
                c.get_arguments()
                    .find(|a| a.get_long() == Some(name))
                    .cloned()
            })
        };
        let find_short = |ch: char| {
            path.iter().rev().find_map(|c| {
                c.get_arguments()
                    .find(|a| a.get_short() == Some(ch))
                    .cloned()
            })
        };
        if text == "--" {
            done = true;
            out.push(word);
        } else if let Some(long) = text.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            match (find_long(name), value) {
                (Some(arg), Some(v)) if is_switch(&arg) => match parse_bool(v) {
                    Some(true) => out.push(format!("--{name}").into()),
                    Some(false) => {}
                    None => out.push(word),
                },
                (Some(arg), None) => {
                    skip_value = takes_value(&arg);
                    out.push(word);
                }
                _ => out.push(word),
            }
        } else if let Some(shorts) = text.strip_prefix('-').filter(|s| !s.is_empty()) {
            // `-d=false`: one switch with a value.
            let mut chars = shorts.chars();
            let first = chars.next();
            let rest: String = chars.collect();
            match (first.and_then(find_short), rest.strip_prefix('=')) {
                (Some(arg), Some(v)) if is_switch(&arg) => match parse_bool(v) {
                    Some(true) => out.push(format!("-{}", first.unwrap_or_default()).into()),
                    Some(false) => {}
                    None => out.push(word),
                },
                _ => {
                    // A cluster (`-dit`, `-p8080:80`): the first letter that
                    // takes a value takes the rest, or the next word.
                    for (i, ch) in shorts.char_indices() {
                        if let Some(arg) = find_short(ch)
                            && takes_value(&arg)
                        {
                            skip_value = i + ch.len_utf8() == shorts.len();
                            break;
                        }
                    }
                    out.push(word);
                }
            }
        } else if let Some(sub) = current
            .get_subcommands()
            .find(|s| s.get_name() == text || s.get_all_aliases().any(|a| a == text))
        {
            path.push(sub.clone());
            out.push(word);
        } else {
            // The first positional argument: what follows may be a
            // container's own command line.
            done = true;
            out.push(word);
        }
    }
    out
}

/// Cobra's words for what clap refuses before any command runs: an unknown
/// flag or command, a flag without its value; `None` for the rest (clap's
/// own text stays, prefixed with "Error:" as Podman's errors are).
pub fn cobra_message(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let rendered = e.render().to_string();
    // "Usage: hutch run [OPTIONS] ..." names the command.
    let command: String = rendered
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("Usage: "))
        .map(|u| {
            u.split_whitespace()
                .take_while(|w| !w.starts_with(['[', '<', '-']))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "hutch".to_owned());
    let context = |kind: ContextKind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    match e.kind() {
        ErrorKind::UnknownArgument => {
            let flag = context(ContextKind::InvalidArg)?;
            let flag = flag.split('=').next().unwrap_or(&flag).to_owned();
            let what = match flag.strip_prefix("--") {
                Some(_) => format!("unknown flag: {flag}"),
                None => {
                    let letter = flag.trim_start_matches('-').chars().next()?;
                    format!("unknown shorthand flag: '{letter}' in {flag}")
                }
            };
            Some(format!("Error: {what}\nSee '{command} --help'"))
        }
        ErrorKind::InvalidSubcommand => {
            let word = context(ContextKind::InvalidSubcommand)?;
            Some(format!(
                "Error: unrecognized command `{command} {word}`\nTry '{command} --help' for more information"
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(words: &[&str]) -> Vec<String> {
        normalize(words.iter().map(OsString::from).collect())
            .into_iter()
            .map(|w| w.into_string().expect("utf-8"))
            .collect()
    }

    /// Every command of the tree is well-formed (clap checks a command
    /// only when it parses it; `-h` is --hostname on some of them).
    #[test]
    fn the_whole_command_tree_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn switches_with_values_become_clap_switches() {
        assert_eq!(
            norm(&["hutch", "ps", "--all=true"]),
            ["hutch", "ps", "--all"]
        );
        assert_eq!(
            norm(&["hutch", "ps", "--all=false", "-q"]),
            ["hutch", "ps", "-q"]
        );
        assert_eq!(
            norm(&[
                "hutch",
                "run",
                "-d=1",
                "--rm=false",
                "busybox",
                "ls",
                "--all=true"
            ]),
            ["hutch", "run", "-d", "busybox", "ls", "--all=true"]
        );
        // A value-taking flag's value is not read as a command; a bad
        // boolean is left for clap to refuse.
        assert_eq!(
            norm(&["hutch", "run", "--name", "ps", "--rm=maybe", "busybox"]),
            ["hutch", "run", "--name", "ps", "--rm=maybe", "busybox"]
        );
        assert_eq!(
            norm(&["hutch", "container", "ls", "--all=t"]),
            ["hutch", "container", "ls", "--all"]
        );
        // Past `--` nothing changes.
        assert_eq!(
            norm(&["hutch", "exec", "c", "--", "x", "--all=true"]),
            ["hutch", "exec", "c", "--", "x", "--all=true"]
        );
    }

    #[test]
    fn unknown_flags_and_commands_in_cobra_words() {
        use clap::Parser as _;
        let err = |words: &[&str]| Cli::try_parse_from(words).expect_err("refused");
        assert_eq!(
            cobra_message(&err(&["hutch", "run", "--badflag", "busybox"])).as_deref(),
            Some("Error: unknown flag: --badflag\nSee 'hutch run --help'")
        );
        assert_eq!(
            cobra_message(&err(&["hutch", "nosuchcmd"])).as_deref(),
            Some(
                "Error: unrecognized command `hutch nosuchcmd`\nTry 'hutch --help' for more information"
            )
        );
    }
}
