//! The crate's modules form layers (docs/architecture.md): each uses only the layers below it, so
//! there are no cycles between modules. This reads every source file and checks each `crate::`
//! path against the layer order.

use std::path::{Path, PathBuf};

/// The layers, lowest first. Modules of one layer may use each other only within themselves.
const LAYERS: &[&[&str]] = &[
    &["error", "names", "text", "toml_file", "wave"],
    &["engine"],
    &["store"],
    &["capability"],
    &["compat"],
    &["plugin"],
    &["config"],
    &["host"],
    &["discovery"],
    &["serve"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn sources(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut upward = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let module = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|m| m.trim_end_matches(".rs"))
            .expect("module");
        if module == "lib" {
            continue;
        }
        let own = layer_of(module).unwrap_or_else(|| panic!("{module} is in no layer"));
        let text = std::fs::read_to_string(&file).expect("read");
        for (at, _) in text.match_indices("crate::") {
            let used: String = text[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let Some(theirs) = layer_of(&used) else {
                continue; // a re-export of the crate root, such as crate::Error in rustdoc
            };
            if theirs > own || (theirs == own && used != module && LAYERS[own].len() == 1) {
                upward.push(format!("{} uses crate::{used}", relative.display()));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "modules reaching up a layer:\n{}",
        upward.join("\n")
    );
}

/// Each kind of capability is a file of its own that knows only what every kind is
/// (`capability/kind.rs`): no kind file names the aggregate `Grants`, the registry, or another
/// kind, so adding a kind is adding a file and a line in `capability/registry.rs`.
#[test]
fn capability_kinds_know_nothing_of_the_aggregate_nor_of_each_other() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/capability");
    let mut kinds = Vec::new();
    let mut leaks = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("read capability") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        if !text.contains("impl Kind for ") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_owned();
        kinds.push(name.clone());
        // The code itself: not comments, and not the tests at the end (`use super::*`).
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let code: String = code
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for (at, _) in code.match_indices("super::") {
            let used: String = code[at + "super::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if used != "kind" {
                leaks.push(format!("{name} uses super::{used}"));
            }
        }
        for word in ["Grants", "registry", "crate::capability"] {
            if code.contains(word) {
                leaks.push(format!("{name} names {word}"));
            }
        }
    }
    assert!(kinds.len() >= 8, "the kind files: {kinds:?}");
    assert!(
        leaks.is_empty(),
        "kind files reaching past kind.rs:\n{}",
        leaks.join("\n")
    );
}
