//! The limit flags shared by `run` and `watch`: the CLI spelling of `componentry::Limits`.

use std::time::Duration;

use clap::Args;
use componentry::{DEFAULT_EPOCH_TICK, EngineBuilder, Limits};

/// Bounds on each call.
#[derive(Args, Debug, Default)]
pub struct LimitFlags {
    /// Fuel budget of the call (about one unit per wasm instruction); exit 6 when exhausted.
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,

    /// Wall-clock deadline of the call in milliseconds; exit 7 when exceeded.
    #[arg(long, value_name = "MS")]
    timeout: Option<u64>,

    /// Most linear memory the plugin may grow to, in bytes; exit 8 when it tries to exceed it.
    #[arg(long, value_name = "BYTES")]
    max_memory: Option<usize>,
}

impl LimitFlags {
    /// The limits, and the engine configuration that can enforce them.
    pub fn apply(&self, mut engine: EngineBuilder) -> (EngineBuilder, Limits) {
        let mut limits = Limits::new();
        if let Some(fuel) = self.fuel {
            engine = engine.fuel(true);
            limits = limits.fuel(fuel);
        }
        if let Some(ms) = self.timeout {
            engine = engine.epoch_interruption(DEFAULT_EPOCH_TICK);
            limits = limits.deadline(Duration::from_millis(ms));
        }
        if let Some(bytes) = self.max_memory {
            limits = limits.max_memory(bytes);
        }
        (engine, limits)
    }
}
