//! Many calls at once inside one instance (`PluginInstance::call_concurrent`): calls of a WASI
//! 0.3 plugin's async exports overlap, at most the instance's cap at a time; the batch has one
//! deadline; a trap in one call fails them all and the instance. And the streams and futures a
//! dynamic call returns, read to their end within the call, under the memory limit and deadline.

use std::time::{Duration, Instant};

use componentry::{Error, Limits, Plugin, PluginInstance, Val};

use crate::async_limits::p3_tasks;
use crate::wasi_p3::block_on;

/// `count` calls of `overlap(millis)`.
fn overlaps(count: usize, millis: u64) -> Vec<(&'static str, Vec<Val>)> {
    (0..count)
        .map(|_| ("overlap", vec![Val::U64(millis)]))
        .collect()
}

/// The most calls of `overlap` in flight at once that the results of a batch report.
fn peak(results: &[Vec<Val>]) -> u32 {
    results
        .iter()
        .map(|result| match result.as_slice() {
            [Val::U32(peak)] => *peak,
            other => panic!("overlap returns a u32, got {other:?}"),
        })
        .max()
        .unwrap_or_default()
}

fn async_instance(plugin: &Plugin<()>) -> PluginInstance<()> {
    block_on(plugin.instantiate_async()).expect("an instance")
}

#[test]
fn calls_of_async_exports_overlap_inside_one_instance() {
    let host = crate::asynchronous::async_host(false);
    let plugin = p3_tasks(&host, Limits::new());
    let mut instance = async_instance(&plugin);
    let results = block_on(instance.call_concurrent_async(overlaps(8, 100))).expect("the batch");
    assert_eq!(results.len(), 8, "one result per call, in order");
    assert_eq!(peak(&results), 8, "all eight were under way at once");
    // The instance goes on taking calls, one at a time too.
    let one = block_on(instance.call_async("overlap", &[Val::U64(0)])).expect("a single call");
    assert_eq!(one, vec![Val::U32(8)]);
}

#[test]
fn the_per_instance_cap_bounds_the_calls_under_way() {
    let host = crate::asynchronous::async_host(false);
    assert_eq!(
        Limits::new().get_max_concurrent_calls(),
        16,
        "the documented default"
    );
    let plugin = p3_tasks(&host, Limits::new().max_concurrent_calls(3));
    let mut instance = async_instance(&plugin);
    let results = block_on(instance.call_concurrent_async(overlaps(9, 50))).expect("the batch");
    assert_eq!(results.len(), 9, "every call ran, three at a time");
    assert_eq!(peak(&results), 3);
}

#[test]
fn a_trap_in_one_call_fails_the_calls_sharing_the_instance_and_the_instance() {
    let host = crate::asynchronous::async_host(false);
    let plugin = p3_tasks(&host, Limits::new());
    let mut instance = async_instance(&plugin);
    let mut calls = overlaps(3, 60_000);
    calls.push(("trap-after", vec![Val::U64(50)]));
    let started = Instant::now();
    match block_on(instance.call_concurrent_async(calls)) {
        Err(Error::Trap {
            plugin, function, ..
        }) => {
            assert_eq!(plugin, "p3-tasks");
            assert_eq!(
                function, "trap-after",
                "the failure names the call that trapped"
            );
        }
        other => panic!("expected the trap, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the calls sharing the instance did not run on: {:?}",
        started.elapsed()
    );
    match block_on(instance.call_async("overlap", &[Val::U64(0)])) {
        Err(Error::InstanceFailed { plugin }) => assert_eq!(plugin, "p3-tasks"),
        other => panic!("the failed instance must refuse calls, got {other:?}"),
    }
    // The plugin goes on, on a fresh instance.
    let fresh = block_on(plugin.call_async("overlap", &[Val::U64(0)])).expect("a fresh instance");
    assert_eq!(fresh, vec![Val::U32(1)]);
}

#[test]
fn one_deadline_covers_the_whole_batch() {
    let host = crate::asynchronous::async_host(false);
    let plugin = p3_tasks(&host, Limits::new().deadline(Duration::from_millis(300)));
    let mut instance = async_instance(&plugin);
    match block_on(instance.call_concurrent_async(overlaps(4, 60_000))) {
        Err(Error::DeadlineExceeded {
            plugin, deadline, ..
        }) => {
            assert_eq!(plugin, "p3-tasks");
            assert_eq!(deadline, Duration::from_millis(300));
        }
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    assert!(matches!(
        block_on(instance.call_async("overlap", &[Val::U64(0)])),
        Err(Error::InstanceFailed { .. })
    ));
}

#[test]
fn every_argument_is_checked_before_any_call_of_the_batch_runs() {
    let host = crate::asynchronous::async_host(false);
    let plugin = p3_tasks(&host, Limits::new());
    let mut instance = async_instance(&plugin);
    let mut calls = overlaps(2, 0);
    calls.push(("overlap", vec![Val::String("soon".to_owned())]));
    match block_on(instance.call_concurrent_async(calls)) {
        Err(Error::BadArguments { function, .. }) => assert_eq!(function, "overlap"),
        other => panic!("expected BadArguments, got {other:?}"),
    }
    // None of the batch ran: the first call the instance sees is alone.
    let first = block_on(instance.call_async("overlap", &[Val::U64(0)])).expect("the instance");
    assert_eq!(first, vec![Val::U32(1)]);
}

#[test]
fn a_synchronous_host_runs_a_batch_on_the_calling_thread() {
    let host = crate::host();
    let plugin = p3_tasks(&host, Limits::new());
    let mut instance = plugin.instantiate().expect("an instance");
    let results = instance
        .call_concurrent(overlaps(4, 50))
        .expect("the batch");
    assert_eq!(peak(&results), 4);
}

#[test]
fn a_returned_stream_is_read_to_its_end_and_a_future_to_its_value() {
    let host = crate::asynchronous::async_host(false);
    let plugin = p3_tasks(&host, Limits::new());
    let numbers = block_on(plugin.call_async("numbers", &[Val::U32(5)])).expect("numbers");
    assert_eq!(
        numbers,
        vec![Val::List((0..5).map(Val::U32).collect())],
        "a stream<u32> is the list of its items"
    );
    let many = block_on(plugin.call_async("numbers", &[Val::U32(10_000)])).expect("many");
    match many.as_slice() {
        [Val::List(items)] => {
            assert_eq!(items.len(), 10_000);
            assert_eq!(items.last(), Some(&Val::U32(9_999)));
        }
        other => panic!("expected a list, got {other:?}"),
    }
    let later = block_on(plugin.invoke_async("later(7, 20)")).expect("later");
    assert_eq!(later, vec![Val::Option(Some(Box::new(Val::U32(7))))]);
    // A synchronous host reads them too.
    let sync_host = crate::host();
    let plugin = p3_tasks(&sync_host, Limits::new());
    assert_eq!(
        plugin.invoke("numbers(3)").expect("numbers"),
        vec![Val::List((0..3).map(Val::U32).collect())]
    );
}

#[test]
fn a_stream_argument_is_given_as_its_items_and_a_future_argument_as_its_value() {
    let host = crate::asynchronous::async_host(false);
    let plugin = p3_tasks(&host, Limits::new());
    // As WAVE text ...
    assert_eq!(
        block_on(plugin.invoke_async("sum([1, 2, 3, 4])")).expect("sum"),
        vec![Val::U64(10)]
    );
    assert_eq!(
        block_on(plugin.invoke_async(r#"join(["a", "b", "c"], "-")"#)).expect("join"),
        vec![Val::String("a-b-c".into())]
    );
    assert_eq!(
        block_on(plugin.invoke_async("sum([])")).expect("an empty stream"),
        vec![Val::U64(0)]
    );
    assert_eq!(
        block_on(plugin.invoke_async("successor(41)")).expect("successor"),
        vec![Val::U32(42)]
    );
    // ... as values, one call at a time and in a batch ...
    let many: Vec<Val> = (1..=10_000).map(Val::U32).collect();
    assert_eq!(
        block_on(plugin.call_async("sum", &[Val::List(many.clone())])).expect("many"),
        vec![Val::U64(50_005_000)]
    );
    let mut instance = async_instance(&plugin);
    let batch = block_on(instance.call_concurrent_async([
        ("sum", vec![Val::List(many)]),
        ("successor", vec![Val::U32(1)]),
    ]))
    .expect("a batch");
    assert_eq!(batch, vec![vec![Val::U64(50_005_000)], vec![Val::U32(2)]]);
    // ... and on a synchronous host.
    let sync_host = crate::host();
    let plugin = p3_tasks(&sync_host, Limits::new());
    assert_eq!(
        plugin.invoke("sum([5, 6])").expect("sum"),
        vec![Val::U64(11)]
    );
}

#[test]
fn a_stream_or_future_argument_of_the_wrong_form_is_refused_before_the_call() {
    let host = crate::host();
    let plugin = p3_tasks(&host, Limits::new());
    let refused = |result: componentry::Result<Vec<Val>>| match result {
        Err(Error::BadArguments { plugin, reason, .. }) => {
            assert_eq!(plugin, "p3-tasks");
            reason
        }
        other => panic!("expected BadArguments, got {other:?}"),
    };
    let reason = refused(plugin.invoke("sum(3)"));
    assert!(
        reason.contains("a stream is written as the list of its items"),
        "{reason}"
    );
    assert!(
        reason.contains("stream<u32>"),
        "the signature names the payload: {reason}"
    );
    let reason = refused(plugin.invoke(r#"sum(["x"])"#));
    assert!(reason.contains("argument `numbers`"), "{reason}");
    let reason = refused(plugin.call("sum", &[Val::List(vec![Val::String("x".into())])]));
    assert!(reason.contains("item 0 of the stream"), "{reason}");
    let reason = refused(plugin.call("sum", &[Val::U32(3)]));
    assert!(
        reason.contains("the list of a stream<u32>'s items"),
        "{reason}"
    );
    let reason = refused(plugin.call("successor", &[Val::String("x".into())]));
    assert!(reason.contains("the future's value"), "{reason}");
    assert_eq!(plugin.stats().calls, 0, "no call ran");
}

#[test]
fn a_stream_that_never_ends_is_stopped_by_the_memory_limit_or_the_deadline() {
    let host = crate::asynchronous::async_host(false);
    let limit = 4 << 20;
    let plugin = p3_tasks(
        &host,
        Limits::new()
            .max_memory(limit)
            .deadline(Duration::from_secs(20)),
    );
    // Four billion numbers: far more than the plugin's memory limit allows the host to hold.
    match block_on(plugin.call_async("numbers", &[Val::U32(u32::MAX)])) {
        Err(Error::MemoryLimit {
            plugin,
            function,
            limit: at,
            requested,
        }) => {
            assert_eq!(plugin, "p3-tasks");
            assert_eq!(function, "numbers");
            assert_eq!(at, limit);
            assert!(requested > limit, "{requested}");
        }
        other => panic!("expected MemoryLimit, got {other:?}"),
    }
    let plugin = p3_tasks(&host, Limits::new().deadline(Duration::from_millis(300)));
    // A future the plugin writes only after an hour: the deadline ends the wait.
    match block_on(plugin.invoke_async("later(1, 3600000)")) {
        Err(Error::DeadlineExceeded { function, .. }) => assert_eq!(function, "later"),
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
}

#[test]
fn dropping_a_call_cancels_its_tasks_and_the_plugin_goes_on() {
    let host = crate::asynchronous::async_host(false);
    let plugin = p3_tasks(&host, Limits::new());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut instance = runtime
        .block_on(plugin.instantiate_async())
        .expect("an instance");
    let started = Instant::now();
    // A batch waiting an hour, dropped after 100 ms.
    let dropped = runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_millis(100),
            instance.call_concurrent_async(overlaps(4, 3_600_000)),
        )
        .await
    });
    assert!(dropped.is_err(), "the batch was still waiting when dropped");
    assert!(started.elapsed() < Duration::from_secs(10));
    // The instance it ran on takes no more calls (its tasks were cancelled half-way) ...
    match runtime.block_on(instance.call_async("overlap", &[Val::U64(0)])) {
        Err(Error::InstanceFailed { .. }) => {}
        other => panic!("expected InstanceFailed, got {other:?}"),
    }
    // ... dropping it frees what they held, and the plugin goes on.
    drop(instance);
    assert_eq!(plugin.stats().instances_live, 0);
    let fresh = runtime
        .block_on(plugin.call_async("overlap", &[Val::U64(0)]))
        .expect("a fresh instance");
    assert_eq!(fresh, vec![Val::U32(1)]);
}
