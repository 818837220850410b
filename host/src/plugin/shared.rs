//! What every plugin of one host shares: the engine, the linker (WASI, the framework's interfaces
//! and the application's, all linked once), which application interfaces a plugin must be
//! granted, how to make each instance's application state, and the event bus.

use wasmtime::component::Linker;

use crate::engine::Engine;
use crate::engine::events::EventBus;
use crate::store::PluginState;

/// Makes the application's state of one plugin instance, given the plugin's name.
pub(crate) type StateFactory<T> = dyn Fn(&str) -> T + Send + Sync;

/// The shared part of a host, below the plugins that use it.
pub(crate) struct HostShared<T: 'static> {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<PluginState<T>>,
    /// The application interfaces a plugin must be granted to import, as registered.
    pub(crate) interfaces: Vec<String>,
    pub(crate) new_state: Box<StateFactory<T>>,
    pub(crate) stub_unknown_imports: bool,
    pub(crate) events: EventBus,
    pub(crate) asynchronous: bool,
}
