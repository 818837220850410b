//! What became of a call: an error out of guest code mapped once into the crate's [`Error`],
//! recognising the limit behind it, and the wasm core dump of a trap saved (when the engine
//! keeps them).

use wasmtime::{AsContextMut, Store, StoreContextMut};

use super::metering::settle;
use super::state::PluginState;
use crate::error::{self, Error};

/// More bytes read on the host from the streams and futures a call returned than the plugin's
/// memory limit allows (`plugin::async_values` reads them).
#[derive(Debug, thiserror::Error)]
#[error("the streams and futures it returned held more than {limit} bytes")]
pub(crate) struct TooLarge {
    /// The limit, in bytes.
    pub(crate) limit: usize,
    /// How much had been read when it was passed.
    pub(crate) read: usize,
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

/// Concludes a call that failed with `error`: saves the core dump of a trap (when dumps are on)
/// and maps the error, recognising the limits that caused it.
pub(crate) fn conclude_failed_call<T: 'static>(
    mut store: impl AsContextMut<Data = PluginState<T>>,
    plugin: &str,
    function: &str,
    error: wasmtime::Error,
) -> Error {
    let mut store = store.as_context_mut();
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
    save_core_dump(&mut store, plugin, &error);
    if let Some(wasmtime::Trap::OutOfFuel) = error.downcast_ref::<wasmtime::Trap>() {
        let consumed = settle(&mut store)
            .or(store.data().limiter.last_consumed)
            .unwrap_or_default();
        return Error::FuelExhausted {
            plugin: plugin.to_owned(),
            function: function.to_owned(),
            consumed,
        };
    }
    if let Some(wasmtime::Trap::Interrupt) = error.downcast_ref::<wasmtime::Trap>() {
        return Error::DeadlineExceeded {
            plugin: plugin.to_owned(),
            function: function.to_owned(),
            deadline: store.data().limiter.limits.deadline.unwrap_or_default(),
        };
    }
    let table_full = error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<wasmtime::component::ResourceTableError>(),
            Some(wasmtime::component::ResourceTableError::Full)
        )
    });
    // Which table was full: the plugin's own (host handles), or wasmtime's for async work.
    let handles_full = table_full && handle_table_full(&mut store);
    let limiter = &store.data().limiter;
    let limits = &limiter.limits;
    if let Some(too_large) = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<TooLarge>())
    {
        return Error::MemoryLimit {
            plugin: plugin.to_owned(),
            function: function.to_owned(),
            limit: too_large.limit,
            requested: too_large.read,
        };
    }
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
    if past_component_handle_limit(&error) {
        tracing::warn!(
            target: super::output::LOG_TARGET,
            plugin,
            "refused more than {} component handles (resources, streams, futures, async calls) \
             in `{function}`; the call was stopped",
            limits.max_component_handles
        );
        return Error::ComponentHandleLimit {
            plugin: plugin.to_owned(),
            function: function.to_owned(),
            limit: limits.max_component_handles,
        };
    }
    if table_full && !handles_full {
        // Not the plugin's table of host handles: wasmtime's table of the host-side state of
        // async work (tasks, streams, futures), bounded with the component handles.
        tracing::warn!(
            target: super::output::LOG_TARGET,
            plugin,
            "refused more host-side state for async work (tasks, streams, futures) than {} \
             component handles allow in `{function}`; the call was stopped",
            limits.max_component_handles
        );
        return Error::ComponentHandleLimit {
            plugin: plugin.to_owned(),
            function: function.to_owned(),
            limit: limits.max_component_handles,
        };
    }
    if handles_full {
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

/// Whether the plugin's table of host handles (files, sockets, HTTP bodies, the application's
/// resources) is full, which a table error may come from, or else from wasmtime's table of the
/// host-side state of async work: found by trying to add one more entry (removed at once).
fn handle_table_full<T>(store: &mut StoreContextMut<'_, PluginState<T>>) -> bool {
    let table = store.data_mut().table();
    match table.push(()) {
        Ok(probe) => {
            let _ = table.delete(probe);
            false
        }
        Err(_) => true,
    }
}

/// Whether `error` is wasmtime refusing a component handle past the store's limit
/// ([`Store::set_max_component_handles`](wasmtime::Store::set_max_component_handles)). Wasmtime
/// reports it as a message, not a type of its own: the message is pinned by the tests of the
/// limit (`async_limits.rs`), so a wasmtime that changes it fails them.
fn past_component_handle_limit(error: &wasmtime::Error) -> bool {
    const REFUSED: &str = "cannot allocate another handle";
    error
        .chain()
        .any(|cause| cause.to_string().contains(REFUSED))
}

/// Saves the core dump attached to `error`, if there is one and dumps are on (see
/// [`EngineBuilder::core_dumps`](crate::EngineBuilder::core_dumps)).
fn save_core_dump<T: 'static>(
    store: &mut StoreContextMut<'_, PluginState<T>>,
    plugin: &str,
    error: &wasmtime::Error,
) {
    let Some(dumps) = store.data().core_dumps.clone() else {
        return;
    };
    let Some(dump) = error.downcast_ref::<wasmtime::WasmCoreDump>() else {
        return;
    };
    let memory: usize = dump
        .memories()
        .iter()
        .map(|memory| memory.data_size(&*store))
        .sum();
    dumps.save(plugin, memory, || dump.serialize(&mut *store, plugin));
}
