//! The files an operator and a plugin author write: manifests ([`manifest`]) and host policies
//! ([`policy`]).

pub(crate) mod manifest;
pub(crate) mod policy;
