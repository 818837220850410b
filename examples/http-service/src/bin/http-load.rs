//! `http-load ADDR PATH [--connections N] [--seconds S]`: loads an HTTP server on loopback and
//! prints requests/s and latency percentiles (http-service's load client, on its own).

#[path = "../load.rs"]
mod load;

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "http-load",
    about = "Load an HTTP server for a while; requests/s and latencies"
)]
struct Args {
    /// The server's address, `127.0.0.1:8080`.
    addr: SocketAddr,
    /// The path to GET.
    #[arg(default_value = "/")]
    path: String,
    /// Connections, each sending requests back to back.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// How long to run.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// The client's threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print one machine-readable line instead: requests/s, then the p50, p90 and p99
    /// latencies in nanoseconds, then the failed requests, separated by tabs.
    #[arg(long)]
    tsv: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    let report = runtime.block_on(load::run(
        args.addr,
        &args.path,
        args.connections,
        Duration::from_secs_f64(args.seconds),
    ));
    if args.tsv {
        println!("{}", report.tsv());
    } else {
        println!("{}", report.summary());
    }
    Ok(())
}
