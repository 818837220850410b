//! `componentry inspect PLUGIN`: a component's world as WIT, its manifest, and the capabilities
//! it asks for set against what the grant flags and policy would give it.

use std::path::PathBuf;

use clap::Args;
use componentry::{ComponentWorld, Grants, Output, escape_untrusted};

use crate::load_flags::{ManifestFlag, PolicyFlag};
use crate::loading::{open_source, operator_grants, operator_policy};
use crate::{exit, grant_flags};

/// The arguments of `componentry inspect`.
#[derive(Args)]
#[command(
    mut_arg("manifest", |arg| arg.help(ManifestFlag::INSPECT_HELP)),
    mut_arg("policy", |arg| arg.help(PolicyFlag::INSPECT_HELP)),
)]
pub struct InspectArgs {
    /// The component.
    plugin: PathBuf,
    /// Also print the packages of the interfaces the world uses.
    #[arg(long)]
    full: bool,
    /// `--manifest`.
    #[command(flatten)]
    manifest: ManifestFlag,
    /// `--policy`: shows the grants the plugin would effectively get under it.
    #[command(flatten)]
    policy: PolicyFlag,
    /// The grant flags, as `run` takes them.
    #[command(flatten)]
    grants: grant_flags::GrantFlags,
}

/// Prints the component's world, manifest, requested and effective grants, and capabilities.
pub fn run(args: InspectArgs) -> Result<(), exit::Failure> {
    let source = open_source(&args.plugin, args.manifest.path())?;
    let world = ComponentWorld::decode(source.name(), source.bytes())?;
    // The WIT may carry the component's own doc comments: show them, not act on them.
    for line in world.to_wit(args.full)?.lines() {
        println!("{}", escape_untrusted(line));
    }
    if let Some(manifest) = source.manifest() {
        println!();
        println!("manifest: {} {}", manifest.name, manifest.version);
        if let Some(description) = &manifest.description {
            println!("description: {}", escape_untrusted(description));
        }
        if let Some(ep) = &manifest.extension_point {
            println!(
                "extension point: {}",
                escape_untrusted(&format!("{}/{}@{}", ep.package, ep.world, ep.requirement))
            );
        }
    }
    println!();
    println!("requested: {}", list_or_none(source.requested().describe()));
    // What `run` with the same flags and policy would grant: the same pipeline, the same
    // operator (stdio forwarded, the grant flags).
    let policy = operator_policy(
        args.policy.path(),
        operator_grants(Output::Inherit, args.grants.to_grants()?),
        &Default::default(),
    )?;
    let grants = match source.options(&policy, None) {
        Ok(options) => {
            println!(
                "effective: {}",
                list_or_none(options.get_grants().describe())
            );
            options.get_grants().clone()
        }
        Err(e) => {
            println!("refused by the policy: {}", exit::one_line(&e.to_string()));
            Grants::none()
        }
    };
    let uses = componentry::compatibility::capabilities(&world, &grants);
    if !uses.is_empty() {
        println!();
        for capability in uses {
            println!("{}", escape_untrusted(&capability.to_string()));
        }
    }
    Ok(())
}

/// `items` joined with commas, or `nothing` when there are none.
fn list_or_none(items: Vec<String>) -> String {
    if items.is_empty() {
        "nothing".to_owned()
    } else {
        items.join(", ")
    }
}
