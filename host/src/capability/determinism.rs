//! Deterministic mode: randomness from a fixed seed, virtual clocks, and virtual file timestamps,
//! so that a plugin run can be reproduced exactly.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};
use wasmtime_wasi::filesystem::WasiFilesystemView;
use wasmtime_wasi::p2::bindings::sync::filesystem::types::{
    self as fs, Datetime, Descriptor, DescriptorStat, ErrorCode, PathFlags,
};

use crate::store::PluginState;

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

/// The `wasi:filesystem/types` instance as wasmtime-wasi defines it.
const TYPES: &str = "wasi:filesystem/types@0.2.12";

/// Every timestamp of `stat` the virtual epoch, so that a file's times reveal nothing real.
fn virtualize(mut stat: DescriptorStat) -> DescriptorStat {
    let epoch = Some(Datetime {
        seconds: VIRTUAL_EPOCH_SECS,
        nanoseconds: 0,
    });
    stat.data_access_timestamp = stat.data_access_timestamp.and(epoch);
    stat.data_modification_timestamp = stat.data_modification_timestamp.and(epoch);
    stat.status_change_timestamp = stat.status_change_timestamp.and(epoch);
    stat
}

/// What a stat call gives the plugin, with wasmtime-wasi's synchronous filesystem: the error
/// code, or the stat with virtual times when the plugin runs deterministically.
fn answer<T: Send>(
    store: &mut StoreContextMut<'_, PluginState<T>>,
    outcome: Result<DescriptorStat, wasmtime_wasi::p2::FsError>,
) -> wasmtime::Result<(Result<DescriptorStat, ErrorCode>,)> {
    let deterministic = store.data().deterministic;
    match outcome {
        Ok(stat) if deterministic => Ok((Ok(virtualize(stat)),)),
        Ok(stat) => Ok((Ok(stat),)),
        Err(error) => {
            let mut view = store.data_mut().filesystem();
            Ok((Err(fs::Host::convert_error_code(&mut view, error)?),))
        }
    }
}

/// Replaces `stat` and `stat-at` in `linker` by ones that give deterministic plugins virtual
/// timestamps, and otherwise do the same, with wasmtime-wasi's synchronous or asynchronous
/// filesystem as the host is.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<PluginState<T>>,
    asynchronous: bool,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let defined = if asynchronous {
        add_async_stats(linker)
    } else {
        add_sync_stats(linker)
    };
    linker.allow_shadowing(false);
    defined
}

fn add_sync_stats<T: Send + 'static>(linker: &mut Linker<PluginState<T>>) -> wasmtime::Result<()> {
    let mut types = linker.instance(TYPES)?;
    types.func_wrap(
        "[method]descriptor.stat",
        |mut store: StoreContextMut<'_, PluginState<T>>, (fd,): (Resource<Descriptor>,)| {
            let outcome = fs::HostDescriptor::stat(&mut store.data_mut().filesystem(), fd);
            answer(&mut store, outcome)
        },
    )?;
    types.func_wrap(
        "[method]descriptor.stat-at",
        |mut store: StoreContextMut<'_, PluginState<T>>,
         (fd, flags, path): (Resource<Descriptor>, PathFlags, String)| {
            let outcome =
                fs::HostDescriptor::stat_at(&mut store.data_mut().filesystem(), fd, flags, path);
            answer(&mut store, outcome)
        },
    )
}

fn add_async_stats<T: Send + 'static>(linker: &mut Linker<PluginState<T>>) -> wasmtime::Result<()> {
    use wasmtime_wasi::p2::bindings::filesystem::types as afs;
    type Answer = wasmtime::Result<(Result<afs::DescriptorStat, afs::ErrorCode>,)>;
    /// The async twin of [`answer`]: the async bindings have types of their own.
    fn answer_async<T: Send>(
        store: &mut StoreContextMut<'_, PluginState<T>>,
        outcome: Result<afs::DescriptorStat, wasmtime_wasi::p2::FsError>,
    ) -> Answer {
        let deterministic = store.data().deterministic;
        match outcome {
            Ok(mut stat) if deterministic => {
                let epoch = Some(afs::Datetime {
                    seconds: VIRTUAL_EPOCH_SECS,
                    nanoseconds: 0,
                });
                stat.data_access_timestamp = stat.data_access_timestamp.and(epoch);
                stat.data_modification_timestamp = stat.data_modification_timestamp.and(epoch);
                stat.status_change_timestamp = stat.status_change_timestamp.and(epoch);
                Ok((Ok(stat),))
            }
            Ok(stat) => Ok((Ok(stat),)),
            Err(error) => {
                let mut view = store.data_mut().filesystem();
                Ok((Err(afs::Host::convert_error_code(&mut view, error)?),))
            }
        }
    }
    let mut types = linker.instance(TYPES)?;
    types.func_wrap_async(
        "[method]descriptor.stat",
        |mut store: StoreContextMut<'_, PluginState<T>>, (fd,): (Resource<Descriptor>,)| {
            Box::new(async move {
                let outcome =
                    afs::HostDescriptor::stat(&mut store.data_mut().filesystem(), fd).await;
                answer_async(&mut store, outcome)
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.stat-at",
        |mut store: StoreContextMut<'_, PluginState<T>>,
         (fd, flags, path): (Resource<Descriptor>, afs::PathFlags, String)| {
            Box::new(async move {
                let outcome = afs::HostDescriptor::stat_at(
                    &mut store.data_mut().filesystem(),
                    fd,
                    flags,
                    path,
                )
                .await;
                answer_async(&mut store, outcome)
            })
        },
    )
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

fn describe(grants: &super::Grants) -> (bool, String) {
    match grants.deterministic_seed() {
        Some(seed) => (true, format!("deterministic (seed {seed}, virtual clocks)")),
        None => (true, "the host's".to_owned()),
    }
}

/// Clocks: the host's, or virtual ones in deterministic mode.
pub(crate) const CLOCKS: super::Unit = super::Unit {
    name: "wasi:clocks",
    covers: &["wasi:clocks/"],
    describe,
};

/// Randomness: the host's, or seeded in deterministic mode.
pub(crate) const RANDOM: super::Unit = super::Unit {
    name: "wasi:random",
    covers: &["wasi:random/"],
    describe,
};

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
