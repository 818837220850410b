//! What a plugin is allowed to reach. Everything is denied unless granted.
//!
//! Defaults: no arguments, no environment variables, stdin closed, stdout and stderr into the
//! host's log (capped at [`DEFAULT_LOG_CAP`](crate::DEFAULT_LOG_CAP) bytes each per call), no directories, no network, no
//! name lookup, no application host interfaces. Clocks and randomness are the host's real ones unless
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
//! allow-net = ["127.0.0.1:8080", "10.0.0.0/8:5432"]   # connect to / send to
//! allow-listen = ["127.0.0.1:9000"]  # bind and listen on
//! allow-name-lookup = true
//! allow-http = ["api.example.com", "http://127.0.0.1:8080", "*.example.org:*"]
//! stdin = true                      # inherit the host's stdin
//! stdout = "log"                    # "log", "prefixed", "inherit" or "discard"
//! stderr = "inherit"
//! output-cap = 65536                # bytes per call of stdout, of stderr and of the log interface
//! deterministic = 42                # true, or a seed
//! interfaces = ["acme:app/kv@1.0.0"]
//! ```

pub(crate) mod determinism;
mod env;
pub(crate) mod framework;
pub(crate) mod fs;
mod http;
pub(crate) mod interfaces;
mod net;
mod stdio;

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use crate::error::{Error, Result};

pub use determinism::{VIRTUAL_EPOCH_SECS, VIRTUAL_TICK_NANOS};
pub use env::EnvGrant;
pub use fs::DirGrant;
pub(crate) use http::HttpHooks;
pub use http::HttpPattern;
pub use net::NetPattern;
pub(crate) use net::{ResolvedNet, wildcard_match};
pub use stdio::Output;

use crate::store::output::{DEFAULT_LOG_CAP, OutputBudget};

/// One kind of capability as listings show it: which imports it covers, and what the grants give
/// of it. Each capability module declares its own.
pub(crate) struct Unit {
    /// How listings name it: a WASI package or interface.
    pub(crate) name: &'static str,
    /// The unversioned imports it covers: `pkg:name/` for a whole package, or one interface.
    pub(crate) covers: &'static [&'static str],
    /// Whether the grants give anything of it, and what (or what would grant it).
    pub(crate) describe: fn(&Grants) -> (bool, String),
}

impl Unit {
    /// Whether the unversioned import `import` belongs to this capability.
    pub(crate) fn covers(&self, import: &str) -> bool {
        self.covers
            .iter()
            .any(|covered| match covered.strip_suffix('/') {
                Some(package) => import.split_once('/').is_some_and(|(p, _)| p == package),
                None => import == *covered,
            })
    }
}

/// Streams and polling: plumbing every other capability uses, nothing in itself.
const IO: Unit = Unit {
    name: "wasi:io",
    covers: &["wasi:io/"],
    describe: |_| (true, "always available (streams and polling)".to_owned()),
};

/// Every capability the host provides, the most specific first.
pub(crate) const UNITS: &[Unit] = &[
    fs::UNIT,
    env::UNIT,
    stdio::STDIN,
    stdio::STDOUT,
    stdio::STDERR,
    stdio::CLI,
    net::NAME_LOOKUP,
    net::UNIT,
    http::UNIT,
    determinism::CLOCKS,
    determinism::RANDOM,
    IO,
    framework::UNIT,
];

/// `(true, the items joined)`, or `(false, none)` when there are none.
fn list_or(items: Vec<String>, none: &str) -> (bool, String) {
    if items.is_empty() {
        (false, none.to_owned())
    } else {
        (true, items.join(", "))
    }
}

/// The keys of the grant vocabulary whose values are lists, which [`Grants::add`] takes.
pub const GRANT_WORDS: &[&str] = &[
    "dir",
    "dir-rw",
    "env",
    "allow-net",
    "allow-listen",
    "allow-http",
    "interfaces",
    "args",
];

/// The seed of [`Grants::deterministic`] when none is given.
pub const DEFAULT_SEED: u64 = 0;

/// The capabilities granted to one plugin. [`Grants::none`] (the default) grants nothing.
///
/// Settings that have a default (stdout, stderr, the output cap, arguments, deterministic mode)
/// remember whether they were set, so that merging grants keeps every setting that was written
/// down, including one written down as its default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "GrantsToml")]
pub struct Grants {
    args: Option<Vec<String>>,
    env: Vec<EnvGrant>,
    dirs: Vec<DirGrant>,
    inherit_stdin: bool,
    stdout: Option<Output>,
    stderr: Option<Output>,
    output_cap: Option<usize>,
    net: Vec<NetPattern>,
    listen: Vec<NetPattern>,
    name_lookup: bool,
    http: Vec<HttpPattern>,
    deterministic: Option<u64>,
    interfaces: Vec<String>,
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
        self.args = Some(args.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the environment variable `name` to `value` for the plugin.
    pub fn env(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env_grant(EnvGrant::Value(name.into(), value.into()))
    }

    /// Passes the host's own value of `name` to the plugin (nothing when the host has none).
    pub fn env_from_host(self, name: impl Into<String>) -> Self {
        self.env_grant(EnvGrant::FromHost(name.into()))
    }

    /// Grants one environment variable, as [`EnvGrant::parse`] reads `NAME` or `NAME=VALUE`.
    pub fn env_grant(mut self, grant: EnvGrant) -> Self {
        self.env.push(grant);
        self
    }

    /// Grants the host directory `host` to the plugin at `guest`, read-only.
    pub fn dir(self, host: impl AsRef<Path>, guest: impl Into<String>) -> Self {
        self.dir_grant(host, guest, false)
    }

    /// Grants the host directory `host` to the plugin at `guest`, read-write.
    pub fn dir_rw(self, host: impl AsRef<Path>, guest: impl Into<String>) -> Self {
        self.dir_grant(host, guest, true)
    }

    fn dir_grant(
        mut self,
        host: impl AsRef<Path>,
        guest: impl Into<String>,
        writable: bool,
    ) -> Self {
        self.dirs.push(DirGrant {
            host: host.as_ref().to_owned(),
            guest: guest.into(),
            writable,
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
        self.stdout = Some(output);
        self
    }

    /// Where the plugin's stderr goes. Defaults to [`Output::Log`].
    pub fn stderr(mut self, output: Output) -> Self {
        self.stderr = Some(output);
        self
    }

    /// How many bytes of each of stdout, stderr and the `componentry:plugin/log` interface one
    /// call may make the host print or log; the rest is dropped, with one warning. Defaults to
    /// [`DEFAULT_LOG_CAP`] (1 MiB).
    pub fn output_cap(mut self, bytes: usize) -> Self {
        self.output_cap = Some(bytes);
        self
    }

    /// Lets the plugin open TCP connections to, and exchange UDP datagrams with, addresses
    /// matching `pattern`; see [`NetPattern`]. It does not let the plugin listen: see
    /// [`allow_listen`](Self::allow_listen).
    pub fn allow_net(mut self, pattern: NetPattern) -> Self {
        self.net.push(pattern);
        self
    }

    /// Lets the plugin bind local addresses matching `pattern` and listen (TCP) or receive (UDP)
    /// on them, from any peer. Defaults to none.
    pub fn allow_listen(mut self, pattern: NetPattern) -> Self {
        self.listen.push(pattern);
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

    /// The granted arguments.
    pub fn arguments(&self) -> &[String] {
        self.args.as_deref().unwrap_or_default()
    }

    /// The granted environment variables.
    pub fn env_grants(&self) -> &[EnvGrant] {
        &self.env
    }

    /// The names of the environment variables granted, from the host or with values.
    pub fn env_names(&self) -> Vec<&str> {
        self.env.iter().map(EnvGrant::name).collect()
    }

    /// The granted directories.
    pub fn dirs(&self) -> &[DirGrant] {
        &self.dirs
    }

    /// The addresses the plugin may connect to.
    pub fn net(&self) -> &[NetPattern] {
        &self.net
    }

    /// The local addresses the plugin may listen on.
    pub fn listen(&self) -> &[NetPattern] {
        &self.listen
    }

    /// Whether name lookup is granted.
    pub fn name_lookup(&self) -> bool {
        self.name_lookup
    }

    /// The allowed HTTP destinations.
    pub fn http(&self) -> &[HttpPattern] {
        &self.http
    }

    /// Whether stdin is inherited.
    pub fn stdin_inherited(&self) -> bool {
        self.inherit_stdin
    }

    /// Where stdout and stderr go.
    pub fn outputs(&self) -> (Output, Output) {
        (
            self.stdout.unwrap_or_default(),
            self.stderr.unwrap_or_default(),
        )
    }

    /// The output cap in bytes per channel and call.
    pub fn output_cap_bytes(&self) -> usize {
        self.output_cap.unwrap_or(DEFAULT_LOG_CAP)
    }

    /// The deterministic seed, when deterministic mode is on.
    pub fn deterministic_seed(&self) -> Option<u64> {
        self.deterministic
    }

    /// Whether the application host interface `name` (as the component imports it,
    /// `pkg:name/iface@version`) is granted.
    pub fn grants_interface(&self, name: &str) -> bool {
        self.interfaces
            .iter()
            .any(|granted| interfaces::same_interface(granted, name))
    }

    /// The granted interface names.
    pub fn interfaces(&self) -> &[String] {
        &self.interfaces
    }

    /// Adds everything `other` grants to these grants; the settings `other` states (stdout,
    /// stderr, output cap, arguments, deterministic mode) replace these ones.
    pub fn merge(mut self, other: Grants) -> Self {
        fn add<X: PartialEq>(into: &mut Vec<X>, more: Vec<X>) {
            for item in more {
                if !into.contains(&item) {
                    into.push(item);
                }
            }
        }
        self.args = other.args.or(self.args);
        add(&mut self.env, other.env);
        add(&mut self.dirs, other.dirs);
        self.inherit_stdin |= other.inherit_stdin;
        self.stdout = other.stdout.or(self.stdout);
        self.stderr = other.stderr.or(self.stderr);
        self.output_cap = other.output_cap.or(self.output_cap);
        add(&mut self.net, other.net);
        add(&mut self.listen, other.listen);
        self.name_lookup |= other.name_lookup;
        add(&mut self.http, other.http);
        self.deterministic = other.deterministic.or(self.deterministic);
        add(&mut self.interfaces, other.interfaces);
        self
    }

    /// Each capability granted and each setting stated, in the grant vocabulary (`dir
    /// /srv::/data`, `env HOME`, `allow-net 127.0.0.1:80`, `stdout inherit`), for listings.
    pub fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.dirs.iter().map(DirGrant::vocabulary).collect();
        lines.extend(self.env.iter().map(|e| format!("env {e}")));
        lines.extend(self.net.iter().map(|p| format!("allow-net {p}")));
        lines.extend(self.listen.iter().map(|p| format!("allow-listen {p}")));
        if self.name_lookup {
            lines.push("allow-name-lookup".to_owned());
        }
        lines.extend(self.http.iter().map(|p| format!("allow-http {p}")));
        if self.inherit_stdin {
            lines.push("stdin".to_owned());
        }
        lines.extend(self.interfaces.iter().map(|i| format!("interface {i}")));
        if let Some(args) = &self.args {
            lines.push(format!("args {}", args.join(" ")));
        }
        if let Some(output) = self.stdout {
            lines.push(format!("stdout {}", output.as_str()));
        }
        if let Some(output) = self.stderr {
            lines.push(format!("stderr {}", output.as_str()));
        }
        if let Some(cap) = self.output_cap {
            lines.push(format!("output-cap {cap}"));
        }
        if let Some(seed) = self.deterministic {
            lines.push(format!("deterministic {seed}"));
        }
        lines
    }

    /// The part of these grants (a plugin's request) that `allowed` (a policy) permits, and a
    /// description of each request beyond it. The policy wins on every field: each kind of grant
    /// says how an allowance covers a request, and a setting the policy states is the one the
    /// plugin gets.
    pub(crate) fn restrict_to(&self, allowed: &Grants) -> (Grants, Vec<String>) {
        let mut excess = Vec::new();
        // A setting neither side states stays unstated (its default).
        let stated = |asked: bool, allows: bool| asked || allows;
        let mut granted = Grants {
            args: allowed.args.clone(),
            stdout: stated(self.stdout.is_some(), allowed.stdout.is_some())
                .then(|| self.stdout.unwrap_or_default().granted_by(allowed.stdout)),
            stderr: stated(self.stderr.is_some(), allowed.stderr.is_some())
                .then(|| self.stderr.unwrap_or_default().granted_by(allowed.stderr)),
            output_cap: stated(self.output_cap.is_some(), allowed.output_cap.is_some())
                .then(|| self.output_cap_bytes().min(allowed.output_cap_bytes())),
            deterministic: allowed.deterministic.or(self.deterministic),
            ..Grants::default()
        };
        if let Some(args) = &self.args
            && !args.is_empty()
            && allowed.args.as_ref() != Some(args)
        {
            excess.push(format!("args {}", args.join(" ")));
        }
        for (asked, got, name) in [
            (self.stdout, granted.stdout, "stdout"),
            (self.stderr, granted.stderr, "stderr"),
        ] {
            if let (Some(asked), Some(got)) = (asked, got)
                && asked > got
            {
                excess.push(format!("{name} {}", asked.as_str()));
            }
        }
        if self
            .output_cap
            .is_some_and(|cap| cap > allowed.output_cap_bytes())
        {
            excess.push(format!("output-cap {}", self.output_cap_bytes()));
        }
        for dir in &self.dirs {
            match allowed.dirs.iter().find_map(|a| dir.granted_by(a)) {
                Some(given) => {
                    if dir.writable && !given.writable {
                        excess.push(format!("{} (allowed read-only)", dir.vocabulary()));
                    }
                    granted.dirs.push(given);
                }
                None => excess.push(dir.vocabulary()),
            }
        }
        for env in &self.env {
            match allowed.env.iter().find_map(|a| env.granted_by(a)) {
                Some(given) => granted.env.push(given),
                None => excess.push(format!("env {env}")),
            }
        }
        for (requested, allowances, into, flag) in [
            (&self.net, &allowed.net, &mut granted.net, "allow-net"),
            (
                &self.listen,
                &allowed.listen,
                &mut granted.listen,
                "allow-listen",
            ),
        ] {
            for pattern in requested {
                if allowances.iter().any(|a| a.covers(pattern)) {
                    into.push(pattern.clone());
                } else {
                    excess.push(format!("{flag} {pattern}"));
                }
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
        for (asked, allows, into, word) in [
            (
                self.name_lookup,
                allowed.name_lookup,
                &mut granted.name_lookup,
                "allow-name-lookup",
            ),
            (
                self.inherit_stdin,
                allowed.inherit_stdin,
                &mut granted.inherit_stdin,
                "stdin",
            ),
        ] {
            if asked && allows {
                *into = true;
            } else if asked {
                excess.push(word.to_owned());
            }
        }
        (granted, excess)
    }

    /// Adds one grant written in the vocabulary that grants files, manifests, policies and the
    /// CLI's flags share: `word` is the key of a list ([`GRANT_WORDS`]: `dir`, `dir-rw`, `env`,
    /// `allow-net`, `allow-listen`, `allow-http`, `interfaces`, `args`) and `value` one entry.
    ///
    /// ```
    /// let grants = componentry::Grants::none()
    ///     .add("dir", "/srv/data::/data")?
    ///     .add("allow-net", "10.0.0.0/8:5432")?;
    /// assert_eq!(grants.net()[0].to_string(), "10.0.0.0/8:5432");
    /// assert!(componentry::Grants::none().add("allow-nett", "x:1").is_err());
    /// # Ok::<(), componentry::Error>(())
    /// ```
    pub fn add(mut self, word: &str, value: &str) -> Result<Self> {
        self.add_entry(word, value, None)?;
        Ok(self)
    }

    /// Adds one entry of the list `word`; relative directories are taken relative to `base`.
    fn add_entry(&mut self, word: &str, value: &str, base: Option<&Path>) -> Result<()> {
        match word {
            "dir" | "dir-rw" => {
                let dir = DirGrant::parse(value, word == "dir-rw")?;
                self.dirs.push(match base {
                    Some(base) => dir.relative_to(base),
                    None => dir,
                });
            }
            "env" => self.env.push(EnvGrant::parse(value)?),
            "allow-net" => self.net.push(NetPattern::parse(value)?),
            "allow-listen" => self.listen.push(NetPattern::parse(value)?),
            "allow-http" => self.http.push(HttpPattern::parse(value)?),
            "interfaces" => {
                interfaces::check_name(value)
                    .map_err(|reason| Error::syntax("interface grant", value, reason))?;
                self.interfaces.push(value.to_owned());
            }
            "args" => self
                .args
                .get_or_insert_with(Vec::new)
                .push(value.to_owned()),
            other => {
                return Err(Error::syntax(
                    "grant",
                    other,
                    format!(
                        "`{other}` is not a grant; the grants are {}",
                        GRANT_WORDS.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Reads grants from TOML (see the module's documentation for the keys). Errors give the
    /// line, the column and the key.
    pub fn from_toml(text: &str) -> Result<Self> {
        let file: GrantsToml =
            toml::from_str(text).map_err(|e| Error::syntax("grants table", text, e.to_string()))?;
        file.into_grants(None)
            .map_err(|reason| Error::syntax("grants table", text, reason))
    }

    /// Reads grants from a TOML file; relative directories in it are taken relative to the
    /// file's own directory.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = crate::toml_file::read(path)?;
        let file: GrantsToml = crate::toml_file::parse(&text, path)?;
        file.into_grants(path.parent())
            .map_err(|reason| Error::Config {
                path: path.to_owned(),
                reason,
            })
    }
}

impl TryFrom<GrantsToml> for Grants {
    type Error = String;

    fn try_from(table: GrantsToml) -> std::result::Result<Self, String> {
        table.into_grants(None)
    }
}

impl Grants {
    /// The same grants with relative host directories taken relative to `base` (the directory
    /// of the file they were read from).
    pub fn relative_to(mut self, base: &Path) -> Self {
        self.dirs = self.dirs.into_iter().map(|d| d.relative_to(base)).collect();
        self
    }
}

/// A plugin's grants made ready for its instances: checked, names looked up, once per load.
pub(crate) struct PreparedGrants {
    plugin: Arc<str>,
    grants: Grants,
    net: Arc<ResolvedNet>,
}

impl PreparedGrants {
    /// Checks `grants` (granted directories must exist) and looks up the names in its network
    /// grants.
    pub(crate) fn new(plugin: &Arc<str>, grants: Grants) -> Result<Self> {
        let net = Arc::new(ResolvedNet::resolve(plugin, &grants.net, &grants.listen));
        let prepared = Self {
            plugin: plugin.clone(),
            grants,
            net,
        };
        // Opening the granted directories now reports a bad grant at load, not at the first call.
        prepared.wasi_ctx(&OutputBudget::new(plugin.clone(), 0))?;
        Ok(prepared)
    }

    pub(crate) fn grants(&self) -> &Grants {
        &self.grants
    }

    /// Whether the plugin runs deterministically.
    pub(crate) fn deterministic(&self) -> bool {
        self.grants.deterministic.is_some()
    }

    /// The hooks that hold a plugin's outbound HTTP to these grants.
    pub(crate) fn http_hooks(&self) -> Box<dyn wasmtime_wasi_http::WasiHttpHooks + Send> {
        Box::new(HttpHooks::new(
            self.plugin.clone(),
            self.grants.http.clone(),
        ))
    }

    /// The WASI context that gives one instance exactly these grants.
    pub(crate) fn wasi_ctx(&self, budget: &Arc<OutputBudget>) -> Result<WasiCtx> {
        let grants = &self.grants;
        let mut builder = WasiCtxBuilder::new();
        builder.args(grants.arguments());
        for env in &grants.env {
            match env {
                EnvGrant::Value(name, value) => {
                    builder.env(name, value);
                }
                EnvGrant::FromHost(name) => {
                    if let Some(value) = std::env::var_os(name) {
                        builder.env(name, value.to_string_lossy());
                    }
                }
            }
        }
        fs::apply(&mut builder, &self.plugin, &grants.dirs)?;
        let (stdout, stderr) = grants.outputs();
        stdio::apply(&mut builder, budget, grants.inherit_stdin, stdout, stderr);
        net::apply(&mut builder, &self.plugin, &self.net, grants.name_lookup);
        if let Some(seed) = grants.deterministic {
            determinism::apply(&mut builder, seed);
        }
        Ok(builder.build())
    }
}

/// The TOML form of [`Grants`].
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct GrantsToml {
    #[serde(default)]
    dir: Vec<String>,
    #[serde(default)]
    dir_rw: Vec<String>,
    #[serde(default)]
    env: Vec<String>,
    args: Option<Vec<String>>,
    #[serde(default)]
    allow_net: Vec<String>,
    #[serde(default)]
    allow_listen: Vec<String>,
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

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum Deterministic {
    On(bool),
    Seed(u64),
}

impl GrantsToml {
    /// The grants this table describes; relative directories are taken relative to `base`, the
    /// directory of the file that holds the table, when there is one.
    pub(crate) fn into_grants(self, base: Option<&Path>) -> std::result::Result<Grants, String> {
        let mut grants = Grants {
            args: self.args.as_ref().map(|_| Vec::new()),
            inherit_stdin: self.stdin,
            name_lookup: self.allow_name_lookup,
            stdout: self.stdout,
            stderr: self.stderr,
            output_cap: self.output_cap,
            ..Grants::default()
        };
        let lists = [
            ("dir", &self.dir),
            ("dir-rw", &self.dir_rw),
            ("env", &self.env),
            ("allow-net", &self.allow_net),
            ("allow-listen", &self.allow_listen),
            ("allow-http", &self.allow_http),
            ("interfaces", &self.interfaces),
        ];
        let args = self.args.iter().flatten();
        let entries = lists
            .into_iter()
            .flat_map(|(word, values)| values.iter().map(move |v| (word, v)))
            .chain(args.map(|v| ("args", v)));
        for (word, value) in entries {
            grants
                .add_entry(word, value, base)
                .map_err(|e| format!("{word}: {e}"))?;
        }
        grants.deterministic = match self.deterministic {
            None | Some(Deterministic::On(false)) => None,
            Some(Deterministic::On(true)) => Some(DEFAULT_SEED),
            Some(Deterministic::Seed(seed)) => Some(seed),
        };
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
        let err = Grants::from_toml("dir = [\"/a\"]\nallow-nett = [\"x:1\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("allow-nett"),
            "{err}"
        );
        let err = Grants::from_toml("stdout = \"printer\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1") && err.contains("printer"), "{err}");
        let err = Grants::from_toml("allow-net = [\"nowhere\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("allow-net") && err.contains("HOST:PORT"),
            "{err}"
        );
    }

    #[test]
    fn one_vocabulary_for_files_and_single_entries() {
        let from_file = Grants::from_toml(
            r#"
            dir = ["/srv::/data"]
            dir-rw = ["/tmp/out"]
            env = ["HOME", "MODE=fast"]
            allow-net = ["10.0.0.0/8:5432"]
            allow-listen = ["127.0.0.1:9000"]
            allow-http = ["*.example.org"]
            interfaces = ["acme:app/kv@1.0.0"]
            args = ["-v"]
            "#,
        )
        .expect("valid");
        let mut added = Grants::none();
        for (word, value) in [
            ("dir", "/srv::/data"),
            ("dir-rw", "/tmp/out"),
            ("env", "HOME"),
            ("env", "MODE=fast"),
            ("allow-net", "10.0.0.0/8:5432"),
            ("allow-listen", "127.0.0.1:9000"),
            ("allow-http", "*.example.org"),
            ("interfaces", "acme:app/kv@1.0.0"),
            ("args", "-v"),
        ] {
            added = added.add(word, value).expect(word);
        }
        assert_eq!(added, from_file);
    }

    #[test]
    fn a_bad_entry_is_a_syntax_error_naming_it() {
        let unknown = Grants::none().add("allow-nett", "x:1").unwrap_err();
        assert!(matches!(unknown, Error::Syntax { .. }), "{unknown}");
        assert!(unknown.to_string().contains("allow-net,"), "{unknown}");
        let bad = Grants::none().add("allow-net", "nowhere").unwrap_err();
        assert!(
            matches!(&bad, Error::Syntax { text, .. } if text == "nowhere"),
            "{bad}"
        );
        let interface = Grants::none().add("interfaces", "kv").unwrap_err();
        assert!(
            interface
                .to_string()
                .contains("namespace:package/interface"),
            "{interface}"
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

    #[test]
    fn a_setting_written_as_its_default_still_wins_a_merge() {
        // The CLI's own defaults (stdout and stderr inherited) must not hide `stderr = "log"`.
        let cli_defaults = Grants::none()
            .stdout(Output::Inherit)
            .stderr(Output::Inherit);
        let file = Grants::from_toml("stderr = \"log\"\n").expect("valid");
        let merged = cli_defaults.merge(file);
        assert_eq!(merged.outputs(), (Output::Inherit, Output::Log));
    }

    fn net(p: &str) -> NetPattern {
        NetPattern::parse(p).expect("pattern")
    }

    #[test]
    fn the_policy_wins_on_every_field() {
        let request = Grants::none()
            .stdout(Output::Inherit)
            .stderr(Output::Discard)
            .output_cap(10 << 20)
            .args(["--admin"])
            .env_from_host("API_TOKEN")
            .allow_net(net("10.0.0.1.attacker.example:5432"))
            .allow_net(net("10.0.0.7:5432"))
            .allow_listen(net("0.0.0.0:8080"));
        let allowed = Grants::none()
            .env("API_TOKEN", "public-demo-token")
            .allow_net(net("10.*:5432"))
            .output_cap(4096);
        let (granted, excess) = request.restrict_to(&allowed);
        assert_eq!(granted.outputs(), (Output::Log, Output::Discard));
        assert_eq!(granted.output_cap_bytes(), 4096);
        assert!(granted.arguments().is_empty());
        assert_eq!(
            granted.env_grants(),
            &[EnvGrant::Value(
                "API_TOKEN".into(),
                "public-demo-token".into()
            )]
        );
        assert_eq!(granted.net(), &[net("10.0.0.7:5432")]);
        assert!(granted.listen().is_empty());
        for word in [
            "stdout inherit",
            "output-cap 10485760",
            "args --admin",
            "allow-net 10.0.0.1.attacker.example:5432",
            "allow-listen 0.0.0.0:8080",
        ] {
            assert!(excess.iter().any(|e| e == word), "{word} in {excess:?}");
        }
        assert!(!excess.iter().any(|e| e.contains("stderr")), "{excess:?}");
        assert!(
            !excess.iter().any(|e| e.contains("API_TOKEN")),
            "{excess:?}"
        );
    }

    #[test]
    fn stated_settings_of_the_policy_are_what_the_plugin_gets() {
        let allowed = Grants::none()
            .stdout(Output::Inherit)
            .args(["--quiet"])
            .deterministic(9);
        let (granted, excess) = Grants::none().deterministic(1).restrict_to(&allowed);
        assert!(excess.is_empty(), "{excess:?}");
        assert_eq!(granted.outputs().0, Output::Inherit);
        assert_eq!(granted.arguments(), ["--quiet"]);
        assert_eq!(granted.deterministic_seed(), Some(9));
        let (granted, _) = Grants::none().deterministic(1).restrict_to(&Grants::none());
        assert_eq!(
            granted.deterministic_seed(),
            Some(1),
            "a restriction may be asked for"
        );
    }

    #[test]
    fn relative_directories_in_a_grants_file_are_beside_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("grants.toml");
        std::fs::write(&path, "dir = [\"data::/data\"]\n").expect("write");
        let grants = Grants::from_toml_file(&path).expect("valid");
        assert_eq!(grants.dirs()[0].host, dir.path().join("data"));
    }
}
