//! Quarantine: a plugin that fails too often in a short time is refused calls for a while, so a
//! broken plugin cannot keep burning the host's time.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When to quarantine a plugin: after `max_failures` failed calls (traps, limits hit) within
/// `window`, it refuses calls for `cooldown`. Off unless set on the plugin's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuarantinePolicy {
    /// Failures that trigger the quarantine.
    pub max_failures: u32,
    /// The window they must fall within.
    pub window: Duration,
    /// How long the plugin then refuses calls.
    pub cooldown: Duration,
}

/// One plugin's recent failures and quarantine state.
#[derive(Debug, Default)]
pub(crate) struct FailureTracker {
    state: Mutex<TrackerState>,
}

#[derive(Debug, Default)]
struct TrackerState {
    failures: VecDeque<Instant>,
    quarantined_until: Option<Instant>,
}

impl FailureTracker {
    /// The time left in quarantine, if the plugin is quarantined now.
    pub(crate) fn quarantined(&self, now: Instant) -> Option<Duration> {
        let state = self.lock();
        state
            .quarantined_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|left| !left.is_zero())
    }

    /// Records a failure; returns the number of failures in the window when this one starts a
    /// quarantine.
    pub(crate) fn record_failure(&self, policy: &QuarantinePolicy, now: Instant) -> Option<u32> {
        let mut state = self.lock();
        state.failures.push_back(now);
        while state
            .failures
            .front()
            .is_some_and(|first| now.duration_since(*first) > policy.window)
        {
            state.failures.pop_front();
        }
        let count = u32::try_from(state.failures.len()).unwrap_or(u32::MAX);
        if count >= policy.max_failures.max(1) {
            state.failures.clear();
            state.quarantined_until = Some(now + policy.cooldown);
            return Some(count);
        }
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TrackerState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: QuarantinePolicy = QuarantinePolicy {
        max_failures: 3,
        window: Duration::from_secs(10),
        cooldown: Duration::from_secs(60),
    };

    #[test]
    fn the_nth_failure_in_the_window_quarantines() {
        let tracker = FailureTracker::default();
        let t0 = Instant::now();
        assert_eq!(tracker.record_failure(&POLICY, t0), None);
        assert_eq!(
            tracker.record_failure(&POLICY, t0 + Duration::from_secs(1)),
            None
        );
        assert_eq!(
            tracker.record_failure(&POLICY, t0 + Duration::from_secs(2)),
            Some(3)
        );
        assert!(tracker.quarantined(t0 + Duration::from_secs(3)).is_some());
        assert!(tracker.quarantined(t0 + Duration::from_secs(63)).is_none());
    }

    #[test]
    fn failures_outside_the_window_are_forgotten() {
        let tracker = FailureTracker::default();
        let t0 = Instant::now();
        tracker.record_failure(&POLICY, t0);
        tracker.record_failure(&POLICY, t0 + Duration::from_secs(1));
        assert_eq!(
            tracker.record_failure(&POLICY, t0 + Duration::from_secs(30)),
            None
        );
        assert!(tracker.quarantined(t0 + Duration::from_secs(31)).is_none());
    }
}
