//! The flags that say how a plugin is loaded, each declared once and flattened into the commands
//! that take it: `--no-cache` ([`CacheFlag`]: `run`, `serve`, `watch`, `test`), `--manifest`
//! ([`ManifestFlag`]: `run`, `serve`, `inspect`), `--policy` ([`PolicyFlag`]: `run`, `serve`,
//! `watch`, `inspect`) and `--stubs` ([`StubsFlag`]: `run`, `watch`); with the grant and limit flags, [`LoadFlags`] is the whole set `run` and
//! `serve` take.
//!
//! A flag's help says what it does in the command at hand, so where a command uses a flag
//! differently its wording is here too, as a constant beside the flag (`PolicyFlag::WATCH_HELP`),
//! and that command puts it in with `#[command(mut_arg(..))]`. Clap shows such text as given: no
//! trailing full stop, as clap drops it from doc comments.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use componentry::{EngineBuilder, Grants, Output, Policy};

use crate::loading::{self, Prepared};
use crate::{exit, grant_flags, limit_flags};

/// `--no-cache`: whether compiled components are cached.
#[derive(Args, Debug, Default)]
pub struct CacheFlag {
    /// Compile without the compiled-artifact cache.
    #[arg(long)]
    no_cache: bool,
}

impl CacheFlag {
    /// The engine configuration with the compiled-artifact cache, unless `--no-cache`.
    pub fn engine_builder(&self) -> EngineBuilder {
        loading::engine_builder(self.no_cache)
    }
}

/// `--manifest`: the plugin's manifest, when not the one found beside it.
#[derive(Args, Debug, Default)]
pub struct ManifestFlag {
    /// The plugin's manifest (default: `plugin.toml` beside the component, if there is one):
    /// its name, settings and the capabilities it requests.
    #[arg(long, value_name = "plugin.toml")]
    manifest: Option<PathBuf>,
}

impl ManifestFlag {
    /// `--manifest`'s help in `inspect`, which shows the manifest rather than loading by it.
    pub const INSPECT_HELP: &str =
        "The plugin's manifest (default: `plugin.toml` beside the component, if there is one)";

    /// The manifest given with `--manifest`, if any.
    pub fn path(&self) -> Option<&Path> {
        self.manifest.as_deref()
    }
}

/// `--policy`: the operator's host policy.
#[derive(Args, Debug, Default)]
pub struct PolicyFlag {
    /// A host policy: what the manifest's requests may get, limits, pins. Without one, the
    /// plugin gets the grant flags and nothing its manifest requests beyond them.
    #[arg(long, value_name = "policy.toml")]
    policy: Option<PathBuf>,
}

impl PolicyFlag {
    /// `--policy`'s help in `inspect`, which shows what the policy would grant.
    pub const INSPECT_HELP: &str =
        "A host policy: shows the grants the plugin would effectively get under it";

    /// `--policy`'s help in `watch`, where one policy judges many plugins' manifests.
    pub const WATCH_HELP: &str = "A host policy: what manifests' requests may get, limits, pins";

    /// The policy file given with `--policy`, if any.
    pub fn path(&self) -> Option<&Path> {
        self.policy.as_deref()
    }
}

/// `--stubs`: canned results standing in for the application's imports.
#[derive(Args, Debug, Default)]
pub struct StubsFlag {
    /// Stand in for the application's own imports with the canned results (WAVE) of this
    /// file's `[stubs]` table (a cases file, or a file holding only `[stubs]`), so that a plugin
    /// importing an application interface runs without its application
    #[arg(long, value_name = "stubs.toml")]
    stubs: Option<PathBuf>,
}

impl StubsFlag {
    /// The canned results of the file given with `--stubs`, if one was (a bad file exits 2).
    pub fn read(&self) -> Result<Option<BTreeMap<String, String>>, exit::Failure> {
        self.stubs
            .as_deref()
            .map(componentry_cases_file::read_stubs)
            .transpose()
            .map_err(|e| exit::Failure::Usage(e.to_string()))
    }
}

/// How `run` and `serve` load their one plugin: its manifest, the operator's policy and flags,
/// the cache.
#[derive(Args)]
pub struct LoadFlags {
    /// `--no-cache`.
    #[command(flatten)]
    cache: CacheFlag,

    /// `--manifest`.
    #[command(flatten)]
    manifest: ManifestFlag,

    /// `--policy`.
    #[command(flatten)]
    policy: PolicyFlag,

    /// The grant flags.
    #[command(flatten)]
    grants: grant_flags::GrantFlags,

    /// The limit flags (`serve` sets a default deadline on them and sizes its pool by them).
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
        let source = loading::open_source(path, self.manifest.path())?;
        let operator = extra(source.name(), loading::operator_grants(output, flags));
        let policy = loading::operator_policy(self.policy.path(), operator, &self.limits)?;
        let options = source.options(&policy, None)?;
        Ok(Prepared {
            source,
            options,
            policy,
        })
    }

    /// The manifest given with `--manifest`, if any.
    pub fn manifest(&self) -> Option<&Path> {
        self.manifest.path()
    }

    /// The engine the flags and `policy` need: the cache, fuel, epochs.
    pub fn engine(&self, policy: &Policy) -> EngineBuilder {
        self.limits
            .engine(self.cache.engine_builder(), Some(policy))
    }
}
