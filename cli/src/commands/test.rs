//! `componentry test PLUGIN CASES`: runs a plugin's test cases (read and run by `cases`).

use std::path::PathBuf;

use clap::Args;

use crate::load_flags::CacheFlag;
use crate::{cases, exit};

/// The arguments of `componentry test`.
#[derive(Args)]
pub struct TestArgs {
    /// The component.
    plugin: PathBuf,
    /// The cases file (TOML).
    cases: PathBuf,
    /// `--no-cache`.
    #[command(flatten)]
    cache: CacheFlag,
}

/// Runs every case; fails (quietly: each case has had its line) when any case failed.
pub fn run(args: TestArgs, verbose: bool) -> Result<(), exit::Failure> {
    let file =
        cases::CasesFile::read(&args.cases).map_err(|e| exit::Failure::Usage(e.to_string()))?;
    let report = cases::run(&args.plugin, &file, args.cache.engine_builder(), verbose)?;
    if report.failed > 0 {
        return Err(exit::Failure::Quiet(exit::OTHER));
    }
    Ok(())
}
