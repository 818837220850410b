//! Limits: fuel, deadlines, memory and stack. A plugin that runs past them is stopped with a typed
//! error, and the host and other plugins go on.

use std::time::{Duration, Instant};

use componentry::{Engine, Error, Host, Limits, Plugin, PluginOptions};

use crate::guest;

/// A host whose engine meters fuel and ticks epochs every 10 ms.
pub fn limited_host() -> Host<()> {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    let engine = ENGINE
        .get_or_init(|| {
            let cache = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/componentry-test-cache");
            Engine::builder()
                .cache_dir(cache)
                .fuel(true)
                .epoch_interruption(Duration::from_millis(10))
                .build()
                .expect("engine")
        })
        .clone();
    Host::new(&engine).expect("host")
}

fn faults(limits: Limits) -> Plugin<()> {
    limited_host()
        .load_file_with(guest("faults"), PluginOptions::new().limits(limits))
        .expect("load faults")
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    let plugin = faults(Limits::new().fuel(1_000_000));
    match plugin.invoke("forever()") {
        Err(Error::FuelExhausted {
            plugin,
            function,
            consumed,
        }) => {
            assert_eq!(plugin, "faults");
            assert_eq!(function, "forever");
            assert_eq!(consumed, 1_000_000);
        }
        other => panic!("expected FuelExhausted, got {other:?}"),
    }
    assert_eq!(
        componentry::to_wave(&plugin.invoke("ok()").expect("next call")),
        r#""still fine""#
    );
}

#[test]
fn fuel_is_refilled_per_call_and_metered() {
    // Measure what one call burns, then give a budget of one and a half calls: two calls on one
    // instance succeed only if the budget is refilled between them.
    let mut probe = faults(Limits::new().fuel(u64::MAX / 4))
        .instantiate()
        .expect("instance");
    probe.invoke("spin(100000)").expect("measure");
    let one_call = probe.fuel_consumed().expect("metered");
    let plugin = faults(Limits::new().fuel(one_call * 3 / 2));
    let mut instance = plugin.instantiate().expect("instance");
    instance.invoke("spin(100000)").expect("fits the budget");
    assert_eq!(instance.fuel_consumed(), Some(one_call));
    instance
        .invoke("spin(100000)")
        .expect("fits again only because the budget was refilled");
    instance.invoke("spin(1000)").expect("metered small");
    let small = instance.fuel_consumed().expect("metered");
    assert!(small > 0 && one_call > 10 * small, "{small} vs {one_call}");
}

#[test]
fn an_endless_loop_is_stopped_at_its_deadline() {
    let plugin = faults(Limits::new().deadline(Duration::from_millis(100)));
    let started = Instant::now();
    match plugin.invoke("forever()") {
        Err(Error::DeadlineExceeded {
            plugin, deadline, ..
        }) => {
            assert_eq!(plugin, "faults");
            assert_eq!(deadline, Duration::from_millis(100));
        }
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    // Within the deadline plus a tick, with room for a loaded machine.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        componentry::to_wave(&plugin.invoke("ok()").expect("next call")),
        r#""still fine""#
    );
}

#[test]
fn a_call_within_its_deadline_completes() {
    let plugin = faults(Limits::new().deadline(Duration::from_secs(30)));
    let results = plugin.invoke("spin(10)").expect("quick");
    assert!(
        matches!(results[..], [componentry::Val::U64(_)]),
        "{results:?}"
    );
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let plugin = faults(Limits::new().max_memory(32 << 20));
    match plugin.invoke("allocate(1000)") {
        Err(Error::MemoryLimit {
            plugin,
            limit,
            requested,
            ..
        }) => {
            assert_eq!(plugin, "faults");
            assert_eq!(limit, 32 << 20);
            assert!(requested > limit, "{requested}");
        }
        other => panic!("expected MemoryLimit, got {other:?}"),
    }
    assert_eq!(
        componentry::to_wave(&plugin.invoke("allocate(4)").expect("within the limit")),
        "4"
    );
}

#[test]
fn deep_recursion_is_a_stack_overflow_trap() {
    let plugin = faults(Limits::new());
    match plugin.invoke("recurse(100000000)") {
        Err(Error::Trap { code, .. }) => {
            assert_eq!(code, Some(componentry::errors::Trap::StackOverflow))
        }
        other => panic!("expected a stack overflow, got {other:?}"),
    }
    assert_eq!(
        componentry::to_wave(&plugin.invoke("recurse(100)").expect("shallow")),
        "100"
    );
}

#[test]
fn limits_the_engine_cannot_enforce_are_refused_at_load() {
    let host = crate::host();
    for limits in [
        Limits::new().fuel(10),
        Limits::new().deadline(Duration::from_secs(1)),
    ] {
        let err = host
            .load_file_with(guest("faults"), PluginOptions::new().limits(limits))
            .expect_err("must be refused");
        assert!(err.to_string().contains("EngineBuilder"), "{err}");
    }
}

#[test]
fn one_misbehaving_plugin_does_not_disturb_the_others() {
    let hog = faults(
        Limits::new()
            .deadline(Duration::from_millis(200))
            .max_memory(32 << 20),
    );
    let good = limited_host().load_file(guest("types-echo")).expect("load");
    std::thread::scope(|scope| {
        let loops =
            scope.spawn(|| matches!(hog.invoke("forever()"), Err(Error::DeadlineExceeded { .. })));
        let bombs =
            scope.spawn(|| matches!(hog.invoke("allocate(1000)"), Err(Error::MemoryLimit { .. })));
        let panics =
            scope.spawn(|| matches!(hog.invoke(r#"panic-with("x")"#), Err(Error::Trap { .. })));
        let mut answers = 0;
        while !loops.is_finished() {
            let results = good.invoke("add(20, 22)").expect("the good plugin answers");
            assert_eq!(componentry::to_wave(&results), "42");
            answers += 1;
        }
        assert!(
            loops.join().expect("thread"),
            "the loop was stopped by its deadline"
        );
        assert!(
            bombs.join().expect("thread"),
            "the bomb hit the memory limit"
        );
        assert!(panics.join().expect("thread"), "the panic was a trap");
        assert!(answers > 0);
    });
}

#[test]
fn a_lifetime_fuel_budget_spans_calls_and_instances() {
    let plugin = faults(Limits::new().lifetime_fuel(20_000_000));
    let mut calls = 0;
    let exhausted = loop {
        // Fresh instances each time: the budget belongs to the plugin, not to an instance.
        match plugin.invoke("spin(100000)") {
            Ok(_) => calls += 1,
            Err(e) => break e,
        }
        assert!(calls < 10_000, "the lifetime budget never ran out");
    };
    assert!(
        matches!(exhausted, Error::FuelExhausted { .. }),
        "{exhausted}"
    );
    assert!(calls >= 1, "some calls fit the budget");
    assert!(
        matches!(plugin.invoke("ok()"), Err(Error::FuelExhausted { .. })),
        "once spent, the budget stays spent"
    );
}

/// A component whose start function and `work` export each burn `iterations` loop rounds
/// (6 units of fuel each), and whose `answer` export returns 42 and then burns `post` rounds in
/// its post-return function.
fn burner(start: u32, post: u32) -> String {
    format!(
        r#"(component
  (core module $m
    (func $burn (param $n i32)
      (block $done
        (br_if $done (i32.eqz (local.get $n)))
        (loop $l
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br_if $l (local.get $n)))))
    (func $start (call $burn (i32.const {start})))
    (start $start)
    (func (export "work") (param i32) (call $burn (local.get 0)))
    (func (export "answer") (result i32) (i32.const 42))
    (func (export "after-answer") (param i32) (call $burn (i32.const {post}))))
  (core instance $i (instantiate $m))
  (func (export "work") (param "rounds" u32) (canon lift (core func $i "work")))
  (func (export "answer") (result u32)
    (canon lift (core func $i "answer") (post-return (core func $i "after-answer")))))"#
    )
}

fn load_wat(wat: &str, limits: Limits) -> Plugin<()> {
    limited_host()
        .load_bytes_with(
            "burner",
            wat.as_bytes(),
            PluginOptions::new().limits(limits),
        )
        .expect("load")
}

#[test]
fn a_start_function_burns_the_budget_of_the_call_it_serves() {
    // 500k rounds are 3M units: each half fits 3.5M, the two together do not.
    let plugin = load_wat(&burner(500_000, 0), Limits::new().fuel(3_500_000));
    assert!(
        matches!(
            plugin.invoke("work(500000)"),
            Err(Error::FuelExhausted { .. })
        ),
        "instantiation and call share one budget"
    );
    // A held instance's instantiation is a call of its own.
    let mut instance = plugin.instantiate().expect("the start function fits");
    assert!(instance.fuel_consumed().expect("metered") >= 3_000_000);
    instance
        .invoke("work(500000)")
        .expect("the call has a budget of its own");
}

#[test]
fn a_lifetime_budget_counts_start_functions() {
    let plugin = load_wat(&burner(500_000, 0), Limits::new().lifetime_fuel(10_000_000));
    // Each fresh instance burns 3M in its start function and almost nothing in the call.
    let mut calls = 0;
    while plugin.invoke("work(1)").is_ok() {
        calls += 1;
        assert!(calls < 10, "instantiations were not counted");
    }
    assert_eq!(calls, 3, "10M covers three start functions of 3M, not four");
}

#[test]
fn post_return_work_counts_against_the_call() {
    let plugin = load_wat(&burner(0, 500_000), Limits::new().fuel(1_000_000));
    assert!(matches!(
        plugin.invoke("answer()"),
        Err(Error::FuelExhausted { .. })
    ));
    let generous = load_wat(&burner(0, 500_000), Limits::new().fuel(10_000_000));
    let mut instance = generous.instantiate().expect("instance");
    assert_eq!(
        componentry::to_wave(&instance.invoke("answer()").expect("answer")),
        "42"
    );
    assert!(instance.fuel_consumed().expect("metered") >= 3_000_000);
}

#[test]
fn the_memory_limit_bounds_all_memories_together() {
    // Four memories of 62.5 MiB (1000 pages) each, against a limit of 64 MiB.
    let wat = r#"(component
  (core module $m
    (memory 1000) (memory 1000) (memory 1000) (memory 1000)
    (func (export "f") (result i32) (i32.const 1)))
  (core instance $i (instantiate $m))
  (func (export "f") (result u32) (canon lift (core func $i "f"))))"#;
    let plugin = load_wat(wat, Limits::new().max_memory(64 << 20));
    match plugin.invoke("f()") {
        Err(Error::MemoryLimit {
            limit, requested, ..
        }) => {
            assert_eq!(limit, 64 << 20);
            assert!(requested > limit, "{requested}");
        }
        other => panic!("expected MemoryLimit, got {other:?}"),
    }
    // Growing several small memories is summed too: the fourth growth is refused.
    let wat = r#"(component
  (core module $m
    (memory 1) (memory 1) (memory 1) (memory 1)
    (func (export "grow") (result i32)
      (i32.add
        (i32.add
          (i32.ne (memory.grow 0 (i32.const 300)) (i32.const -1))
          (i32.ne (memory.grow 1 (i32.const 300)) (i32.const -1)))
        (i32.add
          (i32.ne (memory.grow 2 (i32.const 300)) (i32.const -1))
          (i32.ne (memory.grow 3 (i32.const 300)) (i32.const -1))))))
  (core instance $i (instantiate $m))
  (func (export "grow") (result u32) (canon lift (core func $i "grow"))))"#;
    let plugin = load_wat(wat, Limits::new().max_memory(64 << 20));
    // 4 pages + 3 x 300 pages = 56.5 MiB fit; a fourth 300 pages would make 75 MiB.
    assert_eq!(
        componentry::to_wave(&plugin.invoke("grow()").expect("grow")),
        "3"
    );
}

#[test]
fn the_table_limit_bounds_all_tables_together() {
    let wat = r#"(component
  (core module $m
    (table 60000 funcref) (table 60000 funcref)
    (func (export "f") (result i32) (i32.const 1)))
  (core instance $i (instantiate $m))
  (func (export "f") (result u32) (canon lift (core func $i "f"))))"#;
    let plugin = load_wat(wat, Limits::new().max_table_elements(100_000));
    match plugin.invoke("f()") {
        Err(Error::TableLimit {
            limit, requested, ..
        }) => {
            assert_eq!(limit, 100_000);
            assert_eq!(requested, 120_000);
        }
        other => panic!("expected TableLimit, got {other:?}"),
    }
    let roomy = load_wat(wat, Limits::new().max_table_elements(120_000));
    assert_eq!(
        componentry::to_wave(&roomy.invoke("f()").expect("fits")),
        "1"
    );
}

#[test]
fn the_instance_cap_bounds_core_instances() {
    let wat = r#"(component
  (core module $m (func (export "f") (result i32) (i32.const 1)))
  (core instance $a (instantiate $m))
  (core instance $b (instantiate $m))
  (core instance $c (instantiate $m))
  (func (export "f") (result u32) (canon lift (core func $c "f"))))"#;
    let plugin = load_wat(wat, Limits::new().max_instances(2));
    let err = plugin
        .invoke("f()")
        .expect_err("three core instances, two allowed");
    assert!(err.to_string().contains("instance"), "{err}");
    let roomy = load_wat(wat, Limits::new().max_instances(3));
    assert_eq!(
        componentry::to_wave(&roomy.invoke("f()").expect("fits")),
        "1"
    );
}

#[test]
fn shared_memories_are_refused() {
    let wat = r#"(component
  (core module $m (memory 1 1 shared) (func (export "f") (result i32) (i32.const 1)))
  (core instance $i (instantiate $m))
  (func (export "f") (result u32) (canon lift (core func $i "f"))))"#;
    let err = limited_host()
        .load_bytes_with("shared", wat.as_bytes(), PluginOptions::new())
        .expect_err("threads are not enabled");
    assert!(err.is_load_error(), "{err}");
    assert!(
        err.to_string().contains("shared") || err.to_string().contains("threads"),
        "{err}"
    );
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[test]
fn open_handles_are_capped_per_instance() {
    let data = tempfile::tempdir().expect("tempdir");
    std::fs::write(data.path().join("f.txt"), "x").expect("write");
    let prober = |limits: Limits| {
        limited_host()
            .load_file_with(
                guest("prober"),
                PluginOptions::new()
                    .grants(componentry::Grants::none().dir(data.path(), "/data"))
                    .limits(limits),
            )
            .expect("load prober")
    };
    let before = open_fds();
    let plugin = prober(Limits::new());
    let (logs, outcome) =
        crate::logs::capture_logs(|| plugin.invoke(r#"probe#open-many("/data", "f.txt", 20000)"#));
    match outcome {
        Err(Error::HandleLimit { limit, .. }) => {
            assert_eq!(limit, 1024, "the documented default of Limits::max_handles")
        }
        other => panic!("expected HandleLimit, got {other:?}"),
    }
    assert_eq!(
        logs.matches("refused to open more than").count(),
        1,
        "{logs}"
    );
    // The descriptors went with the instance; the host never came near its own limit.
    assert!(open_fds() <= before + 8, "{before} -> {}", open_fds());
    // Pollables count too, without any grant.
    assert!(matches!(
        plugin.invoke("probe#hold-pollables(5000)"),
        Err(Error::HandleLimit { .. })
    ));
    // What the cap allows works (a clock pollable holds two table entries: the wait and the
    // pollable over it).
    let roomy = prober(Limits::new().max_handles(12_000));
    assert_eq!(
        componentry::to_wave(&roomy.invoke("probe#hold-pollables(5000)").expect("fits")),
        "5000"
    );
    assert_eq!(
        componentry::to_wave(
            &plugin
                .invoke(r#"probe#open-many("/data", "f.txt", 100)"#)
                .expect("fits")
        ),
        "ok(100)"
    );
}

/// A component exporting a resource `thing` whose destructor burns 500k rounds (3M units).
pub const COSTLY_DESTRUCTOR: &str = r#"(component
  (core module $dtor
    (func (export "dtor") (param i32)
      (local $n i32)
      (local.set $n (i32.const 500000))
      (loop $l
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br_if $l (local.get $n)))))
  (core instance $d (instantiate $dtor))
  (type $thing (resource (rep i32) (dtor (core func $d "dtor"))))
  (core func $new (canon resource.new $thing))
  (core module $m
    (import "" "new" (func $new (param i32) (result i32)))
    (func (export "make") (result i32) (call $new (i32.const 7))))
  (core instance $i (instantiate $m (with "" (instance (export "new" (func $new))))))
  (export $exported "thing" (type $thing))
  (func (export "make") (result (own $exported)) (canon lift (core func $i "make"))))"#;

#[test]
fn resource_destructors_count_against_the_lifetime_budget() {
    let plugin = load_wat(COSTLY_DESTRUCTOR, Limits::new().lifetime_fuel(10_000_000));
    let mut destroyed = 0;
    for _ in 0..10 {
        let Ok(mut instance) = plugin.instantiate() else {
            break;
        };
        let Ok(results) = instance.call("make", &[]) else {
            break;
        };
        let Some(componentry::Val::Resource(thing)) = results.into_iter().next() else {
            panic!("make returns a resource");
        };
        // The host drops the resource: the plugin's destructor runs, outside the call that
        // made it, and its fuel comes from the same lifetime budget.
        if instance.drop_resource(thing).is_err() {
            break;
        }
        destroyed += 1;
    }
    assert_eq!(destroyed, 3, "10M covers three destructors of 3M, not four");
    assert!(matches!(
        plugin.invoke("make()"),
        Err(Error::FuelExhausted { .. })
    ));
}
