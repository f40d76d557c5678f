//! The per-container monitor binary: everything is in the `hutch-monitor`
//! crate (src/monitor/), so this binary links nothing else of hutch.

fn main() -> std::process::ExitCode {
    hutch_monitor::main()
}
