//! `componentry test PLUGIN.wasm CASES.toml`: runs a cases file (read by
//! `componentry_cases_file`) against a plugin.

mod run;

pub use componentry_cases_file::CasesFile;
pub use run::run;
