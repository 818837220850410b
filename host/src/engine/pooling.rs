//! The pooling instance allocator: slots for instances, memories and tables reserved once and
//! reused, so that making an instance costs no `mmap`/`munmap` and scales across threads.
//!
//! Tuned for a fresh instance per call, as measured on this project's machines (docs/performance.md):
//! decommitting freed memory in batches (`decommit_batch_size`) saves most of the TLB-shootdown
//! interrupts that make `madvise` expensive with several threads, and initialising memory by
//! copying its data segments instead of mapping a copy-on-write image saves the page faults that a
//! small guest pays on every instance. Guests with megabytes of data segments (language runtimes)
//! may instantiate faster with copy-on-write images: see [`Pooling::copy_on_write`]. Where the
//! kernel can report which pages were written (Linux 6.7 and later: the `PAGEMAP_SCAN` ioctl), the
//! pages an instance wrote are reset in place and stay resident, so that the next instance in the
//! slot takes no page faults and no `madvise` is needed: see [`Pooling::keep_resident`].

use wasmtime::{Enabled, InstanceAllocationStrategy, PoolingAllocationConfig};

/// The pool's memory slots by default: the default memory limit of a plugin, 256 MiB.
const DEFAULT_MAX_MEMORY: usize = 256 << 20;

/// The pool's table slots by default: the default table limit of a plugin, 100 000 elements.
const DEFAULT_MAX_TABLE_ELEMENTS: usize = 100_000;

/// How many freed memory slots are decommitted together by default: 64.
pub(crate) const DEFAULT_DECOMMIT_BATCH: usize = 64;

/// How many written bytes of a freed memory or table slot are reset in place and kept resident by
/// default, where the kernel supports it: 64 KiB.
pub(crate) const DEFAULT_KEEP_RESIDENT: usize = 64 << 10;

/// The pooling allocator's configuration (see [`EngineBuilder::pooling`]).
///
/// Every slot is reserved when the engine is built: `instances × memories_per_instance` memory
/// slots, each reserving wasmtime's linear-memory reservation (4 GiB plus guard pages on 64-bit
/// hosts) of *virtual* address space, none of it committed until used. A plugin whose memory limit
/// exceeds [`max_memory`](Self::max_memory) is refused at load; an instantiation finding the pool
/// full fails with [`Error::Exhausted`](crate::Error::Exhausted).
///
/// [`EngineBuilder::pooling`]: crate::EngineBuilder::pooling
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pooling {
    instances: u32,
    core_instances_per_instance: u32,
    memories_per_instance: u32,
    tables_per_instance: u32,
    max_memory: usize,
    table_elements: usize,
    decommit_batch: usize,
    copy_on_write: bool,
    keep_resident: usize,
}

impl Default for Pooling {
    fn default() -> Self {
        Self {
            instances: 100,
            core_instances_per_instance: 32,
            memories_per_instance: 2,
            tables_per_instance: 8,
            max_memory: DEFAULT_MAX_MEMORY,
            table_elements: DEFAULT_MAX_TABLE_ELEMENTS,
            decommit_batch: DEFAULT_DECOMMIT_BATCH,
            copy_on_write: false,
            keep_resident: DEFAULT_KEEP_RESIDENT,
        }
    }
}

impl Pooling {
    /// The defaults: 100 live instances at once, each with up to 32 core instances, 2 memories
    /// of up to 256 MiB (the default memory limit) and 8 tables of up to 100 000 elements;
    /// freed memory decommitted 64 slots at a time; memory initialised by copying; up to 64 KiB
    /// of written pages per slot reset in place where the kernel supports it.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many plugin instances may be alive at once, across every plugin of the engine.
    pub fn instances(mut self, instances: u32) -> Self {
        self.instances = instances;
        self
    }

    /// The most core module instances one plugin instance may have (a Rust or C component has a
    /// few; a Python one built by componentize-py has more).
    pub fn core_instances_per_instance(mut self, count: u32) -> Self {
        self.core_instances_per_instance = count;
        self
    }

    /// The most linear memories one plugin instance may have, and the number of memory slots
    /// reserved per instance.
    pub fn memories_per_instance(mut self, count: u32) -> Self {
        self.memories_per_instance = count;
        self
    }

    /// The most tables one plugin instance may have, and the number of table slots reserved per
    /// instance.
    pub fn tables_per_instance(mut self, count: u32) -> Self {
        self.tables_per_instance = count;
        self
    }

    /// The largest a linear memory may grow, in bytes: at least the memory limit of every
    /// plugin the engine runs.
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.max_memory = bytes;
        self
    }

    /// The most elements a table may hold.
    pub fn table_elements(mut self, elements: usize) -> Self {
        self.table_elements = elements;
        self
    }

    /// How many freed memory slots are decommitted together (1 decommits each at once). Larger
    /// batches cost fewer system calls and interrupts, and keep a little more memory committed.
    /// Defaults to 64.
    pub fn decommit_batch(mut self, slots: usize) -> Self {
        self.decommit_batch = slots.max(1);
        self
    }

    /// Whether linear memories are initialised from copy-on-write images of their data
    /// segments (mapped, then faulted in page by page) rather than by copying the segments in.
    /// Off by default: for plugins with small data segments, copying is faster and scales
    /// better; turn it on for plugins with megabytes of data (Python, JavaScript runtimes).
    pub fn copy_on_write(mut self, enable: bool) -> Self {
        self.copy_on_write = enable;
        self
    }

    /// How many bytes of the pages an instance wrote to each memory and table slot are reset in
    /// place when the slot is freed, and kept resident for the next instance, rather than handed
    /// back to the system (64 KiB by default; 0 decommits every written page).
    ///
    /// Only where the kernel reports which pages were written (Linux 6.7 and later, the
    /// `PAGEMAP_SCAN` ioctl): there the next instance in the slot takes no page faults for those
    /// pages, and a slot whose written pages all fit needs no `madvise` (measured here: 1.5x the
    /// instances per second on one thread, 1.5x on two). Elsewhere this setting is ignored,
    /// because resetting without knowing which pages were written means clearing all of them.
    /// Each slot keeps at most this much memory resident while idle. Defaults to 64 KiB.
    pub fn keep_resident(mut self, bytes: usize) -> Self {
        self.keep_resident = bytes;
        self
    }

    /// The largest a linear memory may grow under this pool.
    pub(crate) fn memory_limit(&self) -> usize {
        self.max_memory
    }

    /// The largest a table may grow under this pool.
    pub(crate) fn table_limit(&self) -> usize {
        self.table_elements
    }

    /// Configures `config` for this pool.
    pub(crate) fn apply(&self, config: &mut wasmtime::Config) {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(self.instances)
            .total_core_instances(
                self.instances
                    .saturating_mul(self.core_instances_per_instance),
            )
            .max_core_instances_per_component(self.core_instances_per_instance)
            .total_memories(self.instances.saturating_mul(self.memories_per_instance))
            .max_memories_per_component(self.memories_per_instance)
            .max_memories_per_module(self.memories_per_instance)
            .total_tables(self.instances.saturating_mul(self.tables_per_instance))
            .max_tables_per_component(self.tables_per_instance)
            .max_tables_per_module(self.tables_per_instance)
            .max_memory_size(self.max_memory)
            .table_elements(self.table_elements)
            .decommit_batch_size(self.decommit_batch);
        if self.keep_resident > 0 && PoolingAllocationConfig::is_pagemap_scan_available() {
            pool.pagemap_scan(Enabled::Yes)
                .linear_memory_keep_resident(self.keep_resident)
                .table_keep_resident(self.keep_resident);
        }
        config
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .memory_init_cow(self.copy_on_write);
    }
}
