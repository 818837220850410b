//! Loading every plugin under a directory, in a deterministic order, with one report of what
//! loaded and what did not and why. One bad plugin never stops the rest.
//!
//! Each entry of the directory, in name order, is either a component file (`NAME.wasm`, loaded
//! as plugin `NAME`, requesting nothing) or a plugin directory holding a `plugin.toml` and the
//! one component (`*.wasm`) it describes. Entries whose names start with `.` are skipped.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::extension_point::ExtensionPoints;
use crate::grants::Grants;
use crate::host::Host;
use crate::host::PluginOptions;
use crate::inspect::ComponentWorld;
use crate::manifest::{ExtensionPointRef, Manifest};
use crate::plugin::Plugin;
use crate::policy::Policy;

/// What became of one entry of a plugin directory.
pub struct LoadOutcome<T: 'static> {
    /// The component file or plugin directory.
    pub source: PathBuf,
    /// The plugin's name (from its manifest, or its file name).
    pub name: String,
    /// The loaded plugin, or why it did not load.
    pub result: Result<Plugin<T>>,
}

/// The outcome of loading a plugin directory, entry by entry in name order.
pub struct LoadReport<T: 'static> {
    /// One outcome per plugin found.
    pub outcomes: Vec<LoadOutcome<T>>,
}

impl<T: 'static> LoadReport<T> {
    /// The plugins that loaded.
    pub fn loaded(&self) -> impl Iterator<Item = &Plugin<T>> {
        self.outcomes.iter().filter_map(|o| o.result.as_ref().ok())
    }

    /// The entries that did not load, with their errors.
    pub fn failed(&self) -> impl Iterator<Item = (&LoadOutcome<T>, &Error)> {
        self.outcomes
            .iter()
            .filter_map(|o| o.result.as_ref().err().map(|e| (o, e)))
    }
}

impl<T: 'static> fmt::Display for LoadReport<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for outcome in &self.outcomes {
            match &outcome.result {
                Ok(_) => writeln!(
                    f,
                    "loaded {} from {}",
                    outcome.name,
                    outcome.source.display()
                )?,
                Err(e) => writeln!(
                    f,
                    "failed {} ({}): {e}",
                    outcome.name,
                    outcome.source.display()
                )?,
            }
        }
        Ok(())
    }
}

impl<T: Send + 'static> Host<T> {
    /// Loads every plugin under `dir`, each with the options `policy` gives it for what its
    /// manifest requests. Fails only when `dir` itself cannot be read.
    pub fn load_dir(&self, dir: impl AsRef<Path>, policy: &Policy) -> Result<LoadReport<T>> {
        self.load_dir_impl(dir.as_ref(), policy, None)
    }

    /// Like [`load_dir`](Self::load_dir), and checks each plugin against the extension point it
    /// fits among `extension_points` (and against the version requirement of its manifest's
    /// `extension-point`), so that incompatible plugins are refused with every problem.
    pub fn load_dir_for(
        &self,
        dir: impl AsRef<Path>,
        policy: &Policy,
        extension_points: &ExtensionPoints,
    ) -> Result<LoadReport<T>> {
        self.load_dir_impl(dir.as_ref(), policy, Some(extension_points))
    }

    fn load_dir_impl(
        &self,
        dir: &Path,
        policy: &Policy,
        points: Option<&ExtensionPoints>,
    ) -> Result<LoadReport<T>> {
        let unreadable = |e: std::io::Error| Error::Config {
            path: dir.to_owned(),
            reason: format!("cannot read the plugin directory: {e}"),
        };
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(unreadable)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| !file_name(path).starts_with('.'))
            .filter(|path| path.is_dir() || is_component_file(path))
            .collect();
        entries.sort();
        let outcomes = entries
            .into_iter()
            .map(|source| {
                let (name, result) = if source.is_dir() {
                    self.load_plugin_dir(&source, policy, points)
                } else {
                    let name = file_stem(&source);
                    let result = policy
                        .options_for(&name, &Grants::none())
                        .and_then(|options| {
                            with_extension_point(options, &name, &source, None, points)
                        })
                        .and_then(|options| self.load_file_with(&source, options));
                    (name, result)
                };
                if let Err(e) = &result {
                    tracing::warn!(plugin = name, "not loaded: {e}");
                }
                LoadOutcome {
                    source,
                    name,
                    result,
                }
            })
            .collect();
        Ok(LoadReport { outcomes })
    }

    fn load_plugin_dir(
        &self,
        dir: &Path,
        policy: &Policy,
        points: Option<&ExtensionPoints>,
    ) -> (String, Result<Plugin<T>>) {
        let manifest_path = dir.join("plugin.toml");
        let manifest = match Manifest::from_file(&manifest_path) {
            Ok(manifest) => manifest,
            Err(e) => return (file_name(dir), Err(e)),
        };
        let name = manifest.name.clone();
        let result = component_in(dir, &name).and_then(|component| {
            let options = policy
                .options_for(&name, &manifest.capabilities)?
                .settings(&manifest.settings);
            let options = with_extension_point(
                options,
                &name,
                &component,
                manifest.extension_point.as_ref(),
                points,
            )?;
            self.load_file_with(component, options)
        });
        (name, result)
    }
}

/// Routes the component at `path` to the extension point it fits, and checks that point against
/// the manifest's requirement; the options then check the component against it at load.
fn with_extension_point(
    options: PluginOptions,
    plugin: &str,
    path: &Path,
    requirement: Option<&ExtensionPointRef>,
    points: Option<&ExtensionPoints>,
) -> Result<PluginOptions> {
    let Some(points) = points else {
        return Ok(options);
    };
    let bytes = crate::loader::read(plugin, path)?;
    let world = ComponentWorld::decode(plugin, &bytes)?;
    let point = points.route(plugin, &world)?;
    if let Some(requirement) = requirement {
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
                plugin: plugin.to_owned(),
                reason: format!(
                    "its manifest requires {}/{}@{}, but it fits {}/{}",
                    requirement.package,
                    requirement.world,
                    requirement.requirement,
                    package.map(|p| p.to_string()).unwrap_or_default(),
                    point.world_name()
                ),
            });
        }
    }
    Ok(options.extension_point(point))
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
                "plugin '{plugin}': a plugin directory holds exactly one .wasm component, found {}",
                found.len()
            ),
        }),
    }
}

fn is_component_file(path: &Path) -> bool {
    path.is_file() && path.extension().is_some_and(|e| e == "wasm")
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
