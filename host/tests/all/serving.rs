//! Serving HTTP (feature `serve`) with a standard `wasi:http/proxy` component, built with the
//! `wasip2` crate as for `wasmtime serve`: answers, streamed bodies both ways, grants, limits,
//! failures that end one request only, bounded requests in flight, and hot reload under load.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use componentry::{
    Engine, Error, Grants, Host, HttpHandler, HttpServer, Limits, Plugin, PluginOptions,
};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use crate::guest;

pub(crate) fn serving_host() -> Host<()> {
    let engine = Engine::builder()
        .cache_dir(crate::cache_dir())
        .fuel(true)
        .epoch_interruption(Duration::from_millis(10))
        .build()
        .expect("engine");
    Host::builder_async(&engine, |_| ())
        .expect("builder")
        .build()
        .expect("host")
}

pub(crate) fn routes(host: &Host<()>, options: PluginOptions) -> Plugin<()> {
    host.load_file_with(guest("http-routes"), options)
        .expect("load http-routes")
}

/// A server of `server` on a loopback port, stopped when the returned sender is dropped.
pub(crate) async fn start(
    server: HttpServer<()>,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

pub(crate) async fn serve(plugin: &Plugin<()>) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let handler = HttpHandler::new(plugin).expect("a proxy component");
    start(HttpServer::new().route("/", handler)).await
}

/// What a request got: status and body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on a connection of its own.
pub(crate) async fn request(addr: SocketAddr, method: &str, path: &str, body: Vec<u8>) -> Answer {
    request_with(addr, method, path, body, true).await
}

async fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Vec<u8>,
    with_host: bool,
) -> Answer {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/x-test");
    if with_host {
        builder = builder.header("host", addr.to_string());
    }
    let request = builder.body(Full::new(Bytes::from(body))).expect("request");
    let response = sender.send_request(request).await.expect("response");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    Answer {
        status,
        content_type,
        body,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_component_answers_requests() {
    let host = serving_host();
    let plugin = routes(&host, PluginOptions::new());
    let (addr, _stop) = serve(&plugin).await;
    let answer = request(addr, "GET", "/hello?x=1", Vec::new()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.text(), "hello from http-routes: GET /hello?x=1");
    let answer = request(addr, "GET", "/nowhere", Vec::new()).await;
    assert_eq!(answer.status, 404);
    let stats = plugin.stats();
    assert_eq!(stats.calls, 2, "one fresh instance per request: {stats:?}");
    assert_eq!(stats.instances_live, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_stream_both_ways() {
    let host = serving_host();
    let plugin = routes(&host, PluginOptions::new());
    let (addr, _stop) = serve(&plugin).await;
    let sent: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let answer = request(addr, "POST", "/echo", sent.clone()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type.as_deref(), Some("application/x-test"));
    assert!(answer.body == sent, "the echo differs");
    // Far more than any buffer between the plugin and the client: the response must reach the
    // client while the plugin is still writing.
    let answer = request(addr, "GET", "/big?8192", Vec::new()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body.len(), 8192 * 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_request_gets_a_5xx_and_the_next_one_is_served() {
    let host = serving_host();
    let plugin = routes(
        &host,
        PluginOptions::new().limits(Limits::new().fuel(50_000_000)),
    );
    let (addr, _stop) = serve(&plugin).await;
    let answer = request(addr, "GET", "/trap", Vec::new()).await;
    assert_eq!(answer.status, 500, "{answer:?}");
    assert_eq!(answer.text(), "plugin `http-routes` failed: trap\n");
    let answer = request(addr, "GET", "/spin", Vec::new()).await;
    assert_eq!(answer.status, 500, "{answer:?}");
    assert_eq!(answer.text(), "plugin `http-routes` failed: fuel\n");
    let answer = request(addr, "GET", "/hello", Vec::new()).await;
    assert_eq!(answer.status, 200);
    let stats = plugin.stats();
    assert_eq!(stats.errors.get("trap"), Some(&1), "{stats:?}");
    assert_eq!(stats.errors.get("fuel"), Some(&1), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_ends_a_request_spinning_or_waiting_in_a_host_call() {
    let host = serving_host();
    let deadline = Duration::from_millis(300);
    let plugin = routes(
        &host,
        PluginOptions::new().limits(Limits::new().deadline(deadline)),
    );
    let (addr, _stop) = serve(&plugin).await;
    for path in ["/spin", "/sleep?20000"] {
        let started = Instant::now();
        let answer = request(addr, "GET", path, Vec::new()).await;
        let took = started.elapsed();
        assert_eq!(answer.status, 504, "{path}: {answer:?}");
        assert_eq!(answer.text(), "plugin `http-routes` failed: deadline\n");
        assert!(took < Duration::from_secs(5), "{path} took {took:?}");
    }
    assert_eq!(
        request(addr, "GET", "/sleep?10", Vec::new()).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_plugin_gets_only_what_it_is_granted() {
    let host = serving_host();
    let denied = routes(&host, PluginOptions::new());
    let granted = routes(
        &host,
        PluginOptions::new().grants(Grants::default().env("GREETING", "hi there")),
    );
    let (denied_addr, _stop1) = serve(&denied).await;
    let (granted_addr, _stop2) = serve(&granted).await;
    assert_eq!(
        request(denied_addr, "GET", "/env?GREETING", Vec::new())
            .await
            .status,
        404
    );
    let answer = request(granted_addr, "GET", "/env?GREETING", Vec::new()).await;
    assert_eq!((answer.status, answer.text().as_str()), (200, "hi there"));
    // Outgoing HTTP, even to the server itself, needs an allow-http grant.
    let url = format!("/fetch?http://{granted_addr}/hello");
    let answer = request(denied_addr, "GET", &url, Vec::new()).await;
    assert_eq!(answer.status, 502, "{answer:?}");
    assert!(answer.text().contains("HttpRequestDenied"), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_a_host_is_refused_with_400() {
    let host = serving_host();
    let plugin = routes(&host, PluginOptions::new());
    let (addr, _stop) = serve(&plugin).await;
    let answer = request_with(addr, "GET", "/hello", Vec::new(), false).await;
    assert_eq!(answer.status, 400, "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_header_that_is_not_an_authority_is_the_clients_mistake_not_the_plugins() {
    let host = serving_host();
    for plugin in [
        routes(&host, PluginOptions::new()),
        host.load_file(guest("http-p3"))
            .expect("a WASI 0.3 handler"),
    ] {
        let handler = HttpHandler::new(&plugin).expect("handler");
        for bad in [&b"\xff\xfe"[..], b"a b", b""] {
            let request = http::Request::builder()
                .uri("/hello")
                .header(
                    http::header::HOST,
                    http::HeaderValue::from_bytes(bad).expect("header bytes"),
                )
                .body(Full::new(Bytes::new()))
                .expect("request");
            match handler.handle(request).await {
                Err(Error::BadArguments { .. }) => {}
                Err(other) => panic!("{}: expected BadArguments, got {other:?}", plugin.name()),
                Ok(response) => panic!("{}: answered {}", plugin.name(), response.status()),
            }
        }
        let stats = plugin.stats();
        assert_eq!(stats.calls, 0, "no guest code ran: {stats:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_in_flight_bound_get_503_at_once() {
    let host = serving_host();
    let plugin = routes(&host, PluginOptions::new());
    let handler = HttpHandler::new(&plugin).expect("handler");
    let (addr, _stop) = start(HttpServer::new().route("/", handler).max_in_flight(1)).await;
    let slow = tokio::spawn(request(addr, "GET", "/sleep?1500", Vec::new()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let answer = request(addr, "GET", "/hello", Vec::new()).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(slow.await.expect("slow request").status, 200);
    assert_eq!(request(addr, "GET", "/hello", Vec::new()).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_go_to_the_longest_matching_prefix() {
    let host = serving_host();
    let hello = routes(&host, PluginOptions::new().name("hello"));
    let (addr, _stop) =
        start(HttpServer::new().route("/hello", HttpHandler::new(&hello).expect("handler"))).await;
    assert_eq!(request(addr, "GET", "/hello", Vec::new()).await.status, 200);
    let answer = request(addr, "GET", "/other", Vec::new()).await;
    assert_eq!(answer.status, 404, "no route: {answer:?}");
    assert_eq!(answer.text(), "no route\n");
}

#[test]
fn a_component_that_is_not_a_proxy_is_refused() {
    let host = serving_host();
    let plugin = host.load_file(guest("faults")).expect("load");
    match HttpHandler::new(&plugin) {
        Err(Error::Incompatible { plugin, reason, .. }) => {
            assert_eq!(plugin, "faults");
            assert!(reason.contains("wasi:http/incoming-handler"), "{reason}");
        }
        Err(other) => panic!("expected Incompatible, got {other:?}"),
        Ok(_) => panic!("expected Incompatible, got a handler"),
    }
}

/// `bytes` with a custom section appended: another component (another SHA-256) that behaves
/// the same.
pub(crate) fn variant(bytes: &[u8], tag: u8) -> Vec<u8> {
    let name = b"componentry-test";
    let payload_len = 1 + name.len() + 1;
    let mut out = bytes.to_vec();
    out.push(0); // custom section
    out.push(payload_len as u8);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.push(tag);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloading_a_route_under_load_drops_no_request() {
    let host = serving_host();
    let plugin = routes(&host, PluginOptions::new());
    let (addr, _stop) = serve(&plugin).await;
    let original = std::fs::read(guest("http-routes")).expect("read");
    let load = tokio::spawn(async move {
        let mut statuses = Vec::new();
        for _ in 0..60 {
            statuses.push(request(addr, "GET", "/sleep?5", Vec::new()).await.status);
        }
        statuses
    });
    let reloader = plugin.clone();
    let reloads = tokio::task::spawn_blocking(move || {
        let mut reloaded = 0;
        for round in 0..6u8 {
            std::thread::sleep(Duration::from_millis(40));
            if reloader.reload(&variant(&original, round)).is_ok() {
                reloaded += 1;
            }
        }
        reloaded
    });
    assert_eq!(reloads.await.expect("reloads"), 6);
    let statuses = load.await.expect("load");
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_built_against_an_older_wasi_http_is_served() {
    let host = serving_host();
    // Exports wasi:http/incoming-handler@0.2.4; the host's wasi:http is newer.
    let plugin = host.load_file(guest("http-legacy")).expect("load");
    let (addr, _stop) = serve(&plugin).await;
    let answer = request(addr, "GET", "/old?x", Vec::new()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.text(), "hello from wasi 0.2.4: /old?x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_too_slow_to_send_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = serving_host();
    let plugin = routes(&host, PluginOptions::new());
    let handler = HttpHandler::new(&plugin).expect("handler");
    let (addr, _stop) = start(
        HttpServer::new()
            .route("/", handler)
            .header_read_timeout(Duration::from_millis(300)),
    )
    .await;
    let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("part of the headers");
    let started = Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "still connected after 10 s");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        !String::from_utf8_lossy(&rest).contains("hello from"),
        "no answer to a request never finished"
    );
    // Others are served meanwhile and after.
    assert_eq!(request(addr, "GET", "/hello", Vec::new()).await.status, 200);
}

/// A body that never arrives whole: 10 bytes of the 1,000 announced, then silence. The plugin
/// has no deadline; the body's own timeout ends the request with 408 and closes the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_too_slow_to_send_its_body_gets_408_and_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = serving_host();
    let plugin = routes(&host, PluginOptions::new());
    let handler = HttpHandler::new(&plugin).expect("handler");
    let (addr, _stop) = start(
        HttpServer::new()
            .route("/", handler)
            .body_read_timeout(Duration::from_millis(300)),
    )
    .await;
    let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
        .await
        .expect("part of the body");
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "still connected after 10 s");
    assert!(started.elapsed() < Duration::from_secs(5));
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    // A body sent in time is still answered, on the same server.
    let answer = request(addr, "POST", "/echo", b"in time".to_vec()).await;
    assert_eq!((answer.status, answer.text().as_str()), (200, "in time"));
    assert_eq!(plugin.stats().instances_live, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_that_cannot_serve_never_replaces_the_handler() {
    let host = serving_host();
    let plugin = routes(&host, PluginOptions::new());
    let (addr, _stop) = serve(&plugin).await;
    assert_eq!(request(addr, "GET", "/hello", Vec::new()).await.status, 200);
    // Not a proxy at all: the handler is what the plugin is used for.
    let not_a_proxy = crate::reload::versioned(2);
    let err = plugin
        .reload(&not_a_proxy)
        .expect_err("no incoming-handler");
    assert!(matches!(err, Error::Incompatible { .. }), "{err}");
    assert_eq!(request(addr, "GET", "/hello", Vec::new()).await.status, 200);
    // A proxy whose start traps, tried on this asynchronous host before the swap.
    let err = plugin.reload(TRAPPING_PROXY).expect_err("its start traps");
    assert!(matches!(err, Error::Trap { .. }), "{err}");
    assert_eq!(request(addr, "GET", "/hello", Vec::new()).await.status, 200);
}

/// A component exporting `wasi:http/incoming-handler` whose start function traps: it passes
/// every check but starting.
const TRAPPING_PROXY: &[u8] = br#"(component
    (import "wasi:http/types@0.2.0" (instance $types
        (export "incoming-request" (type (sub resource)))
        (export "response-outparam" (type (sub resource)))))
    (alias export $types "incoming-request" (type $request))
    (alias export $types "response-outparam" (type $outparam))
    (core module $m
        (func $start unreachable)
        (start $start)
        (func (export "handle") (param i32 i32)))
    (core instance $i (instantiate $m))
    (func $handle (param "request" (own $request)) (param "response-out" (own $outparam))
        (canon lift (core func $i "handle")))
    (instance $handler (export "handle" (func $handle)))
    (export "wasi:http/incoming-handler@0.2.0" (instance $handler))
)"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_cancels_its_request() {
    use tokio::io::AsyncWriteExt as _;
    let host = serving_host();
    // No deadline: only the client's going away can end this wait early.
    let plugin = routes(&host, PluginOptions::new());
    let (addr, _stop) = serve(&plugin).await;
    let mut client = tokio::net::TcpStream::connect(addr).await.expect("connect");
    client
        .write_all(b"GET /sleep?20000 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("send");
    let started = Instant::now();
    while plugin.stats().instances_live == 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(client);
    let gone = Instant::now();
    while plugin.stats().instances_live > 0 {
        assert!(
            gone.elapsed() < Duration::from_secs(5),
            "the handler went on waiting for a client that left"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
