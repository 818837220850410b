//! Loading every plugin under a directory, in a deterministic order, with one report of what
//! loaded and what did not and why. One bad plugin never stops the rest.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::plugin_dir::PluginDir;
use super::source::PluginSource;
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
    /// What was read of an entry that failed after it was read: a watcher started from this
    /// report does not load those bytes again.
    pub(super) failed_read: Option<FailedRead>,
}

/// The version of an entry that failed to load: its component's hash, its manifest and the
/// component file it was read from.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct FailedRead {
    pub(super) sha256: [u8; 32],
    pub(super) manifest: Option<String>,
    pub(super) component: PathBuf,
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

impl PluginDir {
    /// Loads every plugin in the directory, in name order, into `host`. One bad plugin never
    /// stops the rest. A name claimed by several entries loads none of them
    /// ([`Error::ContestedName`](crate::Error::ContestedName)), unless a policy rule binds the
    /// name to one of them (a rule with `match` and `path` or `match-sha256` that selects it):
    /// that one loads, the others are refused ([`Error::DuplicateName`](crate::Error::DuplicateName)).
    /// Fails only when the directory itself cannot be read.
    pub fn load<T: Send + 'static>(&self, host: &Host<T>) -> Result<LoadReport<T>> {
        load(host, self)
    }
}

/// Loads every plugin of `dir` into `host`.
fn load<T: Send + 'static>(host: &Host<T>, dir: &PluginDir) -> Result<LoadReport<T>> {
    let path = dir.path();
    let entries = super::source::entries(path).map_err(|e| Error::Config {
        path: path.to_owned(),
        reason: format!("cannot read the plugin directory: {e}"),
    })?;
    let mut outcomes = Vec::new();
    for read in read_entries(dir, entries) {
        let mut failed_read = None;
        let result = read.source.and_then(|source| {
            let loaded = source.load(host, &dir.policy, dir.extension_points.as_ref());
            if loaded.is_err() {
                failed_read = Some(FailedRead {
                    sha256: source.sha256(),
                    manifest: source.manifest_text().map(str::to_owned),
                    component: source.component_path().to_owned(),
                });
            }
            loaded
        });
        if let Err(e) = &result {
            // Errors can quote a plugin's files (a manifest's line): shown escaped.
            let shown = crate::text::escape_untrusted(&e.to_string()).into_owned();
            tracing::warn!(plugin = read.name, "not loaded: {shown}");
        }
        outcomes.push(LoadOutcome {
            source: read.entry,
            name: read.name,
            result,
            failed_read,
        });
    }
    Ok(LoadReport { outcomes })
}

/// One entry of a plugin directory, read through the load pipeline.
pub(super) struct ReadEntry {
    /// The component file or plugin directory.
    pub(super) entry: PathBuf,
    /// The name it goes by, as far as it could be read.
    pub(super) name: String,
    pub(super) source: Result<PluginSource>,
}

/// Reads every one of `entries` (of `dir`), and refuses what claims a name wrongly: a name the
/// policy binds (a rule with `match` and `path` or `match-sha256`) to plugins other than the
/// claimant, and a name several entries claim (none of them loads).
pub(super) fn read_entries(dir: &PluginDir, entries: Vec<PathBuf>) -> Vec<ReadEntry> {
    let mut read: Vec<ReadEntry> = entries
        .into_iter()
        .map(|entry| {
            let source = dir.open(&entry);
            let name = match &source {
                Ok(source) => source.name().to_owned(),
                Err(e) => e.plugin().map_or_else(
                    || crate::names::plugin_name_from_path(&entry),
                    str::to_owned,
                ),
            };
            ReadEntry {
                entry,
                name,
                source,
            }
        })
        .collect();
    // A name the policy binds elsewhere is no one else's to claim.
    for entry in &mut read {
        let reserved = entry
            .source
            .as_ref()
            .is_ok_and(|source| dir.policy.reserves_name_against(&source.identity()));
        if reserved {
            entry.source = Err(Error::NameReserved {
                plugin: entry.name.clone(),
                path: entry.entry.clone(),
            });
        }
    }
    let mut claims: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (at, entry) in read.iter().enumerate() {
        if entry.source.is_ok() {
            claims.entry(entry.name.clone()).or_default().push(at);
        }
    }
    // A name claimed twice loads no one (a name the policy binds was kept above for the one
    // plugin it selects).
    for (name, claimants) in claims.into_iter().filter(|(_, c)| c.len() > 1) {
        let paths: Vec<PathBuf> = claimants.iter().map(|&at| read[at].entry.clone()).collect();
        for &at in &claimants {
            let path = read[at].entry.clone();
            let others = paths.iter().filter(|p| **p != path).cloned().collect();
            read[at].source = Err(Error::ContestedName {
                plugin: name.clone(),
                path,
                others,
            });
        }
    }
    read
}
