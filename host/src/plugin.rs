//! A loaded plugin: a cheap, thread-safe handle to one compiled and pre-instantiated component.

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::{Component, InstancePre, Val};

use crate::error::{Error, Result};
use arc_swap::ArcSwap;

use crate::events::PluginEvent;
use crate::exports::{self, ExportedFunc};
use crate::extension_point::ExtensionPoint;
use crate::grants::{Grants, OutputBudget, PreparedGrants};
use crate::host::{Host, PluginOptions};
use crate::inspect::ComponentWorld;
use crate::instance::PluginInstance;
use crate::limits::{self, Limiter, Limits};
use crate::quarantine::{FailureTracker, QuarantinePolicy};
use crate::state::{PluginState, Settings};
use crate::{linking, loader};
use semver::Version;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

/// A loaded plugin. Clone it freely: clones share the compiled component, and it is `Send + Sync`.
///
/// Each call through the plugin itself ([`call`](Self::call), [`invoke`](Self::invoke)) runs
/// on a fresh instance, so no state leaks from one call into the next and a trap never poisons a
/// later call. To keep state across calls, [`instantiate`](Self::instantiate) once and call the
/// [`PluginInstance`].
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
    host: Host<T>,
    grants: PreparedGrants,
    limits: Limits,
    quarantine: Option<QuarantinePolicy>,
    failures: FailureTracker,
    lifetime_fuel_used: Arc<AtomicU64>,
    /// The extension point the plugin is checked against, at load and at every reload.
    extension_point: Option<Arc<ExtensionPoint>>,
    expect_sha256: Option<[u8; 32]>,
    settings: Arc<Settings>,
    /// The version calls start on; a reload swaps it, and calls under way keep theirs.
    version: ArcSwap<PluginVersion<T>>,
}

/// One compiled version of a plugin's component, ready to instantiate. Immutable.
pub(crate) struct PluginVersion<T: 'static> {
    pub(crate) component: Component,
    pub(crate) pre: InstancePre<PluginState<T>>,
    pub(crate) sha256: [u8; 32],
    /// The extension point version the component was built against, when it shows.
    pub(crate) target_version: Option<Version>,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The bytes are the ones already loaded; nothing was done.
    Unchanged,
    /// The new version replaced the old one.
    Reloaded {
        /// The SHA-256 of the version replaced, in hex.
        old_sha256: String,
        /// The SHA-256 of the version now serving, in hex.
        new_sha256: String,
    },
}

impl<T: Send + 'static> Plugin<T> {
    /// Loads `bytes`, whose SHA-256 is `sha256`, as the plugin `name`.
    pub(crate) fn load(
        host: &Host<T>,
        name: String,
        bytes: &[u8],
        sha256: [u8; 32],
        options: PluginOptions,
    ) -> Result<Self> {
        let PluginOptions {
            grants,
            limits,
            quarantine,
            expect_sha256,
            extension_point,
            settings,
            ..
        } = options;
        let name: Arc<str> = name.into();
        check_engine_supports(&host.engine, &name, &limits)?;
        let grants = PreparedGrants::new(&name, grants)?;
        let version = build_version(
            host,
            &name,
            grants.grants(),
            extension_point.as_deref(),
            expect_sha256,
            bytes,
            sha256,
        )?;
        tracing::debug!(plugin = %name, sha256 = %hex::encode(version.sha256), "plugin loaded");
        Ok(Self {
            inner: Arc::new(PluginInner {
                name,
                host: host.clone(),
                grants,
                limits,
                quarantine,
                failures: FailureTracker::default(),
                lifetime_fuel_used: Arc::default(),
                extension_point,
                expect_sha256,
                settings: Arc::new(settings),
                version: ArcSwap::from_pointee(version),
            }),
        })
    }

    /// Replaces the plugin's component by `bytes`, after compiling and checking them as at load
    /// (same grants, limits, extension point and pin). Calls already running finish on the old
    /// version; calls that start afterwards use the new one. On failure the old version keeps
    /// serving. Either way an event tells subscribers.
    pub fn reload(&self, bytes: &[u8]) -> Result<ReloadOutcome> {
        let started = Instant::now();
        let sha256 = crate::loader::sha256(bytes);
        let old = self.current();
        if sha256 == old.sha256 {
            return Ok(ReloadOutcome::Unchanged);
        }
        let inner = &self.inner;
        let built = build_version(
            &inner.host,
            &inner.name,
            inner.grants.grants(),
            inner.extension_point.as_deref(),
            inner.expect_sha256,
            bytes,
            sha256,
        );
        match built {
            Ok(version) => {
                let outcome = ReloadOutcome::Reloaded {
                    old_sha256: hex::encode(old.sha256),
                    new_sha256: hex::encode(version.sha256),
                };
                inner.version.store(Arc::new(version));
                tracing::info!(plugin = self.name(), "reloaded in {:?}", started.elapsed());
                inner.host.events.emit(PluginEvent::Reloaded {
                    plugin: self.name().to_owned(),
                    old_sha256: hex::encode(old.sha256),
                    new_sha256: hex::encode(sha256),
                    took: started.elapsed(),
                });
                Ok(outcome)
            }
            Err(error) => {
                let shown = crate::text::escape_untrusted(&error.to_string()).into_owned();
                tracing::warn!(
                    plugin = self.name(),
                    "reload failed, the previous version keeps serving: {shown}"
                );
                inner.host.events.emit(PluginEvent::ReloadFailed {
                    plugin: self.name().to_owned(),
                    error: error.to_string(),
                });
                Err(error)
            }
        }
    }

    /// The version calls start on now.
    pub(crate) fn current(&self) -> Arc<PluginVersion<T>> {
        self.inner.version.load_full()
    }

    /// The plugin's name, as used in errors and logs.
    pub fn name(&self) -> &str {
        &self.inner.name
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
        exports::list(self.inner.host.engine.wasmtime(), &self.component())
            .into_iter()
            .map(|f| {
                let signature = f.signature();
                (f.name, signature)
            })
            .collect()
    }

    /// The type of the exported function `name` (as [`call`](Self::call) names it), for
    /// typed handling of its arguments and results (such as parsing WAVE with
    /// [`Val::from_wave`](wasmtime::component::Val::from_wave)).
    pub fn function_type(&self, name: &str) -> Result<wasmtime::component::types::ComponentFunc> {
        Ok(self.find_func(&self.current(), name)?.ty)
    }

    /// The plugin's grants.
    pub fn grants(&self) -> &Grants {
        self.inner.grants.grants()
    }

    /// A fresh store with the plugin's grants and a new application state, armed for a call.
    pub(crate) fn new_store(&self) -> Result<Store<PluginState<T>>> {
        let inner = &self.inner;
        let budget =
            OutputBudget::new(inner.name.clone(), inner.grants.grants().output_cap_bytes());
        let wasi = inner.grants.wasi_ctx(&budget)?;
        let data = (inner.host.new_state)(&inner.name);
        let http = inner.grants.http_hooks();
        let limiter = Limiter::new(inner.limits.clone(), inner.lifetime_fuel_used.clone());
        let mut state = PluginState::new(inner.name.clone(), wasi, http, limiter, budget, data);
        state.core_dumps = inner.host.engine.core_dumps();
        state.timer = inner.host.engine.timer().cloned();
        state.deterministic = inner.grants.deterministic();
        state.settings = self.inner.settings.clone();
        let mut store = Store::new(self.inner.host.engine.wasmtime(), state);
        store.limiter(|state| &mut state.limiter);
        self.arm(&mut store);
        Ok(store)
    }

    /// Prepares `store` for the next call: fuel refilled, deadline restarted.
    pub(crate) fn arm(&self, store: &mut Store<PluginState<T>>) {
        let engine = &self.inner.host.engine;
        limits::arm(
            store,
            engine.fuel_enabled(),
            engine.epoch_tick(),
            self.inner.host.asynchronous,
        );
    }

    /// Runs one call of guest code, refusing it while the plugin is quarantined and counting it
    /// against the quarantine policy when it fails.
    pub(crate) fn guard<R>(&self, call: impl FnOnce() -> Result<R>) -> Result<R> {
        self.admit()?;
        let outcome = call();
        self.record(&outcome);
        outcome
    }

    /// Refuses a call while the plugin is quarantined.
    pub(crate) fn admit(&self) -> Result<()> {
        if self.inner.quarantine.is_some()
            && let Some(remaining) = self.inner.failures.quarantined(Instant::now())
        {
            return Err(Error::Quarantined {
                plugin: self.name().to_owned(),
                remaining,
            });
        }
        Ok(())
    }

    /// Counts a failed call against the quarantine policy, quarantining the plugin (with an
    /// event) when it is one failure too many.
    pub(crate) fn record<R>(&self, outcome: &Result<R>) {
        let Some(policy) = &self.inner.quarantine else {
            return;
        };
        if let Err(error) = outcome
            && error.is_guest_failure()
            && let Some(failures) = self.inner.failures.record_failure(policy, Instant::now())
        {
            let shown = crate::text::escape_untrusted(&error.to_string()).into_owned();
            tracing::warn!(
                plugin = self.name(),
                failures,
                "plugin quarantined for {:?}: {shown}",
                policy.cooldown
            );
            self.inner.host.events.emit(PluginEvent::Quarantined {
                plugin: self.name().to_owned(),
                failures,
                cooldown: policy.cooldown,
                last_error: error.to_string(),
            });
        }
    }

    /// The plugin's limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Refuses a synchronous call on an asynchronous host, or the reverse.
    pub(crate) fn require_mode(&self, asynchronous: bool) -> Result<()> {
        if self.inner.host.asynchronous == asynchronous {
            return Ok(());
        }
        let message = if asynchronous {
            "this host is synchronous: build it with `Host::builder_async` to call plugins asynchronously"
        } else {
            "this host is asynchronous: call its plugins with the `*_async` methods"
        };
        Err(Error::Host {
            plugin: self.name().to_owned(),
            message: message.to_owned(),
        })
    }

    /// The current version's pre-instance.
    pub(crate) fn pre(&self) -> InstancePre<PluginState<T>> {
        self.current().pre.clone()
    }

    /// Creates an instance, which keeps its state across calls. Instantiating (running the
    /// component's start functions) has its own fuel budget and deadline, as a call does.
    pub fn instantiate(&self) -> Result<PluginInstance<T>> {
        let mut instance = self.instantiate_for_call()?;
        instance.settle();
        Ok(instance)
    }

    /// Creates an instance for one call: the fuel budget and the deadline armed for the
    /// instantiation also cover the call that follows.
    pub(crate) fn instantiate_for_call(&self) -> Result<PluginInstance<T>> {
        self.require_mode(false)?;
        let version = self.current();
        let mut store = self.new_store()?;
        let instance = self.guard(|| {
            version
                .pre
                .instantiate(&mut store)
                .map_err(|e| limits::classify(&mut store, self.name(), "<instantiate>", e))
        })?;
        Ok(PluginInstance::new(self.clone(), version, store, instance))
    }

    /// Looks up an exported function of `version` by name: `func`, `iface#func` or
    /// `pkg:name/iface@version#func`.
    pub(crate) fn find_func(&self, version: &PluginVersion<T>, name: &str) -> Result<ExportedFunc> {
        exports::find(
            self.inner.host.engine.wasmtime(),
            &version.component,
            self.name(),
            name,
        )
        .map_err(
            |e| match (&self.inner.extension_point, &version.target_version, &e) {
                (Some(point), Some(built_for), Error::ExportNotFound { .. }) => {
                    match point.since(name) {
                        Some(since) if &since > built_for => Error::NotProvided {
                            plugin: self.name().to_owned(),
                            function: name.to_owned(),
                            since: since.to_string(),
                            plugin_version: built_for.to_string(),
                        },
                        _ => e,
                    }
                }
                _ => e,
            },
        )
    }

    /// Calls the export `name` with dynamically typed arguments on a fresh instance. The call's
    /// fuel budget and deadline cover the instantiation too.
    pub fn call(&self, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        self.instantiate_for_call()?.call(name, args)
    }

    /// Calls a function written as a WAVE call expression, `name(arg, ...)`, on a fresh instance,
    /// and returns its results.
    pub fn invoke(&self, call: &str) -> Result<Vec<Val>> {
        self.instantiate_for_call()?.invoke(call)
    }
}

/// Reads the bytes into a checked, compiled, pre-instantiated version: the hash pin, the
/// extension point, compilation (through the cache), and the linking of its imports.
fn build_version<T: Send + 'static>(
    host: &Host<T>,
    name: &str,
    grants: &Grants,
    extension_point: Option<&ExtensionPoint>,
    expect_sha256: Option<[u8; 32]>,
    bytes: &[u8],
    found: [u8; 32],
) -> Result<PluginVersion<T>> {
    if let Some(expected) = expect_sha256
        && found != expected
    {
        return Err(Error::IntegrityMismatch {
            plugin: name.to_owned(),
            expected: hex::encode(expected),
            found: hex::encode(found),
        });
    }
    let target_version = match extension_point {
        Some(point) => {
            let world = ComponentWorld::decode(name, bytes)?;
            let report = point.check(&world);
            if !report.is_compatible() {
                return Err(Error::Incompatible {
                    plugin: name.to_owned(),
                    reason: report.to_string(),
                });
            }
            report.plugin_version
        }
        None => None,
    };
    let compiled = loader::compile(&host.engine, name, bytes, found)?;
    let pre = linking::instantiate_pre(host, name, grants, &compiled.component)?;
    Ok(PluginVersion {
        component: compiled.component,
        pre,
        sha256: compiled.sha256,
        target_version,
    })
}

/// Refuses limits the engine was not built to enforce, rather than silently not enforcing them.
fn check_engine_supports(engine: &crate::Engine, plugin: &str, limits: &Limits) -> Result<()> {
    let fuel = limits.fuel_budget().is_some() || limits.lifetime_fuel_budget().is_some();
    if fuel && !engine.fuel_enabled() {
        return Err(Error::Host {
            plugin: plugin.to_owned(),
            message: "a fuel budget needs an engine built with `EngineBuilder::fuel(true)`"
                .to_owned(),
        });
    }
    if limits.call_deadline().is_some() && engine.epoch_tick().is_none() {
        return Err(Error::Host {
            plugin: plugin.to_owned(),
            message:
                "a deadline needs an engine built with `EngineBuilder::epoch_interruption(..)`"
                    .to_owned(),
        });
    }
    Ok(())
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
