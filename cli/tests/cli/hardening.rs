//! The sandbox's holes, tried through the CLI as an attacker would, with the exit codes of the
//! limits: grants only from the operator, deadlines through host calls (exit 7), handle and
//! memory caps (exit 8), fuel through start functions (exit 6), exact output caps and escaped
//! plugin text, and a quiet watcher.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::{Run, Watching, guest, path_arg, stderr, stdout, versioned};

/// A plugin directory `dir` under `root` holding the prober (as `prober.wasm`) and a manifest.
fn plugin_dir(root: &Path, dir: &str, manifest: &str) -> std::path::PathBuf {
    let path = root.join(dir);
    std::fs::create_dir_all(&path).expect("mkdir");
    std::fs::copy(guest("prober"), path.join("prober.wasm")).expect("copy");
    std::fs::write(path.join("plugin.toml"), manifest).expect("manifest");
    path
}

const GREEDY: &str = "name = \"greedy\"\nversion = \"1.0.0\"\n[capabilities]\n\
                      dir-rw = [\"/home::/loot\"]\nenv = [\"HOME\"]\nallow-net = [\"*:*\"]\n";

#[test]
fn watch_grants_a_manifests_requests_only_where_the_operator_allows() {
    let root = tempfile::tempdir().expect("tempdir");
    plugin_dir(root.path(), "greedy", GREEDY);
    let dir = path_arg(root.path());
    let home = [("HOME", "/home/operator")];

    let watching = Watching::start(&[&dir, "--invoke", r#"probe#get-env("HOME")"#], &home);
    let line = watching.next_line();
    assert!(
        line.starts_with("loaded greedy ") && line.ends_with("-> none"),
        "{line}"
    );
    let preopens = Watching::start(&[&dir, "--invoke", "probe#preopens()"], &home);
    assert!(preopens.next_line().ends_with("-> []"));
    assert!(
        preopens
            .stderr()
            .contains("requests beyond the host's policy were dropped"),
        "{}",
        preopens.stderr()
    );

    // The operator's flags are given to every plugin.
    let flagged = Watching::start(
        &[
            &dir,
            "--env",
            "HOME",
            "--invoke",
            r#"probe#get-env("HOME")"#,
        ],
        &home,
    );
    assert!(
        flagged
            .next_line()
            .ends_with(r#"-> some("/home/operator")"#)
    );

    // A policy decides what the manifest gets.
    let policy = root.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[plugin]]\nmatch = \"greedy\"\non-excess = \"trim\"\n[plugin.allow]\nenv = [\"HOME=/sandbox\"]\n",
    )
    .expect("policy");
    let governed = Watching::start(
        &[
            &dir,
            "--policy",
            &path_arg(&policy),
            "--invoke",
            r#"probe#get-env("HOME")"#,
        ],
        &home,
    );
    assert!(governed.next_line().ends_with(r#"-> some("/sandbox")"#));
}

#[test]
fn run_takes_a_policy_that_can_refuse_or_pin() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = plugin_dir(root.path(), "greedy", GREEDY);
    let plugin = path_arg(&dir.join("prober.wasm"));
    // Without a policy the manifest's requests are dropped, and the plugin runs.
    let out = Run::new(&["run", &plugin, "--invoke", r#"probe#get-env("HOME")"#])
        .env("HOME", "/home/operator")
        .expect(0);
    assert_eq!(stdout(&out).trim(), "none");

    let refuse = root.path().join("refuse.toml");
    std::fs::write(&refuse, "[[plugin]]\nmatch = \"*\"\n").expect("policy");
    let out = Run::new(&[
        "run",
        &plugin,
        "--policy",
        &path_arg(&refuse),
        "--invoke",
        "probe#preopens()",
    ])
    .expect(4);
    assert!(
        stderr(&out).contains("plugin 'greedy': requests beyond the host's policy")
            && stderr(&out).contains("allow-net *:*"),
        "{}",
        stderr(&out)
    );

    let pin = root.path().join("pin.toml");
    std::fs::write(
        &pin,
        format!(
            "[[plugin]]\nmatch = \"*\"\non-excess = \"trim\"\nsha256 = \"{}\"\n",
            "ab".repeat(32)
        ),
    )
    .expect("policy");
    let out = Run::new(&[
        "run",
        &plugin,
        "--policy",
        &path_arg(&pin),
        "--invoke",
        "probe#preopens()",
    ])
    .expect(3);
    assert!(stderr(&out).contains("the policy pins"), "{}", stderr(&out));
}

#[test]
fn a_deadline_holds_while_the_plugin_waits() {
    let prober = path_arg(&guest("prober"));
    let started = Instant::now();
    let out = Run::new(&[
        "run",
        &prober,
        "--timeout",
        "100",
        "--invoke",
        "probe#sleep(30000)",
    ])
    .expect(7);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stderr(&out).contains("exceeded its deadline of 100ms"),
        "{}",
        stderr(&out)
    );
    // Reading a stdin that never ends.
    Run::new(&[
        "run",
        &prober,
        "--stdin",
        "--timeout",
        "100",
        "--invoke",
        "probe#read-stdin()",
    ])
    .hold_stdin()
    .expect(7);
    // And a granted stdin is read.
    let out = Run::new(&["run", &prober, "--stdin", "--invoke", "probe#read-stdin()"])
        .stdin(b"hello")
        .expect(0);
    assert_eq!(stdout(&out).trim(), "ok(5)");
}

#[test]
fn open_handles_are_capped() {
    let data = tempfile::tempdir().expect("tempdir");
    std::fs::write(data.path().join("f.txt"), "x").expect("write");
    let prober = path_arg(&guest("prober"));
    let grant = format!("{}::/data", path_arg(data.path()));
    let out = Run::new(&[
        "run",
        &prober,
        "--dir",
        &grant,
        "--invoke",
        r#"probe#open-many("/data", "f.txt", 20000)"#,
    ])
    .expect(8);
    assert!(
        stderr(&out).contains("limit of 1024 open handles"),
        "{}",
        stderr(&out)
    );
    Run::new(&[
        "run",
        &prober,
        "--dir",
        &grant,
        "--max-handles",
        "50",
        "--invoke",
        r#"probe#open-many("/data", "f.txt", 100)"#,
    ])
    .expect(8);
    let out = Run::new(&[
        "run",
        &prober,
        "--dir",
        &grant,
        "--max-handles",
        "50",
        "--invoke",
        r#"probe#open-many("/data", "f.txt", 40)"#,
    ])
    .expect(0);
    assert_eq!(stdout(&out).trim(), "ok(40)");
}

fn wat_file(dir: &Path, name: &str, wat: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, wat).expect("write");
    path_arg(&path)
}

#[test]
fn the_memory_limit_bounds_all_memories_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = wat_file(
        dir.path(),
        "memories.wat",
        r#"(component
  (core module $m
    (memory 1000) (memory 1000) (memory 1000) (memory 1000)
    (func (export "f") (result i32) (i32.const 1)))
  (core instance $i (instantiate $m))
  (func (export "f") (result u32) (canon lift (core func $i "f"))))"#,
    );
    let out = Run::new(&[
        "run",
        &plugin,
        "--max-memory",
        "67108864",
        "--invoke",
        "f()",
    ])
    .expect(8);
    assert!(
        stderr(&out).contains("the limit is 67108864 bytes"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn start_functions_burn_the_calls_fuel() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 500k rounds of 6 units in the start function, and as many in `work`.
    let plugin = wat_file(
        dir.path(),
        "burner.wat",
        r#"(component
  (core module $m
    (func $burn (param $n i32)
      (loop $l
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br_if $l (local.get $n))))
    (func $start (call $burn (i32.const 500000)))
    (start $start)
    (func (export "work") (param i32) (call $burn (local.get 0))))
  (core instance $i (instantiate $m))
  (func (export "work") (param "rounds" u32) (canon lift (core func $i "work"))))"#,
    );
    Run::new(&[
        "run",
        &plugin,
        "--fuel",
        "3500000",
        "--invoke",
        "work(500000)",
    ])
    .expect(6);
    Run::new(&[
        "run",
        &plugin,
        "--fuel",
        "7000000",
        "--invoke",
        "work(500000)",
    ])
    .expect(0);
}

#[test]
fn output_is_capped_exactly_even_when_inherited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let grants = dir.path().join("grants.toml");
    std::fs::write(&grants, "output-cap = 1024\n").expect("grants");
    let prober = path_arg(&guest("prober"));
    let out = Run::new(&[
        "run",
        &prober,
        "--grants",
        &path_arg(&grants),
        "--invoke",
        "probe#flood-stdout(5000000)",
    ])
    .expect(0);
    assert_eq!(
        out.stdout.len(),
        1024,
        "the plugin's stdout is the CLI's, capped"
    );
    assert!(out.stdout.iter().all(|b| *b == b'x'));
}

#[test]
fn a_grants_file_can_route_stderr_into_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let grants = dir.path().join("grants.toml");
    std::fs::write(&grants, "stderr = \"log\"\n").expect("grants");
    let prober = path_arg(&guest("prober"));
    let out = Run::new(&[
        "run",
        &prober,
        "--grants",
        &path_arg(&grants),
        "--invoke",
        "probe#complain(\"it hurts\")",
    ])
    .expect(0);
    let line = stderr(&out)
        .lines()
        .find(|l| l.contains("it hurts"))
        .map(str::to_owned)
        .expect("logged");
    assert!(
        line.contains("WARN") && line.contains("plugin=\"prober\""),
        "{line}"
    );
}

#[test]
fn plugin_text_cannot_hide_from_the_operator() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = plugin_dir(
        root.path(),
        "sly",
        "name = \"sly\"\nversion = \"1.0.0\"\ndescription = \"harmless\\u001b[8m\"\n",
    );
    let out = Run::new(&["inspect", &path_arg(&dir.join("prober.wasm"))]).expect(0);
    let text = stdout(&out);
    assert!(
        !text.contains('\u{1b}'),
        "a raw escape reached the terminal"
    );
    assert!(text.contains("description: harmless\\u{1b}[8m"), "{text}");
}

#[test]
fn network_patterns_are_checked_as_written() {
    let prober = path_arg(&guest("prober"));
    let out = Run::new(&[
        "run",
        &prober,
        "--allow-net",
        "::1",
        "--invoke",
        "probe#preopens()",
    ])
    .expect(2);
    assert!(stderr(&out).contains("brackets"), "{}", stderr(&out));
    let out = Run::new(&[
        "run",
        &prober,
        "--allow-http",
        "[::1]",
        "--invoke",
        "probe#preopens()",
    ])
    .expect(0);
    assert_eq!(stdout(&out).trim(), "[]");
    let out = Run::new(&[
        "run",
        &prober,
        "--allow-http",
        "10.*",
        "--invoke",
        "probe#preopens()",
    ])
    .expect(2);
    assert!(
        stderr(&out).contains("whole leading part"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn watch_prints_one_line_per_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("counter.wasm");
    std::fs::write(&file, versioned(1)).expect("write");
    let watching = Watching::start(&[&path_arg(dir.path()), "--invoke", "version()"], &[]);
    assert!(watching.next_line().ends_with("-> 1"));
    assert!(watching.lines_within(Duration::from_millis(800)).is_empty());
    std::fs::write(&file, &versioned(2)[..40]).expect("a broken write");
    let lines = watching.lines_within(Duration::from_secs(2));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("reload failed counter: "), "{lines:?}");
    // A text-format component appears as a plugin of its own.
    std::fs::write(dir.path().join("text.wat"), versioned(7)).expect("write");
    assert!(watching.next_line().starts_with("loaded text "));
}

#[test]
fn a_watched_plugin_cannot_print_lines_that_pass_for_the_hosts() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = path_arg(root.path());
    std::fs::copy(guest("prober"), root.path().join("prober.wasm")).expect("copy");
    // A fake event line on stdout, a fake warning on stderr, each behind a terminal escape (a
    // window title) and a carriage return.
    let fake_event =
        r#"probe#say("\u{1b}]0;pwned\u{7}\rloaded trusted sha256:0123456789ab -> \"all good\"")"#;
    let watching = Watching::start(&[&dir, "--invoke", fake_event], &[]);
    let lines = [watching.next_line(), watching.next_line()];
    let fake = lines
        .iter()
        .find(|l| l.contains("all good"))
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert!(fake.starts_with("[prober] "), "{fake}");
    assert!(
        lines.iter().any(|l| l.starts_with("loaded prober sha256:")),
        "{lines:?}"
    );
    for line in &lines {
        assert!(
            !line.starts_with("loaded trusted") && !line.contains(['\u{1b}', '\r', '\u{7}']),
            "{line:?}"
        );
    }
    let complaint = Watching::start(
        &[
            &dir,
            "--invoke",
            r#"probe#complain("\u{1b}[2J WARN componentry: all clear")"#,
        ],
        &[],
    );
    complaint.next_line();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !complaint.stderr().contains("all clear") {
        assert!(Instant::now() < deadline, "{}", complaint.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    let stderr = complaint.stderr();
    let line = stderr
        .lines()
        .find(|l| l.contains("all clear"))
        .expect("line");
    assert!(line.starts_with("[prober] "), "{line:?}");
    assert!(
        !stderr.contains('\u{1b}'),
        "a raw escape reached the terminal"
    );
}

/// Control characters a hostile file uses to act on a terminal: an escape (clear screen), an
/// operating system command (window title, ended by BEL), a carriage return and a newline
/// (to overwrite or forge a line).
const HOSTILE: &str = "\\u001b[2J\\u001b]0;pwned\\u0007\\rcomponentry: all clear\\nforged";

fn assert_inert(what: &str, out: &std::process::Output) {
    for (stream, text) in [("stdout", stdout(out)), ("stderr", stderr(out))] {
        assert!(
            !text.contains(['\u{1b}', '\u{7}', '\r']),
            "{what}: a raw control character reached {stream}: {text:?}"
        );
        assert!(
            !text.lines().any(|l| l.starts_with("forged")),
            "{what}: a forged line on {stream}: {text:?}"
        );
    }
}

#[test]
fn text_from_a_plugins_files_is_inert_in_every_commands_output() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = plugin_dir(
        root.path(),
        "sly",
        &format!(
            "name = \"sly\"\nversion = \"1.0.0\"\ndescription = \"{HOSTILE}\"\n\
             [settings]\ngreeting = \"{HOSTILE}\"\n"
        ),
    );
    let plugin = path_arg(&dir.join("prober.wasm"));
    let out = Run::new(&["inspect", &plugin]).expect(0);
    assert_inert("inspect", &out);
    let out = Run::new(&["run", &plugin, "--invoke", "probe#env-count()"]).expect(0);
    assert_inert("run", &out);

    // A cases file: a case's name, a stub's name and a call's text.
    let cases = root.path().join("cases.toml");
    std::fs::write(
        &cases,
        format!(
            "[[case]]\nname = \"{HOSTILE}\"\ncall = 'probe#env-count()'\nexpect = '0'\n\n\
             [[case]]\nname = \"{HOSTILE} 2\"\ncall = 'probe#env-count()'\nexpect = '1'\n"
        ),
    )
    .expect("write");
    let out = Run::new(&["test", &plugin, &path_arg(&cases)]).expect(1);
    assert_inert("test", &out);
    std::fs::write(
        &cases,
        format!("[stubs]\n\"{HOSTILE}#f\" = '1'\n\n[[case]]\ncall = 'probe#env-count()'\n"),
    )
    .expect("write");
    let out = Run::new(&["test", &plugin, &path_arg(&cases)]).expect(2);
    assert_inert("test with a bad stub", &out);
    let out = Run::new(&["run", &plugin, "--stubs", &path_arg(&cases)]).expect(2);
    assert_inert("run with a bad stub", &out);
    std::fs::write(
        &cases,
        format!("[[case]]\ncall = 'probe#get-env(\"{HOSTILE}'\n"),
    )
    .expect("write");
    let out = Run::new(&["test", &plugin, &path_arg(&cases)]).expect(2);
    assert_ne!(out.status.code(), Some(0));
    assert_inert("test with bad WAVE", &out);

    // A project whose manifest names a world that is not there.
    Run::new(&["new", "c", "sly-build"])
        .current_dir(root.path())
        .expect(0);
    let manifest = root.path().join("sly-build/plugin.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(
        &manifest,
        format!("{text}\n[build]\nworld = \"{HOSTILE}\"\n").replace("[build]\n[build]", "[build]"),
    )
    .expect("write");
    let out = Run::new(&["build", "sly-build"])
        .current_dir(root.path())
        .output();
    assert_ne!(out.status.code(), Some(0), "a world that is not there");
    assert_inert("build", &out);
}
