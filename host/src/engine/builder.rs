//! Configuring an [`Engine`]: every setting with its default, and building the engine (the
//! artifact cache opened, the epoch ticker started).

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::cache::{self, ArtifactCache};
use super::core_dumps::{CoreDumps, DEFAULT_MAX_CORE_DUMP_BYTES, DEFAULT_MAX_CORE_DUMPS};
use super::handle::Engine;
use super::pooling::Pooling;
use super::timer::Timer;
use crate::error::{Error, Result};

impl Engine {
    /// An engine with every default of [`EngineBuilder`].
    pub fn new() -> Result<Self> {
        Self::builder().build()
    }

    /// Starts configuring an engine.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }
}

/// Configuration of an [`Engine`]. Every setting states its default.
#[derive(Debug, Clone)]
pub struct EngineBuilder {
    configure: Option<Configure>,
    pooling: Option<Pooling>,
    cache_dir: CacheDir,
    cache_max_bytes: u64,
    wasm_backtrace_frames: usize,
    parallel_compilation: bool,
    fuel: bool,
    epoch_tick: Option<Duration>,
    max_wasm_stack: usize,
    core_dump_dir: Option<PathBuf>,
    max_core_dumps: usize,
    max_core_dump_bytes: usize,
}

/// The default stack available to wasm code: 512 KiB.
pub(crate) const DEFAULT_MAX_WASM_STACK: usize = 512 << 10;

impl Default for EngineBuilder {
    fn default() -> Self {
        Self {
            configure: None,
            pooling: None,
            cache_dir: CacheDir::PerUser,
            cache_max_bytes: cache::DEFAULT_CACHE_MAX_BYTES,
            wasm_backtrace_frames: 32,
            parallel_compilation: true,
            fuel: false,
            epoch_tick: None,
            max_wasm_stack: DEFAULT_MAX_WASM_STACK,
            core_dump_dir: None,
            max_core_dumps: DEFAULT_MAX_CORE_DUMPS,
            max_core_dump_bytes: DEFAULT_MAX_CORE_DUMP_BYTES,
        }
    }
}

/// Where compiled artifacts are kept.
#[derive(Debug, Clone)]
enum CacheDir {
    /// The per-user cache directory, when one can be found.
    PerUser,
    Dir(PathBuf),
    Off,
}

/// The per-user cache directory: `$COMPONENTRY_CACHE_DIR`, else `componentry` under
/// `$XDG_CACHE_HOME` or `~/.cache`; none when neither can be found.
fn per_user_cache_dir() -> Option<PathBuf> {
    cache_dir_from(|name| std::env::var_os(name))
}

/// The per-user cache directory, reading the environment through `var`.
fn cache_dir_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    let set = |name: &str| var(name).filter(|value| !value.is_empty());
    if let Some(dir) = set("COMPONENTRY_CACHE_DIR") {
        return Some(dir.into());
    }
    let base = set("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| set("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("componentry"))
}

/// The application's own wasmtime settings, applied before the builder's.
#[derive(Clone)]
struct Configure(Arc<dyn Fn(&mut wasmtime::Config) + Send + Sync>);

impl std::fmt::Debug for Configure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Configure(..)")
    }
}

impl EngineBuilder {
    /// Allocates instances from a pool reserved up front instead of on demand: a fresh instance
    /// costs several times less and scales across threads, for some reserved virtual memory
    /// (see [`Pooling`] and docs/performance.md). Defaults to on-demand allocation.
    pub fn pooling(mut self, pooling: Pooling) -> Self {
        self.pooling = Some(pooling);
        self
    }

    /// Applies wasmtime settings the builder does not cover (as Extism's
    /// `with_wasmtime_config`): `configure` runs on a fresh [`wasmtime::Config`] before the
    /// builder's own settings, which therefore win where both speak (the component model, fuel,
    /// epoch interruption, the stack limit, backtraces, core dumps).
    ///
    /// ```
    /// let engine = componentry::Engine::builder()
    ///     .wasmtime_config(|config| {
    ///         config.cranelift_opt_level(componentry::escape_hatch::wasmtime::OptLevel::Speed);
    ///     })
    ///     .build()?;
    /// # let _ = engine;
    /// # Ok::<(), componentry::Error>(())
    /// ```
    pub fn wasmtime_config(
        mut self,
        configure: impl Fn(&mut wasmtime::Config) + Send + Sync + 'static,
    ) -> Self {
        self.configure = Some(Configure(Arc::new(configure)));
        self
    }

    /// Keeps compiled components in `dir`, keyed by the SHA-256 of the component and the engine's
    /// configuration, so that loading the same bytes again skips compilation (a 17 MiB Python
    /// plugin: seconds to compile, a fraction of a second from the cache).
    ///
    /// Defaults to the per-user cache directory: `$COMPONENTRY_CACHE_DIR` if set, else
    /// `componentry` under `$XDG_CACHE_HOME` or `~/.cache` (the one the `componentry` CLI uses);
    /// with none of these set, no cache. [`no_cache`](Self::no_cache) turns it off. The
    /// directory must be writable only by the application's user: its files are native code.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = CacheDir::Dir(dir.into());
        self
    }

    /// Compiles every component afresh, keeping nothing on disk: for tests of compilation,
    /// read-only systems, or plugins that must leave no trace.
    pub fn no_cache(mut self) -> Self {
        self.cache_dir = CacheDir::Off;
        self
    }

    /// The most bytes of compiled artifacts the cache directory may hold: past it, writing an
    /// artifact removes the least recently used ones. Defaults to
    /// 1 GiB.
    pub fn cache_max_bytes(mut self, bytes: u64) -> Self {
        self.cache_max_bytes = bytes;
        self
    }

    /// How many frames of wasm backtrace (with function names where the component has them) to
    /// capture when a plugin traps; 0 captures none. Defaults to 32.
    pub fn wasm_backtrace_frames(mut self, frames: usize) -> Self {
        self.wasm_backtrace_frames = frames;
        self
    }

    /// Compiles a component's functions on several threads. Defaults to `true`.
    pub fn parallel_compilation(mut self, enable: bool) -> Self {
        self.parallel_compilation = enable;
        self
    }

    /// Compiles fuel metering into plugins, so that [`Limits::fuel`](crate::Limits::fuel) can
    /// bound each call. Defaults to `false`: metering slows compute-heavy plugins (about 1.3x
    /// measured here), so hosts that do not bound fuel do not pay for it.
    ///
    /// With fuel on, plugins are compiled without Cranelift's optimiser until Componentry can
    /// move to wasmtime 48.0.11, which fixes fuel amplified by code the optimiser hoists out of
    /// loops (GHSA-pv4f-cfmc-gph7; see the book's security page): compute-heavy plugins run
    /// slower, and fuel bounds what they do.
    pub fn fuel(mut self, enable: bool) -> Self {
        self.fuel = enable;
        self
    }

    /// Compiles epoch checks into plugins and starts one ticker thread for the engine, advancing
    /// the epoch every `tick`, so that [`Limits::deadline`](crate::Limits::deadline) can stop a
    /// call within its deadline plus one tick, whether the plugin is computing or waiting in a
    /// host call. Defaults to off (the checks cost about 1.45x on
    /// compute-heavy plugins, measured here); 10 ms is a good period.
    pub fn epoch_interruption(mut self, tick: Duration) -> Self {
        self.epoch_tick = Some(tick.max(Duration::from_micros(100)));
        self
    }

    /// The most stack wasm code may use, in bytes; deeper recursion traps with a stack overflow
    /// instead of overflowing the host's stack. Defaults to 512 KiB.
    pub fn max_wasm_stack(mut self, bytes: usize) -> Self {
        self.max_wasm_stack = bytes;
        self
    }

    /// Writes a wasm core dump of trapping plugins into `dir` (`PLUGIN-MILLIS-N.coredump`,
    /// readable with wasm tools that understand core dumps, mode 0600), for debugging, up to the
    /// caps of [`core_dump_limits`](Self::core_dump_limits). Defaults to off: capturing the dump
    /// costs time on every trap, and the dump holds the plugin's memory.
    pub fn core_dumps(mut self, dir: impl Into<PathBuf>) -> Self {
        self.core_dump_dir = Some(dir.into());
        self
    }

    /// At most `files` core dumps per engine, each of a plugin with at most `bytes` of memory;
    /// traps beyond them are reported without a dump. Defaults to
    /// 16 dumps of plugins with at most 64 MiB each.
    pub fn core_dump_limits(mut self, files: usize, bytes: usize) -> Self {
        self.max_core_dumps = files;
        self.max_core_dump_bytes = bytes;
        self
    }

    /// Creates the engine.
    pub fn build(self) -> Result<Engine> {
        let mut config = wasmtime::Config::new();
        if let Some(Configure(configure)) = &self.configure {
            configure(&mut config);
        }
        if let Some(pooling) = &self.pooling {
            pooling.apply(&mut config);
        }
        // What the framework relies on is set last, over anything the escape hatch set.
        config
            .wasm_component_model(true)
            .wasm_backtrace_max_frames(NonZeroUsize::new(self.wasm_backtrace_frames))
            .parallel_compilation(self.parallel_compilation)
            .consume_fuel(self.fuel)
            .epoch_interruption(self.epoch_tick.is_some())
            .max_wasm_stack(self.max_wasm_stack)
            .coredump_on_trap(self.core_dump_dir.is_some());
        if self.fuel {
            // Until wasmtime 48.0.11 (GHSA-pv4f-cfmc-gph7): Cranelift's optimiser hoists code
            // out of loops from branches that never run, so a plugin could do thousands of times
            // the work its fuel pays for. Without the optimiser, fuel counts what runs.
            config.cranelift_opt_level(wasmtime::OptLevel::None);
        }
        let wasmtime = wasmtime::Engine::new(&config)
            .map_err(|e| Error::engine("wasmtime refused the engine configuration", e))?;
        let cache = match self.cache_dir {
            CacheDir::Dir(dir) => Some(ArtifactCache::open(dir, &wasmtime, self.cache_max_bytes)?),
            CacheDir::Off => None,
            // The default: a cache when the per-user directory can be found and used, and a
            // warning (not an error) when it cannot.
            CacheDir::PerUser => match per_user_cache_dir() {
                None => {
                    tracing::warn!(
                        "no per-user cache directory (neither COMPONENTRY_CACHE_DIR, \
                         XDG_CACHE_HOME nor HOME is set): plugins are compiled on every load; \
                         set EngineBuilder::cache_dir"
                    );
                    None
                }
                Some(dir) => {
                    match ArtifactCache::open(dir.clone(), &wasmtime, self.cache_max_bytes) {
                        Ok(cache) => Some(cache),
                        Err(e) => {
                            tracing::warn!(
                                "the per-user cache directory {} cannot be used ({e}): plugins are \
                             compiled on every load",
                                dir.display()
                            );
                            None
                        }
                    }
                }
            },
        };
        let timer = match self.epoch_tick {
            Some(tick) => {
                let timer = Arc::new(Timer::default());
                start_ticker(&wasmtime, tick, timer.clone())?;
                Some(timer)
            }
            None => None,
        };
        Ok(Engine {
            wasmtime,
            pooling: self.pooling,
            cache,
            fuel: self.fuel,
            epoch_tick: self.epoch_tick,
            timer,
            core_dumps: self.core_dump_dir.map(|dir| {
                Arc::new(CoreDumps::new(
                    dir,
                    self.max_core_dumps,
                    self.max_core_dump_bytes,
                ))
            }),
        })
    }
}

/// Starts the engine's one epoch ticker, which also ends waits whose deadlines have passed; it
/// ends by itself once the engine is dropped.
fn start_ticker(engine: &wasmtime::Engine, tick: Duration, timer: Arc<Timer>) -> Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("componentry-epoch".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(tick);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
                timer.fire(std::time::Instant::now());
            }
        })
        .map_err(|e| Error::engine("cannot start the epoch ticker thread", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<std::ffi::OsString> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.into())
    }

    #[test]
    fn the_per_user_cache_follows_the_environment() {
        let dir = |vars: &[(&str, &str)]| cache_dir_from(env(vars));
        assert_eq!(
            dir(&[("COMPONENTRY_CACHE_DIR", "/c"), ("HOME", "/h")]),
            Some(PathBuf::from("/c"))
        );
        assert_eq!(
            dir(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")]),
            Some(PathBuf::from("/x/componentry"))
        );
        assert_eq!(
            dir(&[("HOME", "/h")]),
            Some(PathBuf::from("/h/.cache/componentry"))
        );
        assert_eq!(
            dir(&[
                ("COMPONENTRY_CACHE_DIR", ""),
                ("XDG_CACHE_HOME", ""),
                ("HOME", "/h")
            ]),
            Some(PathBuf::from("/h/.cache/componentry")),
            "an empty variable is unset"
        );
        assert_eq!(dir(&[]), None);
    }
}
