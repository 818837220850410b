//! What a plugin is allowed to reach. Everything is denied unless granted.
//!
//! Defaults: no arguments, no environment variables, stdin closed, stdout and stderr into the
//! host's log (capped at [`DEFAULT_LOG_CAP`] bytes each), no directories, no network, no name
//! lookup, no application host interfaces. Clocks and randomness are the host's real ones unless
//! [`Grants::deterministic`] replaces them.
//!
//! The same grants can be written in TOML ([`Grants::from_toml`]), with the vocabulary of the
//! CLI's flags:
//!
//! ```toml
//! dir = ["/srv/data::/data"]        # read-only, HOST[::GUEST]
//! dir-rw = ["/tmp/out::/out"]       # read-write
//! env = ["HOME", "MODE=fast"]       # NAME takes the host's value; NAME=VALUE sets one
//! args = ["--verbose"]
//! allow-net = ["127.0.0.1:8080", "*:443"]
//! allow-name-lookup = true
//! allow-http = ["api.example.com", "http://127.0.0.1:8080"]
//! stdin = true                      # inherit the host's stdin
//! stdout = "log"                    # "log", "inherit" or "discard"
//! stderr = "inherit"
//! output-cap = 65536                # bytes of each stream kept in the log
//! deterministic = 42                # true, or a seed
//! interfaces = ["acme:app/kv@1.0.0"]
//! ```

mod determinism;
mod fs;
pub(crate) mod fs_refusals;
mod http;
mod net;
mod stdio;

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use crate::error::{Error, Result};

pub use determinism::{VIRTUAL_EPOCH_SECS, VIRTUAL_TICK_NANOS};
pub use fs::DirGrant;
pub(crate) use http::HttpHooks;
pub use http::HttpPattern;
pub use net::NetPattern;
pub(crate) use net::wildcard_match;
pub use stdio::{DEFAULT_LOG_CAP, Output};

/// The seed of [`Grants::deterministic`] when none is given.
pub const DEFAULT_SEED: u64 = 0;

/// The capabilities granted to one plugin. [`Grants::none`] (the default) grants nothing.
#[derive(Debug, Clone)]
pub struct Grants {
    args: Vec<String>,
    env_from_host: Vec<String>,
    env: Vec<(String, String)>,
    dirs: Vec<DirGrant>,
    inherit_stdin: bool,
    stdout: Output,
    stderr: Output,
    output_cap: usize,
    net: Vec<NetPattern>,
    name_lookup: bool,
    http: Vec<HttpPattern>,
    deterministic: Option<u64>,
    interfaces: Vec<String>,
}

impl Default for Grants {
    fn default() -> Self {
        Self {
            args: Vec::new(),
            env_from_host: Vec::new(),
            env: Vec::new(),
            dirs: Vec::new(),
            inherit_stdin: false,
            stdout: Output::Log,
            stderr: Output::Log,
            output_cap: DEFAULT_LOG_CAP,
            net: Vec::new(),
            name_lookup: false,
            http: Vec::new(),
            deterministic: None,
            interfaces: Vec::new(),
        }
    }
}

impl Grants {
    /// No capabilities (the default).
    pub fn none() -> Self {
        Self::default()
    }

    /// The plugin's arguments (`wasi:cli/environment.get-arguments`). Defaults to none.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the environment variable `name` to `value` for the plugin.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Passes the host's own value of `name` to the plugin (nothing when the host has none).
    pub fn env_from_host(mut self, name: impl Into<String>) -> Self {
        self.env_from_host.push(name.into());
        self
    }

    /// Grants `NAME` (the host's value) or `NAME=VALUE`, as the CLI's `--env` takes it.
    pub fn env_spec(self, spec: &str) -> Self {
        match spec.split_once('=') {
            Some((name, value)) => self.env(name, value),
            None => self.env_from_host(spec),
        }
    }

    /// Grants the host directory `host` to the plugin at `guest`, read-only.
    pub fn dir(mut self, host: impl AsRef<Path>, guest: impl Into<String>) -> Self {
        self.dirs.push(DirGrant {
            host: host.as_ref().to_owned(),
            guest: guest.into(),
            writable: false,
        });
        self
    }

    /// Grants the host directory `host` to the plugin at `guest`, read-write.
    pub fn dir_rw(mut self, host: impl AsRef<Path>, guest: impl Into<String>) -> Self {
        self.dirs.push(DirGrant {
            host: host.as_ref().to_owned(),
            guest: guest.into(),
            writable: true,
        });
        self
    }

    /// Lets the plugin read the host's stdin. Defaults to `false` (stdin is closed).
    pub fn inherit_stdin(mut self, inherit: bool) -> Self {
        self.inherit_stdin = inherit;
        self
    }

    /// Where the plugin's stdout goes. Defaults to [`Output::Log`].
    pub fn stdout(mut self, output: Output) -> Self {
        self.stdout = output;
        self
    }

    /// Where the plugin's stderr goes. Defaults to [`Output::Log`].
    pub fn stderr(mut self, output: Output) -> Self {
        self.stderr = output;
        self
    }

    /// How many bytes of each stream an instance may write into the log before the rest is
    /// dropped (with one warning). Defaults to [`DEFAULT_LOG_CAP`] (1 MiB).
    pub fn output_cap(mut self, bytes: usize) -> Self {
        self.output_cap = bytes;
        self
    }

    /// Lets the plugin connect to (or bind) addresses matching `pattern`; see [`NetPattern`].
    pub fn allow_net(mut self, pattern: NetPattern) -> Self {
        self.net.push(pattern);
        self
    }

    /// Lets the plugin resolve names (`wasi:sockets/ip-name-lookup`). Defaults to `false`.
    pub fn allow_name_lookup(mut self, allow: bool) -> Self {
        self.name_lookup = allow;
        self
    }

    /// Lets the plugin send HTTP requests (`wasi:http/outgoing-handler`) to destinations matching
    /// `pattern`; see [`HttpPattern`]. Defaults to none: every request is refused with
    /// `HTTP-request-denied`.
    pub fn allow_http(mut self, pattern: HttpPattern) -> Self {
        self.http.push(pattern);
        self
    }

    /// The allowed HTTP destinations.
    pub fn http(&self) -> &[HttpPattern] {
        &self.http
    }

    /// Replaces the clocks by virtual ones (starting at 2000-01-01, advancing 1 ms per reading)
    /// and randomness by a generator seeded with `seed`, so runs are reproducible. Defaults to
    /// the host's real clocks and randomness.
    pub fn deterministic(mut self, seed: u64) -> Self {
        self.deterministic = Some(seed);
        self
    }

    /// Grants the application's host interface `name` (`pkg:name/iface`, with or without
    /// `@version`), as registered with [`HostBuilder::interface`](crate::HostBuilder::interface).
    pub fn interface(mut self, name: impl Into<String>) -> Self {
        self.interfaces.push(name.into());
        self
    }

    /// The granted directories.
    pub fn dirs(&self) -> &[DirGrant] {
        &self.dirs
    }

    /// The granted network patterns.
    pub fn net(&self) -> &[NetPattern] {
        &self.net
    }

    /// Whether name lookup is granted.
    pub fn name_lookup(&self) -> bool {
        self.name_lookup
    }

    /// The names of the environment variables granted, from the host or with values.
    pub fn env_names(&self) -> Vec<&str> {
        self.env_from_host
            .iter()
            .map(String::as_str)
            .chain(self.env.iter().map(|(name, _)| name.as_str()))
            .collect()
    }

    /// Whether stdin is inherited.
    pub fn stdin_inherited(&self) -> bool {
        self.inherit_stdin
    }

    /// Where stdout and stderr go.
    pub fn outputs(&self) -> (Output, Output) {
        (self.stdout, self.stderr)
    }

    /// The deterministic seed, when deterministic mode is on.
    pub fn deterministic_seed(&self) -> Option<u64> {
        self.deterministic
    }

    /// Whether the application host interface `name` (as the component imports it,
    /// `pkg:name/iface@version`) is granted.
    pub fn grants_interface(&self, name: &str) -> bool {
        let unversioned = name.split_once('@').map_or(name, |(n, _)| n);
        self.interfaces
            .iter()
            .any(|g| g == name || g == unversioned)
    }

    /// The granted interface names.
    pub fn interfaces(&self) -> &[String] {
        &self.interfaces
    }

    /// Adds everything `other` grants to these grants; `other`'s stdio and deterministic settings
    /// win where it changes them from the defaults.
    pub fn merge(mut self, other: Grants) -> Self {
        let defaults = Grants::default();
        self.args.extend(other.args);
        self.env_from_host.extend(other.env_from_host);
        self.env.extend(other.env);
        self.dirs.extend(other.dirs);
        self.inherit_stdin |= other.inherit_stdin;
        if other.stdout != defaults.stdout {
            self.stdout = other.stdout;
        }
        if other.stderr != defaults.stderr {
            self.stderr = other.stderr;
        }
        if other.output_cap != defaults.output_cap {
            self.output_cap = other.output_cap;
        }
        self.net.extend(other.net);
        self.name_lookup |= other.name_lookup;
        self.http.extend(other.http);
        self.deterministic = other.deterministic.or(self.deterministic);
        self.interfaces.extend(other.interfaces);
        self
    }

    /// Each capability granted, in the vocabulary of the grant flags (`dir /srv::/data`,
    /// `env HOME`, `allow-net 127.0.0.1:80`), for listings.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for dir in &self.dirs {
            let flag = if dir.writable { "dir-rw" } else { "dir" };
            lines.push(format!("{flag} {}::{}", dir.host.display(), dir.guest));
        }
        lines.extend(
            self.env_names()
                .into_iter()
                .map(|name| format!("env {name}")),
        );
        lines.extend(self.net.iter().map(|p| format!("allow-net {p}")));
        if self.name_lookup {
            lines.push("allow-name-lookup".to_owned());
        }
        lines.extend(self.http.iter().map(|p| format!("allow-http {p}")));
        if self.inherit_stdin {
            lines.push("stdin".to_owned());
        }
        lines.extend(self.interfaces.iter().map(|i| format!("interface {i}")));
        lines
    }

    /// The part of these grants (a plugin's request) that `allowed` (a policy) permits, and a
    /// description of each request beyond it. A read-write directory allowed only read-only is
    /// kept read-only.
    pub(crate) fn restrict_to(&self, allowed: &Grants) -> (Grants, Vec<String>) {
        let mut excess = Vec::new();
        let mut granted = Grants {
            args: self.args.clone(),
            stdout: self.stdout,
            stderr: self.stderr,
            output_cap: self.output_cap,
            deterministic: self.deterministic,
            ..Grants::default()
        };
        for dir in &self.dirs {
            let permit = allowed
                .dirs
                .iter()
                .find(|a| a.host == dir.host && a.guest == dir.guest);
            match permit {
                Some(a) if a.writable || !dir.writable => granted.dirs.push(dir.clone()),
                Some(_) => {
                    excess.push(format!(
                        "dir-rw {}::{} (allowed read-only)",
                        dir.host.display(),
                        dir.guest
                    ));
                    granted.dirs.push(DirGrant {
                        writable: false,
                        ..dir.clone()
                    });
                }
                None => excess.push(format!(
                    "{} {}::{}",
                    if dir.writable { "dir-rw" } else { "dir" },
                    dir.host.display(),
                    dir.guest
                )),
            }
        }
        let allowed_env = allowed.env_names();
        for name in &self.env_from_host {
            if allowed_env.contains(&name.as_str()) {
                granted.env_from_host.push(name.clone());
            } else {
                excess.push(format!("env {name}"));
            }
        }
        for (name, value) in &self.env {
            if allowed_env.contains(&name.as_str()) {
                granted.env.push((name.clone(), value.clone()));
            } else {
                excess.push(format!("env {name}"));
            }
        }
        for pattern in &self.net {
            if allowed.net.iter().any(|a| a.covers(pattern)) {
                granted.net.push(pattern.clone());
            } else {
                excess.push(format!("allow-net {pattern}"));
            }
        }
        for pattern in &self.http {
            if allowed.http.iter().any(|a| a.covers(pattern)) {
                granted.http.push(pattern.clone());
            } else {
                excess.push(format!("allow-http {pattern}"));
            }
        }
        for name in &self.interfaces {
            if allowed.grants_interface(name) {
                granted.interfaces.push(name.clone());
            } else {
                excess.push(format!("interface {name}"));
            }
        }
        if self.name_lookup {
            if allowed.name_lookup {
                granted.name_lookup = true;
            } else {
                excess.push("allow-name-lookup".to_owned());
            }
        }
        if self.inherit_stdin {
            if allowed.inherit_stdin {
                granted.inherit_stdin = true;
            } else {
                excess.push("stdin".to_owned());
            }
        }
        (granted, excess)
    }

    /// Reads grants from TOML (see the module's documentation for the keys). Errors give the
    /// line, the column and the key.
    pub fn from_toml(text: &str) -> std::result::Result<Self, String> {
        let file: GrantsToml = toml::from_str(text).map_err(|e| e.to_string())?;
        file.into_grants()
    }

    /// Reads grants from a TOML file.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = crate::config_file::read(path)?;
        Self::from_toml(&text).map_err(|reason| Error::Config {
            path: path.to_owned(),
            reason,
        })
    }

    /// The hooks that hold a plugin's outbound HTTP to these grants.
    pub(crate) fn http_hooks(&self, plugin: &Arc<str>) -> HttpHooks {
        HttpHooks::new(plugin.clone(), self.http.clone())
    }

    /// The WASI context that gives a plugin exactly these grants.
    pub(crate) fn wasi_ctx(&self, plugin: &Arc<str>) -> Result<WasiCtx> {
        let mut builder = WasiCtxBuilder::new();
        builder.args(&self.args).envs(&self.env);
        for name in &self.env_from_host {
            if let Some(value) = std::env::var_os(name) {
                builder.env(name, value.to_string_lossy());
            }
        }
        fs::apply(&mut builder, plugin, &self.dirs)?;
        stdio::apply(
            &mut builder,
            plugin,
            self.inherit_stdin,
            self.stdout,
            self.stderr,
            self.output_cap,
        );
        net::apply(&mut builder, plugin, &self.net, self.name_lookup);
        if let Some(seed) = self.deterministic {
            determinism::apply(&mut builder, seed);
        }
        Ok(builder.build())
    }
}

/// The TOML form of [`Grants`].
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct GrantsToml {
    #[serde(default)]
    dir: Vec<String>,
    #[serde(default)]
    dir_rw: Vec<String>,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    allow_net: Vec<String>,
    #[serde(default)]
    allow_name_lookup: bool,
    #[serde(default)]
    allow_http: Vec<String>,
    #[serde(default)]
    stdin: bool,
    stdout: Option<Output>,
    stderr: Option<Output>,
    output_cap: Option<usize>,
    deterministic: Option<Deterministic>,
    #[serde(default)]
    interfaces: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Deterministic {
    On(bool),
    Seed(u64),
}

impl GrantsToml {
    pub(crate) fn into_grants(self) -> std::result::Result<Grants, String> {
        let mut grants = Grants::none()
            .args(self.args)
            .inherit_stdin(self.stdin)
            .allow_name_lookup(self.allow_name_lookup);
        for spec in &self.dir {
            grants
                .dirs
                .push(DirGrant::parse(spec, false).map_err(|e| format!("dir: {e}"))?);
        }
        for spec in &self.dir_rw {
            grants
                .dirs
                .push(DirGrant::parse(spec, true).map_err(|e| format!("dir-rw: {e}"))?);
        }
        for spec in &self.env {
            if spec.is_empty() || spec.starts_with('=') {
                return Err(format!("env: `{spec}` is not NAME or NAME=VALUE"));
            }
            grants = grants.env_spec(spec);
        }
        for spec in &self.allow_net {
            grants
                .net
                .push(NetPattern::parse(spec).map_err(|e| format!("allow-net: {e}"))?);
        }
        for spec in &self.allow_http {
            grants
                .http
                .push(HttpPattern::parse(spec).map_err(|e| format!("allow-http: {e}"))?);
        }
        if let Some(output) = self.stdout {
            grants.stdout = output;
        }
        if let Some(output) = self.stderr {
            grants.stderr = output;
        }
        if let Some(cap) = self.output_cap {
            grants.output_cap = cap;
        }
        grants.deterministic = match self.deterministic {
            None | Some(Deterministic::On(false)) => None,
            Some(Deterministic::On(true)) => Some(DEFAULT_SEED),
            Some(Deterministic::Seed(seed)) => Some(seed),
        };
        grants.interfaces = self.interfaces;
        Ok(grants)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_granted_by_default() {
        let g = Grants::none();
        assert!(g.dirs().is_empty() && g.net().is_empty() && g.env_names().is_empty());
        assert!(!g.name_lookup() && !g.stdin_inherited());
        assert_eq!(g.outputs(), (Output::Log, Output::Log));
        assert_eq!(g.deterministic_seed(), None);
    }

    #[test]
    fn toml_uses_the_flag_vocabulary() {
        let g = Grants::from_toml(
            r#"
            dir = ["/srv::/data"]
            dir-rw = ["/tmp/out"]
            env = ["HOME", "MODE=fast"]
            allow-net = ["127.0.0.1:80"]
            allow-name-lookup = true
            stdout = "inherit"
            deterministic = 7
            interfaces = ["acme:app/kv"]
            "#,
        )
        .expect("valid");
        assert_eq!(g.dirs().len(), 2);
        assert!(g.dirs()[1].writable);
        assert_eq!(g.env_names(), vec!["HOME", "MODE"]);
        assert_eq!(g.net()[0].to_string(), "127.0.0.1:80");
        assert!(g.name_lookup());
        assert_eq!(g.outputs().0, Output::Inherit);
        assert_eq!(g.deterministic_seed(), Some(7));
        assert!(g.grants_interface("acme:app/kv@1.2.0"));
        assert!(!g.grants_interface("acme:app/other@1.2.0"));
    }

    #[test]
    fn toml_errors_name_line_and_key() {
        let err = Grants::from_toml("dir = [\"/a\"]\nallow-nett = [\"x:1\"]\n").unwrap_err();
        assert!(
            err.contains("line 2") && err.contains("allow-nett"),
            "{err}"
        );
        let err = Grants::from_toml("stdout = \"printer\"\n").unwrap_err();
        assert!(err.contains("line 1") && err.contains("printer"), "{err}");
        let err = Grants::from_toml("allow-net = [\"nowhere\"]\n").unwrap_err();
        assert!(
            err.contains("allow-net") && err.contains("HOST:PORT"),
            "{err}"
        );
    }

    #[test]
    fn merging_adds_grants() {
        let merged = Grants::none()
            .env("A", "1")
            .merge(Grants::none().env("B", "2").stdout(Output::Discard));
        assert_eq!(merged.env_names(), vec!["A", "B"]);
        assert_eq!(merged.outputs().0, Output::Discard);
    }
}
