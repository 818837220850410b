//! Per-plugin metrics: calls, errors by kind, fuel, call latency, memory high-water mark and
//! instances, counted on the one call path and shared by every version and instance of a plugin.
//!
//! Counting costs a few relaxed atomic additions per call; a kept instance counts its calls in a
//! counter of its own, which only it writes (no locked addition per call), and which reading
//! ([`Plugin::stats`]) adds to the rest of the snapshot. With the `metrics` feature, every count is also given to the
//! [`metrics`](https://docs.rs/metrics) crate's recorder, labelled with the plugin's name, so that
//! an application's exporter (Prometheus, OpenTelemetry, ...) publishes them.
//!
//! [`Plugin::stats`]: crate::Plugin::stats

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::Error;

/// The upper bounds of the latency histogram's buckets: 1 µs, then doubling, to about 34 s; a
/// last bucket holds everything slower.
const BUCKETS: usize = 26;

/// The upper bound of bucket `at`, in nanoseconds.
fn bucket_bound_nanos(at: usize) -> u64 {
    1_000u64 << at
}

/// The bucket a call of `nanos` falls in.
fn bucket_of(nanos: u64) -> usize {
    // Bucket `b` holds calls of at most 1 µs << b: the bit length of (nanos - 1) / 1000 finds it.
    let micros = nanos.saturating_sub(1) / 1_000;
    let bits = (u64::BITS - micros.leading_zeros()) as usize;
    bits.min(BUCKETS)
}

/// The counters of one plugin. A call costs one atomic addition (a plain one on a kept instance's
/// own counter), two more when it is timed (its latency bucket and the total time) and one when it
/// is metered; the memory high-water mark is written only when it rises.
#[derive(Default)]
pub(crate) struct Metrics {
    calls: AtomicU64,
    /// The call counters of kept instances (see [`KeptCalls`]), until they are dropped and their
    /// counts added to `calls`.
    kept: Mutex<Vec<Arc<CallCount>>>,
    fuel: AtomicU64,
    latency: [AtomicU64; BUCKETS + 1],
    latency_total_nanos: AtomicU64,
    memory_high_water: AtomicU64,
    instances_live: AtomicU64,
    instances_created: AtomicU64,
    /// Touched on failures only.
    errors: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// Counts a call (or a failed instantiation for one) that took `elapsed` (when it was
    /// timed), burned `fuel` (when metered) and left its instance with `memory` bytes of linear
    /// memory.
    /// `kept` is the counter of the instance the call ran on, if it has one.
    #[inline]
    pub(crate) fn call_ended(
        &self,
        plugin: &str,
        kept: Option<&KeptCalls>,
        elapsed: Option<Duration>,
        fuel: Option<u64>,
        memory: usize,
        error: Option<&Error>,
    ) {
        match kept {
            Some(kept) => kept.add_one(),
            None => {
                self.calls.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(elapsed) = elapsed {
            let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
            self.latency[bucket_of(nanos)].fetch_add(1, Ordering::Relaxed);
            self.latency_total_nanos.fetch_add(nanos, Ordering::Relaxed);
        }
        if let Some(fuel) = fuel {
            self.fuel.fetch_add(fuel, Ordering::Relaxed);
        }
        let memory = memory as u64;
        if memory > self.memory_high_water.load(Ordering::Relaxed) {
            self.memory_high_water.fetch_max(memory, Ordering::Relaxed);
        }
        if let Some(error) = error {
            let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
            *errors.entry(error.kind()).or_default() += 1;
        }
        #[cfg(feature = "metrics")]
        exported::call_ended(plugin, elapsed, fuel, memory, error);
        #[cfg(not(feature = "metrics"))]
        let _ = plugin;
    }

    /// Counts a new instance.
    pub(crate) fn instance_created(&self, plugin: &str) {
        self.instances_created.fetch_add(1, Ordering::Relaxed);
        let live = self.instances_live.fetch_add(1, Ordering::Relaxed) + 1;
        #[cfg(feature = "metrics")]
        exported::instances(plugin, live);
        #[cfg(not(feature = "metrics"))]
        let _ = (plugin, live);
    }

    /// Counts an instance dropped.
    pub(crate) fn instance_dropped(&self, plugin: &str) {
        let live = self.instances_live.fetch_sub(1, Ordering::Relaxed) - 1;
        #[cfg(feature = "metrics")]
        exported::instances(plugin, live);
        #[cfg(not(feature = "metrics"))]
        let _ = (plugin, live);
    }

    /// A call counter for a kept instance, counted in snapshots until
    /// [`kept_dropped`](Self::kept_dropped).
    pub(crate) fn kept_calls(&self) -> KeptCalls {
        let count = Arc::new(CallCount::default());
        self.kept_counters().push(count.clone());
        KeptCalls(count)
    }

    /// Adds the calls of a kept instance's counter to the plugin's, as its instance goes.
    pub(crate) fn kept_dropped(&self, kept: &KeptCalls) {
        let mut counters = self.kept_counters();
        if let Some(at) = counters.iter().position(|c| Arc::ptr_eq(c, &kept.0)) {
            counters.swap_remove(at);
        }
        // Under the lock: a snapshot sees these calls in the counter or in the total, once.
        self.calls
            .fetch_add(kept.0.0.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    fn kept_counters(&self) -> std::sync::MutexGuard<'_, Vec<Arc<CallCount>>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A snapshot of the counters.
    pub(crate) fn snapshot(&self) -> PluginStats {
        let calls = {
            let counters = self.kept_counters();
            let kept: u64 = counters.iter().map(|c| c.0.load(Ordering::Relaxed)).sum();
            self.calls.load(Ordering::Relaxed) + kept
        };
        let buckets: Vec<(Option<Duration>, u64)> = self
            .latency
            .iter()
            .enumerate()
            .map(|(at, count)| {
                let bound = (at < BUCKETS).then(|| Duration::from_nanos(bucket_bound_nanos(at)));
                (bound, count.load(Ordering::Relaxed))
            })
            .collect();
        PluginStats {
            calls,
            errors: self
                .errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            fuel_consumed: self.fuel.load(Ordering::Relaxed),
            latency: LatencyHistogram {
                buckets,
                total: Duration::from_nanos(self.latency_total_nanos.load(Ordering::Relaxed)),
            },
            memory_high_water: self.memory_high_water.load(Ordering::Relaxed),
            instances_live: self.instances_live.load(Ordering::Relaxed),
            instances_created: self.instances_created.load(Ordering::Relaxed),
        }
    }
}

/// The calls of one kept instance, which only that instance counts (a plain addition, no lock);
/// [`Metrics`] adds them up for snapshots.
pub(crate) struct KeptCalls(Arc<CallCount>);

impl KeptCalls {
    #[inline]
    fn add_one(&self) {
        // One writer, so a load and a store add without a locked instruction; readers see
        // either count.
        let count = &self.0.0;
        count.store(count.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
}

/// A count on a cache line of its own (two, for CPUs that fetch lines in pairs): instances
/// calling on different threads would otherwise slow each other down writing neighbouring
/// counters.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct CallCount(AtomicU64);

/// What a plugin has done since it was loaded (all its versions together): see
/// [`Plugin::stats`](crate::Plugin::stats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginStats {
    /// Calls made, failed ones included. A call on a fresh instance counts once, its
    /// instantiation included.
    pub calls: u64,
    /// Failed calls by [`Error::kind`]: `trap`, `fuel`, `deadline`, `memory`, ...
    pub errors: BTreeMap<&'static str, u64>,
    /// Fuel burned by metered calls (plugins without a fuel budget count nothing).
    pub fuel_consumed: u64,
    /// How long calls took: every call on a fresh instance, one in 64 on a kept instance (the
    /// first, the 65th, ...), since timing costs a quarter of a call that does nothing.
    pub latency: LatencyHistogram,
    /// The most linear memory any one instance held at the end of a call, in bytes.
    pub memory_high_water: u64,
    /// Instances alive now.
    pub instances_live: u64,
    /// Instances made since the plugin was loaded.
    pub instances_created: u64,
}

impl PluginStats {
    /// Failed calls, all kinds together.
    pub fn failed_calls(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// A histogram of call durations, in buckets whose bounds double from 1 µs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// Each bucket's upper bound (`None` for the last, unbounded one) and its count of calls.
    pub buckets: Vec<(Option<Duration>, u64)>,
    /// The time all calls took together.
    pub total: Duration,
}

impl LatencyHistogram {
    /// The number of calls counted.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|(_, n)| n).sum()
    }

    /// The mean duration of a call, if any was made.
    pub fn mean(&self) -> Option<Duration> {
        let count = u32::try_from(self.count()).unwrap_or(u32::MAX);
        (count > 0).then(|| self.total / count)
    }

    /// An upper bound of the `q` quantile (`0.5` for the median, `0.99`, ...): the bound of the
    /// bucket it falls in, so within a factor of two above the true value. `None` with no calls
    /// counted, or when it falls in the last, unbounded bucket.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bound, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                return *bound;
            }
        }
        None
    }
}

#[cfg(feature = "metrics")]
mod exported {
    //! The counts, handed to the `metrics` crate's recorder.

    use std::time::Duration;

    use crate::error::Error;

    pub(super) fn call_ended(
        plugin: &str,
        elapsed: Option<Duration>,
        fuel: Option<u64>,
        memory: u64,
        error: Option<&Error>,
    ) {
        let plugin = plugin.to_owned();
        metrics::counter!("componentry_calls_total", "plugin" => plugin.clone()).increment(1);
        if let Some(elapsed) = elapsed {
            metrics::histogram!("componentry_call_seconds", "plugin" => plugin.clone())
                .record(elapsed.as_secs_f64());
        }
        if let Some(fuel) = fuel {
            metrics::counter!("componentry_fuel_consumed_total", "plugin" => plugin.clone())
                .increment(fuel);
        }
        metrics::gauge!("componentry_instance_memory_bytes", "plugin" => plugin.clone())
            .set(memory as f64);
        if let Some(error) = error {
            metrics::counter!(
                "componentry_call_errors_total",
                "plugin" => plugin,
                "kind" => error.kind()
            )
            .increment(1);
        }
    }

    pub(super) fn instances(plugin: &str, live: u64) {
        metrics::gauge!("componentry_instances_live", "plugin" => plugin.to_owned())
            .set(live as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_fall_in_the_bucket_whose_bound_covers_them() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(1_000), 0);
        assert_eq!(bucket_of(1_001), 1);
        assert_eq!(bucket_of(2_000), 1);
        assert_eq!(bucket_of(2_001), 2);
        assert_eq!(bucket_of(1_000_000), 10); // 1 ms <= 1.024 ms
        assert_eq!(bucket_of(u64::MAX), BUCKETS);
        for nanos in [1, 999, 1_500, 70_000, 3_000_000_000] {
            let at = bucket_of(nanos);
            assert!(nanos <= bucket_bound_nanos(at));
            assert!(at == 0 || nanos > bucket_bound_nanos(at - 1));
        }
    }

    #[test]
    fn quantiles_are_bucket_bounds_and_errors_count_by_kind() {
        let metrics = Metrics::default();
        for micros in [1, 1, 1, 100] {
            metrics.call_ended(
                "p",
                None,
                Some(Duration::from_micros(micros)),
                Some(10),
                65536,
                None,
            );
        }
        let trap = Error::InstanceFailed { plugin: "p".into() };
        metrics.call_ended(
            "p",
            None,
            Some(Duration::from_secs(100)),
            None,
            131072,
            Some(&trap),
        );
        metrics.call_ended("p", None, None, None, 0, None);
        let stats = metrics.snapshot();
        assert_eq!(stats.calls, 6, "the untimed call counts too");
        assert_eq!(stats.fuel_consumed, 40);
        assert_eq!(stats.memory_high_water, 131072);
        assert_eq!(stats.errors.get("instance-failed"), Some(&1));
        assert_eq!(stats.failed_calls(), 1);
        assert_eq!(stats.latency.count(), 5);
        assert_eq!(stats.latency.quantile(0.5), Some(Duration::from_micros(1)));
        assert_eq!(
            stats.latency.quantile(0.8),
            Some(Duration::from_micros(128))
        );
        assert_eq!(stats.latency.quantile(1.0), None, "in the unbounded bucket");
        assert!(stats.latency.mean() > Some(Duration::from_secs(19)));
    }

    #[test]
    fn calls_of_kept_instances_count_while_they_live_and_after() {
        let metrics = Metrics::default();
        metrics.call_ended("p", None, None, None, 0, None);
        let first = metrics.kept_calls();
        let second = metrics.kept_calls();
        for _ in 0..3 {
            metrics.call_ended("p", Some(&first), None, None, 0, None);
        }
        metrics.call_ended("p", Some(&second), None, None, 0, None);
        assert_eq!(metrics.snapshot().calls, 5);
        metrics.kept_dropped(&first);
        assert_eq!(
            metrics.snapshot().calls,
            5,
            "counted once, in the total now"
        );
        metrics.kept_dropped(&second);
        assert_eq!(metrics.snapshot().calls, 5);
        assert!(metrics.kept_counters().is_empty());
    }

    #[test]
    fn instances_live_go_up_and_down() {
        let metrics = Metrics::default();
        metrics.instance_created("p");
        metrics.instance_created("p");
        metrics.instance_dropped("p");
        let stats = metrics.snapshot();
        assert_eq!((stats.instances_live, stats.instances_created), (1, 2));
        assert_eq!(stats.latency.quantile(0.5), None);
    }
}
