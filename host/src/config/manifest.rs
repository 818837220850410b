//! Plugin manifests: `plugin.toml` beside a component says what the plugin is, which extension
//! point (and versions of it) it targets, what capabilities it asks for, and its settings.
//!
//! ```toml
//! name = "shout"
//! version = "1.0.0"
//! description = "Upper-cases text"
//! extension-point = "acme:text/transformer@^1.1"
//!
//! [capabilities]          # requests, in the vocabulary of grants (see `Grants`)
//! dir = ["words::/words"]  # relative directories are beside the manifest
//! allow-http = ["api.example.com"]
//!
//! [settings]              # handed to the plugin
//! volume = "loud"
//!
//! [build]                 # for `componentry build`; hosts ignore it
//! world = "acme:text/transformer"
//! ```
//!
//! Unknown keys, wrong types and impossible values are errors naming the file, the line and the
//! key.

use std::path::{Path, PathBuf};

use semver::{Version, VersionReq};
use serde::Deserialize;
use toml::Spanned;

use crate::capability::Grants;
use crate::error::{Error, Result};

/// A parsed `plugin.toml`.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The plugin's name: lowercase letters, digits and `-`.
    pub name: String,
    /// The plugin's own version.
    pub version: Version,
    /// What it does, for people. Plugin-controlled text: escape it
    /// ([`escape_untrusted`](crate::escape_untrusted)) before showing it on a terminal.
    pub description: Option<String>,
    /// The extension point it targets, if it names one.
    pub extension_point: Option<ExtensionPointRef>,
    /// The capabilities it asks for: a request only; the host's policy decides what it gets.
    pub capabilities: Grants,
    /// Settings handed to the plugin, as written.
    pub settings: toml::Table,
    /// How `componentry build` builds the plugin; hosts ignore it.
    pub build: BuildSettings,
}

/// The `[build]` table of a manifest: what `componentry build` needs to know beyond the sources.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct BuildSettings {
    /// The WIT world the plugin implements (`pkg:name/world`), from the project's `wit/`
    /// directory. Defaults to the package's only world.
    pub world: Option<String>,
    /// A Python virtual environment of the project's (`.venv`, relative to the project) whose
    /// `componentize-py` builds the plugin. Without it, `componentry build` takes
    /// componentize-py from `PATH` only: a project cannot slip in a tool of its own unasked.
    pub venv: Option<std::path::PathBuf>,
}

/// An extension point and the versions a plugin accepts: `acme:text/transformer@^1.1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionPointRef {
    /// The package, without version: `acme:text`.
    pub package: String,
    /// The world: `transformer`.
    pub world: String,
    /// The accepted versions of the package.
    pub requirement: VersionReq,
}

impl ExtensionPointRef {
    /// Parses `pkg:name/world@REQ`.
    pub fn parse(text: &str) -> Result<Self> {
        Self::parse_reason(text)
            .map_err(|reason| Error::syntax("extension point requirement", text, reason))
    }

    fn parse_reason(text: &str) -> std::result::Result<Self, String> {
        let (path, requirement) = text
            .rsplit_once('@')
            .ok_or_else(|| format!("`{text}` is not PACKAGE/WORLD@VERSION-REQUIREMENT (like acme:text/transformer@^1.1)"))?;
        let (package, world) = path
            .split_once('/')
            .ok_or_else(|| format!("`{path}` is not PACKAGE/WORLD"))?;
        let valid_package = package
            .split_once(':')
            .is_some_and(|(ns, name)| !ns.is_empty() && !name.is_empty());
        if !valid_package || world.is_empty() {
            return Err(format!("`{path}` is not NAMESPACE:PACKAGE/WORLD"));
        }
        let requirement = VersionReq::parse(requirement)
            .map_err(|e| format!("`{requirement}` is not a semver requirement: {e}"))?;
        Ok(Self {
            package: package.to_owned(),
            world: world.to_owned(),
            requirement,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ManifestToml {
    name: Spanned<String>,
    version: Spanned<String>,
    description: Option<String>,
    extension_point: Option<Spanned<String>>,
    #[serde(default)]
    capabilities: Option<Grants>,
    #[serde(default)]
    settings: toml::Table,
    #[serde(default)]
    build: BuildSettings,
}

impl Manifest {
    /// Reads and checks the manifest at `path`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = crate::toml_file::read_regular(path)?;
        Self::parse(&text, path)
    }

    /// Parses manifest text; `path` names it in errors.
    pub fn parse(text: &str, path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let fail = |reason: String| Error::Config {
            path: path.clone(),
            reason,
        };
        let raw: ManifestToml = crate::toml_file::parse(text, &path)?;
        let at = |key: &str, span: std::ops::Range<usize>, message: String| {
            fail(format!(
                "line {}, key `{key}`: {message}",
                line_of(text, span.start)
            ))
        };

        let name = raw.name.get_ref();
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_name {
            return Err(at(
                "name",
                raw.name.span(),
                format!("`{name}` must be lowercase letters, digits and `-`"),
            ));
        }
        let version = Version::parse(raw.version.get_ref()).map_err(|e| {
            at(
                "version",
                raw.version.span(),
                format!("`{}` is not a semver version: {e}", raw.version.get_ref()),
            )
        })?;
        let extension_point = match &raw.extension_point {
            Some(spec) => Some(
                ExtensionPointRef::parse_reason(spec.get_ref())
                    .map_err(|e| at("extension-point", spec.span(), e))?,
            ),
            None => None,
        };
        // Relative directories are the plugin's own, beside its manifest.
        let base = std::path::absolute(path.parent().unwrap_or(Path::new("."))).unwrap_or_default();
        let capabilities = raw
            .capabilities
            .map_or_else(Grants::none, |grants| grants.relative_to(&base));
        Ok(Self {
            name: name.clone(),
            version,
            description: raw.description,
            extension_point,
            capabilities,
            settings: raw.settings,
            build: raw.build,
        })
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "shout"
version = "1.0.0"
description = "Upper-cases text"
extension-point = "acme:text/transformer@^1.1"

[capabilities]
dir = ["/srv/words::/words"]
allow-http = ["api.example.com"]

[settings]
volume = "loud"

[build]
world = "acme:text/transformer"
"#;

    fn error(text: &str) -> String {
        Manifest::parse(text, "plugins/shout/plugin.toml")
            .expect_err("must fail")
            .to_string()
    }

    #[test]
    fn a_good_manifest_parses() {
        let m = Manifest::parse(GOOD, "plugin.toml").expect("valid");
        assert_eq!(m.name, "shout");
        assert_eq!(m.version, Version::new(1, 0, 0));
        let ep = m.extension_point.expect("extension point");
        assert_eq!(
            (ep.package.as_str(), ep.world.as_str()),
            ("acme:text", "transformer")
        );
        assert!(ep.requirement.matches(&Version::new(1, 2, 0)));
        assert!(!ep.requirement.matches(&Version::new(1, 0, 0)));
        assert_eq!(m.capabilities.dirs().len(), 1);
        assert_eq!(m.settings["volume"].as_str(), Some("loud"));
        assert_eq!(m.build.world.as_deref(), Some("acme:text/transformer"));
    }

    #[test]
    fn unknown_keys_name_file_line_and_key() {
        let err = error("name = \"x\"\nversion = \"1.0.0\"\ncolour = \"red\"\n");
        assert!(
            err.contains("plugins/shout/plugin.toml")
                && err.contains("line 3")
                && err.contains("colour"),
            "{err}"
        );
    }

    #[test]
    fn wrong_types_name_line_and_key() {
        let err = error("name = \"x\"\nversion = 1\n");
        assert!(err.contains("line 2") && err.contains("version"), "{err}");
        let err =
            error("name = \"x\"\nversion = \"1.0.0\"\n[capabilities]\ndir = \"/not-a-list\"\n");
        assert!(err.contains("line 4") && err.contains("dir"), "{err}");
    }

    #[test]
    fn impossible_values_name_line_and_key() {
        let err = error("name = \"x\"\nversion = \"one\"\n");
        assert!(
            err.contains("line 2") && err.contains("`version`") && err.contains("semver"),
            "{err}"
        );
        let err = error("name = \"Shout Loud\"\nversion = \"1.0.0\"\n");
        assert!(err.contains("line 1") && err.contains("`name`"), "{err}");
        let err = error("name = \"x\"\nversion = \"1.0.0\"\nextension-point = \"acme:text@^1\"\n");
        assert!(
            err.contains("line 3") && err.contains("`extension-point`"),
            "{err}"
        );
        let err =
            error("name = \"x\"\nversion = \"1.0.0\"\nextension-point = \"acme:text/t@banana\"\n");
        assert!(err.contains("semver requirement"), "{err}");
        let err = error(
            "name = \"x\"\nversion = \"1.0.0\"\n\n[capabilities]\nallow-net = [\"nowhere\"]\n",
        );
        // The line of the grant itself (line 4 is the table's header).
        assert!(
            err.contains("line 5") && err.contains("allow-net") && err.contains("HOST:PORT"),
            "{err}"
        );
        assert!(error("version = \"1.0.0\"\n").contains("name"));
    }
}
