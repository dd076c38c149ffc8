//! A device key's public half in the forms other tools read: PEM and DER SubjectPublicKeyInfo
//! (what `openssl dgst -verify` and `openssl pkey -pubin` take) and a JWK (RFC 7517),
//! whose `kid` is the SPKI SHA-256 fingerprint `Hello` lists.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;

use super::SlotPublicKey;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PublicFormat {
    /// PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`).
    Pem,
    /// DER SubjectPublicKeyInfo, the bytes whose SHA-256 is the slot's fingerprint.
    Der,
    /// A JSON Web Key (RFC 7517) for RS256, `kid` = the SPKI SHA-256 in base64url.
    Jwk,
}

impl PublicFormat {
    /// Whether the encoding is text (may be printed, or carried inline in `--json`).
    pub fn is_text(self) -> bool {
        self != PublicFormat::Der
    }
}

/// The public key in `format`; text formats end with a newline.
pub fn encode(key: &SlotPublicKey, format: PublicFormat) -> Result<Vec<u8>> {
    match format {
        PublicFormat::Der => Ok(key.spki_der.clone()),
        PublicFormat::Pem => key
            .key
            .to_public_key_pem(LineEnding::LF)
            .map(String::into_bytes)
            .map_err(|e| Error::Verification(format!("cannot encode the public key: {e}"))),
        PublicFormat::Jwk => {
            let mut text = jwk(key).to_string();
            text.push('\n');
            Ok(text.into_bytes())
        }
    }
}

/// The JWK as a JSON value.
pub fn jwk(key: &SlotPublicKey) -> serde_json::Value {
    serde_json::json!({
        "kty": "RSA",
        "n": URL_SAFE_NO_PAD.encode(key.key.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(key.key.e().to_bytes_be()),
        "alg": "RS256",
        "use": "sig",
        "kid": URL_SAFE_NO_PAD.encode(key.spki_sha256),
    })
}
