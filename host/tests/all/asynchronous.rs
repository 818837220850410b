//! Asynchronous calls on tokio (feature `async`): long-running plugins yield, deadlines and fuel
//! hold, and dropping a call's future cancels it safely.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use componentry::{Engine, Error, Host, Limits, Plugin, PluginOptions, Val};

use crate::guest;

/// An asynchronous host whose engine ticks epochs, and meters fuel when `fuel`.
/// An engine for asynchronous hosts: epoch interruption, and fuel when `fuel`.
pub fn async_engine(fuel: bool) -> Engine {
    Engine::builder()
        .fuel(fuel)
        .epoch_interruption(crate::EPOCH_TICK)
        .build()
        .expect("engine")
}

pub fn async_host(fuel: bool) -> Host<()> {
    Host::builder_async(&async_engine(fuel), |_| ())
        .expect("builder")
        .build()
        .expect("host")
}

fn faults(host: &Host<()>, limits: Limits) -> Plugin<()> {
    host.load_file_with(guest("faults"), PluginOptions::new().limits(limits))
        .expect("load")
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn an_async_call_returns_results() {
    let host = async_host(false);
    let plugin = host.load_file(guest("types-echo")).expect("load");
    let results = current_thread()
        .block_on(plugin.call_async("add", &[Val::S32(2), Val::S32(3)]))
        .expect("call");
    assert_eq!(results, vec![Val::S32(5)]);
}

#[test]
fn an_endless_loop_yields_to_the_executor_and_stops_at_its_deadline() {
    let host = async_host(false);
    let plugin = faults(&host, Limits::new().deadline(Duration::from_millis(300)));
    let runtime = current_thread();
    let ticks = Arc::new(AtomicU64::new(0));
    let outcome = runtime.block_on(async {
        // On a one-thread executor this task runs only if the plugin yields.
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                counter.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        let started = Instant::now();
        let outcome = plugin.invoke_async("forever()").await;
        ticker.abort();
        (outcome, started.elapsed())
    });
    match outcome.0 {
        Err(Error::DeadlineExceeded { deadline, .. }) => {
            assert_eq!(deadline, Duration::from_millis(300))
        }
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    assert!(outcome.1 < Duration::from_secs(5), "{:?}", outcome.1);
    assert!(
        ticks.load(Ordering::Relaxed) > 5,
        "the executor kept running other tasks"
    );
}

#[test]
fn fuel_holds_for_async_calls() {
    let host = async_host(true);
    let plugin = faults(&host, Limits::new().fuel(2_000_000));
    let outcome = current_thread().block_on(plugin.invoke_async("forever()"));
    assert!(
        matches!(
            outcome,
            Err(Error::FuelExhausted {
                consumed: 2_000_000,
                ..
            })
        ),
        "{outcome:?}"
    );
}

#[test]
fn dropping_the_future_cancels_the_call_and_the_plugin_goes_on() {
    let host = async_host(false);
    let plugin = faults(&host, Limits::new());
    let runtime = current_thread();
    let cancelled = runtime.block_on(async {
        tokio::time::timeout(Duration::from_millis(100), plugin.invoke_async("forever()")).await
    });
    assert!(cancelled.is_err(), "the timeout dropped the call");
    let results = runtime
        .block_on(plugin.invoke_async("ok()"))
        .expect("next call");
    assert_eq!(componentry::to_wave(&results), r#""still fine""#);
}

#[test]
fn a_held_instance_whose_call_was_cancelled_takes_no_more_calls() {
    let host = async_host(false);
    let plugin = faults(&host, Limits::new());
    let runtime = current_thread();
    let mut instance = runtime
        .block_on(plugin.instantiate_async())
        .expect("instance");
    let cancelled = runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_millis(100),
            instance.invoke_async("forever()"),
        )
        .await
    });
    assert!(cancelled.is_err(), "the timeout dropped the call");
    assert!(matches!(
        runtime.block_on(instance.invoke_async("ok()")),
        Err(Error::InstanceFailed { .. })
    ));
}

#[test]
fn sync_and_async_calls_are_not_mixed_up() {
    let host = async_host(false);
    let plugin = host.load_file(guest("faults")).expect("load");
    let err = plugin
        .invoke("ok()")
        .expect_err("a sync call on an async host");
    assert!(err.to_string().contains("_async"), "{err}");
    assert!(
        matches!(
            err,
            Error::WrongMode {
                asynchronous_host: true,
                ..
            }
        ),
        "{err:?}"
    );
    let sync_plugin = crate::host().load_file(guest("faults")).expect("load");
    let err = current_thread()
        .block_on(sync_plugin.invoke_async("ok()"))
        .expect_err("an async call on a sync host");
    assert!(err.to_string().contains("builder_async"), "{err}");
    assert!(
        matches!(
            err,
            Error::WrongMode {
                asynchronous_host: false,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_granted_host_interface_can_be_async() {
    const VAULT: &str = "componentry:test/vault@0.1.0";
    let engine = Engine::builder().build().expect("engine");
    let host: Host<String> = Host::builder_async(&engine, |_| "42".to_owned())
        .expect("builder")
        .interface(VAULT, |instance| {
            instance.func_wrap_async(
                "secret",
                |store: componentry::bindings::StoreContextMut<
                    '_,
                    componentry::PluginState<String>,
                >,
                 (): ()| {
                    let secret = store.data().data().clone();
                    Box::new(async move {
                        tokio::task::yield_now().await;
                        Ok((secret,))
                    })
                },
            )
        })
        .expect("vault interface")
        .build()
        .expect("host");
    let plugin = host
        .load_file_with(
            guest("vault-user"),
            PluginOptions::new().grants(componentry::Grants::none().interface(VAULT)),
        )
        .expect("granted");
    let results = current_thread()
        .block_on(plugin.invoke_async("peek()"))
        .expect("call");
    assert_eq!(componentry::to_wave(&results), r#""the secret is 42""#);
    // The same through typed bindings (async exports), with the async host function under them.
    let typed = plugin
        .typed::<vault_user::VaultUser>()
        .expect("a vault user");
    let peeked = current_thread()
        .block_on(typed.call_async(|user, store| Box::pin(user.call_peek(store))))
        .expect("typed call");
    assert_eq!(peeked, "the secret is 42");
}

mod vault_user {
    ::componentry::bindgen!({
        path: "tests/guests/wit",
        world: "componentry:test/vault-user",
        exports: { default: async },
    });
    ::componentry::typed_world!(VaultUser, VaultUserIndices);
}

/// An asynchronous host links the same sandbox as a synchronous one: a refused open is logged
/// with the plugin and the path, and a deterministic plugin sees virtual file times.
#[test]
fn an_async_host_logs_refused_opens_and_virtualizes_file_times() {
    use componentry::Grants;
    let data = tempfile::tempdir().expect("tempdir");
    std::fs::write(data.path().join("inside.txt"), "inside").expect("write");
    let host = async_host(false);
    let load = |grants: Grants| {
        host.load_file_with(guest("prober"), PluginOptions::new().grants(grants))
            .expect("load prober")
    };
    let runtime = current_thread();
    let probe = |plugin: &Plugin<()>, call: &str| {
        let results = runtime
            .block_on(plugin.invoke_async(&format!("probe#{call}")))
            .unwrap_or_else(|e| panic!("{call}: {e}"));
        componentry::to_wave(&results)
    };
    let plugin = load(Grants::none().dir(data.path(), "/data"));
    let (logs, outcome) =
        crate::logs::capture_logs(|| probe(&plugin, r#"read-at("/data", "../secret.txt")"#));
    assert!(outcome.contains("not-permitted"), "{outcome}");
    assert!(
        logs.contains("prober") && logs.contains("`../secret.txt`"),
        "the refusal must be logged: {logs}"
    );
    let virtual_epoch = format!("ok({})", crate::VIRTUAL_EPOCH_SECS * 1_000_000_000);
    let modified = r#"modified("/data", "inside.txt")"#;
    assert_ne!(probe(&plugin, modified), virtual_epoch);
    let seeded = load(Grants::none().dir(data.path(), "/data").deterministic(3));
    assert_eq!(probe(&seeded, modified), virtual_epoch);
}

/// An asynchronous host drops a resource a call returned with `drop_resource_async`, under the
/// plugin's limits (its destructor's fuel counted against the lifetime budget); the synchronous
/// `drop_resource` is refused there as every synchronous call is.
#[test]
fn an_async_host_drops_resources_under_the_plugins_limits() {
    let host = async_host(true);
    let plugin = host
        .load_bytes_with(
            "destructor",
            crate::limits::COSTLY_DESTRUCTOR.as_bytes(),
            PluginOptions::new().limits(Limits::new().lifetime_fuel(10_000_000)),
        )
        .expect("load");
    let runtime = current_thread();
    let mut destroyed = 0;
    let mut refused_sync = false;
    for _ in 0..10 {
        let Ok(mut instance) = runtime.block_on(plugin.instantiate_async()) else {
            break;
        };
        let Ok(results) = runtime.block_on(instance.call_async("make", &[])) else {
            break;
        };
        let Some(Val::Resource(thing)) = results.into_iter().next() else {
            panic!("make returns a resource");
        };
        if !refused_sync {
            assert!(matches!(
                instance.drop_resource(thing),
                Err(Error::WrongMode { .. })
            ));
            refused_sync = true;
            continue;
        }
        if runtime
            .block_on(instance.drop_resource_async(thing))
            .is_err()
        {
            break;
        }
        destroyed += 1;
    }
    assert!(refused_sync);
    assert_eq!(destroyed, 3, "10M covers three destructors of 3M, not four");
}
