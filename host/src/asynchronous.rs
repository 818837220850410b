//! Asynchronous calls (feature `async`): plugins of a host built with
//! [`Host::builder_async`](crate::Host::builder_async) run on the caller's tokio runtime and yield
//! to it while they compute, so a long-running plugin cannot starve the executor.

use wasmtime::component::Val;

use crate::error::Result;
use crate::instance::PluginInstance;
use crate::limits;
use crate::plugin::Plugin;

impl<T: Send + 'static> Plugin<T> {
    /// Like [`instantiate`](Self::instantiate), on an asynchronous host.
    pub async fn instantiate_async(&self) -> Result<PluginInstance<T>> {
        let mut instance = self.instantiate_for_call_async().await?;
        instance.settle();
        Ok(instance)
    }

    /// Creates an instance for one call, whose fuel budget and deadline cover the
    /// instantiation too.
    async fn instantiate_for_call_async(&self) -> Result<PluginInstance<T>> {
        self.require_mode(true)?;
        self.admit()?;
        let version = self.current();
        let mut store = self.new_store()?;
        let deadline = store.data().deadline_timer();
        let raced =
            crate::deadline::race(version.pre.instantiate_async(&mut store), deadline).await;
        let outcome = match raced {
            Ok(Ok(instance)) => Ok(instance),
            Ok(Err(e)) => Err(limits::classify(
                &mut store,
                self.name(),
                "<instantiate>",
                e,
            )),
            Err(crate::deadline::Elapsed) => Err(limits::deadline_exceeded(
                &store,
                self.name(),
                "<instantiate>",
            )),
        };
        self.record(&outcome);
        Ok(PluginInstance::new(self.clone(), version, store, outcome?))
    }

    /// Like [`call`](Self::call), on an asynchronous host: a fresh instance per call. Dropping
    /// the future cancels the call.
    pub async fn call_async(&self, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        self.instantiate_for_call_async()
            .await?
            .call_async(name, args)
            .await
    }

    /// Like [`invoke`](Self::invoke), on an asynchronous host.
    pub async fn invoke_async(&self, call: &str) -> Result<Vec<Val>> {
        self.instantiate_for_call_async()
            .await?
            .invoke_async(call)
            .await
    }
}
