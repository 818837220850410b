//! The limit flags shared by `run` and `watch`: the CLI spelling of `componentry::Limits`. Limits
//! given as flags replace what a policy says about the same limit.

use std::time::Duration;

use clap::Args;
use componentry::{DEFAULT_EPOCH_TICK, EngineBuilder, Limits, Policy};

/// Bounds on each call.
#[derive(Args, Debug, Default)]
pub struct LimitFlags {
    /// Fuel budget of the call (about one unit per wasm instruction); exit 6 when exhausted.
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,

    /// Wall-clock deadline of the call in milliseconds; exit 7 when exceeded.
    #[arg(long, value_name = "MS")]
    timeout: Option<u64>,

    /// Most linear memory the plugin may have, all its memories together, in bytes; exit 8 when
    /// it tries to exceed it.
    #[arg(long, value_name = "BYTES")]
    max_memory: Option<usize>,

    /// Most host resources (files, sockets, streams, pollables) the plugin may hold open at
    /// once; exit 8 when it tries to exceed it.
    #[arg(long, value_name = "N")]
    max_handles: Option<usize>,
}

impl LimitFlags {
    /// The engine configuration that can enforce these limits and, when `policy` is given, the
    /// limits its rules set.
    pub fn engine(&self, mut engine: EngineBuilder, policy: Option<&Policy>) -> EngineBuilder {
        if self.fuel.is_some() || policy.is_some_and(Policy::needs_fuel) {
            engine = engine.fuel(true);
        }
        if self.timeout.is_some() || policy.is_some_and(Policy::needs_deadlines) {
            engine = engine.epoch_interruption(DEFAULT_EPOCH_TICK);
        }
        engine
    }

    /// `base` (the defaults, or what a policy says) with the limits these flags set.
    /// The memory limit given, if any.
    pub fn max_memory(&self) -> Option<usize> {
        self.max_memory
    }

    pub fn apply(&self, mut limits: Limits) -> Limits {
        if let Some(fuel) = self.fuel {
            limits = limits.fuel(fuel);
        }
        if let Some(ms) = self.timeout {
            limits = limits.deadline(Duration::from_millis(ms));
        }
        if let Some(bytes) = self.max_memory {
            limits = limits.max_memory(bytes);
        }
        if let Some(handles) = self.max_handles {
            limits = limits.max_handles(handles);
        }
        limits
    }
}
