//! The cases file of `componentry test PLUGIN.wasm CASES.toml`, a plugin author's test harness. It lists
//! calls and what each must give, with grants, limits and settings per case, and canned results
//! for the application's own imports, so a plugin can be tested without its application.
//!
//! ```toml
//! [defaults]                         # for every case; each key optional
//! grants = { env = ["LANG=C"] }      # the vocabulary of grants
//! limits = { fuel = 10000000, timeout-ms = 1000 }
//! settings = { greeting = "Hi" }
//!
//! [stubs]                            # the application's imports: "interface#function" = WAVE
//! "acme:app/kv#get" = 'some("stored")'
//!
//! [[case]]
//! name = "greets"                    # default: the call
//! call = 'greet("Ada")'
//! expect = '"Hello, Ada!"'           # the result, as WAVE (omit for a function without one)
//! log-contains = "Ada"               # text the plugin logged (log interface, stdout, stderr)
//!
//! [[case]]
//! call = 'greet("")'
//! expect-error = "trap"              # an error kind instead of a result
//! error-contains = "a name is required"   # in the error or what the plugin wrote to stderr
//! ```

//!
//! This crate reads and checks the file; the `componentry` command runs it. It is a crate of its
//! own so that the fuzzers (`fuzz/`) feed the same parser the command uses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use componentry::{Error, Grants, Limits};
use serde::Deserialize;
use toml::Spanned;

/// A cases file, read and checked.
#[derive(Debug)]
pub struct CasesFile {
    /// Canned results of imported functions: `interface#function` to WAVE.
    pub stubs: BTreeMap<String, String>,
    /// The cases, in order.
    pub cases: Vec<Case>,
}

/// One case.
#[derive(Debug, Clone)]
pub struct Case {
    /// What the case is called in the report.
    pub name: String,
    /// The line of the file where it starts.
    pub line: usize,
    /// The call, as WAVE: `name(arg, ...)`.
    pub call: String,
    /// What the call must give.
    pub expect: Expectation,
    /// Text the plugin's log must hold.
    pub log_contains: Option<String>,
    /// The plugin's grants for this case.
    pub grants: Grants,
    /// Its limits.
    pub limits: Limits,
    /// Its settings.
    pub settings: toml::Table,
}

/// What a case's call must give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// Success with this result (WAVE), or any result when `None`.
    Result(Option<String>),
    /// An error of this kind, whose text (or the plugin's stderr) holds `contains`.
    Error {
        /// The error's kind (`componentry::Error::kind`).
        kind: String,
        /// Text the error must hold.
        contains: Option<String>,
    },
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileToml {
    #[serde(default)]
    defaults: Settings,
    #[serde(default)]
    stubs: BTreeMap<String, String>,
    #[serde(default)]
    case: Vec<Spanned<CaseToml>>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct Settings {
    grants: Option<Grants>,
    limits: Option<Limits>,
    settings: Option<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CaseToml {
    name: Option<String>,
    call: String,
    expect: Option<String>,
    expect_error: Option<String>,
    error_contains: Option<String>,
    log_contains: Option<String>,
    grants: Option<Grants>,
    limits: Option<Limits>,
    settings: Option<toml::Table>,
}

/// A cases file that cannot be used: its path, and what is wrong (with the line).
#[derive(Debug)]
pub struct CasesError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong, with the line where known.
    pub reason: String,
}

impl std::fmt::Display for CasesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

impl CasesFile {
    /// Reads the cases file at `path`.
    pub fn read(path: &Path) -> Result<Self, CasesError> {
        let fail = |reason: String| CasesError {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let base = std::path::absolute(path.parent().unwrap_or(Path::new("."))).unwrap_or_default();
        Self::parse(&text, &base).map_err(fail)
    }

    /// Parses cases file text; relative directories in grants are taken from `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, String> {
        let file: FileToml =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
        if file.case.is_empty() {
            return Err("no [[case]]: a cases file tests at least one call".to_owned());
        }
        let defaults = file.defaults;
        let mut cases = Vec::new();
        for spanned in file.case {
            let line = text[..spanned.span().start.min(text.len())]
                .matches('\n')
                .count()
                + 1;
            let raw = spanned.into_inner();
            let at = |reason: String| format!("line {line}: {reason}");
            let expect = match (raw.expect, raw.expect_error, raw.error_contains) {
                (Some(_), Some(_), _) => {
                    return Err(at(
                        "a case has `expect` or `expect-error`, not both".to_owned()
                    ));
                }
                (_, None, Some(_)) => {
                    return Err(at("`error-contains` goes with `expect-error`".to_owned()));
                }
                (_, Some(kind), contains) => {
                    if !Error::KINDS.contains(&kind.as_str()) {
                        return Err(at(format!(
                            "`{kind}` is not an error kind; one of: {}",
                            Error::KINDS.join(", ")
                        )));
                    }
                    Expectation::Error { kind, contains }
                }
                (result, None, None) => Expectation::Result(result),
            };
            let grants = raw
                .grants
                .or_else(|| defaults.grants.clone())
                .unwrap_or_default()
                .relative_to(base);
            let mut settings = defaults.settings.clone().unwrap_or_default();
            settings.extend(raw.settings.unwrap_or_default());
            cases.push(Case {
                name: raw.name.unwrap_or_else(|| raw.call.clone()),
                line,
                call: raw.call,
                expect,
                log_contains: raw.log_contains,
                grants,
                limits: raw
                    .limits
                    .or_else(|| defaults.limits.clone())
                    .unwrap_or_default(),
                settings,
            });
        }
        Ok(Self {
            stubs: file.stubs,
            cases,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CasesFile, String> {
        CasesFile::parse(text, Path::new("/cases"))
    }

    #[test]
    fn cases_take_the_defaults_and_their_own_settings() {
        let file = parse(
            r#"
[defaults]
grants = { env = ["LANG=C"], dir = ["data::/data"] }
limits = { fuel = 1000 }
settings = { greeting = "Hi", tone = "warm" }

[stubs]
"acme:app/kv#get" = 'some("x")'

[[case]]
call = 'greet("Ada")'
expect = '"Hi, Ada!"'

[[case]]
name = "louder"
call = 'greet("Bo")'
settings = { greeting = "HEY" }
limits = { timeout-ms = 50 }
expect-error = "deadline"
"#,
        )
        .expect("valid");
        assert_eq!(file.stubs["acme:app/kv#get"], "some(\"x\")");
        let [first, second] = &file.cases[..] else {
            panic!("two cases")
        };
        assert_eq!(first.name, "greet(\"Ada\")");
        assert_eq!(first.line, 10);
        assert_eq!(first.limits.fuel_budget(), Some(1000));
        assert_eq!(first.grants.dirs()[0].host, PathBuf::from("/cases/data"));
        assert_eq!(second.settings["greeting"].as_str(), Some("HEY"));
        assert_eq!(second.settings["tone"].as_str(), Some("warm"));
        assert_eq!(
            second.limits.fuel_budget(),
            None,
            "a case's limits replace the defaults"
        );
        assert_eq!(
            second.expect,
            Expectation::Error {
                kind: "deadline".into(),
                contains: None
            }
        );
    }

    #[test]
    fn mistakes_name_the_line() {
        let err =
            parse("[[case]]\ncall = 'f()'\nexpect = '1'\nexpect-error = \"trap\"\n").unwrap_err();
        assert!(err.contains("line 1") && err.contains("not both"), "{err}");
        let err =
            parse("[[case]]\ncall = 'f()'\n\n[[case]]\ncall = 'g()'\nexpect-error = \"oops\"\n")
                .unwrap_err();
        assert!(
            err.contains("line 4") && err.contains("not an error kind"),
            "{err}"
        );
        let err = parse("[[case]]\ncal = 'f()'\n").unwrap_err();
        assert!(err.contains("line 2") && err.contains("cal"), "{err}");
        let err = parse("[[case]]\ncall = 'f()'\nlimits = { fuell = 3 }\n").unwrap_err();
        assert!(err.contains("line 3") && err.contains("fuell"), "{err}");
        let err =
            parse("[[case]]\ncall = 'f()'\ngrants = { allow-net = [\"::1\"] }\n").unwrap_err();
        assert!(err.contains("line 3") && err.contains("brackets"), "{err}");
        assert!(parse("").unwrap_err().contains("no [[case]]"));
    }
}
