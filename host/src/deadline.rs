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
//! Both wait on one [`Timer`] per engine, serviced by the engine's epoch ticker thread, so a
//! deadline needs no particular async runtime and ends a wait within one tick of its time.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::runtime::in_tokio;
use wasmtime_wasi_io::bindings::wasi::io::poll::{self as poll, HostPollable};
use wasmtime_wasi_io::bindings::wasi::io::streams::{
    self as streams, Host as _, HostInputStream, HostOutputStream,
};
use wasmtime_wasi_io::poll::DynPollable;
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream, StreamError};

use crate::state::PluginState;

/// Wakes the waits whose time has come; fired by the engine's ticker at every tick.
#[derive(Default)]
pub(crate) struct Timer {
    next_id: AtomicU64,
    waits: Mutex<HashMap<u64, (Instant, Waker)>>,
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer").finish_non_exhaustive()
    }
}

impl Timer {
    /// A future that completes at `at` (within one tick after it).
    pub(crate) fn sleep_until(self: &Arc<Self>, at: Instant) -> Sleep {
        Sleep {
            timer: self.clone(),
            at,
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Wakes every wait whose time has come.
    pub(crate) fn fire(&self, now: Instant) {
        let due: Vec<Waker> = {
            let mut waits = self.lock();
            let ids: Vec<u64> = waits
                .iter()
                .filter(|(_, (at, _))| *at <= now)
                .map(|(id, _)| *id)
                .collect();
            ids.iter()
                .filter_map(|id| waits.remove(id).map(|(_, waker)| waker))
                .collect()
        };
        due.into_iter().for_each(Waker::wake);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (Instant, Waker)>> {
        // The map stays consistent whatever a panicking thread was doing with it.
        self.waits
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Completes when its instant has passed.
pub(crate) struct Sleep {
    timer: Arc<Timer>,
    at: Instant,
    id: u64,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.at {
            self.timer.lock().remove(&self.id);
            return Poll::Ready(());
        }
        self.timer
            .lock()
            .insert(self.id, (self.at, cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.timer.lock().remove(&self.id);
    }
}

/// The deadline passed before the work was done.
#[derive(Debug)]
pub(crate) struct Elapsed;

/// Runs `work` until it completes or `deadline` (when there is one) passes.
pub(crate) async fn race<F: Future>(
    work: F,
    deadline: Option<(Instant, Arc<Timer>)>,
) -> Result<F::Output, Elapsed> {
    let Some((at, timer)) = deadline else {
        return Ok(work.await);
    };
    let mut work = std::pin::pin!(work);
    let mut sleep = std::pin::pin!(timer.sleep_until(at));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = work.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        sleep.as_mut().poll(cx).map(|()| Err(Elapsed))
    })
    .await
}

/// The error a waiting host call ends the call with when its deadline passes: an interrupt,
/// which [`classify`](crate::limits::classify) reports as `DeadlineExceeded`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_race_ends_at_its_deadline_when_the_timer_fires() {
        let timer = Arc::new(Timer::default());
        let ticker = {
            let timer = timer.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    std::thread::sleep(Duration::from_millis(5));
                    timer.fire(Instant::now());
                }
            })
        };
        let started = Instant::now();
        let never = std::future::pending::<()>();
        let at = started + Duration::from_millis(50);
        let outcome = in_tokio(race(never, Some((at, timer.clone()))));
        assert!(outcome.is_err());
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );
        let quick = in_tokio(race(
            async { 7 },
            Some((Instant::now() + Duration::from_secs(60), timer.clone())),
        ));
        assert_eq!(quick.ok(), Some(7));
        assert!(
            timer.lock().is_empty(),
            "finished waits leave nothing behind"
        );
        ticker.join().expect("ticker");
    }
}
