//! One request answered by one plugin ([`HttpHandler`]): a fresh instance per request of a
//! WASI 0.2 `wasi:http/proxy` plugin or a WASI 0.3 `wasi:http/service` one (`service`), and the
//! responses to requests that fail.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use wasmtime_wasi_http::WasiHttpView as _;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyIndices};

use super::answer::{Answering, ResponseBody};
use super::reuse::{InstanceReuse, Workers};
use crate::error::{Error, Result};
use crate::plugin::Plugin;
use crate::plugin::typed::Typed;

crate::typed_world!(Proxy, ProxyIndices);

/// What errors name the function of an HTTP request by (WASI 0.2).
const HANDLE: &str = "wasi:http/incoming-handler#handle";

/// A plugin that answers HTTP requests. Cheap to clone; follows the plugin's hot reloads (a
/// request runs on the version current when it arrived).
pub struct HttpHandler<T: Send + 'static> {
    flavor: Flavor<T>,
}

/// Which `wasi:http` a plugin answers with.
enum Flavor<T: Send + 'static> {
    /// WASI 0.2: `wasi:http/incoming-handler`, called through typed bindings.
    Proxy(Typed<T, Proxy>),
    /// WASI 0.3: `wasi:http/handler`, called inside the store's concurrent event loop.
    Service(Plugin<T>),
    /// WASI 0.3, on instances reused for several requests.
    Reused(Arc<Workers<T>>),
}

impl<T: Send> Clone for HttpHandler<T> {
    fn clone(&self) -> Self {
        let flavor = match &self.flavor {
            Flavor::Proxy(typed) => Flavor::Proxy(typed.clone()),
            Flavor::Service(plugin) => Flavor::Service(plugin.clone()),
            Flavor::Reused(workers) => Flavor::Reused(workers.clone()),
        };
        Self { flavor }
    }
}

impl<T: Send + 'static> HttpHandler<T> {
    /// The handler of `plugin`, which must export `wasi:http/incoming-handler` (any 0.2
    /// version: the `wasi:http/proxy` world) or `wasi:http/handler` (any 0.3 version: the
    /// `wasi:http/service` world), told apart by its exports; otherwise
    /// [`Error::Incompatible`].
    pub fn new(plugin: &Plugin<T>) -> Result<Self> {
        let flavor = if super::service::exports_handler(plugin) {
            Flavor::Service(plugin.clone())
        } else {
            Flavor::Proxy(plugin.typed::<Proxy>().map_err(|error| match error {
                Error::Incompatible {
                    plugin,
                    reason,
                    source,
                } => Error::Incompatible {
                    plugin,
                    reason: format!(
                        "{reason}; nor does it export WASI 0.3's `wasi:http/handler` (the \
                         `wasi:http/service` world)"
                    ),
                    source,
                },
                other => other,
            })?)
        };
        Ok(Self { flavor })
    }

    /// The plugin answering.
    pub fn plugin(&self) -> &Plugin<T> {
        match &self.flavor {
            Flavor::Proxy(typed) => typed.plugin(),
            Flavor::Service(plugin) => plugin,
            Flavor::Reused(workers) => workers.plugin(),
        }
    }

    /// Whether the plugin answers with WASI 0.3's `wasi:http/handler`.
    pub fn is_wasi_0_3(&self) -> bool {
        matches!(self.flavor, Flavor::Service(_) | Flavor::Reused(_))
    }

    /// Reuses instances for several requests, as `reuse` says, instead of a fresh instance per
    /// request; for WASI 0.3 handlers only (a 0.2 proxy is [`Error::Incompatible`]: its
    /// `incoming-handler` runs one request per call to completion). What one request leaves in
    /// the instance's memory, the next requests on it see: see [`InstanceReuse`].
    pub fn reuse_instances(self, reuse: InstanceReuse) -> Result<Self> {
        let plugin = match self.flavor {
            Flavor::Service(plugin) => plugin,
            Flavor::Reused(workers) => workers.plugin().clone(),
            Flavor::Proxy(typed) => {
                return Err(Error::Incompatible {
                    plugin: typed.plugin().name().to_owned(),
                    reason: "instance reuse needs a WASI 0.3 handler (`wasi:http/handler`); \
                             this is a WASI 0.2 proxy"
                        .to_owned(),
                    source: None,
                });
            }
        };
        Ok(Self {
            flavor: Flavor::Reused(Workers::new(plugin, reuse)),
        })
    }

    /// Answers `request` on a fresh instance of the plugin. The response comes back as soon as
    /// the plugin sets it; its body streams while the plugin writes it, within the plugin's
    /// deadline.
    ///
    /// Errors: [`Error::BadArguments`] for a request without an authority (no `Host` header);
    /// [`Error::BadResponse`] when the plugin answers with an error code or returns without
    /// answering; otherwise what the call ended with ([`Error::Trap`],
    /// [`Error::DeadlineExceeded`], ...). [`error_response`] turns each into a response.
    pub async fn handle<B>(&self, request: http::Request<B>) -> Result<http::Response<ResponseBody>>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        self.handle_holding(request, ()).await
    }

    /// Like [`handle`](Self::handle), keeping `guard` until the plugin's call has ended (its
    /// response body written).
    pub(crate) async fn handle_holding<B, G>(
        &self,
        request: http::Request<B>,
        guard: G,
    ) -> Result<http::Response<ResponseBody>>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
        G: Send + 'static,
    {
        let plugin = self.plugin().name().to_owned();
        // Checked here, before any guest code: a request the host cannot turn into a
        // `wasi:http` request is the client's mistake (400), not the plugin's failure.
        let names_host = request.uri().authority().is_some()
            || request
                .headers()
                .get(http::header::HOST)
                .and_then(|host| host.to_str().ok())
                .is_some_and(|host| host.parse::<http::uri::Authority>().is_ok());
        if !names_host {
            let function = if self.is_wasi_0_3() {
                super::service::HANDLE
            } else {
                HANDLE
            };
            return Err(Error::BadArguments {
                plugin,
                function: function.to_owned(),
                reason: "the request names no valid host (no `Host` header, or one that is not \
                         an authority)"
                    .to_owned(),
            });
        }
        let head_only = request.method() == http::Method::HEAD;
        let Answering {
            answered,
            ended,
            cancel,
        } = match &self.flavor {
            Flavor::Proxy(typed) => answer_0_2(typed, request, guard),
            Flavor::Service(plugin) => super::service::answer(plugin, request, guard),
            Flavor::Reused(workers) => workers.answer(request, guard),
        };
        // A client that goes away before its response is complete cancels the call.
        let mut cancel = CancelOnDrop(cancel);
        match answered.await {
            Ok(Ok(response)) => {
                // No body goes out for these: the server drops it unread, and the call may
                // finish what it does after answering.
                let status = response.status();
                if head_only
                    || status == http::StatusCode::NO_CONTENT
                    || status == http::StatusCode::NOT_MODIFIED
                {
                    cancel.disarm();
                }
                let declared = response
                    .headers()
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                Ok(response.map(|body| {
                    Cancelling {
                        body,
                        cancel: Some(cancel),
                        declared,
                        sent: 0,
                    }
                    .boxed_unsync()
                }))
            }
            Ok(Err(code)) => {
                // The plugin answered, with an error: it is not cancelled for it.
                cancel.disarm();
                Err(Error::BadResponse {
                    plugin,
                    reason: format!("it answered with the error {code}"),
                })
            }
            // The plugin's call ended without a response: why is the call's outcome.
            Err(_) => match ended.await {
                Err(error) => Err(error),
                Ok(()) => Err(Error::BadResponse {
                    plugin,
                    reason: "it returned without setting a response".to_owned(),
                }),
            },
        }
    }
}

/// Starts answering `request` with a WASI 0.2 `wasi:http/proxy` plugin, on a fresh instance, on
/// a task of its own: the plugin may go on writing the body after it has set the response, and
/// the response must reach the client meanwhile. `guard` is kept until the call has ended.
fn answer_0_2<T, B, G>(typed: &Typed<T, Proxy>, request: http::Request<B>, guard: G) -> Answering
where
    T: Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<wasmtime_wasi_http::Error>,
    G: Send + 'static,
{
    let (respond, response) = tokio::sync::oneshot::channel();
    let (answer, answered) = tokio::sync::oneshot::channel();
    let plugin = typed.plugin().name().to_owned();
    let typed = typed.clone();
    let call = tokio::spawn(async move {
        let calling = typed.call_async(move |proxy, store| {
            Box::pin(async move {
                let mut http = store.data_mut().http();
                let request = http.new_incoming_request(Scheme::Http, request)?;
                let out = http.new_response_outparam(respond)?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(store, request, out)
                    .await
            })
        });
        // The answer is passed on as it comes, while the call goes on.
        let passing = async {
            if let Ok(given) = response.await {
                let _ = answer.send(given.map_err(|code| format!("{code:?}")));
            }
        };
        let (outcome, ()) = tokio::join!(calling, passing);
        drop(guard);
        outcome
    });
    Answering::by_task(&plugin, answered, call)
}

/// Aborts a request's call when dropped, unless disarmed.
struct CancelOnDrop(Option<tokio::task::AbortHandle>);

impl CancelOnDrop {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(call) = self.0.take() {
            call.abort();
        }
    }
}

/// A response body that cancels its request's call if it is dropped before its end (the client
/// went away); once it has ended (its last frame, or as many bytes as its `Content-Length`
/// declares, after which the server reads no more), the call may finish what it does after
/// answering.
struct Cancelling {
    body: ResponseBody,
    cancel: Option<CancelOnDrop>,
    declared: Option<u64>,
    sent: u64,
}

impl Cancelling {
    fn ended(&mut self) {
        if let Some(mut cancel) = self.cancel.take() {
            cancel.disarm();
        }
    }
}

impl hyper::body::Body for Cancelling {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<std::result::Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            std::task::Poll::Ready(None) => self.ended(),
            std::task::Poll::Ready(Some(Ok(frame))) => {
                let bytes = frame.data_ref().map_or(0, |data| data.len() as u64);
                self.sent = self.sent.saturating_add(bytes);
                if self.body.is_end_stream() || self.declared.is_some_and(|n| self.sent >= n) {
                    self.ended();
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// The HTTP status for a request that ended with `error`: 400 for a request the plugin cannot
/// be given, 503 when the plugin is quarantined or out of instances, 504 past its deadline,
/// 500 for anything else.
pub fn status_for(error: &Error) -> http::StatusCode {
    match error {
        Error::BadArguments { .. } => http::StatusCode::BAD_REQUEST,
        Error::Quarantined { .. } | Error::Exhausted { .. } => {
            http::StatusCode::SERVICE_UNAVAILABLE
        }
        Error::DeadlineExceeded { .. } => http::StatusCode::GATEWAY_TIMEOUT,
        _ => http::StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The response to a request that ended with `error`: its [`status_for`], and a one-line body
/// naming the plugin and the kind of error. The error's details (a trap's message, a
/// backtrace) are for the host's log, not for the client.
pub fn error_response(error: &Error) -> http::Response<ResponseBody> {
    let status = status_for(error);
    let text = match error.plugin() {
        Some(plugin) => format!("plugin `{plugin}` failed: {}\n", error.kind()),
        None => format!("{}\n", error.kind()),
    };
    text_response(status, text)
}

/// A plain-text response.
pub(crate) fn text_response(
    status: http::StatusCode,
    text: String,
) -> http::Response<ResponseBody> {
    let body = http_body_util::Full::new(Bytes::from(text))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
