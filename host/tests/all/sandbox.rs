//! Deny by default, against a hostile plugin: each attack fails and the host is unharmed, and each
//! granted capability works.

use std::net::TcpListener;

use componentry::{Error, Grants, Host, Output, PluginOptions, Val, grants::NetPattern};

use crate::logs::capture_logs;
use crate::{engine, guest, host};

/// A host directory to grant, a secret beside it, and symlinks inside it that point out.
pub struct Fixture {
    _root: tempfile::TempDir,
    /// The directory to grant: `inside.txt`, and the links `secret-link` and `escape`.
    pub data: std::path::PathBuf,
    /// The secret beside it, which no plugin may read.
    pub secret: std::path::PathBuf,
}

/// A new [`Fixture`] in a temporary directory.
pub fn fixture() -> Fixture {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::write(data.join("inside.txt"), "inside").expect("write");
    let secret = root.path().join("secret.txt");
    std::fs::write(&secret, "top secret").expect("write");
    std::os::unix::fs::symlink(&secret, data.join("secret-link")).expect("symlink");
    std::os::unix::fs::symlink(root.path(), data.join("escape")).expect("symlink");
    Fixture {
        data,
        secret,
        _root: root,
    }
}

fn prober(grants: Grants) -> componentry::Plugin<()> {
    host()
        .load_file_with(guest("prober"), PluginOptions::new().grants(grants))
        .expect("load prober")
}

/// Calls `probe#NAME(args)` and returns the WAVE result.
fn probe(plugin: &componentry::Plugin<()>, call: &str) -> String {
    let results = plugin
        .invoke(&format!("probe#{call}"))
        .unwrap_or_else(|e| panic!("{call}: {e}"));
    componentry::to_wave(&results)
}

fn wave_str(text: &str) -> String {
    Val::String(text.into()).to_wave().expect("wave")
}

fn read_at(plugin: &componentry::Plugin<()>, dir: &str, path: &str) -> String {
    probe(
        plugin,
        &format!("read-at({}, {})", wave_str(dir), wave_str(path)),
    )
}

fn assert_refused(outcome: &str, what: &str) {
    assert!(
        outcome.starts_with("err("),
        "{what} must be refused, got {outcome}"
    );
}

/// Asserts that `outcome` is the WASI error `code` (as the prober reports it).
fn assert_denied(outcome: &str, code: &str, what: &str) {
    assert!(
        outcome.starts_with("err(") && outcome.contains(&format!("\\\"{code}\\\"")),
        "{what} must be refused with `{code}`, got {outcome}"
    );
}

/// Runs a filesystem probe that must be refused by the host: the plugin sees `not-permitted`,
/// and the host logs the refusal with the plugin and the path.
fn assert_fs_refused(plugin: &componentry::Plugin<()>, call: &str, path: &str, what: &str) {
    let (logs, outcome) = capture_logs(|| probe(plugin, call));
    assert_denied(&outcome, "not-permitted", what);
    assert!(
        logs.contains("prober") && logs.contains(&format!("`{path}`")),
        "{what}: the refusal must be logged: {logs}"
    );
}

#[test]
fn without_grants_there_is_no_filesystem() {
    let plugin = prober(Grants::none());
    assert_eq!(probe(&plugin, "preopens()"), "[]");
    assert_refused(
        &read_at(&plugin, "/data", "inside.txt"),
        "a read without a grant",
    );
    assert_refused(
        &probe(&plugin, r#"read-file("/etc/passwd")"#),
        "reading /etc/passwd",
    );
}

#[test]
fn a_granted_directory_can_be_read() {
    let f = fixture();
    let plugin = prober(Grants::none().dir(&f.data, "/data"));
    assert_eq!(probe(&plugin, "preopens()"), r#"["/data"]"#);
    assert_eq!(read_at(&plugin, "/data", "inside.txt"), r#"ok("inside")"#);
    assert_eq!(
        probe(&plugin, r#"read-file("/data/inside.txt")"#),
        r#"ok("inside")"#
    );
}

#[test]
fn dot_dot_does_not_leave_the_grant() {
    let f = fixture();
    let plugin = prober(Grants::none().dir(&f.data, "/data"));
    for path in ["../secret.txt", "./../data/../secret.txt"] {
        let call = format!("read-at(\"/data\", {})", wave_str(path));
        assert_fs_refused(&plugin, &call, path, path);
    }
    // Through wasi-libc's own path resolution too.
    assert_refused(
        &probe(&plugin, r#"read-file("/data/../secret.txt")"#),
        "/data/../secret.txt",
    );
}

#[test]
fn absolute_paths_do_not_leave_the_grant() {
    let f = fixture();
    let plugin = prober(Grants::none().dir(&f.data, "/data"));
    let secret = f.secret.to_string_lossy().into_owned();
    for path in [secret.as_str(), "/etc/passwd"] {
        let call = format!("read-at(\"/data\", {})", wave_str(path));
        assert_fs_refused(&plugin, &call, path, path);
    }
    assert_refused(
        &probe(&plugin, &format!("read-file({})", wave_str(&secret))),
        "std::fs on a host path",
    );
}

#[test]
fn symlinks_planted_inside_do_not_lead_out() {
    let f = fixture();
    let plugin = prober(Grants::none().dir(&f.data, "/data"));
    for path in ["secret-link", "escape/secret.txt"] {
        let call = format!("read-at(\"/data\", {})", wave_str(path));
        assert_fs_refused(&plugin, &call, path, path);
    }
    assert_eq!(
        std::fs::read_to_string(&f.secret).expect("secret"),
        "top secret"
    );
}

#[test]
fn a_read_only_grant_cannot_be_written() {
    let f = fixture();
    let plugin = prober(Grants::none().dir(&f.data, "/data"));
    assert_fs_refused(
        &plugin,
        r#"write-at("/data", "new.txt", "pwned")"#,
        "new.txt",
        "creating a file in a read-only grant",
    );
    assert!(!f.data.join("new.txt").exists());
    assert_fs_refused(
        &plugin,
        r#"write-at("/data", "inside.txt", "pwned")"#,
        "inside.txt",
        "overwriting a file in a read-only grant",
    );
    assert_eq!(
        std::fs::read_to_string(f.data.join("inside.txt")).expect("read"),
        "inside"
    );
}

#[test]
fn a_read_write_grant_can_be_written_but_not_escaped() {
    let f = fixture();
    let plugin = prober(Grants::none().dir_rw(&f.data, "/out"));
    assert_eq!(
        probe(&plugin, r#"write-at("/out", "made.txt", "by the plugin")"#),
        "ok"
    );
    assert_eq!(
        std::fs::read_to_string(f.data.join("made.txt")).expect("read"),
        "by the plugin"
    );
    assert_fs_refused(
        &plugin,
        r#"write-at("/out", "../made.txt", "x")"#,
        "../made.txt",
        "writing through ..",
    );
    assert_fs_refused(
        &plugin,
        r#"write-at("/out", "escape/made.txt", "x")"#,
        "escape/made.txt",
        "writing through a symlink",
    );
    assert!(!f.secret.with_file_name("made.txt").exists());
}

#[test]
fn a_missing_granted_directory_is_a_clear_error() {
    let err = host()
        .load_file_with(
            guest("prober"),
            PluginOptions::new().grants(Grants::none().dir("/no/such/dir", "/d")),
        )
        .expect_err("must fail");
    assert!(matches!(err, Error::Grant { .. }), "{err}");
    assert!(err.to_string().contains("/no/such/dir"), "{err}");
}

#[test]
fn environment_variables_are_not_inherited() {
    // The host's own PATH stands for a secret (tests read the environment, never write it: the
    // test threads share it).
    let host_path = std::env::var("PATH").expect("the test runs with a PATH");
    let plugin = prober(Grants::none());
    assert_eq!(probe(&plugin, r#"get-env("PATH")"#), "none");
    assert_eq!(probe(&plugin, r#"get-env("HOME")"#), "none");
    assert_eq!(probe(&plugin, "env-count()"), "0");

    let granted = prober(Grants::none().env_from_host("PATH").env("MODE", "fast"));
    assert_eq!(
        probe(&granted, r#"get-env("PATH")"#),
        format!("some({})", wave_str(&host_path))
    );
    assert_eq!(probe(&granted, r#"get-env("MODE")"#), r#"some("fast")"#);
    assert_eq!(probe(&granted, r#"get-env("HOME")"#), "none");
    assert_eq!(probe(&granted, "env-count()"), "2");
}

/// A TCP listener on a loopback port, and the port.
pub(crate) fn listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen on loopback");
    let port = listener.local_addr().expect("addr").port();
    (listener, port)
}

#[test]
fn connecting_to_a_loopback_port_needs_a_grant() {
    let (_listener, port) = listener();
    let addr = format!("127.0.0.1:{port}");
    let outcome = probe(
        &prober(Grants::none()),
        &format!("connect({})", wave_str(&addr)),
    );
    assert_denied(&outcome, "access-denied", "a connection without a grant");
    // No grant at all: the sockets are simply off, nothing to log. With a grant for another port,
    // the refusal names the address and the flag that would allow it.
    let other = Grants::none().allow_net(NetPattern::parse("127.0.0.1:1").expect("pattern"));
    let (logs_other, outcome) =
        capture_logs(|| probe(&prober(other), &format!("connect({})", wave_str(&addr))));
    assert_denied(
        &outcome,
        "access-denied",
        "a connection to a port not granted",
    );
    assert!(
        logs_other.contains(&format!("--allow-net {addr}")),
        "{logs_other}"
    );
    assert!(logs_other.contains("prober"), "{logs_other}");
}

#[test]
fn a_granted_address_can_be_reached() {
    let (listener, port) = listener();
    let addr = format!("127.0.0.1:{port}");
    let grants = Grants::none().allow_net(NetPattern::parse(&addr).expect("pattern"));
    assert_eq!(
        probe(&prober(grants), &format!("connect({})", wave_str(&addr))),
        "ok"
    );
    listener.set_nonblocking(true).expect("nonblocking");
    assert!(
        listener.accept().is_ok(),
        "the plugin's connection reached the listener"
    );
    let wildcard = Grants::none().allow_net(NetPattern::parse("127.0.0.*:*").expect("pattern"));
    assert_eq!(
        probe(&prober(wildcard), &format!("connect({})", wave_str(&addr))),
        "ok"
    );
}

#[test]
fn name_lookup_needs_a_grant() {
    assert_denied(
        &probe(&prober(Grants::none()), r#"resolve("localhost")"#),
        "permanent-resolver-failure",
        "a lookup without a grant",
    );
    let outcome = probe(
        &prober(Grants::none().allow_name_lookup(true)),
        r#"resolve("localhost")"#,
    );
    assert!(
        outcome.starts_with("ok(") && outcome.contains("127.0.0.1"),
        "{outcome}"
    );
}

mod vault {
    ::componentry::bindgen!({ path: "tests/guests/wit", world: "componentry:test/vault-user" });
}

use vault::componentry::test::vault as vault_api;

struct Vault;

impl vault_api::Host for Vault {
    fn secret(&mut self) -> String {
        "42".to_owned()
    }
}

const VAULT: &str = "componentry:test/vault@0.1.0";

fn vault_host(stub: bool) -> Host<Vault> {
    Host::builder(&engine(), |_| Vault)
        .expect("builder")
        .interface(VAULT, |instance| {
            vault_api::add_to_linker_instance::<_, componentry::bindings::HasSelf<Vault>>(
                instance,
                componentry::PluginState::data_mut,
            )
        })
        .expect("vault interface")
        .stub_unknown_imports(stub)
        .build()
        .expect("host")
}

#[test]
fn an_ungranted_host_interface_refuses_the_load_and_names_the_grant() {
    let err = vault_host(false)
        .load_file(guest("vault-user"))
        .expect_err("must be refused");
    match &err {
        Error::NotGranted { plugin, import, .. } => {
            assert_eq!(plugin, "vault-user");
            assert_eq!(import, VAULT);
        }
        other => panic!("expected NotGranted, got {other}"),
    }
    assert!(
        err.to_string()
            .contains(&format!("interfaces = [\"{VAULT}\"]")),
        "{err}"
    );
}

#[test]
fn a_granted_host_interface_is_callable() {
    for grant in [VAULT, "componentry:test/vault"] {
        let plugin = vault_host(false)
            .load_file_with(
                guest("vault-user"),
                PluginOptions::new().grants(Grants::none().interface(grant)),
            )
            .expect("granted");
        let results = plugin.invoke("peek()").expect("call");
        assert_eq!(componentry::to_wave(&results), r#""the secret is 42""#);
    }
}

#[test]
fn an_interface_the_host_lacks_is_refused_or_stubbed_on_request() {
    let err = host()
        .load_file(guest("vault-user"))
        .expect_err("must be refused");
    assert!(
        matches!(&err, Error::MissingImport { import, .. } if import.contains("vault")),
        "{err}"
    );
    let stubbed = Host::<()>::builder(&engine(), |_| ())
        .expect("builder")
        .stub_unknown_imports(true)
        .build()
        .expect("host")
        .load_file(guest("vault-user"))
        .expect("loads with stubs");
    assert!(matches!(stubbed.invoke("peek()"), Err(Error::Trap { .. })));
}

#[test]
fn deterministic_mode_reproduces_randomness_and_time() {
    let seeded = |seed| probe(&prober(Grants::none().deterministic(seed)), "entropy()");
    assert_eq!(seeded(7), seeded(7));
    assert_ne!(seeded(7), seeded(8));
    let real = || probe(&prober(Grants::none()), "entropy()");
    assert_ne!(real(), real());
    let virtual_now = seeded(7);
    assert!(
        virtual_now.ends_with(&format!("{})", crate::VIRTUAL_EPOCH_SECS * 1_000_000_000)),
        "the virtual wall clock starts at 2000-01-01: {virtual_now}"
    );
}

#[test]
fn stdout_goes_to_the_log_with_the_plugins_name_and_is_capped() {
    let (logs, _) =
        capture_logs(|| probe(&prober(Grants::none()), r#"say("hello from the guest")"#));
    assert!(
        logs.contains("hello from the guest") && logs.contains("prober"),
        "{logs}"
    );

    // The cap is exact (a line longer than the cap is cut at it) and holds for every call of a
    // held instance, however the plugin writes.
    let capped = Grants::none().output_cap(16);
    let long = "x".repeat(64);
    let (logs, _) = capture_logs(|| {
        let plugin = prober(capped);
        let mut instance = plugin.instantiate().expect("instance");
        for _ in 0..3 {
            instance
                .invoke(&format!("probe#say({})", wave_str(&long)))
                .expect("say");
        }
    });
    let sixteen = "x".repeat(16);
    assert!(!logs.contains(&"x".repeat(17)), "{logs}");
    assert_eq!(
        logs.lines().filter(|l| l.contains(&sixteen)).count(),
        3,
        "{logs}"
    );
    assert_eq!(
        logs.matches("output cap of 16 bytes reached").count(),
        3,
        "{logs}"
    );

    let (logs, _) = capture_logs(|| {
        probe(
            &prober(Grants::none().stdout(Output::Discard)),
            r#"say("dropped")"#,
        )
    });
    assert!(!logs.contains("dropped"), "{logs}");
}

#[test]
fn the_host_is_unharmed_after_every_attack() {
    let f = fixture();
    let plugin = prober(Grants::none().dir(&f.data, "/data"));
    for call in [
        r#"read-at("/data", "../secret.txt")"#,
        r#"write-at("/data", "x", "y")"#,
        r#"connect("127.0.0.1:9")"#,
        r#"resolve("example.com")"#,
    ] {
        assert_refused(&probe(&plugin, call), call);
    }
    assert_eq!(read_at(&plugin, "/data", "inside.txt"), r#"ok("inside")"#);
    assert_eq!(
        std::fs::read_to_string(&f.secret).expect("secret"),
        "top secret"
    );
}

/// Runs the C prober as a command with `args`; returns its log and whether it succeeded.
fn c_prober(grants: Grants, args: &[&str]) -> (String, bool) {
    let mut argv = vec!["c-prober"];
    argv.extend(args);
    let plugin = host()
        .load_file_with(
            guest("c-prober"),
            PluginOptions::new().grants(grants.args(argv)),
        )
        .expect("load c-prober");
    let (logs, outcome) = capture_logs(|| plugin.run_command());
    match outcome {
        Ok(()) => (logs, true),
        Err(Error::Exit { status: 1, .. }) => (logs, false),
        Err(other) => panic!("c-prober {args:?}: {other}"),
    }
}

#[test]
fn c_guest_cannot_leave_a_read_only_grant() {
    let f = fixture();
    let grants = || Grants::none().dir(&f.data, "/data");
    let secret = f.secret.to_string_lossy().into_owned();
    for path in [
        "/data/../secret.txt",
        "/data/secret-link",
        "/data/escape/secret.txt",
        secret.as_str(),
        "/etc/passwd",
    ] {
        let (logs, ok) = c_prober(grants(), &["read", path]);
        assert!(!ok, "reading {path} must fail: {logs}");
        assert!(
            logs.contains("denied") && !logs.contains("top secret"),
            "{logs}"
        );
    }
    let (logs, ok) = c_prober(grants(), &["write", "/data/new.txt", "pwned"]);
    assert!(!ok, "{logs}");
    assert!(!f.data.join("new.txt").exists());
    let (logs, ok) = c_prober(grants(), &["getenv", "PATH"]);
    assert!(!ok, "{logs}");
}

#[test]
fn c_guest_uses_what_it_is_granted() {
    let f = fixture();
    let (logs, ok) = c_prober(
        Grants::none().dir(&f.data, "/data"),
        &["read", "/data/inside.txt"],
    );
    assert!(ok && logs.contains("ok: inside"), "{logs}");
    let (logs, ok) = c_prober(Grants::none().dir(&f.data, "/data"), &["list", "/data"]);
    assert!(ok && logs.contains("inside.txt"), "{logs}");
    let (logs, ok) = c_prober(
        Grants::none().dir_rw(&f.data, "/data"),
        &["write", "/data/new.txt", "made in C"],
    );
    assert!(ok, "{logs}");
    assert_eq!(
        std::fs::read_to_string(f.data.join("new.txt")).expect("read"),
        "made in C"
    );
    let (logs, ok) = c_prober(
        Grants::none().env("GREETING", "hi"),
        &["getenv", "GREETING"],
    );
    assert!(ok && logs.contains("ok: hi"), "{logs}");
}

/// A one-shot HTTP server on loopback answering `hello` to one request; returns its address.
fn http_server() -> (String, std::thread::JoinHandle<bool>) {
    let (listener, port) = listener();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        // Bounded: a refused request never arrives, so stop waiting after a few seconds.
        listener.set_nonblocking(true).expect("nonblocking");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    stream.set_nonblocking(false).expect("blocking");
                    let mut request = [0u8; 4096];
                    let _ = stream.read(&mut request);
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
                    );
                    return true;
                }
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                Err(_) => return false,
            }
        }
    });
    (format!("127.0.0.1:{port}"), server)
}

fn http_get(plugin: &componentry::Plugin<()>, authority: &str) -> String {
    probe(
        plugin,
        &format!("http-get(\"http\", {}, \"/\")", wave_str(authority)),
    )
}

#[test]
fn http_to_a_host_not_allowed_is_denied_with_the_wasi_http_error() {
    let (listener, port) = listener();
    let authority = format!("127.0.0.1:{port}");
    let (logs, outcome) = capture_logs(|| http_get(&prober(Grants::none()), &authority));
    assert_refused(&outcome, "HTTP without a grant");
    assert!(outcome.contains("HttpRequestDenied"), "{outcome}");
    assert!(logs.contains("--allow-http 127.0.0.1"), "{logs}");
    let other = Grants::none()
        .allow_http(componentry::grants::HttpPattern::parse("api.example.com").expect("pattern"));
    let outcome = http_get(&prober(other), &authority);
    assert!(outcome.contains("HttpRequestDenied"), "{outcome}");
    listener.set_nonblocking(true).expect("nonblocking");
    assert!(listener.accept().is_err(), "no request reached the server");
}

#[test]
fn http_to_an_allowed_host_goes_through() {
    let (authority, server) = http_server();
    let grants = Grants::none().allow_http(
        componentry::grants::HttpPattern::parse(&format!("http://{authority}")).expect("pattern"),
    );
    assert_eq!(
        http_get(&prober(grants), &authority),
        r#"ok((200, "hello"))"#
    );
    assert!(server.join().expect("server"));
}

#[test]
fn filesystem_refusals_are_logged_with_the_path_and_the_grant() {
    let f = fixture();
    let plugin = prober(Grants::none().dir(&f.data, "/data"));
    let (logs, outcome) = capture_logs(|| read_at(&plugin, "/data", "../secret.txt"));
    assert_refused(&outcome, "../secret.txt");
    assert!(
        logs.contains("prober") && logs.contains("refused reading `../secret.txt`"),
        "{logs}"
    );
    assert!(logs.contains("--dir HOST::GUEST"), "{logs}");

    let (logs, outcome) = capture_logs(|| probe(&plugin, r#"write-at("/data", "new.txt", "x")"#));
    assert_refused(&outcome, "a write into a read-only grant");
    assert!(
        logs.contains("refused writing `new.txt`") && logs.contains("--dir-rw"),
        "{logs}"
    );

    let (logs, ok) = c_prober(
        Grants::none().dir(&f.data, "/data"),
        &["write", "/data/new.txt", "x"],
    );
    assert!(
        !ok && logs.contains("refused writing") && logs.contains("c-prober"),
        "{logs}"
    );
    // What is allowed is not logged as refused.
    let (logs, outcome) = capture_logs(|| read_at(&plugin, "/data", "inside.txt"));
    assert_eq!(outcome, r#"ok("inside")"#);
    assert!(!logs.contains("refused"), "{logs}");
}

#[test]
fn connecting_does_not_grant_listening() {
    let anywhere = Grants::none().allow_net(NetPattern::parse("*:*").expect("pattern"));
    let (logs, outcome) = capture_logs(|| probe(&prober(anywhere), r#"listen("127.0.0.1:0")"#));
    assert_refused(&outcome, "listening with only allow-net");
    assert!(outcome.contains("access-denied"), "{outcome}");
    assert!(logs.contains("--allow-listen 127.0.0.1:0"), "{logs}");
    // Binding the unspecified address (the usual way to listen on every interface) too.
    let outcome = probe(
        &prober(Grants::none().allow_net(NetPattern::parse("*:*").expect("pattern"))),
        r#"listen("0.0.0.0:0")"#,
    );
    assert_refused(&outcome, "listening on every interface with only allow-net");

    let listen = Grants::none().allow_listen(NetPattern::parse("127.0.0.1:*").expect("pattern"));
    assert_eq!(probe(&prober(listen), r#"listen("127.0.0.1:0")"#), "ok");
}

#[test]
fn udp_datagrams_go_only_where_granted() {
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    receiver
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    let addr = receiver.local_addr().expect("addr").to_string();
    let send = |grants: Grants| {
        probe(
            &prober(grants),
            &format!("udp-send({}, \"ping\")", wave_str(&addr)),
        )
    };
    let other = Grants::none().allow_net(NetPattern::parse("127.0.0.1:1").expect("pattern"));
    let outcome = send(other);
    assert_refused(&outcome, "a datagram to a port not granted");
    assert!(outcome.contains("access-denied"), "{outcome}");

    let granted = Grants::none().allow_net(NetPattern::parse(&addr).expect("pattern"));
    assert_eq!(send(granted), "ok");
    let mut buf = [0u8; 16];
    let (n, _) = receiver.recv_from(&mut buf).expect("the datagram arrived");
    assert_eq!(&buf[..n], b"ping");
}

#[test]
fn a_granted_name_is_looked_up_once_at_load_and_a_failed_lookup_is_logged() {
    let (listener, port) = listener();
    let by_name =
        Grants::none().allow_net(NetPattern::parse(&format!("localhost:{port}")).expect("pattern"));
    assert_eq!(
        probe(&prober(by_name), &format!("connect(\"127.0.0.1:{port}\")")),
        "ok"
    );
    drop(listener);
    let (logs, plugin) = capture_logs(|| {
        prober(
            Grants::none()
                .allow_net(NetPattern::parse("no-such-host.invalid:80").expect("pattern")),
        )
    });
    assert!(
        logs.contains("cannot look up the granted host `no-such-host.invalid`"),
        "{logs}"
    );
    let outcome = probe(&plugin, r#"connect("127.0.0.1:80")"#);
    assert!(outcome.contains("access-denied"), "{outcome}");
}

#[test]
fn deterministic_mode_virtualizes_file_times() {
    let f = fixture();
    let real = probe(
        &prober(Grants::none().dir(&f.data, "/data")),
        r#"modified("/data", "inside.txt")"#,
    );
    let virtual_epoch = format!("ok({})", crate::VIRTUAL_EPOCH_SECS * 1_000_000_000);
    assert_ne!(real, virtual_epoch);
    let seeded = probe(
        &prober(Grants::none().dir(&f.data, "/data").deterministic(3)),
        r#"modified("/data", "inside.txt")"#,
    );
    assert_eq!(seeded, virtual_epoch);
}
