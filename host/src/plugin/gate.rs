//! The call gate: what every call of a plugin passes on its way in and out, whether the handle
//! or an instance makes it. In: the host's mode, and the plugin's quarantine. Out: the plugin's
//! metrics, and the quarantine's count of failures (with its event when it closes the gate).
//!
//! One gate per plugin, shared by its handle and every instance (through an `Arc`), so that a
//! call never climbs back up to the handle for its checks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::metrics::{KeptCalls, Metrics};
use super::quarantine::{FailureTracker, QuarantinePolicy};
use crate::engine::events::{EventBus, PluginEvent};
use crate::error::{Error, Result};

/// The checks and the accounting of one plugin's calls.
pub(crate) struct CallGate {
    plugin: Arc<str>,
    /// The host runs calls asynchronously: calls of the other mode are refused.
    asynchronous_host: bool,
    failures: FailureTracker,
    metrics: Metrics,
    events: EventBus,
}

/// A call that ended, as the gate counts it.
pub(crate) struct EndedCall<'a> {
    /// The counter of the kept instance the call ran on, if it ran on one.
    pub(crate) kept: Option<&'a KeptCalls>,
    /// How long it took, when it was timed.
    pub(crate) elapsed: Option<Duration>,
    /// The fuel it burned, when metered.
    pub(crate) fuel: Option<u64>,
    /// The bytes of linear memory its instance holds.
    pub(crate) memory: usize,
    /// Why it failed, if it did.
    pub(crate) error: Option<&'a Error>,
}

impl CallGate {
    /// The gate of the plugin `plugin`, on a host of the given mode, sending its events to
    /// `events`.
    pub(crate) fn new(plugin: Arc<str>, asynchronous_host: bool, events: EventBus) -> Self {
        Self {
            plugin,
            asynchronous_host,
            failures: FailureTracker::default(),
            metrics: Metrics::default(),
            events,
        }
    }

    /// The plugin's name.
    pub(crate) fn plugin(&self) -> &str {
        &self.plugin
    }

    /// Whether the host runs calls asynchronously.
    pub(crate) fn asynchronous_host(&self) -> bool {
        self.asynchronous_host
    }

    /// The plugin's counters.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Lets a call in, or says why not: a synchronous call on an asynchronous host (or the
    /// reverse), or a call while the plugin is quarantined under `quarantine`.
    #[inline(always)]
    pub(crate) fn enter(
        &self,
        asynchronous: bool,
        quarantine: Option<&QuarantinePolicy>,
    ) -> Result<()> {
        // Most calls: the right mode, and no quarantine policy to consult.
        if self.asynchronous_host == asynchronous && quarantine.is_none() {
            return Ok(());
        }
        self.enter_checked(asynchronous, quarantine)
    }

    /// [`enter`](Self::enter), the checks themselves.
    #[inline(never)]
    fn enter_checked(
        &self,
        asynchronous: bool,
        quarantine: Option<&QuarantinePolicy>,
    ) -> Result<()> {
        if self.asynchronous_host != asynchronous {
            return Err(self.wrong_mode(asynchronous));
        }
        if quarantine.is_some()
            && let Some(remaining) = self.failures.quarantined(Instant::now())
        {
            return Err(Error::Quarantined {
                plugin: self.plugin.to_string(),
                remaining,
            });
        }
        Ok(())
    }

    /// Lets a call out: counts it, and a failure against `quarantine`.
    #[inline(always)]
    pub(crate) fn leave(&self, call: &EndedCall<'_>, quarantine: Option<&QuarantinePolicy>) {
        self.metrics.call_ended(
            &self.plugin,
            call.kept,
            call.elapsed,
            call.fuel,
            call.memory,
            call.error,
        );
        if let (Some(policy), Some(error)) = (quarantine, call.error) {
            self.count_failure(policy, error);
        }
    }

    #[cold]
    fn wrong_mode(&self, asynchronous: bool) -> Error {
        Error::WrongMode {
            plugin: self.plugin.to_string(),
            asynchronous_host: !asynchronous,
        }
    }

    /// Counts a failed call against the quarantine policy, quarantining the plugin (with an
    /// event) when it is one failure too many. Only the guest's own failures count.
    #[cold]
    fn count_failure(&self, policy: &QuarantinePolicy, error: &Error) {
        if error.is_guest_failure()
            && let Some(failures) = self.failures.record_failure(policy, Instant::now())
        {
            let shown = crate::text::escape_untrusted(&error.to_string()).into_owned();
            tracing::warn!(
                plugin = &*self.plugin,
                failures,
                "plugin quarantined for {:?}: {shown}",
                policy.cooldown
            );
            self.events.emit(PluginEvent::Quarantined {
                plugin: self.plugin.to_string(),
                failures,
                cooldown: policy.cooldown,
                last_error: error.to_string(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: QuarantinePolicy = QuarantinePolicy {
        max_failures: 2,
        window: Duration::from_secs(60),
        cooldown: Duration::from_secs(60),
    };

    fn trap() -> Error {
        Error::Trap {
            plugin: "p".to_owned(),
            function: "f".to_owned(),
            code: Some(wasmtime::Trap::UnreachableCodeReached),
            message: "unreachable".into(),
            backtrace: None,
            stderr: None,
            source: None,
        }
    }

    fn failed(error: &Error) -> EndedCall<'_> {
        EndedCall {
            kept: None,
            elapsed: None,
            fuel: None,
            memory: 0,
            error: Some(error),
        }
    }

    #[test]
    fn a_call_of_the_other_mode_is_refused() {
        let gate = CallGate::new("p".into(), true, EventBus::default());
        assert!(gate.enter(true, None).is_ok());
        assert!(matches!(
            gate.enter(false, None),
            Err(Error::WrongMode {
                asynchronous_host: true,
                ..
            })
        ));
    }

    #[test]
    fn failures_close_the_gate_only_under_a_quarantine_policy() {
        let gate = CallGate::new("p".into(), false, EventBus::default());
        let error = trap();
        for _ in 0..3 {
            gate.leave(&failed(&error), None);
        }
        assert!(gate.enter(false, Some(&POLICY)).is_ok());
        gate.leave(&failed(&error), Some(&POLICY));
        gate.leave(&failed(&error), Some(&POLICY));
        assert!(matches!(
            gate.enter(false, Some(&POLICY)),
            Err(Error::Quarantined { .. })
        ));
        // A version loaded without the policy is not held by the quarantine.
        assert!(gate.enter(false, None).is_ok());
        assert_eq!(gate.metrics().snapshot().calls, 5);
    }

    #[test]
    fn a_failure_of_the_host_is_not_counted_against_the_plugin() {
        let gate = CallGate::new("p".into(), false, EventBus::default());
        let refused = Error::WrongMode {
            plugin: "p".to_owned(),
            asynchronous_host: true,
        };
        for _ in 0..3 {
            gate.leave(&failed(&refused), Some(&POLICY));
        }
        assert!(gate.enter(false, Some(&POLICY)).is_ok());
    }
}
