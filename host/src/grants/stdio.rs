//! Standard streams: stdin closed or inherited; stdout and stderr into the host's log (tagged with
//! the plugin's name, capped), inherited, or discarded.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde::Deserialize;
use tokio::io::AsyncWrite;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Where a plugin's stdout or stderr goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Output {
    /// Into the host's `tracing` log, a line at a time, tagged with the plugin's name. The default.
    #[default]
    Log,
    /// Written to the host process's own stream.
    Inherit,
    /// Dropped.
    Discard,
}

/// The default cap on bytes of one stream captured into the log, per instance: 1 MiB.
pub const DEFAULT_LOG_CAP: usize = 1 << 20;

/// Which standard stream a log sink stands for.
#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

pub(crate) fn apply(
    builder: &mut WasiCtxBuilder,
    plugin: &Arc<str>,
    inherit_stdin: bool,
    stdout: Output,
    stderr: Output,
    cap: usize,
) {
    if inherit_stdin {
        builder.inherit_stdin();
    }
    match stdout {
        Output::Log => {
            builder.stdout(LogSink::new(plugin.clone(), Stream::Stdout, cap));
        }
        Output::Inherit => {
            builder.inherit_stdout();
        }
        Output::Discard => {}
    }
    match stderr {
        Output::Log => {
            builder.stderr(LogSink::new(plugin.clone(), Stream::Stderr, cap));
        }
        Output::Inherit => {
            builder.inherit_stderr();
        }
        Output::Discard => {}
    }
}

/// A stream whose lines go to the host's log.
#[derive(Clone)]
struct LogSink {
    plugin: Arc<str>,
    stream: Stream,
    cap: usize,
}

impl LogSink {
    fn new(plugin: Arc<str>, stream: Stream, cap: usize) -> Self {
        Self {
            plugin,
            stream,
            cap,
        }
    }
}

impl IsTerminal for LogSink {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogSink {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter::new(self.clone()))
    }

    // Written synchronously on the calling thread (not through a background task), so the log
    // lines belong to the call that produced them.
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(LineWriter::new(self.clone()))
    }
}

/// Buffers partial lines and logs whole ones, until the cap is reached.
struct LineWriter {
    sink: LogSink,
    pending: Vec<u8>,
    logged: usize,
    truncated: bool,
}

impl LineWriter {
    fn new(sink: LogSink) -> Self {
        Self {
            sink,
            pending: Vec::new(),
            logged: 0,
            truncated: false,
        }
    }

    fn push(&mut self, buf: &[u8]) {
        for chunk in buf.split_inclusive(|b| *b == b'\n') {
            self.pending.extend_from_slice(chunk);
            if chunk.ends_with(b"\n") {
                self.flush_pending();
            }
        }
        // A plugin that never ends a line still cannot grow the buffer without bound.
        if self.pending.len() >= 64 * 1024 {
            self.flush_pending();
        }
    }

    fn emit(&mut self, line: &[u8]) {
        if self.logged >= self.sink.cap {
            if !self.truncated {
                self.truncated = true;
                tracing::warn!(
                    target: crate::LOG_TARGET,
                    plugin = &*self.sink.plugin,
                    stream = self.sink.stream.name(),
                    "output cap of {} bytes reached; further output is dropped",
                    self.sink.cap
                );
            }
            return;
        }
        self.logged += line.len();
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\n', '\r']);
        match self.sink.stream {
            Stream::Stdout => {
                tracing::info!(target: crate::LOG_TARGET, plugin = &*self.sink.plugin, stream = "stdout", "{text}")
            }
            Stream::Stderr => {
                tracing::warn!(target: crate::LOG_TARGET, plugin = &*self.sink.plugin, stream = "stderr", "{text}")
            }
        }
    }

    fn flush_pending(&mut self) {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line);
        }
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.get_mut().push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get_mut().flush_pending();
        Poll::Ready(Ok(()))
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for LineWriter {
    async fn ready(&mut self) {}
}

impl OutputStream for LineWriter {
    fn write(&mut self, bytes: wasmtime_wasi_io::bytes::Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        self.flush_pending();
    }
}
