//! `componentry`: inspect, run and call WebAssembly component plugins.
//!
//! Exit codes are a contract (see `docs/cli.md`): 0 success; 1 any other error; 2 usage error;
//! 3 the plugin could not be loaded; 4 a required capability was not granted; 5 the plugin
//! trapped; 6 fuel exhausted; 7 deadline exceeded; 8 memory limit hit. A command plugin's own
//! exit status is passed through.

mod builder;
mod cases;
mod commands;
mod exit;
mod grant_flags;
mod interrupt;
mod language;
mod limit_flags;
mod load_flags;
mod loading;
mod progress;
mod scaffold;
mod stats;
mod stubs;

use std::process::ExitCode;

use clap::Parser;

/// The command line: the global flags and one subcommand.
#[derive(Parser)]
#[command(
    name = "componentry",
    version,
    about = "Inspect, run and call WebAssembly component plugins"
)]
struct Cli {
    /// Say more: the cause chain and wasm backtrace of errors, and the host's log at info level.
    #[arg(long, short, global = true)]
    verbose: bool,

    /// The subcommand to run.
    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match commands::dispatch(cli.command, cli.verbose) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report(cli.verbose);
            failure.exit_code()
        }
    }
}

/// Logs to stderr, filtered by `COMPONENTRY_LOG`, else at info level with `--verbose` and warn
/// without.
fn init_logging(verbose: bool) {
    let default = if verbose { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("COMPONENTRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only for a person at a terminal; logs read by programs get plain text.
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colours)
        .init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// The command line is well formed: among what clap checks, every `mut_arg` names an
    /// argument that exists, which clap otherwise finds only when the command is parsed.
    #[test]
    fn command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
