//! Stub plugins for an application's own world: for each function the world exports, a stub in
//! the language's conventions (as its bindings generator names things) that fails with "not
//! implemented", and a test case that calls it with default arguments.

use wit_parser::{Function, Handle, InterfaceId, Resolve, Type, TypeDefKind, TypeOwner, WorldId};
use wit_parser::{WorldItem, WorldKey};

/// One exported function, where it lives.
struct Export<'a> {
    /// The exported interface it belongs to, or `None` for a function of the world itself.
    interface: Option<(InterfaceId, String)>,
    function: &'a Function,
}

/// One interface the world imports from the application (not WASI, not the framework's).
struct Import<'a> {
    /// Its full name, as a grant names it: `acme:app/kv@1.0.0` (or the bare name of an
    /// interface the world defines inline).
    name: String,
    /// Whether a manifest can request it: an interface of a package, not one defined inline.
    requestable: bool,
    /// Its functions, when stubs can stand in for them (no resources).
    functions: Vec<&'a Function>,
}

/// What the stub generators see of a world: its exports, in order, and what it imports from the
/// application.
pub struct World<'a> {
    resolve: &'a Resolve,
    exports: Vec<Export<'a>>,
    imports: Vec<Import<'a>>,
}

impl<'a> World<'a> {
    /// The exports of `world`; worlds exporting resources are refused (their stubs need more
    /// than a function per export).
    pub fn new(resolve: &'a Resolve, world: WorldId) -> Result<Self, String> {
        let mut exports = Vec::new();
        for (key, item) in &resolve.worlds[world].exports {
            match item {
                WorldItem::Function(function) => exports.push(Export {
                    interface: None,
                    function,
                }),
                WorldItem::Interface { id, .. } => {
                    let name = match key {
                        WorldKey::Name(name) => name.clone(),
                        WorldKey::Interface(_) => {
                            resolve.interfaces[*id].name.clone().unwrap_or_default()
                        }
                    };
                    for function in resolve.interfaces[*id].functions.values() {
                        exports.push(Export {
                            interface: Some((*id, name.clone())),
                            function,
                        });
                    }
                }
                WorldItem::Type { .. } => {}
            }
        }
        let imports = crate::stubs::application_imports_of(resolve, world)
            .into_iter()
            .map(|import| Import {
                functions: match import.has_resources {
                    true => Vec::new(),
                    false => import.interface.functions.values().collect(),
                },
                name: import.name,
                requestable: import.of_a_package,
            })
            .collect();
        let world = Self {
            resolve,
            exports,
            imports,
        };
        if let Some(export) = world
            .exports
            .iter()
            .find(|e| world.uses_resources(e.function))
        {
            return Err(format!(
                "`{}` takes or returns a resource; stubs are generated for worlds of functions \
                 and plain values only: start from a template and write the resource by hand",
                export.function.name
            ));
        }
        if world.exports.is_empty() {
            return Err("the world exports no function".to_owned());
        }
        Ok(world)
    }

    fn uses_resources(&self, function: &Function) -> bool {
        let types = function
            .params
            .iter()
            .map(|p| &p.ty)
            .chain(function.result.as_ref());
        types.into_iter().any(|ty| self.has_resource(ty))
    }

    fn has_resource(&self, ty: &Type) -> bool {
        let Type::Id(id) = ty else {
            return false;
        };
        match &self.resolve.types[*id].kind {
            TypeDefKind::Handle(_) | TypeDefKind::Resource => true,
            TypeDefKind::Record(r) => r.fields.iter().any(|f| self.has_resource(&f.ty)),
            TypeDefKind::Tuple(t) => t.types.iter().any(|t| self.has_resource(t)),
            TypeDefKind::Variant(v) => v
                .cases
                .iter()
                .flat_map(|c| &c.ty)
                .any(|t| self.has_resource(t)),
            TypeDefKind::Option(t) | TypeDefKind::List(t) | TypeDefKind::Type(t) => {
                self.has_resource(t)
            }
            TypeDefKind::Result(r) => r.ok.iter().chain(&r.err).any(|t| self.has_resource(t)),
            _ => false,
        }
    }

    /// The name a dynamic call uses for `export`: `func` or `iface#func`.
    fn call_name(&self, export: &Export<'_>) -> String {
        match &export.interface {
            Some((_, name)) => format!("{name}#{}", export.function.name),
            None => export.function.name.clone(),
        }
    }

    /// The application interfaces the world imports, as a manifest requests them.
    pub fn requested_interfaces(&self) -> Vec<&str> {
        self.imports
            .iter()
            .filter(|i| i.requestable)
            .map(|i| i.name.as_str())
            .collect()
    }

    /// A test case per export: a call with default arguments, which a stub answers with a trap;
    /// and a stub per function the world imports from the application (with a result), giving
    /// a default value.
    pub fn cases(&self) -> String {
        let mut cases = String::from(
            "# Test cases for `componentry test PLUGIN.wasm cases.toml`. Each stub traps with \"not\n\
             # implemented\" until you write it: then replace `expect-error` by `expect = 'RESULT'`.\n",
        );
        let stubs: Vec<String> = self
            .imports
            .iter()
            .flat_map(|import| {
                let interface = import.name.split('@').next().unwrap_or(&import.name);
                import.functions.iter().filter_map(move |function| {
                    let result = function.result.as_ref()?;
                    Some(format!(
                        "\"{interface}#{}\" = '{}'\n",
                        function.name,
                        self.default_wave(result)
                    ))
                })
            })
            .collect();
        if !stubs.is_empty() {
            cases.push_str(
                "\n# What the application's imports answer in these tests (WAVE); a case may give\n\
                 # its own `stubs = { ... }`.\n[stubs]\n",
            );
            cases.extend(stubs);
        }
        for export in &self.exports {
            let args: Vec<String> = export
                .function
                .params
                .iter()
                .map(|p| self.default_wave(&p.ty))
                .collect();
            cases.push_str(&format!(
                "\n[[case]]\nname = \"{}\"\ncall = '{}({})'\nexpect-error = \"trap\"\nerror-contains = \"not implemented\"\n",
                self.call_name(export),
                self.call_name(export),
                args.join(", ")
            ));
        }
        cases
    }

    /// A value of `ty` in WAVE: zeros, empty strings and lists, `none`, the first case.
    fn default_wave(&self, ty: &Type) -> String {
        match ty {
            Type::Bool => "false".into(),
            Type::U8
            | Type::U16
            | Type::U32
            | Type::U64
            | Type::S8
            | Type::S16
            | Type::S32
            | Type::S64 => "0".into(),
            Type::F32 | Type::F64 => "0.0".into(),
            Type::Char => "'a'".into(),
            Type::String => "\"\"".into(),
            Type::ErrorContext => "none".into(),
            Type::Id(id) => match &self.resolve.types[*id].kind {
                TypeDefKind::Record(r) => format!(
                    "{{{}}}",
                    r.fields
                        .iter()
                        .map(|f| format!("{}: {}", f.name, self.default_wave(&f.ty)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                TypeDefKind::Tuple(t) => format!(
                    "({})",
                    t.types
                        .iter()
                        .map(|t| self.default_wave(t))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                TypeDefKind::Variant(v) => match v.cases.first() {
                    Some(case) => match &case.ty {
                        Some(ty) => format!("{}({})", case.name, self.default_wave(ty)),
                        None => case.name.clone(),
                    },
                    None => String::new(),
                },
                TypeDefKind::Enum(e) => e.cases.first().map(|c| c.name.clone()).unwrap_or_default(),
                TypeDefKind::Flags(_) => "{}".into(),
                TypeDefKind::Option(_) => "none".into(),
                TypeDefKind::Result(r) => match &r.ok {
                    Some(ty) => format!("ok({})", self.default_wave(ty)),
                    None => "ok".into(),
                },
                TypeDefKind::List(_) => "[]".into(),
                TypeDefKind::Type(ty) => self.default_wave(ty),
                _ => String::new(),
            },
        }
    }

    /// `src/lib.rs` of a Rust plugin for the world `world` (`pkg:name/world`).
    pub fn rust(&self, world: &str) -> String {
        let mut code = format!(
            "//! A Componentry plugin for `{world}`: each export is a stub to write.\n\n\
             componentry_sdk::wit_bindgen::generate!({{\n    path: \"wit\",\n    world: \"{world}\",\n    \
             runtime_path: \"componentry_sdk::wit_bindgen::rt\",\n    generate_all,\n}});\n\n\
             struct Plugin;\n"
        );
        let mut groups: Vec<(Option<InterfaceId>, Vec<&Export<'_>>)> = Vec::new();
        for export in &self.exports {
            let id = export.interface.as_ref().map(|(id, _)| *id);
            match groups.iter_mut().find(|(g, _)| *g == id) {
                Some((_, members)) => members.push(export),
                None => groups.push((id, vec![export])),
            }
        }
        for (interface, members) in groups {
            let guest = match interface {
                Some(id) => format!("{}::Guest", self.rust_module(id, true)),
                None => "Guest".to_owned(),
            };
            code.push_str(&format!("\nimpl {guest} for Plugin {{\n"));
            for export in members {
                code.push_str(&self.rust_function(export));
            }
            code.push_str("}\n");
        }
        code.push_str("\nexport!(Plugin);\n");
        code
    }

    fn rust_function(&self, export: &Export<'_>) -> String {
        let function = export.function;
        let params: Vec<String> = function
            .params
            .iter()
            .map(|p| format!("{}: {}", rust_ident(&p.name), self.rust_type(&p.ty)))
            .collect();
        let result = function
            .result
            .as_ref()
            .map(|ty| format!(" -> {}", self.rust_type(ty)))
            .unwrap_or_default();
        let unused: Vec<String> = function
            .params
            .iter()
            .map(|p| rust_ident(&p.name))
            .collect();
        let silence = if unused.is_empty() {
            String::new()
        } else {
            format!("        let _ = ({},);\n", unused.join(", "))
        };
        // wit-bindgen makes an `async func` an `async fn` of the trait.
        let asyncness = if function.kind.is_async() {
            "async "
        } else {
            ""
        };
        format!(
            "    {asyncness}fn {}({}){result} {{\n{silence}        unimplemented!(\"{}\")\n    }}\n",
            rust_ident(&function.name),
            params.join(", "),
            self.call_name(export)
        )
    }

    /// The module path wit-bindgen gives an interface: `ns::pkg::iface`, under `exports::` when
    /// the world exports it.
    fn rust_module(&self, id: InterfaceId, exported: bool) -> String {
        let interface = &self.resolve.interfaces[id];
        let mut path = Vec::new();
        if exported {
            path.push("exports".to_owned());
        }
        if let Some(package) = interface.package {
            let name = &self.resolve.packages[package].name;
            path.push(rust_ident(&name.namespace));
            path.push(rust_ident(&name.name));
        }
        path.push(rust_ident(interface.name.as_deref().unwrap_or("interface")));
        path.join("::")
    }

    fn exported(&self, id: InterfaceId) -> bool {
        self.exports
            .iter()
            .any(|e| e.interface.as_ref().is_some_and(|(i, _)| *i == id))
    }

    /// The Rust type wit-bindgen uses for `ty` in an export's signature.
    fn rust_type(&self, ty: &Type) -> String {
        match ty {
            Type::Bool => "bool".into(),
            Type::U8 => "u8".into(),
            Type::U16 => "u16".into(),
            Type::U32 => "u32".into(),
            Type::U64 => "u64".into(),
            Type::S8 => "i8".into(),
            Type::S16 => "i16".into(),
            Type::S32 => "i32".into(),
            Type::S64 => "i64".into(),
            Type::F32 => "f32".into(),
            Type::F64 => "f64".into(),
            Type::Char => "char".into(),
            Type::String => "String".into(),
            Type::ErrorContext => "()".into(),
            Type::Id(id) => {
                let def = &self.resolve.types[*id];
                match &def.kind {
                    TypeDefKind::List(t) => format!("Vec<{}>", self.rust_type(t)),
                    TypeDefKind::Option(t) => format!("Option<{}>", self.rust_type(t)),
                    TypeDefKind::Result(r) => format!(
                        "Result<{}, {}>",
                        r.ok.as_ref().map_or("()".into(), |t| self.rust_type(t)),
                        r.err.as_ref().map_or("()".into(), |t| self.rust_type(t))
                    ),
                    TypeDefKind::Tuple(t) => format!(
                        "({},)",
                        t.types
                            .iter()
                            .map(|t| self.rust_type(t))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    TypeDefKind::Handle(Handle::Own(_) | Handle::Borrow(_)) => "()".into(),
                    TypeDefKind::Stream(t) => format!(
                        "componentry_sdk::wit_bindgen::rt::async_support::StreamReader<{}>",
                        t.as_ref().map_or("()".into(), |t| self.rust_type(t))
                    ),
                    TypeDefKind::Future(t) => format!(
                        "componentry_sdk::wit_bindgen::rt::async_support::FutureReader<{}>",
                        t.as_ref().map_or("()".into(), |t| self.rust_type(t))
                    ),
                    // Named types live where they are defined.
                    _ => {
                        let name = upper_camel(def.name.as_deref().unwrap_or("anonymous"));
                        match def.owner {
                            TypeOwner::Interface(owner) => {
                                format!("{}::{name}", self.rust_module(owner, self.exported(owner)))
                            }
                            TypeOwner::World(_) | TypeOwner::None => name,
                        }
                    }
                }
            }
        }
    }

    /// `app.py` of a Python plugin (componentize-py's conventions).
    pub fn python(&self, world: &str) -> String {
        let mut code = format!(
            "\"\"\"A Componentry plugin for `{world}`: each export is a stub to write.\"\"\"\n\n\
             import wit_world\n"
        );
        if self.exports.iter().any(|e| e.interface.is_some()) {
            code.push_str("import wit_world.exports\n");
        }
        let mut classes: Vec<(String, String, Vec<&Export<'_>>)> = Vec::new();
        for export in &self.exports {
            let (class, base) = match &export.interface {
                Some((_, name)) => (
                    upper_camel(name),
                    format!("wit_world.exports.{}", upper_camel(name)),
                ),
                None => ("WitWorld".to_owned(), "wit_world.WitWorld".to_owned()),
            };
            match classes.iter_mut().find(|(c, _, _)| *c == class) {
                Some((_, _, members)) => members.push(export),
                None => classes.push((class, base, vec![export])),
            }
        }
        for (class, base, members) in classes {
            code.push_str(&format!("\n\nclass {class}({base}):\n"));
            for (i, export) in members.iter().enumerate() {
                if i > 0 {
                    code.push('\n');
                }
                let mut params = vec!["self".to_owned()];
                params.extend(export.function.params.iter().map(|p| snake(&p.name)));
                code.push_str(&format!(
                    "    def {}({}):\n        raise NotImplementedError(\"not implemented: {}\")\n",
                    snake(&export.function.name),
                    params.join(", "),
                    self.call_name(export)
                ));
            }
        }
        code
    }

    /// `app.js` of a JavaScript plugin (componentize-js's conventions).
    pub fn js(&self, world: &str) -> String {
        let mut code =
            format!("// A Componentry plugin for `{world}`: each export is a stub to write.\n");
        let function = |export: &Export<'_>, indent: &str| {
            let params: Vec<String> = export
                .function
                .params
                .iter()
                .map(|p| lower_camel(&p.name))
                .collect();
            format!(
                "{indent}{}({}) {{\n{indent}  throw new Error('not implemented: {}');\n{indent}}}",
                lower_camel(&export.function.name),
                params.join(", "),
                self.call_name(export)
            )
        };
        let mut interfaces: Vec<(String, Vec<&Export<'_>>)> = Vec::new();
        for export in &self.exports {
            match &export.interface {
                None => code.push_str(&format!(
                    "\nexport function {}\n",
                    function(export, "").trim_start()
                )),
                Some((_, name)) => match interfaces.iter_mut().find(|(n, _)| n == name) {
                    Some((_, members)) => members.push(export),
                    None => interfaces.push((name.clone(), vec![export])),
                },
            }
        }
        for (name, members) in interfaces {
            let bodies: Vec<String> = members.iter().map(|e| function(e, "  ")).collect();
            code.push_str(&format!(
                "\nexport const {} = {{\n{},\n}};\n",
                lower_camel(&name),
                bodies.join(",\n")
            ));
        }
        code
    }
}

fn words(name: &str) -> impl Iterator<Item = &str> {
    name.split(['-', '_']).filter(|w| !w.is_empty())
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn upper_camel(name: &str) -> String {
    words(name).map(capitalize).collect()
}

fn lower_camel(name: &str) -> String {
    let camel = upper_camel(name);
    let mut chars = camel.chars();
    chars
        .next()
        .map(|first| first.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

fn snake(name: &str) -> String {
    words(name).collect::<Vec<_>>().join("_")
}

/// A kebab-case WIT name as a Rust identifier, as wit-bindgen spells it.
fn rust_ident(name: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
        "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move",
        "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true",
        "type", "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final",
        "gen", "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
    ];
    let ident = snake(name);
    if KEYWORDS.contains(&ident.as_str()) {
        format!("{ident}_")
    } else {
        ident
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIT: &str = r#"
package acme:text@1.2.0;

interface transform {
  record span { start: u32, len: u32 }
  enum mode { loud, quiet }
  upper: func(text: string) -> string;
  find-spans: func(text: string, needle: string, mode: mode) -> list<span>;
}

world transformer {
  export transform;
  export count-words: func(text: string, %type: option<u8>) -> result<u32, string>;
}
"#;

    fn world(resolve: &mut Resolve) -> WorldId {
        let package = resolve.push_str("text.wit", WIT).expect("wit");
        resolve
            .select_world(&[package], Some("transformer"))
            .expect("world")
    }

    #[test]
    fn rust_stubs_use_wit_bindgens_names_and_types() {
        let mut resolve = Resolve::default();
        let id = world(&mut resolve);
        let code = World::new(&resolve, id)
            .expect("world")
            .rust("acme:text/transformer");
        assert!(
            code.contains("impl exports::acme::text::transform::Guest for Plugin"),
            "{code}"
        );
        assert!(code.contains(
            "fn find_spans(text: String, needle: String, mode: exports::acme::text::transform::Mode) -> Vec<exports::acme::text::transform::Span>"
        ), "{code}");
        assert!(
            code.contains("fn count_words(text: String, type_: Option<u8>) -> Result<u32, String>"),
            "{code}"
        );
        assert!(
            code.contains("unimplemented!(\"transform#upper\")"),
            "{code}"
        );
        assert!(code.ends_with("export!(Plugin);\n"), "{code}");
    }

    #[test]
    fn rust_stubs_of_async_exports_are_async_and_take_streams_and_futures() {
        let mut resolve = Resolve::default();
        let package = resolve
            .push_str(
                "feed.wit",
                "package acme:feed@1.0.0;\n\
                 world feed {\n\
                   export fetch: async func(url: string) -> result<string, string>;\n\
                   export lines: async func(count: u32) -> stream<string>;\n\
                   export later: func() -> future<u32>;\n\
                 }\n",
            )
            .expect("wit");
        let id = resolve
            .select_world(&[package], Some("feed"))
            .expect("world");
        let code = World::new(&resolve, id)
            .expect("world")
            .rust("acme:feed/feed");
        assert!(
            code.contains("    async fn fetch(url: String) -> Result<String, String> {"),
            "{code}"
        );
        assert!(
            code.contains(
                "    async fn lines(count: u32) -> \
                 componentry_sdk::wit_bindgen::rt::async_support::StreamReader<String> {"
            ),
            "{code}"
        );
        assert!(
            code.contains(
                "    fn later() -> componentry_sdk::wit_bindgen::rt::async_support::FutureReader<u32> {"
            ),
            "a synchronous export stays synchronous: {code}"
        );
    }

    /// docs/plugins/rust.md shows the stubs of a world exporting `transform` with `upper`.
    #[test]
    fn the_rust_guide_shows_what_the_generator_writes() {
        let mut resolve = Resolve::default();
        let package = resolve
            .push_str(
                "text.wit",
                "package acme:text@1.0.0;\n\
                 interface transform { upper: func(text: string) -> string; }\n\
                 world transformer { export transform; }\n",
            )
            .expect("wit");
        let id = resolve
            .select_world(&[package], Some("transformer"))
            .expect("world");
        let code = World::new(&resolve, id)
            .expect("world")
            .rust("acme:text/transformer");
        let guide = include_str!("../../../docs/plugins/rust.md");
        let shown = guide
            .split("```rust,ignore\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("the guide's stub sample");
        // The generated file starts with a line of its own about the world.
        let body = code
            .split_once("\n\n")
            .map(|(_, body)| body)
            .expect("generated code");
        assert_eq!(shown, body);
    }

    #[test]
    fn python_and_js_stubs_follow_their_generators() {
        let mut resolve = Resolve::default();
        let id = world(&mut resolve);
        let world = World::new(&resolve, id).expect("world");
        let python = world.python("acme:text/transformer");
        assert!(
            python.contains("class Transform(wit_world.exports.Transform):"),
            "{python}"
        );
        assert!(
            python.contains("def find_spans(self, text, needle, mode):"),
            "{python}"
        );
        assert!(
            python.contains("class WitWorld(wit_world.WitWorld):"),
            "{python}"
        );
        let js = world.js("acme:text/transformer");
        assert!(js.contains("export const transform = {"), "{js}");
        assert!(js.contains("findSpans(text, needle, mode) {"), "{js}");
        assert!(
            js.contains("export function countWords(text, type) {"),
            "{js}"
        );
    }

    #[test]
    fn each_export_gets_a_case_with_default_arguments() {
        let mut resolve = Resolve::default();
        let id = world(&mut resolve);
        let cases = World::new(&resolve, id).expect("world").cases();
        assert!(
            cases.contains("call = 'transform#find-spans(\"\", \"\", loud)'"),
            "{cases}"
        );
        assert!(
            cases.contains("call = 'count-words(\"\", none)'"),
            "{cases}"
        );
    }

    #[test]
    fn the_applications_imports_are_requested_and_stubbed() {
        let mut resolve = Resolve::default();
        let package = resolve
            .push_str(
                "app.wit",
                "package acme:app@1.2.0;\n\
                 interface dict { lookup: func(word: string) -> option<string>; forget: func(word: string); }\n\
                 world plugin { import dict; import wasi:cli/environment@0.2.0; \
                 import inline: interface { now: func() -> u64; } export run: func() -> u32; }\n\
                 package wasi:cli@0.2.0 { interface environment { get-arguments: func() -> list<string>; } }\n",
            )
            .expect("wit");
        let id = resolve
            .select_world(&[package], Some("plugin"))
            .expect("world");
        let world = World::new(&resolve, id).expect("world");
        assert_eq!(world.requested_interfaces(), ["acme:app/dict@1.2.0"]);
        let cases = world.cases();
        assert!(
            cases.contains("[stubs]\n\"acme:app/dict#lookup\" = 'none'\n"),
            "{cases}"
        );
        assert!(
            !cases.contains("forget"),
            "no stub for a function without a result: {cases}"
        );
        assert!(cases.contains("\"inline#now\" = '0'\n"), "{cases}");
        let parsed = componentry_cases_file::CasesFile::parse(&cases, std::path::Path::new("/"))
            .expect("the generated cases parse");
        assert_eq!(parsed.stubs["acme:app/dict#lookup"], "none");
    }

    #[test]
    fn resources_are_refused_clearly() {
        let mut resolve = Resolve::default();
        let package = resolve
            .push_str(
                "r.wit",
                "package a:b; interface i { resource r; make: func() -> r; } world w { export i; }",
            )
            .expect("wit");
        let id = resolve.select_world(&[package], Some("w")).expect("world");
        let err = World::new(&resolve, id).err().expect("refused");
        assert!(err.contains("resource"), "{err}");
    }
}
