//! Deterministic mode: randomness from a fixed seed, virtual clocks, and virtual file timestamps,
//! so that a plugin run can be reproduced exactly.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};
use wasmtime_wasi::filesystem::WasiFilesystemView;
use wasmtime_wasi::p2::bindings::sync::filesystem::types::{
    self as fs, Datetime, Descriptor, DescriptorStat, ErrorCode, PathFlags,
};

use super::kind::{Kind, Takes, Unit, Wiring, Word};
use crate::error::{Error, Result};
use crate::store::PluginState;

/// The virtual wall clock's start: 2000-01-01T00:00:00Z, in seconds since the Unix epoch.
pub(crate) const VIRTUAL_EPOCH_SECS: u64 = 946_684_800;

/// How far the virtual clocks advance at each reading: 1 ms.
pub(crate) const VIRTUAL_TICK_NANOS: u64 = 1_000_000;

/// The `wasi:filesystem/types` instance as wasmtime-wasi defines it.
const TYPES: &str = "wasi:filesystem/types@0.2.12";

/// WASI 0.3's `wasi:filesystem/types` instance as wasmtime-wasi defines it.
const P3_TYPES: &str = "wasi:filesystem/types@0.3.0";

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
    let defined = defined.and_then(|()| add_p3_stats(linker));
    linker.allow_shadowing(false);
    defined
}

/// WASI 0.3's `stat` and `stat-at` (async functions, on any host), with virtual times for
/// deterministic plugins as 0.2's.
fn add_p3_stats<T: Send + 'static>(linker: &mut Linker<PluginState<T>>) -> wasmtime::Result<()> {
    use wasmtime::component::Accessor;
    use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
    use wasmtime_wasi::p3::bindings::filesystem::types::{
        self as p3fs, HostDescriptorWithStore as _,
    };
    use wasmtime_wasi::p3::filesystem::FilesystemResult;
    type Answer = wasmtime::Result<(Result<p3fs::DescriptorStat, p3fs::ErrorCode>,)>;
    /// What the plugin is given for `outcome`: the error code, or the stat (with virtual
    /// times when it runs deterministically).
    fn answer_p3<T: Send + 'static>(
        accessor: &Accessor<PluginState<T>>,
        outcome: FilesystemResult<p3fs::DescriptorStat>,
    ) -> Answer {
        let deterministic = accessor.with(|mut store| store.get().deterministic);
        match outcome {
            Ok(mut stat) if deterministic => {
                let epoch = Some(p3fs::Instant {
                    seconds: i64::try_from(VIRTUAL_EPOCH_SECS).unwrap_or(i64::MAX),
                    nanoseconds: 0,
                });
                stat.data_access_timestamp = stat.data_access_timestamp.and(epoch);
                stat.data_modification_timestamp = stat.data_modification_timestamp.and(epoch);
                stat.status_change_timestamp = stat.status_change_timestamp.and(epoch);
                Ok((Ok(stat),))
            }
            Ok(stat) => Ok((Ok(stat),)),
            Err(error) => Ok((Err(error.downcast()?),)),
        }
    }
    fn filesystem<T: Send + 'static>(
        accessor: &Accessor<PluginState<T>>,
    ) -> Accessor<PluginState<T>, WasiFilesystem> {
        accessor.with_getter::<WasiFilesystem>(<PluginState<T> as WasiFilesystemView>::filesystem)
    }
    let mut types = linker.instance(P3_TYPES)?;
    types.func_wrap_concurrent(
        "[method]descriptor.stat",
        |accessor, (fd,): (Resource<Descriptor>,)| {
            Box::pin(async move {
                let outcome = WasiFilesystem::stat(&filesystem(accessor), fd).await;
                answer_p3(accessor, outcome)
            })
        },
    )?;
    types.func_wrap_concurrent(
        "[method]descriptor.stat-at",
        |accessor, (fd, flags, path): (Resource<Descriptor>, p3fs::PathFlags, String)| {
            Box::pin(async move {
                let outcome = WasiFilesystem::stat_at(&filesystem(accessor), fd, flags, path).await;
                answer_p3(accessor, outcome)
            })
        },
    )
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

/// Deterministic mode, when granted: the seed of its generators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Determinism(pub(crate) Option<u64>);

/// The seed of deterministic mode when none is given.
pub(crate) const DEFAULT_SEED: u64 = 0;

const DETERMINISTIC: Word = Word {
    name: "deterministic",
    takes: Takes::Switch,
    value_name: "",
    help: "Virtual clocks and seeded randomness, for reproducible runs.",
    flag: true,
};

fn describe(determinism: &Determinism) -> (bool, String) {
    match determinism.0 {
        Some(seed) => (true, format!("deterministic (seed {seed}, virtual clocks)")),
        None => (true, "the host's".to_owned()),
    }
}

impl Kind for Determinism {
    /// `deterministic = true`, or a seed: `deterministic = 42`.
    const WORDS: &'static [Word] = &[DETERMINISTIC];
    const UNITS: &'static [Unit<Self>] = &[
        // Clocks: the host's, or virtual ones in deterministic mode.
        Unit {
            name: "wasi:clocks",
            covers: &["wasi:clocks/"],
            describe,
        },
        // Randomness: the host's, or seeded in deterministic mode.
        Unit {
            name: "wasi:random",
            covers: &["wasi:random/"],
            describe,
        },
    ];
    type Ready = ();

    fn add(&mut self, word: &str, value: &toml::Value) -> Result<()> {
        self.0 = match value {
            toml::Value::Boolean(on) => on.then_some(DEFAULT_SEED),
            toml::Value::Integer(seed) => Some(u64::try_from(*seed).map_err(|_| {
                Error::syntax("grant", &seed.to_string(), "a seed is not negative")
            })?),
            _ => {
                return Err(Error::syntax(
                    "grant",
                    &value.to_string(),
                    format!("`{word}` takes true, false or a seed"),
                ));
            }
        };
        Ok(())
    }

    fn merge(&mut self, other: Self) {
        self.0 = other.0.or(self.0);
    }

    fn describe(&self, lines: &mut Vec<String>) {
        if let Some(seed) = self.0 {
            lines.push(format!("{} {seed}", DETERMINISTIC.name));
        }
    }

    /// The policy's seed when it states one. Deterministic mode may be asked for: it restricts.
    fn restrict(&self, allowed: &Self, _excess: &mut Vec<String>) -> Self {
        Determinism(allowed.0.or(self.0))
    }

    fn prepare(&self, _plugin: &Arc<str>) -> Result<()> {
        Ok(())
    }

    fn wire(&self, (): &(), wiring: &mut Wiring<'_>) -> Result<()> {
        if let Some(seed) = self.0 {
            wiring
                .builder
                .secure_random(StdRng::seed_from_u64(seed))
                .insecure_random(StdRng::seed_from_u64(seed.rotate_left(32) ^ 0x5eed))
                .insecure_random_seed(u128::from(seed))
                .wall_clock(VirtualClock::default())
                .monotonic_clock(VirtualClock::default());
        }
        Ok(())
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
