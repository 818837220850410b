//! A live plugin instance: a store and an instantiated component, kept for several calls.
//!
//! Every call into guest code, dynamic or typed, synchronous or not, goes through one path here:
//! refuse it if the instance failed, or if the plugin's call gate (`gate`: the host's mode, the
//! quarantine) refuses it; arm the store (fuel, deadline), run it, settle its fuel, map its error
//! once, and let it out through the gate (metrics, the quarantine's count of failures).

use std::sync::Arc;
use std::time::Instant;

use wasmtime::Store;
use wasmtime::component::wasm_wave::untyped::UntypedFuncCall;
use wasmtime::component::{ComponentNamedList, Func, Instance, Lift, Lower, ResourceAny, Val};

use tracing::Instrument as _;

use crate::error::{Error, Result};
use crate::plugin::async_values;
use crate::plugin::exports::ExportedFunc;
use crate::plugin::gate::{CallGate, EndedCall};
use crate::plugin::handle::Plugin;
use crate::plugin::metrics::KeptCalls;
use crate::plugin::quarantine::QuarantinePolicy;
use crate::plugin::version::PluginVersion;
use crate::store::PluginState;
use crate::store::{metering, outcome};

/// How errors and spans name the destructor of a resource the host drops.
const RESOURCE_DROP: &str = "<resource drop>";

/// The interface through which state moves from one version of a plugin to the next.
const STATE_HANDOVER: &str = "componentry:plugin/state-handover";

/// One instance of a plugin. State the plugin keeps in its memory survives from call to call.
///
/// After a call fails in the plugin's own code (a trap, or a limit it ran into) the instance may
/// be inconsistent, so it refuses further calls with [`Error::InstanceFailed`]: make a new one
/// (the plugin handle's own calls always use fresh instances).
pub struct PluginInstance<T: 'static> {
    plugin: Plugin<T>,
    /// The plugin's call gate, which every call of this instance passes in and out.
    gate: Arc<CallGate>,
    /// The quarantine policy of the instance's version.
    quarantine: Option<QuarantinePolicy>,
    /// The version this instance was made from: a reload does not change it.
    pub(super) version: Arc<PluginVersion<T>>,
    store: Store<PluginState<T>>,
    instance: Instance,
    fuel_consumed: Option<u64>,
    /// The store's budget and deadline were armed for the instantiation and still cover the
    /// first call (the plugin handle's instance-per-call path).
    armed: bool,
    /// A call failed in the plugin's code, or was cancelled half-way.
    failed: bool,
    /// The instance's functions, by position in the version's export table, looked up once.
    funcs: Vec<Option<Func>>,
    /// When the running (or last) timed call began: its instantiation, for the first call of
    /// an instance made for it.
    started: Instant,
    /// Whether the running call is timed for the latency histogram.
    timed: bool,
    /// Calls made on this instance after its instantiation: one in [`TIMED_ONE_IN`] is timed.
    calls: u32,
    /// The instance's own call counter, from its first call after the instantiation's: a
    /// kept instance counts without a locked addition per call.
    kept_calls: Option<KeptCalls>,
}

/// On a kept instance, one call in this many is timed (the first, the 65th, ...): reading the
/// clock twice costs about 40 ns here, a quarter of a call that does nothing. A call on a fresh
/// instance is always timed (it costs microseconds).
const TIMED_ONE_IN: u32 = 64;

impl<T: Send + 'static> PluginInstance<T> {
    pub(crate) fn new(
        plugin: Plugin<T>,
        version: Arc<PluginVersion<T>>,
        store: Store<PluginState<T>>,
        instance: Instance,
        started: Instant,
    ) -> Self {
        let gate = plugin.gate().clone();
        gate.metrics().instance_created(gate.plugin());
        Self {
            plugin,
            gate,
            quarantine: version.config.quarantine,
            store,
            instance,
            fuel_consumed: None,
            armed: true,
            failed: false,
            funcs: vec![None; version.exports.len()],
            version,
            started,
            timed: true,
            calls: 0,
            kept_calls: None,
        }
    }

    /// Ends the instantiation as a call of its own: its fuel is counted, and the next call is
    /// armed afresh.
    #[inline]
    pub(crate) fn settle(&mut self) {
        self.fuel_consumed = metering::settle(&mut self.store);
        self.armed = false;
    }

    /// Whether the instance takes calls: no call of it failed in the plugin's code.
    pub(crate) fn usable(&self) -> bool {
        !self.failed
    }

    /// Whether the instance runs the plugin's current version (no reload replaced it).
    pub(crate) fn is_current(&self) -> bool {
        self.plugin.is_current(&self.version)
    }

    /// Whether the instance's version uses the async ABI (its calls take wasmtime's async entry
    /// points).
    pub(crate) fn uses_async_abi(&self) -> bool {
        self.version.needs_async
    }

    /// The quarantine policy of the instance's version.
    #[cfg(feature = "serve")]
    pub(crate) fn quarantine(&self) -> Option<QuarantinePolicy> {
        self.quarantine
    }

    /// The plugin this is an instance of.
    pub fn plugin(&self) -> &Plugin<T> {
        &self.plugin
    }

    /// The instance's state: the application's data for it
    /// ([`PluginState::data`](crate::PluginState::data)) and its settings.
    pub fn state(&self) -> &PluginState<T> {
        self.store.data()
    }

    /// The instance's state, to change the application's data for it.
    pub fn state_mut(&mut self) -> &mut PluginState<T> {
        self.store.data_mut()
    }

    /// Drops `resource`, a resource a call of this instance returned: the plugin's destructor
    /// runs like a call, under the same limits, fails with the same errors, and counts as a
    /// call in the plugin's metrics and quarantine. On a synchronous host (an asynchronous one
    /// refuses it with [`Error::WrongMode`]: there, use
    /// [`drop_resource_async`](Self::drop_resource_async)).
    pub fn drop_resource(&mut self, resource: ResourceAny) -> Result<()> {
        self.run(Callee::Named(RESOURCE_DROP), |store, _| {
            resource.resource_drop(store)
        })
    }

    /// The escape hatch to the wasmtime store underneath, for what this type does not offer.
    /// Changing the store's fuel, epoch deadline or limiter through it bypasses the plugin's
    /// [`Limits`](crate::Limits): prefer [`state_mut`](Self::state_mut) and the calls here.
    pub fn wasmtime_store(&mut self) -> &mut Store<PluginState<T>> {
        &mut self.store
    }

    /// The fuel the last call consumed, when the plugin has a fuel budget.
    pub fn fuel_consumed(&self) -> Option<u64> {
        self.fuel_consumed
    }

    /// The escape hatch to the wasmtime instance underneath, for code that needs wasmtime
    /// directly.
    pub fn wasmtime_instance(&self) -> &Instance {
        &self.instance
    }

    /// The store and the wasmtime instance together, for loading typed bindings.
    pub(crate) fn parts(&mut self) -> (&mut Store<PluginState<T>>, &Instance) {
        (&mut self.store, &self.instance)
    }

    /// The exported function `name` of this instance's version.
    pub(crate) fn find(&self, name: &str) -> Result<ExportedFunc> {
        self.version.find(self.plugin.name(), name).cloned()
    }

    /// Calls the export `name` (`func`, `iface#func` or `pkg:name/iface@version#func`) with
    /// dynamically typed arguments and returns its results.
    pub fn call(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        // By position: holding the export would hold the version, and counting a reference to
        // it would make every call write the one cache line all its instances share.
        let position = self.position_of(name)?;
        self.call_export(position, args)
    }

    /// Calls a function written as a WAVE call expression, `name(arg, ...)`, and returns its
    /// results.
    pub fn invoke(&mut self, call: &str) -> Result<Vec<Val>> {
        let (position, args) = self.parse_call(call)?;
        self.call_export(position, &args)
    }

    /// Moves this instance to the plugin's current version after a hot reload. When both
    /// versions export `componentry:plugin/state-handover`, the old instance's `snapshot` is
    /// handed to the new instance's `restore` (as bytes, through typed calls: no per-byte
    /// conversion, so a snapshot is bounded by the instances' memory limits only); otherwise the
    /// new instance starts afresh. Returns whether the instance changed; on an error it stays on
    /// its old version.
    pub fn upgrade(&mut self) -> Result<bool> {
        let current = self.plugin.current();
        if Arc::ptr_eq(&current, &self.version) {
            return Ok(false);
        }
        let mut next = self.plugin.instantiate()?;
        let snapshot = self.find(&format!("{STATE_HANDOVER}#snapshot"));
        let restore = next.find(&format!("{STATE_HANDOVER}#restore"));
        match (snapshot, restore) {
            (Ok(snapshot), Ok(restore)) => {
                let state = self.run_typed::<(), (Vec<u8>,)>(&snapshot, ())?.0;
                next.run_typed::<(Vec<u8>,), ()>(&restore, (state,))?;
                tracing::info!(
                    plugin = self.plugin.name(),
                    "state handed over to the new version"
                );
            }
            _ => tracing::info!(
                plugin = self.plugin.name(),
                "the new version starts afresh: {STATE_HANDOVER} is not exported by both versions"
            ),
        }
        *self = next;
        Ok(true)
    }

    /// Where the export `name` is in the version's export table.
    #[inline(always)]
    pub(super) fn position_of(&self, name: &str) -> Result<usize> {
        match self.version.exact_position(name) {
            Some(position) => Ok(position),
            None => Ok(self.version.find(self.plugin.name(), name)?.position),
        }
    }

    fn call_export(&mut self, position: usize, args: &[Val]) -> Result<Vec<Val>> {
        if self.version.needs_async {
            // Through wasmtime's async entry point, driven to completion here.
            return crate::engine::driver::block_on(self.call_export_raced(position, args, false))
                .unwrap_or_else(|| Err(self.plugin.inside_a_task()));
        }
        let (func, results) = self.prepare(position, args)?;
        let mut results = placeholders(results);
        self.run(Callee::Export(position), |store, _| {
            func.call(store, args, &mut results)
        })?;
        Ok(results)
    }

    /// Calls `export` through wasmtime's typed interface, with the same limits and accounting.
    pub(crate) fn run_typed<P, R>(&mut self, export: &ExportedFunc, params: P) -> Result<R>
    where
        P: ComponentNamedList + Lower + Send + Sync,
        R: ComponentNamedList + Lift + Send + Sync + 'static,
    {
        let func = self
            .instance
            .get_typed_func::<P, R>(&mut self.store, export.index)
            .map_err(|e| Error::Incompatible {
                plugin: self.plugin.name().to_owned(),
                reason: format!("`{}` has another type than expected", export.name),
                source: Some(e.into()),
            })?;
        self.run(Callee::Named(&export.name), |store, _| {
            func.call(store, params)
        })
    }

    /// Runs one synchronous call of guest code, `call`, of `callee`.
    pub(crate) fn run<R>(
        &mut self,
        callee: Callee<'_>,
        call: impl FnOnce(&mut Store<PluginState<T>>, &Instance) -> wasmtime::Result<R>,
    ) -> Result<R> {
        // Checked here first: building even a disabled span costs a tenth of a call that does
        // nothing, and dropping an absent one a twentieth.
        if tracing::level_enabled!(tracing::Level::DEBUG) {
            return self.run_in_span(callee, call);
        }
        self.run_unspanned(callee, call)
    }

    /// [`run`](Self::run) inside the call's span.
    #[inline(never)]
    fn run_in_span<R>(
        &mut self,
        callee: Callee<'_>,
        call: impl FnOnce(&mut Store<PluginState<T>>, &Instance) -> wasmtime::Result<R>,
    ) -> Result<R> {
        let _span = self.call_span(callee).entered();
        self.run_unspanned(callee, call)
    }

    /// [`run`](Self::run) without a span.
    #[inline(always)]
    fn run_unspanned<R>(
        &mut self,
        callee: Callee<'_>,
        call: impl FnOnce(&mut Store<PluginState<T>>, &Instance) -> wasmtime::Result<R>,
    ) -> Result<R> {
        if self.version.needs_async && !self.gate.asynchronous_host() {
            // A typed call, a resource's destructor or a command of a plugin that uses the async
            // ABI: wasmtime runs those only through its async entry points, which these
            // synchronous closures cannot take. The host's limitation, not the plugin's failure.
            return Err(self.plugin.inside_a_task());
        }
        self.begin(false)?;
        match call(&mut self.store, &self.instance) {
            Ok(value) => {
                self.settle();
                self.record(None);
                Ok(value)
            }
            Err(error) => Err(self.fail(callee, error)),
        }
    }

    /// The span of a call of `callee`: the plugin's name and version and the function.
    pub(crate) fn call_span(&self, callee: Callee<'_>) -> tracing::Span {
        let function = callee.name(&self.version);
        tracing::debug_span!(
            "call",
            plugin = self.plugin.name(),
            version = %self.version.config.version_label(),
            function
        )
    }

    /// Counts the call that just ended, failed with `error` or not, in the plugin's metrics and
    /// against its quarantine policy.
    #[inline(always)]
    fn record(&self, error: Option<&Error>) {
        let call = EndedCall {
            kept: self.kept_calls.as_ref(),
            elapsed: self.timed.then(|| self.started.elapsed()),
            fuel: self.fuel_consumed,
            memory: self.store.data().limiter.memory_total,
            error,
        };
        self.gate.leave(&call, self.quarantine.as_ref());
    }

    /// Readies the instance for a call: refused on a failed instance, on a host of the other
    /// mode, or a quarantined plugin; the store armed (unless the instantiation's checks and
    /// arming still cover the call).
    #[inline(always)]
    fn begin(&mut self, asynchronous: bool) -> Result<()> {
        if self.failed {
            return Err(self.instance_failed());
        }
        // An instance made for this call: its instantiation, just now, checked the host's mode
        // and admitted it, and armed the store for both.
        if !std::mem::take(&mut self.armed) {
            self.gate.enter(asynchronous, self.quarantine.as_ref())?;
            self.timed = self.calls.is_multiple_of(TIMED_ONE_IN);
            self.calls = self.calls.wrapping_add(1);
            if self.timed {
                self.started = Instant::now();
            }
            if self.kept_calls.is_none() {
                self.kept_calls = Some(self.gate.metrics().kept_calls());
            }
            metering::arm(&mut self.store);
        }
        Ok(())
    }

    #[cold]
    fn instance_failed(&self) -> Error {
        Error::InstanceFailed {
            plugin: self.plugin.name().to_owned(),
        }
    }

    /// Checks the arguments against the export's signature and finds the function, so that a
    /// value of the wrong type is refused before any guest code runs.
    /// Returns the function and the number of its results.
    pub(super) fn prepare(&mut self, position: usize, args: &[Val]) -> Result<(Func, usize)> {
        let export = &self.version.exports[position];
        let bad = |reason: String| Error::BadArguments {
            plugin: self.plugin.name().to_owned(),
            function: export.name.clone(),
            reason: format!("{reason}; the signature is {}", export.signature()),
        };
        let params = export.params.len();
        if params != args.len() {
            return Err(bad(format!(
                "expected {params} argument(s), got {}",
                args.len()
            )));
        }
        for ((name, ty), arg) in export.params.iter().zip(args) {
            async_values::check_argument(arg, ty)
                .map_err(|e| bad(format!("argument `{name}`: {e}")))?;
        }
        if let Some(Some(func)) = self.funcs.get(position) {
            return Ok((*func, export.results));
        }
        let func = self
            .instance
            .get_func(&mut self.store, export.index)
            .ok_or_else(|| Error::ExportNotFound {
                plugin: self.plugin.name().to_owned(),
                name: export.name.clone(),
                available: "(the instance lacks an export its component declares)".to_owned(),
            })?;
        if let Some(slot) = self.funcs.get_mut(position) {
            *slot = Some(func);
        }
        Ok((func, export.results))
    }

    /// Ends a call that failed with `error`: meters it, maps the error (once), marks the instance
    /// failed when the guest failed, and counts it. Apart from the path of calls that succeed,
    /// which then carry no error of the crate's (larger) type.
    #[cold]
    fn fail(&mut self, callee: Callee<'_>, error: wasmtime::Error) -> Error {
        self.settle();
        let function = callee.name_in_error(&self.version, &error);
        let mapped =
            outcome::conclude_failed_call(&mut self.store, self.plugin.name(), function, error);
        self.failed |= mapped.is_guest_failure();
        self.record(Some(&mapped));
        mapped
    }

    /// Ends a failure of work that is not one call (an event loop serving many requests, whose
    /// requests are counted one by one): maps the error (once), marks the instance failed when
    /// the guest failed, and counts nothing.
    #[cold]
    #[cfg(feature = "serve")]
    pub(crate) fn fail_unrecorded(&mut self, function: &str, error: wasmtime::Error) -> Error {
        self.settle();
        let mapped =
            outcome::conclude_failed_call(&mut self.store, self.plugin.name(), function, error);
        self.failed |= mapped.is_guest_failure();
        mapped
    }

    /// Resolves a WAVE call expression into the export (its position in this instance's
    /// version) and its arguments.
    fn parse_call(&self, call: &str) -> Result<(usize, Vec<Val>)> {
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
        let export = self.version.find(self.plugin.name(), name.trim())?;
        let bad_arguments = |reason: String| Error::BadArguments {
            plugin: self.plugin.name().to_owned(),
            function: export.name.clone(),
            reason: format!("{reason}; the signature is {}", export.signature()),
        };
        if !export.async_params {
            let types = export.params.iter().map(|(_, ty)| ty);
            let args = parsed
                .to_wasm_params(types)
                .map_err(|e| bad_arguments(e.to_string()))?;
            return Ok((export.position, args));
        }
        // Streams and futures are written as the lists and values they carry.
        let nodes: Vec<_> = match parsed.params_node() {
            Some(node) => node
                .as_tuple()
                .map_err(|e| bad_arguments(e.to_string()))?
                .collect(),
            None => Vec::new(),
        };
        if nodes.len() != export.params.len() {
            return Err(bad_arguments(format!(
                "expected {} argument(s), got {}",
                export.params.len(),
                nodes.len()
            )));
        }
        let args = nodes
            .into_iter()
            .zip(&export.params)
            .map(|(node, (name, ty))| {
                async_values::parse_argument(node, ty, parsed.source())
                    .map_err(|e| bad_arguments(format!("argument `{name}`: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((export.position, args))
    }
}

/// The function a call runs, named in its span and its errors.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Callee<'a> {
    /// An export of the instance's version, by its position in the version's export table.
    Export(usize),
    /// A function named by the caller.
    Named(&'a str),
    /// An export run through typed bindings, which call it by Rust method: its name is known
    /// only from a failure's backtrace.
    Typed,
    /// A batch of calls run at once: a failure is named by the export its backtrace entered.
    Concurrent,
}

/// How a typed call's span, and its error when its backtrace does not show the export, name it.
const TYPED_CALL: &str = "<typed call>";
/// How a batch of concurrent calls' span, and its error when no backtrace shows the export,
/// name it.
const CONCURRENT_CALLS: &str = "<concurrent calls>";

impl<'a> Callee<'a> {
    /// The function's name, as spans give it.
    fn name<'v: 'a, T>(self, version: &'v PluginVersion<T>) -> &'a str {
        match self {
            Callee::Export(position) => version
                .exports
                .get(position)
                .map_or("<unknown export>", |export| export.name.as_str()),
            Callee::Named(name) => name,
            Callee::Typed => TYPED_CALL,
            Callee::Concurrent => CONCURRENT_CALLS,
        }
    }

    /// The function's name, as the error of its failed call, `error`, gives it: a typed call
    /// is named by the export its backtrace entered.
    fn name_in_error<'v: 'a, T: Send + 'static>(
        self,
        version: &'v PluginVersion<T>,
        error: &wasmtime::Error,
    ) -> &'a str {
        match self {
            Callee::Typed => version.entered_export(error).unwrap_or(TYPED_CALL),
            Callee::Concurrent => version.entered_export(error).unwrap_or(CONCURRENT_CALLS),
            other => other.name(version),
        }
    }
}

/// `count` values for a call to write its results over. (`vec![value; count]` costs a clone and
/// a drop even for no results, a tenth of a call that does nothing.)
#[inline]
pub(super) fn placeholders(count: usize) -> Vec<Val> {
    (0..count).map(|_| Val::Bool(false)).collect()
}

impl<T: 'static> Drop for PluginInstance<T> {
    fn drop(&mut self) {
        // What ran after the last call (a destructor run through `resource_drop`) still counts.
        metering::account(&mut self.store);
        let metrics = self.gate.metrics();
        if let Some(kept) = &self.kept_calls {
            metrics.kept_dropped(kept);
        }
        metrics.instance_dropped(self.gate.plugin());
    }
}

#[cfg(feature = "async")]
impl<T: Send + 'static> PluginInstance<T> {
    /// Like [`call`](Self::call), on an asynchronous host. The deadline holds wherever the call
    /// waits; dropping the future cancels the call, and the instance then takes no more calls.
    pub async fn call_async(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        let position = self.position_of(name)?;
        self.call_export_raced(position, args, true).await
    }

    /// Like [`drop_resource`](Self::drop_resource), on an asynchronous host.
    pub async fn drop_resource_async(&mut self, resource: ResourceAny) -> Result<()> {
        let deadline = self.begin_async()?;
        let span = self.call_span(Callee::Named(RESOURCE_DROP));
        let raced =
            crate::engine::timer::race(resource.resource_drop_async(&mut self.store), deadline)
                .instrument(span)
                .await;
        self.conclude_async(Callee::Named(RESOURCE_DROP), raced)
    }

    /// Like [`invoke`](Self::invoke), on an asynchronous host.
    pub async fn invoke_async(&mut self, call: &str) -> Result<Vec<Val>> {
        let (position, args) = self.parse_call(call)?;
        self.call_export_raced(position, &args, true).await
    }

    /// Readies the instance for an asynchronous call and returns the deadline the call's future
    /// must race. Until [`conclude_async`](Self::conclude_async), the instance counts as failed:
    /// a future dropped half-way leaves it so.
    pub(crate) fn begin_async(&mut self) -> Result<Option<crate::engine::timer::Deadline>> {
        self.begin_raced(true)
    }
}

/// The calls through wasmtime's async entry points, racing their deadlines: every call of an
/// asynchronous host, and a synchronous host's calls of a plugin that uses the async ABI.
impl<T: Send + 'static> PluginInstance<T> {
    /// A dynamic call through wasmtime's async entry point, racing its deadline: every call of
    /// an asynchronous host (`asynchronous`), and a synchronous host's calls of a plugin that
    /// uses the async ABI.
    async fn call_export_raced(
        &mut self,
        position: usize,
        args: &[Val],
        asynchronous: bool,
    ) -> Result<Vec<Val>> {
        let (func, results) = self.prepare(position, args)?;
        let mut results = placeholders(results);
        let export = &self.version.exports[position];
        if export.async_params || export.async_results.is_some() {
            // Its streams and futures are opened from, and read to, plain values within the call.
            let carried = export.carried(self.store.data().limiter.limits.max_memory);
            return self
                .run_concurrent_raced(
                    Callee::Export(position),
                    asynchronous,
                    async move |accessor| {
                        let args = carried.open(accessor, args)?;
                        func.call_concurrent(accessor, &args, &mut results).await?;
                        carried.read(accessor, &mut results).await?;
                        Ok(results)
                    },
                )
                .await;
        }
        let deadline = self.begin_raced(asynchronous)?;
        let span = self.call_span(Callee::Export(position));
        let raced = crate::engine::timer::race(
            func.call_async(&mut self.store, args, &mut results),
            deadline,
        )
        .instrument(span)
        .await;
        self.conclude_async(Callee::Export(position), raced)?;
        Ok(results)
    }

    /// [`begin_async`](Self::begin_async) for a call of the given mode.
    pub(super) fn begin_raced(
        &mut self,
        asynchronous: bool,
    ) -> Result<Option<crate::engine::timer::Deadline>> {
        self.begin(asynchronous)?;
        self.failed = true;
        Ok(self.store.data().deadline_timer())
    }

    /// Ends an asynchronous call begun with [`begin_async`](Self::begin_async), given what the
    /// race of its future against the deadline gave.
    pub(crate) fn conclude_async<R>(
        &mut self,
        callee: Callee<'_>,
        raced: std::result::Result<wasmtime::Result<R>, crate::engine::timer::Elapsed>,
    ) -> Result<R> {
        self.failed = false;
        match raced {
            Ok(Ok(value)) => {
                self.settle();
                self.record(None);
                Ok(value)
            }
            Ok(Err(error)) => Err(self.fail(callee, error)),
            Err(crate::engine::timer::Elapsed) => {
                self.settle();
                self.failed = true;
                let function = callee.name(&self.version);
                let error = outcome::deadline_exceeded(&self.store, self.plugin.name(), function);
                self.record(Some(&error));
                Err(error)
            }
        }
    }
}
