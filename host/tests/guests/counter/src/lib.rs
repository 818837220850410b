//! Counts calls, and hands its count over to the next version on a hot reload.

use std::sync::atomic::{AtomicU32, Ordering};

componentry_sdk::wit_bindgen::generate!({
    path: "../wit",
    world: "counter",
    runtime_path: "componentry_sdk::wit_bindgen::rt",
});

use exports::componentry::plugin::state_handover::Guest as StateHandover;

static COUNT: AtomicU32 = AtomicU32::new(0);

struct Counter;

impl Guest for Counter {
    fn increment() -> u32 {
        COUNT.fetch_add(1, Ordering::SeqCst) + 1
    }
}

impl StateHandover for Counter {
    fn snapshot() -> Vec<u8> {
        COUNT.load(Ordering::SeqCst).to_le_bytes().to_vec()
    }

    fn restore(state: Vec<u8>) {
        if let Ok(bytes) = <[u8; 4]>::try_from(state.as_slice()) {
            COUNT.store(u32::from_le_bytes(bytes), Ordering::SeqCst);
        }
    }
}

export!(Counter);
