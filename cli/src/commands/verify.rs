//! `ucrypto verify`: checks an RS256 signature on the host, with no device. Accepts the raw bytes
//! `openssl dgst -sha256 -sign` writes, or the signature as base64url, base64 or hex text.
use std::io::Read;
use std::path::Path;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

use crate::args::{GlobalArgs, VerifyArgs};
use crate::commands::print_json;
use crate::error::{Error, Result};
use crate::keys;
use crate::output::print_line;
use crate::verify::signature::check_rs256;

pub fn run(global: &GlobalArgs, args: &VerifyArgs) -> Result<()> {
    let path = args
        .key
        .as_deref()
        .or(args.pubkey.as_deref())
        .expect("clap requires --key or --pubkey");
    let key = keys::read(path, args.pass.as_ref())?.public();
    let signature = read_signature(&args.signature, key.size())?;
    let digest = match (&args.message, &args.input) {
        (Some(text), _) => Sha256::digest(text.as_bytes()).into(),
        (None, Some(path)) if path.as_os_str() == "-" => hash(&mut std::io::stdin().lock())?,
        (None, Some(path)) => hash(
            &mut std::fs::File::open(path)
                .map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?,
        )?,
        (None, None) => unreachable!("clap requires one source"),
    };
    check_rs256(&key, &digest, &signature).map_err(Error::Verification)?;
    if global.json {
        return print_json(&serde_json::json!({
            "command": "verify",
            "algorithm": "RS256",
            "key_bits": key.n().bits(),
            "digest": hex::encode(digest),
            "valid": true,
        }));
    }
    print_line("signature ok")
}

fn hash(input: &mut dyn Read) -> Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    std::io::copy(input, &mut hasher)
        .map_err(|e| Error::input(format!("cannot read the message: {e}")))?;
    Ok(hasher.finalize().into())
}

/// The signature named by `--signature`: a file's raw bytes or text, or the text itself. Of the
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
            "--signature {arg}: no such file, and not a signature in hex, base64 or base64url"
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
