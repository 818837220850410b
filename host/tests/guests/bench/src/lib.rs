//! What the benchmarks call (host/benches/compare): nothing, an echo, and some computation whose
//! native twin the benchmarks run beside it.

componentry_sdk::wit_bindgen::generate!({
    path: "../wit",
    world: "bench",
    runtime_path: "componentry_sdk::wit_bindgen::rt",
});

struct Bench;

impl Guest for Bench {
    fn nop() {}

    fn echo(text: String) -> String {
        text
    }

    fn work(rounds: u64) -> u64 {
        // The same arithmetic as `work` in host/benches/compare/src/workloads.rs.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for round in 0..rounds {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x = x.wrapping_add(round);
        }
        x
    }
}

export!(Bench);
