//! Watching plugin files: when a component changes on disk, the new version is loaded off the
//! calling threads and swapped in ([`Plugin::reload`]); new components in a watched directory are
//! loaded, deleted ones unloaded. Changes are debounced, so a file written in several steps is
//! read once it has settled; a version that still fails to load never replaces a working one.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher as _};

use crate::error::{Error, Result};
use crate::events::PluginEvent;
use crate::host::{Host, PluginOptions};
use crate::plugin::Plugin;

/// How long a file must stay unchanged before it is read: 150 ms.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(150);

type OptionsFor = dyn Fn(&str) -> Result<PluginOptions> + Send + Sync;
type Registry<T> = Arc<RwLock<BTreeMap<PathBuf, Plugin<T>>>>;

/// Watches one component file or a directory of them. Dropping it stops the watching; plugins
/// already handed out keep working.
pub struct Watcher<T: 'static> {
    plugins: Registry<T>,
    _watcher: notify::RecommendedWatcher,
}

impl<T: Send + 'static> Watcher<T> {
    /// The plugin loaded from the component named `name` (its file name without `.wasm`).
    pub fn plugin(&self, name: &str) -> Option<Plugin<T>> {
        self.read().values().find(|p| p.name() == name).cloned()
    }

    /// Every plugin loaded now, in file name order.
    pub fn plugins(&self) -> Vec<Plugin<T>> {
        self.read().values().cloned().collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<PathBuf, Plugin<T>>> {
        self.plugins
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<T: Send + 'static> Host<T> {
    /// Watches `path`, a component file or a directory of `*.wasm` components, loading each with
    /// the options `options_for(name)` gives (or refuses, as a [`Policy`](crate::Policy) may),
    /// and reloading it when it changes. Subscribe to the
    /// host's events ([`Host::subscribe`]) to hear of loads, reloads, failures and unloads.
    pub fn watch(
        &self,
        path: impl AsRef<Path>,
        debounce: Duration,
        options_for: impl Fn(&str) -> Result<PluginOptions> + Send + Sync + 'static,
    ) -> Result<Watcher<T>> {
        let path = path.as_ref().to_owned();
        let (dir, only) = if path.is_dir() {
            (path.clone(), None)
        } else {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            (dir.to_owned(), Some(path.clone()))
        };
        let (sender, receiver) = channel();
        let mut watcher = notify::recommended_watcher(sender).map_err(|e| watch_error(&path, e))?;
        // The directory, not the file: editors and compilers often replace a file by renaming.
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|e| watch_error(&path, e))?;
        let plugins: Registry<T> = Arc::default();
        let follower = Follower {
            host: self.clone(),
            plugins: plugins.clone(),
            options_for: Arc::new(options_for),
            only,
        };
        for component in follower.components_in(&dir) {
            follower.settle(&component);
        }
        std::thread::Builder::new()
            .name("componentry-watch".to_owned())
            .spawn(move || follower.run(receiver, debounce))
            .map_err(|e| Error::Engine(format!("cannot start the watcher thread: {e}")))?;
        Ok(Watcher {
            plugins,
            _watcher: watcher,
        })
    }
}

fn watch_error(path: &Path, error: notify::Error) -> Error {
    Error::Config {
        path: path.to_owned(),
        reason: format!("cannot watch: {error}"),
    }
}

/// The watcher thread's state: what is loaded, and how to load more.
struct Follower<T: 'static> {
    host: Host<T>,
    plugins: Registry<T>,
    options_for: Arc<OptionsFor>,
    /// The one file watched, when the path is a file.
    only: Option<PathBuf>,
}

impl<T: Send + 'static> Follower<T> {
    fn run(self, events: Receiver<notify::Result<notify::Event>>, debounce: Duration) {
        let mut pending: HashMap<PathBuf, Instant> = HashMap::new();
        loop {
            match events.recv_timeout(debounce) {
                Ok(Ok(event)) => {
                    for path in event.paths {
                        if self.is_watched(&path) {
                            pending.insert(path, Instant::now());
                        }
                    }
                }
                Ok(Err(e)) => tracing::warn!("file watching error: {e}"),
                Err(RecvTimeoutError::Timeout) => {}
                // The `Watcher` was dropped.
                Err(RecvTimeoutError::Disconnected) => return,
            }
            let settled: Vec<PathBuf> = pending
                .iter()
                .filter(|(_, last)| last.elapsed() >= debounce)
                .map(|(path, _)| path.clone())
                .collect();
            for path in settled {
                pending.remove(&path);
                self.settle(&path);
            }
        }
    }

    fn is_watched(&self, path: &Path) -> bool {
        match &self.only {
            Some(only) => same_file(only, path),
            None => path.extension().is_some_and(|e| e == "wasm") && !hidden(path),
        }
    }

    fn components_in(&self, dir: &Path) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        found.retain(|path| path.is_file() && self.is_watched(path));
        found.sort();
        found
    }

    /// Brings the plugin of `path` in line with the file: load, reload or unload.
    fn settle(&self, path: &Path) {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let existing = self.read().get(path).cloned();
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(_) => {
                if self.write().remove(path).is_some() {
                    tracing::info!(plugin = name, "unloaded: its file is gone");
                    self.host
                        .events
                        .emit(PluginEvent::Unloaded { plugin: name });
                }
                return;
            }
        };
        match existing {
            // `reload` reports its own success or failure.
            Some(plugin) => {
                let _ = plugin.reload(&bytes);
            }
            None => {
                let loaded = (self.options_for)(&name).and_then(|options| {
                    self.host
                        .load_bytes_with(name.clone(), &bytes, options.name(name.clone()))
                });
                match loaded {
                    Ok(plugin) => {
                        let sha256 = hex::encode(plugin.sha256());
                        self.write().insert(path.to_owned(), plugin);
                        self.host.events.emit(PluginEvent::Loaded {
                            plugin: name,
                            sha256,
                        });
                    }
                    Err(error) => {
                        tracing::warn!(plugin = name, "not loaded: {error}");
                        self.host.events.emit(PluginEvent::ReloadFailed {
                            plugin: name,
                            error: error.to_string(),
                        });
                    }
                }
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<PathBuf, Plugin<T>>> {
        self.plugins
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<PathBuf, Plugin<T>>> {
        self.plugins
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// Whether two paths name the same file, whether or not either is canonical.
fn same_file(a: &Path, b: &Path) -> bool {
    a == b || (a.file_name() == b.file_name() && canonical_parent(a) == canonical_parent(b))
}

fn canonical_parent(path: &Path) -> Option<PathBuf> {
    let parent = path.parent()?;
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    parent.canonicalize().ok()
}
