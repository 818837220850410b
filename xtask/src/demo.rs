//! `cargo xtask demo`: the example applications, run the way their users run them.
//!
//! 1. **mdpipe** (`examples/mdpipe`): a Markdown pipeline whose steps are plugins in Rust,
//!    Python, JavaScript and C, built with `componentry build`, loaded from a plugin directory
//!    under a policy. Then, following the directory, a plugin's source is edited and rebuilt (the
//!    new version answers) and a broken build is dropped in (refused; the old one keeps working).
//! 2. **http-service** (`examples/http-service`): routes served by standard `wasi:http/proxy`
//!    components, one misbehaving, with a short load test.
//!
//! Everything happens in copies under `target/demo/`, so that the repository stays as it was.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::step;

/// The mdpipe steps, in pipeline order.
const MDPIPE_STEPS: &str = "toc,smartypants,emoji,wordcount,runaway";

pub fn run(root: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let guests = crate::guests::build_all(root)?;
    let toolchains = crate::templates::plugin_toolchains(root)?;
    step::run(
        "build the CLI and the example applications",
        step::command(step::cargo(), root).args([
            "build",
            "--quiet",
            "-p",
            "componentry-cli",
            "-p",
            "mdpipe",
            "-p",
            "http-service",
        ]),
    )?;
    let demo = root.join("target/demo");
    let mdpipe_dir = demo.join("mdpipe");
    copy_example(root, &root.join("examples/mdpipe"), &mdpipe_dir)?;
    let cache = root.join("target/demo-cache");
    let built = root.join("target/demo-built");
    // Builds a plugin project, unless a build of the same sources is kept from an earlier run
    // (the language tools do not build reproducibly, so keeping the component is what lets the
    // artifact cache serve it again).
    let build = |plugin: &Path| -> anyhow::Result<()> {
        let name = file_name(plugin);
        let mut key = source_key(plugin)?;
        if plugin.join("Cargo.toml").is_file() {
            // A Rust plugin is built from the SDK's sources too.
            key ^= source_key(&root.join("sdk-rust"))?;
        }
        let kept = built.join(format!("{name}-{key:016x}.wasm"));
        let component = plugin.join(format!("{name}.wasm"));
        if kept.is_file() {
            println!("==> componentry build {name}: unchanged since the last demo");
            std::fs::copy(&kept, &component)?;
            return Ok(());
        }
        step::run(
            &format!("componentry build {name}"),
            Command::new(root.join("target/debug/componentry"))
                .arg("build")
                .arg(plugin)
                .env("PATH", &toolchains)
                // Rust plugins share the guests' target directory (and its standard library).
                .env("CARGO_TARGET_DIR", crate::guests::target_dir(root))
                .stdout(Stdio::null()),
        )?;
        std::fs::create_dir_all(&built)?;
        std::fs::copy(&component, &kept)?;
        Ok(())
    };
    for plugin in MDPIPE_STEPS.split(',') {
        let project = mdpipe_dir.join("plugins").join(plugin);
        build(&project)?;
        if project.join("cases.toml").is_file() {
            step::run(
                &format!("componentry test {plugin}"),
                Command::new(root.join("target/debug/componentry"))
                    .arg("test")
                    .arg(project.join(format!("{plugin}.wasm")))
                    .arg(project.join("cases.toml"))
                    // The cache mdpipe uses: what the test compiles, mdpipe finds compiled.
                    .env("COMPONENTRY_CACHE_DIR", &cache)
                    .stdout(Stdio::null()),
            )?;
        }
    }
    let mdpipe = root.join("target/debug/mdpipe");
    println!();
    println!("=== mdpipe: a Markdown pipeline of plugins in Rust, Python, JavaScript and C ===");
    run_shown(
        Command::new(&mdpipe)
            .current_dir(&mdpipe_dir)
            .args(["sample.md", "--steps", MDPIPE_STEPS, "-o", "sample.out.md"])
            .arg("--cache")
            .arg(&cache),
    )?;
    expect_in(
        &mdpipe_dir.join("sample.out.md"),
        &[
            "**Contents**",
            "- [What each step does]",
            "“toc”",
            "🎉",
            "words, about 1 min read*",
        ],
    )?;
    println!();
    println!("=== mdpipe --watch: edit a plugin, then break it ===");
    let mut watching = Shown::spawn(
        Command::new(&mdpipe)
            .current_dir(&mdpipe_dir)
            .args(["sample.md", "--watch", "--steps", MDPIPE_STEPS])
            .args(["-o", "sample.out.md", "--cache"])
            .arg(&cache),
    )?;
    watching.wait_for("mdpipe: watching", Duration::from_secs(60))?;
    let wordcount = mdpipe_dir.join("plugins/wordcount");
    let source = wordcount.join("plugin.c");
    let code = std::fs::read_to_string(&source)?;
    let edited = code.replace("min read*", "min read, counted in C*");
    if edited == code {
        bail!("the demo's edit no longer applies to {}", source.display());
    }
    println!("--- demo: editing wordcount's plugin.c and running `componentry build` ---");
    std::fs::write(&source, edited)?;
    build(&wordcount)?;
    watching.wait_for("the output changed", Duration::from_secs(60))?;
    watching.wait_for("+ ", Duration::from_secs(10))?;
    println!("--- demo: replacing wordcount.wasm with a broken build ---");
    std::fs::write(wordcount.join("wordcount.wasm"), b"\0asm\x0d\0\x01\0broken")?;
    watching.wait_for("refused the new wordcount", Duration::from_secs(60))?;
    watching.stop()?;
    expect_in(
        &mdpipe_dir.join("sample.out.md"),
        &["min read, counted in C*"],
    )?;

    println!();
    println!("=== http-service: routes that are wasi:http plugins (WASI 0.2 and 0.3) ===");
    let service_dir = demo.join("http-service");
    copy_routes(&root.join("examples/http-service"), &guests, &service_dir)?;
    run_shown(
        Command::new(root.join("target/debug/http-service"))
            .current_dir(&service_dir)
            .arg("--demo")
            .arg("--cache")
            .arg(&cache),
    )?;
    println!();
    println!("demo: done in {}", step::elapsed(started));
    Ok(())
}

/// Copies what mdpipe runs on (its policy, sample, WIT and plugin projects) into `to`, afresh,
/// leaving out what builds make. Symbolic links are followed (the copy holds the files), and a
/// Rust plugin's path to `sdk-rust` is made absolute.
fn copy_example(root: &Path, from: &Path, to: &Path) -> anyhow::Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to).with_context(|| format!("clearing {}", to.display()))?;
    }
    std::fs::create_dir_all(to)?;
    for entry in ["policy.toml", "sample.md", "wit", "plugins"] {
        copy_entry(&from.join(entry), &to.join(entry))?;
    }
    let sdk = root.join("sdk-rust");
    for plugin in std::fs::read_dir(to.join("plugins"))? {
        let manifest = plugin?.path().join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            let fixed = text.replace(
                "path = \"../../../../sdk-rust\"",
                &format!("path = {:?}", sdk.display().to_string()),
            );
            std::fs::write(&manifest, fixed)?;
        }
    }
    Ok(())
}

/// The routes of http-service served by the WASI 0.3 handler (the `http-p3` guest); the others
/// by the WASI 0.2 proxy (`http-routes`).
const WASI_0_3_ROUTES: &[&str] = &["stream"];

/// Sets up http-service's routes in `to`: its policy, and each route's manifest with its
/// handler component from `guests` beside it (as `NAME.wasm`).
fn copy_routes(from: &Path, guests: &Path, to: &Path) -> anyhow::Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to).with_context(|| format!("clearing {}", to.display()))?;
    }
    std::fs::create_dir_all(to.join("routes"))?;
    std::fs::copy(from.join("policy.toml"), to.join("policy.toml"))?;
    for entry in std::fs::read_dir(from.join("routes"))? {
        let name = entry?.file_name();
        let route = to.join("routes").join(&name);
        std::fs::create_dir_all(&route)?;
        std::fs::copy(
            from.join("routes").join(&name).join("plugin.toml"),
            route.join("plugin.toml"),
        )?;
        let mut wasm = name.clone();
        wasm.push(".wasm");
        let handler = if WASI_0_3_ROUTES.iter().any(|r| name == *r) {
            "http-p3.wasm"
        } else {
            "http-routes.wasm"
        };
        let component = guests.join(handler);
        std::fs::copy(&component, route.join(wasm))
            .with_context(|| format!("copying {}", component.display()))?;
    }
    Ok(())
}

/// What builds make, left out of copies.
const BUILT: &[&str] = &["target", "gen", "node_modules", "__pycache__"];

fn copy_entry(from: &Path, to: &Path) -> anyhow::Result<()> {
    let metadata =
        std::fs::metadata(from).with_context(|| format!("reading {}", from.display()))?;
    if metadata.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let name = entry?.file_name();
            let text = name.to_string_lossy();
            if BUILT.contains(&text.as_ref()) || text.ends_with(".wasm") {
                continue;
            }
            copy_entry(&from.join(&name), &to.join(&name))?;
        }
    } else {
        std::fs::copy(from, to).with_context(|| format!("copying {}", from.display()))?;
    }
    Ok(())
}

/// A key of a plugin project's sources: every file's path and bytes, in path order (what a build
/// leaves, the component included, is not part of it).
fn source_key(project: &Path) -> anyhow::Result<u64> {
    use std::hash::{Hash, Hasher};
    let mut files = Vec::new();
    list_sources(project, project, &mut files)?;
    files.sort();
    let mut hasher = std::hash::DefaultHasher::new();
    for file in files {
        file.hash(&mut hasher);
        std::fs::read(project.join(&file))?.hash(&mut hasher);
    }
    Ok(hasher.finish())
}

fn list_sources(root: &Path, dir: &Path, into: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = file_name(&path);
        if BUILT.contains(&name.as_str()) || name.ends_with(".wasm") || name == "Cargo.lock" {
            continue;
        }
        if path.is_dir() {
            list_sources(root, &path, into)?;
        } else {
            into.push(path.strip_prefix(root)?.to_owned());
        }
    }
    Ok(())
}

/// Checks that the file at `path` holds each of `texts`: the demo's output is what it shows.
fn expect_in(path: &Path, texts: &[&str]) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    for expected in texts {
        if !text.contains(expected) {
            bail!("{} lacks `{expected}`:\n{text}", path.display());
        }
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Runs `command` to the end, its output shown as it comes.
fn run_shown(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot start {:?}", command.get_program()))?;
    if !status.success() {
        bail!("{:?} failed: {status}", command.get_program());
    }
    Ok(())
}

/// A program running in the background whose stdout is shown line by line, and can be waited
/// on for a line.
struct Shown {
    child: Child,
    lines: Receiver<String>,
    program: PathBuf,
}

impl Shown {
    fn spawn(command: &mut Command) -> anyhow::Result<Self> {
        let program = PathBuf::from(command.get_program());
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        let stdout = child.stdout.take().context("stdout")?;
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("{line}");
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            child,
            lines,
            program,
        })
    }

    /// Waits until a line containing `text` has been shown.
    fn wait_for(&mut self, text: &str, within: Duration) -> anyhow::Result<()> {
        let until = Instant::now() + within;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return Ok(()),
                Ok(_) => {}
                Err(_) => bail!(
                    "{} did not print `{text}` within {within:?}",
                    self.program.display()
                ),
            }
        }
    }

    /// Asks the program to stop (SIGTERM) and waits for it.
    fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait()?;
        // What it printed last.
        while let Ok(_line) = self.lines.recv_timeout(Duration::from_millis(200)) {}
        if !status.success() {
            bail!("{} ended with {status}", self.program.display());
        }
        Ok(())
    }
}

impl Drop for Shown {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
