//! A signature as people and other tools hand it over: a file of raw bytes, or hex, base64 or
//! base64url text in a file or on its own.
use std::path::Path;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;

use crate::error::{Error, Result};

/// A signature given as `arg`: a file's raw bytes or text, or the text itself. Of the
/// text decodings that work, one giving `expected` bytes wins; otherwise the first that works
/// (so a signature of the wrong length is reported as such, exit 3).
pub fn read_signature(arg: &str, expected: usize) -> Result<Vec<u8>> {
    let path = Path::new(arg);
    let (bytes, from_file) = if path.is_file() {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?;
        if bytes.len() == expected {
            return Ok(bytes);
        }
        (bytes, true)
    } else {
        (arg.as_bytes().to_vec(), false)
    };
    let decoded = std::str::from_utf8(&bytes)
        .ok()
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(decodings)
        .unwrap_or_default();
    if let Some(exact) = decoded.iter().find(|d| d.len() == expected) {
        return Ok(exact.clone());
    }
    match decoded.into_iter().next() {
        Some(first) => Ok(first),
        // Not text: a raw signature of the wrong length, which the check reports.
        None if from_file => Ok(bytes),
        None => Err(Error::input(format!(
            "signature {arg}: no such file, and not a signature in hex, base64 or base64url"
        ))),
    }
}

/// Every way `text` decodes: hex, then base64 and base64url with or without padding.
fn decodings(text: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if let Ok(bytes) = hex::decode(text) {
        out.push(bytes);
    }
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        if let Ok(bytes) = engine.decode(text) {
            out.push(bytes);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_decodes_to_the_length_the_key_needs() {
        let sig: Vec<u8> = (0..=255u8).collect();
        assert_eq!(read_signature(&hex::encode(&sig), 256).unwrap(), sig);
        assert_eq!(read_signature(&STANDARD.encode(&sig), 256).unwrap(), sig);
        assert_eq!(
            read_signature(&URL_SAFE_NO_PAD.encode(&sig), 256).unwrap(),
            sig
        );
        // 512 hex digits are also valid base64 (of 384 bytes): the key's length decides, and
        // when neither fits, the hex reading is kept (and fails the check as too long).
        assert_eq!(read_signature(&hex::encode(&sig), 384).unwrap().len(), 384);
        assert_eq!(read_signature(&hex::encode(&sig), 300).unwrap(), sig);
        assert!(read_signature("not a signature!", 256).is_err());
    }
}
