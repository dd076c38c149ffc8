//! The hardware behind device keys, as a small trait of its own: the eFuse controller (key
//! blocks, purposes, protection bits), the flash partition that holds the key records, and the
//! Digital Signature (DS) peripheral. Kept apart from [`super::Backend`]'s accelerators so a
//! chip without DS simply has none ([`super::Backend::key_hardware`] answers `None`).
//!
//! Methods are what the silicon offers: the engine decides which bits to burn and checks them.
use super::BackendError;

/// Words of eFuse `BLOCK0` on the ESP32-C3/C6 (`WR_DIS`, then `RD_REPEAT_DATA0..4`).
pub const BLOCK0_WORDS: usize = 6;

/// Words of a key block (`BLOCK4..BLOCK9` = `KEY0..KEY5`): 256 bits.
pub const KEY_WORDS: usize = 8;

/// The largest DS ciphertext: `Y ‖ M ‖ Rb` of 4096 bits each, `MD` (32 bytes), `M'` and `L`
/// (4 bytes each) and 8 bytes of padding. The ESP32-C3/C6 use the first 1200 bytes (3072-bit
/// numbers).
pub const DS_MAX_C_LEN: usize = 3 * 512 + 32 + 8 + 8;

/// The DS parameter block as ESP-IDF's `esp_ds_data_t` holds it: `L`, the IV and the ciphertext
/// (`c_len` bytes used, per the chip's largest modulus).
#[derive(Clone)]
pub struct DsBlock {
    /// `L = bits / 32 - 1`.
    pub rsa_length: u32,
    pub iv: [u8; 16],
    pub c: [u8; DS_MAX_C_LEN],
    pub c_len: usize,
}

impl DsBlock {
    pub const fn empty() -> Self {
        Self {
            rsa_length: 0,
            iv: [0; 16],
            c: [0; DS_MAX_C_LEN],
            c_len: 0,
        }
    }

    pub fn ciphertext(&self) -> &[u8] {
        &self.c[..self.c_len]
    }
}

/// Why the DS peripheral refused to sign (ESP-IDF's `ds_signature_check_t` and the HMAC key
/// check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DsError {
    /// The HMAC peripheral found no key of purpose `HMAC_DOWN_DIGITAL_SIGNATURE` in the block.
    InvalidKey,
    /// The decrypted block's `MD` did not match (`DS_SIGNATURE_MD_FAIL`).
    Digest,
    /// The decrypted block's trailing `0x08` bytes did not match (`DS_SIGNATURE_PADDING_FAIL`).
    Padding,
    /// The peripheral did not complete, or an argument was out of its range.
    Hardware,
}

/// eFuse, flash and DS access for device keys.
pub trait KeyHardware {
    /// eFuse `BLOCK0` as the controller reads it (write- and read-disable bits, key purposes).
    fn efuse_block0(&mut self) -> [u32; BLOCK0_WORDS];

    /// Key block `KEY<slot>` as software reads it: zeros when it is read-protected.
    fn efuse_key(&mut self, slot: u8) -> [u32; KEY_WORDS];

    /// Burns the one bits of `bits` into `BLOCK0` (eFuse bits only go from 0 to 1), then
    /// reloads the controller's read registers.
    fn efuse_program_block0(&mut self, bits: &[u32; BLOCK0_WORDS]) -> Result<(), BackendError>;

    /// Burns `key` into `KEY<slot>` with its Reed–Solomon check bytes, then reloads.
    fn efuse_program_key(&mut self, slot: u8, key: &[u32; KEY_WORDS]) -> Result<(), BackendError>;

    /// Size of the key-record partition (`esp_secure_cert`) in bytes.
    fn record_partition_len(&self) -> usize;

    /// Reads from the key-record partition at `offset`.
    fn record_read(&mut self, offset: usize, out: &mut [u8]) -> Result<(), BackendError>;

    /// Programs `data` at `offset` of the key-record partition without erasing: as on NOR
    /// flash, bits only go from 1 to 0, so the engine writes only where the partition is erased.
    fn record_write(&mut self, offset: usize, data: &[u8]) -> Result<(), BackendError>;

    /// Signs with the DS peripheral: the HMAC peripheral derives the block's AES key from
    /// `KEY<slot>`, the DS peripheral decrypts `block`, checks it and computes
    /// `message ^ Y mod M`. `message` and `out` are `L + 1` little-endian words.
    fn ds_sign(
        &mut self,
        slot: u8,
        block: &DsBlock,
        message: &[u32],
        out: &mut [u32],
    ) -> Result<(), DsError>;
}
