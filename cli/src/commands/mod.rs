//! The subcommands, one module each: its clap arguments and its `run`. [`Command`] lists them
//! for the parser, and [`dispatch`] runs the one given.

mod build;
mod check;
mod inspect;
mod new;
mod run;
mod serve;
mod test;
mod watch;

use clap::Subcommand;

use crate::exit;

/// Every subcommand of `componentry`; each variant's doc comment is its help.
#[derive(Subcommand)]
pub enum Command {
    /// Print a component's world as WIT: what it imports and exports, with package versions.
    ///
    /// After the WIT, one line per capability the imports ask for, set against the grants given
    /// with the same flags as `run` (`imports wasi:filesystem - granted: /data (read-only)`).
    Inspect(inspect::InspectArgs),
    /// Call an export (`--invoke`), or run a `wasi:cli/command` component. With `--verbose`,
    /// the plugin's metrics follow on stderr.
    Run(run::RunArgs),
    /// Serve HTTP with a standard `wasi:http/proxy` component (one exporting
    /// `wasi:http/incoming-handler`, as built for `wasmtime serve`): a fresh instance per
    /// request, the limits per request. Prints `Serving HTTP on http://ADDR/` on stderr, then
    /// serves until interrupted, and prints the plugin's metrics.
    Serve(serve::ServeArgs),
    /// Serve a component, or a directory of them, reloading each when it changes; one line per
    /// change: `loaded NAME sha256:HEX12 -> RESULT`, `reload failed NAME: REASON`, `unloaded NAME`.
    /// Runs until interrupted; then prints each plugin's metrics on stderr.
    ///
    /// Every plugin gets the grant flags; what a plugin's manifest requests beyond them is
    /// granted only where `--policy` allows it (without a policy, it is dropped with a warning).
    Watch(watch::WatchArgs),
    /// Make a new plugin project from the template of its language, ready to build: by default a
    /// `componentry:plugin/greeter`, or stubs for an application's own world.
    New(new::NewArgs),
    /// Build the plugin project in DIR (default: here) with its language's tool; the component
    /// is written beside its plugin.toml, and its path is the last line printed.
    Build(build::BuildArgs),
    /// Run a plugin's test cases (calls and what each must give, with grants, limits, settings
    /// and stubs for the application's imports): one line per case, then `N passed, N
    /// failed`; exit 0 only when all pass.
    Test(test::TestArgs),
    /// Check a component against an extension point (a WIT world) before running it: prints
    /// every problem, and exits 0 when compatible, 3 when not.
    Check(check::CheckArgs),
}

/// Runs `command`; `verbose` is the global `--verbose`.
pub fn dispatch(command: Command, verbose: bool) -> Result<(), exit::Failure> {
    match command {
        Command::Inspect(args) => inspect::run(args),
        Command::Run(args) => run::run(args, verbose),
        Command::Serve(args) => serve::run(args),
        Command::Watch(args) => watch::run(args),
        Command::New(args) => new::run(args),
        Command::Build(args) => build::run(args),
        Command::Test(args) => test::run(args, verbose),
        Command::Check(args) => check::run(args),
    }
}
