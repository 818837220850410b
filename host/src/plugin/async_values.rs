//! The streams and futures a dynamic call passes and returns. A dynamic caller has no handle on
//! the store's event loop, so it writes and reads them as plain values:
//!
//! - a `stream<T>` argument is given as the list of its items (`[1, 2, 3]`), which the host
//!   writes to the plugin and then ends the stream; a `future<T>` argument as its value;
//! - a `stream<T>` result becomes the list of its items, read to its end inside the call (under
//!   the call's deadline and fuel); a `future<T>` result the option of its value (`none` when the
//!   plugin dropped it unwritten).
//!
//! What is read is held on the host, so it counts against the plugin's memory limit: past it, the
//! call fails with [`Error::MemoryLimit`](crate::Error::MemoryLimit). Streams and futures of the
//! primitive types (numbers, `bool`, `char`, `string`) are passed and read; others, and those
//! nested inside other values, are refused with an error that says so.

use std::pin::Pin;
use std::task::{Context, Poll};

use wasmtime::component::{
    Accessor, ComponentType, FutureAny, FutureConsumer, FutureReader, Lift, Lower, Source,
    StreamAny, StreamConsumer, StreamReader, StreamResult, Type, Val,
};
use wasmtime::{AsContextMut, StoreContextMut};

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

/// Calls `$open::<P>(..., from_val)` for the Rust type `P` of the payload `$payload`.
macro_rules! open_by_payload {
    ($payload:expr, $open:ident, $($arg:expr),*) => {
        match $payload {
            Some(Type::Bool) => $open::<bool, _>($($arg),*, |v| match v { Val::Bool(x) => Some(x), _ => None }),
            Some(Type::U8) => $open::<u8, _>($($arg),*, |v| match v { Val::U8(x) => Some(x), _ => None }),
            Some(Type::U16) => $open::<u16, _>($($arg),*, |v| match v { Val::U16(x) => Some(x), _ => None }),
            Some(Type::U32) => $open::<u32, _>($($arg),*, |v| match v { Val::U32(x) => Some(x), _ => None }),
            Some(Type::U64) => $open::<u64, _>($($arg),*, |v| match v { Val::U64(x) => Some(x), _ => None }),
            Some(Type::S8) => $open::<i8, _>($($arg),*, |v| match v { Val::S8(x) => Some(x), _ => None }),
            Some(Type::S16) => $open::<i16, _>($($arg),*, |v| match v { Val::S16(x) => Some(x), _ => None }),
            Some(Type::S32) => $open::<i32, _>($($arg),*, |v| match v { Val::S32(x) => Some(x), _ => None }),
            Some(Type::S64) => $open::<i64, _>($($arg),*, |v| match v { Val::S64(x) => Some(x), _ => None }),
            Some(Type::Float32) => $open::<f32, _>($($arg),*, |v| match v { Val::Float32(x) => Some(x), _ => None }),
            Some(Type::Float64) => $open::<f64, _>($($arg),*, |v| match v { Val::Float64(x) => Some(x), _ => None }),
            Some(Type::Char) => $open::<char, _>($($arg),*, |v| match v { Val::Char(x) => Some(x), _ => None }),
            Some(Type::String) => $open::<String, _>($($arg),*, |v| match v { Val::String(x) => Some(x), _ => None }),
            other => Err(wasmtime::format_err!("{}", not_passable(other.as_ref()))),
        }
    };
}

/// Whether one of `types` is a stream or a future, which a dynamic call passes or reads as a
/// plain value.
pub(crate) fn any_in(mut types: impl Iterator<Item = Type>) -> bool {
    types.any(|ty| matches!(ty, Type::Stream(_) | Type::Future(_)))
}

/// Why a stream or future of `payload` cannot be passed by a dynamic call.
fn not_passable(payload: Option<&Type>) -> String {
    format!(
        "a stream or future of {} cannot be passed by a dynamic call yet (only of numbers, \
         bool, char and string)",
        payload.map_or("nothing".to_owned(), crate::compat::wit_type::describe)
    )
}

/// Whether `payload` is one a dynamic call passes and reads.
fn passable(payload: Option<&Type>) -> bool {
    matches!(
        payload,
        Some(
            Type::Bool
                | Type::U8
                | Type::U16
                | Type::U32
                | Type::U64
                | Type::S8
                | Type::S16
                | Type::S32
                | Type::S64
                | Type::Float32
                | Type::Float64
                | Type::Char
                | Type::String
        )
    )
}

/// Checks that `arg` is an argument for a parameter of type `ty`: for a `stream<T>`, the list of
/// its items; for a `future<T>`, its value; otherwise a value of `ty` itself.
pub(crate) fn check_argument(arg: &Val, ty: &Type) -> Result<(), String> {
    use crate::compat::wit_type::check;
    match (arg, ty) {
        (Val::Stream(_), Type::Stream(_)) | (Val::Future(_), Type::Future(_)) => Ok(()),
        (Val::List(items), Type::Stream(stream)) => {
            let payload = stream.ty();
            if !passable(payload.as_ref()) {
                return Err(not_passable(payload.as_ref()));
            }
            items.iter().enumerate().try_for_each(|(at, item)| {
                payload
                    .as_ref()
                    .map_or(Ok(()), |payload| check(item, payload))
                    .map_err(|e| format!("item {at} of the stream: {e}"))
            })
        }
        (_, Type::Stream(stream)) => Err(format!(
            "expected the list of a {}'s items",
            crate::compat::wit_type::describe(&Type::Stream(stream.clone()))
        )),
        (value, Type::Future(future)) => {
            let payload = future.ty();
            if !passable(payload.as_ref()) {
                return Err(not_passable(payload.as_ref()));
            }
            payload.as_ref().map_or(Ok(()), |payload| {
                check(value, payload).map_err(|e| format!("the future's value: {e}"))
            })
        }
        (value, ty) => check(value, ty),
    }
}

/// Parses the WAVE `node` (of the call text `src`) as an argument for a parameter of type `ty`,
/// in the forms [`check_argument`] accepts.
pub(crate) fn parse_argument(
    node: &wasm_wave::ast::Node,
    ty: &Type,
    src: &str,
) -> std::result::Result<Val, String> {
    match ty {
        Type::Stream(stream) => {
            let payload = stream.ty();
            let Some(payload) = payload.filter(|payload| passable(Some(payload))) else {
                return Err(not_passable(stream.ty().as_ref()));
            };
            let items = node
                .as_list()
                .map_err(|_| "a stream is written as the list of its items".to_owned())?
                .map(|item| item.to_wasm_value::<Val>(&payload, src))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            Ok(Val::List(items))
        }
        Type::Future(future) => {
            let payload = future.ty();
            let Some(payload) = payload.filter(|payload| passable(Some(payload))) else {
                return Err(not_passable(future.ty().as_ref()));
            };
            node.to_wasm_value::<Val>(&payload, src)
                .map_err(|e| e.to_string())
        }
        ty => node
            .to_wasm_value::<Val>(ty, src)
            .map_err(|e| e.to_string()),
    }
}

/// Opens the streams and futures among `args` (for the parameters `params`): each list given
/// for a `stream<T>` becomes a stream the host writes those items to and then ends, each value
/// given for a `future<T>` a future resolved with it.
pub(crate) fn open_arguments<D: 'static>(
    mut store: impl AsContextMut<Data = D>,
    args: &mut [Val],
    params: &[(String, Type)],
) -> wasmtime::Result<()> {
    for (arg, (_, ty)) in args.iter_mut().zip(params) {
        match (std::mem::replace(arg, Val::Bool(false)), ty) {
            (Val::List(items), Type::Stream(stream)) => {
                *arg = open_by_payload!(stream.ty(), open_stream, store.as_context_mut(), items)?;
            }
            (value, Type::Future(future)) if !matches!(value, Val::Future(_)) => {
                *arg = open_by_payload!(future.ty(), open_future, store.as_context_mut(), value)?;
            }
            (other, _) => *arg = other,
        }
    }
    Ok(())
}

/// A stream that gives `items` (converted with `from_val`) and ends.
fn open_stream<P, D>(
    mut store: StoreContextMut<'_, D>,
    items: Vec<Val>,
    from_val: fn(Val) -> Option<P>,
) -> wasmtime::Result<Val>
where
    P: ComponentType + Lower + Lift + Send + Sync + Unpin + 'static,
    D: 'static,
{
    let items = items
        .into_iter()
        .map(|item| {
            from_val(item).ok_or_else(|| wasmtime::format_err!("a stream item of another type"))
        })
        .collect::<wasmtime::Result<Vec<P>>>()?;
    let reader = StreamReader::new(&mut store, items)?;
    Ok(Val::Stream(reader.try_into_stream_any(&mut store)?))
}

/// A future resolved with `value` (converted with `from_val`).
fn open_future<P, D>(
    mut store: StoreContextMut<'_, D>,
    value: Val,
    from_val: fn(Val) -> Option<P>,
) -> wasmtime::Result<Val>
where
    P: ComponentType + Lower + Lift + Send + Sync + Unpin + 'static,
    D: 'static,
{
    let value =
        from_val(value).ok_or_else(|| wasmtime::format_err!("a future value of another type"))?;
    let reader = FutureReader::new(&mut store, async move { Ok::<P, wasmtime::Error>(value) })?;
    Ok(Val::Future(reader.try_into_future_any(&mut store)?))
}

/// What a call of one export does with the streams and futures it passes and returns.
pub(crate) struct CarriedValues {
    /// The export's parameters, when one of them is a stream or a future.
    params: Option<Vec<(String, Type)>>,
    /// The export's result types, when one of them is a stream or a future.
    results: Option<Vec<Type>>,
    /// The host bytes the results may take (the plugin's memory limit).
    budget: usize,
}

impl CarriedValues {
    /// For a call of a function with `params` (when one of them is a stream or a future) and
    /// `results` (the same), holding at most `budget` bytes of what it returns.
    pub(crate) fn new(
        params: Option<Vec<(String, Type)>>,
        results: Option<Vec<Type>>,
        budget: usize,
    ) -> Self {
        Self {
            params,
            results,
            budget,
        }
    }

    /// The arguments to pass: `args` with its streams and futures opened.
    pub(crate) fn open<'a, T: Send + 'static>(
        &self,
        accessor: &Accessor<PluginState<T>>,
        args: &'a [Val],
    ) -> wasmtime::Result<std::borrow::Cow<'a, [Val]>> {
        let Some(params) = &self.params else {
            return Ok(std::borrow::Cow::Borrowed(args));
        };
        let mut args = args.to_vec();
        accessor.with(|mut store| open_arguments(&mut store, &mut args, params))?;
        Ok(std::borrow::Cow::Owned(args))
    }

    /// Reads the streams and futures among `results` to their end.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        accessor: &Accessor<PluginState<T>>,
        results: &mut [Val],
    ) -> wasmtime::Result<()> {
        match &self.results {
            Some(types) => read_to_end(accessor, results, types, self.budget).await,
            None => Ok(()),
        }
    }
}

/// Replaces each stream and future among `results` (of the types `types`) with what it carries,
/// holding at most `budget` bytes of it.
async fn read_to_end<T: Send + 'static>(
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
