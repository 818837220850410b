//! Checking components against a versioned extension point: older minor versions fit, newer or
//! other major versions do not, and every mismatch is reported with both signatures.

use componentry::{ComponentWorld, ExtensionPoint, Problem};
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

fn report_for(wit: &str, world: &str) -> componentry::CompatibilityReport {
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
    .err()
    .expect("must fail");
    assert!(matches!(err, componentry::Error::Config { .. }), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
}
