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

/// The plugin's answer, once it gives one, and the task of its call.
pub(crate) type Answering = (
    tokio::sync::oneshot::Receiver<Answer>,
    tokio::task::JoinHandle<Result<()>>,
);
