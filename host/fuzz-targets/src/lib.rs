//! What each fuzz target does with its input. The fuzzers (`fuzz/`, run by `cargo xtask fuzz`)
//! call these with libFuzzer's inputs; the regression tests (`tests/corpus.rs`) replay every
//! input kept under `fuzz/corpus/` and `fuzz/regressions/` through them. Each must return,
//! whatever its input: an error is an answer, a panic or a hang is a finding.
//!
//! The inputs are those an untrusted party writes: a plugin's manifest, an operator's policy
//! (a copied one), grants TOML and grant words, a cases file, the WAVE text of a call, and components (raw
//! bytes, and components made from random WIT worlds).

use std::sync::OnceLock;

use componentry::{
    ComponentWorld, Engine, ExtensionPoint, Grants, Host, Manifest, Plugin, Policy,
    grants::DirGrant, grants::EnvGrant, grants::HttpPattern, grants::NetPattern,
};

/// A plugin manifest (`plugin.toml`).
pub fn manifest(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Manifest::parse(text, "plugin.toml");
    }
}

/// A cases file of `componentry test` (`cases.toml`), which a plugin's author writes and its
/// user runs.
pub fn cases(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = componentry_cases_file::CasesFile::parse(text, std::path::Path::new("/cases"));
    }
}

/// A host policy (`policy.toml`).
pub fn policy(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Policy::parse(text, "/nonexistent/policy.toml");
    }
}

/// A grants file, and each line as `WORD VALUE` through the grant words' parsers.
pub fn grants(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Grants::parse(text);
    for line in text.lines() {
        let (word, value) = line.split_once(' ').unwrap_or((line, ""));
        let _ = match word {
            "dir" => DirGrant::parse(value, false).map(drop),
            "dir-rw" => DirGrant::parse(value, true).map(drop),
            "env" => EnvGrant::parse(value).map(drop),
            "allow-net" | "allow-listen" => NetPattern::parse(value).map(drop),
            "allow-http" => HttpPattern::parse(value).map(drop),
            _ => Ok(()),
        };
    }
}

/// A plugin whose exports take strings, lists, scalars, options, tuples and results, for the
/// WAVE target: its core functions ignore their arguments, and its allocator traps past its one
/// page of memory.
const TYPED: &str = r#"(component
  (core module $m
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $at i32)
      (local.set $at
        (i32.and
          (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
          (i32.sub (i32.const 0) (local.get 2))))
      (global.set $next (i32.add (local.get $at) (local.get 3)))
      (if (i32.gt_u (global.get $next) (i32.const 65536)) (then unreachable))
      (local.get $at))
    (func (export "two") (param i32 i32))
    (func (export "three") (param i32 i32 i32))
    (func (export "scalars") (param i32 i64 f32 f64 i32)))
  (core instance $i (instantiate $m))
  (alias core export $i "memory" (core memory $mem))
  (alias core export $i "realloc" (core func $realloc))
  (func (export "take-string") (param "s" string)
    (canon lift (core func $i "two") (memory $mem) (realloc $realloc)))
  (func (export "take-list") (param "l" (list u32))
    (canon lift (core func $i "two") (memory $mem) (realloc $realloc)))
  (func (export "take-strings") (param "l" (list string))
    (canon lift (core func $i "two") (memory $mem) (realloc $realloc)))
  (func (export "take-option") (param "o" (option string))
    (canon lift (core func $i "three") (memory $mem) (realloc $realloc)))
  (func (export "take-tuple") (param "t" (tuple u8 string))
    (canon lift (core func $i "three") (memory $mem) (realloc $realloc)))
  (func (export "take-result") (param "r" (result u32 (error string)))
    (canon lift (core func $i "three") (memory $mem) (realloc $realloc)))
  (func (export "take-scalars")
    (param "b" bool) (param "n" u64) (param "f" f32) (param "d" f64) (param "c" char)
    (canon lift (core func $i "scalars")))
)"#;

fn host() -> &'static Host<()> {
    static HOST: OnceLock<Host<()>> = OnceLock::new();
    HOST.get_or_init(|| {
        // Fuzzed bytes are compiled afresh: no cache on disk fills up with them.
        let engine = Engine::builder().no_cache().build().expect("an engine");
        Host::new(&engine).expect("a host")
    })
}

fn typed() -> &'static Plugin<()> {
    static PLUGIN: OnceLock<Plugin<()>> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        host()
            .load_bytes("typed", TYPED.as_bytes())
            .expect("the typed fuzz plugin loads")
    })
}

/// The text of a call (`take-string("x")`), parsed and, when it parses, made.
pub fn wave(data: &[u8]) {
    if let Ok(call) = std::str::from_utf8(data) {
        let _ = typed().invoke(call);
    }
}

/// Raw bytes as a component: loaded (compiled), and inspected as `componentry inspect` does.
pub fn component(data: &[u8]) {
    if let Ok(world) = ComponentWorld::decode("fuzzed", data) {
        let _ = world.to_wit(true);
    }
    let _ = host().load_bytes("fuzzed", data);
}

/// A component made for a random WIT world (wit-smith), loaded, inspected, and checked against
/// the extension point its own WIT describes, as `load`, `inspect` and `check` do.
pub fn wit_component(data: &[u8]) {
    let mut input = arbitrary::Unstructured::new(data);
    let Ok(config) = input.arbitrary::<wit_smith::Config>() else {
        return;
    };
    let Ok(encoded) = wit_smith::smith(&config, &mut input) else {
        return;
    };
    let Some(bytes) = component_for(&encoded) else {
        return;
    };
    component(&bytes);
    let Ok(world) = ComponentWorld::decode("fuzzed", &bytes) else {
        return;
    };
    if let Ok(wit) = world.to_wit(true)
        && let Ok(point) = ExtensionPoint::from_wit_str(&wit, None)
    {
        let _ = point.check(&world);
    }
}

/// A component of the first world of the encoded WIT package, made with a dummy core module.
fn component_for(encoded: &[u8]) -> Option<Vec<u8>> {
    let wit_component::DecodedWasm::WitPackage(resolve, package) =
        wit_component::decode(encoded).ok()?
    else {
        return None;
    };
    let world = *resolve.packages[package].worlds.values().next()?;
    let mut module =
        wit_component::dummy_module(&resolve, world, wit_parser::ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .ok()?;
    wit_component::ComponentEncoder::default()
        .module(&module)
        .ok()?
        .validate(true)
        .encode()
        .ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_wave_targets_plugin_takes_every_kind_of_argument() {
        for call in [
            r#"take-string("x")"#,
            "take-list([1, 2])",
            r#"take-strings(["a"])"#,
            r#"take-option(some("o"))"#,
            r#"take-tuple((1, "t"))"#,
            r#"take-result(err("e"))"#,
            "take-scalars(true, 1, 1.5, 2.5, 'c')",
        ] {
            super::typed()
                .invoke(call)
                .unwrap_or_else(|e| panic!("{call}: {e}"));
        }
        // A list too large for its one page of memory traps in its allocator: an error.
        let many = format!(
            "take-strings([{}])",
            vec!["\"abcdefgh\""; 20_000].join(", ")
        );
        assert!(super::typed().invoke(&many).is_err());
    }

    #[test]
    fn random_worlds_make_components() {
        let made = (0..64u8)
            .filter(|seed| {
                let data: Vec<u8> = (0..2048u32)
                    .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 ^ seed)
                    .collect();
                let mut input = arbitrary::Unstructured::new(&data);
                let config = input.arbitrary::<wit_smith::Config>();
                config
                    .ok()
                    .and_then(|c| wit_smith::smith(&c, &mut input).ok())
                    .and_then(|encoded| super::component_for(&encoded))
                    .is_some()
            })
            .count();
        assert!(made > 0, "wit-smith's worlds never made a component");
    }
}
