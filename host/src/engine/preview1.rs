//! WASI preview1 core modules, as toolchains that do not make components emit them (TinyGo, Zig,
//! wasi-sdk's C, `GOOS=wasip1` Go, AssemblyScript): made components on load with the preview1
//! adapter that wasmtime ships, the command adapter for a module that exports `_start`, the
//! reactor adapter otherwise. From there on a module is a component like any other: the same
//! grants, limits, cache and reload. Through the adapter, `proc_exit(n)` is WASI 0.2's
//! `exit-with-code(n)`, so a command's status comes through as `wasmtime run` reports it.

use componentry_toolchain::componentize::{Adapter, componentize};

use crate::error::{Error, Result};

/// The component that runs the preview1 core `module` of `plugin`.
pub(crate) fn adapt(plugin: &str, module: &[u8]) -> Result<Vec<u8>> {
    let adapter = if exports_start(module) {
        Adapter::Command
    } else {
        Adapter::Reactor
    };
    componentize(module, adapter).map_err(|e| Error::CoreModule {
        plugin: plugin.to_owned(),
        reason: e.to_string(),
    })
}

/// Whether `module` exports `_start`, the entry point of a preview1 command.
fn exports_start(module: &[u8]) -> bool {
    wasmparser::Parser::new(0)
        .parse_all(module)
        .filter_map(std::result::Result::ok)
        .any(|payload| match payload {
            wasmparser::Payload::ExportSection(exports) => exports
                .into_iter()
                .filter_map(std::result::Result::ok)
                .any(|export| export.name == "_start"),
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_told_from_a_reactor_by_its_start() {
        let command = wat::parse_str(r#"(module (func (export "_start")))"#).expect("wat");
        assert!(exports_start(&command));
        let reactor = wat::parse_str(r#"(module (func (export "start")))"#).expect("wat");
        assert!(!exports_start(&reactor));
        assert!(!exports_start(b"not wasm"));
    }

    #[test]
    fn a_module_the_adapter_cannot_serve_is_refused_with_the_reason() {
        // Imports of its own, which no adapter provides.
        let foreign = wat::parse_str(
            r#"(module (import "env" "host_thing" (func)) (func (export "_start") call 0))"#,
        )
        .expect("wat");
        match adapt("foreign", &foreign) {
            Err(Error::CoreModule { plugin, reason }) => {
                assert_eq!(plugin, "foreign");
                assert!(reason.contains("env"), "{reason}");
            }
            other => panic!("expected CoreModule, got {other:?}"),
        }
    }
}
