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

// The crate root: what nearly every application names. The rest is in the modules below, each
// named for what it holds.
pub use capability::{Grants, Output};
pub use compat::extension_point::ExtensionPoint;
pub use compat::inspect::ComponentWorld;
pub use config::manifest::Manifest;
pub use config::policy::Policy;
pub use discovery::{PluginDir, PluginSource, Watcher};
pub use engine::events::PluginEvent;
pub use engine::{Engine, EngineBuilder, Pooling};
pub use error::{Error, Result};
pub use host::{Host, HostBuilder};
pub use plugin::instance::PluginInstance;
pub use plugin::options::PluginOptions;
pub use plugin::quarantine::QuarantinePolicy;
pub use plugin::typed::{Typed, TypedWorld};
pub use plugin::{Plugin, ReloadOutcome};
#[cfg(feature = "serve")]
pub use serve::{HttpHandler, HttpServer};
pub use store::limits::Limits;
pub use store::{PluginState, Settings};
pub use text::escape_untrusted;
/// Dynamically typed component values, as [`Plugin::call`] takes and returns them.
pub use wasmtime::component::Val;
pub use wave::to_wave;

/// The grants of one kind each, and the grant vocabulary: every word that grants files,
/// manifests' `[capabilities]`, policies' `[plugin.allow]` and the CLI's grant flags take, each
/// with what it takes and a line of help. [`Grants`] holds them.
pub mod grants {
    pub use crate::capability::{
        DirGrant, EnvGrant, HttpPattern, NetPattern, Output, Takes, Word, words,
    };
}

/// The operator's policy beyond [`Policy`] itself: its rules, how a plugin is
/// known to them, and what happens to requests beyond a rule.
pub mod policy {
    pub use crate::config::policy::{OnExcess, PluginIdentity, PolicyRule};
}

/// The parts of a plugin's [`Manifest`].
pub mod manifest {
    pub use crate::config::manifest::{BuildSettings, ExtensionPointRef};
}

/// Components against extension points: the compatibility check and its report, several
/// versions of a point, and what a component's imports could reach.
pub mod compatibility {
    pub use crate::compat::capability_use::{CapabilityUse, capabilities};
    pub use crate::compat::extension_point::{
        CompatibilityReport, ExtensionPoints, Problem, serves,
    };
}

/// What loading a directory of plugins ([`PluginDir::load`]) reports.
pub mod loading {
    pub use crate::discovery::{LoadOutcome, LoadReport};
}

/// Pools of instances of one plugin, for calls from many threads.
pub mod pool {
    pub use crate::plugin::pool::{InstancePool, PoolOptions, Reuse};
}

/// Typed calls beyond [`Typed`]: instances that keep state, asynchronous calls,
/// and worlds that serve several versions of an interface.
pub mod typed {
    pub use crate::plugin::typed::{TypedFuture, TypedInstance, VersionAttempt, VersionIndices};
}

/// Counters: a plugin's ([`Plugin::stats`]) and the artifact cache's.
pub mod stats {
    pub use crate::engine::cache::CacheStats;
    pub use crate::plugin::{LatencyHistogram, PluginStats};
}

/// The parts of [`Error`]: the cause it keeps, what a plugin did not provide, and
/// the trap codes of [`Error::Trap`].
pub mod errors {
    pub use crate::error::{NotProvided, Source};
    /// Why wasm code trapped, as [`Error::Trap`](crate::Error::Trap) reports it.
    pub use wasmtime::Trap;
}

/// The framework's own WIT (`componentry:plugin`, which every plugin may import) and the log
/// target plugins' messages go to.
pub mod framework {
    pub use crate::capability::framework::{FRAMEWORK_WIT, LOG_TARGET};
}

/// Names as WIT and files spell them.
pub mod naming {
    pub use crate::names::{designates, plugin_name_from_path};
}

/// Serving HTTP beyond [`HttpHandler`] and
/// [`HttpServer`]: the response body type, the responses to failed
/// requests, and instance reuse for WASI 0.3 handlers.
#[cfg(feature = "serve")]
pub mod http {
    pub use crate::serve::{InstanceReuse, ResponseBody, error_response, status_for};
}

/// What host functions and generated bindings use: wasmtime's `Result`, resources and their
/// table, the store context a host function gets, the linker, [`HasSelf`](bindings::HasSelf),
/// and for asynchronous host functions (`bindgen!` with `imports: { default: async | store }`)
/// the [`Accessor`](bindings::Accessor) they get and [`HasData`](bindings::HasData).
pub mod bindings {
    /// Marks a host-state type as the data that `add_to_linker` functions hand to host functions.
    pub use wasmtime::component::HasSelf;
    /// What an asynchronous host function gets: access to the store between its awaits.
    pub use wasmtime::component::{Accessor, HasData};
    /// The host's ends of a stream and a future: what typed calls of an async world pass and
    /// get back for `stream<T>` and `future<T>` (made with `new` inside `Accessor::with`).
    pub use wasmtime::component::{FutureReader, StreamReader};
    pub use wasmtime::component::{Linker, LinkerInstance, Resource, ResourceAny, ResourceTable};
    pub use wasmtime::{Error, Result, StoreContextMut, bail, format_err};
}

/// The escape hatch: the wasmtime this crate is built on (the 48 LTS line), for what Componentry
/// does not wrap. What is reached through it is wasmtime's API, not Componentry's: it follows
/// wasmtime's releases, and a store or engine changed through it may no longer hold Componentry's
/// limits. [`bindings`] holds what host functions normally need.
pub mod escape_hatch {
    pub use wasmtime;
}

/// Generates typed host bindings for a WIT world: wasmtime's `bindgen!`, pointed at the wasmtime
/// this crate re-exports so that applications need no direct dependency on it. (The path is
/// spelled `::componentry::escape_hatch::wasmtime`, since `bindgen!` cannot read `$crate`:
/// depend on this crate under its own name to use the macro.)
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
        $crate::escape_hatch::wasmtime::component::bindgen!({
            wasmtime_crate: ::componentry::escape_hatch::wasmtime,
            $($option)*
        });
    };
}
