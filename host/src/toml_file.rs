//! Reading the TOML files the crate takes (grants, manifests, policies), with errors that name
//! the file.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The text of the configuration file at `path`.
pub(crate) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::Config {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// `text` parsed as TOML into `T`; errors give the file, the line and the key.
pub(crate) fn parse<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T> {
    toml::from_str(text).map_err(|e| Error::Config {
        path: path.to_owned(),
        reason: e.to_string().trim_end().to_owned(),
    })
}
