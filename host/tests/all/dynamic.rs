//! Dynamic calls: any export by name, with `Val` arguments or WAVE text, for every WIT type.

use componentry::{Error, Val};

use crate::{guest, host};

/// The results of a call as WAVE text.
pub fn wave(results: &[Val]) -> String {
    componentry::to_wave(results)
}

/// One WAVE value per kind of WIT type, each echoed unchanged by `types-echo`: `(function, value)`.
pub fn round_trips() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/guests/round-trips.txt");
    let text = std::fs::read_to_string(path).expect("round-trips.txt");
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (function, value) = line.split_once(' ').expect("FUNCTION VALUE");
            (function.to_owned(), value.to_owned())
        })
        .collect()
}

#[test]
fn every_wit_type_round_trips_through_wave() {
    let plugin = host().load_file(guest("types-echo")).expect("load");
    let mut instance = plugin.instantiate().expect("instantiate");
    let cases = round_trips();
    assert!(cases.len() >= 30, "every kind of WIT type is listed");
    for (function, value) in &cases {
        let results = instance
            .invoke(&format!("echo#{function}({value})"))
            .unwrap_or_else(|e| panic!("{function}({value}): {e}"));
        assert_eq!(&wave(&results), value, "{function}");
    }
}

#[test]
fn vals_go_in_and_come_out() {
    let plugin = host().load_file(guest("types-echo")).expect("load");
    let results = plugin
        .call("add", &[Val::S32(40), Val::S32(2)])
        .expect("call");
    assert_eq!(results, vec![Val::S32(42)]);
    let list = Val::List(vec![Val::U32(9), Val::U32(8)]);
    let echoed = plugin
        .call("echo#echo-list", std::slice::from_ref(&list))
        .expect("call");
    assert_eq!(echoed, vec![list]);
}

#[test]
fn interface_functions_answer_to_every_spelling() {
    let plugin = host().load_file(guest("types-echo")).expect("load");
    for name in [
        "echo#echo-u8",
        "componentry:test/echo#echo-u8",
        "componentry:test/echo@0.1.0#echo-u8",
    ] {
        let results = plugin
            .invoke(&format!("{name}(7)"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(wave(&results), "7", "{name}");
    }
}

#[test]
fn the_plugins_own_calls_get_fresh_instances_and_an_instance_keeps_state() {
    let plugin = host().load_file(guest("types-echo")).expect("load");
    assert_eq!(wave(&plugin.invoke("count()").expect("call")), "1");
    assert_eq!(wave(&plugin.invoke("count()").expect("call")), "1");
    let mut instance = plugin.instantiate().expect("instantiate");
    assert_eq!(wave(&instance.invoke("count()").expect("call")), "1");
    assert_eq!(wave(&instance.invoke("count()").expect("call")), "2");
}

#[test]
fn an_unknown_function_lists_what_is_exported() {
    let plugin = host().load_file(guest("types-echo")).expect("load");
    for name in [
        "nope",
        "echo#nope",
        "other#echo-u8",
        "componentry:test/echo@9.9.9#echo-u8",
    ] {
        match plugin.invoke(&format!("{name}()")) {
            Err(Error::ExportNotFound {
                plugin,
                name: asked,
                available,
            }) => {
                assert_eq!(plugin, "types-echo");
                assert_eq!(asked, name);
                assert!(
                    available.contains("componentry:test/echo@0.1.0#echo-u8"),
                    "{available}"
                );
                assert!(available.contains("add"), "{available}");
            }
            other => panic!(
                "{name}: expected ExportNotFound, got {:?}",
                other.map(|r| wave(&r))
            ),
        }
    }
}

#[test]
fn bad_arguments_are_explained_with_the_signature() {
    let plugin = host().load_file(guest("types-echo")).expect("load");
    let cases: &[&str] = &[
        "add(1)",
        "add(1, 2, 3)",
        r#"add("one", 2)"#,
        "echo#echo-u8(256)",
        "echo#echo-record({x: 1})",
        "echo#echo-enum(purple)",
        "add(1, ",
        "add",
    ];
    for call in cases {
        match plugin.invoke(call) {
            Err(Error::BadArguments { plugin, reason, .. }) => {
                assert_eq!(plugin, "types-echo");
                assert!(!reason.is_empty());
            }
            other => panic!(
                "{call}: expected BadArguments, got {:?}",
                other.map(|r| wave(&r))
            ),
        }
    }
    match plugin.call("add", &[Val::String("one".into()), Val::S32(2)]) {
        Err(Error::BadArguments { reason, .. }) => {
            assert!(reason.contains("func(a: s32, b: s32) -> s32"), "{reason}")
        }
        other => panic!("expected BadArguments, got {other:?}"),
    }
    match plugin.call("add", &[Val::S32(2)]) {
        Err(Error::BadArguments { reason, .. }) => {
            assert!(reason.contains("expected 2 argument(s), got 1"), "{reason}")
        }
        other => panic!("expected BadArguments, got {other:?}"),
    }
}

#[test]
fn exported_functions_are_listed_with_wit_signatures() {
    let plugin = host().load_file(guest("types-echo")).expect("load");
    let functions = plugin.exported_functions();
    assert!(
        functions.contains(&("add".to_owned(), "func(a: s32, b: s32) -> s32".to_owned())),
        "{functions:?}"
    );
    assert!(
        functions.contains(&(
            "componentry:test/echo@0.1.0#echo-result".to_owned(),
            "func(v: result<u32, string>) -> result<u32, string>".to_owned()
        )),
        "{functions:?}"
    );
}

#[test]
fn one_plugin_serves_many_threads_at_once() {
    let plugin = host().load_file(guest("types-echo")).expect("load");
    std::thread::scope(|scope| {
        for t in 0..4i32 {
            let plugin = plugin.clone();
            scope.spawn(move || {
                for i in 0..25i32 {
                    let results = plugin
                        .call("add", &[Val::S32(t), Val::S32(i)])
                        .expect("call");
                    assert_eq!(results, vec![Val::S32(t + i)]);
                }
            });
        }
    });
}
