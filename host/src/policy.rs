//! Host policy: per plugin name (or pattern), what may be granted, what the limits are, and
//! optionally the SHA-256 the component must have. A plugin's effective grants are what it
//! requests AND what the policy allows; a request beyond the policy is refused, or trimmed with a
//! warning, as the policy says.
//!
//! ```toml
//! [[plugin]]
//! match = "acme-*"            # the plugin's name; `*` wildcards
//! on-excess = "trim"          # or "refuse" (the default)
//! sha256 = "9f86d0...0a08"    # optional pin of the component's bytes
//! fuel = 10000000             # optional limits
//! timeout-ms = 500
//! max-memory = 67108864
//!
//! [plugin.allow]              # the vocabulary of grants
//! dir = ["/srv/words::/words"]
//! allow-http = ["api.example.com"]
//! ```
//!
//! The first rule whose pattern matches a plugin's name applies; a plugin no rule matches may be
//! granted nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::grants::{Grants, GrantsToml};
use crate::host::PluginOptions;
use crate::limits::Limits;

/// What to do with a request beyond the policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnExcess {
    /// Refuse to load the plugin ([`Error::PolicyDenied`]). The default.
    #[default]
    Refuse,
    /// Drop what is beyond the policy, log a warning, and load the plugin with the rest.
    Trim,
}

/// The policy for the plugins whose names match one pattern.
#[derive(Debug, Clone)]
pub struct PolicyRule {
    pattern: String,
    allow: Grants,
    on_excess: OnExcess,
    sha256: Option<[u8; 32]>,
    limits: Limits,
}

impl PolicyRule {
    /// A rule for plugins whose names match `pattern` (`*` wildcards), allowing nothing.
    pub fn new(pattern: impl Into<String>) -> Self {
        Self {
            pattern: pattern.into(),
            allow: Grants::none(),
            on_excess: OnExcess::Refuse,
            sha256: None,
            limits: Limits::default(),
        }
    }

    /// What may be granted to these plugins. Defaults to nothing.
    pub fn allow(mut self, grants: Grants) -> Self {
        self.allow = grants;
        self
    }

    /// What to do with requests beyond the policy. Defaults to [`OnExcess::Refuse`].
    pub fn on_excess(mut self, on_excess: OnExcess) -> Self {
        self.on_excess = on_excess;
        self
    }

    /// Pins the component to this SHA-256; other bytes are refused ([`Error::IntegrityMismatch`]).
    pub fn sha256(mut self, sha256: [u8; 32]) -> Self {
        self.sha256 = Some(sha256);
        self
    }

    /// The limits of these plugins. Defaults to [`Limits::default`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    fn matches(&self, plugin: &str) -> bool {
        crate::grants::wildcard_match(&self.pattern, plugin)
    }
}

/// A host's policy: rules tried in order.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: Vec<PolicyRule>,
}

impl Policy {
    /// A policy without rules: no plugin may be granted anything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a rule, tried after the ones already there.
    pub fn rule(mut self, rule: PolicyRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The rule that applies to `plugin`.
    pub fn rule_for(&self, plugin: &str) -> Option<&PolicyRule> {
        self.rules.iter().find(|rule| rule.matches(plugin))
    }

    /// The options `plugin` loads with when it requests `requested`: the effective grants, the
    /// limits and the hash pin. Refuses when the request goes beyond the policy and the rule
    /// says to refuse.
    pub fn options_for(&self, plugin: &str, requested: &Grants) -> Result<PluginOptions> {
        let fallback = PolicyRule::new("*");
        let rule = self.rule_for(plugin).unwrap_or(&fallback);
        let (granted, excess) = requested.restrict_to(&rule.allow);
        if !excess.is_empty() {
            match rule.on_excess {
                OnExcess::Refuse => {
                    return Err(Error::PolicyDenied {
                        plugin: plugin.to_owned(),
                        requests: excess,
                    });
                }
                OnExcess::Trim => {
                    tracing::warn!(
                        plugin,
                        "requests beyond the host's policy were dropped: {}",
                        excess.join(", ")
                    );
                }
            }
        }
        let mut options = PluginOptions::new()
            .name(plugin)
            .grants(granted)
            .limits(rule.limits.clone());
        if let Some(sha256) = rule.sha256 {
            options = options.expect_sha256(sha256);
        }
        Ok(options)
    }

    /// Reads a policy from TOML (see the module's documentation).
    pub fn from_toml(text: &str, path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let fail = |reason: String| Error::Config {
            path: path.clone(),
            reason,
        };
        let file: PolicyToml = crate::config_file::parse(text, &path)?;
        let mut policy = Policy::new();
        for (index, raw) in file.plugin.into_iter().enumerate() {
            let rule_fail = |reason: String| {
                fail(format!(
                    "[[plugin]] #{} (match = \"{}\"): {reason}",
                    index + 1,
                    raw.pattern
                ))
            };
            let mut rule = PolicyRule::new(raw.pattern.clone()).on_excess(raw.on_excess);
            if let Some(allow) = raw.allow {
                rule = rule.allow(allow.into_grants().map_err(rule_fail)?);
            }
            if let Some(hex_hash) = &raw.sha256 {
                let bytes = hex::decode(hex_hash)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| {
                        rule_fail(format!("sha256 `{hex_hash}` is not 64 hex digits"))
                    })?;
                rule = rule.sha256(bytes);
            }
            let mut limits = Limits::new();
            if let Some(fuel) = raw.fuel {
                limits = limits.fuel(fuel);
            }
            if let Some(ms) = raw.timeout_ms {
                limits = limits.deadline(Duration::from_millis(ms));
            }
            if let Some(bytes) = raw.max_memory {
                limits = limits.max_memory(bytes);
            }
            policy = policy.rule(rule.limits(limits));
        }
        Ok(policy)
    }

    /// Reads a policy file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = crate::config_file::read(path)?;
        Self::from_toml(&text, path)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyToml {
    #[serde(default)]
    plugin: Vec<RuleToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RuleToml {
    #[serde(rename = "match")]
    pattern: String,
    #[serde(default)]
    on_excess: OnExcess,
    sha256: Option<String>,
    fuel: Option<u64>,
    timeout_ms: Option<u64>,
    max_memory: Option<usize>,
    allow: Option<GrantsToml>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grants::{HttpPattern, NetPattern};

    const POLICY: &str = r#"
[[plugin]]
match = "trusted-*"
on-excess = "trim"
fuel = 1000
[plugin.allow]
dir = ["/srv/words::/words"]
env = ["HOME"]
allow-net = ["127.0.0.1:*"]
allow-http = ["*.example.com"]

[[plugin]]
match = "*"
[plugin.allow]
env = ["LANG"]
"#;

    fn policy() -> Policy {
        Policy::from_toml(POLICY, "policy.toml").expect("valid policy")
    }

    fn request() -> Grants {
        Grants::none()
            .dir("/srv/words", "/words")
            .dir_rw("/etc", "/etc")
            .env_from_host("HOME")
            .env("SECRET", "x")
            .allow_net(NetPattern::parse("127.0.0.1:8080").expect("pattern"))
            .allow_net(NetPattern::parse("10.0.0.1:22").expect("pattern"))
            .allow_http(HttpPattern::parse("https://api.example.com").expect("pattern"))
            .allow_http(HttpPattern::parse("evil.org").expect("pattern"))
    }

    #[test]
    fn a_trimming_rule_keeps_what_is_allowed() {
        let options = policy()
            .options_for("trusted-one", &request())
            .expect("trimmed, not refused");
        let granted = &options.grants;
        assert_eq!(granted.dirs().len(), 1);
        assert_eq!(granted.dirs()[0].guest, "/words");
        assert_eq!(granted.env_names(), vec!["HOME"]);
        assert_eq!(
            granted
                .net()
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>(),
            vec!["127.0.0.1:8080"]
        );
        assert_eq!(granted.http().len(), 1);
        assert_eq!(options.limits.fuel_budget(), Some(1000));
    }

    #[test]
    fn a_refusing_rule_names_every_request_beyond_it() {
        let err = policy()
            .options_for("random", &request())
            .expect_err("refused");
        let text = err.to_string();
        match &err {
            Error::PolicyDenied { plugin, requests } => {
                assert_eq!(plugin, "random");
                assert!(
                    requests.iter().any(|r| r == "dir-rw /etc::/etc"),
                    "{requests:?}"
                );
                assert!(requests.iter().any(|r| r == "env SECRET"), "{requests:?}");
                assert!(
                    requests.iter().any(|r| r == "allow-net 10.0.0.1:22"),
                    "{requests:?}"
                );
                assert!(
                    requests.iter().any(|r| r == "allow-http evil.org"),
                    "{requests:?}"
                );
            }
            other => panic!("expected PolicyDenied, got {other}"),
        }
        assert!(
            text.contains("random") && text.contains("env HOME"),
            "{text}"
        );
        assert!(
            policy()
                .options_for("random", &Grants::none().env("LANG", "C"))
                .is_ok()
        );
    }

    #[test]
    fn a_read_write_request_is_trimmed_to_read_only() {
        let policy = Policy::new().rule(
            PolicyRule::new("p")
                .allow(Grants::none().dir("/data", "/data"))
                .on_excess(OnExcess::Trim),
        );
        let options = policy
            .options_for("p", &Grants::none().dir_rw("/data", "/data"))
            .expect("trimmed");
        assert!(!options.grants.dirs()[0].writable);
    }

    #[test]
    fn bad_policies_are_explained() {
        let err = Policy::from_toml(
            "[[plugin]]\nmatch = \"x\"\nsha256 = \"abc\"\n",
            "policy.toml",
        )
        .expect_err("bad hash");
        assert!(err.to_string().contains("64 hex digits"), "{err}");
        let err = Policy::from_toml("[[plugin]]\nmatch = \"x\"\nfule = 3\n", "policy.toml")
            .expect_err("bad key");
        assert!(
            err.to_string().contains("line 3") && err.to_string().contains("fule"),
            "{err}"
        );
    }
}
