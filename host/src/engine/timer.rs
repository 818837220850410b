//! One timer per engine, fired by its epoch ticker: it wakes waits at their deadlines, so a
//! deadline needs no particular async runtime and ends a wait within one tick of its time.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

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

/// A deadline and the timer that wakes a wait at it.
pub(crate) type Deadline = (Instant, Arc<Timer>);

/// The deadline passed before the work was done.
#[derive(Debug)]
pub(crate) struct Elapsed;

/// Runs `work` until it completes or `deadline` (when there is one) passes.
pub(crate) async fn race<F: Future>(
    work: F,
    deadline: Option<Deadline>,
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
        let outcome = wasmtime_wasi::runtime::in_tokio(race(never, Some((at, timer.clone()))));
        assert!(outcome.is_err());
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );
        let quick = wasmtime_wasi::runtime::in_tokio(race(
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
