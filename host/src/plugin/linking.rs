//! Wiring a plugin's imports against the host's linker (built once per host): application
//! interfaces only where granted, and a typed refusal naming the import for everything else.

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre};

use crate::capability::Grants;
use crate::capability::interfaces;
use crate::error::{Error, Result};
use crate::plugin::options::Requests;
use crate::plugin::shared::HostShared;
use crate::store::PluginState;

/// Checks the component's imports against `grants` (a refusal says what is missing of who asked
/// for them, `requests`), then pre-instantiates it.
pub(crate) fn instantiate_pre<T: Send + 'static>(
    runtime: &HostShared<T>,
    plugin: &str,
    grants: &Grants,
    requests: &Requests,
    component: &Component,
) -> Result<InstancePre<PluginState<T>>> {
    interfaces::check_granted_exist(&runtime.interfaces, plugin, grants.interfaces())?;
    for import in instance_imports(runtime, component) {
        if interfaces::registered_for(&runtime.interfaces, &import).is_some()
            && !grants.grants_interface(&import)
        {
            return Err(Error::NotGranted {
                plugin: plugin.to_owned(),
                remedy: requests.remedy(&import),
                import,
            });
        }
    }
    let outcome = if runtime.stub_unknown_imports {
        let mut linker = runtime.linker.clone();
        linker
            .define_unknown_imports_as_traps(component)
            .and_then(|()| linker.instantiate_pre(component))
    } else {
        runtime.linker.instantiate_pre(component)
    };
    outcome.map_err(|error| unsatisfied(runtime, plugin, component, error))
}

/// The names of the component's instance imports (`pkg:name/iface@version`).
fn instance_imports<T>(runtime: &HostShared<T>, component: &Component) -> Vec<String> {
    let engine = runtime.engine.wasmtime();
    component
        .component_type()
        .imports(engine)
        .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentInstance(_)))
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// Explains why the linker could not satisfy the component's imports: an import the host does
/// not define (all of it, or some function of it), or else an import it defines with another
/// type. Which of the two is decided by linking again with every undefined item stubbed: that
/// links exactly when nothing but definitions was missing.
fn unsatisfied<T: Send + 'static>(
    runtime: &HostShared<T>,
    plugin: &str,
    component: &Component,
    error: wasmtime::Error,
) -> Error {
    let only_missing = {
        let mut stubbed = runtime.linker.clone();
        stubbed
            .define_unknown_imports_as_traps(component)
            .and_then(|()| stubbed.instantiate_pre(component))
            .is_ok()
    };
    // wasmtime names the import it stopped at in its outermost message; it is one of the
    // component's own import names.
    let stopped_at = error.to_string();
    let import = component
        .component_type()
        .imports(runtime.engine.wasmtime())
        .map(|(name, _)| name.to_owned())
        .find(|name| stopped_at.contains(&format!("`{name}`")));
    match (only_missing, import) {
        (true, Some(import)) => {
            let hint = interfaces::closest(&runtime.interfaces, &import)
                .map(|registered| format!("; the host registers `{registered}`"))
                .unwrap_or_default();
            Error::MissingImport {
                plugin: plugin.to_owned(),
                import,
                hint,
                source: Some(error.into()),
            }
        }
        (true, None) => Error::MissingImport {
            plugin: plugin.to_owned(),
            import: "(unnamed)".to_owned(),
            hint: String::new(),
            source: Some(error.into()),
        },
        (false, import) => Error::Incompatible {
            plugin: plugin.to_owned(),
            reason: match import {
                Some(import) => format!("it imports `{import}` with another type than the host's"),
                None => "one of its imports has another type than the host's".to_owned(),
            },
            source: Some(error.into()),
        },
    }
}
