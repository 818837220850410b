//! An HTTP/1.1 server whose routes are plugins: each request goes to the handler of the longest
//! route prefix that matches its path. Requests in flight are bounded (past the bound, 503 at
//! once), slow clients are cut off while sending headers, and shutting down lets requests in
//! flight finish, for a grace period.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::{HttpHandler, ResponseBody, error_response, text_response};
use crate::error::{Error, Result};

/// Requests answered at once, by default: past it, 503.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

/// How long a client may take to send a request's headers, by default.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long requests in flight may take to finish once the server is told to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

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
    header_read_timeout: Duration,
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
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
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

    /// Requests answered at once ([`DEFAULT_MAX_IN_FLIGHT`]): past it, a request gets 503 at once.
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = requests;
        self
    }

    /// How long a client may take to send a request's headers
    /// ([`DEFAULT_HEADER_READ_TIMEOUT`]); a slower one is disconnected.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
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
        });
        let graceful = GracefulShutdown::new();
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        tokio::pin!(shutdown);
        loop {
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
            let router = router.clone();
            let service = service_fn(move |request| {
                let router = router.clone();
                async move { Ok::<_, Infallible>(router.respond(request).await) }
            });
            let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%peer, "connection ended: {error}");
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
                error_response(&error)
            }
        }
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
