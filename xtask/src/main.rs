//! Build and test automation: `cargo xtask <command>`.
//!
//! - `guests`: build every Rust guest in the repository to a `wasm32-wasip2` component.
//! - `templates`: build every language's template the way a plugin author does.
//! - `test`: everything the project checks (fmt, clippy, guests, templates, tests).
//! - `demo`: build the example applications and their plugins, and run them.
//! - `docs`: build the book into `target/book/`.
//! - `bench`: compare Componentry with wasmtime by hand and with Extism, in one table.
//! - `soak`: reloads under calls and serving under load for a while, watching nothing grows.
//! - `fuzz`: the cargo-fuzz targets of every parser an untrusted party feeds.

mod artifacts;
mod bench;
mod c_guests;
mod demo;
mod docs;
mod fuzz;
mod guests;
mod install;
mod soak;
mod step;
mod templates;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Componentry's build and test automation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build every Rust guest (example plugins and test guests) to wasm32-wasip2 components in
    /// target/guests/.
    Guests,
    /// Build every language's template from `componentry new` output into target/templates/,
    /// setting up each toolchain (Python and JavaScript tools under target/tools/).
    Templates,
    /// Run every check the project makes: fmt, clippy (warnings denied), guest and template
    /// builds, tests.
    Test,
    /// Build the example applications and their plugins, and run them: mdpipe (plugins in
    /// four languages, a policy, limits, hot reload) and http-service (wasi:http/proxy routes).
    Demo,
    /// Build the book (`docs/`, an mdBook) into target/book/, installing mdbook the first time.
    Docs,
    /// Measure Componentry against wasmtime by hand and against Extism, side by side, and print
    /// one table of ratios (`--quick` for shorter runs).
    Bench {
        /// Passed to the comparison (`--quick`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Reload plugins thousands of times under concurrent calls, and serve HTTP under load while
    /// its route reloads; fail if resident memory, open descriptors or live instances grew past
    /// their bounds, or if a call failed.
    Soak {
        /// How long, in minutes (default: a short run of 20 s, as `cargo xtask test` does).
        #[arg(long)]
        minutes: Option<f64>,
    },
    /// Fuzz the parsers an untrusted party feeds (manifest, policy, grants, WAVE calls,
    /// components) with libFuzzer on the nightly toolchain, from the seeds in fuzz/corpus/; what
    /// a run finds is kept in target/fuzz-corpus/, and a crash stops it with its input under
    /// fuzz/artifacts/.
    Fuzz {
        /// The target (manifest, policy, grants, wave, component, wit_component); all without.
        target: Option<String>,
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        time: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace_root();
    let outcome = match cli.command {
        Command::Guests => guests::build_all(&root).map(|_| ()),
        Command::Templates => templates::build_all(&root, &guests::target_dir(&root)).map(|_| ()),
        Command::Test => test(&root),
        Command::Demo => demo::run(&root),
        Command::Docs => docs::build(&root).map(|_| ()),
        Command::Bench { args } => bench::run(&root, &args),
        Command::Fuzz { target, time } => {
            let targets: Vec<&str> = match &target {
                Some(target) => vec![target.as_str()],
                None => fuzz::TARGETS.to_vec(),
            };
            fuzz::run(&root, &targets, time, true)
        }
        Command::Soak { minutes } => {
            let seconds = minutes.map_or(20.0, |m| (m * 60.0).clamp(2.0, 86_400.0));
            guests::build_all(&root).and_then(|guests| soak::run(&root, &guests, seconds))
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root: the parent of this crate's directory.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

fn test(root: &Path) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let cargo = step::cargo();
    step::run(
        "format check",
        step::command(&cargo, root).args(["fmt", "--all", "--", "--check"]),
    )?;
    for workspace in guests::WORKSPACES {
        let manifest = root.join(workspace).join("Cargo.toml");
        step::run(
            &format!("format check of {workspace}"),
            step::command(&cargo, root)
                .args(["fmt", "--all", "--manifest-path"])
                .arg(&manifest)
                .args(["--", "--check"]),
        )?;
    }
    // The crates as shipped (default features) and with every feature: both must build, lint
    // clean and pass, so that neither configuration rots.
    for (features, flag) in [
        ("default features", None),
        ("all features", Some("--all-features")),
    ] {
        step::run(
            &format!("clippy ({features})"),
            step::command(&cargo, root)
                .args(["clippy", "--workspace", "--all-targets"])
                .args(flag)
                .args(["--", "-D", "warnings"]),
        )?;
    }
    // Every public item's rustdoc, its links included, must build without warnings.
    step::run(
        "rustdoc",
        step::command(&cargo, root)
            // The library crates: the CLI's doc comments are its --help text, not rustdoc.
            .args(["doc", "--no-deps", "--all-features"])
            .args([
                "-p",
                "componentry",
                "-p",
                "componentry-toolchain",
                "-p",
                "componentry-cases-file",
                "-p",
                "componentry-sdk",
            ])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    let guest_dir = guests::build_all(root)?;
    let template_dir = templates::build_all(root, &guests::target_dir(root))?;
    let tests = |features: &str, flags: &[&str], soak_seconds: &str| {
        step::run(
            &format!("workspace tests ({features})"),
            step::command(&cargo, root)
                .args(["test", "--workspace"])
                .args(flags)
                .env("COMPONENTRY_GUESTS", &guest_dir)
                .env("COMPONENTRY_TEMPLATES", &template_dir)
                .env("COMPONENTRY_SOAK_SECONDS", soak_seconds),
        )
    };
    // With a 20 s soak: reloads under calls and serving under load, nothing growing.
    tests("default features", &[], "20")?;
    // Right after the default-feature tests, whose build it shares.
    step::run(
        "example host (examples/hello-host)",
        step::command(&cargo, root)
            .args(["run", "--quiet", "-p", "hello-host", "--"])
            .arg(guest_dir.join("hello-rust.wasm")),
    )?;
    // A short bounded fuzz of every target from its corpus (the corpora themselves are replayed
    // by the workspace tests above).
    fuzz::run(root, fuzz::TARGETS, fuzz::SHORT_SECONDS, false)?;
    // The book must build (its samples are run by the tests above).
    docs::build(root)?;
    // The example applications, run as `cargo xtask demo` runs them: their plugins built with
    // `componentry build` and tested with `componentry test`, their output checked.
    demo::run(root)?;
    // The benchmark harness's one extra feature is Extism, whose own wasmtime clippy has checked
    // already: building it for tests too would cost minutes and test nothing more.
    // The soak ran with the default-feature tests (the `soak` test target of host/soak).
    tests(
        "all features",
        &["--all-features", "--exclude", "componentry-bench"],
        "0",
    )?;
    // The crates users depend on must package and build from their packages alone (the WIT and
    // templates they embed live inside them).
    forget_packaged(
        root,
        &[
            "componentry",
            "componentry-toolchain",
            "componentry-cases-file",
            "componentry-cli",
            "componentry-sdk",
        ],
    );
    step::run(
        "cargo package",
        step::command(&cargo, root).args([
            "package",
            "--allow-dirty",
            "-p",
            "componentry",
            "-p",
            "componentry-toolchain",
            "-p",
            "componentry-cases-file",
            "-p",
            "componentry-cli",
            "-p",
            "componentry-sdk",
        ]),
    )?;
    println!(
        "xtask test: everything passed in {}",
        step::elapsed(started)
    );
    Ok(())
}

/// Removes what an earlier `cargo package` left of `crates` where cargo would reuse it. Cargo
/// takes a crate of a registry (here the temporary local registry it verifies packages from) to
/// be unchanged while its version is: the sources it unpacked into `$CARGO_HOME/registry/src`
/// and its builds' fingerprints would make a later verification build the *earlier* sources.
fn forget_packaged(root: &Path, crates: &[&str]) {
    let ours = |name: &str| {
        crates.iter().any(|krate| {
            name.strip_prefix(krate)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_alphanumeric()))
        })
    };
    let remove_ours_in = |dir: &Path| {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if ours(&entry.file_name().to_string_lossy()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    };
    // The fingerprints of the verification builds (in the workspace's target directory): the
    // workspace's own builds of these crates are redone once, which costs little.
    remove_ours_in(&root.join("target/debug/.fingerprint"));
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")));
    let Some(src) = home.map(|home| home.join("registry/src")) else {
        return;
    };
    for registry in std::fs::read_dir(&src).into_iter().flatten().flatten() {
        // Only the temporary local registries `cargo package` makes, never a real one's.
        if !registry.file_name().to_string_lossy().starts_with("index.") {
            remove_ours_in(&registry.path());
        }
    }
}
