//! A small HTTP load client for loopback: `connections` keep-alive connections, each sending
//! `GET path` back to back until `duration` has passed; the requests per second and the latency
//! percentiles of the whole run.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

/// What a load run measured.
pub struct LoadReport {
    /// Requests answered with 200.
    pub ok: u64,
    /// Requests answered otherwise, or not at all.
    pub failed: u64,
    /// How long the run took.
    pub elapsed: Duration,
    /// Every answered request's latency, sorted.
    latencies: Vec<Duration>,
}

impl LoadReport {
    /// Requests answered with 200 per second.
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// The `q` quantile of the latencies (`0.5`, `0.99`, ...).
    pub fn percentile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let at = ((self.latencies.len() as f64 * q).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[at - 1]
    }

    /// One machine-readable line: requests/s, the p50, p90 and p99 latencies in nanoseconds,
    /// and the failed requests, separated by tabs.
    #[allow(dead_code, reason = "used by http-load, not by http-service")]
    pub fn tsv(&self) -> String {
        format!(
            "{:.0}\t{}\t{}\t{}\t{}",
            self.per_second(),
            self.percentile(0.50).as_nanos(),
            self.percentile(0.90).as_nanos(),
            self.percentile(0.99).as_nanos(),
            self.failed
        )
    }

    /// One line: requests/s and p50/p90/p99.
    pub fn summary(&self) -> String {
        format!(
            "{:>8.0} req/s   p50 {:>7.1?}   p90 {:>7.1?}   p99 {:>7.1?}   ({} ok, {} failed in {:.1?})",
            self.per_second(),
            self.percentile(0.50),
            self.percentile(0.90),
            self.percentile(0.99),
            self.ok,
            self.failed,
            self.elapsed
        )
    }
}

/// Loads `addr` with `GET path` on `connections` connections for `duration`.
pub async fn run(
    addr: SocketAddr,
    path: &str,
    connections: usize,
    duration: Duration,
) -> LoadReport {
    let started = Instant::now();
    let until = started + duration;
    let workers: Vec<_> = (0..connections.max(1))
        .map(|_| tokio::spawn(connection(addr, path.to_owned(), until)))
        .collect();
    let mut report = LoadReport {
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for worker in workers {
        if let Ok((ok, failed, latencies)) = worker.await {
            report.ok += ok;
            report.failed += failed;
            report.latencies.extend(latencies);
        }
    }
    report.elapsed = started.elapsed();
    report.latencies.sort();
    report
}

/// One connection's requests until `until`, reconnecting when the server closes it.
async fn connection(addr: SocketAddr, path: String, until: Instant) -> (u64, u64, Vec<Duration>) {
    let (mut ok, mut failed, mut latencies) = (0, 0, Vec::new());
    while Instant::now() < until {
        let Ok(mut sender) = connect(addr).await else {
            failed += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        while Instant::now() < until {
            let sent = Instant::now();
            match send(&mut sender, addr, &path).await {
                Some(200) => {
                    ok += 1;
                    latencies.push(sent.elapsed());
                }
                Some(_) => failed += 1,
                None => {
                    failed += 1;
                    break;
                }
            }
        }
    }
    (ok, failed, latencies)
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Sends one request; its status once the whole body has arrived, or `None` when the
/// connection failed.
async fn send(sender: &mut Sender, addr: SocketAddr, path: &str) -> Option<u16> {
    sender.ready().await.ok()?;
    let request = hyper::Request::get(path)
        .header("host", addr.to_string())
        .body(Empty::new())
        .ok()?;
    let response = sender.send_request(request).await.ok()?;
    let status = response.status().as_u16();
    response.into_body().collect().await.ok()?;
    Some(status)
}

/// One request on a connection of its own: status and body.
#[allow(dead_code, reason = "used by http-service, not by http-load")]
pub async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let mut sender = connect(addr).await?;
    let request = hyper::Request::get(path)
        .header("host", addr.to_string())
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
