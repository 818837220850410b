//! A plugin that awaits an asynchronous host interface of the application
//! (`componentry:test/slow-echo`, implemented by the host with wasmtime's `Accessor`).

componentry_sdk::wit_bindgen::generate!({
    path: "../wit",
    world: "async-host-user",
    runtime_path: "componentry_sdk::wit_bindgen::rt",
});

use componentry::test::slow_echo::echo_later;

struct AsyncHostUser;

impl Guest for AsyncHostUser {
    async fn relay(text: String, millis: u64) -> String {
        let echoed = echo_later(text, millis).await;
        format!("relayed: {echoed}")
    }
}

export!(AsyncHostUser);
