//! A plugin that traps or panics is stopped with a typed error; the host and later calls go on.

use componentry::Error;
use componentry::wasmtime::Trap;

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
fn a_trap_in_a_start_function_is_reported_at_instantiation() {
    let wat = r#"(component
        (core module $m (func $start unreachable) (start $start))
        (core instance (instantiate $m))
    )"#;
    let plugin = host()
        .load_bytes("starts-badly", wat.as_bytes(), Default::default())
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
