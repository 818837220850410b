//! A loaded plugin: the handle ([`handle`]) to the current version of a plugin.
//!
//! Below the handle: its versions ([`version`]: compiled, linked, checked once), its instances
//! ([`instance`]: the one call path every call takes, through the plugin's [`gate`]), typed views ([`typed`]), many calls at once in one instance ([`concurrent`]), what is shared
//! with the other plugins of a host ([`shared`]), and the options it loads with ([`options`]).

pub(crate) mod async_values;
pub(crate) mod asyncness;
pub(crate) mod calls;
pub(crate) mod concurrent;
pub(crate) mod entered_export;
pub(crate) mod exports;
pub(crate) mod gate;
pub(crate) mod handle;
pub(crate) mod instance;
pub(crate) mod linking;
pub(crate) mod metrics;
pub(crate) mod options;
pub(crate) mod pool;
pub(crate) mod quarantine;
pub(crate) mod shared;
pub(crate) mod typed;
pub(crate) mod version;

pub use handle::{Plugin, ReloadOutcome};
pub use metrics::{LatencyHistogram, PluginStats};
