//! Arguments: what `wasi:cli/environment.get-arguments` gives the plugin. None unless granted.

use std::sync::Arc;

use super::kind::{Kind, Takes, Unit, Wiring, Word, entries};
use crate::error::Result;

/// The arguments granted to a plugin. Whether they were stated at all is kept, so that a policy
/// or a later grant stating none still replaces them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Args(pub(crate) Option<Vec<String>>);

impl Args {
    /// The arguments, none when none were stated.
    pub(crate) fn get(&self) -> &[String] {
        self.0.as_deref().unwrap_or_default()
    }
}

impl Kind for Args {
    const WORDS: &'static [Word] = &[Word {
        name: "args",
        takes: Takes::List,
        value_name: "ARG",
        help: "An argument the plugin gets (wasi:cli/environment); argv[0] first.",
        flag: false,
    }];
    /// Listed with the environment (`wasi:cli/environment`).
    const UNITS: &'static [Unit<Self>] = &[];
    type Ready = ();

    fn add(&mut self, word: &str, value: &toml::Value) -> Result<()> {
        let args = self.0.get_or_insert_with(Vec::new);
        args.extend(entries(word, value)?.into_iter().map(str::to_owned));
        Ok(())
    }

    fn merge(&mut self, other: Self) {
        if other.0.is_some() {
            self.0 = other.0;
        }
    }

    fn describe(&self, lines: &mut Vec<String>) {
        if let Some(args) = &self.0 {
            lines.push(format!("args {}", args.join(" ")));
        }
    }

    /// The policy's arguments, whatever the request: a request for others is excess.
    fn restrict(&self, allowed: &Self, excess: &mut Vec<String>) -> Self {
        if let Some(args) = &self.0
            && !args.is_empty()
            && allowed.0.as_ref() != Some(args)
        {
            excess.push(format!("args {}", args.join(" ")));
        }
        allowed.clone()
    }

    fn prepare(&self, _plugin: &Arc<str>) -> Result<()> {
        Ok(())
    }

    fn wire(&self, (): &(), wiring: &mut Wiring<'_>) -> Result<()> {
        wiring.builder.args(self.get());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Args {
        Args(Some(list.iter().map(|s| (*s).to_owned()).collect()))
    }

    #[test]
    fn the_policys_arguments_are_what_the_plugin_gets() {
        let mut excess = Vec::new();
        let granted = args(&["--admin"]).restrict(&args(&["--quiet"]), &mut excess);
        assert_eq!(granted, args(&["--quiet"]));
        assert_eq!(excess, ["args --admin"]);
        let mut excess = Vec::new();
        assert_eq!(Args(None).restrict(&Args(None), &mut excess), Args(None));
        assert!(excess.is_empty());
    }

    #[test]
    fn stated_arguments_replace_earlier_ones_even_when_empty() {
        let mut merged = args(&["-v"]);
        merged.merge(Args(None));
        assert_eq!(merged, args(&["-v"]));
        merged.merge(args(&[]));
        assert_eq!(merged, args(&[]));
    }
}
