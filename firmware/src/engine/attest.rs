//! `Attest`: a statement of what the device is (identity, firmware, key, security state) over the
//! host's challenge, signed with a slot's device key. The encoding is docs/protocol.md section 6,
//! "Attestation": fixed offsets, so that a verifier in any language reads it without a decoder.
use ucrypto_protocol::{
    Chip, DownloadMode, FlashEncryption, KeyOrigin, ResponseBody, SecurityState, SelfTest,
    SlotState, MAX_CHUNK_LEN,
};

use super::device_keys;
use super::outcome::Outcome;
use crate::Backend;

/// The first bytes of every statement: what it is (so a signature over it is never mistaken
/// for a signature over anything else) and its encoding's version.
pub const STATEMENT_TAG: &[u8; 20] = b"UCRYPTO-ATTESTATION\0";
pub const STATEMENT_VERSION: u8 = 1;
/// Bytes before the firmware version string.
const FIXED_LEN: usize = 139;
/// The longest firmware version a statement carries (longer ones are cut).
const MAX_VERSION_LEN: usize = 64;

/// What the statement says besides the key: the device as `Hello` reports it.
pub(crate) struct Identity<'a> {
    pub(crate) device_id: [u8; 6],
    pub(crate) chip: Chip,
    pub(crate) virtual_device: bool,
    pub(crate) firmware_version: &'a str,
    pub(crate) app_sha256: Option<[u8; 32]>,
    pub(crate) security: Option<SecurityState>,
}

fn chip_code(chip: Chip) -> u8 {
    match chip {
        Chip::Esp32 => 0,
        Chip::Esp32S3 => 1,
        Chip::Esp32C3 => 2,
        Chip::Esp32C6 => 3,
    }
}

fn origin_code(origin: KeyOrigin) -> u8 {
    match origin {
        KeyOrigin::Generated => 0,
        KeyOrigin::Imported => 1,
        KeyOrigin::Unknown => 2,
    }
}

/// Writes the statement into `out`; returns its length.
fn encode(
    identity: &Identity<'_>,
    challenge: &[u8; 32],
    slot: u8,
    key: &SlotState,
    out: &mut [u8],
) -> usize {
    let SlotState::DsKey {
        bits,
        spki_sha256,
        origin,
        readable,
    } = *key
    else {
        return 0;
    };
    out[..20].copy_from_slice(STATEMENT_TAG);
    out[20] = STATEMENT_VERSION;
    out[21..53].copy_from_slice(challenge);
    out[53..59].copy_from_slice(&identity.device_id);
    out[59] = chip_code(identity.chip);
    out[60] = u8::from(identity.virtual_device);
    out[61] = slot;
    out[62..64].copy_from_slice(&bits.to_be_bytes());
    out[64..96].copy_from_slice(&spki_sha256);
    out[96] = origin_code(origin);
    out[97] = u8::from(readable);
    // The security state, 0xff in every field when the device does not report it.
    let security = &mut out[98..106];
    match identity.security {
        None => security.fill(0xff),
        Some(s) => {
            security[0] = 1;
            security[1] = u8::from(s.provisioning_locked);
            security[2] = u8::from(s.secure_boot);
            security[3] = match s.flash_encryption {
                FlashEncryption::Off => 0,
                FlashEncryption::Development => 1,
                FlashEncryption::Release => 2,
            };
            security[4] = u8::from(s.usb_jtag_disabled);
            security[5] = u8::from(s.pad_jtag_disabled);
            security[6] = match s.download_mode {
                DownloadMode::Enabled => 0,
                DownloadMode::Secure => 1,
                DownloadMode::Disabled => 2,
            };
            security[7] = u8::from(s.read_protection_locked);
        }
    }
    match identity.app_sha256 {
        None => {
            out[106] = 0;
            out[107..139].fill(0);
        }
        Some(hash) => {
            out[106] = 1;
            out[107..139].copy_from_slice(&hash);
        }
    }
    let version = identity.firmware_version.as_bytes();
    let n = version.len().min(MAX_VERSION_LEN);
    out[FIXED_LEN] = n as u8;
    out[FIXED_LEN + 1..FIXED_LEN + 1 + n].copy_from_slice(&version[..n]);
    FIXED_LEN + 1 + n
}

/// `Attest`.
pub(crate) fn attest<'d, B: Backend>(
    backend: &mut B,
    self_test: &SelfTest,
    identity: &Identity<'_>,
    slot: u8,
    challenge: &[u8; 32],
    data: &'d mut [u8; MAX_CHUNK_LEN],
) -> Outcome<'d> {
    let key = device_keys::slot_key(backend, slot)?;
    let len = encode(identity, challenge, slot, &key, &mut data[..]);
    let mut hash = backend.sha256_start();
    backend.sha256_update(&mut hash, &data[..len]);
    let digest = backend.sha256_finish(hash);
    let (statement, rest) = data.split_at_mut(len);
    let k = device_keys::sign_digest_into(backend, self_test, slot, &digest, rest)?;
    Ok(ResponseBody::Attestation {
        statement,
        signature: &rest[..k],
    })
}
