//! What fuel metering and epoch checks cost a compute-heavy plugin: the same call on engines
//! without either, with fuel, and with epoch interruption, side by side. Read the ratios of the
//! three, not the absolute times (the machines are shared).
//!
//! Run with `cargo bench -p componentry --bench limits` after `cargo xtask guests`.

use std::path::PathBuf;
use std::time::Duration;

use componentry::{Engine, Host, Limits, PluginOptions};
use criterion::{Criterion, criterion_group, criterion_main};

fn guest(name: &str) -> PathBuf {
    std::env::var_os("COMPONENTRY_GUESTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/guests"))
        .join(format!("{name}.wasm"))
}

fn bench_limits(c: &mut Criterion) {
    let configurations: [(&str, Engine, Limits); 3] = [
        ("none", Engine::new().expect("engine"), Limits::new()),
        (
            "fuel",
            Engine::builder().fuel(true).build().expect("engine"),
            Limits::new().fuel(u64::MAX / 4),
        ),
        (
            "epoch",
            Engine::builder()
                .epoch_interruption(std::time::Duration::from_millis(10))
                .build()
                .expect("engine"),
            Limits::new().deadline(Duration::from_secs(3600)),
        ),
    ];
    let mut group = c.benchmark_group("compute-heavy call (spin 100000)");
    for (name, engine, limits) in configurations {
        let host: Host<()> = Host::new(&engine).expect("host");
        let plugin = host
            .load_file_with(guest("faults"), PluginOptions::new().limits(limits))
            .expect("run `cargo xtask guests` first");
        let mut instance = plugin.instantiate().expect("instance");
        group.bench_function(name, |b| {
            b.iter(|| instance.invoke("spin(100000)").expect("spin"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_limits);
criterion_main!(benches);
