//! What every kind of capability is: a grant type of its own, the words of the grant vocabulary
//! it takes, and the same few plain things each kind does with its grant (read a word, merge,
//! describe, decide what an allowance covers, prepare at load, wire into an instance). Each kind
//! lives in a file of its own and knows nothing of the others, nor of [`Grants`](super::Grants),
//! which holds one field per kind (`registry.rs` lists them).

use std::path::Path;
use std::sync::Arc;

use wasmtime_wasi::WasiCtxBuilder;

use crate::error::{Error, Result};
use crate::store::output::OutputBudget;

/// One word of the grant vocabulary: a key of grants files, of a manifest's `[capabilities]` and
/// of a policy's `[plugin.allow]`, and (where [`flag`](Self::flag) says) a flag of the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word {
    /// The word itself: `dir`, `allow-net`, ...
    pub name: &'static str,
    /// What it takes.
    pub takes: Takes,
    /// What one value looks like (`HOST[::GUEST]`), for help and hints; empty for a switch.
    pub value_name: &'static str,
    /// What it grants, for the CLI's help.
    pub help: &'static str,
    /// Whether the CLI has a flag `--NAME` for it.
    pub flag: bool,
}

/// What a [`Word`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Takes {
    /// Values that add up: TOML `word = ["a", "b"]`; the CLI's flag once per value.
    List,
    /// On or off: TOML `word = true`; the CLI's flag alone.
    Switch,
    /// One value, which replaces an earlier one: TOML `word = value`.
    Setting,
}

impl Word {
    /// How an operator grants it: the CLI's flag where there is one (`--dir HOST[::GUEST]`),
    /// else its TOML form (`interfaces = ["pkg:name/iface"]`).
    pub fn hint(&self) -> String {
        match (self.flag, self.takes) {
            (true, Takes::Switch) => format!("--{}", self.name),
            (true, _) => format!("--{} {}", self.name, self.value_name),
            (false, _) => self.toml_hint(),
        }
    }

    /// Its form in grants TOML: `dir = ["HOST[::GUEST]"]`, `stdin = true`, `stdout = VALUE`.
    pub fn toml_hint(&self) -> String {
        match self.takes {
            Takes::List => format!("{} = [\"{}\"]", self.name, self.value_name),
            Takes::Switch => format!("{} = true", self.name),
            Takes::Setting => format!("{} = {}", self.name, self.value_name),
        }
    }
}

/// One kind of capability: its grant (the type implementing this), and what every kind does with
/// it. Requests and allowances are both grants: a plugin's manifest requests one, a policy
/// allows one, and [`restrict`](Self::restrict) says what of a request an allowance covers.
pub(crate) trait Kind: Clone + Default + PartialEq + Eq + std::fmt::Debug + 'static {
    /// The words it takes.
    const WORDS: &'static [Word];
    /// The imports it covers, as listings show them.
    const UNITS: &'static [Unit<Self>];
    /// What it makes ready once per load for every instance (names looked up, say).
    type Ready: Send + Sync;

    /// Adds one value of `word` (one of [`WORDS`](Self::WORDS)): for a list, one entry (a
    /// string) or a TOML array of them; for a switch, a boolean; for a setting, its value.
    fn add(&mut self, word: &str, value: &toml::Value) -> Result<()>;

    /// Adds what `other` grants; a setting `other` states replaces this one.
    fn merge(&mut self, other: Self);

    /// Each grant and stated setting in the vocabulary (`dir /srv::/data`), for listings.
    fn describe(&self, lines: &mut Vec<String>);

    /// What of this request `allowed` (a policy's allowance) covers; each part it does not
    /// cover is described, in the vocabulary, into `excess`. The policy wins on every field.
    fn restrict(&self, allowed: &Self, excess: &mut Vec<String>) -> Self;

    /// The same grant with relative host paths taken from `base` (the directory of the file
    /// that names them).
    fn relative_to(self, _base: &Path) -> Self {
        self
    }

    /// Makes the grant ready for `plugin`'s instances, once per load: errors here are a bad
    /// grant, reported at load rather than at the first call.
    fn prepare(&self, plugin: &Arc<str>) -> Result<Self::Ready>;

    /// Gives one instance's WASI context what the grant allows.
    fn wire(&self, ready: &Self::Ready, wiring: &mut Wiring<'_>) -> Result<()>;
}

/// What a kind wires an instance's grants into.
pub(crate) struct Wiring<'a> {
    /// The instance's WASI context, being built.
    pub(crate) builder: &'a mut WasiCtxBuilder,
    /// The plugin's name.
    pub(crate) plugin: &'a Arc<str>,
    /// The instance's output budget.
    pub(crate) budget: &'a Arc<OutputBudget>,
}

/// One capability as listings show it: which imports it covers, and what a kind's grant gives of
/// it.
pub(crate) struct Unit<K> {
    /// How listings name it: a WASI package or interface.
    pub(crate) name: &'static str,
    /// The unversioned imports it covers: `pkg:name/` for a whole package, or one interface.
    pub(crate) covers: &'static [&'static str],
    /// Whether the grant gives anything of it, and what (or what would grant it).
    pub(crate) describe: fn(&K) -> (bool, String),
}

impl<K> Unit<K> {
    /// How specifically it covers the unversioned import `import`: 2 for the interface itself,
    /// 1 for its whole package; `None` when it does not.
    pub(crate) fn covers(&self, import: &str) -> Option<usize> {
        self.covers
            .iter()
            .filter_map(|covered| match covered.strip_suffix('/') {
                Some(package) => import
                    .split_once('/')
                    .is_some_and(|(p, _)| p == package)
                    .then_some(1),
                None => (import == *covered).then_some(2),
            })
            .max()
    }
}

/// `(true, the items joined)`, or `(false, none)` when there are none.
pub(crate) fn list_or(items: Vec<String>, none: &str) -> (bool, String) {
    if items.is_empty() {
        (false, none.to_owned())
    } else {
        (true, items.join(", "))
    }
}

/// Each entry of a list word's value: one string, or a TOML array of strings.
pub(crate) fn entries<'v>(word: &str, value: &'v toml::Value) -> Result<Vec<&'v str>> {
    let not_text = || Error::syntax("grant", word, format!("`{word}` takes a list of strings"));
    match value {
        toml::Value::String(text) => Ok(vec![text]),
        toml::Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().ok_or_else(not_text))
            .collect(),
        _ => Err(not_text()),
    }
}

/// A switch's value.
pub(crate) fn switch(word: &str, value: &toml::Value) -> Result<bool> {
    value
        .as_bool()
        .ok_or_else(|| Error::syntax("grant", word, format!("`{word}` takes true or false")))
}

/// Adds each item of `more` that `into` lacks.
pub(crate) fn add_new<X: PartialEq>(into: &mut Vec<X>, more: Vec<X>) {
    for item in more {
        if !into.contains(&item) {
            into.push(item);
        }
    }
}
