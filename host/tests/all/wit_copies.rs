//! The framework's WIT lives inside each crate that embeds it (so the crates can be packaged)
//! and at the top of the repository (where users read it): the copies must never differ.

#[test]
fn every_copy_of_the_framework_wit_is_the_same() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let canonical = std::fs::read_to_string(root.join("wit/plugin.wit")).expect("wit/plugin.wit");
    assert_eq!(
        componentry::framework::FRAMEWORK_WIT,
        canonical,
        "host/wit/plugin.wit differs from wit/"
    );
    let sdk = std::fs::read_to_string(root.join("sdk-rust/wit/plugin.wit"))
        .expect("sdk-rust/wit/plugin.wit");
    assert_eq!(sdk, canonical, "sdk-rust/wit/plugin.wit differs from wit/");
}

/// README.md shows a plugin's source: it must be the source of the plugin the tests build and
/// run (`examples/plugins/hello-rust`), not a sketch that could drift. (Its host example is
/// compiled as a doctest.)
#[test]
fn the_readme_plugin_is_the_one_that_is_built() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let source = std::fs::read_to_string(root.join("examples/plugins/hello-rust/src/lib.rs"))
        .expect("hello-rust source");
    let shown = readme
        .split("```rust,ignore\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README.md shows the plugin in a ```rust,ignore block");
    assert_eq!(
        shown, source,
        "README.md's plugin differs from examples/plugins/hello-rust"
    );
}

/// The plugin author's guides show each template's code (its comments left out): every line
/// shown must be a line of the template, in the same order, so that a guide cannot drift from
/// what `componentry new` writes (and the tests build).
#[test]
fn the_language_guides_show_their_templates_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (guide, fence, template) in [
        (
            "docs/plugins/rust.md",
            "```rust\n",
            "sdk-guest-templates/rust/src/lib.rs",
        ),
        (
            "docs/plugins/python.md",
            "```python\n",
            "sdk-guest-templates/python/app.py",
        ),
        (
            "docs/plugins/javascript.md",
            "```js\n",
            "sdk-guest-templates/js/app.js",
        ),
        (
            "docs/plugins/go.md",
            "```go\n",
            "sdk-guest-templates/go/export_wit_world/greeter.go",
        ),
    ] {
        let text = std::fs::read_to_string(root.join(guide)).expect("guide");
        let source = std::fs::read_to_string(root.join(template)).expect("template");
        let shown = text
            .split(fence)
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .unwrap_or_else(|| panic!("{guide} shows no {fence:?} block"));
        let mut lines = source.lines().map(str::trim_end);
        let shown_lines: Vec<&str> = shown.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(shown_lines.len() >= 5, "{guide}: a sample of a few lines");
        for line in shown_lines {
            assert!(
                lines.any(|l| l == line.trim_end()),
                "{guide}: `{line}` is not (in order) in {template}"
            );
        }
    }
}
