//! The crate's modules form layers (docs/architecture.md): each uses only the layers below it, so
//! there are no cycles between modules. This reads every source file and checks each `crate::`
//! path against the layer order.

use std::path::{Path, PathBuf};

/// The layers, lowest first. Modules of one layer may use each other only within themselves.
const LAYERS: &[&[&str]] = &[
    &["error", "names", "text", "toml_file", "wave"],
    &["engine"],
    &["store"],
    &["capability"],
    &["compat"],
    &["plugin"],
    &["config"],
    &["host"],
    &["discovery"],
    &["serve"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn sources(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut upward = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let module = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|m| m.trim_end_matches(".rs"))
            .expect("module");
        if module == "lib" {
            continue;
        }
        let own = layer_of(module).unwrap_or_else(|| panic!("{module} is in no layer"));
        let text = std::fs::read_to_string(&file).expect("read");
        for (at, _) in text.match_indices("crate::") {
            let used: String = text[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let Some(theirs) = layer_of(&used) else {
                continue; // a re-export of the crate root, such as crate::Error in rustdoc
            };
            if theirs > own || (theirs == own && used != module && LAYERS[own].len() == 1) {
                upward.push(format!("{} uses crate::{used}", relative.display()));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "modules reaching up a layer:\n{}",
        upward.join("\n")
    );
}

/// Each kind of capability is a file of its own that knows only what every kind is
/// (`capability/kind.rs`): no kind file names the aggregate `Grants`, the registry, or another
/// kind, so adding a kind is adding a file and a line in `capability/registry.rs`.
#[test]
fn capability_kinds_know_nothing_of_the_aggregate_nor_of_each_other() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/capability");
    let mut kinds = Vec::new();
    let mut leaks = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("read capability") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        if !text.contains("impl Kind for ") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_owned();
        kinds.push(name.clone());
        // The code itself: not comments, and not the tests at the end (`use super::*`).
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let code: String = code
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for (at, _) in code.match_indices("super::") {
            let used: String = code[at + "super::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if used != "kind" {
                leaks.push(format!("{name} uses super::{used}"));
            }
        }
        for word in ["Grants", "registry", "crate::capability"] {
            if code.contains(word) {
                leaks.push(format!("{name} names {word}"));
            }
        }
    }
    assert!(kinds.len() >= 8, "the kind files: {kinds:?}");
    assert!(
        leaks.is_empty(),
        "kind files reaching past kind.rs:\n{}",
        leaks.join("\n")
    );
}

/// No file of the crate depends on itself through others: following every path a file names
/// (`crate::a::b`, `super::b`, and a `mod.rs`'s own children), from file to file, never comes
/// back. A folder's `mod.rs` is a facade (its modules and re-exports): a file inside the folder
/// names its siblings by their own path (`super::sibling::Item`), not through the facade.
#[test]
fn no_file_reaches_itself_through_others() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    // Each file as its module path: `plugin/instance.rs` is ["plugin", "instance"], and
    // `plugin/mod.rs` is ["plugin"].
    let module_of = |file: &Path| -> Vec<String> {
        let relative = file.strip_prefix(&src).expect("under src");
        let mut parts: Vec<String> = relative
            .iter()
            .filter_map(|c| c.to_str())
            .map(|c| c.trim_end_matches(".rs").to_owned())
            .collect();
        if parts.last().is_some_and(|last| last == "mod") {
            parts.pop();
        }
        parts
    };
    let modules: Vec<Vec<String>> = files.iter().map(|f| module_of(f)).collect();
    // The file a path leads to: the longest prefix of it that is a file's module.
    let resolve = |path: &[String]| -> Option<usize> {
        (1..=path.len())
            .rev()
            .find_map(|n| modules.iter().position(|m| m.as_slice() == &path[..n]))
    };
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); files.len()];
    for (from, file) in files.iter().enumerate() {
        let own = &modules[from];
        if own.is_empty() || own == &["lib"] {
            continue; // the crate root: every re-export
        }
        let text = std::fs::read_to_string(file).expect("read");
        // The code: no comments (rustdoc links are not uses), no tests (their `super` is
        // the file itself).
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let is_folder = file.ends_with("mod.rs");
        let mut targets = Vec::new();
        for (at, _) in code.match_indices("crate::") {
            if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
                continue; // `$crate::`
            }
            for path in paths_after(&code[at + "crate::".len()..]) {
                targets.push(path);
            }
        }
        // `super` of `a/b.rs` is `a`; of `a/mod.rs`, the crate root.
        let parent = &own[..own.len() - 1];
        for (at, _) in code.match_indices("super::") {
            for path in paths_after(&code[at + "super::".len()..]) {
                targets.push([parent, path.as_slice()].concat());
            }
        }
        if is_folder {
            // A facade reaches its children by their bare names.
            for child in modules
                .iter()
                .filter(|m| m.len() == own.len() + 1 && m.starts_with(own))
            {
                let name = child.last().expect("a child has a name");
                if code.contains(&format!("{name}::")) || code.contains(&format!("mod {name};")) {
                    targets.push(child.clone());
                }
            }
        }
        for target in targets {
            if let Some(to) = resolve(&target)
                && to != from
                && !edges[from].contains(&to)
            {
                edges[from].push(to);
            }
        }
    }
    // Every cycle through each file, found by a depth-first search from it.
    let name = |index: usize| modules[index].join("::");
    let mut cycles = std::collections::BTreeSet::new();
    for start in 0..files.len() {
        let mut stack = vec![(start, vec![start])];
        let mut seen = vec![false; files.len()];
        while let Some((at, trail)) = stack.pop() {
            for &next in &edges[at] {
                if next == start {
                    let mut names: Vec<String> = trail.iter().map(|&i| name(i)).collect();
                    let first = names
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, n)| *n)
                        .map(|(i, _)| i);
                    names.rotate_left(first.unwrap_or(0));
                    cycles.insert(names.join(" -> "));
                } else if !seen[next] {
                    seen[next] = true;
                    let mut longer = trail.clone();
                    longer.push(next);
                    stack.push((next, longer));
                }
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "files that reach themselves:\n{}",
        cycles.into_iter().collect::<Vec<_>>().join("\n")
    );
}

/// The paths a path prefix such as `crate::` continues with: `a::b::C` gives `[a, b, C]`, and a
/// group, `a::{b::C, D}`, gives `[a, b, C]` and `[a, D]`.
fn paths_after(text: &str) -> Vec<Vec<String>> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let name: String = text.chars().take_while(|&c| is_ident(c)).collect();
    let rest = &text[name.len()..];
    if name.is_empty() {
        let Some(group) = rest.strip_prefix('{') else {
            return Vec::new();
        };
        let mut depth = 0;
        let mut items = Vec::new();
        let mut item_start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    items.push(&group[item_start..i]);
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&group[item_start..i]);
                    item_start = i + 1;
                }
                _ => {}
            }
        }
        return items
            .into_iter()
            .flat_map(|item| paths_after(item.trim_start()))
            .collect();
    }
    match rest.strip_prefix("::") {
        Some(more) => {
            let tails = paths_after(more);
            if tails.is_empty() {
                return vec![vec![name]];
            }
            tails
                .into_iter()
                .map(|tail| [vec![name.clone()], tail].concat())
                .collect()
        }
        None => vec![vec![name]],
    }
}

/// A folder's `mod.rs` is a facade, as in wasmtime: its modules and what it re-exports of them,
/// never the home of a type or a function.
#[test]
fn every_mod_rs_is_a_facade() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut homes = Vec::new();
    for file in files.iter().filter(|f| f.ends_with("mod.rs")) {
        let text = std::fs::read_to_string(file).expect("read");
        for line in text.lines().map(str::trim_start) {
            if line.starts_with("//") {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let defines = words.iter().any(|word| {
                [
                    "fn", "struct", "enum", "impl", "impl<", "trait", "const", "static", "type",
                ]
                .contains(word)
                    || word.starts_with("impl<")
                    || word.starts_with("macro_rules!")
            });
            if defines {
                let relative = file.strip_prefix(&src).expect("under src");
                homes.push(format!("{}: {line}", relative.display()));
            }
        }
    }
    assert!(
        homes.is_empty(),
        "mod.rs files that define things:\n{}",
        homes.join("\n")
    );
}
