//! Deadlines bound the whole call, wherever its time goes: computing, or waiting in a host call
//! (a sleep, a socket read, an HTTP response, stdin). A call stopped at its deadline leaves the
//! host and its other plugins unharmed.

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use componentry::{
    Engine, Error, Grants, Host, Limits, PluginOptions, grants::HttpPattern, grants::NetPattern,
};

use crate::guest;

pub fn deadline_engine() -> Engine {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    ENGINE
        .get_or_init(|| {
            Engine::builder()
                .cache_dir(crate::cache_dir())
                .epoch_interruption(Duration::from_millis(10))
                .build()
                .expect("engine")
        })
        .clone()
}

const DEADLINE: Duration = Duration::from_millis(200);

fn prober(grants: Grants) -> componentry::Plugin<()> {
    Host::new(&deadline_engine())
        .expect("host")
        .load_file_with(
            guest("prober"),
            PluginOptions::new()
                .grants(grants)
                .limits(Limits::new().deadline(DEADLINE)),
        )
        .expect("load prober")
}

/// Runs `call` and checks that it ended with `DeadlineExceeded` after the deadline and well
/// before the wait it started would have ended by itself.
fn assert_stopped_at_the_deadline(
    what: &str,
    call: impl FnOnce() -> componentry::Result<Vec<componentry::Val>>,
) {
    let started = Instant::now();
    let outcome = call();
    let took = started.elapsed();
    match outcome {
        Err(Error::DeadlineExceeded { deadline, .. }) => assert_eq!(deadline, DEADLINE),
        other => panic!("{what}: expected DeadlineExceeded, got {other:?}"),
    }
    assert!(
        took >= DEADLINE,
        "{what}: stopped before its deadline, after {took:?}"
    );
    // The waits below take 30 s or forever; a generous bound keeps a loaded machine green.
    assert!(took < Duration::from_secs(5), "{what}: took {took:?}");
}

#[test]
fn a_sleep_through_pollable_block_is_stopped_at_the_deadline() {
    let plugin = prober(Grants::none());
    assert_stopped_at_the_deadline("block", || plugin.invoke("probe#sleep(30000)"));
    // The host goes on: the next call of the same plugin runs.
    assert_eq!(
        componentry::to_wave(&plugin.invoke("probe#sleep(1)").expect("a short sleep")),
        ""
    );
}

#[test]
fn a_sleep_through_poll_is_stopped_at_the_deadline() {
    let plugin = prober(Grants::none());
    assert_stopped_at_the_deadline("poll", || plugin.invoke("probe#poll-sleep(30000)"));
}

#[test]
fn a_socket_read_that_never_ends_is_stopped_at_the_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let addr = listener.local_addr().expect("addr").to_string();
    let plugin = prober(Grants::none().allow_net(NetPattern::parse(&addr).expect("pattern")));
    assert_stopped_at_the_deadline("a socket read", || {
        plugin.invoke(&format!("probe#await-peer(\"{addr}\")"))
    });
    // The plugin's connection was closed with its instance.
    let (mut peer, _) = listener.accept().expect("the plugin connected");
    peer.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 1];
    assert_eq!(peer.read(&mut buf).expect("EOF, not a hang"), 0);
}

#[test]
fn an_http_response_that_never_comes_is_stopped_at_the_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let authority = listener.local_addr().expect("addr").to_string();
    let grants = Grants::none()
        .allow_http(HttpPattern::parse(&format!("http://{authority}")).expect("pattern"));
    let plugin = prober(grants);
    // The server accepts and reads the request, and never answers.
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request);
        std::thread::sleep(Duration::from_secs(3));
    });
    assert_stopped_at_the_deadline("an HTTP wait", || {
        plugin.invoke(&format!("probe#http-get(\"http\", \"{authority}\", \"/\")"))
    });
    server.join().expect("server");
}

#[test]
fn the_deadline_covers_the_instantiation_and_the_call_together() {
    let plugin = prober(Grants::none());
    // Two waits of 60% of the deadline each: on a held instance each call has its own deadline.
    let wait = DEADLINE.as_millis() * 6 / 10;
    let mut instance = plugin.instantiate().expect("instance");
    instance
        .invoke(&format!("probe#sleep({wait})"))
        .expect("first");
    instance
        .invoke(&format!("probe#sleep({wait})"))
        .expect("second: a fresh deadline");
}

#[test]
fn a_held_instance_stopped_at_its_deadline_takes_no_more_calls() {
    let plugin = prober(Grants::none());
    let mut instance = plugin.instantiate().expect("instance");
    assert!(matches!(
        instance.invoke("probe#sleep(30000)"),
        Err(Error::DeadlineExceeded { .. })
    ));
    assert!(matches!(
        instance.invoke("probe#sleep(1)"),
        Err(Error::InstanceFailed { .. })
    ));
}

#[cfg(feature = "async")]
mod asynchronous {
    use super::*;

    fn async_prober(grants: Grants) -> componentry::Plugin<()> {
        Host::builder_async(&deadline_engine(), |_| ())
            .expect("builder")
            .build()
            .expect("host")
            .load_file_with(
                guest("prober"),
                PluginOptions::new()
                    .grants(grants)
                    .limits(Limits::new().deadline(DEADLINE)),
            )
            .expect("load prober")
    }

    fn runtime() -> tokio::runtime::Runtime {
        // wasmtime-wasi's clocks need tokio's timer on asynchronous hosts; Componentry's
        // deadlines do not (the socket test's runtime has none).
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    fn runtime_without_timers() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .expect("runtime")
    }

    #[test]
    fn an_async_sleep_is_stopped_at_the_deadline() {
        let plugin = async_prober(Grants::none());
        let rt = runtime();
        assert_stopped_at_the_deadline("async block", || {
            rt.block_on(plugin.invoke_async("probe#sleep(30000)"))
        });
        assert_stopped_at_the_deadline("async poll", || {
            rt.block_on(plugin.invoke_async("probe#poll-sleep(30000)"))
        });
        rt.block_on(plugin.invoke_async("probe#sleep(1)"))
            .expect("the next call runs");
    }

    #[test]
    fn an_async_socket_read_is_stopped_at_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
        let addr = listener.local_addr().expect("addr").to_string();
        let plugin =
            async_prober(Grants::none().allow_net(NetPattern::parse(&addr).expect("pattern")));
        let rt = runtime_without_timers();
        assert_stopped_at_the_deadline("async socket read", || {
            rt.block_on(plugin.invoke_async(&format!("probe#await-peer(\"{addr}\")")))
        });
    }

    #[test]
    fn a_held_async_instance_stopped_at_its_deadline_takes_no_more_calls() {
        let plugin = async_prober(Grants::none());
        let rt = runtime();
        let mut instance = rt.block_on(plugin.instantiate_async()).expect("instance");
        assert!(matches!(
            rt.block_on(instance.invoke_async("probe#sleep(30000)")),
            Err(Error::DeadlineExceeded { .. })
        ));
        assert!(matches!(
            rt.block_on(instance.invoke_async("probe#sleep(1)")),
            Err(Error::InstanceFailed { .. })
        ));
    }
}
