//! Filesystem grants: host directories mapped to guest paths, read-only or read-write.
//!
//! wasmtime-wasi resolves every path the guest opens beneath a granted directory (with cap-std),
//! so `..`, absolute paths and symlinks cannot leave it.

use std::path::PathBuf;

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::error::{Error, Result};

/// A host directory granted to a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the plugin sees it.
    pub guest: String,
    /// Whether the plugin may create, change and delete files in it.
    pub writable: bool,
}

impl DirGrant {
    /// Parses `HOST[::GUEST]`; without `::GUEST` the plugin sees the directory at its host path.
    pub fn parse(text: &str, writable: bool) -> std::result::Result<Self, String> {
        let (host, guest) = match text.split_once("::") {
            Some((host, guest)) => (host, guest),
            None => (text, text),
        };
        if host.is_empty() || guest.is_empty() {
            return Err(format!("`{text}` is not HOST[::GUEST]"));
        }
        Ok(Self {
            host: host.into(),
            guest: guest.to_owned(),
            writable,
        })
    }

    /// `/host -> /guest (read-only)`, for listings.
    pub fn describe(&self) -> String {
        let mode = if self.writable {
            "read-write"
        } else {
            "read-only"
        };
        if self.host.to_string_lossy() == self.guest {
            format!("{} ({mode})", self.guest)
        } else {
            format!("{} -> {} ({mode})", self.host.display(), self.guest)
        }
    }
}

pub(crate) fn apply(builder: &mut WasiCtxBuilder, plugin: &str, dirs: &[DirGrant]) -> Result<()> {
    for dir in dirs {
        let perms = if dir.writable {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        builder
            .preopened_dir(&dir.host, &dir.guest, perms)
            .map_err(|e| Error::Grant {
                plugin: plugin.to_owned(),
                reason: format!(
                    "cannot open the granted directory {}: {e:#}",
                    dir.host.display()
                ),
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_guest_paths() {
        let d = DirGrant::parse("/srv/data::/data", false).expect("parse");
        assert_eq!(d.host, PathBuf::from("/srv/data"));
        assert_eq!(d.guest, "/data");
        let same = DirGrant::parse("/tmp", true).expect("parse");
        assert_eq!(same.guest, "/tmp");
        assert_eq!(same.describe(), "/tmp (read-write)");
        assert!(DirGrant::parse("::/x", false).is_err());
    }
}
