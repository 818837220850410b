//! Grants come only from the operator: a manifest requests, the policy decides, field by field,
//! and plugins are told apart by more than the names they give themselves. Directory loading and
//! watching give a plugin the same options.

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use componentry::{
    Error, Grants, Plugin, PluginDir, PluginEvent, Policy, policy::OnExcess, policy::PolicyRule,
};

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
        Some((
            _,
            Error::PolicyDenied {
                plugin, requests, ..
            },
        )) => {
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
    let policy = policy_in(
        root.path(),
        "[[plugin]]\nmatch = \"p\"\n[plugin.allow]\nallow-net = [\"10.*:5432\"]\n",
    );
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
fn a_name_claimed_twice_loads_neither_claimant() {
    let root = tempfile::tempdir().expect("tempdir");
    // `aaa` sorts first: it must not win the name by sorting first.
    plugin_dir(root.path(), "aaa", "trusted", "");
    plugin_dir(root.path(), "trusted", "trusted", "");
    let report = PluginDir::new(root.path())
        .policy(Policy::new())
        .load(&host())
        .expect("load");
    assert_eq!(report.loaded().count(), 0, "a contested name loads no one");
    let failures: Vec<_> = report.failed().collect();
    assert_eq!(failures.len(), 2);
    for (outcome, error) in failures {
        match error {
            Error::ContestedName {
                plugin,
                path,
                others,
            } => {
                assert_eq!(plugin, "trusted");
                assert_eq!(path, &outcome.source);
                assert_eq!(others.len(), 1);
                assert_ne!(&others[0], path, "each names the other");
            }
            other => panic!("expected ContestedName, got {other}"),
        }
    }

    // Watched, likewise; and when one claimant goes, the other takes the name.
    let host = host();
    let events = host.subscribe();
    let watcher = PluginDir::new(root.path())
        .debounce(Duration::from_millis(50))
        .watch(&host)
        .expect("watch");
    let failed = wait_for(&events, "reload failed", |e| {
        matches!(e, PluginEvent::ReloadFailed { .. })
    });
    assert!(
        format!("{failed:?}").contains("none of them is loaded"),
        "{failed:?}"
    );
    assert!(watcher.plugins().is_empty());
    std::fs::remove_dir_all(root.path().join("aaa")).expect("remove");
    wait_for(
        &events,
        "loaded",
        |e| matches!(e, PluginEvent::Loaded { plugin, .. } if plugin == "trusted"),
    );
    assert_eq!(watcher.plugins().len(), 1);

    // A third claimant arriving later is refused; the holder keeps the name.
    plugin_dir(root.path(), "zzz", "trusted", "");
    let failed = wait_for(&events, "reload failed", |e| {
        matches!(e, PluginEvent::ReloadFailed { .. })
    });
    assert!(
        format!("{failed:?}").contains("already taken"),
        "{failed:?}"
    );
    assert!(watcher.plugins().iter().all(|p| p.name() == "trusted"));
}

#[test]
fn a_rule_that_binds_a_name_to_a_path_decides_who_keeps_it() {
    let root = tempfile::tempdir().expect("tempdir");
    plugin_dir(root.path(), "aaa", "trusted", "env = [\"MODE\"]");
    plugin_dir(root.path(), "trusted", "trusted", "env = [\"MODE\"]");
    let policy = policy_in(
        root.path(),
        "[[plugin]]\nmatch = \"trusted\"\npath = \"trusted/*\"\n[plugin.allow]\nenv = [\"MODE=trusted\"]\n",
    );
    let report = PluginDir::new(root.path())
        .policy(policy)
        .load(&host())
        .expect("load");
    let loaded: Vec<_> = report.loaded().collect();
    assert_eq!(loaded.len(), 1);
    assert_eq!(probe(loaded[0], r#"get-env("MODE")"#), r#"some("trusted")"#);
    match report.failed().next() {
        Some((outcome, Error::NameReserved { plugin, path })) => {
            assert_eq!(plugin, "trusted");
            assert!(outcome.source.ends_with("aaa") && path.ends_with("aaa"));
        }
        other => panic!(
            "expected NameReserved, got {:?}",
            other.map(|(_, e)| e.to_string())
        ),
    }
    // Alone, a claimant from elsewhere still does not get a name the policy binds.
    std::fs::remove_dir_all(root.path().join("trusted")).expect("remove");
    let report = PluginDir::new(root.path())
        .policy(policy_in(
            root.path(),
            "[[plugin]]\nmatch = \"trusted\"\npath = \"trusted/*\"\n",
        ))
        .load(&host())
        .expect("load");
    assert_eq!(report.loaded().count(), 0);
    let refused = report.failed().next().map(|(_, e)| e);
    assert!(
        matches!(refused, Some(Error::NameReserved { plugin, .. }) if plugin == "trusted"),
        "{:?}",
        refused.map(|e| e.to_string())
    );
}

/// `bytes` with one more custom section: the same component, another build (another SHA-256).
fn rebuilt(bytes: &[u8], build: u8) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    bytes.extend_from_slice(&[0, 3, 1, b'b', build]);
    bytes
}

#[test]
fn a_reload_is_judged_by_the_policy_on_its_own_bytes() {
    let root = tempfile::tempdir().expect("tempdir");
    plugin_dir(root.path(), "p", "p", "env = [\"MODE\"]");
    let component = root.path().join("p/prober.wasm");
    let first = std::fs::read(&component).expect("read");
    // The operator grants MODE to this build only; any other build named `p` gets nothing.
    let policy = policy_in(
        root.path(),
        &format!(
            "[[plugin]]\nmatch-sha256 = \"{}\"\n[plugin.allow]\nenv = [\"MODE=granted\"]\n\n\
             [[plugin]]\nmatch = \"p\"\non-excess = \"trim\"\n",
            hex::encode(sha2_of(&first))
        ),
    );

    // Through the library: a plugin loaded from a directory, reloaded by the application.
    let report = PluginDir::new(root.path())
        .policy(policy.clone())
        .load(&host())
        .expect("load");
    let plugin = report.loaded().next().expect("loaded").clone();
    assert_eq!(probe(&plugin, r#"get-env("MODE")"#), r#"some("granted")"#);
    plugin.reload(&rebuilt(&first, 1)).expect("reload");
    assert_eq!(
        probe(&plugin, r#"get-env("MODE")"#),
        "none",
        "a later build does not inherit what the policy gave one build"
    );
    plugin.reload(&first).expect("back to the granted build");
    assert_eq!(probe(&plugin, r#"get-env("MODE")"#), r#"some("granted")"#);

    // Through a watcher: a new build dropped in place.
    let host = host();
    let events = host.subscribe();
    let watcher = PluginDir::new(root.path())
        .policy(policy)
        .debounce(Duration::from_millis(50))
        .watch(&host)
        .expect("watch");
    let watched = watcher.plugin("p").expect("loaded");
    assert_eq!(probe(&watched, r#"get-env("MODE")"#), r#"some("granted")"#);
    std::fs::write(&component, rebuilt(&first, 2)).expect("write");
    wait_for(
        &events,
        "reloaded",
        |e| matches!(e, PluginEvent::Reloaded { plugin, .. } if plugin == "p"),
    );
    assert_eq!(probe(&watched, r#"get-env("MODE")"#), "none");
}

#[test]
fn a_version_the_policy_refuses_leaves_the_old_one_serving() {
    let root = tempfile::tempdir().expect("tempdir");
    plugin_dir(root.path(), "p", "p", "env = [\"MODE\"]");
    let component = root.path().join("p/prober.wasm");
    let first = std::fs::read(&component).expect("read");
    let policy = policy_in(
        root.path(),
        &format!(
            "[[plugin]]\nmatch-sha256 = \"{}\"\n[plugin.allow]\nenv = [\"MODE=granted\"]\n",
            hex::encode(sha2_of(&first))
        ),
    );
    let fresh_start = PluginDir::new(root.path()).policy(policy.clone());
    let host = host();
    let events = host.subscribe();
    let watcher = fresh_start
        .clone()
        .debounce(Duration::from_millis(50))
        .watch(&host)
        .expect("watch");
    let watched = watcher.plugin("p").expect("loaded");
    std::fs::write(&component, rebuilt(&first, 3)).expect("write");
    let failed = wait_for(&events, "reload failed", |e| {
        matches!(e, PluginEvent::ReloadFailed { .. })
    });
    // The same error a fresh start with that build gives.
    let fresh = fresh_start.load(&super::host()).expect("load");
    let (_, refusal) = fresh.failed().next().expect("refused at a fresh start too");
    assert!(matches!(refusal, Error::PolicyDenied { .. }), "{refusal}");
    match failed {
        PluginEvent::ReloadFailed { error, .. } => assert_eq!(error, refusal.to_string()),
        other => panic!("{other:?}"),
    }
    assert_eq!(watched.sha256(), sha2_of(&first), "the old version serves");
    assert_eq!(probe(&watched, r#"get-env("MODE")"#), r#"some("granted")"#);
}

/// The policy `text`, read as a `policy.toml` in `root` (its relative paths taken from there).
fn policy_in(root: &Path, text: &str) -> Policy {
    Policy::parse(text, root.join("policy.toml")).expect("policy")
}

fn sha2_of(bytes: &[u8]) -> [u8; 32] {
    componentry::policy::PluginIdentity::new("x", None, bytes).sha256
}

#[test]
fn a_path_rule_means_one_file_whichever_way_the_plugin_is_loaded() {
    let root = tempfile::tempdir().expect("tempdir");
    plugin_dir(&root.path().join("srv"), "p", "p", "env = [\"MODE\"]");
    // `..` in a rule is resolved, relative to the policy file.
    let policy = policy_in(
        root.path(),
        "[[plugin]]\npath = \"elsewhere/../srv/p/*\"\n[plugin.allow]\nenv = [\"MODE=srv\"]\n",
    );
    let by_dir = PluginDir::new(root.path().join("srv"))
        .policy(policy.clone())
        .load(&host())
        .expect("load");
    let plugin = by_dir
        .loaded()
        .next()
        .expect("the directory's plugin is selected");
    assert_eq!(probe(plugin, r#"get-env("MODE")"#), r#"some("srv")"#);
    for opened in [
        root.path().join("srv/p"),
        root.path().join("srv/p/prober.wasm"),
    ] {
        let plugin = componentry::PluginSource::open(&opened)
            .expect("open")
            .load(&host(), &policy, None)
            .expect("the same rule selects the plugin opened by its file or its directory");
        assert_eq!(probe(&plugin, r#"get-env("MODE")"#), r#"some("srv")"#);
    }
}

#[test]
fn a_refusal_says_what_was_compared_when_no_rule_selects_the_plugin() {
    let root = tempfile::tempdir().expect("tempdir");
    plugin_dir(root.path(), "p", "p", "env = [\"MODE\"]");
    let policy = policy_in(
        root.path(),
        "[[plugin]]\nmatch = \"p\"\npath = \"/srv/elsewhere/*\"\n[plugin.allow]\nenv = [\"MODE\"]\n",
    );
    let source = componentry::PluginSource::open(root.path().join("p")).expect("open");
    let err = source
        .options(&policy, None)
        .expect_err("no rule selects it");
    let text = err.to_string();
    let compared = source.component_path().display().to_string();
    assert!(text.contains("no policy rule selects it"), "{text}");
    assert!(text.contains(&compared), "the path compared: {text}");
    assert!(
        text.contains(
            "#1 (match = \"p\", path = \"/srv/elsewhere/*\") selects its name but not its path"
        ),
        "{text}"
    );
}

#[test]
fn a_rule_can_select_by_where_the_plugin_lives() {
    let root = tempfile::tempdir().expect("tempdir");
    plugin_dir(&root.path().join("trusted"), "p", "p", "env = [\"MODE\"]");
    plugin_dir(&root.path().join("untrusted"), "p", "p", "env = [\"MODE\"]");
    let policy = policy_in(
        root.path(),
        "[[plugin]]\npath = \"trusted/*\"\n[plugin.allow]\nenv = [\"MODE=trusted\"]\n",
    );
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
