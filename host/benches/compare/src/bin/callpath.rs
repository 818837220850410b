//! The call path's cost in instructions, for `valgrind --tool=callgrind`: each way of calling
//! `nop()` on a live instance runs [`CALLS`] times in a function of its own, so that callgrind's
//! inclusive count of that function divided by [`CALLS`] is its cost per call. Instruction
//! counts do not move with the machine's load, as times do; docs/performance.md shows how to
//! read them.
//!
//! ```text
//! valgrind --tool=callgrind --callgrind-out-file=callpath.out target/release/callpath
//! callgrind_annotate --inclusive=yes callpath.out | grep callpath::
//! ```

use anyhow::Result;
use componentry_bench::workloads::{self, ByHand, Framework, HandInstance, Plugins};

/// Calls per way of calling.
const CALLS: u32 = 20_000;

#[inline(never)]
fn hand_typed(hand: &mut HandInstance) {
    for _ in 0..CALLS {
        hand.bench.call_nop(&mut hand.store).expect("nop");
    }
}

#[inline(never)]
fn framework_typed(
    typed: &mut componentry::typed::TypedInstance<(), workloads::framework_bindings::Bench>,
) {
    for _ in 0..CALLS {
        typed.call(|b, s| b.call_nop(s)).expect("nop");
    }
}

#[inline(never)]
fn hand_dynamic(hand: &mut HandInstance) {
    for _ in 0..CALLS {
        hand.nop.call(&mut hand.store, &[], &mut []).expect("nop");
    }
}

#[inline(never)]
fn framework_dynamic(live: &mut componentry::PluginInstance<()>) {
    for _ in 0..CALLS {
        live.call("nop", &[]).expect("nop");
    }
}

fn main() -> Result<()> {
    let plugins = Plugins::find()?;
    let engine = workloads::framework_engine(false, false)?;
    let framework = Framework::new(&engine, &plugins.component, false)?;
    let by_hand = ByHand::new(engine.wasmtime(), &plugins.component, false, false)?;
    let mut hand = by_hand.live();
    let mut typed = framework.live_typed();
    let mut live = framework.live();
    hand_typed(&mut hand);
    framework_typed(&mut typed);
    hand_dynamic(&mut hand);
    framework_dynamic(&mut live);
    println!("{CALLS} calls each of typed and dynamic `nop()`, by hand and through Componentry");
    Ok(())
}
