//! A live plugin instance: a store and an instantiated component, kept for several calls.

use wasmtime::Store;
use wasmtime::component::wasm_wave::untyped::UntypedFuncCall;
use wasmtime::component::{Func, Instance, Val};

use crate::error::{Error, Result};
use crate::exports::{self, ExportedFunc};

/// The interface through which state moves from one version of a plugin to the next.
const STATE_HANDOVER: &str = "componentry:plugin/state-handover";
use crate::limits;
use std::sync::Arc;

use crate::plugin::{Plugin, PluginVersion};
use crate::state::PluginState;

/// One instance of a plugin. State the plugin keeps in its memory survives from call to call.
///
/// After a call returns an error the instance may be inconsistent; drop it and instantiate anew
/// (the plugin handle's own calls always use fresh instances).
pub struct PluginInstance<T: 'static> {
    plugin: Plugin<T>,
    /// The version this instance was made from: a reload does not change it.
    version: Arc<PluginVersion<T>>,
    store: Store<PluginState<T>>,
    instance: Instance,
    fuel_consumed: Option<u64>,
}

impl<T: Send + 'static> PluginInstance<T> {
    pub(crate) fn new(
        plugin: Plugin<T>,
        version: Arc<PluginVersion<T>>,
        store: Store<PluginState<T>>,
        instance: Instance,
    ) -> Self {
        Self {
            plugin,
            version,
            store,
            instance,
            fuel_consumed: None,
        }
    }

    /// The plugin this is an instance of.
    pub fn plugin(&self) -> &Plugin<T> {
        &self.plugin
    }

    /// The instance's store, whose data holds the application's state for it.
    pub fn store(&mut self) -> &mut Store<PluginState<T>> {
        &mut self.store
    }

    /// The fuel the last call consumed, when the plugin has a fuel budget.
    pub fn fuel_consumed(&self) -> Option<u64> {
        self.fuel_consumed
    }

    /// The wasmtime instance, for typed bindings made with [`bindgen!`](crate::bindgen).
    pub fn wasmtime_instance(&self) -> &Instance {
        &self.instance
    }

    /// Calls the export `name` (`func`, `iface#func` or `pkg:name/iface@version#func`) with
    /// dynamically typed arguments and returns its results.
    pub fn call(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        let export = self.plugin.find_func(&self.version, name)?;
        self.call_export(&export, args)
    }

    /// Moves this instance to the plugin's current version after a hot reload. When both
    /// versions export `componentry:plugin/state-handover`, the old instance's `snapshot` is
    /// handed to the new instance's `restore`; otherwise the new instance starts afresh. Returns
    /// whether the instance changed; on an error it stays on its old version.
    pub fn upgrade(&mut self) -> Result<bool> {
        let current = self.plugin.current();
        if Arc::ptr_eq(&current, &self.version) {
            return Ok(false);
        }
        let mut next = self.plugin.instantiate()?;
        let handover = |instance: &Self, function: &str| {
            exports::find(
                instance.store.engine(),
                &instance.version.component,
                instance.plugin.name(),
                &format!("{STATE_HANDOVER}#{function}"),
            )
            .is_ok()
        };
        if handover(self, "snapshot") && handover(&next, "restore") {
            let state = self.call(&format!("{STATE_HANDOVER}#snapshot"), &[])?;
            next.call(&format!("{STATE_HANDOVER}#restore"), &state)?;
            tracing::info!(
                plugin = self.plugin.name(),
                "state handed over to the new version"
            );
        } else {
            tracing::info!(
                plugin = self.plugin.name(),
                "the new version starts afresh: {STATE_HANDOVER} is not exported by both versions"
            );
        }
        *self = next;
        Ok(true)
    }

    /// Calls a function written as a WAVE call expression, `name(arg, ...)`, and returns its
    /// results.
    pub fn invoke(&mut self, call: &str) -> Result<Vec<Val>> {
        let (export, args) = self.parse_call(call)?;
        self.call_export(&export, &args)
    }

    fn call_export(&mut self, export: &ExportedFunc, args: &[Val]) -> Result<Vec<Val>> {
        self.plugin.require_mode(false)?;
        let func = self.prepare(export, args)?;
        let mut results = vec![Val::Bool(false); export.ty.results().len()];
        let plugin = self.plugin.clone();
        plugin.guard(|| {
            let outcome = func.call(&mut self.store, args, &mut results);
            self.finish(export, outcome)
        })?;
        Ok(results)
    }

    /// Checks the arguments against the export's signature, arms the store, and finds the
    /// function.
    fn prepare(&mut self, export: &ExportedFunc, args: &[Val]) -> Result<Func> {
        let params = export.ty.params().len();
        if params != args.len() {
            return Err(Error::BadArguments {
                plugin: self.plugin.name().to_owned(),
                function: export.name.clone(),
                reason: format!(
                    "expected {params} argument(s), got {}; the signature is {}",
                    args.len(),
                    export.signature()
                ),
            });
        }
        let func = self
            .instance
            .get_func(&mut self.store, export.index)
            .ok_or_else(|| Error::ExportNotFound {
                plugin: self.plugin.name().to_owned(),
                name: export.name.clone(),
                available: "(the instance lacks an export its component declares)".to_owned(),
            })?;
        self.plugin.arm(&mut self.store);
        Ok(func)
    }

    /// Meters the call that just ended and maps its error, telling arguments wasmtime refused
    /// from failures of the guest.
    fn finish(&mut self, export: &ExportedFunc, outcome: wasmtime::Result<()>) -> Result<()> {
        self.fuel_consumed = limits::settle(&mut self.store);
        let Err(e) = outcome else {
            return Ok(());
        };
        let mapped = limits::classify(&mut self.store, self.plugin.name(), &export.name, e);
        // A value of the wrong type is refused by wasmtime before the guest runs.
        Err(match mapped {
            Error::Trap {
                code: None,
                message,
                ..
            } if message.contains("type mismatch") => Error::BadArguments {
                plugin: self.plugin.name().to_owned(),
                function: export.name.clone(),
                reason: format!("{message}; the signature is {}", export.signature()),
            },
            other => other,
        })
    }

    /// Resolves a WAVE call expression into the export and its arguments.
    fn parse_call(&self, call: &str) -> Result<(ExportedFunc, Vec<Val>)> {
        let bad_call = |reason: String| Error::BadArguments {
            plugin: self.plugin.name().to_owned(),
            function: call.to_owned(),
            reason,
        };
        // WAVE's own name syntax has no `iface#func`, so the name is split off here and the
        // arguments are parsed as the call of a placeholder.
        let Some((name, arguments)) = call.split_once('(') else {
            return Err(bad_call("not a call: write `name(arg, ...)`".to_owned()));
        };
        let placeholder = format!("f({arguments}");
        let parsed = UntypedFuncCall::parse(&placeholder)
            .map_err(|e| bad_call(format!("the arguments are not valid WAVE: {e}")))?;
        let export = self.plugin.find_func(&self.version, name.trim())?;
        let types: Vec<_> = export.ty.params().map(|(_, ty)| ty).collect();
        let args = parsed
            .to_wasm_params(types.iter())
            .map_err(|e| Error::BadArguments {
                plugin: self.plugin.name().to_owned(),
                function: export.name.clone(),
                reason: format!("{e}; the signature is {}", export.signature()),
            })?;
        Ok((export, args))
    }
}

#[cfg(feature = "async")]
impl<T: Send + 'static> PluginInstance<T> {
    /// Like [`call`](Self::call), on an asynchronous host. Dropping the future cancels the call;
    /// drop the instance too, since the call may have stopped half-way.
    pub async fn call_async(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        let export = self.plugin.find_func(&self.version, name)?;
        self.call_export_async(&export, args).await
    }

    /// Like [`invoke`](Self::invoke), on an asynchronous host.
    pub async fn invoke_async(&mut self, call: &str) -> Result<Vec<Val>> {
        let (export, args) = self.parse_call(call)?;
        self.call_export_async(&export, &args).await
    }

    async fn call_export_async(&mut self, export: &ExportedFunc, args: &[Val]) -> Result<Vec<Val>> {
        self.plugin.require_mode(true)?;
        self.plugin.admit()?;
        let func = self.prepare(export, args)?;
        let mut results = vec![Val::Bool(false); export.ty.results().len()];
        let outcome = func.call_async(&mut self.store, args, &mut results).await;
        let outcome = self.finish(export, outcome);
        self.plugin.record(&outcome);
        outcome.map(|()| results)
    }
}
