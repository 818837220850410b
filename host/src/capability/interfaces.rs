//! The application's own host interfaces: registering them (a name the host links and plugins
//! are granted by), and judging a plugin's imports against the grants at load.

use std::sync::Arc;

use super::kind::{Kind, Takes, Unit, Wiring, Word, add_new, entries};
use crate::error::{Error, Result};
use crate::names;

/// The application host interfaces a plugin is granted, as `pkg:name/iface[@version]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Interfaces(pub(crate) Vec<String>);

const INTERFACES: Word = Word {
    name: "interfaces",
    takes: Takes::List,
    value_name: "pkg:name/iface[@version]",
    help: "An application host interface the plugin may import.",
    flag: false,
};

impl Interfaces {
    /// Whether the interface `name` (as a component imports it, `pkg:name/iface@version`) is
    /// granted.
    pub(crate) fn grants(&self, name: &str) -> bool {
        self.0.iter().any(|granted| same_interface(granted, name))
    }

    /// How an operator grants the interface `name`.
    pub(crate) fn hint(name: &str) -> String {
        format!("{} = [\"{name}\"]", INTERFACES.name)
    }
}

impl Kind for Interfaces {
    const WORDS: &'static [Word] = &[INTERFACES];
    /// Listed by name, each as the application interface it is.
    const UNITS: &'static [Unit<Self>] = &[];
    type Ready = ();

    fn add(&mut self, word: &str, value: &toml::Value) -> Result<()> {
        for entry in entries(word, value)? {
            check_name(entry).map_err(|reason| Error::syntax("interface grant", entry, reason))?;
            self.0.push(entry.to_owned());
        }
        Ok(())
    }

    fn merge(&mut self, other: Self) {
        add_new(&mut self.0, other.0);
    }

    fn describe(&self, lines: &mut Vec<String>) {
        lines.extend(self.0.iter().map(|i| format!("interface {i}")));
    }

    fn restrict(&self, allowed: &Self, excess: &mut Vec<String>) -> Self {
        let mut granted = Interfaces::default();
        for name in &self.0 {
            if allowed.grants(name) {
                granted.0.push(name.clone());
            } else {
                excess.push(format!("interface {name}"));
            }
        }
        granted
    }

    fn prepare(&self, _plugin: &Arc<str>) -> Result<()> {
        Ok(())
    }

    /// Nothing in the WASI context: granted interfaces are linked per plugin at load.
    fn wire(&self, (): &(), _wiring: &mut Wiring<'_>) -> Result<()> {
        Ok(())
    }
}

/// The packages the host links itself: no application interface may take their names.
const RESERVED_PACKAGES: &[&str] = &["wasi:", "componentry:plugin/", "componentry:preview1/"];

/// Checks that `name` is `namespace:package/interface[@version]`.
pub(crate) fn check_name(name: &str) -> std::result::Result<(), String> {
    let malformed = || format!("`{name}` is not namespace:package/interface[@version]");
    let (package, interface) = names::unversioned(name)
        .split_once('/')
        .ok_or_else(malformed)?;
    let version_ok = name
        .split_once('@')
        .is_none_or(|(_, v)| semver::Version::parse(v).is_ok());
    let well_formed = package
        .split_once(':')
        .is_some_and(|(ns, pkg)| !ns.is_empty() && !pkg.is_empty())
        && !interface.is_empty()
        && version_ok;
    if well_formed {
        Ok(())
    } else {
        Err(malformed())
    }
}

/// Refuses to register `name` when it is not `pkg:name/iface[@version]`, belongs to WASI or the
/// framework, or is registered already.
pub(crate) fn check_registrable(name: &str, registered: &[String]) -> Result<()> {
    let refuse = |reason: String| Error::Engine {
        message: format!("cannot register the interface `{name}`: {reason}"),
        source: None,
    };
    check_name(name).map_err(refuse)?;
    if let Some(reserved) = RESERVED_PACKAGES.iter().find(|p| name.starts_with(*p)) {
        return Err(refuse(format!(
            "`{reserved}` interfaces are linked by the host itself; register only the \
             application's own"
        )));
    }
    if registered.iter().any(|r| r == name) {
        return Err(refuse("it is registered already".to_owned()));
    }
    Ok(())
}

/// Refuses grants of interfaces the host does not register: such a grant can only be a typo (or
/// meant for another host), and would otherwise grant nothing without a word.
pub(crate) fn check_granted_exist(
    registered: &[String],
    plugin: &str,
    granted: &[String],
) -> Result<()> {
    let Some(unknown) = granted.iter().find(|g| {
        !registered
            .iter()
            .any(|r| same_interface(r, g) || same_interface(g, r))
    }) else {
        return Ok(());
    };
    let registers = match registered {
        [] => "no application interfaces".to_owned(),
        some => some.join(", "),
    };
    let hint = closest(registered, unknown)
        .map(|near| format!("; did you mean `{near}`?"))
        .unwrap_or_default();
    Err(Error::Grant {
        plugin: plugin.to_owned(),
        reason: format!(
            "grants the interface `{unknown}`, which this host does not register (it registers \
             {registers}){hint}"
        ),
        source: None,
    })
}

/// The registered interface that the import `import` (`pkg:name/iface@version`) is, if any.
pub(crate) fn registered_for<'a>(registered: &'a [String], import: &str) -> Option<&'a str> {
    registered
        .iter()
        .find(|r| same_interface(r, import))
        .map(String::as_str)
}

/// Whether a registered (or granted) interface name and an import name are the same interface:
/// the same name, or the same `pkg:name/iface` when the registered name has no version, or the
/// same major version (0.x: the same minor) of a versioned one.
pub(crate) fn same_interface(registered: &str, import: &str) -> bool {
    if registered == import {
        return true;
    }
    if names::unversioned(registered) != names::unversioned(import) {
        return false;
    }
    match (names::version(registered), names::version(import)) {
        (None, _) => true,
        (Some(mine), Some(theirs)) => {
            mine.major == theirs.major && (mine.major > 0 || mine.minor == theirs.minor)
        }
        (Some(_), None) => false,
    }
}

/// What the host registers that resembles `import`, for a message: the same interface at
/// another version, or a name one typo away.
pub(crate) fn closest<'a>(registered: &'a [String], import: &str) -> Option<&'a str> {
    let bare = names::unversioned(import);
    registered
        .iter()
        .find(|r| names::unversioned(r) == bare)
        .or_else(|| {
            registered
                .iter()
                .find(|r| edit_distance(names::unversioned(r), bare) <= 2)
        })
        .map(String::as_str)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_match_with_and_without_versions() {
        assert!(same_interface("acme:app/kv@1.0.0", "acme:app/kv@1.0.0"));
        assert!(same_interface("acme:app/kv", "acme:app/kv@1.0.0"));
        assert!(same_interface("acme:app/kv@1.0.0", "acme:app/kv@1.3.0"));
        assert!(!same_interface("acme:app/kv@1.0.0", "acme:app/kv@2.0.0"));
        assert!(!same_interface("acme:app/kv@0.1.0", "acme:app/kv@0.2.0"));
        assert!(!same_interface("acme:app/kv", "acme:app/kvx@1.0.0"));
    }

    #[test]
    fn registrations_are_checked() {
        assert!(check_registrable("acme:app/kv@1.0.0", &[]).is_ok());
        for bad in ["kv", "acme/kv", ":app/kv", "acme:app/"] {
            assert!(check_registrable(bad, &[]).is_err(), "{bad}");
        }
        let err = check_registrable("componentry:plugin/log@0.1.0", &[]).unwrap_err();
        assert!(
            err.to_string().contains("linked by the host itself"),
            "{err}"
        );
        assert!(check_registrable("wasi:http/types@0.2.0", &[]).is_err());
        let taken = vec!["acme:app/kv@1.0.0".to_owned()];
        assert!(check_registrable("acme:app/kv@1.0.0", &taken).is_err());
    }

    #[test]
    fn the_closest_registration_is_named() {
        let registered = vec![
            "acme:app/kv@2.0.0".to_owned(),
            "acme:app/clock@1.0.0".to_owned(),
        ];
        assert_eq!(
            closest(&registered, "acme:app/kv@1.0.0"),
            Some("acme:app/kv@2.0.0")
        );
        assert_eq!(
            closest(&registered, "acme:app/clok@1.0.0"),
            Some("acme:app/clock@1.0.0")
        );
        assert_eq!(closest(&registered, "other:x/y@1.0.0"), None);
    }
}
