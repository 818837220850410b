//! Enforcing a plugin's [`Limits`] in one store: the resource limiter that sums memories and tables
//! over the instance, and what it records of the store's metering (arming a store for a call is
//! `store::metering`).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use super::limits::Limits;

/// What the engine and the host meter in a store, fixed when the store is made.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Metering {
    /// The engine counts fuel.
    pub(crate) fuel: bool,
    /// The engine's epoch ticker, when it interrupts guest code.
    pub(crate) epoch_tick: Option<Duration>,
    /// Calls are asynchronous.
    pub(crate) asynchronous: bool,
}

/// What the limiter saw in one store, kept to explain a trap that followed a refused growth.
#[derive(Debug)]
pub(crate) struct Limiter {
    pub(crate) limits: Limits,
    pub(crate) metering: Metering,
    /// Each call must be armed (fuel refilled, a deadline set): the engine meters fuel or
    /// ticks epochs, or the plugin has a deadline. Fixed when the store is made.
    pub(crate) armed_per_call: bool,
    /// When the running call's deadline passes (asynchronous calls).
    pub(crate) deadline_at: Option<Instant>,
    /// The fuel given to the running call, when it is metered.
    pub(crate) granted_fuel: Option<u64>,
    /// The fuel the last settled call burned.
    pub(crate) last_consumed: Option<u64>,
    /// The store's fuel when it was last counted against the lifetime budget.
    pub(crate) fuel_mark: Option<u64>,
    /// The fuel the plugin has burned over its life, shared by all its instances.
    pub(crate) lifetime_used: Arc<AtomicU64>,
    /// The linear memory of all the instance's memories, in bytes.
    pub(crate) memory_total: usize,
    /// The elements of all the instance's tables.
    pub(crate) table_total: usize,
    /// The last refused memory growth: the instance's total it would have made, in bytes.
    pub(crate) refused_memory: Option<usize>,
    pub(crate) refused_table: Option<usize>,
}

impl Limiter {
    pub(crate) fn new(limits: Limits, metering: Metering, lifetime_used: Arc<AtomicU64>) -> Self {
        let armed_per_call =
            metering.fuel || metering.epoch_tick.is_some() || limits.deadline.is_some();
        Self {
            limits,
            metering,
            armed_per_call,
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
