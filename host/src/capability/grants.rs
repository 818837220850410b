//! The aggregate of a plugin's grants: builder methods, getters, and reading the vocabulary from
//! words and TOML. What each kind does lives in the kind's own file; `registry.rs` lists them.

use std::path::Path;
use std::sync::LazyLock;

use serde::de::{DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::env::EnvGrant;
use super::fs::DirGrant;
use super::http::HttpPattern;
use super::kind::{Takes, Word};
use super::net::NetPattern;
use super::registry::{Grants, words};
use super::stdio::Output;
use crate::error::{Error, Result};

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
        self.args.0 = Some(args.into_iter().map(Into::into).collect());
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
        self.env.0.push(grant);
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
        self.dirs.0.push(DirGrant {
            host: host.as_ref().to_owned(),
            guest: guest.into(),
            writable,
        });
        self
    }

    /// Lets the plugin read the host's stdin. Defaults to `false` (stdin is closed).
    pub fn inherit_stdin(mut self, inherit: bool) -> Self {
        self.stdio.stdin = inherit;
        self
    }

    /// Where the plugin's stdout goes. Defaults to [`Output::Log`].
    pub fn stdout(mut self, output: Output) -> Self {
        self.stdio.stdout = Some(output);
        self
    }

    /// Where the plugin's stderr goes. Defaults to [`Output::Log`].
    pub fn stderr(mut self, output: Output) -> Self {
        self.stdio.stderr = Some(output);
        self
    }

    /// How many bytes of each of stdout, stderr and the `componentry:plugin/log` interface one
    /// call may make the host print or log; the rest is dropped, with one warning. Defaults to
    /// 1 MiB.
    pub fn output_cap(mut self, bytes: usize) -> Self {
        self.stdio.output_cap = Some(bytes);
        self
    }

    /// Lets the plugin open TCP connections to, and exchange UDP datagrams with, addresses
    /// matching `pattern`; see [`NetPattern`]. It does not let the plugin listen: see
    /// [`allow_listen`](Self::allow_listen).
    pub fn allow_net(mut self, pattern: NetPattern) -> Self {
        self.net.connect.push(pattern);
        self
    }

    /// Lets the plugin bind local addresses matching `pattern` and listen (TCP) or receive (UDP)
    /// on them, from any peer. Defaults to none.
    pub fn allow_listen(mut self, pattern: NetPattern) -> Self {
        self.net.listen.push(pattern);
        self
    }

    /// Lets the plugin resolve names (`wasi:sockets/ip-name-lookup`). Defaults to `false`.
    pub fn allow_name_lookup(mut self, allow: bool) -> Self {
        self.net.name_lookup = allow;
        self
    }

    /// Lets the plugin send HTTP requests (`wasi:http/outgoing-handler`) to destinations matching
    /// `pattern`; see [`HttpPattern`]. Defaults to none: every request is refused with
    /// `HTTP-request-denied`.
    pub fn allow_http(mut self, pattern: HttpPattern) -> Self {
        self.http.0.push(pattern);
        self
    }

    /// Replaces the clocks by virtual ones (starting at 2000-01-01, advancing 1 ms per reading)
    /// and randomness by a generator seeded with `seed`, so runs are reproducible. Defaults to
    /// the host's real clocks and randomness.
    pub fn deterministic(mut self, seed: u64) -> Self {
        self.determinism.0 = Some(seed);
        self
    }

    /// Grants the application's host interface `name` (`pkg:name/iface`, with or without
    /// `@version`), as registered with [`HostBuilder::interface`](crate::HostBuilder::interface).
    pub fn interface(mut self, name: impl Into<String>) -> Self {
        self.interfaces.0.push(name.into());
        self
    }

    /// The granted arguments.
    pub fn arguments(&self) -> &[String] {
        self.args.get()
    }

    /// The granted environment variables.
    pub fn env_grants(&self) -> &[EnvGrant] {
        &self.env.0
    }

    /// The names of the environment variables granted, from the host or with values.
    pub fn env_names(&self) -> Vec<&str> {
        self.env.0.iter().map(EnvGrant::name).collect()
    }

    /// The granted directories.
    pub fn dirs(&self) -> &[DirGrant] {
        &self.dirs.0
    }

    /// The addresses the plugin may connect to.
    pub fn net(&self) -> &[NetPattern] {
        &self.net.connect
    }

    /// The local addresses the plugin may listen on.
    pub fn listen(&self) -> &[NetPattern] {
        &self.net.listen
    }

    /// Whether name lookup is granted.
    pub fn name_lookup(&self) -> bool {
        self.net.name_lookup
    }

    /// The allowed HTTP destinations.
    pub fn http(&self) -> &[HttpPattern] {
        &self.http.0
    }

    /// Whether stdin is inherited.
    pub fn stdin_inherited(&self) -> bool {
        self.stdio.stdin
    }

    /// Where stdout and stderr go.
    pub fn outputs(&self) -> (Output, Output) {
        self.stdio.outputs()
    }

    /// The output cap in bytes per channel and call.
    pub fn output_cap_bytes(&self) -> usize {
        self.stdio.output_cap_bytes()
    }

    /// The deterministic seed, when deterministic mode is on.
    pub fn deterministic_seed(&self) -> Option<u64> {
        self.determinism.0
    }

    /// Whether the application host interface `name` (as the component imports it,
    /// `pkg:name/iface@version`) is granted.
    pub fn grants_interface(&self, name: &str) -> bool {
        self.interfaces.grants(name)
    }

    /// The granted interface names.
    pub fn interfaces(&self) -> &[String] {
        &self.interfaces.0
    }

    /// Adds everything `other` grants to these grants; the settings `other` states (stdout,
    /// stderr, output cap, arguments, deterministic mode) replace these ones.
    pub fn merge(mut self, other: Grants) -> Self {
        self.merge_each(other);
        self
    }

    /// Each capability granted and each setting stated, in the grant vocabulary (`dir
    /// /srv::/data`, `env HOME`, `allow-net 127.0.0.1:80`, `stdout inherit`), for listings.
    pub fn describe(&self) -> Vec<String> {
        self.describe_each()
    }

    /// The part of these grants (a plugin's request) that `allowed` (a policy) permits, and a
    /// description of each request beyond it. The policy wins on every field: each kind of grant
    /// says how an allowance covers a request, and a setting the policy states is the one the
    /// plugin gets.
    pub(crate) fn restrict_to(&self, allowed: &Grants) -> (Grants, Vec<String>) {
        self.restrict_each(allowed)
    }

    /// Adds one grant written in the vocabulary that grants files, manifests, policies and the
    /// CLI's flags share ([`words`]): `word` is a word (`dir`, `env`, `allow-net`, `stdin`,
    /// `stdout`, ...) and `value` one entry of a list, `true` or `false` for a switch, or a
    /// setting's value.
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
        let takes = words().find(|w| w.name == word).map(|w| w.takes);
        let value = match takes {
            Some(Takes::List) | None => toml::Value::String(value.to_owned()),
            Some(Takes::Switch | Takes::Setting) => literal(value),
        };
        if !self.add_word(word, &value)? {
            return Err(Error::syntax(
                "grant",
                word,
                format!(
                    "`{word}` is not a grant; the grants are {}",
                    words().map(|w| w.name).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        Ok(self)
    }

    /// Reads grants from TOML (see the module's documentation for the keys). Errors give the
    /// line, the column and the key.
    pub fn parse(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::syntax("grants table", text, e.to_string()))
    }

    /// Reads grants from a TOML file; relative directories in it are taken relative to the
    /// file's own directory.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = crate::toml_file::read(path)?;
        let grants: Grants = crate::toml_file::parse(&text, path)?;
        Ok(match path.parent() {
            Some(base) => grants.relative_to(base),
            None => grants,
        })
    }

    /// The same grants with relative host directories taken relative to `base` (the directory
    /// of the file they were read from).
    pub fn relative_to(self, base: &Path) -> Self {
        self.relative_each(base)
    }
}

/// A switch's or a setting's value written as text: a boolean or a number when it reads as one.
fn literal(text: &str) -> toml::Value {
    match text {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => text.parse::<i64>().map_or_else(
            |_| toml::Value::String(text.to_owned()),
            toml::Value::Integer,
        ),
    }
}

/// Grants are read from a TOML table whose keys are the vocabulary's words: each key and each
/// value is checked as it is read, so that an error points at its line.
impl<'de> Deserialize<'de> for Grants {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_map(GrantsVisitor)
    }
}

struct GrantsVisitor;

impl<'de> Visitor<'de> for GrantsVisitor {
    type Value = Grants;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a table of grants")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Grants, A::Error> {
        let mut grants = Grants::none();
        while let Some(word) = map.next_key_seed(WordSeed)? {
            map.next_value_seed(ValueSeed {
                grants: &mut grants,
                word,
            })?;
        }
        Ok(grants)
    }
}

/// A key of a grants table: a word of the vocabulary.
struct WordSeed;

impl<'de> DeserializeSeed<'de> for WordSeed {
    type Value = &'static Word;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        static NAMES: LazyLock<Vec<&'static str>> =
            LazyLock::new(|| words().map(|w| w.name).collect());
        let key = String::deserialize(deserializer)?;
        words()
            .find(|w| w.name == key)
            .ok_or_else(|| serde::de::Error::unknown_field(&key, &NAMES))
    }
}

/// A value of a grants table, added to the grants as it is read.
struct ValueSeed<'g> {
    grants: &'g mut Grants,
    word: &'static Word,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<(), D::Error> {
        let value = toml::Value::deserialize(deserializer)?;
        let name = self.word.name;
        if self.word.takes == Takes::List && !value.is_array() {
            return Err(serde::de::Error::custom(format!(
                "{name}: a list is expected: {}",
                self.word.toml_hint()
            )));
        }
        self.grants
            .add_word(name, &value)
            .map(drop)
            .map_err(|e| serde::de::Error::custom(format!("{name}: {e}")))
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
        let g = Grants::parse(
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
        let err = Grants::parse("dir = [\"/a\"]\nallow-nett = [\"x:1\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("allow-nett"),
            "{err}"
        );
        let err = Grants::parse("stdout = \"printer\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1") && err.contains("printer"), "{err}");
        let err = Grants::parse("allow-net = [\"nowhere\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("allow-net") && err.contains("HOST:PORT"),
            "{err}"
        );
    }

    #[test]
    fn one_vocabulary_for_files_and_single_entries() {
        let from_file = Grants::parse(
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
        let file = Grants::parse("stderr = \"log\"\n").expect("valid");
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
        let grants = Grants::from_file(&path).expect("valid");
        assert_eq!(grants.dirs()[0].host, dir.path().join("data"));
    }
}
