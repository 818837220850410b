//! WASI 0.3 measured (section h): an async export that awaits a host future, called through
//! Componentry and through wasmtime by hand on the same engine; and 1,000 calls at once in one
//! instance against 1,000 instances.
//!
//! The plugin is the `async-waits` test guest: `slow-echo(text, millis)` awaits WASI 0.3's
//! `monotonic-clock.wait-for(millis)` on the host, then returns `text`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use componentry::{Host, Limits, PluginOptions, Val};
use wasmtime::component::{Func, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::WasiCtxBuilder;

use crate::measure::{self, Pair};
use crate::workloads::HandState;

/// The `async-waits` guest beside the benchmark component.
pub fn async_waits(bench_component: &Path) -> std::path::PathBuf {
    bench_component.with_file_name("async-waits.wasm")
}

/// `slow-echo(text, 0)` on a live instance: Componentry (a synchronous host, which drives the
/// async call on the calling thread) against wasmtime by hand (`Func::call_async` on a tokio
/// runtime, as a hand-written host calls an async export).
pub fn async_call(component: &Path, budget: Duration) -> Result<Pair> {
    let engine = componentry::Engine::builder().build()?;
    let host: Host<()> = Host::new(&engine)?;
    let plugin = host.load_file(component)?;
    let mut ours = plugin.instantiate()?;
    let args = [Val::String("x".to_owned()), Val::U64(0)];

    let mut by_hand = AsyncByHand::new(engine.wasmtime(), component)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(measure::compare(
        budget,
        || {
            let mut results = [Val::Bool(false)];
            runtime
                .block_on(
                    by_hand
                        .slow_echo
                        .call_async(&mut by_hand.store, &args, &mut results),
                )
                .expect("slow-echo by hand");
        },
        || {
            ours.call("slow-echo", &args).expect("slow-echo");
        },
    ))
}

/// The async plugin as a hand-written wasmtime host runs it: WASI 0.2 and 0.3 linked, one live
/// instance, its `slow-echo` looked up once.
struct AsyncByHand {
    store: Store<HandState>,
    slow_echo: Func,
}

impl AsyncByHand {
    fn new(engine: &Engine, component: &Path) -> Result<Self> {
        let bytes = std::fs::read(component).context("reading the async component")?;
        let component = wasmtime::component::Component::new(engine, bytes)?;
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi::p3::add_to_linker(&mut linker)?;
        let pre = linker.instantiate_pre(&component)?;
        let mut store = Store::new(
            engine,
            HandState::new(WasiCtxBuilder::new().build(), ResourceTable::new()),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let instance = runtime.block_on(pre.instantiate_async(&mut store))?;
        let slow_echo = instance
            .get_func(&mut store, "slow-echo")
            .context("the plugin exports slow-echo")?;
        Ok(Self { store, slow_echo })
    }
}

/// 1,000 calls of `slow-echo(text, 20)` at once: in one instance (`call_concurrent_async`, the
/// instance's cap raised to 1,000) and on 1,000 instances (`call_async` on a fresh instance
/// each, all awaited together), on an asynchronous host. Returns, for each, the wall time of the
/// whole and the resident memory it added.
pub fn thousand_calls(component: &Path) -> Result<String> {
    const CALLS: usize = 1_000;
    let engine = componentry::Engine::builder().build()?;
    let host: Host<()> = Host::builder_async(&engine, |_| ())?.build()?;
    let options = PluginOptions::new().limits(Limits::new().max_concurrent_calls(CALLS));
    let plugin = host.load_file_with(component, options)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let args = || vec![Val::String("x".to_owned()), Val::U64(20)];

    // Warm both paths once.
    runtime.block_on(plugin.call_async("slow-echo", &args()))?;

    let before = measure::resident_bytes().unwrap_or_default();
    let started = Instant::now();
    let one = runtime.block_on(async {
        let mut instance = plugin.instantiate_async().await?;
        let batch = (0..CALLS).map(|_| ("slow-echo", args()));
        let results = instance.call_concurrent_async(batch).await?;
        let resident = measure::resident_bytes().unwrap_or_default();
        Ok::<_, componentry::Error>((results.len(), resident))
    })?;
    let one_time = started.elapsed();
    let one_memory = one.1.saturating_sub(before);

    let before = measure::resident_bytes().unwrap_or_default();
    let started = Instant::now();
    let many = runtime.block_on(async {
        let calls = (0..CALLS).map(|_| {
            let plugin = plugin.clone();
            let args = args();
            tokio::spawn(async move {
                let mut instance = plugin.instantiate_async().await?;
                let results = instance.call_async("slow-echo", &args).await?;
                // Kept until every call has ended, so that they are all alive at once.
                Ok::<_, componentry::Error>((instance, results))
            })
        });
        let mut alive = Vec::with_capacity(CALLS);
        for call in calls.collect::<Vec<_>>() {
            alive.push(call.await.expect("the task ran")?);
        }
        let resident = measure::resident_bytes().unwrap_or_default();
        Ok::<_, componentry::Error>((alive.len(), resident))
    })?;
    let many_time = started.elapsed();
    let many_memory = many.1.saturating_sub(before);
    anyhow::ensure!(one.0 == CALLS && many.0 == CALLS, "every call answered");
    Ok(format!(
        "one instance: {} and {:.1} MiB more resident; {CALLS} instances: {} and {:.1} MiB more \
         resident (each call waits 20 ms on the host's clock)",
        measure::show(one_time),
        one_memory as f64 / (1 << 20) as f64,
        measure::show(many_time),
        many_memory as f64 / (1 << 20) as f64,
    ))
}
