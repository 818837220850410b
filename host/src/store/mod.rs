//! What each plugin instance's store holds ([`state`]): its WASI context, its resource table, the
//! state of its limits, and the application's own per-plugin state. Everything a call needs from
//! the store lives below this module: the limits and their limiter, deadlines through host calls,
//! the output budget, and what a call ended with.

pub(crate) mod building;
pub(crate) mod deadline;
pub(crate) mod limiter;
pub(crate) mod limits;
pub(crate) mod metering;
pub(crate) mod outcome;
pub(crate) mod output;
pub(crate) mod state;

pub use state::{PluginState, Settings};
