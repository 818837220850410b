//! The compiled-artifact cache: native code of compiled components on disk, keyed by the
//! component's SHA-256 and the engine's configuration.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::component::Component;

use crate::error::{Error, Result};

/// A directory of serialized compiled components.
#[derive(Debug, Clone)]
pub(crate) struct ArtifactCache {
    dir: PathBuf,
    /// Distinguishes artifacts of engines with other settings or another wasmtime version.
    engine_key: String,
}

impl ArtifactCache {
    pub(crate) fn open(dir: PathBuf, engine: &wasmtime::Engine) -> Result<Self> {
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::Engine(format!(
                "cannot create the cache directory {}: {e}",
                dir.display()
            ))
        })?;
        // DefaultHasher is stable within one build of the host, which is all an artifact needs:
        // another build gets another wasmtime anyway and must not reuse native code.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Self {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
        })
    }

    fn path_for(&self, sha256: &[u8; 32]) -> PathBuf {
        self.dir
            .join(format!("{}-{}.cwasm", hex::encode(sha256), self.engine_key))
    }

    /// Returns the cached artifact for `sha256`, if there is a usable one.
    pub(crate) fn get(&self, engine: &wasmtime::Engine, sha256: &[u8; 32]) -> Option<Component> {
        let path = self.path_for(sha256);
        // Read into memory rather than mapping the file: a file changed under a mapping would
        // fault the host, whoever changed it.
        let bytes = std::fs::read(&path).ok()?;
        // SAFETY: the cache directory is the application's own (see `EngineBuilder::cache_dir`),
        // and files are written whole by `put` (rename into place), so what is read was produced
        // by `Component::serialize` of an engine with the same compatibility hash. wasmtime also
        // checks the artifact's header against the engine before using it.
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
        }
    }
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
