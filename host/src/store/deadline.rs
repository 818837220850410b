//! Deadlines that hold while a plugin waits in a host call, not only while its code runs.
//!
//! Epoch interruption stops wasm code at its deadline, but a plugin can also spend its time
//! blocked in the host: sleeping on a `wasi:io/poll` pollable (clocks, sockets, HTTP responses,
//! stdin) or in a blocking stream operation. Two mechanisms close that gap:
//!
//! - **Synchronous hosts**: every `wasi:io` entry point that can block (`poll`, `pollable.block`
//!   and the six `blocking-*` stream methods, through which every other WASI wait goes) is
//!   replaced by one that waits at most until the call's deadline, then ends the call with
//!   [`Error::DeadlineExceeded`](crate::Error::DeadlineExceeded).
//! - **Asynchronous hosts**: the whole call's future races a timer; when the deadline passes, the
//!   call is dropped wherever it is waiting.
//!
//! Both wait on the engine's [`Timer`](crate::engine::timer::Timer), serviced by its epoch ticker
//! thread, so a deadline needs no particular async runtime and ends a wait within one tick of its
//! time.

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::runtime::in_tokio;
use wasmtime_wasi_io::bindings::wasi::io::poll::{self as poll, HostPollable};
use wasmtime_wasi_io::bindings::wasi::io::streams::{
    self as streams, Host as _, HostInputStream, HostOutputStream,
};
use wasmtime_wasi_io::poll::DynPollable;
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream, StreamError};

use super::state::PluginState;
use crate::engine::timer::{Elapsed, race};

/// The error a waiting host call ends the call with when its deadline passes: an interrupt,
/// which [`classify`](crate::store::outcome::conclude_failed_call) reports as `DeadlineExceeded`.
fn interrupted() -> wasmtime::Error {
    wasmtime::Error::from(wasmtime::Trap::Interrupt)
}

/// Runs the WASI wait `wait` on the instance's resource table, within the call's deadline.
fn wait<T, R>(
    store: &mut StoreContextMut<'_, PluginState<T>>,
    wait: impl AsyncFnOnce(&mut ResourceTable) -> R,
) -> wasmtime::Result<R> {
    let state = store.data_mut();
    let deadline = state.deadline_timer();
    in_tokio(race(wait(state.table()), deadline)).map_err(|Elapsed| interrupted())
}

/// The `wasi:io` instances as wasmtime-wasi defines them.
const POLL: &str = "wasi:io/poll@0.2.12";
const STREAMS: &str = "wasi:io/streams@0.2.12";

type StreamOutcome<R> = Result<R, streams::StreamError>;

/// Runs the blocking stream operation `operation` within the call's deadline, and turns its
/// outcome into what the guest receives (a trap stays a trap).
fn stream_wait<T, R>(
    store: &mut StoreContextMut<'_, PluginState<T>>,
    operation: impl AsyncFnOnce(&mut ResourceTable) -> Result<R, StreamError>,
) -> wasmtime::Result<(StreamOutcome<R>,)> {
    let outcome = wait(store, operation)?;
    let table = store.data_mut().table();
    Ok((match outcome {
        Ok(value) => Ok(value),
        Err(error) => Err(table.convert_stream_error(error)?),
    },))
}

/// Replaces the blocking `wasi:io` functions of a synchronous host's `linker` by ones that wait
/// no longer than the running call's deadline.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<PluginState<T>>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let outcome = add_waits(linker);
    linker.allow_shadowing(false);
    outcome
}

type Store<'a, T> = StoreContextMut<'a, PluginState<T>>;

fn add_waits<T: Send + 'static>(linker: &mut Linker<PluginState<T>>) -> wasmtime::Result<()> {
    let mut poll_instance = linker.instance(POLL)?;
    poll_instance.func_wrap(
        "poll",
        |mut store: Store<'_, T>, (pollables,): (Vec<Resource<DynPollable>>,)| {
            let ready = wait(&mut store, async |table| {
                poll::Host::poll(table, pollables).await
            })??;
            Ok((ready,))
        },
    )?;
    poll_instance.func_wrap(
        "[method]pollable.block",
        |mut store: Store<'_, T>, (pollable,): (Resource<DynPollable>,)| {
            wait(&mut store, async |table| {
                HostPollable::block(table, pollable).await
            })??;
            Ok(())
        },
    )?;
    let mut streams_instance = linker.instance(STREAMS)?;
    streams_instance.func_wrap(
        "[method]input-stream.blocking-read",
        |mut store: Store<'_, T>, (stream, len): (Resource<DynInputStream>, u64)| {
            stream_wait(&mut store, async |table| {
                HostInputStream::blocking_read(table, stream, len).await
            })
        },
    )?;
    streams_instance.func_wrap(
        "[method]input-stream.blocking-skip",
        |mut store: Store<'_, T>, (stream, len): (Resource<DynInputStream>, u64)| {
            stream_wait(&mut store, async |table| {
                HostInputStream::blocking_skip(table, stream, len).await
            })
        },
    )?;
    streams_instance.func_wrap(
        "[method]output-stream.blocking-write-and-flush",
        |mut store: Store<'_, T>, (stream, bytes): (Resource<DynOutputStream>, Vec<u8>)| {
            stream_wait(&mut store, async |table| {
                HostOutputStream::blocking_write_and_flush(table, stream, bytes).await
            })
        },
    )?;
    streams_instance.func_wrap(
        "[method]output-stream.blocking-write-zeroes-and-flush",
        |mut store: Store<'_, T>, (stream, len): (Resource<DynOutputStream>, u64)| {
            stream_wait(&mut store, async |table| {
                HostOutputStream::blocking_write_zeroes_and_flush(table, stream, len).await
            })
        },
    )?;
    streams_instance.func_wrap(
        "[method]output-stream.blocking-flush",
        |mut store: Store<'_, T>, (stream,): (Resource<DynOutputStream>,)| {
            stream_wait(&mut store, async |table| {
                HostOutputStream::blocking_flush(table, stream).await
            })
        },
    )?;
    streams_instance.func_wrap(
        "[method]output-stream.blocking-splice",
        |mut store: Store<'_, T>,
         (dst, src, len): (Resource<DynOutputStream>, Resource<DynInputStream>, u64)| {
            stream_wait(&mut store, async |table| {
                HostOutputStream::blocking_splice(table, dst, src, len).await
            })
        },
    )?;
    Ok(())
}
