//! How the CLI loads a plugin through the library's load pipeline: the source read once, the
//! operator's policy and grants, the engine with the compiled-artifact cache, and the load itself
//! with progress shown. The flags that steer it are in `load_flags.rs`.

use std::path::Path;

use componentry::{
    Engine, EngineBuilder, Grants, Host, Output, PluginSource, Policy, escape_untrusted,
    policy::OnExcess,
};

use crate::{exit, limit_flags, progress};

/// Reads the plugin at `path` through the library's load pipeline ([`PluginSource`]): a
/// component file or a plugin directory, with the manifest given, or else the one it finds.
pub fn open_source(path: &Path, manifest: Option<&Path>) -> Result<PluginSource, exit::Failure> {
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
pub fn operator_grants(output: Output, flags: Grants) -> Grants {
    Grants::none().stdout(output).stderr(output).merge(flags)
}

/// The operator's side of the CLI: the policy file (or, without one, a policy that gives each
/// plugin the grant flags and drops what its manifest requests beyond them, with a warning),
/// with the grant flags given to every plugin and the limit flags over every rule's limits.
pub fn operator_policy(
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

/// A plugin read through the load pipeline, with the options the operator's policy and flags
/// give it, and that policy (a watcher judges later versions by it).
pub struct Prepared {
    /// The plugin's bytes, name and manifest, read once.
    pub source: PluginSource,
    /// What the policy gives this plugin: grants, limits, settings.
    pub options: componentry::PluginOptions,
    /// The operator's policy the options came from.
    pub policy: Policy,
}

/// Loads (compiles, or takes from the cache) a prepared plugin, showing progress while it takes.
pub fn load<T: Send + 'static>(
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

/// An engine configuration caching compiled components in the library's per-user cache
/// directory (`$COMPONENTRY_CACHE_DIR`, else under `$XDG_CACHE_HOME` or `~/.cache`) unless told
/// not to.
pub fn engine_builder(no_cache: bool) -> EngineBuilder {
    let builder = Engine::builder();
    if no_cache {
        builder.no_cache()
    } else {
        builder
    }
}
