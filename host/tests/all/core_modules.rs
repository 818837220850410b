//! WASI preview1 core modules, as toolchains that do not make components emit them: loaded like
//! components (made components on load with wasmtime's preview1 adapter: a command by its
//! `_start`, a reactor otherwise), under exactly the same grants and limits, with exit codes,
//! arguments and environment as `wasmtime run` gives them. The C prober is built both ways: as a
//! component (`c-prober`) and as the core module clang emits (`c-prober.core`).

use componentry::{Error, Grants, Limits, PluginOptions};

use crate::logs::capture_logs;
use crate::{guest, host};

/// A preview1 command that exits with `code` through `proc_exit`.
fn exiting(code: i32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (func (export "_start") (call $exit (i32.const {code}))))"#
    ))
    .expect("wat")
}

/// The status `plugin` ran with: 0 for success.
fn status(outcome: componentry::Result<()>) -> i32 {
    match outcome {
        Ok(()) => 0,
        Err(Error::Exit { status, .. }) => status,
        Err(other) => panic!("expected an exit status, got {other}"),
    }
}

#[test]
fn a_preview1_command_exits_with_its_own_status() {
    let host = host();
    for code in [0, 1, 3, 33, 125] {
        let plugin = host
            .load_bytes(format!("exit-{code}"), &exiting(code))
            .expect("a core module loads");
        assert_eq!(status(plugin.run_command()), code, "proc_exit({code})");
    }
    // Past WASI's range, as wasmtime's preview1 has it: a failure, never a status that wraps
    // around to success (256 would be 0 as a byte).
    for code in [126, 256, -1] {
        let plugin = host
            .load_bytes("out-of-range", &exiting(code))
            .expect("a core module loads");
        match plugin.run_command() {
            Err(Error::Trap { message, .. }) => {
                assert!(message.contains("outside of [0..126)"), "{message}");
            }
            other => panic!("proc_exit({code}): expected a failure, got {other:?}"),
        }
    }
    // In the text format too.
    let text = r#"(module (memory (export "memory") 1) (func (export "_start")))"#;
    let plugin = host
        .load_bytes("text", text.as_bytes())
        .expect("a core module in WAT loads");
    assert_eq!(status(plugin.run_command()), 0);
}

/// Runs the core C prober with `args` under `grants`: what it printed, and its status.
fn core_prober(grants: Grants, args: &[&str]) -> (String, i32) {
    let mut argv = vec!["c-prober"];
    argv.extend(args);
    let plugin = host()
        .load_file_with(
            guest("c-prober.core"),
            PluginOptions::new().grants(grants.args(argv)),
        )
        .expect("load the core C prober");
    let (logs, outcome) = capture_logs(|| plugin.run_command());
    (logs, status(outcome))
}

#[test]
fn a_core_modules_arguments_environment_and_status_come_through() {
    let (logs, code) = core_prober(Grants::none(), &["args", "one", "two words"]);
    assert_eq!(code, 0, "{logs}");
    for line in ["arg 0: c-prober", "arg 2: one", "arg 3: two words"] {
        assert!(logs.contains(line), "{line}: {logs}");
    }
    let (_, code) = core_prober(Grants::none(), &["exit", "42"]);
    assert_eq!(code, 42);
    let (logs, code) = core_prober(Grants::none().env("MODE", "fast"), &["getenv", "MODE"]);
    assert_eq!(code, 0, "{logs}");
    assert!(logs.contains("ok: fast"), "{logs}");
    let (logs, code) = core_prober(Grants::none(), &["getenv", "PATH"]);
    assert_eq!(code, 1, "an ungranted variable is not there: {logs}");
}

#[test]
fn a_core_module_reads_a_granted_directory_and_nothing_beside_it() {
    let f = crate::sandbox::fixture();
    let grants = || Grants::none().dir(&f.data, "/data");
    let (logs, code) = core_prober(grants(), &["read", "/data/inside.txt"]);
    assert_eq!(code, 0, "{logs}");
    assert!(logs.contains("ok: inside"), "{logs}");
    let secret = f.secret.to_string_lossy().into_owned();
    for path in ["/data/../secret.txt", "/data/secret-link", secret.as_str()] {
        let (logs, code) = core_prober(grants(), &["read", path]);
        assert_eq!(code, 1, "{path} must be refused: {logs}");
        assert!(!logs.contains("ok:"), "{path}: {logs}");
    }
    let (logs, code) = core_prober(grants(), &["write", "/data/new.txt", "x"]);
    assert_eq!(code, 1, "a read-only grant: {logs}");
    assert!(!f.data.join("new.txt").exists());
    let (logs, code) = core_prober(Grants::none(), &["read", "/data/inside.txt"]);
    assert_eq!(code, 1, "no grant, no directory: {logs}");
}

#[test]
fn fuel_a_deadline_and_the_memory_limit_stop_a_core_module() {
    let host = crate::limits::limited_host();
    let spinning = wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "_start") (loop br 0)))"#,
    )
    .expect("wat");
    let plugin = host
        .load_bytes_with(
            "spinning",
            &spinning,
            PluginOptions::new().limits(Limits::new().fuel(10_000_000)),
        )
        .expect("load");
    match plugin.run_command() {
        Err(Error::FuelExhausted { plugin, .. }) => assert_eq!(plugin, "spinning"),
        other => panic!("expected FuelExhausted, got {other:?}"),
    }
    let plugin = host
        .load_bytes_with(
            "spinning",
            &spinning,
            PluginOptions::new()
                .limits(Limits::new().deadline(std::time::Duration::from_millis(200))),
        )
        .expect("load");
    match plugin.run_command() {
        Err(Error::DeadlineExceeded { plugin, .. }) => assert_eq!(plugin, "spinning"),
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    let growing = wat::parse_str(
        r#"(module (memory (export "memory") 1)
            (func (export "_start")
                (if (i32.eq (memory.grow (i32.const 1024)) (i32.const -1)) (then unreachable))))"#,
    )
    .expect("wat");
    let plugin = host
        .load_bytes_with(
            "growing",
            &growing,
            PluginOptions::new().limits(Limits::new().max_memory(16 << 20)),
        )
        .expect("load");
    match plugin.run_command() {
        Err(Error::MemoryLimit { plugin, limit, .. }) => {
            assert_eq!(plugin, "growing");
            assert_eq!(limit, 16 << 20);
        }
        other => panic!("expected MemoryLimit, got {other:?}"),
    }
}

#[test]
fn a_core_module_the_adapter_cannot_serve_is_refused_with_the_reason() {
    let foreign = wat::parse_str(
        r#"(module (import "env" "host_thing" (func)) (func (export "_start") call 0))"#,
    )
    .expect("wat");
    match host().load_bytes("foreign", &foreign) {
        Err(Error::CoreModule { plugin, reason }) => {
            assert_eq!(plugin, "foreign");
            assert!(reason.contains("env"), "{reason}");
        }
        other => panic!(
            "expected CoreModule, got {:?}",
            other.map(|p| p.name().to_owned())
        ),
    }
}
