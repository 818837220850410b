//! A plugin's grants made ready for its instances: checked and prepared once per load (names
//! looked up, directories opened once to report a bad grant at load), then wired into each
//! instance's WASI context.

use std::sync::Arc;

use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use super::kind::Wiring;
use super::registry::{Grants, Ready};
use crate::error::Result;
use crate::store::output::OutputBudget;

/// A plugin's grants, ready for its instances.
pub(crate) struct PreparedGrants {
    plugin: Arc<str>,
    grants: Grants,
    ready: Ready,
}

impl PreparedGrants {
    /// Prepares `grants` for `plugin`: each kind readies what it needs, and a first WASI context
    /// is made, so that a directory that cannot be opened is reported now, not at the first call.
    pub(crate) fn new(plugin: &Arc<str>, grants: Grants) -> Result<Self> {
        let ready = grants.prepare_each(plugin)?;
        let prepared = Self {
            plugin: plugin.clone(),
            grants,
            ready,
        };
        prepared.wasi_ctx(&OutputBudget::new(plugin.clone(), 0))?;
        Ok(prepared)
    }

    /// The grants.
    pub(crate) fn grants(&self) -> &Grants {
        &self.grants
    }

    /// Whether the plugin runs deterministically.
    pub(crate) fn deterministic(&self) -> bool {
        self.grants.deterministic_seed().is_some()
    }

    /// The hooks that hold one instance's outbound HTTP to these grants.
    pub(crate) fn http_hooks(&self) -> Box<dyn wasmtime_wasi_http::WasiHttpHooks + Send> {
        self.grants.http.hooks(&self.plugin)
    }

    /// The WASI context that gives one instance exactly these grants.
    pub(crate) fn wasi_ctx(&self, budget: &Arc<OutputBudget>) -> Result<WasiCtx> {
        let mut builder = WasiCtxBuilder::new();
        self.grants.wire_each(
            &self.ready,
            &mut Wiring {
                builder: &mut builder,
                plugin: &self.plugin,
                budget,
            },
        )?;
        Ok(builder.build())
    }
}
