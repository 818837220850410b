//! Limits: fuel, deadlines, memory and stack. A plugin that runs past them is stopped with a typed
//! error, and the host and other plugins go on.

use std::time::{Duration, Instant};

use componentry::{Engine, Error, Host, Limits, Plugin, PluginOptions};

use crate::guest;

fn limited_host() -> Host<()> {
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
    let plugin = faults(Limits::new().fuel(5_000_000));
    let mut instance = plugin.instantiate().expect("instance");
    instance.invoke("spin(1000)").expect("fits the budget");
    let small = instance.fuel_consumed().expect("metered");
    instance
        .invoke("spin(100000)")
        .expect("fits the budget again: refilled");
    let large = instance.fuel_consumed().expect("metered");
    assert!(small > 0 && large > 10 * small, "{small} vs {large}");
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
            assert_eq!(code, Some(componentry::wasmtime::Trap::StackOverflow))
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
