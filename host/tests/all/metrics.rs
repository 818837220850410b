//! Per-plugin metrics (`Plugin::stats`) and the spans of load, compile, instantiate and call.

use std::time::Duration;

use componentry::{Limits, PluginOptions};

use crate::guest;
use crate::limits::limited_host;
use crate::logs::capture_spans;

#[test]
fn stats_count_calls_errors_by_kind_fuel_latency_and_instances() {
    let plugin = limited_host()
        .load_file_with(
            guest("faults"),
            PluginOptions::new().limits(Limits::new().fuel(50_000_000)),
        )
        .expect("load faults");
    let fresh = plugin.stats();
    assert_eq!(fresh.calls, 0);
    assert_eq!(fresh.latency.count(), 0);

    for _ in 0..3 {
        plugin.invoke("divide(10, 2)").expect("call");
    }
    plugin.invoke("divide(1, 0)").expect_err("a trap");
    plugin.invoke("forever()").expect_err("out of fuel");
    plugin.invoke("allocate(1)").expect("a MiB allocated");
    let mut held = plugin.instantiate().expect("instance");
    held.invoke("ok()").expect("call");

    let stats = plugin.stats();
    assert_eq!(stats.calls, 7, "{stats:?}");
    assert_eq!(stats.errors.get("trap"), Some(&1), "{stats:?}");
    assert_eq!(stats.errors.get("fuel"), Some(&1), "{stats:?}");
    assert_eq!(stats.failed_calls(), 2);
    assert!(
        stats.fuel_consumed >= 50_000_000,
        "the call that ran out burned its whole budget: {stats:?}"
    );
    assert!(
        stats.memory_high_water >= 1 << 20,
        "one instance held over a MiB: {stats:?}"
    );
    assert_eq!(stats.latency.count(), 7);
    let median = stats.latency.quantile(0.5).expect("a median");
    assert!(median < Duration::from_secs(1), "{median:?}");
    assert!(stats.latency.mean().is_some());
    assert_eq!(stats.instances_live, 1, "only the held instance is alive");
    assert_eq!(stats.instances_created, 7);
    drop(held);
    assert_eq!(plugin.stats().instances_live, 0);
}

#[test]
fn calls_on_a_kept_instance_are_counted_all_and_timed_one_in_64() {
    let plugin = limited_host()
        .load_file(guest("faults"))
        .expect("load faults");
    let mut instance = plugin.instantiate().expect("instance");
    let mut other = plugin.instantiate().expect("instance");
    for _ in 0..129 {
        instance.invoke("ok()").expect("call");
    }
    other.invoke("ok()").expect("call");
    let stats = plugin.stats();
    assert_eq!(stats.calls, 130, "counted while the instances live");
    assert_eq!(
        stats.latency.count(),
        4,
        "the 1st, 65th and 129th of one, the 1st of the other"
    );
    drop(instance);
    assert_eq!(plugin.stats().calls, 130, "and once they are gone");
    other.invoke("ok()").expect("call");
    drop(other);
    assert_eq!(plugin.stats().calls, 131);
}

#[test]
fn a_failed_instantiation_counts_as_a_failed_call() {
    // The guest's start-up needs more memory than this limit allows.
    let plugin = limited_host()
        .load_file_with(
            guest("faults"),
            PluginOptions::new().limits(Limits::new().max_memory(64 * 1024)),
        )
        .expect("load faults");
    let error = plugin.invoke("ok()").expect_err("cannot instantiate");
    let stats = plugin.stats();
    assert_eq!(stats.calls, 1, "{stats:?}");
    assert_eq!(stats.errors.get(error.kind()), Some(&1), "{stats:?}");
    assert_eq!(stats.instances_created, 0);
}

/// Set in the process that [`spans_of_one_load_and_call`] runs in.
const SPANS_CHILD: &str = "COMPONENTRY_TEST_SPANS_CHILD";

#[test]
fn load_compile_instantiate_and_call_have_spans_naming_the_plugin_and_version() {
    // tracing caches, per callsite, whether any subscriber wants it; with other tests running on
    // other threads without a subscriber, that cache makes a thread's own subscriber miss
    // spans. So the spans are captured in a process of their own, running one test.
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "metrics::spans_of_one_load_and_call"])
        .args(["--ignored", "--nocapture", "--test-threads", "1"])
        .env(SPANS_CHILD, "1")
        .output()
        .expect("run the test binary");
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{log}");
    for span in [
        "load{plugin=\"faults\" version=2.1.0}",
        "compile{plugin=\"faults\" cached=",
        "instantiate{plugin=\"faults\" version=2.1.0}",
        "call{plugin=\"faults\" version=2.1.0 function=\"divide\"}",
    ] {
        assert!(log.contains(span), "no span `{span}` in:\n{log}");
    }
}

/// Prints the spans of one load and one call (run by the test above, in a process of its own).
#[test]
#[ignore = "run by load_compile_instantiate_and_call_have_spans_naming_the_plugin_and_version"]
fn spans_of_one_load_and_call() {
    if std::env::var_os(SPANS_CHILD).is_none() {
        return;
    }
    let (log, ()) = capture_spans(tracing::Level::DEBUG, || {
        let plugin = limited_host()
            .load_file_with(
                guest("faults"),
                PluginOptions::new().version("2.1.0".parse().expect("version")),
            )
            .expect("load faults");
        plugin.invoke("divide(9, 3)").expect("call");
    });
    println!("{log}");
}

/// With the `metrics` feature, every count also reaches the `metrics` crate's recorder.
#[cfg(feature = "metrics")]
mod exported {
    use std::sync::{Arc, Mutex};

    use metrics::{
        Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata,
        Recorder, SharedString, Unit,
    };

    use crate::guest;
    use crate::limits::limited_host;

    /// One value given to the recorder: the metric's name, its labels, the value.
    type Entry = (String, Vec<(String, String)>, f64);

    #[derive(Clone, Default)]
    struct Recorded(Arc<Mutex<Vec<Entry>>>);

    struct Handle {
        key: Key,
        into: Recorded,
    }

    impl Handle {
        fn push(&self, value: f64) {
            let labels = self
                .key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            self.into
                .0
                .lock()
                .expect("entries")
                .push((self.key.name().to_owned(), labels, value));
        }
    }

    impl CounterFn for Handle {
        fn increment(&self, value: u64) {
            self.push(value as f64);
        }
        fn absolute(&self, value: u64) {
            self.push(value as f64);
        }
    }

    impl GaugeFn for Handle {
        fn increment(&self, value: f64) {
            self.push(value);
        }
        fn decrement(&self, value: f64) {
            self.push(-value);
        }
        fn set(&self, value: f64) {
            self.push(value);
        }
    }

    impl HistogramFn for Handle {
        fn record(&self, value: f64) {
            self.push(value);
        }
    }

    impl Recorded {
        fn handle(&self, key: &Key) -> Arc<Handle> {
            Arc::new(Handle {
                key: key.clone(),
                into: self.clone(),
            })
        }

        fn values(&self, name: &str) -> Vec<(Vec<(String, String)>, f64)> {
            self.0
                .lock()
                .expect("entries")
                .iter()
                .filter(|(n, _, _)| n == name)
                .map(|(_, labels, value)| (labels.clone(), *value))
                .collect()
        }
    }

    impl Recorder for Recorded {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            Counter::from_arc(self.handle(key))
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::from_arc(self.handle(key))
        }
        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::from_arc(self.handle(key))
        }
    }

    fn label(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    #[test]
    fn calls_errors_latency_and_instances_reach_the_recorder() {
        let plugin = limited_host()
            .load_file(guest("faults"))
            .expect("load faults");
        let recorded = Recorded::default();
        metrics::with_local_recorder(&recorded, || {
            plugin.invoke("divide(4, 2)").expect("call");
            plugin.invoke("divide(1, 0)").expect_err("a trap");
        });
        let faults = vec![label("plugin", "faults")];
        assert_eq!(
            recorded.values("componentry_calls_total"),
            vec![(faults.clone(), 1.0), (faults.clone(), 1.0)]
        );
        assert_eq!(
            recorded.values("componentry_call_errors_total"),
            vec![(vec![label("plugin", "faults"), label("kind", "trap")], 1.0)]
        );
        let latencies = recorded.values("componentry_call_seconds");
        assert_eq!(latencies.len(), 2);
        assert!(
            latencies
                .iter()
                .all(|(l, s)| *l == faults && *s > 0.0 && *s < 10.0)
        );
        let live: Vec<f64> = recorded
            .values("componentry_instances_live")
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert_eq!(live.last(), Some(&0.0), "every instance dropped: {live:?}");
        assert!(live.contains(&1.0), "{live:?}");
    }
}
