//! Building the C guests: each `host/tests/guests/c/NAME.c` is a WASI command, compiled with
//! clang against wasi-libc to a core module, then made a component with the preview1 command
//! adapter (wit-component, in-process).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::step;

/// Where the C guests' sources live, relative to the repository root.
pub const SOURCES: &str = "host/tests/guests/c";

/// A C compiler for `wasm32-wasi` and the flags it needs.
struct CCompiler {
    clang: PathBuf,
    flags: Vec<String>,
}

/// Debian packages that give clang a wasm32-wasi target with a libc.
const DEBIAN_PACKAGES: &[&str] = &[
    "clang-22",
    "lld-22",
    "wasi-libc",
    "libclang-rt-22-dev-wasm32",
];

fn find_compiler() -> anyhow::Result<CCompiler> {
    if let Some(sdk) = std::env::var_os("WASI_SDK_PATH") {
        let sdk = PathBuf::from(sdk);
        return Ok(CCompiler {
            clang: sdk.join("bin/clang"),
            flags: vec![
                "--target=wasm32-wasip1".to_owned(),
                format!("--sysroot={}", sdk.join("share/wasi-sysroot").display()),
            ],
        });
    }
    let debian = || {
        Path::new("/usr/bin/clang-22").exists() && Path::new("/usr/lib/wasm32-wasi/libc.a").exists()
    };
    if !debian() {
        if !crate::toolchain::can_install() {
            bail!(
                "no C compiler for wasm32-wasi: set WASI_SDK_PATH to a wasi-sdk, or on Debian run as root \
                 `apt-get install -y {}`",
                DEBIAN_PACKAGES.join(" ")
            );
        }
        crate::toolchain::apt_install(DEBIAN_PACKAGES)?;
    }
    Ok(CCompiler {
        clang: "/usr/bin/clang-22".into(),
        // Debian's wasi-libc lays its headers out for the older `wasm32-wasi` triple, which
        // clang 22 calls deprecated.
        flags: vec![
            "--target=wasm32-wasi".to_owned(),
            "-Wno-deprecated".to_owned(),
            "-fuse-ld=/usr/lib/llvm-22/bin/wasm-ld".to_owned(),
        ],
    })
}

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
    let compiler = find_compiler()?;
    std::fs::create_dir_all(work_dir)?;
    for source in sources {
        let name = source
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let core = work_dir.join(format!("{name}.core.wasm"));
        step::run(
            &format!("build {SOURCES}/{name}.c (C command)"),
            Command::new(&compiler.clang)
                .args(["-O2", "-Wall", "-Werror"])
                .args(&compiler.flags)
                .arg("-o")
                .arg(&core)
                .arg(&source),
        )?;
        let module = std::fs::read(&core).with_context(|| format!("reading {}", core.display()))?;
        let component =
            componentize_command(&module).with_context(|| format!("componentizing {name}"))?;
        crate::guests::write_if_changed(&out_dir.join(format!("{name}.wasm")), &component)?;
    }
    println!("<== C guests ready in {}", step::elapsed(started));
    Ok(())
}

fn componentize_command(module: &[u8]) -> anyhow::Result<Vec<u8>> {
    wit_component::ComponentEncoder::default()
        .module(module)?
        .adapter(
            "wasi_snapshot_preview1",
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
        )?
        .validate(true)
        .encode()
}
