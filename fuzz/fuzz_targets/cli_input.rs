//! Any text into the CLI's argument parsers: `--key` (AES, hex), `--signature` (hex, base64,
//! base64url), `--digest`, `--faults`, `--claims` (JWT) and `--pass`. No panic, and each
//! accepts exactly what it documents, or refuses it without echoing a secret.
#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use ucrypto::aes_key::KeyArg;
use ucrypto::operations::sign::parse_digest;
use ucrypto::verify::signature_text::read_signature;
use ucrypto_sim::faults::FaultSpec;
use ucrypto::key_file::PassSource;
use ucrypto::operations::jwt;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match which % 6 {
        0 => aes_key(text),
        1 => signature(text, which),
        2 => digest(text),
        3 => faults(text),
        4 => claims(text, which),
        _ => pass_source(text),
    }
});

/// `--key HEX`: 32, 48 or 64 hex digits, else an error that does not repeat the key.
fn aes_key(text: &str) {
    // @FILE and env:VAR read the file system and the environment: not fuzzed here.
    if text.starts_with('@') || text.starts_with("env:") {
        return;
    }
    let arg = KeyArg::parse(text).expect("the value parser accepts anything");
    assert_eq!(format!("{arg:?}"), "KeyArg(redacted)");
    let valid = matches!(text.len(), 32 | 48 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit());
    match arg.read() {
        Ok(key) => {
            assert!(valid, "accepted a bad key");
            assert_eq!(key.as_slice(), hex::decode(text).unwrap());
        }
        Err(e) => {
            assert!(!valid, "refused a good key: {e}");
            assert_eq!(e.kind(), ucrypto::ErrorKind::Input);
            let message = e.to_string();
            if text.len() >= 8 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
                assert!(!message.contains(text), "the key is echoed: {message}");
            }
        }
    }
}

/// `--signature TEXT`: of hex, base64 and base64url, a decoding of the expected length wins.
fn signature(text: &str, which: u8) {
    let expected = [16, 128, 256, 384, 512][usize::from(which / 6) % 5];
    // A text naming a file reads it: keep to texts that cannot name one.
    if text.contains('/') || text.contains('.') || std::path::Path::new(text).exists() {
        return;
    }
    match read_signature(text, expected) {
        Ok(sig) => {
            let trimmed = text.trim();
            if let Ok(from_hex) = hex::decode(trimmed) {
                if from_hex.len() == expected {
                    assert_eq!(sig, from_hex);
                }
            }
            assert!(!sig.is_empty() || trimmed.is_empty());
        }
        Err(e) => {
            assert_eq!(e.kind(), ucrypto::ErrorKind::Input);
            assert!(hex::decode(text.trim()).is_err() || text.trim().is_empty());
        }
    }
}

/// `--digest HEX`: 64 hex digits around optional white space.
fn digest(text: &str) {
    let trimmed = text.trim();
    let valid = trimmed.len() == 64 && trimmed.bytes().all(|b| b.is_ascii_hexdigit());
    match parse_digest(text) {
        Ok(d) => {
            assert!(valid);
            assert_eq!(d.as_slice(), hex::decode(trimmed).unwrap());
        }
        Err(e) => {
            assert!(!valid, "refused a good digest: {e}");
            assert_eq!(e.kind(), ucrypto::ErrorKind::Input);
        }
    }
}

/// `--faults drop=P,flip=P,delay=MS,reset-after=N,seed=S`.
fn faults(text: &str) {
    match FaultSpec::from_str(text) {
        Ok(spec) => {
            assert!((0.0..=1.0).contains(&spec.drop), "{spec:?}");
            assert!((0.0..=1.0).contains(&spec.flip), "{spec:?}");
            assert_ne!(spec.reset_after, Some(0));
            // Every part was KEY=VALUE with a known key.
            for part in text.split(',').filter(|p| !p.is_empty()) {
                let (key, _) = part.split_once('=').expect("KEY=VALUE");
                assert!(["drop", "flip", "delay", "reset-after", "seed"].contains(&key));
            }
        }
        Err(message) => assert!(!message.is_empty() && !message.contains('\n')),
    }
}

/// `--claims JSON` with `--exp`: a JSON object, to which `iat` and `exp` are added.
fn claims(text: &str, which: u8) {
    const NOW: u64 = 1_700_000_000;
    let exp = match which / 6 % 4 {
        0 => None,
        1 => Some(3600),
        2 => Some(u64::MAX - NOW / 2),
        _ => Some(0),
    };
    match jwt::jwt_claims(text, exp, NOW) {
        Ok(out) => {
            let value: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
            let object = value.as_object().expect("an object");
            let iat = object["iat"].as_u64().expect("iat is a number");
            let given: serde_json::Value = serde_json::from_str(text).unwrap();
            match given.get("iat") {
                Some(v) => assert_eq!(v.as_u64(), Some(iat)),
                None => assert_eq!(iat, NOW),
            }
            match exp {
                Some(seconds) => assert_eq!(object["exp"].as_u64(), iat.checked_add(seconds)),
                None => assert_eq!(object.get("exp"), given.get("exp")),
            }
        }
        Err(e) => assert_eq!(e.kind(), ucrypto::ErrorKind::Input),
    }
}

/// `--pass env:VAR|file:PATH`; anything else is refused without echoing it (it may be the
/// passphrase itself).
fn pass_source(text: &str) {
    match PassSource::from_str(text) {
        Ok(PassSource::Env(var)) => assert_eq!(format!("env:{var}"), text),
        Ok(PassSource::File(path)) => assert_eq!(
            Some(path.as_os_str()),
            text.strip_prefix("file:").map(std::ffi::OsStr::new)
        ),
        Err(message) => {
            assert!(!text.starts_with("env:") && !text.starts_with("file:"));
            // One fixed message, whatever was given: the value is never echoed.
            assert_eq!(message, PassSource::from_str("").unwrap_err());
        }
    }
}
