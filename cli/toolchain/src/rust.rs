//! Building Rust guests for `wasm32-wasip2`.
//!
//! Two routes, in order of preference:
//! 1. a Rust toolchain with the `wasm32-wasip2` target installed (`rustup target add wasm32-wasip2`);
//! 2. Debian's offline route: Debian's own rustc with its standard library sources, rebuilt for
//!    the target with `-Zbuild-std`, linked against Debian's wasi-libc with LLVM's `wasm-ld` and
//!    the rustup toolchain's `wasm-component-ld`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, ToolchainError};

/// The target every Rust guest is built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Debian packages of the offline route.
pub const DEBIAN_PACKAGES: &[&str] = &[
    "rustc-web",
    "cargo-web",
    "rust-web-src",
    "lld-22",
    "clang-22",
    "wasi-libc",
    "libclang-rt-22-dev-wasm32",
];
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_STD_SOURCES: &str = "/usr/lib/rustlib/src/rust/library/std";
const LLVM_BIN: &str = "/usr/lib/llvm-22/bin";
const WASI_LIBC: &str = "/usr/lib/wasm32-wasi";

/// How Rust guests get built.
#[derive(Debug, Clone)]
pub enum Route {
    /// A toolchain with the target's standard library installed.
    Installed {
        /// The cargo to run.
        cargo: OsString,
    },
    /// Debian's rustc with `-Zbuild-std`.
    Debian {
        /// Where `wasm-component-ld` is.
        component_ld_dir: PathBuf,
    },
}

impl Route {
    /// Finds a working route; when there is none, the error names what to install.
    pub fn detect() -> Result<Route> {
        if target_installed() {
            return Ok(Route::Installed { cargo: cargo() });
        }
        let missing = || ToolchainError::Missing {
            what: format!("a Rust toolchain that builds {TARGET} components"),
            install: format!(
                "rustup target add {TARGET} (or, offline on Debian, as root: apt-get install -y {})",
                DEBIAN_PACKAGES.join(" ")
            ),
        };
        let component_ld_dir = find_component_ld().ok_or_else(missing)?;
        if !debian_route_ready() {
            return Err(missing());
        }
        Ok(Route::Debian { component_ld_dir })
    }

    /// A one-line description for build logs.
    pub fn describe(&self) -> String {
        match self {
            Route::Installed { .. } => format!("installed {TARGET} target"),
            Route::Debian { .. } => {
                format!("Debian rustc with -Zbuild-std ({TARGET} target not installed)")
            }
        }
    }

    /// A cargo command set up for this route, running in `dir`.
    pub fn cargo(&self, dir: &Path) -> Command {
        match self {
            Route::Installed { cargo } => {
                let mut command = Command::new(cargo);
                command.current_dir(dir);
                command
            }
            Route::Debian { component_ld_dir } => {
                let mut command = Command::new(DEBIAN_CARGO);
                command.current_dir(dir);
                let mut path = vec![
                    PathBuf::from(LLVM_BIN),
                    component_ld_dir.clone(),
                    "/usr/bin".into(),
                ];
                path.extend(std::env::split_paths(
                    &std::env::var_os("PATH").unwrap_or_default(),
                ));
                command
                    .env("PATH", std::env::join_paths(path).unwrap_or_default())
                    .env("RUSTC", DEBIAN_RUSTC)
                    .env("RUSTC_BOOTSTRAP", "1")
                    .env(
                        "RUSTFLAGS",
                        format!("-L {WASI_LIBC} -C link-self-contained=no"),
                    )
                    .env_remove("RUSTUP_TOOLCHAIN")
                    .env_remove("RUSTC_WRAPPER")
                    .env_remove("RUSTDOC")
                    .env_remove("CARGO_ENCODED_RUSTFLAGS");
                command
            }
        }
    }

    /// Arguments every build on this route needs.
    pub fn build_args(&self) -> Vec<String> {
        let mut args = vec![
            "--release".to_owned(),
            "--target".to_owned(),
            TARGET.to_owned(),
        ];
        if let Route::Debian { .. } = self {
            args.push("-Zbuild-std=std,panic_abort".to_owned());
        }
        args
    }

    /// Extra rustc arguments for a `bin` (a `wasi:cli/command`), if the route needs any.
    pub fn command_link_args(&self) -> Vec<String> {
        match self {
            Route::Installed { .. } => Vec::new(),
            // Debian's wasi-libc keeps `_start` in a separate object that rustc does not add.
            Route::Debian { .. } => vec![format!("-Clink-arg={WASI_LIBC}/crt1-command.o")],
        }
    }

    /// Whether `bin` targets must be built one by one with [`command_link_args`](Self::command_link_args).
    pub fn bins_separately(&self) -> bool {
        matches!(self, Route::Debian { .. })
    }
}

/// The target of plain WebAssembly modules (not components), such as Extism plugins.
pub const CORE_TARGET: &str = "wasm32-unknown-unknown";

/// A cargo command that builds plain modules for [`CORE_TARGET`] in `dir`, and the build
/// arguments it needs: with the target installed if it is, else on Debian's route (its rustc
/// with `-Zbuild-std`, linked by LLVM's `wasm-ld`).
pub fn core_module_cargo(dir: &Path) -> Result<(Command, Vec<String>)> {
    let mut args = vec![
        "build".to_owned(),
        "--release".to_owned(),
        "--target".to_owned(),
        CORE_TARGET.to_owned(),
    ];
    if target_installed_for(CORE_TARGET) {
        let mut command = Command::new(cargo());
        command.current_dir(dir);
        return Ok((command, args));
    }
    if !debian_route_ready() {
        return Err(ToolchainError::Missing {
            what: format!("a Rust toolchain that builds {CORE_TARGET} modules"),
            install: format!(
                "rustup target add {CORE_TARGET} (or, offline on Debian, as root: apt-get install -y {})",
                DEBIAN_PACKAGES.join(" ")
            ),
        });
    }
    let mut command = Command::new(DEBIAN_CARGO);
    command.current_dir(dir);
    let mut path = vec![PathBuf::from(LLVM_BIN), "/usr/bin".into()];
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    command
        .env("PATH", std::env::join_paths(path).unwrap_or_default())
        .env("RUSTC", DEBIAN_RUSTC)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("RUSTFLAGS", "-C linker=wasm-ld")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTDOC")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    args.push("-Zbuild-std=std,panic_abort".to_owned());
    Ok((command, args))
}

/// The cargo to run: the one running us (`CARGO`), else the one on `PATH`.
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Whether the Rust toolchain cargo uses has the target's standard library.
fn target_installed() -> bool {
    target_installed_for(TARGET)
}

/// Whether the Rust toolchain cargo uses has the standard library of `target`.
fn target_installed_for(target: &str) -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Some(sysroot) = crate::output(Command::new(rustc).args(["--print", "sysroot"])) else {
        return false;
    };
    Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(target)
        .join("lib")
        .is_dir()
}

/// The directory holding `wasm-component-ld`: on PATH, or in the Rust toolchain's own tools.
fn find_component_ld() -> Option<PathBuf> {
    let on_path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .find(|dir| dir.join("wasm-component-ld").is_file());
    if on_path.is_some() {
        return on_path;
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = crate::output(Command::new(&rustc).args(["--print", "sysroot"]))?;
    let verbose = crate::output(Command::new(&rustc).arg("-vV"))?;
    let host = verbose
        .lines()
        .find_map(|l| l.strip_prefix("host: "))?
        .trim()
        .to_owned();
    let dir = Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(host)
        .join("bin");
    dir.join("wasm-component-ld").is_file().then_some(dir)
}

/// Whether every piece of the Debian route is installed.
pub fn debian_route_ready() -> bool {
    [
        DEBIAN_CARGO,
        DEBIAN_RUSTC,
        DEBIAN_STD_SOURCES,
        &format!("{LLVM_BIN}/wasm-ld"),
        &format!("{WASI_LIBC}/libc.a"),
        &format!("{WASI_LIBC}/crt1-command.o"),
    ]
    .iter()
    .all(|p| Path::new(p).exists())
}
