//! {{name}}: a Componentry plugin in Rust on WASI 0.3. It implements the
//! `componentry:plugin/async-greeter` world, whose `greet` is an `async func`: it waits
//! `delay-ms` milliseconds on WASI 0.3's monotonic clock (a setting, 0 by default) without
//! holding a host thread, then returns "Hello, NAME!" (or the `greeting` its settings give) and
//! tells the host's log whom it greeted.

use componentry_sdk::async_greeter::Guest;
use componentry_sdk::{log, settings};
use wasip3::clocks::monotonic_clock;

struct Plugin;

impl Guest for Plugin {
    async fn greet(name: String) -> String {
        if name.is_empty() {
            // A panic traps; the host's error carries this message.
            panic!("a name is required");
        }
        let delay_ms: u64 = settings::get("delay-ms")
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
        if delay_ms > 0 {
            // Other calls of the same instance run while this one waits.
            monotonic_clock::wait_for(delay_ms.saturating_mul(1_000_000)).await;
        }
        log::info(&format!("greeting {name}"));
        let greeting = settings::get("greeting").unwrap_or_else(|| "Hello".to_owned());
        format!("{greeting}, {name}!")
    }
}

componentry_sdk::async_greeter::export!(Plugin);
