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

use super::directory::FailedRead;
use super::directory::LoadReport;
use super::plugin_dir::PluginDir;
use super::source::PluginSource;
use super::source::{MANIFEST, has_component_extension, hidden};
use crate::engine::events::PluginEvent;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::plugin::Plugin;

type Registry<T> = Arc<RwLock<BTreeMap<PathBuf, Entry<T>>>>;

/// A plugin the watcher loaded, with the manifest text and the component file it was read
/// from.
struct Entry<T: 'static> {
    plugin: Plugin<T>,
    manifest: Option<String>,
    component: PathBuf,
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

impl PluginDir {
    /// Loads the plugins and follows the directory (or file): a plugin is reloaded when its
    /// component changes, reloaded with its new options when its manifest changes (its
    /// [`Plugin`] handle follows it either way), loaded when it appears and unloaded when it goes
    /// (its handle is then [retired](Plugin::is_retired)). Subscribe to the host's events
    /// ([`Host::subscribe`]) to hear of each.
    pub fn watch<T: Send + 'static>(&self, host: &Host<T>) -> Result<Watcher<T>> {
        start(host, self, Vec::new(), Vec::new())
    }

    /// Like [`watch`](Self::watch), keeping the handles of `plugins` (loaded before, typically
    /// by [`load`](Self::load)) for the entries of the same names: the watcher reloads those
    /// handles rather than loading new ones, so the application's handles keep following their
    /// plugins.
    pub fn watch_adopting<T: Send + 'static>(
        &self,
        host: &Host<T>,
        plugins: impl IntoIterator<Item = Plugin<T>>,
    ) -> Result<Watcher<T>> {
        start(host, self, plugins.into_iter().collect(), Vec::new())
    }

    /// Follows this place after [`load`](Self::load) made `report`: the plugins it loaded are
    /// adopted (as [`watch_adopting`](Self::watch_adopting) does), and the entries it reports
    /// failed are not compiled again until their files or manifests change. This is the way to
    /// start: load once, show the report, then watch.
    ///
    /// ```no_run
    /// use componentry::{Engine, Host, PluginDir};
    ///
    /// let engine = Engine::new()?;
    /// let host: Host<()> = Host::new(&engine)?;
    /// let plugins = PluginDir::new("plugins");
    /// let report = plugins.load(&host)?;
    /// print!("{report}");
    /// let _watcher = plugins.watch_loaded(&host, &report)?;
    /// # Ok::<(), componentry::Error>(())
    /// ```
    pub fn watch_loaded<T: Send + 'static>(
        &self,
        host: &Host<T>,
        report: &LoadReport<T>,
    ) -> Result<Watcher<T>> {
        let failed = report
            .outcomes
            .iter()
            .filter_map(|outcome| {
                // Only what was read and then failed: a read that failed (or a name refused)
                // is cheap to read again, and a refused name may be free by then.
                let error = outcome.result.as_ref().err()?;
                let read = outcome.failed_read.clone()?;
                Some((outcome.source.clone(), read, error.to_string()))
            })
            .collect();
        start(host, self, report.loaded().cloned().collect(), failed)
    }
}

/// Starts watching `dir` for `host`, keeping the handles of `adopted` for entries of their names.
fn start<T: Send + 'static>(
    host: &Host<T>,
    dir: &PluginDir,
    adopted: Vec<Plugin<T>>,
    failed: Vec<(PathBuf, FailedRead, String)>,
) -> Result<Watcher<T>> {
    let path = dir.path().to_owned();
    let cannot_watch = |reason: String| Error::Config {
        path: path.clone(),
        reason: format!("cannot watch: {reason}"),
    };
    let (watched, only) = if path.is_dir() {
        (path.clone(), None)
    } else {
        if !has_component_extension(&path) {
            return Err(cannot_watch(
                "not a component file (.wasm or .wat) nor a directory".to_owned(),
            ));
        }
        (parent_of(&path).to_owned(), Some(path.clone()))
    };
    let watched = watched
        .canonicalize()
        .map_err(|e| cannot_watch(e.to_string()))?;
    // One file's manifest: the one given, or `plugin.toml` beside it. Its edits count as the
    // file's.
    let manifest = only.as_ref().map(|file| {
        dir.manifest
            .clone()
            .unwrap_or_else(|| parent_of(file).join(MANIFEST))
    });
    let (sender, receiver) = channel();
    let mut watcher = notify::recommended_watcher(sender).map_err(|e| watch_error(&path, e))?;
    // Directories, not files: editors and compilers often replace a file by renaming.
    let mode = if only.is_some() {
        RecursiveMode::NonRecursive
    } else {
        RecursiveMode::Recursive
    };
    watcher
        .watch(&watched, mode)
        .map_err(|e| watch_error(&path, e))?;
    if let Some(manifest_dir) = manifest
        .as_deref()
        .and_then(|m| parent_of(m).canonicalize().ok())
        .filter(|d| *d != watched)
    {
        watcher
            .watch(&manifest_dir, RecursiveMode::NonRecursive)
            .map_err(|e| watch_error(&path, e))?;
    }
    let plugins: Registry<T> = Arc::default();
    let mut follower = Follower {
        host: host.clone(),
        plugins: plugins.clone(),
        config: dir.clone(),
        dir: watched,
        only,
        manifest,
        failures: HashMap::new(),
        adopted,
    };
    // What a load just before found broken is not compiled again until it changes.
    for (entry, read, error) in failed {
        follower.failures.insert(
            entry,
            Failure {
                sha256: Some(read.sha256),
                manifest: read.manifest,
                component: Some(read.component),
                error,
                contested: None,
            },
        );
    }
    let entries = follower.initial_entries();
    for read in super::directory::read_entries(&follower.config, entries) {
        follower.settle_read(&read.entry, &read.name, read.source);
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

/// The directory `path` is in (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
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
    /// The policy, extension points and manifest every entry is read and judged with.
    config: PluginDir,
    /// The watched directory, canonical.
    dir: PathBuf,
    /// The one file watched, when the path is a file.
    only: Option<PathBuf>,
    /// The manifest of the one file watched.
    manifest: Option<PathBuf>,
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
    /// The component file the version was read from.
    component: Option<PathBuf>,
    error: String,
    /// The name the entry was refused for claiming, when that was the failure: it is tried
    /// again when the name is given up.
    contested: Option<String>,
}

impl Failure {
    /// The failure `error` of the version read from `source` (if it could be read).
    fn of(source: Option<&PluginSource>, error: &Error) -> Self {
        let contested = match error {
            Error::ContestedName { plugin, .. } | Error::DuplicateName { plugin, .. } => {
                Some(plugin.clone())
            }
            _ => None,
        };
        Self {
            sha256: source.map(PluginSource::sha256),
            manifest: source.and_then(|s| s.manifest_text().map(str::to_owned)),
            component: source.map(|s| s.component_path().to_owned()),
            error: error.to_string(),
            contested,
        }
    }
}

impl<T: Send + 'static> Follower<T> {
    fn run(mut self, events: Receiver<notify::Result<notify::Event>>, debounce: Duration) {
        let mut pending: HashMap<PathBuf, Instant> = HashMap::new();
        loop {
            match events.recv_timeout(debounce) {
                Ok(Ok(event)) if changes_content(&event.kind) => {
                    for path in event.paths {
                        for entry in self.entries_for(&path) {
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

    /// The watched entries a changed path concerns: a component file directly in the directory
    /// (and every one of them for the directory's own `plugin.toml`, which they take as their
    /// manifest), or the plugin directory it lies in; for one watched file, the file or its
    /// manifest.
    fn entries_for(&self, path: &Path) -> Vec<PathBuf> {
        if self.only.is_none() && path.strip_prefix(&self.dir).ok() == Some(Path::new(MANIFEST)) {
            return self
                .initial_entries()
                .into_iter()
                .filter(|entry| has_component_extension(entry))
                .chain(
                    self.read()
                        .keys()
                        .filter(|k| has_component_extension(k))
                        .cloned(),
                )
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
        }
        self.entry_for(path).into_iter().collect()
    }

    fn entry_for(&self, path: &Path) -> Option<PathBuf> {
        if let Some(only) = &self.only {
            let manifest = self.manifest.as_deref().is_some_and(|m| same_file(m, path));
            return (same_file(only, path) || manifest).then(|| only.clone());
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
        super::source::entries(&self.dir).unwrap_or_default()
    }

    /// Brings the plugin of `entry` in line with the disk: load, reload or unload.
    fn settle(&mut self, entry: &Path) {
        let gone = if has_component_extension(entry) {
            !entry.is_file()
        } else {
            !entry.join(MANIFEST).is_file()
        };
        if gone {
            let failure = self.failures.remove(entry);
            let name = self.unload(entry).or(failure.and_then(|f| f.contested));
            if let Some(name) = name {
                self.retry_contesting(&name);
            }
            return;
        }
        let source = self.config.open(entry);
        let name = match &source {
            Ok(source) => source.name().to_owned(),
            Err(e) => e
                .plugin()
                .map_or_else(|| crate::names::plugin_name_from_path(entry), str::to_owned),
        };
        self.settle_read(entry, &name, source);
    }

    fn settle_read(&mut self, entry: &Path, name: &str, source: Result<PluginSource>) {
        match source {
            Ok(source) => self.apply(source),
            Err(error) => self.report(entry, name, Failure::of(None, &error), &error),
        }
    }

    /// Tries again the entries refused for claiming `name`, now that it was given up: in path
    /// order, so that the outcome does not depend on a hash map's.
    fn retry_contesting(&mut self, name: &str) {
        let mut waiting: Vec<PathBuf> = self
            .failures
            .iter()
            .filter(|(_, f)| f.contested.as_deref() == Some(name))
            .map(|(entry, _)| entry.clone())
            .collect();
        waiting.sort();
        for entry in &waiting {
            self.failures.remove(entry);
        }
        for entry in waiting {
            self.settle(&entry);
        }
    }

    /// Loads the plugin of `source`, or brings the loaded one up to date: every new version
    /// (its component, its manifest, or where its file now leads) is judged again by the
    /// pipeline, on its own bytes.
    fn apply(&mut self, source: PluginSource) {
        let entry = source.path().to_owned();
        let name = source.name().to_owned();
        let existing = self.read().get(&entry).map(|e| {
            let unchanged = e.plugin.sha256() == source.sha256()
                && e.manifest.as_deref() == source.manifest_text()
                && e.component == source.component_path();
            (e.plugin.clone(), unchanged)
        });
        let already_failed = self.failures.get(&entry).is_some_and(|failure| {
            failure.sha256 == Some(source.sha256())
                && failure.manifest.as_deref() == source.manifest_text()
                && failure.component.as_deref() == Some(source.component_path())
        });
        if already_failed {
            return;
        }
        // Refused before for claiming a name it no longer claims: that name may be free now.
        let given_up = self
            .failures
            .get(&entry)
            .and_then(|f| f.contested.clone())
            .filter(|contested| *contested != name);
        match existing {
            Some((_, true)) => {
                self.failures.remove(&entry);
            }
            Some((plugin, false)) if plugin.name() == name => self.reload(&plugin, &source),
            // The manifest renamed it: another plugin now.
            Some(_) => {
                if let Some(old) = self.unload(&entry) {
                    self.retry_contesting(&old);
                }
                self.load(source);
            }
            None => self.load(source),
        }
        if let Some(contested) = given_up {
            self.retry_contesting(&contested);
        }
    }

    /// Judges the new version of `plugin` read from `source` and swaps it in, or reports why
    /// not (the old version keeps serving).
    fn reload(&mut self, plugin: &Plugin<T>, source: &PluginSource) {
        let entry = source.path();
        let options = match self.judge(source) {
            Ok(options) => options,
            Err(error) => return self.failed_with(entry, source, &error),
        };
        match plugin.reload_with(source.bytes(), options) {
            Ok(_) => {
                self.failures.remove(entry);
                self.record(entry, plugin.clone(), source);
            }
            // Reported by the plugin already: remembered, so as not to try it again unchanged
            // (unless it may pass another time: no room for the trial instance).
            Err(error) => {
                if !matches!(error, Error::Exhausted { .. }) {
                    let failure = Failure::of(Some(source), &error);
                    self.failures.insert(entry.to_owned(), failure);
                }
            }
        }
    }

    /// The options of a new version, from the pipeline.
    fn judge(&self, source: &PluginSource) -> Result<crate::plugin::options::PluginOptions> {
        source.options(&self.config.policy, self.config.extension_points.as_ref())
    }

    /// Loads the plugin of an entry seen for the first time (or renamed), or adopts the
    /// application's handle of that name.
    fn load(&mut self, source: PluginSource) {
        let entry = source.path().to_owned();
        let name = source.name().to_owned();
        if let Some(refusal) = self.claimed_elsewhere(&source) {
            return self.failed_with(&entry, &source, &refusal);
        }
        if let Some(plugin) = self.adopt(&name) {
            // Loaded by the application already: keep its handle, brought up to date (the
            // same bytes are the version it loaded; others are judged as any new version).
            if plugin.sha256() == source.sha256() {
                self.record(&entry, plugin, &source);
            } else {
                // Followed from now on; until a version passes, nothing counts as unchanged.
                self.write().insert(
                    entry.clone(),
                    Entry {
                        plugin: plugin.clone(),
                        manifest: None,
                        component: PathBuf::new(),
                    },
                );
                self.reload(&plugin, &source);
            }
            return;
        }
        let loaded = self
            .judge(&source)
            .and_then(|options| source.load_with(&self.host, options));
        match loaded {
            Ok(plugin) => {
                self.failures.remove(&entry);
                let sha256 = hex::encode(plugin.sha256());
                self.record(&entry, plugin, &source);
                self.events().emit(PluginEvent::Loaded {
                    plugin: name,
                    sha256,
                });
            }
            Err(error) => self.failed_with(&entry, &source, &error),
        }
    }

    /// Keeps `plugin` as the plugin of `entry`, read from `source`.
    fn record(&self, entry: &Path, plugin: Plugin<T>, source: &PluginSource) {
        self.write().insert(
            entry.to_owned(),
            Entry {
                plugin,
                manifest: source.manifest_text().map(str::to_owned),
                component: source.component_path().to_owned(),
            },
        );
    }

    /// The application's handle of the plugin `name`, if it handed one over to adopt.
    fn adopt(&mut self, name: &str) -> Option<Plugin<T>> {
        let at = self.adopted.iter().position(|p| p.name() == name)?;
        Some(self.adopted.swap_remove(at))
    }

    fn events(&self) -> &crate::engine::events::EventBus {
        &self.host.runtime().events
    }

    /// Why `entry` may not take `name`: another entry's plugin has it, or other entries claim
    /// it too and were refused for it.
    fn claimed_elsewhere(&self, source: &PluginSource) -> Option<Error> {
        let (entry, name) = (source.path(), source.name());
        if self.config.policy.reserves_name_against(&source.identity()) {
            return Some(Error::NameReserved {
                plugin: name.to_owned(),
                path: entry.to_owned(),
            });
        }
        let holder = self
            .read()
            .iter()
            .find(|(path, e)| path.as_path() != entry && e.plugin.name() == name)
            .map(|(path, _)| path.clone());
        if let Some(first) = holder {
            return Some(Error::DuplicateName {
                plugin: name.to_owned(),
                path: entry.to_owned(),
                first,
            });
        }
        let mut others: Vec<PathBuf> = self
            .failures
            .iter()
            .filter(|(path, f)| {
                path.as_path() != entry && f.contested.as_deref() == Some(name) && path.exists()
            })
            .map(|(path, _)| path.clone())
            .collect();
        others.sort();
        (!others.is_empty()).then(|| Error::ContestedName {
            plugin: name.to_owned(),
            path: entry.to_owned(),
            others,
        })
    }

    fn failed_with(&mut self, entry: &Path, source: &PluginSource, error: &Error) {
        let failure = Failure::of(Some(source), error);
        self.report(entry, source.name(), failure, error);
    }

    /// Reports a failure to load `entry`, unless the very same failure was reported last time.
    fn report(&mut self, entry: &Path, name: &str, failure: Failure, error: &Error) {
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

    /// Unloads the plugin of `entry`, returning its name.
    fn unload(&self, entry: &Path) -> Option<String> {
        let gone = self.write().remove(entry)?;
        gone.plugin.retire();
        let plugin = gone.plugin.name().to_owned();
        tracing::info!(plugin, "unloaded: its file is gone");
        self.events().emit(PluginEvent::Unloaded {
            plugin: plugin.clone(),
        });
        Some(plugin)
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
