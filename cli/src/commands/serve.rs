//! `componentry serve PROXY.wasm`: serves HTTP with a standard `wasi:http/proxy` component, as
//! `wasmtime serve` does: a fresh instance per request, the limits per request, the pooling
//! allocator. The differences are Componentry's: nothing is granted but what the flags (or a
//! policy) grant, outgoing HTTP included, and the default address is loopback.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use componentry::http::InstanceReuse;
use componentry::{Host, HttpHandler, HttpServer, Output, PluginDir, PluginEvent, Pooling};

use crate::interrupt::interrupted;
use crate::load_flags::LoadFlags;
use crate::loading::load;
use crate::{exit, stats};

/// The arguments of `componentry serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// The component: exports `wasi:http/incoming-handler` (world `wasi:http/proxy`, WASI 0.2)
    /// or `wasi:http/handler` (world `wasi:http/service`, WASI 0.3).
    plugin: PathBuf,

    /// The address to listen on (`0.0.0.0:8080` for every interface, as `wasmtime serve`
    /// defaults to).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,

    /// Reload the component when its file (or manifest) changes: requests in flight finish on
    /// the old version; a version that fails to load never replaces the one serving. Each
    /// reload is a line on stderr: `reloaded NAME sha256:HEX12` or `reload failed NAME: REASON`.
    #[arg(long)]
    watch: bool,

    /// Allocate instances on demand instead of from the pooling allocator (for components
    /// beyond the pool's slots: more than 2 memories, 8 tables or 32 core instances).
    #[arg(long)]
    no_pooling: bool,

    /// Requests answered at once; past it, 503 at once. The pooling allocator gets as many
    /// instance slots, so every request admitted finds one.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    max_in_flight: u32,

    /// Connections served at once; past it, new clients wait in the listen backlog. Default:
    /// 1,024, or half the open-files limit (`ulimit -n`) when lower.
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,

    /// Milliseconds a connection may stay idle (no request under way, no bytes moving) before
    /// it is closed.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    idle_timeout: u64,

    /// Milliseconds a client may take to send a request's headers.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    header_timeout: u64,

    /// Milliseconds a client may take to send a request's body, from the end of its headers.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    body_timeout: u64,

    /// Requests one instance of a WASI 0.3 handler answers before it is retired (as `wasmtime
    /// serve`'s option of the same name). 1, the default: a fresh instance per request. More
    /// lets one request see what an earlier one left in the instance's memory.
    #[arg(long, value_name = "N", default_value_t = 1)]
    max_instance_reuse_count: usize,

    /// Requests one reused instance answers at once (with `--max-instance-reuse-count`).
    #[arg(long, value_name = "N", default_value_t = 16)]
    max_instance_concurrent_reuse_count: usize,

    /// Milliseconds a reused instance waits for a request before it is retired (with
    /// `--max-instance-reuse-count`).
    #[arg(long, value_name = "MS", default_value_t = 1_000)]
    idle_instance_timeout: u64,

    /// How the plugin is loaded: cache, manifest, policy, grant and limit flags.
    #[command(flatten)]
    loading: LoadFlags,
}

/// The deadline of a request when neither `--timeout` nor the policy sets one: a handler that
/// never answers (or waits on a client that never sends its body) cannot hold its slot for ever.
const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;

/// Loads the plugin and serves HTTP with it until interrupted; then prints its metrics.
pub fn run(mut args: ServeArgs) -> Result<(), exit::Failure> {
    args.loading
        .limits
        .default_timeout(DEFAULT_REQUEST_TIMEOUT_MS);
    // A handler's stdout and stderr go to the server's, as with `wasmtime serve`, each line
    // prefixed with the plugin's name and escaped: many requests' output mixes with the
    // server's own lines.
    let prepared = args
        .loading
        .prepare(&args.plugin, Output::Prefixed, |_, operator| operator)?;
    let mut builder = args.loading.engine(&prepared.policy);
    if !args.no_pooling {
        // Two slots beyond the requests admitted: a reload's trial instance always finds one.
        let mut pooling = Pooling::new().instances(args.max_in_flight.max(1).saturating_add(2));
        if let Some(bytes) = args.loading.limits.max_memory() {
            pooling = pooling.max_memory(bytes);
        }
        builder = builder.pooling(pooling);
    }
    let engine = builder.build()?;
    let host: Host<()> = Host::builder_async(&engine, |_| ())?.build()?;
    let policy = prepared.policy.clone();
    let plugin = load(&host, prepared)?;
    let mut handler = HttpHandler::new(&plugin)?;
    if args.max_instance_reuse_count > 1 {
        if !handler.is_wasi_0_3() {
            return Err(exit::Failure::usage(
                "--max-instance-reuse-count needs a WASI 0.3 handler (`wasi:http/handler`); \
                 a WASI 0.2 proxy gets a fresh instance per request",
            ));
        }
        let reuse = InstanceReuse::new()
            .max_requests(args.max_instance_reuse_count)
            .max_concurrent(args.max_instance_concurrent_reuse_count)
            .idle_timeout(Duration::from_millis(args.idle_instance_timeout));
        handler = handler.reuse_instances(reuse)?;
    }
    if args.watch {
        report_reloads(host.subscribe());
    }
    let _watcher = if args.watch {
        let mut dir = PluginDir::new(&args.plugin).policy(policy);
        if let Some(manifest) = args.loading.manifest() {
            dir = dir.manifest(manifest);
        }
        let watcher = dir.watch_adopting(&host, [plugin.clone()])?;
        Some(watcher)
    } else {
        None
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| exit::Failure::Other(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(|e| exit::Failure::Other(format!("cannot listen on {}: {e}", args.addr)))?;
        let bound = listener.local_addr().unwrap_or(args.addr);
        eprintln!("Serving HTTP on http://{bound}/");
        let stop = interrupted();
        let mut server = HttpServer::new()
            .max_in_flight(args.max_in_flight.max(1) as usize)
            .idle_timeout(Duration::from_millis(args.idle_timeout))
            .header_read_timeout(Duration::from_millis(args.header_timeout))
            .body_read_timeout(Duration::from_millis(args.body_timeout));
        if let Some(connections) = args.max_connections {
            server = server.max_connections(connections);
        }
        server
            .route("/", handler)
            .serve(listener, async move {
                let _ = stop.await;
            })
            .await?;
        Ok::<(), exit::Failure>(())
    })?;
    stats::print(std::slice::from_ref(&plugin));
    Ok(())
}

/// Prints each reload and each rejected version on stderr, one line each: `reloaded NAME
/// sha256:HEX12`, `reload failed NAME: REASON`.
fn report_reloads(events: std::sync::mpsc::Receiver<PluginEvent>) {
    std::thread::spawn(move || {
        for event in events {
            match event {
                PluginEvent::Reloaded {
                    plugin, new_sha256, ..
                } => eprintln!(
                    "reloaded {plugin} sha256:{}",
                    &new_sha256[..12.min(new_sha256.len())]
                ),
                PluginEvent::ReloadFailed { plugin, error } => {
                    eprintln!("reload failed {plugin}: {}", exit::one_line(&error))
                }
                _ => {}
            }
        }
    });
}
