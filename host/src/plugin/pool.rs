//! A bounded pool of live instances of one plugin, shared by the threads that call it.
//!
//! By default every call still gets a fresh instance (no state leaks from one call into the
//! next) and the pool only bounds how many run at once; a plugin declared stateful keeps its
//! instances between calls instead. Either way an instance whose call failed in the plugin's code
//! is never used again, and a kept instance of a version a reload replaced moves to the new
//! version before its next call (with its state, where both versions hand it over).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use wasmtime::component::Val;

use crate::error::{Error, Result};
use crate::plugin::handle::Plugin;
use crate::plugin::instance::PluginInstance;

/// What a pool does with an instance after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reuse {
    /// Drop it: every call runs on a fresh instance. For stateless plugins, the default.
    #[default]
    Fresh,
    /// Keep it for a later call, so that state the plugin keeps in its memory carries over
    /// (until the instance fails, or a reload replaces its version).
    Keep,
}

/// How an [`InstancePool`] behaves: its size, whether it reuses instances, and what a call does
/// when every instance is busy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOptions {
    size: usize,
    reuse: Reuse,
    wait: Option<Duration>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            size: std::thread::available_parallelism().map_or(1, usize::from),
            reuse: Reuse::Fresh,
            wait: Some(Duration::from_secs(5)),
        }
    }
}

impl PoolOptions {
    /// The defaults: as many instances as the machine has cores, a fresh instance per call, and
    /// a call waits up to 5 s for a busy pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most instances alive at once (at least 1).
    pub fn size(mut self, size: usize) -> Self {
        self.size = size.max(1);
        self
    }

    /// Whether instances are kept between calls.
    pub fn reuse(mut self, reuse: Reuse) -> Self {
        self.reuse = reuse;
        self
    }

    /// How long a call waits for an instance when all are busy; `None` fails at once. Either way
    /// a call that gets none fails with [`Error::Exhausted`].
    pub fn wait(mut self, wait: Option<Duration>) -> Self {
        self.wait = wait;
        self
    }
}

/// A bounded pool of instances of one plugin, for calls from many threads. Made by
/// [`Plugin::pool`]; `Send + Sync`.
///
/// ```no_run
/// use componentry::pool::{PoolOptions, Reuse};
/// use componentry::{Engine, Host};
///
/// let engine = Engine::new()?;
/// let host: Host<()> = Host::new(&engine)?;
/// let plugin = host.load_file("counter.wasm")?;
/// let pool = plugin.pool(PoolOptions::new().size(4).reuse(Reuse::Keep));
/// std::thread::scope(|threads| {
///     for _ in 0..8 {
///         threads.spawn(|| pool.invoke("count()"));
///     }
/// });
/// # Ok::<(), componentry::Error>(())
/// ```
pub struct InstancePool<T: 'static> {
    plugin: Plugin<T>,
    options: PoolOptions,
    /// Kept instances waiting for a call, in shards: a thread takes from and returns to a shard
    /// of its own first, so that threads calling at once do not contend for one lock, and an
    /// instance tends to stay with one thread (and its caches).
    idle: Box<[Mutex<Vec<PluginInstance<T>>>]>,
    state: Mutex<PoolState>,
    /// How many calls wait for an instance (as `PoolState::waiting`), read without the lock by
    /// a call returning one.
    waiting: AtomicUsize,
    returned: Condvar,
}

struct PoolState {
    /// Instances alive: idle, or lent to a call, or being made.
    live: usize,
}

/// Numbers threads for the choice of their shard.
static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD_NUMBER: usize = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
}

impl<T: Send + 'static> InstancePool<T> {
    pub(crate) fn new(plugin: Plugin<T>, options: PoolOptions) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let shards = match options.reuse {
            Reuse::Keep => cores.min(options.size).max(1),
            Reuse::Fresh => 1,
        };
        Self {
            plugin,
            options,
            idle: (0..shards).map(|_| Mutex::new(Vec::new())).collect(),
            state: Mutex::new(PoolState { live: 0 }),
            waiting: AtomicUsize::new(0),
            returned: Condvar::new(),
        }
    }

    /// The plugin the pool runs.
    pub fn plugin(&self) -> &Plugin<T> {
        &self.plugin
    }

    /// How many instances are alive now (idle or busy).
    pub fn live(&self) -> usize {
        self.lock().live
    }

    /// How many instances wait idle for a call.
    pub fn idle(&self) -> usize {
        self.idle.iter().map(|shard| lock(shard).len()).sum()
    }

    /// Calls the export `name` on an instance of the pool, as [`PluginInstance::call`] does.
    pub fn call(&self, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        self.with(|instance| instance.call(name, args))
    }

    /// Calls a function written as a WAVE call expression on an instance of the pool.
    pub fn invoke(&self, call: &str) -> Result<Vec<Val>> {
        self.with(|instance| instance.invoke(call))
    }

    /// Lends an instance of the pool to `f`, and takes it back afterwards (even if `f` panics).
    pub fn with<R>(&self, f: impl FnOnce(&mut PluginInstance<T>) -> Result<R>) -> Result<R> {
        let mut lease = Lease {
            pool: self,
            instance: Some(self.check_out()?),
        };
        let instance = lease
            .instance
            .as_mut()
            .ok_or_else(|| self.exhausted("no instance"))?;
        f(instance)
    }

    /// The shard this thread takes from and returns to first.
    fn own_shard(&self) -> usize {
        THREAD_NUMBER.with(|number| number % self.idle.len())
    }

    /// An idle instance, from this thread's shard first, then from the others.
    fn take_idle(&self) -> Option<PluginInstance<T>> {
        if self.options.reuse == Reuse::Fresh {
            return None;
        }
        let own = self.own_shard();
        let shards = self.idle.len();
        (0..shards).find_map(|step| lock(&self.idle[(own + step) % shards]).pop())
    }

    /// An instance for one call: an idle one (with [`Reuse::Keep`]), or a new one if the pool
    /// has room, or the first one returned within the wait.
    fn check_out(&self) -> Result<PluginInstance<T>> {
        // Read the clock only once a call has to wait.
        let mut deadline = None;
        loop {
            if let Some(instance) = self.take_idle() {
                match self.ready(instance) {
                    Some(instance) => return Ok(instance),
                    None => continue,
                }
            }
            let mut state = self.lock();
            if state.live < self.options.size {
                state.live += 1;
                drop(state);
                return self.make().inspect_err(|_| self.forget_one());
            }
            let Some(wait) = self.options.wait else {
                return Err(self.all_busy());
            };
            let now = Instant::now();
            let left = deadline
                .get_or_insert(now + wait)
                .saturating_duration_since(now);
            if left.is_zero() {
                return Err(self.all_busy());
            }
            // Counted before looking once more: a call returning an instance after this look
            // sees the count and signals (it signals under the lock, so after this wait began).
            self.waiting.fetch_add(1, Ordering::SeqCst);
            let found = self.take_idle();
            if found.is_none() {
                state = self
                    .returned
                    .wait_timeout(state, left)
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0;
            }
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            drop(state);
            if let Some(instance) = found.and_then(|instance| self.ready(instance)) {
                return Ok(instance);
            }
        }
    }

    /// `instance`, taken idle, made ready for a call: if a reload replaced its version, moved
    /// over (handing its state on where both versions can); if that fails, it is retired.
    fn ready(&self, mut instance: PluginInstance<T>) -> Option<PluginInstance<T>> {
        if instance.is_current() {
            return Some(instance);
        }
        match instance.upgrade() {
            Ok(_) => Some(instance),
            Err(error) => {
                tracing::warn!(
                    plugin = self.plugin.name(),
                    "a pooled instance could not move to the new version: {error}"
                );
                drop(instance);
                self.forget_one();
                None
            }
        }
    }

    fn all_busy(&self) -> Error {
        self.exhausted(&format!(
            "all {} instances of its pool are busy{}",
            self.options.size,
            match self.options.wait {
                Some(wait) => format!(" after waiting {wait:?}"),
                None => String::new(),
            }
        ))
    }

    /// A new instance: for one call (its instantiation shares the call's budget and deadline),
    /// or settled to serve several.
    fn make(&self) -> Result<PluginInstance<T>> {
        match self.options.reuse {
            Reuse::Fresh => self.plugin.instantiate_for_call(),
            Reuse::Keep => self.plugin.instantiate(),
        }
    }

    /// Takes an instance back: kept if it may serve again, dropped otherwise (always after a
    /// panic during its call, which may have left it half-way). One of a version a reload
    /// replaced meanwhile is kept too: it moves to the new version, with its state, before its
    /// next call.
    fn check_in(&self, instance: PluginInstance<T>, panicked: bool) {
        let keep = self.options.reuse == Reuse::Keep && !panicked && instance.usable();
        if keep {
            lock(&self.idle[self.own_shard()]).push(instance);
            self.signal_return();
        } else {
            // Dropped first, outside the lock: dropping an instance runs its destructors'
            // accounting.
            drop(instance);
            self.forget_one();
        }
    }

    /// Counts out an instance that was dropped or could not be made.
    fn forget_one(&self) {
        self.lock().live -= 1;
        self.signal_return();
    }

    /// Wakes a call waiting for an instance, if any waits.
    fn signal_return(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            let _state = self.lock();
            self.returned.notify_one();
        }
    }

    fn exhausted(&self, reason: &str) -> Error {
        Error::Exhausted {
            plugin: self.plugin.name().to_owned(),
            reason: reason.to_owned(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        lock(&self.state)
    }
}

/// Locks `mutex`. The pool's counts stay right whatever a panicking thread was doing: it held no
/// instance while holding a lock.
fn lock<S>(mutex: &Mutex<S>) -> MutexGuard<'_, S> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An instance lent to one call, returned to its pool when dropped.
struct Lease<'p, T: Send + 'static> {
    pool: &'p InstancePool<T>,
    instance: Option<PluginInstance<T>>,
}

impl<T: Send + 'static> Drop for Lease<'_, T> {
    fn drop(&mut self) {
        if let Some(instance) = self.instance.take() {
            self.pool.check_in(instance, std::thread::panicking());
        }
    }
}

impl<T: Send + 'static> Plugin<T> {
    /// A bounded pool of instances of this plugin, for calls from many threads: see
    /// [`InstancePool`].
    pub fn pool(&self, options: PoolOptions) -> InstancePool<T> {
        InstancePool::new(self.clone(), options)
    }
}

#[cfg(test)]
mod tests {
    fn assert_send_sync<X: Send + Sync>() {}

    #[test]
    fn a_pool_is_shared_between_threads() {
        assert_send_sync::<super::InstancePool<()>>();
    }
}
