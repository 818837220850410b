//! Names as plugins, WIT and files spell them, compared and derived in one place.

use std::path::Path;

/// `pkg:name/iface` of `pkg:name/iface@version` (and the name itself when it has no version).
pub(crate) fn unversioned(name: &str) -> &str {
    name.split_once('@').map_or(name, |(bare, _)| bare)
}

/// The version of `pkg:name/iface@version`, when it has a valid one.
pub(crate) fn version(name: &str) -> Option<semver::Version> {
    name.split_once('@')
        .and_then(|(_, v)| semver::Version::parse(v).ok())
}

/// Whether the interface name `wanted` (in full, without its version, or as the bare `iface`)
/// designates `full` (`pkg:name/iface@version`): how users may write an interface wherever the
/// framework takes one (`transform#upper` for `acme:text/transform@1.2.0#upper`).
///
/// ```
/// assert!(componentry::naming::designates("transform", "acme:text/transform@1.2.0"));
/// assert!(componentry::naming::designates("acme:text/transform", "acme:text/transform@1.2.0"));
/// assert!(!componentry::naming::designates("acme:text/transform@1.3.0", "acme:text/transform@1.2.0"));
/// ```
pub fn designates(wanted: &str, full: &str) -> bool {
    let unversioned = unversioned(full);
    let bare = unversioned
        .rsplit_once('/')
        .map_or(unversioned, |(_, iface)| iface);
    wanted == full || wanted == unversioned || wanted == bare
}

/// The plugin name a file or directory gets when no manifest names it: its file name without
/// the extension, with anything a terminal would act on escaped.
pub fn plugin_name_from_path(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    crate::text::escape_untrusted(&stem).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_in_every_spelling() {
        let full = "acme:text/transform@1.2.0";
        assert!(designates(full, full));
        assert!(designates("acme:text/transform", full));
        assert!(designates("transform", full));
        assert!(!designates("acme:text/transform@1.3.0", full));
        assert!(!designates("text", full));
        assert_eq!(unversioned("local:x/echo"), "local:x/echo");
    }

    #[test]
    fn plugin_names_come_from_file_stems_and_are_safe_to_print() {
        assert_eq!(
            plugin_name_from_path(Path::new("/a/b/hello-rust.wasm")),
            "hello-rust"
        );
        assert_eq!(plugin_name_from_path(Path::new("plain")), "plain");
        assert_eq!(
            plugin_name_from_path(Path::new("/p/evil\u{1b}[8m.wasm")),
            "evil\\u{1b}[8m"
        );
    }
}
