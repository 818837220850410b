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
    let serving = build_servers(root)?;
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
            .env("COMPONENTRY_BENCH_NO_WASI", &without_wasi)
            .env("COMPONENTRY_BENCH_CLI", serving.join("componentry"))
            .env(
                "COMPONENTRY_BENCH_SERVE_BY_HAND",
                serving.join("serve-by-hand"),
            )
            .env("COMPONENTRY_BENCH_HTTP_LOAD", serving.join("http-load")),
    )
}

/// Builds, optimised, what the serving comparison runs as processes of their own: the
/// `componentry` CLI, `serve-by-hand` (wasmtime by hand) and the `http-load` client. Returns
/// the directory that holds them.
fn build_servers(root: &Path) -> anyhow::Result<PathBuf> {
    step::run(
        "serving binaries (optimised)",
        step::command(step::cargo(), root).args([
            "build",
            "--release",
            "-p",
            "componentry-cli",
            "--bin",
            "componentry",
            "-p",
            "componentry-bench",
            "--bin",
            "serve-by-hand",
            "-p",
            "http-service",
            "--bin",
            "http-load",
        ]),
    )?;
    Ok(root.join("target/release"))
}

/// Builds the benchmark plugin for wasm32-unknown-unknown, a component that imports nothing
/// (its Rust standard library has no WASI to start up), into target/bench/.
fn build_without_wasi(root: &Path) -> anyhow::Result<PathBuf> {
    let module = build_core_module(
        root,
        BENCH_GUESTS,
        Some("bench"),
        "bench.wasm",
        "the benchmark plugin without WASI",
    )?;
    let module = std::fs::read(&module).with_context(|| format!("reading {}", module.display()))?;
    let component = componentry_toolchain::componentize::componentize_without_wasi(&module)?;
    let out = bench_dir(root)?.join("bench_no_wasi.wasm");
    std::fs::write(&out, component).with_context(|| format!("writing {}", out.display()))?;
    Ok(out)
}

/// Builds the Extism plugin for wasm32-unknown-unknown into target/bench/.
fn build_extism_plugin(root: &Path) -> anyhow::Result<PathBuf> {
    let built = build_core_module(
        root,
        EXTISM_PLUGIN,
        None,
        "bench_extism.wasm",
        "the Extism plugin",
    )?;
    let copy = bench_dir(root)?.join("bench_extism.wasm");
    std::fs::copy(&built, &copy)
        .with_context(|| format!("copying {} to {}", built.display(), copy.display()))?;
    Ok(copy)
}

/// Builds the crate in `dir` (its `package`, in a workspace) for wasm32-unknown-unknown, in
/// the guests' target directory, and returns the path of its module `file`.
fn build_core_module(
    root: &Path,
    dir: &str,
    package: Option<&str>,
    file: &str,
    what: &str,
) -> anyhow::Result<PathBuf> {
    let target_dir = crate::guests::target_dir(root);
    let (mut cargo, args) = componentry_toolchain::rust::core_module_cargo(&root.join(dir))?;
    cargo.args(&args).env("CARGO_TARGET_DIR", &target_dir);
    if let Some(package) = package {
        cargo.args(["-p", package]);
    }
    let target = componentry_toolchain::rust::CORE_TARGET;
    step::run(&format!("build {what} ({target})"), &mut cargo)?;
    Ok(target_dir.join(target).join("release").join(file))
}

/// target/bench/, made if missing.
fn bench_dir(root: &Path) -> anyhow::Result<PathBuf> {
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
