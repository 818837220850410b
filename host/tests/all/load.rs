//! Loading: every kind of bad input is a typed error naming the plugin; good input loads, also
//! from the compiled-artifact cache.

use componentry::{Engine, Error, Grants, Host};

use crate::{guest, host};

fn load_error(bytes: &[u8]) -> Error {
    match host().load_bytes("bad-plugin", bytes) {
        Ok(_) => panic!("loading {} bytes should fail", bytes.len()),
        Err(e) => {
            assert_eq!(e.plugin(), Some("bad-plugin"), "{e}");
            assert!(
                e.to_string().contains("bad-plugin"),
                "the message names the plugin: {e}"
            );
            e
        }
    }
}

#[test]
fn a_missing_file_names_the_path() {
    let err = host()
        .load_file("/no/such/dir/ghost.wasm")
        .expect_err("must fail");
    assert!(
        matches!(err, Error::Read { ref plugin, .. } if plugin == "ghost"),
        "{err}"
    );
    assert!(err.to_string().contains("/no/such/dir/ghost.wasm"), "{err}");
    assert!(err.is_load_error());
}

#[test]
fn bytes_that_are_not_wasm_are_refused() {
    assert!(matches!(load_error(b""), Error::NotWasm { .. }));
    assert!(matches!(load_error(b"hello world"), Error::NotWasm { .. }));
    assert!(matches!(
        load_error(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]),
        Error::NotWasm { .. }
    ));
}

#[test]
fn a_core_module_loads_unless_wasi_preview1_cannot_serve_it() {
    assert!(host().load_bytes("empty", b"(module)").is_ok());
    let foreign = wat::parse_str(r#"(module (import "env" "f" (func)))"#).expect("wat");
    let err = load_error(&foreign);
    assert!(matches!(err, Error::CoreModule { .. }), "{err}");
    assert!(err.to_string().contains("wasm32-wasip1"), "{err}");
}

#[test]
fn truncated_components_are_invalid() {
    let bytes = std::fs::read(guest("hello-rust")).expect("guest");
    for len in [6, 9, 100, bytes.len() / 2, bytes.len() - 1] {
        let err = load_error(&bytes[..len]);
        assert!(
            matches!(err, Error::Invalid { .. }),
            "truncated to {len}: {err}"
        );
    }
}

#[test]
fn corrupted_components_are_invalid() {
    let mut bytes = std::fs::read(guest("hello-rust")).expect("guest");
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 64] {
        *b = 0xff;
    }
    let err = load_error(&bytes);
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
}

#[test]
fn malformed_text_is_invalid() {
    let err = load_error(b"(component (core module (func (result i32))))");
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
}

#[test]
fn a_component_the_engine_does_not_support_is_rejected() {
    // Custom page sizes are valid WebAssembly that this engine does not enable.
    let err = load_error(b"(component (core module (memory 1 (pagesize 1))))");
    assert!(matches!(err, Error::Rejected { .. }), "{err}");
}

#[test]
fn an_import_the_host_lacks_is_named() {
    let wat = r#"(component
        (import "acme:missing/thing@1.0.0" (instance (export "f" (func))))
    )"#;
    let err = load_error(wat.as_bytes());
    match &err {
        Error::MissingImport { import, .. } => {
            assert!(import.contains("acme:missing/thing@1.0.0"), "{err}")
        }
        other => panic!("expected MissingImport, got {other}"),
    }
}

#[test]
fn a_valid_component_loads_from_file_and_from_bytes() {
    let path = guest("hello-rust");
    let plugin = host().load_file(&path).expect("load");
    assert_eq!(plugin.name(), "hello-rust");
    let bytes = std::fs::read(&path).expect("read");
    let again = host().load_bytes("renamed", &bytes).expect("load bytes");
    assert_eq!(again.name(), "renamed");
    assert_eq!(plugin.sha256(), again.sha256());
}

#[test]
fn the_artifact_cache_is_used_and_survives_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cached_engine = Engine::builder()
        .cache_dir(dir.path())
        .build()
        .expect("engine");
    let host: Host<()> = Host::new(&cached_engine).expect("host");
    let path = guest("hello-rust");

    let first = host.load_file(&path).expect("compile and store");
    let artifacts: Vec<_> = std::fs::read_dir(dir.path())
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    let artifact = &artifacts[0];
    assert!(
        artifact.to_string_lossy().contains(&hex(&first.sha256())),
        "artifact named by the component's hash: {}",
        artifact.display()
    );

    assert_eq!(
        cached_engine.cache_stats().map(|s| (s.hits, s.misses)),
        Some((0, 1))
    );
    let cached = host.load_file(&path).expect("load from cache");
    assert_eq!(
        cached_engine.cache_stats().map(|s| (s.hits, s.misses)),
        Some((1, 1)),
        "the second load did not compile"
    );
    assert_eq!(
        crate::dynamic::wave(&cached.invoke(r#"greet("cache")"#).expect("call")),
        r#""Hello, cache!""#
    );

    std::fs::write(artifact, b"not an artifact").expect("corrupt");
    let recompiled = host
        .load_file(&path)
        .expect("recompile past a corrupt artifact");
    assert_eq!(cached_engine.cache_stats().map(|s| s.misses), Some(2));
    assert_eq!(
        crate::dynamic::wave(&recompiled.invoke(r#"greet("again")"#).expect("call")),
        r#""Hello, again!""#
    );
}

/// An engine caches compiled components by default (in the per-user cache directory, here the
/// tests' own through `COMPONENTRY_CACHE_DIR` when set), unless told not to.
#[test]
fn an_engine_caches_by_default_unless_told_not_to() {
    let default = componentry::Engine::new().expect("engine");
    if std::env::var_os("COMPONENTRY_CACHE_DIR").is_some() || std::env::var_os("HOME").is_some() {
        assert!(
            default.cache_stats().is_some(),
            "the default engine keeps a cache"
        );
    }
    let uncached = componentry::Engine::builder()
        .no_cache()
        .build()
        .expect("engine");
    assert!(uncached.cache_stats().is_none());
}

#[test]
fn a_cache_directory_other_users_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let err = Engine::builder()
        .cache_dir(&shared)
        .build()
        .expect_err("a world-writable cache is refused");
    assert!(matches!(err, Error::Engine { .. }), "{err}");
    assert!(
        err.to_string().contains("other users may write it")
            && err.to_string().contains("chmod 700"),
        "{err}"
    );
    // One the engine makes itself is private.
    let made = dir.path().join("made");
    Engine::builder().cache_dir(&made).build().expect("engine");
    let mode = std::fs::metadata(&made).expect("made").permissions().mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_policy_hash_pin_admits_the_pinned_bytes_only() {
    use componentry::{Policy, policy::PluginIdentity, policy::PolicyRule};
    use sha2::Digest;

    let path = guest("hello-rust");
    let bytes = std::fs::read(&path).expect("read");
    let pinned: [u8; 32] = sha2::Sha256::digest(&bytes).into();
    let policy = Policy::new().rule(PolicyRule::new("hello-rust").pin_sha256(pinned));
    let options = policy
        .options_for(
            &PluginIdentity::new("hello-rust", Some(&path), &bytes),
            &Grants::none(),
        )
        .expect("options");
    let plugin = host()
        .load_file_with(&path, options)
        .expect("the pinned bytes load");
    assert_eq!(plugin.sha256(), pinned);

    let mut other = pinned;
    other[0] ^= 0xff;
    let policy = Policy::new().rule(PolicyRule::new("hello-*").pin_sha256(other));
    let options = policy
        .options_for(
            &PluginIdentity::new("hello-rust", Some(&path), &bytes),
            &Grants::none(),
        )
        .expect("options");
    match host().load_file_with(&path, options) {
        Err(Error::IntegrityMismatch {
            plugin,
            expected,
            found,
        }) => {
            assert_eq!(plugin, "hello-rust");
            assert_eq!(expected, hex(&other));
            assert_eq!(found, hex(&pinned));
        }
        Err(other) => panic!("expected IntegrityMismatch, got {other}"),
        Ok(_) => panic!("other bytes than the pinned ones must be refused"),
    }
}

#[test]
fn the_artifact_cache_stays_within_its_size_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifacts = || {
        std::fs::read_dir(dir.path())
            .expect("cache dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            })
            .count()
    };
    // Room for one artifact, not two.
    let one = {
        let probe = tempfile::tempdir().expect("tempdir");
        let engine = Engine::builder()
            .cache_dir(probe.path())
            .build()
            .expect("engine");
        Host::<()>::new(&engine)
            .expect("host")
            .load_file(guest("hello-rust"))
            .expect("load");
        let entry = std::fs::read_dir(probe.path())
            .expect("dir")
            .next()
            .expect("artifact");
        entry.expect("entry").metadata().expect("metadata").len()
    };
    let engine = Engine::builder()
        .cache_dir(dir.path())
        .cache_max_bytes(one + one / 2)
        .build()
        .expect("engine");
    let host: Host<()> = Host::new(&engine).expect("host");
    host.load_file(guest("hello-rust")).expect("first");
    assert_eq!(artifacts(), 1);
    host.load_file(guest("faults")).expect("second");
    assert_eq!(artifacts(), 1, "the older artifact made room for the newer");
    assert_eq!(engine.cache_stats().map(|s| s.evictions), Some(1));
    // What is evicted is only recompiled: the plugin still loads.
    host.load_file(guest("hello-rust")).expect("again");
}

#[test]
fn a_cache_directory_someone_else_could_replace_from_above_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let open = dir.path().join("open");
    let cache = open.join("cache");
    std::fs::create_dir_all(&cache).expect("mkdir");
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    // The cache itself is private, but anyone may rename it away and put their own in its place.
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let err = Engine::builder()
        .cache_dir(&cache)
        .build()
        .expect_err("a cache under a world-writable directory is refused");
    let text = err.to_string();
    assert!(
        text.contains(&open.canonicalize().expect("path").display().to_string())
            && text.contains("may be written by other users"),
        "{text}"
    );
    // Sticky, as /tmp is: no one else may rename what is in it, so the cache below is safe.
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    Engine::builder()
        .cache_dir(&cache)
        .build()
        .expect("a cache under a sticky directory is accepted");
}
