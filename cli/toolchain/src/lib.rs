//! Finding and driving the toolchains that build WebAssembly components from each language's
//! sources: Rust ([`rust`]: the `wasm32-wasip2` target, or Debian's offline route), C ([`c`]:
//! clang with wasi-libc, then [`componentize`] with the preview1 adapter), Python and JavaScript
//! ([`tools`]: componentize-py, componentize-js).
//!
//! Shared by the `componentry` CLI (`componentry build`) and the repository's build automation.
//! Nothing here installs anything: a missing tool is a [`ToolchainError::Missing`] naming the
//! command that installs it.
#![deny(missing_docs)]

pub mod c;
pub mod componentize;
pub mod rust;
pub mod tools;

/// Why a toolchain cannot do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolchainError {
    /// A tool is not installed.
    #[error("{what} was not found; install it with: {install}")]
    Missing {
        /// The tool, for people: `componentize-py`, `a C compiler for wasm32-wasi`.
        what: String,
        /// The command (or commands) that install it.
        install: String,
    },
    /// A tool ran and failed.
    #[error("{what} failed: {detail}")]
    Failed {
        /// What was run.
        what: String,
        /// Its status, or what went wrong.
        detail: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
}

/// A `Result` whose error is [`ToolchainError`].
pub type Result<T, E = ToolchainError> = std::result::Result<T, E>;

/// Runs `command` and returns its stdout, or `None` when it cannot run or fails.
pub(crate) fn output(command: &mut std::process::Command) -> Option<String> {
    let out = command.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
