//! Strings a device reports about itself (its id, firmware version, entropy source) are not
//! trusted: before anyone shows them on a terminal, their control characters are escaped (an ESC
//! sequence could rewrite the screen, a CR hide a line). The CLI's `info` and the station's
//! records both use [`for_terminal`]; CSV escaping stays with the station's records.
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
}
