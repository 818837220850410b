//! Serving HTTP with a WASI 0.3 handler (`wasi:http/handler`, the `wasi:http/service` world,
//! built with the `wasip3` crate): answers and streamed bodies, beside a WASI 0.2 proxy in one
//! server; the same grants, deadlines and failures as 0.2 handlers.

use std::time::{Duration, Instant};

use componentry::grants::HttpPattern;
use componentry::{
    Grants, Host, HttpHandler, HttpServer, Limits, Plugin, PluginOptions, stats::PluginStats,
};

use crate::guest;
use crate::serving::{request, routes, serve, serving_host, start};

/// A pause for the instances to finish what they run after an answer and wait again.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// The plugin's stats once `settled` accepts them (waiting at most 5 s): a request is counted
/// when its task ends, which may be just after the client has read the whole answer.
async fn stats_once(plugin: &Plugin<()>, settled: impl Fn(&PluginStats) -> bool) -> PluginStats {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stats = plugin.stats();
        if settled(&stats) || Instant::now() > deadline {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn http_p3(host: &Host<()>, options: PluginOptions) -> Plugin<()> {
    host.load_file_with(guest("http-p3"), options)
        .expect("load the WASI 0.3 handler")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasi_0_3_handler_answers_requests_on_fresh_instances() {
    let host = serving_host();
    let plugin = http_p3(&host, PluginOptions::new());
    let handler = HttpHandler::new(&plugin).expect("a WASI 0.3 handler");
    assert!(handler.is_wasi_0_3());
    let (addr, _stop) = serve(&plugin).await;
    let answer = request(addr, "GET", "/hello", Vec::new()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.text(), "hello from WASI 0.3 GET /hello\n");
    let answer = request(addr, "GET", "/nowhere", Vec::new()).await;
    assert_eq!(answer.status, 404);
    let stats = stats_once(&plugin, |s| s.calls == 2 && s.instances_live == 0).await;
    assert_eq!(stats.calls, 2, "one fresh instance per request: {stats:?}");
    assert_eq!(stats.instances_live, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_written_after_the_answer_streams_to_the_client() {
    let host = serving_host();
    let plugin = http_p3(&host, PluginOptions::new());
    let (addr, _stop) = serve(&plugin).await;
    // Far more than any buffer between the plugin and the client.
    let answer = request(addr, "GET", "/stream/100000", Vec::new()).await;
    assert_eq!(answer.status, 200);
    let text = answer.text();
    assert_eq!(text.lines().count(), 100_000);
    assert_eq!(text.lines().last(), Some("line 99999"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasi_0_2_and_a_wasi_0_3_handler_serve_side_by_side() {
    let host = serving_host();
    let older = routes(&host, PluginOptions::new());
    let newer = http_p3(&host, PluginOptions::new());
    let server = HttpServer::new()
        .route("/hello", HttpHandler::new(&older).expect("0.2"))
        .route("/stream", HttpHandler::new(&newer).expect("0.3"));
    let (addr, _stop) = start(server).await;
    let answer = request(addr, "GET", "/hello", Vec::new()).await;
    assert_eq!(answer.text(), "hello from http-routes: GET /hello");
    let answer = request(addr, "GET", "/stream/2", Vec::new()).await;
    assert_eq!(answer.text(), "line 0\nline 1\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_gets_a_500_and_the_next_request_is_served() {
    let host = serving_host();
    let plugin = http_p3(&host, PluginOptions::new());
    let (addr, _stop) = serve(&plugin).await;
    let answer = request(addr, "GET", "/trap", Vec::new()).await;
    assert_eq!(answer.status, 500, "{answer:?}");
    assert_eq!(answer.text(), "plugin `http-p3` failed: trap\n");
    assert_eq!(request(addr, "GET", "/hello", Vec::new()).await.status, 200);
    let stats = stats_once(&plugin, |s| s.calls == 2).await;
    assert_eq!(stats.errors.get("trap"), Some(&1), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_ends_a_wasi_0_3_request_waiting_on_the_host() {
    let host = serving_host();
    let plugin = http_p3(
        &host,
        PluginOptions::new().limits(Limits::new().deadline(Duration::from_millis(300))),
    );
    let (addr, _stop) = serve(&plugin).await;
    settle().await;
    let started = Instant::now();
    let answer = request(addr, "GET", "/sleep/20000", Vec::new()).await;
    assert_eq!(answer.status, 504, "{answer:?}");
    assert_eq!(answer.text(), "plugin `http-p3` failed: deadline\n");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        request(addr, "GET", "/sleep/10", Vec::new()).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_wasi_0_3_http_needs_the_same_grant_as_0_2() {
    let host = serving_host();
    let denied = http_p3(&host, PluginOptions::new());
    let (denied_addr, _stop1) = serve(&denied).await;
    let target = format!("/fetch/{denied_addr}/hello");
    let answer = request(denied_addr, "GET", &target, Vec::new()).await;
    assert_eq!(answer.status, 502, "{answer:?}");
    assert!(answer.text().contains("HttpRequestDenied"), "{answer:?}");
    let allowed = HttpPattern::parse(&format!("http://{denied_addr}")).expect("pattern");
    let granted = http_p3(
        &host,
        PluginOptions::new()
            .name("granted")
            .grants(Grants::default().allow_http(allowed)),
    );
    let (granted_addr, _stop2) = serve(&granted).await;
    let answer = request(granted_addr, "GET", &target, Vec::new()).await;
    assert_eq!(
        (answer.status, answer.text().as_str()),
        (200, "fetched: 200\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasi_0_3_template_plugin_a_0_3_handler_and_0_2_plugins_share_one_host() {
    use componentry::Val;
    let host = serving_host();
    let greeters = ["rust-async", "rust"].map(|template| {
        host.load_file(crate::languages::greeter_path(template))
            .expect("a template greeter")
    });
    for greeter in &greeters {
        let greeted = greeter
            .call_async("greet", &[Val::String("Ada".to_owned())])
            .await
            .expect("greet");
        assert_eq!(
            greeted,
            vec![Val::String("Hello, Ada!".to_owned())],
            "{}",
            greeter.name()
        );
    }
    // The WASI 0.3 greeter's calls overlap in one instance.
    let mut instance = greeters[0].instantiate_async().await.expect("an instance");
    let names = ["Ada", "Grace", "Edsger"];
    let batch = names.map(|name| ("greet", vec![Val::String(name.to_owned())]));
    let greeted = instance
        .call_concurrent_async(batch)
        .await
        .expect("a batch");
    assert_eq!(greeted[2], vec![Val::String("Hello, Edsger!".to_owned())]);
    let server = HttpServer::new()
        .route(
            "/hello",
            HttpHandler::new(&routes(&host, PluginOptions::new())).expect("0.2"),
        )
        .route(
            "/stream",
            HttpHandler::new(&http_p3(&host, PluginOptions::new())).expect("0.3"),
        );
    let (addr, _stop) = start(server).await;
    assert_eq!(request(addr, "GET", "/hello", Vec::new()).await.status, 200);
    assert_eq!(
        request(addr, "GET", "/stream/1", Vec::new()).await.text(),
        "line 0\n"
    );
}

/// A server of `plugin` whose instances are reused as `reuse` says.
async fn serve_reused(
    plugin: &Plugin<()>,
    reuse: componentry::http::InstanceReuse,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let handler = HttpHandler::new(plugin)
        .expect("a WASI 0.3 handler")
        .reuse_instances(reuse)
        .expect("reuse");
    start(HttpServer::new().route("/", handler)).await
}

/// What `/count` answers: how many requests the instance answering it has counted. Sent once the
/// last request's instance has surely gone back to waiting: a request that arrives while its
/// instance still runs guest code goes to another instance.
async fn count(addr: std::net::SocketAddr) -> String {
    settle().await;
    let answer = request(addr, "GET", "/count", Vec::new()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.text().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_reuse_every_request_gets_a_fresh_instance() {
    let host = serving_host();
    let plugin = http_p3(&host, PluginOptions::new());
    let (addr, _stop) = serve(&plugin).await;
    for _ in 0..3 {
        assert_eq!(count(addr).await, "1", "nothing carries over");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_instance_answers_up_to_its_count_then_a_fresh_one_takes_over() {
    let host = serving_host();
    let plugin = http_p3(&host, PluginOptions::new());
    let reuse = componentry::http::InstanceReuse::new()
        .max_requests(3)
        .idle_timeout(Duration::from_secs(30));
    let (addr, _stop) = serve_reused(&plugin, reuse).await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(count(addr).await);
    }
    assert_eq!(seen, ["1", "2", "3", "1", "2"]);
    let stats = stats_once(&plugin, |s| s.calls == 5).await;
    assert_eq!(stats.calls, 5, "every request counts as a call: {stats:?}");
    assert_eq!(stats.instances_created, 2, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_instance_answers_requests_at_once_up_to_its_bound() {
    let host = serving_host();
    let plugin = http_p3(&host, PluginOptions::new());
    let reuse = componentry::http::InstanceReuse::new()
        .max_requests(100)
        .max_concurrent(2)
        .idle_timeout(Duration::from_secs(30));
    let (addr, _stop) = serve_reused(&plugin, reuse).await;
    // A request arriving while an instance waits goes to it, up to two at once; the third
    // arrives while the first two wait, and goes to a fresh instance. Each answer is the most
    // requests its instance had under way at once.
    let overlap = || tokio::spawn(request(addr, "GET", "/overlap/600", Vec::new()));
    let first = overlap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let second = overlap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let third = overlap();
    let mut peaks = Vec::new();
    for answer in [first, second, third] {
        let answer = answer.await.expect("request");
        assert_eq!(answer.status, 200, "{answer:?}");
        peaks.push(answer.text().trim().to_owned());
    }
    assert_eq!(peaks, ["2", "2", "1"]);
    let stats = plugin.stats();
    assert_eq!(stats.instances_created, 2, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_or_a_deadline_retires_a_reused_instance() {
    let host = serving_host();
    let plugin = http_p3(
        &host,
        PluginOptions::new().limits(Limits::new().deadline(Duration::from_millis(300))),
    );
    let reuse = componentry::http::InstanceReuse::new().idle_timeout(Duration::from_secs(30));
    let (addr, _stop) = serve_reused(&plugin, reuse).await;
    assert_eq!(count(addr).await, "1");
    assert_eq!(count(addr).await, "2");
    settle().await;
    let answer = request(addr, "GET", "/trap", Vec::new()).await;
    assert_eq!(answer.status, 500, "{answer:?}");
    assert_eq!(answer.text(), "plugin `http-p3` failed: trap\n");
    assert_eq!(count(addr).await, "1", "a fresh instance after the trap");
    let started = Instant::now();
    let answer = request(addr, "GET", "/sleep/20000", Vec::new()).await;
    assert_eq!(answer.status, 504, "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        count(addr).await,
        "1",
        "a request past its deadline retires its instance"
    );
    let stats = stats_once(&plugin, |s| s.calls == 6).await;
    assert_eq!(stats.errors.get("trap"), Some(&1), "{stats:?}");
    assert_eq!(stats.errors.get("deadline"), Some(&1), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_request_stopped_by_a_limit_is_reported_as_that_limit() {
    let host = serving_host();
    let plugin = http_p3(
        &host,
        PluginOptions::new().limits(
            Limits::new()
                .fuel(500_000_000)
                .max_memory(8 << 20)
                .deadline(Duration::from_secs(20)),
        ),
    );
    let reuse = componentry::http::InstanceReuse::new().idle_timeout(Duration::from_secs(30));
    let (addr, _stop) = serve_reused(&plugin, reuse).await;
    assert_eq!(count(addr).await, "1");
    let answer = request(addr, "GET", "/spin", Vec::new()).await;
    assert_eq!(answer.status, 500, "{answer:?}");
    assert_eq!(answer.text(), "plugin `http-p3` failed: fuel\n");
    let answer = request(addr, "GET", "/grow/64", Vec::new()).await;
    assert_eq!(answer.status, 500, "{answer:?}");
    assert_eq!(answer.text(), "plugin `http-p3` failed: memory\n");
    assert_eq!(count(addr).await, "1", "each failure retired its instance");
    let stats = stats_once(&plugin, |s| s.calls == 4).await;
    assert_eq!(stats.errors.get("fuel"), Some(&1), "{stats:?}");
    assert_eq!(stats.errors.get("memory"), Some(&1), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_reused_instance_is_retired() {
    let host = serving_host();
    let plugin = http_p3(&host, PluginOptions::new());
    let reuse = componentry::http::InstanceReuse::new().idle_timeout(Duration::from_millis(100));
    let (addr, _stop) = serve_reused(&plugin, reuse).await;
    assert_eq!(count(addr).await, "1");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        count(addr).await,
        "1",
        "a fresh instance after the idle time"
    );
    assert_eq!(plugin.stats().instances_created, 2);
}

#[test]
fn a_wasi_0_2_proxy_cannot_reuse_instances() {
    let host = serving_host();
    let plugin = routes(&host, PluginOptions::new());
    let handler = HttpHandler::new(&plugin).expect("a proxy");
    match handler.reuse_instances(componentry::http::InstanceReuse::new()) {
        Err(componentry::Error::Incompatible { reason, .. }) => {
            assert!(reason.contains("WASI 0.3"), "{reason}");
        }
        Err(other) => panic!("expected Incompatible, got {other:?}"),
        Ok(_) => panic!("a 0.2 proxy must not reuse instances"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_reload_new_requests_go_to_an_instance_of_the_new_version() {
    let host = serving_host();
    let plugin = http_p3(&host, PluginOptions::new());
    let reuse = componentry::http::InstanceReuse::new().idle_timeout(Duration::from_secs(30));
    let (addr, _stop) = serve_reused(&plugin, reuse).await;
    assert_eq!(count(addr).await, "1");
    assert_eq!(count(addr).await, "2");
    let original = std::fs::read(guest("http-p3")).expect("read");
    let reloader = plugin.clone();
    tokio::task::spawn_blocking(move || reloader.reload(&crate::serving::variant(&original, 1)))
        .await
        .expect("the reload ran")
        .expect("reloaded");
    assert_eq!(
        count(addr).await,
        "1",
        "a fresh instance of the new version"
    );
    assert_eq!(count(addr).await, "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_request_holds_its_admission_until_it_ends_even_after_its_client_left() {
    let host = serving_host();
    let plugin = http_p3(&host, PluginOptions::new());
    let handler = HttpHandler::new(&plugin)
        .expect("a WASI 0.3 handler")
        .reuse_instances(
            componentry::http::InstanceReuse::new().idle_timeout(Duration::from_secs(30)),
        )
        .expect("reuse");
    let (addr, _stop) = start(HttpServer::new().max_in_flight(2).route("/", handler)).await;
    // Two clients start waits of two seconds and go away.
    let clients: Vec<_> = (0..2)
        .map(|_| tokio::spawn(request(addr, "GET", "/sleep/2000", Vec::new())))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for client in &clients {
        client.abort();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Their requests still run in the instance: the server admits no third.
    let answer = request(addr, "GET", "/hello", Vec::new()).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    // Once they have ended, it does.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(request(addr, "GET", "/hello", Vec::new()).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_never_breaks_a_body_that_is_streaming() {
    let host = serving_host();
    let plugin = http_p3(&host, PluginOptions::new());
    let (addr, _stop) = serve(&plugin).await;
    let original = std::fs::read(guest("http-p3")).expect("read");
    // A long body in flight while the plugin is reloaded twice.
    let streaming = tokio::spawn(request(addr, "GET", "/stream/200000", Vec::new()));
    let reloader = plugin.clone();
    tokio::task::spawn_blocking(move || {
        for round in 0..2u8 {
            std::thread::sleep(Duration::from_millis(20));
            reloader
                .reload(&crate::serving::variant(&original, round))
                .expect("reloaded");
        }
    })
    .await
    .expect("the reloads ran");
    let answer = streaming.await.expect("the request");
    assert_eq!(answer.status, 200);
    let text = answer.text();
    assert_eq!(text.lines().count(), 200_000, "the whole body arrived");
    assert_eq!(text.lines().last(), Some("line 199999"));
}
