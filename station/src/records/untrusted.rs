//! Text read back from the records (a device's id, firmware version, entropy source, an event's
//! detail) is not trusted: shown on a terminal it goes through [`for_terminal`] (the host
//! library's, shared with the CLI's `info`); put in a CSV cell, a leading `=`, `+`, `-`, `@`, tab
//! or CR is neutralised as well (a spreadsheet runs it as a formula, OWASP's "CSV injection").
use ucrypto::untrusted::for_terminal;

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
