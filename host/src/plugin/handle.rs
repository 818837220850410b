//! The plugin handle: a cheap, thread-safe handle to the current version of a plugin, which a
//! reload swaps; instantiating a version; the handle's own calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arc_swap::ArcSwap;
use semver::Version;
use wasmtime::Store;
use wasmtime::component::Component;

use super::gate::CallGate;
use super::metrics::PluginStats;
use super::options::PluginOptions;
use super::shared::HostShared;
use super::version::{Configuration, PluginVersion};
use crate::capability::Grants;
use crate::engine::events::PluginEvent;
use crate::error::{Error, Result};
use crate::store::building::StoreRecipe;
use crate::store::limits::Limits;
use crate::store::{PluginState, outcome};

/// A loaded plugin. Clone it freely: clones share the compiled component, and it is `Send + Sync`.
///
/// Each call through the plugin itself ([`call`](Self::call), [`invoke`](Self::invoke)) runs
/// on a fresh instance, so no state leaks from one call into the next and a trap never poisons a
/// later call. To keep state across calls, [`instantiate`](Self::instantiate) once and call the
/// [`PluginInstance`](crate::PluginInstance).
///
/// The handle follows its plugin: a reload ([`reload`](Self::reload), or a watcher seeing its
/// file or manifest change) swaps what the handle runs; calls under way finish on the version
/// they started on. When a watcher unloads the plugin, the handle is retired
/// ([`is_retired`](Self::is_retired)) but keeps working.
pub struct Plugin<T: 'static> {
    inner: Arc<PluginInner<T>>,
}

impl<T> std::fmt::Debug for Plugin<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.name)
            .field("sha256", &hex::encode(self.inner.version.load().sha256))
            .finish_non_exhaustive()
    }
}

impl<T> Clone for Plugin<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct PluginInner<T: 'static> {
    name: Arc<str>,
    runtime: Arc<HostShared<T>>,
    /// What every call passes in and out: shared with the plugin's instances.
    gate: Arc<CallGate>,
    lifetime_fuel_used: Arc<AtomicU64>,
    /// The version calls start on; a reload swaps it, and calls under way keep theirs.
    version: ArcSwap<PluginVersion<T>>,
    /// Unloaded by a watcher: the handle still works, but no longer follows a file.
    retired: AtomicBool,
    /// What the handle is used for, which every new version must still provide.
    uses: Mutex<HashMap<std::any::TypeId, Use<T>>>,
}

/// A check a new version must pass to replace the current one: that it still provides what the
/// handle is used for.
pub(crate) type Use<T> =
    Arc<dyn Fn(&Plugin<T>, &Arc<PluginVersion<T>>) -> Result<()> + Send + Sync>;

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The bytes (and options) are the ones already loaded; nothing was done.
    Unchanged,
    /// The new version replaced the old one.
    Reloaded {
        /// The SHA-256 of the version replaced, in hex.
        old_sha256: String,
        /// The SHA-256 of the version now serving, in hex.
        new_sha256: String,
    },
}

impl<T: 'static> Plugin<T> {
    /// What the plugin has done since it was loaded, all its versions together: calls, errors
    /// by kind, fuel, call latency, memory high-water mark and instances.
    pub fn stats(&self) -> PluginStats {
        self.inner.gate.metrics().snapshot()
    }

    /// The plugin's name, as used in errors and logs.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The gate every call of the plugin passes.
    pub(crate) fn gate(&self) -> &Arc<CallGate> {
        &self.inner.gate
    }
}

impl<T: Send + 'static> Plugin<T> {
    /// Loads `bytes`, whose SHA-256 is `sha256`, as the plugin `name`.
    pub(crate) fn load(
        runtime: &Arc<HostShared<T>>,
        name: String,
        bytes: &[u8],
        sha256: [u8; 32],
        options: PluginOptions,
    ) -> Result<Self> {
        let name: Arc<str> = name.into();
        let config = Arc::new(Configuration::new(runtime, &name, options)?);
        let version = PluginVersion::build(runtime, &name, config, bytes, sha256)?;
        tracing::debug!(plugin = %name, sha256 = %hex::encode(version.sha256), "plugin loaded");
        Ok(Self {
            inner: Arc::new(PluginInner {
                gate: Arc::new(CallGate::new(
                    name.clone(),
                    runtime.asynchronous,
                    runtime.events.clone(),
                )),
                name,
                runtime: runtime.clone(),
                lifetime_fuel_used: Arc::default(),
                version: ArcSwap::from_pointee(version),
                retired: AtomicBool::new(false),
                uses: Mutex::default(),
            }),
        })
    }

    /// Replaces the plugin's component by `bytes`, after checking them as a first load is
    /// checked. A plugin loaded through a [`PluginSource`](crate::PluginSource) has the new
    /// version judged again by that pipeline (its policy, manifest and path, on the new bytes'
    /// own hash); one loaded with options given by hand keeps them (same grants, limits,
    /// extension point and pin).
    ///
    /// Before the swap the new version must also still provide what the handle is used for
    /// (every world it was viewed through with [`typed`](Self::typed), such as an
    /// [`HttpHandler`](crate::HttpHandler)'s `wasi:http/incoming-handler`), and instantiate
    /// (its start functions succeed) under the plugin's limits. Calls already running finish on
    /// the old version; calls that start afterwards use the new one. On failure the old version
    /// keeps serving. Either way an event tells subscribers.
    pub fn reload(&self, bytes: &[u8]) -> Result<ReloadOutcome> {
        let sha256 = crate::engine::compile::sha256(bytes);
        let current = self.current();
        if sha256 == current.sha256 {
            return Ok(ReloadOutcome::Unchanged);
        }
        let config = match &current.config.judge {
            None => current.config.clone(),
            Some(judge) => {
                let options = judge
                    .options_for(bytes)
                    .map(|options| options.judged_by(judge.clone()))
                    .inspect_err(|error| self.reload_failed(error))?;
                self.configure(options)?
            }
        };
        self.swap_in(bytes, sha256, config)
    }

    /// Replaces the plugin's component and its options at once (a watcher does this with the
    /// options its pipeline gave the new version): the handle keeps following the plugin.
    pub(crate) fn reload_with(
        &self,
        bytes: &[u8],
        options: PluginOptions,
    ) -> Result<ReloadOutcome> {
        let config = self.configure(options)?;
        let sha256 = crate::engine::compile::sha256(bytes);
        self.swap_in(bytes, sha256, config)
    }

    /// The configuration of a new version, made from `options`; a failure is a failed reload.
    fn configure(&self, options: PluginOptions) -> Result<Arc<Configuration>> {
        Configuration::new(&self.inner.runtime, &self.inner.name, options)
            .map(Arc::new)
            .inspect_err(|error| self.reload_failed(error))
    }

    fn swap_in(
        &self,
        bytes: &[u8],
        sha256: [u8; 32],
        config: Arc<Configuration>,
    ) -> Result<ReloadOutcome> {
        let started = Instant::now();
        let old = self.current();
        let built =
            PluginVersion::build(&self.inner.runtime, &self.inner.name, config, bytes, sha256)
                .map(Arc::new)
                .and_then(|version| self.fits(&version).map(|()| version));
        match built {
            Ok(version) => {
                let outcome = ReloadOutcome::Reloaded {
                    old_sha256: hex::encode(old.sha256),
                    new_sha256: hex::encode(version.sha256),
                };
                self.inner.version.store(version);
                tracing::info!(plugin = self.name(), "reloaded in {:?}", started.elapsed());
                self.inner.runtime.events.emit(PluginEvent::Reloaded {
                    plugin: self.name().to_owned(),
                    old_sha256: hex::encode(old.sha256),
                    new_sha256: hex::encode(sha256),
                    took: started.elapsed(),
                });
                Ok(outcome)
            }
            Err(error) => {
                self.reload_failed(&error);
                Err(error)
            }
        }
    }

    /// Whether a new version can replace the current one: it still provides what the handle is
    /// used for, and a trial instance of it starts under the plugin's limits.
    fn fits(&self, version: &Arc<PluginVersion<T>>) -> Result<()> {
        let uses: Vec<Use<T>> = self
            .inner
            .uses
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .cloned()
            .collect();
        for required in uses {
            required(self, version)?;
        }
        self.trial(version)
    }

    /// Instantiates `version` once and drops the instance: its start functions must succeed
    /// under the plugin's limits. Not counted as a call. Give plugins a deadline or fuel where
    /// new versions may come from untrusted hands: the trial is bounded by them only.
    fn trial(&self, version: &Arc<PluginVersion<T>>) -> Result<()> {
        if self.inner.runtime.asynchronous || version.needs_async {
            return self.trial_async(version);
        }
        let mut store = self.new_store(version)?;
        version
            .pre
            .instantiate(&mut store)
            .map(drop)
            .map_err(|e| outcome::conclude_failed_call(&mut store, self.name(), "<instantiate>", e))
    }

    /// [`trial`](Self::trial) on an asynchronous host, or of a version that instantiates only
    /// asynchronously:
    /// on a thread of its own with a runtime of its own (a reload may be asked from inside a
    /// runtime, which cannot run a second one); the reload waits for it. Like every start, it
    /// is bounded only by the plugin's fuel and deadline: with neither, a start that never ends
    /// holds the reload (and a watcher's thread) with it.
    fn trial_async(&self, version: &Arc<PluginVersion<T>>) -> Result<()> {
        let instantiate = async {
            let mut store = self.new_store(version)?;
            self.instantiate_raced(version, &mut store).await.map(drop)
        };
        let asynchronous = self.inner.runtime.asynchronous;
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    if asynchronous {
                        wasmtime_wasi::runtime::in_tokio(instantiate)
                    } else {
                        // A synchronous host's WASI functions block on tokio themselves.
                        crate::engine::driver::block_on(instantiate)
                            .unwrap_or_else(|| Err(self.inside_a_task()))
                    }
                })
                .join()
                .unwrap_or_else(|_| {
                    Err(Error::Panicked {
                        plugin: self.name().to_owned(),
                        during: "the trial instance of the new version".to_owned(),
                    })
                })
        })
    }

    /// Requires every later version to pass `check` before it replaces the current one; one
    /// check per `key` (a world viewed through [`typed`](Self::typed) is required once).
    pub(crate) fn require(&self, key: std::any::TypeId, check: Use<T>) {
        self.inner
            .uses
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key, check);
    }

    fn reload_failed(&self, error: &Error) {
        let shown = crate::text::escape_untrusted(&error.to_string()).into_owned();
        tracing::warn!(
            plugin = self.name(),
            "reload failed, the previous version keeps serving: {shown}"
        );
        self.inner.runtime.events.emit(PluginEvent::ReloadFailed {
            plugin: self.name().to_owned(),
            error: error.to_string(),
        });
    }

    /// Marks the handle retired: its plugin was unloaded.
    pub(crate) fn retire(&self) {
        self.inner.retired.store(true, Ordering::Relaxed);
    }

    /// Whether the plugin was unloaded (its file is gone): the handle still works, on the last
    /// version it had, but nothing will reload it any more.
    pub fn is_retired(&self) -> bool {
        self.inner.retired.load(Ordering::Relaxed)
    }

    /// Whether `self` and `other` are handles to the same plugin.
    pub fn same_plugin(&self, other: &Plugin<T>) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The version calls start on now.
    pub(crate) fn current(&self) -> Arc<PluginVersion<T>> {
        self.inner.version.load_full()
    }

    /// Whether `version` is the plugin's current version (no reload replaced it); cheaper than
    /// comparing with [`current`](Self::current), which counts a reference.
    pub(crate) fn is_current(&self, version: &Arc<PluginVersion<T>>) -> bool {
        Arc::ptr_eq(&self.inner.version.load(), version)
    }

    /// The plugin's own version, as its manifest gave it.
    pub fn version(&self) -> Option<Version> {
        self.current().config.version.clone()
    }

    /// The SHA-256 of the current version's bytes.
    pub fn sha256(&self) -> [u8; 32] {
        self.current().sha256
    }

    /// The current version's compiled component, for code that needs wasmtime directly.
    pub fn component(&self) -> Component {
        self.current().component.clone()
    }

    /// The functions the plugin exports, named as [`call`](Self::call) accepts them
    /// (`func`, or `pkg:name/iface@version#func`), with their WIT signatures.
    pub fn exported_functions(&self) -> Vec<(String, String)> {
        self.current()
            .exports
            .iter()
            .map(|f| (f.name.clone(), f.signature()))
            .collect()
    }

    /// The type of the exported function `name` (as [`call`](Self::call) names it), for
    /// typed handling of its arguments and results (such as parsing WAVE with
    /// [`Val::from_wave`](wasmtime::component::Val::from_wave)).
    pub fn function_type(&self, name: &str) -> Result<wasmtime::component::types::ComponentFunc> {
        Ok(self.current().find(self.name(), name)?.ty.clone())
    }

    /// The plugin's grants (of its current version).
    pub fn grants(&self) -> Grants {
        self.current().config.grants.grants().clone()
    }

    /// The plugin's limits (of its current version).
    pub fn limits(&self) -> Limits {
        self.current().config.limits.clone()
    }

    /// A fresh store for an instance of `version`, armed for a call.
    pub(crate) fn new_store(&self, version: &PluginVersion<T>) -> Result<Store<PluginState<T>>> {
        let inner = &self.inner;
        let config = &version.config;
        let recipe = StoreRecipe {
            plugin: &inner.name,
            engine: &inner.runtime.engine,
            asynchronous: inner.runtime.asynchronous,
            limits: &config.limits,
            lifetime_fuel_used: &inner.lifetime_fuel_used,
            output_cap: config.grants.grants().output_cap_bytes(),
            deterministic: config.grants.deterministic(),
            settings: &config.settings,
            plugin_version: config.version.as_ref(),
            sha256: version.sha256,
        };
        let data = (inner.runtime.new_state)(&inner.name);
        recipe.build(data, |budget| {
            let wasi = match version.imports_wasi {
                true => Some(config.grants.wasi_ctx(budget)?),
                false => None,
            };
            Ok((wasi, config.grants.http_hooks()))
        })
    }

    /// The error of a synchronous call that cannot be made: one of a plugin that uses the async
    /// ABI made from inside a tokio task (which must not block), or through a synchronous
    /// closure (a typed call, a destructor, a command). An asynchronous host makes them.
    #[cold]
    pub(crate) fn inside_a_task(&self) -> Error {
        Error::WrongMode {
            plugin: self.name().to_owned(),
            asynchronous_host: false,
        }
    }

    /// Instantiates `version` in `store` asynchronously, racing the store's deadline; a failure
    /// classified once, here.
    pub(super) async fn instantiate_raced(
        &self,
        version: &PluginVersion<T>,
        store: &mut Store<PluginState<T>>,
    ) -> Result<wasmtime::component::Instance> {
        let deadline = store.data().deadline_timer();
        let raced =
            crate::engine::timer::race(version.pre.instantiate_async(&mut *store), deadline).await;
        match raced {
            Ok(Ok(instance)) => Ok(instance),
            Ok(Err(e)) => Err(outcome::conclude_failed_call(
                store,
                self.name(),
                "<instantiate>",
                e,
            )),
            Err(crate::engine::timer::Elapsed) => Err(outcome::deadline_exceeded(
                store,
                self.name(),
                "<instantiate>",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    fn assert_send_sync<X: Send + Sync>() {}

    #[test]
    fn plugin_handle_is_send_and_sync() {
        assert_send_sync::<super::Plugin<()>>();
        assert_send_sync::<super::Plugin<std::sync::Mutex<Vec<String>>>>();
    }
}
