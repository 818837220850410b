//! `cargo xtask bench`: builds what the comparison needs (the benchmark component, the same
//! plugin built without WASI, and its twin as an Extism plugin) and runs the comparison
//! optimised, which prints one table of ratios.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::step;

/// The Extism plugin's crate, and where its module goes.
const EXTISM_PLUGIN: &str = "host/benches/compare/extism-plugin";

/// The workspace of the benchmark plugin (the package `bench`).
const BENCH_GUESTS: &str = "host/tests/guests";

/// Builds the plugins and runs `compare` with `args`.
pub fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let guests = crate::guests::build_all(root)?;
    let extism = build_extism_plugin(root)?;
    let without_wasi = build_without_wasi(root)?;
    step::run(
        "compare (optimised)",
        step::command(step::cargo(), root)
            .args([
                "run",
                "--release",
                "-p",
                "componentry-bench",
                "--bin",
                "compare",
            ])
            .args(["--features", "extism", "--"])
            .args(args)
            .env("COMPONENTRY_GUESTS", &guests)
            .env("COMPONENTRY_BENCH_EXTISM", &extism)
            .env("COMPONENTRY_BENCH_NO_WASI", &without_wasi),
    )
}

/// Builds the benchmark plugin for wasm32-unknown-unknown, a component that imports nothing
/// (its Rust standard library has no WASI to start up), into target/bench/.
fn build_without_wasi(root: &Path) -> anyhow::Result<PathBuf> {
    let target_dir = crate::guests::target_dir(root);
    let (mut cargo, args) =
        componentry_toolchain::rust::core_module_cargo(&root.join(BENCH_GUESTS))?;
    cargo
        .args(&args)
        .args(["-p", "bench"])
        .env("CARGO_TARGET_DIR", &target_dir);
    step::run(
        "build the benchmark plugin without WASI (wasm32-unknown-unknown)",
        &mut cargo,
    )?;
    let built = target_dir
        .join(componentry_toolchain::rust::CORE_TARGET)
        .join("release/bench.wasm");
    let module = std::fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
    let component = componentry_toolchain::componentize::componentize_without_wasi(&module)?;
    let out = root.join("target/bench/bench_no_wasi.wasm");
    std::fs::create_dir_all(root.join("target/bench"))?;
    std::fs::write(&out, component).with_context(|| format!("writing {}", out.display()))?;
    Ok(out)
}

/// Builds the Extism plugin for wasm32-unknown-unknown into target/bench/.
fn build_extism_plugin(root: &Path) -> anyhow::Result<PathBuf> {
    let dir = root.join(EXTISM_PLUGIN);
    let target_dir = crate::guests::target_dir(root);
    let (mut cargo, args) = componentry_toolchain::rust::core_module_cargo(&dir)?;
    cargo.args(&args).env("CARGO_TARGET_DIR", &target_dir);
    step::run(
        "build the Extism plugin (wasm32-unknown-unknown)",
        &mut cargo,
    )?;
    let built = target_dir
        .join(componentry_toolchain::rust::CORE_TARGET)
        .join("release/bench_extism.wasm");
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let copy = out.join("bench_extism.wasm");
    std::fs::copy(&built, &copy)
        .with_context(|| format!("copying {} to {}", built.display(), copy.display()))?;
    Ok(copy)
}
