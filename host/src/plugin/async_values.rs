//! The streams and futures a dynamic call returns, read to their end inside the call: a
//! `stream<T>` result becomes the list of its items, a `future<T>` result the option of its value
//! (`none` when the plugin dropped it unwritten). A dynamic caller has no handle on the store's
//! event loop, so a stream handed back to it could never be read; reading it within the call
//! keeps it under the call's deadline and fuel.
//!
//! What is read is held on the host, so it counts against the plugin's memory limit: past it, the
//! call fails with [`Error::MemoryLimit`](crate::Error::MemoryLimit). Streams and futures of the
//! primitive types (numbers, `bool`, `char`, `string`) are read; others, and those nested inside
//! other values, are refused with an error that says so.

use std::pin::Pin;
use std::task::{Context, Poll};

use wasmtime::StoreContextMut;
use wasmtime::component::{
    Accessor, FutureAny, FutureConsumer, Lift, Source, StreamAny, StreamConsumer, StreamResult,
    Type, Val,
};

use crate::store::PluginState;
use crate::store::outcome::TooLarge;

/// Calls `$read::<P>(..., to_val, size)` for the Rust type `P` of the payload `$payload`.
macro_rules! by_payload {
    ($payload:expr, $read:ident, $($arg:expr),*) => {
        match $payload {
            Some(Type::Bool) => $read::<bool, _>($($arg),*, Val::Bool, fixed).await,
            Some(Type::U8) => $read::<u8, _>($($arg),*, Val::U8, fixed).await,
            Some(Type::U16) => $read::<u16, _>($($arg),*, Val::U16, fixed).await,
            Some(Type::U32) => $read::<u32, _>($($arg),*, Val::U32, fixed).await,
            Some(Type::U64) => $read::<u64, _>($($arg),*, Val::U64, fixed).await,
            Some(Type::S8) => $read::<i8, _>($($arg),*, Val::S8, fixed).await,
            Some(Type::S16) => $read::<i16, _>($($arg),*, Val::S16, fixed).await,
            Some(Type::S32) => $read::<i32, _>($($arg),*, Val::S32, fixed).await,
            Some(Type::S64) => $read::<i64, _>($($arg),*, Val::S64, fixed).await,
            Some(Type::Float32) => $read::<f32, _>($($arg),*, Val::Float32, fixed).await,
            Some(Type::Float64) => $read::<f64, _>($($arg),*, Val::Float64, fixed).await,
            Some(Type::Char) => $read::<char, _>($($arg),*, Val::Char, fixed).await,
            Some(Type::String) => $read::<String, _>($($arg),*, Val::String, text).await,
            other => Err(wasmtime::format_err!(
                "a stream or future of {} cannot be read by a dynamic call yet (only of \
                 numbers, bool, char and string)",
                other.map_or("nothing".to_owned(), |ty| crate::compat::wit_type::describe(&ty))
            )),
        }
    };
}

/// Whether a function returning `results` gives back streams or futures, which a dynamic call
/// reads to their end.
pub(crate) fn any_in(mut results: impl Iterator<Item = Type>) -> bool {
    results.any(|ty| matches!(ty, Type::Stream(_) | Type::Future(_)))
}

/// Replaces each stream and future among `results` (of the types `types`) with what it carries,
/// holding at most `budget` bytes of it.
pub(crate) async fn read_to_end<T: Send + 'static>(
    accessor: &Accessor<PluginState<T>>,
    results: &mut [Val],
    types: &[Type],
    budget: usize,
) -> wasmtime::Result<()> {
    let mut used = 0usize;
    for (value, ty) in results.iter_mut().zip(types) {
        match (std::mem::replace(value, Val::Bool(false)), ty) {
            (Val::Stream(stream), Type::Stream(stream_type)) => {
                let items = by_payload!(
                    stream_type.ty(),
                    read_stream,
                    accessor,
                    stream,
                    budget,
                    &mut used
                )?;
                *value = Val::List(items);
            }
            (Val::Future(future), Type::Future(future_type)) => {
                let item = by_payload!(
                    future_type.ty(),
                    read_future,
                    accessor,
                    future,
                    budget,
                    &mut used
                )?;
                *value = Val::Option(item.map(Box::new));
            }
            (other, _) => *value = other,
        }
    }
    Ok(())
}

/// The host bytes an item of a fixed-size type takes.
fn fixed<P>(_: &P) -> usize {
    std::mem::size_of::<P>()
}

/// The host bytes a string takes.
#[expect(
    clippy::ptr_arg,
    reason = "the item size of a stream of `String`s: `fn(&P) -> usize` with `P = String`"
)]
fn text(item: &String) -> usize {
    std::mem::size_of::<String>() + item.len()
}

/// Reads `stream` to its end.
async fn read_stream<P, T>(
    accessor: &Accessor<PluginState<T>>,
    stream: StreamAny,
    budget: usize,
    used: &mut usize,
    to_val: fn(P) -> Val,
    size: fn(&P) -> usize,
) -> wasmtime::Result<Vec<Val>>
where
    P: Lift + Send + Sync + Unpin + 'static,
    T: Send + 'static,
{
    let reader = stream.try_into_stream_reader::<P>()?;
    let (done, collected) = tokio::sync::oneshot::channel();
    let collector = Collector {
        items: Vec::new(),
        used: *used,
        budget,
        size,
        over: false,
        done: Some(done),
    };
    accessor.with(|mut store| reader.pipe(&mut store, collector))?;
    // The collector is dropped (and sends what it read) when the writer ends the stream.
    let (items, now_used, over) = collected
        .await
        .map_err(|_| wasmtime::format_err!("the stream's reader went away"))?;
    *used = now_used;
    if over {
        return Err(TooLarge {
            limit: budget,
            read: now_used,
        }
        .into());
    }
    Ok(items.into_iter().map(to_val).collect())
}

/// Reads `future`'s value: `None` when the plugin dropped it unwritten.
async fn read_future<P, T>(
    accessor: &Accessor<PluginState<T>>,
    future: FutureAny,
    budget: usize,
    used: &mut usize,
    to_val: fn(P) -> Val,
    size: fn(&P) -> usize,
) -> wasmtime::Result<Option<Val>>
where
    P: Lift + Send + Sync + Unpin + 'static,
    T: Send + 'static,
{
    let reader = future.try_into_future_reader::<P>()?;
    let (done, collected) = tokio::sync::oneshot::channel();
    accessor.with(|mut store| {
        reader.pipe(
            &mut store,
            ValueCatcher {
                value: None,
                done: Some(done),
            },
        )
    })?;
    let value = collected
        .await
        .map_err(|_| wasmtime::format_err!("the future's reader went away"))?;
    if let Some(value) = &value {
        *used = used.saturating_add(size(value));
        if *used > budget {
            return Err(TooLarge {
                limit: budget,
                read: *used,
            }
            .into());
        }
    }
    Ok(value.map(to_val))
}

/// What a stream's items are collected into, within the budget; sent on `done` when the stream
/// ends (wasmtime drops its consumer then).
struct Collector<P: Send + 'static> {
    items: Vec<P>,
    used: usize,
    budget: usize,
    size: fn(&P) -> usize,
    over: bool,
    done: Option<tokio::sync::oneshot::Sender<(Vec<P>, usize, bool)>>,
}

/// How many items one read takes at most.
const READ_AT_ONCE: usize = 1024;

impl<P, D> StreamConsumer<D> for Collector<P>
where
    P: Lift + Send + Sync + Unpin + 'static,
{
    type Item = P;

    fn poll_consume(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        store: StoreContextMut<D>,
        mut source: Source<'_, P>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let this = self.get_mut();
        let mut read: Vec<P> = Vec::with_capacity(READ_AT_ONCE);
        source.read(store, &mut read)?;
        if read.is_empty() && finish {
            return Poll::Ready(Ok(StreamResult::Cancelled));
        }
        for item in read {
            this.used = this.used.saturating_add((this.size)(&item));
            if this.used > this.budget {
                this.over = true;
                return Poll::Ready(Ok(StreamResult::Dropped));
            }
            this.items.push(item);
        }
        Poll::Ready(Ok(StreamResult::Completed))
    }
}

impl<P: Send + 'static> Drop for Collector<P> {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send((std::mem::take(&mut self.items), self.used, self.over));
        }
    }
}

/// What a future's value is caught in; sent on `done` when the future is written or dropped.
struct ValueCatcher<P: Send + 'static> {
    value: Option<P>,
    done: Option<tokio::sync::oneshot::Sender<Option<P>>>,
}

impl<P, D> FutureConsumer<D> for ValueCatcher<P>
where
    P: Lift + Send + Sync + Unpin + 'static,
{
    type Item = P;

    fn poll_consume(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        store: StoreContextMut<D>,
        mut source: Source<'_, P>,
        _finish: bool,
    ) -> Poll<wasmtime::Result<()>> {
        let this = self.get_mut();
        source.read(store, &mut this.value)?;
        Poll::Ready(Ok(()))
    }
}

impl<P: Send + 'static> Drop for ValueCatcher<P> {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(self.value.take());
        }
    }
}
