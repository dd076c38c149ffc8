//! The `sign-manifest` step: the device signs a manifest of itself (its id, chip, firmware and
//! key fingerprint, and the station and run that provisioned it) with its own key in a slot,
//! so that anyone with the recorded public key can later check what the station recorded.
use base64::Engine as _;
use rsa::pkcs8::EncodePublicKey;
use sha2::{Digest, Sha256};
use ucrypto_protocol::ErrorCode;

use super::key_generate::{public_key, sign_with_slot};
use crate::error::{Error, Result};
use crate::records::RunContext;
use ucrypto::client::Client;

/// Signs the manifest with `slot`'s key; the detail holds the manifest text (the exact bytes
/// signed), the RS256 signature (base64) and the key's SPKI SHA-256.
pub fn sign_manifest(client: &mut Client, ctx: &RunContext, slot: u8) -> Result<serde_json::Value> {
    let public = public_key(client, slot).map_err(|e| match e {
        ucrypto::Error::Device {
            code: ErrorCode::NoKey,
            ..
        } => Error::input(format!(
            "slot {slot} holds no key: put a key-generate step for slot {slot} before sign-manifest"
        )),
        other => other.into(),
    })?;
    let der = public.to_public_key_der().map_err(|e| {
        Error::Verification(format!("the device's public key does not encode: {e}"))
    })?;
    let info = client.info();
    // serde_json keeps object keys sorted: the text is the same for the same facts.
    let manifest = serde_json::json!({
        "device_id": info.device_id_string(),
        "chip": info.chip.name(),
        "firmware_version": info.firmware_version,
        "virtual": info.virtual_device,
        "slot": slot,
        "spki_sha256": hex::encode(Sha256::digest(der.as_bytes())),
        "station_id": ctx.station_id,
        "run_id": ctx.run_id,
        "recipe_sha256": ctx.recipe_sha256,
    })
    .to_string();
    let digest: [u8; 32] = Sha256::digest(manifest.as_bytes()).into();
    let signature = sign_with_slot(client, slot, &public, digest)?;
    Ok(serde_json::json!({
        "manifest": manifest,
        "algorithm": "RS256",
        "signature": base64::engine::general_purpose::STANDARD.encode(signature),
        "slot": slot,
    }))
}
