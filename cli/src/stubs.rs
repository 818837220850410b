//! Stubs for the application's imports: canned results (WAVE) that stand in for an
//! application's host interfaces, so that `test`, `run` and `watch` can load a plugin without its
//! application. Keys are `interface#function`, the interface written in full (its version
//! optional) or by its bare name; the form is a cases file's `[stubs]` table.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, RwLock};

use componentry::bindings::{Linker, LinkerInstance};
use componentry::{ComponentWorld, HostBuilder, PluginState, Val};

use crate::exit::Failure;

/// A stubbed function: its interface, as the component imports it, and its name.
type Function = (String, String);

/// The stubbed imports of one or more plugins and their canned results, which may be replaced
/// between calls (a case of a cases file may bring its own).
#[derive(Clone)]
pub struct Stubs {
    imports: Arc<Vec<Stubbed>>,
    /// Interfaces imported from the application that stubs cannot stand in for (resources).
    unstubbable: Arc<Vec<String>>,
    canned: Arc<RwLock<BTreeMap<Function, String>>>,
    /// The unused keys already warned about.
    warned: Arc<Mutex<BTreeSet<String>>>,
}

/// One imported interface the host does not provide, and its functions.
struct Stubbed {
    /// As the component imports it: `acme:app/kv@1.0.0`.
    interface: String,
    functions: Vec<String>,
}

impl Stubs {
    /// Stubs for the application imports of every component of `worlds` (an interface several
    /// import is stubbed with every function any of them imports), answering nothing yet.
    pub fn for_worlds(worlds: &[ComponentWorld]) -> Self {
        let mut imports: Vec<Stubbed> = Vec::new();
        let mut unstubbable = Vec::new();
        for world in worlds {
            let (stubbable, resources) = application_imports(world);
            unstubbable.extend(resources);
            for import in stubbable {
                match imports
                    .iter_mut()
                    .find(|known| known.interface == import.interface)
                {
                    Some(known) => {
                        for function in import.functions {
                            if !known.functions.contains(&function) {
                                known.functions.push(function);
                            }
                        }
                    }
                    None => imports.push(import),
                }
            }
        }
        Self {
            imports: Arc::new(imports),
            unstubbable: Arc::new(unstubbable),
            canned: Arc::default(),
            warned: Arc::default(),
        }
    }

    /// The interfaces stubbed, as the components import them.
    pub fn interfaces(&self) -> impl Iterator<Item = &str> {
        self.imports.iter().map(|import| import.interface.as_str())
    }

    /// Answers with `tables` from now on, a later table's stub of a function over an earlier
    /// one's (a case's over its file's), whichever spelling each key uses. Refused (exit 2): a
    /// key naming no function the plugins import of an interface they import (a misspelt
    /// function or version), an interface with resources, two keys of one table for one
    /// function, or a key that is not a WIT name. A well-formed key of an interface the plugins
    /// do not import at all is warned about once and left unused: stubs are written for a
    /// world, and a toolchain may leave out the imports a plugin does not use.
    pub fn answer(&self, tables: &[&BTreeMap<String, String>]) -> Result<(), Failure> {
        let mut canned = BTreeMap::new();
        for table in tables {
            canned.extend(self.resolve(table)?);
        }
        *self
            .canned
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = canned;
        Ok(())
    }

    /// The functions `table`'s keys stub (see [`answer`](Self::answer)).
    pub fn resolve(
        &self,
        table: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<Function, String>, Failure> {
        let mut resolved: BTreeMap<Function, (String, String)> = BTreeMap::new();
        for (key, value) in table {
            let Some(function) = self.function_of(key)? else {
                continue;
            };
            if let Some((other, _)) = resolved.get(&function) {
                return Err(Failure::Usage(format!(
                    "[stubs] `{other}` and `{key}` both stub `{}#{}`: keep one",
                    function.0, function.1
                )));
            }
            resolved.insert(function, (key.clone(), value.clone()));
        }
        Ok(resolved
            .into_iter()
            .map(|(function, (_, value))| (function, value))
            .collect())
    }

    /// The function `key` stubs; `None` for a well-formed key of an interface not imported.
    fn function_of(&self, key: &str) -> Result<Option<Function>, Failure> {
        for import in self.imports.iter() {
            if let Some(function) = import
                .functions
                .iter()
                .find(|f| key_names(key, &import.interface, f))
            {
                return Ok(Some((import.interface.clone(), function.clone())));
            }
        }
        let wanted = key.rsplit_once('#').map(|(wanted, _)| wanted);
        // The interface without the version the key gives: a wrong version is a mistake.
        let unversioned = wanted.map(|w| w.split('@').next().unwrap_or(w));
        let names = |interface: &str| {
            unversioned.is_some_and(|w| componentry::naming::designates(w, interface))
        };
        if let Some(interface) = self.unstubbable.iter().find(|i| names(i)) {
            return Err(Failure::Usage(format!(
                "[stubs] `{key}`: `{interface}` has resources, which stubs cannot stand in for"
            )));
        }
        if !self.imports.iter().any(|import| names(&import.interface)) && well_formed(key) {
            let mut warned = self
                .warned
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if warned.insert(key.to_owned()) {
                eprintln!(
                    "componentry: warning: [stubs] `{key}`: the plugin does not import that \
                     interface; the stub is unused"
                );
            }
            return Ok(None);
        }
        let available: Vec<String> = self
            .imports
            .iter()
            .flat_map(|s| {
                s.functions
                    .iter()
                    .map(move |f| format!("{}#{f}", s.interface))
            })
            .collect();
        Err(Failure::Usage(format!(
            "[stubs] `{key}` is not a function the plugin imports from the application; it \
             imports: {}",
            if available.is_empty() {
                "none".to_owned()
            } else {
                available.join(", ")
            }
        )))
    }

    /// Registers the stubbed interfaces with `host` as the application's own, so that a plugin
    /// imports them only where granted (`run` and `watch` grant them with the stubs); an
    /// interface imported by a bare name (not `pkg:name/iface`) is linked for every plugin.
    pub fn register<T: Send + 'static>(
        &self,
        mut host: HostBuilder<T>,
    ) -> componentry::Result<HostBuilder<T>> {
        for import in self.imports.iter() {
            let stubs = self.clone();
            let interface = import.interface.clone();
            host = if interface.contains(':') {
                host.interface(interface.clone(), move |instance| {
                    stubs.define(instance, &interface)
                })?
            } else {
                host.link(move |linker| {
                    stubs.define(&mut linker.instance(&interface)?, &interface)
                })?
            };
        }
        Ok(host)
    }

    /// Defines every function of the stubbed interfaces in `linker`, for every plugin.
    pub fn link<T: Send + 'static>(
        &self,
        linker: &mut Linker<PluginState<T>>,
    ) -> componentry::bindings::Result<()> {
        for import in self.imports.iter() {
            self.define(&mut linker.instance(&import.interface)?, &import.interface)?;
        }
        Ok(())
    }

    /// Defines the functions of the stubbed `interface` in `instance`: the canned result when
    /// there is one, nothing for a function without a result, and a trap naming the missing
    /// stub otherwise.
    fn define<T: Send + 'static>(
        &self,
        instance: &mut LinkerInstance<'_, PluginState<T>>,
        interface: &str,
    ) -> componentry::bindings::Result<()> {
        let Some(import) = self.imports.iter().find(|i| i.interface == interface) else {
            return Ok(());
        };
        for function in &import.functions {
            let canned = Arc::clone(&self.canned);
            let stubbed: Function = (interface.to_owned(), function.clone());
            instance.func_new(function, move |_store, ty, _params, results| {
                let Some(result_ty) = ty.results().next() else {
                    return Ok(());
                };
                let key = format!("{}#{}", stubbed.0, stubbed.1);
                let canned = canned
                    .read()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let Some(text) = canned.get(&stubbed) else {
                    componentry::bindings::bail!(
                        "the plugin called `{key}`, which has no stub: give it a result in \
                         [stubs]"
                    );
                };
                let Some(slot) = results.first_mut() else {
                    return Ok(());
                };
                *slot = Val::from_wave(&result_ty, text).map_err(|e| {
                    componentry::bindings::format_err!(
                        "the stub for `{key}` is not valid WAVE for its type: {e}"
                    )
                })?;
                Ok(())
            })?;
        }
        Ok(())
    }
}

/// One interface a world imports from the application (neither WASI nor the framework's).
pub struct ApplicationImport<'a> {
    /// As the world imports it: `acme:app/kv@1.0.0`, or an inline interface's bare name.
    pub name: String,
    /// Whether it is imported as an interface of a package (not defined inline).
    pub of_a_package: bool,
    /// The interface.
    pub interface: &'a wit_parser::Interface,
    /// Whether it has resources, which stubs cannot stand in for.
    pub has_resources: bool,
}

/// The interfaces `world` of `resolve` imports from the application, in order.
pub fn application_imports_of(
    resolve: &wit_parser::Resolve,
    world: wit_parser::WorldId,
) -> Vec<ApplicationImport<'_>> {
    resolve.worlds[world]
        .imports
        .iter()
        .filter_map(|(key, item)| {
            let wit_parser::WorldItem::Interface { id, .. } = item else {
                return None;
            };
            let name = resolve.name_world_key(key);
            if name.starts_with("wasi:") || name.starts_with("componentry:plugin/") {
                return None;
            }
            let interface = &resolve.interfaces[*id];
            let has_resources = interface
                .types
                .values()
                .any(|ty| matches!(resolve.types[*ty].kind, wit_parser::TypeDefKind::Resource));
            Some(ApplicationImport {
                name,
                of_a_package: matches!(key, wit_parser::WorldKey::Interface(_)),
                interface,
                has_resources,
            })
        })
        .collect()
}

/// The component's application imports: those stubs can stand in for, and the names of those
/// they cannot (interfaces with resources), which are left for the load to report.
fn application_imports(world: &ComponentWorld) -> (Vec<Stubbed>, Vec<String>) {
    let mut stubbed = Vec::new();
    let mut unstubbable = Vec::new();
    for import in application_imports_of(world.resolve(), world.world_id()) {
        if import.has_resources {
            unstubbable.push(import.name);
            continue;
        }
        stubbed.push(Stubbed {
            interface: import.name,
            functions: import.interface.functions.keys().cloned().collect(),
        });
    }
    (stubbed, unstubbable)
}

/// Whether `key` is spelled as a stub key: `iface#function` or `ns:pkg/iface[@version]#function`,
/// in WIT's kebab-case. Anything else is a mistake worth stopping for.
fn well_formed(key: &str) -> bool {
    let kebab = |text: &str| {
        !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let Some((interface, function)) = key.rsplit_once('#') else {
        return false;
    };
    let (path, version) = match interface.split_once('@') {
        Some((path, version)) => (path, Some(version)),
        None => (interface, None),
    };
    let version_ok = version.is_none_or(|v| {
        !v.is_empty()
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".+-".contains(c))
    });
    let path_ok = match path.split_once(':') {
        Some((namespace, rest)) => {
            kebab(namespace)
                && rest
                    .split_once('/')
                    .is_some_and(|(p, i)| kebab(p) && kebab(i))
        }
        None => kebab(path),
    };
    kebab(function) && path_ok && version_ok
}

/// Whether the stub key `key` (`interface#function`, the interface written in full, without
/// its version, or by its bare name) names `function` of `interface`.
fn key_names(key: &str, interface: &str, function: &str) -> bool {
    let Some((wanted, wanted_function)) = key.rsplit_once('#') else {
        return false;
    };
    wanted_function == function && componentry::naming::designates(wanted, interface)
}

#[cfg(test)]
mod tests {
    use super::{key_names, well_formed};

    #[test]
    fn stub_keys_are_spelled_as_wit_names() {
        assert!(well_formed("kv#get"));
        assert!(well_formed("acme:app/kv#get-all"));
        assert!(well_formed("acme:app/kv@1.0.0-rc.1#get"));
        assert!(!well_formed("kv"));
        assert!(!well_formed("kv#"));
        assert!(!well_formed("acme:app#get"));
        assert!(!well_formed("\u{1b}[2J#f"));
        assert!(!well_formed("kv\n#get"));
    }

    #[test]
    fn stubs_name_functions_in_every_spelling() {
        let iface = "acme:app/kv@1.0.0";
        assert!(key_names("acme:app/kv@1.0.0#get", iface, "get"));
        assert!(key_names("acme:app/kv#get", iface, "get"));
        assert!(key_names("kv#get", iface, "get"));
        assert!(!key_names("kv#set", iface, "get"));
        assert!(!key_names("get", iface, "get"));
        assert!(!key_names("acme:app/kv@2.0.0#get", iface, "get"));
    }
}
