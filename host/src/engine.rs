//! The engine: wasmtime's compiler and runtime configuration, shared by every plugin it loads.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use crate::cache::ArtifactCache;
use crate::error::{Error, Result};

/// A configured WebAssembly engine. Cheap to clone (a reference count); share one per process.
///
/// Build one with [`Engine::builder`], or [`Engine::new`] for the defaults.
#[derive(Clone)]
pub struct Engine {
    wasmtime: wasmtime::Engine,
    cache: Option<ArtifactCache>,
}

impl Engine {
    /// An engine with every default of [`EngineBuilder`].
    pub fn new() -> Result<Self> {
        Self::builder().build()
    }

    /// Starts configuring an engine.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The underlying wasmtime engine, for code that needs wasmtime directly.
    pub fn wasmtime(&self) -> &wasmtime::Engine {
        &self.wasmtime
    }

    pub(crate) fn cache(&self) -> Option<&ArtifactCache> {
        self.cache.as_ref()
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// Configuration of an [`Engine`]. Every setting states its default.
#[derive(Debug, Clone)]
pub struct EngineBuilder {
    cache_dir: Option<PathBuf>,
    wasm_backtrace_frames: usize,
    parallel_compilation: bool,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        Self {
            cache_dir: None,
            wasm_backtrace_frames: 32,
            parallel_compilation: true,
        }
    }
}

impl EngineBuilder {
    /// Keeps compiled components in `dir`, keyed by the SHA-256 of the component and the engine's
    /// configuration, so that loading the same bytes again skips compilation.
    ///
    /// Defaults to no cache. The directory must be writable only by the application: its files are
    /// native code that is mapped and run without re-validation.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// How many frames of wasm backtrace (with function names where the component has them) to
    /// capture when a plugin traps; 0 captures none. Defaults to 32.
    pub fn wasm_backtrace_frames(mut self, frames: usize) -> Self {
        self.wasm_backtrace_frames = frames;
        self
    }

    /// Compiles a component's functions on several threads. Defaults to `true`.
    pub fn parallel_compilation(mut self, enable: bool) -> Self {
        self.parallel_compilation = enable;
        self
    }

    /// Creates the engine.
    pub fn build(self) -> Result<Engine> {
        let mut config = wasmtime::Config::new();
        config
            .wasm_component_model(true)
            .wasm_backtrace_max_frames(NonZeroUsize::new(self.wasm_backtrace_frames))
            .parallel_compilation(self.parallel_compilation);
        let wasmtime =
            wasmtime::Engine::new(&config).map_err(|e| Error::Engine(format!("{e:#}")))?;
        let cache = match self.cache_dir {
            Some(dir) => Some(ArtifactCache::open(dir, &wasmtime)?),
            None => None,
        };
        Ok(Engine { wasmtime, cache })
    }
}
