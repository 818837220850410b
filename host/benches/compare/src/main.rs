//! `cargo xtask bench`: one table of ratios, every pair measured side by side in this one run.
//!
//! Each row times a baseline and a candidate in alternating batches (see `measure`), so that the
//! machine's noise falls on both; the ratio is candidate / baseline. Run it optimised
//! (`cargo xtask bench` does): `compare [--quick] [--only a,b,...]`.

use std::time::Duration;

use anyhow::{Context as _, Result};
use componentry::Val;
use componentry_bench::measure::{self, Pair, compare, show, throughput};
#[cfg(feature = "extism")]
use componentry_bench::workloads::Extism;
use componentry_bench::workloads::{self, ByHand, Framework, Plugins};

/// One row of the table.
struct Row {
    section: &'static str,
    measure: String,
    baseline_name: &'static str,
    pair: Pair,
    target: &'static str,
}

/// Rows whose two sides are not times: printed as they are.
struct Note {
    section: &'static str,
    measure: String,
    values: String,
}

fn main() -> Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let budget = if quick {
        Duration::from_millis(300)
    } else {
        measure::DEFAULT_BUDGET
    };
    let plugins = Plugins::find()?;
    if let Some(side) = std::env::args()
        .skip_while(|a| a != "--memory-probe")
        .nth(1)
    {
        return memory_probe(&plugins, &side);
    }
    let mut rows = Vec::new();
    let mut notes = Vec::new();

    // `--only a,b,...` measures those sections only.
    let only: Option<String> = std::env::args().skip_while(|a| a != "--only").nth(1);
    let wanted = |section: &str| {
        only.as_ref()
            .is_none_or(|o| o.split(',').any(|s| s == section))
    };
    if wanted("a") {
        fresh_instances(&plugins, budget, &mut rows)?;
    }
    if wanted("b") {
        live_calls(&plugins, budget, &mut rows)?;
    }
    if wanted("c") {
        extism(&plugins, budget, &mut rows, &mut notes)?;
    }
    if wanted("d") {
        loading(&plugins, budget, &mut rows)?;
    }
    if wanted("e") {
        compute(&plugins, budget, &mut rows)?;
    }
    if wanted("f") {
        scaling(&plugins, if quick { 300 } else { 1000 }, &mut notes)?;
    }
    if wanted("g") {
        memory(&mut notes)?;
    }
    if wanted("h") {
        asynchronous(&plugins, budget, &mut rows, &mut notes)?;
    }
    if wanted("i") {
        serving(&plugins, quick, &mut rows, &mut notes)?;
    }

    print(&rows, &notes);
    Ok(())
}

/// (a) A fresh instance and a call, per call: on-demand and pooling allocation.
fn fresh_instances(plugins: &Plugins, budget: Duration, rows: &mut Vec<Row>) -> Result<()> {
    for pooling in [false, true] {
        let engine = workloads::framework_engine(pooling, false)?;
        let framework = Framework::new(&engine, &plugins.component, false)?;
        let by_hand = ByHand::new(engine.wasmtime(), &plugins.component, false, false)?;
        rows.push(Row {
            section: "a",
            measure: format!(
                "fresh instance + `nop()`, {} allocator",
                if pooling { "pooling" } else { "on-demand" }
            ),
            baseline_name: "wasmtime by hand, same engine",
            pair: compare(budget, || by_hand.fresh_nop(), || framework.fresh_nop()),
            target: "<= 1.10",
        });
    }
    // Against wasmtime's own defaults for pooling, which the framework's settings should beat.
    let mut config = wasmtime::Config::new();
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::pooling());
    let defaults = wasmtime::Engine::new(&config)?;
    let by_hand = ByHand::new(&defaults, &plugins.component, false, false)?;
    let engine = workloads::framework_engine(true, false)?;
    let framework = Framework::new(&engine, &plugins.component, false)?;
    rows.push(Row {
        section: "a",
        measure: "fresh instance + `nop()`, pooling: framework settings vs wasmtime's".to_owned(),
        baseline_name: "wasmtime by hand, default pooling",
        pair: compare(budget, || by_hand.fresh_nop(), || framework.fresh_nop()),
        target: "< 1.00",
    });
    Ok(())
}

/// (b) Calls on a live instance: typed and dynamic, `nop` and a 1 KiB echo.
fn live_calls(plugins: &Plugins, budget: Duration, rows: &mut Vec<Row>) -> Result<()> {
    let engine = workloads::framework_engine(false, false)?;
    let framework = Framework::new(&engine, &plugins.component, false)?;
    let by_hand = ByHand::new(engine.wasmtime(), &plugins.component, false, false)?;
    let text = "x".repeat(1024);

    let mut hand = by_hand.live();
    let mut typed = framework.live_typed();
    rows.push(Row {
        section: "b",
        measure: "typed `nop()` on a live instance".to_owned(),
        baseline_name: "wasmtime by hand",
        pair: compare(
            budget,
            || hand.bench.call_nop(&mut hand.store).expect("nop"),
            || typed.call(|b, s| b.call_nop(s)).expect("nop"),
        ),
        target: "<= 1.05",
    });
    rows.push(Row {
        section: "b",
        measure: "typed `echo(1 KiB)` on a live instance".to_owned(),
        baseline_name: "wasmtime by hand",
        pair: compare(
            budget,
            || {
                hand.bench.call_echo(&mut hand.store, &text).expect("echo");
            },
            || {
                typed.call(|b, s| b.call_echo(s, &text)).expect("echo");
            },
        ),
        target: "<= 1.05",
    });

    let mut live = framework.live();
    let arg = [Val::String(text.clone())];
    rows.push(Row {
        section: "b",
        measure: "dynamic `nop()`: `PluginInstance::call` vs `Func::call`".to_owned(),
        baseline_name: "wasmtime by hand",
        pair: compare(
            budget,
            || hand.nop.call(&mut hand.store, &[], &mut []).expect("nop"),
            || {
                live.call("nop", &[]).expect("nop");
            },
        ),
        target: "<= 1.10",
    });
    // The call path alone: the same store and instance, called through wasmtime directly.
    let mut raw = framework.live();
    let raw_nop = {
        let instance = *raw.wasmtime_instance();
        instance
            .get_func(raw.wasmtime_store(), "nop")
            .expect("nop is exported")
    };
    let mut live = framework.live();
    rows.push(Row {
        section: "b",
        measure: "dynamic `nop()`: `PluginInstance::call` vs `Func::call` on its own store"
            .to_owned(),
        baseline_name: "the framework's store",
        pair: compare(
            budget,
            || {
                raw_nop
                    .call(raw.wasmtime_store(), &[], &mut [])
                    .expect("nop")
            },
            || {
                live.call("nop", &[]).expect("nop");
            },
        ),
        target: "the call path's own cost",
    });
    rows.push(Row {
        section: "b",
        measure: "dynamic `echo(1 KiB)`".to_owned(),
        baseline_name: "wasmtime by hand",
        pair: compare(
            budget,
            || {
                hand.echo_dynamic(&text);
            },
            || {
                live.call("echo", &arg).expect("echo");
            },
        ),
        target: "<= 1.10",
    });
    rows.push(Row {
        section: "b",
        measure: "`invoke(\"nop()\")` (WAVE) vs `Func::call`".to_owned(),
        baseline_name: "wasmtime by hand",
        pair: compare(
            budget,
            || hand.nop.call(&mut hand.store, &[], &mut []).expect("nop"),
            || {
                live.invoke("nop()").expect("nop");
            },
        ),
        target: "WAVE parsing only",
    });
    Ok(())
}

/// (c) The same logic in Extism, when built with it.
#[cfg(not(feature = "extism"))]
fn extism(_: &Plugins, _: Duration, _: &mut Vec<Row>, notes: &mut Vec<Note>) -> Result<()> {
    notes.push(Note {
        section: "c",
        measure: "Extism".to_owned(),
        values: "not measured: built without the `extism` feature (`cargo xtask bench` has it)"
            .to_owned(),
    });
    Ok(())
}

/// (c) The same logic in Extism: how many times Componentry's time Extism takes.
#[cfg(feature = "extism")]
fn extism(
    plugins: &Plugins,
    budget: Duration,
    rows: &mut Vec<Row>,
    notes: &mut Vec<Note>,
) -> Result<()> {
    let Some(path) = &plugins.extism else {
        notes.push(Note {
            section: "c",
            measure: "Extism".to_owned(),
            values: "not built (`cargo xtask bench` builds it)".to_owned(),
        });
        return Ok(());
    };
    let extism = Extism::new(path)?;
    let engine = workloads::framework_engine(true, false)?;
    let framework = Framework::new(&engine, &plugins.component, false)?;
    let mut typed = framework.live_typed();
    let mut plugin = extism.live();
    let text = "x".repeat(1024);
    rows.push(Row {
        section: "c",
        measure: "`nop` on a live instance: Extism vs Componentry (typed)".to_owned(),
        baseline_name: "Componentry",
        pair: compare(
            budget,
            || typed.call(|b, s| b.call_nop(s)).expect("nop"),
            || {
                plugin.call::<&[u8], &[u8]>("nop", &[]).expect("nop");
            },
        ),
        target: "(Extism's cost)",
    });
    rows.push(Row {
        section: "c",
        measure: "`echo(1 KiB)` on a live instance: Extism vs Componentry (typed)".to_owned(),
        baseline_name: "Componentry",
        pair: compare(
            budget,
            || {
                typed.call(|b, s| b.call_echo(s, &text)).expect("echo");
            },
            || {
                plugin.call::<&str, &str>("echo", &text).expect("echo");
            },
        ),
        target: "(Extism's cost)",
    });
    rows.push(Row {
        section: "c",
        measure: "fresh instance + `nop`: Extism vs Componentry (pooling)".to_owned(),
        baseline_name: "Componentry",
        pair: compare(budget, || framework.fresh_nop(), || extism.fresh_nop()),
        target: "(Extism's cost)",
    });
    Ok(())
}

/// (d) Loading: from the artifact cache, and compiling.
fn loading(plugins: &Plugins, budget: Duration, rows: &mut Vec<Row>) -> Result<()> {
    let cache = tempfile::tempdir()?;
    let engine = componentry::Engine::builder()
        .cache_dir(cache.path())
        .build()?;
    let host: componentry::Host<()> = componentry::Host::new(&engine)?;
    host.load_file(&plugins.component)?;
    let artifact = std::fs::read_dir(cache.path())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .ok_or_else(|| anyhow::anyhow!("no artifact was cached"))?;
    let wasmtime = engine.wasmtime().clone();
    let mut linker: wasmtime::component::Linker<workloads::HandState> =
        wasmtime::component::Linker::new(&wasmtime);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    let component_bytes = std::fs::read(&plugins.component)?;
    rows.push(Row {
        section: "d",
        measure: "load from the artifact cache (the component's bytes in memory)".to_owned(),
        baseline_name: "SHA-256 + read artifact + `deserialize` + `instantiate_pre`",
        pair: compare(
            budget,
            || {
                // A content-addressed cache by hand: the artifact is found by the bytes' hash.
                let key: [u8; 32] = sha2::Digest::finalize(
                    <sha2::Sha256 as sha2::Digest>::new_with_prefix(&component_bytes),
                )
                .into();
                std::hint::black_box(key);
                let bytes = std::fs::read(&artifact).expect("artifact");
                // SAFETY: the artifact was just written by `Component::serialize` on this engine.
                let component =
                    unsafe { wasmtime::component::Component::deserialize(&wasmtime, &bytes) }
                        .expect("deserialize");
                linker.instantiate_pre(&component).expect("link");
            },
            || {
                host.load_bytes("bench", &component_bytes).expect("load");
            },
        ),
        target: "<= 1.10",
    });
    let uncached = workloads::framework_engine(false, false)?;
    let host: componentry::Host<()> = componentry::Host::new(&uncached)?;
    let bytes = std::fs::read(&plugins.component)?;
    let wasmtime = uncached.wasmtime().clone();
    let mut linker: wasmtime::component::Linker<workloads::HandState> =
        wasmtime::component::Linker::new(&wasmtime);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    rows.push(Row {
        section: "d",
        measure: "load by compiling (no cache)".to_owned(),
        baseline_name: "`Component::new` + `instantiate_pre`",
        pair: compare(
            budget * 2,
            || {
                let component =
                    wasmtime::component::Component::new(&wasmtime, &bytes).expect("compile");
                linker.instantiate_pre(&component).expect("link");
            },
            || {
                host.load_bytes("bench", &bytes).expect("load");
            },
        ),
        target: "<= 1.10",
    });
    Ok(())
}

/// (e) Computation: the plugin's `work` against the same code native, and the framework's fuel
/// and epochs against wasmtime's own.
fn compute(plugins: &Plugins, budget: Duration, rows: &mut Vec<Row>) -> Result<()> {
    const ROUNDS: u64 = 200_000;
    let plain = workloads::framework_engine(false, false)?;
    let framework = Framework::new(&plain, &plugins.component, false)?;
    let mut instance = framework.live_typed();
    rows.push(Row {
        section: "e",
        measure: format!("`work({ROUNDS})` in the plugin vs native Rust"),
        baseline_name: "native",
        pair: compare(
            budget,
            || {
                std::hint::black_box(workloads::work(std::hint::black_box(ROUNDS)));
            },
            || {
                instance.call(|b, s| b.call_work(s, ROUNDS)).expect("work");
            },
        ),
        target: "(wasm's cost)",
    });
    let limited = workloads::framework_engine(false, true)?;
    let framework = Framework::new(&limited, &plugins.component, true)?;
    let by_hand = ByHand::new(limited.wasmtime(), &plugins.component, true, true)?;
    let mut instance = framework.live_typed();
    let mut hand = by_hand.live();
    rows.push(Row {
        section: "e",
        measure: format!("`work({ROUNDS})` with fuel and epochs"),
        baseline_name: "wasmtime by hand, same settings",
        pair: compare(
            budget,
            || {
                hand.store.set_fuel(u64::MAX / 4).expect("fuel");
                hand.store.set_epoch_deadline(6000);
                hand.bench.call_work(&mut hand.store, ROUNDS).expect("work");
            },
            || {
                instance.call(|b, s| b.call_work(s, ROUNDS)).expect("work");
            },
        ),
        target: "<= 1.05",
    });
    Ok(())
}

/// (f) Fresh instance + `nop` per call, calls per second on one thread and on every core, for
/// each allocator setting worth knowing; and the minimal component, which shows the instance's
/// own cost apart from the guest's start-up.
fn scaling(plugins: &Plugins, window_ms: u64, notes: &mut Vec<Note>) -> Result<()> {
    let window = Duration::from_millis(window_ms);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let settings: [(&str, Option<componentry::Pooling>); 5] = [
        ("on-demand", None),
        ("pooling (defaults)", Some(componentry::Pooling::new())),
        (
            "pooling, copy-on-write images",
            Some(componentry::Pooling::new().copy_on_write(true)),
        ),
        (
            "pooling, no written pages kept resident",
            Some(componentry::Pooling::new().keep_resident(0)),
        ),
        (
            "pooling, decommit one slot at a time",
            Some(componentry::Pooling::new().decommit_batch(1)),
        ),
    ];
    for (name, pooling) in settings {
        let engine = workloads::framework_engine_with(pooling, false)?;
        notes.push(Note {
            section: "f",
            measure: format!("fresh instance + `nop()` calls/s, {name}"),
            values: fresh_throughput(&engine, &plugins.component, window, cores)?,
        });
    }
    notes.push(Note {
        section: "f",
        measure: "dynamic `nop()` calls/s on kept instances, an instance pool (`Reuse::Keep`) \
                  of one instance per core vs a vector of live instances behind a mutex, by hand"
            .to_owned(),
        values: kept_pool_throughput(&plugins.component, window, cores)?,
    });
    if let Some(without_wasi) = &plugins.without_wasi {
        let engine = workloads::framework_engine(true, false)?;
        notes.push(Note {
            section: "f",
            measure: "fresh instance + `nop()` calls/s, pooling (defaults), the same plugin \
                      built without WASI (wasm32-unknown-unknown)"
                .to_owned(),
            values: fresh_throughput(&engine, without_wasi, window, cores)?,
        });
    }
    let engine = workloads::framework_engine(true, false)?;
    let host: componentry::Host<()> = componentry::Host::new(&engine)?;
    let minimal = host.load_bytes("minimal", workloads::MINIMAL.as_bytes())?;
    let by_hand = workloads::MinimalByHand::new(engine.wasmtime())?;
    let values = rates(
        window,
        cores,
        || by_hand.fresh_nop(),
        || {
            minimal.call("nop", &[]).expect("nop");
        },
    );
    notes.push(Note {
        section: "f",
        measure: "fresh instance + `nop()` calls/s, pooling, the minimal component (no WASI)"
            .to_owned(),
        values,
    });
    Ok(())
}

/// Fresh instance + `nop` calls per second of `component` on `engine`, by hand and through
/// Componentry, on one thread and on `cores`.
fn fresh_throughput(
    engine: &componentry::Engine,
    component: &std::path::Path,
    window: Duration,
    cores: usize,
) -> Result<String> {
    let framework = Framework::new(engine, component, false)?;
    let by_hand = ByHand::new(engine.wasmtime(), component, false, false)?;
    Ok(rates(
        window,
        cores,
        || by_hand.fresh_nop(),
        || framework.fresh_nop(),
    ))
}

/// Calls on kept instances shared by every thread: Componentry's instance pool against the pool
/// a hand-written host would keep (live instances in a vector behind a mutex).
fn kept_pool_throughput(
    component: &std::path::Path,
    window: Duration,
    cores: usize,
) -> Result<String> {
    let engine = workloads::framework_engine(false, false)?;
    let framework = Framework::new(&engine, component, false)?;
    let pool = framework.plugin.pool(
        componentry::pool::PoolOptions::new()
            .size(cores)
            .reuse(componentry::pool::Reuse::Keep),
    );
    let by_hand = ByHand::new(engine.wasmtime(), component, false, false)?;
    let hand_pool = std::sync::Mutex::new((0..cores).map(|_| by_hand.live()).collect::<Vec<_>>());
    let take = || {
        hand_pool
            .lock()
            .expect("pool")
            .pop()
            .expect("an idle instance")
    };
    Ok(rates(
        window,
        cores,
        || {
            let mut instance = take();
            let nop = instance.nop;
            nop.call(&mut instance.store, &[], &mut []).expect("nop");
            hand_pool.lock().expect("pool").push(instance);
        },
        || {
            pool.call("nop", &[]).expect("nop");
        },
    ))
}

/// `by_hand` and `ours` run for `window` on one thread and on `cores`, each: their rates, in
/// thousands of calls per second, as (f) prints them.
fn rates(
    window: Duration,
    cores: usize,
    by_hand: impl Fn() + Sync,
    ours: impl Fn() + Sync,
) -> String {
    [1, cores]
        .map(|threads| {
            let hand = throughput(threads, window, &by_hand);
            let ours = throughput(threads, window, &ours);
            format!(
                "{threads} thread(s): {:.0}k by hand, {:.0}k Componentry",
                hand / 1e3,
                ours / 1e3
            )
        })
        .join("; ")
}

/// (g) Resident memory per idle live instance, each side measured in a process of its own (so
/// that neither reuses memory the other freed).
/// (h) WASI 0.3: an async export awaiting a host future, and 1,000 calls at once.
fn asynchronous(
    plugins: &Plugins,
    budget: Duration,
    rows: &mut Vec<Row>,
    notes: &mut Vec<Note>,
) -> Result<()> {
    let component = componentry_bench::asynchrony::async_waits(&plugins.component);
    anyhow::ensure!(
        component.is_file(),
        "{} is missing: run `cargo xtask guests` first",
        component.display()
    );
    rows.push(Row {
        section: "h",
        measure: "async `slow-echo(x, 0)` (awaits the host's clock) on a live instance".to_owned(),
        baseline_name: "wasmtime by hand (`call_async`)",
        pair: componentry_bench::asynchrony::async_call(&component, budget)?,
        target: "<= 1.15",
    });
    notes.push(Note {
        section: "h",
        measure: "1,000 calls of `slow-echo(x, 20)` at once".to_owned(),
        values: componentry_bench::asynchrony::thousand_calls(&component)?,
    });
    Ok(())
}

/// (i) Serving HTTP, each mode at 1, 8 and 64 connections, against wasmtime by hand in the same
/// mode.
fn serving(
    plugins: &Plugins,
    quick: bool,
    rows: &mut Vec<Row>,
    notes: &mut Vec<Note>,
) -> Result<()> {
    use componentry_bench::serving::{MODES, Serving};
    let guests = plugins
        .component
        .parent()
        .context("the guests' directory")?;
    let serving = Serving::find(guests)?;
    let (rounds, seconds) = if quick { (1, 1.0) } else { (2, 3.0) };
    for mode in MODES {
        for connections in [1, 8, 64] {
            let measured = serving.measure(mode, connections, rounds, seconds)?;
            let line = |load: componentry_bench::serving::Load| {
                format!(
                    "{:.0} req/s, p50 {}, p99 {}",
                    load.per_second,
                    show(load.p50),
                    show(load.p99)
                )
            };
            notes.push(Note {
                section: "i",
                measure: format!("serve, {}, {connections} connection(s)", mode.name),
                values: format!(
                    "Componentry {}; wasmtime by hand {}",
                    line(measured.ours),
                    line(measured.by_hand)
                ),
            });
            rows.push(Row {
                section: "i",
                measure: format!(
                    "serve `/hello`, {}, {connections} connection(s): time per request",
                    mode.name
                ),
                baseline_name: "wasmtime by hand (wasmtime-wasi-http's ProxyHandler)",
                pair: measured.pair,
                target: "<= 1.10",
            });
        }
    }
    Ok(())
}

fn memory(notes: &mut Vec<Note>) -> Result<()> {
    let probe = |side: &str| -> Result<Option<f64>> {
        let output = std::process::Command::new(std::env::current_exe()?)
            .args(["--memory-probe", side])
            .output()?;
        anyhow::ensure!(
            output.status.success(),
            "the {side} memory probe failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8_lossy(&output.stdout).trim().parse().ok())
    };
    let (hand, ours) = (probe("hand")?, probe("framework")?);
    notes.push(Note {
        section: "g",
        measure: "resident memory per idle live instance".to_owned(),
        values: match (hand, ours) {
            (Some(hand), Some(ours)) => {
                format!(
                    "{hand:.1} KiB by hand, {ours:.1} KiB Componentry ({:.2}x)",
                    ours / hand
                )
            }
            _ => "not measurable here (no /proc/self/statm)".to_owned(),
        },
    });
    Ok(())
}

/// The memory probe (`--memory-probe hand|framework`): prints the resident KiB per idle live
/// instance of one side, measured over many instances after a warm-up.
fn memory_probe(plugins: &Plugins, side: &str) -> Result<()> {
    const INSTANCES: usize = 500;
    let engine = workloads::framework_engine(false, false)?;
    let framework = Framework::new(&engine, &plugins.component, false)?;
    let by_hand = ByHand::new(engine.wasmtime(), &plugins.component, false, false)?;
    let make = || -> Box<dyn std::any::Any> {
        match side {
            "hand" => Box::new(by_hand.live()),
            _ => Box::new(framework.live()),
        }
    };
    drop((0..10).map(|_| make()).collect::<Vec<_>>());
    let before = measure::resident_bytes();
    let held: Vec<_> = (0..INSTANCES).map(|_| make()).collect();
    let after = measure::resident_bytes();
    if let (Some(before), Some(after)) = (before, after) {
        println!(
            "{}",
            after.saturating_sub(before) as f64 / INSTANCES as f64 / 1024.0
        );
    }
    drop(held);
    Ok(())
}

fn print(rows: &[Row], notes: &[Note]) {
    println!("| | measure | baseline | baseline time | candidate time | ratio | target |");
    println!("|---|---|---|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} | {:.2}x | {} |",
            row.section,
            row.measure,
            row.baseline_name,
            show(row.pair.baseline),
            show(row.pair.candidate),
            row.pair.ratio(),
            row.target
        );
    }
    println!();
    for note in notes {
        println!("- ({}) {}: {}", note.section, note.measure, note.values);
    }
}
