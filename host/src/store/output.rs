//! One instance's output budget: how many bytes the plugin may still make the host print or log
//! in the running call, per channel (stdout, stderr, the log interface), shared by every handle it
//! opens; and the last bytes of its stderr, which explain a trap.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The `tracing` target of what plugins log and print: the log interface's messages, and their
/// stdout and stderr where those go to the host's log.
pub const LOG_TARGET: &str = "componentry::plugin";

/// The default budget of bytes per channel and call: 1 MiB.
pub(crate) const DEFAULT_LOG_CAP: usize = 1 << 20;

/// The channels through which a plugin's bytes reach the host's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    Stdout,
    Stderr,
    Log,
}

impl Channel {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Channel::Stdout => "stdout",
            Channel::Stderr => "stderr",
            Channel::Log => "log",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One instance's output budget: bytes left per channel in the running call.
#[derive(Debug)]
pub(crate) struct OutputBudget {
    plugin: Arc<str>,
    cap: usize,
    used: [AtomicUsize; 3],
    warned: [AtomicBool; 3],
    /// Counts the calls, so that a partial line of one call is not joined to the next.
    pub(crate) call: AtomicUsize,
    /// The last bytes the plugin wrote to stderr in this call, wherever stderr goes: what a
    /// language runtime prints before it traps (a traceback, a panic message).
    stderr_tail: std::sync::Mutex<Vec<u8>>,
    /// Something was written in this call: the next reset has work to do.
    touched: AtomicBool,
}

/// How much of a call's stderr is kept for the error of a trap: 4 KiB.
pub(crate) const STDERR_TAIL: usize = 4096;

impl OutputBudget {
    pub(crate) fn new(plugin: Arc<str>, cap: usize) -> Arc<Self> {
        Arc::new(Self {
            plugin,
            cap,
            used: Default::default(),
            warned: Default::default(),
            call: AtomicUsize::new(0),
            stderr_tail: Default::default(),
            touched: AtomicBool::new(false),
        })
    }

    /// Takes up to `wanted` bytes of `channel`'s budget; returns how many may be written. Warns
    /// once per call when the budget runs out.
    pub(crate) fn take(&self, channel: Channel, wanted: usize) -> usize {
        self.touched.store(true, Ordering::Relaxed);
        let used = &self.used[channel.index()];
        let mut granted = 0;
        let _ = used.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |so_far| {
            granted = wanted.min(self.cap.saturating_sub(so_far));
            Some(so_far + granted)
        });
        if granted < wanted && !self.warned[channel.index()].swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: LOG_TARGET,
                plugin = &*self.plugin,
                stream = channel.name(),
                "output cap of {} bytes reached; further output of this call is dropped",
                self.cap
            );
        }
        granted
    }

    /// Starts a new call: every channel's budget is whole again.
    #[inline]
    pub(crate) fn reset(&self) {
        // Most calls write nothing: then there is nothing to reset (and no lock to take), and no
        // partial line of theirs to keep apart from the next call's. Reading first spares the
        // locked swap.
        if self.touched.load(Ordering::Relaxed) {
            self.reset_touched();
        }
    }

    fn reset_touched(&self) {
        if !self.touched.swap(false, Ordering::Relaxed) {
            return;
        }
        self.call.fetch_add(1, Ordering::Relaxed);
        self.tail().clear();
        for (used, warned) in self.used.iter().zip(&self.warned) {
            used.store(0, Ordering::Relaxed);
            warned.store(false, Ordering::Relaxed);
        }
    }

    pub(crate) fn plugin(&self) -> &str {
        &self.plugin
    }

    fn tail(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.stderr_tail
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps `bytes` written to `channel`, if it is stderr, among the last ones of the call.
    pub(crate) fn record(&self, channel: Channel, bytes: &[u8]) {
        if channel != Channel::Stderr {
            return;
        }
        self.touched.store(true, Ordering::Relaxed);
        let mut tail = self.tail();
        let bytes = &bytes[bytes.len().saturating_sub(STDERR_TAIL)..];
        let keep = STDERR_TAIL - bytes.len();
        let drop = tail.len().saturating_sub(keep);
        tail.drain(..drop);
        tail.extend_from_slice(bytes);
    }

    /// What the plugin wrote to stderr last in this call, if anything.
    pub(crate) fn stderr_tail(&self) -> Option<String> {
        let tail = self.tail();
        (!tail.is_empty()).then(|| String::from_utf8_lossy(&tail).into_owned())
    }
}

impl OutputBudget {
    /// Returns `bytes` taken but not used.
    pub(crate) fn give_back(&self, channel: Channel, bytes: usize) {
        if bytes > 0 {
            self.used[channel.index()].fetch_sub(bytes, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_exact_and_shared_by_every_handle() {
        let budget = OutputBudget::new("p".into(), 1024);
        assert_eq!(budget.take(Channel::Stdout, 5 << 20), 1024);
        assert_eq!(budget.take(Channel::Stdout, 1), 0);
        assert_eq!(
            budget.take(Channel::Stderr, 10),
            10,
            "channels are separate"
        );
        budget.reset();
        assert_eq!(budget.take(Channel::Stdout, 1000), 1000);
        assert_eq!(budget.take(Channel::Stdout, 1000), 24);
    }

    #[test]
    fn the_last_bytes_of_stderr_are_kept() {
        let budget = OutputBudget::new("p".into(), 10);
        budget.record(Channel::Stdout, b"not kept");
        assert_eq!(budget.stderr_tail(), None);
        budget.record(Channel::Stderr, &vec![b'a'; STDERR_TAIL]);
        budget.record(Channel::Stderr, b"Traceback: boom");
        let tail = budget.stderr_tail().expect("kept");
        assert_eq!(tail.len(), STDERR_TAIL);
        assert!(tail.ends_with("aTraceback: boom"));
        budget.reset();
        assert_eq!(budget.stderr_tail(), None);
    }
}
