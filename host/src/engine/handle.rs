//! The engine: wasmtime's compiler and runtime configuration, shared by every plugin it loads.

use std::sync::Arc;
use std::time::Duration;

use super::cache::{ArtifactCache, CacheStats};
use super::core_dumps::CoreDumps;
use super::pooling::Pooling;
use super::timer::Timer;

/// A configured WebAssembly engine. Cheap to clone (a reference count); share one per process.
///
/// Build one with [`Engine::builder`], or [`Engine::new`] for the defaults.
#[derive(Clone)]
pub struct Engine {
    pub(super) wasmtime: wasmtime::Engine,
    pub(super) pooling: Option<Pooling>,
    pub(super) cache: Option<ArtifactCache>,
    pub(super) fuel: bool,
    pub(super) epoch_tick: Option<Duration>,
    /// Ends waits at their deadlines; fired by the epoch ticker, so present with it.
    pub(super) timer: Option<Arc<Timer>>,
    pub(super) core_dumps: Option<Arc<CoreDumps>>,
}

impl Engine {
    /// The underlying wasmtime engine, for code that needs wasmtime directly.
    pub fn wasmtime(&self) -> &wasmtime::Engine {
        &self.wasmtime
    }

    /// The pooling allocator's configuration, when the engine pools instances.
    pub fn pooling(&self) -> Option<&Pooling> {
        self.pooling.as_ref()
    }

    pub(crate) fn cache(&self) -> Option<&ArtifactCache> {
        self.cache.as_ref()
    }

    /// What the compiled-artifact cache has done, when the engine has one.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.cache.as_ref().map(ArtifactCache::stats)
    }

    /// Whether plugins compiled by this engine can be given fuel budgets.
    pub fn fuel_enabled(&self) -> bool {
        self.fuel
    }

    /// Where core dumps of trapping plugins go, when they are on.
    pub(crate) fn core_dumps(&self) -> Option<Arc<CoreDumps>> {
        self.core_dumps.clone()
    }

    /// The epoch ticker's period, when epoch interruption (and so deadlines) is on.
    pub fn epoch_tick(&self) -> Option<Duration> {
        self.epoch_tick
    }

    /// The timer that ends waits at their deadlines, when deadlines are on.
    pub(crate) fn timer(&self) -> Option<&Arc<Timer>> {
        self.timer.as_ref()
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}
