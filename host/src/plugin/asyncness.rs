//! Which plugins use the component model's async ABI, by exporting an `async` function, one that
//! takes or returns streams or futures, or by importing WASI 0.3 (whose host functions are asynchronous): wasmtime instantiates and calls
//! them only through its async entry points, which a synchronous host drives to completion
//! itself (`engine::driver`).

use wasmtime::component::Component;

use crate::plugin::exports::ExportedFunc;

/// Why `component` (whose exported functions are `exports`) uses the async ABI, if it does: its
/// `async` exports and its WASI 0.3 imports, named.
pub(crate) fn uses_async_abi(
    engine: &wasmtime::Engine,
    component: &Component,
    exports: &[ExportedFunc],
) -> Option<String> {
    let async_exports: Vec<&str> = exports
        .iter()
        .filter(|export| export.ty.async_())
        .map(|export| export.name.as_str())
        .collect();
    let carrying: Vec<&str> = exports
        .iter()
        .filter(|export| !export.ty.async_())
        .filter(|export| export.async_params || export.async_results.is_some())
        .map(|export| export.name.as_str())
        .collect();
    let wasi_p3_imports: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name)
        .filter(|name| is_wasi_p3(name))
        .map(str::to_owned)
        .collect();
    let mut reasons = Vec::new();
    if !async_exports.is_empty() {
        reasons.push(format!(
            "it exports async functions ({})",
            async_exports.join(", ")
        ));
    }
    if !carrying.is_empty() {
        reasons.push(format!(
            "its functions take or return streams or futures ({})",
            carrying.join(", ")
        ));
    }
    if !wasi_p3_imports.is_empty() {
        reasons.push(format!(
            "it imports WASI 0.3 ({})",
            wasi_p3_imports.join(", ")
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join(", and "))
}

/// Whether `interface` (`wasi:pkg/iface@version`) is a WASI 0.3 interface.
fn is_wasi_p3(interface: &str) -> bool {
    interface.starts_with("wasi:")
        && interface
            .rsplit_once('@')
            .is_some_and(|(_, version)| version.starts_with("0.3."))
}

#[cfg(test)]
mod tests {
    use super::is_wasi_p3;

    #[test]
    fn wasi_0_3_interfaces_are_told_apart() {
        assert!(is_wasi_p3("wasi:clocks/monotonic-clock@0.3.0"));
        assert!(is_wasi_p3("wasi:cli/stdout@0.3.2"));
        assert!(!is_wasi_p3("wasi:clocks/monotonic-clock@0.2.12"));
        assert!(!is_wasi_p3("acme:clocks/tick@0.3.0"));
        assert!(!is_wasi_p3("wasi:clocks/monotonic-clock"));
        assert!(!is_wasi_p3("wasi:clocks/monotonic-clock@0.30.0"));
    }
}
