//! Loading every plugin under a directory, in a deterministic order, with one report of what
//! loaded and what did not and why. One bad plugin never stops the rest.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use super::{Candidate, PluginDir};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::plugin::Plugin;

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

/// Loads every plugin of `dir` into `host`.
pub(super) fn load<T: Send + 'static>(host: &Host<T>, dir: &PluginDir) -> Result<LoadReport<T>> {
    let path = dir.path();
    let entries = super::entries(path).map_err(|e| Error::Config {
        path: path.to_owned(),
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
                        .options(&dir.policy, dir.extension_points.as_ref())
                        .and_then(|options| candidate.load(host, options)),
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
