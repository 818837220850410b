//! Turning a core module built for WASI preview 1 (as clang with wasi-libc builds one) into a
//! component, with the preview1 adapter that wasmtime ships.

use crate::{Result, ToolchainError};

/// Which preview1 adapter a module needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// For a library of exports (a plugin): no `_start`.
    Reactor,
    /// For a `wasi:cli/command` with a `_start`.
    Command,
}

/// The component made of `module` (whose custom sections carry its world, as wit-bindgen's
/// generated code embeds it) and the adapter.
pub fn componentize(module: &[u8], adapter: Adapter) -> Result<Vec<u8>> {
    use wasi_preview1_component_adapter_provider as provider;
    let adapter = match adapter {
        Adapter::Reactor => provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        Adapter::Command => provider::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
    };
    encode(module, Some(adapter))
}

/// The component made of `module`, which imports nothing from WASI preview 1 (a module built
/// for wasm32-unknown-unknown): no adapter.
pub fn componentize_without_wasi(module: &[u8]) -> Result<Vec<u8>> {
    encode(module, None)
}

fn encode(module: &[u8], adapter: Option<&[u8]>) -> Result<Vec<u8>> {
    let failed = |e: anyhow::Error| ToolchainError::Failed {
        what: "making a component of the module".to_owned(),
        detail: format!("{e:#}"),
    };
    let mut encoder = wit_component::ComponentEncoder::default()
        .module(module)
        .map_err(failed)?;
    if let Some(adapter) = adapter {
        encoder = encoder
            .adapter("wasi_snapshot_preview1", adapter)
            .map_err(failed)?;
    }
    encoder.validate(true).encode().map_err(failed)
}
