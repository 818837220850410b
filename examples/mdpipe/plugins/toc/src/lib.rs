//! mdpipe's `toc` step, in Rust: a table of contents of the document's `##` (and deeper, down to
//! the `depth` setting) headings, inserted after its title, with links to GitHub-style anchors.

componentry_sdk::wit_bindgen::generate!({
    path: "wit",
    world: "mdpipe:plugin/transformer",
    runtime_path: "componentry_sdk::wit_bindgen::rt",
    generate_all,
});

use componentry::plugin::log::{Level, log};
use componentry::plugin::settings;

struct Toc;

impl exports::mdpipe::plugin::step::Guest for Toc {
    fn transform(document: String) -> Result<String, String> {
        let title = settings::get("title").unwrap_or_else(|| "Contents".to_owned());
        let depth: usize = match settings::get("depth") {
            Some(text) => text
                .parse()
                .map_err(|_| format!("the `depth` setting must be a number, not `{text}`"))?,
            None => 3,
        };
        let headings = headings(&document, depth);
        if headings.is_empty() {
            log(Level::Info, "no headings: nothing to list");
            return Ok(document);
        }
        let mut toc = format!("**{title}**\n\n");
        for (level, text) in &headings {
            let indent = "  ".repeat(level - 2);
            toc.push_str(&format!("{indent}- [{text}](#{})\n", anchor(text)));
        }
        log(
            Level::Info,
            &format!("listed {} headings under \"{title}\"", headings.len()),
        );
        Ok(insert_after_title(&document, &toc))
    }
}

/// The headings of levels 2 to `depth` outside code blocks: (level, text).
fn headings(document: &str, depth: usize) -> Vec<(usize, String)> {
    let mut in_code = false;
    let mut found = Vec::new();
    for line in document.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let level = line.chars().take_while(|c| *c == '#').count();
        if (2..=depth).contains(&level) && line[level..].starts_with(' ') {
            found.push((level, line[level..].trim().to_owned()));
        }
    }
    found
}

/// A GitHub-style anchor: lowercase, spaces as `-`, punctuation dropped.
fn anchor(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// `document` with `toc` after its first `# ` title line (and the blank line after it), or at
/// the top when it has no title.
fn insert_after_title(document: &str, toc: &str) -> String {
    let mut out = String::with_capacity(document.len() + toc.len() + 2);
    let mut inserted = false;
    let mut lines = document.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        out.push_str(line);
        if !inserted && line.starts_with("# ") {
            if lines.peek().is_some_and(|next| next.trim().is_empty()) {
                out.push_str(lines.next().unwrap_or("\n"));
            } else {
                out.push('\n');
            }
            out.push_str(toc);
            out.push('\n');
            inserted = true;
        }
    }
    if inserted {
        out
    } else {
        format!("{toc}\n{document}")
    }
}

export!(Toc);
