//! Hostile WASI 0.3 plugins against the limits: a guest that hoards streams, futures or waits,
//! one that waits for what never comes, and one that floods its stdout are each stopped with a
//! typed error, and the host (and the plugin's next call) goes on.

use std::time::{Duration, Instant};

use componentry::{Error, Host, Limits, Plugin, PluginOptions, Val};

use crate::guest;
use crate::wasi_p3::block_on;

/// The `p3-tasks` guest with `limits`.
pub(crate) fn p3_tasks(host: &Host<()>, limits: Limits) -> Plugin<()> {
    host.load_file_with(guest("p3-tasks"), PluginOptions::new().limits(limits))
        .expect("the WASI 0.3 tasks plugin loads")
}

/// Calls `name(arg)` on `plugin` on a fresh instance.
fn call(plugin: &Plugin<()>, name: &str, args: &[Val]) -> componentry::Result<Vec<Val>> {
    block_on(plugin.call_async(name, args))
}

/// Asserts that `outcome` is the component-handle limit of `plugin`'s `function`, at `limit`.
fn assert_handle_limit(outcome: componentry::Result<Vec<Val>>, function: &str, limit: usize) {
    match outcome {
        Err(Error::ComponentHandleLimit {
            plugin,
            function: stopped,
            limit: at,
        }) => {
            assert_eq!(plugin, "p3-tasks");
            assert_eq!(stopped, function);
            assert_eq!(at, limit);
        }
        other => panic!("expected ComponentHandleLimit in `{function}`, got {other:?}"),
    }
}

/// The plugin still answers: a fresh instance makes 10 streams within any limit used here.
fn assert_still_serves(plugin: &Plugin<()>) {
    let answer = call(plugin, "hoard-streams", &[Val::U32(10)]).expect("the next call runs");
    assert_eq!(answer, vec![Val::U32(10)]);
}

#[test]
fn a_guest_hoarding_streams_is_stopped_at_the_component_handle_limit() {
    let host = crate::asynchronous::async_host(false);
    let plugin = p3_tasks(&host, Limits::new().max_component_handles(500));
    // Within the limit: two handles a stream (its two ends), 200 streams.
    let within = call(&plugin, "hoard-streams", &[Val::U32(200)]).expect("within the limit");
    assert_eq!(within, vec![Val::U32(200)]);
    let outcome = call(&plugin, "hoard-streams", &[Val::U32(u32::MAX)]);
    assert_handle_limit(outcome, "hoard-streams", 500);
    assert_still_serves(&plugin);
}

#[test]
fn a_guest_hoarding_futures_is_stopped_by_the_default_limit() {
    let host = crate::asynchronous::async_host(false);
    let plugin = p3_tasks(&host, Limits::new());
    assert_eq!(
        Limits::new().get_max_component_handles(),
        10_000,
        "the documented default"
    );
    let outcome = call(&plugin, "hoard-futures", &[Val::U32(u32::MAX)]);
    assert_handle_limit(outcome, "hoard-futures", 10_000);
    assert_still_serves(&plugin);
}

#[test]
fn a_guest_starting_waits_without_bound_is_stopped_at_the_limit() {
    let host = crate::asynchronous::async_host(false);
    let plugin = p3_tasks(&host, Limits::new().max_component_handles(300));
    // Each wait the guest starts and does not finish is a subtask: a handle of its own.
    let started = Instant::now();
    let outcome = call(&plugin, "hoard-waits", &[Val::U32(100_000)]);
    assert_handle_limit(outcome, "hoard-waits", 300);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "stopped at once"
    );
    assert_still_serves(&plugin);
}

#[test]
fn async_work_past_what_the_component_handles_allow_is_that_limit_not_the_host_handles() {
    let host = crate::asynchronous::async_host(false);
    // 200 calls under way at once need more of wasmtime's host-side task state than 8 component
    // handles allow, while the plugin's own table of host handles stays nearly empty.
    let plugin = p3_tasks(
        &host,
        Limits::new()
            .max_component_handles(8)
            .max_concurrent_calls(200),
    );
    let mut instance = block_on(plugin.instantiate_async()).expect("an instance");
    let calls: Vec<_> = (0..200).map(|_| ("overlap", vec![Val::U64(1)])).collect();
    match block_on(instance.call_concurrent_async(calls)) {
        Err(Error::ComponentHandleLimit { plugin, limit, .. }) => {
            assert_eq!(plugin, "p3-tasks");
            assert_eq!(limit, 8);
        }
        other => panic!("expected ComponentHandleLimit, got {other:?}"),
    }
    let answer = call(&plugin, "overlap", &[Val::U64(0)]).expect("the next call runs");
    assert_eq!(answer, vec![Val::U32(1)]);
}

#[test]
fn a_future_that_nothing_can_resolve_is_stopped_as_a_deadlock_without_a_deadline() {
    let host = crate::asynchronous::async_host(false);
    let plugin = p3_tasks(&host, Limits::new());
    let started = Instant::now();
    // The guest waits for a future whose writer it holds and never writes: no task of the call
    // can make progress, and nothing the host does could change that.
    match call(&plugin, "never-resolves", &[]) {
        Err(Error::Trap {
            plugin,
            function,
            code,
            ..
        }) => {
            assert_eq!(plugin, "p3-tasks");
            assert_eq!(function, "never-resolves");
            assert_eq!(code, Some(wasmtime::Trap::AsyncDeadlock));
        }
        other => panic!("expected a deadlock trap, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_still_serves(&plugin);
}

#[test]
fn a_stream_writer_that_never_stops_is_stopped_by_the_deadline() {
    let host = crate::asynchronous::async_host(false);
    let plugin = p3_tasks(&host, Limits::new().deadline(Duration::from_millis(400)));
    let started = Instant::now();
    match call(&plugin, "flood-stdout", &[]) {
        Err(Error::DeadlineExceeded { function, .. }) => assert_eq!(function, "flood-stdout"),
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_still_serves(&plugin);
}
