//! `cargo xtask fuzz [TARGET] [--time SECONDS]`: the cargo-fuzz targets of `fuzz/` (libFuzzer,
//! on the nightly toolchain), with cargo-fuzz installed under `target/tools/` the first time.
//! Each target starts from its seeds in `fuzz/corpus/TARGET/`. `cargo xtask test` runs each
//! briefly, keeping nothing it finds; this command keeps what it finds in
//! `target/fuzz-corpus/TARGET/` for the next run (`cargo fuzz cmin` it into `fuzz/corpus/` to
//! share it), and a crash stops it with the input under `fuzz/artifacts/TARGET/`, to be kept in
//! `fuzz/regressions/TARGET/` once fixed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::step;

/// Every fuzz target: see `host/fuzz-targets`.
pub const TARGETS: &[&str] = &[
    "manifest",
    "cases",
    "policy",
    "grants",
    "wave",
    "component",
    "wit_component",
];

/// How long `cargo xtask test` fuzzes each target, in seconds.
pub const SHORT_SECONDS: u64 = 10;

/// The cargo-fuzz the project installs.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Fuzzes `targets` for `seconds` each. With `keep`, new inputs go into `target/fuzz-corpus/`;
/// without, into a temporary directory.
pub fn run(root: &Path, targets: &[&str], seconds: u64, keep: bool) -> anyhow::Result<()> {
    for target in targets {
        if !TARGETS.contains(target) {
            bail!(
                "no fuzz target `{target}`; there are: {}",
                TARGETS.join(", ")
            );
        }
    }
    let tools = cargo_fuzz(root)?;
    step::run(
        "build the fuzz targets (nightly, libFuzzer)",
        fuzz_command(root, &tools).args(["build", "--dev", "-s", "none"]),
    )?;
    let scratch = tempfile::tempdir().context("a temporary directory")?;
    for target in targets {
        let seeds = root.join("fuzz/corpus").join(target);
        let found = match keep {
            true => root.join("target/fuzz-corpus").join(target),
            false => scratch.path().join(target),
        };
        std::fs::create_dir_all(&found)?;
        let mut command = fuzz_command(root, &tools);
        command
            .args(["run", "--dev", "-s", "none", target])
            .arg(&found)
            .arg(&seeds)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .args(["-timeout=20", "-rss_limit_mb=4096", "-print_final_stats=1"]);
        step::run(&format!("fuzz {target} ({seconds} s)"), &mut command)?;
    }
    Ok(())
}

/// `cargo fuzz` on the nightly toolchain, in `fuzz/`, with the installed cargo-fuzz on `PATH`
/// and nothing of the stable cargo running this xtask in its environment.
fn fuzz_command(root: &Path, tools: &Path) -> Command {
    let mut command = step::command("rustup", &root.join("fuzz"));
    command.args(["run", "nightly", "cargo", "fuzz"]);
    let mut path = vec![tools.to_path_buf()];
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    command.env(
        "PATH",
        std::env::join_paths(path).unwrap_or_else(|_| OsString::from("/usr/bin")),
    );
    for inherited in [
        "CARGO",
        "RUSTC",
        "RUSTUP_TOOLCHAIN",
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
    ] {
        command.env_remove(inherited);
    }
    command
}

/// The directory holding `cargo-fuzz`, installed there the first time.
fn cargo_fuzz(root: &Path) -> anyhow::Result<PathBuf> {
    let dir = root.join("target/tools/cargo-fuzz");
    let bin = dir.join("bin");
    if bin.join("cargo-fuzz").is_file() {
        return Ok(bin);
    }
    step::run(
        &format!("install cargo-fuzz {CARGO_FUZZ_VERSION}"),
        step::command(step::cargo(), root)
            .args(["install", "--locked", "--quiet", "cargo-fuzz", "--version"])
            .arg(CARGO_FUZZ_VERSION)
            .arg("--root")
            .arg(&dir),
    )?;
    Ok(bin)
}
