//! Command components (`wasi:cli/run`): arguments in, exit status out.

use componentry::{Error, Grants, PluginOptions};

use crate::{guest, host};

#[test]
fn a_command_runs_with_its_granted_arguments() {
    let options = PluginOptions::new().grants(Grants::none().args(["command-echo", "one"]));
    let plugin = host()
        .load_file_with(guest("command-echo"), options)
        .expect("load");
    plugin.run_command().expect("exit status 0");
}

#[test]
fn a_failing_command_reports_its_status() {
    let options = PluginOptions::new().grants(Grants::none().args(["command-echo", "fail"]));
    let plugin = host()
        .load_file_with(guest("command-echo"), options)
        .expect("load");
    match plugin.run_command() {
        Err(Error::Exit { plugin, status }) => {
            assert_eq!(plugin, "command-echo");
            assert_eq!(status, 1);
        }
        other => panic!("expected exit status 1, got {other:?}"),
    }
}

#[test]
fn a_plugin_without_run_is_not_a_command() {
    let plugin = host().load_file(guest("hello-rust")).expect("load");
    match plugin.run_command() {
        Err(Error::Incompatible { plugin, reason, .. }) => {
            assert_eq!(plugin, "hello-rust");
            assert!(reason.contains("wasi:cli/run"), "{reason}");
        }
        other => panic!("expected Incompatible, got {other:?}"),
    }
}

#[test]
fn a_wasi_0_3_command_runs_and_reports_its_status() {
    let run = |args: [&str; 2]| {
        let options =
            PluginOptions::new().grants(Grants::none().args(args).stdout(componentry::Output::Log));
        host()
            .load_file_with(guest("p3-command"), options)
            .expect("load a WASI 0.3 command")
            .run_command()
    };
    let (log, outcome) = crate::logs::capture_logs(|| run(["p3-command", "one"]));
    outcome.expect("exit status 0");
    assert!(log.contains("p3 args: p3-command one"), "{log}");
    match run(["p3-command", "fail"]) {
        Err(Error::Exit { plugin, status }) => {
            assert_eq!(plugin, "p3-command");
            assert_eq!(status, 1);
        }
        other => panic!("expected exit status 1, got {other:?}"),
    }
}
