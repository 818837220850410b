//! The framework's WIT lives inside each crate that embeds it (so the crates can be packaged)
//! and at the top of the repository (where users read it): the copies must never differ.

#[test]
fn every_copy_of_the_framework_wit_is_the_same() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let canonical = std::fs::read_to_string(root.join("wit/plugin.wit")).expect("wit/plugin.wit");
    assert_eq!(
        componentry::FRAMEWORK_WIT,
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
