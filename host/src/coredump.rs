//! Wasm core dumps of trapping plugins, for debugging (off by default; see
//! [`EngineBuilder::core_dumps`](crate::EngineBuilder::core_dumps)).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use wasmtime::Store;

use crate::state::PluginState;

/// Writes the core dump attached to `error`, if there is one and dumps are on, and logs where.
pub(crate) fn write<T>(store: &mut Store<PluginState<T>>, plugin: &str, error: &wasmtime::Error) {
    let Some(dir) = store.data().core_dump_dir.clone() else {
        return;
    };
    let Some(dump) = error.downcast_ref::<wasmtime::WasmCoreDump>() else {
        return;
    };
    let bytes = dump.serialize(&mut *store, plugin);
    let path = dir.join(file_name(plugin));
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, bytes)) {
        Ok(()) => tracing::info!(plugin, path = %path.display(), "wrote a core dump of the trap"),
        Err(e) => tracing::warn!(plugin, dir = %dir.display(), "cannot write a core dump: {e}"),
    }
}

/// `PLUGIN-MILLIS-N.coredump`: unique within the process, ordered in time.
fn file_name(plugin: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let safe: String = plugin
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}-{millis}-{n}.coredump")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_safe() {
        let a = file_name("my plugin/../x");
        let b = file_name("my plugin/../x");
        assert_ne!(a, b);
        assert!(!a.contains('/') && !a.contains(' '), "{a}");
        assert!(a.ends_with(".coredump"), "{a}");
    }
}
