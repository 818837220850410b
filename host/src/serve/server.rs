//! An HTTP/1.1 server whose routes are plugins: each request goes to the handler of the longest
//! route prefix that matches its path. What clients can make it hold is bounded: connections
//! (past the bound, new ones wait in the listener's backlog, holding no descriptor of the
//! server's), requests in flight (past the bound, 503 at once), the time to send headers, the
//! time to send a body, and the time a connection may sit idle. Shutting down lets requests in flight finish, for a grace
//! period.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::answer::ResponseBody;
use super::handler::{HttpHandler, error_response, text_response};
use crate::error::{Error, Result};

/// Requests answered at once, by default: past it, 503.
pub(crate) const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

/// How long a client may take to send a request's headers, by default.
pub(crate) const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send a request's body, by default.
pub(crate) const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a connection may stay idle (no request under way, nothing read or written) before
/// it is closed, by default.
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long requests in flight may take to finish once the server is told to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Connections served at once by default: 1,024, or half the process's limit of open descriptors
/// when that is lower (the other half stays for plugins' files, sockets and reloads).
pub(crate) fn default_max_connections() -> usize {
    let limit = open_files_limit().map_or(usize::MAX, |n| n / 2);
    limit.clamp(1, 1024)
}

#[cfg(unix)]
fn open_files_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the limit into the struct it is given, and nothing else.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (read == 0).then(|| usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX))
}

#[cfg(not(unix))]
fn open_files_limit() -> Option<usize> {
    None
}

/// Serves HTTP with plugins, one per route.
///
/// ```no_run
/// # async fn serve() -> componentry::Result<()> {
/// use componentry::{Engine, Host, HttpHandler, HttpServer};
///
/// let engine = Engine::new()?;
/// let host: Host<()> = Host::builder_async(&engine, |_| ())?.build()?;
/// let hello = HttpHandler::new(&host.load_file("hello-http.wasm")?)?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.expect("bind");
/// HttpServer::new()
///     .route("/", hello)
///     .serve(listener, async { tokio::signal::ctrl_c().await.ok(); })
///     .await
/// # }
/// ```
pub struct HttpServer<T: Send + 'static> {
    /// Longest prefix first.
    routes: Vec<(String, HttpHandler<T>)>,
    max_in_flight: usize,
    max_connections: usize,
    header_read_timeout: Duration,
    body_read_timeout: Duration,
    idle_timeout: Duration,
}

impl<T: Send + 'static> Default for HttpServer<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + 'static> HttpServer<T> {
    /// A server with no routes (every request gets 404).
    pub fn new() -> Self {
        Self {
            routes: Vec::new(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_connections: default_max_connections(),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }

    /// Sends requests whose path is `prefix`, or starts with `prefix` and then `/`, to
    /// `handler` (which sees the whole path). `/` takes every path; the longest matching prefix
    /// wins; a prefix given twice keeps its last handler.
    pub fn route(mut self, prefix: impl Into<String>, handler: HttpHandler<T>) -> Self {
        let prefix = normalise(prefix.into());
        self.routes.retain(|(p, _)| *p != prefix);
        self.routes.push((prefix, handler));
        self.routes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        self
    }

    /// Requests answered at once (defaults to 1024): past it, a request gets 503 at once.
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = requests;
        self
    }

    /// Connections served at once. Defaults to 1,024, or half the process's limit of open
    /// descriptors (`ulimit -n`) when that is lower. Past it the server accepts no more until one closes: new
    /// clients wait in the listener's backlog, and the server's descriptors stay for its plugins.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// How long a connection may stay idle, with no request under way and nothing read or
    /// written, before it is closed. Defaults to 30 s: idle keep-alive
    /// connections and clients that go silent do not hold their descriptors for ever.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How long a client may take to send a request's headers
    /// (defaults to 10 s); a slower one is disconnected.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long a client may take to send a request's whole body, counted from the end of its
    /// headers. Defaults to 30 s. Past it the plugin reading the body gets a read error
    /// (`connection-read-timeout`), the client gets 408 unless the plugin has answered, and the
    /// connection is closed: a client that trickles its body holds no handler and no descriptor
    /// for longer, whatever the request's deadline.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// Serves connections from `listener` until `shutdown` completes; then stops accepting and
    /// lets the requests in flight finish (for up to 10 s).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        let router = Arc::new(Router {
            routes: self.routes,
            in_flight: Arc::new(Semaphore::new(self.max_in_flight)),
            body_read_timeout: self.body_read_timeout,
        });
        let graceful = GracefulShutdown::new();
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        let connections = Arc::new(Semaphore::new(self.max_connections));
        let idle_timeout = self.idle_timeout;
        tokio::pin!(shutdown);
        loop {
            // A connection slot first: past the cap, clients wait in the backlog.
            let slot = tokio::select! {
                slot = connections.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of descriptors, say: wait for some to be freed.
                        tracing::warn!("cannot accept a connection: {error}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // A response goes out in several writes (its head, its body's frames, the chunked
            // terminator); with Nagle's algorithm on, the last one waits for the client's delayed
            // acknowledgement (about 40 ms), as `wasmtime serve` avoids too.
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!("cannot set TCP_NODELAY on a connection from {peer}: {error}");
            }
            let activity = Activity::default();
            let router = router.clone();
            let requests = activity.clone();
            let service = service_fn(move |request| {
                let router = router.clone();
                let busy = requests.busy();
                async move {
                    let response = router.respond(request).await;
                    // Busy until the body has gone out: a response that streams slowly is no
                    // idle connection.
                    let response = response.map(|body| {
                        http_body_util::BodyExt::boxed_unsync(Holding { body, _busy: busy })
                    });
                    Ok::<_, Infallible>(response)
                }
            });
            let stream = Watched {
                inner: stream,
                activity: activity.clone(),
            };
            let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
            tokio::spawn(async move {
                let _slot = slot;
                tokio::select! {
                    ended = connection => if let Err(error) = ended {
                        tracing::debug!(%peer, "connection ended: {error}");
                    },
                    () = activity.idle_for(idle_timeout) => {
                        tracing::debug!(%peer, "connection closed: idle for {idle_timeout:?}");
                    }
                }
            });
        }
        drop(listener);
        tokio::select! {
            () = graceful.shutdown() => {}
            () = tokio::time::sleep(SHUTDOWN_GRACE) => {
                tracing::warn!("requests still in flight after {SHUTDOWN_GRACE:?}: dropped");
            }
        }
        Ok(())
    }
}

/// What a connection is doing: when it last read or wrote, and how many requests it has under way.
#[derive(Clone)]
struct Activity(Arc<ActivityState>);

struct ActivityState {
    since: Instant,
    /// Milliseconds after `since` of the last read or write.
    last: AtomicU64,
    busy: AtomicUsize,
}

impl Default for Activity {
    fn default() -> Self {
        Self(Arc::new(ActivityState {
            since: Instant::now(),
            last: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
        }))
    }
}

impl Activity {
    fn touch(&self) {
        let now = u64::try_from(self.0.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.last.store(now, Ordering::Relaxed);
    }

    /// Marks a request under way until the guard is dropped.
    fn busy(&self) -> Busy {
        self.0.busy.fetch_add(1, Ordering::Relaxed);
        Busy(self.clone())
    }

    /// Completes once the connection has had no request under way and no traffic for `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        loop {
            let last = Duration::from_millis(self.0.last.load(Ordering::Relaxed));
            let idle = self.0.since.elapsed().saturating_sub(last);
            if idle >= timeout && self.0.busy.load(Ordering::Relaxed) == 0 {
                return;
            }
            let wait = timeout.saturating_sub(idle).max(timeout / 8);
            tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
        }
    }
}

/// A request under way on a connection.
struct Busy(Activity);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that keeps its request marked busy until it is done or dropped.
struct Holding {
    body: ResponseBody,
    _busy: Busy,
}

impl hyper::body::Body for Holding {
    type Data = bytes::Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// A connection's stream, noting each read and write that moves bytes.
struct Watched<S> {
    inner: S,
    activity: Activity,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// `prefix` with one leading `/` and no trailing one (but `/` itself).
fn normalise(prefix: String) -> String {
    let trimmed = prefix.trim_matches('/');
    format!("/{trimmed}")
}

/// Whether `path` falls under the route `prefix`.
fn under(path: &str, prefix: &str) -> bool {
    prefix == "/"
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

struct Router<T: Send + 'static> {
    routes: Vec<(String, HttpHandler<T>)>,
    in_flight: Arc<Semaphore>,
    body_read_timeout: Duration,
}

impl<T: Send + 'static> Router<T> {
    async fn respond(&self, request: http::Request<Incoming>) -> http::Response<ResponseBody> {
        let path = request.uri().path();
        let Some((_, handler)) = self.routes.iter().find(|(prefix, _)| under(path, prefix)) else {
            return text_response(http::StatusCode::NOT_FOUND, "no route\n".to_owned());
        };
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            return text_response(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "too many requests in flight\n".to_owned(),
            );
        };
        let (method, uri) = (request.method().clone(), request.uri().clone());
        let late = Arc::new(AtomicBool::new(false));
        let request = request.map(|body| TimedBody {
            body,
            deadline: Box::pin(tokio::time::sleep(self.body_read_timeout)),
            late: late.clone(),
            ended: false,
        });
        match handler.handle_holding(request, permit).await {
            Ok(response) => {
                tracing::debug!(
                    plugin = handler.plugin().name(),
                    "{method} {uri} -> {}",
                    response.status()
                );
                response
            }
            Err(error) => {
                log_failure(&error, &method, &uri);
                if late.load(Ordering::Relaxed) {
                    return text_response(
                        http::StatusCode::REQUEST_TIMEOUT,
                        "the request's body did not arrive in time\n".to_owned(),
                    );
                }
                error_response(&error)
            }
        }
    }
}

/// A request's body that must arrive whole before `deadline`: past it, reading it gives
/// `connection-read-timeout` and `late` is set.
struct TimedBody {
    body: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    late: Arc<AtomicBool>,
    ended: bool,
}

impl hyper::body::Body for TimedBody {
    type Data = bytes::Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(frame)) => {
                if self.body.is_end_stream() {
                    self.ended = true;
                }
                Poll::Ready(Some(frame.map_err(Into::into)))
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.ended = true;
                    self.late.store(true, Ordering::Relaxed);
                    Poll::Ready(Some(Err(wasmtime_wasi_http::Error::ConnectionReadTimeout)))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

fn log_failure(error: &Error, method: &http::Method, uri: &http::Uri) {
    let shown = crate::text::escape_untrusted(&error.to_string()).into_owned();
    let uri = crate::text::escape_untrusted(&uri.to_string()).into_owned();
    tracing::warn!(plugin = error.plugin(), "{method} {uri} failed: {shown}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_path_segments() {
        assert_eq!(normalise("api/".into()), "/api");
        assert_eq!(normalise("/".into()), "/");
        assert_eq!(normalise(String::new()), "/");
        assert!(under("/anything", "/"));
        assert!(under("/api", "/api"));
        assert!(under("/api/x", "/api"));
        assert!(!under("/apiary", "/api"));
        assert!(!under("/", "/api"));
    }
}
