//! Loading every plugin under a directory, in a deterministic order, with one report of what
//! loaded and what did not and why. One bad plugin never stops the rest.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::Candidate;
use crate::error::{Error, Result};
use crate::extension_point::ExtensionPoints;
use crate::host::{Host, PluginOptions};
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
    /// manifest requests. A second plugin claiming a name already taken is refused
    /// ([`Error::DuplicateName`]). Fails only when `dir` itself cannot be read.
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
        let entries = super::entries(dir).map_err(|e| Error::Config {
            path: dir.to_owned(),
            reason: format!("cannot read the plugin directory: {e}"),
        })?;
        let mut taken: HashMap<String, PathBuf> = HashMap::new();
        let mut outcomes = Vec::new();
        for source in entries {
            let (name, result) = match Candidate::read(&source) {
                (name, Err(error)) => (name, Err(error)),
                (name, Ok(candidate)) => {
                    let result = match taken.get(&name) {
                        Some(first) => Err(Error::DuplicateName {
                            plugin: name.clone(),
                            path: source.clone(),
                            first: first.clone(),
                        }),
                        None => candidate
                            .options(policy, points)
                            .and_then(|options| self.load_candidate(&candidate, options)),
                    };
                    if result.is_ok() {
                        taken.insert(name.clone(), source.clone());
                    }
                    (name, result)
                }
            };
            if let Err(e) = &result {
                // Errors can quote a plugin's files (a manifest's line): shown escaped.
                let shown = crate::text::escape_untrusted(&e.to_string()).into_owned();
                tracing::warn!(plugin = name, "not loaded: {shown}");
            }
            outcomes.push(LoadOutcome {
                source,
                name,
                result,
            });
        }
        Ok(LoadReport { outcomes })
    }

    /// Loads a candidate read from disk with `options`.
    pub(crate) fn load_candidate(
        &self,
        candidate: &Candidate,
        options: PluginOptions,
    ) -> Result<Plugin<T>> {
        Plugin::load(
            self,
            candidate.name().to_owned(),
            &candidate.bytes,
            candidate.identity.sha256,
            options,
        )
    }
}
