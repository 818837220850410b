//! What a component can ask for, read from its imports, set beside what it is granted, so that an
//! operator sees what a plugin could do before running it.

use crate::capability::Grants;
use crate::capability::interfaces::Interfaces;
use crate::compat::inspect::ComponentWorld;
use crate::names;

/// One capability a component's imports ask for, and whether the grants give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityUse {
    /// The capability, named by its WASI package or interface (`wasi:filesystem`,
    /// `wasi:cli/environment`) or by the application interface's full name.
    pub capability: String,
    /// Whether the grants give the plugin anything of it.
    pub granted: bool,
    /// What exactly is granted (`/data (read-only)`), or what would grant it.
    pub detail: String,
}

impl std::fmt::Display for CapabilityUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.granted {
            "granted"
        } else {
            "not granted"
        };
        write!(f, "imports {} - {state}: {}", self.capability, self.detail)
    }
}

/// The capabilities `world`'s imports ask for, each once, in import order, against `grants`.
/// Each is described by the capability module that provides it; any other import is
/// an application host interface.
pub fn capabilities(world: &ComponentWorld, grants: &Grants) -> Vec<CapabilityUse> {
    let mut uses: Vec<CapabilityUse> = Vec::new();
    for import in world.imports() {
        let (capability, granted, detail) = judge(&import, grants);
        if uses.iter().any(|u| u.capability == capability) {
            continue;
        }
        uses.push(CapabilityUse {
            capability,
            granted,
            detail,
        });
    }
    uses
}

/// The capability `import` belongs to, whether the grants give it, and what.
fn judge(import: &str, grants: &Grants) -> (String, bool, String) {
    let unversioned = names::unversioned(import);
    if let Some(listed) = grants.listing(unversioned) {
        return (listed.name.to_owned(), listed.granted, listed.detail);
    }
    if let Some((package, _)) = unversioned.split_once('/')
        && package.starts_with("wasi:")
    {
        return (
            package.to_owned(),
            false,
            "not provided by this host".to_owned(),
        );
    }
    let granted = grants.grants_interface(import);
    let detail = match granted {
        true => "application host interface".to_owned(),
        false => format!(
            "application host interface (grant with {})",
            Interfaces::hint(import)
        ),
    };
    (import.to_owned(), granted, detail)
}

#[cfg(test)]
mod tests {
    use super::judge;
    use crate::capability::{Grants, HttpPattern};

    fn capability_of(import: &str) -> String {
        judge(import, &Grants::none()).0
    }

    #[test]
    fn imports_group_into_capabilities() {
        for (import, capability) in [
            ("wasi:filesystem/types@0.2.6", "wasi:filesystem"),
            ("wasi:filesystem/preopens@0.2.6", "wasi:filesystem"),
            ("wasi:cli/environment@0.2.6", "wasi:cli/environment"),
            ("wasi:cli/exit@0.2.6", "wasi:cli"),
            ("wasi:sockets/tcp@0.2.6", "wasi:sockets"),
            (
                "wasi:sockets/ip-name-lookup@0.2.6",
                "wasi:sockets/ip-name-lookup",
            ),
            ("wasi:http/outgoing-handler@0.2.6", "wasi:http"),
            ("wasi:io/streams@0.2.6", "wasi:io"),
            ("wasi:keyvalue/store@0.2.0", "wasi:keyvalue"),
            ("componentry:plugin/log@0.1.0", "componentry:plugin"),
            ("acme:app/kv@1.0.0", "acme:app/kv@1.0.0"),
        ] {
            assert_eq!(capability_of(import), capability, "{import}");
        }
    }

    #[test]
    fn granted_http_hosts_show_as_granted() {
        let import = "wasi:http/outgoing-handler@0.2.6";
        assert!(!judge(import, &Grants::none()).1);
        let grants = Grants::none().allow_http(HttpPattern::parse("api.example.com").expect("ok"));
        let (_, granted, detail) = judge(import, &grants);
        assert!(granted, "{detail}");
        assert!(detail.contains("api.example.com"), "{detail}");
    }

    #[test]
    fn a_wasi_package_the_host_lacks_is_not_granted() {
        let (_, granted, detail) = judge("wasi:keyvalue/store@0.2.0", &Grants::none());
        assert!(!granted && detail.contains("not provided"), "{detail}");
    }
}
