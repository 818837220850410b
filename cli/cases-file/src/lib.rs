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
//! stubs = { "kv#get" = 'none' }      # this case's own stubs, over the file's
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
    /// The case's own canned results of imported functions, which replace the file's `[stubs]`
    /// for the functions they name (whichever spelling each key uses: the runner resolves
    /// them).
    pub stubs: BTreeMap<String, String>,
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
    stubs: BTreeMap<String, Spanned<String>>,
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
    stubs: Option<BTreeMap<String, Spanned<String>>>,
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

    /// Parses cases file text; relative directories in grants are taken from `base`. Every
    /// call, expected result and stub must be WAVE that parses (whether its types fit the
    /// plugin is for the run to tell).
    pub fn parse(text: &str, base: &Path) -> Result<Self, String> {
        let file: FileToml =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
        if file.case.is_empty() {
            return Err("no [[case]]: a cases file tests at least one call".to_owned());
        }
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let read_stubs = |table: BTreeMap<String, Spanned<String>>| {
            let mut stubs = BTreeMap::new();
            for (key, value) in table {
                let line = line_of(value.span().start);
                let value = value.into_inner();
                check_value(&value)
                    .map_err(|e| format!("line {line}: the stub `{key}` is not valid WAVE: {e}"))?;
                stubs.insert(key, value);
            }
            Ok::<_, String>(stubs)
        };
        let stubs = read_stubs(file.stubs)?;
        let defaults = file.defaults;
        let mut cases = Vec::new();
        for spanned in file.case {
            let line = line_of(spanned.span().start);
            let raw = spanned.into_inner();
            let at = |reason: String| format!("line {line}: {reason}");
            check_call(&raw.call).map_err(|e| at(format!("`call` is not a WAVE call: {e}")))?;
            if let Some(expected) = &raw.expect {
                check_value(expected)
                    .map_err(|e| at(format!("`expect` is not valid WAVE: {e}")))?;
            }
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
            let case_stubs = read_stubs(raw.stubs.unwrap_or_default())?;
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
                stubs: case_stubs,
            });
        }
        Ok(Self { stubs, cases })
    }
}

/// Reads the `[stubs]` table of the TOML file at `path`: a cases file, or a file holding only
/// `[stubs]`. Each value must be WAVE that parses.
pub fn read_stubs(path: &Path) -> Result<BTreeMap<String, String>, CasesError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct StubsToml {
        #[serde(default)]
        stubs: BTreeMap<String, Spanned<String>>,
        // A cases file's other tables, read by `CasesFile::read` and not here.
        #[serde(default)]
        #[allow(dead_code)]
        defaults: Option<toml::Value>,
        #[serde(default)]
        #[allow(dead_code)]
        case: Option<toml::Value>,
    }
    let fail = |reason: String| CasesError {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let file: StubsToml =
        toml::from_str(&text).map_err(|e| fail(e.to_string().trim_end().to_owned()))?;
    if file.stubs.is_empty() {
        return Err(fail(
            "no stubs: the file's [stubs] table is missing or empty".to_owned(),
        ));
    }
    let mut stubs = BTreeMap::new();
    for (key, value) in file.stubs {
        let line = text[..value.span().start.min(text.len())]
            .matches('\n')
            .count()
            + 1;
        let value = value.into_inner();
        check_value(&value).map_err(|e| {
            fail(format!(
                "line {line}: the stub `{key}` is not valid WAVE: {e}"
            ))
        })?;
        stubs.insert(key, value);
    }
    Ok(stubs)
}

/// Checks that `call` is `name(arg, ...)` with arguments in WAVE's syntax. The name is split off
/// first, as `componentry` does, since WAVE's names have no `interface#function`.
fn check_call(call: &str) -> Result<(), String> {
    let Some((name, arguments)) = call.split_once('(') else {
        return Err("write `name(arg, ...)`".to_owned());
    };
    if name.trim().is_empty() {
        return Err("the function's name is missing".to_owned());
    }
    wasm_wave::untyped::UntypedFuncCall::parse(&format!("f({arguments}"))
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Checks that `value` is one value in WAVE's syntax.
fn check_value(value: &str) -> Result<(), String> {
    wasm_wave::untyped::UntypedValue::parse(value)
        .map(drop)
        .map_err(|e| e.to_string())
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
        assert!(
            file.cases[0].stubs.is_empty(),
            "a case has no stubs of its own"
        );
        let [first, second] = &file.cases[..] else {
            panic!("two cases")
        };
        assert_eq!(first.name, "greet(\"Ada\")");
        assert_eq!(first.line, 10);
        assert_eq!(first.limits.get_fuel(), Some(1000));
        assert_eq!(first.grants.dirs()[0].host, PathBuf::from("/cases/data"));
        assert_eq!(second.settings["greeting"].as_str(), Some("HEY"));
        assert_eq!(second.settings["tone"].as_str(), Some("warm"));
        assert_eq!(
            second.limits.get_fuel(),
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

    #[test]
    fn a_case_brings_its_own_stubs_over_the_files() {
        let file = parse(
            r#"
[stubs]
"kv#get" = 'some("file")'
"kv#set" = 'true'

[[case]]
call = 'f()'
stubs = { "kv#get" = 'none' }
"#,
        )
        .expect("valid");
        assert_eq!(file.cases[0].stubs["kv#get"], "none");
        assert_eq!(
            file.cases[0].stubs.len(),
            1,
            "the file's stubs stay the file's"
        );
        assert_eq!(file.stubs["kv#get"], "some(\"file\")");
        let err = parse("[[case]]\ncall = 'f()'\nstubs = { \"kv#get\" = 'some(' }\n").unwrap_err();
        assert!(err.contains("line 3") && err.contains("kv#get"), "{err}");
    }

    #[test]
    fn stubs_are_read_from_a_cases_file_or_a_stubs_file() {
        let dir = std::env::temp_dir().join(format!("cases-stubs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let only = dir.join("stubs.toml");
        std::fs::write(&only, "[stubs]\n\"kv#get\" = 'some(\"x\")'\n").expect("write");
        assert_eq!(read_stubs(&only).expect("stubs")["kv#get"], "some(\"x\")");
        let cases = dir.join("cases.toml");
        std::fs::write(
            &cases,
            "[defaults]\nlimits = { fuel = 1 }\n[stubs]\n\"kv#get\" = 'none'\n[[case]]\ncall = 'f()'\n",
        )
        .expect("write");
        assert_eq!(read_stubs(&cases).expect("stubs")["kv#get"], "none");
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[stub]\n").expect("write");
        assert!(read_stubs(&bad).unwrap_err().reason.contains("stub"));
        std::fs::write(&bad, "[stubs]\n\n\"kv#get\" = '\"open'\n").expect("write");
        let err = read_stubs(&bad).unwrap_err().reason;
        assert!(
            err.contains("line 3") && err.contains("not valid WAVE"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn wave_that_does_not_parse_names_its_line() {
        let err = parse("[[case]]\ncall = 'greet(\"Ada)'\n").unwrap_err();
        assert!(
            err.contains("line 1") && err.contains("`call` is not a WAVE call"),
            "{err}"
        );
        let err = parse("[[case]]\ncall = 'greet'\n").unwrap_err();
        assert!(err.contains("name(arg, ...)"), "{err}");
        let err = parse("\n[[case]]\ncall = 'f()'\nexpect = '\"unclosed'\n").unwrap_err();
        assert!(
            err.contains("line 2") && err.contains("`expect` is not valid WAVE"),
            "{err}"
        );
        let err = parse("[stubs]\n\"acme:app/kv#get\" = 'some('\n\n[[case]]\ncall = 'f()'\n")
            .unwrap_err();
        assert!(
            err.contains("line 2") && err.contains("the stub `acme:app/kv#get`"),
            "{err}"
        );
        // Syntax only: whether `1` fits the plugin's types is for the run.
        assert!(parse("[[case]]\ncall = 'f(1, \"two\", [3])'\nexpect = 'ok(1)'\n").is_ok());
    }
}
