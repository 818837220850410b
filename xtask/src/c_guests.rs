//! Building the C guests: each `host/tests/guests/c/NAME.c` is a WASI command, compiled with
//! clang against wasi-libc to a core module, then made a component with the preview1 command
//! adapter (in-process, through componentry-toolchain). The core module is kept too, as
//! `NAME.core.wasm`: a WASI preview1 module as toolchains emit them, which the host must run
//! as it is.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use componentry_toolchain::componentize::{Adapter, componentize};

use crate::step;

/// Where the C guests' sources live, relative to the repository root.
pub const SOURCES: &str = "host/tests/guests/c";

/// Builds every C guest into `out_dir/NAME.wasm`.
pub fn build_all(root: &Path, work_dir: &Path, out_dir: &Path) -> anyhow::Result<()> {
    let sources: Vec<PathBuf> = std::fs::read_dir(root.join(SOURCES))
        .with_context(|| format!("listing {SOURCES}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "c"))
        .collect();
    if sources.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let compiler = crate::install::c_compiler()?;
    std::fs::create_dir_all(work_dir)?;
    for source in sources {
        let name = source
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let core = work_dir.join(format!("{name}.core.wasm"));
        step::run(
            &format!("build {SOURCES}/{name}.c (C command)"),
            compiler
                .command()
                .args(["-O2", "-Wall", "-Werror"])
                .arg("-o")
                .arg(&core)
                .arg(&source),
        )?;
        let module = std::fs::read(&core).with_context(|| format!("reading {}", core.display()))?;
        let component = componentize(&module, Adapter::Command)
            .with_context(|| format!("componentizing {name}"))?;
        crate::artifacts::write_if_changed(&out_dir.join(format!("{name}.wasm")), &component)?;
        crate::artifacts::write_if_changed(&out_dir.join(format!("{name}.core.wasm")), &module)?;
    }
    println!("<== C guests ready in {}", step::elapsed(started));
    Ok(())
}
