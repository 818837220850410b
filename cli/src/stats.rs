//! The per-plugin metrics table printed at the end of `watch`, `serve` and `run --verbose`:
//!
//! ```text
//! plugin        calls  failed     p50     p99    mean  fuel       memory   instances
//! http-routes   1200   3          16µs    1ms    9µs   -          1.1 MiB  0 live, 1200 made
//!   failed: trap 2, deadline 1
//! ```
//!
//! p50 and p99 are upper bounds (the latency histogram's buckets double from 1 µs).

use std::io::Write;
use std::time::Duration;

use componentry::{Plugin, stats::PluginStats};

/// Writes the table of `plugins`' metrics to `out`.
pub fn write_table<T: Send + 'static>(
    plugins: &[Plugin<T>],
    out: &mut impl Write,
) -> std::io::Result<()> {
    let rows: Vec<(String, PluginStats)> = plugins
        .iter()
        .map(|p| {
            (
                componentry::escape_untrusted(p.name()).into_owned(),
                p.stats(),
            )
        })
        .collect();
    let width = rows
        .iter()
        .map(|(name, _)| name.chars().count())
        .max()
        .unwrap_or(0)
        .max("plugin".len());
    writeln!(
        out,
        "{:width$}  {:>7}  {:>6}  {:>7}  {:>7}  {:>7}  {:>12}  {:>9}  instances",
        "plugin", "calls", "failed", "p50", "p99", "mean", "fuel", "memory"
    )?;
    for (name, stats) in &rows {
        let latency = &stats.latency;
        writeln!(
            out,
            "{name:width$}  {:>7}  {:>6}  {:>7}  {:>7}  {:>7}  {:>12}  {:>9}  {} live, {} made",
            stats.calls,
            stats.failed_calls(),
            duration(latency.quantile(0.5)),
            duration(latency.quantile(0.99)),
            duration(latency.mean()),
            if stats.fuel_consumed == 0 {
                "-".to_owned()
            } else {
                stats.fuel_consumed.to_string()
            },
            bytes(stats.memory_high_water),
            stats.instances_live,
            stats.instances_created,
        )?;
        if !stats.errors.is_empty() {
            let kinds: Vec<String> = stats
                .errors
                .iter()
                .map(|(kind, n)| format!("{kind} {n}"))
                .collect();
            writeln!(out, "  failed: {}", kinds.join(", "))?;
        }
    }
    Ok(())
}

/// Prints the table on stderr (where the log goes, so that stdout stays the plugins' own).
pub fn print<T: Send + 'static>(plugins: &[Plugin<T>]) {
    let _ = write_table(plugins, &mut std::io::stderr().lock());
}

fn duration(duration: Option<Duration>) -> String {
    let Some(duration) = duration else {
        return "-".to_owned();
    };
    let nanos = duration.as_nanos();
    if nanos < 1_000 {
        format!("{nanos}ns")
    } else if nanos < 1_000_000 {
        format!("{}µs", nanos / 1_000)
    } else if nanos < 1_000_000_000 {
        format!("{}ms", nanos / 1_000_000)
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

fn bytes(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    const KIB: u64 = 1 << 10;
    if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else if bytes >= KIB {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_read_naturally() {
        assert_eq!(duration(None), "-");
        assert_eq!(duration(Some(Duration::from_nanos(512))), "512ns");
        assert_eq!(duration(Some(Duration::from_micros(16))), "16µs");
        assert_eq!(duration(Some(Duration::from_millis(2))), "2ms");
        assert_eq!(duration(Some(Duration::from_millis(1500))), "1.5s");
        assert_eq!(bytes(100), "100 B");
        assert_eq!(bytes(65536), "64 KiB");
        assert_eq!(bytes(3 << 19), "1.5 MiB");
    }
}
