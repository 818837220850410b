//! What changed between two renderings, line by line: the lines of the old one that the new one
//! lacks (`-`) and the new one's own (`+`), in document order.

/// `- line` for each line of `old` not in `new`, then `+ line` for each line of `new` not in
/// `old` (a multiset difference, enough to show what a reloaded step changed).
pub fn changed_lines(old: &str, new: &str) -> Vec<String> {
    let removed = only_in(old, new).map(|line| format!("- {line}"));
    let added = only_in(new, old).map(|line| format!("+ {line}"));
    removed.chain(added).collect()
}

fn only_in<'a>(this: &'a str, other: &'a str) -> impl Iterator<Item = &'a str> {
    let mut others: Vec<&str> = other.lines().collect();
    this.lines()
        .filter(move |line| match others.iter().position(|o| o == line) {
            Some(at) => {
                others.swap_remove(at);
                false
            }
            None => true,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_lines_are_shown() {
        let old = "a\nb\nfooter 1\n";
        let new = "a\nb\nfooter 2\n";
        assert_eq!(changed_lines(old, new), ["- footer 1", "+ footer 2"]);
        assert!(changed_lines(old, old).is_empty());
        assert_eq!(changed_lines("x\nx\n", "x\n"), ["- x"]);
    }
}
