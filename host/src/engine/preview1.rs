//! WASI preview1 core modules, as toolchains that do not make components emit them (TinyGo, Zig,
//! wasi-sdk's C, `GOOS=wasip1` Go, AssemblyScript): made components on load with the preview1
//! adapter that wasmtime ships, the command adapter for a module that exports `_start`, the
//! reactor adapter otherwise. From there on a module is a component like any other: the same
//! grants, limits, cache and reload.
//!
//! The adapter's own `proc_exit` can only say success or failure (WASI 0.2's `exit` takes a
//! `result`), so status 33 would reach the host as 1. A module's import of `proc_exit` is
//! therefore pointed at the framework's `componentry:preview1/exit`, with the world that declares
//! it embedded beside the module's own, and the host implements it as wasmtime's own preview1
//! does (`wasmtime run`): status `n` below 126 ends the command with status `n`, a larger one
//! fails it.

use componentry_toolchain::componentize::{Adapter, componentize};
use wasi_preview1_component_adapter_provider as adapter;
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasmtime::component::Linker;

use crate::error::{Error, Result};

/// WASI preview1's module name, and its exit function.
const PREVIEW1: &str = "wasi_snapshot_preview1";
const PROC_EXIT: &str = "proc_exit";

/// The interface `proc_exit` is pointed at, linked into every host, and its function.
pub(crate) const EXIT_INTERFACE: &str = "componentry:preview1/exit@0.1.0";
const EXIT_FUNCTION: &str = "proc-exit";
const EXIT_WIT: &str = r#"
package componentry:preview1@0.1.0;

/// WASI preview1's `proc_exit`, for core modules made components.
interface exit {
  /// Ends the command with `status`: below 126, the command's exit status; else a failure.
  proc-exit: func(status: u32);
}

world preview1-exit {
  import exit;
}
"#;

/// Links `proc-exit` into `linker`: status `n` below 126 ends the command with status `n`, a
/// larger one fails it, as wasmtime's preview1 (and so `wasmtime run`) does.
pub(crate) fn add_to_linker<T: 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.instance(EXIT_INTERFACE)?.func_wrap(
        EXIT_FUNCTION,
        |_store, (status,): (u32,)| -> wasmtime::Result<()> {
            if status >= 126 {
                wasmtime::bail!("exit with invalid exit status {status}, outside of [0..126)");
            }
            // Below 126: it fits.
            Err(wasmtime_wasi::I32Exit(status as i32).into())
        },
    )
}

/// What this build makes of a module: part of the cache key of the component made from it, so
/// that another build (another adapter, another rewriting) never takes an artifact made by this
/// one.
const ADAPTATION: &str = concat!(
    "componentry ",
    env!("CARGO_PKG_VERSION"),
    ": preview1 adapter, proc_exit as componentry:preview1/exit"
);

/// The key under which the component made of a module whose bytes hash to `sha256` is cached:
/// not the module's own hash, which names the module (in pins and policies), not what is made
/// of it.
pub(crate) fn cache_key(sha256: &[u8; 32]) -> [u8; 32] {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    hasher.update(ADAPTATION.as_bytes());
    // The adapters themselves, which are versioned apart from wasmtime's engine.
    hasher.update(adapter::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER);
    hasher.update(adapter::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER);
    hasher.update(sha256);
    hasher.finalize().into()
}

/// The component that runs the preview1 core `module` of `plugin`.
pub(crate) fn adapt(plugin: &str, module: &[u8]) -> Result<Vec<u8>> {
    let refused = |reason: String| Error::CoreModule {
        plugin: plugin.to_owned(),
        reason,
    };
    let adapter = if exports_start(module) {
        Adapter::Command
    } else {
        Adapter::Reactor
    };
    // The encoder is a library fed hostile bytes: a panic in it is this module's refusal, not
    // the host's end.
    let adapted = std::panic::catch_unwind(|| {
        let module = exit_with_its_code(module).map_err(|e| format!("{e:#}"))?;
        componentize(&module, adapter).map_err(|e| e.to_string())
    });
    match adapted {
        Ok(adapted) => adapted.map_err(refused),
        Err(panic) => {
            let said = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(refused(format!(
                "making a component of it panicked: {}",
                crate::text::escape_untrusted(&said)
            )))
        }
    }
}

/// `module` with its import of `proc_exit` (if it has one) pointed at
/// `componentry:preview1/exit`, and the world declaring that import embedded.
fn exit_with_its_code(module: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut rewritten = wasm_encoder::Module::new();
    let mut exits = false;
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        let payload = payload?;
        if let wasmparser::Payload::ImportSection(reader) = &payload {
            let mut imports = wasm_encoder::ImportSection::new();
            for import in reader.clone().into_imports() {
                let import = import?;
                let (module, name) = if import.module == PREVIEW1 && import.name == PROC_EXIT {
                    exits = true;
                    (EXIT_INTERFACE, EXIT_FUNCTION)
                } else {
                    (import.module, import.name)
                };
                imports.import(module, name, RoundtripReencoder.entity_type(import.ty)?);
            }
            rewritten.section(&imports);
        } else if let Some((id, range)) = payload.as_section() {
            rewritten.section(&wasm_encoder::RawSection {
                id,
                data: &module[range],
            });
        }
    }
    if !exits {
        return Ok(module.to_vec());
    }
    let mut bytes = rewritten.finish();
    let mut resolve = wit_parser::Resolve::default();
    let package = resolve.push_str("preview1-exit.wit", EXIT_WIT)?;
    let world = resolve.select_world(&[package], Some("preview1-exit"))?;
    wit_component::embed_component_metadata(
        &mut bytes,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )?;
    Ok(bytes)
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
