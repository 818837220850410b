//! Call overhead on a live instance, Componentry beside wasmtime by hand: criterion's statistics
//! for what `cargo xtask bench` summarises as ratios.

use componentry::Val;
use componentry_bench::workloads::{self, ByHand, Framework, Plugins};
use criterion::{Criterion, criterion_group, criterion_main};

fn calls(c: &mut Criterion) {
    let plugins = Plugins::find().expect("plugins");
    let engine = workloads::framework_engine(false, false).expect("engine");
    let framework = Framework::new(&engine, &plugins.component, false).expect("framework");
    let by_hand =
        ByHand::new(engine.wasmtime(), &plugins.component, false, false).expect("by hand");
    let mut hand = by_hand.live();
    let mut typed = framework.live_typed();
    let mut live = framework.live();
    let text = "x".repeat(1024);
    let arg = [Val::String(text.clone())];

    let mut group = c.benchmark_group("typed nop");
    group.bench_function("wasmtime by hand", |b| {
        b.iter(|| hand.bench.call_nop(&mut hand.store).expect("nop"))
    });
    group.bench_function("componentry", |b| {
        b.iter(|| {
            typed
                .call(|bench, store| bench.call_nop(store))
                .expect("nop")
        })
    });
    group.finish();

    let mut group = c.benchmark_group("dynamic nop");
    group.bench_function("wasmtime by hand", |b| {
        b.iter(|| hand.nop.call(&mut hand.store, &[], &mut []).expect("nop"))
    });
    group.bench_function("componentry", |b| {
        b.iter(|| live.call("nop", &[]).expect("nop"))
    });
    group.bench_function("componentry invoke", |b| {
        b.iter(|| live.invoke("nop()").expect("nop"))
    });
    group.finish();

    let mut group = c.benchmark_group("dynamic echo 1 KiB");
    group.bench_function("wasmtime by hand", |b| b.iter(|| hand.echo_dynamic(&text)));
    group.bench_function("componentry", |b| {
        b.iter(|| live.call("echo", &arg).expect("echo"))
    });
    group.finish();

    let mut group = c.benchmark_group("fresh instance + nop");
    group.bench_function("wasmtime by hand", |b| b.iter(|| by_hand.fresh_nop()));
    group.bench_function("componentry", |b| b.iter(|| framework.fresh_nop()));
    group.finish();
}

criterion_group!(benches, calls);
criterion_main!(benches);
