//! Instantiating a plugin, and the handle's own calls, each on a fresh instance: the handle's
//! side of the one call path (`instance` is the other).

use std::sync::Arc;
use std::time::Instant;

#[cfg(feature = "async")]
use tracing::Instrument as _;
use wasmtime::Store;
use wasmtime::component::Val;

use super::gate::EndedCall;
use super::handle::Plugin;
use super::instance::PluginInstance;
use super::version::PluginVersion;
use crate::error::{Error, Result};
use crate::store::{PluginState, outcome};

impl<T: Send + 'static> Plugin<T> {
    /// Begins an instantiation of `version`, synchronous or not (the two differ only in how the
    /// component is instantiated): the host's mode and the quarantine checked, the clock
    /// started, a store built and armed.
    fn begin_instantiation(
        &self,
        version: &PluginVersion<T>,
        asynchronous: bool,
    ) -> Result<(Store<PluginState<T>>, Instant)> {
        self.gate()
            .enter(asynchronous, version.config.quarantine.as_ref())?;
        let started = Instant::now();
        Ok((self.new_store(version)?, started))
    }

    /// Ends an instantiation begun at `started`: one that failed counts as a failed call (the
    /// call it was for never ran) and against the quarantine policy; one that succeeded becomes
    /// the instance.
    fn conclude_instantiation(
        &self,
        version: Arc<PluginVersion<T>>,
        store: Store<PluginState<T>>,
        started: Instant,
        outcome: Result<wasmtime::component::Instance>,
    ) -> Result<PluginInstance<T>> {
        if let Err(error) = &outcome {
            let failed = EndedCall {
                kept: None,
                elapsed: Some(started.elapsed()),
                fuel: None, // the fuel of a failed instantiation is counted against its budget only
                memory: store.data().limiter.memory_total,
                error: Some(error),
            };
            self.gate()
                .leave(&failed, version.config.quarantine.as_ref());
        }
        Ok(PluginInstance::new(
            self.clone(),
            version,
            store,
            outcome?,
            started,
        ))
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
        self.instantiate_version(self.current())
    }

    /// Creates an instance of `version` for one call.
    pub(crate) fn instantiate_version(
        &self,
        version: Arc<PluginVersion<T>>,
    ) -> Result<PluginInstance<T>> {
        let _span = instantiate_span(self.name(), &version).entered();
        let (mut store, started) = self.begin_instantiation(&version, false)?;
        let outcome = if version.needs_async {
            crate::engine::driver::block_on(self.instantiate_raced(&version, &mut store))
                .unwrap_or_else(|| Err(self.inside_a_task()))
        } else {
            version.pre.instantiate(&mut store).map_err(|e| {
                outcome::conclude_failed_call(&mut store, self.name(), "<instantiate>", e)
            })
        };
        self.conclude_instantiation(version, store, started, outcome)
    }

    /// Like [`instantiate`](Self::instantiate), on an asynchronous host.
    #[cfg(feature = "async")]
    pub async fn instantiate_async(&self) -> Result<PluginInstance<T>> {
        let mut instance = self.instantiate_for_call_async().await?;
        instance.settle();
        Ok(instance)
    }

    /// Like [`instantiate_for_call`](Self::instantiate_for_call), on an asynchronous host: the
    /// instantiation races the deadline too.
    #[cfg(feature = "async")]
    pub(crate) async fn instantiate_for_call_async(&self) -> Result<PluginInstance<T>> {
        self.instantiate_version_async(self.current()).await
    }

    /// Creates an instance of `version` for one call, on an asynchronous host.
    #[cfg(feature = "async")]
    pub(crate) async fn instantiate_version_async(
        &self,
        version: Arc<PluginVersion<T>>,
    ) -> Result<PluginInstance<T>> {
        let (mut store, started) = self.begin_instantiation(&version, true)?;
        let outcome = self
            .instantiate_raced(&version, &mut store)
            .instrument(instantiate_span(self.name(), &version))
            .await;
        self.conclude_instantiation(version, store, started, outcome)
    }

    /// Calls the export `name` with dynamically typed arguments on a fresh instance. The call's
    /// fuel budget and deadline cover the instantiation too.
    pub fn call(&self, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        self.instantiate_for_call()?.call(name, args)
    }

    /// Like [`call`](Self::call), on an asynchronous host. Dropping the future cancels the call.
    #[cfg(feature = "async")]
    pub async fn call_async(&self, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        self.instantiate_for_call_async()
            .await?
            .call_async(name, args)
            .await
    }

    /// Calls a function written as a WAVE call expression, `name(arg, ...)`, on a fresh instance,
    /// and returns its results.
    pub fn invoke(&self, call: &str) -> Result<Vec<Val>> {
        self.instantiate_for_call()?.invoke(call)
    }

    /// Like [`invoke`](Self::invoke), on an asynchronous host.
    #[cfg(feature = "async")]
    pub async fn invoke_async(&self, call: &str) -> Result<Vec<Val>> {
        self.instantiate_for_call_async()
            .await?
            .invoke_async(call)
            .await
    }

    /// Runs the plugin as a command: calls its `wasi:cli/run` export on a fresh instance.
    ///
    /// The arguments it sees are the ones granted (see [`Grants::args`](crate::Grants::args)).
    /// Returns `Ok(())` for success and [`Error::Exit`] for a failure status (`run` returning an
    /// error is status 1, `exit(n)` is status `n`).
    ///
    /// A WASI 0.3 command (`wasi:cli/run@0.3`, an async export) runs the same way, driven to
    /// completion on the calling thread.
    pub fn run_command(&self) -> Result<()> {
        // Any version: the call below checks the signature.
        const RUN: &str = "wasi:cli/run#run";
        let mut instance = self.instantiate_for_call()?;
        let export = instance.find(RUN).map_err(|_| Error::Incompatible {
            plugin: self.name().to_owned(),
            reason: "not a command: it does not export wasi:cli/run".to_owned(),
            source: None,
        })?;
        let status = if instance.uses_async_abi() {
            // Through wasmtime's async entry point, which only a dynamic call takes.
            instance
                .call(&export.name, &[])
                .and_then(|results| match results.as_slice() {
                    [Val::Result(Ok(None))] => Ok(Ok(())),
                    [Val::Result(Err(None))] => Ok(Err(())),
                    _ => Err(Error::Incompatible {
                        plugin: self.name().to_owned(),
                        reason: format!("`{}` is not `run: func() -> result`", export.name),
                        source: None,
                    }),
                })
        } else {
            instance
                .run_typed::<(), (Result<(), ()>,)>(&export, ())
                .map(|(status,)| status)
        };
        match status {
            Ok(Ok(())) => Ok(()),
            Ok(Err(())) => Err(Error::Exit {
                plugin: self.name().to_owned(),
                status: 1,
            }),
            Err(Error::Exit { status: 0, .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }
}

/// The span of an instantiation: the plugin's name and version.
fn instantiate_span<T>(plugin: &str, version: &PluginVersion<T>) -> tracing::Span {
    tracing::debug_span!(
        "instantiate",
        plugin,
        version = %version.config.version_label()
    )
}
