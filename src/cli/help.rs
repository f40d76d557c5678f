//! `help [COMMAND...]`: a command's help, as Podman's (cobra's) `help`
//! prints it: the words name a command as far as they match, and the
//! rest are ignored; a first word that names no command is an "Unknown
//! help topic" on stderr with the usage, still exit 0.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use super::Cli;

pub fn run(words: &[OsString]) -> ExitCode {
    let words: Vec<String> = words
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    if words.first().is_some_and(|w| w == "--help" || w == "-h") {
        println!(
            "Help provides help for any command in the application.\n\
             Simply type hutch help [path to command] for full details.\n\n\
             Usage:\n  hutch help [command] [flags]"
        );
        return ExitCode::SUCCESS;
    }
    let mut cmd = Cli::command();
    let mut path = vec!["hutch".to_owned()];
    for w in &words {
        let Some(sub) = cmd.find_subcommand(w).cloned() else {
            break;
        };
        path.push(sub.get_name().to_owned());
        cmd = sub;
    }
    if path.len() == 1 && !words.is_empty() {
        let topic: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
        eprintln!("Unknown help topic [{}]", topic.join(" "));
        eprintln!("{}", Cli::command().render_usage());
        return ExitCode::SUCCESS;
    }
    path.push("--help".to_owned());
    if let Err(e) = Cli::try_parse_from(path) {
        let _ = e.print();
    }
    ExitCode::SUCCESS
}
