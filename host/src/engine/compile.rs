//! From bytes to a compiled component: read, recognise, hash, then take the compiled artifact from
//! the cache or compile it.

use std::borrow::Cow;
use std::path::Path;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::engine::handle::Engine;
use crate::error::{Error, Result};

/// A compiled component and the hash of the bytes it came from.
pub(crate) struct Compiled {
    pub(crate) component: Component,
    pub(crate) sha256: [u8; 32],
}

/// Reads a plugin's file, naming the plugin in the error when that fails.
pub(crate) fn read(plugin: &str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Read {
        plugin: plugin.to_owned(),
        path: path.to_owned(),
        source,
    })
}

/// The SHA-256 of `bytes`: a component's identity in the cache, in pins and in policies.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Compiles `bytes` (whose SHA-256 is `sha256`) into a component for `engine`, through its
/// artifact cache when it has one.
pub(crate) fn compile(
    engine: &Engine,
    plugin: &str,
    bytes: &[u8],
    sha256: [u8; 32],
) -> Result<Compiled> {
    let span = tracing::info_span!("compile", plugin, cached = tracing::field::Empty).entered();
    // A core module's component is cached under a key of its own (`preview1::cache_key`).
    let key = match recognise(plugin, bytes)? {
        Input::CoreModule | Input::CoreModuleText => super::preview1::cache_key(&sha256),
        Input::Component | Input::ComponentText => sha256,
    };
    if let Some(component) = engine.cache().and_then(|c| c.get(engine.wasmtime(), &key)) {
        span.record("cached", true);
        return Ok(Compiled { component, sha256 });
    }
    span.record("cached", false);
    let binary = component_binary(plugin, bytes)?;
    let component = Component::from_binary(engine.wasmtime(), &binary)
        .map_err(|e| classify_compile_error(plugin, &binary, e))?;
    if let Some(cache) = engine.cache() {
        cache.put(&key, &component);
    }
    Ok(Compiled { component, sha256 })
}

/// The binary component in `bytes`: the bytes themselves, the binary form of a component in
/// the WebAssembly text format, or the component made of a WASI preview1 core module (binary or
/// text; see [`preview1`](super::preview1)). Anything else is refused with the reason.
pub(crate) fn component_binary<'a>(plugin: &str, bytes: &'a [u8]) -> Result<Cow<'a, [u8]>> {
    let invalid = |e: wat::Error| Error::Invalid {
        plugin: plugin.to_owned(),
        reason: format!("{e}"),
        source: Some(e.into()),
    };
    match recognise(plugin, bytes)? {
        Input::Component => Ok(Cow::Borrowed(bytes)),
        Input::ComponentText => wat::parse_bytes(bytes).map_err(invalid),
        Input::CoreModule => super::preview1::adapt(plugin, bytes).map(Cow::Owned),
        Input::CoreModuleText => {
            let module = wat::parse_bytes(bytes).map_err(invalid)?;
            super::preview1::adapt(plugin, &module).map(Cow::Owned)
        }
    }
}

/// What the bytes of a plugin hold, judged from their header.
#[derive(Debug)]
enum Input {
    /// A component's binary form.
    Component,
    /// A component in the WebAssembly text format.
    ComponentText,
    /// A core module's binary form.
    CoreModule,
    /// A core module in the WebAssembly text format.
    CoreModuleText,
}

/// What kind of input the bytes are, judged from their header alone.
fn recognise(plugin: &str, bytes: &[u8]) -> Result<Input> {
    const MAGIC: &[u8; 4] = b"\0asm";
    if bytes.starts_with(MAGIC) {
        if bytes.len() < 8 {
            return Err(Error::Invalid {
                plugin: plugin.to_owned(),
                reason: format!("truncated: only {} bytes", bytes.len()),
                source: None,
            });
        }
        if wasmparser::Parser::is_core_wasm(bytes) {
            return Ok(Input::CoreModule);
        }
        if !wasmparser::Parser::is_component(bytes) {
            return Err(Error::Invalid {
                plugin: plugin.to_owned(),
                reason: "unknown WebAssembly version or layer in the header".to_owned(),
                source: None,
            });
        }
        return Ok(Input::Component);
    }
    // The WebAssembly text format is accepted too (handy for tests and quick experiments).
    if let Some(text) = wat_text(bytes) {
        if text.starts_with("(module") {
            return Ok(Input::CoreModuleText);
        }
        return Ok(Input::ComponentText);
    }
    Err(Error::NotWasm {
        plugin: plugin.to_owned(),
        detail: describe_header(bytes),
    })
}

/// The text, with leading whitespace and comments removed, when `bytes` look like WAT.
fn wat_text(bytes: &[u8]) -> Option<&str> {
    let mut text = std::str::from_utf8(bytes).ok()?;
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix(";;") {
            text = rest.split_once('\n').map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    text.starts_with('(').then_some(text)
}

fn describe_header(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "the file is empty".to_owned();
    }
    let head: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!(
        "it starts with bytes {} instead of the magic number 00 61 73 6d",
        head.join(" ")
    )
}

/// Tells malformed bytes (the validator refuses them) from a valid component that this engine
/// cannot compile.
fn classify_compile_error(plugin: &str, bytes: &[u8], error: wasmtime::Error) -> Error {
    let reason = format!("{error:#}");
    let valid = wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(bytes)
        .is_ok();
    let source = Some(error.into());
    if valid {
        Error::Rejected {
            plugin: plugin.to_owned(),
            reason,
            source,
        }
    } else {
        Error::Invalid {
            plugin: plugin.to_owned(),
            reason,
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_is_not_wasm() {
        let err = recognise("p", b"").unwrap_err();
        assert!(matches!(err, Error::NotWasm { .. }), "{err}");
        assert!(err.to_string().contains("empty"), "{err}");
    }

    #[test]
    fn elf_is_not_wasm_and_shows_the_header() {
        let err = recognise("p", b"\x7fELF\x02\x01").unwrap_err();
        assert!(err.to_string().contains("7f 45 4c 46"), "{err}");
    }

    #[test]
    fn core_modules_are_told_apart_in_both_forms() {
        assert!(matches!(
            recognise("p", b"\0asm\x01\0\0\0"),
            Ok(Input::CoreModule)
        ));
        assert!(matches!(
            recognise("p", b";; a module\n  (module)"),
            Ok(Input::CoreModuleText)
        ));
        assert!(matches!(
            recognise("p", b"(component)"),
            Ok(Input::ComponentText)
        ));
    }

    #[test]
    fn truncated_header_is_invalid() {
        let err = recognise("p", b"\0asm\x0d").unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{err}");
    }

    #[test]
    fn component_header_is_accepted() {
        recognise("p", b"\0asm\x0d\0\x01\0").unwrap();
        recognise("p", b"(component)").unwrap();
    }
}
