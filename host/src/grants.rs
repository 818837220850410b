//! What a plugin is allowed to reach. Everything is denied unless granted here.
//!
//! The defaults grant nothing: no arguments, no environment, stdin closed, stdout and stderr
//! discarded, no filesystem, no network. (Clocks and randomness are available to every plugin.)

use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

/// Where a plugin's stdout or stderr goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Dropped. The default.
    #[default]
    Discard,
    /// Written to the host process's own stream.
    Inherit,
}

/// The capabilities granted to one plugin. Defaults to nothing at all.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    args: Vec<String>,
    env: Vec<(String, String)>,
    inherit_stdin: bool,
    stdout: Output,
    stderr: Output,
}

impl Grants {
    /// No capabilities (the default).
    pub fn none() -> Self {
        Self::default()
    }

    /// The plugin's arguments (`wasi:cli/environment.get-arguments`). Defaults to none.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the environment variable `name` to `value` for the plugin. Defaults to no variables.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Lets the plugin read the host's stdin. Defaults to `false` (stdin is closed).
    pub fn inherit_stdin(mut self, inherit: bool) -> Self {
        self.inherit_stdin = inherit;
        self
    }

    /// Where the plugin's stdout goes. Defaults to [`Output::Discard`].
    pub fn stdout(mut self, output: Output) -> Self {
        self.stdout = output;
        self
    }

    /// Where the plugin's stderr goes. Defaults to [`Output::Discard`].
    pub fn stderr(mut self, output: Output) -> Self {
        self.stderr = output;
        self
    }

    /// The WASI context that gives a plugin exactly these grants.
    pub(crate) fn wasi_ctx(&self) -> WasiCtx {
        let mut builder = WasiCtxBuilder::new();
        builder.args(&self.args).envs(&self.env);
        if self.inherit_stdin {
            builder.inherit_stdin();
        }
        if self.stdout == Output::Inherit {
            builder.inherit_stdout();
        }
        if self.stderr == Output::Inherit {
            builder.inherit_stderr();
        }
        builder.build()
    }
}
