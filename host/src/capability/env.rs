//! Environment grants: a variable passed with the host's value (`NAME`), or set to a value given
//! in the grant (`NAME=VALUE`). A plugin sees no other variable.

use std::sync::Arc;

use super::kind::{Kind, Takes, Unit, Wiring, Word, add_new, entries, list_or};
use crate::error::Result;

/// One environment variable granted to a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvGrant {
    /// `NAME`: the host's own value, read when the plugin's instance is made (nothing when the
    /// host has none).
    FromHost(String),
    /// `NAME=VALUE`: this value.
    Value(String, String),
}

impl EnvGrant {
    /// Parses `NAME` or `NAME=VALUE`.
    pub fn parse(spec: &str) -> Result<Self> {
        Self::parse_reason(spec)
            .map_err(|reason| crate::Error::syntax("environment grant", spec, reason))
    }

    fn parse_reason(spec: &str) -> Result<Self, String> {
        let (name, value) = match spec.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (spec, None),
        };
        if name.is_empty() || name.contains('\0') || value.is_some_and(|v| v.contains('\0')) {
            return Err(format!("`{spec}` is not NAME or NAME=VALUE"));
        }
        Ok(match value {
            Some(value) => EnvGrant::Value(name.to_owned(), value.to_owned()),
            None => EnvGrant::FromHost(name.to_owned()),
        })
    }

    /// The variable's name.
    pub fn name(&self) -> &str {
        match self {
            EnvGrant::FromHost(name) | EnvGrant::Value(name, _) => name,
        }
    }

    /// What `allowed` (an entry of a policy) gives a plugin that requests `self`, if anything.
    ///
    /// A policy's `NAME=VALUE` fixes the value: a request for the host's value, or for a value
    /// of its own, gets the policy's. A policy's `NAME` lets the plugin have the host's value,
    /// or set a value of its own.
    pub(crate) fn granted_by(&self, allowed: &EnvGrant) -> Option<EnvGrant> {
        if allowed.name() != self.name() {
            return None;
        }
        Some(match allowed {
            EnvGrant::Value(..) => allowed.clone(),
            EnvGrant::FromHost(_) => self.clone(),
        })
    }
}

impl std::fmt::Display for EnvGrant {
    /// `NAME`, or `NAME=...` without the value (values may be secrets).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvGrant::FromHost(name) => write!(f, "{name}"),
            EnvGrant::Value(name, _) => write!(f, "{name}=..."),
        }
    }
}

/// The environment variables granted to a plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Env(pub(crate) Vec<EnvGrant>);

const ENV: Word = Word {
    name: "env",
    takes: Takes::List,
    value_name: "NAME[=VALUE]",
    help: "Grant an environment variable: NAME takes the host's value, NAME=VALUE sets one.",
    flag: true,
};

impl Kind for Env {
    const WORDS: &'static [Word] = &[ENV];
    /// Environment variables: `wasi:cli/environment` (arguments too).
    const UNITS: &'static [Unit<Self>] = &[Unit {
        name: "wasi:cli/environment",
        covers: &["wasi:cli/environment"],
        describe: |env| {
            list_or(
                env.0.iter().map(|e| e.name().to_owned()).collect(),
                &format!("no environment variables (grant with {})", ENV.hint()),
            )
        },
    }];
    type Ready = ();

    fn add(&mut self, word: &str, value: &toml::Value) -> Result<()> {
        for entry in entries(word, value)? {
            self.0.push(EnvGrant::parse(entry)?);
        }
        Ok(())
    }

    fn merge(&mut self, other: Self) {
        add_new(&mut self.0, other.0);
    }

    fn describe(&self, lines: &mut Vec<String>) {
        lines.extend(self.0.iter().map(|e| format!("env {e}")));
    }

    fn restrict(&self, allowed: &Self, excess: &mut Vec<String>) -> Self {
        let mut granted = Env::default();
        for env in &self.0 {
            match allowed.0.iter().find_map(|a| env.granted_by(a)) {
                Some(given) => granted.0.push(given),
                None => excess.push(format!("env {env}")),
            }
        }
        granted
    }

    fn prepare(&self, _plugin: &Arc<str>) -> Result<()> {
        Ok(())
    }

    fn wire(&self, (): &(), wiring: &mut Wiring<'_>) -> Result<()> {
        for env in &self.0 {
            match env {
                EnvGrant::Value(name, value) => {
                    wiring.builder.env(name, value);
                }
                EnvGrant::FromHost(name) => {
                    if let Some(value) = std::env::var_os(name) {
                        wiring.builder.env(name, value.to_string_lossy());
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(spec: &str) -> EnvGrant {
        EnvGrant::parse(spec).expect("spec")
    }

    #[test]
    fn specs_parse() {
        assert_eq!(env("HOME"), EnvGrant::FromHost("HOME".into()));
        assert_eq!(env("A=b=c"), EnvGrant::Value("A".into(), "b=c".into()));
        assert_eq!(env("A="), EnvGrant::Value("A".into(), String::new()));
        assert!(EnvGrant::parse("").is_err());
        assert!(EnvGrant::parse("=x").is_err());
        assert!(EnvGrant::parse("A\0B").is_err());
    }

    #[test]
    fn a_policy_value_is_never_replaced_by_the_hosts() {
        let policy = env("API_TOKEN=public-demo-token");
        assert_eq!(env("API_TOKEN").granted_by(&policy), Some(policy.clone()));
        assert_eq!(
            env("API_TOKEN=mine").granted_by(&policy),
            Some(policy.clone())
        );
        assert_eq!(env("OTHER").granted_by(&policy), None);
        let from_host = env("LANG");
        assert_eq!(env("LANG").granted_by(&from_host), Some(env("LANG")));
        assert_eq!(env("LANG=C").granted_by(&from_host), Some(env("LANG=C")));
    }

    #[test]
    fn values_are_not_shown() {
        assert_eq!(env("TOKEN=secret").to_string(), "TOKEN=...");
        assert_eq!(env("HOME").to_string(), "HOME");
    }
}
