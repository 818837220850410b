//! Integration tests: real components built from `examples/` and `host/tests/guests/`, one file per
//! feature. Build the guests first with `cargo xtask guests` (`cargo xtask test` does).

mod advisories;
#[cfg(feature = "async")]
mod async_limits;
#[cfg(feature = "async")]
mod asynchronous;
mod command;
#[cfg(feature = "async")]
mod concurrency;
mod core_modules;
mod deadlines;
mod directory;
mod dynamic;
mod extension_points;
mod host_interfaces;
mod languages;
mod layers;
mod limits;
mod load;
mod logs;
mod metrics;
mod output;
mod policy;
mod pooling;
mod reload;
mod sandbox;
#[cfg(feature = "serve")]
mod serving;
#[cfg(feature = "serve")]
mod serving_p3;
mod traps;
mod typed;
mod typed_versions;
#[cfg(feature = "async")]
mod wasi_p3;
mod watch;
mod wit_copies;

use std::path::PathBuf;
use std::sync::OnceLock;

use componentry::{Engine, Host};

/// The epoch tick the tests' deadline engines use: a call overruns its deadline by at most this.
pub const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(10);

/// Where deterministic plugins' virtual wall clock starts, as `Grants::deterministic`
/// documents it: 2000-01-01T00:00:00Z, in seconds since the Unix epoch.
pub const VIRTUAL_EPOCH_SECS: u64 = 946_684_800;

/// The path of the built guest `name` (`target/guests/NAME.wasm`).
pub fn guest(name: &str) -> PathBuf {
    let dir = std::env::var_os("COMPONENTRY_GUESTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/guests"));
    let path = dir.join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "guest {} is missing: run `cargo xtask guests` first",
        path.display()
    );
    path
}

/// Where compiled guests are cached between test runs.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/componentry-test-cache")
}

/// One engine for the whole test binary, caching compiled guests between runs.
pub fn engine() -> Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            Engine::builder()
                .cache_dir(cache_dir())
                .build()
                .expect("engine")
        })
        .clone()
}

/// A host with no application state.
pub fn host() -> Host<()> {
    Host::new(&engine()).expect("host")
}
