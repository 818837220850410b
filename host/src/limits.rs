//! Bounds on what one plugin instance may consume: fuel and a wall-clock deadline per call, linear
//! memory, table elements and instances per instance. A plugin that runs past them is stopped with
//! a typed error; the host goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmtime::{Store, UpdateDeadline};

use crate::error::{self, Error};
use crate::state::PluginState;

/// The default cap on the linear memory of one instance, all its memories together: 256 MiB.
pub const DEFAULT_MAX_MEMORY: usize = 256 << 20;
/// The default cap on the table elements of one instance, all its tables together: 100,000.
pub const DEFAULT_MAX_TABLE_ELEMENTS: usize = 100_000;
/// The default cap on core instances (and so on memories and tables) in one plugin instance: 100.
pub const DEFAULT_MAX_INSTANCES: usize = 100;
/// The default cap on the host resources one instance holds open at once (files, directories,
/// sockets, streams, pollables, HTTP requests and bodies, application resources): 1,024.
pub const DEFAULT_MAX_HANDLES: usize = 1024;

/// How much fuel an asynchronous call burns between yields to the executor: 100,000 units.
pub const ASYNC_YIELD_FUEL: u64 = 100_000;

/// Limits of one plugin. Memory, tables and instances are always capped (see the `DEFAULT_*`
/// constants); fuel and the deadline are off unless set, since checking them costs time in every
/// plugin the engine compiles (see [`EngineBuilder::fuel`](crate::EngineBuilder::fuel) and
/// [`EngineBuilder::epoch_interruption`](crate::EngineBuilder::epoch_interruption)).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(from = "LimitsToml")]
pub struct Limits {
    fuel: Option<u64>,
    lifetime_fuel: Option<u64>,
    deadline: Option<Duration>,
    max_memory: usize,
    max_table_elements: usize,
    max_instances: usize,
    max_handles: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: None,
            lifetime_fuel: None,
            deadline: None,
            max_memory: DEFAULT_MAX_MEMORY,
            max_table_elements: DEFAULT_MAX_TABLE_ELEMENTS,
            max_instances: DEFAULT_MAX_INSTANCES,
            max_handles: DEFAULT_MAX_HANDLES,
        }
    }
}

impl Limits {
    /// The defaults: no fuel budget, no deadline, the default caps.
    pub fn new() -> Self {
        Self::default()
    }

    /// Units of fuel each call may burn (roughly one per wasm instruction), refilled before every
    /// call. Defaults to unlimited. Needs an engine built with fuel on.
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.fuel = Some(fuel);
        self
    }

    /// Units of fuel the plugin may burn over its whole life, across all calls and instances;
    /// once spent, every call fails with [`Error::FuelExhausted`]. Defaults to unlimited. Needs an
    /// engine built with fuel on.
    pub fn lifetime_fuel(mut self, fuel: u64) -> Self {
        self.lifetime_fuel = Some(fuel);
        self
    }

    /// The wall-clock time each call may take; a call still running after it (and at most one
    /// ticker period more) is stopped. Defaults to none. Needs an engine built with epoch
    /// interruption on.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The most linear memory, in bytes, one instance may have, all its memories together.
    /// Defaults to [`DEFAULT_MAX_MEMORY`].
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.max_memory = bytes;
        self
    }

    /// The most table elements one instance may have, all its tables together. Defaults to
    /// [`DEFAULT_MAX_TABLE_ELEMENTS`].
    pub fn max_table_elements(mut self, elements: usize) -> Self {
        self.max_table_elements = elements;
        self
    }

    /// The most core instances one plugin instance may create. Defaults to
    /// [`DEFAULT_MAX_INSTANCES`].
    pub fn max_instances(mut self, instances: usize) -> Self {
        self.max_instances = instances;
        self
    }

    /// The most host resources one instance may hold open at once: files, directories, sockets,
    /// streams, pollables, HTTP requests and bodies, and the application's own resources (every
    /// entry of the instance's resource table). Past it, the WASI call that would open one more
    /// traps, the call fails with [`Error::HandleLimit`], and the refusal is logged once.
    /// Defaults to [`DEFAULT_MAX_HANDLES`].
    pub fn max_handles(mut self, handles: usize) -> Self {
        self.max_handles = handles;
        self
    }

    /// The cap on open host resources.
    pub fn handle_cap(&self) -> usize {
        self.max_handles
    }

    /// The cap on linear memory, in bytes.
    pub fn memory_cap(&self) -> usize {
        self.max_memory
    }

    /// The fuel budget of a call, if any.
    pub fn fuel_budget(&self) -> Option<u64> {
        self.fuel
    }

    /// The fuel budget of the plugin's whole life, if any.
    pub fn lifetime_fuel_budget(&self) -> Option<u64> {
        self.lifetime_fuel
    }

    /// The deadline of a call, if any.
    pub fn call_deadline(&self) -> Option<Duration> {
        self.deadline
    }
}

/// The TOML form of [`Limits`], in the vocabulary policies and the CLI's flags use:
/// `fuel`, `lifetime-fuel`, `timeout-ms`, `max-memory`, `max-table-elements`, `max-instances`,
/// `max-handles`; each optional.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct LimitsToml {
    pub(crate) fuel: Option<u64>,
    pub(crate) lifetime_fuel: Option<u64>,
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) max_memory: Option<usize>,
    pub(crate) max_table_elements: Option<usize>,
    pub(crate) max_instances: Option<usize>,
    pub(crate) max_handles: Option<usize>,
}

impl From<LimitsToml> for Limits {
    fn from(table: LimitsToml) -> Self {
        let mut limits = Limits::new();
        if let Some(fuel) = table.fuel {
            limits = limits.fuel(fuel);
        }
        if let Some(fuel) = table.lifetime_fuel {
            limits = limits.lifetime_fuel(fuel);
        }
        if let Some(ms) = table.timeout_ms {
            limits = limits.deadline(Duration::from_millis(ms));
        }
        if let Some(bytes) = table.max_memory {
            limits = limits.max_memory(bytes);
        }
        if let Some(elements) = table.max_table_elements {
            limits = limits.max_table_elements(elements);
        }
        if let Some(instances) = table.max_instances {
            limits = limits.max_instances(instances);
        }
        if let Some(handles) = table.max_handles {
            limits = limits.max_handles(handles);
        }
        limits
    }
}

/// What the limiter saw in one store, kept to explain a trap that followed a refused growth.
#[derive(Debug)]
pub(crate) struct Limiter {
    limits: Limits,
    /// When the running call's deadline passes (asynchronous calls).
    deadline_at: Option<Instant>,
    /// The fuel given to the running call, when it is metered.
    granted_fuel: Option<u64>,
    /// The fuel the last settled call burned.
    last_consumed: Option<u64>,
    /// The store's fuel when it was last counted against the lifetime budget.
    fuel_mark: Option<u64>,
    /// The fuel the plugin has burned over its life, shared by all its instances.
    lifetime_used: Arc<AtomicU64>,
    /// The linear memory of all the instance's memories, in bytes.
    memory_total: usize,
    /// The elements of all the instance's tables.
    table_total: usize,
    /// The last refused memory growth: the instance's total it would have made, in bytes.
    refused_memory: Option<usize>,
    refused_table: Option<usize>,
}

impl Limiter {
    pub(crate) fn new(limits: Limits, lifetime_used: Arc<AtomicU64>) -> Self {
        Self {
            limits,
            deadline_at: None,
            granted_fuel: None,
            last_consumed: None,
            fuel_mark: None,
            lifetime_used,
            memory_total: 0,
            table_total: 0,
            refused_memory: None,
            refused_table: None,
        }
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// When the running call's deadline passes, if it has one.
    pub(crate) fn deadline_at(&self) -> Option<Instant> {
        self.deadline_at
    }
}

/// Adds `current -> desired` to `total` when it stays within `cap`; returns the new total, or
/// `Err(total it would have been)`.
fn grow(total: usize, current: usize, desired: usize, cap: usize) -> Result<usize, usize> {
    let next = total.saturating_sub(current).saturating_add(desired);
    if next <= cap { Ok(next) } else { Err(next) }
}

impl wasmtime::ResourceLimiter for Limiter {
    // Memories and tables are summed over the whole instance: a component may have many. A growth
    // allowed here that the engine then fails to perform stays counted: the limiter is not told
    // which growth failed, and counting too much only ever holds the plugin itself back.
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        match grow(self.memory_total, current, desired, self.limits.max_memory) {
            Ok(total) => {
                self.memory_total = total;
                Ok(true)
            }
            Err(total) => {
                self.refused_memory = Some(total);
                Ok(false)
            }
        }
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        match grow(
            self.table_total,
            current,
            desired,
            self.limits.max_table_elements,
        ) {
            Ok(total) => {
                self.table_total = total;
                Ok(true)
            }
            Err(total) => {
                self.refused_table = Some(total);
                Ok(false)
            }
        }
    }

    fn instances(&self) -> usize {
        self.limits.max_instances
    }

    fn tables(&self) -> usize {
        self.limits.max_instances
    }

    fn memories(&self) -> usize {
        self.limits.max_instances
    }
}

/// Arms a store for the next call: counts the fuel burned since the last call (resource
/// destructors, work after a call returned) against the plugin's lifetime, refills its fuel,
/// restarts its deadline and its output budget. `fuel_on` and `epoch_tick` say what the engine
/// compiled in.
pub(crate) fn arm<T>(
    store: &mut Store<PluginState<T>>,
    fuel_on: bool,
    epoch_tick: Option<Duration>,
    asynchronous: bool,
) {
    let limits = store.data().limiter.limits.clone();
    if fuel_on {
        account(store);
        let lifetime_left = limits.lifetime_fuel.map(|budget| {
            budget.saturating_sub(store.data().limiter.lifetime_used.load(Ordering::Relaxed))
        });
        let granted = match (limits.fuel, lifetime_left) {
            (Some(call), Some(left)) => Some(call.min(left)),
            (call, left) => call.or(left),
        };
        // Without a budget of its own, a plugin of a fuel-metering engine runs unbounded.
        // `set_fuel` fails only when the engine has fuel off, which was just checked.
        let _ = store.set_fuel(granted.unwrap_or(u64::MAX));
        let limiter = &mut store.data_mut().limiter;
        limiter.granted_fuel = granted;
        limiter.fuel_mark = granted;
        if asynchronous {
            let _ = store.fuel_async_yield_interval(Some(ASYNC_YIELD_FUEL));
        }
    }
    store.data_mut().limiter.deadline_at = limits.deadline.map(|d| Instant::now() + d);
    if asynchronous && epoch_tick.is_some() {
        // Yield to the executor at every tick; stop the call once its deadline has passed.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|context| match context.data().limiter.deadline_at {
            Some(at) if Instant::now() >= at => Ok(UpdateDeadline::Interrupt),
            _ => Ok(UpdateDeadline::Yield(1)),
        });
    } else if let Some(tick) = epoch_tick {
        match limits.deadline {
            Some(deadline) => {
                store.set_epoch_deadline(ticks(deadline, tick));
                store.epoch_deadline_trap();
            }
            // Far enough that it never comes, near enough that wasmtime's sum cannot overflow.
            None => store.set_epoch_deadline(u64::MAX / 2),
        }
    }
    store.data().output_budget().reset();
    let limiter = &mut store.data_mut().limiter;
    limiter.last_consumed = None;
    limiter.refused_memory = None;
    limiter.refused_table = None;
}

/// Counts the fuel burned since the last count against the plugin's lifetime budget.
pub(crate) fn account<T>(store: &mut Store<PluginState<T>>) {
    let Some(mark) = store.data().limiter.fuel_mark else {
        return;
    };
    // `get_fuel` fails only on an engine without fuel, where no plugin has a budget.
    let Ok(now) = store.get_fuel() else {
        return;
    };
    let limiter = &mut store.data_mut().limiter;
    limiter
        .lifetime_used
        .fetch_add(mark.saturating_sub(now), Ordering::Relaxed);
    limiter.fuel_mark = Some(now);
}

/// How many ticker periods cover `deadline`: at least one, rounded up.
fn ticks(deadline: Duration, tick: Duration) -> u64 {
    let tick = tick.as_nanos().max(1);
    deadline
        .as_nanos()
        .div_ceil(tick)
        .clamp(1, u128::from(u64::MAX)) as u64
}

/// Settles the call that just ended: counts what it burned against the plugin's lifetime, and
/// returns that, when fuel is metered.
pub(crate) fn settle<T>(store: &mut Store<PluginState<T>>) -> Option<u64> {
    account(store);
    let granted = store.data_mut().limiter.granted_fuel.take()?;
    let consumed = granted.saturating_sub(store.get_fuel().ok()?);
    store.data_mut().limiter.last_consumed = Some(consumed);
    Some(consumed)
}

/// The error of a call stopped at its deadline.
pub(crate) fn deadline_exceeded<T>(
    store: &Store<PluginState<T>>,
    plugin: &str,
    function: &str,
) -> Error {
    Error::DeadlineExceeded {
        plugin: plugin.to_owned(),
        function: function.to_owned(),
        deadline: store.data().limiter.limits.deadline.unwrap_or_default(),
    }
}

/// Maps an error out of guest code, recognising the limits that caused it.
pub(crate) fn classify<T>(
    store: &mut Store<PluginState<T>>,
    plugin: &str,
    function: &str,
    error: wasmtime::Error,
) -> Error {
    crate::coredump::write(store, plugin, &error);
    if let Some(wasmtime::Trap::OutOfFuel) = error.downcast_ref::<wasmtime::Trap>() {
        let consumed = settle(store)
            .or(store.data().limiter.last_consumed)
            .unwrap_or_default();
        return Error::FuelExhausted {
            plugin: plugin.to_owned(),
            function: function.to_owned(),
            consumed,
        };
    }
    if let Some(wasmtime::Trap::Interrupt) = error.downcast_ref::<wasmtime::Trap>() {
        return deadline_exceeded(store, plugin, function);
    }
    let limiter = &store.data().limiter;
    let limits = &limiter.limits;
    // A guest usually turns a refused `memory.grow` into its own abort (a trap of its own choosing),
    // so any failure after a refusal is reported as the limit that caused it.
    if let Some(requested) = limiter.refused_memory {
        return Error::MemoryLimit {
            plugin: plugin.to_owned(),
            function: function.to_owned(),
            limit: limits.max_memory,
            requested,
        };
    }
    if let Some(requested) = limiter.refused_table {
        return Error::TableLimit {
            plugin: plugin.to_owned(),
            function: function.to_owned(),
            limit: limits.max_table_elements,
            requested,
        };
    }
    let table_full = error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<wasmtime::component::ResourceTableError>(),
            Some(wasmtime::component::ResourceTableError::Full)
        )
    });
    if table_full {
        tracing::warn!(
            target: crate::LOG_TARGET,
            plugin,
            "refused to open more than {} handles in `{function}`; the call was stopped",
            limits.max_handles
        );
        return Error::HandleLimit {
            plugin: plugin.to_owned(),
            function: function.to_owned(),
            limit: limits.max_handles,
        };
    }
    let stderr = store.data().output_budget().stderr_tail();
    error::from_guest(plugin, function, error, stderr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_to_whole_ticks() {
        let tick = Duration::from_millis(10);
        assert_eq!(ticks(Duration::from_millis(1), tick), 1);
        assert_eq!(ticks(Duration::from_millis(10), tick), 1);
        assert_eq!(ticks(Duration::from_millis(11), tick), 2);
        assert_eq!(ticks(Duration::ZERO, tick), 1);
    }

    #[test]
    fn memory_and_tables_are_capped_by_default() {
        let limits = Limits::default();
        assert_eq!(limits.max_memory, DEFAULT_MAX_MEMORY);
        assert_eq!(limits.fuel_budget(), None);
        assert_eq!(limits.call_deadline(), None);
    }
}
