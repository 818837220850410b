//! A live plugin instance: a store and an instantiated component, kept for several calls.

use wasmtime::Store;
use wasmtime::component::wasm_wave::untyped::UntypedFuncCall;
use wasmtime::component::{Instance, Val};

use crate::error::{Error, Result};
use crate::exports::ExportedFunc;
use crate::limits;
use crate::plugin::Plugin;
use crate::state::PluginState;

/// One instance of a plugin. State the plugin keeps in its memory survives from call to call.
///
/// After a call returns an error the instance may be inconsistent; drop it and instantiate anew
/// (the plugin handle's own calls always use fresh instances).
pub struct PluginInstance<T: 'static> {
    plugin: Plugin<T>,
    store: Store<PluginState<T>>,
    instance: Instance,
    fuel_consumed: Option<u64>,
}

impl<T: Send + 'static> PluginInstance<T> {
    pub(crate) fn new(plugin: Plugin<T>, store: Store<PluginState<T>>, instance: Instance) -> Self {
        Self {
            plugin,
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
        let export = self.plugin.find_func(name)?;
        self.call_export(&export, args)
    }

    fn call_export(&mut self, export: &ExportedFunc, args: &[Val]) -> Result<Vec<Val>> {
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
        let mut results = vec![Val::Bool(false); export.ty.results().len()];
        let plugin = self.plugin.clone();
        plugin.guard(|| {
            self.plugin.arm(&mut self.store);
            let outcome = func.call(&mut self.store, args, &mut results);
            self.fuel_consumed = limits::fuel_consumed(&self.store);
            outcome.map_err(|e| self.classify_call_error(export, e))
        })?;
        Ok(results)
    }

    /// Maps a failed call's error, telling arguments wasmtime refused from failures of the guest.
    fn classify_call_error(&mut self, export: &ExportedFunc, e: wasmtime::Error) -> Error {
        let mapped = limits::classify(&mut self.store, self.plugin.name(), &export.name, e);
        // A value of the wrong type is refused by wasmtime before the guest runs.
        match mapped {
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
        }
    }

    /// Calls a function written as a WAVE call expression, `name(arg, ...)`, and returns its
    /// results.
    pub fn invoke(&mut self, call: &str) -> Result<Vec<Val>> {
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
        let name = name.trim();
        let placeholder = format!("f({arguments}");
        let parsed = UntypedFuncCall::parse(&placeholder)
            .map_err(|e| bad_call(format!("the arguments are not valid WAVE: {e}")))?;
        let export = self.plugin.find_func(name)?;
        let types: Vec<_> = export.ty.params().map(|(_, ty)| ty).collect();
        let args: Vec<Val> =
            parsed
                .to_wasm_params(types.iter())
                .map_err(|e| Error::BadArguments {
                    plugin: self.plugin.name().to_owned(),
                    function: export.name.clone(),
                    reason: format!("{e}; the signature is {}", export.signature()),
                })?;
        self.call_export(&export, &args)
    }
}
