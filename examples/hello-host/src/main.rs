//! An application that hosts a greeter plugin: loads it, calls it through typed bindings and
//! dynamically, and shows its log lines (tagged with the plugin's name) in its own log.
//!
//! Run it with `cargo xtask demo`, or `cargo run -p hello-host -- PLUGIN.wasm`.

use std::path::PathBuf;

use componentry::{Engine, Host};

mod bindings {
    ::componentry::bindgen!({ path: "../../wit", world: "componentry:plugin/greeter" });
    ::componentry::typed_world!(Greeter, GreeterIndices);
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .init();

    let path = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/guests/hello-rust.wasm")
        });

    let engine = Engine::new()?;
    let host: Host<()> = Host::new(&engine)?;
    let plugin = host.load_file(&path)?;
    println!("loaded plugin '{}' from {}", plugin.name(), path.display());
    for (name, signature) in plugin.exported_functions() {
        println!("  exports {name}: {signature}");
    }

    // Typed: Rust strings in and out, through bindings generated from the world's WIT.
    let greeter = plugin.typed::<bindings::Greeter>()?;
    let greeting = greeter.call(|g, store| g.call_greet(store, "Componentry"))?;
    println!("typed call:   greet(\"Componentry\") -> {greeting:?}");

    // Dynamic: any export by name, arguments and result as WAVE text.
    let results = plugin.invoke(r#"greet("dynamic world")"#)?;
    println!(
        "dynamic call: greet(\"dynamic world\") -> {}",
        componentry::to_wave(&results)
    );
    Ok(())
}
