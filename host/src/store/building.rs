//! Building one plugin instance's store: its state (every field of [`PluginState`] set here,
//! nowhere else), the resource limiter hooked in, and the store armed for its first call.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use wasmtime::Store;
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::WasiHttpHooks;

use super::limiter::{Limiter, Metering};
use super::limits::Limits;
use super::metering;
use super::output::OutputBudget;
use super::state::{PluginState, Settings};
use crate::engine::Engine;
use crate::error::Result;

/// What a plugin's stores are made of, apart from the application's data and the WASI wiring.
pub(crate) struct StoreRecipe<'a> {
    /// The plugin's name.
    pub(crate) plugin: &'a Arc<str>,
    /// The engine the store belongs to (fuel, epochs, the timer, core dumps).
    pub(crate) engine: &'a Engine,
    /// Whether the host calls asynchronously.
    pub(crate) asynchronous: bool,
    pub(crate) limits: &'a Limits,
    /// The fuel the plugin has burned in its whole life, shared by its stores.
    pub(crate) lifetime_fuel_used: &'a Arc<AtomicU64>,
    /// Bytes of stdout, stderr and log per call.
    pub(crate) output_cap: usize,
    /// The plugin runs deterministically: file timestamps are virtual too.
    pub(crate) deterministic: bool,
    pub(crate) settings: &'a Arc<Settings>,
    pub(crate) plugin_version: Option<&'a semver::Version>,
    pub(crate) sha256: [u8; 32],
}

/// The WASI context (when the component imports WASI) and the HTTP hooks of one store, wired to
/// its output budget: the capabilities' side, above this layer.
pub(crate) type Wiring = (Option<WasiCtx>, Box<dyn WasiHttpHooks + Send>);

impl StoreRecipe<'_> {
    /// A new store of the plugin holding `data`, its WASI wired by `wire`, armed for a call.
    pub(crate) fn build<T>(
        &self,
        data: T,
        wire: impl FnOnce(&Arc<OutputBudget>) -> Result<Wiring>,
    ) -> Result<Store<PluginState<T>>> {
        let budget = OutputBudget::new(self.plugin.clone(), self.output_cap);
        let (wasi, http_hooks) = wire(&budget)?;
        let metering = Metering {
            fuel: self.engine.fuel_enabled(),
            epoch_tick: self.engine.epoch_tick(),
            asynchronous: self.asynchronous,
        };
        let limiter = Limiter::new(
            self.limits.clone(),
            metering,
            self.lifetime_fuel_used.clone(),
        );
        let state = PluginState::new(self.plugin.clone(), wasi, http_hooks, limiter, budget, data)
            .with_engine(self.engine)
            .with_identity(
                self.deterministic,
                self.settings.clone(),
                self.plugin_version.cloned(),
                self.sha256,
            );
        let mut store = Store::new(self.engine.wasmtime(), state);
        store.limiter(|state| &mut state.limiter);
        bound_component_handles(&mut store, self.limits.max_component_handles);
        metering::arm(&mut store);
        Ok(store)
    }
}

/// Bounds the component model's own handles in `store` (resources, stream and future ends,
/// subtasks, waitable sets, error contexts: what a guest makes without asking the host) at
/// `limit`, and the host-side state wasmtime keeps for async work (tasks, streams, futures)
/// with it: a guest that makes them without bound traps instead of growing the host's memory.
fn bound_component_handles<T>(store: &mut Store<T>, limit: usize) {
    store.set_max_component_handles(limit);
    if let Some(table) = store.concurrent_resource_table() {
        // Each handle has at most two entries there (a stream's state and its end; a task and
        // its subtask), and the host's own tasks a few more.
        table.set_max_capacity(limit.saturating_mul(2).saturating_add(64));
    }
}
