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
