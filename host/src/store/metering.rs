//! Arming a store for each call and settling it after: fuel refilled and counted against the
//! plugin's lifetime, the deadline restarted, the output budget renewed.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use wasmtime::{AsContextMut, Store, UpdateDeadline};

use super::limiter::Metering;
use super::limits::ASYNC_YIELD_FUEL;
use super::state::PluginState;

/// Arms a store for the next call: counts the fuel burned since the last call (resource
/// destructors, work after a call returned) against the plugin's lifetime, refills its fuel,
/// restarts its deadline and its output budget.
#[inline]
pub(crate) fn arm<T>(store: &mut Store<PluginState<T>>) {
    if store.data().limiter.armed_per_call {
        arm_metered(store);
    } else {
        // Nothing metered, no deadline: only what the last call may have left.
        renew(store.data_mut());
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
        account(&mut *store);
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

/// Readies a store that serves many requests at once (an instance reused for several HTTP
/// requests) for one more: what the last call may have left renewed (its output budget, what
/// the limiter saw), and one call's fuel budget added to what the store has, within what is left
/// of the plugin's lifetime budget. Returns `false`, granting nothing, when that is spent.
#[cfg(feature = "serve")]
pub(crate) fn top_up<T: 'static>(mut store: impl AsContextMut<Data = PluginState<T>>) -> bool {
    let mut store = store.as_context_mut();
    renew(store.data_mut());
    if !store.data().limiter.metering.fuel {
        return true;
    }
    account(&mut store);
    let limits = &store.data().limiter.limits;
    let (call_fuel, lifetime_fuel) = (limits.fuel, limits.lifetime_fuel);
    let lifetime_left = lifetime_fuel.map(|budget| {
        budget.saturating_sub(store.data().limiter.lifetime_used.load(Ordering::Relaxed))
    });
    if lifetime_left == Some(0) {
        return false;
    }
    let grant = match (call_fuel, lifetime_left) {
        (Some(call), Some(left)) => call.min(left),
        (Some(call), None) => call,
        // No budget per call: the store runs on what it was armed with.
        (None, _) => return true,
    };
    let now = store.get_fuel().unwrap_or_default();
    let topped = now.saturating_add(grant);
    let _ = store.set_fuel(topped);
    store.data_mut().limiter.fuel_mark = Some(topped);
    true
}

/// Counts the fuel burned since the last count against the plugin's lifetime budget.
pub(crate) fn account<T: 'static>(mut store: impl AsContextMut<Data = PluginState<T>>) {
    let mut store = store.as_context_mut();
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
pub(crate) fn settle<T: 'static>(
    mut store: impl AsContextMut<Data = PluginState<T>>,
) -> Option<u64> {
    let mut store = store.as_context_mut();
    if !store.data().limiter.metering.fuel {
        return None;
    }
    account(&mut store);
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
