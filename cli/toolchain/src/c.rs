//! Compiling C guests for `wasm32-wasi` with clang and wasi-libc: a wasi-sdk named by
//! `WASI_SDK_PATH`, or Debian's clang with its wasi-libc.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, ToolchainError};

/// Debian packages that give clang a wasm32-wasi target with a libc.
pub const DEBIAN_PACKAGES: &[&str] = &[
    "clang-22",
    "lld-22",
    "wasi-libc",
    "libclang-rt-22-dev-wasm32",
];

/// A C compiler for `wasm32-wasi` and the flags it needs.
#[derive(Debug, Clone)]
pub struct CCompiler {
    clang: PathBuf,
    flags: Vec<String>,
}

impl CCompiler {
    /// A wasi-sdk at `$WASI_SDK_PATH`, else Debian's clang-22 with wasi-libc.
    pub fn find() -> Result<Self> {
        if let Some(sdk) = std::env::var_os("WASI_SDK_PATH") {
            let sdk = PathBuf::from(sdk);
            return Ok(Self {
                clang: sdk.join("bin/clang"),
                flags: vec![
                    "--target=wasm32-wasip1".to_owned(),
                    format!("--sysroot={}", sdk.join("share/wasi-sysroot").display()),
                ],
            });
        }
        if !Self::debian_ready() {
            return Err(ToolchainError::Missing {
                what: "a C compiler for wasm32-wasi".to_owned(),
                install: format!(
                    "a wasi-sdk (https://github.com/WebAssembly/wasi-sdk) with WASI_SDK_PATH set to \
                     it, or on Debian, as root: apt-get install -y {}",
                    DEBIAN_PACKAGES.join(" ")
                ),
            });
        }
        Ok(Self {
            clang: "/usr/bin/clang-22".into(),
            // Debian's wasi-libc lays its headers out for the older `wasm32-wasi` triple, which
            // clang 22 calls deprecated.
            flags: vec![
                "--target=wasm32-wasi".to_owned(),
                "-Wno-deprecated".to_owned(),
                "-fuse-ld=/usr/lib/llvm-22/bin/wasm-ld".to_owned(),
            ],
        })
    }

    /// Whether Debian's clang and wasi-libc are installed.
    pub fn debian_ready() -> bool {
        Path::new("/usr/bin/clang-22").exists() && Path::new("/usr/lib/wasm32-wasi/libc.a").exists()
    }

    /// A clang command with the target's flags, to which sources and options are added.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.clang);
        command.args(&self.flags);
        command
    }
}
