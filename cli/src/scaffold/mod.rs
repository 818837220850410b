//! `componentry new`: a plugin project from the template of its language, ready to build, with
//! nothing that points back into Componentry's repository (the framework's WIT is copied in, and
//! for Rust the SDK is vendored until it is published).

mod stubs;

use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

use crate::language::Language;

/// The templates, one directory per language, as in `sdk-guest-templates/`.
static TEMPLATES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/assets/templates");

/// The Rust SDK, vendored into Rust projects.
const SDK_LIB: &str = include_str!("../../assets/sdk-rust/lib.rs");
const SDK_WIT: &str = include_str!("../../assets/sdk-rust/plugin.wit");

/// Why a project could not be made.
#[derive(Debug)]
pub enum ScaffoldError {
    /// The command line asks for something impossible.
    Usage(String),
    /// The application's WIT is unusable.
    Wit(String),
    /// Writing the project failed.
    Io(PathBuf, std::io::Error),
}

impl std::fmt::Display for ScaffoldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScaffoldError::Usage(message) | ScaffoldError::Wit(message) => write!(f, "{message}"),
            ScaffoldError::Io(path, e) => write!(f, "{}: {e}", path.display()),
        }
    }
}

/// An application world to target instead of the greeter.
pub struct Target<'a> {
    /// The WIT directory (or file) holding the world and what it uses.
    pub wit: &'a Path,
    /// The world: `name` or `pkg:name/world`; the package's only world when `None`.
    pub world: Option<&'a str>,
}

/// Makes the project `dir` for `language` (a WASI 0.3 plugin with async exports when
/// `asynchronous`); returns the files written, relative to `dir`.
pub fn new_project(
    language: Language,
    asynchronous: bool,
    dir: &Path,
    target: Option<Target<'_>>,
) -> Result<Vec<PathBuf>, ScaffoldError> {
    let name = project_name(dir)?;
    let template_name = language.template(asynchronous).ok_or_else(|| {
        ScaffoldError::Usage(format!(
            "`--async` makes a plugin with async exports, which only the Rust and Python \
             templates do; see docs/plugins/{}.md for where {} stands",
            language.name(),
            language.name()
        ))
    })?;
    if dir.exists() && std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_some()) {
        return Err(ScaffoldError::Usage(format!(
            "{} exists and is not empty; choose a new directory",
            dir.display()
        )));
    }
    let template = TEMPLATES
        .get_dir(template_name)
        .ok_or_else(|| ScaffoldError::Usage(format!("no template for {}", language.name())))?;
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    collect(template, Path::new(template_name), &mut files);
    for (_, text) in &mut files {
        *text = text.replace("{{name}}", &name);
    }
    match target {
        None => files.push((
            "wit/plugin.wit".into(),
            componentry::framework::FRAMEWORK_WIT.to_owned(),
        )),
        Some(target) => retarget(language, &name, target, &mut files)?,
    }
    if language == Language::Rust {
        files.extend(vendored_sdk());
    }
    let mut written = Vec::new();
    for (relative, text) in files {
        let path = dir.join(&relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ScaffoldError::Io(parent.to_owned(), e))?;
        }
        std::fs::write(&path, text).map_err(|e| ScaffoldError::Io(path.clone(), e))?;
        written.push(relative);
    }
    written.sort();
    Ok(written)
}

/// The plugin's name: the directory's own name, which must be a valid plugin name.
fn project_name(dir: &Path) -> Result<String, ScaffoldError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let valid = !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(ScaffoldError::Usage(format!(
            "`{}` is not a plugin name: use lowercase letters, digits and `-`, starting with a letter",
            componentry::escape_untrusted(&name)
        )));
    }
    Ok(name)
}

/// Every file of `dir`, with its path relative to `root`.
fn collect(dir: &Dir<'_>, root: &Path, into: &mut Vec<(PathBuf, String)>) {
    for file in dir.files() {
        if let (Ok(relative), Some(text)) = (file.path().strip_prefix(root), file.contents_utf8()) {
            into.push((project_path(relative), text.to_owned()));
        }
    }
    for sub in dir.dirs() {
        collect(sub, root, into);
    }
}

/// Where an embedded template file goes in a project: where it is in the template, with a
/// `Cargo.toml.in` (embedded under that name, see `assets/README.md`) written as `Cargo.toml`.
fn project_path(embedded: &Path) -> PathBuf {
    if embedded.file_name().is_some_and(|n| n == "Cargo.toml.in") {
        embedded.with_file_name("Cargo.toml")
    } else {
        embedded.to_owned()
    }
}

/// The Rust SDK as a crate of the project's own.
fn vendored_sdk() -> Vec<(PathBuf, String)> {
    let manifest = format!(
        "[package]\nname = \"componentry-sdk\"\nversion = \"{}\"\nedition = \"2024\"\n\
         description = \"Write Componentry plugins in Rust (vendored by `componentry new`).\"\n\
         license = \"Apache-2.0 WITH LLVM-exception\"\n\n[dependencies]\nwit-bindgen = \"0.63\"\n\n\
         [features]\n# `wit_bindgen::spawn_local`, for async exports that work on after returning.\n\
         async-spawn = [\"wit-bindgen/async-spawn\"]\n",
        env!("CARGO_PKG_VERSION")
    );
    vec![
        ("componentry-sdk/Cargo.toml".into(), manifest),
        ("componentry-sdk/src/lib.rs".into(), SDK_LIB.to_owned()),
        ("componentry-sdk/wit/plugin.wit".into(), SDK_WIT.to_owned()),
    ]
}

/// Points the project at an application's world: its WIT copied in, stubs for its exports, a
/// case per export, and a manifest naming the world.
fn retarget(
    language: Language,
    name: &str,
    target: Target<'_>,
    files: &mut Vec<(PathBuf, String)>,
) -> Result<(), ScaffoldError> {
    let source = match language {
        Language::Rust => "src/lib.rs",
        Language::Python => "app.py",
        Language::Js => "app.js",
        Language::C | Language::Go => {
            return Err(ScaffoldError::Usage(format!(
                "--world is supported for rust, python and js; for {}, start from the greeter \
                 template and adapt it",
                language.name()
            )));
        }
    };
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_path(target.wit)
        .map_err(|e| ScaffoldError::Wit(wit_error(&resolve, target.wit, &e)))?;
    let world = resolve
        .select_world(&[package], target.world)
        .map_err(|e| ScaffoldError::Wit(format!("{}: {e:#}", target.wit.display())))?;
    let package_name = &resolve.packages[resolve.worlds[world].package.unwrap_or(package)].name;
    let world_name = format!(
        "{}:{}/{}",
        package_name.namespace, package_name.name, resolve.worlds[world].name
    );
    let stubs = stubs::World::new(&resolve, world).map_err(ScaffoldError::Wit)?;
    let code = match language {
        Language::Rust => stubs.rust(&world_name),
        Language::Python => stubs.python(&world_name),
        _ => stubs.js(&world_name),
    };
    let extension_point = package_name
        .version
        .as_ref()
        .map(|v| format!("extension-point = \"{world_name}@^{v}\"\n"))
        .unwrap_or_default();
    // The application interfaces the world imports, requested (the operator's policy grants
    // them): some toolchains import the whole world, used or not.
    let requested = stubs.requested_interfaces();
    let capabilities = if requested.is_empty() {
        String::new()
    } else {
        let quoted: Vec<String> = requested.iter().map(|i| format!("\"{i}\"")).collect();
        format!("\n[capabilities]\ninterfaces = [{}]\n", quoted.join(", "))
    };
    let manifest = format!(
        "name = \"{name}\"\nversion = \"0.1.0\"\ndescription = \"A plugin for {world_name}\"\n\
         {extension_point}{capabilities}\n[settings]\n\n[build]\nworld = \"{world_name}\"\n"
    );
    let readme = format!(
        "# {name}\n\n\
         A Componentry plugin in {language} for the world `{world_name}`, whose WIT is in `wit/`.\n\
         Each export is a stub that fails with \"not implemented\": write them in `{source}`.\n\n\
         ```sh\n\
         componentry build                      # {name}.wasm, beside plugin.toml\n\
         componentry test {name}.wasm cases.toml\n\
         ```\n\n\
         `cases.toml` has a case per export, which passes while its stub fails: replace its\n\
         `expect-error` with the result the export should give.\n",
        language = match language {
            Language::Rust => "Rust",
            Language::Python => "Python",
            _ => "JavaScript",
        },
    );
    files.retain(|(path, _)| {
        path != Path::new(source)
            && path != Path::new("plugin.toml")
            && path != Path::new("cases.toml")
            && path != Path::new("README.md")
    });
    files.push((source.into(), code));
    files.push(("plugin.toml".into(), manifest));
    files.push(("cases.toml".into(), stubs.cases()));
    files.push(("README.md".into(), readme));
    copy_wit(target.wit, files)
}

/// Why the WIT at `path` could not be read, with wit-parser's file, line, column and snippet
/// (rendered from the resolver's source map, which the error's text alone leaves out).
fn wit_error(resolve: &wit_parser::Resolve, path: &Path, error: &anyhow::Error) -> String {
    format!("{}: {}", path.display(), resolve.render_error(error))
}

/// The application's WIT (a directory with its `deps/`, or one file) under `wit/`.
fn copy_wit(wit: &Path, files: &mut Vec<(PathBuf, String)>) -> Result<(), ScaffoldError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| ScaffoldError::Io(path.to_owned(), e))
    };
    if wit.is_file() {
        let name = wit
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| "world.wit".into());
        files.push((Path::new("wit").join(name), read(wit)?));
        return Ok(());
    }
    let mut pending = vec![wit.to_owned()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| ScaffoldError::Io(dir.clone(), e))?;
        for entry in entries {
            let path = entry.map_err(|e| ScaffoldError::Io(dir.clone(), e))?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "wit") {
                let relative = path.strip_prefix(wit).unwrap_or(&path);
                files.push((Path::new("wit").join(relative), read(&path)?));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_a_template() {
        for language in Language::ALL {
            let template = language.template(false).expect("every language has one");
            let dir = TEMPLATES.get_dir(template).expect("template");
            assert!(
                dir.get_file(Path::new(template).join("plugin.toml"))
                    .is_some()
            );
            assert!(
                dir.get_file(Path::new(template).join("cases.toml"))
                    .is_some()
            );
            assert!(
                dir.get_file(Path::new(template).join("README.md"))
                    .is_some(),
                "{}",
                language.name()
            );
        }
    }

    #[test]
    fn only_rust_and_python_have_an_async_template() {
        assert_eq!(Language::Rust.template(true), Some("rust-async"));
        let dir = TEMPLATES.get_dir("rust-async").expect("the async template");
        let lib = dir
            .get_file("rust-async/src/lib.rs")
            .and_then(|file| file.contents_utf8())
            .expect("its source");
        assert!(lib.contains("async fn greet"), "{lib}");
        assert_eq!(Language::Python.template(true), Some("python-async"));
        let app = TEMPLATES
            .get_dir("python-async")
            .and_then(|dir| dir.get_file("python-async/app.py"))
            .and_then(|file| file.contents_utf8())
            .expect("the Python async template");
        assert!(app.contains("async def greet"), "{app}");
        for language in [Language::Js, Language::C, Language::Go] {
            assert_eq!(language.template(true), None, "{}", language.name());
            let root = std::env::temp_dir().join(format!(
                "scaffold-async-{}-{}",
                language.name(),
                std::process::id()
            ));
            match new_project(language, true, &root.join("p"), None) {
                Err(ScaffoldError::Usage(message)) => {
                    assert!(message.contains("only the Rust and Python"), "{message}");
                }
                other => panic!("{}: expected a usage error, got {other:?}", language.name()),
            }
            assert!(!root.exists(), "nothing written");
        }
    }

    /// The files of `dir`, relative to it, with their contents.
    fn files_under(dir: &Path, root: &Path, into: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                files_under(&path, root, into);
            } else {
                let relative = path.strip_prefix(root).expect("under root").to_owned();
                into.push((relative, std::fs::read(&path).expect("read")));
            }
        }
    }

    #[test]
    fn every_template_file_is_embedded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk-guest-templates");
        let mut on_disk = Vec::new();
        files_under(&root, &root, &mut on_disk);
        let mut embedded: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        fn walk(dir: &Dir<'_>, into: &mut Vec<(PathBuf, Vec<u8>)>) {
            for file in dir.files() {
                into.push((project_path(file.path()), file.contents().to_vec()));
            }
            for sub in dir.dirs() {
                walk(sub, into);
            }
        }
        walk(&TEMPLATES, &mut embedded);
        on_disk.sort();
        embedded.sort();
        assert_eq!(
            embedded.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            on_disk.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            "cli/assets/templates must link every file of sdk-guest-templates"
        );
        assert!(
            embedded == on_disk,
            "an embedded template differs from sdk-guest-templates"
        );
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk-rust");
        assert_eq!(
            SDK_LIB,
            std::fs::read_to_string(sdk.join("src/lib.rs")).expect("sdk")
        );
        assert_eq!(
            SDK_WIT,
            std::fs::read_to_string(sdk.join("wit/plugin.wit")).expect("sdk")
        );
    }

    #[test]
    fn a_project_is_named_after_its_directory() {
        assert_eq!(
            project_name(Path::new("/tmp/my-plugin")).expect("valid"),
            "my-plugin"
        );
        assert!(project_name(Path::new("/tmp/My Plugin")).is_err());
        assert!(project_name(Path::new("/tmp/9lives")).is_err());
    }

    #[test]
    fn a_new_project_points_nowhere_else() {
        let root = std::env::temp_dir().join(format!("scaffold-test-{}", std::process::id()));
        let dir = root.join("hello");
        let written = new_project(Language::Rust, false, &dir, None).expect("project");
        assert!(written.contains(&PathBuf::from("componentry-sdk/src/lib.rs")));
        assert!(written.contains(&PathBuf::from("wit/plugin.wit")));
        for file in &written {
            let text = std::fs::read_to_string(dir.join(file)).expect("read");
            assert!(!text.contains("{{name}}"), "{}", file.display());
            assert!(
                !text.contains("../"),
                "{} points outside the project",
                file.display()
            );
        }
        assert!(
            new_project(Language::Rust, false, &dir, None).is_err(),
            "not over a full directory"
        );
        std::fs::remove_dir_all(&root).expect("cleanup");
    }
}
