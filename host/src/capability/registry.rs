//! Every kind of capability, listed once: adding a kind is adding its file and one line to the
//! list at the end of this module. From the list come [`Grants`]' fields (one per kind), what
//! `Grants` does for every kind (read a word, merge, describe, restrict to an allowance, prepare
//! at load, wire into an instance), the vocabulary ([`words`]) and the listings of imports.

use std::path::Path;
use std::sync::Arc;

use super::args::Args;
use super::determinism::Determinism;
use super::env::Env;
use super::fs::Dirs;
use super::http::Http;
use super::interfaces::Interfaces;
use super::kind::{Kind, Unit, Wiring, Word};
use super::net::Net;
use super::stdio::Stdio;
use crate::error::Result;

/// What every capability listing can show that no grant governs.
const ALWAYS: &[Unit<()>] = &[
    // Streams and polling: plumbing every other capability uses, nothing in itself.
    Unit {
        name: "wasi:io",
        covers: &["wasi:io/"],
        describe: |()| (true, "always available (streams and polling)".to_owned()),
    },
    super::framework::UNIT,
    // What a WASI preview1 core module's `proc_exit` is pointed at (`engine::preview1`).
    Unit {
        name: "componentry:preview1",
        covers: &["componentry:preview1/"],
        describe: |()| {
            (
                true,
                "always available (preview1's proc_exit, for core modules)".to_owned(),
            )
        },
    },
];

/// A capability `import` belongs to, as listings show it: its name, whether it is granted, and
/// what (or what would grant it).
pub(crate) struct Listed {
    /// The capability's name: a WASI package or interface.
    pub(crate) name: &'static str,
    /// Whether the grants give anything of it.
    pub(crate) granted: bool,
    /// What they give, or what would grant it.
    pub(crate) detail: String,
}

/// Keeps in `best` the unit that covers `import` most specifically (an interface before its
/// package; the first listed among equals).
fn consider<K>(best: &mut Option<(usize, Listed)>, unit: &Unit<K>, grant: &K, import: &str) {
    let Some(specificity) = unit.covers(import) else {
        return;
    };
    if best
        .as_ref()
        .is_some_and(|(found, _)| *found >= specificity)
    {
        return;
    }
    let (granted, detail) = (unit.describe)(grant);
    *best = Some((
        specificity,
        Listed {
            name: unit.name,
            granted,
            detail,
        },
    ));
}

macro_rules! kinds {
    ($($field:ident: $kind:ty,)*) => {
        /// The capabilities granted to one plugin. [`Grants::none`] (the default) grants nothing.
        ///
        /// Settings that have a default (stdout, stderr, the output cap, arguments, deterministic
        /// mode) remember whether they were set, so that merging grants keeps every setting that
        /// was written down, including one written down as its default.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct Grants {
            $( pub(super) $field: $kind, )*
        }

        /// What every kind made ready at load for a plugin's instances.
        pub(crate) struct Ready {
            $( $field: <$kind as Kind>::Ready, )*
        }

        impl Grants {
            /// Adds one value of `word` to the kind that takes it; `Ok(false)` when none does.
            pub(super) fn add_word(&mut self, word: &str, value: &toml::Value) -> Result<bool> {
                $(
                    if <$kind as Kind>::WORDS.iter().any(|w| w.name == word) {
                        self.$field.add(word, value)?;
                        return Ok(true);
                    }
                )*
                Ok(false)
            }

            pub(super) fn merge_each(&mut self, other: Grants) {
                $( self.$field.merge(other.$field); )*
            }

            pub(super) fn describe_each(&self) -> Vec<String> {
                let mut lines = Vec::new();
                $( self.$field.describe(&mut lines); )*
                lines
            }

            pub(super) fn restrict_each(&self, allowed: &Grants) -> (Grants, Vec<String>) {
                let mut excess = Vec::new();
                let granted = Grants {
                    $( $field: self.$field.restrict(&allowed.$field, &mut excess), )*
                };
                (granted, excess)
            }

            pub(super) fn relative_each(self, base: &Path) -> Grants {
                Grants {
                    $( $field: self.$field.relative_to(base), )*
                }
            }

            pub(super) fn prepare_each(&self, plugin: &Arc<str>) -> Result<Ready> {
                Ok(Ready {
                    $( $field: self.$field.prepare(plugin)?, )*
                })
            }

            pub(super) fn wire_each(&self, ready: &Ready, wiring: &mut Wiring<'_>) -> Result<()> {
                $( self.$field.wire(&ready.$field, wiring)?; )*
                Ok(())
            }

            /// The capability the unversioned import `import` belongs to, if the host
            /// provides it, set against these grants.
            pub(crate) fn listing(&self, import: &str) -> Option<Listed> {
                let mut best = None;
                $(
                    for unit in <$kind as Kind>::UNITS {
                        consider(&mut best, unit, &self.$field, import);
                    }
                )*
                for unit in ALWAYS {
                    consider(&mut best, unit, &(), import);
                }
                best.map(|(_, listed)| listed)
            }
        }

        /// Every word of the grant vocabulary: the keys of grants files, of manifests'
        /// `[capabilities]` and of policies' `[plugin.allow]`, and the CLI's grant flags.
        pub fn words() -> impl Iterator<Item = &'static Word> {
            [$( <$kind as Kind>::WORDS, )*].into_iter().flatten()
        }
    };
}

kinds! {
    dirs: Dirs,
    env: Env,
    net: Net,
    http: Http,
    stdio: Stdio,
    interfaces: Interfaces,
    args: Args,
    determinism: Determinism,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_belongs_to_one_kind() {
        let mut names: Vec<&str> = words().map(|w| w.name).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a word taken by two kinds: {names:?}");
    }

    #[test]
    fn an_interface_is_listed_before_its_package() {
        let grants = Grants::none();
        for (import, capability) in [
            ("wasi:cli/environment", "wasi:cli/environment"),
            ("wasi:cli/stdin", "wasi:cli/stdin"),
            ("wasi:cli/exit", "wasi:cli"),
            ("wasi:sockets/ip-name-lookup", "wasi:sockets/ip-name-lookup"),
            ("wasi:sockets/tcp", "wasi:sockets"),
        ] {
            let listed = grants.listing(import).expect("provided");
            assert_eq!(listed.name, capability, "{import}");
        }
        assert!(grants.listing("wasi:keyvalue/store").is_none());
    }
}
