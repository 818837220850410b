//! Every input kept for the fuzz targets, replayed: the seed corpora and what the fuzzers added
//! to them (`fuzz/corpus/TARGET/`), and the inputs that once crashed a target
//! (`fuzz/regressions/TARGET/`). Each must be answered, not panic.

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut found = Vec::new();
    for kept in ["corpus", "regressions"] {
        let dir = fuzz.join(kept).join(target);
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            found.push(entry.path());
        }
    }
    found.sort();
    found
}

fn replay(target: &str, run: fn(&[u8])) {
    let inputs = inputs(target);
    assert!(
        !inputs.is_empty(),
        "no corpus for the fuzz target `{target}`"
    );
    for input in inputs {
        let data = std::fs::read(&input).expect("read an input");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target} panicked on {}", input.display());
    }
}

#[test]
fn manifest() {
    replay("manifest", componentry_fuzz_targets::manifest);
}

#[test]
fn cases() {
    replay("cases", componentry_fuzz_targets::cases);
}

#[test]
fn policy() {
    replay("policy", componentry_fuzz_targets::policy);
}

#[test]
fn grants() {
    replay("grants", componentry_fuzz_targets::grants);
}

#[test]
fn wave() {
    replay("wave", componentry_fuzz_targets::wave);
}

#[test]
fn component() {
    replay("component", componentry_fuzz_targets::component);
}

#[test]
fn wit_component() {
    replay("wit_component", componentry_fuzz_targets::wit_component);
}
