//! WASI 0.3 plugins (the component model's async ABI): async exports that wait on the host,
//! beside WASI 0.2 plugins in one host, with the same deadlines and fuel.

use std::time::{Duration, Instant};

use componentry::{Error, Grants, Host, Limits, Plugin, PluginOptions, Val};

use crate::guest;

fn async_host() -> Host<()> {
    crate::asynchronous::async_host(true)
}

fn async_waits(host: &Host<()>, limits: Limits) -> Plugin<()> {
    host.load_file_with(guest("async-waits"), PluginOptions::new().limits(limits))
        .expect("a WASI 0.3 plugin loads")
}

/// Runs `future` to its end on a runtime of its own.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

fn text(value: &str) -> Val {
    Val::String(value.to_owned())
}

#[test]
fn an_async_export_is_called_and_awaits_the_hosts_clock() {
    let host = async_host();
    let plugin = async_waits(&host, Limits::new());
    let engine = host.engine().wasmtime().clone();
    let imports: Vec<String> = plugin
        .component()
        .component_type()
        .imports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    assert!(
        imports
            .iter()
            .any(|name| name.starts_with("wasi:clocks/monotonic-clock@0.3")),
        "a WASI 0.3 plugin: {imports:?}"
    );
    let quick = block_on(plugin.call_async("quick-echo", &[text("now")])).expect("quick-echo");
    assert_eq!(quick, vec![text("now")]);
    let started = Instant::now();
    let slow = block_on(plugin.call_async("slow-echo", &[text("later"), Val::U64(50)]))
        .expect("slow-echo");
    assert_eq!(slow, vec![text("later")]);
    assert!(started.elapsed() >= Duration::from_millis(50), "it waited");
}

#[test]
fn a_wasi_0_2_and_a_wasi_0_3_plugin_share_one_host() {
    let host = async_host();
    let current = async_waits(&host, Limits::new());
    let older = host
        .load_file(guest("types-echo"))
        .expect("a WASI 0.2 plugin");
    let added = block_on(older.call_async("add", &[Val::S32(2), Val::S32(3)])).expect("add");
    assert_eq!(added, vec![Val::S32(5)]);
    let echoed = block_on(current.call_async("quick-echo", &[text("both")])).expect("echo");
    assert_eq!(echoed, vec![text("both")]);
}

#[test]
fn the_deadline_covers_a_wait_on_the_host() {
    let host = async_host();
    let plugin = async_waits(&host, Limits::new().deadline(Duration::from_millis(200)));
    let started = Instant::now();
    let outcome = block_on(plugin.call_async("slow-echo", &[text("never"), Val::U64(60_000)]));
    match outcome {
        Err(Error::DeadlineExceeded {
            plugin, deadline, ..
        }) => {
            assert_eq!(plugin, "async-waits");
            assert_eq!(deadline, Duration::from_millis(200));
        }
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // The host goes on: the next call runs.
    let next = block_on(plugin.call_async("quick-echo", &[text("after")])).expect("next call");
    assert_eq!(next, vec![text("after")]);
}

#[test]
fn fuel_bounds_an_async_export() {
    let host = async_host();
    let plugin = async_waits(&host, Limits::new().fuel(2_000_000));
    match block_on(plugin.call_async("spin", &[Val::U64(u64::MAX)])) {
        Err(Error::FuelExhausted {
            plugin, function, ..
        }) => {
            assert_eq!(plugin, "async-waits");
            assert_eq!(function, "spin");
        }
        other => panic!("expected FuelExhausted, got {other:?}"),
    }
}

#[test]
fn a_synchronous_host_drives_a_wasi_0_3_plugin_to_completion() {
    let host = crate::limits::limited_host();
    let plugin = host
        .load_file_with(
            guest("async-waits"),
            PluginOptions::new().limits(Limits::new().deadline(Duration::from_millis(300))),
        )
        .expect("a synchronous host loads a WASI 0.3 plugin");
    let quick = plugin
        .call("quick-echo", &[text("sync")])
        .expect("quick-echo");
    assert_eq!(quick, vec![text("sync")]);
    let slow = plugin
        .invoke(r#"slow-echo("waited", 20)"#)
        .expect("slow-echo");
    assert_eq!(slow, vec![text("waited")]);
    // A kept instance too, call after call.
    let mut instance = plugin.instantiate().expect("instance");
    for word in ["one", "two"] {
        let echoed = instance.call("quick-echo", &[text(word)]).expect("echo");
        assert_eq!(echoed, vec![text(word)]);
    }
    // The plugin writes through WASI 0.2's blocking streams (Rust's standard library) while
    // the host drives its async export: no runtime inside a runtime.
    let shouted = plugin.invoke(r#"shout("loud")"#).expect("shout");
    assert_eq!(shouted, vec![Val::U32(4)]);
    // The deadline ends a wait on the host here as well.
    let started = Instant::now();
    match plugin.call("slow-echo", &[text("never"), Val::U64(60_000)]) {
        Err(Error::DeadlineExceeded { plugin, .. }) => assert_eq!(plugin, "async-waits"),
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn an_async_export_shows_as_async_in_its_signature() {
    let host = async_host();
    let plugin = async_waits(&host, Limits::new());
    let listed = plugin.exported_functions();
    assert!(
        listed.contains(&(
            "slow-echo".to_owned(),
            "async func(text: string, millis: u64) -> string".to_owned()
        )),
        "{listed:?}"
    );
}

/// The WASI 0.3 prober on an asynchronous host with `grants`.
fn p3_prober(host: &Host<()>, grants: Grants) -> Plugin<()> {
    host.load_file_with(guest("p3-prober"), PluginOptions::new().grants(grants))
        .expect("load p3-prober")
}

/// Calls `call` (WAVE) on `plugin` and returns the WAVE result.
fn probe(plugin: &Plugin<()>, call: &str) -> String {
    let results = block_on(plugin.invoke_async(call)).unwrap_or_else(|e| panic!("{call}: {e}"));
    componentry::to_wave(&results)
}

fn read_at(plugin: &Plugin<()>, dir: &str, path: &str) -> String {
    let path = text(path).to_wave().expect("wave");
    probe(
        plugin,
        &format!("read-at({}, {path})", text(dir).to_wave().expect("wave")),
    )
}

fn assert_refused(outcome: &str, what: &str) {
    assert!(
        outcome.starts_with("err("),
        "{what} must be refused, got {outcome}"
    );
}

#[test]
fn without_grants_a_wasi_0_3_plugin_has_no_filesystem_and_no_environment() {
    let host = async_host();
    let plugin = p3_prober(&host, Grants::none());
    assert_eq!(probe(&plugin, "preopens()"), "[]");
    assert_refused(
        &read_at(&plugin, "/data", "inside.txt"),
        "a read without a grant",
    );
    assert_eq!(probe(&plugin, r#"get-env("PATH")"#), "none");
    assert_eq!(probe(&plugin, r#"get-env("HOME")"#), "none");
}

#[test]
fn a_wasi_0_3_plugin_reads_a_granted_directory_and_nothing_beside_it() {
    let f = crate::sandbox::fixture();
    let host = async_host();
    let plugin = p3_prober(&host, Grants::none().dir(&f.data, "/data"));
    assert_eq!(probe(&plugin, "preopens()"), r#"["/data"]"#);
    assert_eq!(read_at(&plugin, "/data", "inside.txt"), r#"ok("inside")"#);
    let secret = f.secret.to_string_lossy().into_owned();
    for path in [
        "../secret.txt",
        "./../data/../secret.txt",
        secret.as_str(),
        "/etc/passwd",
        "secret-link",
        "escape/secret.txt",
    ] {
        let outcome = read_at(&plugin, "/data", path);
        assert!(
            outcome.starts_with("err(") && outcome.contains("NotPermitted"),
            "{path} must be refused with not-permitted, got {outcome}"
        );
    }
}

#[test]
fn a_wasi_0_3_plugins_filesystem_refusals_are_logged_as_for_0_2() {
    let f = crate::sandbox::fixture();
    let host = async_host();
    let plugin = p3_prober(&host, Grants::none().dir(&f.data, "/data"));
    let (logs, outcome) = crate::logs::capture_logs(|| read_at(&plugin, "/data", "../secret.txt"));
    assert_refused(&outcome, "../secret.txt");
    assert!(
        logs.contains("p3-prober") && logs.contains("refused reading `../secret.txt`"),
        "{logs}"
    );
    assert!(logs.contains("--dir HOST::GUEST"), "{logs}");
    let (logs, outcome) =
        crate::logs::capture_logs(|| probe(&plugin, r#"write-at("/data", "new.txt", "x")"#));
    assert_refused(&outcome, "a write into a read-only grant");
    assert!(
        logs.contains("refused writing `new.txt`") && logs.contains("--dir-rw"),
        "{logs}"
    );
    let (logs, outcome) = crate::logs::capture_logs(|| read_at(&plugin, "/data", "inside.txt"));
    assert_eq!(outcome, r#"ok("inside")"#);
    assert!(
        !logs.contains("refused"),
        "nothing refused, nothing logged: {logs}"
    );
}

#[test]
fn a_wasi_0_3_plugin_sees_only_the_granted_environment() {
    let host = async_host();
    let grants = Grants::none().env_from_host("PATH").env("MODE", "fast");
    let plugin = p3_prober(&host, grants);
    let path = std::env::var("PATH").expect("PATH is set");
    assert_eq!(
        probe(&plugin, r#"get-env("PATH")"#),
        format!("some({})", text(&path).to_wave().expect("wave"))
    );
    assert_eq!(probe(&plugin, r#"get-env("MODE")"#), r#"some("fast")"#);
    assert_eq!(probe(&plugin, r#"get-env("HOME")"#), "none");
}

#[test]
fn a_wasi_0_3_plugin_cannot_write_a_read_only_grant() {
    let f = crate::sandbox::fixture();
    let host = async_host();
    let plugin = p3_prober(&host, Grants::none().dir(&f.data, "/data"));
    for (path, what) in [
        ("new.txt", "creating a file in a read-only grant"),
        ("inside.txt", "overwriting a file in a read-only grant"),
    ] {
        let outcome = probe(&plugin, &format!(r#"write-at("/data", "{path}", "pwned")"#));
        assert_refused(&outcome, what);
    }
    assert!(!f.data.join("new.txt").exists());
    assert_eq!(
        std::fs::read_to_string(f.data.join("inside.txt")).expect("read"),
        "inside"
    );
}

#[test]
fn a_wasi_0_3_plugin_writes_a_read_write_grant_and_nothing_beside_it() {
    let f = crate::sandbox::fixture();
    let host = async_host();
    let plugin = p3_prober(&host, Grants::none().dir_rw(&f.data, "/out"));
    assert_eq!(
        probe(&plugin, r#"write-at("/out", "made.txt", "by the plugin")"#),
        "ok"
    );
    assert_eq!(
        std::fs::read_to_string(f.data.join("made.txt")).expect("read"),
        "by the plugin"
    );
    for path in ["../made.txt", "escape/made.txt", "/tmp/made-by-p3.txt"] {
        let outcome = probe(&plugin, &format!(r#"write-at("/out", "{path}", "x")"#));
        assert_refused(&outcome, &format!("writing {path}"));
    }
    assert!(!f.secret.with_file_name("made.txt").exists());
}

#[test]
fn a_wasi_0_3_plugin_connects_only_where_granted() {
    use componentry::grants::NetPattern;
    let (listener, port) = crate::sandbox::listener();
    let addr = format!("127.0.0.1:{port}");
    let host = async_host();
    let call = format!(r#"connect("{addr}")"#);
    let outcome = probe(&p3_prober(&host, Grants::none()), &call);
    assert_refused(&outcome, "a connection without a grant");
    assert!(outcome.contains("AccessDenied"), "{outcome}");
    let other = Grants::none().allow_net(NetPattern::parse("127.0.0.1:1").expect("pattern"));
    assert_refused(
        &probe(&p3_prober(&host, other), &call),
        "a connection to a port not granted",
    );
    let granted = Grants::none().allow_net(NetPattern::parse(&addr).expect("pattern"));
    assert_eq!(probe(&p3_prober(&host, granted), &call), "ok");
    listener.set_nonblocking(true).expect("nonblocking");
    assert!(
        listener.accept().is_ok(),
        "the plugin's connection reached the listener"
    );
}

#[test]
fn a_wasi_0_3_plugin_sends_udp_datagrams_only_where_granted() {
    use componentry::grants::NetPattern;
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    receiver
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    let addr = receiver.local_addr().expect("addr").to_string();
    let host = async_host();
    let call = format!(r#"udp-send("{addr}", "ping")"#);
    let outcome = probe(&p3_prober(&host, Grants::none()), &call);
    assert_refused(&outcome, "a datagram without a grant");
    let other = Grants::none().allow_net(NetPattern::parse("127.0.0.1:1").expect("pattern"));
    let outcome = probe(&p3_prober(&host, other), &call);
    assert_refused(&outcome, "a datagram to a port not granted");
    assert!(outcome.contains("AccessDenied"), "{outcome}");
    let granted = Grants::none().allow_net(NetPattern::parse(&addr).expect("pattern"));
    assert_eq!(probe(&p3_prober(&host, granted), &call), "ok");
    let mut buf = [0u8; 16];
    let (n, _) = receiver.recv_from(&mut buf).expect("the datagram arrived");
    assert_eq!(&buf[..n], b"ping");
}

#[test]
fn a_wasi_0_3_plugin_listens_only_with_allow_listen() {
    use componentry::grants::NetPattern;
    let host = async_host();
    let anywhere = Grants::none().allow_net(NetPattern::parse("*:*").expect("pattern"));
    let outcome = probe(&p3_prober(&host, anywhere), r#"listen("127.0.0.1:0")"#);
    assert_refused(&outcome, "listening with only allow-net");
    assert!(outcome.contains("AccessDenied"), "{outcome}");
    let listen = Grants::none().allow_listen(NetPattern::parse("127.0.0.1:*").expect("pattern"));
    assert_eq!(
        probe(&p3_prober(&host, listen), r#"listen("127.0.0.1:0")"#),
        "ok"
    );
}

#[test]
fn a_wasi_0_3_plugin_looks_names_up_only_with_a_grant() {
    let host = async_host();
    let outcome = probe(&p3_prober(&host, Grants::none()), r#"resolve("localhost")"#);
    assert_refused(&outcome, "a lookup without a grant");
    let granted = Grants::none().allow_name_lookup(true);
    let outcome = probe(&p3_prober(&host, granted), r#"resolve("localhost")"#);
    assert!(
        outcome.starts_with("ok(") && outcome.contains("127.0.0.1"),
        "a granted name resolves: {outcome}"
    );
}

#[test]
fn deterministic_mode_reproduces_a_wasi_0_3_plugins_randomness_and_time() {
    let host = async_host();
    let entropy = |grants: Grants| {
        let plugin = host
            .load_file_with(guest("p3-tasks"), PluginOptions::new().grants(grants))
            .expect("load p3-tasks");
        probe(&plugin, "entropy()")
    };
    let seeded = |seed| entropy(Grants::none().deterministic(seed));
    assert_eq!(seeded(7), seeded(7));
    assert_ne!(seeded(7), seeded(8));
    assert_ne!(entropy(Grants::none()), entropy(Grants::none()));
    let virtual_now = seeded(7);
    assert!(
        virtual_now.ends_with(&format!("{})", crate::VIRTUAL_EPOCH_SECS * 1_000_000_000)),
        "the virtual system clock starts at 2000-01-01: {virtual_now}"
    );
}

#[test]
fn deterministic_mode_makes_wasi_0_3_file_times_virtual() {
    let f = crate::sandbox::fixture();
    let host = async_host();
    let call = r#"modified-at("/data", "inside.txt")"#;
    let real = probe(
        &p3_prober(&host, Grants::none().dir(&f.data, "/data")),
        call,
    );
    let epoch = crate::VIRTUAL_EPOCH_SECS;
    assert!(real.starts_with("ok(("), "{real}");
    assert!(!real.contains(&epoch.to_string()), "real times: {real}");
    // A deterministic plugin importing the 0.3 filesystem loads, and every time it reads is the
    // virtual epoch, through `stat-at` and through `stat`.
    let deterministic = p3_prober(&host, Grants::none().dir(&f.data, "/data").deterministic(3));
    assert_eq!(
        probe(&deterministic, call),
        format!("ok(({epoch}, {epoch}))")
    );
    // On a synchronous host too.
    let sync_host = crate::host();
    let deterministic = p3_prober(
        &sync_host,
        Grants::none().dir(&f.data, "/data").deterministic(3),
    );
    let results = deterministic.invoke(call).expect("modified-at");
    assert_eq!(
        componentry::to_wave(&results),
        format!("ok(({epoch}, {epoch}))")
    );
}

/// An application interface implemented asynchronously with wasmtime's `Accessor`: the host
/// function waits without holding the store, as WASI 0.3's own functions do.
mod slow_echo_bindings {
    ::componentry::bindgen!({
        path: "tests/guests/wit",
        world: "componentry:test/async-host-user",
        imports: { default: async | store },
        exports: { default: async },
    });
}

use slow_echo_bindings::componentry::test::slow_echo;

componentry::typed_world!(
    slow_echo_bindings::AsyncHostUser,
    slow_echo_bindings::AsyncHostUserIndices
);

/// The application's side of `slow-echo`, for any plugin state.
struct SlowEcho;

impl componentry::bindings::HasData for SlowEcho {
    type Data<'a> = ();
}

impl<T> slow_echo::HostWithStore<T> for SlowEcho {
    async fn echo_later(
        _accessor: &componentry::bindings::Accessor<T, Self>,
        text: String,
        millis: u64,
    ) -> String {
        tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
        format!("{text} (after {millis} ms)")
    }
}

impl slow_echo::Host for () {}

const SLOW_ECHO: &str = "componentry:test/slow-echo@0.1.0";

/// A host of `engine` (asynchronous or not) that offers `slow-echo`.
fn slow_echo_host(asynchronous: bool) -> Host<()> {
    let builder = if asynchronous {
        Host::builder_async(&crate::asynchronous::async_engine(false), |_| ())
    } else {
        Host::builder(&crate::engine(), |_| ())
    };
    builder
        .expect("builder")
        .interface(SLOW_ECHO, |instance| {
            slow_echo::add_to_linker_instance::<_, SlowEcho>(instance, |_| ())
        })
        .expect("slow-echo")
        .build()
        .expect("host")
}

#[test]
fn an_asynchronous_host_interface_is_awaited_by_a_wasi_0_3_plugin() {
    let grants = Grants::none().interface(SLOW_ECHO);
    let host = slow_echo_host(true);
    let plugin = host
        .load_file_with(
            guest("async-host-user"),
            PluginOptions::new().grants(grants.clone()),
        )
        .expect("load");
    let relayed = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(plugin.invoke_async(r#"relay("ping", 30)"#))
        .expect("relay");
    assert_eq!(
        componentry::to_wave(&relayed),
        r#""relayed: ping (after 30 ms)""#
    );
    // A synchronous host drives it to its end too.
    let host = slow_echo_host(false);
    let plugin = host
        .load_file_with(
            guest("async-host-user"),
            PluginOptions::new().grants(grants),
        )
        .expect("load");
    let relayed = plugin.invoke(r#"relay("pong", 1)"#).expect("relay");
    assert_eq!(
        componentry::to_wave(&relayed),
        r#""relayed: pong (after 1 ms)""#
    );
}

#[test]
fn an_asynchronous_host_interface_is_bounded_by_the_plugins_deadline() {
    let grants = Grants::none().interface(SLOW_ECHO);
    let host = slow_echo_host(true);
    let plugin = host
        .load_file_with(
            guest("async-host-user"),
            PluginOptions::new()
                .grants(grants)
                .limits(Limits::new().deadline(std::time::Duration::from_millis(200))),
        )
        .expect("load");
    let started = std::time::Instant::now();
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(plugin.invoke_async(r#"relay("late", 60000)"#));
    match outcome {
        Err(Error::DeadlineExceeded { function, .. }) => assert_eq!(function, "relay"),
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn typed_bindings_of_an_async_world_call_its_async_exports_on_either_host() {
    let grants = Grants::none().interface(SLOW_ECHO);
    let host = slow_echo_host(true);
    let plugin = host
        .load_file_with(
            guest("async-host-user"),
            PluginOptions::new().grants(grants.clone()),
        )
        .expect("load");
    let typed = plugin
        .typed::<slow_echo_bindings::AsyncHostUser>()
        .expect("typed view");
    let relayed = block_on(typed.call_concurrent_async(|world, accessor| {
        Box::pin(async move { world.call_relay(accessor, "typed".to_owned(), 5).await })
    }))
    .expect("typed relay");
    assert_eq!(relayed, "relayed: typed (after 5 ms)");
    // Two calls at once in one instance, awaited together.
    let mut instance = block_on(typed.instantiate_async()).expect("an instance");
    let (first, second) = block_on(instance.call_concurrent_async(|world, accessor| {
        Box::pin(async move {
            let first = world.call_relay(accessor, "one".to_owned(), 30);
            let second = world.call_relay(accessor, "two".to_owned(), 30);
            let (first, second) = futures::future::join(first, second).await;
            Ok((first?, second?))
        })
    }))
    .expect("two relays");
    assert_eq!(
        (first.as_str(), second.as_str()),
        ("relayed: one (after 30 ms)", "relayed: two (after 30 ms)")
    );
    // A synchronous host drives the event loop on the calling thread.
    let host = slow_echo_host(false);
    let plugin = host
        .load_file_with(
            guest("async-host-user"),
            PluginOptions::new().grants(grants),
        )
        .expect("load");
    let typed = plugin
        .typed::<slow_echo_bindings::AsyncHostUser>()
        .expect("typed view");
    let relayed = typed
        .call_concurrent(|world, accessor| {
            Box::pin(async move { world.call_relay(accessor, "sync".to_owned(), 1).await })
        })
        .expect("typed relay on a synchronous host");
    assert_eq!(relayed, "relayed: sync (after 1 ms)");
}

mod p3_tasks_bindings {
    ::componentry::bindgen!({
        path: "tests/guests/wit",
        world: "componentry:test/p3-tasks",
        exports: { default: async },
    });
}

componentry::typed_world!(
    p3_tasks_bindings::P3Tasks,
    p3_tasks_bindings::P3TasksIndices
);

#[test]
fn typed_bindings_pass_streams_and_futures_to_an_async_world() {
    use componentry::bindings::{FutureReader, StreamReader};
    let host = async_host();
    let plugin = host.load_file(guest("p3-tasks")).expect("load p3-tasks");
    let typed = plugin
        .typed::<p3_tasks_bindings::P3Tasks>()
        .expect("typed view");
    let (sum, joined, successor) = block_on(typed.call_concurrent_async(|world, accessor| {
        Box::pin(async move {
            let numbers =
                accessor.with(|mut store| StreamReader::new(&mut store, vec![1u32, 2, 3]))?;
            let sum = world.call_sum(accessor, numbers).await?;
            let parts = accessor.with(|mut store| {
                StreamReader::new(&mut store, vec!["a".to_owned(), "b".to_owned()])
            })?;
            let joined = world.call_join(accessor, parts, "+".to_owned()).await?;
            let value = accessor.with(|mut store| {
                FutureReader::new(&mut store, async {
                    Ok::<u32, componentry::bindings::Error>(41)
                })
            })?;
            let successor = world.call_successor(accessor, value).await?;
            Ok((sum, joined, successor))
        })
    }))
    .expect("typed calls with streams and futures");
    assert_eq!((sum, joined.as_str(), successor), (6, "a+b", 42));
}
