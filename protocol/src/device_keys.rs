//! Device keys: the types of the requests that create and use RSA keys which never leave the
//! chip (an eFuse key block of purpose `HMAC_DOWN_DIGITAL_SIGNATURE` plus the Digital Signature
//! peripheral's encrypted parameter block in flash).
use postcard_schema::Schema;
use serde::{Deserialize, Serialize};

/// Number of key slots: slot `N` is the eFuse key block `KEY<N>` (`BLOCK<N+4>`) of the ESP32-C3
/// and -C6, the blocks the HMAC peripheral can take a key from.
pub const KEY_SLOTS: usize = 6;

/// In `KeyGenerate` and `KeyImport`: the highest free slot of 2 to 5 instead of a named one
/// (`KEY0` and `KEY1` are taken only when named; answered with
/// [`crate::ErrorCode::NoFreeKeyBlock`] when none is free).
pub const ANY_SLOT: u8 = 0xff;

/// RSA key size a host asks for when the user names none.
pub const DEFAULT_KEY_BITS: u16 = 2048;

/// The state of one key slot, as read from the eFuse key block and the flash record.
#[derive(Serialize, Deserialize, Schema, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// The eFuse key block is empty (all zero, purpose 0, no protection bit): a key can be
    /// generated or imported here.
    Free,
    /// A Digital Signature key: the block has purpose 7 (`HMAC_DOWN_DIGITAL_SIGNATURE`) and is
    /// read- and write-protected, and flash holds its parameter block. `spki_sha256` is the
    /// SHA-256 of the public key's DER `SubjectPublicKeyInfo`.
    ///
    /// `origin` says whether the key was generated on this chip or sent to it; `readable` is
    /// true when the eFuse key block is not read-protected (a development burn, as Espressif's
    /// tools make without production settings): software on the chip can read the eFuse key
    /// and so decrypt the parameter block.
    DsKey {
        bits: u16,
        spki_sha256: [u8; 32],
        origin: KeyOrigin,
        readable: bool,
    },
    /// The block is used for something else (its eFuse `KEY_PURPOSE` value); the device never
    /// touches it.
    OtherPurpose { purpose: u8 },
    /// A burn that did not finish: some of key, purpose or protection bits are set but not all of
    /// them. eFuse bits cannot be cleared: the slot is lost, and says so.
    BurnIncomplete,
    /// A complete Digital Signature block without a readable flash record (the flash was erased
    /// or overwritten): the key cannot be used again and the slot cannot be reused.
    RecordMissing,
}

/// Where a device key came from, as the device recorded it when it stored the key.
#[derive(Serialize, Deserialize, Schema, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyOrigin {
    /// Generated on this chip by `KeyGenerate`: the private key never existed anywhere else.
    Generated,
    /// Sent to the chip by `KeyImport`: the key existed off the chip.
    Imported,
    /// A record written by another tool (Espressif's esp_secure_cert tools): unknown.
    Unknown,
}

/// The key slots of a device, in `Hello`.
pub type KeySlots = [SlotState; KEY_SLOTS];

/// An RSA public key as the device answers it: both integers unsigned big-endian without a sign
/// byte.
#[derive(Serialize, Deserialize, Schema, Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyInfo<'a> {
    pub slot: u8,
    /// The modulus's size in bits.
    pub bits: u16,
    pub n: &'a [u8],
    pub e: &'a [u8],
}
