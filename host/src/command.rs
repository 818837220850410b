//! Running a `wasi:cli/command` component's `run` export, as `wasmtime run` does.

use wasmtime_wasi::p2::bindings::sync::CommandPre;

use crate::error::{Error, Result};
use crate::limits;
use crate::plugin::Plugin;

impl<T: Send + 'static> Plugin<T> {
    /// Runs the plugin as a command: calls its `wasi:cli/run` export on a fresh instance.
    ///
    /// The arguments it sees are the ones granted (see [`Grants::args`](crate::Grants::args)).
    /// Returns `Ok(())` for success and [`Error::Exit`] for a failure status (`run` returning an
    /// error is status 1, `exit(n)` is status `n`).
    pub fn run_command(&self) -> Result<()> {
        self.require_mode(false)?;
        let pre = CommandPre::new(self.pre()).map_err(|e| Error::Incompatible {
            plugin: self.name().to_owned(),
            reason: format!("not a command (it does not export wasi:cli/run): {e:#}"),
        })?;
        let mut store = self.new_store()?;
        self.guard(|| {
            let outcome = pre
                .instantiate(&mut store)
                .and_then(|command| command.wasi_cli_run().call_run(&mut store));
            if outcome.is_ok() {
                limits::settle(&mut store);
            }
            match outcome {
                Ok(Ok(())) => Ok(()),
                Ok(Err(())) => Err(Error::Exit {
                    plugin: self.name().to_owned(),
                    status: 1,
                }),
                Err(e) => match limits::classify(&mut store, self.name(), "wasi:cli/run#run", e) {
                    Error::Exit { status: 0, .. } => Ok(()),
                    other => Err(other),
                },
            }
        })
    }
}
