//! Capturing the host's log during a test.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Collects formatted log output in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` with a log subscriber on this thread and returns what was logged, and `f`'s result.
pub fn capture_logs<R>(f: impl FnOnce() -> R) -> (String, R) {
    capture_spans(tracing::Level::INFO, f)
}

/// Like [`capture_logs`], at `level`, with a line for every span closed (its fields, and how long
/// it was busy).
pub fn capture_spans<R>(level: tracing::Level, f: impl FnOnce() -> R) -> (String, R) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(level)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    let log = String::from_utf8(captured.0.lock().expect("log buffer").clone()).expect("utf-8");
    (log, result)
}
