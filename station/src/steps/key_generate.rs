//! The `key-generate` step: an RSA key made on the device in a key slot (an eFuse key block of
//! the Digital Signature peripheral: irreversible), reconciled with the device first so that a
//! key burned by a station that stopped before recording it is found and recorded, never burned
//! twice. A key found in the slot is the device's identity only when the records show this line
//! made it there (its key recorded, or a burn into that slot started and the device reporting a
//! generated key); any other key fails the step unless the recipe says `adopt = true`.
use rsa::pkcs8::EncodePublicKey;
use rsa::{BigUint, RsaPublicKey};
use sha2::{Digest, Sha256};
use ucrypto_protocol::{Command, KeyOrigin, RequestBody, ResponseBody, SlotState, KEY_SLOTS};

use crate::error::{Error, Result};
use crate::records::{KeyRecord, Records, RunContext};
use ucrypto::client::Client;
use ucrypto::slots::origin_name;
use ucrypto::verify::signature::check_rs256;
use ucrypto::Error as HostError;

/// What the step found or made.
pub struct SlotKey {
    pub record: KeyRecord,
    /// False when the device already held the key (a re-run, or a burn a stopped station did
    /// not record).
    pub generated: bool,
    /// The device held a key this line did not make, accepted because the recipe says
    /// `adopt = true`.
    pub adopted: bool,
}

/// The records, for deciding whether a key found in a slot is this line's own.
pub struct Ledger<'a> {
    pub records: &'a Records,
    pub ctx: &'a RunContext,
}

/// Whether the key the device holds in `slot` (fingerprint `spki_sha256`, origin as the device
/// recorded it) was made there by this line: recorded by a station, or generated on the device
/// after a station started a burn into that slot (the station stopped before recording it).
fn made_by_this_line(
    ledger: &Ledger<'_>,
    device_id: &str,
    slot: u8,
    spki_sha256: &[u8; 32],
    origin: KeyOrigin,
) -> Result<bool> {
    Ok(match ledger.records.recorded_key(device_id, slot)? {
        Some(recorded) => recorded == hex::encode(spki_sha256),
        None => {
            origin == KeyOrigin::Generated
                && ledger.records.key_burn_was_started(device_id, slot)?
        }
    })
}

/// Makes sure `slot` holds a key of `bits` bits and returns its public half, checked: the
/// device's own fingerprint in `Hello` matches it, and a signature of a fresh challenge made
/// with the slot verifies with it.
pub fn ensure_key(
    client: &mut Client,
    slot: u8,
    bits: u16,
    adopt: bool,
    ledger: &Ledger<'_>,
) -> Result<SlotKey> {
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
    let device_id = client.info().device_id_string();
    let (public, generated, adopted) = match slot_state(client, slot)? {
        SlotState::DsKey {
            spki_sha256,
            origin,
            readable,
            ..
        } => {
            let ours = !readable
                && made_by_this_line(ledger, &device_id, slot, &spki_sha256, origin)?;
            if !ours && !adopt {
                let why = if readable {
                    "a development burn whose eFuse key is readable".to_string()
                } else {
                    format!(
                        "{} on the device, and not made by this line according to the records",
                        origin_name(origin)
                    )
                };
                return Err(Error::Verification(format!(
                    "slot {slot} already holds a key ({why}): not taken as the device's identity; \
                     add adopt = true to the key-generate step to accept it"
                )));
            }
            (public_key(client, slot)?, false, !ours)
        }
        SlotState::Free => {
            // Written before the burn: a station killed after it knows the key is its own.
            ledger
                .records
                .key_burn_started(ledger.ctx, &device_id, slot, bits)?;
            (generate(client, slot, bits)?, true, false)
        }
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
    let origin = match slot_state(client, slot)? {
        SlotState::DsKey {
            spki_sha256,
            origin,
            ..
        } if spki_sha256 == fingerprint => origin,
        other => {
            return Err(Error::Verification(format!(
                "slot {slot} reports {other:?}, not the key it answered with"
            )))
        }
    };
    check_signs(client, slot, &public)?;
    Ok(SlotKey {
        record: KeyRecord {
            slot: i64::from(slot),
            public_key_der: der,
            spki_sha256: hex::encode(fingerprint),
            csr_pem: None,
            origin: Some(origin_name(origin).to_string()),
        },
        generated,
        adopted,
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
