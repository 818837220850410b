//! Finding plugins on disk ([`PluginDir`]): loading a directory of them once or following it as
//! it changes. Both read each entry the same way and take its options from the same manifest ->
//! policy -> options pipeline ([`Candidate`]), so what a plugin gets never depends on how it was
//! found.
//!
//! An entry is either a component file (`NAME.wasm`, or `NAME.wat` in the text format), loaded
//! as plugin `NAME` and requesting nothing, or a plugin directory holding a `plugin.toml` and the
//! one component it describes. Entries whose names start with `.` are skipped.

mod directory;
mod watch;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use directory::{LoadOutcome, LoadReport};
pub use watch::{DEFAULT_DEBOUNCE, Watcher};

use crate::host::Host;
use crate::plugin::Plugin;

use crate::capability::Grants;
use crate::compat::extension_point::ExtensionPoints;
use crate::compat::inspect::ComponentWorld;
use crate::config::manifest::Manifest;
use crate::config::policy::{PluginIdentity, Policy};
use crate::error::{Error, Result};
use crate::plugin::options::PluginOptions;

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
}

impl PluginDir {
    /// The plugins at `path`: a directory, or (for [`watch`](Self::watch)) one component file.
    /// Plugins load with an empty policy (granted nothing; one whose manifest requests anything
    /// is refused), no extension point check, and [`DEFAULT_DEBOUNCE`] when watched.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            policy: Policy::new(),
            extension_points: None,
            debounce: DEFAULT_DEBOUNCE,
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

    /// How long a file must stay unchanged before a watcher reads it.
    pub fn debounce(mut self, debounce: Duration) -> Self {
        self.debounce = debounce;
        self
    }

    /// The directory or file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads every plugin in the directory, in name order, into `host`. One bad plugin never
    /// stops the rest; a second plugin claiming a name already taken is refused
    /// ([`Error::DuplicateName`]). Fails only when the directory itself cannot be read.
    pub fn load<T: Send + 'static>(&self, host: &Host<T>) -> Result<LoadReport<T>> {
        directory::load(host, self)
    }

    /// Loads the plugins and follows the directory (or file): a plugin is reloaded when its
    /// component changes, reloaded with its new options when its manifest changes (its
    /// [`Plugin`] handle follows it either way), loaded when it appears and unloaded when it goes
    /// (its handle is then [retired](Plugin::is_retired)). Subscribe to the host's events
    /// ([`Host::subscribe`]) to hear of each.
    pub fn watch<T: Send + 'static>(&self, host: &Host<T>) -> Result<Watcher<T>> {
        watch::start(host, self, Vec::new())
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
        watch::start(host, self, plugins.into_iter().collect())
    }
}

/// The name of a plugin directory's manifest.
pub(crate) const MANIFEST: &str = "plugin.toml";

/// One entry of a plugin directory, read: who it is, what it requests, and its bytes.
pub(crate) struct Candidate {
    /// The component file, or the plugin directory.
    pub(crate) entry: PathBuf,
    pub(crate) identity: PluginIdentity,
    pub(crate) manifest: Option<Manifest>,
    /// The manifest's text, to tell a changed manifest from an unchanged one.
    pub(crate) manifest_text: Option<String>,
    pub(crate) bytes: Vec<u8>,
}

impl Candidate {
    /// Reads the entry at `entry`: a component file, or a plugin directory. Returns the name
    /// the plugin goes by (as far as it could be read) with the outcome.
    pub(crate) fn read(entry: &Path) -> (String, Result<Self>) {
        if entry.is_dir() {
            return Self::read_plugin_dir(entry);
        }
        let name = crate::names::plugin_name_from_path(entry);
        let candidate = crate::engine::loader::read(&name, entry).map(|bytes| Self {
            entry: entry.to_owned(),
            identity: PluginIdentity::new(name.clone(), Some(entry), &bytes),
            manifest: None,
            manifest_text: None,
            bytes,
        });
        (name, candidate)
    }

    fn read_plugin_dir(dir: &Path) -> (String, Result<Self>) {
        let manifest_path = dir.join(MANIFEST);
        let manifest = crate::toml_file::read(&manifest_path).and_then(|text| {
            let manifest = Manifest::parse(&text, &manifest_path)?;
            Ok((manifest, text))
        });
        let (manifest, text) = match manifest {
            Ok(read) => read,
            Err(error) => return (crate::names::plugin_name_from_path(dir), Err(error)),
        };
        let name = manifest.name.clone();
        let candidate = component_in(dir, &name)
            .and_then(|component| crate::engine::loader::read(&name, &component))
            .map(|bytes| Self {
                entry: dir.to_owned(),
                identity: PluginIdentity::new(name.clone(), Some(dir), &bytes),
                manifest: Some(manifest),
                manifest_text: Some(text),
                bytes,
            });
        (name, candidate)
    }

    pub(crate) fn name(&self) -> &str {
        &self.identity.name
    }

    /// The options this plugin loads with: what the policy gives for what its manifest requests,
    /// its settings, and the extension point it fits among `points` (checked against the
    /// version requirement of its manifest).
    pub(crate) fn options(
        &self,
        policy: &Policy,
        points: Option<&ExtensionPoints>,
    ) -> Result<PluginOptions> {
        let requested = self
            .manifest
            .as_ref()
            .map_or_else(Grants::none, |m| m.capabilities.clone());
        let mut options = policy.options_for(&self.identity, &requested)?;
        if let Some(manifest) = &self.manifest {
            options = options
                .settings(&manifest.settings)
                .version(manifest.version.clone());
        }
        let Some(points) = points else {
            return Ok(options);
        };
        let world = ComponentWorld::decode(self.name(), &self.bytes)?;
        let point = points.route(self.name(), &world)?;
        if let Some(requirement) = self
            .manifest
            .as_ref()
            .and_then(|m| m.extension_point.as_ref())
        {
            let package = point.package();
            let fits = package.is_some_and(|p| {
                format!("{}:{}", p.namespace, p.name) == requirement.package
                    && point.world_name() == requirement.world
                    && p.version
                        .as_ref()
                        .is_none_or(|v| requirement.requirement.matches(v))
            });
            if !fits {
                return Err(Error::Incompatible {
                    plugin: self.name().to_owned(),
                    reason: format!(
                        "its manifest requires {}/{}@{}, but it fits {}/{}",
                        requirement.package,
                        requirement.world,
                        requirement.requirement,
                        package.map(|p| p.to_string()).unwrap_or_default(),
                        point.world_name()
                    ),
                    source: None,
                });
            }
        }
        Ok(options.extension_point(point))
    }

    /// Loads the plugin into `host` with `options`.
    pub(crate) fn load<T: Send + 'static>(
        &self,
        host: &Host<T>,
        options: PluginOptions,
    ) -> Result<Plugin<T>> {
        host.load_hashed(
            self.name().to_owned(),
            &self.bytes,
            self.identity.sha256,
            options,
        )
    }
}

/// The entries of the plugin directory `dir`, in name order: component files and directories
/// with a manifest.
pub(crate) fn entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| !hidden(path) && (is_component_file(path) || path.is_dir()))
        .collect();
    entries.sort();
    Ok(entries)
}

/// The one component file in a plugin directory.
pub(crate) fn component_in(dir: &Path, plugin: &str) -> Result<PathBuf> {
    let components: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::Config {
            path: dir.to_owned(),
            reason: e.to_string(),
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| is_component_file(path))
        .collect();
    match <[PathBuf; 1]>::try_from(components) {
        Ok([component]) => Ok(component),
        Err(found) => Err(Error::Config {
            path: dir.to_owned(),
            reason: format!(
                "plugin '{plugin}': a plugin directory holds exactly one component (.wasm or .wat), found {}",
                found.len()
            ),
        }),
    }
}

/// Whether `path` names a component file: `*.wasm`, or `*.wat` in the text format.
pub(crate) fn is_component_file(path: &Path) -> bool {
    has_component_extension(path) && path.is_file()
}

pub(crate) fn has_component_extension(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "wasm" || e == "wat")
}

pub(crate) fn hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}
