//! Loading a directory of plugins: deterministic order, one report, one bad plugin never stops
//! the rest.

use componentry::{Error, Grants, Policy, PolicyRule};

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

    std::fs::write(root.join("c-core.wasm"), b"\0asm\x01\0\0\0").expect("write");
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
    let report = host().load_dir(root, &policy).expect("directory readable");
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
    let err = host()
        .load_dir("/no/such/plugins", &Policy::new())
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("/no/such/plugins"), "{err}");
}
