//! A WASI 0.3 plugin for the tests of concurrent calls and of the limits on async work: calls
//! that overlap inside one instance, and hostile ones that hoard streams, futures and waits, wait
//! forever, flood stdout or trap while other calls are under way.

componentry_sdk::wit_bindgen::generate!({
    path: "../wit",
    world: "p3-tasks",
    runtime_path: "componentry_sdk::wit_bindgen::rt",
});

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};

use componentry_sdk::wit_bindgen::rt::async_support::{FutureReader, StreamReader};
use wasip3::clocks::monotonic_clock;

/// Calls of `overlap` under way, and the most seen at once.
static IN_FLIGHT: AtomicU32 = AtomicU32::new(0);
static PEAK: AtomicU32 = AtomicU32::new(0);

const HOUR_NS: u64 = 3_600_000_000_000;

fn wait_ms(millis: u64) -> impl Future<Output = ()> {
    monotonic_clock::wait_for(millis.saturating_mul(1_000_000))
}

struct P3Tasks;

impl Guest for P3Tasks {
    async fn overlap(millis: u64) -> u32 {
        let now = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
        PEAK.fetch_max(now, Ordering::SeqCst);
        wait_ms(millis).await;
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        PEAK.load(Ordering::SeqCst)
    }

    async fn trap_after(millis: u64) {
        wait_ms(millis).await;
        core::arch::wasm32::unreachable()
    }

    async fn hoard_streams(pairs: u32) -> u32 {
        for _ in 0..pairs {
            std::mem::forget(wit_stream::new::<u32>());
        }
        pairs
    }

    async fn hoard_futures(pairs: u32) -> u32 {
        for _ in 0..pairs {
            std::mem::forget(wit_future::new::<u32>(|| 0));
        }
        pairs
    }

    async fn hoard_waits(count: u32) -> u32 {
        let waits = (0..count)
            .map(|_| Some(Box::pin(monotonic_clock::wait_for(HOUR_NS))))
            .collect();
        JoinAll(waits).await;
        count
    }

    async fn never_resolves() -> u32 {
        let (writer, reader) = wit_future::new::<u32>(|| 0);
        // Kept, never written: the reader waits for ever.
        std::mem::forget(writer);
        reader.await
    }

    async fn flood_stdout() -> u64 {
        let (mut writer, reader) = wasip3::wit_stream::new::<u8>();
        let done = wasip3::cli::stdout::write_via_stream(reader);
        let mut written = 0u64;
        loop {
            let rest = writer.write_all(vec![b'x'; 4096]).await;
            written += (4096 - rest.len()) as u64;
            if !rest.is_empty() {
                break;
            }
        }
        drop(writer);
        let _ = done.await;
        written
    }

    async fn numbers(count: u32) -> StreamReader<u32> {
        let (mut writer, reader) = wit_stream::new::<u32>();
        componentry_sdk::wit_bindgen::spawn_local(async move {
            // In writes of up to 4,096 numbers, until the reader stops taking them.
            let mut next = 0u32;
            while next < count {
                let end = count.min(next.saturating_add(4096));
                if !writer.write_all((next..end).collect()).await.is_empty() {
                    return;
                }
                next = end;
            }
        });
        reader
    }

    async fn entropy() -> (u64, u64) {
        let random = wasip3::random::random::get_random_u64();
        let now = wasip3::clocks::system_clock::now();
        let seconds = u64::try_from(now.seconds).unwrap_or_default();
        (random, seconds * 1_000_000_000 + u64::from(now.nanoseconds))
    }

    async fn later(value: u32, millis: u64) -> FutureReader<u32> {
        let (writer, reader) = wit_future::new::<u32>(|| 0);
        componentry_sdk::wit_bindgen::spawn_local(async move {
            wait_ms(millis).await;
            let _ = writer.write(value).await;
        });
        reader
    }

    async fn sum(mut numbers: StreamReader<u32>) -> u64 {
        let mut total = 0u64;
        while let Some(number) = numbers.next().await {
            total += u64::from(number);
        }
        total
    }

    async fn join(parts: StreamReader<String>, separator: String) -> String {
        parts.collect().await.join(&separator)
    }

    async fn successor(value: FutureReader<u32>) -> u32 {
        value.await.wrapping_add(1)
    }
}

/// Waits for all of its futures, polling each until it is done.
struct JoinAll<F>(Vec<Option<Pin<Box<F>>>>);

impl<F: Future> Future for JoinAll<F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut pending = false;
        for slot in self.0.iter_mut() {
            if let Some(future) = slot {
                if future.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

export!(P3Tasks);
