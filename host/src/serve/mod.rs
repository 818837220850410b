//! Serving HTTP with plugins that export `wasi:http/incoming-handler` (the WASI 0.2
//! `wasi:http/proxy` world) or `wasi:http/handler` (the WASI 0.3 `wasi:http/service` world), as
//! components built for `wasmtime serve` or Spin do, unchanged.
//!
//! [`HttpHandler`] answers one request with one plugin: a fresh instance per request, with the
//! plugin's grants and limits (its fuel budget and deadline cover the whole request, streaming
//! the response body included). [`HttpServer`] serves a TCP listener with routes of handlers,
//! bounding requests in flight and slow clients. Both need an asynchronous host
//! ([`Host::builder_async`](crate::Host::builder_async)) on a tokio runtime.

pub(crate) mod answer;
pub(crate) mod handler;
pub(crate) mod reuse;
pub(crate) mod server;
pub(crate) mod service;

pub use answer::ResponseBody;
pub use handler::{HttpHandler, error_response, status_for};
pub use reuse::InstanceReuse;
pub use server::HttpServer;
