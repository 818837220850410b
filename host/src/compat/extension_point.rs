//! Extension points: a WIT world in a versioned package that plugins target, and the check of a
//! plugin's component against it before anything is instantiated.
//!
//! A plugin built for an older minor version of the extension point still fits: what later minor
//! versions added is marked `@since(version = ...)` in the host's WIT, and is not required of it.

use std::path::Path;

use semver::Version;
use wit_component::WitPrinter;
use wit_parser::{
    Function, InterfaceId, PackageName, Resolve, Stability, WorldId, WorldItem, WorldKey,
};

use crate::compat::inspect::ComponentWorld;
use crate::error::{Error, Result};

/// A WIT world that plugins implement, parsed from WIT text or a WIT directory.
pub struct ExtensionPoint {
    resolve: Resolve,
    world: WorldId,
}

/// One way a component does not fit an extension point.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// Something the extension point requires is not exported.
    MissingExport {
        /// The export, as `name` or `pkg:name/iface@version#func`.
        name: String,
    },
    /// An export has another type than the extension point says.
    ExportSignature {
        /// The export.
        name: String,
        /// Its type in the extension point, in WIT.
        expected: String,
        /// Its type in the component, in WIT.
        found: String,
    },
    /// An import has another type than the host offers.
    ImportSignature {
        /// The import.
        name: String,
        /// Its type as the host offers it, in WIT.
        expected: String,
        /// Its type as the component imports it, in WIT.
        found: String,
    },
    /// The component targets a version of a package that the host's version does not serve.
    Version {
        /// The package, without version.
        package: String,
        /// The host's version.
        host: Version,
        /// The version the component was built against.
        plugin: Version,
    },
    /// The component imports something the extension point does not offer.
    UnexpectedImport {
        /// The import.
        name: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::MissingExport { name } => write!(f, "missing export `{name}`"),
            Problem::ExportSignature {
                name,
                expected,
                found,
            } => {
                write!(
                    f,
                    "export `{name}` has the wrong type: expected `{expected}`, found `{found}`"
                )
            }
            Problem::ImportSignature {
                name,
                expected,
                found,
            } => {
                write!(
                    f,
                    "import `{name}` has the wrong type: the host offers `{expected}`, the plugin wants `{found}`"
                )
            }
            Problem::Version {
                package,
                host,
                plugin,
            } => write!(
                f,
                "built against {package}@{plugin}, which the host's {package}@{host} does not serve \
                 (it needs the same major version, and a minor version no newer than the host's)"
            ),
            Problem::UnexpectedImport { name } => write!(
                f,
                "imports `{name}`, which the extension point does not offer"
            ),
        }
    }
}

/// Every problem found when checking a component against an extension point.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompatibilityReport {
    /// The extension point's package version the component was built against, when it shows.
    pub plugin_version: Option<Version>,
    /// What does not fit; empty when the component is compatible.
    pub problems: Vec<Problem>,
}

impl CompatibilityReport {
    /// Whether the component fits.
    pub fn is_compatible(&self) -> bool {
        self.problems.is_empty()
    }
}

impl std::fmt::Display for CompatibilityReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.problems.is_empty() {
            return write!(f, "compatible");
        }
        write!(f, "{} problem(s):", self.problems.len())?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for ExtensionPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtensionPoint")
            .field("package", &self.package().map(|p| p.to_string()))
            .field("world", &self.world_name())
            .finish()
    }
}

impl ExtensionPoint {
    /// Parses the WIT directory `dir` (with its `deps/`) and selects `world` (a name, or
    /// `pkg:name/world`; the package's only world when `None`).
    pub fn from_wit_dir(dir: impl AsRef<Path>, world: Option<&str>) -> Result<Self> {
        let dir = dir.as_ref();
        let mut resolve = Resolve::default();
        // Rendered by the resolver, whose source map gives the file, line, column and snippet
        // the error's own text leaves out.
        let (package, _) = resolve.push_path(dir).map_err(|e| Error::Config {
            path: dir.to_owned(),
            reason: resolve.render_error(&e),
        })?;
        Self::select(resolve, package, world).map_err(|reason| Error::Config {
            path: dir.to_owned(),
            reason,
        })
    }

    /// Parses WIT text (one package) and selects `world`.
    pub fn from_wit_str(wit: &str, world: Option<&str>) -> Result<Self> {
        let mut resolve = Resolve::default();
        let package = resolve
            .push_str("extension-point.wit", wit)
            .map_err(|e| Error::Config {
                path: "extension-point.wit".into(),
                reason: resolve.render_error(&e),
            })?;
        Self::select(resolve, package, world).map_err(|reason| Error::Config {
            path: "extension-point.wit".into(),
            reason,
        })
    }

    fn select(
        resolve: Resolve,
        package: wit_parser::PackageId,
        world: Option<&str>,
    ) -> std::result::Result<Self, String> {
        let world = resolve
            .select_world(&[package], world)
            .map_err(|e| format!("{e:#}"))?;
        Ok(Self { resolve, world })
    }

    /// The world's package, with its version (`acme:text@1.2.0`).
    pub fn package(&self) -> Option<&PackageName> {
        let package = self.resolve.worlds[self.world].package?;
        Some(&self.resolve.packages[package].name)
    }

    /// The world's name.
    pub fn world_name(&self) -> &str {
        &self.resolve.worlds[self.world].name
    }

    /// The version of the extension point's package that added the function `name`
    /// (`iface#func` with the interface's bare name, or a world-level function), when its WIT
    /// marks one with `@since`.
    pub fn since(&self, name: &str) -> Option<Version> {
        let world = &self.resolve.worlds[self.world];
        let stable_since = |stability: &Stability| match stability {
            Stability::Stable { since, .. } => Some(since.clone()),
            _ => None,
        };
        let (iface, func) = match name.rsplit_once('#') {
            Some((iface, func)) => (Some(iface), func),
            None => (None, name),
        };
        world
            .exports
            .iter()
            .find_map(|(key, item)| match (iface, key, item) {
                (None, WorldKey::Name(n), WorldItem::Function(f)) if n == func => {
                    stable_since(&f.stability)
                }
                (Some(wanted), _, WorldItem::Interface { id, stability, .. }) => {
                    let interface = &self.resolve.interfaces[*id];
                    let full = self.resolve.name_world_key(key);
                    let matches = interface.name.as_deref() == Some(wanted)
                        || crate::names::designates(wanted, &full);
                    if !matches {
                        return None;
                    }
                    interface
                        .functions
                        .get(func)
                        .and_then(|f| stable_since(&f.stability))
                        .or_else(|| stable_since(stability))
                }
                _ => None,
            })
    }

    /// Checks a component's world against this extension point and reports every problem.
    pub fn check(&self, component: &ComponentWorld) -> CompatibilityReport {
        let plugin = component.resolve();
        let plugin_world = &plugin.worlds[component.world_id()];
        let host_world = &self.resolve.worlds[self.world];
        let plugin_version = self.plugin_version(plugin, plugin_world);
        let mut problems = Vec::new();
        if let (Some(host), Some(found)) = (
            self.package().and_then(|p| p.version.clone()),
            &plugin_version,
        ) && !serves(&host, found)
        {
            problems.push(Problem::Version {
                package: self.package().map(unversioned).unwrap_or_default(),
                host,
                plugin: found.clone(),
            });
        }
        for (key, item) in &host_world.exports {
            if !required(item_stability(item), plugin_version.as_ref()) {
                continue;
            }
            self.check_export(
                plugin,
                plugin_world,
                key,
                item,
                plugin_version.as_ref(),
                &mut problems,
            );
        }
        for (key, item) in &plugin_world.imports {
            self.check_import(plugin, key, item, &mut problems);
        }
        CompatibilityReport {
            plugin_version,
            problems,
        }
    }

    /// The version of the extension point's package that the component was built against, as
    /// its exports or imports of that package's interfaces show.
    fn plugin_version(&self, plugin: &Resolve, world: &wit_parser::World) -> Option<Version> {
        let host_package = self.package()?;
        world
            .exports
            .keys()
            .chain(world.imports.keys())
            .filter_map(|key| match key {
                WorldKey::Interface(id) => plugin.interfaces[*id].package,
                WorldKey::Name(_) => None,
            })
            .map(|package| &plugin.packages[package].name)
            .find(|name| name.namespace == host_package.namespace && name.name == host_package.name)
            .and_then(|name| name.version.clone())
    }

    fn check_export(
        &self,
        plugin: &Resolve,
        plugin_world: &wit_parser::World,
        key: &WorldKey,
        item: &WorldItem,
        version: Option<&Version>,
        problems: &mut Vec<Problem>,
    ) {
        match (key, item) {
            (WorldKey::Name(name), WorldItem::Function(expected)) => {
                let found = plugin_world.exports.iter().find_map(|(k, i)| match (k, i) {
                    (WorldKey::Name(n), WorldItem::Function(f)) if n == name => Some(f),
                    _ => None,
                });
                match found {
                    None => problems.push(Problem::MissingExport { name: name.clone() }),
                    Some(found) => {
                        compare(&self.resolve, expected, plugin, found, name, true, problems)
                    }
                }
            }
            (_, WorldItem::Interface { id, .. }) => {
                let name = self.resolve.name_world_key(key);
                match find_interface(plugin, plugin_world.exports.keys(), &self.resolve, *id) {
                    None => problems.push(Problem::MissingExport { name }),
                    Some(found) => {
                        let found_name = plugin.id_of(found).unwrap_or_else(|| name.clone());
                        for (func_name, expected) in &self.resolve.interfaces[*id].functions {
                            if !required(&expected.stability, version) {
                                continue;
                            }
                            let full = format!("{found_name}#{func_name}");
                            match plugin.interfaces[found].functions.get(func_name) {
                                None => problems.push(Problem::MissingExport { name: full }),
                                Some(f) => compare(
                                    &self.resolve,
                                    expected,
                                    plugin,
                                    f,
                                    &full,
                                    true,
                                    problems,
                                ),
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn check_import(
        &self,
        plugin: &Resolve,
        key: &WorldKey,
        item: &WorldItem,
        problems: &mut Vec<Problem>,
    ) {
        let name = plugin.name_world_key(key);
        match (key, item) {
            (WorldKey::Interface(id), WorldItem::Interface { .. }) => {
                let Some(package) = plugin.interfaces[*id]
                    .package
                    .map(|p| &plugin.packages[p].name)
                else {
                    return;
                };
                // The host links WASI and the framework's own interfaces for every plugin.
                if package.namespace == "wasi"
                    || (package.namespace == "componentry" && package.name == "plugin")
                {
                    return;
                }
                let host_world = &self.resolve.worlds[self.world];
                let Some(host_id) =
                    find_interface(&self.resolve, host_world.imports.keys(), plugin, *id)
                else {
                    problems.push(Problem::UnexpectedImport { name });
                    return;
                };
                let host_package = self.resolve.interfaces[host_id]
                    .package
                    .map(|p| &self.resolve.packages[p].name);
                if let (Some(host), Some(wanted)) = (
                    host_package.and_then(|p| p.version.as_ref()),
                    &package.version,
                ) && !serves(host, wanted)
                {
                    problems.push(Problem::Version {
                        package: unversioned(package),
                        host: host.clone(),
                        plugin: wanted.clone(),
                    });
                    return;
                }
                for (func_name, found) in &plugin.interfaces[*id].functions {
                    let full = format!("{name}#{func_name}");
                    match self.resolve.interfaces[host_id].functions.get(func_name) {
                        None => problems.push(Problem::UnexpectedImport { name: full }),
                        Some(offered) => compare(
                            &self.resolve,
                            offered,
                            plugin,
                            found,
                            &full,
                            false,
                            problems,
                        ),
                    }
                }
            }
            (WorldKey::Name(n), WorldItem::Function(found)) => {
                let offered = self.resolve.worlds[self.world]
                    .imports
                    .iter()
                    .find_map(|(k, i)| match (k, i) {
                        (WorldKey::Name(m), WorldItem::Function(f)) if m == n => Some(f),
                        _ => None,
                    });
                match offered {
                    None => problems.push(Problem::UnexpectedImport { name }),
                    Some(offered) => compare(
                        &self.resolve,
                        offered,
                        plugin,
                        found,
                        &name,
                        false,
                        problems,
                    ),
                }
            }
            _ => {}
        }
    }
}

/// Several extension points (for example major versions 1 and 2 of one package, each with its
/// own bindings); each plugin is routed to the one it fits.
#[derive(Default, Clone)]
pub struct ExtensionPoints {
    points: Vec<std::sync::Arc<ExtensionPoint>>,
}

impl ExtensionPoints {
    /// No extension points yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an extension point.
    pub fn with(mut self, point: ExtensionPoint) -> Self {
        self.points.push(std::sync::Arc::new(point));
        self
    }

    /// The extension point `component` fits (the newest, when several do), or every report
    /// explaining why it fits none, in one [`Error::Incompatible`].
    pub fn route(
        &self,
        plugin: &str,
        component: &ComponentWorld,
    ) -> Result<std::sync::Arc<ExtensionPoint>> {
        let mut fits: Vec<&std::sync::Arc<ExtensionPoint>> = Vec::new();
        let mut reasons = Vec::new();
        for point in &self.points {
            let report = point.check(component);
            if report.is_compatible() {
                fits.push(point);
            } else {
                let target = point.package().map(|p| p.to_string()).unwrap_or_default();
                reasons.push(format!("{target}/{}: {report}", point.world_name()));
            }
        }
        fits.sort_by_key(|point| point.package().and_then(|p| p.version.clone()));
        match fits.pop() {
            Some(point) => Ok(point.clone()),
            None => Err(Error::Incompatible {
                plugin: plugin.to_owned(),
                reason: format!(
                    "it fits none of the host's extension points: {}",
                    reasons.join("; ")
                ),
                source: None,
            }),
        }
    }
}

/// Whether a host at version `host` serves a plugin built against `plugin`: the same major (for
/// 0.x, the same minor), and the host no older.
pub fn serves(host: &Version, plugin: &Version) -> bool {
    let same_line = if host.major == 0 {
        plugin.major == 0 && host.minor == plugin.minor
    } else {
        host.major == plugin.major
    };
    same_line && host >= plugin
}

fn unversioned(name: &PackageName) -> String {
    format!("{}:{}", name.namespace, name.name)
}

fn item_stability(item: &WorldItem) -> &Stability {
    const UNKNOWN: &Stability = &Stability::Unknown;
    match item {
        WorldItem::Interface { stability, .. } => stability,
        WorldItem::Function(f) => &f.stability,
        _ => UNKNOWN,
    }
}

/// Whether something with `stability` is required of a plugin built against `version`: not when
/// it arrived in a later version than the plugin's.
fn required(stability: &Stability, version: Option<&Version>) -> bool {
    match (stability, version) {
        (Stability::Stable { since, .. }, Some(version)) => since <= version,
        _ => true,
    }
}

/// The interface among `keys` (of `resolve`) that is the same interface as `wanted` of `other`:
/// same package name and interface name, any version.
fn find_interface<'a>(
    resolve: &Resolve,
    keys: impl Iterator<Item = &'a WorldKey>,
    other: &Resolve,
    wanted: InterfaceId,
) -> Option<InterfaceId> {
    let wanted_iface = &other.interfaces[wanted];
    let wanted_package = wanted_iface.package.map(|p| &other.packages[p].name)?;
    keys.filter_map(|key| match key {
        WorldKey::Interface(id) => Some(*id),
        WorldKey::Name(_) => None,
    })
    .find(|id| {
        let iface = &resolve.interfaces[*id];
        let package = iface.package.map(|p| &resolve.packages[p].name);
        iface.name == wanted_iface.name
            && package.is_some_and(|p| {
                p.namespace == wanted_package.namespace && p.name == wanted_package.name
            })
    })
}

/// Compares two functions by their WIT signatures and records a mismatch.
fn compare(
    host: &Resolve,
    expected: &Function,
    plugin: &Resolve,
    found: &Function,
    name: &str,
    export: bool,
    problems: &mut Vec<Problem>,
) {
    let expected = signature(host, expected);
    let found = signature(plugin, found);
    if expected != found {
        let name = name.to_owned();
        problems.push(if export {
            Problem::ExportSignature {
                name,
                expected,
                found,
            }
        } else {
            Problem::ImportSignature {
                name,
                expected,
                found,
            }
        });
    }
}

/// A function's type in WIT syntax: `func(name: string) -> string`, or `async func(...)` for
/// an async one (so that a sync export where an async one is expected, or the reverse, is a
/// mismatch that says which).
pub(crate) fn signature(resolve: &Resolve, func: &Function) -> String {
    let type_name = |ty: &wit_parser::Type| {
        let mut printer = WitPrinter::default();
        match printer.print_type_name(resolve, ty) {
            Ok(()) => printer.output.to_string(),
            Err(_) => "?".to_owned(),
        }
    };
    let params: Vec<String> = func
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name, type_name(&p.ty)))
        .collect();
    let keyword = if func.kind.is_async() {
        "async func"
    } else {
        "func"
    };
    let mut text = format!("{keyword}({})", params.join(", "));
    if let Some(result) = &func.result {
        text.push_str(" -> ");
        text.push_str(&type_name(result));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).expect("version")
    }

    #[test]
    fn semver_rules() {
        assert!(serves(&v("1.2.0"), &v("1.0.0")));
        assert!(serves(&v("1.2.0"), &v("1.2.0")));
        assert!(!serves(&v("1.2.0"), &v("1.3.0")));
        assert!(!serves(&v("1.2.0"), &v("2.0.0")));
        assert!(!serves(&v("2.0.0"), &v("1.9.0")));
        assert!(serves(&v("0.3.2"), &v("0.3.0")));
        assert!(!serves(&v("0.4.0"), &v("0.3.0")));
    }
}
