//! Greets whoever the host names, and tells the host's log that it did.

use componentry_sdk::greeter::Guest;
use componentry_sdk::log;

struct Hello;

impl Guest for Hello {
    fn greet(name: String) -> String {
        log::info(&format!("greeting {name}"));
        format!("Hello, {name}!")
    }
}

componentry_sdk::greeter::export!(Hello);
