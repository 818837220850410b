//! Host policy: what each plugin may be granted, its limits, and optionally the SHA-256 its
//! component must have. A plugin's effective grants are what the operator grants every plugin,
//! plus what its manifest requests AND the policy allows; a request beyond the policy is refused,
//! or trimmed with a warning, as the policy says. A manifest only ever *requests*.
//!
//! ```toml
//! [[plugin]]
//! match = "acme-*"            # the plugin's name (self-asserted by its manifest!); `*` wildcards
//! path = "/srv/plugins/acme/*"  # and/or where its component (or plugin directory) lives
//! match-sha256 = "9f86...0a08"  # and/or the SHA-256 of its component
//! on-excess = "trim"          # or "refuse" (the default)
//! sha256 = "9f86d0...0a08"    # optional pin: the component must have these bytes
//! fuel = 10000000             # optional limits
//! lifetime-fuel = 1000000000
//! timeout-ms = 500
//! max-memory = 67108864
//! max-table-elements = 10000
//! max-instances = 20
//! max-handles = 256
//! max-component-handles = 2000
//! max-concurrent-calls = 8
//!
//! [plugin.allow]              # the vocabulary of grants
//! dir = ["/srv/words::/words"]
//! allow-http = ["api.example.com"]
//! ```
//!
//! A rule applies to a plugin when all the selectors it has (`match`, `path`, `match-sha256`)
//! match; the first such rule wins. A plugin's name is whatever its manifest says, so a rule that
//! grants much should also select by `path` or `match-sha256`. `path` is compared with the
//! canonical path of the plugin's component file as it was opened (for a plugin directory, the
//! component file in it), so `path = "/srv/plugins/acme/*"` selects every component under that
//! directory whichever command loads it. Relative paths in a policy file (in `path` and in `dir`
//! grants) are taken relative to the file's directory; `.` and `..` in a `path` are resolved. A
//! plugin no rule matches is allowed nothing beyond the grants every plugin gets, and a refusal
//! then says what was compared and which rules selected its name only.
//!
//! Every version of a plugin is judged: a reload asks the policy again, on the new component's
//! own hash, so a rule that selects one build by `match-sha256` does not follow later builds.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::capability::Grants;
use crate::error::{Error, Result};
use crate::plugin::options::PluginOptions;
use crate::store::limits::Limits;

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

/// Who a plugin is, as a policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginIdentity {
    /// The name it goes by: from its manifest (self-asserted), or its file name.
    pub name: String,
    /// Its component file, or the plugin directory holding its manifest and component.
    pub path: Option<PathBuf>,
    /// The SHA-256 of its component's bytes.
    pub sha256: [u8; 32],
}

impl PluginIdentity {
    /// A plugin known by `name`, with the component `bytes`, from `path` if it has one.
    pub fn new(name: impl Into<String>, path: Option<&Path>, bytes: &[u8]) -> Self {
        Self {
            name: name.into(),
            path: path.map(Path::to_owned),
            sha256: crate::engine::compile::sha256(bytes),
        }
    }
}

/// The policy for the plugins that its selectors pick.
#[derive(Debug, Clone)]
pub struct PolicyRule {
    name: Option<String>,
    path: Option<PathBuf>,
    match_sha256: Option<[u8; 32]>,
    allow: Grants,
    on_excess: OnExcess,
    pin_sha256: Option<[u8; 32]>,
    limits: Limits,
}

impl PolicyRule {
    /// A rule for plugins whose names match `pattern` (`*` wildcards), allowing nothing.
    pub fn new(pattern: impl Into<String>) -> Self {
        Self::any().match_name(pattern)
    }

    /// A rule for every plugin, allowing nothing; narrow it with [`match_name`](Self::match_name),
    /// [`match_path`](Self::match_path) and [`match_sha256`](Self::match_sha256).
    pub fn any() -> Self {
        Self {
            name: None,
            path: None,
            match_sha256: None,
            allow: Grants::none(),
            on_excess: OnExcess::Refuse,
            pin_sha256: None,
            limits: Limits::default(),
        }
    }

    /// Selects plugins whose names match `pattern` (`*` wildcards). Names are self-asserted:
    /// combine with [`match_path`](Self::match_path) or [`match_sha256`](Self::match_sha256) for rules that
    /// grant much.
    pub fn match_name(mut self, pattern: impl Into<String>) -> Self {
        self.name = Some(pattern.into());
        self
    }

    /// Selects plugins whose component file matches `pattern`, a path with `*` wildcards (a `*`
    /// also matches `/`). What is compared is the canonical path of the component file as it
    /// was opened ([`PluginSource::component_path`](crate::PluginSource::component_path)), also
    /// for a plugin directory: `/srv/plugins/acme/*` selects every component under that
    /// directory. The pattern is made absolute (relative to the current directory), `.` and
    /// `..` are resolved, and its leading directories without wildcards are resolved to their
    /// canonical form when they exist, so that a pattern through a symlinked directory still
    /// selects the files it names.
    pub fn match_path(mut self, pattern: impl Into<PathBuf>) -> Self {
        self.path = Some(normalise_pattern(&pattern.into()));
        self
    }

    /// Selects the plugin whose component has this SHA-256.
    pub fn match_sha256(mut self, sha256: [u8; 32]) -> Self {
        self.match_sha256 = Some(sha256);
        self
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
    /// (To select a plugin by its hash instead, see [`match_sha256`](Self::match_sha256).)
    pub fn pin_sha256(mut self, sha256: [u8; 32]) -> Self {
        self.pin_sha256 = Some(sha256);
        self
    }

    /// The limits of these plugins. Defaults to [`Limits::default`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits of these plugins, as [`limits`](Self::limits) set them.
    pub fn get_limits(&self) -> &Limits {
        &self.limits
    }

    fn matches(&self, plugin: &PluginIdentity) -> bool {
        self.matches_name(plugin) && self.matches_path_and_hash(plugin)
    }

    fn matches_name(&self, plugin: &PluginIdentity) -> bool {
        self.name
            .as_ref()
            .is_none_or(|pattern| crate::capability::wildcard_match(pattern, &plugin.name))
    }

    /// The path is compared as the identity gives it (a [`PluginSource`](crate::PluginSource)
    /// gives the canonical path of the file it opened), never resolved again here: a symlink
    /// swapped in since the read must not change which rule applies.
    fn matches_path_and_hash(&self, plugin: &PluginIdentity) -> bool {
        let path = self.path.as_ref().is_none_or(|pattern| {
            plugin.path.as_deref().is_some_and(|path| {
                crate::capability::wildcard_match(
                    &pattern.to_string_lossy(),
                    &lexically_normal(&absolute(path)).to_string_lossy(),
                )
            })
        });
        let sha256 = self.match_sha256.is_none_or(|hash| hash == plugin.sha256);
        path && sha256
    }

    /// Whether this rule binds a name to where a plugin lives or what it is: it selects by name
    /// and by path or hash, and selects `plugin`.
    fn binds(&self, plugin: &PluginIdentity) -> bool {
        self.name.is_some()
            && (self.path.is_some() || self.match_sha256.is_some())
            && self.matches(plugin)
    }

    /// The rule's selectors as a policy file writes them: `match = "p", path = "/srv/*"`.
    fn selectors(&self) -> String {
        [
            self.name.as_ref().map(|p| format!("match = \"{p}\"")),
            self.path
                .as_ref()
                .map(|p| format!("path = \"{}\"", p.display())),
            self.match_sha256
                .map(|h| format!("match-sha256 = \"{}\"", hex::encode(h))),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// `path` with `.` and `..` resolved by their names alone.
fn lexically_normal(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

/// A `path` pattern made absolute and normal: `.` and `..` resolved, and its leading directories
/// without wildcards resolved to their canonical form when they exist.
fn normalise_pattern(pattern: &Path) -> PathBuf {
    let normal = lexically_normal(&absolute(pattern));
    let components: Vec<_> = normal.components().collect();
    let literal = components
        .iter()
        .take_while(|c| !c.as_os_str().to_string_lossy().contains('*'))
        .count();
    // The longest existing literal prefix, made canonical, then the rest as written.
    for cut in (1..=literal).rev() {
        let prefix: PathBuf = components[..cut].iter().collect();
        if let Ok(canonical) = prefix.canonicalize() {
            return components[cut..]
                .iter()
                .fold(canonical, |path, rest| path.join(rest));
        }
    }
    normal
}

/// A host's policy: rules tried in order, and the grants every plugin gets.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: Vec<PolicyRule>,
    every_plugin: Grants,
    otherwise: OnExcess,
    otherwise_limits: Limits,
}

impl Policy {
    /// A policy without rules: no plugin may be granted anything, and a plugin that requests
    /// something is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a rule, tried after the ones already there.
    pub fn rule(mut self, rule: PolicyRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Grants `grants` to every plugin, whatever it requests and whichever rule applies (the
    /// CLI's grant flags). Defaults to nothing.
    pub fn grant_every_plugin(mut self, grants: Grants) -> Self {
        self.every_plugin = self.every_plugin.merge(grants);
        self
    }

    /// What to do with the requests of a plugin that no rule matches. Defaults to
    /// [`OnExcess::Refuse`].
    pub fn otherwise(mut self, on_excess: OnExcess) -> Self {
        self.otherwise = on_excess;
        self
    }

    /// The limits of plugins that no rule matches. Defaults to [`Limits::default`].
    pub fn otherwise_limits(mut self, limits: Limits) -> Self {
        self.otherwise_limits = limits;
        self
    }

    /// Changes the limits of every rule, and of plugins no rule matches, with `change` (the CLI
    /// applies its limit flags so).
    pub fn map_limits(mut self, change: impl Fn(Limits) -> Limits) -> Self {
        for rule in &mut self.rules {
            rule.limits = change(rule.limits.clone());
        }
        self.otherwise_limits = change(self.otherwise_limits);
        self
    }

    /// The rule that applies to `plugin`.
    pub fn rule_for(&self, plugin: &PluginIdentity) -> Option<&PolicyRule> {
        self.rules.iter().find(|rule| rule.matches(plugin))
    }

    /// Whether a rule binds `plugin`'s name to it: one that selects by name and by path or hash
    /// selects it. Among plugins claiming one name, the one a rule binds keeps the name.
    pub fn binds(&self, plugin: &PluginIdentity) -> bool {
        self.rules.iter().any(|rule| rule.binds(plugin))
    }

    /// Whether `plugin` claims a name that a rule binds to another path or hash: such a rule
    /// selects its name but not it, and no binding rule selects it. A plugin directory refuses
    /// it ([`Error::NameReserved`]).
    pub fn reserves_name_against(&self, plugin: &PluginIdentity) -> bool {
        !self.binds(plugin)
            && self.rules.iter().any(|rule| {
                rule.name.is_some()
                    && (rule.path.is_some() || rule.match_sha256.is_some())
                    && rule.matches_name(plugin)
            })
    }

    /// Which rule applied to `plugin` and what to do about a refused request; or, when none
    /// applied, what was compared and which rules selected its name only.
    fn selection(&self, plugin: &PluginIdentity) -> String {
        if let Some(at) = self.rules.iter().position(|rule| rule.matches(plugin)) {
            return format!(
                "the policy's rule [[plugin]] #{} ({}) allows less: allow them there or remove them \
                 from the request",
                at + 1,
                self.rules[at].selectors()
            );
        }
        if self.rules.is_empty() {
            return "the policy has no rules, so nothing beyond what every plugin is granted: \
                    grant it to every plugin, or in a rule that selects it"
                .to_owned();
        }
        let compared = format!(
            "name \"{}\", path {}, sha256 {}",
            plugin.name,
            plugin
                .path
                .as_deref()
                .map_or_else(|| "none".to_owned(), |p| format!("\"{}\"", p.display())),
            hex::encode(plugin.sha256)
        );
        let by_name_only: Vec<String> = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, rule)| rule.name.is_some() && rule.matches_name(plugin))
            .map(|(at, rule)| format!("[[plugin]] #{} ({})", at + 1, rule.selectors()))
            .collect();
        let mut text = format!("no policy rule selects it (compared: {compared})");
        if !by_name_only.is_empty() {
            text.push_str(&format!(
                "; {} {} its name but not its path or hash",
                by_name_only.join(", "),
                if by_name_only.len() == 1 {
                    "selects"
                } else {
                    "select"
                }
            ));
        }
        text.push_str(": allow them in a rule that selects it, or remove them from the request");
        text
    }

    fn all_limits(&self) -> impl Iterator<Item = &Limits> {
        self.rules
            .iter()
            .map(|r| &r.limits)
            .chain([&self.otherwise_limits])
    }

    /// Whether any rule sets a fuel budget (the engine must then meter fuel).
    pub fn needs_fuel(&self) -> bool {
        self.all_limits()
            .any(|l| l.get_fuel().is_some() || l.get_lifetime_fuel().is_some())
    }

    /// Whether any rule sets a deadline (the engine must then have epoch interruption).
    pub fn needs_deadlines(&self) -> bool {
        self.all_limits().any(|l| l.get_deadline().is_some())
    }

    /// The options `plugin` loads with when it requests `requested`: the effective grants, the
    /// limits and the hash pin. Refuses when the request goes beyond the policy and the rule
    /// says to refuse.
    pub fn options_for(
        &self,
        plugin: &PluginIdentity,
        requested: &Grants,
    ) -> Result<PluginOptions> {
        let fallback = PolicyRule::any()
            .on_excess(self.otherwise)
            .limits(self.otherwise_limits.clone());
        let rule = self.rule_for(plugin).unwrap_or(&fallback);
        let allowance = rule.allow.clone().merge(self.every_plugin.clone());
        let (granted, excess) = requested.restrict_to(&allowance);
        if !excess.is_empty() {
            match rule.on_excess {
                OnExcess::Refuse => {
                    return Err(Error::PolicyDenied {
                        plugin: plugin.name.clone(),
                        requests: excess,
                        selection: self.selection(plugin),
                    });
                }
                OnExcess::Trim => {
                    tracing::warn!(
                        plugin = plugin.name,
                        "requests beyond the host's policy were dropped: {}; {}",
                        excess.join(", "),
                        self.selection(plugin)
                    );
                }
            }
        }
        let mut options = PluginOptions::new()
            .name(plugin.name.clone())
            .grants(granted.merge(self.every_plugin.clone()))
            .limits(rule.limits.clone());
        if let Some(sha256) = rule.pin_sha256 {
            options = options.pin_sha256(sha256);
        }
        Ok(options)
    }

    /// Reads a policy from TOML (see the module's documentation); `path` names the file in
    /// errors, and relative paths in it are taken relative to its directory.
    pub fn parse(text: &str, path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let base = absolute(path.parent().unwrap_or(Path::new(".")));
        let fail = |reason: String| Error::Config {
            path: path.clone(),
            reason,
        };
        let file: PolicyToml = crate::toml_file::parse(text, &path)?;
        let mut policy = Policy::new();
        for (index, raw) in file.plugin.into_iter().enumerate() {
            let selectors = [
                raw.pattern.as_ref().map(|p| format!("match = \"{p}\"")),
                raw.path.as_ref().map(|p| format!("path = \"{p}\"")),
                raw.match_sha256
                    .clone()
                    .map(|h| format!("match-sha256 = \"{h}\"")),
            ];
            let label = selectors
                .iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            let rule_fail =
                |reason: String| fail(format!("[[plugin]] #{} ({label}): {reason}", index + 1));
            if label.is_empty() {
                return Err(rule_fail(
                    "a rule needs at least one of `match`, `path` and `match-sha256`".to_owned(),
                ));
            }
            let mut rule = PolicyRule::any().on_excess(raw.on_excess);
            if let Some(pattern) = raw.pattern {
                rule = rule.match_name(pattern);
            }
            if let Some(pattern) = raw.path {
                // Relative to the policy file's directory.
                rule = rule.match_path(base.join(pattern));
            }
            if let Some(hex_hash) = &raw.match_sha256 {
                rule = rule.match_sha256(parse_sha256(hex_hash).map_err(&rule_fail)?);
            }
            if let Some(allow) = raw.allow {
                rule = rule.allow(allow.relative_to(&base));
            }
            if let Some(hex_hash) = &raw.sha256 {
                rule = rule.pin_sha256(parse_sha256(hex_hash).map_err(&rule_fail)?);
            }
            let limits = Limits::from(crate::store::limits::LimitsToml {
                fuel: raw.fuel,
                lifetime_fuel: raw.lifetime_fuel,
                timeout_ms: raw.timeout_ms,
                max_memory: raw.max_memory,
                max_table_elements: raw.max_table_elements,
                max_instances: raw.max_instances,
                max_handles: raw.max_handles,
                max_component_handles: raw.max_component_handles,
                max_concurrent_calls: raw.max_concurrent_calls,
            });
            policy = policy.rule(rule.limits(limits));
        }
        Ok(policy)
    }

    /// Reads a policy file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = crate::toml_file::read(path)?;
        Self::parse(&text, path)
    }
}

fn parse_sha256(text: &str) -> std::result::Result<[u8; 32], String> {
    hex::decode(text)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| format!("`{text}` is not a SHA-256 (64 hex digits)"))
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
    pattern: Option<String>,
    path: Option<String>,
    match_sha256: Option<String>,
    #[serde(default)]
    on_excess: OnExcess,
    sha256: Option<String>,
    fuel: Option<u64>,
    lifetime_fuel: Option<u64>,
    timeout_ms: Option<u64>,
    max_memory: Option<usize>,
    max_table_elements: Option<usize>,
    max_instances: Option<usize>,
    max_handles: Option<usize>,
    max_component_handles: Option<usize>,
    max_concurrent_calls: Option<usize>,
    allow: Option<Grants>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::{HttpPattern, NetPattern};

    const POLICY: &str = r#"
[[plugin]]
match = "trusted-*"
on-excess = "trim"
fuel = 1000
max-component-handles = 2000
max-concurrent-calls = 8
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
        Policy::parse(POLICY, "policy.toml").expect("valid policy")
    }

    fn id(name: &str) -> PluginIdentity {
        PluginIdentity::new(name, None, b"component")
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
            .options_for(&id("trusted-one"), &request())
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
        assert_eq!(options.limits.get_fuel(), Some(1000));
        assert_eq!(options.limits.get_max_component_handles(), 2000);
        assert_eq!(options.limits.get_max_concurrent_calls(), 8);
    }

    #[test]
    fn a_refusing_rule_names_every_request_beyond_it() {
        let err = policy()
            .options_for(&id("random"), &request())
            .expect_err("refused");
        let text = err.to_string();
        match &err {
            Error::PolicyDenied {
                plugin, requests, ..
            } => {
                assert_eq!(plugin, "random");
                assert!(
                    requests.iter().any(|r| r == "dir-rw /etc::/etc"),
                    "{requests:?}"
                );
                assert!(
                    requests.iter().any(|r| r == "env SECRET=..."),
                    "{requests:?}"
                );
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
                .options_for(&id("random"), &Grants::none().env("LANG", "C"))
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
            .options_for(&id("p"), &Grants::none().dir_rw("/data", "/data"))
            .expect("trimmed");
        assert!(!options.grants.dirs()[0].writable);
    }

    #[test]
    fn bad_policies_are_explained() {
        let err = Policy::parse(
            "[[plugin]]\nmatch = \"x\"\nsha256 = \"abc\"\n",
            "policy.toml",
        )
        .expect_err("bad hash");
        assert!(err.to_string().contains("64 hex digits"), "{err}");
        let err = Policy::parse("[[plugin]]\non-excess = \"trim\"\n", "policy.toml")
            .expect_err("no selector");
        assert!(err.to_string().contains("at least one of"), "{err}");
        let err = Policy::parse("[[plugin]]\nmatch = \"x\"\nfule = 3\n", "policy.toml")
            .expect_err("bad key");
        assert!(
            err.to_string().contains("line 3") && err.to_string().contains("fule"),
            "{err}"
        );
    }

    #[test]
    fn rules_select_by_path_and_hash_as_well_as_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let trusted = dir.path().join("trusted");
        std::fs::create_dir(&trusted).expect("mkdir");
        let component = trusted.join("a.wasm");
        std::fs::write(&component, b"bytes").expect("write");
        let policy_path = dir.path().join("policy.toml");
        let hash = hex::encode(crate::engine::compile::sha256(b"pinned"));
        let text = format!(
            "[[plugin]]\npath = \"trusted/*\"\n[plugin.allow]\nenv = [\"A\"]\n\n\
             [[plugin]]\nmatch-sha256 = \"{hash}\"\n[plugin.allow]\nenv = [\"B\"]\n"
        );
        let policy = Policy::parse(&text, &policy_path).expect("valid");
        let from_trusted = PluginIdentity::new("any-name", Some(&component), b"bytes");
        assert!(
            policy
                .options_for(&from_trusted, &Grants::none().env_from_host("A"))
                .is_ok()
        );
        // The same name elsewhere gets nothing: a name alone proves nothing.
        let impostor = PluginIdentity::new("any-name", Some(&dir.path().join("a.wasm")), b"bytes");
        assert!(
            policy
                .options_for(&impostor, &Grants::none().env_from_host("A"))
                .is_err()
        );
        let pinned = PluginIdentity::new("x", None, b"pinned");
        assert!(
            policy
                .options_for(&pinned, &Grants::none().env_from_host("B"))
                .is_ok()
        );
        assert!(
            policy
                .options_for(&pinned, &Grants::none().env_from_host("A"))
                .is_err()
        );
    }

    #[test]
    fn grants_for_every_plugin_are_given_and_cover_requests() {
        let policy = Policy::new()
            .grant_every_plugin(Grants::none().env("MODE", "cli"))
            .otherwise(OnExcess::Trim);
        let options = policy
            .options_for(
                &id("p"),
                &Grants::none().env_from_host("MODE").env_from_host("HOME"),
            )
            .expect("trimmed");
        assert_eq!(options.grants.env_names(), vec!["MODE"]);
        assert!(matches!(
            Policy::new().options_for(&id("p"), &Grants::none().env_from_host("HOME")),
            Err(Error::PolicyDenied { .. })
        ));
    }
}
