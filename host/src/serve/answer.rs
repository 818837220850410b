//! What a plugin's call gives the server: its answer (a response whose body may still be
//! streaming, or the `wasi:http` error code it answered with), shared by the WASI 0.2
//! (`handler`) and WASI 0.3 (`service`) ways of calling a handler.

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;

use crate::error::Result;

/// The body of a response: streamed from the plugin as it writes it.
pub type ResponseBody = UnsyncBoxBody<Bytes, wasmtime_wasi_http::Error>;

/// What a plugin answered: a response (its body still streaming), or the `wasi:http` error code
/// it answered with instead.
pub(crate) type Answer = std::result::Result<http::Response<ResponseBody>, String>;

/// The plugin's answer, once it gives one; the call's outcome; and how to cancel the call when
/// its client goes away (`None` where the call is not a task of its own: a reused instance's
/// request ends in its worker).
pub(crate) struct Answering {
    pub(crate) answered: tokio::sync::oneshot::Receiver<Answer>,
    pub(crate) ended: std::pin::Pin<Box<dyn Future<Output = Result<()>> + Send>>,
    pub(crate) cancel: Option<tokio::task::AbortHandle>,
}

impl Answering {
    /// The answering of a call run as the task `call` of `plugin`.
    pub(crate) fn by_task(
        plugin: &str,
        answered: tokio::sync::oneshot::Receiver<Answer>,
        call: tokio::task::JoinHandle<Result<()>>,
    ) -> Self {
        let cancel = Some(call.abort_handle());
        let plugin = plugin.to_owned();
        Self {
            answered,
            ended: Box::pin(async move {
                call.await.unwrap_or_else(|join| {
                    Err(crate::Error::Panicked {
                        plugin,
                        during: format!("the request's task ({join})"),
                    })
                })
            }),
            cancel,
        }
    }
}
