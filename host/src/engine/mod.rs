//! The engine: wasmtime's compiler and runtime configuration, shared by every plugin it loads
//! ([`handle`]), how it is configured and built ([`builder`]), and what it keeps for them: the
//! compiled-artifact cache, compiling (WASI preview1 core modules made components first),
//! core dumps, the event bus, the pooling allocator's
//! configuration and the timer of deadlines.

pub(crate) mod builder;
pub(crate) mod cache;
pub(crate) mod compile;
pub(crate) mod core_dumps;
pub(crate) mod driver;
pub(crate) mod events;
pub(crate) mod handle;
pub(crate) mod pooling;
pub(crate) mod preview1;
pub(crate) mod timer;

pub use builder::EngineBuilder;
pub use handle::Engine;
pub use pooling::Pooling;
