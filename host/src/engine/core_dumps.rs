//! Where wasm core dumps of trapping plugins go, and how many: an engine-wide cap on files and
//! on the size of each (see [`EngineBuilder::core_dumps`](crate::EngineBuilder::core_dumps)).
//! The store's side, taking a dump out of a trap, is in `store::outcome`.
//!
//! A dump holds the plugin's memory, and a plugin can trap as often as it is called, so dumps are
//! bounded: at most a number of files per engine, each at most a size, written readable by the
//! host's user only.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The default cap on core dumps one engine writes: 16.
pub(crate) const DEFAULT_MAX_CORE_DUMPS: usize = 16;
/// The default cap on the size of one core dump: 64 MiB.
pub(crate) const DEFAULT_MAX_CORE_DUMP_BYTES: usize = 64 << 20;

/// Where core dumps go, and how many more may be written.
#[derive(Debug)]
pub(crate) struct CoreDumps {
    dir: PathBuf,
    max_files: usize,
    max_bytes: usize,
    written: AtomicUsize,
}

impl CoreDumps {
    pub(crate) fn new(dir: PathBuf, max_files: usize, max_bytes: usize) -> Self {
        Self {
            dir,
            max_files,
            max_bytes,
            written: AtomicUsize::new(0),
        }
    }

    /// Takes one of the dumps still allowed, if any is left.
    fn take_one(&self) -> bool {
        self.written
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.max_files).then_some(n + 1)
            })
            .is_ok()
    }

    /// Saves the dump of `plugin`, whose memories hold `memory` bytes, as `serialize` makes it,
    /// if the caps allow; logs where, or why not.
    pub(crate) fn save(&self, plugin: &str, memory: usize, serialize: impl FnOnce() -> Vec<u8>) {
        if memory > self.max_bytes {
            tracing::warn!(
                plugin,
                "no core dump of this trap: the plugin's {memory} bytes of memory exceed the cap of {} bytes",
                self.max_bytes
            );
            return;
        }
        if !self.take_one() {
            tracing::debug!(
                plugin,
                "no core dump of this trap: the cap of {} dumps was reached",
                self.max_files
            );
            return;
        }
        let path = self.dir.join(file_name(plugin));
        match write_private(&self.dir, &path, &serialize()) {
            Ok(()) => {
                tracing::info!(plugin, path = %path.display(), "wrote a core dump of the trap")
            }
            Err(e) => {
                tracing::warn!(plugin, dir = %self.dir.display(), "cannot write a core dump: {e}")
            }
        }
    }
}

/// Writes `bytes` to a new file at `path`, readable and writable by this user only.
fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

/// `PLUGIN-MILLIS-N.coredump`: unique within the process, ordered in time.
fn file_name(plugin: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let safe: String = plugin
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}-{millis}-{n}.coredump")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_safe() {
        let a = file_name("my plugin/../x");
        let b = file_name("my plugin/../x");
        assert_ne!(a, b);
        assert!(!a.contains('/') && !a.contains(' '), "{a}");
        assert!(a.ends_with(".coredump"), "{a}");
    }

    #[test]
    fn the_count_is_capped() {
        let dumps = CoreDumps::new(PathBuf::from("/nowhere"), 2, 1);
        assert!(dumps.take_one() && dumps.take_one());
        assert!(!dumps.take_one());
    }
}
