//! Instance reuse for WASI 0.3 HTTP handlers, as `wasmtime serve` offers it: one instance
//! answers up to `max_requests` requests, at most `max_concurrent` at once (the component
//! model's concurrency: while one request waits, another runs), and is retired after
//! `idle_timeout` without a request, after a request fails in the plugin's code (a trap, a limit)
//! or runs past its deadline, or once a hot reload has replaced its version.
//!
//! Each instance is a worker: a task that owns the instance and runs its store's concurrent event
//! loop for the instance's whole life, taking requests from a channel. Every request still passes
//! the plugin's call gate (quarantine, metrics) on its own, and holds the server's admission
//! (its in-flight permit) until it has ended in the worker, not only until its client left.
//! Each request tops the store up with one call's fuel budget (within the lifetime budget) and
//! a fresh output allowance. A request waiting past its deadline gets its 504 from the worker; a
//! request computing past it is stopped by the store's own deadline, which is the latest of the
//! deadlines of the requests under way (wasmtime cannot stop one task alone): that, or a trap,
//! stops the whole event loop, and every request the instance was answering fails with it.

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

/// One request for a worker: the request, where its answer and its outcome go, and what must be
/// kept until it has ended (the server's admission of it).
struct Job {
    request: http::Request<Body>,
    answer: tokio::sync::oneshot::Sender<Answer>,
    outcome: tokio::sync::oneshot::Sender<Result<()>>,
    guard: Box<dyn Send>,
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
    /// The worker's event loop is running (guest code, most of the time) at this moment.
    running: AtomicBool,
}

impl<T: Send + 'static> Workers<T> {
    pub(crate) fn new(plugin: Plugin<T>, reuse: InstanceReuse) -> Arc<Self> {
        Arc::new(Self {
            plugin,
            reuse,
            live: Mutex::new(Vec::new()),
        })
    }

    /// The plugin whose instances these are.
    pub(crate) fn plugin(&self) -> &Plugin<T> {
        &self.plugin
    }

    /// Starts answering `request` on a reused instance; `guard` is kept until the request has
    /// ended in its worker.
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
            guard: Box::new(guard),
        });
        let plugin = self.plugin.name().to_owned();
        Answering {
            answered,
            ended: Box::pin(async move {
                outcome_known
                    .await
                    .unwrap_or(Err(Error::InstanceFailed { plugin }))
            }),
            // The request ends in its worker, whose admission it holds until then.
            cancel: None,
        }
    }

    /// Gives `job` to a worker with room for it that is not running guest code at this moment
    /// (the least busy of them), or to a new worker when none is: requests that wait share an
    /// instance, requests that compute spread over instances and so over threads (a worker
    /// runs on one thread at a time), as wasmtime's own handler dispatches them.
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
        loop {
            let in_flight =
                |worker: &&WorkerHandle<T>| worker.load.in_flight.load(Ordering::SeqCst);
            let chosen = live
                .iter()
                .filter(|worker| {
                    in_flight(worker) < self.reuse.max_concurrent
                        && worker.load.accepted.load(Ordering::SeqCst) < self.reuse.max_requests
                        && !worker.load.running.load(Ordering::SeqCst)
                })
                .min_by_key(in_flight);
            let Some(worker) = chosen else {
                break;
            };
            let load = &worker.load;
            load.in_flight.fetch_add(1, Ordering::SeqCst);
            load.accepted.fetch_add(1, Ordering::SeqCst);
            match worker.jobs.send(job) {
                Ok(()) => return,
                Err(returned) => {
                    // The worker has ended: try another.
                    load.closed.store(true, Ordering::SeqCst);
                    job = returned.0;
                    live.retain(|worker| !worker.load.closed.load(Ordering::SeqCst));
                }
            }
        }
        let (jobs, taken) = tokio::sync::mpsc::unbounded_channel();
        let load = Arc::new(Load {
            in_flight: AtomicUsize::new(1),
            accepted: AtomicUsize::new(1),
            closed: AtomicBool::new(false),
            // Until its event loop first waits, it is instantiating: busy.
            running: AtomicBool::new(true),
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

    /// Gives every request still in `taken` (given to a worker that has stopped taking them)
    /// to another worker.
    fn hand_back(
        self: &Arc<Self>,
        taken: &mut tokio::sync::mpsc::UnboundedReceiver<Job>,
        load: &Load,
    ) {
        load.closed.store(true, Ordering::SeqCst);
        taken.close();
        while let Ok(job) = taken.try_recv() {
            load.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.dispatch(job);
        }
    }
}

/// A worker: makes an instance of `version` and answers the requests it is given until it is
/// retired; a request it was given but did not take goes back to the dispatcher.
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
            // The request it was started for fails as the instantiation did; the others it was
            // given go to another worker.
            load.closed.store(true, Ordering::SeqCst);
            if let Ok(job) = taken.try_recv() {
                load.in_flight.fetch_sub(1, Ordering::SeqCst);
                let _ = job.outcome.send(Err(error));
            }
            workers.hand_back(&mut taken, &load);
            return;
        }
    };
    let serving = Serving {
        plugin: plugin.clone(),
        reuse: workers.reuse,
        load: load.clone(),
        pending: Mutex::default(),
        quarantine: instance.quarantine(),
    };
    let receiving = &mut taken;
    let serving_ref = &serving;
    let ended = Running {
        work: std::pin::pin!(
            instance.run_concurrent_serving(HANDLE, async move |accessor| {
                serving_ref.serve(accessor, &service, receiving).await;
                Ok(())
            })
        ),
        load: &load,
    }
    .await;
    workers.hand_back(&mut taken, &load);
    if let Err(error) = ended {
        serving.fail_all(error, instance.state().limiter.memory_total);
    }
}

/// A worker's event loop, flagged in its load as running while it is polled (which is when it
/// runs guest code), for the dispatcher to tell a worker that computes from one that waits.
struct Running<'a, F> {
    work: std::pin::Pin<&'a mut F>,
    load: &'a Load,
}

impl<F: Future> Future for Running<'_, F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        self.load.running.store(true, Ordering::SeqCst);
        let polled = self.work.as_mut().poll(cx);
        self.load.running.store(false, Ordering::SeqCst);
        polled
    }
}

/// A request under way: when it began, where its outcome goes, what is kept until it ends, and
/// the flag its response body reads to tell a cut-short body from a whole one.
struct Pending {
    started: Instant,
    outcome: tokio::sync::oneshot::Sender<Result<()>>,
    _guard: Box<dyn Send>,
    failed: Arc<AtomicBool>,
}

/// What a worker's event loop needs besides the store.
struct Serving<T: Send + 'static> {
    plugin: Plugin<T>,
    reuse: InstanceReuse,
    load: Arc<Load>,
    pending: Mutex<HashMap<u64, Pending>>,
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
        let deadline = accessor.with(|mut store| store.get().limiter.limits.get_deadline());
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
                biased;
                job = taken.recv(), if accepting => {
                    let Some(job) = job else {
                        accepting = false;
                        continue;
                    };
                    accepted += 1;
                    let id = next_id;
                    next_id += 1;
                    let Some((request, answer, failed)) = self.begin(accessor, id, job) else {
                        continue;
                    };
                    under_way.push(async move {
                        let answered = answer_request(
                            accessor,
                            self.plugin.name(),
                            service,
                            request,
                            answer,
                            failed,
                        );
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
                Some(ended) = under_way.next(), if !under_way.is_empty() => {
                    let Ended { id, outcome } = ended;
                    if outcome.as_ref().is_err_and(Error::is_guest_failure) {
                        // Its state may be inconsistent, or a task of the request still runs:
                        // closed before its slot is released, so no request is given to it.
                        accepting = false;
                        self.load.closed.store(true, Ordering::SeqCst);
                    }
                    self.load.in_flight.fetch_sub(1, Ordering::SeqCst);
                    self.finish(accessor, id, outcome);
                }
                () = tokio::time::sleep(self.reuse.idle_timeout), if accepting && under_way.is_empty() => {
                    accepting = false;
                }
            }
        }
    }

    /// Admits request `id` through the call gate and readies the store for it: one more fuel
    /// budget and output allowance, and the store's deadline moved to the latest of the requests
    /// under way. Returns what answering it needs, or `None` when it was refused (its outcome
    /// already sent).
    fn begin(
        &self,
        accessor: &Accessor<PluginState<T>>,
        id: u64,
        job: Job,
    ) -> Option<(
        http::Request<Body>,
        tokio::sync::oneshot::Sender<Answer>,
        Arc<AtomicBool>,
    )> {
        let Job {
            request,
            answer,
            outcome,
            guard,
        } = job;
        let refuse = |outcome: tokio::sync::oneshot::Sender<Result<()>>, error: Error| {
            self.load.in_flight.fetch_sub(1, Ordering::SeqCst);
            let _ = outcome.send(Err(error));
            None
        };
        if let Err(refused) = self.plugin.gate().enter(true, self.quarantine.as_ref()) {
            return refuse(outcome, refused);
        }
        let funded = accessor.with(|mut store| {
            let funded = crate::store::metering::top_up(store.as_context_mut());
            let limiter = &mut store.get().limiter;
            if let Some(deadline) = limiter.limits.get_deadline() {
                let at = Instant::now() + deadline;
                limiter.deadline_at = Some(limiter.deadline_at.map_or(at, |was| was.max(at)));
            }
            funded
        });
        if !funded {
            let spent = Error::FuelExhausted {
                plugin: self.plugin.name().to_owned(),
                function: HANDLE.to_owned(),
                consumed: 0,
            };
            self.leave(accessor, Instant::now(), Some(&spent));
            return refuse(outcome, spent);
        }
        let failed = Arc::new(AtomicBool::new(false));
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                id,
                Pending {
                    started: Instant::now(),
                    outcome,
                    _guard: guard,
                    failed: failed.clone(),
                },
            );
        Some((request, answer, failed))
    }

    /// Ends request `id` with `outcome`: counted in the plugin's metrics and against its
    /// quarantine policy, passed on, and its admission released.
    fn finish(&self, accessor: &Accessor<PluginState<T>>, id: u64, outcome: Result<()>) {
        let Some(pending) = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
        else {
            return;
        };
        if outcome.is_err() {
            pending.failed.store(true, Ordering::SeqCst);
        }
        self.leave(accessor, pending.started, outcome.as_ref().err());
        let _ = pending.outcome.send(outcome);
    }

    /// Counts a request that began at `started` and ended with `error` (or none) through the
    /// call gate.
    fn leave(&self, accessor: &Accessor<PluginState<T>>, started: Instant, error: Option<&Error>) {
        let memory = accessor.with(|mut store| store.get().limiter.memory_total);
        let ended = EndedCall {
            kept: None,
            elapsed: Some(started.elapsed()),
            fuel: None,
            memory,
            error,
        };
        self.plugin.gate().leave(&ended, self.quarantine.as_ref());
    }

    /// Fails every request under way with `error`, which stopped the instance's event loop and
    /// which no single request can be blamed for: past a deadline, each gets the deadline; else
    /// the first gets the error and the others [`Error::InstanceFailed`]. With none under way,
    /// the failure is logged and counted once.
    fn fail_all(&self, error: Error, memory: usize) {
        let gate = self.plugin.gate();
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        let count = |failure: &Error, started: Instant| {
            let ended = EndedCall {
                kept: None,
                elapsed: Some(started.elapsed()),
                fuel: None,
                memory,
                error: Some(failure),
            };
            gate.leave(&ended, self.quarantine.as_ref());
        };
        if pending.is_empty() {
            tracing::warn!(
                plugin = self.plugin.name(),
                "a reused instance failed after its requests had ended (in work it went on with): \
                 {error}"
            );
            count(&error, Instant::now());
            return;
        }
        let mut pending: Vec<_> = pending.into_iter().collect();
        pending.sort_unstable_by_key(|(id, _)| *id);
        let mut first = Some(error);
        for (_, request) in pending {
            request.failed.store(true, Ordering::SeqCst);
            let failure = match &first {
                Some(Error::DeadlineExceeded {
                    plugin,
                    function,
                    deadline,
                }) => Error::DeadlineExceeded {
                    plugin: plugin.clone(),
                    function: function.clone(),
                    deadline: *deadline,
                },
                _ => first.take().unwrap_or_else(|| Error::InstanceFailed {
                    plugin: self.plugin.name().to_owned(),
                }),
            };
            count(&failure, request.started);
            let _ = request.outcome.send(Err(failure));
        }
    }
}

/// Answers one request inside the event loop: the handler's answer passed on through `answer`,
/// then its body sent, before this returns.
async fn answer_request<T: Send + 'static>(
    accessor: &Accessor<PluginState<T>>,
    plugin: &str,
    service: &Service,
    request: http::Request<Body>,
    answer: tokio::sync::oneshot::Sender<Answer>,
    failed: Arc<AtomicBool>,
) -> Result<()> {
    // Mapped as any call's failure: the limit behind it recognised, a trap's core dump saved.
    let mapped = |error: wasmtime::Error| {
        accessor
            .with(|store| crate::store::outcome::conclude_failed_call(store, plugin, HANDLE, error))
    };
    let request =
        accessor.with(|mut store| Request::from_http(store.get().http().hooks, request).0);
    match service.handle(accessor, request).await.map_err(mapped)? {
        Err(code) => {
            let _ = answer.send(Err(format!("{code:?}")));
        }
        Ok(response) => {
            let response = accessor
                .with(|store| response.into_http(store, async { Ok(()) }))
                .map_err(mapped)?;
            let (ended, ending) = tokio::sync::oneshot::channel::<()>();
            let response = response.map(|body| -> ResponseBody {
                EndSignalling::new(body, ended, failed).boxed_unsync()
            });
            if answer.send(Ok(response)).is_ok() {
                let _ = ending.await;
            }
        }
    }
    Ok(())
}
