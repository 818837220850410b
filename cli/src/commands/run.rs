//! `componentry run PLUGIN`: calls an export (`--invoke`), or runs a `wasi:cli/command`
//! component.

use std::path::PathBuf;

use clap::Args;
use componentry::{Host, Output};

use crate::load_flags::{LoadFlags, StubsFlag};
use crate::loading::load;
use crate::stubs::Stubs;
use crate::{exit, stats};

/// The arguments of `componentry run`.
#[derive(Args)]
pub struct RunArgs {
    /// The component.
    plugin: PathBuf,

    /// Call this export, written as a WAVE call: `name(arg, ...)`, where name is `func`,
    /// `iface#func` or `pkg:name/iface@version#func`. The result is printed as WAVE.
    #[arg(long, value_name = "CALL")]
    invoke: Option<String>,

    /// How the plugin is loaded: cache, manifest, policy, grant and limit flags.
    #[command(flatten)]
    loading: LoadFlags,

    /// `--stubs`.
    #[command(flatten)]
    stubs: StubsFlag,

    /// Arguments for a command component (after `--`); argv[0] is the plugin's name.
    #[arg(last = true)]
    args: Vec<String>,
}

/// Loads the plugin and makes the call, or runs the command; with `verbose`, prints the
/// plugin's metrics after.
pub fn run(args: RunArgs, verbose: bool) -> Result<(), exit::Failure> {
    let command_args = &args.args;
    let prepared = args
        .loading
        .prepare(&args.plugin, Output::Inherit, |name, operator| {
            let mut argv = vec![name.to_owned()];
            argv.extend(command_args.iter().cloned());
            operator.args(argv)
        })?;
    let mut prepared = prepared;
    let engine = args.loading.engine(&prepared.policy).build()?;
    let host: Host<()> = match args.stubs.read()? {
        None => Host::new(&engine)?,
        Some(canned) => {
            let source = &prepared.source;
            let world = componentry::ComponentWorld::decode(source.name(), source.bytes())?;
            let stubs = Stubs::for_worlds(std::slice::from_ref(&world));
            stubs.answer(&[&canned])?;
            // Standing in for the application, the operator grants what it stands in for.
            let grants = stubs.interfaces().fold(
                prepared.options.get_grants().clone(),
                |grants, interface| grants.interface(interface),
            );
            prepared.options = prepared.options.grants(grants);
            stubs.register(Host::builder(&engine, |_| ())?)?.build()?
        }
    };
    let plugin = load(&host, prepared)?;
    let outcome = match args.invoke {
        Some(call) => {
            if !args.args.is_empty() {
                return Err(exit::Failure::usage(
                    "arguments after `--` are for commands; with --invoke, pass values in the call",
                ));
            }
            plugin.invoke(&call).map(|results| {
                if !results.is_empty() {
                    println!("{}", componentry::to_wave(&results));
                }
            })
        }
        None => plugin.run_command(),
    };
    if verbose {
        stats::print(std::slice::from_ref(&plugin));
    }
    Ok(outcome?)
}
