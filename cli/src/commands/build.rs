//! `componentry build [DIR]`: builds a plugin project with its language's tool (the work is
//! done by `builder`) and prints the component's path.

use std::path::PathBuf;

use clap::Args;

use crate::{builder, exit};

/// The arguments of `componentry build`.
#[derive(Args)]
pub struct BuildArgs {
    /// The project's directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
}

/// Builds the project and prints the component's absolute path as the last line.
pub fn run(args: BuildArgs) -> Result<(), exit::Failure> {
    let component = builder::build(&args.dir).map_err(|e| match e {
        builder::BuildError::Project(message) => exit::Failure::Usage(message),
        other => exit::Failure::Other(other.to_string()),
    })?;
    let shown = std::path::absolute(&component).unwrap_or(component);
    println!("{}", shown.display());
    Ok(())
}
