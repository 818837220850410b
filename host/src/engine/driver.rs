//! Driving an asynchronous plugin's work to completion for a synchronous host, as `wasmtime run`
//! does: a plugin that uses the component model's async ABI (WASI 0.3, `async` exports) is
//! instantiated and called through wasmtime's async entry points, and the caller's thread waits
//! until they finish.
//!
//! The future is polled on the caller's thread, not by a tokio `block_on`: while it runs, the
//! plugin may call WASI 0.2's synchronous functions (Rust's standard library writes its output
//! through them), which wasmtime-wasi runs with a `block_on` of their own, and tokio refuses a
//! `block_on` inside another. wasmtime-wasi's runtime is entered meanwhile, so that WASI 0.3's
//! host functions find it (its worker threads drive their I/O and timers).

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

/// Runs `future` to completion on the calling thread; `None` when the caller is a tokio task,
/// which must not block (an asynchronous host is the one to use there).
pub(crate) fn block_on<F: Future>(future: F) -> Option<F::Output> {
    if tokio::task::try_id().is_some() {
        return None;
    }
    let _entered = wasi_runtime().enter();
    let waker = Waker::from(Arc::new(Unparker(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return Some(output),
            Poll::Pending => std::thread::park(),
        }
    }
}

/// Wakes the thread that waits on a future.
struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// The runtime wasmtime-wasi runs its own work on (asked for from a thread of its own, so that
/// a caller's runtime is never taken for it).
fn wasi_runtime() -> &'static tokio::runtime::Handle {
    static HANDLE: OnceLock<tokio::runtime::Handle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    wasmtime_wasi::runtime::in_tokio(async { tokio::runtime::Handle::current() })
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_future_is_driven_to_its_end_with_tokio_timers_and_nested_blocking() {
        let value = block_on(async {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            // What wasmtime-wasi's synchronous functions do inside a call.
            wasmtime_wasi::runtime::in_tokio(async { 7 })
        });
        assert_eq!(value, Some(7));
    }

    #[test]
    fn a_tokio_task_is_refused_rather_than_blocked() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let inside =
            runtime.block_on(async { tokio::spawn(async { block_on(async { 1 }) }).await });
        assert_eq!(inside.expect("the task ran"), None);
    }
}
