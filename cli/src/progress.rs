//! Progress of long work (compiling a component, running a language's build tool): a spinner on
//! stderr when it is a terminal, plain lines otherwise, so that logs read by programs stay lines.

use std::io::IsTerminal;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How long work may take before a spinner appears (quick work shows nothing).
const SPINNER_DELAY: Duration = Duration::from_millis(300);

/// Work taking longer than this gets a plain line when it ends, where there is no spinner.
const WORTH_A_LINE: Duration = Duration::from_secs(1);

/// Whether stderr is a terminal a person watches.
pub fn interactive() -> bool {
    std::io::stderr().is_terminal()
}

/// Runs `work`, saying `what` (`compiling hello (17.5 MiB)`) while it runs: on a terminal, a
/// spinner once it has taken a moment; otherwise, when it took more than a second, a line
/// `componentry: WHAT took 4.2s` at the end.
pub fn during<R>(what: &str, work: impl FnOnce() -> R) -> R {
    let started = Instant::now();
    if !interactive() {
        let result = work();
        if started.elapsed() > WORTH_A_LINE {
            eprintln!(
                "componentry: {what} took {:.1}s",
                started.elapsed().as_secs_f64()
            );
        }
        return result;
    }
    let (done, finished) = channel::<()>();
    let label = what.to_owned();
    let spinner = std::thread::spawn(move || {
        if finished.recv_timeout(SPINNER_DELAY) != Err(RecvTimeoutError::Timeout) {
            return;
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} componentry: {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(label);
        bar.enable_steady_tick(Duration::from_millis(100));
        let _ = finished.recv();
        bar.finish_and_clear();
    });
    let result = work();
    drop(done);
    let _ = spinner.join();
    result
}

/// `bytes` for people: `17.5 MiB`, `80.2 KiB`, `312 bytes`.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / f64::from(1 << 10)),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(54_000), "52.7 KiB");
        assert_eq!(human_size(18 << 20), "18.0 MiB");
    }

    #[test]
    fn work_runs_once_and_gives_its_result() {
        let mut runs = 0;
        let result = during("counting", || {
            runs += 1;
            42
        });
        assert_eq!((result, runs), (42, 1));
    }
}
