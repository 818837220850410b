//! The plugin (`host/tests/guests/bench`: `nop`, `echo`, `work`) set up each way it is measured:
//! through Componentry, through wasmtime by hand on the same engine configuration, through
//! Extism (the same logic as an Extism plugin), and its computation natively.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wasmtime::component::{Func, Instance, Linker, ResourceTable, Val};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Bindings of the benchmark world, for Componentry.
pub mod framework_bindings {
    ::componentry::bindgen!({ path: "../../tests/guests/wit", world: "componentry:test/bench" });
    ::componentry::typed_world!(Bench, BenchIndices);
}

/// Bindings of the benchmark world, for wasmtime by hand.
pub mod hand_bindings {
    wasmtime::component::bindgen!({ path: "../../tests/guests/wit", world: "componentry:test/bench" });
}

/// Where the built plugins are: the component (`cargo xtask guests`), and the Extism plugin
/// (`cargo xtask bench`), if built.
pub struct Plugins {
    /// The benchmark component.
    pub component: PathBuf,
    /// The Extism plugin, if it was built.
    pub extism: Option<PathBuf>,
    /// The benchmark component built for wasm32-unknown-unknown (no WASI imports), if built.
    pub without_wasi: Option<PathBuf>,
}

impl Plugins {
    /// The plugins where `cargo xtask` puts them, or where `COMPONENTRY_GUESTS`,
    /// `COMPONENTRY_BENCH_EXTISM` and `COMPONENTRY_BENCH_NO_WASI` say.
    pub fn find() -> Result<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
        let guests = std::env::var_os("COMPONENTRY_GUESTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/guests"));
        let component = guests.join("bench.wasm");
        anyhow::ensure!(
            component.is_file(),
            "{} is missing: run `cargo xtask guests` (or `cargo xtask bench`) first",
            component.display()
        );
        let extism = std::env::var_os("COMPONENTRY_BENCH_EXTISM")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/bench/bench_extism.wasm"));
        let without_wasi = std::env::var_os("COMPONENTRY_BENCH_NO_WASI")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/bench/bench_no_wasi.wasm"));
        Ok(Self {
            component,
            extism: extism.is_file().then_some(extism),
            without_wasi: without_wasi.is_file().then_some(without_wasi),
        })
    }
}

/// The computation of the plugin's `work`, natively: the same arithmetic.
pub fn work(rounds: u64) -> u64 {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = x.wrapping_add(round);
    }
    x
}

/// The smallest component there is: one exported `nop`, no imports, no memory. It shows the
/// cost of an instance itself, apart from what a guest's runtime does when it starts.
pub const MINIMAL: &str = r#"(component
    (core module $m (func (export "nop")))
    (core instance $i (instantiate $m))
    (func (export "nop") (canon lift (core func $i "nop")))
)"#;

/// A Componentry engine: pooled or not, with fuel and epoch interruption or not.
pub fn framework_engine(pooling: bool, limits: bool) -> Result<componentry::Engine> {
    framework_engine_with(pooling.then(componentry::Pooling::new), limits)
}

/// A Componentry engine with the pool `pooling`, if any, with fuel and epochs or not, and no
/// artifact cache (the engine's default one would turn "compiling" into a cache hit).
pub fn framework_engine_with(
    pooling: Option<componentry::Pooling>,
    limits: bool,
) -> Result<componentry::Engine> {
    let mut builder = componentry::Engine::builder().no_cache();
    if let Some(pooling) = pooling {
        builder = builder.pooling(pooling);
    }
    if limits {
        builder = builder
            .fuel(true)
            .epoch_interruption(std::time::Duration::from_millis(10));
    }
    Ok(builder.build()?)
}

/// The plugin loaded through Componentry.
pub struct Framework {
    /// The plugin.
    pub plugin: componentry::Plugin<()>,
    /// Its typed view.
    pub typed: componentry::Typed<(), framework_bindings::Bench>,
}

impl Framework {
    /// Loads the component on `engine`, with a fuel budget and deadline when `limits`.
    pub fn new(engine: &componentry::Engine, component: &Path, limits: bool) -> Result<Self> {
        let host: componentry::Host<()> = componentry::Host::new(engine)?;
        let mut options = componentry::PluginOptions::new();
        if limits {
            options = options.limits(
                componentry::Limits::default()
                    .fuel(u64::MAX / 4)
                    .deadline(std::time::Duration::from_secs(60)),
            );
        }
        let plugin = host.load_file_with(component, options)?;
        let typed = plugin.typed()?;
        Ok(Self { plugin, typed })
    }

    /// A fresh instance and a typed `nop()` on it.
    pub fn fresh_nop(&self) {
        self.typed
            .call(|bench, store| bench.call_nop(store))
            .expect("nop");
    }

    /// A live instance, typed.
    pub fn live_typed(&self) -> componentry::typed::TypedInstance<(), framework_bindings::Bench> {
        self.typed.instantiate().expect("instance")
    }

    /// A live instance, dynamic.
    pub fn live(&self) -> componentry::PluginInstance<()> {
        self.plugin.instantiate().expect("instance")
    }
}

/// What each store of the by-hand host holds: what WASI needs, nothing granted.
pub struct HandState {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl HandState {
    /// A state of `wasi` and `table`.
    pub fn new(wasi: WasiCtx, table: ResourceTable) -> Self {
        Self { wasi, table }
    }
}

impl WasiView for HandState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The plugin as a hand-written wasmtime host would run it: WASI linked once, the component
/// pre-instantiated once, a store with a fresh WASI context per instance.
pub struct ByHand {
    engine: Engine,
    pre: hand_bindings::BenchPre<HandState>,
    fuel: bool,
    epochs: bool,
}

impl ByHand {
    /// The component on `engine`; `fuel` and `epochs` as the engine was configured.
    pub fn new(engine: &Engine, component: &Path, fuel: bool, epochs: bool) -> Result<Self> {
        let bytes = std::fs::read(component).context("reading the component")?;
        let component = wasmtime::component::Component::new(engine, bytes)?;
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        // The framework links its log interface for every plugin; the by-hand host does the
        // least it must: this plugin imports nothing else.
        let pre = hand_bindings::BenchPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Self {
            engine: engine.clone(),
            pre,
            fuel,
            epochs,
        })
    }

    /// A new store, armed as the framework arms one when it has limits.
    pub fn store(&self) -> Store<HandState> {
        let mut store = Store::new(
            &self.engine,
            HandState {
                wasi: WasiCtxBuilder::new().build(),
                table: ResourceTable::new(),
            },
        );
        if self.fuel {
            store.set_fuel(u64::MAX / 4).expect("fuel");
        }
        if self.epochs {
            store.set_epoch_deadline(6000);
        }
        store
    }

    /// A fresh instance and a typed `nop()` on it.
    pub fn fresh_nop(&self) {
        let mut store = self.store();
        let bench = self.pre.instantiate(&mut store).expect("instance");
        bench.call_nop(&mut store).expect("nop");
    }

    /// A live instance: its store, typed bindings, and dynamic functions.
    pub fn live(&self) -> HandInstance {
        let mut store = self.store();
        let instance = self
            .pre
            .instance_pre()
            .instantiate(&mut store)
            .expect("instance");
        let bench = hand_bindings::Bench::new(&mut store, &instance).expect("bindings");
        let func = |store: &mut Store<HandState>, name: &str| {
            instance.get_func(&mut *store, name).expect("export")
        };
        let nop = func(&mut store, "nop");
        let echo = func(&mut store, "echo");
        HandInstance {
            store,
            bench,
            _instance: instance,
            nop,
            echo,
        }
    }
}

/// A live instance by hand.
pub struct HandInstance {
    /// Its store.
    pub store: Store<HandState>,
    /// Typed bindings.
    pub bench: hand_bindings::Bench,
    _instance: Instance,
    /// `nop`, for dynamic calls.
    pub nop: Func,
    /// `echo`, for dynamic calls.
    pub echo: Func,
}

impl HandInstance {
    /// A dynamic `echo(text)`, as `Func::call` makes it.
    pub fn echo_dynamic(&mut self, text: &str) -> Val {
        let mut results = [Val::Bool(false)];
        self.echo
            .call(
                &mut self.store,
                &[Val::String(text.to_owned())],
                &mut results,
            )
            .expect("echo");
        let [result] = results;
        result
    }
}

/// The minimal component by hand: `Func::call` of `nop` on a fresh instance, no WASI.
pub struct MinimalByHand {
    engine: Engine,
    pre: wasmtime::component::InstancePre<()>,
}

impl MinimalByHand {
    /// [`MINIMAL`] on `engine`.
    pub fn new(engine: &Engine) -> Result<Self> {
        let component = wasmtime::component::Component::new(engine, wat::parse_str(MINIMAL)?)?;
        let pre = Linker::new(engine).instantiate_pre(&component)?;
        Ok(Self {
            engine: engine.clone(),
            pre,
        })
    }

    /// A fresh instance and `nop()` on it.
    pub fn fresh_nop(&self) {
        let mut store = Store::new(&self.engine, ());
        let instance = self.pre.instantiate(&mut store).expect("instance");
        let nop = instance
            .get_typed_func::<(), ()>(&mut store, "nop")
            .expect("nop");
        nop.call(&mut store, ()).expect("nop");
    }
}

/// The same plugin logic as an Extism plugin.
#[cfg(feature = "extism")]
pub struct Extism {
    compiled: extism::CompiledPlugin,
}

#[cfg(feature = "extism")]
impl Extism {
    /// Compiles the Extism plugin at `path`.
    pub fn new(path: &Path) -> Result<Self> {
        let wasm = extism::Wasm::data(std::fs::read(path).context("reading the Extism plugin")?);
        let manifest = extism::Manifest::new([wasm]);
        let compiled = extism::CompiledPlugin::new(extism::PluginBuilder::new(manifest))?;
        Ok(Self { compiled })
    }

    /// A live plugin instance.
    pub fn live(&self) -> extism::Plugin {
        extism::Plugin::new_from_compiled(&self.compiled).expect("plugin")
    }

    /// A new instance and a `nop` on it.
    pub fn fresh_nop(&self) {
        let mut plugin = self.live();
        plugin.call::<&[u8], &[u8]>("nop", &[]).expect("nop");
    }
}
