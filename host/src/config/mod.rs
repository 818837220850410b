//! The files an operator and a plugin author write: manifests ([`manifest`]), host policies
//! ([`policy`]), and reading TOML with errors naming the file ([`toml`]).

pub(crate) mod manifest;
pub(crate) mod policy;
pub(crate) mod toml;
