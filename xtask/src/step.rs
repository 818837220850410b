//! Running commands as named, timed steps.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The cargo that runs this xtask (so the host workspace is built by the same toolchain).
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// A command that runs in `dir`.
pub fn command(program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
    let mut command = Command::new(program);
    command.current_dir(dir);
    command
}

/// Runs `command` as the step `name`, printing what it does and how long it took.
pub fn run(name: &str, command: &mut Command) -> anyhow::Result<()> {
    println!("==> {name}");
    let started = Instant::now();
    let status = command
        .status()
        .with_context(|| format!("{name}: cannot start {:?}", command.get_program()))?;
    if !status.success() {
        bail!("{name} failed ({status}) after {}", elapsed(started));
    }
    println!("<== {name}: done in {}", elapsed(started));
    Ok(())
}

/// Runs `command` and returns its stdout, or `None` when it cannot run or fails.
pub fn output(command: &mut Command) -> Option<String> {
    let out = command.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The time since `started`, for humans.
pub fn elapsed(started: Instant) -> String {
    format_duration(started.elapsed())
}

fn format_duration(d: Duration) -> String {
    if d.as_secs() >= 60 {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
