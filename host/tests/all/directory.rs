//! Loading a directory of plugins: deterministic order, one report, one bad plugin never stops
//! the rest.

use componentry::{Error, Grants, PluginDir, Policy, policy::PolicyRule};

use crate::{guest, host};

#[test]
fn a_directory_loads_what_it_can_and_reports_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let copy = |name: &str, to: &std::path::Path| std::fs::copy(guest(name), to).expect("copy");

    std::fs::create_dir(root.join("a-greeter")).expect("mkdir");
    std::fs::write(
        root.join("a-greeter/plugin.toml"),
        "name = \"greeter\"\nversion = \"1.0.0\"\n[capabilities]\nenv = [\"LANG\"]\n[settings]\ngreeting = \"Howdy\"\n",
    )
    .expect("write");
    copy("hello-rust", &root.join("a-greeter/greeter.wasm"));

    std::fs::create_dir(root.join("b-broken-manifest")).expect("mkdir");
    std::fs::write(
        root.join("b-broken-manifest/plugin.toml"),
        "name = \"broken\"\nversion = \"x\"\n",
    )
    .expect("write");
    copy("hello-rust", &root.join("b-broken-manifest/p.wasm"));

    // A core module importing what WASI preview1 does not offer.
    std::fs::write(
        root.join("c-core.wasm"),
        wat::parse_str(r#"(module (import "env" "f" (func)))"#).expect("wat"),
    )
    .expect("write");
    copy("types-echo", &root.join("d-types.wasm"));

    std::fs::create_dir(root.join("e-greedy")).expect("mkdir");
    std::fs::write(
        root.join("e-greedy/plugin.toml"),
        "name = \"greedy\"\nversion = \"1.0.0\"\n[capabilities]\nenv = [\"SECRET\"]\n",
    )
    .expect("write");
    copy("hello-rust", &root.join("e-greedy/greedy.wasm"));
    std::fs::write(root.join(".hidden.wasm"), b"junk").expect("write");
    std::fs::write(root.join("notes.txt"), b"not a plugin").expect("write");

    let policy =
        Policy::new().rule(PolicyRule::new("*").allow(Grants::none().env_from_host("LANG")));
    let report = PluginDir::new(root)
        .policy(policy.clone())
        .load(&host())
        .expect("directory readable");
    let names: Vec<&str> = report.outcomes.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "greeter",
            "b-broken-manifest",
            "c-core",
            "d-types",
            "greedy"
        ]
    );

    let loaded: Vec<&str> = report.loaded().map(|p| p.name()).collect();
    assert_eq!(loaded, vec!["greeter", "d-types"]);
    let greeter = report.loaded().next().expect("greeter");
    assert_eq!(
        componentry::to_wave(&greeter.invoke(r#"greet("dir")"#).expect("call")),
        r#""Howdy, dir!""#
    );
    assert_eq!(greeter.grants().env_names(), vec!["LANG"]);

    let failures: Vec<(&str, &Error)> =
        report.failed().map(|(o, e)| (o.name.as_str(), e)).collect();
    assert!(
        matches!(failures[0], ("b-broken-manifest", Error::Config { .. })),
        "{}",
        failures[0].1
    );
    assert!(
        failures[0].1.to_string().contains("line 2"),
        "{}",
        failures[0].1
    );
    assert!(
        matches!(failures[1], ("c-core", Error::CoreModule { .. })),
        "{}",
        failures[1].1
    );
    assert!(
        matches!(failures[2], ("greedy", Error::PolicyDenied { .. })),
        "{}",
        failures[2].1
    );

    let text = report.to_string();
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.starts_with("loaded greeter from")),
        "{text}"
    );
    assert_eq!(text.lines().count(), 5, "{text}");
}

#[test]
fn an_unreadable_directory_is_an_error() {
    let err = PluginDir::new("/no/such/plugins")
        .load(&host())
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("/no/such/plugins"), "{err}");
}

#[test]
fn a_directory_is_checked_against_the_hosts_extension_points() {
    use crate::extension_points::{HOST_WIT, component, plugin_wit};
    use componentry::{ExtensionPoint, compatibility::ExtensionPoints};

    let world = "world transformer { import host-api; export transform; }";
    let v1_0 = component(
        &plugin_wit("1.0.0", &["upper: func(input: string) -> string;"], world),
        "transformer",
    );
    let v2_0 = component(
        &plugin_wit("2.0.0", &["upper: func(input: string) -> string;"], world),
        "transformer",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::write(root.join("a-old.wasm"), &v1_0).expect("write");
    for (sub, requirement, bytes) in [
        ("b-new", "^2", &v2_0),
        ("c-picky", "^1.3", &v1_0),
        ("d-fine", "^1.0", &v1_0),
    ] {
        std::fs::create_dir(root.join(sub)).expect("mkdir");
        std::fs::write(
            root.join(sub).join("plugin.toml"),
            format!("name = \"{sub}\"\nversion = \"0.1.0\"\nextension-point = \"acme:text/transformer@{requirement}\"\n"),
        )
        .expect("write");
        std::fs::write(root.join(sub).join("p.wasm"), bytes).expect("write");
    }

    let host = componentry::Host::<()>::builder(&crate::engine(), |_| ())
        .expect("builder")
        .stub_unknown_imports(true)
        .build()
        .expect("host");
    let points = ExtensionPoints::new()
        .with(ExtensionPoint::from_wit_str(HOST_WIT, Some("transformer")).expect("WIT"));
    let report = PluginDir::new(root)
        .extension_points(points)
        .load(&host)
        .expect("readable");
    let loaded: Vec<&str> = report.loaded().map(|p| p.name()).collect();
    assert_eq!(loaded, vec!["a-old", "d-fine"], "{report}");
    let failures: Vec<(&str, String)> = report
        .failed()
        .map(|(o, e)| (o.name.as_str(), e.to_string()))
        .collect();
    assert_eq!(failures.len(), 2, "{report}");
    assert_eq!(failures[0].0, "b-new");
    assert!(
        failures[0].1.contains("fits none") && failures[0].1.contains("acme:text@2.0.0"),
        "{}",
        failures[0].1
    );
    assert_eq!(failures[1].0, "c-picky");
    assert!(
        failures[1]
            .1
            .contains("manifest requires acme:text/transformer@^1.3"),
        "{}",
        failures[1].1
    );
    // The old plugin is held to the version it was built for.
    let old = report.loaded().next().expect("a-old");
    assert!(matches!(
        old.invoke(r#"transform#reverse("x")"#),
        Err(Error::NotProvided { .. })
    ));
}

/// A plugin directory whose `plugin.toml` is a FIFO (nobody writes to it) or a huge file is
/// reported as broken, at once: the manifest is read only if it is a regular file, and only so
/// far.
#[cfg(unix)]
#[test]
fn a_manifest_that_is_a_fifo_or_huge_is_refused_without_waiting() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, make) in [("fifo", true), ("huge", false)] {
        let plugin = dir.path().join(name);
        std::fs::create_dir(&plugin).expect("plugin dir");
        std::fs::copy(crate::guest("hello-rust"), plugin.join("hello.wasm")).expect("copy");
        let manifest = plugin.join("plugin.toml");
        if make {
            let status = std::process::Command::new("mkfifo")
                .arg(&manifest)
                .status()
                .expect("mkfifo");
            assert!(status.success());
        } else {
            let mut text = format!("name = \"{name}\"\nversion = \"1.0.0\"\n");
            text.push_str(&"#".repeat(8 << 20));
            std::fs::write(&manifest, text).expect("write");
        }
    }
    let path = dir.path().to_owned();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let report = componentry::PluginDir::new(path).load(&crate::host());
        let _ = sender.send(report.map(|r| {
            r.failed()
                .map(|(outcome, error)| (outcome.name.clone(), error.to_string()))
                .collect::<Vec<_>>()
        }));
    });
    let failed = receiver
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the load answers without waiting on the FIFO")
        .expect("the directory loads");
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed.iter().any(|(_, e)| e.contains("not a regular file")),
        "{failed:?}"
    );
    assert!(
        failed.iter().any(|(_, e)| e.contains("larger than")),
        "{failed:?}"
    );
}
