//! Strings a device reports about itself (its id, firmware version, entropy source) and any
//! other text read back from the records are not trusted: shown on a terminal, their control
//! characters are escaped (an ESC sequence could rewrite the screen, a CR hide a line); put in a
//! CSV cell, a leading `=`, `+`, `-`, `@`, tab or CR is neutralised (a spreadsheet runs it as a
//! formula, OWASP's "CSV injection").
use std::borrow::Cow;
use std::fmt::Write;

/// Characters that change how a terminal shows what follows: C0 and C1 controls, DEL, and the
/// Unicode bidirectional overrides and isolates (which reorder the text a reader sees).
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every unsafe character written as `\u{…}` (and `\` as `\\`, so that an escape
/// cannot be faked): what a terminal shows is what the device sent, character by character.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| is_unsafe(c) || c == '\\') {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\\' {
            shown.push_str("\\\\");
        } else if is_unsafe(c) {
            let _ = write!(shown, "\\u{{{:x}}}", c as u32);
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// A CSV cell of untrusted text: escaped as for the terminal, then prefixed with `'` when it
/// would start a spreadsheet formula (OWASP's advice; the quote shows in the cell).
pub fn for_csv(text: &str) -> String {
    let escaped = for_terminal(text);
    if escaped.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{escaped}")
    } else {
        escaped.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_escaped() {
        assert_eq!(for_terminal("1.2.3"), "1.2.3");
        assert_eq!(
            for_terminal("1.0\u{1b}[2J\rok\u{7f}\u{9b}"),
            "1.0\\u{1b}[2J\\u{d}ok\\u{7f}\\u{9b}"
        );
        assert_eq!(for_terminal("a\u{202E}b"), "a\\u{202e}b");
        // A device cannot fake an escape to hide one.
        assert_eq!(for_terminal("\\u{1b}"), "\\\\u{1b}");
    }

    #[test]
    fn formula_prefixes_are_neutralised() {
        for hostile in ["=1+2", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"] {
            let cell = for_csv(hostile);
            // Quoted, or (tab, CR) escaped: nothing a spreadsheet starts a formula with.
            assert!(
                cell.starts_with(['\'', '\\']) && !cell.contains(['\t', '\r']),
                "{hostile:?} -> {cell:?}"
            );
        }
        assert_eq!(for_csv("1.2.3"), "1.2.3");
        assert_eq!(for_csv("a=b"), "a=b");
    }
}
