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

use crate::directory::component_in;
use crate::error::{Error, Result};
use crate::events::PluginEvent;
use crate::host::{Host, PluginOptions};
use crate::manifest::Manifest;
use crate::plugin::Plugin;

/// How long a file must stay unchanged before it is read: 150 ms.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(150);

type OptionsFor = dyn Fn(&str, Option<&Manifest>) -> Result<PluginOptions> + Send + Sync;
type Registry<T> = Arc<RwLock<BTreeMap<PathBuf, Entry<T>>>>;

/// A plugin the watcher loaded, and the manifest text it was loaded with.
struct Entry<T: 'static> {
    plugin: Plugin<T>,
    manifest: Option<String>,
}

/// Watches one component file or a directory of them. Dropping it stops the watching; plugins
/// already handed out keep working.
pub struct Watcher<T: 'static> {
    plugins: Registry<T>,
    _watcher: notify::RecommendedWatcher,
}

impl<T: Send + 'static> Watcher<T> {
    /// The plugin named `name` (from its manifest, or its file name without `.wasm`).
    pub fn plugin(&self, name: &str) -> Option<Plugin<T>> {
        self.read()
            .values()
            .map(|e| &e.plugin)
            .find(|p| p.name() == name)
            .cloned()
    }

    /// Every plugin loaded now, in path order.
    pub fn plugins(&self) -> Vec<Plugin<T>> {
        self.read().values().map(|e| e.plugin.clone()).collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<PathBuf, Entry<T>>> {
        self.plugins
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<T: Send + 'static> Host<T> {
    /// Watches `path`: a component file, or a directory of components, each either a `*.wasm`
    /// file or a plugin directory holding a `plugin.toml` and its one component. Each plugin is
    /// loaded with the options `options_for(name, manifest)` gives (or refuses, as a
    /// [`Policy`](crate::Policy) may), and reloaded when its component changes; a changed
    /// manifest loads the plugin afresh with the options it now gets. Subscribe to the host's
    /// events ([`Host::subscribe`]) to hear of loads, reloads, failures and unloads.
    pub fn watch(
        &self,
        path: impl AsRef<Path>,
        debounce: Duration,
        options_for: impl Fn(&str, Option<&Manifest>) -> Result<PluginOptions> + Send + Sync + 'static,
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
        let dir = dir.canonicalize().map_err(|e| Error::Config {
            path: path.clone(),
            reason: format!("cannot watch: {e}"),
        })?;
        let (sender, receiver) = channel();
        let mut watcher = notify::recommended_watcher(sender).map_err(|e| watch_error(&path, e))?;
        // The directory, not the file: editors and compilers often replace a file by renaming.
        let mode = if only.is_some() {
            RecursiveMode::NonRecursive
        } else {
            RecursiveMode::Recursive
        };
        watcher
            .watch(&dir, mode)
            .map_err(|e| watch_error(&path, e))?;
        let plugins: Registry<T> = Arc::default();
        let follower = Follower {
            host: self.clone(),
            plugins: plugins.clone(),
            options_for: Arc::new(options_for),
            dir,
            only,
        };
        for entry in follower.initial_entries() {
            follower.settle(&entry);
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
    /// The watched directory, canonical.
    dir: PathBuf,
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
                        if let Some(entry) = self.entry_for(&path) {
                            pending.insert(entry, Instant::now());
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

    /// The watched entry a changed path belongs to: a component file directly in the directory,
    /// or the plugin directory it lies in.
    fn entry_for(&self, path: &Path) -> Option<PathBuf> {
        if let Some(only) = &self.only {
            return same_file(only, path).then(|| only.clone());
        }
        let relative = path.strip_prefix(&self.dir).ok()?;
        let first = relative.components().next()?;
        let top = self.dir.join(first);
        if hidden(&top) {
            return None;
        }
        let nested = relative.components().count() > 1;
        let is_component = top.extension().is_some_and(|e| e == "wasm");
        (nested || !is_component || !top.is_dir()).then_some(top)
    }

    fn initial_entries(&self) -> Vec<PathBuf> {
        if let Some(only) = &self.only {
            return vec![only.clone()];
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        found.retain(|path| {
            !hidden(path)
                && (path.extension().is_some_and(|e| e == "wasm") && path.is_file()
                    || path.join("plugin.toml").is_file())
        });
        found.sort();
        found
    }

    /// Brings the plugin of `entry` in line with the disk: load, reload or unload.
    fn settle(&self, entry: &Path) {
        if entry.is_dir() || (!entry.exists() && entry.extension().is_none_or(|e| e != "wasm")) {
            self.settle_plugin_dir(entry);
        } else {
            self.settle_component(entry);
        }
    }

    fn settle_component(&self, path: &Path) {
        if path.extension().is_none_or(|e| e != "wasm") {
            return;
        }
        let name = file_stem(path);
        match std::fs::read(path) {
            Ok(bytes) => self.apply(path, &name, &bytes, None),
            Err(_) => self.unload(path),
        }
    }

    fn settle_plugin_dir(&self, dir: &Path) {
        let manifest_path = dir.join("plugin.toml");
        let Ok(text) = std::fs::read_to_string(&manifest_path) else {
            self.unload(dir);
            return;
        };
        let fallback_name = file_stem(dir);
        let loaded = Manifest::parse(&text, &manifest_path).and_then(|manifest| {
            let component = component_in(dir, &manifest.name)?;
            let bytes = crate::loader::read(&manifest.name, &component)?;
            Ok((manifest, bytes))
        });
        match loaded {
            Ok((manifest, bytes)) => {
                self.apply(dir, &manifest.name.clone(), &bytes, Some((manifest, text)))
            }
            Err(error) => self.failed(&fallback_name, &error),
        }
    }

    /// Loads, reloads or reloads afresh (when the manifest changed) the plugin of `entry`.
    fn apply(&self, entry: &Path, name: &str, bytes: &[u8], manifest: Option<(Manifest, String)>) {
        let existing = self
            .read()
            .get(entry)
            .map(|e| (e.plugin.clone(), e.manifest.clone()));
        let manifest_text = manifest.as_ref().map(|(_, text)| text.clone());
        if let Some((plugin, loaded_with)) = &existing
            && *loaded_with == manifest_text
        {
            // Same manifest: swap the component in; `reload` reports success or failure itself.
            let _ = plugin.reload(bytes);
            return;
        }
        let started = Instant::now();
        let manifest = manifest.map(|(m, _)| m);
        let loaded = (self.options_for)(name, manifest.as_ref()).and_then(|options| {
            let options = match &manifest {
                Some(m) => options.settings(&m.settings),
                None => options,
            };
            self.host
                .load_bytes_with(name.to_owned(), bytes, options.name(name))
        });
        match loaded {
            Ok(plugin) => {
                let sha256 = hex::encode(plugin.sha256());
                self.write().insert(
                    entry.to_owned(),
                    Entry {
                        plugin,
                        manifest: manifest_text,
                    },
                );
                let event = match existing {
                    Some((old, _)) => PluginEvent::Reloaded {
                        plugin: name.to_owned(),
                        old_sha256: hex::encode(old.sha256()),
                        new_sha256: sha256,
                        took: started.elapsed(),
                    },
                    None => PluginEvent::Loaded {
                        plugin: name.to_owned(),
                        sha256,
                    },
                };
                self.host.events.emit(event);
            }
            Err(error) => self.failed(name, &error),
        }
    }

    fn failed(&self, name: &str, error: &Error) {
        tracing::warn!(
            plugin = name,
            "not loaded; a previous version, if any, keeps serving: {error}"
        );
        self.host.events.emit(PluginEvent::ReloadFailed {
            plugin: name.to_owned(),
            error: error.to_string(),
        });
    }

    fn unload(&self, entry: &Path) {
        if let Some(gone) = self.write().remove(entry) {
            let plugin = gone.plugin.name().to_owned();
            tracing::info!(plugin, "unloaded: its file is gone");
            self.host.events.emit(PluginEvent::Unloaded { plugin });
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<PathBuf, Entry<T>>> {
        self.plugins
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<PathBuf, Entry<T>>> {
        self.plugins
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
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
