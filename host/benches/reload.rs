//! How long a change takes to serve: from new bytes to the new version answering, through
//! `Plugin::reload` directly and through a file watcher (write, debounce, reload, answer).
//!
//! Run with `cargo bench -p componentry --bench reload`.

use std::time::{Duration, Instant};

use componentry::{Engine, Host, PluginDir, PluginEvent};
use criterion::{Criterion, criterion_group, criterion_main};

/// The `versioned` test component (`host/tests/guests/wat/versioned.wat`) returning `n`.
fn versioned(n: u32) -> String {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/guests/wat/versioned.wat"
    ))
    .expect("versioned.wat");
    template.replace("VERSION", &n.to_string())
}

fn bench_reload(c: &mut Criterion) {
    let cache = tempfile::tempdir().expect("cache dir");
    let engine = Engine::builder()
        .cache_dir(cache.path())
        .build()
        .expect("engine");
    let host: Host<()> = Host::new(&engine).expect("host");
    let versions = [versioned(1), versioned(2)];
    let plugin = host
        .load_bytes("bench", versions[0].as_bytes())
        .expect("load");
    let mut group = c.benchmark_group("reload");
    let mut next = 1;
    group.bench_function("reload and answer (cached artifact)", |b| {
        b.iter(|| {
            plugin.reload(versions[next].as_bytes()).expect("reload");
            plugin.invoke("version()").expect("answer");
            next = 1 - next;
        })
    });

    let dir = tempfile::tempdir().expect("plugin dir");
    let file = dir.path().join("watched.wasm");
    std::fs::write(&file, &versions[0]).expect("write");
    let events = host.subscribe();
    let debounce = Duration::from_millis(10);
    let watcher = PluginDir::new(dir.path())
        .debounce(debounce)
        .watch(&host)
        .expect("watch");
    let mut current = 0;
    group.sample_size(20);
    group.bench_function(
        "file write to new version answering (10 ms debounce)",
        |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    current = 1 - current;
                    let started = Instant::now();
                    std::fs::write(&file, &versions[current]).expect("write");
                    loop {
                        match events.recv_timeout(Duration::from_secs(10)) {
                            Ok(PluginEvent::Reloaded { .. }) => break,
                            Ok(_) => continue,
                            Err(_) => panic!("no reload within 10 s"),
                        }
                    }
                    watcher
                        .plugin("watched")
                        .expect("loaded")
                        .invoke("version()")
                        .expect("answer");
                    total += started.elapsed();
                }
                total
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench_reload);
criterion_main!(benches);
