//! `cargo xtask docs`: the book (`docs/`, an mdBook) built into `target/book/`, with mdbook
//! installed from crates.io under `target/tools/mdbook/` the first time. Building needs no
//! network once mdbook is there.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::step;

/// The mdbook the book is built with.
const MDBOOK_VERSION: &str = "0.5.4";

/// Builds the book; returns its directory.
pub fn build(root: &Path) -> anyhow::Result<PathBuf> {
    let tools = root.join("target/tools/mdbook");
    let mdbook = tools.join("bin/mdbook");
    let installed = step::output(Command::new(&mdbook).arg("--version"))
        .is_some_and(|version| version.contains(MDBOOK_VERSION));
    if !installed {
        step::run(
            &format!("cargo install mdbook@{MDBOOK_VERSION}"),
            step::command(step::cargo(), root)
                .args(["install", "--locked", "--quiet", "--no-default-features"])
                // The search index; the live-reload server is not needed to build.
                .args(["--features", "search", "--version", MDBOOK_VERSION])
                .arg("--root")
                .arg(&tools)
                .arg("mdbook"),
        )?;
    }
    step::run(
        "mdbook build docs",
        Command::new(&mdbook).arg("build").arg(root.join("docs")),
    )?;
    let book = root.join("target/book");
    println!("book: {}", book.join("index.html").display());
    Ok(book)
}
