//! The limit flags shared by `run` and `watch`: the CLI spelling of `componentry::Limits`. Limits
//! given as flags replace what a policy says about the same limit.

use std::time::Duration;

use clap::Args;
use componentry::{EngineBuilder, Limits, Policy};

/// How often the engine checks deadlines: a call overruns its deadline by at most this.
const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(10);

/// Bounds on each call.
#[derive(Args, Debug, Default)]
pub struct LimitFlags {
    /// Fuel budget of the call (about one unit per wasm instruction); exit 6 when exhausted.
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,

    /// Wall-clock deadline of the call in milliseconds; exit 7 when exceeded. 0: no deadline
    /// from the flags (a policy's still applies).
    #[arg(long, value_name = "MS")]
    timeout: Option<u64>,

    /// The deadline when neither `--timeout` nor the policy sets one (`serve` has one).
    #[arg(skip)]
    default_timeout: Option<u64>,

    /// Most linear memory the plugin may have, all its memories together, in bytes; exit 8 when
    /// it tries to exceed it.
    #[arg(long, value_name = "BYTES")]
    max_memory: Option<usize>,

    /// Most host resources (files, sockets, streams, pollables) the plugin may hold open at
    /// once; exit 8 when it tries to exceed it.
    #[arg(long, value_name = "N")]
    max_handles: Option<usize>,

    /// Most of the component model's own handles (resources, streams, futures, async calls
    /// under way) the plugin may hold at once; exit 8 when it tries to exceed it.
    #[arg(long, value_name = "N")]
    max_component_handles: Option<usize>,
}

impl LimitFlags {
    /// The engine configuration that can enforce these limits and, when `policy` is given, the
    /// limits its rules set.
    pub fn engine(&self, mut engine: EngineBuilder, policy: Option<&Policy>) -> EngineBuilder {
        if self.fuel.is_some() || policy.is_some_and(Policy::needs_fuel) {
            engine = engine.fuel(true);
        }
        let timeout = self
            .timeout
            .or(self.default_timeout)
            .is_some_and(|ms| ms > 0);
        if timeout || policy.is_some_and(Policy::needs_deadlines) {
            engine = engine.epoch_interruption(EPOCH_TICK);
        }
        engine
    }

    /// The memory limit given, if any.
    pub fn max_memory(&self) -> Option<usize> {
        self.max_memory
    }

    /// Sets the deadline a call gets when neither `--timeout` nor the policy sets one.
    pub fn default_timeout(&mut self, ms: u64) {
        self.default_timeout = Some(ms);
    }

    /// `base` (the defaults, or what a policy says) with the limits these flags set.
    pub fn apply(&self, mut limits: Limits) -> Limits {
        if let Some(fuel) = self.fuel {
            limits = limits.fuel(fuel);
        }
        match (self.timeout, self.default_timeout) {
            (Some(0), _) => {}
            (Some(ms), _) => limits = limits.deadline(Duration::from_millis(ms)),
            (None, Some(ms)) if ms > 0 && limits.get_deadline().is_none() => {
                limits = limits.deadline(Duration::from_millis(ms));
            }
            (None, _) => {}
        }
        if let Some(bytes) = self.max_memory {
            limits = limits.max_memory(bytes);
        }
        if let Some(handles) = self.max_handles {
            limits = limits.max_handles(handles);
        }
        if let Some(handles) = self.max_component_handles {
            limits = limits.max_component_handles(handles);
        }
        limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deadline(flags: &LimitFlags, base: Limits) -> Option<Duration> {
        flags.apply(base).get_deadline()
    }

    #[test]
    fn a_default_deadline_applies_where_neither_the_flag_nor_the_policy_sets_one() {
        let mut flags = LimitFlags::default();
        assert_eq!(deadline(&flags, Limits::default()), None);
        flags.default_timeout(30_000);
        assert_eq!(
            deadline(&flags, Limits::default()),
            Some(Duration::from_secs(30))
        );
        let from_policy = Limits::default().deadline(Duration::from_secs(2));
        assert_eq!(
            deadline(&flags, from_policy.clone()),
            Some(Duration::from_secs(2))
        );
        flags.timeout = Some(0);
        assert_eq!(
            deadline(&flags, Limits::default()),
            None,
            "--timeout 0: none"
        );
        assert_eq!(deadline(&flags, from_policy), Some(Duration::from_secs(2)));
        flags.timeout = Some(500);
        assert_eq!(
            deadline(&flags, Limits::default()),
            Some(Duration::from_millis(500))
        );
    }
}
