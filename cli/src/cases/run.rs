//! Running a cases file against a plugin: one host whose application imports are stubs, a fresh
//! load per case with that case's grants, limits and settings, and a line per case.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use componentry::{ComponentWorld, EngineBuilder, Host, PluginOptions, Val};

use crate::exit::Failure;
use crate::stubs::Stubs;
use componentry_cases_file::{Case, CasesFile, Expectation};

/// How the cases went.
pub struct Report {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
}

/// Runs every case of `file` against the component at `plugin`, printing one line per case and a
/// summary.
pub fn run(
    plugin: &Path,
    file: &CasesFile,
    engine: EngineBuilder,
    verbose: bool,
) -> Result<Report, Failure> {
    // Read as every command reads a plugin; each case then grants what it says (a cases file is
    // its own operator).
    let source = crate::loading::open_source(plugin, None)?;
    let (name, bytes) = (source.name().to_owned(), source.bytes());
    let world = ComponentWorld::decode(&name, bytes)?;
    let stubs = Stubs::for_worlds(std::slice::from_ref(&world));
    // Every table checked before anything runs.
    stubs.resolve(&file.stubs)?;
    for case in &file.cases {
        stubs.resolve(&case.stubs)?;
    }
    let engine = engine
        .fuel(true)
        .epoch_interruption(std::time::Duration::from_millis(10))
        .build()?;
    let linked = stubs.clone();
    let host: Host<()> = Host::builder(&engine, |_| ())?
        .link(move |linker| linked.link(linker))?
        .build()?;
    let base_settings = source
        .manifest()
        .map(|m| m.settings.clone())
        .unwrap_or_default();
    let mut report = Report {
        passed: 0,
        failed: 0,
    };
    // A cases file is its own operator: say what it grants before anything runs.
    for case in &file.cases {
        let granted = case.grants.describe();
        if !granted.is_empty() {
            eprintln!(
                "componentry: case {} grants the plugin: {}",
                crate::exit::one_line(&case.name),
                crate::exit::one_line(&granted.join(", "))
            );
        }
    }
    for case in &file.cases {
        stubs.answer(&[&file.stubs, &case.stubs])?;
        let (verdict, log) = run_case(&host, &name, bytes, case, &base_settings);
        match verdict {
            Ok(()) => {
                report.passed += 1;
                println!("ok     {}", crate::exit::one_line(&case.name));
            }
            Err(reason) => {
                report.failed += 1;
                println!(
                    "FAILED {} (line {}): {}",
                    crate::exit::one_line(&case.name),
                    case.line,
                    crate::exit::one_line(&reason)
                );
            }
        }
        if verbose && !log.is_empty() {
            for line in log.lines() {
                eprintln!("  | {}", componentry::escape_untrusted(line));
            }
        }
    }
    println!("{} passed, {} failed", report.passed, report.failed);
    Ok(report)
}

/// Runs one case: its verdict, and what the plugin logged.
fn run_case(
    host: &Host<()>,
    name: &str,
    bytes: &[u8],
    case: &Case,
    base_settings: &toml::Table,
) -> (Result<(), String>, String) {
    let mut settings = base_settings.clone();
    settings.extend(case.settings.clone());
    let options = PluginOptions::new()
        .grants(case.grants.clone())
        .limits(case.limits.clone())
        .settings(&settings);
    let (log, outcome) = capture_log(|| {
        let plugin = host.load_bytes_with(name, bytes, options)?;
        let results = plugin.invoke(&case.call)?;
        Ok::<_, componentry::Error>((plugin, results))
    });
    let verdict = judge(case, outcome).and_then(|()| match &case.log_contains {
        Some(text) if !log.contains(text.as_str()) => {
            Err(format!("the plugin's log does not contain `{text}`"))
        }
        _ => Ok(()),
    });
    (verdict, log)
}

fn judge(
    case: &Case,
    outcome: Result<(componentry::Plugin<()>, Vec<Val>), componentry::Error>,
) -> Result<(), String> {
    match (&case.expect, outcome) {
        (Expectation::Result(None), Ok(_)) => Ok(()),
        (Expectation::Result(Some(expected)), Ok((plugin, results))) => {
            let function = case.call.split('(').next().unwrap_or_default().trim();
            let ty = plugin.function_type(function).map_err(|e| e.to_string())?;
            let Some(result_ty) = ty.results().next() else {
                return Err(format!(
                    "`{function}` returns nothing, but the case expects {expected}"
                ));
            };
            let expected = Val::from_wave(&result_ty, expected)
                .and_then(|v| v.to_wave())
                .map_err(|e| format!("`expect` is not valid WAVE for the result's type: {e}"))?;
            let actual = componentry::to_wave(&results);
            if actual == expected {
                Ok(())
            } else {
                Err(format!("expected {expected}, got {actual}"))
            }
        }
        (Expectation::Result(_), Err(error)) => Err(format!("{} error: {error}", error.kind())),
        (Expectation::Error { kind, .. }, Ok((_, results))) => Err(format!(
            "expected a `{kind}` error, got {}",
            componentry::to_wave(&results)
        )),
        (Expectation::Error { kind, contains }, Err(error)) => {
            if error.kind() != kind {
                return Err(format!(
                    "expected a `{kind}` error, got `{}`: {error}",
                    error.kind()
                ));
            }
            let stderr = match &error {
                componentry::Error::Trap { stderr, .. } => stderr.as_deref().unwrap_or_default(),
                _ => "",
            };
            match contains {
                Some(text)
                    if !error.to_string().contains(text.as_str())
                        && !stderr.contains(text.as_str()) =>
                {
                    Err(format!("the error does not mention `{text}`: {error}"))
                }
                _ => Ok(()),
            }
        }
    }
}

/// Runs `f` with the plugins' log captured; returns the log and `f`'s result.
fn capture_log<R>(f: impl FnOnce() -> R) -> (String, R) {
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time()
        .with_max_level(tracing::Level::TRACE)
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            componentry::framework::LOG_TARGET,
        ))
        .finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    let bytes = captured
        .0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    (String::from_utf8_lossy(&bytes).into_owned(), result)
}
