//! `componentry check PLUGIN --wit DIR`: checks a component against an extension point (a WIT
//! world) before running it.

use std::path::PathBuf;

use clap::Args;
use componentry::{ComponentWorld, ExtensionPoint, escape_untrusted};

use crate::exit;
use crate::loading::open_source;

/// The arguments of `componentry check`.
#[derive(Args)]
pub struct CheckArgs {
    /// The component.
    plugin: PathBuf,
    /// The extension point's WIT directory (or file).
    #[arg(long, value_name = "DIR")]
    wit: PathBuf,
    /// The world to check against (`name` or `pkg:name/world`); the package's only world when
    /// omitted.
    #[arg(long, value_name = "NAME")]
    world: Option<String>,
}

/// Prints whether the component is compatible, with every problem when not (then failing as
/// an incompatible plugin, exit 3).
pub fn run(args: CheckArgs) -> Result<(), exit::Failure> {
    let extension_point = ExtensionPoint::from_wit_dir(&args.wit, args.world.as_deref())?;
    let source = open_source(&args.plugin, None)?;
    let name = escape_untrusted(source.name()).into_owned();
    let component = ComponentWorld::decode(source.name(), source.bytes())?;
    let report = extension_point.check(&component);
    let target = match extension_point.package() {
        Some(package) => format!("{package}/{}", extension_point.world_name()),
        None => extension_point.world_name().to_owned(),
    };
    let incompatible = |reason: String| {
        exit::Failure::Plugin(componentry::Error::Incompatible {
            plugin: source.name().to_owned(),
            reason,
            source: None,
        })
    };
    if !report.is_compatible() {
        println!("{name}: incompatible with {target}: {report}");
        return Err(incompatible(format!(
            "{} problem(s) against {target}",
            report.problems.len()
        )));
    }
    // The manifest's own requirement (`extension-point = "pkg:name/world@^1.2"`) counts too.
    if let Err(refused) = source.accepts(&extension_point) {
        let reason = match &refused {
            componentry::Error::Incompatible { reason, .. } => reason.clone(),
            other => other.to_string(),
        };
        println!(
            "{name}: incompatible with {target}: {}",
            exit::one_line(&reason)
        );
        return Err(incompatible(reason));
    }
    println!("{name}: compatible with {target}");
    Ok(())
}
