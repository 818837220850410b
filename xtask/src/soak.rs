//! `cargo xtask soak`: runs the soak binary (`host/soak`) for a while against the built guests.

use std::path::Path;

use crate::step;

/// The length of the short soak `cargo xtask test` runs, in seconds.
pub const SHORT_SECONDS: f64 = 20.0;

/// Runs the soak for `seconds`, with the guests in `guests`.
pub fn run(root: &Path, guests: &Path, seconds: f64) -> anyhow::Result<()> {
    step::run(
        &format!("soak ({seconds:.0} s)"),
        step::command(step::cargo(), root)
            .args(["run", "--quiet", "-p", "componentry-soak", "--"])
            .args(["--seconds", &seconds.to_string()])
            .arg("--guests")
            .arg(guests),
    )
}
