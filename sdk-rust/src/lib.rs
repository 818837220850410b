//! Write Componentry plugins in Rust.
//!
//! The framework's WIT worlds come pre-generated, one module per world, each with an export
//! macro; a plugin is a type implementing the world's `Guest` trait:
//!
//! ```no_run
//! use componentry_sdk::greeter::Guest;
//! use componentry_sdk::log;
//!
//! struct Hello;
//!
//! impl Guest for Hello {
//!     fn greet(name: String) -> String {
//!         log::info(&format!("greeting {name}"));
//!         format!("Hello, {name}!")
//!     }
//! }
//!
//! componentry_sdk::greeter::export!(Hello);
//! ```
//!
//! Build it as a `cdylib` for `wasm32-wasip2` (`cargo xtask guests` in this repository does that).
//! For an application's own worlds, use the re-exported [`wit_bindgen`] with
//! `runtime_path: "componentry_sdk::wit_bindgen::rt"` (and, for worlds with flags,
//! `bitflags_path: "componentry_sdk::wit_bindgen::rt::bitflags"`).
#![deny(missing_docs)]

pub use wit_bindgen;

// The generated bindings name their runtime by the crate's public path, which must also resolve here.
extern crate self as componentry_sdk;

/// Bindings of the `componentry:plugin/greeter` world; export a plugin with
/// `export!` (`componentry_sdk::greeter::export!(MyPlugin)`).
#[allow(missing_docs, clippy::all)]
pub mod greeter {
    wit_bindgen::generate!({
        path: "wit",
        world: "componentry:plugin/greeter",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "componentry_sdk::greeter",
        runtime_path: "componentry_sdk::wit_bindgen::rt",
    });
}

/// Bindings of the `componentry:plugin/async-greeter` world, whose `greet` is an `async func`
/// (the component model's async ABI, as WASI 0.3 plugins are built): implement it with an
/// `async fn` and export it with `componentry_sdk::async_greeter::export!(MyPlugin)`.
#[allow(missing_docs, clippy::all)]
pub mod async_greeter {
    wit_bindgen::generate!({
        path: "wit",
        world: "componentry:plugin/async-greeter",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "componentry_sdk::async_greeter",
        runtime_path: "componentry_sdk::wit_bindgen::rt",
    });
}

/// The plugin's settings from its manifest (`componentry:plugin/settings`).
pub mod settings {
    pub use crate::greeter::componentry::plugin::settings::{all, get};
}

/// Logging through the host (`componentry:plugin/log`).
pub mod log {
    pub use crate::greeter::componentry::plugin::log::{Level, log};

    /// Logs `message` at debug level.
    pub fn debug(message: &str) {
        log(Level::Debug, message);
    }

    /// Logs `message` at info level.
    pub fn info(message: &str) {
        log(Level::Info, message);
    }

    /// Logs `message` at warn level.
    pub fn warn(message: &str) {
        log(Level::Warn, message);
    }

    /// Logs `message` at error level.
    pub fn error(message: &str) {
        log(Level::Error, message);
    }
}
