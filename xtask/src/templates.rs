//! The cross-language templates, built the way a plugin author builds them: `componentry new`
//! in a temporary directory, then `componentry build`, with each language's toolchain set up by
//! xtask itself (the Python and JavaScript tools installed once under `target/tools/`).
//!
//! What is built lands in `target/templates/`: per language, the greeter template's component
//! and cases file (`LANG/greeter-LANG.wasm`), and for Rust, Python and JavaScript a project
//! generated for an application's own world (`LANG-stubs/transformer-LANG.wasm`); the async
//! templates (`componentry new rust|python --async`) in `LANG-async/greeter-LANG-async.wasm`;
//! `languages.txt` lists what was built, for the conformance tests. `proxies/` holds standard
//! HTTP handlers built by componentize-js (a fetch-event script) and componentize-py (an
//! incoming-handler) from `xtask/fixtures/proxies`. (Crate names differ from
//! every guest's: Rust templates share the guests' target directory.)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use componentry_toolchain::tools::{COMPONENTIZE_JS_VERSION, COMPONENTIZE_PY_VERSION, JCO_VERSION};

use crate::step;

/// The languages whose toolchains xtask sets up on any machine of this kind.
const ALWAYS: &[&str] = &["rust", "python", "js", "c"];
/// Languages built for an application's world too.
const WITH_STUBS: &[&str] = &["rust", "python", "js"];

/// Builds every template it can; returns `target/templates`.
pub fn build_all(root: &Path, guest_target: &Path) -> anyhow::Result<PathBuf> {
    let started = Instant::now();
    println!("==> templates: from `componentry new`, built with `componentry build`");
    step::run(
        "build the CLI",
        step::command(step::cargo(), root).args(["build", "--quiet", "-p", "componentry-cli"]),
    )?;
    let cli = root.join("target/debug/componentry");
    let path = plugin_toolchains(root)?;
    let mut languages: Vec<&str> = ALWAYS.to_vec();
    match go_unavailable() {
        None => languages.push("go"),
        Some(why) => println!("    go: {why}; the Go template is documented, not built"),
    }
    let out = root.join("target/templates");
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("clearing {}", out.display()))?;
    }
    let work = tempfile::tempdir().context("a temporary directory")?;
    let fixture = root.join("xtask/fixtures/transformer");
    for language in &languages {
        let project = work.path().join(format!("greeter-{language}"));
        make_and_build(
            &cli,
            &path,
            guest_target,
            language,
            &project,
            Flavour::Greeter,
        )?;
        publish(
            &project,
            &format!("greeter-{language}"),
            &out.join(language),
            false,
        )?;
        if WITH_STUBS.contains(language) {
            let project = work.path().join(format!("transformer-{language}"));
            make_and_build(
                &cli,
                &path,
                guest_target,
                language,
                &project,
                Flavour::Stubs(&fixture),
            )?;
            publish(
                &project,
                &format!("transformer-{language}"),
                &out.join(format!("{language}-stubs")),
                true,
            )?;
        }
    }
    // The templates of plugins with async exports: Rust (WASI 0.3, `wasip3`'s clock) and Python
    // (an `async def`, built by componentize-py with the async ABI).
    for language in ["rust", "python"] {
        let name = format!("greeter-{language}-async");
        let project = work.path().join(&name);
        make_and_build(
            &cli,
            &path,
            guest_target,
            language,
            &project,
            Flavour::Asynchronous,
        )?;
        publish(
            &project,
            &name,
            &out.join(format!("{language}-async")),
            false,
        )?;
    }
    // Standard HTTP handlers from other projects' tooling (componentize-js's fetch event,
    // componentize-py's incoming-handler), for the tests of `componentry serve`.
    let proxies = root.join("xtask/fixtures/proxies");
    for (language, name) in [("js", "hello-js-proxy"), ("python", "hello-py-proxy")] {
        let project = work.path().join(name);
        copy_dir(&proxies.join(language), &project)?;
        copy_dir(&proxies.join("wit"), &project.join("wit"))?;
        step::run(
            &format!("componentry build {name} (a wasi:http/proxy handler)"),
            Command::new(&cli)
                .arg("build")
                .arg(&project)
                .env("PATH", &path)
                .stdout(std::process::Stdio::null()),
        )?;
        std::fs::create_dir_all(out.join("proxies"))?;
        std::fs::copy(
            project.join(format!("{name}.wasm")),
            out.join(format!("proxies/{name}.wasm")),
        )?;
    }
    std::fs::write(out.join("languages.txt"), languages.join("\n") + "\n")?;
    println!(
        "<== templates: {} ready in {}",
        out.display(),
        step::elapsed(started)
    );
    Ok(out)
}

/// Sets up every language's toolchain that xtask can (Rust for wasm32-wasip2, C, Python's
/// componentize-py and JavaScript's componentize-js under `target/tools/`) and returns the
/// `PATH` that `componentry build` finds them on.
pub fn plugin_toolchains(root: &Path) -> anyhow::Result<std::ffi::OsString> {
    crate::install::rust_route()?;
    crate::install::c_compiler()?;
    let tools = root.join("target/tools");
    tool_path(&python_tools(&tools)?, &js_tools(&tools)?)
}

/// How `componentry new` makes a project, beyond its language.
#[derive(Clone, Copy)]
enum Flavour<'a> {
    /// The greeter template.
    Greeter,
    /// The WASI 0.3 greeter template (`--async`).
    Asynchronous,
    /// Stubs for the application world in this WIT (`--wit`).
    Stubs(&'a Path),
}

fn make_and_build(
    cli: &Path,
    path: &std::ffi::OsStr,
    guest_target: &Path,
    language: &str,
    project: &Path,
    flavour: Flavour<'_>,
) -> anyhow::Result<()> {
    let mut new = Command::new(cli);
    new.args(["new", language]).arg(project);
    match flavour {
        Flavour::Greeter => {}
        Flavour::Asynchronous => {
            new.arg("--async");
        }
        Flavour::Stubs(wit) => {
            new.arg("--wit").arg(wit);
        }
    }
    step::run(
        &format!("componentry new {language} {}", file_name(project)),
        new.stdout(std::process::Stdio::null()),
    )?;
    step::run(
        &format!("componentry build {}", file_name(project)),
        Command::new(cli)
            .arg("build")
            .arg(project)
            .env("PATH", path)
            // Rust templates share the guests' target directory: the standard library (rebuilt
            // on the offline route) is built once.
            .env("CARGO_TARGET_DIR", guest_target)
            .stdout(std::process::Stdio::null()),
    )
}

/// Copies a built project's component and cases file into `into`.
fn publish(project: &Path, name: &str, into: &Path, manifest: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(into)?;
    let manifest = manifest.then(|| "plugin.toml".to_owned());
    for file in [format!("{name}.wasm"), "cases.toml".to_owned()]
        .into_iter()
        .chain(manifest)
    {
        std::fs::copy(project.join(&file), into.join(&file))
            .with_context(|| format!("copying {file} of {}", project.display()))?;
    }
    Ok(())
}

/// Copies the directory `from` into `to`, files and directories.
fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// componentize-py in a virtual environment of its own, installed once.
fn python_tools(tools: &Path) -> anyhow::Result<PathBuf> {
    let venv = tools.join("python");
    let bin = venv.join("bin");
    let marker = venv.join(format!("componentize-py-{COMPONENTIZE_PY_VERSION}"));
    if marker.exists() && bin.join("componentize-py").is_file() {
        return Ok(bin);
    }
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| step::output(Command::new(p).arg("--version")).is_some())
        .context("no python3 to install componentize-py with")?;
    step::run(
        "python -m venv target/tools/python",
        Command::new(python).args(["-m", "venv"]).arg(&venv),
    )?;
    step::run(
        &format!("pip install componentize-py=={COMPONENTIZE_PY_VERSION}"),
        Command::new(bin.join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("componentize-py=={COMPONENTIZE_PY_VERSION}")),
    )?;
    std::fs::write(&marker, "")?;
    Ok(bin)
}

/// componentize-js and jco in a node_modules of their own, installed once.
fn js_tools(tools: &Path) -> anyhow::Result<PathBuf> {
    let prefix = tools.join("js");
    let bin = prefix.join("node_modules/.bin");
    let marker = prefix.join(format!("componentize-js-{COMPONENTIZE_JS_VERSION}"));
    if marker.exists() && bin.join("componentize-js").is_file() {
        return Ok(bin);
    }
    if step::output(Command::new("npm").arg("--version")).is_none() {
        bail!("no npm to install componentize-js with (install Node.js 20 or later)");
    }
    std::fs::create_dir_all(&prefix)?;
    step::run(
        &format!("npm install componentize-js@{COMPONENTIZE_JS_VERSION} jco@{JCO_VERSION}"),
        Command::new("npm")
            .arg("install")
            .arg("--prefix")
            .arg(&prefix)
            .args(["--no-audit", "--no-fund", "--loglevel=error"])
            .arg(format!(
                "@bytecodealliance/componentize-js@{COMPONENTIZE_JS_VERSION}"
            ))
            .arg(format!("@bytecodealliance/jco@{JCO_VERSION}")),
    )?;
    std::fs::write(&marker, "")?;
    Ok(bin)
}

/// `PATH` with the installed tools first.
fn tool_path(python: &Path, js: &Path) -> anyhow::Result<std::ffi::OsString> {
    let mut dirs = vec![python.to_owned(), js.to_owned()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    Ok(std::env::join_paths(dirs)?)
}

/// The module that the Go bindings of wit-bindgen 0.63 import (`go mod tidy` fetches it).
const GO_RUNTIME: &str = "go.bytecodealliance.org/pkg@v0.4.0";

/// Why the Go template cannot be built here, or `None` when it can: it needs a Go of 1.24 or
/// later, and the runtime module its bindings import from the Go module proxy.
fn go_unavailable() -> Option<String> {
    if !go_available() {
        return Some("no Go 1.24 or later here".to_owned());
    }
    let scratch = tempfile::tempdir().ok()?;
    let fetched = Command::new("go")
        .args(["mod", "download", GO_RUNTIME])
        .current_dir(scratch.path())
        .output();
    match fetched {
        Ok(output) if output.status.success() => None,
        Ok(output) => {
            let said = String::from_utf8_lossy(&output.stderr);
            let first = said.lines().next().unwrap_or("").trim();
            Some(format!(
                "the Go module proxy does not serve {GO_RUNTIME}, which wit-bindgen's Go bindings \
                 import ({first})"
            ))
        }
        Err(e) => Some(format!("cannot run `go mod download`: {e}")),
    }
}

/// Whether a Go of 1.24 or later is installed.
fn go_available() -> bool {
    let Some(version) = step::output(Command::new("go").arg("version")) else {
        return false;
    };
    // `go version go1.24.2 linux/amd64`
    version
        .split_whitespace()
        .nth(2)
        .and_then(|v| v.strip_prefix("go"))
        .and_then(|v| {
            let mut parts = v.split('.');
            Some((
                parts.next()?.parse::<u32>().ok()?,
                parts.next()?.parse::<u32>().ok()?,
            ))
        })
        .is_some_and(|(major, minor)| (major, minor) >= (1, 24))
}
