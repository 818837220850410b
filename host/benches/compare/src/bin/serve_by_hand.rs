//! `serve-by-hand serve COMPONENT [--addr ADDR] [--max-instance-reuse-count N]
//! [--max-instance-concurrent-reuse-count M] [--idle-instance-timeout MS]`: a `wasi:http` server
//! written by hand on wasmtime, the baseline of `cargo xtask bench`'s serving section. It does
//! what `wasmtime serve` does with its defaults: wasmtime-wasi-http's own `ProxyHandler`
//! dispatches requests to instances (a WASI 0.2 proxy gets a fresh one per request; a WASI 0.3
//! handler's may be reused), on the pooling allocator, without fuel or epochs, behind hyper's
//! HTTP/1 server. It prints `Serving HTTP on http://ADDR/` on stderr, as `componentry serve`
//! does, and serves until killed.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use wasmtime::component::{Component, GuestTaskId, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreContextMut};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, ProxyHandler, ProxyPre, ShouldAccept, WorkerExpiration, WorkerState,
    WorkerStatus,
};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// What the command line asks for.
struct Options {
    component: String,
    addr: SocketAddr,
    reuse_count: usize,
    concurrent_reuse_count: usize,
    idle_timeout: Duration,
}

impl Options {
    fn parse() -> Result<Self> {
        let mut args = std::env::args().skip(1).filter(|a| a != "serve");
        let mut options = Self {
            component: String::new(),
            addr: "127.0.0.1:8080".parse()?,
            reuse_count: 1,
            concurrent_reuse_count: 16,
            idle_timeout: Duration::from_secs(1),
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--addr" => options.addr = value()?.parse()?,
                "--max-instance-reuse-count" => options.reuse_count = value()?.parse()?,
                "--max-instance-concurrent-reuse-count" => {
                    options.concurrent_reuse_count = value()?.parse()?;
                }
                "--idle-instance-timeout" => {
                    options.idle_timeout = Duration::from_millis(value()?.parse()?);
                }
                other if other.starts_with("--") => bail!("unknown option {other}"),
                other => options.component = other.to_owned(),
            }
        }
        anyhow::ensure!(!options.component.is_empty(), "no component given");
        Ok(options)
    }
}

/// A store's data: WASI (nothing granted) and `wasi:http`.
struct Data {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
}

impl WasiView for Data {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Data {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}

/// The server's state: the pre-instance and the reuse settings.
struct Server {
    engine: Engine,
    pre: ProxyPre<Data>,
    /// Requests per instance: 1 for a WASI 0.2 proxy, which cannot take more.
    reuse_count: usize,
    concurrent_reuse_count: usize,
    idle_timeout: Duration,
}

impl HandlerState for Server {
    type StoreData = Data;
    type WorkerExpiration = Expiration;
    type WorkerState = Worker;

    async fn instantiate(&self) -> wasmtime::Result<Instance<Data, Expiration, Worker>> {
        let data = Data {
            table: ResourceTable::new(),
            wasi: WasiCtx::builder().build(),
            http: WasiHttpCtx::new(),
        };
        let mut store = Store::new(&self.engine, data);
        let proxy = self.pre.instantiate_async(&mut store).await?;
        Ok(Instance {
            store,
            proxy,
            view: <Data as WasiHttpView>::http,
            expiration: Expiration {
                idle_timeout: self.idle_timeout,
                sleep: Box::pin(tokio::time::sleep(Duration::from_secs(86_400))),
            },
            state: Worker {
                reuse_count: self.reuse_count,
                concurrent_reuse_count: self.concurrent_reuse_count,
            },
        })
    }
}

/// An instance's limits on the requests it takes.
struct Worker {
    reuse_count: usize,
    concurrent_reuse_count: usize,
}

impl WorkerState for Worker {
    type StoreData = Data;
    type RequestData = ();

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        if total >= self.reuse_count {
            ShouldAccept::Never
        } else if concurrent >= self.concurrent_reuse_count {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        _store: StoreContextMut<'_, Data>,
        (): (),
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + 'static + Send + Sync>> {
        // No request timeout: the request never expires on its own.
        Box::pin(std::future::pending())
    }

    fn drop(&self, _store: Store<Data>, result: wasmtime::Result<()>) {
        if let Err(error) = result {
            eprintln!("worker failed: {error:?}");
        }
    }
}

/// Retires an instance idle for longer than `idle_timeout`.
struct Expiration {
    idle_timeout: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl WorkerExpiration for Expiration {
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        state: WorkerStatus,
        start: Instant,
    ) -> Poll<()> {
        if !matches!(state, WorkerStatus::Idle) {
            return Poll::Pending;
        }
        let Some(deadline) = start.checked_add(self.idle_timeout) else {
            return Poll::Pending;
        };
        let deadline = tokio::time::Instant::from_std(deadline);
        if self.sleep.deadline() != deadline {
            self.sleep.as_mut().reset(deadline);
        }
        self.sleep.as_mut().poll(cx)
    }
}

fn main() -> Result<()> {
    let options = Options::parse()?;
    let mut config = Config::new();
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::pooling());
    let engine = Engine::new(&config)?;
    let component = Component::from_file(&engine, &options.component)
        .map_err(|e| anyhow::anyhow!("compiling {}: {e:?}", options.component))?;
    let mut linker = Linker::<Data>::new(&engine);
    // All of WASI, as `wasmtime serve -Scli` links it: the test handlers use more than the
    // proxy world's interfaces.
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    let pre = linker.instantiate_pre(&component)?;
    let (pre, reuse_count) = match wasmtime_wasi_http::p3::bindings::ServicePre::new(pre.clone()) {
        Ok(service) => (ProxyPre::P3(service), options.reuse_count.max(1)),
        Err(_) => (
            ProxyPre::P2(wasmtime_wasi_http::p2::bindings::ProxyPre::new(pre)?),
            1,
        ),
    };
    let handler = ProxyHandler::new(Server {
        engine,
        pre,
        reuse_count,
        concurrent_reuse_count: options.concurrent_reuse_count.max(1),
        idle_timeout: options.idle_timeout,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(options.addr).await?;
        eprintln!("Serving HTTP on http://{}/", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
                    let handler = handler.clone();
                    async move {
                        let request = request.map(|body: hyper::body::Incoming| {
                            body.map_err(wasmtime_wasi_http::Error::from).boxed_unsync()
                        });
                        let response = match handler.handle((), request).await {
                            Ok(response) => response,
                            Err(error) => {
                                eprintln!("error: {error:?}");
                                let mut response = hyper::Response::new(
                                    http_body_util::Full::new(bytes::Bytes::new())
                                        .map_err(|never| match never {})
                                        .boxed_unsync(),
                                );
                                *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                                response
                            }
                        };
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
