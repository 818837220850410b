//! Running a cases file against a plugin: one host whose application imports are stubs, a fresh
//! load per case with that case's grants, limits and settings, and a line per case.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use componentry::wasmtime::component::{Linker, Val};
use componentry::{ComponentWorld, EngineBuilder, Host, PluginOptions, PluginState};

use crate::exit::Failure;
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
    let stubbed = imports_to_stub(&world);
    check_stubs(&file.stubs, &stubbed)?;
    let engine = engine
        .fuel(true)
        .epoch_interruption(componentry::DEFAULT_EPOCH_TICK)
        .build()?;
    let stubs = file.stubs.clone();
    let host: Host<()> = Host::builder(&engine, |_| ())?
        .link(move |linker| define_stubs(linker, &stubbed, &stubs))?
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

/// One imported interface the host does not provide, and its functions.
struct Stubbed {
    /// As the component imports it: `acme:app/kv@1.0.0`.
    interface: String,
    functions: Vec<String>,
}

/// The component's imports that are neither WASI nor the framework's: the application's own,
/// which the cases file stands in for. Interfaces with resources cannot be stubbed and are left
/// for the load to report.
fn imports_to_stub(world: &ComponentWorld) -> Vec<Stubbed> {
    let resolve = world.resolve();
    let mut stubbed = Vec::new();
    for (key, item) in &resolve.worlds[world.world_id()].imports {
        let wit_parser::WorldItem::Interface { id, .. } = item else {
            continue;
        };
        let name = resolve.name_world_key(key);
        if name.starts_with("wasi:") || name.starts_with("componentry:plugin/") {
            continue;
        }
        let interface = &resolve.interfaces[*id];
        let has_resources = interface
            .types
            .values()
            .any(|ty| matches!(resolve.types[*ty].kind, wit_parser::TypeDefKind::Resource));
        if has_resources {
            continue;
        }
        stubbed.push(Stubbed {
            interface: name,
            functions: interface.functions.keys().cloned().collect(),
        });
    }
    stubbed
}

/// Whether the stub key `key` (`interface#function`, the interface written in full, without
/// its version, or by its bare name) names `function` of `interface`.
fn key_names(key: &str, interface: &str, function: &str) -> bool {
    let Some((wanted, wanted_function)) = key.rsplit_once('#') else {
        return false;
    };
    wanted_function == function && componentry::designates(wanted, interface)
}

/// Refuses stubs for functions the component does not import.
fn check_stubs(
    stubs: &std::collections::BTreeMap<String, String>,
    stubbed: &[Stubbed],
) -> Result<(), Failure> {
    for key in stubs.keys() {
        let known = stubbed
            .iter()
            .any(|s| s.functions.iter().any(|f| key_names(key, &s.interface, f)));
        if !known {
            let available: Vec<String> = stubbed
                .iter()
                .flat_map(|s| {
                    s.functions
                        .iter()
                        .map(move |f| format!("{}#{f}", s.interface))
                })
                .collect();
            return Err(Failure::Usage(format!(
                "[stubs] `{key}` is not a function the plugin imports from the application; \
                 it imports: {}",
                if available.is_empty() {
                    "none".to_owned()
                } else {
                    available.join(", ")
                }
            )));
        }
    }
    Ok(())
}

/// Defines every function of the stubbed interfaces: a canned result when the cases file gives
/// one, nothing for a function without a result, and a trap naming the missing stub otherwise.
fn define_stubs(
    linker: &mut Linker<PluginState<()>>,
    stubbed: &[Stubbed],
    stubs: &std::collections::BTreeMap<String, String>,
) -> componentry::wasmtime::Result<()> {
    for interface in stubbed {
        let mut instance = linker.instance(&interface.interface)?;
        for function in &interface.functions {
            let canned = stubs
                .iter()
                .find(|(key, _)| key_names(key, &interface.interface, function))
                .map(|(_, value)| value.clone());
            let key = format!("{}#{function}", interface.interface);
            instance.func_new(function, move |_store, ty, _params, results| {
                let Some(result_ty) = ty.results().next() else {
                    return Ok(());
                };
                let Some(text) = &canned else {
                    componentry::wasmtime::bail!(
                        "the plugin called `{key}`, which has no stub: give it a result in the \
                         cases file's [stubs]"
                    );
                };
                results[0] = Val::from_wave(&result_ty, text).map_err(|e| {
                    componentry::wasmtime::format_err!(
                        "the stub for `{key}` is not valid WAVE for its type: {e}"
                    )
                })?;
                Ok(())
            })?;
        }
    }
    Ok(())
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
        .with_env_filter(tracing_subscriber::EnvFilter::new(componentry::LOG_TARGET))
        .finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    let bytes = captured
        .0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    (String::from_utf8_lossy(&bytes).into_owned(), result)
}

#[cfg(test)]
mod tests {
    use super::key_names;

    #[test]
    fn stubs_name_functions_in_every_spelling() {
        let iface = "acme:app/kv@1.0.0";
        assert!(key_names("acme:app/kv@1.0.0#get", iface, "get"));
        assert!(key_names("acme:app/kv#get", iface, "get"));
        assert!(key_names("kv#get", iface, "get"));
        assert!(!key_names("kv#set", iface, "get"));
        assert!(!key_names("get", iface, "get"));
        assert!(!key_names("acme:app/kv@2.0.0#get", iface, "get"));
    }
}
