//! A WASI 0.3 HTTP handler (`wasi:http/handler@0.3`, world `wasi:http/service`), for the tests of
//! serving: it answers by path, streams a body after answering, traps, waits, and sends an
//! outgoing request where asked (to test the HTTP grants).
//!
//! - `/hello`: `hello from WASI 0.3 <method> <path>`
//! - `/count`: how many requests this instance has answered at `/count`, this one included (1 on
//!   a fresh instance: more only where the host reuses instances)
//! - `/stream/N`: a body of N lines, written after the response is returned
//! - `/trap`: traps before answering
//! - `/sleep/MS`: waits MS milliseconds on the host's clock, then answers
//! - `/fetch/AUTHORITY/PATH`: sends `GET http://AUTHORITY/PATH` and answers with the status it
//!   got, or with 502 and the error
//! - anything else: 404

use std::sync::atomic::{AtomicU32, Ordering};

use wasip3::clocks::monotonic_clock;
use wasip3::http::types::{ErrorCode, Fields, Method, Request, Response, Scheme};
use wasip3::{wit_bindgen, wit_future, wit_stream};

wasip3::http::service::export!(HttpP3);

/// Requests answered at `/count` by this instance.
static COUNTED: AtomicU32 = AtomicU32::new(0);

/// Requests of `/overlap` under way in this instance, and the most seen at once.
static IN_FLIGHT: AtomicU32 = AtomicU32::new(0);
static PEAK: AtomicU32 = AtomicU32::new(0);

struct HttpP3;

impl wasip3::exports::http::handler::Guest for HttpP3 {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let path = request.get_path_with_query().unwrap_or_default();
        let method = match request.get_method() {
            Method::Get => "GET".to_owned(),
            Method::Post => "POST".to_owned(),
            other => format!("{other:?}"),
        };
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            ["hello"] => Ok(text(200, format!("hello from WASI 0.3 {method} {path}\n"))),
            ["count"] => {
                let count = COUNTED.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(text(200, format!("{count}\n")))
            }
            ["stream", count] => {
                let count: u32 = count.parse().unwrap_or(0);
                let (mut body, contents) = wit_stream::new();
                wit_bindgen::spawn_local(async move {
                    for line in 0..count {
                        let rest = body.write_all(format!("line {line}\n").into_bytes()).await;
                        if !rest.is_empty() {
                            return;
                        }
                    }
                });
                Ok(respond(200, contents))
            }
            ["trap"] => core::arch::wasm32::unreachable(),
            ["spin"] => loop {
                core::hint::black_box(());
            },
            ["grow", mib] => {
                let mib: usize = mib.parse().unwrap_or(0);
                let held = vec![1u8; mib << 20];
                Ok(text(
                    200,
                    format!("held {} MiB\n", core::hint::black_box(held).len() >> 20),
                ))
            }
            ["overlap", millis] => {
                let now = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
                PEAK.fetch_max(now, Ordering::SeqCst);
                let millis: u64 = millis.parse().unwrap_or(0);
                monotonic_clock::wait_for(millis.saturating_mul(1_000_000)).await;
                IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
                Ok(text(200, format!("{}\n", PEAK.load(Ordering::SeqCst))))
            }
            ["sleep", millis] => {
                let millis: u64 = millis.parse().unwrap_or(0);
                monotonic_clock::wait_for(millis.saturating_mul(1_000_000)).await;
                Ok(text(200, format!("slept {millis} ms\n")))
            }
            ["fetch", authority, rest @ ..] => {
                let (_, trailers) = wit_future::new(|| Ok(None));
                let (outgoing, _sent) = Request::new(Fields::new(), None, trailers, None);
                let _ = outgoing.set_scheme(Some(&Scheme::Http));
                let _ = outgoing.set_authority(Some(authority));
                let _ = outgoing.set_path_with_query(Some(&format!("/{}", rest.join("/"))));
                match wasip3::http::client::send(outgoing).await {
                    Ok(response) => Ok(text(
                        200,
                        format!("fetched: {}\n", response.get_status_code()),
                    )),
                    Err(error) => Ok(text(502, format!("refused: {error:?}\n"))),
                }
            }
            _ => Ok(text(404, format!("no route for {path}\n"))),
        }
    }
}

/// A response with `status` and the body `contents`.
fn respond(status: u16, contents: wit_bindgen::rt::async_support::StreamReader<u8>) -> Response {
    let (trailers_tx, trailers) = wit_future::new(|| Ok(None));
    drop(trailers_tx);
    let (response, _sent) = Response::new(Fields::new(), Some(contents), trailers);
    let _ = response.set_status_code(status);
    response
}

/// A response with `status` and the body `body`, written after it is returned.
fn text(status: u16, body: String) -> Response {
    let (mut writer, contents) = wit_stream::new();
    wit_bindgen::spawn_local(async move {
        let _ = writer.write_all(body.into_bytes()).await;
    });
    respond(status, contents)
}
