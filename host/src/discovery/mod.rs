//! Finding plugins on disk ([`PluginDir`]): loading a directory of them once or following it as
//! it changes. Both read each entry through the one load pipeline ([`PluginSource`]: bytes read
//! once, manifest, hash, policy, options), and a reload goes through it again, so what a plugin
//! gets never depends on how it was found or how often it changed.
//!
//! An entry is either a component file (`NAME.wasm`, or `NAME.wat` in the text format), or a
//! plugin directory holding a `plugin.toml` and the one component it describes; each is read by
//! [`PluginSource`]. Entries whose names start with `.` are skipped.

mod directory;
mod source;
mod watch;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use directory::{LoadOutcome, LoadReport};
pub use source::PluginSource;
pub use watch::Watcher;

use crate::host::Host;
use crate::plugin::Plugin;

use crate::compat::extension_point::ExtensionPoints;
use crate::config::policy::Policy;
use crate::error::{Error, Result};

/// A place plugins are found: a directory of component files and plugin directories, or one
/// component file; and how the plugins found there are loaded (the policy that grants them
/// capabilities, the extension points they must fit).
///
/// ```no_run
/// use componentry::{Engine, Host, PluginDir, Policy};
///
/// let engine = Engine::new()?;
/// let host: Host<()> = Host::new(&engine)?;
/// let plugins = PluginDir::new("plugins").policy(Policy::from_file("policy.toml")?);
/// // Once:
/// let report = plugins.load(&host)?;
/// print!("{report}");
/// // Or following the directory as it changes, keeping the handles already loaded:
/// let watcher = plugins.watch_adopting(&host, report.loaded().cloned())?;
/// # let _ = watcher;
/// # Ok::<(), componentry::Error>(())
/// ```
#[derive(Clone)]
pub struct PluginDir {
    path: PathBuf,
    policy: Policy,
    extension_points: Option<ExtensionPoints>,
    debounce: Duration,
    manifest: Option<PathBuf>,
}

impl PluginDir {
    /// The plugins at `path`: a directory, or (for [`watch`](Self::watch)) one component file.
    /// Plugins load with an empty policy (granted nothing; one whose manifest requests anything
    /// is refused), no extension point check, and a 150 ms debounce when watched.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            policy: Policy::new(),
            extension_points: None,
            debounce: watch::DEFAULT_DEBOUNCE,
            manifest: None,
        }
    }

    /// The policy that gives each plugin its options for what its manifest requests.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Checks each plugin against the extension point it fits among `points` (and against the
    /// version requirement of its manifest's `extension-point`), so that incompatible plugins
    /// are refused with every problem.
    pub fn extension_points(mut self, points: ExtensionPoints) -> Self {
        self.extension_points = Some(points);
        self
    }

    /// How long a file must stay unchanged before a watcher reads it. Defaults to 150 ms.
    pub fn debounce(mut self, debounce: Duration) -> Self {
        self.debounce = debounce;
        self
    }

    /// For one component file, the manifest that describes it. Defaults to the `plugin.toml`
    /// beside the file, if there is one ([`PluginSource::open`]). A watcher follows its edits.
    pub fn manifest(mut self, manifest: impl Into<PathBuf>) -> Self {
        self.manifest = Some(manifest.into());
        self
    }

    /// The directory or file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads every plugin in the directory, in name order, into `host`. One bad plugin never
    /// stops the rest. A name claimed by several entries loads none of them
    /// ([`Error::ContestedName`](crate::Error::ContestedName)), unless a policy rule binds the
    /// name to one of them (a rule with `match` and `path` or `match-sha256` that selects it):
    /// that one loads, the others are refused ([`Error::DuplicateName`](crate::Error::DuplicateName)).
    /// Fails only when the directory itself cannot be read.
    pub fn load<T: Send + 'static>(&self, host: &Host<T>) -> Result<LoadReport<T>> {
        directory::load(host, self)
    }

    /// Loads the plugins and follows the directory (or file): a plugin is reloaded when its
    /// component changes, reloaded with its new options when its manifest changes (its
    /// [`Plugin`] handle follows it either way), loaded when it appears and unloaded when it goes
    /// (its handle is then [retired](Plugin::is_retired)). Subscribe to the host's events
    /// ([`Host::subscribe`]) to hear of each.
    pub fn watch<T: Send + 'static>(&self, host: &Host<T>) -> Result<Watcher<T>> {
        watch::start(host, self, Vec::new(), Vec::new())
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
        watch::start(host, self, plugins.into_iter().collect(), Vec::new())
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
        watch::start(host, self, report.loaded().cloned().collect(), failed)
    }
}

impl PluginDir {
    /// The plugins at this path now: the path itself when it is a file (as [`watch`](Self::watch)
    /// takes one), else the directory's component files (`*.wasm`, `*.wat`) and subdirectories
    /// (plugin directories, each to hold a `plugin.toml`), in name order, names starting with
    /// `.` left out. Fails when the path is neither, or the directory cannot be read.
    pub fn entries(&self) -> Result<Vec<PathBuf>> {
        if self.path.is_file() {
            return Ok(vec![self.path.clone()]);
        }
        source::entries(&self.path).map_err(|e| Error::Config {
            path: self.path.clone(),
            reason: format!("cannot read the plugin directory: {e}"),
        })
    }

    /// Reads the plugin at `entry` (one of [`entries`](Self::entries)) through the load
    /// pipeline, with this place's manifest for a file when one was given.
    pub fn open(&self, entry: &Path) -> Result<PluginSource> {
        match &self.manifest {
            Some(manifest) if !entry.is_dir() => PluginSource::open_with_manifest(entry, manifest),
            _ => PluginSource::open(entry),
        }
    }
}
