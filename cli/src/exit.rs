//! How an error ends the process: one line on stderr (more with `--verbose`) and the exit code
//! the CLI documents for its kind.

use std::process::ExitCode;

use componentry::Error;

/// Exit code: any error without a code of its own.
pub const OTHER: u8 = 1;
/// Exit code: the command line was wrong (clap uses it for its own errors too).
pub const USAGE: u8 = 2;
/// Exit code: the plugin could not be loaded (bad file, not a component, incompatible).
pub const LOAD: u8 = 3;
/// Exit code: the plugin needs a capability that was not granted.
pub const NOT_GRANTED: u8 = 4;
/// Exit code: the plugin trapped.
pub const TRAP: u8 = 5;
/// Exit code: the plugin ran out of fuel.
pub const FUEL: u8 = 6;
/// Exit code: the plugin ran past its deadline.
pub const DEADLINE: u8 = 7;
/// Exit code: the plugin hit a resource limit: its memory limit, its limit of open handles, or
/// its limit of component handles (streams, futures, async calls under way).
pub const MEMORY: u8 = 8;

/// Why the CLI stops with a failure.
pub enum Failure {
    /// A wrong command line that clap could not catch.
    Usage(String),
    /// An error from the library.
    Plugin(Error),
    /// Any other failure (exit 1), said in a sentence.
    Other(String),
    /// A failure already reported on stdout, ending with this code.
    Quiet(u8),
}

impl Failure {
    pub fn usage(message: &str) -> Self {
        Failure::Usage(message.to_owned())
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Failure::Usage(_) => USAGE,
            Failure::Plugin(error) => code_for(error),
            Failure::Other(_) => OTHER,
            Failure::Quiet(code) => *code,
        })
    }

    pub fn report(&self, verbose: bool) {
        match self {
            // Usage errors quote files (a cases file, a manifest), whose text may hold line
            // breaks of its own: every line after the first is marked as a continuation, so
            // none can pass for a line of the CLI's, and each is escaped.
            Failure::Usage(message) => {
                let mut lines = message.lines();
                let first = lines.next().unwrap_or_default();
                eprintln!(
                    "componentry: usage error: {}",
                    componentry::escape_untrusted(first)
                );
                for line in lines {
                    eprintln!("  | {}", componentry::escape_untrusted(line));
                }
            }
            Failure::Other(message) => eprintln!("componentry: error: {}", one_line(message)),
            Failure::Quiet(_) => {}
            Failure::Plugin(error) => {
                eprintln!("componentry: error: {}", one_line(&error.to_string()));
                if verbose {
                    report_details(error);
                }
            }
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Plugin(error)
    }
}

/// `text` on one line: line breaks (as in compiler diagnostics) become single spaces, and any
/// other control character (a terminal escape from a plugin's file, say) is shown escaped.
pub fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    componentry::escape_untrusted(&joined).into_owned()
}

/// The documented exit code for each kind of error.
fn code_for(error: &Error) -> u8 {
    match error {
        Error::Exit { status, .. } => u8::try_from(*status).unwrap_or(OTHER),
        e if e.is_capability_error() => NOT_GRANTED,
        Error::Trap { .. } | Error::TableLimit { .. } => TRAP,
        Error::FuelExhausted { .. } => FUEL,
        Error::DeadlineExceeded { .. } => DEADLINE,
        Error::MemoryLimit { .. }
        | Error::HandleLimit { .. }
        | Error::ComponentHandleLimit { .. } => MEMORY,
        Error::DuplicateName { .. } | Error::ContestedName { .. } | Error::NameReserved { .. } => {
            LOAD
        }
        Error::ExportNotFound { .. }
        | Error::BadArguments { .. }
        | Error::Config { .. }
        | Error::Syntax { .. }
        | Error::Grant { .. } => USAGE,
        e if e.is_load_error() => LOAD,
        _ => OTHER,
    }
}

fn report_details(error: &Error) {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        eprintln!("  caused by: {}", one_line(&cause.to_string()));
        source = cause.source();
    }
    if let Error::Trap {
        backtrace, stderr, ..
    } = error
    {
        if let Some(stderr) = stderr {
            eprintln!("the plugin's stderr before the trap:");
            for line in stderr.lines() {
                eprintln!("  {}", componentry::escape_untrusted(line));
            }
        }
        if let Some(backtrace) = backtrace {
            eprintln!("wasm backtrace:");
            for line in backtrace.lines() {
                eprintln!("{}", componentry::escape_untrusted(line));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin() -> String {
        "p".to_owned()
    }

    /// The errors the CLI's first tests pinned, with their codes.
    fn documented_cases() -> Vec<(Error, u8)> {
        let cases: Vec<(Error, u8)> = vec![
            (
                Error::NotGranted {
                    plugin: plugin(),
                    import: "acme:app/kv@1.0.0".into(),
                    remedy: String::new(),
                },
                NOT_GRANTED,
            ),
            (
                Error::MissingImport {
                    plugin: plugin(),
                    import: "x".into(),
                    hint: String::new(),
                    source: None,
                },
                NOT_GRANTED,
            ),
            (
                Error::PolicyDenied {
                    plugin: plugin(),
                    requests: vec!["env HOME".into()],
                    selection: "no policy rule selects it".into(),
                },
                NOT_GRANTED,
            ),
            (
                Error::IntegrityMismatch {
                    plugin: plugin(),
                    expected: "a".into(),
                    found: "b".into(),
                },
                LOAD,
            ),
            (
                Error::DuplicateName {
                    plugin: plugin(),
                    path: "b".into(),
                    first: "a".into(),
                },
                LOAD,
            ),
            (
                Error::Trap {
                    plugin: plugin(),
                    function: "f".into(),
                    code: None,
                    message: "m".into(),
                    backtrace: None,
                    stderr: None,
                    source: None,
                },
                TRAP,
            ),
            (
                Error::TableLimit {
                    plugin: plugin(),
                    function: "f".into(),
                    limit: 1,
                    requested: 2,
                },
                TRAP,
            ),
            (
                Error::FuelExhausted {
                    plugin: plugin(),
                    function: "f".into(),
                    consumed: 1,
                },
                FUEL,
            ),
            (
                Error::DeadlineExceeded {
                    plugin: plugin(),
                    function: "f".into(),
                    deadline: std::time::Duration::from_millis(1),
                },
                DEADLINE,
            ),
            (
                Error::MemoryLimit {
                    plugin: plugin(),
                    function: "f".into(),
                    limit: 1,
                    requested: 2,
                },
                MEMORY,
            ),
            (
                Error::HandleLimit {
                    plugin: plugin(),
                    function: "f".into(),
                    limit: 1,
                },
                MEMORY,
            ),
            (
                Error::ComponentHandleLimit {
                    plugin: plugin(),
                    function: "f".into(),
                    limit: 1,
                },
                MEMORY,
            ),
            (
                Error::Exit {
                    plugin: plugin(),
                    status: 3,
                },
                3,
            ),
            (Error::InstanceFailed { plugin: plugin() }, OTHER),
            (
                Error::BadResponse {
                    plugin: plugin(),
                    reason: "r".into(),
                },
                OTHER,
            ),
        ];
        cases
    }

    /// Every variant of `Error`, with the exit code the CLI documents for it.
    fn every_error() -> Vec<(Error, u8)> {
        let mut cases = documented_cases();
        let reason = || "r".to_owned();
        cases.extend([
            (
                Error::Read {
                    plugin: plugin(),
                    path: "p".into(),
                    source: std::io::Error::other("e"),
                },
                LOAD,
            ),
            (
                Error::NotWasm {
                    plugin: plugin(),
                    detail: reason(),
                },
                LOAD,
            ),
            (
                Error::CoreModule {
                    plugin: plugin(),
                    reason: "it imports env::f".to_owned(),
                },
                LOAD,
            ),
            (
                Error::Invalid {
                    plugin: plugin(),
                    reason: reason(),
                    source: None,
                },
                LOAD,
            ),
            (
                Error::Rejected {
                    plugin: plugin(),
                    reason: reason(),
                    source: None,
                },
                LOAD,
            ),
            (
                Error::Incompatible {
                    plugin: plugin(),
                    reason: reason(),
                    source: None,
                },
                LOAD,
            ),
            (
                Error::Grant {
                    plugin: plugin(),
                    reason: reason(),
                    source: None,
                },
                USAGE,
            ),
            (
                Error::Syntax {
                    what: "w",
                    text: "t".into(),
                    reason: reason(),
                },
                USAGE,
            ),
            (
                Error::Config {
                    path: "p".into(),
                    reason: reason(),
                },
                USAGE,
            ),
            (
                Error::ExportNotFound {
                    plugin: plugin(),
                    name: "n".into(),
                    available: "a".into(),
                },
                USAGE,
            ),
            (
                Error::BadArguments {
                    plugin: plugin(),
                    function: "f".into(),
                    reason: reason(),
                },
                USAGE,
            ),
            (
                Error::NotProvided {
                    plugin: plugin(),
                    function: "f".into(),
                    since: "1.1.0".into(),
                    plugin_version: "1.0.0".into(),
                },
                OTHER,
            ),
            (
                Error::Quarantined {
                    plugin: plugin(),
                    remaining: std::time::Duration::from_secs(1),
                },
                OTHER,
            ),
            (
                Error::Exhausted {
                    plugin: plugin(),
                    reason: reason(),
                },
                OTHER,
            ),
            (
                Error::LimitUnsupported {
                    plugin: plugin(),
                    reason: reason(),
                },
                OTHER,
            ),
            (
                Error::WrongMode {
                    plugin: plugin(),
                    asynchronous_host: true,
                },
                OTHER,
            ),
            (
                Error::Panicked {
                    plugin: plugin(),
                    during: reason(),
                },
                OTHER,
            ),
            (
                Error::Engine {
                    message: reason(),
                    source: None,
                },
                OTHER,
            ),
        ]);
        cases
    }

    #[test]
    fn every_kind_of_error_has_its_documented_code() {
        for (error, code) in every_error() {
            assert_eq!(code_for(&error), code, "{error}");
        }
    }

    /// `docs/errors.md` has a row per kind, whose exit column is the code the CLI exits with.
    #[test]
    fn the_books_table_of_errors_gives_each_kinds_exit_code() {
        let table = include_str!("../../docs/errors.md");
        for (error, code) in every_error() {
            let kind = error.kind();
            let row = table
                .lines()
                .find(|line| line.starts_with(&format!("| `{kind}` |")))
                .unwrap_or_else(|| panic!("docs/errors.md has no row for `{kind}`"));
            let exit = row.split('|').nth(4).map(str::trim);
            let expected = match error {
                Error::Exit { .. } => "the status".to_owned(),
                _ => code.to_string(),
            };
            assert_eq!(exit, Some(expected.as_str()), "{row}");
        }
    }

    #[test]
    fn one_line_escapes_what_a_terminal_would_act_on() {
        assert_eq!(one_line("a\n  b\tc"), "a b c");
        assert_eq!(one_line("x\u{1b}[8my"), "x\\u{1b}[8my");
    }
}
