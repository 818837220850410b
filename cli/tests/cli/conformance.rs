//! The cross-language conformance test: every template, built from `componentry new` by `cargo
//! xtask templates` with each language's own toolchain, greets the same way, logs the same line,
//! passes its own cases under `componentry test`, and traps with its language's own message.

use std::path::PathBuf;

use crate::{Run, path_arg, stderr, stdout};

/// Where xtask put the built templates.
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

/// The languages built; at least those whose toolchains xtask sets up everywhere.
fn languages() -> Vec<String> {
    let listed = std::fs::read_to_string(templates().join("languages.txt")).expect("languages");
    let languages: Vec<String> = listed.lines().map(str::to_owned).collect();
    for required in ["rust", "python", "js", "c"] {
        assert!(
            languages.iter().any(|l| l == required),
            "{required} was not built"
        );
    }
    languages
}

fn component(language: &str) -> String {
    path_arg(
        &templates()
            .join(language)
            .join(format!("greeter-{language}.wasm")),
    )
}

#[test]
fn every_language_greets_the_same_and_logs_whom() {
    for language in languages() {
        let out = Run::new(&[
            "run",
            &component(&language),
            "-v",
            "--invoke",
            r#"greet("Ada")"#,
        ])
        .expect(0);
        assert_eq!(stdout(&out), "\"Hello, Ada!\"\n", "{language}");
        let log = stderr(&out);
        assert!(
            log.lines().any(|l| l.contains("greeting Ada")
                && l.contains(&format!("plugin=\"greeter-{language}\""))),
            "{language}: {log}"
        );
    }
}

#[test]
fn every_templates_cases_pass() {
    for language in languages() {
        let cases = path_arg(&templates().join(&language).join("cases.toml"));
        let out = Run::new(&["test", &component(&language), &cases]).expect(0);
        assert!(
            stdout(&out).ends_with("3 passed, 0 failed\n"),
            "{language}: {}",
            stdout(&out)
        );
    }
}

#[test]
fn every_language_traps_with_its_own_message() {
    for language in languages() {
        let out = Run::new(&[
            "run",
            &component(&language),
            "-v",
            "--invoke",
            r#"greet("")"#,
        ])
        .expect(5);
        let text = stderr(&out);
        let details = text
            .split("the plugin's stderr before the trap:")
            .nth(1)
            .unwrap_or_else(|| panic!("{language}: no stderr in the error: {text}"));
        assert!(details.contains("a name is required"), "{language}: {text}");
    }
}

#[test]
fn projects_for_an_applications_world_build_and_pass_their_generated_cases() {
    for language in ["rust", "python", "js"] {
        let dir = templates().join(format!("{language}-stubs"));
        let plugin = path_arg(&dir.join(format!("transformer-{language}.wasm")));
        let out = Run::new(&["test", &plugin, &path_arg(&dir.join("cases.toml"))]).expect(0);
        assert!(
            stdout(&out).ends_with("3 passed, 0 failed\n"),
            "{language}: {}",
            stdout(&out)
        );
        // The world imports the application's `dict`: the manifest requests it, and `run`
        // stands in for the application with the cases file's stubs.
        let manifest = std::fs::read_to_string(dir.join("plugin.toml")).expect("manifest");
        assert!(
            manifest.contains("[capabilities]\ninterfaces = [\"acme:text/dict@1.2.0\"]"),
            "{language}: {manifest}"
        );
        let cases = path_arg(&dir.join("cases.toml"));
        let out = Run::new(&[
            "run",
            &plugin,
            "--stubs",
            &cases,
            "--invoke",
            r#"transform#upper("x")"#,
        ])
        .expect(5);
        assert!(stderr(&out).contains("transformer"), "{}", stderr(&out));
    }
}

/// An async template (`componentry new LANGUAGE --async`), built by `cargo xtask templates`:
/// its component and its cases.
fn async_template(language: &str) -> (String, String) {
    let dir = templates().join(format!("{language}-async"));
    (
        path_arg(&dir.join(format!("greeter-{language}-async.wasm"))),
        path_arg(&dir.join("cases.toml")),
    )
}

#[test]
fn the_async_templates_greet_pass_their_cases_and_show_their_async_export() {
    for language in ["rust", "python"] {
        let (plugin, cases) = async_template(language);
        let out = Run::new(&["test", &plugin, &cases]).expect(0);
        assert!(
            stdout(&out).ends_with("3 passed, 0 failed\n"),
            "{language}: {}",
            stdout(&out)
        );
        let out = Run::new(&["run", &plugin, "-v", "--invoke", r#"greet("Ada")"#]).expect(0);
        assert_eq!(stdout(&out), "\"Hello, Ada!\"\n", "{language}");
        assert!(
            stderr(&out).contains("greeting Ada"),
            "{language} logs through the host: {}",
            stderr(&out)
        );
        let out = Run::new(&["inspect", &plugin]).expect(0);
        assert!(
            stdout(&out).contains("export greet: async func(name: string) -> string;"),
            "{language}: {}",
            stdout(&out)
        );
    }
    let (rust, _) = async_template("rust");
    let out = Run::new(&["inspect", &rust]).expect(0);
    assert!(
        stdout(&out).contains("wasi:clocks/monotonic-clock@0.3"),
        "the Rust template is a WASI 0.3 plugin: {}",
        stdout(&out)
    );
}
