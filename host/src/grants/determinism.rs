//! Deterministic mode: randomness from a fixed seed and virtual clocks, so that a plugin run can
//! be reproduced exactly.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};

/// The virtual wall clock's start: 2000-01-01T00:00:00Z, in seconds since the Unix epoch.
pub const VIRTUAL_EPOCH_SECS: u64 = 946_684_800;

/// How far the virtual clocks advance at each reading: 1 ms.
pub const VIRTUAL_TICK_NANOS: u64 = 1_000_000;

pub(crate) fn apply(builder: &mut WasiCtxBuilder, seed: u64) {
    builder
        .secure_random(StdRng::seed_from_u64(seed))
        .insecure_random(StdRng::seed_from_u64(seed.rotate_left(32) ^ 0x5eed))
        .insecure_random_seed(u128::from(seed))
        .wall_clock(VirtualClock::default())
        .monotonic_clock(VirtualClock::default());
}

/// A clock that starts at a fixed time and advances by one tick each time it is read.
#[derive(Default)]
struct VirtualClock {
    readings: AtomicU64,
}

impl VirtualClock {
    fn next(&self) -> u64 {
        self.readings.fetch_add(1, Ordering::Relaxed) * VIRTUAL_TICK_NANOS
    }
}

impl HostWallClock for VirtualClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(VIRTUAL_TICK_NANOS)
    }

    fn now(&self) -> Duration {
        Duration::from_secs(VIRTUAL_EPOCH_SECS) + Duration::from_nanos(self.next())
    }
}

impl HostMonotonicClock for VirtualClock {
    fn resolution(&self) -> u64 {
        VIRTUAL_TICK_NANOS
    }

    fn now(&self) -> u64 {
        self.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clocks_start_fixed_and_advance_by_ticks() {
        let clock = VirtualClock::default();
        assert_eq!(HostMonotonicClock::now(&clock), 0);
        assert_eq!(HostMonotonicClock::now(&clock), VIRTUAL_TICK_NANOS);
        let wall = VirtualClock::default();
        assert_eq!(
            HostWallClock::now(&wall),
            Duration::from_secs(VIRTUAL_EPOCH_SECS)
        );
    }
}
