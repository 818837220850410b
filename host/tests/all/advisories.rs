//! The classes of wasmtime security advisories that Componentry's promises rest on, each pinned
//! by a guest that exploits it: fuel that cannot be amplified by code the compiler hoists out of
//! a loop (GHSA-pv4f-cfmc-gph7). docs/security.md lists the advisories and the wasmtime release
//! that fixes each.

use std::time::{Duration, Instant};

use componentry::{Engine, Error, Host, Limits, PluginOptions};

/// A component whose `run(flag, count)` loops `count` times; inside the loop, behind a branch
/// that `flag = 0` never takes, `ops` pure floating-point operations on the loop's counter. A
/// compiler that hoists that code out of the loop (loop-invariant code motion) would run it on
/// every entry of the inner loop for the fuel of the few instructions that do run.
fn hoistable(ops: usize) -> String {
    let chain = "f64.const 1.5\nf64.add\nf64.sqrt\n".repeat(ops);
    format!(
        r#"(component
  (core module $m
    (global $sink (mut f64) (f64.const 0))
    (func (export "run") (param $flag i32) (param $i i32)
      (loop $outer
        (loop $inner
          (if (local.get $flag)
            (then
              local.get $i
              f64.convert_i32_u
              {chain}
              global.set $sink))
          (br_if $inner (local.get $flag)))
        (br_if $outer (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))))
  (core instance $i (instantiate $m))
  (func (export "run") (param "flag" u32) (param "count" u32)
    (canon lift (core func $i "run")))
)"#
    )
}

/// How long the fastest of three calls of `run(0, u32::MAX)` takes to spend 1,000,000 fuel.
fn time_to_spend_fuel(host: &Host<()>, name: &str, component: &str) -> Duration {
    let plugin = host
        .load_bytes_with(
            name,
            component.as_bytes(),
            PluginOptions::new().limits(Limits::default().fuel(1_000_000)),
        )
        .expect("load");
    (0..3)
        .map(|_| {
            let started = Instant::now();
            let err = plugin
                .invoke("run(0, 4294967295)")
                .expect_err("stopped by fuel");
            assert!(matches!(err, Error::FuelExhausted { .. }), "{err}");
            started.elapsed()
        })
        .min()
        .expect("three runs")
}

#[test]
fn fuel_is_not_amplified_by_code_hoisted_out_of_a_loop() {
    let engine = Engine::builder()
        .fuel(true)
        .cache_dir(crate::cache_dir())
        .build()
        .expect("engine");
    let host: Host<()> = Host::new(&engine).expect("host");
    let control = time_to_spend_fuel(&host, "control", &hoistable(0));
    let heavy = time_to_spend_fuel(&host, "heavy", &hoistable(2000));
    // Amplified, the heavy loop would run its 6,000 dead operations on each of the ~300,000
    // iterations the fuel pays for: about a thousand times the control's time. Not amplified,
    // both take about as long; the margin is for a noisy machine.
    assert!(
        heavy < control * 20 + Duration::from_millis(50),
        "1,000,000 fuel took {heavy:?} with hoistable dead code, {control:?} without: fuel was \
         amplified"
    );
}
