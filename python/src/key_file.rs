//! RSA keys handed over from Python (PEM text or DER bytes, encrypted PKCS#8 with a password),
//! read by the library's own parser, and host-side RS256 verification.
use std::path::Path;

use pyo3::prelude::*;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use sha2::{Digest, Sha256};
use ucrypto::key_file::{self as keys, Key};
use ucrypto::verify::signature::check_rs256;
use ucrypto::SigningKey;

use crate::errors::{to_py, usage};

/// How a key is named in errors: it has no file name.
const NAME: &str = "the key";

/// A private key ready for the device. An encrypted key needs `password`; the library would
/// ask on the terminal, which a script does not have.
pub fn signing_key(bytes: &[u8], password: Option<&[u8]>) -> PyResult<SigningKey> {
    let key = private_key(bytes, password)?;
    SigningKey::new(&key).map_err(|e| to_py(&e))
}

/// A private key as it is (for `key_import`); `password` as for [`signing_key`].
pub fn private_key(bytes: &[u8], password: Option<&[u8]>) -> PyResult<RsaPrivateKey> {
    let encrypted = contains(bytes, b"ENCRYPTED PRIVATE KEY");
    if let Some(password) = password {
        let parsed = if contains(bytes, b"-----BEGIN") {
            let text = std::str::from_utf8(bytes).map_err(|_| usage("the PEM key is not text"))?;
            RsaPrivateKey::from_pkcs8_encrypted_pem(text, password)
        } else {
            RsaPrivateKey::from_pkcs8_encrypted_der(bytes, password)
        };
        return parsed.map_err(|_| {
            usage("cannot decrypt the key: wrong password, or not an encrypted PKCS#8 RSA key")
        });
    }
    if encrypted {
        return Err(usage("the key is encrypted: pass password=..."));
    }
    match keys::parse(bytes, Path::new(NAME), None).map_err(|e| to_py(&e))? {
        Key::Private(key) => Ok(*key),
        Key::Public(_) => Err(usage(
            "the key is a public key: signing needs the private key",
        )),
    }
}

/// The public key of `bytes`: a public key, or a private key's public half (not encrypted).
pub fn public_key(bytes: &[u8]) -> PyResult<rsa::RsaPublicKey> {
    if contains(bytes, b"ENCRYPTED PRIVATE KEY") {
        return Err(usage("the key is encrypted: pass its public key"));
    }
    Ok(keys::parse(bytes, Path::new(NAME), None)
        .map_err(|e| to_py(&e))?
        .public())
}

/// RS256 on the host: SHA-256 of `message`, PKCS#1 v1.5, with `key`'s public half.
pub fn verify(message: &[u8], signature: &[u8], key: &[u8]) -> PyResult<()> {
    if contains(key, b"ENCRYPTED PRIVATE KEY") {
        return Err(usage("the key is encrypted: pass its public key"));
    }
    let public = keys::parse(key, Path::new(NAME), None)
        .map_err(|e| to_py(&e))?
        .public();
    let digest: [u8; 32] = Sha256::digest(message).into();
    if signature.len() != public.size() {
        return Err(to_py(&ucrypto::Error::Verification(format!(
            "the signature is {} bytes; this key's are {}",
            signature.len(),
            public.size()
        ))));
    }
    check_rs256(&public, &digest, signature).map_err(|e| to_py(&ucrypto::Error::Verification(e)))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
