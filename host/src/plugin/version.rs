//! One version of a plugin: its compiled component, pre-instantiated against the host's linker,
//! with everything every call needs computed once (its export table), and the configuration it
//! was loaded with (grants made ready, limits, settings). Immutable: a reload makes a new one.

use std::collections::HashMap;
use std::sync::Arc;

use semver::Version;
use wasmtime::component::{Component, InstancePre};

use crate::capability::PreparedGrants;
use crate::compat::extension_point::ExtensionPoint;
use crate::compat::inspect::ComponentWorld;
use crate::engine::compile;
use crate::error::{Error, Result};
use crate::plugin::asyncness;
use crate::plugin::entered_export::CoreExports;
use crate::plugin::exports::{self, ExportedFunc};
use crate::plugin::linking;
use crate::plugin::options::{Judge, PluginOptions, Requests};
use crate::plugin::quarantine::QuarantinePolicy;
use crate::plugin::shared::HostShared;
use crate::store::Settings;
use crate::store::limits::Limits;

/// What a plugin was loaded with, made ready: shared by its versions until options change.
pub(crate) struct Configuration {
    pub(crate) grants: PreparedGrants,
    pub(crate) limits: Limits,
    pub(crate) quarantine: Option<QuarantinePolicy>,
    pub(crate) extension_point: Option<Arc<ExtensionPoint>>,
    pub(crate) pin_sha256: Option<[u8; 32]>,
    pub(crate) settings: Arc<Settings>,
    /// The plugin's own version, as its manifest gives it.
    pub(crate) version: Option<Version>,
    /// How the plugin's next versions get their options, when a load pipeline judged it.
    pub(crate) judge: Option<Judge>,
    /// Who asked for the grants.
    pub(crate) requests: Requests,
}

impl Configuration {
    /// Checks `options` against what the engine can enforce and prepares the grants.
    pub(crate) fn new<T>(
        runtime: &HostShared<T>,
        name: &Arc<str>,
        options: PluginOptions,
    ) -> Result<Self> {
        check_engine_supports(runtime, name, &options.limits)?;
        Ok(Self {
            grants: PreparedGrants::new(name, options.grants)?,
            limits: options.limits,
            quarantine: options.quarantine,
            extension_point: options.extension_point,
            pin_sha256: options.pin_sha256,
            settings: Arc::new(options.settings),
            version: options.version,
            judge: options.judge,
            requests: options.requests,
        })
    }
}

impl Configuration {
    /// The plugin's version for logs and spans: its manifest's, or `-`.
    pub(crate) fn version_label(&self) -> VersionLabel<'_> {
        VersionLabel(self.version.as_ref())
    }
}

/// A plugin's version as logs show it: the version, or `-` when its manifest gives none.
pub(crate) struct VersionLabel<'a>(Option<&'a Version>);

impl std::fmt::Display for VersionLabel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(version) => version.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// One compiled version of a plugin's component, ready to instantiate.
pub(crate) struct PluginVersion<T: 'static> {
    pub(crate) config: Arc<Configuration>,
    pub(crate) component: Component,
    pub(crate) pre: InstancePre<crate::store::PluginState<T>>,
    pub(crate) sha256: [u8; 32],
    /// The extension point version the component was built against, when it shows.
    pub(crate) target_version: Option<Version>,
    /// Every exported function, resolved once.
    pub(crate) exports: Vec<ExportedFunc>,
    /// The component imports a WASI interface, so its instances need a WASI context (one that
    /// imports none is spared making one per instance).
    pub(crate) imports_wasi: bool,
    /// Where each export is in `exports`, by its canonical name: a call by that name finds its
    /// function without comparing names one by one.
    by_name: HashMap<String, usize>,
    /// The function exports of the component's core modules, to name the export a failed typed
    /// call entered.
    core_exports: CoreExports,
    /// The component uses the component model's async ABI (`async` exports, WASI 0.3 imports):
    /// it is instantiated and called through wasmtime's async entry points, which a synchronous
    /// host drives to completion on the calling thread.
    pub(crate) needs_async: bool,
}

impl<T: Send + 'static> PluginVersion<T> {
    /// Reads the bytes into a checked, compiled, pre-instantiated version: the hash pin, the
    /// extension point, compilation (through the cache), the linking of its imports, its exports.
    pub(crate) fn build(
        runtime: &HostShared<T>,
        name: &str,
        config: Arc<Configuration>,
        bytes: &[u8],
        sha256: [u8; 32],
    ) -> Result<Self> {
        let _span =
            tracing::info_span!("load", plugin = name, version = %config.version_label()).entered();
        if let Some(expected) = config.pin_sha256
            && sha256 != expected
        {
            return Err(Error::IntegrityMismatch {
                plugin: name.to_owned(),
                expected: hex::encode(expected),
                found: hex::encode(sha256),
            });
        }
        let target_version = match &config.extension_point {
            Some(point) => {
                let world = ComponentWorld::decode(name, bytes)?;
                let report = point.check(&world);
                if !report.is_compatible() {
                    return Err(Error::Incompatible {
                        plugin: name.to_owned(),
                        reason: report.to_string(),
                        source: None,
                    });
                }
                report.plugin_version
            }
            None => None,
        };
        let compiled = compile::compile(&runtime.engine, name, bytes, sha256)?;
        let pre = linking::instantiate_pre(
            runtime,
            name,
            config.grants.grants(),
            &config.requests,
            &compiled.component,
        )?;
        let exports = exports::list(runtime.engine.wasmtime(), &compiled.component);
        let needs_async =
            asyncness::uses_async_abi(runtime.engine.wasmtime(), &compiled.component, &exports)
                .is_some();
        let imports_wasi = compiled
            .component
            .component_type()
            .imports(runtime.engine.wasmtime())
            .any(|(import, _)| import.starts_with("wasi:"));
        let by_name: HashMap<String, usize> = exports
            .iter()
            .enumerate()
            .map(|(at, export)| (export.name.clone(), at))
            .collect();
        // Of the binary form (a plugin given as WAT text is parsed again: compiling did it once).
        let core_exports = compile::component_binary(name, bytes).map_or_else(
            |_| CoreExports::default(),
            |binary| CoreExports::read(&binary, |name| by_name.get(name).copied()),
        );
        Ok(Self {
            config,
            component: compiled.component,
            pre,
            sha256: compiled.sha256,
            target_version,
            exports,
            core_exports,
            needs_async,
            imports_wasi,
            by_name,
        })
    }

    /// The export whose call failed with `error`, when its backtrace shows it: how a typed
    /// call, which runs an export through a Rust method, is named in its error.
    pub(crate) fn entered_export(&self, error: &wasmtime::Error) -> Option<&str> {
        let position = self.core_exports.entered(error)?;
        Some(self.exports.get(position)?.name.as_str())
    }

    /// Where the export named exactly `wanted` (its canonical name) is in the export table:
    /// the quick lookup of every dynamic call, before [`find`](Self::find) tries the other
    /// names a user may write.
    #[inline]
    pub(crate) fn exact_position(&self, wanted: &str) -> Option<usize> {
        // A few names compare faster than one is hashed.
        if self.exports.len() <= 16 {
            self.exports.iter().position(|export| export.name == wanted)
        } else {
            self.by_name.get(wanted).copied()
        }
    }

    /// The exported function `wanted`, or why there is none: [`Error::NotProvided`] when the
    /// extension point added it after the plugin's version.
    pub(crate) fn find(&self, plugin: &str, wanted: &str) -> Result<&ExportedFunc> {
        if let Some(at) = self.exact_position(wanted) {
            return Ok(&self.exports[at]);
        }
        exports::find(&self.exports, plugin, wanted).map_err(|e| {
            let newer = match (&self.config.extension_point, &self.target_version, &e) {
                (Some(point), Some(built_for), Error::ExportNotFound { .. }) => point
                    .since(wanted)
                    .filter(|since| since > built_for)
                    .map(|since| (since, built_for.clone())),
                _ => None,
            };
            match newer {
                Some((since, built_for)) => Error::NotProvided {
                    plugin: plugin.to_owned(),
                    function: wanted.to_owned(),
                    since: since.to_string(),
                    plugin_version: built_for.to_string(),
                },
                None => e,
            }
        })
    }
}

/// Refuses limits the engine was not built to enforce, rather than silently not enforcing them.
fn check_engine_supports<T>(runtime: &HostShared<T>, plugin: &str, limits: &Limits) -> Result<()> {
    let engine = &runtime.engine;
    let fuel = limits.get_fuel().is_some() || limits.get_lifetime_fuel().is_some();
    if fuel && !engine.fuel_enabled() {
        return Err(Error::LimitUnsupported {
            plugin: plugin.to_owned(),
            reason: "a fuel budget needs an engine built with `EngineBuilder::fuel(true)`"
                .to_owned(),
        });
    }
    if limits.get_deadline().is_some() && engine.epoch_tick().is_none() {
        return Err(Error::LimitUnsupported {
            plugin: plugin.to_owned(),
            reason: "a deadline needs an engine built with `EngineBuilder::epoch_interruption(..)`"
                .to_owned(),
        });
    }
    if let Some(pool) = engine.pooling() {
        let too_large = [
            (
                "memory limit",
                limits.max_memory,
                pool.memory_limit(),
                "max_memory",
            ),
            (
                "table limit",
                limits.max_table_elements,
                pool.table_limit(),
                "table_elements",
            ),
        ]
        .into_iter()
        .find(|(_, limit, slot, _)| limit > slot);
        if let Some((what, limit, slot, setting)) = too_large {
            return Err(Error::LimitUnsupported {
                plugin: plugin.to_owned(),
                reason: format!(
                    "its {what} ({limit}) exceeds what the engine's instance pool holds ({slot}); \
                     raise `Pooling::{setting}` or lower the limit"
                ),
            });
        }
    }
    Ok(())
}
