//! The data of one plugin instance's store: its WASI context, its resource table, the state of
//! its limits, and the application's own per-plugin state.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use super::limiter::Limiter;
use super::output::OutputBudget;

/// The data of one plugin instance's `Store`.
///
/// Host functions the application links (see [`HostBuilder::link`](crate::HostBuilder::link))
/// receive `&mut PluginState<T>` and reach the application's state through [`data_mut`](Self::data_mut).
pub struct PluginState<T> {
    plugin: Arc<str>,
    /// `None` for a component that imports no WASI interface.
    wasi: Option<WasiCtx>,
    http: WasiHttpCtx,
    http_hooks: Box<dyn WasiHttpHooks + Send>,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    output_budget: Arc<OutputBudget>,
    pub(crate) timer: Option<Arc<crate::engine::timer::Timer>>,
    /// The plugin runs deterministically: file timestamps are virtual too.
    pub(crate) deterministic: bool,
    pub(crate) core_dumps: Option<Arc<crate::engine::core_dumps::CoreDumps>>,
    pub(crate) settings: Arc<Settings>,
    /// The plugin's own version, as its manifest gives it.
    pub(crate) plugin_version: Option<semver::Version>,
    /// The SHA-256 of the component this instance runs.
    pub(crate) sha256: [u8; 32],
    data: T,
}

/// A plugin's settings: key to value, values of other types than string in TOML syntax.
pub type Settings = std::collections::BTreeMap<String, String>;

impl<T> PluginState<T> {
    pub(crate) fn new(
        plugin: Arc<str>,
        wasi: Option<WasiCtx>,
        http_hooks: Box<dyn WasiHttpHooks + Send>,
        limiter: Limiter,
        output_budget: Arc<OutputBudget>,
        data: T,
    ) -> Self {
        // Every host resource an instance holds (files, sockets, streams, pollables, HTTP
        // bodies, the application's own) is an entry of this table, so its cap bounds them all.
        let mut table = ResourceTable::new();
        table.set_max_capacity(limiter.limits().get_max_handles());
        Self {
            plugin,
            wasi,
            http: WasiHttpCtx::new(),
            http_hooks,
            table,
            limiter,
            output_budget,
            timer: None,
            deterministic: false,
            core_dumps: None,
            settings: Arc::default(),
            plugin_version: None,
            sha256: [0; 32],
            data,
        }
    }

    /// The engine's timer and core dumps, for this state's store.
    pub(crate) fn with_engine(mut self, engine: &crate::engine::Engine) -> Self {
        self.timer = engine.timer().cloned();
        self.core_dumps = engine.core_dumps();
        self
    }

    /// Who the plugin is and how it runs: deterministically or not, its settings, its own
    /// version and its component's hash.
    pub(crate) fn with_identity(
        mut self,
        deterministic: bool,
        settings: Arc<Settings>,
        plugin_version: Option<semver::Version>,
        sha256: [u8; 32],
    ) -> Self {
        self.deterministic = deterministic;
        self.settings = settings;
        self.plugin_version = plugin_version;
        self.sha256 = sha256;
        self
    }

    /// The name of the plugin this instance belongs to.
    pub fn plugin_name(&self) -> &str {
        &self.plugin
    }

    /// The plugin's own version, as its manifest gives it (a plugin loaded without a manifest
    /// has none).
    pub fn plugin_version(&self) -> Option<&semver::Version> {
        self.plugin_version.as_ref()
    }

    /// The SHA-256 of the component this instance runs: which build of the plugin is calling.
    pub fn plugin_sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// The application's state for this instance.
    pub fn data(&self) -> &T {
        &self.data
    }

    /// The application's state for this instance, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.data
    }

    /// The budget of bytes the plugin may still print or log in this call.
    pub(crate) fn output_budget(&self) -> &OutputBudget {
        &self.output_budget
    }

    /// When the running call's deadline passes, if it has one: host functions that wait should
    /// wait no longer than this.
    pub fn deadline(&self) -> Option<std::time::Instant> {
        self.limiter.deadline_at()
    }

    /// The running call's deadline and the timer that can wake a wait at it.
    pub(crate) fn deadline_timer(&self) -> Option<crate::engine::timer::Deadline> {
        Some((self.deadline()?, self.timer.clone()?))
    }

    /// The resource table, for host functions that hand resources to the plugin.
    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl<T: Send> WasiView for PluginState<T> {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        // Without WASI imports nothing asks for the context; should anything, it gets one that
        // grants nothing.
        let ctx = self
            .wasi
            .get_or_insert_with(|| WasiCtxBuilder::new().build());
        WasiCtxView {
            ctx,
            table: &mut self.table,
        }
    }
}

impl<T: Send> WasiHttpView for PluginState<T> {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut *self.http_hooks,
        }
    }
}
