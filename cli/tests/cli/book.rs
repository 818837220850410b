//! The book's `console` samples, run. In every Markdown file under `docs/`, each `$ COMMAND` line
//! of a ```` ```console ```` block is run with `sh -c`, in a directory (one per file) holding
//! the project's test plugins, with this build's `componentry` first on the `PATH`. The lines
//! after it, up to the next `$` line or the block's end, are what it must print on stdout: `...`
//! stands for any number of lines, and a last line `[exit: N]` gives its exit code (0 without).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{binary, cache_dir, guest};

/// One command of a sample and what it must do.
struct Sample {
    file: PathBuf,
    line: usize,
    command: String,
    stdout: Vec<String>,
    exit: i32,
}

fn markdown_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read docs") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            markdown_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "md") {
            into.push(path);
        }
    }
}

fn samples(file: &Path) -> Vec<Sample> {
    let text = std::fs::read_to_string(file).expect("read a docs file");
    let mut samples: Vec<Sample> = Vec::new();
    let mut in_console = false;
    for (at, line) in text.lines().enumerate() {
        if !in_console {
            in_console = line.trim() == "```console";
            continue;
        }
        if line.trim() == "```" {
            in_console = false;
        } else if let Some(command) = line.strip_prefix("$ ") {
            samples.push(Sample {
                file: file.to_owned(),
                line: at + 1,
                command: command.to_owned(),
                stdout: Vec::new(),
                exit: 0,
            });
        } else if let Some(sample) = samples.last_mut() {
            match line
                .strip_prefix("[exit: ")
                .and_then(|rest| rest.strip_suffix(']'))
            {
                Some(code) => sample.exit = code.parse().expect("an exit code"),
                None => sample.stdout.push(line.to_owned()),
            }
        }
    }
    samples
}

/// Whether `actual` lines match `expected`, where a `...` line matches any number of lines.
fn matches(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "..." => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => actual.split_first().is_some_and(|(line, others)| {
            line.trim_end() == first.trim_end() && matches(rest, others)
        }),
    }
}

#[test]
fn the_books_console_samples_print_what_they_show() {
    let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let mut files = Vec::new();
    markdown_files(&docs, &mut files);
    files.sort();
    let cli = PathBuf::from(binary());
    let bin_dir = cli.parent().expect("the binary's directory").to_owned();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let guests = guest("hello-rust").parent().expect("guests").to_owned();
    let mut ran = 0;
    let mut failures = Vec::new();
    for file in files {
        let samples = samples(&file);
        if samples.is_empty() {
            continue;
        }
        let work = tempfile::tempdir().expect("tempdir");
        for entry in std::fs::read_dir(&guests).expect("guests") {
            let entry = entry.expect("entry").path();
            if entry.extension().is_some_and(|e| e == "wasm") {
                std::fs::copy(&entry, work.path().join(entry.file_name().expect("name")))
                    .expect("copy a guest");
            }
        }
        for sample in samples {
            let output = Command::new("sh")
                .arg("-c")
                .arg(&sample.command)
                .current_dir(work.path())
                .env("PATH", &path)
                .env("COMPONENTRY_CACHE_DIR", cache_dir())
                .output()
                .expect("run sh");
            ran += 1;
            let stdout = String::from_utf8_lossy(&output.stdout);
            let lines: Vec<&str> = stdout.lines().collect();
            let code = output.status.code().unwrap_or(-1);
            if code != sample.exit || !matches(&sample.stdout, &lines) {
                failures.push(format!(
                    "{}:{}: `{}` exited {code} (expected {}) and printed:\n{stdout}\nstderr:\n{}",
                    sample.file.display(),
                    sample.line,
                    sample.command,
                    sample.exit,
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
        }
    }
    assert!(ran >= 8, "only {ran} console samples found");
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}

#[test]
fn the_wildcard_matches_any_number_of_lines() {
    let expected = |lines: &[&str]| lines.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    assert!(matches(
        &expected(&["a", "...", "d"]),
        &["a", "b", "c", "d"]
    ));
    assert!(matches(&expected(&["a", "...", "d"]), &["a", "d"]));
    assert!(!matches(&expected(&["a", "...", "d"]), &["a", "b"]));
    assert!(!matches(&expected(&["a"]), &["a", "b"]));
    assert!(matches(&expected(&["..."]), &[]));
}
