//! Wiring a plugin's imports: WASI and the framework's interfaces for everyone, the application's
//! host interfaces only where granted, and a clear refusal for everything else.

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre, Linker};

use crate::error::{Error, Result};
use crate::grants::Grants;
use crate::host::Host;
use crate::state::PluginState;

/// Checks the component's imports against the host and the grants, then pre-instantiates it.
pub(crate) fn instantiate_pre<T: Send + 'static>(
    host: &Host<T>,
    plugin: &str,
    grants: &Grants,
    component: &Component,
) -> Result<InstancePre<PluginState<T>>> {
    let engine = host.engine.wasmtime();
    let mut granted = Vec::new();
    for (import, item) in component.component_type().imports(engine) {
        if !matches!(item.ty, ComponentItem::ComponentInstance(_)) {
            continue;
        }
        let registered = host
            .interfaces
            .iter()
            .find(|iface| same_interface(&iface.name, import));
        if let Some(iface) = registered {
            if !grants.grants_interface(import) {
                return Err(Error::NotGranted {
                    plugin: plugin.to_owned(),
                    import: import.to_owned(),
                });
            }
            granted.push(iface);
        }
    }
    let linker: std::borrow::Cow<'_, Linker<PluginState<T>>> =
        if granted.is_empty() && !host.stub_unknown_imports {
            std::borrow::Cow::Borrowed(&*host.linker)
        } else {
            let mut linker = (*host.linker).clone();
            for iface in granted {
                (iface.link)(&mut linker)
                    .map_err(|e| Error::Engine(format!("cannot link `{}`: {e:#}", iface.name)))?;
            }
            if host.stub_unknown_imports {
                linker
                    .define_unknown_imports_as_traps(component)
                    .map_err(|e| missing_import(plugin, e))?;
            }
            std::borrow::Cow::Owned(linker)
        };
    linker
        .instantiate_pre(component)
        .map_err(|e| missing_import(plugin, e))
}

/// Whether a registered interface name and an import name are the same interface, treating a
/// name without `@version` as any version.
pub(crate) fn same_interface(registered: &str, import: &str) -> bool {
    let strip = |n: &str| n.split_once('@').map_or(n, |(name, _)| name).to_owned();
    registered == import || (!registered.contains('@') && strip(import) == registered)
}

/// Names the import that the linker could not satisfy.
fn missing_import(plugin: &str, error: wasmtime::Error) -> Error {
    let reason = format!("{error:#}");
    // wasmtime names the unsatisfied import between backquotes; keep the whole text otherwise.
    let import = reason
        .split('`')
        .nth(1)
        .map(str::to_owned)
        .unwrap_or_else(|| "?".to_owned());
    Error::MissingImport {
        plugin: plugin.to_owned(),
        import,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::same_interface;

    #[test]
    fn interface_names_match_with_and_without_versions() {
        assert!(same_interface("acme:app/kv@1.0.0", "acme:app/kv@1.0.0"));
        assert!(same_interface("acme:app/kv", "acme:app/kv@1.0.0"));
        assert!(!same_interface("acme:app/kv@1.0.0", "acme:app/kv@2.0.0"));
        assert!(!same_interface("acme:app/kv", "acme:app/kvx@1.0.0"));
    }
}
