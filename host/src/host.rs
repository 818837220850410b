//! The host: an engine, the linker every plugin is instantiated against (built once), and how to
//! make each plugin instance's application state. Plugins are loaded through it.

use std::path::Path;
use std::sync::Arc;

use wasmtime::component::{Linker, LinkerInstance};

use crate::capability::{determinism, fs};
use crate::engine::Engine;
use crate::engine::events::{EventBus, PluginEvent};
use crate::error::{Error, Result};
use crate::plugin::Plugin;
use crate::plugin::options::PluginOptions;
use crate::plugin::shared::HostShared;
use crate::store::PluginState;

/// Loads plugins and gives them the host functions the application links.
///
/// `T` is the application's state of one plugin instance, made fresh for every instance by the
/// factory given to [`Host::builder`]. Cheap to clone.
pub struct Host<T: 'static> {
    runtime: Arc<HostShared<T>>,
}

impl<T> Clone for Host<T> {
    fn clone(&self) -> Self {
        Self {
            runtime: self.runtime.clone(),
        }
    }
}

impl<T: Send + Default + 'static> Host<T> {
    /// A host whose instances start with `T::default()` and which links WASI and the framework's
    /// own interfaces only.
    pub fn new(engine: &Engine) -> Result<Self> {
        Self::builder(engine, |_| T::default())?.build()
    }
}

impl<T: Send + 'static> Host<T> {
    /// Starts building a host; `new_state` makes the application state of each new plugin
    /// instance and receives the plugin's name.
    pub fn builder(
        engine: &Engine,
        new_state: impl Fn(&str) -> T + Send + Sync + 'static,
    ) -> Result<HostBuilder<T>> {
        let linker = link_sandbox(engine, false)?;
        HostBuilder::new(engine, linker, Box::new(new_state), false)
    }

    /// Starts building an asynchronous host: its plugins are called with the `*_async` methods
    /// on a tokio runtime, and long-running calls yield to the executor (every epoch tick, or
    /// every 100,000 units of fuel) instead of blocking
    /// it. Dropping a call's future cancels the call.
    #[cfg(feature = "async")]
    pub fn builder_async(
        engine: &Engine,
        new_state: impl Fn(&str) -> T + Send + Sync + 'static,
    ) -> Result<HostBuilder<T>> {
        let linker = link_sandbox(engine, true)?;
        HostBuilder::new(engine, linker, Box::new(new_state), true)
    }

    /// Subscribes to events about this host's plugins: loads, reloads, failures, unloads,
    /// quarantines. Each subscriber gets every event from now on, up to
    /// 1024 it has not read yet (later ones are dropped for it,
    /// never blocking the host); drop the receiver to unsubscribe.
    pub fn subscribe(&self) -> std::sync::mpsc::Receiver<PluginEvent> {
        self.runtime.events.subscribe()
    }

    /// Like [`subscribe`](Self::subscribe), as a receiver to `.await` on.
    #[cfg(feature = "async")]
    pub fn subscribe_async(&self) -> tokio::sync::mpsc::Receiver<PluginEvent> {
        self.runtime.events.subscribe_async()
    }

    /// The engine this host compiles plugins with.
    pub fn engine(&self) -> &Engine {
        &self.runtime.engine
    }

    pub(crate) fn runtime(&self) -> &Arc<HostShared<T>> {
        &self.runtime
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
            .unwrap_or_else(|| crate::names::plugin_name_from_path(path));
        let bytes = crate::engine::compile::read(&name, path)?;
        self.load_bytes_with(name, &bytes, options)
    }

    /// Loads a component from bytes (binary, or the WebAssembly text format) under `name`,
    /// with no grants.
    pub fn load_bytes(&self, name: impl Into<String>, bytes: &[u8]) -> Result<Plugin<T>> {
        self.load_bytes_with(name, bytes, PluginOptions::default())
    }

    /// Loads a component from bytes under `name`, with the grants and limits of `options` (its
    /// name, if any, is ignored for `name`).
    pub fn load_bytes_with(
        &self,
        name: impl Into<String>,
        bytes: &[u8],
        options: PluginOptions,
    ) -> Result<Plugin<T>> {
        let sha256 = crate::engine::compile::sha256(bytes);
        Plugin::load(&self.runtime, name.into(), bytes, sha256, options)
    }

    /// Loads bytes whose SHA-256 is already known (a policy looked at them).
    pub(crate) fn load_hashed(
        &self,
        name: String,
        bytes: &[u8],
        sha256: [u8; 32],
        options: PluginOptions,
    ) -> Result<Plugin<T>> {
        Plugin::load(&self.runtime, name, bytes, sha256, options)
    }
}

/// The sandbox every plugin runs in, linked the same way for synchronous and asynchronous hosts:
/// WASI and `wasi:http` (wasmtime-wasi's synchronous or asynchronous bindings), `open-at`
/// refusals logged, virtual file times in deterministic mode. On synchronous hosts every
/// blocking wait is also bound to the call's deadline; asynchronous hosts race the whole call
/// against its deadline instead.
fn link_sandbox<T: Send + 'static>(
    engine: &Engine,
    asynchronous: bool,
) -> Result<Linker<PluginState<T>>> {
    let mut linker = Linker::new(engine.wasmtime());
    let wasi = if asynchronous {
        link_wasi_async(&mut linker)
    } else {
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .and_then(|()| wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker))
    };
    wasi.map_err(|e| Error::engine("cannot link WASI", e))?;
    // WASI 0.3 beside 0.2: the same context (so the same grants) serves both.
    wasmtime_wasi::p3::add_to_linker(&mut linker)
        .map_err(|e| Error::engine("cannot link WASI 0.3", e))?;
    // Its HTTP sends through the same hooks as 0.2's, so the same `allow-http` grants bound it.
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)
        .map_err(|e| Error::engine("cannot link WASI 0.3 HTTP", e))?;
    crate::engine::preview1::add_to_linker(&mut linker)
        .map_err(|e| Error::engine("cannot link preview1's exit", e))?;
    fs::add_to_linker(&mut linker, asynchronous)
        .map_err(|e| Error::engine("cannot link the filesystem refusal log", e))?;
    determinism::add_to_linker(&mut linker, asynchronous)
        .map_err(|e| Error::engine("cannot link virtual file times", e))?;
    if !asynchronous {
        crate::store::deadline::add_to_linker(&mut linker)
            .map_err(|e| Error::engine("cannot link deadline-bound waits", e))?;
    }
    Ok(linker)
}

#[cfg(feature = "async")]
fn link_wasi_async<T: Send + 'static>(linker: &mut Linker<PluginState<T>>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
}

#[cfg(not(feature = "async"))]
fn link_wasi_async<T: Send + 'static>(
    _linker: &mut Linker<PluginState<T>>,
) -> wasmtime::Result<()> {
    wasmtime::bail!("asynchronous hosts need the crate feature `async`")
}

/// Configuration of a [`Host`]: what it links besides WASI and the framework's interfaces.
pub struct HostBuilder<T: 'static> {
    engine: Engine,
    linker: Linker<PluginState<T>>,
    interfaces: Vec<String>,
    new_state: Box<dyn Fn(&str) -> T + Send + Sync>,
    stub_unknown_imports: bool,
    asynchronous: bool,
}

impl<T: Send + 'static> HostBuilder<T> {
    fn new(
        engine: &Engine,
        mut linker: Linker<PluginState<T>>,
        new_state: Box<dyn Fn(&str) -> T + Send + Sync>,
        asynchronous: bool,
    ) -> Result<Self> {
        crate::capability::framework::add_to_linker(&mut linker)
            .map_err(|e| Error::engine("cannot link the framework's interfaces", e))?;
        Ok(Self {
            engine: engine.clone(),
            linker,
            interfaces: Vec::new(),
            new_state,
            stub_unknown_imports: false,
            asynchronous,
        })
    }

    /// Registers the application host interface `name` (`pkg:name/iface@version`, as the
    /// application's WIT names it), whose functions `add` defines: typically the
    /// `add_to_linker_instance` that [`bindgen!`](crate::bindgen) generates for the interface.
    /// Only plugins granted it ([`Grants::interface`](crate::Grants::interface)) may import it; one that imports it
    /// without the grant fails to load with [`Error::NotGranted`]. A plugin importing a version
    /// of it that the registered one does not serve fails with [`Error::MissingImport`] naming
    /// what the host registers.
    ///
    /// The host creates the instance under `name` itself, so the name granted is always the
    /// name linked. A name of WASI or of the framework's own interfaces, a name registered twice,
    /// or a name that is not `pkg:name/iface` is refused.
    ///
    /// ```
    /// mod bindings {
    ///     componentry::bindgen!({
    ///         inline: "package acme:app@1.0.0; interface kv { get: func(key: string) -> option<string>; } world host { import kv; }",
    ///     });
    /// }
    /// use bindings::acme::app::kv;
    ///
    /// #[derive(Default)]
    /// struct App;
    ///
    /// impl kv::Host for App {
    ///     fn get(&mut self, key: String) -> Option<String> {
    ///         (key == "greeting").then(|| "hello".to_owned())
    ///     }
    /// }
    ///
    /// let engine = componentry::Engine::new()?;
    /// let host = componentry::Host::builder(&engine, |_plugin| App)?
    ///     .interface("acme:app/kv@1.0.0", |instance| {
    ///         kv::add_to_linker_instance::<_, componentry::bindings::HasSelf<App>>(
    ///             instance,
    ///             componentry::PluginState::data_mut,
    ///         )
    ///     })?
    ///     .build()?;
    /// # let _ = host;
    /// # Ok::<(), componentry::Error>(())
    /// ```
    pub fn interface(
        mut self,
        name: impl Into<String>,
        add: impl FnOnce(&mut LinkerInstance<'_, PluginState<T>>) -> wasmtime::Result<()>,
    ) -> Result<Self> {
        let name = name.into();
        crate::capability::interfaces::check_registrable(&name, &self.interfaces)?;
        let mut instance = self
            .linker
            .instance(&name)
            .map_err(|e| Error::engine(format!("cannot register `{name}`"), e))?;
        add(&mut instance)
            .map_err(|e| Error::engine(format!("cannot link the functions of `{name}`"), e))?;
        self.interfaces.push(name);
        Ok(self)
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
    /// [`bindgen!`](crate::bindgen) generates for an application interface. Link only the
    /// application's own interfaces: WASI and `componentry:plugin` are linked already, and a
    /// function defined twice is refused, naming the conflict.
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
    ///         clock::add_to_linker::<_, componentry::bindings::HasSelf<App>>(linker, componentry::PluginState::data_mut)
    ///     })?
    ///     .build()?;
    /// # let _ = host;
    /// # Ok::<(), componentry::Error>(())
    /// ```
    pub fn link(
        mut self,
        add: impl Fn(&mut Linker<PluginState<T>>) -> wasmtime::Result<()>,
    ) -> Result<Self> {
        let Err(error) = add(&mut self.linker) else {
            return Ok(self);
        };
        // Linked alone, do the functions link? Then they clash with what the host has linked.
        let alone = add(&mut Linker::new(self.engine.wasmtime()));
        Err(match alone {
            Ok(()) => Error::engine(
                "cannot link host functions: they define names the host links already (WASI, \
                 componentry:plugin, or an interface registered before); link only the \
                 application's own interfaces, once",
                error,
            ),
            Err(_) => Error::engine("cannot link host functions", error),
        })
    }

    /// Finishes the host.
    pub fn build(self) -> Result<Host<T>> {
        Ok(Host {
            runtime: Arc::new(HostShared {
                engine: self.engine,
                linker: self.linker,
                interfaces: self.interfaces,
                new_state: self.new_state,
                stub_unknown_imports: self.stub_unknown_imports,
                events: EventBus::default(),
                asynchronous: self.asynchronous,
            }),
        })
    }
}
