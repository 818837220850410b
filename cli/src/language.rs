//! The languages plugins are written in, as `componentry new` and `componentry build` know them.

use std::path::Path;

/// A language with a template and a build driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// Rust, with componentry-sdk (cargo for wasm32-wasip2).
    Rust,
    /// Python, with componentize-py.
    Python,
    /// JavaScript, with componentize-js.
    #[value(alias = "javascript")]
    Js,
    /// C, with wit-bindgen's C bindings, clang and wasi-libc.
    C,
    /// Go (1.24 or later), with wit-bindgen's Go bindings.
    Go,
}

impl Language {
    /// Every language.
    #[cfg(test)]
    pub const ALL: [Language; 5] = [
        Language::Rust,
        Language::Python,
        Language::Js,
        Language::C,
        Language::Go,
    ];

    /// The name users write.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::Js => "js",
            Language::C => "c",
            Language::Go => "go",
        }
    }

    /// The template's directory in `sdk-guest-templates/`: of a plugin with async exports when
    /// `asynchronous` (Rust: WASI 0.3 with `wasip3`; Python: an `async def` export, which
    /// componentize-py builds with the async ABI). JavaScript, C and Go have none: their guides
    /// say where each stands.
    pub fn template(self, asynchronous: bool) -> Option<&'static str> {
        match (self, asynchronous) {
            (_, false) => Some(self.name()),
            (Language::Rust, true) => Some("rust-async"),
            (Language::Python, true) => Some("python-async"),
            (_, true) => None,
        }
    }

    /// The language of the project in `dir`, told by its files.
    pub fn detect(dir: &Path) -> Option<Language> {
        let has = |name: &str| dir.join(name).is_file();
        if has("Cargo.toml") {
            Some(Language::Rust)
        } else if has("package.json") {
            Some(Language::Js)
        } else if has("go.mod") || dir.join("export_wit_world").is_dir() {
            Some(Language::Go)
        } else if has("app.py") {
            Some(Language::Python)
        } else if std::fs::read_dir(dir)
            .ok()?
            .filter_map(Result::ok)
            .any(|e| e.path().extension().is_some_and(|ext| ext == "c"))
        {
            Some(Language::C)
        } else {
            None
        }
    }
}
