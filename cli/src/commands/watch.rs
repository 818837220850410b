//! `componentry watch PATH`: serves a component, or a directory of them, reloading each when it
//! changes, one line per change, until interrupted.

use std::path::PathBuf;

use clap::Args;
use componentry::{Host, Output, PluginEvent};

use crate::interrupt::interrupted;
use crate::load_flags::{CacheFlag, PolicyFlag, StubsFlag};
use crate::loading::{operator_grants, operator_policy};
use crate::stubs::Stubs;
use crate::{exit, grant_flags, limit_flags, stats};

/// The arguments of `componentry watch`.
#[derive(Args)]
#[command(mut_arg("policy", |arg| arg.help(PolicyFlag::WATCH_HELP)))]
pub struct WatchArgs {
    /// A component file (`.wasm` or `.wat`), or a directory of components and plugin
    /// directories (each with a `plugin.toml`).
    path: PathBuf,
    /// Call this export (a WAVE call) after every successful (re)load and show its result.
    #[arg(long, value_name = "CALL")]
    invoke: Option<String>,
    /// `--no-cache`.
    #[command(flatten)]
    cache: CacheFlag,
    /// `--policy`: what manifests' requests may get, limits, pins.
    #[command(flatten)]
    policy: PolicyFlag,
    /// The grant flags, given to every plugin.
    #[command(flatten)]
    grants: grant_flags::GrantFlags,
    /// The limit flags, over every plugin's limits.
    #[command(flatten)]
    limits: limit_flags::LimitFlags,
    /// `--stubs`: for the application imports of the plugins there when watching starts.
    #[command(flatten)]
    stubs: StubsFlag,
}

/// Watches the path and prints each load, failed reload and unload until interrupted; then
/// prints each plugin's metrics.
pub fn run(args: WatchArgs) -> Result<(), exit::Failure> {
    let invoke = args.invoke.as_deref();
    let mut operator = operator_grants(Output::Prefixed, args.grants.to_grants()?);
    // Standing in for the application, the operator grants what the stubs stand in for.
    let stubs = match args.stubs.read()? {
        None => None,
        Some(canned) => {
            let stubs = Stubs::for_worlds(&worlds_in(&componentry::PluginDir::new(&args.path)));
            stubs.answer(&[&canned])?;
            operator = stubs
                .interfaces()
                .fold(operator, |grants, interface| grants.interface(interface));
            Some(stubs)
        }
    };
    let policy = operator_policy(args.policy.path(), operator, &args.limits)?;
    let engine = args
        .limits
        .engine(args.cache.engine_builder(), Some(&policy))
        .build()?;
    let dir = componentry::PluginDir::new(&args.path).policy(policy);
    let host: Host<()> = match stubs {
        None => Host::new(&engine)?,
        Some(stubs) => stubs.register(Host::builder(&engine, |_| ())?)?.build()?,
    };
    let events = host.subscribe();
    let watcher = dir.watch(&host)?;
    let mut stop = interrupted();
    loop {
        let event = match events.recv_timeout(std::time::Duration::from_millis(100)) {
            Ok(event) => event,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if stop.try_recv().is_ok() {
                    break;
                }
                continue;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        };
        match event {
            PluginEvent::Loaded { plugin, sha256 }
            | PluginEvent::Reloaded {
                plugin,
                new_sha256: sha256,
                ..
            } => {
                let result = match (invoke, watcher.plugin(&plugin)) {
                    (Some(call), Some(loaded)) => match loaded.invoke(call) {
                        Ok(results) => componentry::to_wave(&results),
                        Err(e) => {
                            eprintln!("componentry: error: {}", exit::one_line(&e.to_string()));
                            "-".to_owned()
                        }
                    },
                    _ => "-".to_owned(),
                };
                println!(
                    "loaded {plugin} sha256:{} -> {result}",
                    &sha256[..12.min(sha256.len())]
                );
            }
            PluginEvent::ReloadFailed { plugin, error } => {
                println!("reload failed {plugin}: {}", exit::one_line(&error))
            }
            PluginEvent::Unloaded { plugin } => println!("unloaded {plugin}"),
            _ => {}
        }
    }
    stats::print(&watcher.plugins());
    Ok(())
}

/// The worlds of the plugins at `dir`'s path now, as far as they can be read (the watcher
/// reports those that cannot). Each is read here once more than the watcher reads it.
fn worlds_in(dir: &componentry::PluginDir) -> Vec<componentry::ComponentWorld> {
    dir.entries()
        .unwrap_or_default()
        .iter()
        .filter_map(|entry| dir.open(entry).ok())
        .filter_map(|source| {
            componentry::ComponentWorld::decode(source.name(), source.bytes()).ok()
        })
        .collect()
}
