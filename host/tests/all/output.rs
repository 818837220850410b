//! Everything a plugin makes the host print or log is bounded and cannot pass for the host's own
//! lines: stdout, stderr and `componentry:plugin/log` each have an exact budget per call, and
//! their text is escaped.

use componentry::{Grants, Output, PluginDir, PluginOptions, Val};

/// The output cap `Grants::output_cap` documents as its default: 1 MiB per channel and call.
const DEFAULT_LOG_CAP: usize = 1 << 20;

use crate::logs::capture_logs;
use crate::{guest, host};

fn prober(grants: Grants) -> componentry::Plugin<()> {
    host()
        .load_file_with(guest("prober"), PluginOptions::new().grants(grants))
        .expect("load prober")
}

fn call(plugin: &componentry::Plugin<()>, function: &str, args: &[Val]) {
    plugin
        .call(&format!("probe#{function}"), args)
        .unwrap_or_else(|e| panic!("{function}: {e}"));
}

#[test]
fn one_unterminated_flood_is_cut_at_the_cap() {
    let plugin = prober(Grants::none().output_cap(1024));
    let (logs, ()) = capture_logs(|| call(&plugin, "flood-stdout", &[Val::U32(5_000_000)]));
    assert!(logs.contains(&"x".repeat(1024)), "{logs}");
    assert!(
        !logs.contains(&"x".repeat(1025)),
        "more than the cap was logged"
    );
    assert_eq!(logs.matches("output cap of 1024 bytes reached").count(), 1);
}

#[test]
fn the_default_cap_is_one_mebibyte_per_call() {
    let plugin = prober(Grants::none());
    let (logs, ()) = capture_logs(|| {
        call(
            &plugin,
            "flood-stdout",
            &[Val::U32((DEFAULT_LOG_CAP + 4096) as u32)],
        )
    });
    // Logged in lines of at most 64 KiB, DEFAULT_LOG_CAP bytes in all.
    let logged: usize = logs
        .lines()
        .filter(|line| line.contains("xxxx"))
        .map(|line| line.matches('x').count())
        .sum();
    assert_eq!(logged, DEFAULT_LOG_CAP);
}

#[test]
fn the_log_interface_is_capped_too() {
    let plugin = prober(Grants::none().output_cap(1000));
    let flood = "y".repeat(2 << 20);
    let (logs, ()) = capture_logs(|| call(&plugin, "log-line", &[Val::String(flood)]));
    assert!(logs.contains(&"y".repeat(1000)), "{logs}");
    assert!(
        !logs.contains(&"y".repeat(1001)),
        "more than the cap was logged"
    );
    assert!(logs.contains("stream=\"log\""), "{logs}");
}

#[test]
fn a_plugin_cannot_forge_a_line_of_the_hosts_log() {
    let plugin = prober(Grants::none());
    let forged = "2026-01-01T00:00:00.000000Z  INFO componentry: all is well";
    for function in ["log-line", "say", "complain"] {
        let (logs, ()) = capture_logs(|| {
            call(
                &plugin,
                function,
                &[Val::String(format!("ok\n{forged}\r\u{1b}[8mhidden"))],
            )
        });
        assert!(
            !logs.lines().any(|line| line.starts_with(forged)),
            "{function}: {logs}"
        );
        assert!(
            !logs.contains('\u{1b}'),
            "{function}: a raw escape reached the log: {logs}"
        );
        assert!(logs.contains("\\u{1b}[8m"), "{function}: {logs}");
    }
}

#[test]
fn stderr_goes_to_the_log_as_warnings_and_can_be_discarded() {
    let (logs, ()) = capture_logs(|| {
        call(
            &prober(Grants::none()),
            "complain",
            &[Val::String("it hurts".into())],
        )
    });
    let line = logs
        .lines()
        .find(|l| l.contains("it hurts"))
        .expect("logged");
    assert!(
        line.contains("WARN") && line.contains("stream=\"stderr\"") && line.contains("prober"),
        "{line}"
    );
    let (logs, ()) = capture_logs(|| {
        call(
            &prober(Grants::none().stderr(Output::Discard)),
            "complain",
            &[Val::String("it hurts".into())],
        )
    });
    assert!(!logs.contains("it hurts"), "{logs}");
}

#[test]
fn stdin_is_closed_unless_granted() {
    let plugin = prober(Grants::none());
    let results = plugin.invoke("probe#read-stdin()").expect("call");
    assert_eq!(componentry::to_wave(&results), "ok(0)");
}

#[test]
fn paths_in_refusal_messages_are_escaped() {
    let data = tempfile::tempdir().expect("tempdir");
    let plugin = prober(Grants::none().dir(data.path(), "/data"));
    let (logs, ()) = capture_logs(|| {
        call(
            &plugin,
            "read-at",
            &[
                Val::String("/data".into()),
                Val::String("../x\n2026-01-01T00:00:00Z  INFO forged\u{1b}[8m".into()),
            ],
        )
    });
    assert!(logs.contains("refused reading"), "{logs}");
    assert!(!logs.lines().any(|l| l.starts_with("2026-01-01")), "{logs}");
    assert!(!logs.contains('\u{1b}'), "{logs}");
}

#[test]
fn a_hostile_manifest_cannot_forge_log_lines_through_its_errors() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("sly");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::copy(guest("prober"), dir.join("sly.wasm")).expect("copy");
    // An invalid manifest whose error message quotes the offending line.
    std::fs::write(
        dir.join("plugin.toml"),
        "name = \"sly\"\nversion = \"1.0.0\"\nbogus = \"\u{1b}[8mhidden\"\n",
    )
    .expect("manifest");
    let (logs, report) = capture_logs(|| {
        PluginDir::new(root.path())
            .policy(componentry::Policy::new().clone())
            .load(&host())
    });
    assert_eq!(report.expect("load").failed().count(), 1);
    assert!(logs.contains("bogus"), "{logs}");
    assert!(!logs.contains('\u{1b}'), "{logs}");
}
