//! The `hutch` binary: parse the command line, join the user namespace when
//! the command needs it (before any thread exists), then run the command.

use std::process::ExitCode;

fn main() -> ExitCode {
    hutch::cli::main()
}
