//! Answering a request with a WASI 0.3 HTTP handler (`wasi:http/handler`, the
//! `wasi:http/service` world): on a fresh instance, inside the store's concurrent event loop,
//! which runs until the response body has been sent (the guest writes it after answering) or
//! the client has gone away.
//!
//! The request goes through the same call gate, grants and limits as any call: one fuel budget
//! and one deadline cover the instantiation, the answer and the body.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use wasmtime_wasi_http::WasiHttpView as _;
use wasmtime_wasi_http::p3::Request;
use wasmtime_wasi_http::p3::bindings::Service;

use super::answer::{Answer, Answering, ResponseBody};
use crate::error::{Error, Result};
use crate::plugin::Plugin;
use crate::plugin::instance::{Callee, PluginInstance};

/// What errors name the function of an HTTP request by (WASI 0.3).
pub(crate) const HANDLE: &str = "wasi:http/handler#handle";

/// Whether `plugin` answers HTTP with WASI 0.3's `wasi:http/handler` (any 0.3 version).
pub(crate) fn exports_handler<T: Send + 'static>(plugin: &Plugin<T>) -> bool {
    plugin
        .current()
        .find(plugin.name(), HANDLE)
        .is_ok_and(|export| export.name.starts_with("wasi:http/handler@0.3"))
}

/// Starts answering `request` with `plugin` on a task of its own, keeping `guard` until the
/// call has ended.
pub(crate) fn answer<T, B, G>(plugin: &Plugin<T>, request: http::Request<B>, guard: G) -> Answering
where
    T: Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<wasmtime_wasi_http::Error>,
    G: Send + 'static,
{
    let (answer, answered) = tokio::sync::oneshot::channel();
    let name = plugin.name().to_owned();
    let plugin = plugin.clone();
    let call = tokio::spawn(async move {
        let outcome = call_handler(&plugin, request, answer).await;
        drop(guard);
        outcome
    });
    Answering::by_task(&name, answered, call)
}

/// Calls the handler on a fresh instance and passes its answer on through `answer`; returns
/// once the response body has ended, or been dropped.
async fn call_handler<T, B>(
    plugin: &Plugin<T>,
    request: http::Request<B>,
    answer: tokio::sync::oneshot::Sender<Answer>,
) -> Result<()>
where
    T: Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
    let mut instance = plugin.instantiate_for_call_async().await?;
    let service = service_of(plugin, &mut instance)?;
    let failed = Arc::new(AtomicBool::new(false));
    let body_failed = failed.clone();
    let outcome = instance
        .run_concurrent_raced(Callee::Named(HANDLE), true, async move |accessor| {
            let request = accessor
                .with(|mut store| Request::from_http(store.data_mut().http().hooks, request).0);
            match service.handle(accessor, request).await? {
                Err(code) => {
                    let _ = answer.send(Err(format!("{code:?}")));
                }
                Ok(response) => {
                    let response =
                        accessor.with(|store| response.into_http(store, async { Ok(()) }))?;
                    // The event loop runs on while the body goes out: the guest writes it after
                    // answering. The body tells when it has ended or been dropped.
                    let (ended, ending) = tokio::sync::oneshot::channel::<()>();
                    let response = response.map(|body| -> ResponseBody {
                        http_body_util::BodyExt::boxed_unsync(EndSignalling::new(
                            body,
                            ended,
                            body_failed,
                        ))
                    });
                    if answer.send(Ok(response)).is_ok() {
                        let _ = ending.await;
                    }
                }
            }
            Ok(())
        })
        .await;
    // Before the instance (and so the body's source) goes away.
    if outcome.is_err() {
        failed.store(true, Ordering::SeqCst);
    }
    outcome
}

/// The bindings of `instance`'s `wasi:http/handler`.
pub(crate) fn service_of<T: Send + 'static>(
    plugin: &Plugin<T>,
    instance: &mut PluginInstance<T>,
) -> Result<Service> {
    let (store, wasm) = instance.parts();
    Service::new(store, wasm).map_err(|e| Error::Incompatible {
        plugin: plugin.name().to_owned(),
        reason: "its `wasi:http/handler` is not the one WASI 0.3 defines".to_owned(),
        source: Some(e.into()),
    })
}

/// A response body that says (by dropping `ended`) when it has ended or been dropped, and that
/// ends with an error, not as if complete, when the call writing it failed (`failed`): a body cut
/// short by a trap or a deadline must not reach the client as a whole one.
pub(crate) struct EndSignalling {
    body: ResponseBody,
    ended: Option<tokio::sync::oneshot::Sender<()>>,
    failed: Arc<AtomicBool>,
}

impl EndSignalling {
    /// `body`, which drops `ended` when it ends or is dropped, and fails if `failed` is set
    /// when it ends.
    pub(crate) fn new(
        body: ResponseBody,
        ended: tokio::sync::oneshot::Sender<()>,
        failed: Arc<AtomicBool>,
    ) -> Self {
        Self {
            body,
            ended: Some(ended),
            failed,
        }
    }
}

impl hyper::body::Body for EndSignalling {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<std::result::Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, std::task::Poll::Ready(None | Some(Err(_)))) {
            self.ended = None;
        }
        if matches!(polled, std::task::Poll::Ready(None)) && self.failed.load(Ordering::SeqCst) {
            return std::task::Poll::Ready(Some(Err(wasmtime_wasi_http::Error::InternalError(
                Some("the plugin failed while writing the body".to_owned()),
            ))));
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
