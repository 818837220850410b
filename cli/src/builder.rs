//! `componentry build`: builds the plugin project in a directory with its language's tool, and
//! writes `NAME.wasm` beside its `plugin.toml`, so that a built project is a plugin directory
//! `componentry watch` and `Host::load_dir` read as they are.
//!
//! Progress goes to stderr (the tools' own output too); stdout's last line is the component's
//! path. A missing tool is an error naming the command that installs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use componentry::Manifest;
use componentry_toolchain::ToolchainError;
use componentry_toolchain::c::CCompiler;
use componentry_toolchain::componentize::{Adapter, componentize};
use componentry_toolchain::rust::{Route, TARGET};
use componentry_toolchain::tools;

use crate::language::Language;

/// Why a build failed.
#[derive(Debug)]
pub enum BuildError {
    /// The directory is not a project this command can build.
    Project(String),
    /// A tool is missing or failed.
    Toolchain(ToolchainError),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Project(message) => write!(f, "{message}"),
            BuildError::Toolchain(e) => write!(f, "{e}"),
        }
    }
}

impl From<ToolchainError> for BuildError {
    fn from(error: ToolchainError) -> Self {
        BuildError::Toolchain(error)
    }
}

type Result<T> = std::result::Result<T, BuildError>;

/// What a project is: its language, its plugin's name, and the world it implements.
struct Project {
    dir: PathBuf,
    language: Language,
    name: String,
    world: String,
    /// The Python virtual environment the manifest declares, relative to `dir`.
    venv: Option<PathBuf>,
}

/// Builds the project in `dir`; returns the component's path.
pub fn build(dir: &Path) -> Result<PathBuf> {
    let started = Instant::now();
    let project = Project::read(dir)?;
    progress(&format!(
        "building {} ({}, world {})",
        project.name,
        project.language.name(),
        project.world
    ));
    let output = project.dir.join(format!("{}.wasm", project.name));
    match project.language {
        Language::Rust => build_rust(&project, &output)?,
        Language::Python => build_python(&project, &output)?,
        Language::Js => build_js(&project, &output)?,
        Language::C => build_c(&project, &output)?,
        Language::Go => build_go(&project, &output)?,
    }
    let size = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
    progress(&format!(
        "built {} ({}) in {:.1}s",
        output.display(),
        crate::progress::human_size(size),
        started.elapsed().as_secs_f64()
    ));
    Ok(output)
}

impl Project {
    fn read(dir: &Path) -> Result<Self> {
        // Absolute: the tools run in the project's directory, with paths into it.
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
        let language = Language::detect(&dir).ok_or_else(|| {
            BuildError::Project(format!(
                "{} holds no plugin project this command knows (Cargo.toml, app.py, package.json, \
                 *.c or go.mod); make one with `componentry new`",
                dir.display()
            ))
        })?;
        let manifest_path = dir.join("plugin.toml");
        let manifest = if manifest_path.is_file() {
            Some(
                Manifest::from_file(&manifest_path)
                    .map_err(|e| BuildError::Project(e.to_string()))?,
            )
        } else {
            None
        };
        let name = match &manifest {
            Some(manifest) => manifest.name.clone(),
            None => dir
                .canonicalize()
                .ok()
                .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "plugin".to_owned()),
        };
        let world = match manifest.as_ref().and_then(|m| m.build.world.clone()) {
            Some(world) => world,
            None => only_world(&dir.join("wit"))?,
        };
        let venv = manifest.as_ref().and_then(|m| m.build.venv.clone());
        if let Some(venv) = &venv
            && venv
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(BuildError::Project(format!(
                "{}: [build] venv = {:?} must be a path inside the project",
                manifest_path.display(),
                venv.display().to_string()
            )));
        }
        Ok(Self {
            dir,
            language,
            name,
            world,
            venv,
        })
    }

    fn wit(&self) -> PathBuf {
        self.dir.join("wit")
    }

    /// The world's WIT, parsed, for the bindings generators and the component metadata.
    fn resolve(&self) -> Result<(wit_parser::Resolve, wit_parser::WorldId)> {
        let mut resolve = wit_parser::Resolve::default();
        let wit = self.wit();
        let (package, _) = resolve
            .push_path(&wit)
            .map_err(|e| BuildError::Project(format!("{}: {e:#}", wit.display())))?;
        let world = resolve
            .select_world(&[package], Some(&self.world))
            .map_err(|e| BuildError::Project(format!("{}: {e:#}", wit.display())))?;
        Ok((resolve, world))
    }
}

/// The only world of the package in `wit`, as `pkg:name/world`.
fn only_world(wit: &Path) -> Result<String> {
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_path(wit)
        .map_err(|e| BuildError::Project(format!("{}: {e:#}", wit.display())))?;
    let world = resolve.select_world(&[package], None).map_err(|e| {
        BuildError::Project(format!(
            "{}: {e:#}; name the world in plugin.toml's [build] world",
            wit.display()
        ))
    })?;
    let name = &resolve.packages[package].name;
    Ok(format!(
        "{}:{}/{}",
        name.namespace, name.name, resolve.worlds[world].name
    ))
}

/// A line of progress; it may quote the project's files, so it is shown escaped.
fn progress(line: &str) {
    eprintln!("componentry: {}", crate::exit::one_line(line));
}

/// Runs a tool with its output on our stderr (stdout is for the component's path). On a
/// terminal, a spinner shows while it runs and its output is shown only if it fails.
fn run(what: &str, command: &mut Command) -> Result<()> {
    let program = command.get_program().to_owned();
    // Which tool, and from where: a project can put tools of its own on the way.
    progress(&format!(
        "running {what} ({})",
        crate::exit::one_line(&program.to_string_lossy())
    ));
    command.stdin(Stdio::null());
    let cannot_start = |e: std::io::Error| {
        BuildError::Toolchain(ToolchainError::Failed {
            what: what.to_owned(),
            detail: format!("cannot start {program:?}: {e}"),
        })
    };
    let (status, held) = if crate::progress::interactive() {
        let output = crate::progress::during(&format!("running {what}"), || command.output())
            .map_err(cannot_start)?;
        (output.status, Some(output))
    } else {
        command.stdout(stderr_stdio());
        (command.status().map_err(cannot_start)?, None)
    };
    if status.success() {
        return Ok(());
    }
    if let Some(output) = held {
        use std::io::Write as _;
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(&output.stdout);
        let _ = stderr.write_all(&output.stderr);
    }
    Err(BuildError::Toolchain(ToolchainError::Failed {
        what: what.to_owned(),
        detail: status.to_string(),
    }))
}

fn stderr_stdio() -> Stdio {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
            return Stdio::from(fd);
        }
    }
    Stdio::inherit()
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| {
        BuildError::Toolchain(ToolchainError::Io {
            path: path.to_owned(),
            source,
        })
    }
}

fn build_rust(project: &Project, output: &Path) -> Result<()> {
    let route = Route::detect()?;
    progress(&format!("with the {}", route.describe()));
    let mut command = route.cargo(&project.dir);
    command.arg("build").args(route.build_args());
    run("cargo build", &mut command)?;
    let crate_name = crate_name(&project.dir)?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project.dir.join("target"));
    let built = target_dir
        .join(TARGET)
        .join("release")
        .join(format!("{}.wasm", crate_name.replace('-', "_")));
    std::fs::copy(&built, output).map_err(io_error(&built))?;
    Ok(())
}

/// The `[package] name` of the project's Cargo.toml.
fn crate_name(dir: &Path) -> Result<String> {
    let path = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
    let manifest: toml::Table = toml::from_str(&text)
        .map_err(|e| BuildError::Project(format!("{}: {e}", path.display())))?;
    manifest
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .ok_or_else(|| BuildError::Project(format!("{}: no [package] name", path.display())))
}

fn build_python(project: &Project, output: &Path) -> Result<()> {
    // A tool inside the project runs only where the project's manifest declares its venv.
    let venv: Vec<PathBuf> = project
        .venv
        .iter()
        .map(|venv| project.dir.join(venv).join("bin"))
        .collect();
    let tool = tools::find("componentize-py", &venv).ok_or_else(|| ToolchainError::Missing {
        what: "componentize-py".to_owned(),
        install: tools::componentize_py_install(),
    })?;
    let mut command = Command::new(tool);
    command
        .current_dir(&project.dir)
        .args([
            "-d",
            "wit",
            "-w",
            &project.world,
            "componentize",
            "app",
            "-o",
        ])
        .arg(output);
    run("componentize-py", &mut command)
}

fn build_js(project: &Project, output: &Path) -> Result<()> {
    let tool = tools::find("componentize-js", &[project.dir.join("node_modules/.bin")])
        .ok_or_else(|| ToolchainError::Missing {
            what: "componentize-js".to_owned(),
            install: tools::componentize_js_install(),
        })?;
    let (resolve, world) = project.resolve()?;
    let mut command = Command::new(tool);
    command
        .current_dir(&project.dir)
        .args(["app.js", "--wit", "wit", "-n", &project.world]);
    // Without them the component imports wasi:http for `fetch`: only a world that imports
    // wasi:http keeps them.
    if !imports_package(&resolve, world, "wasi", "http") {
        command.args(["-d", "http", "-d", "fetch-event"]);
    }
    command.arg("-o").arg(output);
    run("componentize-js", &mut command)
}

/// Whether `world` imports an interface of the package `namespace:name`.
fn imports_package(
    resolve: &wit_parser::Resolve,
    world: wit_parser::WorldId,
    namespace: &str,
    name: &str,
) -> bool {
    resolve.worlds[world]
        .imports
        .values()
        .any(|item| match item {
            wit_parser::WorldItem::Interface { id, .. } => {
                resolve.interfaces[*id].package.is_some_and(|p| {
                    let package = &resolve.packages[p].name;
                    package.namespace == namespace && package.name == name
                })
            }
            _ => false,
        })
}

fn build_c(project: &Project, output: &Path) -> Result<()> {
    let compiler = CCompiler::find()?;
    let gen_dir = project.dir.join("gen");
    let generated = generate_bindings(project, &gen_dir, wit_bindgen_c::Opts::default().build())?;
    let target = project.dir.join("target");
    std::fs::create_dir_all(&target).map_err(io_error(&target))?;
    let core = target.join("core.wasm");
    let sources = c_sources(&project.dir)?;
    let mut command = compiler.command();
    command
        .current_dir(&project.dir)
        .args(["-mexec-model=reactor", "-O2", "-Wall", "-I"])
        .arg(&gen_dir)
        .arg("-o")
        .arg(&core)
        .args(&sources)
        .args(
            generated
                .iter()
                .filter(|f| f.extension().is_some_and(|e| e == "c" || e == "o")),
        );
    run("clang", &mut command)?;
    let module = std::fs::read(&core).map_err(io_error(&core))?;
    let component = componentize(&module, Adapter::Reactor)?;
    std::fs::write(output, component).map_err(io_error(output))
}

fn c_sources(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut sources: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_error(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    sources.sort();
    Ok(sources)
}

/// Runs a wit-bindgen generator for the project's world into `out`; returns the files written.
fn generate_bindings(
    project: &Project,
    out: &Path,
    mut generator: Box<dyn wit_bindgen_core::WorldGenerator>,
) -> Result<Vec<PathBuf>> {
    let mut resolve = wit_bindgen_core::wit_parser::Resolve::default();
    let wit = project.wit();
    let failed = |e: anyhow::Error| BuildError::Project(format!("{}: {e:#}", wit.display()));
    let (package, _) = resolve.push_path(&wit).map_err(failed)?;
    let world = resolve
        .select_world(&[package], Some(&project.world))
        .map_err(failed)?;
    let mut files = wit_bindgen_core::Files::default();
    generator
        .generate(&mut resolve, world, &mut files)
        .map_err(|e| BuildError::Project(format!("generating bindings: {e:#}")))?;
    progress(&format!("generated bindings in {}", out.display()));
    let mut written = Vec::new();
    for (name, bytes) in files.iter() {
        let path = out.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        std::fs::write(&path, bytes).map_err(io_error(&path))?;
        written.push(path);
    }
    Ok(written)
}

fn build_go(project: &Project, output: &Path) -> Result<()> {
    let go = tools::find("go", &[]).ok_or_else(|| ToolchainError::Missing {
        what: "Go 1.24 or later".to_owned(),
        install: "Go from https://go.dev/dl (1.24 or later: it exports functions to WebAssembly)"
            .to_owned(),
    })?;
    // The bindings, except a go.mod the project already has (it may list more modules).
    let gen_dir = project.dir.join("target/go-bindings");
    let generated = generate_bindings(project, &gen_dir, wit_bindgen_go::Opts::default().build())?;
    for file in generated {
        let Ok(relative) = file.strip_prefix(&gen_dir) else {
            continue;
        };
        let into = project.dir.join(relative);
        if relative == Path::new("go.mod") && into.exists() {
            continue;
        }
        if let Some(parent) = into.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        std::fs::copy(&file, &into).map_err(io_error(&file))?;
    }
    let core = project.dir.join("target/core.wasm");
    let mut tidy = Command::new(&go);
    tidy.current_dir(&project.dir).args(["mod", "tidy"]);
    run("go mod tidy", &mut tidy)?;
    let mut command = Command::new(&go);
    command
        .current_dir(&project.dir)
        .env("GOOS", "wasip1")
        .env("GOARCH", "wasm")
        .args(["build", "-buildmode=c-shared", "-o"])
        .arg(&core)
        .arg(".");
    run("go build", &mut command)?;
    let mut module = std::fs::read(&core).map_err(io_error(&core))?;
    let (resolve, world) = project.resolve()?;
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .map_err(|e| BuildError::Project(format!("embedding the world in the module: {e:#}")))?;
    let component = componentize(&module, Adapter::Reactor)?;
    std::fs::write(output, component).map_err(io_error(output))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_without_a_project_is_explained() {
        let dir = std::env::temp_dir();
        let err = build(&dir.join("no-such-project-here")).expect_err("nothing to build");
        assert!(err.to_string().contains("componentry new"), "{err}");
    }
}
