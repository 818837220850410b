//! `componentry`: inspect, run and call WebAssembly component plugins.
//!
//! Exit codes are a contract (see `docs/cli.md`): 0 success; 1 any other error; 2 usage error;
//! 3 the plugin could not be loaded; 4 a required capability was not granted; 5 the plugin
//! trapped; 6 fuel exhausted; 7 deadline exceeded; 8 memory limit hit. A command plugin's own
//! exit status is passed through.

mod build;
mod cases;
mod exit;
mod grant_flags;
mod language;
mod limit_flags;
mod progress;
mod scaffold;
mod serve;
mod stats;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use componentry::{
    ComponentWorld, Engine, EngineBuilder, ExtensionPoint, Grants, Host, OnExcess, Output,
    PluginEvent, PluginSource, Policy, escape_untrusted,
};

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

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a component's world as WIT: what it imports and exports, with package versions.
    ///
    /// After the WIT, one line per capability the imports ask for, set against the grants given
    /// with the same flags as `run` (`imports wasi:filesystem - granted: /data (read-only)`).
    Inspect {
        /// The component.
        plugin: PathBuf,
        /// Also print the packages of the interfaces the world uses.
        #[arg(long)]
        full: bool,
        /// The plugin's manifest (default: `plugin.toml` beside the component, if there is one).
        #[arg(long, value_name = "plugin.toml")]
        manifest: Option<PathBuf>,
        /// A host policy: shows the grants the plugin would effectively get under it.
        #[arg(long, value_name = "policy.toml")]
        policy: Option<PathBuf>,
        #[command(flatten)]
        grants: grant_flags::GrantFlags,
    },
    /// Call an export (`--invoke`), or run a `wasi:cli/command` component. With `--verbose`,
    /// the plugin's metrics follow on stderr.
    Run(RunArgs),
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
    Watch {
        /// A component file (`.wasm` or `.wat`), or a directory of components and plugin
        /// directories (each with a `plugin.toml`).
        path: PathBuf,
        /// Call this export (a WAVE call) after every successful (re)load and show its result.
        #[arg(long, value_name = "CALL")]
        invoke: Option<String>,
        /// Compile without the compiled-artifact cache.
        #[arg(long)]
        no_cache: bool,
        /// A host policy: what manifests' requests may get, limits, pins.
        #[arg(long, value_name = "policy.toml")]
        policy: Option<PathBuf>,
        #[command(flatten)]
        grants: grant_flags::GrantFlags,
        #[command(flatten)]
        limits: limit_flags::LimitFlags,
    },
    /// Make a new plugin project from the template of its language, ready to build: by default a
    /// `componentry:plugin/greeter`, or stubs for an application's own world.
    New {
        /// The language: rust, python, js, c or go.
        #[arg(value_enum)]
        language: language::Language,
        /// The project's directory; its name is the plugin's name.
        name: PathBuf,
        /// The application's world to implement (`name` or `pkg:name/world`; the package's only
        /// world when omitted), from `--wit`.
        #[arg(long, value_name = "WIT-WORLD", requires = "wit")]
        world: Option<String>,
        /// The application's WIT directory (or file), copied into the project.
        #[arg(long, value_name = "DIR")]
        wit: Option<PathBuf>,
    },
    /// Build the plugin project in DIR (default: here) with its language's tool; the component
    /// is written beside its plugin.toml, and its path is the last line printed.
    Build {
        /// The project's directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Run a plugin's test cases (calls and what each must give, with grants, limits, settings
    /// and stubs for the application's imports): one line per case, then `N passed, N
    /// failed`; exit 0 only when all pass.
    Test {
        /// The component.
        plugin: PathBuf,
        /// The cases file (TOML).
        cases: PathBuf,
        /// Compile without the compiled-artifact cache.
        #[arg(long)]
        no_cache: bool,
    },
    /// Check a component against an extension point (a WIT world) before running it: prints
    /// every problem, and exits 0 when compatible, 3 when not.
    Check {
        /// The component.
        plugin: PathBuf,
        /// The extension point's WIT directory (or file).
        #[arg(long, value_name = "DIR")]
        wit: PathBuf,
        /// The world to check against (`name` or `pkg:name/world`); the package's only world when
        /// omitted.
        #[arg(long, value_name = "NAME")]
        world: Option<String>,
    },
}

#[derive(Args)]
struct RunArgs {
    /// The component.
    plugin: PathBuf,

    /// Call this export, written as a WAVE call: `name(arg, ...)`, where name is `func`,
    /// `iface#func` or `pkg:name/iface@version#func`. The result is printed as WAVE.
    #[arg(long, value_name = "CALL")]
    invoke: Option<String>,

    #[command(flatten)]
    loading: LoadFlags,

    /// Arguments for a command component (after `--`); argv[0] is the plugin's name.
    #[arg(last = true)]
    args: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match dispatch(cli.command, cli.verbose) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report(cli.verbose);
            failure.exit_code()
        }
    }
}

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

fn dispatch(command: Command, verbose: bool) -> Result<(), exit::Failure> {
    match command {
        Command::Inspect {
            plugin,
            full,
            manifest,
            policy,
            grants,
        } => inspect(
            &plugin,
            full,
            manifest.as_deref(),
            policy.as_deref(),
            &grants,
        ),
        Command::Run(args) => run(args, verbose),
        Command::Serve(args) => serve::serve(args),
        Command::Watch {
            path,
            invoke,
            no_cache,
            policy,
            grants,
            limits,
        } => watch(
            &path,
            invoke.as_deref(),
            no_cache,
            policy.as_deref(),
            &grants,
            &limits,
        ),
        Command::Check { plugin, wit, world } => check(&plugin, &wit, world.as_deref()),
        Command::Test {
            plugin,
            cases,
            no_cache,
        } => {
            let file =
                cases::CasesFile::read(&cases).map_err(|e| exit::Failure::Usage(e.to_string()))?;
            let report = cases::run(&plugin, &file, engine_builder(no_cache), verbose)?;
            if report.failed > 0 {
                return Err(exit::Failure::Quiet(exit::OTHER));
            }
            Ok(())
        }
        Command::Build { dir } => {
            let component = build::build(&dir).map_err(|e| match e {
                build::BuildError::Project(message) => exit::Failure::Usage(message),
                other => exit::Failure::Other(other.to_string()),
            })?;
            let shown = std::path::absolute(&component).unwrap_or(component);
            println!("{}", shown.display());
            Ok(())
        }
        Command::New {
            language,
            name,
            world,
            wit,
        } => new(language, &name, wit.as_deref(), world.as_deref()),
    }
}

fn inspect(
    path: &Path,
    full: bool,
    manifest: Option<&Path>,
    policy: Option<&Path>,
    flags: &grant_flags::GrantFlags,
) -> Result<(), exit::Failure> {
    let source = open_source(path, manifest)?;
    let world = ComponentWorld::decode(source.name(), source.bytes())?;
    // The WIT may carry the component's own doc comments: show them, not act on them.
    for line in world.to_wit(full)?.lines() {
        println!("{}", escape_untrusted(line));
    }
    if let Some(manifest) = source.manifest() {
        println!();
        println!("manifest: {} {}", manifest.name, manifest.version);
        if let Some(description) = &manifest.description {
            println!("description: {}", escape_untrusted(description));
        }
        if let Some(ep) = &manifest.extension_point {
            println!(
                "extension point: {}",
                escape_untrusted(&format!("{}/{}@{}", ep.package, ep.world, ep.requirement))
            );
        }
    }
    println!();
    println!("requested: {}", list_or_none(source.requested().describe()));
    // What `run` with the same flags and policy would grant: the same pipeline, the same
    // operator (stdio forwarded, the grant flags).
    let policy = operator_policy(
        policy,
        operator_grants(Output::Inherit, flags.to_grants()?),
        &Default::default(),
    )?;
    let grants = match source.options(&policy, None) {
        Ok(options) => {
            println!("effective: {}", list_or_none(options.granted().describe()));
            options.granted().clone()
        }
        Err(e) => {
            println!("refused by the policy: {}", exit::one_line(&e.to_string()));
            Grants::none()
        }
    };
    let uses = componentry::capabilities(&world, &grants);
    if !uses.is_empty() {
        println!();
        for capability in uses {
            println!("{}", escape_untrusted(&capability.to_string()));
        }
    }
    Ok(())
}

/// Reads the plugin at `path` through the library's load pipeline ([`PluginSource`]): a
/// component file or a plugin directory, with the manifest given, or else the one it finds.
pub(crate) fn open_source(
    path: &Path,
    manifest: Option<&Path>,
) -> Result<PluginSource, exit::Failure> {
    Ok(match manifest {
        Some(manifest) => PluginSource::open_with_manifest(path, manifest)?,
        None => PluginSource::open(path)?,
    })
}

/// What `run`, `serve`, `watch` and `inspect` grant every plugin: its stdout and stderr
/// forwarded as `output` says, and `flags`. `run` forwards them as they are (as `wasmtime run`
/// does: one plugin, whose output the user asked for); `watch` and `serve`, which print lines of
/// their own beside many calls' output, forward each line prefixed with the plugin's name and
/// escaped (`Output::Prefixed`).
fn operator_grants(output: Output, flags: Grants) -> Grants {
    Grants::none().stdout(output).stderr(output).merge(flags)
}

/// The operator's side of the CLI: the policy file (or, without one, a policy that gives each
/// plugin the grant flags and drops what its manifest requests beyond them, with a warning),
/// with the grant flags given to every plugin and the limit flags over every rule's limits.
fn operator_policy(
    policy: Option<&Path>,
    operator: Grants,
    limits: &limit_flags::LimitFlags,
) -> Result<Policy, exit::Failure> {
    let policy = match policy {
        Some(path) => Policy::from_file(path)?,
        None => Policy::new().otherwise(OnExcess::Trim),
    };
    Ok(policy
        .grant_every_plugin(operator)
        .map_limits(|base| limits.apply(base)))
}

fn watch(
    path: &Path,
    invoke: Option<&str>,
    no_cache: bool,
    policy: Option<&Path>,
    grant_flags: &grant_flags::GrantFlags,
    limit_flags: &limit_flags::LimitFlags,
) -> Result<(), exit::Failure> {
    let operator = operator_grants(Output::Prefixed, grant_flags.to_grants()?);
    let policy = operator_policy(policy, operator, limit_flags)?;
    let engine = limit_flags
        .engine(engine_builder(no_cache), Some(&policy))
        .build()?;
    let host: Host<()> = Host::new(&engine)?;
    let events = host.subscribe();
    let watcher = componentry::PluginDir::new(path)
        .policy(policy)
        .watch(&host)?;
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

fn new(
    language: language::Language,
    dir: &Path,
    wit: Option<&Path>,
    world: Option<&str>,
) -> Result<(), exit::Failure> {
    let target = wit.map(|wit| scaffold::Target { wit, world });
    let written = scaffold::new_project(language, dir, target).map_err(|e| match e {
        scaffold::ScaffoldError::Usage(message) => exit::Failure::Usage(message),
        other => exit::Failure::Other(other.to_string()),
    })?;
    println!("created {} ({})", dir.display(), language.name());
    for file in written {
        println!("  {}", file.display());
    }
    println!("next: cd {} && componentry build", dir.display());
    Ok(())
}

fn check(path: &Path, wit: &Path, world: Option<&str>) -> Result<(), exit::Failure> {
    let extension_point = ExtensionPoint::from_wit_dir(wit, world)?;
    let source = open_source(path, None)?;
    let name = escape_untrusted(source.name()).into_owned();
    let component = ComponentWorld::decode(source.name(), source.bytes())?;
    let report = extension_point.check(&component);
    let target = match extension_point.package() {
        Some(package) => format!("{package}/{}", extension_point.world_name()),
        None => extension_point.world_name().to_owned(),
    };
    let incompatible = |reason: String| {
        exit::Failure::Plugin(componentry::Error::Incompatible {
            plugin: source.name().to_owned(),
            reason,
            source: None,
        })
    };
    if !report.is_compatible() {
        println!("{name}: incompatible with {target}: {report}");
        return Err(incompatible(format!(
            "{} problem(s) against {target}",
            report.problems.len()
        )));
    }
    // The manifest's own requirement (`extension-point = "pkg:name/world@^1.2"`) counts too.
    if let Err(refused) = source.accepts(&extension_point) {
        let reason = match &refused {
            componentry::Error::Incompatible { reason, .. } => reason.clone(),
            other => other.to_string(),
        };
        println!(
            "{name}: incompatible with {target}: {}",
            exit::one_line(&reason)
        );
        return Err(incompatible(reason));
    }
    println!("{name}: compatible with {target}");
    Ok(())
}

/// How `run` and `serve` load their one plugin: its manifest, the operator's policy and flags,
/// the cache.
#[derive(Args)]
pub(crate) struct LoadFlags {
    /// Compile without the compiled-artifact cache.
    #[arg(long)]
    no_cache: bool,

    /// The plugin's manifest (default: `plugin.toml` beside the component, if there is one):
    /// its name, settings and the capabilities it requests.
    #[arg(long, value_name = "plugin.toml")]
    manifest: Option<PathBuf>,

    /// A host policy: what the manifest's requests may get, limits, pins. Without one, the
    /// plugin gets the grant flags and nothing its manifest requests beyond them.
    #[arg(long, value_name = "policy.toml")]
    policy: Option<PathBuf>,

    #[command(flatten)]
    grants: grant_flags::GrantFlags,

    #[command(flatten)]
    pub limits: limit_flags::LimitFlags,
}

impl LoadFlags {
    /// Reads the plugin at `path` through the load pipeline, and makes its options: the
    /// operator's grants (its stdio forwarded, as `wasmtime` does, the grant flags, and what
    /// `extra` adds given the plugin's name) under the policy, limited by the limit flags.
    pub fn prepare(
        &self,
        path: &Path,
        output: Output,
        extra: impl FnOnce(&str, Grants) -> Grants,
    ) -> Result<Prepared, exit::Failure> {
        let flags = self.grants.to_grants()?;
        let source = open_source(path, self.manifest.as_deref())?;
        let operator = extra(source.name(), operator_grants(output, flags));
        let policy = operator_policy(self.policy.as_deref(), operator, &self.limits)?;
        let options = source.options(&policy, None)?;
        Ok(Prepared {
            source,
            options,
            policy,
        })
    }

    /// The manifest given with `--manifest`, if any.
    pub fn manifest(&self) -> Option<&Path> {
        self.manifest.as_deref()
    }

    /// The engine the flags and `policy` need: the cache, fuel, epochs.
    pub fn engine(&self, policy: &Policy) -> EngineBuilder {
        self.limits
            .engine(engine_builder(self.no_cache), Some(policy))
    }
}

/// A plugin read through the load pipeline, with the options the operator's policy and flags
/// give it, and that policy (a watcher judges later versions by it).
pub(crate) struct Prepared {
    pub source: PluginSource,
    pub options: componentry::PluginOptions,
    pub policy: Policy,
}

fn run(args: RunArgs, verbose: bool) -> Result<(), exit::Failure> {
    let command_args = &args.args;
    let prepared = args
        .loading
        .prepare(&args.plugin, Output::Inherit, |name, operator| {
            let mut argv = vec![name.to_owned()];
            argv.extend(command_args.iter().cloned());
            operator.args(argv)
        })?;
    let engine = args.loading.engine(&prepared.policy).build()?;
    let host: Host<()> = Host::new(&engine)?;
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

/// Loads (compiles, or takes from the cache) a prepared plugin, showing progress while it takes.
pub(crate) fn load<T: Send + 'static>(
    host: &Host<T>,
    prepared: Prepared,
) -> Result<componentry::Plugin<T>, exit::Failure> {
    let what = format!(
        "loading {} ({})",
        escape_untrusted(prepared.source.name()),
        progress::human_size(prepared.source.bytes().len() as u64)
    );
    Ok(progress::during(&what, || {
        prepared.source.load_with(host, prepared.options)
    })?)
}

/// Completes when the process is asked to stop (Ctrl-C, SIGTERM, SIGHUP). Once only per process.
pub(crate) fn interrupted() -> tokio::sync::oneshot::Receiver<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let stop = std::sync::Mutex::new(Some(stop));
    let installed = ctrlc::set_handler(move || {
        let taken = stop.lock().ok().and_then(|mut s| s.take());
        match taken {
            Some(stop) => {
                let _ = stop.send(());
            }
            // Asked twice: stop now.
            None => std::process::exit(130),
        }
    });
    if let Err(e) = installed {
        tracing::warn!("cannot handle interruptions: {e}");
    }
    stopped
}

/// An engine configuration caching compiled components under the user's cache directory unless
/// told not to.
fn engine_builder(no_cache: bool) -> EngineBuilder {
    let builder = Engine::builder();
    match cache_dir() {
        Some(dir) if !no_cache => builder.cache_dir(dir),
        _ => builder,
    }
}

fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("COMPONENTRY_CACHE_DIR") {
        return Some(dir.into());
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("componentry"))
}

fn list_or_none(items: Vec<String>) -> String {
    if items.is_empty() {
        "nothing".to_owned()
    } else {
        items.join(", ")
    }
}
