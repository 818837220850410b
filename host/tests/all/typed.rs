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
