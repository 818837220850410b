//! (i) Serving HTTP: `componentry serve` against wasmtime by hand (`serve-by-hand`, this crate's
//! server on wasmtime-wasi-http's own `ProxyHandler`, as `wasmtime serve` uses), the same hello
//! handler in the same mode, each server a process of its own loaded by `http-load` (another
//! process) on the same machine. Each pair of runs alternates the two servers, so that the
//! machine's noise falls on both; the ratio is wasmtime's requests/s over Componentry's.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::measure::Pair;

/// The binaries and components a serving comparison runs.
pub struct Serving {
    /// `componentry` (release).
    pub cli: PathBuf,
    /// `serve-by-hand` (release).
    pub by_hand: PathBuf,
    /// `http-load` (release).
    pub load: PathBuf,
    /// The WASI 0.2 hello handler (`http-routes`).
    pub p2: PathBuf,
    /// The WASI 0.3 hello handler (`http-p3`).
    pub p3: PathBuf,
}

/// A way of serving: which handler, and whether instances are reused.
#[derive(Clone, Copy)]
pub struct Mode {
    /// How the mode is named in the table.
    pub name: &'static str,
    /// Whether the handler is the WASI 0.3 one.
    pub wasi_0_3: bool,
    /// Requests per instance and at once per instance, when instances are reused.
    pub reuse: Option<(usize, usize)>,
}

/// The three modes measured: 0.2 and 0.3 with a fresh instance per request, 0.3 reused (128
/// requests per instance, 16 at once).
pub const MODES: [Mode; 3] = [
    Mode {
        name: "0.2, fresh instance per request",
        wasi_0_3: false,
        reuse: None,
    },
    Mode {
        name: "0.3, fresh instance per request",
        wasi_0_3: true,
        reuse: None,
    },
    Mode {
        name: "0.3, reused (128 per instance, 16 at once)",
        wasi_0_3: true,
        reuse: Some((128, 16)),
    },
];

/// One load run's figures.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Requests answered with 200 per second.
    pub per_second: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

/// What a mode at a number of connections measured: both sides' best runs and the pair.
pub struct Measured {
    /// Componentry's best run.
    pub ours: Load,
    /// wasmtime by hand's best run.
    pub by_hand: Load,
    /// Time per request (the inverse of requests/s), as the table's other rows.
    pub pair: Pair,
}

impl Serving {
    /// Finds the binaries and components from the environment `cargo xtask bench` sets.
    pub fn find(guests: &Path) -> Result<Self> {
        let var = |name: &str| -> Result<PathBuf> {
            std::env::var_os(name)
                .map(PathBuf::from)
                .with_context(|| format!("{name} is not set: run `cargo xtask bench`"))
        };
        Ok(Self {
            cli: var("COMPONENTRY_BENCH_CLI")?,
            by_hand: var("COMPONENTRY_BENCH_SERVE_BY_HAND")?,
            load: var("COMPONENTRY_BENCH_HTTP_LOAD")?,
            p2: guests.join("http-routes.wasm"),
            p3: guests.join("http-p3.wasm"),
        })
    }

    /// Measures `mode` at `connections`: `rounds` rounds, each a run of `seconds` against
    /// Componentry and one against wasmtime by hand, in alternating order.
    pub fn measure(
        &self,
        mode: Mode,
        connections: usize,
        rounds: usize,
        seconds: f64,
    ) -> Result<Measured> {
        let mut ratios = Vec::new();
        let (mut ours, mut hand): (Option<Load>, Option<Load>) = (None, None);
        let best = |best: &mut Option<Load>, run: Load| {
            if best.is_none_or(|b| run.per_second > b.per_second) {
                *best = Some(run);
            }
        };
        for round in 0..rounds.max(1) {
            let (a, b) = if round % 2 == 0 {
                let a = self.run(&self.cli, mode, connections, seconds)?;
                let b = self.run(&self.by_hand, mode, connections, seconds)?;
                (a, b)
            } else {
                let b = self.run(&self.by_hand, mode, connections, seconds)?;
                let a = self.run(&self.cli, mode, connections, seconds)?;
                (a, b)
            };
            ratios.push(b.per_second / a.per_second.max(1.0));
            best(&mut ours, a);
            best(&mut hand, b);
        }
        ratios.sort_by(f64::total_cmp);
        let ratio = ratios[ratios.len() / 2];
        let (Some(ours), Some(by_hand)) = (ours, hand) else {
            bail!("no run was measured");
        };
        let per_request = |load: Load| Duration::from_secs_f64(1.0 / load.per_second.max(1.0));
        Ok(Measured {
            ours,
            by_hand,
            pair: Pair::from_parts(per_request(by_hand), per_request(ours), ratio),
        })
    }

    /// Starts `server` (either binary: they take the same flags) in `mode` and loads it.
    fn run(&self, server: &Path, mode: Mode, connections: usize, seconds: f64) -> Result<Load> {
        let component = if mode.wasi_0_3 { &self.p3 } else { &self.p2 };
        let mut command = Command::new(server);
        command
            .arg("serve")
            .arg(component)
            .args(["--addr", "127.0.0.1:0"]);
        if let Some((count, at_once)) = mode.reuse {
            command
                .args(["--max-instance-reuse-count", &count.to_string()])
                .args([
                    "--max-instance-concurrent-reuse-count",
                    &at_once.to_string(),
                ]);
        }
        let mut child = Server(
            command
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .with_context(|| format!("starting {}", server.display()))?,
        );
        let addr = child.address()?;
        let output = Command::new(&self.load)
            .arg(&addr)
            .arg("/hello")
            .args(["--connections", &connections.to_string()])
            .args(["--seconds", &seconds.to_string()])
            .arg("--tsv")
            .output()
            .context("running http-load")?;
        anyhow::ensure!(
            output.status.success(),
            "http-load failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        parse_load(&String::from_utf8_lossy(&output.stdout))
            .with_context(|| format!("reading http-load's line for {}", server.display()))
    }
}

/// A server process, killed when dropped.
struct Server(Child);

impl Server {
    /// The address the server printed it serves on (`Serving HTTP on http://ADDR/`).
    fn address(&mut self) -> Result<String> {
        let stderr = self.0.stderr.take().context("the server's stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        while let Some(line) = lines.next() {
            let line = line?;
            if let Some(rest) = line.strip_prefix("Serving HTTP on http://") {
                let addr = rest.trim_end_matches('/').to_owned();
                // Keep reading (and dropping) its stderr, so that it never blocks on a pipe.
                std::thread::spawn(move || lines.for_each(drop));
                return Ok(addr);
            }
        }
        bail!("the server exited before it was serving")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads `http-load --tsv`'s line: requests/s, p50, p90, p99 (ns), failed.
fn parse_load(line: &str) -> Result<Load> {
    let fields: Vec<&str> = line.trim().split('\t').collect();
    let [per_second, p50, _p90, p99, failed] = fields.as_slice() else {
        bail!("not http-load's tsv line: {line:?}");
    };
    let failed: u64 = failed.parse()?;
    anyhow::ensure!(failed == 0, "{failed} requests failed");
    Ok(Load {
        per_second: per_second.parse()?,
        p50: Duration::from_nanos(p50.parse()?),
        p99: Duration::from_nanos(p99.parse()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_loads_line_is_read() {
        let load = parse_load("12345\t91000\t118000\t160000\t0\n").expect("a line");
        assert_eq!(load.per_second, 12345.0);
        assert_eq!(load.p50, Duration::from_micros(91));
        assert_eq!(load.p99, Duration::from_micros(160));
        assert!(parse_load("12345\t1\t2\t3\t7").is_err(), "failed requests");
        assert!(parse_load("garbage").is_err());
    }
}
