//! Device keys from the host's side: the slots a device reports, making a key in a slot
//! (generated on the device, or imported), and reading a slot's public key checked against the
//! fingerprint the device gave in `Hello`. The commands `key`, `csr`, `sign --slot` and
//! `jwt --slot` call these; so may any program using the library.
use rsa::pkcs8::EncodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};

use sha2::{Digest, Sha256};
use ucrypto_protocol::{
    Command, ErrorCode, PublicKeyInfo, RequestBody, ResponseBody, SlotState, ANY_SLOT, KEY_SLOTS,
};

use ucrypto_protocol::ChipProfile;

use crate::client::Client;
use crate::device_info::DeviceInfo;
use crate::error::{Error, Result};
use crate::key_file::DeviceKey;
use crate::transport::Transport;

pub mod lock;
pub mod public_format;

use crate::slots::state_name;
pub use crate::slots::{efuse_block, SlotSummary};

/// The eFuse key purpose the Digital Signature peripheral takes its key from.
pub const DS_PURPOSE: u8 = 7;

/// `--slot N` or `--slot any` of `key generate` and `key import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotChoice {
    Slot(u8),
    /// The highest free slot of 2 to 5 (the device's `ANY_SLOT`): slots 0 and 1 (`KEY0`,
    /// `KEY1`) are left to Secure Boot and flash encryption unless named.
    Any,
}

/// The lowest slot `SlotChoice::Any` takes (the engine's rule, docs/keys.md "Slots").
pub const FIRST_ANY_SLOT: u8 = 2;

/// The smallest device key outside tests; a virtual device with a fixed seed also takes
/// 1024-bit keys (the engine's rule).
pub const MIN_DEVICE_KEY_BITS: usize = 2048;

impl SlotChoice {
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        if text == "any" {
            return Ok(SlotChoice::Any);
        }
        match text.parse::<u8>() {
            Ok(slot) if usize::from(slot) < KEY_SLOTS => Ok(SlotChoice::Slot(slot)),
            _ => Err(format!(
                "a slot is 0 to {} or `any`, not `{text}`",
                KEY_SLOTS - 1
            )),
        }
    }

    fn wire(self) -> u8 {
        match self {
            SlotChoice::Slot(slot) => slot,
            SlotChoice::Any => ANY_SLOT,
        }
    }
}

/// The device's slots, or a refusal naming why it has none.
pub fn slots(info: &DeviceInfo) -> Result<[SlotState; KEY_SLOTS]> {
    match info.raw_key_slots {
        Some(slots) if info.raw_capabilities.supports(Command::DeviceKeys) => Ok(slots),
        _ => Err(Error::Unsupported(format!(
            "this device ({}, firmware {}) has no device keys: they need the Digital Signature \
             peripheral of an ESP32-C3 or -C6 and firmware that drives it",
            info.chip.name(),
            info.firmware_version
        ))),
    }
}

/// Checks from `Hello` that a key of `bits` bits can be made in `choice`, and returns the slot
/// it would go to. Refuses, in one line, what the device would refuse (nothing is sent).
/// `generated`: the device makes the key (its size must be a multiple of 64).
pub fn plan_slot(
    info: &DeviceInfo,
    choice: SlotChoice,
    bits: usize,
    generated: bool,
) -> Result<u8> {
    let states = slots(info)?;
    let caps = &info.raw_capabilities;
    // A device key signs on the Digital Signature peripheral, whose limit (3072 bits on the
    // C3/C6) is below what the chip signs with a key sent over the link (4096).
    let ds_max = ChipProfile::of(info.chip)
        .ds_max_bits
        .map_or(caps.max_rsa_bits, |ds| ds.min(caps.max_rsa_bits));
    if bits > usize::from(ds_max) {
        return Err(Error::Unsupported(format!(
            "{bits}-bit device keys are beyond this {}'s Digital Signature peripheral (at most \
             {ds_max} bits)",
            info.chip.name(),
        )));
    }
    if !generated && bits < usize::from(caps.min_rsa_bits) {
        return Err(Error::Unsupported(format!(
            "the key's modulus is {bits} bits; this {} takes {} to {} bits",
            info.chip.name(),
            caps.min_rsa_bits,
            caps.max_rsa_bits
        )));
    }
    if generated && (bits < usize::from(caps.min_rsa_bits) || !bits.is_multiple_of(64)) {
        return Err(Error::input(format!(
            "--bits must be a multiple of 64 from {} to {ds_max} (2048 or 3072 for production)",
            caps.min_rsa_bits
        )));
    }
    let test_device = info.virtual_device && info.deterministic();
    if bits < MIN_DEVICE_KEY_BITS && !test_device {
        return Err(Error::input(format!(
            "a {bits}-bit device key is too weak for an identity: use 2048 or 3072 bits (smaller \
             keys only on a virtual device with --seed, for tests)"
        )));
    }
    refuse_to_store(info)?;
    match choice {
        SlotChoice::Slot(slot) => match &states[usize::from(slot)] {
            SlotState::Free => Ok(slot),
            used => Err(Error::Device {
                code: ErrorCode::SlotUsed,
                message: format!(
                    "slot {slot} ({}) is not free ({}): nothing was burned; pick a free slot \
                     (`ucrypto key list`)",
                    efuse_block(slot),
                    state_name(used)
                ),
            }),
        },
        SlotChoice::Any => (0u8..)
            .zip(states.iter())
            .filter(|(slot, state)| *slot >= FIRST_ANY_SLOT && **state == SlotState::Free)
            .map(|(slot, _)| slot)
            .last()
            .ok_or_else(|| Error::Device {
                code: ErrorCode::NoFreeKeyBlock,
                message: "no eFuse key block of slots 2 to 5 is free (`ucrypto key list`); slots \
                          0 and 1 are used only when named (--slot 0 or 1)"
                    .into(),
            }),
    }
}

/// What the device would refuse before storing any key, said before anything is sent: the
/// provisioning lock, and eFuses that make a stored key unsafe (`WR_DIS.RD_DIS`) or unreadable
/// to ESP-IDF (flash encryption on).
fn refuse_to_store(info: &DeviceInfo) -> Result<()> {
    let Some(security) = &info.raw_security else {
        return Ok(());
    };
    let refusal = if security.provisioning_locked {
        Some((
            ErrorCode::Locked,
            "the device is locked (provisioning lock): it stores no more keys",
        ))
    } else if security.read_protection_locked {
        Some((
            ErrorCode::Insecure,
            "eFuse WR_DIS.RD_DIS is set (as ESP-IDF's Secure Boot leaves it): a new key block \
             could not be read-protected; device keys must be made before Secure Boot",
        ))
    } else if security.flash_encryption != ucrypto_protocol::FlashEncryption::Off {
        Some((
            ErrorCode::Insecure,
            "flash encryption is on: the device cannot write a key record ESP-IDF could read; \
             device keys must be made before flash encryption",
        ))
    } else {
        None
    };
    match refusal {
        Some((code, message)) => Err(Error::Device {
            code,
            message: format!("{message}: nothing was burned"),
        }),
        None => Ok(()),
    }
}

/// A slot's public key, checked.
pub struct SlotPublicKey {
    pub slot: u8,
    pub key: RsaPublicKey,
    /// The DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    pub spki_sha256: [u8; 32],
}

impl SlotPublicKey {
    fn from_answer(answer: &PublicKeyInfo<'_>) -> Result<Self> {
        let key = RsaPublicKey::new(
            BigUint::from_bytes_be(answer.n),
            BigUint::from_bytes_be(answer.e),
        )
        .map_err(|e| Error::Verification(format!("the device's public key is not usable: {e}")))?;
        if key.n().bits() != usize::from(answer.bits) {
            return Err(Error::Verification(format!(
                "the device said {} bits for a {}-bit modulus",
                answer.bits,
                key.n().bits()
            )));
        }
        let spki_der = key
            .to_public_key_der()
            .map_err(|e| Error::Verification(format!("cannot encode the public key: {e}")))?
            .into_vec();
        let spki_sha256 = Sha256::digest(&spki_der).into();
        Ok(Self {
            slot: answer.slot,
            key,
            spki_der,
            spki_sha256,
        })
    }

    pub fn bits(&self) -> usize {
        self.key.n().bits()
    }

    pub fn fingerprint(&self) -> String {
        hex::encode(self.spki_sha256)
    }

    /// Checks that `Hello`'s state for the slot is this key (its size and fingerprint).
    fn matches_hello(&self, info: &DeviceInfo) -> Result<()> {
        let states = slots(info)?;
        match states[usize::from(self.slot)] {
            SlotState::DsKey {
                bits, spki_sha256, ..
            } if usize::from(bits) == self.bits() && spki_sha256 == self.spki_sha256 => Ok(()),
            other => Err(Error::Verification(format!(
                "the public key the device answered for slot {} (SPKI SHA-256 {}) is not the key \
                 its Hello lists there ({})",
                self.slot,
                self.fingerprint(),
                SlotSummary::new(self.slot, &other).line()
            ))),
        }
    }
}

/// Reads the public key of `slot`, refusing a slot without a device key, and checks it against
/// the fingerprint in `Hello`.
pub fn read_public<T: Transport>(client: &mut Client<T>, slot: u8) -> Result<SlotPublicKey> {
    let states = slots(client.info())?;
    let state = states
        .get(usize::from(slot))
        .ok_or_else(|| Error::input(format!("a slot is 0 to {}", KEY_SLOTS - 1)))?;
    if !matches!(state, SlotState::DsKey { .. }) {
        return Err(Error::Device {
            code: ErrorCode::NoKey,
            message: format!(
                "slot {slot} holds no device key ({}): make one with `ucrypto key generate \
                 --slot {slot}`, or see `ucrypto key list`",
                state_name(state)
            ),
        });
    }
    let public = client.call(RequestBody::PublicKey { slot }, public_key_of)?;
    if public.slot != slot {
        return Err(Error::Verification(format!(
            "asked for slot {slot}'s public key, the device answered slot {}'s",
            public.slot
        )));
    }
    public.matches_hello(client.info())?;
    Ok(public)
}

/// What goes into a slot.
pub enum NewKey<'a> {
    /// Generated on the device: no private part ever crosses the link.
    Generate { bits: u16 },
    /// Sent by the host once (weaker: the key exists off the chip).
    Import(&'a DeviceKey),
}

/// A key made in a slot, checked.
pub struct MadeKey {
    pub public: SlotPublicKey,
    /// The test signature the host verified with the new public key.
    pub test_signature_verified: bool,
}

/// The digest the host has the new key sign to check it: any fixed value does.
const CHECK_MESSAGE: &[u8] = b"ucrypto device key check";

/// Makes a key in `slot` (as [`plan_slot`] chose it; `any` is passed on so the device picks
/// the same highest free slot of 2 to 5), then checks it: the public key is the one asked for (size,
/// exponent; for an import, the key sent), `Hello` now lists it with the same fingerprint, and
/// a test signature through the slot verifies with it. Burns eFuses: irreversible.
pub fn make<T: Transport>(
    client: &mut Client<T>,
    choice: SlotChoice,
    key: NewKey<'_>,
) -> Result<MadeKey> {
    let body = match &key {
        NewKey::Generate { bits } => RequestBody::KeyGenerate {
            slot: choice.wire(),
            bits: *bits,
        },
        NewKey::Import(device_key) => RequestBody::KeyImport {
            slot: choice.wire(),
            key: device_key.as_request(),
        },
    };
    // Not repeated when the answer is lost (`call` repeats only requests safe to repeat): a
    // second burn would go to another slot. `Hello` tells what happened.
    let public = client
        .call(body, public_key_of)
        .map_err(explain_make_error)?;
    if let SlotChoice::Slot(slot) = choice {
        if public.slot != slot {
            return Err(Error::Verification(format!(
                "asked for slot {slot}, the device made the key in slot {} (`ucrypto key list`)",
                public.slot
            )));
        }
    }
    match key {
        NewKey::Generate { bits } => {
            if public.bits() != usize::from(bits) || public.key.e() != &BigUint::from(65_537u32) {
                return Err(Error::Verification(format!(
                    "asked for a {bits}-bit key with e = 65537, the device made a {}-bit key with \
                     e = {} (slot {}: `ucrypto key list`)",
                    public.bits(),
                    public.key.e(),
                    public.slot
                )));
            }
        }
        NewKey::Import(device_key) => {
            let sent = device_key.as_request();
            if public.key.n().to_bytes_be() != sent.n || public.key.e().to_bytes_be() != sent.e {
                return Err(Error::Verification(format!(
                    "the device stored a key other than the one sent (slot {}: `ucrypto key list`)",
                    public.slot
                )));
            }
        }
    }
    let info = client.refresh_info()?;
    public.matches_hello(info)?;
    let digest: [u8; 32] = Sha256::digest(CHECK_MESSAGE).into();
    let signature = client.call(
        RequestBody::SignDigestSlot {
            digest,
            slot: public.slot,
        },
        |body| match body {
            ResponseBody::Signature { data } => Ok(data.to_vec()),
            other => Err(Error::Verification(format!(
                "the device answered SignDigestSlot with {other:?}"
            ))),
        },
    )?;
    public
        .key
        .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &signature)
        .map_err(|_| {
            Error::Verification(format!(
                "the new key's test signature does not verify with its public key (slot {})",
                public.slot
            ))
        })?;
    Ok(MadeKey {
        public,
        test_signature_verified: true,
    })
}

fn public_key_of(body: ResponseBody<'_>) -> Result<SlotPublicKey> {
    match body {
        ResponseBody::PublicKey(info) => SlotPublicKey::from_answer(&info),
        other => Err(Error::Verification(format!(
            "the device answered with {} where a public key was due",
            match other {
                ResponseBody::Hello(_) => "Hello".to_string(),
                other => format!("{other:?}"),
            }
        ))),
    }
}

/// Adds what to do to the device's refusals of `KeyGenerate` and `KeyImport`.
fn explain_make_error(error: Error) -> Error {
    let Error::Device { code, message } = error else {
        return error;
    };
    let hint = match code {
        ErrorCode::BurnFailed => "the slot may be lost: `ucrypto key list` shows what it holds",
        ErrorCode::SlotUsed => "nothing was burned: pick a free slot (`ucrypto key list`)",
        ErrorCode::NoFreeKeyBlock => "no eFuse key block is free on this chip",
        ErrorCode::StorageFailed => "nothing was burned: the key record could not be written",
        _ => return Error::Device { code, message },
    };
    Error::Device {
        code,
        message: format!("{message}; {hint}"),
    }
}

/// Device keys as operations of the client, like signing and AES: what a station or a script
/// calls without the command line. Making a key burns eFuses; these methods do not ask for a
/// confirmation, the caller does (the command line's `--burn` and typed-back id).
impl<T: Transport> Client<T> {
    /// The key slots the device listed in `Hello`.
    pub fn key_slots(&self) -> Result<Vec<SlotSummary>> {
        Ok(SlotSummary::all(&slots(self.info())?))
    }

    /// The public key of the device key in `slot`, checked against `Hello`'s fingerprint.
    pub fn key_public(&mut self, slot: u8) -> Result<SlotPublicKey> {
        read_public(self, slot)
    }

    /// Generates a `bits`-bit key on the device into `slot` and checks it ([`make`]).
    /// Irreversible: it burns an eFuse key block.
    pub fn key_generate(&mut self, slot: SlotChoice, bits: u16) -> Result<MadeKey> {
        plan_slot(self.info(), slot, usize::from(bits), true)?;
        make(self, slot, NewKey::Generate { bits })
    }

    /// Stores `key` on the device as a device key in `slot` and checks it ([`make`]). Weaker
    /// than [`Client::key_generate`]: the key crossed the link and exists off the chip.
    /// Irreversible: it burns an eFuse key block.
    pub fn key_import(&mut self, slot: SlotChoice, key: &rsa::RsaPrivateKey) -> Result<MadeKey> {
        let device_key = DeviceKey::new(key)?;
        plan_slot(self.info(), slot, device_key.bits(), false)?;
        make(self, slot, NewKey::Import(&device_key))
    }
}
