//! Installing what the project's checks need, where xtask may: Debian packages as root, and the
//! Python and JavaScript component toolchains under `target/tools/`.

use std::path::Path;
use std::process::Command;

use componentry_toolchain::ToolchainError;
use componentry_toolchain::c::CCompiler;
use componentry_toolchain::rust::Route;

use crate::step;

/// Whether xtask may install Debian packages itself: it runs as root where apt-get exists.
pub fn can_install() -> bool {
    Path::new("/usr/bin/apt-get").exists()
        && step::output(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0")
}

/// Installs Debian packages.
pub fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    println!(
        "xtask: installing from Debian's packages: {}",
        packages.join(" ")
    );
    step::run(
        "apt-get update",
        Command::new("apt-get")
            .args(["update", "-q"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    step::run(
        "apt-get install",
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// A route that builds Rust guests, installing Debian's offline route when there is none and
/// that is possible.
pub fn rust_route() -> anyhow::Result<Route> {
    match Route::detect() {
        Err(ToolchainError::Missing { .. })
            if can_install() && !componentry_toolchain::rust::debian_route_ready() =>
        {
            apt_install(componentry_toolchain::rust::DEBIAN_PACKAGES)?;
            Ok(Route::detect()?)
        }
        other => Ok(other?),
    }
}

/// A C compiler for wasm32-wasi, installing Debian's when there is none and that is possible.
pub fn c_compiler() -> anyhow::Result<CCompiler> {
    match CCompiler::find() {
        Err(ToolchainError::Missing { .. }) if can_install() => {
            apt_install(componentry_toolchain::c::DEBIAN_PACKAGES)?;
            Ok(CCompiler::find()?)
        }
        other => Ok(other?),
    }
}
