//! The pooling allocator (an engine setting) and instance pools (per plugin): both bounded, both
//! failing with a typed `Exhausted` rather than growing, and plugins of every language run in a
//! pooled engine.

use std::time::Duration;

use componentry::{
    Engine, Error, Host, Limits, PluginOptions, Pooling, pool::PoolOptions, pool::Reuse,
};

use crate::guest;

fn pooled(pooling: Pooling) -> Host<()> {
    let engine = Engine::builder()
        .pooling(pooling)
        .cache_dir(crate::cache_dir())
        .build()
        .expect("pooled engine");
    Host::new(&engine).expect("host")
}

#[test]
fn plugins_of_every_language_run_in_a_pooled_engine() {
    let host = pooled(Pooling::new().instances(8));
    let hello = host.load_file(guest("hello-rust")).expect("load");
    for _ in 0..20 {
        let greeting = hello.invoke(r#"greet("pool")"#).expect("call");
        assert_eq!(componentry::to_wave(&greeting), r#""Hello, pool!""#);
    }
    for language in crate::languages::languages() {
        let plugin = host
            .load_file(crate::languages::greeter_path(&language))
            .expect("load");
        let greeting = plugin
            .invoke(r#"greet("Ada")"#)
            .unwrap_or_else(|e| panic!("{language} in a pooled engine: {e}"));
        assert_eq!(
            componentry::to_wave(&greeting),
            r#""Hello, Ada!""#,
            "{language}"
        );
    }
}

#[test]
fn a_full_engine_pool_is_a_typed_error_and_frees_up() {
    let host = pooled(Pooling::new().instances(2));
    let plugin = host.load_file(guest("hello-rust")).expect("load");
    let first = plugin.instantiate().expect("one");
    let second = plugin.instantiate().expect("two");
    match plugin.instantiate() {
        Err(Error::Exhausted { plugin, reason }) => {
            assert_eq!(plugin, "hello-rust");
            assert!(reason.contains("pool"), "{reason}");
        }
        Err(other) => panic!("expected Exhausted, got {other}"),
        Ok(_) => panic!("a third instance in a pool of two"),
    }
    drop(first);
    plugin
        .instantiate()
        .expect("room again once an instance is dropped");
    drop(second);
}

#[test]
fn a_memory_limit_beyond_the_pool_is_refused_at_load() {
    let host = pooled(Pooling::new().instances(2).max_memory(16 << 20));
    let err = host
        .load_file_with(
            guest("hello-rust"),
            PluginOptions::new().limits(Limits::default().max_memory(64 << 20)),
        )
        .expect_err("a 64 MiB limit in 16 MiB slots");
    assert!(err.to_string().contains("Pooling::max_memory"), "{err}");
    assert!(matches!(err, Error::LimitUnsupported { .. }), "{err:?}");
    host.load_file_with(
        guest("hello-rust"),
        PluginOptions::new().limits(Limits::default().max_memory(16 << 20)),
    )
    .expect("a limit that fits");
}

/// A freed slot is reset before the next instance gets it, whether its written pages are handed
/// back to the system or reset in place and kept resident: statics, the heap and memory grown
/// past the kept budget all start over.
#[test]
fn a_reused_slot_starts_clean() {
    for pooling in [
        Pooling::new().instances(1),
        Pooling::new().instances(1).keep_resident(0),
        Pooling::new().instances(1).keep_resident(64 << 20),
    ] {
        let host = pooled(pooling.clone());
        let plugin = host.load_file(guest("counter")).expect("load");
        for round in 0..3 {
            // One slot: every instance reuses the memory the previous one wrote.
            let mut instance = plugin.instantiate().expect("instance");
            let call = |instance: &mut componentry::PluginInstance<()>, call: &str| {
                componentry::to_wave(&instance.invoke(call).expect(call))
            };
            assert_eq!(
                call(&mut instance, "increment()"),
                "1",
                "{pooling:?}, round {round}: a static left by the last instance"
            );
            assert_eq!(
                call(&mut instance, "state-size()"),
                "4",
                "{pooling:?}, round {round}: heap left by the last instance"
            );
            call(&mut instance, "add-ballast(2)");
            assert_eq!(
                call(&mut instance, "state-size()"),
                (4 + (2 << 20)).to_string()
            );
        }
    }
}

/// A resident budget past what the address space holds is refused when the engine is built,
/// as a typed error rather than a panic (where the kernel lets it apply at all); a budget that is no whole number of pages is rounded.
#[test]
fn an_impossible_resident_budget_is_a_typed_error() {
    let build = |bytes| {
        Engine::builder()
            .pooling(Pooling::new().instances(2).keep_resident(bytes))
            .build()
    };
    let huge = build(usize::MAX);
    if wasmtime::PoolingAllocationConfig::is_pagemap_scan_available() {
        match huge {
            Err(error) => assert!(!error.to_string().is_empty()),
            Ok(_) => panic!("usize::MAX bytes kept resident per slot"),
        }
    } else {
        huge.expect("the budget is ignored without PAGEMAP_SCAN");
    }
    let engine = build(1000).expect("rounded up to a page");
    let plugin = Host::<()>::new(&engine)
        .expect("host")
        .load_file(guest("hello-rust"))
        .expect("load");
    plugin.invoke(r#"greet("odd")"#).expect("call");
}

fn counter() -> componentry::Plugin<()> {
    crate::host().load_file(guest("counter")).expect("load")
}

fn count(pool: &componentry::pool::InstancePool<()>) -> String {
    componentry::to_wave(&pool.invoke("increment()").expect("call"))
}

#[test]
fn a_pool_gives_fresh_instances_unless_told_to_keep_them() {
    let fresh = counter().pool(PoolOptions::new().size(2));
    assert_eq!(count(&fresh), "1");
    assert_eq!(
        count(&fresh),
        "1",
        "no state leaks from one call into the next"
    );
    assert_eq!(fresh.idle(), 0);

    let kept = counter().pool(PoolOptions::new().size(1).reuse(Reuse::Keep));
    assert_eq!(count(&kept), "1");
    assert_eq!(count(&kept), "2", "a kept instance keeps its state");
    assert_eq!((kept.live(), kept.idle()), (1, 1));
}

#[test]
fn a_kept_instance_that_fails_is_replaced() {
    let faults = crate::host().load_file(guest("faults")).expect("load");
    let pool = faults.pool(PoolOptions::new().size(1).reuse(Reuse::Keep));
    let err = pool.invoke(r#"panic-with("boom")"#).expect_err("traps");
    assert!(matches!(err, Error::Trap { .. }), "{err}");
    assert_eq!(pool.live(), 0, "the failed instance was dropped");
    let ok = pool
        .invoke("ok()")
        .expect("a fresh instance serves the next call");
    assert_eq!(componentry::to_wave(&ok), r#""still fine""#);
}

#[test]
fn a_busy_pool_waits_or_refuses() {
    let plugin = counter();
    let refusing = plugin.pool(PoolOptions::new().size(1).wait(None));
    refusing
        .with(|_held| {
            match refusing.invoke("increment()") {
                Err(Error::Exhausted { reason, .. }) => {
                    assert!(reason.contains("busy"), "{reason}")
                }
                other => panic!("expected Exhausted, got {other:?}"),
            }
            Ok(())
        })
        .expect("held");

    let waiting = plugin.pool(
        PoolOptions::new()
            .size(1)
            .wait(Some(Duration::from_secs(20))),
    );
    let waiting = &waiting;
    std::thread::scope(|threads| {
        let (held, release) = std::sync::mpsc::channel::<()>();
        let holder = threads.spawn(move || {
            waiting.with(|_instance| {
                held.send(()).expect("send");
                std::thread::sleep(Duration::from_millis(200));
                Ok(())
            })
        });
        release.recv().expect("the holder has the instance");
        assert_eq!(
            count(waiting),
            "1",
            "the waiting call got the returned instance"
        );
        holder.join().expect("holder").expect("held");
    });
}

/// Kept instances are spread over per-thread shards: every call from every thread still finds
/// an idle instance wherever it was returned, a call waiting for one is woken by a return from
/// any thread, and every call is counted.
/// An instance lent to a call while the plugin reloads goes back to the pool, and moves to the
/// new version with its state before its next call, as an idle one does.
#[test]
fn a_kept_instance_busy_during_a_reload_keeps_its_state() {
    let original = std::fs::read(guest("counter")).expect("counter guest");
    let plugin = crate::host()
        .load_bytes("counter", &original)
        .expect("load");
    let pool = plugin.pool(PoolOptions::new().size(1).reuse(Reuse::Keep));
    assert_eq!(count(&pool), "1");
    pool.with(|instance| {
        plugin
            .reload(&crate::reload::rebuilt(&original))
            .expect("reload");
        instance.invoke("increment()")
    })
    .expect("the call during the reload");
    assert_eq!(count(&pool), "3", "the count survived the reload");
    assert_eq!(pool.live(), 1);
}

#[test]
fn a_kept_pool_hands_instances_between_threads() {
    let plugin = counter();
    let pool = plugin.pool(
        PoolOptions::new()
            .size(2)
            .reuse(Reuse::Keep)
            .wait(Some(Duration::from_secs(20))),
    );
    std::thread::scope(|threads| {
        for _ in 0..8 {
            let pool = &pool;
            threads.spawn(move || {
                for _ in 0..50 {
                    pool.invoke("increment()").expect("call");
                }
            });
        }
    });
    assert_eq!(plugin.stats().calls, 400);
    assert!(pool.live() <= 2, "{} live", pool.live());
    assert_eq!(pool.idle(), pool.live());

    // Both instances busy on two threads; a third call waits, and gets the first returned.
    let pool = &pool;
    std::thread::scope(|threads| {
        let (held, release) = std::sync::mpsc::channel::<()>();
        for _ in 0..2 {
            let held = held.clone();
            threads.spawn(move || {
                pool.with(|_instance| {
                    held.send(()).expect("send");
                    std::thread::sleep(Duration::from_millis(200));
                    Ok(())
                })
                .expect("held")
            });
        }
        release.recv().expect("one holder");
        release.recv().expect("both holders");
        let started = std::time::Instant::now();
        pool.invoke("increment()").expect("the waiting call");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "woken by the return, not the timeout"
        );
    });
}

#[test]
fn a_kept_pool_moves_to_a_reloaded_version() {
    let plugin = crate::host()
        .load_bytes("versioned", &crate::reload::versioned(1))
        .expect("load");
    let pool = plugin.pool(PoolOptions::new().size(1).reuse(Reuse::Keep));
    assert_eq!(
        componentry::to_wave(&pool.invoke("version()").expect("call")),
        "1"
    );
    plugin.reload(&crate::reload::versioned(2)).expect("reload");
    assert_eq!(
        componentry::to_wave(&pool.invoke("version()").expect("call")),
        "2",
        "the kept instance moved to the new version before its next call"
    );
    assert_eq!(pool.live(), 1);
}

#[test]
fn calls_from_many_threads_share_a_pool() {
    let plugin = crate::host().load_file(guest("hello-rust")).expect("load");
    let pool = plugin.pool(PoolOptions::new().size(2));
    std::thread::scope(|threads| {
        for n in 0..8 {
            let pool = &pool;
            threads.spawn(move || {
                let greeting = pool.invoke(&format!(r#"greet("{n}")"#)).expect("call");
                assert_eq!(componentry::to_wave(&greeting), format!(r#""Hello, {n}!""#));
            });
        }
    });
    assert!(pool.live() <= 2);
}

/// A component that pokes and peeks its own memory (two pages, growable), with `tag` in a
/// comment so that two plugins can differ in bytes only.
fn memory_toy(tag: &str) -> String {
    format!(
        r#";; {tag}
(component
  (core module $m
    (memory 2)
    (func (export "peek") (param i32) (result i32) (i32.load (local.get 0)))
    (func (export "poke") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))
  (core instance $i (instantiate $m))
  (func (export "peek") (param "addr" u32) (result u32) (canon lift (core func $i "peek")))
  (func (export "poke") (param "addr" u32) (param "value" u32) (canon lift (core func $i "poke")))
  (func (export "grow") (param "pages" u32) (result s32) (canon lift (core func $i "grow")))
)"#
    )
}

/// An instance of a `memory_toy` plugin, its memory grown to four pages.
fn grown(plugin: &componentry::Plugin<()>) -> componentry::PluginInstance<()> {
    let mut instance = plugin.instantiate().expect("instance");
    instance.invoke("grow(2)").expect("grow");
    instance
}

/// The word at `addr` of the instance's memory, as WAVE.
fn peek(instance: &mut componentry::PluginInstance<()>, addr: u32) -> String {
    componentry::to_wave(&instance.invoke(&format!("peek({addr})")).expect("peek"))
}

#[test]
fn a_reused_slot_never_shows_the_previous_instances_memory() {
    // Low, middle (the second initial page) and grown (the fourth page) addresses.
    let addresses = [16u32, 65_536 + 16, 3 * 65_536 + 16];
    for pooling in [
        Pooling::new().instances(1),
        Pooling::new().instances(1).keep_resident(0),
        Pooling::new().instances(1).keep_resident(64 << 20),
    ] {
        let host = pooled(pooling.clone());
        let writer = host
            .load_bytes("writer", memory_toy("writer").as_bytes())
            .expect("load");
        let other = host
            .load_bytes("other", memory_toy("other").as_bytes())
            .expect("load");
        for round in 0..3 {
            let mut instance = grown(&writer);
            for addr in addresses {
                assert_eq!(
                    peek(&mut instance, addr),
                    "0",
                    "{pooling:?}, round {round}: the writer's last marker at {addr}"
                );
                instance
                    .invoke(&format!("poke({addr}, 3735928559)"))
                    .expect("poke");
                assert_eq!(peek(&mut instance, addr), "3735928559");
            }
            drop(instance);
            // Another plugin in the same slot sees none of it.
            let mut instance = grown(&other);
            for addr in addresses {
                assert_eq!(
                    peek(&mut instance, addr),
                    "0",
                    "{pooling:?}, round {round}: another plugin's marker at {addr}"
                );
            }
        }
    }
}
