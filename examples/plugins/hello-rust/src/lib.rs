//! Greets whoever the host names (with the `greeting` from its settings, "Hello" by default),
//! and tells the host's log that it did.

use componentry_sdk::greeter::Guest;
use componentry_sdk::{log, settings};

struct Hello;

impl Guest for Hello {
    fn greet(name: String) -> String {
        log::info(&format!("greeting {name}"));
        let greeting = settings::get("greeting").unwrap_or_else(|| "Hello".to_owned());
        format!("{greeting}, {name}!")
    }
}

componentry_sdk::greeter::export!(Hello);
