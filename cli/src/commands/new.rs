//! `componentry new LANGUAGE NAME`: a new plugin project from its language's template (the
//! project is made by `scaffold`).

use std::path::PathBuf;

use clap::Args;

use crate::{exit, language, scaffold};

/// The arguments of `componentry new`.
#[derive(Args)]
pub struct NewArgs {
    /// The language: rust, python, js, c or go.
    #[arg(value_enum)]
    language: language::Language,
    /// The project's directory; its name is the plugin's name.
    name: PathBuf,
    /// The application's world to implement (`name` or `pkg:name/world`; the package's only
    /// world when omitted), from `--wit`.
    #[arg(long, value_name = "WIT-WORLD", requires = "wit")]
    world: Option<String>,
    /// The application's WIT directory (or file), copied into the project.
    #[arg(long, value_name = "DIR")]
    wit: Option<PathBuf>,
    /// A plugin with `async` exports (the component model's async ABI): WASI 0.3 in Rust, an
    /// `async def` in Python; Rust and Python only.
    #[arg(long = "async")]
    asynchronous: bool,
}

/// Makes the project and prints the files written and the next step.
pub fn run(args: NewArgs) -> Result<(), exit::Failure> {
    let NewArgs {
        language,
        name: dir,
        world,
        wit,
        asynchronous,
    } = args;
    let target = wit.as_deref().map(|wit| scaffold::Target {
        wit,
        world: world.as_deref(),
    });
    let written =
        scaffold::new_project(language, asynchronous, &dir, target).map_err(|e| match e {
            // The WIT given is the user's to fix, as a usage mistake is.
            scaffold::ScaffoldError::Usage(message) | scaffold::ScaffoldError::Wit(message) => {
                exit::Failure::Usage(message)
            }
            other => exit::Failure::Other(other.to_string()),
        })?;
    let flavour = if asynchronous { ", async exports" } else { "" };
    println!("created {} ({}{flavour})", dir.display(), language.name());
    for file in written {
        println!("  {}", file.display());
    }
    println!("next: cd {} && componentry build", dir.display());
    Ok(())
}
