//! What became of a call: an error out of guest code mapped once into the crate's [`Error`],
//! recognising the limit behind it.

use wasmtime::Store;

use super::PluginState;
use super::limiter::settle;
use crate::error::{self, Error};

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
    if let Some(missing) = error.downcast_ref::<error::NotProvided>() {
        return Error::NotProvided {
            plugin: plugin.to_owned(),
            function: missing.function.clone(),
            since: missing.since.clone(),
            plugin_version: missing.plugin_version.clone(),
        };
    }
    let pool_full = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<wasmtime::PoolConcurrencyLimitError>());
    if let Some(full) = pool_full {
        return Error::Exhausted {
            plugin: plugin.to_owned(),
            reason: format!("the engine's instance pool is full ({full})"),
        };
    }
    super::coredump::write(store, plugin, &error);
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
            target: super::output::LOG_TARGET,
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
