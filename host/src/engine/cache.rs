//! The compiled-artifact cache: native code of compiled components on disk, keyed by the
//! component's SHA-256 and the engine's configuration, bounded in size.
//!
//! Several processes may share one directory. Artifacts are written whole to a temporary file
//! and renamed into place, and evicted by unlinking, never changed in place: a reader sees a
//! whole artifact or none.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::component::Component;

use crate::error::{Error, Result};

/// What an engine's compiled-artifact cache has done since the engine was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Loads served from a cached artifact, without compiling.
    pub hits: u64,
    /// Loads that compiled (no artifact, or an unusable one).
    pub misses: u64,
    /// Artifacts removed to keep the cache within its size bound.
    pub evictions: u64,
}

/// The size bound of an artifact cache by default: 1 GiB.
pub(crate) const DEFAULT_CACHE_MAX_BYTES: u64 = 1 << 30;

/// A directory of serialized compiled components.
#[derive(Debug, Clone)]
pub(crate) struct ArtifactCache {
    dir: PathBuf,
    /// Distinguishes artifacts of engines with other settings or another wasmtime version.
    engine_key: String,
    counters: Arc<[AtomicU64; 3]>,
    /// The most bytes of artifacts the directory may hold; the least recently used go first.
    max_bytes: u64,
}

impl ArtifactCache {
    pub(crate) fn open(dir: PathBuf, engine: &wasmtime::Engine, max_bytes: u64) -> Result<Self> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir).map_err(|e| {
            Error::engine(
                format_args!("cannot create the cache directory {}", dir.display()),
                e,
            )
        })?;
        check_private(&dir)?;
        // The directory checked is the one used: its canonical path, not a path that a symlink
        // on the way could re-point later.
        let dir = dir.canonicalize().map_err(|e| {
            Error::engine(
                format_args!("cannot resolve the cache directory {}", dir.display()),
                e,
            )
        })?;
        // DefaultHasher is stable within one build of the host, which is all an artifact needs:
        // another build gets another wasmtime anyway and must not reuse native code.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Self {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
            counters: Arc::default(),
            max_bytes,
        })
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.counters[0].load(Ordering::Relaxed),
            misses: self.counters[1].load(Ordering::Relaxed),
            evictions: self.counters[2].load(Ordering::Relaxed),
        }
    }

    fn path_for(&self, sha256: &[u8; 32]) -> PathBuf {
        self.dir
            .join(format!("{}-{}.cwasm", hex::encode(sha256), self.engine_key))
    }

    /// Returns the cached artifact for `sha256`, if there is a usable one.
    pub(crate) fn get(&self, engine: &wasmtime::Engine, sha256: &[u8; 32]) -> Option<Component> {
        let found = self.read(engine, sha256);
        let counter = if found.is_some() { 0 } else { 1 };
        self.counters[counter].fetch_add(1, Ordering::Relaxed);
        found
    }

    fn read(&self, engine: &wasmtime::Engine, sha256: &[u8; 32]) -> Option<Component> {
        let path = self.path_for(sha256);
        // Read into memory rather than mapping the file: a file changed in place under a mapping
        // (by anyone: this module never does) would fault the host when it touched the page.
        let bytes = std::fs::read(&path).ok()?;
        // SAFETY: the cache directory belongs to this user and no other may write it
        // (`check_private`), and every writer of it (this module, in any process) writes files
        // whole under a temporary name and renames them into place, so what is read was produced
        // by `Component::serialize` of an engine with the same compatibility hash (part of the
        // name). wasmtime also checks the artifact's header against the engine before using it.
        match unsafe { Component::deserialize(engine, &bytes) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring unusable cached artifact: {e:#}");
                None
            }
        }
    }

    /// Stores `component` for `sha256`. Failure only costs a recompilation later, so it is logged
    /// and not returned.
    pub(crate) fn put(&self, sha256: &[u8; 32], component: &Component) {
        let path = self.path_for(sha256);
        if let Err(e) = write_atomically(&path, component) {
            tracing::warn!(path = %path.display(), "cannot write compiled artifact: {e:#}");
            return;
        }
        let evicted = evict(&self.dir, self.max_bytes, &path);
        self.counters[2].fetch_add(evicted, Ordering::Relaxed);
    }
}

/// Refuses a cache directory that another user could write, or that another user could replace
/// through one of its ancestors (as ssh's StrictModes does): whoever writes it chooses native code
/// the host runs. Each ancestor must belong to this user or root, and be writable by no one else
/// unless it is sticky (as `/tmp` is: then no one else may rename or remove what is in it).
#[cfg(unix)]
fn check_private(dir: &Path) -> Result<()> {
    check_leaf(dir)?;
    use std::os::unix::fs::MetadataExt;
    let canonical = dir.canonicalize().map_err(|e| {
        Error::engine(
            format_args!("cannot resolve the cache directory {}", dir.display()),
            e,
        )
    })?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    for ancestor in canonical.ancestors().skip(1) {
        let metadata = std::fs::metadata(ancestor).map_err(|e| {
            Error::engine(
                format_args!(
                    "cannot read {}, above the cache directory",
                    ancestor.display()
                ),
                e,
            )
        })?;
        let mode = metadata.mode();
        let problem = if metadata.uid() != me && metadata.uid() != 0 {
            Some(format!("belongs to another user (uid {})", metadata.uid()))
        } else if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            Some(format!(
                "may be written by other users (mode {:o})",
                mode & 0o7777
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(Error::Engine {
                message: format!(
                    "refusing the cache directory {}: {} above it {problem}, who could replace \
                     it; its files are native code the host runs without checking them again \
                     (choose a directory under one only this user and root may change)",
                    dir.display(),
                    ancestor.display()
                ),
                source: None,
            });
        }
    }
    Ok(())
}

/// Refuses a cache directory that another user owns or may write.
#[cfg(unix)]
fn check_leaf(dir: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(dir).map_err(|e| {
        Error::engine(
            format_args!("cannot read the cache directory {}", dir.display()),
            e,
        )
    })?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let problem = if metadata.uid() != me {
        Some(format!(
            "it belongs to another user (uid {})",
            metadata.uid()
        ))
    } else if metadata.mode() & 0o022 != 0 {
        Some(format!(
            "other users may write it (mode {:o})",
            metadata.mode() & 0o777
        ))
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::Engine {
            message: format!(
                "refusing the cache directory {}: {problem}; its files are native code the host \
                 runs without checking them again, so it must be writable by this user only \
                 (chmod 700 it, or choose another directory)",
                dir.display()
            ),
            source: None,
        }),
        None => Ok(()),
    }
}

#[cfg(not(unix))]
fn check_private(_dir: &Path) -> Result<()> {
    Ok(())
}

/// Removes the least recently used artifacts of `dir` until they hold at most `max_bytes`
/// (sparing `keep`, just written); returns how many it removed. Access times (as the file
/// system keeps them, often at a day's granularity) order them, then modification times.
fn evict(dir: &Path, max_bytes: u64, keep: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut artifacts: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "cwasm") {
                return None;
            }
            let metadata = entry.metadata().ok()?;
            let used = metadata.accessed().or_else(|_| metadata.modified()).ok()?;
            Some((used, metadata.len(), path))
        })
        .collect();
    let mut total: u64 = artifacts.iter().map(|(_, len, _)| len).sum();
    if total <= max_bytes {
        return 0;
    }
    artifacts.sort_by_key(|(used, _, _)| *used);
    let mut evicted = 0;
    for (_, len, path) in artifacts {
        if total <= max_bytes {
            break;
        }
        if path == keep {
            continue;
        }
        // Another process may have evicted it first: either way it is gone.
        if std::fs::remove_file(&path).is_ok() {
            evicted += 1;
        }
        total = total.saturating_sub(len);
    }
    evicted
}

fn write_atomically(path: &Path, component: &Component) -> anyhow::Result<()> {
    let bytes = component
        .serialize()
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    // A temporary file of its own for every writer, so that concurrent writers never share one.
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut file, &bytes)?;
    file.persist(path)?;
    Ok(())
}
