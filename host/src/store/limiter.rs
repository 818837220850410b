//! Enforcing a plugin's [`Limits`] in one store: the resource limiter that sums memories and tables
//! over the instance, and arming a store before each call (fuel refilled and counted, deadline
//! restarted, output budget renewed).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmtime::{Store, UpdateDeadline};

use super::PluginState;
use super::limits::{ASYNC_YIELD_FUEL, Limits};

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
        Self {
            limits,
            metering,
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
/// restarts its deadline and its output budget.
#[inline]
pub(crate) fn arm<T>(store: &mut Store<PluginState<T>>) {
    let limiter = &store.data().limiter;
    if !limiter.metering.fuel
        && limiter.metering.epoch_tick.is_none()
        && limiter.limits.deadline.is_none()
    {
        // Nothing metered, no deadline: only what the last call may have left.
        renew(store.data_mut());
    } else {
        arm_metered(store);
    }
}

/// [`arm`] for a store with fuel, epochs or a deadline.
fn arm_metered<T>(store: &mut Store<PluginState<T>>) {
    let limiter = &store.data().limiter;
    let Metering {
        fuel: fuel_on,
        epoch_tick,
        asynchronous,
    } = limiter.metering;
    let limits = &limiter.limits;
    let (call_fuel, lifetime_fuel, deadline) = (limits.fuel, limits.lifetime_fuel, limits.deadline);
    if fuel_on {
        account(store);
        let lifetime_left = lifetime_fuel.map(|budget| {
            budget.saturating_sub(store.data().limiter.lifetime_used.load(Ordering::Relaxed))
        });
        let granted = match (call_fuel, lifetime_left) {
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
    store.data_mut().limiter.deadline_at = deadline.map(|d| Instant::now() + d);
    if asynchronous && epoch_tick.is_some() {
        // Yield to the executor at every tick; stop the call once its deadline has passed.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|context| match context.data().limiter.deadline_at {
            Some(at) if Instant::now() >= at => Ok(UpdateDeadline::Interrupt),
            _ => Ok(UpdateDeadline::Yield(1)),
        });
    } else if let Some(tick) = epoch_tick {
        match deadline {
            Some(deadline) => {
                store.set_epoch_deadline(ticks(deadline, tick));
                store.epoch_deadline_trap();
            }
            // Far enough that it never comes, near enough that wasmtime's sum cannot overflow.
            None => store.set_epoch_deadline(u64::MAX / 2),
        }
    }
    renew(store.data_mut());
}

/// Renews what every call starts afresh: its output budget, and what the limiter saw.
#[inline]
fn renew<T>(state: &mut PluginState<T>) {
    state.output_budget().reset();
    let limiter = &mut state.limiter;
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
#[inline]
pub(crate) fn settle<T>(store: &mut Store<PluginState<T>>) -> Option<u64> {
    if !store.data().limiter.metering.fuel {
        return None;
    }
    account(store);
    let granted = store.data_mut().limiter.granted_fuel.take()?;
    let consumed = granted.saturating_sub(store.get_fuel().ok()?);
    store.data_mut().limiter.last_consumed = Some(consumed);
    Some(consumed)
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
}
