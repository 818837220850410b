//! Componentry hosts plugins built as WebAssembly components.
//!
//! An application describes what a plugin must export and what the host offers as a WIT world,
//! loads plugins written in any language that compiles to a component, and calls them with Rust
//! types ([`Typed`]) or dynamically ([`Plugin::call`], [`Plugin::invoke`]). Plugins get no
//! capability unless it is granted ([`Grants`]).
//!
//! The crate is built in layers, each using only those below it: `error` and `engine` (compiler,
//! artifact cache, timer, events); `store` (what each instance's store holds, its limits and how a
//! call ended); `capability` (one module per kind of grant); `compat` (components against
//! extension points); `plugin` (the handle, its versions, instances and the call path); `config`
//! (manifests, policies); [`Host`]; and `discovery` ([`PluginDir`]: loading and watching
//! directories of plugins). `docs/architecture.md` draws them.
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

/// README.md's Rust examples, compiled as doctests so that the README cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;

/// docs/embedding.md's examples, compiled as doctests likewise.
#[cfg(doctest)]
#[doc = include_str!("../../docs/embedding.md")]
struct EmbeddingGuideExamples;

/// The book's page on extension points, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/extension-points.md")]
struct ExtensionPointExamples;

/// The book's getting-started page, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/getting-started.md")]
struct GettingStartedExamples;

/// The book's page on observability, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/observability.md")]
struct ObservabilityExamples;

/// The book's page on serving HTTP, compiled as doctests (with the `serve` feature).
#[cfg(all(doctest, feature = "serve"))]
#[doc = include_str!("../../docs/serving-http.md")]
struct ServingHttpExamples;

mod capability;
mod compat;
mod config;
mod discovery;
mod engine;
mod error;
mod host;
mod names;
mod plugin;
#[cfg(feature = "serve")]
mod serve;
mod store;
mod text;
mod toml_file;
mod wave;

pub use capability::framework::{FRAMEWORK_WIT, LOG_TARGET};
pub use capability::{
    DEFAULT_SEED, DirGrant, EnvGrant, Grants, HttpPattern, NetPattern, Output, VIRTUAL_EPOCH_SECS,
    VIRTUAL_TICK_NANOS,
};

/// The grant vocabulary: every word that grants files, manifests' `[capabilities]`, policies'
/// `[plugin.allow]` and the CLI's grant flags take, each with what it takes and a line of help.
pub mod vocabulary {
    pub use crate::capability::{Takes, Word, words};
}
pub use compat::extension_point::{
    CompatibilityReport, ExtensionPoint, ExtensionPoints, Problem, serves,
};
pub use compat::inspect::ComponentWorld;
pub use compat::listing::{CapabilityUse, capabilities};
pub use config::manifest::{BuildSettings, ExtensionPointRef, Manifest};
pub use config::policy::{OnExcess, PluginIdentity, Policy, PolicyRule};
pub use discovery::{DEFAULT_DEBOUNCE, LoadOutcome, LoadReport, PluginDir, PluginSource, Watcher};
pub use engine::cache::{CacheStats, DEFAULT_CACHE_MAX_BYTES};
pub use engine::coredump::{DEFAULT_MAX_CORE_DUMP_BYTES, DEFAULT_MAX_CORE_DUMPS};
pub use engine::events::{EVENT_BACKLOG, PluginEvent};
pub use engine::pooling::{DEFAULT_DECOMMIT_BATCH, DEFAULT_KEEP_RESIDENT};
pub use engine::{DEFAULT_EPOCH_TICK, DEFAULT_MAX_WASM_STACK, Engine, EngineBuilder, Pooling};
pub use error::{Error, NotProvided, Result, Source};
pub use host::{Host, HostBuilder};
pub use names::{designates, plugin_name_from_path};
pub use plugin::instance::PluginInstance;
pub use plugin::options::PluginOptions;
pub use plugin::pool::{InstancePool, PoolOptions, Reuse};
pub use plugin::quarantine::QuarantinePolicy;
pub use plugin::typed::{
    Typed, TypedFuture, TypedInstance, TypedWorld, VersionAttempt, VersionIndices,
};
pub use plugin::{LatencyHistogram, Plugin, PluginStats, ReloadOutcome};
#[cfg(feature = "serve")]
pub use serve::{
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_IN_FLIGHT, HttpHandler, HttpServer, ResponseBody,
    error_response, status_for,
};
pub use store::limits::{
    ASYNC_YIELD_FUEL, DEFAULT_MAX_HANDLES, DEFAULT_MAX_INSTANCES, DEFAULT_MAX_MEMORY,
    DEFAULT_MAX_TABLE_ELEMENTS, Limits,
};
pub use store::output::DEFAULT_LOG_CAP;
pub use store::{PluginState, Settings};
pub use text::escape_untrusted;
pub use wave::to_wave;

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
///     componentry::typed_world!(Transform, TransformIndices);
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
