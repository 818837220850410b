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
        self.require_mode(true)?;
        self.admit()?;
        let version = self.current();
        let mut store = self.new_store()?;
        let outcome = match version.pre.instantiate_async(&mut store).await {
            Ok(instance) => Ok(instance),
            Err(e) => Err(limits::classify(
                &mut store,
                self.name(),
                "<instantiate>",
                e,
            )),
        };
        self.record(&outcome);
        Ok(PluginInstance::new(self.clone(), version, store, outcome?))
    }

    /// Like [`call`](Self::call), on an asynchronous host: a fresh instance per call. Dropping
    /// the future cancels the call.
    pub async fn call_async(&self, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        self.instantiate_async().await?.call_async(name, args).await
    }

    /// Like [`invoke`](Self::invoke), on an asynchronous host.
    pub async fn invoke_async(&self, call: &str) -> Result<Vec<Val>> {
        self.instantiate_async().await?.invoke_async(call).await
    }
}
