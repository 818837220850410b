//! Showing text that a plugin (or a plugin's files) controls, so that it cannot forge lines of
//! the host's log or hide text from an operator's terminal.

use std::borrow::Cow;

/// `text` with every control character (newlines, carriage returns, escapes, C1 controls) and
/// every bidirectional-text override written as a visible escape (`\n`, `\u{1b}`), so that it
/// stays on one line and means on a terminal exactly what it says.
pub fn escape_untrusted(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if needs_escape(c) => escaped.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        // Bidirectional formatting characters reorder what a terminal shows ("Trojan Source").
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::escape_untrusted;

    #[test]
    fn plain_text_is_unchanged() {
        assert!(matches!(
            escape_untrusted("hello, wörld"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn line_breaks_and_terminal_escapes_are_made_visible() {
        assert_eq!(
            escape_untrusted("ok\n2026-01-01 INFO forged"),
            "ok\\n2026-01-01 INFO forged"
        );
        assert_eq!(escape_untrusted("hide\u{1b}[8m"), "hide\\u{1b}[8m");
        assert_eq!(escape_untrusted("a\rb\tc\u{7f}"), "a\\rb\\tc\\u{7f}");
        assert_eq!(escape_untrusted("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(escape_untrusted("\u{9b}31m"), "\\u{9b}31m");
    }
}
