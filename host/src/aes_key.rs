//! AES keys named on the command line (hex, `@FILE` of raw bytes, or `env:VAR` holding hex), read
//! into memory that is wiped after use. Errors never repeat the key.
use std::fmt;
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// What `--key` said, kept unread until the command needs the key.
#[derive(Clone)]
pub struct KeyArg(Zeroizing<String>);

/// Shown when the key itself is on the command line, where `ps` and shell history show it.
pub const KEY_ON_COMMAND_LINE: &str = "the AES key was given on the command line, where other users can read it (ps, /proc, shell history): pass --key env:VAR or --key @FILE instead";

impl KeyArg {
    /// The warning for a key written out in hex on the command line; `None` for `@FILE` and
    /// `env:VAR`, which name where the key is instead of holding it.
    pub fn command_line_warning(&self) -> Option<&'static str> {
        let spec = self.0.as_str();
        (!spec.starts_with('@') && !spec.starts_with("env:")).then_some(KEY_ON_COMMAND_LINE)
    }

    /// The clap value parser: accepts anything, so that a parse error never echoes a key.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        Ok(Self(Zeroizing::new(s.to_string())))
    }

    /// Reads the key: 16, 24 or 32 bytes.
    pub fn read(&self) -> Result<Zeroizing<Vec<u8>>> {
        let spec = self.0.as_str();
        let key = if let Some(path) = spec.strip_prefix('@') {
            let bytes = std::fs::read(Path::new(path))
                .map_err(|e| Error::input(format!("cannot read the key file {path}: {e}")))?;
            let bytes = Zeroizing::new(bytes);
            check_len(
                bytes.len(),
                &format!("the key file {path} holds"),
                "raw bytes",
            )?;
            bytes
        } else if let Some(var) = spec.strip_prefix("env:") {
            let value = Zeroizing::new(std::env::var(var).map_err(|_| {
                Error::input(format!(
                    "the environment variable {var} (from --key env:{var}) is not set or not text"
                ))
            })?);
            from_hex(value.trim(), &format!("${var}"))?
        } else {
            from_hex(spec, "--key")?
        };
        Ok(key)
    }
}

impl fmt::Debug for KeyArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyArg(redacted)")
    }
}

fn from_hex(text: &str, source: &str) -> Result<Zeroizing<Vec<u8>>> {
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::input(format!(
            "{source} is not hexadecimal: give the key as 32, 48 or 64 hex digits, as @FILE (raw bytes) or as env:VAR"
        )));
    }
    if !text.len().is_multiple_of(2) {
        return Err(Error::input(format!(
            "{source} has an odd number of hex digits ({}): an AES key is 32, 48 or 64 hex digits",
            text.len()
        )));
    }
    let mut key = Zeroizing::new(vec![0u8; text.len() / 2]);
    hex::decode_to_slice(text, &mut key[..])
        .map_err(|_| Error::input(format!("{source} is not hexadecimal")))?;
    check_len(key.len(), &format!("{source} gives"), "bytes")?;
    Ok(key)
}

fn check_len(len: usize, what: &str, unit: &str) -> Result<()> {
    if matches!(len, 16 | 24 | 32) {
        return Ok(());
    }
    Err(Error::input(format!(
        "{what} {len} {unit}: an AES key is 16, 24 or 32 bytes (AES-128, -192, -256)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(spec: &str) -> Result<Zeroizing<Vec<u8>>> {
        KeyArg::parse(spec).unwrap().read()
    }

    #[test]
    fn only_a_key_written_on_the_command_line_is_warned_about() {
        let warning = |spec: &str| KeyArg::parse(spec).unwrap().command_line_warning();
        let text = warning(&"0f".repeat(16)).expect("a hex key is warned about");
        assert!(text.contains("env:VAR") && text.contains("@FILE"), "{text}");
        assert_eq!(warning("@key.bin"), None);
        assert_eq!(warning("env:AES_KEY"), None);
    }

    #[test]
    fn hex_and_file_keys() {
        assert_eq!(read(&"0f".repeat(16)).unwrap().as_slice(), &[0x0f; 16]);
        assert_eq!(read(&"AB".repeat(24)).unwrap().len(), 24);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.bin");
        std::fs::write(&path, [7u8; 32]).unwrap();
        assert_eq!(
            read(&format!("@{}", path.display())).unwrap().as_slice(),
            &[7; 32]
        );
        // env:VAR is covered by the end-to-end tests, which set it on the child process.
    }

    #[test]
    fn errors_name_the_problem_but_never_the_key() {
        let secret = "c0ffee".repeat(5); // 30 digits: 15 bytes
        for spec in [secret.clone(), format!("{secret}zz"), format!("{secret}1")] {
            let message = read(&spec).unwrap_err().to_string();
            assert!(!message.contains("c0ffee"), "{message}");
            assert!(
                message.contains("32, 48 or 64 hex digits")
                    || message.contains("16, 24 or 32 bytes"),
                "{message}"
            );
        }
        assert!(read("env:UCRYPTO_TEST_SURELY_UNSET")
            .unwrap_err()
            .to_string()
            .contains("not set"));
        assert!(read("@/nonexistent/key")
            .unwrap_err()
            .to_string()
            .contains("cannot read the key file"));
        assert_eq!(
            format!("{:?}", KeyArg::parse(&secret).unwrap()),
            "KeyArg(redacted)"
        );
    }
}
