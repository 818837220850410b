//! The framework's own host interfaces (`wit/`), linked into every host: `componentry:plugin/log`,
//! whose messages go to the host's `tracing` log tagged with the plugin's name, and
//! `componentry:plugin/settings`, the plugin's settings from its manifest.

use wasmtime::component::{HasSelf, Linker};

use crate::store::PluginState;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "componentry:plugin/framework",
    });
}

use bindings::componentry::plugin::log::{self, Level};
use bindings::componentry::plugin::settings;

/// The framework's own WIT package, `componentry:plugin`: the interfaces every plugin may import
/// (`log`, `settings`), the one long-lived plugins may export (`state-handover`), and the
/// `greeter` world.
pub const FRAMEWORK_WIT: &str = include_str!("../../wit/plugin.wit");

pub use crate::store::output::LOG_TARGET;

impl<T: Send> log::Host for PluginState<T> {
    fn log(&mut self, level: Level, message: String) {
        let allowed = self
            .output_budget()
            .take(crate::store::output::Channel::Log, message.len());
        let mut end = allowed;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        if end == 0 && !message.is_empty() {
            return;
        }
        let message = crate::text::escape_untrusted(&message[..end]);
        let plugin = self.plugin_name();
        match level {
            Level::Trace => tracing::trace!(target: LOG_TARGET, plugin, "{message}"),
            Level::Debug => tracing::debug!(target: LOG_TARGET, plugin, "{message}"),
            Level::Info => tracing::info!(target: LOG_TARGET, plugin, "{message}"),
            Level::Warn => tracing::warn!(target: LOG_TARGET, plugin, "{message}"),
            Level::Error => tracing::error!(target: LOG_TARGET, plugin, "{message}"),
        }
    }
}

impl<T: Send> settings::Host for PluginState<T> {
    fn get(&mut self, key: String) -> Option<String> {
        self.settings.get(&key).cloned()
    }

    fn all(&mut self) -> Vec<(String, String)> {
        self.settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Adds the framework's interfaces to `linker`.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<PluginState<T>>,
) -> wasmtime::Result<()> {
    log::add_to_linker::<_, HasSelf<PluginState<T>>>(linker, |state| state)?;
    settings::add_to_linker::<_, HasSelf<PluginState<T>>>(linker, |state| state)
}

/// The framework's own interfaces: the host's log and the plugin's settings.
pub(crate) const UNIT: super::kind::Unit<()> = super::kind::Unit {
    name: "componentry:plugin",
    covers: &["componentry:plugin/"],
    describe: |_| {
        (
            true,
            "always available (the host's log, the plugin's settings)".to_owned(),
        )
    },
};
