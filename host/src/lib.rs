//! Componentry hosts plugins built as WebAssembly components.
//!
//! An application describes what a plugin must export and what the host offers as a WIT world,
//! loads plugins written in any language that compiles to a component, and calls them with Rust
//! types ([`Typed`]) or dynamically ([`Plugin::call`], [`Plugin::invoke`]). Plugins get no
//! capability unless it is granted ([`Grants`]).
//!
//! The path of a plugin through the crate, one module per step: bytes ([`loader`](crate::Host::load_file))
//! -> hash -> compiled-artifact cache or compile -> component -> linker and pre-instance
//! ([`Plugin`]) -> per call a store with its [`PluginState`] -> instance -> call -> result, or an
//! [`Error`] mapped once.
//!
//! ```no_run
//! use componentry::{Engine, Host};
//!
//! let engine = Engine::new()?;
//! let host: Host<()> = Host::new(&engine)?;
//! let plugin = host.load_file("hello-rust.wasm")?;
//! let results = plugin.invoke(r#"greet("world")"#)?;
//! println!("{}", componentry::to_wave(&results));
//! # Ok::<(), componentry::Error>(())
//! ```
#![deny(missing_docs)]

#[cfg(feature = "async")]
mod asynchronous;
mod cache;
mod capabilities;
mod command;
mod config_file;
mod coredump;
mod deadline;
mod discovery;
mod engine;
mod error;
mod events;
mod exports;
mod extension_point;
mod framework;
mod grants;
mod host;
mod inspect;
mod instance;
mod limits;
mod linking;
mod loader;
mod manifest;
mod plugin;
mod policy;
mod quarantine;
mod state;
mod text;
mod wave;
mod wit_type;
mod world;

pub use cache::CacheStats;
pub use capabilities::{CapabilityUse, capabilities};
pub use coredump::{DEFAULT_MAX_CORE_DUMP_BYTES, DEFAULT_MAX_CORE_DUMPS};
pub use discovery::{DEFAULT_DEBOUNCE, LoadOutcome, LoadReport, WatchOptions, Watcher};
pub use engine::{DEFAULT_EPOCH_TICK, DEFAULT_MAX_WASM_STACK, Engine, EngineBuilder};
pub use error::{Error, Result};
pub use events::PluginEvent;
pub use extension_point::{CompatibilityReport, ExtensionPoint, ExtensionPoints, Problem, serves};
pub use framework::{FRAMEWORK_WIT, LOG_TARGET};
pub use grants::{
    DEFAULT_LOG_CAP, DEFAULT_SEED, DirGrant, EnvGrant, Grants, HttpPattern, NetPattern, Output,
    VIRTUAL_EPOCH_SECS, VIRTUAL_TICK_NANOS,
};
pub use host::{Host, HostBuilder, PluginOptions};
pub use inspect::ComponentWorld;
pub use instance::PluginInstance;
pub use limits::{
    ASYNC_YIELD_FUEL, DEFAULT_MAX_HANDLES, DEFAULT_MAX_INSTANCES, DEFAULT_MAX_MEMORY,
    DEFAULT_MAX_TABLE_ELEMENTS, Limits,
};
pub use manifest::{BuildSettings, ExtensionPointRef, Manifest};
pub use plugin::{Plugin, ReloadOutcome};
pub use policy::{OnExcess, PluginIdentity, Policy, PolicyRule};
pub use quarantine::QuarantinePolicy;
pub use state::{PluginState, Settings};
pub use text::escape_untrusted;
pub use wave::to_wave;
pub use world::{Typed, TypedInstance, TypedWorld};

/// The wasmtime this crate is built on, for code that needs its types.
pub use wasmtime;
/// Marks a host-state type as the data that `add_to_linker` functions hand to host functions.
pub use wasmtime::component::HasSelf;
/// Dynamically typed component values, as [`Plugin::call`] takes and returns them.
pub use wasmtime::component::Val;

/// Generates typed host bindings for a WIT world: wasmtime's `bindgen!`, pointed at the wasmtime
/// this crate re-exports so that applications need no direct dependency on it. (The path is
/// spelled `::componentry::wasmtime`, since `bindgen!` cannot read `$crate`: depend on this crate
/// under its own name to use the macro.)
///
/// Generate the bindings in a module of their own (a world's packages become modules, and one
/// named `componentry` would hide this crate):
///
/// ```
/// mod bindings {
///     componentry::bindgen!({
///         inline: "package acme:text; world transform { export upper: func(text: string) -> string; }",
///     });
///     componentry::typed_world!(Transform, TransformPre);
/// }
/// ```
#[macro_export]
macro_rules! bindgen {
    ({ $($option:tt)* }) => {
        $crate::wasmtime::component::bindgen!({
            wasmtime_crate: ::componentry::wasmtime,
            $($option)*
        });
    };
}
