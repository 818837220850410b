//! One typed handle over several versions of a world (`versioned_world!`): plugins built against
//! 1.0, 1.1 and 1.2 of `acme:math/ops`, and against 2.0, all called through one handle; a
//! function newer than a plugin's version is a typed `NotProvided`.

use componentry::{Error, Typed};

use crate::host;

mod v1_0 {
    ::componentry::bindgen!({ inline: "
        package acme:math@1.0.0;
        interface ops { double: func(x: u32) -> u32; }
        world plugin { export ops; }
    " });
}
mod v1_1 {
    ::componentry::bindgen!({ inline: "
        package acme:math@1.1.0;
        interface ops { double: func(x: u32) -> u32; square: func(x: u32) -> u32; }
        world plugin { export ops; }
    " });
}
mod v1_2 {
    ::componentry::bindgen!({ inline: "
        package acme:math@1.2.0;
        interface ops {
            double: func(x: u32) -> u32;
            square: func(x: u32) -> u32;
            cube: func(x: u32) -> u32;
        }
        world plugin { export ops; }
    " });
}
mod v2_0 {
    ::componentry::bindgen!({ inline: "
        package acme:math@2.0.0;
        interface ops { double: func(x: u64) -> u64; }
        world plugin { export ops; }
    " });
}

componentry::versioned_world! {
    /// `acme:math`'s plugin world, every version the application supports.
    pub enum MathPlugin {
        V1_0(v1_0::Plugin, v1_0::PluginIndices) = "1.0.0",
        V1_1(v1_1::Plugin, v1_1::PluginIndices) = "1.1.0",
        V1_2(v1_2::Plugin, v1_2::PluginIndices) = "1.2.0",
        V2_0(v2_0::Plugin, v2_0::PluginIndices) = "2.0.0",
    }
}

/// A component exporting `acme:math/ops@VERSION` with the functions `funcs` (each of `x`,
/// computed by the core instructions given), over `ty` (`u32` or `u64`).
fn plugin_at(version: &str, ty: &str, funcs: &[(&str, &str)]) -> Vec<u8> {
    let core = if ty == "u64" { "i64" } else { "i32" };
    let mut module = String::new();
    let mut lifted = String::new();
    let mut exports = String::new();
    for (name, body) in funcs {
        module.push_str(&format!(
            "(func (export \"{name}\") (param {core}) (result {core}) {body})\n"
        ));
        lifted.push_str(&format!(
            "(func ${name} (param \"x\" {ty}) (result {ty}) (canon lift (core func $m \"{name}\")))\n"
        ));
        exports.push_str(&format!("(export \"{name}\" (func ${name}))\n"));
    }
    let wat = format!(
        "(component
            (core module $M {module})
            (core instance $m (instantiate $M))
            {lifted}
            (instance $ops {exports})
            (export \"acme:math/ops@{version}\" (instance $ops))
        )"
    );
    wat::parse_str(&wat).expect("valid component")
}

const DOUBLE: (&str, &str) = ("double", "local.get 0 i32.const 2 i32.mul");
const SQUARE: (&str, &str) = ("square", "local.get 0 local.get 0 i32.mul");
const CUBE: (&str, &str) = (
    "cube",
    "local.get 0 local.get 0 i32.mul local.get 0 i32.mul",
);

fn load(name: &str, bytes: &[u8]) -> Typed<(), MathPlugin> {
    host()
        .load_bytes(name, bytes)
        .expect("load")
        .typed::<MathPlugin>()
        .expect("one of the supported versions")
}

/// What the application does with any version: `cube` where the plugin has it, else an error.
fn cube(plugin: &Typed<(), MathPlugin>, x: u32) -> componentry::Result<u32> {
    plugin.call(|world, store| match world {
        MathPlugin::V1_2(p) => p.acme_math_ops().call_cube(store, x),
        older => Err(older.not_provided("cube", "1.2.0")),
    })
}

/// `double`, which every version has, through whichever bindings serve the plugin.
fn double(plugin: &Typed<(), MathPlugin>, x: u32) -> componentry::Result<u64> {
    plugin.call(|world, store| match world {
        MathPlugin::V1_0(p) => p.acme_math_ops().call_double(store, x).map(u64::from),
        MathPlugin::V1_1(p) => p.acme_math_ops().call_double(store, x).map(u64::from),
        MathPlugin::V1_2(p) => p.acme_math_ops().call_double(store, x).map(u64::from),
        MathPlugin::V2_0(p) => p.acme_math_ops().call_double(store, u64::from(x)),
    })
}

#[test]
fn plugins_of_every_minor_version_are_called_through_one_typed_handle() {
    let v10 = load("v10", &plugin_at("1.0.0", "u32", &[DOUBLE]));
    let v11 = load("v11", &plugin_at("1.1.0", "u32", &[DOUBLE, SQUARE]));
    let v12 = load("v12", &plugin_at("1.2.0", "u32", &[DOUBLE, SQUARE, CUBE]));
    for plugin in [&v10, &v11, &v12] {
        assert_eq!(
            double(plugin, 21).expect("double"),
            42,
            "{}",
            plugin.plugin().name()
        );
    }
    // Each gets the newest bindings it provides every export of.
    let since = |plugin: &Typed<(), MathPlugin>| {
        plugin.call(|world, _| Ok(world.since())).expect("bindings")
    };
    assert_eq!(since(&v10), "1.0.0");
    assert_eq!(since(&v11), "1.1.0");
    assert_eq!(since(&v12), "1.2.0");
    assert_eq!(cube(&v12, 3).expect("cube"), 27);
}

#[test]
fn a_function_newer_than_the_plugin_is_not_provided() {
    let v10 = load("v10", &plugin_at("1.0.0", "u32", &[DOUBLE]));
    match cube(&v10, 3) {
        Err(Error::NotProvided {
            plugin,
            function,
            since,
            plugin_version,
        }) => {
            assert_eq!(plugin, "v10");
            assert_eq!(function, "cube");
            assert_eq!(since, "1.2.0");
            assert_eq!(plugin_version, "1.0.0");
        }
        other => panic!("expected NotProvided, got {other:?}"),
    }
    // Not a failure of the plugin: it keeps serving.
    assert_eq!(double(&v10, 1).expect("double"), 2);
}

#[test]
fn another_major_version_is_served_side_by_side() {
    let v2 = load(
        "v2",
        &plugin_at(
            "2.0.0",
            "u64",
            &[("double", "local.get 0 i64.const 2 i64.mul")],
        ),
    );
    assert_eq!(double(&v2, 4).expect("double"), 8);
    let v1 = load("v1", &plugin_at("1.1.0", "u32", &[DOUBLE, SQUARE]));
    assert_eq!(double(&v1, 4).expect("double"), 8);
}

#[test]
fn a_plugin_of_no_supported_version_is_refused_at_attach() {
    let v3 = host()
        .load_bytes("v3", &plugin_at("3.0.0", "u32", &[DOUBLE]))
        .expect("load");
    match v3.typed::<MathPlugin>() {
        Err(Error::Incompatible { reason, .. }) => {
            assert!(reason.contains("none of the world's versions"), "{reason}")
        }
        Err(other) => panic!("expected Incompatible, got {other}"),
        Ok(_) => panic!("a 3.0 plugin fits no supported version"),
    }
}

#[test]
fn the_typed_handle_follows_a_reload_to_another_version() {
    let plugin = host()
        .load_bytes("moving", &plugin_at("1.0.0", "u32", &[DOUBLE]))
        .expect("load");
    let typed = plugin.typed::<MathPlugin>().expect("typed");
    assert!(matches!(cube(&typed, 2), Err(Error::NotProvided { .. })));
    plugin
        .reload(&plugin_at("1.2.0", "u32", &[DOUBLE, SQUARE, CUBE]))
        .expect("reload");
    assert_eq!(cube(&typed, 2).expect("cube after the reload"), 8);
}
