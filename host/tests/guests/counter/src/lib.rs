//! Counts calls, and hands its count over to the next version on a hot reload.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

componentry_sdk::wit_bindgen::generate!({
    path: "../wit",
    world: "counter",
    runtime_path: "componentry_sdk::wit_bindgen::rt",
});

use exports::componentry::plugin::state_handover::Guest as StateHandover;

static COUNT: AtomicU32 = AtomicU32::new(0);
static BALLAST: Mutex<Vec<u8>> = Mutex::new(Vec::new());

fn ballast() -> std::sync::MutexGuard<'static, Vec<u8>> {
    BALLAST
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct Counter;

impl Guest for Counter {
    fn increment() -> u32 {
        COUNT.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn add_ballast(mib: u32) {
        let mut ballast = ballast();
        let start = ballast.len();
        ballast.extend((0..(mib as usize) << 20).map(|i| (start + i) as u8));
    }

    fn state_size() -> u64 {
        4 + ballast().len() as u64
    }
}

impl StateHandover for Counter {
    fn snapshot() -> Vec<u8> {
        let mut state = COUNT.load(Ordering::SeqCst).to_le_bytes().to_vec();
        state.extend_from_slice(&ballast());
        state
    }

    fn restore(state: Vec<u8>) {
        if let Some((count, rest)) = state.split_first_chunk::<4>() {
            COUNT.store(u32::from_le_bytes(*count), Ordering::SeqCst);
            let intact = rest.iter().enumerate().all(|(i, b)| *b == i as u8);
            if intact {
                *ballast() = rest.to_vec();
            }
        }
    }
}

export!(Counter);
