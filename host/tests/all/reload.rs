//! Hot reload of a plugin handle: new versions swap in atomically, calls under way finish on the
//! old one, and a broken version never replaces a working one.

use std::time::{Duration, Instant};

use componentry::{Error, ExtensionPoint, Grants, PluginEvent, PluginOptions, ReloadOutcome};

use crate::host;

/// The `versioned` test component (`host/tests/guests/wat/versioned.wat`) returning `n`.
pub fn versioned(n: u32) -> Vec<u8> {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/guests/wat/versioned.wat"
    ))
    .expect("versioned.wat");
    template.replace("VERSION", &n.to_string()).into_bytes()
}

fn version_of(plugin: &componentry::Plugin<()>) -> String {
    componentry::to_wave(&plugin.invoke("version()").expect("version"))
}

#[test]
fn a_new_version_answers_after_a_reload() {
    let host = host();
    let events = host.subscribe();
    let plugin = host.load_bytes("versioned", &versioned(1)).expect("load");
    let before = plugin.instantiate().expect("instance of version 1");
    assert_eq!(version_of(&plugin), "1");

    let outcome = plugin.reload(&versioned(2)).expect("reload");
    assert!(
        matches!(outcome, ReloadOutcome::Reloaded { .. }),
        "{outcome:?}"
    );
    assert_eq!(version_of(&plugin), "2");
    match events.recv_timeout(Duration::from_secs(5)) {
        Ok(PluginEvent::Reloaded {
            plugin, new_sha256, ..
        }) => {
            assert_eq!(plugin, "versioned");
            assert_eq!(new_sha256.len(), 64);
        }
        other => panic!("expected a reload event, got {other:?}"),
    }
    // An instance made before the reload keeps the version it was made from.
    let mut before = before;
    assert_eq!(
        componentry::to_wave(&before.invoke("version()").expect("old instance")),
        "1"
    );
    assert_eq!(
        plugin.reload(&versioned(2)).expect("same bytes"),
        ReloadOutcome::Unchanged
    );
}

#[test]
fn a_broken_version_never_replaces_a_working_one() {
    let host = host();
    let events = host.subscribe();
    let plugin = host.load_bytes("steady", &versioned(1)).expect("load");
    let good = versioned(2);
    for broken in [
        b"garbage".to_vec(),
        b"\0asm\x0d\0\x01\0\x01".to_vec(),
        good[..good.len() / 2].to_vec(),
    ] {
        assert!(plugin.reload(&broken).is_err());
        assert_eq!(version_of(&plugin), "1", "the old version keeps serving");
        match events.recv_timeout(Duration::from_secs(5)) {
            Ok(PluginEvent::ReloadFailed { plugin, error }) => {
                assert_eq!(plugin, "steady");
                assert!(!error.is_empty());
            }
            other => panic!("expected a reload failure event, got {other:?}"),
        }
    }
    plugin.reload(&good).expect("a later good version is taken");
    assert_eq!(version_of(&plugin), "2");
}

#[test]
fn a_version_of_the_wrong_world_is_refused() {
    let point = ExtensionPoint::from_wit_str(
        "package test:versioned@1.0.0;\nworld w { export version: func() -> u32; }\n",
        Some("w"),
    )
    .expect("WIT");
    let plugin = host()
        .load_bytes_with(
            "checked",
            &versioned(1),
            PluginOptions::new().extension_point(point),
        )
        .expect("load");
    let wrong = br#"(component
        (core module $m (func (export "v") (result i32) i32.const 9))
        (core instance $i (instantiate $m))
        (func (export "other") (result u32) (canon lift (core func $i "v")))
    )"#;
    let err = plugin.reload(wrong).expect_err("wrong world");
    assert!(matches!(err, Error::Incompatible { .. }), "{err}");
    assert!(
        err.to_string().contains("missing export `version`"),
        "{err}"
    );
    assert_eq!(version_of(&plugin), "1");
}

#[test]
fn calls_during_reloads_never_fail_and_each_answer_comes_from_one_version() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let plugin = host().load_bytes("busy", &versioned(1)).expect("load");
    let stop = AtomicBool::new(false);
    let calls = AtomicUsize::new(0);
    let saw = [AtomicBool::new(false), AtomicBool::new(false)];
    std::thread::scope(|scope| {
        let callers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        match version_of(&plugin).as_str() {
                            "1" => saw[0].store(true, Ordering::Relaxed),
                            "2" => saw[1].store(true, Ordering::Relaxed),
                            other => panic!("an answer from no version: {other}"),
                        }
                        calls.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        // Reload back and forth while the callers call, until they have made plenty of calls and
        // seen both versions (bounded, so a stuck caller fails the test instead of hanging it).
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut rounds = 0u32;
        let done = || {
            calls.load(Ordering::Relaxed) >= 400 && saw.iter().all(|s| s.load(Ordering::Relaxed))
        };
        while !done() && Instant::now() < deadline {
            let next = if rounds.is_multiple_of(2) { 2 } else { 1 };
            plugin.reload(&versioned(next)).expect("reload");
            rounds += 1;
        }
        stop.store(true, Ordering::Relaxed);
        for caller in callers {
            caller.join().expect("no caller failed a call");
        }
        assert!(
            done(),
            "after {rounds} reloads: {} calls",
            calls.load(Ordering::Relaxed)
        );
    });
}

/// The same component with a custom section appended: other bytes, same behaviour.
pub fn rebuilt(bytes: &[u8]) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    bytes.extend_from_slice(&[0x00, 0x05, 0x04, b'n', b'e', b'x', b't']);
    bytes
}

#[test]
fn state_is_handed_over_to_the_new_version() {
    let original = std::fs::read(crate::guest("counter")).expect("counter guest");
    let plugin = host().load_bytes("counter", &original).expect("load");
    let mut instance = plugin.instantiate().expect("instance");
    for expected in 1..=3 {
        assert_eq!(
            componentry::to_wave(&instance.invoke("increment()").expect("call")),
            expected.to_string()
        );
    }
    assert!(
        !instance.upgrade().expect("nothing to upgrade"),
        "no reload yet"
    );
    assert!(matches!(
        plugin.reload(&rebuilt(&original)).expect("reload"),
        ReloadOutcome::Reloaded { .. }
    ));
    assert!(
        instance.upgrade().expect("upgrade"),
        "moved to the new version"
    );
    assert_eq!(
        componentry::to_wave(&instance.invoke("increment()").expect("call")),
        "4"
    );
    // A fresh instance of the new version starts from nothing.
    assert_eq!(
        componentry::to_wave(&plugin.invoke("increment()").expect("call")),
        "1"
    );
}

#[test]
fn without_the_handover_interface_the_new_version_starts_afresh() {
    let plugin = host().load_bytes("plain", &versioned(1)).expect("load");
    let mut instance = plugin.instantiate().expect("instance");
    plugin.reload(&versioned(2)).expect("reload");
    assert_eq!(
        componentry::to_wave(&instance.invoke("version()").expect("old")),
        "1"
    );
    assert!(instance.upgrade().expect("upgrade"));
    assert_eq!(
        componentry::to_wave(&instance.invoke("version()").expect("new")),
        "2"
    );
}

#[test]
fn a_large_state_is_handed_over() {
    let original = std::fs::read(crate::guest("counter")).expect("counter guest");
    let plugin = host().load_bytes("counter", &original).expect("load");
    let mut instance = plugin.instantiate().expect("instance");
    instance.invoke("increment()").expect("call");
    instance.invoke("add-ballast(8)").expect("8 MiB of state");
    plugin.reload(&rebuilt(&original)).expect("reload");
    assert!(instance.upgrade().expect("an 8 MiB snapshot moves"));
    assert_eq!(
        componentry::to_wave(&instance.invoke("state-size()").expect("size")),
        (4 + (8u64 << 20)).to_string()
    );
    assert_eq!(
        componentry::to_wave(&instance.invoke("increment()").expect("call")),
        "2"
    );
}

#[test]
fn a_reload_keeps_the_pin_the_grants_and_the_limits() {
    use componentry::{Error, Limits, PluginOptions};
    use sha2::Digest;

    // The pin: other bytes are refused, the pinned version keeps serving.
    let v1 = versioned(1);
    let pinned: [u8; 32] = sha2::Sha256::digest(&v1).into();
    let plugin = host()
        .load_bytes_with("pinned", &v1, PluginOptions::new().pin_sha256(pinned))
        .expect("load");
    assert!(matches!(
        plugin.reload(&versioned(2)),
        Err(Error::IntegrityMismatch { .. })
    ));
    assert_eq!(version_of(&plugin), "1");

    // The grants: a rebuilt prober still sees what was granted, and nothing more.
    let prober = std::fs::read(crate::guest("prober")).expect("prober");
    let plugin = host()
        .load_bytes_with(
            "prober",
            &prober,
            PluginOptions::new().grants(Grants::none().env("MODE", "granted")),
        )
        .expect("load");
    plugin.reload(&rebuilt(&prober)).expect("reload");
    assert_eq!(
        componentry::to_wave(&plugin.invoke(r#"probe#get-env("MODE")"#).expect("call")),
        r#"some("granted")"#
    );
    assert_eq!(
        componentry::to_wave(&plugin.invoke("probe#env-count()").expect("call")),
        "1"
    );

    // The limits: a rebuilt faults still runs out of the same fuel.
    let engine = componentry::Engine::builder()
        .fuel(true)
        .build()
        .expect("engine");
    let faults = std::fs::read(crate::guest("faults")).expect("faults");
    let plugin = componentry::Host::<()>::new(&engine)
        .expect("host")
        .load_bytes_with(
            "faults",
            &faults,
            PluginOptions::new().limits(Limits::new().fuel(1_000_000)),
        )
        .expect("load");
    plugin.reload(&rebuilt(&faults)).expect("reload");
    assert!(matches!(
        plugin.invoke("forever()"),
        Err(Error::FuelExhausted {
            consumed: 1_000_000,
            ..
        })
    ));
}

mod versioned_bindings {
    ::componentry::bindgen!({
        inline: "package test:versioned; world versioned { export version: func() -> u32; }",
    });
    ::componentry::typed_world!(Versioned, VersionedIndices);
}

#[test]
fn typed_bindings_follow_a_reload() {
    let plugin = host().load_bytes("typed", &versioned(1)).expect("load");
    let typed = plugin
        .typed::<versioned_bindings::Versioned>()
        .expect("bindings");
    let call = || typed.call(|v, store| v.call_version(store)).expect("call");
    assert_eq!(call(), 1);
    plugin.reload(&versioned(2)).expect("reload");
    assert_eq!(
        call(),
        2,
        "the bindings were resolved again for the new version"
    );
}

#[test]
fn a_version_without_what_the_handle_is_used_for_is_refused() {
    let host = host();
    let events = host.subscribe();
    let plugin = host.load_bytes("used", &versioned(1)).expect("load");
    let typed = plugin
        .typed::<versioned_bindings::Versioned>()
        .expect("bindings");
    // No extension point: only the typed view says `version` is needed.
    let without = br#"(component
        (core module $m (func (export "v") (result i32) i32.const 9))
        (core instance $i (instantiate $m))
        (func (export "other") (result u32) (canon lift (core func $i "v")))
    )"#;
    let err = plugin
        .reload(without)
        .expect_err("the typed view needs `version`");
    assert!(matches!(err, Error::Incompatible { .. }), "{err}");
    assert!(
        err.to_string().contains("used") && err.to_string().contains("version"),
        "{err}"
    );
    let failed = crate::watch::wait_for(&events, "reload failed", |e| {
        matches!(e, PluginEvent::ReloadFailed { .. })
    });
    assert!(format!("{failed:?}").contains("used"), "{failed:?}");
    assert_eq!(
        typed.call(|v, store| v.call_version(store)).expect("call"),
        1
    );
    assert_eq!(version_of(&plugin), "1", "the old version keeps serving");
}

/// A component whose start function traps: it compiles and links, and no instance of it ever
/// starts.
const TRAPPING_START: &[u8] = br#"(component
    (core module $m
        (func $start unreachable)
        (start $start)
        (func (export "v") (result i32) i32.const 7))
    (core instance $i (instantiate $m))
    (func (export "version") (result u32) (canon lift (core func $i "v")))
)"#;

/// A component whose start function grows its memory past what the plugin's limits allow.
const GREEDY_START: &[u8] = br#"(component
    (core module $m
        (memory 1)
        (func $start (drop (memory.grow (i32.const 1024))) (if (i32.lt_s (memory.size) (i32.const 2)) (then unreachable)))
        (start $start)
        (func (export "v") (result i32) i32.const 8))
    (core instance $i (instantiate $m))
    (func (export "version") (result u32) (canon lift (core func $i "v")))
)"#;

#[test]
fn a_version_whose_start_fails_never_replaces_a_working_one() {
    let plugin = host()
        .load_bytes_with(
            "starting",
            &versioned(1),
            PluginOptions::new().limits(componentry::Limits::default().max_memory(1 << 20)),
        )
        .expect("load");
    let err = plugin.reload(TRAPPING_START).expect_err("its start traps");
    assert!(matches!(err, Error::Trap { .. }), "{err}");
    assert_eq!(version_of(&plugin), "1", "the old version keeps serving");
    // Started under the plugin's limits: 64 MiB asked for where 1 MiB is allowed.
    let err = plugin
        .reload(GREEDY_START)
        .expect_err("its start needs more memory");
    assert!(
        matches!(err, Error::MemoryLimit { .. } | Error::Trap { .. }),
        "{err}"
    );
    assert_eq!(version_of(&plugin), "1", "the old version keeps serving");
    plugin
        .reload(&versioned(2))
        .expect("a good version still swaps in");
    assert_eq!(version_of(&plugin), "2");
}
