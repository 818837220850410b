//! Standard streams: stdin closed or inherited; stdout and stderr into the host's log (tagged with
//! the plugin's name), inherited, or discarded.
//!
//! Every byte a plugin can make the host print or log is bounded: each instance has one budget of
//! `output-cap` bytes per channel (stdout, stderr and the `componentry:plugin/log` interface) for
//! each call, shared by every handle the plugin opens to that channel, and the bytes beyond it
//! are dropped with one warning. Text logged on a plugin's behalf has its control characters
//! escaped, so a plugin cannot forge lines of the host's log.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use serde::Deserialize;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use super::kind::{Kind, Takes, Unit, Wiring, Word, switch};
use crate::error::{Error, Result};
use crate::store::output::{Channel, DEFAULT_LOG_CAP, OutputBudget};
use crate::text::escape_untrusted;

/// Where a plugin's stdout or stderr goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Output {
    /// Dropped.
    Discard,
    /// Into the host's `tracing` log, a line at a time, tagged with the plugin's name. The default.
    #[default]
    Log,
    /// Written to the host process's own stream a line at a time, each line prefixed with
    /// `[PLUGIN] ` and its control characters escaped (capped like the log): a plugin's output
    /// stays apart from the host's own lines (which never start with `[`) and cannot act on a
    /// terminal. What `componentry watch` and `serve` give their plugins.
    Prefixed,
    /// Written to the host process's own stream (capped like the log, but not escaped: what the
    /// plugin writes is what the stream receives).
    Inherit,
}

impl Output {
    /// The grant's word for it: `discard`, `log` or `inherit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Output::Discard => "discard",
            Output::Log => "log",
            Output::Prefixed => "prefixed",
            Output::Inherit => "inherit",
        }
    }

    /// What a plugin that asks for `self` gets when the policy allows `allowed` (or states
    /// nothing): the policy's setting where it has one, else the request up to the default.
    pub(crate) fn granted_by(self, allowed: Option<Output>) -> Output {
        allowed.unwrap_or(self.min(Output::Log))
    }
}

/// What a plugin's standard streams are granted: stdin inherited or closed, where stdout and
/// stderr go, and how many bytes of output each call may make. Settings remember whether they
/// were stated, so that merging keeps every setting written down, even one written as its default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Stdio {
    pub(crate) stdin: bool,
    pub(crate) stdout: Option<Output>,
    pub(crate) stderr: Option<Output>,
    pub(crate) output_cap: Option<usize>,
}

const STDIN: Word = Word {
    name: "stdin",
    takes: Takes::Switch,
    value_name: "",
    help: "Let the plugin read this process's stdin.",
    flag: true,
};

const STDOUT: Word = Word {
    name: "stdout",
    takes: Takes::Setting,
    value_name: "\"log\" | \"prefixed\" | \"inherit\" | \"discard\"",
    help: "Where the plugin's stdout goes.",
    flag: false,
};

const STDERR: Word = Word {
    name: "stderr",
    takes: Takes::Setting,
    value_name: "\"log\" | \"prefixed\" | \"inherit\" | \"discard\"",
    help: "Where the plugin's stderr goes.",
    flag: false,
};

const OUTPUT_CAP: Word = Word {
    name: "output-cap",
    takes: Takes::Setting,
    value_name: "BYTES",
    help: "Bytes per call of stdout, of stderr and of the log interface.",
    flag: false,
};

impl Stdio {
    /// Where stdout and stderr go.
    pub(crate) fn outputs(&self) -> (Output, Output) {
        (
            self.stdout.unwrap_or_default(),
            self.stderr.unwrap_or_default(),
        )
    }

    /// The output cap in bytes per channel and call.
    pub(crate) fn output_cap_bytes(&self) -> usize {
        self.output_cap.unwrap_or(DEFAULT_LOG_CAP)
    }
}

fn describe_output(output: Output) -> String {
    match output {
        Output::Log => "into the host's log".to_owned(),
        Output::Inherit => "inherited".to_owned(),
        Output::Prefixed => "prefixed with its name, escaped".to_owned(),
        Output::Discard => "discarded".to_owned(),
    }
}

impl Kind for Stdio {
    const WORDS: &'static [Word] = &[STDIN, STDOUT, STDERR, OUTPUT_CAP];
    const UNITS: &'static [Unit<Self>] = &[
        // Standard input: closed unless granted.
        Unit {
            name: "wasi:cli/stdin",
            covers: &["wasi:cli/stdin"],
            describe: |stdio| match stdio.stdin {
                true => (true, "the host's stdin".to_owned()),
                false => (
                    false,
                    format!("stdin is closed (grant with {})", STDIN.hint()),
                ),
            },
        },
        // Standard output and error: into the host's log unless redirected.
        Unit {
            name: "wasi:cli/stdout",
            covers: &["wasi:cli/stdout"],
            describe: |stdio| (true, describe_output(stdio.outputs().0)),
        },
        Unit {
            name: "wasi:cli/stderr",
            covers: &["wasi:cli/stderr"],
            describe: |stdio| (true, describe_output(stdio.outputs().1)),
        },
        // The rest of `wasi:cli` (exit, terminals): nothing beyond the instance.
        Unit {
            name: "wasi:cli",
            covers: &["wasi:cli/"],
            describe: |_| (true, "always available (exit, terminal queries)".to_owned()),
        },
    ];
    type Ready = ();

    fn add(&mut self, word: &str, value: &toml::Value) -> Result<()> {
        let setting = |reason: String| Error::syntax("grant", &value.to_string(), reason);
        match word {
            "stdin" => self.stdin = switch(word, value)?,
            "stdout" | "stderr" => {
                let output = Output::deserialize(value.clone())
                    .map_err(|e| setting(format!("{word}: {e}")))?;
                match word {
                    "stdout" => self.stdout = Some(output),
                    _ => self.stderr = Some(output),
                }
            }
            _ => {
                let bytes = value
                    .as_integer()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| setting(format!("`{word}` takes a number of bytes")))?;
                self.output_cap = Some(bytes);
            }
        }
        Ok(())
    }

    fn merge(&mut self, other: Self) {
        self.stdin |= other.stdin;
        self.stdout = other.stdout.or(self.stdout);
        self.stderr = other.stderr.or(self.stderr);
        self.output_cap = other.output_cap.or(self.output_cap);
    }

    fn describe(&self, lines: &mut Vec<String>) {
        if self.stdin {
            lines.push(STDIN.name.to_owned());
        }
        if let Some(output) = self.stdout {
            lines.push(format!("stdout {}", output.as_str()));
        }
        if let Some(output) = self.stderr {
            lines.push(format!("stderr {}", output.as_str()));
        }
        if let Some(cap) = self.output_cap {
            lines.push(format!("output-cap {cap}"));
        }
    }

    /// A setting neither side states stays unstated (its default); one the policy states is
    /// what the plugin gets, and a request above it is excess.
    fn restrict(&self, allowed: &Self, excess: &mut Vec<String>) -> Self {
        let stated = |asked: bool, allows: bool| asked || allows;
        let granted = Stdio {
            stdin: self.stdin && allowed.stdin,
            stdout: stated(self.stdout.is_some(), allowed.stdout.is_some())
                .then(|| self.stdout.unwrap_or_default().granted_by(allowed.stdout)),
            stderr: stated(self.stderr.is_some(), allowed.stderr.is_some())
                .then(|| self.stderr.unwrap_or_default().granted_by(allowed.stderr)),
            output_cap: stated(self.output_cap.is_some(), allowed.output_cap.is_some())
                .then(|| self.output_cap_bytes().min(allowed.output_cap_bytes())),
        };
        for (asked, got, name) in [
            (self.stdout, granted.stdout, "stdout"),
            (self.stderr, granted.stderr, "stderr"),
        ] {
            if let (Some(asked), Some(got)) = (asked, got)
                && asked > got
            {
                excess.push(format!("{name} {}", asked.as_str()));
            }
        }
        if self
            .output_cap
            .is_some_and(|cap| cap > allowed.output_cap_bytes())
        {
            excess.push(format!("output-cap {}", self.output_cap_bytes()));
        }
        if self.stdin && !allowed.stdin {
            excess.push(STDIN.name.to_owned());
        }
        granted
    }

    fn prepare(&self, _plugin: &Arc<str>) -> Result<()> {
        Ok(())
    }

    fn wire(&self, (): &(), wiring: &mut Wiring<'_>) -> Result<()> {
        let builder = &mut *wiring.builder;
        if self.stdin {
            builder.inherit_stdin();
        }
        let (stdout, stderr) = self.outputs();
        for (output, channel) in [(stdout, Channel::Stdout), (stderr, Channel::Stderr)] {
            let sink = Sink {
                budget: wiring.budget.clone(),
                channel,
                mode: output,
            };
            // Even a discarded stderr has a sink: its last bytes explain a trap.
            match channel {
                Channel::Stderr => {
                    builder.stderr(sink);
                }
                _ if output == Output::Discard => {}
                _ => {
                    builder.stdout(sink);
                }
            }
        }
        Ok(())
    }
}

/// A plugin's stdout or stderr: into the log, or the host's own stream, within the budget, or
/// nowhere.
#[derive(Clone)]
struct Sink {
    budget: Arc<OutputBudget>,
    channel: Channel,
    mode: Output,
}

impl Sink {
    fn host_stream(&self) -> Box<dyn StdoutStream> {
        match self.channel {
            Channel::Stderr => Box::new(wasmtime_wasi::cli::stderr()),
            _ => Box::new(wasmtime_wasi::cli::stdout()),
        }
    }
}

impl IsTerminal for Sink {
    fn is_terminal(&self) -> bool {
        self.mode == Output::Inherit && self.host_stream().is_terminal()
    }
}

impl StdoutStream for Sink {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        if self.mode == Output::Inherit {
            Box::new(Capped {
                inner: Box::into_pin(self.host_stream().async_stream()),
                budget: self.budget.clone(),
                channel: self.channel,
            })
        } else {
            Box::new(LineWriter::new(self.clone()))
        }
    }

    // Written synchronously on the calling thread (not through a background task), so the log
    // lines belong to the call that produced them.
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        if self.mode == Output::Inherit {
            Box::new(CappedStream {
                inner: self.host_stream().p2_stream(),
                budget: self.budget.clone(),
                channel: self.channel,
            })
        } else {
            Box::new(LineWriter::new(self.clone()))
        }
    }
}

/// How long a line may grow before it is logged anyway.
const MAX_LINE: usize = 64 * 1024;

/// Buffers partial lines and logs whole ones, within the budget.
struct LineWriter {
    sink: Sink,
    pending: Vec<u8>,
    /// The call the pending bytes were written in.
    call: usize,
}

impl LineWriter {
    fn new(sink: Sink) -> Self {
        Self {
            sink,
            pending: Vec::new(),
            call: 0,
        }
    }

    fn push(&mut self, buf: &[u8]) {
        let call = self.sink.budget.call.load(Ordering::Relaxed);
        if call != self.call {
            // What an earlier call left unterminated is its own line.
            self.flush_pending();
            self.call = call;
        }
        self.sink.budget.record(self.sink.channel, buf);
        if self.sink.mode == Output::Discard {
            return;
        }
        let allowed = self.sink.budget.take(self.sink.channel, buf.len());
        for chunk in buf[..allowed].split_inclusive(|b| *b == b'\n') {
            self.pending.extend_from_slice(chunk);
            if chunk.ends_with(b"\n") || self.pending.len() >= MAX_LINE {
                self.flush_pending();
            }
        }
        if allowed < buf.len() {
            // The rest of this call's output is dropped: log what was let through now.
            self.flush_pending();
        }
    }

    fn flush_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let line = std::mem::take(&mut self.pending);
        let text = String::from_utf8_lossy(&line);
        let text = escape_untrusted(text.trim_end_matches(['\n', '\r']));
        let plugin = self.sink.budget.plugin();
        if self.sink.mode == Output::Prefixed {
            return write_prefixed(self.sink.channel, plugin, &text);
        }
        match self.sink.channel {
            Channel::Stderr => {
                tracing::warn!(target: crate::store::output::LOG_TARGET, plugin, stream = "stderr", "{text}")
            }
            _ => {
                tracing::info!(target: crate::store::output::LOG_TARGET, plugin, stream = "stdout", "{text}")
            }
        }
    }
}

/// Writes one line of a plugin's output to the host's own stream, prefixed with its name. A
/// stream the host cannot write to (closed) loses the line, as the plugin's own write would.
fn write_prefixed(channel: Channel, plugin: &str, text: &str) {
    use std::io::Write as _;
    let line = format!("[{}] {text}\n", escape_untrusted(plugin));
    let _ = match channel {
        Channel::Stderr => std::io::stderr().lock().write_all(line.as_bytes()),
        _ => std::io::stdout().lock().write_all(line.as_bytes()),
    };
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
        Ok(MAX_LINE)
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        self.flush_pending();
    }
}

/// The host's own stream, within the budget (p2).
struct CappedStream {
    inner: Box<dyn OutputStream>,
    budget: Arc<OutputBudget>,
    channel: Channel,
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for CappedStream {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

impl OutputStream for CappedStream {
    fn write(&mut self, bytes: wasmtime_wasi_io::bytes::Bytes) -> StreamResult<()> {
        self.budget.record(self.channel, &bytes);
        let allowed = self.budget.take(self.channel, bytes.len());
        if allowed == 0 {
            return Ok(());
        }
        self.inner.write(bytes.slice(..allowed))
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.inner.check_write()
    }
}

/// The host's own stream, within the budget (async writers).
struct Capped {
    inner: Pin<Box<dyn AsyncWrite + Send + Sync>>,
    budget: Arc<OutputBudget>,
    channel: Channel,
}

impl AsyncWrite for Capped {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.budget.record(this.channel, buf);
        let allowed = this.budget.take(this.channel, buf.len());
        if allowed == 0 {
            return Poll::Ready(Ok(buf.len()));
        }
        match this.inner.as_mut().poll_write(cx, &buf[..allowed]) {
            Poll::Ready(Ok(written)) => {
                // What the stream did not take yet is given back to be taken again on the retry;
                // once all that was allowed is written, the dropped rest counts as written too.
                this.budget.give_back(this.channel, allowed - written);
                let dropped = buf.len() - allowed;
                Poll::Ready(Ok(written + if written == allowed { dropped } else { 0 }))
            }
            other => {
                this.budget.give_back(this.channel, allowed);
                other
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get_mut().inner.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get_mut().inner.as_mut().poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_states_outputs_and_requests_stay_below_the_default() {
        assert_eq!(Output::Inherit.granted_by(None), Output::Log);
        assert_eq!(Output::Discard.granted_by(None), Output::Discard);
        assert_eq!(Output::Inherit.granted_by(Some(Output::Log)), Output::Log);
        assert_eq!(
            Output::Log.granted_by(Some(Output::Inherit)),
            Output::Inherit
        );
    }
}
