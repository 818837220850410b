//! Events about plugins that the application can subscribe to: one channel per subscriber, fed by
//! the host.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Something that happened to a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PluginEvent {
    /// A plugin was loaded (by a watcher).
    Loaded {
        /// The plugin's name.
        plugin: String,
        /// The SHA-256 of its component, in hex.
        sha256: String,
    },
    /// A new version of a plugin replaced the old one.
    Reloaded {
        /// The plugin's name.
        plugin: String,
        /// The SHA-256 of the old version, in hex.
        old_sha256: String,
        /// The SHA-256 of the new version, in hex.
        new_sha256: String,
        /// How long reading, checking and compiling the new version took.
        took: Duration,
    },
    /// A new version could not be loaded; the old one keeps serving.
    ReloadFailed {
        /// The plugin's name.
        plugin: String,
        /// Why.
        error: String,
    },
    /// A plugin was unloaded (its file went away); calls under way finished first.
    Unloaded {
        /// The plugin's name.
        plugin: String,
    },
    /// The plugin failed too often in too short a time and refuses calls until `cooldown` has
    /// passed.
    Quarantined {
        /// The plugin's name.
        plugin: String,
        /// How many failures it had within the window.
        failures: u32,
        /// How long it refuses calls.
        cooldown: Duration,
        /// The error that tipped it over.
        last_error: String,
    },
}

/// The subscribers of one host. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct EventBus {
    subscribers: Arc<Mutex<Vec<Sender<PluginEvent>>>>,
}

impl EventBus {
    pub(crate) fn subscribe(&self) -> Receiver<PluginEvent> {
        let (sender, receiver) = channel();
        self.lock().push(sender);
        receiver
    }

    /// Sends `event` to every subscriber still listening, and forgets the others.
    pub(crate) fn emit(&self, event: PluginEvent) {
        self.lock()
            .retain(|subscriber| subscriber.send(event.clone()).is_ok());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Sender<PluginEvent>>> {
        // A subscriber list is valid whatever a panicking thread left in it.
        self.subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subscriber_gets_each_event_and_gone_ones_are_dropped() {
        let bus = EventBus::default();
        let first = bus.subscribe();
        let second = bus.subscribe();
        drop(second);
        let event = PluginEvent::Quarantined {
            plugin: "p".into(),
            failures: 3,
            cooldown: Duration::from_secs(1),
            last_error: "trap".into(),
        };
        bus.emit(event.clone());
        assert_eq!(first.try_recv(), Ok(event));
        assert_eq!(bus.lock().len(), 1);
    }
}
