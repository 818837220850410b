//! A place plugins are found ([`PluginDir`]): a directory or one component file, and how what is
//! found there is loaded, once or followed as it changes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::source::{self, PluginSource};

use crate::compat::extension_point::ExtensionPoints;
use crate::config::policy::Policy;
use crate::error::{Error, Result};

/// How long a file must stay unchanged before a watcher reads it: 150 ms.
const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(150);

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
    pub(super) path: PathBuf,
    pub(super) policy: Policy,
    pub(super) extension_points: Option<ExtensionPoints>,
    pub(super) debounce: Duration,
    pub(super) manifest: Option<PathBuf>,
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
            debounce: DEFAULT_DEBOUNCE,
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
