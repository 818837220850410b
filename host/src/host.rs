//! The host: an engine, the linker every plugin is instantiated against, and how to make each
//! plugin instance's application state. Plugins are loaded through it.

use std::path::Path;
use std::sync::Arc;

use wasmtime::component::Linker;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::events::{EventBus, PluginEvent};
use crate::extension_point::ExtensionPoint;
use crate::grants::Grants;
use crate::limits::Limits;
use crate::plugin::Plugin;
use crate::quarantine::QuarantinePolicy;
use crate::state::PluginState;
use crate::state::Settings;

type StateFactory<T> = dyn Fn(&str) -> T + Send + Sync;
type LinkFn<T> = dyn Fn(&mut Linker<PluginState<T>>) -> wasmtime::Result<()> + Send + Sync;

/// An application host interface, linked only into plugins granted it.
pub(crate) struct HostInterface<T: 'static> {
    pub(crate) name: String,
    pub(crate) link: Arc<LinkFn<T>>,
}

/// Loads plugins and gives them the host functions the application links.
///
/// `T` is the application's state of one plugin instance, made fresh for every instance by the
/// factory given to [`Host::builder`]. Cheap to clone.
pub struct Host<T: 'static> {
    pub(crate) engine: Engine,
    pub(crate) linker: Arc<Linker<PluginState<T>>>,
    pub(crate) interfaces: Arc<Vec<HostInterface<T>>>,
    pub(crate) new_state: Arc<StateFactory<T>>,
    pub(crate) stub_unknown_imports: bool,
    pub(crate) events: EventBus,
    pub(crate) asynchronous: bool,
}

impl<T> Clone for Host<T> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
            linker: self.linker.clone(),
            interfaces: self.interfaces.clone(),
            new_state: self.new_state.clone(),
            stub_unknown_imports: self.stub_unknown_imports,
            events: self.events.clone(),
            asynchronous: self.asynchronous,
        }
    }
}

impl<T: Send + Default + 'static> Host<T> {
    /// A host whose instances start with `T::default()` and which links WASI and the framework's
    /// own interfaces only.
    pub fn new(engine: &Engine) -> Result<Self> {
        Ok(Self::builder(engine, |_| T::default())?.build())
    }
}

impl<T: Send + 'static> Host<T> {
    /// Starts building a host; `new_state` makes the application state of each new plugin
    /// instance and receives the plugin's name.
    pub fn builder(
        engine: &Engine,
        new_state: impl Fn(&str) -> T + Send + Sync + 'static,
    ) -> Result<HostBuilder<T>> {
        let mut linker = Linker::new(engine.wasmtime());
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| Error::Engine(format!("cannot link WASI: {e:#}")))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)
            .map_err(|e| Error::Engine(format!("cannot link wasi:http: {e:#}")))?;
        crate::grants::fs_refusals::add_to_linker(&mut linker)
            .map_err(|e| Error::Engine(format!("cannot link the filesystem refusal log: {e:#}")))?;
        crate::grants::determinism::add_to_linker(&mut linker)
            .map_err(|e| Error::Engine(format!("cannot link virtual file times: {e:#}")))?;
        crate::deadline::add_to_linker(&mut linker)
            .map_err(|e| Error::Engine(format!("cannot link deadline-bound waits: {e:#}")))?;
        Self::builder_with(engine, linker, new_state, false)
    }

    /// Starts building an asynchronous host: its plugins are called with the `*_async` methods
    /// on a tokio runtime, and long-running calls yield to the executor (every epoch tick, or
    /// every [`ASYNC_YIELD_FUEL`](crate::ASYNC_YIELD_FUEL) units of fuel) instead of blocking
    /// it. Dropping a call's future cancels the call.
    #[cfg(feature = "async")]
    pub fn builder_async(
        engine: &Engine,
        new_state: impl Fn(&str) -> T + Send + Sync + 'static,
    ) -> Result<HostBuilder<T>> {
        let mut linker = Linker::new(engine.wasmtime());
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| Error::Engine(format!("cannot link WASI: {e:#}")))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| Error::Engine(format!("cannot link wasi:http: {e:#}")))?;
        Self::builder_with(engine, linker, new_state, true)
    }

    fn builder_with(
        engine: &Engine,
        mut linker: Linker<PluginState<T>>,
        new_state: impl Fn(&str) -> T + Send + Sync + 'static,
        asynchronous: bool,
    ) -> Result<HostBuilder<T>> {
        crate::framework::add_to_linker(&mut linker)
            .map_err(|e| Error::Engine(format!("cannot link the framework's interfaces: {e:#}")))?;
        Ok(HostBuilder {
            engine: engine.clone(),
            linker,
            interfaces: Vec::new(),
            new_state: Arc::new(new_state),
            stub_unknown_imports: false,
            asynchronous,
        })
    }

    /// Subscribes to events about this host's plugins (quarantines, and later reloads). Each
    /// subscriber gets every event from now on; drop the receiver to unsubscribe.
    pub fn subscribe(&self) -> std::sync::mpsc::Receiver<PluginEvent> {
        self.events.subscribe()
    }

    /// The engine this host compiles plugins with.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Loads the component at `path`, named after the file, with no grants.
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<Plugin<T>> {
        self.load_file_with(path, PluginOptions::default())
    }

    /// Loads the component at `path` with `options`.
    pub fn load_file_with(
        &self,
        path: impl AsRef<Path>,
        options: PluginOptions,
    ) -> Result<Plugin<T>> {
        let path = path.as_ref();
        let name = options
            .name
            .clone()
            .unwrap_or_else(|| crate::discovery::name_from_path(path));
        let bytes = crate::loader::read(&name, path)?;
        self.load_bytes_with(name, &bytes, options)
    }

    /// Loads a component from bytes (binary, or the WebAssembly text format) under `name`.
    pub fn load_bytes(
        &self,
        name: impl Into<String>,
        bytes: &[u8],
        grants: Grants,
    ) -> Result<Plugin<T>> {
        self.load_bytes_with(name, bytes, PluginOptions::new().grants(grants))
    }

    /// Loads a component from bytes under `name`, with the grants and limits of `options` (its
    /// name, if any, is ignored for `name`).
    pub fn load_bytes_with(
        &self,
        name: impl Into<String>,
        bytes: &[u8],
        options: PluginOptions,
    ) -> Result<Plugin<T>> {
        Plugin::load(
            self,
            name.into(),
            bytes,
            crate::loader::sha256(bytes),
            options,
        )
    }
}

/// Configuration of a [`Host`]: what it links besides WASI.
pub struct HostBuilder<T: 'static> {
    engine: Engine,
    linker: Linker<PluginState<T>>,
    interfaces: Vec<HostInterface<T>>,
    new_state: Arc<StateFactory<T>>,
    stub_unknown_imports: bool,
    asynchronous: bool,
}

impl<T: Send + 'static> HostBuilder<T> {
    /// Registers the application host interface `name` (`pkg:name/iface@version`), linked by
    /// `link` into the plugins granted it ([`Grants::interface`]) and into no other. A plugin that
    /// imports it without the grant fails to load with [`Error::NotGranted`].
    ///
    /// `link` typically calls the `add_to_linker` that [`bindgen!`](crate::bindgen) generates for
    /// the interface; its host functions receive `&mut PluginState<T>`, and through it the
    /// application's per-plugin state.
    pub fn interface(
        mut self,
        name: impl Into<String>,
        link: impl Fn(&mut Linker<PluginState<T>>) -> wasmtime::Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.interfaces.push(HostInterface {
            name: name.into(),
            link: Arc::new(link),
        });
        self
    }

    /// Lets plugins that import something the host does not provide (and that was not denied by
    /// a grant) load anyway, with each such function trapping when called. Defaults to `false`:
    /// such plugins fail to load with [`Error::MissingImport`].
    pub fn stub_unknown_imports(mut self, stub: bool) -> Self {
        self.stub_unknown_imports = stub;
        self
    }

    /// Adds host functions for every plugin, granted or not (use [`interface`](Self::interface)
    /// for per-plugin grants), typically with the `add_to_linker` that
    /// [`bindgen!`](crate::bindgen) generates for an application interface:
    ///
    /// ```
    /// mod bindings {
    ///     componentry::bindgen!({
    ///         inline: "package acme:app; interface clock { now: func() -> u64; } world host { import clock; }",
    ///     });
    /// }
    /// use bindings::acme::app::clock;
    ///
    /// struct App;
    ///
    /// impl clock::Host for App {
    ///     fn now(&mut self) -> u64 {
    ///         42
    ///     }
    /// }
    ///
    /// let engine = componentry::Engine::new()?;
    /// let host = componentry::Host::builder(&engine, |_plugin| App)?
    ///     .link(|linker| {
    ///         clock::add_to_linker::<_, componentry::HasSelf<App>>(linker, componentry::PluginState::data_mut)
    ///     })?
    ///     .build();
    /// # let _ = host;
    /// # Ok::<(), componentry::Error>(())
    /// ```
    pub fn link(
        mut self,
        add: impl FnOnce(&mut Linker<PluginState<T>>) -> wasmtime::Result<()>,
    ) -> Result<Self> {
        add(&mut self.linker)
            .map_err(|e| Error::Engine(format!("cannot link host functions: {e:#}")))?;
        Ok(self)
    }

    /// Finishes the host.
    pub fn build(self) -> Host<T> {
        Host {
            engine: self.engine,
            linker: Arc::new(self.linker),
            interfaces: Arc::new(self.interfaces),
            new_state: self.new_state,
            stub_unknown_imports: self.stub_unknown_imports,
            events: EventBus::default(),
            asynchronous: self.asynchronous,
        }
    }
}

/// How to load one plugin: its name, its grants and its limits.
#[derive(Debug, Clone, Default)]
pub struct PluginOptions {
    name: Option<String>,
    pub(crate) grants: Grants,
    pub(crate) limits: Limits,
    pub(crate) quarantine: Option<QuarantinePolicy>,
    pub(crate) expect_sha256: Option<[u8; 32]>,
    pub(crate) extension_point: Option<Arc<ExtensionPoint>>,
    pub(crate) settings: Settings,
}

impl PluginOptions {
    /// Options with every default: the name from the file, no grants.
    pub fn new() -> Self {
        Self::default()
    }

    /// The plugin's name in errors and logs. Defaults to the file name without its extension.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The plugin's capabilities. Defaults to [`Grants::none`].
    pub fn grants(mut self, grants: Grants) -> Self {
        self.grants = grants;
        self
    }

    /// The plugin's limits. Defaults to [`Limits::default`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Checks the component against `extension_point` before loading it: an incompatible one is
    /// refused with every problem ([`Error::Incompatible`]), and calls to functions the
    /// extension point added after the plugin's version are [`Error::NotProvided`].
    pub fn extension_point(mut self, extension_point: impl Into<Arc<ExtensionPoint>>) -> Self {
        self.extension_point = Some(extension_point.into());
        self
    }

    /// The plugin's settings (`componentry:plugin/settings`), as a manifest's `[settings]`
    /// table: strings as written, other values in TOML syntax. Defaults to none.
    pub fn settings(mut self, table: &toml::Table) -> Self {
        self.settings = table
            .iter()
            .map(|(key, value)| {
                let text = match value {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (key.clone(), text)
            })
            .collect();
        self
    }

    /// The grants these options give.
    pub fn granted(&self) -> &Grants {
        &self.grants
    }

    /// Refuses the component unless its bytes have this SHA-256 ([`Error::IntegrityMismatch`]).
    /// Defaults to no pin.
    pub fn expect_sha256(mut self, sha256: [u8; 32]) -> Self {
        self.expect_sha256 = Some(sha256);
        self
    }

    /// Quarantines the plugin after repeated failures. Defaults to never.
    pub fn quarantine(mut self, policy: QuarantinePolicy) -> Self {
        self.quarantine = Some(policy);
        self
    }
}
