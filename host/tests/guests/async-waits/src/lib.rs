//! A WASI 0.3 plugin: `async` exports that wait on the host's monotonic clock
//! (`wasi:clocks/monotonic-clock@0.3`), for the tests of asynchronous plugins.

componentry_sdk::wit_bindgen::generate!({
    path: "../wit",
    world: "async-waits",
    runtime_path: "componentry_sdk::wit_bindgen::rt",
});

use wasip3::clocks::monotonic_clock;

struct AsyncWaits;

impl Guest for AsyncWaits {
    async fn quick_echo(text: String) -> String {
        text
    }

    async fn slow_echo(text: String, millis: u64) -> String {
        monotonic_clock::wait_for(millis.saturating_mul(1_000_000)).await;
        text
    }

    async fn shout(text: String) -> u32 {
        // Through the Rust standard library, which writes with WASI 0.2's blocking streams.
        println!("{text}");
        eprintln!("{text}");
        text.len() as u32
    }

    async fn spin(rounds: u64) -> u64 {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..rounds {
            x = std::hint::black_box(x.rotate_left(5) ^ i).wrapping_mul(0x0100_0000_01b3);
        }
        x
    }
}

export!(AsyncWaits);
