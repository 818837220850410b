//! The application's own host interfaces: registered once by the name the bindings link, granted
//! per plugin, and able to reach the calling plugin's identity and hand it host resources.

use componentry::bindings::Resource;
use componentry::{Error, Grants, Host, Limits, PluginOptions, PluginState, Policy};

use crate::{engine, guest};

mod bindings {
    ::componentry::bindgen!({
        path: "tests/guests/wit",
        world: "componentry:test/notes-user",
        with: { "componentry:test/notes.note": super::NoteData },
        // Host functions may fail (a full resource table ends the call): they return Results.
        imports: { default: trappable },
    });
}

use bindings::componentry::test::notes;

const NOTES: &str = "componentry:test/notes@0.1.0";

/// A note as the host keeps it: the plugin holds a handle to it in its resource table.
pub struct NoteData {
    text: String,
    author: String,
}

/// The application's per-instance state: how many notes this instance made.
#[derive(Default)]
struct App {
    made: u32,
}

// Implemented for the plugin's whole state, not only the application's part of it, so that the
// host functions see who calls and reach the instance's resource table.
impl notes::Host for PluginState<App> {
    fn whoami(&mut self) -> componentry::bindings::Result<String> {
        let version = self
            .plugin_version()
            .map_or("no version".to_owned(), ToString::to_string);
        Ok(format!("{} ({version})", self.plugin_name()))
    }
}

impl notes::HostNote for PluginState<App> {
    fn new(&mut self, text: String) -> componentry::bindings::Result<Resource<NoteData>> {
        self.data_mut().made += 1;
        let author = self.plugin_name().to_owned();
        Ok(self.table().push(NoteData { text, author })?)
    }

    fn read(&mut self, note: Resource<NoteData>) -> componentry::bindings::Result<String> {
        let note = self.table().get(&note)?;
        Ok(format!("{} (by {})", note.text, note.author))
    }

    fn drop(&mut self, note: Resource<NoteData>) -> componentry::bindings::Result<()> {
        self.table().delete(note)?;
        Ok(())
    }
}

fn notes_host() -> Host<App> {
    Host::builder(&engine(), |_| App::default())
        .expect("builder")
        .interface(NOTES, |instance| {
            notes::add_to_linker_instance::<_, componentry::bindings::HasSelf<PluginState<App>>>(
                instance,
                |state| state,
            )
        })
        .expect("notes interface")
        .build()
        .expect("host")
}

fn granted() -> PluginOptions {
    PluginOptions::new().grants(Grants::none().interface(NOTES))
}

#[test]
fn host_functions_see_the_calling_plugin_and_hand_out_resources() {
    let plugin = notes_host()
        .load_file_with(
            guest("notes-user"),
            granted()
                .name("scribe")
                .version("1.4.0".parse().expect("version")),
        )
        .expect("load");
    let mut instance = plugin.instantiate().expect("instance");
    let results = instance.invoke(r#"take-notes("hello", 3)"#).expect("call");
    assert_eq!(
        componentry::to_wave(&results),
        r#""hello (by scribe); I am scribe (1.4.0)""#
    );
    assert_eq!(instance.state().data().made, 3);
}

#[test]
fn host_resources_count_against_the_handle_limit() {
    let plugin = notes_host()
        .load_file_with(
            guest("notes-user"),
            granted().limits(Limits::default().max_handles(8)),
        )
        .expect("load");
    let err = plugin
        .invoke(r#"take-notes("x", 100)"#)
        .expect_err("more notes than handles");
    assert!(matches!(err, Error::HandleLimit { limit: 8, .. }), "{err}");
    // Within the limit, the same plugin works.
    plugin.invoke(r#"take-notes("x", 2)"#).expect("two notes");
}

#[test]
fn registering_an_interface_checks_its_name() {
    for bad in [
        "notes",
        "componentry:test",
        "wasi:cli/environment@0.2.0",
        "componentry:plugin/log",
    ] {
        let refused = Host::<App>::builder(&engine(), |_| App::default())
            .expect("builder")
            .interface(bad, |_| Ok(()));
        assert!(refused.is_err(), "{bad} was registered");
    }
    let twice = Host::<App>::builder(&engine(), |_| App::default())
        .expect("builder")
        .interface(NOTES, |_| Ok(()))
        .expect("once")
        .interface(NOTES, |_| Ok(()));
    assert!(twice.is_err(), "registered twice");
}

/// A refusal of an ungranted interface says which side is missing: the manifest's request, or
/// the policy's allowance.
#[test]
fn an_ungranted_interface_is_refused_naming_the_side_that_is_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugin = dir.path().join("notes-user");
    std::fs::create_dir(&plugin).expect("plugin dir");
    std::fs::copy(guest("notes-user"), plugin.join("notes-user.wasm")).expect("copy");
    let remedy = |manifest: &str, policy: &Policy| {
        std::fs::write(plugin.join("plugin.toml"), manifest).expect("manifest");
        let source = componentry::PluginSource::open(&plugin).expect("open");
        match source.load(&notes_host(), policy, None) {
            Err(Error::NotGranted { import, remedy, .. }) => {
                assert_eq!(import, NOTES);
                remedy
            }
            Err(other) => panic!("expected NotGranted, got {other}"),
            Ok(_) => panic!("loaded without the grant"),
        }
    };
    let unrequested = remedy(
        "name = \"notes-user\"\nversion = \"1.0.0\"\n",
        &Policy::new(),
    );
    assert!(
        unrequested.contains("does not request it") && unrequested.contains("[capabilities]"),
        "{unrequested}"
    );
    let requested = format!(
        "name = \"notes-user\"\nversion = \"1.0.0\"\n[capabilities]\ninterfaces = [\"{NOTES}\"]\n"
    );
    let lenient = Policy::new().otherwise(componentry::policy::OnExcess::Trim);
    let unallowed = remedy(&requested, &lenient);
    assert!(
        unallowed.contains("requests it") && unallowed.contains("policy does not allow it"),
        "{unallowed}"
    );
}

#[test]
fn a_grant_of_an_interface_the_host_lacks_is_refused_with_a_suggestion() {
    let typo = PluginOptions::new().grants(Grants::none().interface("componentry:test/nots@0.1.0"));
    let err = notes_host()
        .load_file_with(guest("notes-user"), typo)
        .expect_err("a typo in a grant");
    match &err {
        Error::Grant { reason, .. } => {
            assert!(reason.contains("does not register"), "{err}");
            assert!(reason.contains(NOTES), "{err}");
        }
        other => panic!("expected a grant error, got {other}"),
    }
}

#[test]
fn a_plugin_importing_another_version_is_told_what_the_host_registers() {
    let old = Host::<App>::builder(&engine(), |_| App::default())
        .expect("builder")
        .interface("componentry:test/notes@1.0.0", |_| Ok(()))
        .expect("register")
        .build()
        .expect("host");
    let err = old
        .load_file_with(
            guest("notes-user"),
            PluginOptions::new().grants(Grants::none().interface("componentry:test/notes@1.0.0")),
        )
        .expect_err("0.1 is not 1.0");
    match &err {
        Error::MissingImport { import, hint, .. } => {
            assert!(import.contains("notes@0.1.0"), "{err}");
            assert!(hint.contains("notes@1.0.0"), "{err}");
        }
        other => panic!("expected MissingImport, got {other}"),
    }
}

#[test]
fn linking_a_name_the_framework_links_is_reported_as_a_conflict() {
    let err = Host::<App>::builder(&engine(), |_| App::default())
        .expect("builder")
        .link(|linker| {
            linker
                .instance("componentry:plugin/log@0.1.0")?
                .func_wrap("log", |_, (): ()| Ok(()))
        })
        .err()
        .expect("the framework links log already");
    assert!(
        err.to_string().contains("names the host links already"),
        "{err}"
    );
    // A closure failing on its own is reported as its own failure.
    let own = Host::<App>::builder(&engine(), |_| App::default())
        .expect("builder")
        .link(|_| {
            Err(componentry::bindings::format_err!(
                "the application's own failure"
            ))
        })
        .err()
        .expect("fails");
    assert!(!own.to_string().contains("links already"), "{own}");
    assert!(
        std::error::Error::source(&own)
            .is_some_and(|cause| cause.to_string().contains("own failure")),
        "{own}"
    );
}
