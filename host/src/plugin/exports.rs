//! Finding a component's exported functions by the names users write: `func` for a function
//! exported by the world itself, and `iface#func` or `pkg:name/iface@version#func` for a function
//! of an exported interface.

use wasmtime::component::Type;
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{Component, ComponentExportIndex};

use crate::error::{Error, Result};

/// An exported function, resolved.
#[derive(Clone)]
pub(crate) struct ExportedFunc {
    /// The canonical name: `func` or `pkg:name/iface@version#func`.
    pub(crate) name: String,
    pub(crate) index: ComponentExportIndex,
    pub(crate) ty: ComponentFunc,
    /// Where it is in its component's export table (as [`list`] gives it).
    pub(crate) position: usize,
    /// Its parameters, named and typed, resolved once (arguments are checked against them).
    pub(crate) params: Vec<(String, Type)>,
    /// How many results it returns.
    pub(crate) results: usize,
    /// Its result types, when one of them is a stream or a future (which a dynamic call reads to
    /// its end): found once, at load, not on every call.
    pub(crate) async_results: Option<Vec<Type>>,
    /// Whether a parameter is a stream or a future, which a dynamic call opens from the list or
    /// the value the caller gives (`plugin::async_values`).
    pub(crate) async_params: bool,
}

impl ExportedFunc {
    fn new(name: String, index: ComponentExportIndex, ty: ComponentFunc, position: usize) -> Self {
        let params = ty
            .params()
            .map(|(name, ty)| (name.to_owned(), ty))
            .collect();
        let results = ty.results().len();
        let async_results =
            crate::plugin::async_values::any_in(ty.results()).then(|| ty.results().collect());
        let async_params = crate::plugin::async_values::any_in(ty.params().map(|(_, ty)| ty));
        Self {
            name,
            index,
            ty,
            position,
            params,
            results,
            async_results,
            async_params,
        }
    }

    /// What a dynamic call of it does with the streams and futures it passes and returns,
    /// holding at most `budget` bytes of what it returns.
    pub(crate) fn carried(&self, budget: usize) -> crate::plugin::async_values::CarriedValues {
        crate::plugin::async_values::CarriedValues::new(
            self.async_params.then(|| self.params.clone()),
            self.async_results.clone(),
            budget,
        )
    }

    /// The function's type in WIT syntax, for messages and listings.
    pub(crate) fn signature(&self) -> String {
        let params: Vec<String> = self
            .ty
            .params()
            .map(|(name, ty)| format!("{name}: {}", crate::compat::wit_type::describe(&ty)))
            .collect();
        let keyword = if self.ty.async_() {
            "async func"
        } else {
            "func"
        };
        let mut signature = format!("{keyword}({})", params.join(", "));
        if let Some(result) = self.ty.results().next() {
            signature.push_str(" -> ");
            signature.push_str(&crate::compat::wit_type::describe(&result));
        }
        signature
    }
}

/// Every exported function, top-level ones first, in the component's order.
pub(crate) fn list(engine: &wasmtime::Engine, component: &Component) -> Vec<ExportedFunc> {
    let ty = component.component_type();
    let mut funcs = Vec::new();
    for (name, item) in ty.exports(engine) {
        match item.ty {
            ComponentItem::ComponentFunc(func) => {
                if let Some(index) = component.get_export_index(None, name) {
                    funcs.push(ExportedFunc::new(name.to_owned(), index, func, funcs.len()));
                }
            }
            ComponentItem::ComponentInstance(instance) => {
                let Some(outer) = component.get_export_index(None, name) else {
                    continue;
                };
                for (func_name, item) in instance.exports(engine) {
                    if let ComponentItem::ComponentFunc(func) = item.ty
                        && let Some(index) = component.get_export_index(Some(&outer), func_name)
                    {
                        funcs.push(ExportedFunc::new(
                            format!("{name}#{func_name}"),
                            index,
                            func,
                            funcs.len(),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    funcs
}

/// Finds the function `wanted` among `exports` (a component's, as [`list`] gives them).
pub(crate) fn find<'a>(
    exports: &'a [ExportedFunc],
    plugin: &str,
    wanted: &str,
) -> Result<&'a ExportedFunc> {
    let candidates: Vec<&ExportedFunc> = exports
        .iter()
        .filter(|f| names_match(&f.name, wanted))
        .collect();
    match candidates.len() {
        1 => Ok(candidates[0]),
        0 => Err(Error::ExportNotFound {
            plugin: plugin.to_owned(),
            name: wanted.to_owned(),
            available: available(exports),
        }),
        _ => Err(Error::ExportNotFound {
            plugin: plugin.to_owned(),
            name: wanted.to_owned(),
            available: format!(
                "(ambiguous; name one of these in full) {}",
                candidates
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

fn available(exports: &[ExportedFunc]) -> String {
    let names: Vec<&str> = exports.iter().map(|f| f.name.as_str()).collect();
    if names.is_empty() {
        "no functions".to_owned()
    } else {
        names.join(", ")
    }
}

/// Whether the canonical export name `full` is what the user meant by `wanted`.
///
/// An interface may be written in full (`pkg:name/iface@1.0.0`), without its version
/// (`pkg:name/iface`), or by its bare name (`iface`).
fn names_match(full: &str, wanted: &str) -> bool {
    match (full.rsplit_once('#'), wanted.rsplit_once('#')) {
        (None, None) => full == wanted,
        (Some((full_iface, full_func)), Some((wanted_iface, wanted_func))) => {
            full_func == wanted_func && crate::names::designates(wanted_iface, full_iface)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::names_match;

    #[test]
    fn top_level_functions_match_by_name_only() {
        assert!(names_match("greet", "greet"));
        assert!(!names_match("greet", "greeting"));
        assert!(!names_match("acme:text/t@1.0.0#greet", "greet"));
    }

    #[test]
    fn interface_functions_match_in_every_spelling() {
        let full = "acme:text/transform@1.2.0#upper";
        assert!(names_match(full, "acme:text/transform@1.2.0#upper"));
        assert!(names_match(full, "acme:text/transform#upper"));
        assert!(names_match(full, "transform#upper"));
        assert!(!names_match(full, "acme:text/transform@1.3.0#upper"));
        assert!(!names_match(full, "text#upper"));
        assert!(!names_match(full, "transform#lower"));
    }

    #[test]
    fn unversioned_interfaces_match() {
        assert!(names_match("local:x/echo#f", "echo#f"));
        assert!(names_match("local:x/echo#f", "local:x/echo#f"));
    }
}
