//! Finding plugins on disk ([`PluginDir`]): loading a directory of them once or following it as
//! it changes. Both read each entry through the one load pipeline ([`PluginSource`]: bytes read
//! once, manifest, hash, policy, options), and a reload goes through it again, so what a plugin
//! gets never depends on how it was found or how often it changed.
//!
//! An entry is either a component file (`NAME.wasm`, or `NAME.wat` in the text format), or a
//! plugin directory holding a `plugin.toml` and the one component it describes; each is read by
//! [`PluginSource`]. Entries whose names start with `.` are skipped.

mod directory;
mod plugin_dir;
mod source;
mod watch;

pub use directory::{LoadOutcome, LoadReport};
pub use plugin_dir::PluginDir;
pub use source::PluginSource;
pub use watch::Watcher;
