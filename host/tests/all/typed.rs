//! Typed calls: a world's bindings from `bindgen!`, attached to a plugin.

use componentry::Error;

use crate::logs::capture_logs;
use crate::{guest, host};

mod bindings {
    ::componentry::bindgen!({ path: "../wit", world: "componentry:plugin/greeter" });
    ::componentry::typed_world!(Greeter, GreeterIndices);
}

use bindings::Greeter;

#[test]
fn a_typed_call_takes_and_returns_rust_types() {
    let plugin = host().load_file(guest("hello-rust")).expect("load");
    let greeter = plugin.typed::<Greeter>().expect("hello-rust is a greeter");
    let greeting = greeter
        .call(|g, store| g.call_greet(store, "typed world"))
        .expect("call");
    assert_eq!(greeting, "Hello, typed world!");
}

#[test]
fn a_typed_instance_serves_several_calls() {
    let plugin = host().load_file(guest("hello-rust")).expect("load");
    let mut instance = plugin
        .typed::<Greeter>()
        .expect("greeter")
        .instantiate()
        .expect("instance");
    for name in ["a", "b"] {
        let greeting = instance
            .call(|g, store| g.call_greet(store, name))
            .expect("call");
        assert_eq!(greeting, format!("Hello, {name}!"));
    }
}

#[test]
fn a_plugin_of_another_world_is_incompatible() {
    let plugin = host().load_file(guest("types-echo")).expect("load");
    match plugin.typed::<Greeter>() {
        Err(Error::Incompatible { plugin, reason, .. }) => {
            assert_eq!(plugin, "types-echo");
            assert!(reason.contains("greet"), "{reason}");
        }
        Err(other) => panic!("expected Incompatible, got {other}"),
        Ok(_) => panic!("types-echo does not export greet"),
    }
}

#[test]
fn the_plugins_log_lands_in_the_hosts_log_with_its_name() {
    let plugin = host().load_file(guest("hello-rust")).expect("load");
    let (log, _) = capture_logs(|| {
        let greeter = plugin.typed::<Greeter>().expect("greeter");
        greeter
            .call(|g, store| g.call_greet(store, "logger"))
            .expect("call");
    });
    assert!(log.contains("greeting logger"), "{log}");
    assert!(log.contains("plugin=\"hello-rust\""), "{log}");
    assert!(log.contains(componentry::framework::LOG_TARGET), "{log}");
}

mod fault_bindings {
    ::componentry::bindgen!({ path: "tests/guests/wit", world: "faults" });
    ::componentry::typed_world!(Faults, FaultsIndices);
}

/// The faults guest through typed bindings, with a fuel budget and a deadline.
fn typed_faults() -> componentry::Typed<(), fault_bindings::Faults> {
    let limits = componentry::Limits::new()
        .fuel(50_000_000)
        .deadline(std::time::Duration::from_millis(200));
    crate::limits::limited_host()
        .load_file_with(
            guest("faults"),
            componentry::PluginOptions::new().limits(limits),
        )
        .expect("load faults")
        .typed::<fault_bindings::Faults>()
        .expect("faults has the faults world")
}

#[test]
fn a_typed_call_that_traps_names_the_export_it_called() {
    let faults = typed_faults();
    match faults.call(|f, store| f.call_divide(store, 1, 0)) {
        Err(Error::Trap { function, .. }) => assert_eq!(function, "divide"),
        other => panic!("expected a trap, got {other:?}"),
    }
    match faults.call(|f, store| f.call_panic_with(store, "typed panic")) {
        Err(Error::Trap { function, .. }) => assert_eq!(function, "panic-with"),
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn a_typed_call_stopped_by_a_limit_names_the_export_it_called() {
    let faults = typed_faults();
    match faults.call(|f, store| f.call_spin(store, u64::MAX)) {
        Err(Error::FuelExhausted { function, .. }) => assert_eq!(function, "spin"),
        other => panic!("expected FuelExhausted, got {other:?}"),
    }
    // A kept instance names the call that failed, not the one before it.
    let mut instance = faults.instantiate().expect("instance");
    let fine = instance.call(|f, store| f.call_ok(store)).expect("ok");
    assert_eq!(fine, "still fine");
    match instance.call(|f, store| f.call_out_of_bounds(store)) {
        Err(Error::Trap { function, .. }) => assert_eq!(function, "out-of-bounds"),
        other => panic!("expected a trap, got {other:?}"),
    }
}

mod wat_bindings {
    ::componentry::bindgen!({ inline: "package test:wat; world fails { export fail-now: func(); }" });
    ::componentry::typed_world!(Fails, FailsIndices);
}

#[test]
fn a_failed_typed_call_of_a_plugin_given_as_wat_text_names_its_export() {
    let wat = r#"(component
        (core module $m (func (export "fail-now") unreachable))
        (core instance $i (instantiate $m))
        (func (export "fail-now") (canon lift (core func $i "fail-now"))))"#;
    let plugin = host()
        .load_bytes("wat-fails", wat.as_bytes())
        .expect("WAT text loads");
    let typed = plugin
        .typed::<wat_bindings::Fails>()
        .expect("the world fits");
    match typed.call(|f, store| f.call_fail_now(store)) {
        Err(Error::Trap { function, .. }) => assert_eq!(function, "fail-now"),
        other => panic!("expected a trap, got {other:?}"),
    }
}
