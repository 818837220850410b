//! What a component says about itself: its world (imports and exports) decoded from its bytes,
//! without compiling or running it.

use wit_component::{DecodedWasm, WitPrinter};
use wit_parser::{PackageId, Resolve, WorldId, WorldItem, WorldKey};

use crate::engine::compile;
use crate::error::{Error, Result};

/// The world of a component, decoded from its type information.
pub struct ComponentWorld {
    /// The plugin's name, for errors.
    plugin: String,
    resolve: Resolve,
    world: WorldId,
}

impl ComponentWorld {
    /// Decodes the world of the component in `bytes` (binary, or the text format). `plugin`
    /// names it in errors.
    pub fn decode(plugin: &str, bytes: &[u8]) -> Result<Self> {
        let binary = compile::component_binary(plugin, bytes)?;
        match wit_component::decode(&binary) {
            Ok(DecodedWasm::Component(resolve, world)) => Ok(Self {
                plugin: plugin.to_owned(),
                resolve,
                world,
            }),
            Ok(DecodedWasm::WitPackage(..)) => Err(Error::Incompatible {
                plugin: plugin.to_owned(),
                reason: "this is a WIT package encoded as wasm, not a component".to_owned(),
                source: None,
            }),
            Err(e) => Err(Error::Invalid {
                plugin: plugin.to_owned(),
                reason: format!("cannot decode the component's world: {e:#}"),
                source: Some(e.into()),
            }),
        }
    }

    /// Reads and decodes the component at `path`, naming it in errors after its file name.
    pub fn read(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let plugin = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let bytes = compile::read(&plugin, path)?;
        Self::decode(&plugin, &bytes)
    }

    /// The decoded definitions, for tools that walk the world themselves with wit-parser.
    pub fn resolve(&self) -> &Resolve {
        &self.resolve
    }

    /// The component's world within [`resolve`](Self::resolve).
    pub fn world_id(&self) -> WorldId {
        self.world
    }

    /// The names of what the component imports: interfaces as `pkg:name/iface@version`, and
    /// functions and types imported by the world itself by their plain name.
    pub fn imports(&self) -> Vec<String> {
        let world = &self.resolve.worlds[self.world];
        world
            .imports
            .iter()
            .filter(|(_, item)| !matches!(item, WorldItem::Type { .. }))
            .map(|(key, _)| self.resolve.name_world_key(key))
            .collect()
    }

    /// The names of what the component exports, spelled like [`imports`](Self::imports).
    pub fn exports(&self) -> Vec<String> {
        let world = &self.resolve.worlds[self.world];
        world
            .exports
            .keys()
            .map(|key: &WorldKey| self.resolve.name_world_key(key))
            .collect()
    }

    /// The world as WIT text. With `with_dependencies`, the packages of the interfaces it uses
    /// follow, so that the text is complete enough to generate bindings from.
    pub fn to_wit(&self, with_dependencies: bool) -> Result<String> {
        let world = &self.resolve.worlds[self.world];
        let Some(package) = world.package else {
            return Err(Error::Invalid {
                plugin: self.plugin.clone(),
                reason: "its decoded world has no package".to_owned(),
                source: None,
            });
        };
        let nested: Vec<PackageId> = if with_dependencies {
            self.resolve
                .packages
                .iter()
                .map(|(id, _)| id)
                .filter(|id| *id != package)
                .collect()
        } else {
            Vec::new()
        };
        let mut printer = WitPrinter::default();
        printer
            .print(&self.resolve, package, &nested)
            .map_err(|e| Error::Invalid {
                plugin: self.plugin.clone(),
                reason: format!("its world cannot be printed as WIT: {e:#}"),
                source: Some(e.into()),
            })?;
        Ok(printer.output.to_string())
    }
}
