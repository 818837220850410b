//! mdpipe: a Markdown pipeline whose steps are plugins.
//!
//! Each step is a component implementing the `mdpipe:plugin/transformer` world (`wit/`), in any
//! language: this directory's `plugins/` has one in Rust (`toc`), Python (`smartypants`),
//! JavaScript (`emoji`) and C (`wordcount`, and `runaway`, which never finishes). mdpipe loads
//! them from a plugin directory, each with its manifest's settings and the grants and limits of
//! the policy (`policy.toml`), runs the document through them, and with `--watch` follows the
//! directory: an edited plugin is reloaded and the document rendered again; a broken edit is
//! refused while the old version keeps working.
//!
//! ```text
//! mdpipe --plugins plugins --policy policy.toml sample.md [--steps toc,emoji] [--watch] [-o OUT]
//! ```

mod diff;
mod log_format;
mod pipeline;

use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use componentry::{
    Engine, ExtensionPoint, Host, PluginDir, PluginEvent, Policy, compatibility::ExtensionPoints,
};

use pipeline::Pipeline;

#[derive(Parser)]
#[command(name = "mdpipe", about = "A Markdown pipeline whose steps are plugins")]
struct Args {
    /// The Markdown document.
    input: PathBuf,
    /// The plugin directory: one directory per step, with its plugin.toml and component.
    #[arg(long, default_value = "plugins")]
    plugins: PathBuf,
    /// The host policy: grants and limits per plugin.
    #[arg(long, default_value = "policy.toml")]
    policy: PathBuf,
    /// The steps, in order (default: every plugin, by name).
    #[arg(long, value_delimiter = ',')]
    steps: Vec<String>,
    /// Write the result here instead of stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Follow the plugin directory: render again whenever a plugin changes, until interrupted.
    #[arg(long)]
    watch: bool,
    /// Where compiled plugins are cached.
    #[arg(long)]
    cache: Option<PathBuf>,
}

mod bindings {
    ::componentry::bindgen!({ path: "wit", world: "mdpipe:plugin/transformer" });
    ::componentry::typed_world!(Transformer, TransformerIndices);
}

fn main() -> anyhow::Result<()> {
    log_format::init();
    let args = Args::parse();
    let document = std::fs::read_to_string(&args.input)
        .with_context(|| format!("reading {}", args.input.display()))?;
    let policy = Policy::from_file(&args.policy)?;
    let mut engine = Engine::builder()
        .fuel(policy.needs_fuel())
        .cache_dir(args.cache.clone().unwrap_or_else(default_cache));
    if policy.needs_deadlines() {
        engine = engine.epoch_interruption(std::time::Duration::from_millis(10));
    }
    let engine = engine.build()?;
    let host: Host<()> = Host::new(&engine)?;
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("wit");
    let point = ExtensionPoint::from_wit_dir(&wit, Some("transformer"))?;
    let plugins = PluginDir::new(&args.plugins)
        .policy(policy)
        .extension_points(ExtensionPoints::new().with(point));

    let events = host.subscribe();
    println!("mdpipe: plugins from {}", args.plugins.display());
    let report = plugins.load(&host)?;
    for outcome in &report.outcomes {
        match &outcome.result {
            Ok(plugin) => println!("  loaded  {}", pipeline::describe(plugin)),
            Err(error) => println!("  refused {}: {error}", outcome.name),
        }
    }
    let mut pipeline = Pipeline::new(report.loaded().cloned().collect(), &args.steps)?;
    let mut rendered = pipeline.render(&document);
    write_output(&args, &rendered)?;
    if !args.watch {
        return Ok(());
    }

    let watcher = plugins.watch_adopting(&host, pipeline.plugins())?;
    let stop = interrupted();
    println!(
        "mdpipe: watching {} (Ctrl-C to stop)",
        args.plugins.display()
    );
    loop {
        let event = match events.recv_timeout(Duration::from_millis(100)) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) if stop.try_recv().is_ok() => break,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match event {
            PluginEvent::Reloaded {
                plugin, new_sha256, ..
            } => println!("reloaded {plugin} (sha256:{})", &new_sha256[..12]),
            PluginEvent::Loaded { plugin, .. } => println!("loaded {plugin}"),
            PluginEvent::Unloaded { plugin } => println!("unloaded {plugin}"),
            PluginEvent::ReloadFailed { plugin, error } => {
                println!("refused the new {plugin}, the old one keeps working: {error}");
                continue;
            }
            _ => continue,
        }
        pipeline = Pipeline::new(watcher.plugins(), &args.steps)?;
        let again = pipeline.render(&document);
        let changes = diff::changed_lines(&rendered.text, &again.text);
        if changes.is_empty() {
            println!("  the output is the same");
        } else {
            println!("  the output changed:");
            for line in changes {
                println!("    {line}");
            }
        }
        rendered = again;
        write_output(&args, &rendered)?;
    }
    Ok(())
}

fn write_output(args: &Args, rendered: &pipeline::Rendered) -> anyhow::Result<()> {
    match &args.output {
        Some(path) => {
            std::fs::write(path, &rendered.text)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("mdpipe: wrote {}", path.display());
        }
        None => print!("{}", rendered.text),
    }
    Ok(())
}

/// `$XDG_CACHE_HOME/componentry` (or `~/.cache/componentry`), as the `componentry` CLI uses.
fn default_cache() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("componentry")
}

/// Receives once when the process is asked to stop (Ctrl-C or SIGTERM).
fn interrupted() -> std::sync::mpsc::Receiver<()> {
    let (stop, stopped) = std::sync::mpsc::sync_channel(1);
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = stop.try_send(());
    }) {
        tracing::warn!("cannot handle Ctrl-C: {e}");
    }
    stopped
}
