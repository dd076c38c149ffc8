//! The `key-generate` step: an RSA key made on the device in a key slot (an eFuse key block of
//! the Digital Signature peripheral: irreversible), reconciled with the device first so that a
//! key burned by a station that stopped before recording it is found and recorded, never burned
//! twice.
use rsa::pkcs8::EncodePublicKey;
use rsa::{BigUint, RsaPublicKey};
use sha2::{Digest, Sha256};
use ucrypto_protocol::{Command, RequestBody, ResponseBody, SlotState, KEY_SLOTS};

use crate::error::{Error, Result};
use crate::records::KeyRecord;
use ucrypto::client::Client;
use ucrypto::verify::signature::check_rs256;
use ucrypto::Error as HostError;

/// What the step found or made.
pub struct SlotKey {
    pub record: KeyRecord,
    /// False when the device already held the key (a re-run, or a burn a stopped station did
    /// not record).
    pub generated: bool,
}

/// Makes sure `slot` holds a key of `bits` bits and returns its public half, checked: the
/// device's own fingerprint in `Hello` matches it, and a signature of a fresh challenge made
/// with the slot verifies with it.
pub fn ensure_key(client: &mut Client, slot: u8, bits: u16) -> Result<SlotKey> {
    if !client.info().raw_capabilities.supports(Command::DeviceKeys) {
        return Err(HostError::Unsupported(
            "this device keeps no keys of its own (no Digital Signature peripheral)".into(),
        )
        .into());
    }
    if usize::from(slot) >= KEY_SLOTS {
        return Err(Error::input(format!(
            "slot {slot} does not exist: use 0 to {}",
            KEY_SLOTS - 1
        )));
    }
    let (public, generated) = match slot_state(client, slot)? {
        SlotState::DsKey { .. } => (public_key(client, slot)?, false),
        SlotState::Free => (generate(client, slot, bits)?, true),
        SlotState::OtherPurpose { purpose } => {
            return Err(Error::input(format!(
                "slot {slot} is used for another purpose (eFuse purpose {purpose}): pick another slot"
            )))
        }
        SlotState::BurnIncomplete => {
            return Err(Error::input(format!(
                "slot {slot} holds a burn that did not finish and cannot be used: pick another slot"
            )))
        }
        SlotState::RecordMissing => {
            return Err(Error::input(format!(
                "slot {slot} holds a key whose record in flash is gone: it cannot sign; pick another slot"
            )))
        }
    };
    let der = public
        .to_public_key_der()
        .map_err(|e| Error::Verification(format!("the device's public key does not encode: {e}")))?
        .into_vec();
    let fingerprint: [u8; 32] = Sha256::digest(&der).into();
    // The device's own account of the slot must name this very key.
    match slot_state(client, slot)? {
        SlotState::DsKey { spki_sha256, .. } if spki_sha256 == fingerprint => {}
        other => {
            return Err(Error::Verification(format!(
                "slot {slot} reports {other:?}, not the key it answered with"
            )))
        }
    }
    check_signs(client, slot, &public)?;
    Ok(SlotKey {
        record: KeyRecord {
            slot: i64::from(slot),
            public_key_der: der,
            spki_sha256: hex::encode(fingerprint),
            csr_pem: None,
        },
        generated,
    })
}

/// The slot's state from a fresh `Hello` (not the one from connecting: a step may have burned
/// since).
fn slot_state(client: &mut Client, slot: u8) -> ucrypto::Result<SlotState> {
    client.call(RequestBody::Hello, |body| match body {
        ResponseBody::Hello(hello) => hello
            .key_slots
            .map(|slots| slots[usize::from(slot)])
            .ok_or_else(|| HostError::Unsupported("this device reports no key slots".into())),
        other => Err(HostError::Verification(format!(
            "the device answered Hello with {other:?}"
        ))),
    })
}

/// The public key of the key in `slot` (an error from the device when the slot holds none).
pub(super) fn public_key(client: &mut Client, slot: u8) -> ucrypto::Result<RsaPublicKey> {
    client.call(RequestBody::PublicKey { slot }, |body| {
        public_of(slot, body)
    })
}

/// Generates and burns: never repeated on a lost answer (the request is not idempotent; the
/// caller's re-check finds a key that was made).
fn generate(client: &mut Client, slot: u8, bits: u16) -> ucrypto::Result<RsaPublicKey> {
    let body = RequestBody::KeyGenerate { slot, bits };
    let wait = client.wait_for(&body);
    let seq = client.send(&body)?;
    match client.receive(seq, wait, |body| public_of(slot, body)) {
        Ok(key) => Ok(key),
        // The answer was lost: the device knows whether it burned.
        Err(e) if e.is_retryable() => match slot_state(client, slot)? {
            SlotState::DsKey { .. } => public_key(client, slot),
            _ => Err(e),
        },
        Err(e) => Err(e),
    }
}

fn public_of(slot: u8, body: ResponseBody<'_>) -> ucrypto::Result<RsaPublicKey> {
    match body {
        ResponseBody::PublicKey(info) if info.slot == slot => RsaPublicKey::new(
            BigUint::from_bytes_be(info.n),
            BigUint::from_bytes_be(info.e),
        )
        .map_err(|e| HostError::Verification(format!("the device's public key is not valid: {e}"))),
        other => Err(HostError::Verification(format!(
            "the device answered with {other:?} where slot {slot}'s public key was expected"
        ))),
    }
}

fn check_signs(client: &mut Client, slot: u8, public: &RsaPublicKey) -> Result<()> {
    let mut challenge = [0u8; 32];
    getrandom::fill(&mut challenge).expect("the host OS has no random number generator");
    sign_with_slot(client, slot, public, Sha256::digest(challenge).into())?;
    Ok(())
}

/// The device signs `digest` with the key in `slot`; the signature is returned only after it
/// verifies with `public`.
pub(super) fn sign_with_slot(
    client: &mut Client,
    slot: u8,
    public: &RsaPublicKey,
    digest: [u8; 32],
) -> ucrypto::Result<Vec<u8>> {
    let signature = client.call(
        RequestBody::SignDigestSlot { digest, slot },
        |body| match body {
            ResponseBody::Signature { data } => Ok(data.to_vec()),
            other => Err(HostError::Verification(format!(
                "the device answered a signature request with {other:?}"
            ))),
        },
    )?;
    check_rs256(public, &digest, &signature).map_err(|reason| {
        HostError::Verification(format!(
            "slot {slot}'s signature failed the host's check: {reason}"
        ))
    })?;
    Ok(signature)
}
