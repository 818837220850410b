//! WAVE, the WebAssembly Value Encoding: how values are written on command lines and in logs
//! (the same encoding `wasmtime run --invoke` uses).

use wasmtime::component::Val;

/// Writes each value in WAVE, one per line; an empty string for a function without results.
pub fn to_wave(values: &[Val]) -> String {
    values
        .iter()
        .map(|value| {
            value
                .to_wave()
                // Every value a component can return has a WAVE form; keep a readable fallback.
                .unwrap_or_else(|e| format!("<{value:?}: {e}>"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}
