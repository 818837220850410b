//! Bounds on what one plugin instance may consume: fuel and a wall-clock deadline per call, linear
//! memory, table elements, core instances and open handles per instance. A plugin that runs past
//! them is stopped with a typed error; the host goes on. (The [`Limiter`](super::limiter) enforces
//! them in each store.)

use std::time::Duration;

/// The default cap on the linear memory of one instance, all its memories together: 256 MiB.
pub(crate) const DEFAULT_MAX_MEMORY: usize = 256 << 20;
/// The default cap on the table elements of one instance, all its tables together: 100,000.
pub(crate) const DEFAULT_MAX_TABLE_ELEMENTS: usize = 100_000;
/// The default cap on core instances (and so on memories and tables) in one plugin instance: 100.
pub(crate) const DEFAULT_MAX_INSTANCES: usize = 100;
/// The default cap on the host resources one instance holds open at once (files, directories,
/// sockets, streams, pollables, HTTP requests and bodies, application resources): 1,024.
pub(crate) const DEFAULT_MAX_HANDLES: usize = 1024;
/// The default cap on the component model's own handles in one instance (resources the guest
/// makes, streams, futures, subtasks, waitable sets, error contexts): 10,000.
pub(crate) const DEFAULT_MAX_COMPONENT_HANDLES: usize = 10_000;
/// The default cap on the calls one instance runs at once
/// ([`PluginInstance::call_concurrent`](crate::PluginInstance::call_concurrent)): 16.
pub(crate) const DEFAULT_MAX_CONCURRENT_CALLS: usize = 16;

/// How much fuel an asynchronous call burns between yields to the executor: 100,000 units.
pub(crate) const ASYNC_YIELD_FUEL: u64 = 100_000;

/// Limits of one plugin. Memory, tables and instances are always capped (each setter says
/// its default); fuel and the deadline are off unless set, since checking them costs time in every
/// plugin the engine compiles (see [`EngineBuilder::fuel`](crate::EngineBuilder::fuel) and
/// [`EngineBuilder::epoch_interruption`](crate::EngineBuilder::epoch_interruption)).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(from = "LimitsToml")]
pub struct Limits {
    pub(crate) fuel: Option<u64>,
    pub(crate) lifetime_fuel: Option<u64>,
    pub(crate) deadline: Option<Duration>,
    pub(crate) max_memory: usize,
    pub(crate) max_table_elements: usize,
    pub(crate) max_instances: usize,
    pub(crate) max_handles: usize,
    pub(crate) max_component_handles: usize,
    pub(crate) max_concurrent_calls: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: None,
            lifetime_fuel: None,
            deadline: None,
            max_memory: DEFAULT_MAX_MEMORY,
            max_table_elements: DEFAULT_MAX_TABLE_ELEMENTS,
            max_instances: DEFAULT_MAX_INSTANCES,
            max_handles: DEFAULT_MAX_HANDLES,
            max_component_handles: DEFAULT_MAX_COMPONENT_HANDLES,
            max_concurrent_calls: DEFAULT_MAX_CONCURRENT_CALLS,
        }
    }
}

impl Limits {
    /// The defaults: no fuel budget, no deadline, the default caps.
    pub fn new() -> Self {
        Self::default()
    }

    /// Units of fuel each call may burn (roughly one per wasm instruction), refilled before every
    /// call. Defaults to unlimited. Needs an engine built with fuel on.
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.fuel = Some(fuel);
        self
    }

    /// Units of fuel the plugin may burn over its whole life, across all calls and instances;
    /// once spent, every call fails with [`Error::FuelExhausted`](crate::Error::FuelExhausted). Defaults to unlimited. Needs an
    /// engine built with fuel on.
    pub fn lifetime_fuel(mut self, fuel: u64) -> Self {
        self.lifetime_fuel = Some(fuel);
        self
    }

    /// The wall-clock time each call may take; a call still running after it (and at most one
    /// ticker period more) is stopped. Defaults to none. Needs an engine built with epoch
    /// interruption on.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The most linear memory, in bytes, one instance may have, all its memories together.
    /// Defaults to 256 MiB.
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.max_memory = bytes;
        self
    }

    /// The most table elements one instance may have, all its tables together. Defaults to
    /// 100,000.
    pub fn max_table_elements(mut self, elements: usize) -> Self {
        self.max_table_elements = elements;
        self
    }

    /// The most core instances one plugin instance may create. Defaults to
    /// 100.
    pub fn max_instances(mut self, instances: usize) -> Self {
        self.max_instances = instances;
        self
    }

    /// The most host resources one instance may hold open at once: files, directories, sockets,
    /// streams, pollables, HTTP requests and bodies, and the application's own resources (every
    /// entry of the instance's resource table). Past it, the WASI call that would open one more
    /// traps, the call fails with [`crate::Error::HandleLimit`], and the refusal is logged once.
    /// Defaults to 1024.
    pub fn max_handles(mut self, handles: usize) -> Self {
        self.max_handles = handles;
        self
    }

    /// The most of the component model's own handles one instance may hold at once: resources
    /// the guest makes (`resource.new`) and the host's resources it was handed, the two ends
    /// of each stream and future, subtasks (async calls it started and has not seen end),
    /// waitable sets and error contexts. A guest makes these without calling the host, so this
    /// is what bounds the host memory an async plugin can make the host spend on them. Past it,
    /// the guest traps, the call fails with [`crate::Error::ComponentHandleLimit`], and the
    /// instance takes no more calls. Defaults to 10,000.
    pub fn max_component_handles(mut self, handles: usize) -> Self {
        self.max_component_handles = handles;
        self
    }

    /// The most calls one instance runs at once in
    /// [`PluginInstance::call_concurrent`](crate::PluginInstance::call_concurrent); the calls
    /// past it wait for one under way to end. At least 1. Defaults to 16.
    pub fn max_concurrent_calls(mut self, calls: usize) -> Self {
        self.max_concurrent_calls = calls.max(1);
        self
    }

    /// The cap on the component model's handles, as
    /// [`max_component_handles`](Self::max_component_handles) set it.
    pub fn get_max_component_handles(&self) -> usize {
        self.max_component_handles
    }

    /// The cap on calls at once in one instance, as
    /// [`max_concurrent_calls`](Self::max_concurrent_calls) set it.
    pub fn get_max_concurrent_calls(&self) -> usize {
        self.max_concurrent_calls
    }

    /// The cap on open host resources, as [`max_handles`](Self::max_handles) set it.
    pub fn get_max_handles(&self) -> usize {
        self.max_handles
    }

    /// The cap on linear memory, in bytes, as [`max_memory`](Self::max_memory) set it.
    pub fn get_max_memory(&self) -> usize {
        self.max_memory
    }

    /// The fuel budget of a call, if any, as [`fuel`](Self::fuel) set it.
    pub fn get_fuel(&self) -> Option<u64> {
        self.fuel
    }

    /// The fuel budget of the plugin's whole life, if any, as
    /// [`lifetime_fuel`](Self::lifetime_fuel) set it.
    pub fn get_lifetime_fuel(&self) -> Option<u64> {
        self.lifetime_fuel
    }

    /// The deadline of a call, if any, as [`deadline`](Self::deadline) set it.
    pub fn get_deadline(&self) -> Option<Duration> {
        self.deadline
    }
}

/// The TOML form of [`Limits`], in the vocabulary policies and the CLI's flags use:
/// `fuel`, `lifetime-fuel`, `timeout-ms`, `max-memory`, `max-table-elements`, `max-instances`,
/// `max-handles`, `max-component-handles`, `max-concurrent-calls`; each optional.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct LimitsToml {
    pub(crate) fuel: Option<u64>,
    pub(crate) lifetime_fuel: Option<u64>,
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) max_memory: Option<usize>,
    pub(crate) max_table_elements: Option<usize>,
    pub(crate) max_instances: Option<usize>,
    pub(crate) max_handles: Option<usize>,
    pub(crate) max_component_handles: Option<usize>,
    pub(crate) max_concurrent_calls: Option<usize>,
}

impl From<LimitsToml> for Limits {
    fn from(table: LimitsToml) -> Self {
        let mut limits = Limits::new();
        if let Some(fuel) = table.fuel {
            limits = limits.fuel(fuel);
        }
        if let Some(fuel) = table.lifetime_fuel {
            limits = limits.lifetime_fuel(fuel);
        }
        if let Some(ms) = table.timeout_ms {
            limits = limits.deadline(Duration::from_millis(ms));
        }
        if let Some(bytes) = table.max_memory {
            limits = limits.max_memory(bytes);
        }
        if let Some(elements) = table.max_table_elements {
            limits = limits.max_table_elements(elements);
        }
        if let Some(instances) = table.max_instances {
            limits = limits.max_instances(instances);
        }
        if let Some(handles) = table.max_handles {
            limits = limits.max_handles(handles);
        }
        if let Some(handles) = table.max_component_handles {
            limits = limits.max_component_handles(handles);
        }
        if let Some(calls) = table.max_concurrent_calls {
            limits = limits.max_concurrent_calls(calls);
        }
        limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_and_tables_are_capped_by_default() {
        let limits = Limits::default();
        assert_eq!(limits.max_memory, DEFAULT_MAX_MEMORY);
        assert_eq!(limits.get_fuel(), None);
        assert_eq!(limits.get_deadline(), None);
    }

    #[test]
    fn the_default_pool_holds_a_plugin_with_the_default_limits() {
        let pool = crate::engine::pooling::Pooling::new();
        assert_eq!(pool.memory_limit(), DEFAULT_MAX_MEMORY);
        assert_eq!(pool.table_limit(), DEFAULT_MAX_TABLE_ELEMENTS);
    }
}
