//! Watching plugin files ([`PluginDir::watch`]): when a component changes on disk, the new
//! version is loaded off the calling threads and swapped in ([`Plugin::reload`]); new plugins in a watched directory are
//! loaded, deleted ones unloaded. Changes are debounced, so a file written in several steps is
//! read once it has settled; a version that fails to load never replaces a working one, and the
//! same failure is reported once, not at every look.
//!
//! Only events that can change what a plugin is (a file created, written, renamed into place or
//! removed) are acted on: the watcher's own reads raise access events, which are ignored.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher as _};

use super::{Candidate, MANIFEST, PluginDir, has_component_extension, hidden};
use crate::compat::extension_point::ExtensionPoints;
use crate::config::policy::Policy;
use crate::engine::events::PluginEvent;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::plugin::Plugin;

/// How long a file must stay unchanged before it is read: 150 ms.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(150);

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
    /// The plugin named `name` (from its manifest, or its file name without the extension).
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

/// Starts watching `dir` for `host`, keeping the handles of `adopted` for entries of their names.
pub(super) fn start<T: Send + 'static>(
    host: &Host<T>,
    dir: &PluginDir,
    adopted: Vec<Plugin<T>>,
) -> Result<Watcher<T>> {
    let path = dir.path().to_owned();
    let (watched, only) = if path.is_dir() {
        (path.clone(), None)
    } else {
        if !has_component_extension(&path) {
            return Err(Error::Config {
                path: path.clone(),
                reason: "cannot watch: not a component file (.wasm or .wat) nor a directory"
                    .to_owned(),
            });
        }
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        (parent.to_owned(), Some(path.clone()))
    };
    let watched = watched.canonicalize().map_err(|e| Error::Config {
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
        .watch(&watched, mode)
        .map_err(|e| watch_error(&path, e))?;
    let plugins: Registry<T> = Arc::default();
    let mut follower = Follower {
        host: host.clone(),
        plugins: plugins.clone(),
        policy: dir.policy.clone(),
        points: dir.extension_points.clone(),
        dir: watched,
        only,
        failures: HashMap::new(),
        adopted,
    };
    for entry in follower.initial_entries() {
        follower.settle(&entry);
    }
    follower.adopted.clear();
    let debounce = dir.debounce;
    std::thread::Builder::new()
        .name("componentry-watch".to_owned())
        .spawn(move || follower.run(receiver, debounce))
        .map_err(|e| Error::engine("cannot start the watcher thread", e))?;
    Ok(Watcher {
        plugins,
        _watcher: watcher,
    })
}

fn watch_error(path: &Path, error: notify::Error) -> Error {
    Error::Config {
        path: path.to_owned(),
        reason: format!("cannot watch: {error}"),
    }
}

/// Whether an event can change what a plugin is. Opening and reading a file (as the watcher
/// itself does) cannot, nor can a change of its permissions or times.
fn changes_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Any | EventKind::Other => true,
    }
}

/// The watcher thread's state: what is loaded, and how to load more.
struct Follower<T: 'static> {
    host: Host<T>,
    plugins: Registry<T>,
    policy: Policy,
    points: Option<ExtensionPoints>,
    /// The watched directory, canonical.
    dir: PathBuf,
    /// The one file watched, when the path is a file.
    only: Option<PathBuf>,
    /// The last failure reported per entry, so that the same failure is not reported again.
    failures: HashMap<PathBuf, Failure>,
    /// Handles the application loaded before watching, kept for the entries of their names
    /// while the first look settles.
    adopted: Vec<Plugin<T>>,
}

/// A failure to load an entry, with what it was about.
#[derive(PartialEq, Eq)]
struct Failure {
    sha256: Option<[u8; 32]>,
    manifest: Option<String>,
    error: String,
}

impl<T: Send + 'static> Follower<T> {
    fn run(mut self, events: Receiver<notify::Result<notify::Event>>, debounce: Duration) {
        let mut pending: HashMap<PathBuf, Instant> = HashMap::new();
        loop {
            match events.recv_timeout(debounce) {
                Ok(Ok(event)) if changes_content(&event.kind) => {
                    for path in event.paths {
                        if let Some(entry) = self.entry_for(&path) {
                            pending.insert(entry, Instant::now());
                        }
                    }
                }
                Ok(Ok(_)) => {}
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
        // A top-level file matters only if it is a component; a plugin directory (or one being
        // made) matters whatever changes in it.
        (nested || has_component_extension(&top) || top.is_dir()).then_some(top)
    }

    fn initial_entries(&self) -> Vec<PathBuf> {
        if let Some(only) = &self.only {
            return vec![only.clone()];
        }
        super::entries(&self.dir).unwrap_or_default()
    }

    /// Brings the plugin of `entry` in line with the disk: load, reload or unload.
    fn settle(&mut self, entry: &Path) {
        let gone = if has_component_extension(entry) {
            !entry.is_file()
        } else {
            !entry.join(MANIFEST).is_file()
        };
        if gone {
            self.failures.remove(entry);
            self.unload(entry);
            return;
        }
        match Candidate::read(entry) {
            (_, Ok(candidate)) => self.apply(candidate),
            (name, Err(error)) => self.failed(entry, &name, None, None, &error),
        }
    }

    /// Loads the plugin of `candidate`, or brings the loaded one up to date: its component
    /// swapped in when only that changed, its options too when its manifest changed.
    fn apply(&mut self, candidate: Candidate) {
        let entry = candidate.entry.clone();
        let name = candidate.name().to_owned();
        let existing = self
            .read()
            .get(&entry)
            .map(|e| (e.plugin.clone(), e.manifest.clone()));
        let already_failed = self.failures.get(&entry).is_some_and(|failure| {
            failure.sha256 == Some(candidate.identity.sha256)
                && failure.manifest == candidate.manifest_text
        });
        if already_failed {
            return;
        }
        match existing {
            // Same plugin, same manifest: swap the component in (an unchanged one is no event).
            Some((plugin, loaded_with))
                if plugin.name() == name && loaded_with == candidate.manifest_text =>
            {
                let reloaded = plugin.reload(&candidate.bytes);
                self.note(&entry, &candidate, reloaded.err());
            }
            // Same plugin, new manifest: the handle follows, with the options it now gets.
            Some((plugin, _)) if plugin.name() == name => {
                let options = candidate.options(&self.policy, self.points.as_ref());
                let reloaded = match options {
                    Ok(options) => plugin.reload_with(&candidate.bytes, options),
                    Err(error) => {
                        let (sha, text) = (
                            Some(candidate.identity.sha256),
                            candidate.manifest_text.clone(),
                        );
                        self.failed(&entry, &name, sha, text, &error);
                        return;
                    }
                };
                if reloaded.is_ok() {
                    self.write().insert(
                        entry.clone(),
                        Entry {
                            plugin,
                            manifest: candidate.manifest_text.clone(),
                        },
                    );
                }
                self.note(&entry, &candidate, reloaded.err());
            }
            // The manifest renamed it: another plugin now.
            Some(_) => {
                self.unload(&entry);
                self.load(candidate);
            }
            None => self.load(candidate),
        }
    }

    /// Loads the plugin of an entry seen for the first time (or renamed), or adopts the
    /// application's handle of that name.
    fn load(&mut self, candidate: Candidate) {
        let entry = candidate.entry.clone();
        let name = candidate.name().to_owned();
        if let Some(first) = self.taken_by_other(&entry, &name) {
            let error = Error::DuplicateName {
                plugin: name.clone(),
                path: entry.clone(),
                first,
            };
            let (sha, text) = (
                Some(candidate.identity.sha256),
                candidate.manifest_text.clone(),
            );
            self.failed(&entry, &name, sha, text, &error);
            return;
        }
        if let Some(plugin) = self.adopt(&name) {
            // Loaded by the application already: keep its handle, brought up to date.
            let reloaded = plugin.reload(&candidate.bytes);
            self.write().insert(
                entry.clone(),
                Entry {
                    plugin,
                    manifest: candidate.manifest_text.clone(),
                },
            );
            self.note(&entry, &candidate, reloaded.err());
            return;
        }
        let loaded = candidate
            .options(&self.policy, self.points.as_ref())
            .and_then(|options| candidate.load(&self.host, options));
        match loaded {
            Ok(plugin) => {
                self.failures.remove(&entry);
                let sha256 = hex::encode(plugin.sha256());
                self.write().insert(
                    entry,
                    Entry {
                        plugin,
                        manifest: candidate.manifest_text,
                    },
                );
                self.events().emit(PluginEvent::Loaded {
                    plugin: name,
                    sha256,
                });
            }
            Err(error) => {
                let (sha, text) = (Some(candidate.identity.sha256), candidate.manifest_text);
                self.failed(&entry, &name, sha, text, &error)
            }
        }
    }

    /// The application's handle of the plugin `name`, if it handed one over to adopt.
    fn adopt(&mut self, name: &str) -> Option<Plugin<T>> {
        let at = self.adopted.iter().position(|p| p.name() == name)?;
        Some(self.adopted.swap_remove(at))
    }

    /// Records how a reload (which `Plugin` has reported already) went.
    fn note(&mut self, entry: &Path, candidate: &Candidate, error: Option<Error>) {
        match error {
            None => {
                self.failures.remove(entry);
            }
            Some(error) => self.remember_failure(entry, candidate, &error),
        }
    }

    fn events(&self) -> &crate::engine::events::EventBus {
        &self.host.runtime().events
    }

    /// Where the plugin already called `name` comes from, when it is another entry's.
    fn taken_by_other(&self, entry: &Path, name: &str) -> Option<PathBuf> {
        self.read()
            .iter()
            .find(|(path, e)| path.as_path() != entry && e.plugin.name() == name)
            .map(|(path, _)| path.clone())
    }

    /// Notes a failed reload (which `Plugin::reload` has already reported).
    fn remember_failure(&mut self, entry: &Path, candidate: &Candidate, error: &Error) {
        self.failures.insert(
            entry.to_owned(),
            Failure {
                sha256: Some(candidate.identity.sha256),
                manifest: candidate.manifest_text.clone(),
                error: error.to_string(),
            },
        );
    }

    /// Reports a failure to load `entry`, unless the very same failure was reported last time.
    fn failed(
        &mut self,
        entry: &Path,
        name: &str,
        sha256: Option<[u8; 32]>,
        manifest: Option<String>,
        error: &Error,
    ) {
        let failure = Failure {
            sha256,
            manifest,
            error: error.to_string(),
        };
        if self.failures.get(entry) == Some(&failure) {
            return;
        }
        self.failures.insert(entry.to_owned(), failure);
        let shown = crate::text::escape_untrusted(&error.to_string()).into_owned();
        tracing::warn!(
            plugin = name,
            "not loaded; a previous version, if any, keeps serving: {shown}"
        );
        self.events().emit(PluginEvent::ReloadFailed {
            plugin: name.to_owned(),
            error: error.to_string(),
        });
    }

    fn unload(&self, entry: &Path) {
        let gone = self.write().remove(entry);
        if let Some(gone) = gone {
            gone.plugin.retire();
            let plugin = gone.plugin.name().to_owned();
            tracing::info!(plugin, "unloaded: its file is gone");
            self.events().emit(PluginEvent::Unloaded { plugin });
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

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, MetadataKind, RemoveKind, RenameMode};

    #[test]
    fn only_events_that_can_change_a_plugin_count() {
        for kind in [
            EventKind::Create(CreateKind::File),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            EventKind::Remove(RemoveKind::File),
        ] {
            assert!(changes_content(&kind), "{kind:?}");
        }
        for kind in [
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            EventKind::Access(AccessKind::Read),
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)),
        ] {
            assert!(!changes_content(&kind), "{kind:?}");
        }
    }
}
