//! What a component can ask for, read from its imports, set beside what it is granted, so that an
//! operator sees what a plugin could do before running it.

use crate::capability::{Grants, Output};
use crate::compat::inspect::ComponentWorld;

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
pub fn capabilities(world: &ComponentWorld, grants: &Grants) -> Vec<CapabilityUse> {
    let mut uses: Vec<CapabilityUse> = Vec::new();
    for import in world.imports() {
        let capability = capability_of(&import);
        if uses.iter().any(|u| u.capability == capability) {
            continue;
        }
        let (granted, detail) = judge(&capability, &import, grants);
        uses.push(CapabilityUse {
            capability,
            granted,
            detail,
        });
    }
    uses
}

/// The capability an import belongs to.
fn capability_of(import: &str) -> String {
    let unversioned = import.split_once('@').map_or(import, |(name, _)| name);
    match unversioned.split_once('/') {
        Some(("wasi:cli", _)) | Some(("wasi:sockets", "ip-name-lookup")) => unversioned.to_owned(),
        Some((package, _)) if package.starts_with("wasi:") || package == "componentry:plugin" => {
            package.to_owned()
        }
        _ => import.to_owned(),
    }
}

fn list_or(items: Vec<String>, none: &str) -> (bool, String) {
    if items.is_empty() {
        (false, none.to_owned())
    } else {
        (true, items.join(", "))
    }
}

fn output(output: Output) -> String {
    match output {
        Output::Log => "into the host's log".to_owned(),
        Output::Inherit => "inherited".to_owned(),
        Output::Discard => "discarded".to_owned(),
    }
}

fn judge(capability: &str, import: &str, grants: &Grants) -> (bool, String) {
    let (stdout, stderr) = grants.outputs();
    match capability {
        "wasi:filesystem" => list_or(
            grants.dirs().iter().map(|d| d.describe()).collect(),
            "no directories (grant one with --dir HOST[::GUEST] or --dir-rw)",
        ),
        "wasi:sockets" => list_or(
            grants.net().iter().map(|p| p.to_string()).collect(),
            "no addresses (grant with --allow-net HOST:PORT)",
        ),
        "wasi:sockets/ip-name-lookup" if grants.name_lookup() => (true, "name lookup".to_owned()),
        "wasi:sockets/ip-name-lookup" => (
            false,
            "no name lookup (grant with --allow-name-lookup)".to_owned(),
        ),
        "wasi:cli/environment" => list_or(
            grants.env_names().into_iter().map(str::to_owned).collect(),
            "no environment variables (grant with --env NAME or --env NAME=VALUE)",
        ),
        "wasi:cli/stdin" if grants.stdin_inherited() => (true, "the host's stdin".to_owned()),
        "wasi:cli/stdin" => (false, "stdin is closed (grant with --stdin)".to_owned()),
        "wasi:cli/stdout" => (true, output(stdout)),
        "wasi:cli/stderr" => (true, output(stderr)),
        "wasi:clocks" | "wasi:random" => match grants.deterministic_seed() {
            Some(seed) => (true, format!("deterministic (seed {seed}, virtual clocks)")),
            None => (true, "the host's".to_owned()),
        },
        "wasi:http" => (
            false,
            "outbound HTTP is not available to this plugin".to_owned(),
        ),
        c if c.starts_with("wasi:") || c == "componentry:plugin" => {
            (true, "always available".to_owned())
        }
        _ if grants.grants_interface(import) => (true, "application host interface".to_owned()),
        _ => (
            false,
            format!("application host interface (grant with interfaces = [\"{import}\"])"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::capability_of;

    #[test]
    fn imports_group_into_capabilities() {
        assert_eq!(
            capability_of("wasi:filesystem/types@0.2.6"),
            "wasi:filesystem"
        );
        assert_eq!(
            capability_of("wasi:filesystem/preopens@0.2.6"),
            "wasi:filesystem"
        );
        assert_eq!(
            capability_of("wasi:cli/environment@0.2.6"),
            "wasi:cli/environment"
        );
        assert_eq!(capability_of("wasi:sockets/tcp@0.2.6"), "wasi:sockets");
        assert_eq!(
            capability_of("wasi:sockets/ip-name-lookup@0.2.6"),
            "wasi:sockets/ip-name-lookup"
        );
        assert_eq!(
            capability_of("componentry:plugin/log@0.1.0"),
            "componentry:plugin"
        );
        assert_eq!(capability_of("acme:app/kv@1.0.0"), "acme:app/kv@1.0.0");
    }
}
