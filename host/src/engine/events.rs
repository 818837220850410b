//! Events about plugins that the application can subscribe to: one channel per subscriber, fed by
//! the host.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
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

/// How many events a subscriber's channel holds before newer ones are dropped for it: a
/// subscriber that stops reading costs the host a bounded amount of memory, never a blocked emit.
pub(crate) const EVENT_BACKLOG: usize = 1024;

/// One subscriber's end of the bus.
enum Subscriber {
    Blocking(SyncSender<PluginEvent>),
    #[cfg(feature = "async")]
    Async(tokio::sync::mpsc::Sender<PluginEvent>),
}

impl Subscriber {
    /// Offers `event` without waiting; false once the subscriber has gone away. A full channel
    /// drops the event for this subscriber (with a warning) and keeps it subscribed.
    fn offer(&self, event: &PluginEvent) -> bool {
        let full = match self {
            Subscriber::Blocking(sender) => match sender.try_send(event.clone()) {
                Ok(()) => false,
                Err(TrySendError::Full(_)) => true,
                Err(TrySendError::Disconnected(_)) => return false,
            },
            #[cfg(feature = "async")]
            Subscriber::Async(sender) => match sender.try_send(event.clone()) {
                Ok(()) => false,
                Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => true,
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => return false,
            },
        };
        if full {
            tracing::warn!(
                "an event subscriber is {EVENT_BACKLOG} events behind; dropped {event:?} for it"
            );
        }
        true
    }
}

/// The subscribers of one host. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct EventBus {
    subscribers: Arc<Mutex<Vec<Subscriber>>>,
}

impl EventBus {
    /// A new subscriber's channel, holding up to [`EVENT_BACKLOG`] unread events.
    pub(crate) fn subscribe(&self) -> Receiver<PluginEvent> {
        let (sender, receiver) = sync_channel(EVENT_BACKLOG);
        self.lock().push(Subscriber::Blocking(sender));
        receiver
    }

    /// A new subscriber's asynchronous channel, holding up to [`EVENT_BACKLOG`] unread events.
    #[cfg(feature = "async")]
    pub(crate) fn subscribe_async(&self) -> tokio::sync::mpsc::Receiver<PluginEvent> {
        let (sender, receiver) = tokio::sync::mpsc::channel(EVENT_BACKLOG);
        self.lock().push(Subscriber::Async(sender));
        receiver
    }

    /// Offers `event` to every subscriber still listening, and forgets the others. Never blocks.
    pub(crate) fn emit(&self, event: PluginEvent) {
        self.lock().retain(|subscriber| subscriber.offer(&event));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Subscriber>> {
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

    #[test]
    fn a_subscriber_that_stops_reading_costs_a_bounded_backlog() {
        let bus = EventBus::default();
        let stalled = bus.subscribe();
        for n in 0..EVENT_BACKLOG + 10 {
            bus.emit(PluginEvent::Unloaded {
                plugin: format!("p{n}"),
            });
        }
        assert_eq!(stalled.try_iter().count(), EVENT_BACKLOG);
        assert_eq!(bus.lock().len(), 1, "still subscribed");
        bus.emit(PluginEvent::Unloaded {
            plugin: "later".into(),
        });
        assert!(stalled.try_recv().is_ok(), "events flow again once read");
    }
}
