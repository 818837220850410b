//! Taking a wasm core dump out of a trapping call, for the engine's dumps to save (off by
//! default; see [`EngineBuilder::core_dumps`](crate::EngineBuilder::core_dumps)).

use wasmtime::Store;

use super::PluginState;

/// Saves the core dump attached to `error`, if there is one and dumps are on.
pub(crate) fn write<T>(store: &mut Store<PluginState<T>>, plugin: &str, error: &wasmtime::Error) {
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
