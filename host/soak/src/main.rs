//! Soak runs (`cargo xtask soak [--minutes N]`): thousands of reloads under concurrent calls, and
//! an HTTP server under load whose route reloads, each for a while; what the process holds
//! (resident memory, open descriptors, live instances) is read once warmed up and again at the
//! end, and the run fails if any grew past its bound, or if any call or request failed.
//!
//! A test target without libtest's harness, so that the workspace's tests run it with the build
//! they share: `cargo test -p componentry-soak --test soak -- --seconds N --guests DIR` (DIR holds
//! the built `http-routes.wasm`). Without arguments: `COMPONENTRY_SOAK_SECONDS` (20 by default;
//! 0 skips it) and `COMPONENTRY_GUESTS` (else `target/guests`).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use componentry::{
    Engine, Host, HttpHandler, HttpServer, Plugin, PluginDir, pool::PoolOptions, pool::Reuse,
};

/// How much resident memory may grow between the warmed-up reading and the end.
const RSS_BOUND: u64 = 64 << 20;
/// How many more descriptors may be open at the end than once warmed up.
const FD_BOUND: i64 = 8;
/// The share of each phase spent warming up before the first reading.
const WARM_UP: f64 = 0.2;

/// The `versioned` test component, returning `n` from `version()`.
const VERSIONED: &str = include_str!("../../tests/guests/wat/versioned.wat");

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("soak: FAILED: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut seconds: f64 = match std::env::var("COMPONENTRY_SOAK_SECONDS") {
        Ok(text) => text
            .parse()
            .context("COMPONENTRY_SOAK_SECONDS takes a number")?,
        Err(_) => 20.0,
    };
    let mut guests = std::env::var_os("COMPONENTRY_GUESTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/guests"));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .context("--seconds takes a number")?
            }
            "--guests" => guests = args.next().context("--guests takes a directory")?.into(),
            // What cargo's test runner passes on (`--quiet`, filters) is not for the soak.
            _ => {}
        }
    }
    if seconds == 0.0 {
        println!("soak: skipped (COMPONENTRY_SOAK_SECONDS=0)");
        return Ok(());
    }
    if !(seconds.is_finite() && seconds > 0.0) {
        bail!("--seconds takes a positive number");
    }
    let phase = Duration::from_secs_f64(seconds / 2.0);
    let mut failures = Vec::new();
    failures.extend(reloads_under_calls(phase)?);
    failures.extend(serving_while_reloading(phase, &guests)?);
    if failures.is_empty() {
        println!("soak: passed");
        Ok(())
    } else {
        bail!("{}", failures.join("; "))
    }
}

/// What the process holds at one moment.
#[derive(Clone, Copy)]
struct Reading {
    rss: u64,
    fds: i64,
    instances_live: u64,
}

impl Reading {
    fn now(plugins: &[&Plugin<()>]) -> Self {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
        let resident_pages: u64 = statm
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as i64);
        Self {
            rss: resident_pages * 4096,
            fds,
            instances_live: plugins.iter().map(|p| p.stats().instances_live).sum(),
        }
    }
}

/// Compares the start and end readings of a phase, prints them, and says what grew too much.
fn judge(
    phase: &str,
    start: Reading,
    end: Reading,
    live_bound: u64,
    work: &str,
    failed: u64,
) -> Vec<String> {
    println!(
        "{phase}: {work}; RSS {} -> {} MiB, descriptors {} -> {}, live instances {} -> {}, failures {failed}",
        start.rss >> 20,
        end.rss >> 20,
        start.fds,
        end.fds,
        start.instances_live,
        end.instances_live
    );
    let mut problems = Vec::new();
    if end.rss > start.rss + RSS_BOUND {
        problems.push(format!(
            "{phase}: resident memory grew by {} MiB (bound {} MiB)",
            (end.rss - start.rss) >> 20,
            RSS_BOUND >> 20
        ));
    }
    if end.fds > start.fds + FD_BOUND {
        problems.push(format!(
            "{phase}: {} more descriptors open (bound {FD_BOUND})",
            end.fds - start.fds
        ));
    }
    if end.instances_live > live_bound {
        problems.push(format!(
            "{phase}: {} instances live at the end (bound {live_bound})",
            end.instances_live
        ));
    }
    if failed > 0 {
        problems.push(format!("{phase}: {failed} calls or requests failed"));
    }
    problems
}

fn versioned(n: u32) -> Vec<u8> {
    VERSIONED.replace("VERSION", &n.to_string()).into_bytes()
}

/// Reloads one plugin as fast as it can (and a watched file every few milliseconds) while four
/// threads call it: two on fresh instances, two through a pool of kept instances.
fn reloads_under_calls(length: Duration) -> anyhow::Result<Vec<String>> {
    let cache = tempfile::tempdir()?;
    let engine = Engine::builder().cache_dir(cache.path()).build()?;
    let host: Host<()> = Host::new(&engine)?;
    let plugin = host.load_bytes("soaked", &versioned(1))?;
    let pool = plugin.pool(PoolOptions::new().size(2).reuse(Reuse::Keep));
    let watched = tempfile::tempdir()?;
    let file = watched.path().join("watched.wasm");
    std::fs::write(&file, versioned(1))?;
    let watcher = PluginDir::new(&file)
        .debounce(Duration::from_millis(5))
        .watch(&host)?;
    let watched_plugin = watcher.plugin("watched").context("the watched plugin")?;
    let stop = AtomicBool::new(false);
    let (calls, failed) = (AtomicU64::new(0), AtomicU64::new(0));
    let mut reloads = 0u64;
    let mut rewrites = 0u64;
    let started = Instant::now();
    let mut first = None;
    std::thread::scope(|scope| {
        for caller in 0..4 {
            let (plugin, pool, stop, calls, failed) = (&plugin, &pool, &stop, &calls, &failed);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let answer = match caller % 2 {
                        0 => plugin.invoke("version()"),
                        _ => pool.invoke("version()"),
                    };
                    calls.fetch_add(1, Ordering::Relaxed);
                    if answer.is_err() {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        let mut last_rewrite = Instant::now();
        while started.elapsed() < length {
            if first.is_none() && started.elapsed() > length.mul_f64(WARM_UP) {
                first = Some(Reading::now(&[&plugin, &watched_plugin]));
            }
            let version = 1 + (reloads % 3) as u32;
            if plugin.reload(&versioned(version)).is_err() {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            reloads += 1;
            if last_rewrite.elapsed() > Duration::from_millis(20) {
                let _ = std::fs::write(&file, versioned(1 + (rewrites % 2) as u32));
                rewrites += 1;
                last_rewrite = Instant::now();
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    drop(pool);
    // Let the watcher settle its last change.
    std::thread::sleep(Duration::from_millis(100));
    let end = Reading::now(&[&plugin, &watched_plugin]);
    let start = first.unwrap_or(end);
    Ok(judge(
        "reloads under calls",
        start,
        end,
        0,
        &format!(
            "{reloads} reloads, {rewrites} watched rewrites, {} calls",
            calls.load(Ordering::Relaxed)
        ),
        failed.load(Ordering::Relaxed),
    ))
}

/// Serves `http-routes` to four clients while the route is reloaded back and forth between two
/// builds.
fn serving_while_reloading(length: Duration, guests: &Path) -> anyhow::Result<Vec<String>> {
    let proxy_path = guests.join("http-routes.wasm");
    let proxy = std::fs::read(&proxy_path)
        .with_context(|| format!("{}: build the guests first", proxy_path.display()))?;
    // The same component with one more custom section: another build.
    let mut rebuilt = proxy.clone();
    rebuilt.extend_from_slice(&[0, 3, 1, b's', 1]);
    let cache = tempfile::tempdir()?;
    let engine = Engine::builder()
        .cache_dir(cache.path())
        .epoch_interruption(Duration::from_millis(10))
        .build()?;
    let host: Host<()> = Host::builder_async(&engine, |_| ())?.build()?;
    let plugin = host.load_bytes("routes", &proxy)?;
    let handler = HttpHandler::new(&plugin)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(
        HttpServer::new()
            .route("/", handler)
            .serve(listener, async {
                let _ = stopped.await;
            }),
    );
    let stop = AtomicBool::new(false);
    let (requests, failed) = (AtomicU64::new(0), AtomicU64::new(0));
    let mut reloads = 0u64;
    let started = Instant::now();
    let mut first = None;
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let (stop, requests, failed) = (&stop, &requests, &failed);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    requests.fetch_add(1, Ordering::Relaxed);
                    if get_hello(addr).is_err() {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        while started.elapsed() < length {
            if first.is_none() && started.elapsed() > length.mul_f64(WARM_UP) {
                first = Some(Reading::now(&[&plugin]));
            }
            let bytes = if reloads.is_multiple_of(2) {
                &rebuilt
            } else {
                &proxy
            };
            if plugin.reload(bytes).is_err() {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            reloads += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, Ordering::Relaxed);
    });
    let _ = stop_server.send(());
    runtime.block_on(server)??;
    let end = Reading::now(&[&plugin]);
    let start = first.unwrap_or(end);
    Ok(judge(
        "serving while reloading",
        start,
        end,
        0,
        &format!(
            "{reloads} reloads, {} requests",
            requests.load(Ordering::Relaxed)
        ),
        failed.load(Ordering::Relaxed),
    ))
}

/// `GET /hello` on a connection of its own; an error unless it answers 200.
fn get_hello(addr: SocketAddr) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET /hello HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    if answer.starts_with(b"HTTP/1.1 200") {
        Ok(())
    } else {
        bail!("{}", String::from_utf8_lossy(&answer))
    }
}
