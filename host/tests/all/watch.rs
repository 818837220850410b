//! Watching plugin files: edits are picked up, broken edits never replace a working version,
//! storms of writes end on the last content, new files load and deleted ones unload. Waits are
//! on events, with bounded timeouts.

use std::path::Path;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use componentry::{PluginDir, PluginEvent, Policy};

use crate::host;

fn versioned(n: u32) -> String {
    String::from_utf8(crate::reload::versioned(n)).expect("utf-8")
}

/// Waits (at most 20 s) for the first event that `wanted` accepts.
pub fn wait_for(
    events: &Receiver<PluginEvent>,
    what: &str,
    wanted: impl Fn(&PluginEvent) -> bool,
) -> PluginEvent {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(event) if wanted(&event) => return event,
            Ok(_) => continue,
            Err(_) => panic!("no {what} event within 20 s"),
        }
    }
}

/// Watching with a short debounce, so that tests wait little.
fn quick(path: impl Into<std::path::PathBuf>) -> PluginDir {
    PluginDir::new(path).debounce(Duration::from_millis(50))
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
}

fn version(watcher: &componentry::Watcher<()>, name: &str) -> String {
    let plugin = watcher.plugin(name).expect("loaded");
    componentry::to_wave(&plugin.invoke("version()").expect("call"))
}

#[test]
fn a_watched_directory_follows_its_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("counter.wasm");
    write(&file, &versioned(1));
    let host = host();
    let events = host.subscribe();
    let watcher = quick(dir.path()).watch(&host).expect("watch");
    wait_for(
        &events,
        "loaded",
        |e| matches!(e, PluginEvent::Loaded { plugin, .. } if plugin == "counter"),
    );
    assert_eq!(version(&watcher, "counter"), "1");

    write(&file, &versioned(2));
    wait_for(&events, "reloaded", |e| {
        matches!(e, PluginEvent::Reloaded { .. })
    });
    assert_eq!(version(&watcher, "counter"), "2");

    // A broken edit (a half-written file) leaves version 2 serving.
    write(&file, &versioned(3)[..40]);
    wait_for(
        &events,
        "reload failed",
        |e| matches!(e, PluginEvent::ReloadFailed { plugin, .. } if plugin == "counter"),
    );
    assert_eq!(version(&watcher, "counter"), "2");

    // A storm of writes ends on the last content.
    for n in 10..30 {
        write(&file, &versioned(n));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while version(&watcher, "counter") != "29" {
        assert!(
            Instant::now() < deadline,
            "the last write was not picked up"
        );
        wait_for(&events, "reloaded", |e| {
            matches!(e, PluginEvent::Reloaded { .. })
        });
    }

    // New files load, deleted ones unload; a handle taken before keeps working.
    write(&dir.path().join("second.wasm"), &versioned(7));
    wait_for(
        &events,
        "loaded",
        |e| matches!(e, PluginEvent::Loaded { plugin, .. } if plugin == "second"),
    );
    assert_eq!(version(&watcher, "second"), "7");
    let held = watcher.plugin("counter").expect("loaded");
    std::fs::remove_file(&file).expect("remove");
    wait_for(
        &events,
        "unloaded",
        |e| matches!(e, PluginEvent::Unloaded { plugin } if plugin == "counter"),
    );
    assert!(watcher.plugin("counter").is_none());
    assert_eq!(
        componentry::to_wave(&held.invoke("version()").expect("held handle")),
        "29"
    );
}

#[test]
fn a_watched_file_is_reloaded_and_its_neighbours_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("only.wasm");
    write(&file, &versioned(1));
    write(&dir.path().join("other.wasm"), &versioned(5));
    let host = host();
    let events = host.subscribe();
    let watcher = quick(&file).watch(&host).expect("watch");
    assert_eq!(watcher.plugins().len(), 1);
    assert_eq!(version(&watcher, "only"), "1");
    write(&file, &versioned(2));
    wait_for(
        &events,
        "reloaded",
        |e| matches!(e, PluginEvent::Reloaded { plugin, .. } if plugin == "only"),
    );
    assert_eq!(version(&watcher, "only"), "2");
    assert!(watcher.plugin("other").is_none());
}

#[test]
fn a_policy_can_refuse_a_watched_plugin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let greedy = dir.path().join("greedy");
    std::fs::create_dir(&greedy).expect("mkdir");
    write(&greedy.join("greedy.wasm"), &versioned(1));
    write(
        &greedy.join("plugin.toml"),
        "name = \"greedy\"\nversion = \"1.0.0\"\n[capabilities]\nenv = [\"TOKEN\"]\n",
    );
    let host = host();
    let events = host.subscribe();
    let watcher = quick(dir.path())
        .policy(Policy::new())
        .watch(&host)
        .expect("watch");
    let event = wait_for(&events, "reload failed", |e| {
        matches!(e, PluginEvent::ReloadFailed { .. })
    });
    assert!(
        format!("{event:?}").contains("beyond the host's policy"),
        "{event:?}"
    );
    assert!(watcher.plugins().is_empty());
}

#[test]
fn a_watched_plugin_directory_follows_its_manifest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin_dir = dir.path().join("greeter");
    std::fs::create_dir(&plugin_dir).expect("mkdir");
    std::fs::copy(crate::guest("hello-rust"), plugin_dir.join("greeter.wasm")).expect("copy");
    let manifest = |version: &str, greeting: &str| {
        format!(
            "name = \"greeter\"\nversion = \"{version}\"\n[settings]\ngreeting = \"{greeting}\"\n"
        )
    };
    write(&plugin_dir.join("plugin.toml"), &manifest("1.0.0", "Hi"));
    let host = host();
    let events = host.subscribe();
    let watcher = quick(dir.path()).watch(&host).expect("watch");
    let greet = |watcher: &componentry::Watcher<()>| {
        let plugin = watcher.plugin("greeter").expect("loaded");
        componentry::to_wave(&plugin.invoke(r#"greet("you")"#).expect("call"))
    };
    assert_eq!(greet(&watcher), r#""Hi, you!""#);
    // The application's handle, taken once.
    let handle = watcher.plugin("greeter").expect("loaded");
    assert_eq!(handle.version(), Some("1.0.0".parse().expect("version")));

    // A changed manifest reloads the plugin with its new settings, under the same handle.
    write(&plugin_dir.join("plugin.toml"), &manifest("1.1.0", "Hey"));
    wait_for(
        &events,
        "reloaded",
        |e| matches!(e, PluginEvent::Reloaded { plugin, .. } if plugin == "greeter"),
    );
    assert_eq!(greet(&watcher), r#""Hey, you!""#);
    let greeting = handle
        .invoke(r#"greet("you")"#)
        .expect("the old handle still calls");
    assert_eq!(componentry::to_wave(&greeting), r#""Hey, you!""#);
    assert_eq!(handle.version(), Some("1.1.0".parse().expect("version")));
    assert!(handle.same_plugin(&watcher.plugin("greeter").expect("loaded")));

    // A broken manifest leaves the plugin serving as it was.
    write(
        &plugin_dir.join("plugin.toml"),
        "name = \"greeter\"\nversion = \"not semver\"\n",
    );
    wait_for(&events, "reload failed", |e| {
        matches!(e, PluginEvent::ReloadFailed { .. })
    });
    assert_eq!(greet(&watcher), r#""Hey, you!""#);

    // Removing the plugin directory unloads it.
    std::fs::remove_dir_all(&plugin_dir).expect("remove");
    wait_for(
        &events,
        "unloaded",
        |e| matches!(e, PluginEvent::Unloaded { plugin } if plugin == "greeter"),
    );
    assert!(watcher.plugin("greeter").is_none());
    // The handle can tell, and still serves on its last version.
    assert!(handle.is_retired());
    handle
        .invoke(r#"greet("you")"#)
        .expect("a retired handle still calls");
}

#[test]
fn watching_adopts_the_handles_loaded_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("counter.wasm");
    write(&file, &versioned(1));
    let host = host();
    let plugins = quick(dir.path());
    let report = plugins.load(&host).expect("load");
    let handle = report.loaded().next().expect("loaded").clone();
    let events = host.subscribe();
    let watcher = plugins
        .watch_adopting(&host, report.loaded().cloned())
        .expect("watch");
    assert!(
        watcher
            .plugin("counter")
            .expect("adopted")
            .same_plugin(&handle),
        "the watcher serves the application's handle"
    );
    write(&file, &versioned(2));
    wait_for(
        &events,
        "reloaded",
        |e| matches!(e, PluginEvent::Reloaded { plugin, .. } if plugin == "counter"),
    );
    assert_eq!(
        componentry::to_wave(&handle.invoke("version()").expect("call")),
        "2",
        "the handle loaded before watching follows the file"
    );
}

/// A watcher started from a load's report does not compile again what the load found broken
/// (a plugin that fails to load costs one compilation at start-up, not two), and still tries it
/// when it changes.
#[test]
fn watching_after_a_load_does_not_compile_its_failures_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(&dir.path().join("counter.wasm"), &versioned(1));
    // Imports an application interface this host does not have: compiles, then fails to link.
    let broken = dir.path().join("vault-user.wasm");
    std::fs::copy(crate::guest("vault-user"), &broken).expect("copy");
    let cache = tempfile::tempdir().expect("tempdir");
    let engine = componentry::Engine::builder()
        .cache_dir(cache.path())
        .build()
        .expect("engine");
    let host: componentry::Host<()> = componentry::Host::new(&engine).expect("host");
    let plugins = quick(dir.path());
    let report = plugins.load(&host).expect("load");
    assert_eq!(report.failed().count(), 1, "{report}");
    let before = engine.cache_stats().expect("a cache");
    let events = host.subscribe();
    let watcher = plugins.watch_loaded(&host, &report).expect("watch");
    let after = engine.cache_stats().expect("a cache");
    assert_eq!(
        (after.hits, after.misses),
        (before.hits, before.misses),
        "starting to watch compiled (or looked up) a plugin again"
    );
    assert!(
        watcher.plugin("counter").is_some(),
        "the loaded plugin is adopted"
    );
    assert!(watcher.plugin("vault-user").is_none());
    write(&broken, &versioned(3));
    wait_for(
        &events,
        "the changed file loaded",
        |e| matches!(e, PluginEvent::Loaded { plugin, .. } if plugin == "vault-user"),
    );
    assert_eq!(version(&watcher, "vault-user"), "3");
}

/// Every event that arrives within `window`.
fn events_within(events: &Receiver<PluginEvent>, window: Duration) -> Vec<PluginEvent> {
    let until = Instant::now() + window;
    let mut seen = Vec::new();
    while let Ok(event) = events.recv_timeout(until.saturating_duration_since(Instant::now())) {
        seen.push(event);
    }
    seen
}

#[test]
fn watching_is_quiet_one_change_one_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("counter.wasm");
    write(&file, &versioned(1));
    let host = host();
    let events = host.subscribe();
    // A debounce well above the 10 ms between the steps of the write below, so that a loaded
    // machine (tests run in parallel) does not stretch them past it.
    let watcher = PluginDir::new(dir.path())
        .debounce(Duration::from_millis(300))
        .watch(&host)
        .expect("watch");
    wait_for(&events, "loaded", |e| {
        matches!(e, PluginEvent::Loaded { .. })
    });
    // A loaded plugin is not read again and again: its reads raise no reloads.
    assert_eq!(version(&watcher, "counter"), "1");
    let idle = events_within(&events, Duration::from_millis(800));
    assert!(idle.is_empty(), "{idle:?}");

    // One broken write gives one failure, not one per look at the file.
    write(&file, &versioned(2)[..40]);
    let after_broken = events_within(&events, Duration::from_millis(1500));
    let failures = after_broken
        .iter()
        .filter(|e| matches!(e, PluginEvent::ReloadFailed { .. }))
        .count();
    assert_eq!(failures, 1, "{after_broken:?}");
    assert_eq!(after_broken.len(), 1, "{after_broken:?}");
    assert_eq!(version(&watcher, "counter"), "1");

    // A file written in several steps, within the debounce, is loaded once.
    let bytes = versioned(3).into_bytes();
    let mut handle = std::fs::File::create(&file).expect("create");
    for part in bytes.chunks(bytes.len() / 3 + 1) {
        std::io::Write::write_all(&mut handle, part).expect("write");
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(handle);
    let after_steps = events_within(&events, Duration::from_millis(1500));
    assert_eq!(after_steps.len(), 1, "{after_steps:?}");
    assert!(
        matches!(after_steps[0], PluginEvent::Reloaded { .. }),
        "{after_steps:?}"
    );
    assert_eq!(version(&watcher, "counter"), "3");
}

#[test]
fn an_editor_that_replaces_the_file_by_renaming_is_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("counter.wasm");
    write(&file, &versioned(1));
    let host = host();
    let events = host.subscribe();
    let watcher = quick(&file).watch(&host).expect("watch");
    assert_eq!(version(&watcher, "counter"), "1");
    let swap = dir.path().join(".counter.wasm.swp");
    write(&swap, &versioned(2));
    std::fs::rename(&swap, &file).expect("rename into place");
    wait_for(&events, "reloaded", |e| {
        matches!(e, PluginEvent::Reloaded { .. })
    });
    assert_eq!(version(&watcher, "counter"), "2");
}

#[test]
fn a_component_in_the_text_format_is_watched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("text.wat");
    write(&file, &versioned(1));
    let host = host();
    let events = host.subscribe();
    let watcher = quick(dir.path()).watch(&host).expect("watch");
    assert_eq!(version(&watcher, "text"), "1");
    write(&file, &versioned(2));
    wait_for(&events, "reloaded", |e| {
        matches!(e, PluginEvent::Reloaded { .. })
    });
    assert_eq!(version(&watcher, "text"), "2");
    // Other files are not components: watching one is refused clearly.
    let notes = dir.path().join("notes.txt");
    write(&notes, "hello");
    let err = PluginDir::new(&notes)
        .watch(&host)
        .err()
        .expect("not a component");
    assert!(err.to_string().contains("not a component file"), "{err}");
}

/// Watches `watched` (the greeter component `dir/greeter.wasm`, or `dir` itself), whose
/// manifest is `dir/plugin.toml`, and checks that an edit of the manifest alone reloads it.
fn follows_the_manifest_beside_it(dir: &Path, watched: &Path) {
    std::fs::copy(crate::guest("hello-rust"), dir.join("greeter.wasm")).expect("copy");
    let manifest = |greeting: &str| {
        format!("name = \"greeter\"\nversion = \"1.0.0\"\n[settings]\ngreeting = \"{greeting}\"\n")
    };
    write(&dir.join("plugin.toml"), &manifest("Hi"));
    let host = host();
    let events = host.subscribe();
    let watcher = quick(watched).watch(&host).expect("watch");
    let greet = || {
        let plugin = watcher
            .plugin("greeter")
            .expect("loaded by its manifest's name");
        componentry::to_wave(&plugin.invoke(r#"greet("you")"#).expect("call"))
    };
    assert_eq!(greet(), r#""Hi, you!""#);
    write(&dir.join("plugin.toml"), &manifest("Yo"));
    wait_for(
        &events,
        "reloaded",
        |e| matches!(e, PluginEvent::Reloaded { plugin, .. } if plugin == "greeter"),
    );
    assert_eq!(greet(), r#""Yo, you!""#);
}

#[test]
fn a_watched_file_follows_the_manifest_beside_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    follows_the_manifest_beside_it(dir.path(), &dir.path().join("greeter.wasm"));
}

#[test]
fn a_watched_directorys_own_manifest_is_followed_by_its_component() {
    // A plugin project watched as a directory: its component takes the manifest beside it.
    let dir = tempfile::tempdir().expect("tempdir");
    follows_the_manifest_beside_it(dir.path(), dir.path());
}
