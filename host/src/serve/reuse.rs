//! Instance reuse for WASI 0.3 HTTP handlers, as `wasmtime serve` offers it: one instance
//! answers up to `max_requests` requests, at most `max_concurrent` at once (the component
//! model's concurrency: while one request waits, another runs), and is retired after
//! `idle_timeout` without a request, after a request fails in the plugin's code (a trap, a limit)
//! or runs past its deadline, or once a hot reload has replaced its version.
//!
//! Each instance is a worker: a task that owns the instance and runs its store's concurrent event
//! loop for the instance's whole life, taking requests from a channel. Every request still passes
//! the plugin's call gate (quarantine, metrics) on its own, and has its own deadline; fuel is
//! topped up by one budget per request it takes. A failure no single request can be blamed for
//! (a trap: wasmtime stops the whole event loop) fails every request the instance was answering.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;
use http_body_util::BodyExt as _;
use wasmtime::AsContextMut as _;
use wasmtime::component::Accessor;
use wasmtime_wasi_http::WasiHttpView as _;
use wasmtime_wasi_http::p3::Request;
use wasmtime_wasi_http::p3::bindings::Service;

use super::answer::{Answer, Answering, ResponseBody};
use super::service::{EndSignalling, HANDLE, service_of};
use crate::error::{Error, Result};
use crate::plugin::Plugin;
use crate::plugin::gate::EndedCall;
use crate::plugin::version::PluginVersion;
use crate::store::PluginState;

/// How instances of a WASI 0.3 HTTP handler are reused; named after `wasmtime serve`'s options.
///
/// Reuse is off unless asked for ([`HttpHandler::reuse_instances`](crate::HttpHandler::reuse_instances)):
/// an instance that answers several requests keeps what the plugin leaves in its memory (globals,
/// caches, whatever it stores) from one request to the next, so one client's request can see
/// what another's left. Never shared: another route's or plugin's instances, grants, limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceReuse {
    max_requests: usize,
    max_concurrent: usize,
    idle_timeout: Duration,
}

impl Default for InstanceReuse {
    fn default() -> Self {
        Self {
            max_requests: 128,
            max_concurrent: 16,
            idle_timeout: Duration::from_secs(1),
        }
    }
}

impl InstanceReuse {
    /// The defaults: 128 requests per instance, 16 at once, retired after 1 s idle.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most requests one instance answers in its life (`max-instance-reuse-count`); at
    /// least 1. Defaults to 128.
    pub fn max_requests(mut self, requests: usize) -> Self {
        self.max_requests = requests.max(1);
        self
    }

    /// The most requests one instance answers at once (`max-instance-concurrent-reuse-count`);
    /// at least 1. Defaults to 16.
    pub fn max_concurrent(mut self, requests: usize) -> Self {
        self.max_concurrent = requests.max(1);
        self
    }

    /// How long an instance with no request waits for one before it is retired
    /// (`idle-instance-timeout`). Defaults to 1 s.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The most requests per instance, as [`max_requests`](Self::max_requests) set it.
    pub fn get_max_requests(&self) -> usize {
        self.max_requests
    }

    /// The most requests at once per instance, as [`max_concurrent`](Self::max_concurrent) set
    /// it.
    pub fn get_max_concurrent(&self) -> usize {
        self.max_concurrent
    }

    /// The idle time after which an instance is retired, as
    /// [`idle_timeout`](Self::idle_timeout) set it.
    pub fn get_idle_timeout(&self) -> Duration {
        self.idle_timeout
    }
}

/// A request body as a worker takes it: any body, boxed.
type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, wasmtime_wasi_http::Error>;

/// One request for a worker: the request, where its answer goes, and where its outcome goes.
struct Job {
    request: http::Request<Body>,
    answer: tokio::sync::oneshot::Sender<Answer>,
    outcome: tokio::sync::oneshot::Sender<Result<()>>,
}

/// The instances of one handler that reuse serves with, shared by its clones.
pub(crate) struct Workers<T: Send + 'static> {
    plugin: Plugin<T>,
    reuse: InstanceReuse,
    live: Mutex<Vec<WorkerHandle<T>>>,
}

/// The dispatcher's side of a worker.
struct WorkerHandle<T: Send + 'static> {
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    load: Arc<Load>,
    /// The version its instance runs: after a reload, it takes no new requests.
    version: Arc<PluginVersion<T>>,
}

/// How busy a worker is. Counts are reserved by the dispatcher (under the workers' lock) and
/// released by the worker.
#[derive(Default)]
struct Load {
    in_flight: AtomicUsize,
    accepted: AtomicUsize,
    /// The worker takes no more requests.
    closed: AtomicBool,
}

impl<T: Send + 'static> Workers<T> {
    /// The plugin whose instances these are.
    pub(crate) fn plugin(&self) -> &Plugin<T> {
        &self.plugin
    }

    pub(crate) fn new(plugin: Plugin<T>, reuse: InstanceReuse) -> Arc<Self> {
        Arc::new(Self {
            plugin,
            reuse,
            live: Mutex::new(Vec::new()),
        })
    }

    /// Starts answering `request` on a reused instance, keeping `guard` until its outcome is
    /// known.
    pub(crate) fn answer<B, G>(self: &Arc<Self>, request: http::Request<B>, guard: G) -> Answering
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
        G: Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let (outcome, outcome_known) = tokio::sync::oneshot::channel();
        let request = request.map(|body| body.map_err(Into::into).boxed_unsync());
        self.dispatch(Job {
            request,
            answer,
            outcome,
        });
        let plugin = self.plugin.name().to_owned();
        let call = tokio::spawn(async move {
            let outcome = outcome_known
                .await
                .unwrap_or(Err(Error::InstanceFailed { plugin }));
            drop(guard);
            outcome
        });
        (answered, call)
    }

    /// Gives `job` to a worker with room for it, starting one when none has.
    fn dispatch(self: &Arc<Self>, mut job: Job) {
        let mut live = self
            .live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        live.retain(|worker| {
            let current = self.plugin.is_current(&worker.version);
            if !current {
                worker.load.closed.store(true, Ordering::SeqCst);
            }
            current && !worker.load.closed.load(Ordering::SeqCst)
        });
        for worker in live.iter() {
            let load = &worker.load;
            if load.in_flight.load(Ordering::SeqCst) >= self.reuse.max_concurrent
                || load.accepted.load(Ordering::SeqCst) >= self.reuse.max_requests
            {
                continue;
            }
            load.in_flight.fetch_add(1, Ordering::SeqCst);
            load.accepted.fetch_add(1, Ordering::SeqCst);
            match worker.jobs.send(job) {
                Ok(()) => return,
                Err(returned) => {
                    // The worker has ended: try the next.
                    load.closed.store(true, Ordering::SeqCst);
                    job = returned.0;
                }
            }
        }
        let (jobs, taken) = tokio::sync::mpsc::unbounded_channel();
        let load = Arc::new(Load {
            in_flight: AtomicUsize::new(1),
            accepted: AtomicUsize::new(1),
            closed: AtomicBool::new(false),
        });
        let version = self.plugin.current();
        // A new channel's receiver is alive: the send cannot fail.
        let _ = jobs.send(job);
        live.push(WorkerHandle {
            jobs,
            load: load.clone(),
            version: version.clone(),
        });
        drop(live);
        tokio::spawn(work(self.clone(), version, taken, load));
    }
}

/// A worker: makes an instance of `version` and answers the requests it is given until it is
/// retired; a request it had taken when it ends is given back to the dispatcher.
async fn work<T: Send + 'static>(
    workers: Arc<Workers<T>>,
    version: Arc<PluginVersion<T>>,
    mut taken: tokio::sync::mpsc::UnboundedReceiver<Job>,
    load: Arc<Load>,
) {
    let plugin = workers.plugin.clone();
    let made = async {
        let mut instance = plugin.instantiate_version_async(version).await?;
        instance.settle();
        let service = service_of(&plugin, &mut instance)?;
        Ok::<_, Error>((instance, service))
    }
    .await;
    let (mut instance, service) = match made {
        Ok(made) => made,
        Err(error) => {
            // The request it was started for fails as the instantiation did; any other it was
            // given goes to another worker.
            load.closed.store(true, Ordering::SeqCst);
            taken.close();
            let mut error = Some(error);
            while let Ok(job) = taken.try_recv() {
                match error.take() {
                    Some(error) => {
                        load_release(&load);
                        let _ = job.outcome.send(Err(error));
                    }
                    None => {
                        load_release(&load);
                        workers.dispatch(job);
                    }
                }
            }
            return;
        }
    };
    let pending: Arc<Mutex<HashMap<u64, Pending>>> = Arc::default();
    let serving = Serving {
        plugin: plugin.clone(),
        reuse: workers.reuse,
        load: load.clone(),
        pending: pending.clone(),
        quarantine: instance.quarantine(),
    };
    let ended = instance
        .run_concurrent_serving(HANDLE, async move |accessor| {
            serving.serve(accessor, &service, &mut taken).await;
            // Requests given to it after it closed go to another worker.
            taken.close();
            while let Ok(job) = taken.try_recv() {
                load_release(&serving.load);
                workers.dispatch(job);
            }
            Ok(())
        })
        .await;
    load.closed.store(true, Ordering::SeqCst);
    if let Err(error) = ended {
        // The event loop stopped (a trap, a limit), which no one request can be blamed for: the
        // first request under way fails with its error, the others with `InstanceFailed`.
        let gate = plugin.gate();
        let pending = std::mem::take(&mut *pending.lock().unwrap_or_else(|p| p.into_inner()));
        let mut pending: Vec<_> = pending.into_iter().collect();
        pending.sort_unstable_by_key(|(id, _)| *id);
        let mut error = Some(error);
        for (_, request) in pending {
            let failure = error.take().unwrap_or_else(|| Error::InstanceFailed {
                plugin: plugin.name().to_owned(),
            });
            let ended = EndedCall {
                kept: None,
                elapsed: Some(request.started.elapsed()),
                fuel: None,
                memory: instance.state().limiter.memory_total,
                error: Some(&failure),
            };
            gate.leave(&ended, instance.quarantine().as_ref());
            let _ = request.outcome.send(Err(failure));
        }
    }
}

/// Releases a request reserved on a worker.
fn load_release(load: &Load) {
    load.in_flight.fetch_sub(1, Ordering::SeqCst);
}

/// A request under way: when it began and where its outcome goes.
struct Pending {
    started: Instant,
    outcome: tokio::sync::oneshot::Sender<Result<()>>,
}

/// What a worker's event loop needs besides the store.
struct Serving<T: Send + 'static> {
    plugin: Plugin<T>,
    reuse: InstanceReuse,
    load: Arc<Load>,
    pending: Arc<Mutex<HashMap<u64, Pending>>>,
    quarantine: Option<crate::plugin::quarantine::QuarantinePolicy>,
}

/// How a request ended, as the worker sees it.
struct Ended {
    id: u64,
    outcome: Result<()>,
}

impl<T: Send + 'static> Serving<T> {
    /// Takes requests and answers them, as many at once as allowed, until the instance is
    /// retired: enough requests taken, idle too long, a request failed in the plugin's code or
    /// ran past its deadline, or its channel closed.
    async fn serve(
        &self,
        accessor: &Accessor<PluginState<T>>,
        service: &Service,
        taken: &mut tokio::sync::mpsc::UnboundedReceiver<Job>,
    ) {
        let limits = accessor.with(|mut store| store.get().limiter.limits.clone());
        let mut under_way = futures::stream::FuturesUnordered::new();
        let mut accepted = 0usize;
        let mut next_id = 0u64;
        let mut accepting = true;
        loop {
            if accepting && accepted >= self.reuse.max_requests {
                accepting = false;
            }
            if !accepting {
                self.load.closed.store(true, Ordering::SeqCst);
                if under_way.is_empty() {
                    return;
                }
            }
            tokio::select! {
                Some(ended) = under_way.next(), if !under_way.is_empty() => {
                    let Ended { id, outcome } = ended;
                    load_release(&self.load);
                    if outcome.as_ref().is_err_and(Error::is_guest_failure) {
                        // Its state may be inconsistent, or a task of the request still runs.
                        accepting = false;
                    }
                    self.finish(accessor, id, outcome);
                }
                job = taken.recv(), if accepting => {
                    let Some(job) = job else {
                        accepting = false;
                        continue;
                    };
                    accepted += 1;
                    let id = next_id;
                    next_id += 1;
                    if let Err(refused) = self.plugin.gate().enter(true, self.quarantine.as_ref()) {
                        load_release(&self.load);
                        let _ = job.outcome.send(Err(refused));
                        continue;
                    }
                    self.begin(accessor, &limits, id, job.outcome);
                    let deadline = limits.get_deadline();
                    under_way.push(async move {
                        let answered =
                            answer(accessor, self.plugin.name(), service, job.request, job.answer);
                        let outcome = match deadline {
                            Some(deadline) => match tokio::time::timeout(deadline, answered).await {
                                Ok(outcome) => outcome,
                                Err(_) => Err(Error::DeadlineExceeded {
                                    plugin: self.plugin.name().to_owned(),
                                    function: HANDLE.to_owned(),
                                    deadline,
                                }),
                            },
                            None => answered.await,
                        };
                        Ended { id, outcome }
                    });
                }
                () = tokio::time::sleep(self.reuse.idle_timeout), if accepting && under_way.is_empty() => {
                    accepting = false;
                }
            }
        }
    }

    /// Readies the store for request `id`: one more fuel budget, the store's deadline moved to
    /// this request's (so that a task of a request past its deadline is stopped once every
    /// request under way is past its own), and its outcome held until it ends.
    fn begin(
        &self,
        accessor: &Accessor<PluginState<T>>,
        limits: &crate::Limits,
        id: u64,
        outcome: tokio::sync::oneshot::Sender<Result<()>>,
    ) {
        accessor.with(|mut store| {
            let mut context = store.as_context_mut();
            if let Some(budget) = limits.get_fuel()
                && let Ok(left) = context.get_fuel()
            {
                let _ = context.set_fuel(left.saturating_add(budget));
                let limiter = &mut context.data_mut().limiter;
                limiter.fuel_mark = limiter.fuel_mark.map(|mark| mark.saturating_add(budget));
            }
            if let Some(deadline) = limits.get_deadline() {
                let at = Instant::now() + deadline;
                let limiter = &mut context.data_mut().limiter;
                limiter.deadline_at = Some(limiter.deadline_at.map_or(at, |was| was.max(at)));
            }
        });
        let started = Instant::now();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Pending { started, outcome });
    }

    /// Ends request `id` with `outcome`: counted in the plugin's metrics and against its
    /// quarantine policy, and passed on.
    fn finish(&self, accessor: &Accessor<PluginState<T>>, id: u64, outcome: Result<()>) {
        let Some(pending) = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
        else {
            return;
        };
        let memory = accessor.with(|mut store| store.get().limiter.memory_total);
        let ended = EndedCall {
            kept: None,
            elapsed: Some(pending.started.elapsed()),
            fuel: None,
            memory,
            error: outcome.as_ref().err(),
        };
        self.plugin.gate().leave(&ended, self.quarantine.as_ref());
        let _ = pending.outcome.send(outcome);
    }
}

/// Answers one request inside the event loop: the handler's answer passed on through `answer`,
/// then its body sent, before this returns.
async fn answer<T: Send + 'static>(
    accessor: &Accessor<PluginState<T>>,
    plugin: &str,
    service: &Service,
    request: http::Request<Body>,
    answer: tokio::sync::oneshot::Sender<Answer>,
) -> Result<()> {
    let failed = |error: wasmtime::Error| crate::error::from_guest(plugin, HANDLE, error, None);
    let request =
        accessor.with(|mut store| Request::from_http(store.data_mut().http().hooks, request).0);
    match service.handle(accessor, request).await.map_err(failed)? {
        Err(code) => {
            let _ = answer.send(Err(format!("{code:?}")));
        }
        Ok(response) => {
            let response = accessor
                .with(|store| response.into_http(store, async { Ok(()) }))
                .map_err(failed)?;
            let (ended, ending) = tokio::sync::oneshot::channel::<()>();
            let response = response
                .map(|body| -> ResponseBody { EndSignalling::new(body, ended).boxed_unsync() });
            if answer.send(Ok(response)).is_ok() {
                let _ = ending.await;
            }
        }
    }
    Ok(())
}
