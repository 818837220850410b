//! What `cargo xtask bench` measures, side by side: the same plugin called through Componentry,
//! through wasmtime by hand (the limit for this design), through Extism, and its computation run
//! natively. `src/main.rs` prints the table; `benches/calls.rs` has the call overheads as
//! criterion benchmarks.

pub mod asynchrony;
pub mod measure;
pub mod serving;
pub mod workloads;
