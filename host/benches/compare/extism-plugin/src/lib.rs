//! The benchmark plugin (host/tests/guests/bench) as an Extism plugin: nothing, and an echo.

use extism_pdk::{FnResult, plugin_fn};

#[plugin_fn]
pub fn nop() -> FnResult<()> {
    Ok(())
}

#[plugin_fn]
pub fn echo(text: String) -> FnResult<String> {
    Ok(text)
}
