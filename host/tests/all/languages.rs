//! Plugins in every language the templates cover (built by `cargo xtask templates`): the same
//! typed call gives the same answer, and a failure is a typed `Trap` carrying the language's own
//! message.

use std::path::PathBuf;

use componentry::Error;

use crate::host;

pub fn templates() -> PathBuf {
    let dir = std::env::var_os("COMPONENTRY_TEMPLATES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/templates"));
    assert!(
        dir.join("languages.txt").is_file(),
        "the templates are not built: run `cargo xtask templates` first"
    );
    dir
}

pub fn languages() -> Vec<String> {
    let listed = std::fs::read_to_string(templates().join("languages.txt")).expect("languages");
    listed.lines().map(str::to_owned).collect()
}

mod bindings {
    ::componentry::bindgen!({ path: "wit", world: "componentry:plugin/greeter" });
    ::componentry::typed_world!(Greeter, GreeterIndices);
}

/// The template's greeter in `language`, loaded and seen through the greeter world.
fn typed_greeter(language: &str) -> componentry::Typed<(), bindings::Greeter> {
    host()
        .load_file(greeter_path(language))
        .expect("load")
        .typed::<bindings::Greeter>()
        .expect("a greeter")
}

/// Where `cargo xtask templates` put the greeter built from the `language` template.
pub fn greeter_path(language: &str) -> PathBuf {
    templates()
        .join(language)
        .join(format!("greeter-{language}.wasm"))
}

#[test]
fn a_typed_call_is_answered_alike_in_every_language() {
    for language in languages() {
        let greeter = typed_greeter(&language);
        let greeting = greeter
            .call(|g, store| g.call_greet(store, "Ada"))
            .unwrap_or_else(|e| panic!("{language}: {e}"));
        assert_eq!(greeting, "Hello, Ada!", "{language}");
    }
}

#[test]
fn a_failure_is_a_typed_trap_with_the_languages_message() {
    let expected = [
        ("rust", "panicked"),
        ("python", "ValueError: a name is required"),
        ("js", "greet@app.js"),
        ("c", "a name is required"),
        ("go", "panic: a name is required"),
    ];
    for language in languages() {
        let plugin = host().load_file(greeter_path(&language)).expect("load");
        match plugin.invoke(r#"greet("")"#) {
            Err(Error::Trap {
                stderr: Some(stderr),
                ..
            }) => {
                assert!(
                    stderr.contains("a name is required"),
                    "{language}: {stderr}"
                );
                let (_, marker) = expected
                    .iter()
                    .find(|(l, _)| *l == language)
                    .expect("a known language");
                assert!(
                    stderr.contains(marker),
                    "{language}: `{marker}` in {stderr}"
                );
            }
            other => panic!("{language}: expected a trap with stderr, got {other:?}"),
        }
    }
}

#[test]
fn a_failed_typed_call_names_its_export_in_every_language() {
    for language in languages() {
        let greeter = typed_greeter(&language);
        match greeter.call(|g, store| g.call_greet(store, "")) {
            Err(Error::Trap { function, .. }) => assert_eq!(function, "greet", "{language}"),
            other => panic!("{language}: expected a trap, got {other:?}"),
        }
    }
}
