//! A plugin that traps or panics is stopped with a typed error; the host and later calls go on.

use componentry::Error;
use componentry::errors::Trap;

use crate::{guest, host};

#[test]
fn a_panic_is_a_trap_naming_plugin_and_function() {
    let plugin = host().load_file(guest("faults")).expect("load");
    match plugin.invoke(r#"panic-with("boom")"#) {
        Err(Error::Trap {
            plugin,
            function,
            code,
            ..
        }) => {
            assert_eq!(plugin, "faults");
            assert_eq!(function, "panic-with");
            assert_eq!(code, Some(Trap::UnreachableCodeReached));
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn a_trap_carries_a_backtrace_with_function_names() {
    let plugin = host().load_file(guest("faults")).expect("load");
    match plugin.invoke("divide(1, 0)") {
        Err(Error::Trap {
            backtrace: Some(backtrace),
            ..
        }) => {
            assert!(backtrace.contains("divide"), "{backtrace}");
        }
        other => panic!("expected a trap with a backtrace, got {other:?}"),
    }
}

#[test]
fn calls_after_a_trap_succeed_on_a_fresh_instance() {
    let plugin = host().load_file(guest("faults")).expect("load");
    assert!(matches!(
        plugin.invoke("divide(1, 0)"),
        Err(Error::Trap { .. })
    ));
    let results = plugin.invoke("divide(10, 2)").expect("the next call works");
    assert_eq!(componentry::to_wave(&results), "5");
    let results = plugin.invoke("ok()").expect("the next call works");
    assert_eq!(componentry::to_wave(&results), r#""still fine""#);
}

#[test]
fn a_held_instance_that_trapped_takes_no_more_calls() {
    let plugin = host().load_file(guest("faults")).expect("load");
    let mut instance = plugin.instantiate().expect("instance");
    assert_eq!(
        componentry::to_wave(&instance.invoke("divide(10, 2)").expect("call")),
        "5"
    );
    assert!(matches!(
        instance.invoke("divide(1, 0)"),
        Err(Error::Trap { .. })
    ));
    match instance.invoke("divide(10, 2)") {
        Err(Error::InstanceFailed { plugin }) => assert_eq!(plugin, "faults"),
        other => panic!("expected InstanceFailed, got {other:?}"),
    }
    // Errors that no guest code caused leave an instance usable.
    let mut instance = plugin.instantiate().expect("instance");
    assert!(matches!(
        instance.invoke("divide(1)"),
        Err(Error::BadArguments { .. })
    ));
    assert!(instance.invoke("divide(10, 2)").is_ok());
}

#[test]
fn a_trap_in_a_start_function_is_reported_at_instantiation() {
    let wat = r#"(component
        (core module $m (func $start unreachable) (start $start))
        (core instance (instantiate $m))
    )"#;
    let plugin = host()
        .load_bytes("starts-badly", wat.as_bytes())
        .expect("load");
    match plugin.instantiate() {
        Err(Error::Trap {
            plugin,
            function,
            code,
            ..
        }) => {
            assert_eq!(plugin, "starts-badly");
            assert_eq!(function, "<instantiate>");
            assert_eq!(code, Some(Trap::UnreachableCodeReached));
        }
        Err(other) => panic!("expected a trap, got {other}"),
        Ok(_) => panic!("expected a trap"),
    }
}

#[test]
fn repeated_failures_quarantine_the_plugin_with_an_event() {
    use componentry::{PluginEvent, PluginOptions, QuarantinePolicy};
    use std::time::Duration;

    let host = host();
    let events = host.subscribe();
    let policy = QuarantinePolicy {
        max_failures: 3,
        window: Duration::from_secs(60),
        cooldown: Duration::from_secs(600),
    };
    let plugin = host
        .load_file_with(guest("faults"), PluginOptions::new().quarantine(policy))
        .expect("load");
    for _ in 0..2 {
        assert!(matches!(
            plugin.invoke("divide(1, 0)"),
            Err(Error::Trap { .. })
        ));
        assert!(plugin.invoke("ok()").is_ok(), "not quarantined yet");
    }
    assert!(
        events.try_recv().is_err(),
        "no event before the third failure"
    );
    assert!(matches!(
        plugin.invoke("divide(1, 0)"),
        Err(Error::Trap { .. })
    ));
    match events.recv_timeout(Duration::from_secs(5)) {
        Ok(PluginEvent::Quarantined {
            plugin,
            failures,
            cooldown,
            last_error,
        }) => {
            assert_eq!(plugin, "faults");
            assert_eq!(failures, 3);
            assert_eq!(cooldown, policy.cooldown);
            assert!(last_error.contains("divide"), "{last_error}");
        }
        other => panic!("expected a quarantine event, got {other:?}"),
    }
    match plugin.invoke("ok()") {
        Err(Error::Quarantined { plugin, remaining }) => {
            assert_eq!(plugin, "faults");
            assert!(remaining > Duration::from_secs(500));
        }
        other => panic!("expected Quarantined, got {other:?}"),
    }
    // Other plugins of the same host are untouched.
    let other = host.load_file(guest("faults")).expect("load");
    assert!(other.invoke("ok()").is_ok());
}

#[test]
fn core_dumps_of_traps_are_written_when_asked_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = componentry::Engine::builder()
        .core_dumps(dir.path())
        .build()
        .expect("engine");
    let host: componentry::Host<()> = componentry::Host::new(&engine).expect("host");
    let plugin = host.load_file(guest("faults")).expect("load");
    assert!(matches!(
        plugin.invoke("divide(1, 0)"),
        Err(Error::Trap { .. })
    ));
    let dumps: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dump dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(dumps.len(), 1, "{dumps:?}");
    let name = dumps[0]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("faults-") && name.ends_with(".coredump"),
        "{name}"
    );
    let bytes = std::fs::read(&dumps[0]).expect("dump");
    assert!(bytes.starts_with(b"\0asm"), "a core dump is a wasm file");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&dumps[0])
        .expect("dump")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "{mode:o}: the dump holds the plugin's memory"
    );
    // Without the option nothing is written: the default host's traps leave no files behind.
    assert!(matches!(
        crate::host()
            .load_file(guest("faults"))
            .expect("load")
            .invoke("divide(1, 0)"),
        Err(Error::Trap { .. })
    ));
    assert_eq!(std::fs::read_dir(dir.path()).expect("dump dir").count(), 1);
}

#[test]
fn core_dumps_are_bounded_in_number_and_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = componentry::Engine::builder()
        .core_dumps(dir.path())
        .core_dump_limits(2, 64 << 20)
        .build()
        .expect("engine");
    let host: componentry::Host<()> = componentry::Host::new(&engine).expect("host");
    let plugin = host.load_file(guest("faults")).expect("load");
    for _ in 0..5 {
        assert!(matches!(
            plugin.invoke("divide(1, 0)"),
            Err(Error::Trap { .. })
        ));
    }
    assert_eq!(std::fs::read_dir(dir.path()).expect("dumps").count(), 2);

    let small = tempfile::tempdir().expect("tempdir");
    let engine = componentry::Engine::builder()
        .core_dumps(small.path())
        .core_dump_limits(10, 1024)
        .build()
        .expect("engine");
    let host: componentry::Host<()> = componentry::Host::new(&engine).expect("host");
    let plugin = host.load_file(guest("faults")).expect("load");
    let (logs, outcome) = crate::logs::capture_logs(|| plugin.invoke("divide(1, 0)"));
    assert!(matches!(outcome, Err(Error::Trap { .. })));
    assert_eq!(std::fs::read_dir(small.path()).map_or(0, |d| d.count()), 0);
    assert!(logs.contains("exceed the cap of 1024 bytes"), "{logs}");
}

#[test]
fn a_trap_carries_what_the_plugin_said_on_stderr() {
    let plugin = host().load_file(guest("faults")).expect("load");
    match plugin.invoke(r#"panic-with("the language's own message")"#) {
        Err(Error::Trap { stderr, .. }) => {
            let stderr = stderr.expect("the panic message went to stderr");
            assert!(stderr.contains("the language's own message"), "{stderr}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    // Even when stderr is discarded, its tail explains the trap.
    let discarding = host()
        .load_file_with(
            guest("faults"),
            componentry::PluginOptions::new()
                .grants(componentry::Grants::none().stderr(componentry::Output::Discard)),
        )
        .expect("load");
    match discarding.invoke(r#"panic-with("still explained")"#) {
        Err(Error::Trap {
            stderr: Some(stderr),
            ..
        }) => assert!(stderr.contains("still explained")),
        other => panic!("expected a trap with stderr, got {other:?}"),
    }
    // A trap without output has none.
    let silent = r#"(component
        (core module $m (func (export "f") unreachable))
        (core instance $i (instantiate $m))
        (func (export "f") (canon lift (core func $i "f"))))"#;
    let silent = host()
        .load_bytes("silent", silent.as_bytes())
        .expect("load");
    match silent.invoke("f()") {
        Err(error @ Error::Trap { .. }) => {
            assert_eq!(error.kind(), "trap");
            assert!(
                matches!(error, Error::Trap { stderr: None, .. }),
                "{error:?}"
            );
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}
