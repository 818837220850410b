//! Many calls at once inside one instance: the component model's concurrency (wasmtime's
//! `run_concurrent` and `call_concurrent`), for plugins whose exports wait (WASI 0.3, `async`
//! exports), so that one instance serves several callers while each waits.
//!
//! A batch of calls is one call as far as the limits go: one fuel budget for all its tasks, one
//! deadline for all of them, at most [`Limits::max_concurrent_calls`](crate::Limits) under way at
//! once (the rest wait their turn). A call that traps, or a limit that stops one, ends the whole
//! batch with that error: the calls sharing the instance fail with it, and the instance takes no
//! more calls.

use futures::StreamExt as _;
use tracing::Instrument as _;
use wasmtime::component::{Accessor, Func, Val};

use super::async_values::CarriedValues;
use super::instance::{Callee, PluginInstance, placeholders};
use crate::error::Result;
use crate::store::PluginState;

/// One call of a batch: the export, by position in the instance's version, its function and its
/// arguments, checked against its signature, and the number of its results.
struct PreparedCall {
    func: Func,
    args: Vec<Val>,
    results: usize,
    /// What the call does with the streams and futures it passes and returns.
    carried: CarriedValues,
}

impl<T: Send + 'static> PluginInstance<T> {
    /// Runs `calls` (each an export's name and its arguments) at once inside this instance, at
    /// most [`Limits::max_concurrent_calls`](crate::Limits::max_concurrent_calls) under way at a
    /// time, and returns their results in the order of `calls`.
    ///
    /// The batch counts as one call for the limits: the fuel budget covers all its calls
    /// together, and the deadline the whole batch. Every argument is checked before any guest
    /// code runs. When one call traps, or runs into a limit, the batch ends with that error and
    /// the instance takes no more calls ([`Error::InstanceFailed`](crate::Error::InstanceFailed)).
    ///
    /// Calls overlap only where the plugin's exports wait (`async` exports, WASI 0.3): a
    /// synchronous export runs to its end before the next one starts. On a synchronous host,
    /// the batch is driven to its end on the calling thread.
    pub fn call_concurrent<S: AsRef<str>>(
        &mut self,
        calls: impl IntoIterator<Item = (S, Vec<Val>)>,
    ) -> Result<Vec<Vec<Val>>> {
        let prepared = self.prepare_batch(calls)?;
        crate::engine::driver::block_on(self.run_batch(prepared, false))
            .unwrap_or_else(|| Err(self.plugin().inside_a_task()))
    }

    /// Like [`call_concurrent`](Self::call_concurrent), on an asynchronous host. Dropping the
    /// future cancels the batch, and the instance then takes no more calls.
    #[cfg(feature = "async")]
    pub async fn call_concurrent_async<S: AsRef<str>>(
        &mut self,
        calls: impl IntoIterator<Item = (S, Vec<Val>)>,
    ) -> Result<Vec<Vec<Val>>> {
        let prepared = self.prepare_batch(calls)?;
        self.run_batch(prepared, true).await
    }

    /// Finds each call's export and checks its arguments, before any of them runs.
    fn prepare_batch<S: AsRef<str>>(
        &mut self,
        calls: impl IntoIterator<Item = (S, Vec<Val>)>,
    ) -> Result<Vec<PreparedCall>> {
        calls
            .into_iter()
            .map(|(name, args)| {
                let position = self.position_of(name.as_ref())?;
                let (func, results) = self.prepare(position, &args)?;
                let budget = self.state().limiter.limits.max_memory;
                let carried = self.version.exports[position].carried(budget);
                Ok(PreparedCall {
                    func,
                    args,
                    results,
                    carried,
                })
            })
            .collect()
    }

    /// Runs a prepared batch inside one `run_concurrent`, racing the deadline.
    async fn run_batch(
        &mut self,
        calls: Vec<PreparedCall>,
        asynchronous: bool,
    ) -> Result<Vec<Vec<Val>>> {
        let at_once = self.state().limiter.limits.max_concurrent_calls;
        self.run_concurrent_raced(Callee::Concurrent, asynchronous, async move |accessor| {
            let mut under_way = futures::stream::iter(calls.into_iter().enumerate())
                .map(|(index, call)| async move {
                    let mut results = placeholders(call.results);
                    let args = call.carried.open(accessor, &call.args)?;
                    call.func
                        .call_concurrent(accessor, &args, &mut results)
                        .await?;
                    call.carried.read(accessor, &mut results).await?;
                    Ok::<_, wasmtime::Error>((index, results))
                })
                .buffer_unordered(at_once);
            let mut finished = Vec::new();
            // The first failure ends the batch: the calls still under way fail with it.
            while let Some(call) = under_way.next().await {
                finished.push(call?);
            }
            finished.sort_unstable_by_key(|(index, _)| *index);
            Ok(finished.into_iter().map(|(_, results)| results).collect())
        })
        .await
    }

    /// Runs `work` inside the store's `run_concurrent` for as long as it takes, as the event loop
    /// of an instance that serves many requests (`serve::reuse`): not a call of its own (each
    /// request passes the call gate, and sets the store's deadline, itself), so the store is
    /// armed without a deadline. A failure of the event loop (a trap, a limit) is mapped once
    /// and marks the instance failed.
    #[cfg(feature = "serve")]
    pub(crate) async fn run_concurrent_serving<R: Send + 'static>(
        &mut self,
        function: &str,
        work: impl AsyncFnOnce(&Accessor<PluginState<T>>) -> wasmtime::Result<R>,
    ) -> Result<R> {
        crate::store::metering::arm(self.wasmtime_store());
        self.state_mut().limiter.deadline_at = None;
        let ran = self.wasmtime_store().run_concurrent(work).await;
        match ran.and_then(|outcome| outcome) {
            Ok(value) => Ok(value),
            Err(error) => Err(self.fail_unrecorded(function, error)),
        }
    }

    /// Runs `work` inside the store's `run_concurrent` as one call of `callee`: through the
    /// call gate, with one fuel budget, racing one deadline, its failure mapped and counted
    /// once. What `work` starts in the instance (`call_concurrent`, the tasks of a WASI 0.3
    /// HTTP handler) runs while `work` awaits it.
    pub(crate) async fn run_concurrent_raced<R: Send + 'static>(
        &mut self,
        callee: Callee<'_>,
        asynchronous: bool,
        work: impl AsyncFnOnce(&Accessor<PluginState<T>>) -> wasmtime::Result<R>,
    ) -> Result<R> {
        let deadline = self.begin_raced(asynchronous)?;
        let span = self.call_span(callee);
        let ran = self.wasmtime_store().run_concurrent(work);
        let raced = crate::engine::timer::race(ran, deadline)
            .instrument(span)
            .await
            .map(|ran| ran.and_then(|outcome| outcome));
        self.conclude_async(callee, raced)
    }
}
