//! Building the repository's Rust guests into components in `target/guests/`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use componentry_toolchain::rust::{Route, TARGET};

use crate::artifacts::copy_if_changed;
use crate::step;

/// The guest workspaces, relative to the repository root.
pub const WORKSPACES: &[&str] = &["examples/plugins", "host/tests/guests"];

/// A guest crate and what it builds.
struct Guest {
    package: String,
    /// The artifact's file stem: the `bin` name, or the library name with `-` as `_`.
    artifact: String,
    is_command: bool,
}

/// The cargo target directory of every Rust guest build.
pub fn target_dir(root: &Path) -> PathBuf {
    root.join("target/wasm-guests")
}

/// Builds every guest and returns the directory holding `<package>.wasm` for each.
pub fn build_all(root: &Path) -> anyhow::Result<PathBuf> {
    let started = Instant::now();
    let route = crate::install::rust_route()?;
    println!("==> guests: building with the {}", route.describe());
    let target_dir = target_dir(root);
    let out_dir = root.join("target/guests");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    for workspace in WORKSPACES {
        let manifest = root.join(workspace).join("Cargo.toml");
        let guests = list_guests(&manifest)?;
        build_workspace(&route, root, workspace, &manifest, &target_dir, &guests)?;
        let release = target_dir.join(TARGET).join("release");
        for guest in &guests {
            let built = release.join(format!("{}.wasm", guest.artifact));
            copy_if_changed(&built, &out_dir.join(format!("{}.wasm", guest.package)))?;
        }
    }
    crate::c_guests::build_all(root, &target_dir.join("c"), &out_dir)?;
    println!(
        "<== guests: {} ready in {}",
        out_dir.display(),
        step::elapsed(started)
    );
    Ok(out_dir)
}

fn build_workspace(
    route: &Route,
    root: &Path,
    workspace: &str,
    manifest: &Path,
    target_dir: &Path,
    guests: &[Guest],
) -> anyhow::Result<()> {
    let base = |subcommand: &str| {
        let mut command = route.cargo(root);
        command
            .arg(subcommand)
            .arg("--manifest-path")
            .arg(manifest)
            .arg("--target-dir")
            .arg(target_dir)
            .args(route.build_args());
        command
    };
    if !route.bins_separately() {
        return step::run(
            &format!("build {workspace}"),
            base("build").arg("--workspace"),
        );
    }
    let libraries: Vec<&Guest> = guests.iter().filter(|g| !g.is_command).collect();
    if !libraries.is_empty() {
        let mut command = base("build");
        for guest in &libraries {
            command.args(["-p", &guest.package]);
        }
        step::run(&format!("build {workspace} (plugins)"), &mut command)?;
    }
    for guest in guests.iter().filter(|g| g.is_command) {
        let mut command = base("rustc");
        command
            .args(["-p", &guest.package, "--bin", &guest.artifact, "--"])
            .args(route.command_link_args());
        step::run(
            &format!("build {workspace}/{} (command)", guest.package),
            &mut command,
        )?;
    }
    Ok(())
}

/// The guests of a workspace, from `cargo metadata`.
fn list_guests(manifest: &Path) -> anyhow::Result<Vec<Guest>> {
    let output = std::process::Command::new(step::cargo())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .context("running cargo metadata")?;
    anyhow::ensure!(
        output.status.success(),
        "cargo metadata failed for {}: {}",
        manifest.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let mut guests = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or_default().to_owned();
        for target in package["targets"].as_array().into_iter().flatten() {
            let kinds: Vec<&str> = target["kind"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|k| k.as_str())
                .collect();
            let target_name = target["name"].as_str().unwrap_or_default();
            if kinds.contains(&"cdylib") {
                guests.push(Guest {
                    package: name.clone(),
                    artifact: target_name.replace('-', "_"),
                    is_command: false,
                });
            } else if kinds.contains(&"bin") {
                guests.push(Guest {
                    package: name.clone(),
                    artifact: target_name.to_owned(),
                    is_command: true,
                });
            }
        }
    }
    Ok(guests)
}
