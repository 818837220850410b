//! Checking components against a versioned extension point: older minor versions fit, newer or
//! other major versions do not, and every mismatch is reported with both signatures.

use componentry::{ComponentWorld, ExtensionPoint, compatibility::Problem};
use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::{ManglingAndAbi, Resolve};

/// The host's extension point: version 1.2 of `acme:text`.
pub const HOST_WIT: &str = r#"
package acme:text@1.2.0;

interface host-api {
  log-line: func(line: string);
}

interface transform {
  upper: func(input: string) -> string;
  @since(version = 1.1.0)
  lower: func(input: string) -> string;
  @since(version = 1.2.0)
  reverse: func(input: string) -> string;
}

world transformer {
  import host-api;
  export transform;
}
"#;

/// A component implementing `world` of `wit` (its functions trap if called: only its type
/// matters here).
pub fn component(wit: &str, world: &str) -> Vec<u8> {
    let mut resolve = Resolve::default();
    let package = resolve.push_str("plugin.wit", wit).expect("plugin WIT");
    let world = resolve
        .select_world(&[package], Some(world))
        .expect("world");
    let mut module = wit_component::dummy_module(&resolve, world, ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8)
        .expect("embed");
    ComponentEncoder::default()
        .module(&module)
        .expect("module")
        .validate(true)
        .encode()
        .expect("component")
}

/// The plugin side of `acme:text` at `version`, exporting `functions` of `transform`.
pub fn plugin_wit(version: &str, functions: &[&str], extra: &str) -> String {
    let funcs: String = functions.iter().map(|f| format!("  {f}\n")).collect();
    format!(
        "package acme:text@{version};\ninterface host-api {{\n  log-line: func(line: string);\n}}\n\
         interface transform {{\n{funcs}}}\n{extra}\n"
    )
}

fn report_for(wit: &str, world: &str) -> componentry::compatibility::CompatibilityReport {
    let host = ExtensionPoint::from_wit_str(HOST_WIT, Some("transformer")).expect("host WIT");
    let bytes = component(wit, world);
    host.check(&ComponentWorld::decode("plugin", &bytes).expect("decode"))
}

const UPPER: &str = "upper: func(input: string) -> string;";
const LOWER: &str = "lower: func(input: string) -> string;";
const REVERSE: &str = "reverse: func(input: string) -> string;";
const WORLD: &str = "world transformer { import host-api; export transform; }";

#[test]
fn plugins_built_for_1_0_1_1_and_1_2_fit_a_1_2_host() {
    for (version, functions) in [
        ("1.0.0", vec![UPPER]),
        ("1.1.0", vec![UPPER, LOWER]),
        ("1.2.0", vec![UPPER, LOWER, REVERSE]),
    ] {
        let report = report_for(&plugin_wit(version, &functions, WORLD), "transformer");
        assert!(report.is_compatible(), "{version}: {report}");
        assert_eq!(
            report.plugin_version.map(|v| v.to_string()).as_deref(),
            Some(version)
        );
    }
}

#[test]
fn newer_minor_and_other_major_versions_are_refused() {
    for version in ["1.3.0", "2.0.0", "0.9.0"] {
        let report = report_for(
            &plugin_wit(version, &[UPPER, LOWER, REVERSE], WORLD),
            "transformer",
        );
        assert!(
            report
                .problems
                .iter()
                .any(|p| matches!(p, Problem::Version { .. })),
            "{version}: {report}"
        );
        assert!(
            report.to_string().contains(&format!("acme:text@{version}")),
            "{report}"
        );
    }
}

#[test]
fn a_missing_export_is_reported_unless_it_came_later() {
    let report = report_for(&plugin_wit("1.2.0", &[UPPER, LOWER], WORLD), "transformer");
    assert_eq!(
        report.problems,
        vec![Problem::MissingExport {
            name: "acme:text/transform@1.2.0#reverse".to_owned()
        }]
    );
    let report = report_for(&plugin_wit("1.0.0", &[], WORLD), "transformer");
    assert_eq!(report.problems.len(), 1, "{report}");
    assert!(report.to_string().contains("#upper"), "{report}");
}

#[test]
fn every_problem_is_reported_at_once_with_both_signatures() {
    let wit = plugin_wit(
        "1.2.0",
        &["upper: func(input: u32) -> string;", LOWER],
        "interface host-api2 { }\n\
         world transformer { import host-api; import acme:other/vault@1.0.0; export transform; }\n\
         ",
    );
    let wit =
        format!("{wit}\npackage acme:other@1.0.0 {{ interface vault {{ open: func(); }} }}\n");
    let report = report_for(&wit, "transformer");
    let text = report.to_string();
    assert!(
        report.problems.contains(&Problem::ExportSignature {
            name: "acme:text/transform@1.2.0#upper".to_owned(),
            expected: "func(input: string) -> string".to_owned(),
            found: "func(input: u32) -> string".to_owned(),
        }),
        "{text}"
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, Problem::MissingExport { name } if name.ends_with("#reverse"))),
        "{text}"
    );
    assert!(
        report.problems.iter().any(
            |p| matches!(p, Problem::UnexpectedImport { name } if name.contains("acme:other/vault"))
        ),
        "{text}"
    );
    assert_eq!(report.problems.len(), 3, "{text}");
}

#[test]
fn an_import_of_another_type_is_reported() {
    let wit = "package acme:text@1.1.0;\ninterface host-api { log-line: func(line: u32); }\n\
               interface transform { upper: func(input: string) -> string; lower: func(input: string) -> string; }\n\
               world transformer { import host-api; export transform; }\n";
    let report = report_for(wit, "transformer");
    assert_eq!(
        report.problems,
        vec![Problem::ImportSignature {
            name: "acme:text/host-api@1.1.0#log-line".to_owned(),
            expected: "func(line: string)".to_owned(),
            found: "func(line: u32)".to_owned(),
        }]
    );
}

#[test]
fn bad_wit_is_a_config_error() {
    let err = ExtensionPoint::from_wit_str(
        "package acme:x@1.0.0;\nworld w { export f: func() -> nope; }",
        None,
    )
    .expect_err("must fail");
    assert!(matches!(err, componentry::Error::Config { .. }), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
}

/// Version 2.0 of the extension point: `upper` now takes a list of lines.
const HOST_WIT_2: &str = r#"
package acme:text@2.0.0;

interface host-api {
  log-line: func(line: string);
}

interface transform {
  upper: func(lines: list<string>) -> list<string>;
}

world transformer {
  import host-api;
  export transform;
}
"#;

fn stub_host() -> componentry::Host<()> {
    componentry::Host::builder(&crate::engine(), |_| ())
        .expect("builder")
        .stub_unknown_imports(true)
        .build()
        .expect("host")
}

fn load_against(
    point: &std::sync::Arc<ExtensionPoint>,
    name: &str,
    bytes: &[u8],
) -> componentry::Result<componentry::Plugin<()>> {
    stub_host().load_bytes_with(
        name,
        bytes,
        componentry::PluginOptions::new().extension_point(point.clone()),
    )
}

#[test]
fn older_plugins_load_and_calls_to_what_they_predate_are_typed_errors() {
    let host_point = std::sync::Arc::new(
        ExtensionPoint::from_wit_str(HOST_WIT, Some("transformer")).expect("host WIT"),
    );
    let v1_0 = component(&plugin_wit("1.0.0", &[UPPER], WORLD), "transformer");
    let v1_1 = component(&plugin_wit("1.1.0", &[UPPER, LOWER], WORLD), "transformer");
    let v1_2 = component(
        &plugin_wit("1.2.0", &[UPPER, LOWER, REVERSE], WORLD),
        "transformer",
    );
    let old = load_against(&host_point, "v1-0", &v1_0).expect("1.0 loads into a 1.2 host");
    let mid = load_against(&host_point, "v1-1", &v1_1).expect("1.1 loads into a 1.2 host");
    load_against(&host_point, "v1-2", &v1_2).expect("1.2 loads into a 1.2 host");

    match old.invoke(r#"transform#reverse("abc")"#) {
        Err(componentry::Error::NotProvided {
            plugin,
            function,
            since,
            plugin_version,
        }) => {
            assert_eq!(plugin, "v1-0");
            assert_eq!(function, "transform#reverse");
            assert_eq!(since, "1.2.0");
            assert_eq!(plugin_version, "1.0.0");
        }
        other => panic!("expected NotProvided, got {other:?}"),
    }
    assert!(matches!(
        old.invoke(r#"acme:text/transform#lower("x")"#),
        Err(componentry::Error::NotProvided { .. })
    ));
    assert!(matches!(
        mid.invoke(r#"transform#reverse("x")"#),
        Err(componentry::Error::NotProvided { .. })
    ));
    // A function no version of the extension point has is simply not found.
    assert!(matches!(
        old.invoke("transform#nope()"),
        Err(componentry::Error::ExportNotFound { .. })
    ));
}

#[test]
fn a_2_0_plugin_is_refused_by_a_1_x_host_and_routed_by_a_host_with_both() {
    let v1 = ExtensionPoint::from_wit_str(HOST_WIT, Some("transformer")).expect("1.2 WIT");
    let v2 = ExtensionPoint::from_wit_str(HOST_WIT_2, Some("transformer")).expect("2.0 WIT");
    let plugin_2 = component(
        "package acme:text@2.0.0;\ninterface host-api { log-line: func(line: string); }\n\
         interface transform { upper: func(lines: list<string>) -> list<string>; }\n\
         world transformer { import host-api; export transform; }\n",
        "transformer",
    );
    let err =
        load_against(&std::sync::Arc::new(v1), "v2", &plugin_2).expect_err("refused by a 1.x host");
    assert!(
        matches!(err, componentry::Error::Incompatible { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("acme:text@2.0.0"), "{err}");

    let both = componentry::compatibility::ExtensionPoints::new()
        .with(ExtensionPoint::from_wit_str(HOST_WIT, Some("transformer")).expect("1.2"))
        .with(v2);
    let world = ComponentWorld::decode("v2", &plugin_2).expect("decode");
    let routed = both.route("v2", &world).expect("a host with 2.0 takes it");
    assert_eq!(
        routed.package().map(|p| p.to_string()).as_deref(),
        Some("acme:text@2.0.0")
    );
    load_against(&routed, "v2", &plugin_2).expect("loads against 2.0");

    let plugin_1 = component(&plugin_wit("1.1.0", &[UPPER, LOWER], WORLD), "transformer");
    let world = ComponentWorld::decode("v1", &plugin_1).expect("decode");
    let routed = both
        .route("v1", &world)
        .expect("and a 1.1 plugin goes to 1.2");
    assert_eq!(
        routed.package().map(|p| p.to_string()).as_deref(),
        Some("acme:text@1.2.0")
    );

    let stranger = component(
        "package acme:other@1.0.0;\nworld w { export f: func(); }\n",
        "w",
    );
    let err = both
        .route(
            "stranger",
            &ComponentWorld::decode("stranger", &stranger).expect("decode"),
        )
        .expect_err("fits neither");
    assert!(
        err.to_string().contains("fits none") && err.to_string().contains("missing export"),
        "{err}"
    );
}

/// WIT that does not resolve is refused with wit-parser's file, line, column and snippet.
#[test]
fn wit_that_does_not_resolve_says_where() {
    let err = componentry::ExtensionPoint::from_wit_str(
        "package acme:app@1.0.0;\n\ninterface x {\n  f: func(a: strin) -> u32;\n}\n\nworld w {\n  export x;\n}\n",
        None,
    )
    .expect_err("`strin` is not a type");
    match &err {
        componentry::Error::Config { reason, .. } => assert!(
            reason.contains("`strin` does not exist") && reason.contains("extension-point.wit:4:"),
            "{reason}"
        ),
        other => panic!("expected a config error, got {other}"),
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("app.wit"),
        "package acme:app@1.0.0;\n\ninterface x {\n  f: func(a: strin) -> u32;\n}\n",
    )
    .expect("write");
    let err = componentry::ExtensionPoint::from_wit_dir(dir.path(), None).expect_err("bad WIT");
    assert!(err.to_string().contains("app.wit:4:"), "{err}");
}

#[test]
fn a_sync_async_mismatch_is_incompatible_and_says_which() {
    // The WASI 0.3 test plugin exports `async func`s; an extension point expecting them
    // synchronous does not take it, and one expecting them async does.
    let bytes = std::fs::read(crate::guest("async-waits")).expect("the async-waits guest");
    let world = ComponentWorld::decode("async-waits", &bytes).expect("decode");
    let sync_point = ExtensionPoint::from_wit_str(
        "package acme:waits@1.0.0;\nworld waits { export quick-echo: func(text: string) -> string; }",
        Some("waits"),
    )
    .expect("WIT");
    let report = sync_point.check(&world);
    assert!(
        report.problems.contains(&Problem::ExportSignature {
            name: "quick-echo".to_owned(),
            expected: "func(text: string) -> string".to_owned(),
            found: "async func(text: string) -> string".to_owned(),
        }),
        "{report}"
    );
    let async_point = ExtensionPoint::from_wit_str(
        "package acme:waits@1.0.0;\nworld waits { export quick-echo: async func(text: string) -> string; }",
        Some("waits"),
    )
    .expect("WIT");
    let report = async_point.check(&world);
    assert!(report.is_compatible(), "{report}");
}
