//! Finding plugins on disk: loading a directory of them once ([`Host::load_dir`]) or following
//! it as it changes ([`Host::watch`]). Both read each entry the same way and take its options
//! from the same manifest -> policy -> options pipeline ([`Candidate`]), so what a plugin gets
//! never depends on how it was found.
//!
//! An entry is either a component file (`NAME.wasm`, or `NAME.wat` in the text format), loaded
//! as plugin `NAME` and requesting nothing, or a plugin directory holding a `plugin.toml` and the
//! one component it describes. Entries whose names start with `.` are skipped.
//!
//! [`Host::load_dir`]: crate::Host::load_dir
//! [`Host::watch`]: crate::Host::watch

mod directory;
mod watch;

use std::path::{Path, PathBuf};

pub use directory::{LoadOutcome, LoadReport};
pub use watch::{DEFAULT_DEBOUNCE, WatchOptions, Watcher};

use crate::error::{Error, Result};
use crate::extension_point::ExtensionPoints;
use crate::grants::Grants;
use crate::host::PluginOptions;
use crate::inspect::ComponentWorld;
use crate::manifest::Manifest;
use crate::policy::{PluginIdentity, Policy};

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
        let name = name_from_path(entry);
        let candidate = crate::loader::read(&name, entry).map(|bytes| Self {
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
        let manifest = crate::config_file::read(&manifest_path).and_then(|text| {
            let manifest = Manifest::parse(&text, &manifest_path)?;
            Ok((manifest, text))
        });
        let (manifest, text) = match manifest {
            Ok(read) => read,
            Err(error) => return (name_from_path(dir), Err(error)),
        };
        let name = manifest.name.clone();
        let candidate = component_in(dir, &name)
            .and_then(|component| crate::loader::read(&name, &component))
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
            options = options.settings(&manifest.settings);
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
                });
            }
        }
        Ok(options.extension_point(point))
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

/// The plugin name a file or directory gets when no manifest names it: its file name without
/// the extension, with anything a terminal would act on escaped.
pub(crate) fn name_from_path(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    crate::text::escape_untrusted(&stem).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names_come_from_file_stems_and_are_safe_to_print() {
        assert_eq!(
            name_from_path(Path::new("/a/b/hello-rust.wasm")),
            "hello-rust"
        );
        assert_eq!(name_from_path(Path::new("plain")), "plain");
        assert_eq!(
            name_from_path(Path::new("/p/evil\u{1b}[8m.wasm")),
            "evil\\u{1b}[8m"
        );
    }
}
