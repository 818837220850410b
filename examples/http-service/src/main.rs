//! http-service: an HTTP service whose routes are plugins.
//!
//! Every entry of the routes directory is a plugin directory (`plugin.toml` and a component
//! exporting `wasi:http/incoming-handler`, as built for `wasmtime serve` or Spin) served at
//! `/NAME`, with the grants and limits the policy gives it: a fresh instance per request, its fuel
//! and deadline per request. A plugin that traps, loops or waits too long gets a 5xx for its own
//! request; the other routes go on. With `--watch`, an edited plugin is reloaded without dropping
//! requests (those in flight finish on the old version).
//!
//! ```text
//! http-service --routes routes --policy policy.toml [--addr 127.0.0.1:8080] [--threads N] [--watch]
//! http-service --routes routes --policy policy.toml --demo
//! ```
//!
//! `--demo` serves on a free loopback port and shows, request by request, what each route does,
//! a hot reload under load, and a short load test with one and with every core.

mod load;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use componentry::{Engine, Host, HttpHandler, HttpServer, Plugin, PluginDir, Policy, Pooling};

#[derive(Parser)]
#[command(
    name = "http-service",
    about = "An HTTP service whose routes are plugins"
)]
struct Args {
    /// The routes: one plugin directory per route, served at /NAME.
    #[arg(long, default_value = "routes")]
    routes: PathBuf,
    /// The host policy: grants and limits per route.
    #[arg(long, default_value = "policy.toml")]
    policy: PathBuf,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The server's threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Reload a route's plugin when its files change.
    #[arg(long)]
    watch: bool,
    /// Serve on a free loopback port, show what the routes do, then stop.
    #[arg(long)]
    demo: bool,
    /// Where compiled plugins are cached.
    #[arg(long)]
    cache: Option<PathBuf>,
}

/// The routes' plugins, and the host they run on.
struct Routes {
    host: Host<()>,
    plugins: Vec<Plugin<()>>,
    dir: PluginDir,
}

impl Routes {
    fn load(args: &Args) -> anyhow::Result<Self> {
        let policy = Policy::from_file(&args.policy)?;
        let mut engine = Engine::builder()
            .fuel(policy.needs_fuel())
            // A fresh instance per request: the pooling allocator makes them cheap.
            .pooling(Pooling::new());
        if policy.needs_deadlines() {
            engine = engine.epoch_interruption(std::time::Duration::from_millis(10));
        }
        if let Some(cache) = &args.cache {
            engine = engine.cache_dir(cache);
        }
        let host: Host<()> = Host::builder_async(&engine.build()?, |_| ())?.build()?;
        let dir = PluginDir::new(&args.routes).policy(policy);
        let report = dir.load(&host)?;
        for outcome in &report.outcomes {
            match &outcome.result {
                Ok(plugin) => println!("  route /{:<8} {}", plugin.name(), describe(plugin)),
                Err(error) => println!("  refused {}: {error}", outcome.name),
            }
        }
        let plugins = report.loaded().cloned().collect();
        Ok(Self { host, plugins, dir })
    }

    fn server(&self) -> anyhow::Result<HttpServer<()>> {
        let mut server = HttpServer::new();
        for plugin in &self.plugins {
            server = server.route(format!("/{}", plugin.name()), HttpHandler::new(plugin)?);
        }
        Ok(server)
    }

    fn plugin(&self, name: &str) -> Option<&Plugin<()>> {
        self.plugins.iter().find(|p| p.name() == name)
    }
}

fn describe(plugin: &Plugin<()>) -> String {
    let limits = plugin.limits();
    let grants = plugin.grants().describe();
    format!(
        "fuel {}, deadline {}, grants: {}",
        limits
            .get_fuel()
            .map_or("none".to_owned(), |f| f.to_string()),
        limits
            .get_deadline()
            .map_or("none".to_owned(), |d| format!("{d:?}")),
        if grants.is_empty() {
            "nothing".to_owned()
        } else {
            grants.join(", ")
        }
    )
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HTTP_SERVICE_LOG")
                .unwrap_or_else(|_| "error".into()),
        )
        .without_time()
        .with_target(false)
        .init();
    let args = Args::parse();
    println!("http-service: routes from {}", args.routes.display());
    let routes = Routes::load(&args)?;
    if args.demo {
        return demo(&routes);
    }
    let _watcher = if args.watch {
        Some(
            routes
                .dir
                .watch_adopting(&routes.host, routes.plugins.clone())?,
        )
    } else {
        None
    };
    let runtime = runtime(args.threads)?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("listening on {}", args.addr))?;
        println!(
            "http-service: serving on http://{}/",
            listener.local_addr()?
        );
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let stop = std::sync::Mutex::new(Some(stop));
        ctrlc::set_handler(move || {
            if let Some(stop) = stop.lock().ok().and_then(|mut s| s.take()) {
                let _ = stop.send(());
            }
        })?;
        routes
            .server()?
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await?;
        anyhow::Ok(())
    })?;
    print_stats(&routes.plugins);
    Ok(())
}

fn runtime(threads: Option<usize>) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = threads {
        builder.worker_threads(threads.max(1));
    }
    Ok(builder.enable_all().build()?)
}

/// A server of `routes` on a free loopback port, on a runtime of `threads` threads; stops when
/// the returned guard is dropped.
fn start(
    routes: &Routes,
    threads: usize,
) -> anyhow::Result<(
    SocketAddr,
    tokio::runtime::Runtime,
    tokio::sync::oneshot::Sender<()>,
)> {
    let runtime = runtime(Some(threads))?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = routes.server()?;
    runtime.spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));
    Ok((addr, runtime, stop))
}

fn demo(routes: &Routes) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (addr, server, stop) = start(routes, cores)?;
    let client = runtime(Some(1))?;
    println!("http-service: serving on http://{addr}/");
    let mut unexpected = Vec::new();
    for (path, expected, what) in [
        ("/hello", 200, "a plain answer"),
        (
            "/env?GREETING",
            200,
            "a variable the policy set for this route",
        ),
        ("/env?HOME", 404, "a variable nobody granted"),
        ("/spin", 500, "loops forever: its fuel runs out"),
        (
            "/sleep?10000",
            504,
            "waits in a host call: its deadline ends it",
        ),
        ("/trap", 500, "panics"),
        (
            "/stream/3",
            200,
            "a WASI 0.3 handler: it writes its body after answering",
        ),
        ("/hello", 200, "the other routes go on"),
    ] {
        let started = std::time::Instant::now();
        let (status, body) = client.block_on(load::get(addr, path))?;
        println!(
            "  GET {path:<16} {status} in {:>7.1?}  {:?}   ({what})",
            started.elapsed(),
            body.trim_end()
        );
        if status != expected {
            unexpected.push(format!("GET {path}: {status}, not {expected}"));
        }
    }
    if !unexpected.is_empty() {
        anyhow::bail!("unexpected answers: {}", unexpected.join("; "));
    }

    println!("http-service: reloading /hello three times under load (4 connections)");
    let hello = routes
        .plugin("hello")
        .context("the demo needs a `hello` route")?
        .clone();
    let original = std::fs::read(routes.dir.path().join("hello/hello.wasm"))
        .context("reading the hello route's component")?;
    let reloader = std::thread::spawn(move || {
        let mut reloads = 0;
        for round in 0..3u8 {
            std::thread::sleep(Duration::from_millis(250));
            if hello.reload(&with_custom_section(&original, round)).is_ok() {
                reloads += 1;
            }
        }
        reloads
    });
    let report = client.block_on(load::run(addr, "/hello", 4, Duration::from_secs(1)));
    let reloads = reloader.join().unwrap_or(0);
    println!(
        "  {reloads} reloads; {} requests answered, {} failed",
        report.ok, report.failed
    );
    if reloads != 3 || report.failed > 0 {
        anyhow::bail!("the reloads under load dropped requests, or failed");
    }
    drop(stop);
    drop(server);

    println!(
        "http-service: load test, GET /hello for 2 s on 8 connections (client and server share the machine)"
    );
    for threads in [1, cores] {
        let (addr, server, stop) = start(routes, threads)?;
        let report = client.block_on(load::run(addr, "/hello", 8, Duration::from_secs(2)));
        println!(
            "  server on {threads} thread{}: {}",
            if threads == 1 { " " } else { "s" },
            report.summary()
        );
        drop(stop);
        drop(server);
    }
    print_stats(&routes.plugins);
    Ok(())
}

/// `bytes` with a custom section appended: a new version of the same component.
fn with_custom_section(bytes: &[u8], tag: u8) -> Vec<u8> {
    let name = b"demo-reload";
    let mut out = bytes.to_vec();
    out.extend_from_slice(&[0, (1 + name.len() + 1) as u8, name.len() as u8]);
    out.extend_from_slice(name);
    out.push(tag);
    out
}

fn print_stats(plugins: &[Plugin<()>]) {
    println!("http-service: per route");
    for plugin in plugins {
        let stats = plugin.stats();
        let errors: Vec<String> = stats
            .errors
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        println!(
            "  /{:<8} {:>7} requests, p50 <= {:?}, p99 <= {:?}{}",
            plugin.name(),
            stats.calls,
            stats.latency.quantile(0.5).unwrap_or_default(),
            stats.latency.quantile(0.99).unwrap_or_default(),
            if errors.is_empty() {
                String::new()
            } else {
                format!(", failed: {}", errors.join(", "))
            }
        );
    }
}
