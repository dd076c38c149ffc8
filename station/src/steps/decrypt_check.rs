//! The `decrypt-check` step: the station seals a fresh random secret to the public key of the
//! device key in a slot (RSA-OAEP with SHA-256, on the host), and the device must open it with
//! that key through its Digital Signature peripheral. It proves the slot's key is the device's,
//! usable for what a backend will send it. The secret is never recorded.
use rsa::pkcs8::EncodePublicKey;
use sha2::{Digest, Sha256};
use ucrypto_protocol::{ErrorCode, RsaPadding};
use zeroize::Zeroizing;

use super::key_generate::public_key;
use crate::error::{Error, Result};
use ucrypto::client::Client;
use ucrypto::operations::decrypt::encrypt;
use ucrypto::operations::SigningKey;

pub fn decrypt_check(client: &mut Client, slot: u8) -> Result<serde_json::Value> {
    let public = public_key(client, slot).map_err(|e| match e {
        ucrypto::Error::Device {
            code: ErrorCode::NoKey,
            ..
        } => Error::input(format!(
            "slot {slot} holds no key: put a key-generate step for slot {slot} before decrypt-check"
        )),
        other => other.into(),
    })?;
    let der = public.to_public_key_der().map_err(|e| {
        Error::Verification(format!("the device's public key does not encode: {e}"))
    })?;
    let mut secret = Zeroizing::new([0u8; 32]);
    getrandom::fill(secret.as_mut_slice()).expect("the host OS has no random number generator");
    let sealed = encrypt(&public, RsaPadding::OaepSha256, secret.as_slice())?;
    // The slot's key as the library names it: its public key read again and checked against
    // the fingerprint in a fresh `Hello` (an earlier step may have made the key).
    client.refresh_info()?;
    let key = SigningKey::slot(client, slot)?;
    if key.public != public {
        return Err(Error::Verification(
            "the device answered two different public keys for one slot".into(),
        ));
    }
    let opened = client.decrypt(&key, RsaPadding::OaepSha256, &sealed)?;
    if opened.as_slice() != secret.as_slice() {
        return Err(Error::Verification(
            "the device opened the sealed secret to different bytes: the device is faulty".into(),
        ));
    }
    Ok(serde_json::json!({
        "slot": slot,
        "spki_sha256": hex::encode(Sha256::digest(der.as_bytes())),
        "padding": "oaep-sha256",
        "secret_bytes": secret.len(),
        "opened": true,
    }))
}
