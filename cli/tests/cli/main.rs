//! The `componentry` binary, run as a user runs it: output formats and exit codes.

mod book;
mod conformance;
mod documented;
mod hardening;
mod harness;
mod serving;

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn guest(name: &str) -> PathBuf {
    let dir = std::env::var_os("COMPONENTRY_GUESTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/guests"));
    let path = dir.join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "guest {} is missing: run `cargo xtask guests` first",
        path.display()
    );
    path
}

/// The binary under test: this build's, or another one named by `COMPONENTRY_CLI` (to run the
/// suite against an installed or older build).
fn binary() -> std::ffi::OsString {
    std::env::var_os("COMPONENTRY_CLI").unwrap_or_else(|| env!("CARGO_BIN_EXE_componentry").into())
}

/// Where the CLI under test caches compiled components.
fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/componentry-test-cache-cli")
}

/// One run of the CLI: its arguments, what its stdin gets, its environment.
#[derive(Default)]
pub struct Run {
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    /// Keep stdin open (and silent) until the CLI ends.
    hold_stdin: bool,
    env: Vec<(String, String)>,
    current_dir: Option<PathBuf>,
}

impl Run {
    pub fn new(args: &[&str]) -> Self {
        Self {
            args: args.iter().map(|a| a.to_string()).collect(),
            ..Self::default()
        }
    }

    /// Feeds `bytes` to stdin, then closes it.
    pub fn stdin(mut self, bytes: &[u8]) -> Self {
        self.stdin = Some(bytes.to_vec());
        self
    }

    /// Connects stdin to a pipe that stays open and silent.
    pub fn hold_stdin(mut self) -> Self {
        self.hold_stdin = true;
        self
    }

    /// Sets an environment variable of the CLI's process (never of the test's own).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Runs the CLI in `dir`.
    pub fn current_dir(mut self, dir: &std::path::Path) -> Self {
        self.current_dir = Some(dir.to_owned());
        self
    }

    /// Runs the CLI, killing it if it has not finished in a minute, so a hung plugin fails the
    /// test instead of hanging it.
    pub fn output(self) -> Output {
        use std::io::{Read, Write};
        let piped = self.stdin.is_some() || self.hold_stdin;
        let mut command = Command::new(binary());
        command
            .args(&self.args)
            .env("COMPONENTRY_CACHE_DIR", cache_dir())
            .stdin(if piped {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            })
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        let mut child = command.spawn().expect("run componentry");
        let mut held = None;
        if let Some(mut stdin) = child.stdin.take() {
            match &self.stdin {
                Some(bytes) => {
                    let _ = stdin.write_all(bytes);
                }
                None => held = Some(stdin),
            }
        }
        let mut out = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let out_reader = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = out.read_to_end(&mut bytes);
            bytes
        });
        let err_reader = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = err.read_to_end(&mut bytes);
            bytes
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("componentry {:?} did not finish within 60 s", self.args);
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        drop(held);
        Output {
            status,
            stdout: out_reader.join().expect("stdout reader"),
            stderr: err_reader.join().expect("stderr reader"),
        }
    }

    /// Runs and checks the exit code, showing the whole output when it differs.
    pub fn expect(self, code: i32) -> Output {
        let args = self.args.clone();
        let output = self.output();
        assert_eq!(
            output.status.code(),
            Some(code),
            "componentry {args:?}\nstdout: {}\nstderr: {}",
            stdout(&output),
            stderr(&output)
        );
        output
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs and checks the exit code, showing the whole output when it differs.
fn expect_code(args: &[&str], code: i32) -> Output {
    Run::new(args).expect(code)
}

pub fn path_arg(path: &std::path::Path) -> String {
    path.to_string_lossy().into_owned()
}

#[test]
fn inspect_prints_the_world_as_wit_with_versions() {
    let plugin = path_arg(&guest("hello-rust"));
    let out = stdout(&expect_code(&["inspect", &plugin], 0));
    assert!(out.contains("world root {"), "{out}");
    assert!(
        out.contains("import componentry:plugin/log@0.1.0;"),
        "{out}"
    );
    assert!(
        out.contains("export greet: func(name: string) -> string;"),
        "{out}"
    );

    let types = path_arg(&guest("types-echo"));
    let out = stdout(&expect_code(&["inspect", &types], 0));
    assert!(out.contains("export componentry:test/echo@0.1.0;"), "{out}");

    let full = stdout(&expect_code(&["inspect", "--full", &types], 0));
    assert!(full.contains("package componentry:test@0.1.0 {"), "{full}");
    assert!(
        full.contains("echo-record: func(v: point) -> point;"),
        "{full}"
    );
}

#[test]
fn invoke_round_trips_every_wit_type() {
    let plugin = path_arg(&guest("types-echo"));
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../host/tests/guests/round-trips.txt"
    ))
    .expect("round-trips.txt");
    let mut checked = 0;
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (function, value) = line.split_once(' ').expect("FUNCTION VALUE");
        let call = format!("componentry:test/echo@0.1.0#{function}({value})");
        let out = expect_code(&["run", &plugin, "--invoke", &call], 0);
        assert_eq!(stdout(&out), format!("{value}\n"), "{call}");
        checked += 1;
    }
    assert!(checked >= 30);
}

#[test]
fn invoke_calls_top_level_and_short_interface_names() {
    let plugin = path_arg(&guest("types-echo"));
    assert_eq!(
        stdout(&expect_code(&["run", &plugin, "--invoke", "add(40, 2)"], 0)),
        "42\n"
    );
    assert_eq!(
        stdout(&expect_code(
            &["run", &plugin, "--invoke", "echo#echo-u8(7)"],
            0
        )),
        "7\n"
    );
    let hello = path_arg(&guest("hello-rust"));
    assert_eq!(
        stdout(&expect_code(
            &["run", &hello, "--invoke", r#"greet("cli")"#],
            0
        )),
        "\"Hello, cli!\"\n"
    );
}

#[test]
fn a_command_gets_its_arguments_and_forwards_its_output() {
    let plugin = path_arg(&guest("command-echo"));
    let out = expect_code(&["run", &plugin, "--", "one", "two words"], 0);
    assert_eq!(stdout(&out), "command-echo\none\ntwo words\n");
    assert!(
        stderr(&out).contains("command-echo: 3 argument(s)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_wasi_preview1_core_module_runs_as_wasmtime_run_runs_it() {
    // The C prober as clang emits it: a core module, not a component.
    let plugin = path_arg(&guest("c-prober.core"));
    let out = expect_code(&["run", &plugin, "--", "args", "one", "two words"], 0);
    assert_eq!(
        stdout(&out),
        "arg 0: c-prober.core\narg 1: args\narg 2: one\narg 3: two words\n"
    );
    expect_code(&["run", &plugin, "--", "exit", "33"], 33);
    let out = expect_code(
        &["run", &plugin, "--env", "MODE=fast", "--", "getenv", "MODE"],
        0,
    );
    assert_eq!(stdout(&out), "ok: fast\n");
    let out = expect_code(&["run", &plugin, "--", "getenv", "MODE"], 1);
    assert_eq!(stdout(&out), "denied: MODE is not set\n");
    let out = expect_code(&["inspect", &plugin], 0);
    assert!(stdout(&out).contains("wasi:cli/run"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("imports componentry:preview1 - granted: always available"),
        "what the module needs to exit is always there: {}",
        stdout(&out)
    );
}

#[test]
fn a_failing_command_fails_the_cli() {
    let plugin = path_arg(&guest("command-echo"));
    let out = expect_code(&["run", &plugin, "--", "fail"], 1);
    assert_eq!(stdout(&out), "command-echo\nfail\n");
}

#[test]
fn usage_errors_exit_2() {
    let plugin = path_arg(&guest("types-echo"));
    expect_code(&[], 2);
    expect_code(&["run"], 2);
    expect_code(&["frobnicate"], 2);
    let out = expect_code(&["run", &plugin, "--invoke", "nope()"], 2);
    assert!(
        stderr(&out).contains("no exported function `nope`"),
        "{}",
        stderr(&out)
    );
    let out = expect_code(&["run", &plugin, "--invoke", r#"add("x", 1)"#], 2);
    assert!(
        stderr(&out).contains("func(a: s32, b: s32) -> s32"),
        "{}",
        stderr(&out)
    );
    expect_code(&["run", &plugin, "--invoke", "add(1, 2)", "--", "extra"], 2);
}

#[test]
fn load_failures_exit_3_with_one_line_naming_the_plugin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "just text").expect("write");
    let core = dir.path().join("core.wasm");
    // A core module that imports what WASI preview1 does not offer.
    std::fs::write(&core, r#"(module (import "env" "f" (func)))"#).expect("write");
    let missing = dir.path().join("missing.wasm");
    for (path, name) in [(&text, "notes"), (&core, "core"), (&missing, "missing")] {
        for args in [
            vec!["run", path.to_str().expect("utf-8"), "--invoke", "f()"],
            vec!["inspect", path.to_str().expect("utf-8")],
        ] {
            let out = expect_code(&args, 3);
            let err = stderr(&out);
            assert_eq!(err.lines().count(), 1, "one line: {err}");
            assert!(err.contains(&format!("plugin '{name}'")), "{err}");
        }
    }
}

#[test]
fn an_import_the_host_lacks_exits_4() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("needs-more.wat");
    std::fs::write(
        &path,
        r#"(component (import "acme:secret/vault@1.0.0" (instance (export "open" (func)))))"#,
    )
    .expect("write");
    let out = expect_code(
        &["run", path.to_str().expect("utf-8"), "--invoke", "f()"],
        4,
    );
    assert!(
        stderr(&out).contains("acme:secret/vault@1.0.0"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_trap_exits_5_and_verbose_shows_the_backtrace() {
    let plugin = path_arg(&guest("faults"));
    let out = expect_code(&["run", &plugin, "--invoke", "divide(1, 0)"], 5);
    assert!(
        stderr(&out).contains("plugin 'faults' trapped in `divide`"),
        "{}",
        stderr(&out)
    );
    let out = expect_code(
        &["--verbose", "run", &plugin, "--invoke", "divide(1, 0)"],
        5,
    );
    assert!(stderr(&out).contains("wasm backtrace"), "{}", stderr(&out));
}

fn wave_str(text: &str) -> String {
    format!("{text:?}")
}

#[test]
fn run_grants_directories_and_environment_from_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("note.txt"), "from the host").expect("write");
    let plugin = path_arg(&guest("prober"));
    let grant = format!("{}::/data", dir.path().display());
    let out = expect_code(
        &[
            "run",
            &plugin,
            "--dir",
            &grant,
            "--invoke",
            r#"probe#read-at("/data", "note.txt")"#,
        ],
        0,
    );
    assert_eq!(stdout(&out), "ok(\"from the host\")\n");
    let out = expect_code(
        &[
            "run",
            &plugin,
            "--invoke",
            r#"probe#read-at("/data", "note.txt")"#,
        ],
        0,
    );
    assert!(
        stdout(&out).starts_with("err("),
        "no grant, no file: {}",
        stdout(&out)
    );

    let out = expect_code(
        &[
            "run",
            &plugin,
            "--dir",
            &grant,
            "--invoke",
            r#"probe#write-at("/data", "x", "y")"#,
        ],
        0,
    );
    assert!(
        stdout(&out).starts_with("err("),
        "--dir is read-only: {}",
        stdout(&out)
    );
    let out = expect_code(
        &[
            "run",
            &plugin,
            "--dir-rw",
            &grant,
            "--invoke",
            r#"probe#write-at("/data", "x", "y")"#,
        ],
        0,
    );
    assert_eq!(stdout(&out), "ok\n");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("x")).expect("written"),
        "y"
    );

    let out = expect_code(
        &[
            "run",
            &plugin,
            "--env",
            "MODE=fast",
            "--invoke",
            r#"probe#get-env("MODE")"#,
        ],
        0,
    );
    assert_eq!(stdout(&out), "some(\"fast\")\n");
    let out = expect_code(&["run", &plugin, "--invoke", r#"probe#get-env("PATH")"#], 0);
    assert_eq!(stdout(&out), "none\n");
    let out = expect_code(
        &[
            "run",
            &plugin,
            "--env",
            "PATH",
            "--invoke",
            r#"probe#get-env("PATH")"#,
        ],
        0,
    );
    assert!(stdout(&out).starts_with("some("), "{}", stdout(&out));
}

#[test]
fn run_grants_network_from_flags() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let addr = format!("127.0.0.1:{}", listener.local_addr().expect("addr").port());
    let plugin = path_arg(&guest("prober"));
    let call = format!("probe#connect({})", wave_str(&addr));
    let out = expect_code(&["run", &plugin, "--invoke", &call], 0);
    assert!(stdout(&out).contains("access-denied"), "{}", stdout(&out));
    let out = expect_code(
        &["run", &plugin, "--allow-net", &addr, "--invoke", &call],
        0,
    );
    assert_eq!(stdout(&out), "ok\n");
    let out = expect_code(
        &[
            "run",
            &plugin,
            "--allow-net",
            "127.0.0.1:1",
            "--invoke",
            &call,
        ],
        0,
    );
    assert!(
        stderr(&out).contains(&format!("--allow-net {addr}")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_grants_file_says_the_same_as_the_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("note.txt"), "via toml").expect("write");
    let toml = dir.path().join("grants.toml");
    std::fs::write(
        &toml,
        format!(
            "dir = [\"{}::/data\"]\nenv = [\"MODE=toml\"]\n",
            dir.path().display()
        ),
    )
    .expect("write");
    let plugin = path_arg(&guest("prober"));
    let grants = path_arg(&toml);
    let out = expect_code(
        &[
            "run",
            &plugin,
            "--grants",
            &grants,
            "--invoke",
            r#"probe#read-at("/data", "note.txt")"#,
        ],
        0,
    );
    assert_eq!(stdout(&out), "ok(\"via toml\")\n");
    let out = expect_code(
        &[
            "run",
            &plugin,
            "--grants",
            &grants,
            "--invoke",
            r#"probe#get-env("MODE")"#,
        ],
        0,
    );
    assert_eq!(stdout(&out), "some(\"toml\")\n");

    std::fs::write(&toml, "dir = [\"/tmp\"]\nallow-nett = [\"x:1\"]\n").expect("write");
    let out = expect_code(
        &[
            "run",
            &plugin,
            "--grants",
            &grants,
            "--invoke",
            "probe#env-count()",
        ],
        2,
    );
    let err = stderr(&out);
    assert!(
        err.contains("grants.toml") && err.contains("line 2") && err.contains("allow-nett"),
        "{err}"
    );
}

#[test]
fn deterministic_runs_repeat() {
    let plugin = path_arg(&guest("prober"));
    let run = |seed: &str| {
        stdout(&expect_code(
            &[
                "run",
                &plugin,
                "--deterministic",
                "--seed",
                seed,
                "--invoke",
                "probe#entropy()",
            ],
            0,
        ))
    };
    assert_eq!(run("3"), run("3"));
    assert_ne!(run("3"), run("4"));
}

#[test]
fn inspect_sets_capabilities_against_the_grants() {
    let plugin = path_arg(&guest("prober"));
    let out = stdout(&expect_code(&["inspect", &plugin], 0));
    assert!(
        out.contains("imports wasi:filesystem - not granted"),
        "{out}"
    );
    assert!(out.contains("imports wasi:sockets - not granted"), "{out}");
    assert!(out.contains("imports wasi:http - not granted"), "{out}");
    let out = stdout(&expect_code(
        &[
            "inspect",
            &plugin,
            "--dir",
            "/tmp::/data",
            "--allow-net",
            "127.0.0.1:80",
            "--env",
            "HOME",
            "--allow-http",
            "api.example.com",
        ],
        0,
    ));
    assert!(
        out.contains("imports wasi:http - granted: api.example.com"),
        "{out}"
    );
    assert!(
        out.contains("imports wasi:filesystem - granted: /tmp -> /data (read-only)"),
        "{out}"
    );
    assert!(
        out.contains("imports wasi:sockets - granted: 127.0.0.1:80"),
        "{out}"
    );
    assert!(
        out.contains("imports wasi:cli/environment - granted: HOME"),
        "{out}"
    );
}

#[test]
fn bad_grant_flags_are_usage_errors() {
    let plugin = path_arg(&guest("prober"));
    for flags in [
        ["--allow-net", "nowhere"],
        ["--env", "=x"],
        ["--dir", "::/x"],
    ] {
        let mut args = vec!["run", &plugin];
        args.extend(flags);
        args.extend(["--invoke", "probe#env-count()"]);
        expect_code(&args, 2);
    }
}

#[test]
fn run_grants_http_from_flags() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let authority = format!("127.0.0.1:{}", listener.local_addr().expect("addr").port());
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut stream, _) = listener.accept().expect("accept");
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request);
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi")
            .expect("respond");
    });
    let plugin = path_arg(&guest("prober"));
    let call = format!("probe#http-get(\"http\", {}, \"/\")", wave_str(&authority));
    let out = expect_code(&["run", &plugin, "--invoke", &call], 0);
    assert!(
        stdout(&out).contains("HttpRequestDenied"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("--allow-http 127.0.0.1"),
        "{}",
        stderr(&out)
    );
    let out = expect_code(
        &[
            "run",
            &plugin,
            "--allow-http",
            &authority,
            "--invoke",
            &call,
        ],
        0,
    );
    assert_eq!(stdout(&out), "ok((200, \"hi\"))\n");
    server.join().expect("server");
}

#[test]
fn limits_exit_6_7_and_8() {
    let plugin = path_arg(&guest("faults"));
    let out = expect_code(
        &["run", &plugin, "--fuel", "100000", "--invoke", "forever()"],
        6,
    );
    assert!(stderr(&out).contains("ran out of fuel"), "{}", stderr(&out));
    let out = expect_code(
        &["run", &plugin, "--timeout", "100", "--invoke", "forever()"],
        7,
    );
    assert!(
        stderr(&out).contains("exceeded its deadline"),
        "{}",
        stderr(&out)
    );
    let out = expect_code(
        &[
            "run",
            &plugin,
            "--max-memory",
            "16777216",
            "--invoke",
            "allocate(100)",
        ],
        8,
    );
    assert!(stderr(&out).contains("memory limit"), "{}", stderr(&out));
    expect_code(
        &[
            "run",
            &plugin,
            "--fuel",
            "100000000",
            "--timeout",
            "10000",
            "--max-memory",
            "16777216",
            "--invoke",
            "allocate(2)",
        ],
        0,
    );
}

#[test]
fn check_reports_compatibility_with_an_extension_point() {
    let wit = concat!(env!("CARGO_MANIFEST_DIR"), "/../wit");
    let hello = path_arg(&guest("hello-rust"));
    let out = expect_code(&["check", &hello, "--wit", wit, "--world", "greeter"], 0);
    assert_eq!(
        stdout(&out),
        "hello-rust: compatible with componentry:plugin@0.1.0/greeter\n"
    );

    let types = path_arg(&guest("types-echo"));
    let out = expect_code(&["check", &types, "--wit", wit, "--world", "greeter"], 3);
    assert!(
        stdout(&out).contains("missing export `greet`"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("plugin 'types-echo'"),
        "{}",
        stderr(&out)
    );

    expect_code(
        &[
            "check",
            &hello,
            "--wit",
            "/no/such/wit",
            "--world",
            "greeter",
        ],
        2,
    );
    expect_code(
        &["check", &hello, "--wit", wit, "--world", "no-such-world"],
        2,
    );
}

#[test]
fn inspect_shows_the_manifest_and_the_grants_a_policy_leaves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin_dir = dir.path().join("greeter");
    std::fs::create_dir(&plugin_dir).expect("mkdir");
    std::fs::copy(guest("hello-rust"), plugin_dir.join("greeter.wasm")).expect("copy");
    std::fs::write(
        plugin_dir.join("plugin.toml"),
        "name = \"greeter\"\nversion = \"1.2.3\"\ndescription = \"Says hello\"\n\
         extension-point = \"componentry:plugin/greeter@^0.1\"\n[capabilities]\nenv = [\"LANG\", \"SECRET\"]\n",
    )
    .expect("write");
    let trim = dir.path().join("trim.toml");
    std::fs::write(
        &trim,
        "[[plugin]]\nmatch = \"greet*\"\non-excess = \"trim\"\n[plugin.allow]\nenv = [\"LANG\"]\n",
    )
    .expect("write");
    let refuse = dir.path().join("refuse.toml");
    std::fs::write(&refuse, "[[plugin]]\nmatch = \"*\"\n").expect("write");

    let plugin = path_arg(&plugin_dir.join("greeter.wasm"));
    let out = stdout(&expect_code(&["inspect", &plugin], 0));
    assert!(out.contains("manifest: greeter 1.2.3"), "{out}");
    assert!(out.contains("description: Says hello"), "{out}");
    assert!(
        out.contains("extension point: componentry:plugin/greeter@^0.1"),
        "{out}"
    );
    assert!(out.contains("requested: env LANG, env SECRET"), "{out}");
    // Without a policy, what `run` would grant: the requests are dropped, as `run` drops them.
    assert!(
        out.contains("effective: stdout inherit, stderr inherit\n"),
        "{out}"
    );
    assert!(
        out.contains("imports wasi:cli/environment - not granted"),
        "{out}"
    );
    // The operator's flags are granted, as by `run`.
    let out = stdout(&expect_code(&["inspect", &plugin, "--env", "LANG"], 0));
    assert!(
        out.contains("imports wasi:cli/environment - granted: LANG\n"),
        "{out}"
    );

    let out = stdout(&expect_code(
        &["inspect", &plugin, "--policy", &path_arg(&trim)],
        0,
    ));
    assert!(
        out.contains("effective: env LANG, stdout inherit, stderr inherit\n"),
        "{out}"
    );
    assert!(
        out.contains("imports wasi:cli/environment - granted: LANG\n"),
        "{out}"
    );

    let out = stdout(&expect_code(
        &["inspect", &plugin, "--policy", &path_arg(&refuse)],
        0,
    ));
    assert!(
        out.contains("refused by the policy") && out.contains("env SECRET"),
        "{out}"
    );
}

/// The `versioned` test component (`host/tests/guests/wat/versioned.wat`) returning `n`.
pub fn versioned(n: u32) -> String {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../host/tests/guests/wat/versioned.wat"
    ))
    .expect("versioned.wat");
    template.replace("VERSION", &n.to_string())
}

/// A `componentry watch` running in the background, read line by line; killed when dropped.
pub struct Watching {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Watching {
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        let mut command = Command::new(binary());
        command
            .arg("watch")
            .args(args)
            .env("COMPONENTRY_CACHE_DIR", cache_dir())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("run componentry watch");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let errors = child.stderr.take().expect("stderr");
        let collected = stderr.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(errors)
                .lines()
                .map_while(Result::ok)
            {
                let mut all = collected.lock().expect("stderr");
                all.push_str(&line);
                all.push('\n');
            }
        });
        Self {
            child,
            lines,
            stderr,
        }
    }

    /// The next line on stdout, within 20 s.
    pub fn next_line(&self) -> String {
        self.lines
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("a line within 20 s")
    }

    /// Every line printed within `window`.
    pub fn lines_within(&self, window: std::time::Duration) -> Vec<String> {
        let until = std::time::Instant::now() + window;
        let mut lines = Vec::new();
        while let Ok(line) = self
            .lines
            .recv_timeout(until.saturating_duration_since(std::time::Instant::now()))
        {
            lines.push(line);
        }
        lines
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr").clone()
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_reports_every_change_on_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("counter.wasm");
    std::fs::write(&file, versioned(1)).expect("write");
    let watching = Watching::start(&[&path_arg(dir.path()), "--invoke", "version()"], &[]);
    let line = watching.next_line();
    assert!(
        line.starts_with("loaded counter sha256:") && line.ends_with(" -> 1"),
        "{line}"
    );
    assert_eq!(
        line.split("sha256:")
            .nth(1)
            .map(|rest| rest.split(' ').next().map(str::len)),
        Some(Some(12))
    );
    std::fs::write(&file, versioned(2)).expect("write");
    let line = watching.next_line();
    assert!(
        line.starts_with("loaded counter sha256:") && line.ends_with(" -> 2"),
        "{line}"
    );
    std::fs::write(&file, "(component (core module").expect("write");
    let line = watching.next_line();
    assert!(line.starts_with("reload failed counter: "), "{line}");
    std::fs::remove_file(&file).expect("remove");
    assert_eq!(watching.next_line(), "unloaded counter");
}

#[test]
fn run_invokes_a_wasi_0_3_plugins_async_exports_under_its_limits() {
    let plugin = path_arg(&guest("async-waits"));
    let out = expect_code(
        &["run", &plugin, "--invoke", r#"slow-echo("waited", 20)"#],
        0,
    );
    assert_eq!(stdout(&out).trim(), r#""waited""#);
    // A wait on the host's clock ends at the deadline: exit 7, as for any call.
    let out = expect_code(
        &[
            "run",
            &plugin,
            "--timeout",
            "200",
            "--invoke",
            r#"slow-echo("never", 60000)"#,
        ],
        7,
    );
    assert!(
        stderr(&out).contains("exceeded its deadline"),
        "{}",
        stderr(&out)
    );
    // `inspect` shows the async exports as such.
    let out = expect_code(&["inspect", &plugin], 0);
    assert!(
        stdout(&out).contains("export slow-echo: async func(text: string, millis: u64) -> string;"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn run_runs_a_wasi_0_3_command_with_its_arguments_and_status() {
    let plugin = path_arg(&guest("p3-command"));
    let out = expect_code(&["run", &plugin, "--", "hello", "world"], 0);
    assert_eq!(stdout(&out), "p3 args: p3-command hello world\n");
    let out = expect_code(&["run", &plugin, "--", "fail"], 1);
    assert!(
        stderr(&out).contains("exited with status 1"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn run_stops_a_wasi_0_3_plugin_hoarding_streams_with_exit_8() {
    let plugin = path_arg(&guest("p3-tasks"));
    let limit = ["--max-component-handles", "100"];
    let out = expect_code(
        &[
            &["run", &plugin][..],
            &limit,
            &["--invoke", "hoard-streams(1000)"],
        ]
        .concat(),
        8,
    );
    assert!(
        stderr(&out).contains("limit of 100 component handles"),
        "{}",
        stderr(&out)
    );
    let out = expect_code(
        &[
            &["run", &plugin][..],
            &limit,
            &["--invoke", "hoard-streams(10)"],
        ]
        .concat(),
        0,
    );
    assert_eq!(stdout(&out).trim(), "10");
}

#[test]
fn run_stops_a_wasi_0_3_plugin_that_waits_for_nothing_with_exit_5() {
    let plugin = path_arg(&guest("p3-tasks"));
    let out = expect_code(&["run", &plugin, "--invoke", "never-resolves()"], 5);
    assert!(stderr(&out).contains("deadlock"), "{}", stderr(&out));
}

#[test]
fn run_invoke_prints_a_returned_stream_as_its_items_and_a_future_as_its_value() {
    let plugin = path_arg(&guest("p3-tasks"));
    let out = expect_code(&["run", &plugin, "--invoke", "numbers(3)"], 0);
    assert_eq!(stdout(&out), "[0, 1, 2]\n");
    let out = expect_code(&["run", &plugin, "--invoke", "later(7, 5)"], 0);
    assert_eq!(stdout(&out), "some(7)\n");
    let out = expect_code(
        &[
            "run",
            &plugin,
            "--max-memory",
            "4194304",
            "--invoke",
            "numbers(4294967295)",
        ],
        8,
    );
    assert!(stderr(&out).contains("memory limit"), "{}", stderr(&out));
}

#[test]
fn run_gives_a_wasi_0_3_command_its_exit_code_environment_and_directories_as_wasmtime_run_does() {
    let plugin = path_arg(&guest("p3-command"));
    let out = expect_code(&["run", &plugin, "--", "exit", "33"], 33);
    assert!(stdout(&out).starts_with("p3 args:"), "{}", stdout(&out));
    expect_code(&["run", &plugin, "--", "exit", "0"], 0);
    let out = expect_code(
        &["run", &plugin, "--env", "MODE=fast", "--", "env", "MODE"],
        0,
    );
    assert!(stdout(&out).contains("env MODE: fast"), "{}", stdout(&out));
    let out = expect_code(&["run", &plugin, "--", "env", "HOME"], 0);
    assert!(
        stdout(&out).contains("env HOME: (unset)"),
        "nothing of the host's environment unless granted: {}",
        stdout(&out)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let grant = format!("{}::/data", path_arg(dir.path()));
    let out = expect_code(&["run", &plugin, "--dir", &grant, "--", "preopens"], 0);
    assert!(
        stdout(&out).contains("preopens: [/data]"),
        "{}",
        stdout(&out)
    );
    let out = expect_code(&["run", &plugin, "--", "preopens"], 0);
    assert!(stdout(&out).contains("preopens: []"), "{}", stdout(&out));
}
