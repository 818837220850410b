//! Writing built guest components into their output directory, leaving a file that already holds
//! the same bytes untouched, so unchanged guests keep their timestamps. Shared by the Rust guests
//! (`guests.rs`) and the C guests (`c_guests.rs`).

use std::path::Path;

use anyhow::Context;

/// Copies `from` to `to` unless `to` already has the same bytes.
pub fn copy_if_changed(from: &Path, to: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(from)
        .with_context(|| format!("reading the built guest {}", from.display()))?;
    write_if_changed(to, &bytes)
}

/// Writes `bytes` to `to` unless it already holds them, so unchanged guests keep their timestamps.
pub fn write_if_changed(to: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if std::fs::read(to).is_ok_and(|existing| existing == bytes) {
        return Ok(());
    }
    std::fs::write(to, bytes).with_context(|| format!("writing {}", to.display()))
}
