//! `cargo xtask soak`: runs the soak (the test target `soak` of `host/soak`) for a while against
//! the built guests. `cargo xtask test` runs its short form with the workspace's tests.

use std::path::Path;

use crate::step;

/// Runs the soak for `seconds`, with the guests in `guests`.
pub fn run(root: &Path, guests: &Path, seconds: f64) -> anyhow::Result<()> {
    step::run(
        &format!("soak ({seconds:.0} s)"),
        step::command(step::cargo(), root)
            .args(["test", "-p", "componentry-soak", "--test", "soak", "--"])
            .args(["--seconds", &seconds.to_string()])
            .arg("--guests")
            .arg(guests),
    )
}
