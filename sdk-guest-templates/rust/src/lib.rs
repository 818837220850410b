//! {{name}}: a Componentry plugin in Rust. It implements the `componentry:plugin/greeter` world:
//! `greet(name)` returns "Hello, NAME!" (or the `greeting` its settings give), and tells the
//! host's log whom it greeted.

use componentry_sdk::greeter::Guest;
use componentry_sdk::{log, settings};

struct Plugin;

impl Guest for Plugin {
    fn greet(name: String) -> String {
        if name.is_empty() {
            // A panic traps; the host's error carries this message.
            panic!("a name is required");
        }
        log::info(&format!("greeting {name}"));
        let greeting = settings::get("greeting").unwrap_or_else(|| "Hello".to_owned());
        format!("{greeting}, {name}!")
    }
}

componentry_sdk::greeter::export!(Plugin);
