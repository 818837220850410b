//! What `docs/cli.md` promises and no other test pinned: exit codes of particular traps, the cache
//! switch, the log level variable, the verbose cause chain, an explicit manifest.

use crate::{Run, guest, path_arg, stderr, stdout};

#[test]
fn a_stack_overflow_and_an_out_of_bounds_access_exit_5() {
    let faults = path_arg(&guest("faults"));
    let out = Run::new(&["run", &faults, "--invoke", "recurse(100000000)"]).expect(5);
    assert!(
        stderr(&out).contains("call stack exhausted"),
        "{}",
        stderr(&out)
    );
    let out = Run::new(&["run", &faults, "--invoke", "out-of-bounds()"]).expect(5);
    assert!(stderr(&out).contains("out of bounds"), "{}", stderr(&out));
}

#[test]
fn no_cache_compiles_without_touching_the_cache() {
    let cache = tempfile::tempdir().expect("tempdir");
    let dir = cache.path().join("c");
    let hello = path_arg(&guest("hello-rust"));
    let call = ["run", hello.as_str(), "--invoke", r#"greet("x")"#];
    let mut args = call.to_vec();
    args.push("--no-cache");
    Run::new(&args)
        .env("COMPONENTRY_CACHE_DIR", &path_arg(&dir))
        .expect(0);
    assert!(!dir.exists() || std::fs::read_dir(&dir).expect("dir").count() == 0);
    Run::new(&call)
        .env("COMPONENTRY_CACHE_DIR", &path_arg(&dir))
        .expect(0);
    assert_eq!(
        std::fs::read_dir(&dir).expect("dir").count(),
        1,
        "one artifact"
    );
}

#[test]
fn componentry_log_sets_the_log_level() {
    let hello = path_arg(&guest("hello-rust"));
    let quiet = Run::new(&["run", &hello, "--invoke", r#"greet("x")"#]).expect(0);
    assert!(!stderr(&quiet).contains("DEBUG"), "{}", stderr(&quiet));
    let chatty = Run::new(&["run", &hello, "--invoke", r#"greet("x")"#])
        .env("COMPONENTRY_LOG", "debug")
        .expect(0);
    assert!(stderr(&chatty).contains("DEBUG"), "{}", stderr(&chatty));
    // The plugin's own log line, at info level, shows with -v.
    let verbose = Run::new(&["run", &hello, "-v", "--invoke", r#"greet("ada")"#]).expect(0);
    assert!(stderr(&verbose).contains("ada"), "{}", stderr(&verbose));
}

#[test]
fn verbose_shows_the_cause_chain() {
    let missing = "/no/such/plugin.wasm";
    let plain = Run::new(&["run", missing, "--invoke", "f()"]).expect(3);
    assert!(!stderr(&plain).contains("caused by"), "{}", stderr(&plain));
    let verbose = Run::new(&["run", missing, "-v", "--invoke", "f()"]).expect(3);
    assert!(
        stderr(&verbose).contains("caused by: No such file or directory"),
        "{}",
        stderr(&verbose)
    );
}

#[test]
fn an_explicit_manifest_names_the_plugin_and_gives_its_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = dir.path().join("elsewhere.toml");
    std::fs::write(
        &manifest,
        "name = \"greeter\"\nversion = \"1.0.0\"\n[settings]\ngreeting = \"Howdy\"\n",
    )
    .expect("manifest");
    let hello = path_arg(&guest("hello-rust"));
    let out = Run::new(&[
        "run",
        &hello,
        "--manifest",
        &path_arg(&manifest),
        "--invoke",
        r#"greet("Ada")"#,
    ])
    .expect(0);
    assert_eq!(stdout(&out).trim(), r#""Howdy, Ada!""#);
    let out = Run::new(&[
        "run",
        &hello,
        "--manifest",
        &path_arg(&manifest),
        "--invoke",
        "nothing()",
    ])
    .expect(2);
    assert!(
        stderr(&out).contains("plugin 'greeter'"),
        "{}",
        stderr(&out)
    );
}
