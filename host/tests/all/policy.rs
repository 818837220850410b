//! Grants come only from the operator: a manifest requests, the policy decides, field by field,
//! and plugins are told apart by more than the names they give themselves. Directory loading and
//! watching give a plugin the same options.

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use componentry::{Error, Grants, OnExcess, Plugin, PluginDir, PluginEvent, Policy, PolicyRule};

use crate::watch::wait_for;
use crate::{guest, host};

/// A plugin directory `name/` under `root` holding the prober and a manifest with
/// `capabilities` (TOML lines).
fn plugin_dir(root: &Path, dir: &str, name: &str, capabilities: &str) {
    let path = root.join(dir);
    std::fs::create_dir_all(&path).expect("mkdir");
    std::fs::copy(guest("prober"), path.join("prober.wasm")).expect("copy");
    std::fs::write(
        path.join("plugin.toml"),
        format!("name = \"{name}\"\nversion = \"1.0.0\"\n[capabilities]\n{capabilities}\n"),
    )
    .expect("manifest");
}

const GREEDY: &str =
    "dir-rw = [\"/home::/loot\"]\nenv = [\"HOME\", \"PATH\"]\nallow-net = [\"*:*\"]";

fn probe(plugin: &Plugin<()>, call: &str) -> String {
    componentry::to_wave(
        &plugin
            .invoke(&format!("probe#{call}"))
            .unwrap_or_else(|e| panic!("{call}: {e}")),
    )
}

/// What a greedy plugin reached: its preopens, HOME, and a connection to a live listener.
fn reach(plugin: &Plugin<()>) -> (String, String, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let addr = listener.local_addr().expect("addr");
    (
        probe(plugin, "preopens()"),
        probe(plugin, r#"get-env("HOME")"#),
        probe(plugin, &format!("connect(\"{addr}\")")),
    )
}

fn assert_reaches_nothing(plugin: &Plugin<()>) {
    let (preopens, home, connect) = reach(plugin);
    assert_eq!(preopens, "[]");
    assert_eq!(home, "none");
    assert!(connect.contains("access-denied"), "{connect}");
}

#[test]
fn a_manifest_only_requests_when_loading_a_directory() {
    let root = tempfile::tempdir().expect("tempdir");
    plugin_dir(root.path(), "greedy", "greedy", GREEDY);
    let trim = Policy::new().otherwise(OnExcess::Trim);
    let report = PluginDir::new(root.path())
        .policy(trim.clone())
        .load(&host())
        .expect("load");
    let plugin = report.loaded().next().expect("loaded, trimmed");
    assert!(
        plugin.grants().describe().is_empty(),
        "{:?}",
        plugin.grants().describe()
    );
    assert_reaches_nothing(plugin);

    let report = PluginDir::new(root.path())
        .policy(Policy::new().clone())
        .load(&host())
        .expect("load");
    match report.failed().next() {
        Some((_, Error::PolicyDenied { plugin, requests })) => {
            assert_eq!(plugin, "greedy");
            for request in ["dir-rw /home::/loot", "env HOME", "allow-net *:*"] {
                assert!(
                    requests.iter().any(|r| r == request),
                    "{request} in {requests:?}"
                );
            }
        }
        _ => panic!("the default policy refuses what it does not allow"),
    }
}

#[test]
fn a_manifest_only_requests_when_watching() {
    let root = tempfile::tempdir().expect("tempdir");
    plugin_dir(root.path(), "greedy", "greedy", GREEDY);
    let host = host();
    let events = host.subscribe();
    let watcher = PluginDir::new(root.path())
        .policy(Policy::new().otherwise(OnExcess::Trim))
        .watch(&host)
        .expect("watch");
    wait_for(&events, "event", |e| {
        matches!(e, PluginEvent::Loaded { .. })
    });
    assert_reaches_nothing(&watcher.plugin("greedy").expect("loaded"));
}

#[test]
fn what_the_policy_allows_is_granted_whichever_way_the_plugin_is_found() {
    let root = tempfile::tempdir().expect("tempdir");
    plugin_dir(root.path(), "greedy", "greedy", "env = [\"HOME\"]");
    let policy = Policy::new()
        .rule(PolicyRule::new("greedy").allow(Grants::none().env("HOME", "/home/sandboxed")));
    let report = PluginDir::new(root.path())
        .policy(policy.clone())
        .load(&host())
        .expect("load");
    let loaded = report.loaded().next().expect("allowed");
    assert_eq!(
        probe(loaded, r#"get-env("HOME")"#),
        r#"some("/home/sandboxed")"#
    );

    let host = host();
    let events = host.subscribe();
    let watcher = PluginDir::new(root.path())
        .policy(policy.clone())
        .watch(&host)
        .expect("watch");
    wait_for(&events, "event", |e| {
        matches!(e, PluginEvent::Loaded { .. })
    });
    let watched = watcher.plugin("greedy").expect("loaded");
    assert_eq!(watched.grants(), loaded.grants());
}

#[test]
fn a_value_the_policy_sets_is_never_replaced_by_the_hosts() {
    let root = tempfile::tempdir().expect("tempdir");
    plugin_dir(root.path(), "p", "p", "env = [\"PATH\"]");
    let fixed = Policy::new()
        .rule(PolicyRule::new("p").allow(Grants::none().env("PATH", "public-demo-token")));
    let report = PluginDir::new(root.path())
        .policy(fixed.clone())
        .load(&host())
        .expect("load");
    let plugin = report.loaded().next().expect("loaded");
    assert_eq!(
        probe(plugin, r#"get-env("PATH")"#),
        r#"some("public-demo-token")"#
    );

    // A policy that passes the host's own value does so.
    let passed =
        Policy::new().rule(PolicyRule::new("p").allow(Grants::none().env_from_host("PATH")));
    let report = PluginDir::new(root.path())
        .policy(passed.clone())
        .load(&host())
        .expect("load");
    let plugin = report.loaded().next().expect("loaded");
    let host_path = std::env::var("PATH").expect("the test runs with a PATH");
    assert_eq!(
        probe(plugin, r#"get-env("PATH")"#),
        componentry::Val::Option(Some(Box::new(componentry::Val::String(host_path))))
            .to_wave()
            .expect("wave")
    );
}

#[test]
fn an_address_pattern_does_not_admit_a_name_that_looks_like_it() {
    let root = tempfile::tempdir().expect("tempdir");
    plugin_dir(
        root.path(),
        "p",
        "p",
        "allow-net = [\"10.0.0.1.attacker.example:5432\"]",
    );
    let policy = Policy::from_toml(
        "[[plugin]]\nmatch = \"p\"\n[plugin.allow]\nallow-net = [\"10.*:5432\"]\n",
        root.path().join("policy.toml"),
    )
    .expect("policy");
    let report = PluginDir::new(root.path())
        .policy(policy.clone())
        .load(&host())
        .expect("load");
    match report.failed().next() {
        Some((_, Error::PolicyDenied { requests, .. })) => {
            assert_eq!(requests, &["allow-net 10.0.0.1.attacker.example:5432"]);
        }
        _ => panic!("expected PolicyDenied"),
    }
}

#[test]
fn two_plugins_claiming_one_name_are_told_apart() {
    let root = tempfile::tempdir().expect("tempdir");
    plugin_dir(root.path(), "a-first", "same", "");
    plugin_dir(root.path(), "b-second", "same", "");
    let report = PluginDir::new(root.path())
        .policy(Policy::new().clone())
        .load(&host())
        .expect("load");
    assert_eq!(report.loaded().count(), 1);
    match report.failed().next() {
        Some((
            outcome,
            Error::DuplicateName {
                plugin,
                path,
                first,
            },
        )) => {
            assert_eq!(plugin, "same");
            assert!(
                path.ends_with("b-second") && first.ends_with("a-first"),
                "{path:?} {first:?}"
            );
            assert!(outcome.source.ends_with("b-second"));
        }
        _ => panic!("expected DuplicateName"),
    }

    let host = host();
    let events = host.subscribe();
    let watcher = PluginDir::new(root.path())
        .debounce(Duration::from_millis(50))
        .watch(&host)
        .expect("watch");
    wait_for(
        &events,
        "loaded",
        |e| matches!(e, PluginEvent::Loaded { plugin, .. } if plugin == "same"),
    );
    let failed = wait_for(&events, "event", |e| {
        matches!(e, PluginEvent::ReloadFailed { .. })
    });
    assert!(
        format!("{failed:?}").contains("already taken"),
        "{failed:?}"
    );
    assert_eq!(watcher.plugins().len(), 1);
}

#[test]
fn a_rule_can_select_by_where_the_plugin_lives() {
    let root = tempfile::tempdir().expect("tempdir");
    plugin_dir(&root.path().join("trusted"), "p", "p", "env = [\"MODE\"]");
    plugin_dir(&root.path().join("untrusted"), "p", "p", "env = [\"MODE\"]");
    let policy = Policy::from_toml(
        "[[plugin]]\npath = \"trusted/*\"\n[plugin.allow]\nenv = [\"MODE=trusted\"]\n",
        root.path().join("policy.toml"),
    )
    .expect("policy");
    let trusted = PluginDir::new(root.path().join("trusted"))
        .policy(policy.clone())
        .load(&host())
        .expect("load");
    let plugin = trusted
        .loaded()
        .next()
        .expect("the trusted copy is allowed");
    assert_eq!(probe(plugin, r#"get-env("MODE")"#), r#"some("trusted")"#);
    let untrusted = PluginDir::new(root.path().join("untrusted"))
        .policy(policy)
        .load(&host())
        .expect("load");
    assert!(
        matches!(
            untrusted.failed().next(),
            Some((_, Error::PolicyDenied { .. }))
        ),
        "the same name elsewhere is not the trusted plugin"
    );
}
