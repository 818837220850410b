//! `componentry serve`: a standard `wasi:http/proxy` component served over HTTP, with grants and
//! limits per request, hot reload with `--watch`, metrics when it stops, and its exit codes.

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{Run, binary, cache_dir, guest, path_arg};

/// A `componentry serve` running in the background; killed when dropped.
struct Serving {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Serving {
    fn start(args: &[&str]) -> Self {
        let mut command = Command::new(binary());
        command.arg("serve");
        Self::spawn(command, args)
    }

    /// Like [`start`](Self::start), in a process that may open at most `open_files` files.
    fn start_limited(args: &[&str], open_files: u32) -> Self {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!(
                "ulimit -n {open_files} && exec \"$0\" serve \"$@\""
            ))
            .arg(binary());
        Self::spawn(command, args)
    }

    fn spawn(mut command: Command, args: &[&str]) -> Self {
        let mut child = command
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .env("COMPONENTRY_CACHE_DIR", cache_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run componentry serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (found, address) = std::sync::mpsc::channel();
        let collected = stderr.clone();
        let errors = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(errors)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(rest) = line.strip_prefix("Serving HTTP on http://") {
                    let _ = found.send(rest.trim_end_matches('/').to_owned());
                }
                let mut all = collected.lock().expect("stderr");
                all.push_str(&line);
                all.push('\n');
            }
        });
        // Compiling a large component (an interpreter inside) takes a while on a busy machine.
        let addr = match address.recv_timeout(Duration::from_secs(180)) {
            Ok(addr) => addr.parse().expect("an address"),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "no `Serving HTTP on` line; stderr:\n{}",
                    stderr.lock().expect("stderr")
                );
            }
        };
        Self {
            child,
            addr,
            stderr,
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        get(self.addr, path)
    }

    /// Asks it to stop (SIGTERM) and returns its exit code and everything on its stderr.
    fn stop(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let until = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(Instant::now() < until, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        // Let the reader thread take the last lines.
        std::thread::sleep(Duration::from_millis(200));
        let stderr = self.stderr.lock().expect("stderr").clone();
        (status.code(), stderr)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` on a connection of its own: the status and the body (chunked bodies decoded).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

#[test]
fn serve_answers_with_a_proxy_component_and_prints_its_metrics_when_stopped() {
    let routes = guest("http-routes");
    let serving = Serving::start(&[&path_arg(&routes), "--timeout", "500"]);
    assert_eq!(
        serving.get("/hello?a=b"),
        (200, "hello from http-routes: GET /hello?a=b".to_owned())
    );
    let (status, body) = serving.get("/trap");
    assert_eq!(
        (status, body.as_str()),
        (500, "plugin `http-routes` failed: trap\n")
    );
    let started = Instant::now();
    let (status, body) = serving.get("/sleep?30000");
    assert_eq!(
        (status, body.as_str()),
        (504, "plugin `http-routes` failed: deadline\n"),
        "a wait in a host call ends at the deadline"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(serving.get("/hello").0, 200, "the host goes on");
    let (code, stderr) = serving.stop();
    assert_eq!(code, Some(0), "{stderr}");
    let table: Vec<&str> = stderr
        .lines()
        .skip_while(|line| !line.starts_with("plugin "))
        .collect();
    assert!(table.len() >= 3, "a metrics table:\n{stderr}");
    let row: Vec<&str> = table[1].split_whitespace().collect();
    assert_eq!(row[..3], ["http-routes", "4", "2"], "{}", table[1]);
    assert_eq!(table[2].trim(), "failed: deadline 1, trap 1", "{stderr}");
}

#[test]
fn serve_grants_nothing_but_its_flags() {
    let routes = guest("http-routes");
    let bare = Serving::start(&[&path_arg(&routes)]);
    assert_eq!(bare.get("/env?HOME").0, 404, "no environment by default");
    let granted = Serving::start(&[&path_arg(&routes), "--env", "GREETING=hello"]);
    assert_eq!(granted.get("/env?GREETING"), (200, "hello".to_owned()));
    // Outgoing HTTP needs --allow-http, even to the server itself.
    let url = format!("/fetch?http://{}/hello", granted.addr);
    let (status, body) = bare.get(&url);
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("HttpRequestDenied"), "{body}");
    let allowed = Serving::start(&[
        &path_arg(&routes),
        "--allow-http",
        &format!("http://{}", granted.addr),
    ]);
    assert_eq!(allowed.get(&url), (200, "200".to_owned()));
}

#[test]
fn serve_watch_keeps_serving_when_an_edit_is_broken_and_takes_a_good_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("routes.wasm");
    let original = std::fs::read(guest("http-routes")).expect("read");
    std::fs::write(&file, &original).expect("write");
    let serving = Serving::start(&[&path_arg(&file), "--watch"]);
    assert_eq!(serving.get("/hello").0, 200);
    std::fs::write(&file, b"not a component").expect("write");
    let until = Instant::now() + Duration::from_secs(20);
    while !serving
        .stderr
        .lock()
        .expect("stderr")
        .contains("reload failed")
    {
        assert!(Instant::now() < until, "no reload failure reported");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        serving.get("/hello").0,
        200,
        "the old version keeps serving"
    );
    // The same component with a custom section appended: a new version.
    let mut edited = original.clone();
    edited.extend_from_slice(&[0, 3, 1, b'x', b'y']);
    std::fs::write(&file, &edited).expect("write");
    while !serving.stderr.lock().expect("stderr").contains("reloaded") {
        assert!(Instant::now() < until, "no reload reported");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(serving.get("/hello").0, 200);
}

#[test]
fn serve_refuses_what_it_cannot_serve_with_the_documented_codes() {
    let output = Run::new(&["serve", &path_arg(&guest("faults"))]).output();
    assert_eq!(output.status.code(), Some(3), "not a proxy: a load error");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("wasi:http/incoming-handler"), "{stderr}");
    assert!(
        stderr.contains("wasi:http/handler"),
        "either WASI: {stderr}"
    );
    let output = Run::new(&["serve", "x.wasm", "--addr", "nowhere"]).output();
    assert_eq!(
        output.status.code(),
        Some(2),
        "a bad address is a usage error"
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("address").to_string();
    let output = Run::new(&["serve", &path_arg(&guest("http-routes")), "--addr", &addr]).output();
    assert_eq!(output.status.code(), Some(1), "the address is taken");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot listen on"), "{stderr}");
}

#[test]
fn run_verbose_and_a_stopped_watch_print_the_metrics_table() {
    let output = Run::new(&[
        "-v",
        "run",
        &path_arg(&guest("faults")),
        "--invoke",
        "divide(8, 2)",
    ])
    .output();
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let row = stderr
        .lines()
        .find(|line| line.starts_with("faults "))
        .unwrap_or_else(|| panic!("no metrics row:\n{stderr}"));
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(columns[..3], ["faults", "1", "0"], "{row}");

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(guest("faults"), dir.path().join("faults.wasm")).expect("copy");
    let mut child = Command::new(binary())
        .args(["watch", &path_arg(dir.path()), "--invoke", "ok()"])
        .env("COMPONENTRY_CACHE_DIR", cache_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run componentry watch");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("a line");
    assert!(line.starts_with("loaded faults "), "{line}");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let output = child.wait_with_output().expect("watch ends");
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let row = stderr
        .lines()
        .find(|line| line.starts_with("faults "))
        .unwrap_or_else(|| panic!("no metrics row:\n{stderr}"));
    assert_eq!(row.split_whitespace().nth(1), Some("1"), "{row}");
}

#[test]
fn serve_runs_handlers_built_by_componentize_js_and_componentize_py() {
    // Built by `cargo xtask templates` from xtask/fixtures/proxies: a StarlingMonkey fetch-event
    // handler and a CPython incoming-handler, both exporting wasi:http/incoming-handler@0.2.10,
    // with nothing of Componentry's in them.
    let proxies = crate::conformance::templates().join("proxies");
    for (name, answer) in [
        ("hello-js-proxy", "hello from a fetch event: GET /some/path"),
        ("hello-py-proxy", "hello from python: GET /some/path?q"),
    ] {
        let handler = proxies.join(format!("{name}.wasm"));
        assert!(handler.is_file(), "{} is not built", handler.display());
        let serving = Serving::start(&[&path_arg(&handler)]);
        assert_eq!(
            serving.get("/some/path?q"),
            (200, answer.to_owned()),
            "{name}"
        );
    }
}

/// Reads what the server answered on `stream` (until it closes the connection), as text.
fn answer_on(mut stream: TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw).into_owned()
}

#[test]
fn serve_holds_under_idle_slow_and_trickling_clients_beyond_its_descriptors() {
    let routes = guest("http-routes");
    // 128 descriptors in all: 64 connections at once by default, the rest for the server.
    let serving = Serving::start_limited(
        &[
            &path_arg(&routes),
            "--idle-timeout",
            "500",
            "--header-timeout",
            "500",
            "--timeout",
            "1000",
        ],
        128,
    );
    let connect = || TcpStream::connect(serving.addr).expect("connect");
    // Three times as many idle connections as the server has descriptors.
    let idle: Vec<TcpStream> = (0..400).map(|_| connect()).collect();
    // Clients that never finish their headers.
    let slow: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut stream = connect();
            stream
                .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .expect("send");
            stream
        })
        .collect();
    // A body that never arrives: 10 bytes of the 1,000 announced.
    let mut trickle = connect();
    trickle
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
        .expect("send");
    // A client arriving after all of them is still answered.
    let (status, body) = serving.get("/hello");
    assert_eq!(status, 200, "{body}");
    // The trickled body was cut by the request's deadline.
    let answer = answer_on(trickle);
    assert!(answer.starts_with("HTTP/1.1 504"), "{answer:?}");
    drop((idle, slow));
    let (_, stderr) = serving.stop();
    assert!(
        !stderr.contains("cannot accept") && !stderr.contains("Too many open files"),
        "the server ran out of descriptors:\n{stderr}"
    );
}

#[test]
fn serve_body_timeout_ends_a_trickled_body_without_a_deadline() {
    let routes = guest("http-routes");
    let serving = Serving::start(&[
        &path_arg(&routes),
        "--timeout",
        "0",
        "--body-timeout",
        "500",
    ]);
    let mut trickle = TcpStream::connect(serving.addr).expect("connect");
    trickle
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
        .expect("send");
    let started = std::time::Instant::now();
    let answer = answer_on(trickle);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "cut after {:?}",
        started.elapsed()
    );
    assert_eq!(serving.get("/hello").0, 200);
}

#[test]
fn serve_timeout_zero_means_no_deadline() {
    let routes = guest("http-routes");
    let serving = Serving::start(&[&path_arg(&routes), "--timeout", "0"]);
    assert_eq!(serving.get("/sleep?300").0, 200);
}

#[test]
fn serve_admits_as_many_requests_as_its_pool_has_slots() {
    let routes = guest("http-routes");
    let serving = Serving::start(&[&path_arg(&routes), "--max-in-flight", "160"]);
    // More slow requests at once than the pooling allocator's default of 100 slots.
    let slow: Vec<TcpStream> = (0..120)
        .map(|_| {
            let mut stream = TcpStream::connect(serving.addr).expect("connect");
            write!(
                stream,
                "GET /sleep?3000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            .expect("send");
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // Every one of them is under way, and one more is still answered, not refused with 503.
    let (status, body) = serving.get("/hello");
    assert_eq!(status, 200, "{body}");
    for stream in slow {
        let answer = answer_on(stream);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    }
}

#[test]
fn serve_answers_with_a_wasi_0_3_handler_under_the_same_flags() {
    let handler = guest("http-p3");
    let serving = Serving::start(&[&path_arg(&handler), "--timeout", "500"]);
    assert_eq!(
        serving.get("/hello"),
        (200, "hello from WASI 0.3 GET /hello\n".to_owned())
    );
    assert_eq!(
        serving.get("/stream/3"),
        (200, "line 0\nline 1\nline 2\n".to_owned())
    );
    let (status, body) = serving.get("/trap");
    assert_eq!(
        (status, body.as_str()),
        (500, "plugin `http-p3` failed: trap\n")
    );
    let (status, body) = serving.get("/sleep/30000");
    assert_eq!(
        (status, body.as_str()),
        (504, "plugin `http-p3` failed: deadline\n")
    );
    // Outgoing HTTP needs --allow-http, as for 0.2 handlers.
    let (status, body) = serving.get(&format!("/fetch/{}/hello", serving.addr));
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("HttpRequestDenied"), "{body}");
    assert_eq!(serving.get("/hello").0, 200, "the host goes on");
}

#[test]
fn serve_reuses_instances_of_a_wasi_0_3_handler_only_when_asked() {
    let handler = guest("http-p3");
    let fresh = Serving::start(&[&path_arg(&handler)]);
    assert_eq!(fresh.get("/count"), (200, "1\n".to_owned()));
    assert_eq!(
        fresh.get("/count"),
        (200, "1\n".to_owned()),
        "fresh by default"
    );
    let reused = Serving::start(&[
        &path_arg(&handler),
        "--max-instance-reuse-count",
        "2",
        "--idle-instance-timeout",
        "30000",
    ]);
    // Each request once the last one's instance waits again: one that arrives while its
    // instance still runs guest code goes to another instance.
    let counts: Vec<String> = (0..3)
        .map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            reused.get("/count").1
        })
        .collect();
    assert_eq!(counts, ["1\n", "2\n", "1\n"]);
    let output = Run::new(&[
        "serve",
        &path_arg(&guest("http-routes")),
        "--max-instance-reuse-count",
        "2",
    ])
    .output();
    assert_eq!(output.status.code(), Some(2), "a 0.2 proxy cannot reuse");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("WASI 0.3"), "{stderr}");
}
