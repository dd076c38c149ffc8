//! The virtual device's key hardware: the ESP32-C3/C6 eFuse controller's blocks, the SPI flash
//! (one raw image, erased to `0xFF`, with the project's partition offsets) and the Digital
//! Signature peripheral, modelled from the TRM.
//!
//! The DS model decrypts the parameter block with the key the HMAC peripheral derives from the
//! eFuse key (`HMAC-SHA256(K, 0xFF × 32)`), checks `MD` and the `0x08` padding as silicon does,
//! and only then computes `message ^ Y mod M`. It is written from the TRM with the `hmac`, `aes`
//! and `sha2` crates, independently of the engine code that builds the block.
//!
//! # The eFuse file (`ucrypto sim --efuse FILE`)
//! 11 blocks (`BLOCK0` to `BLOCK10`) of 8 little-endian 32-bit words, 352 bytes: block `b`, word
//! `w` at byte `32 b + 4 w`. `BLOCK0` uses words 0 to 5 as the controller reads them: word 0
//! `WR_DIS` (bit `23 + n` protects `KEYn`, bit `8 + n` its purpose), word 1 `RD_REPEAT_DATA0`
//! (bit `n` = `RD_DIS` of `KEYn`), word 2 `RD_REPEAT_DATA1` (`KEY_PURPOSE_0` in bits 24..27,
//! `KEY_PURPOSE_1` in 28..31), word 3 `RD_REPEAT_DATA2` (`KEY_PURPOSE_2..5` in bits 0..15).
//! `KEYn` is `BLOCK(4 + n)`, the key bytes in order (word 0 = bytes 0..3, little-endian).
//! `BLOCK0` word 5 (`RD_REPEAT_DATA4`) bit 23 is the provisioning lock (bit 183).
//!
//! # espefuse's virtual-eFuse file
//! `espefuse.py --virt --path-efuse-file F` keeps the ESP32-C3/C6 eFuse controller's register
//! space (0x200 bytes) as a bit string read from the end: the 32-bit register at offset `o` is
//! the big-endian word at bytes `0x200 - o - 4 .. 0x200 - o` (esptool's
//! `emulate_efuse_controller_base.py`, `read_reg`). The blocks' read registers start at 0x2C
//! (`BLOCK0`, 6 words), 0x44 (`BLOCK1`, 6), 0x5C (`BLOCK2`), 0x7C (`BLOCK3`), 0x9C + 0x20 n
//! (`KEYn`) and 0x15C (`BLOCK10`), 8 words each (`mem_definition.py`). [`VirtualKeyHardware::load_efuse_file`]
//! takes either layout and saves in the one it loaded. espefuse clears a read-protected block's
//! read registers in its file, as the chip reads them; this model keeps the key there instead
//! (it needs it to sign after a restart), so espefuse shows such a key where a chip would not.
use std::vec;
use std::vec::Vec;

use aes::cipher::{BlockDecryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use num_bigint::BigUint;
use sha2::{Digest, Sha256};

use super::key_hardware::{DsBlock, DsError, KeyHardware, BLOCK0_WORDS, KEY_WORDS};
use super::BackendError;

/// eFuse blocks of the ESP32-C3/C6.
pub const EFUSE_BLOCKS: usize = 11;
/// Bytes of the eFuse file.
pub const EFUSE_FILE_LEN: usize = EFUSE_BLOCKS * 32;
/// Bytes of espefuse's virtual-eFuse file (the controller's register space).
pub const ESPEFUSE_FILE_LEN: usize = 0x200;
/// Read-register offset and word count of `BLOCK0`..`BLOCK10` in espefuse's file.
const ESPEFUSE_BLOCKS: [(usize, usize); EFUSE_BLOCKS] = [
    (0x2c, 6),
    (0x44, 6),
    (0x5c, 8),
    (0x7c, 8),
    (0x9c, 8),
    (0xbc, 8),
    (0xdc, 8),
    (0xfc, 8),
    (0x11c, 8),
    (0x13c, 8),
    (0x15c, 8),
];

/// The virtual SPI flash: 4 MiB.
pub const FLASH_LEN: usize = 4 << 20;
/// Offset and size of the `esp_secure_cert` partition (firmware/chip/partitions.csv).
pub const RECORD_PARTITION_OFFSET: usize = 0xd000;
pub const RECORD_PARTITION_LEN: usize = 0x3000;

/// A failure to inject into a burn, for tests of the half-done paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BurnFault {
    /// The key block is programmed, then programming `BLOCK0` fails.
    AfterKeyBlock,
    /// `BLOCK0` is programmed without the read-protection bit.
    LoseReadProtection,
    /// Flash writes fail (the record cannot be stored).
    FlashWrite,
    /// This many more flash writes succeed, then they fail (a record cut short by a reset).
    FlashWriteAfter(u32),
}

/// The eFuse blocks, the flash image and the DS peripheral of a virtual device.
pub struct VirtualKeyHardware {
    efuse: [[u32; 8]; EFUSE_BLOCKS],
    flash: Vec<u8>,
    /// The next burn or flash write fails this way.
    pub fault: Option<BurnFault>,
    /// Count of eFuse programming and flash writes, so a host keeping files knows when to save.
    writes: u64,
    /// The eFuse file was espefuse's: its bytes, saved again with the blocks updated (its other
    /// registers, which this model does not keep, unchanged).
    espefuse_file: Option<Vec<u8>>,
}

impl Default for VirtualKeyHardware {
    fn default() -> Self {
        Self::new()
    }
}

impl VirtualKeyHardware {
    /// A new chip: eFuses all zero, flash erased.
    pub fn new() -> Self {
        Self {
            efuse: [[0; 8]; EFUSE_BLOCKS],
            flash: vec![0xff; FLASH_LEN],
            fault: None,
            writes: 0,
            espefuse_file: None,
        }
    }

    /// Loads the eFuse file's bytes (see the module doc); `None` if the length is wrong.
    pub fn load_efuse(&mut self, bytes: &[u8]) -> Option<()> {
        if bytes.len() != EFUSE_FILE_LEN {
            return None;
        }
        for (i, chunk) in bytes.chunks_exact(4).enumerate() {
            self.efuse[i / 8][i % 8] = u32::from_le_bytes(chunk.try_into().ok()?);
        }
        Some(())
    }

    /// Loads an eFuse file of either layout (ours, or espefuse's `--virt` file); `None` if it
    /// is neither.
    pub fn load_efuse_file(&mut self, bytes: &[u8]) -> Option<()> {
        if bytes.len() != ESPEFUSE_FILE_LEN {
            return self.load_efuse(bytes);
        }
        let word = |offset: usize| {
            let end = ESPEFUSE_FILE_LEN - offset;
            u32::from_be_bytes([
                bytes[end - 4],
                bytes[end - 3],
                bytes[end - 2],
                bytes[end - 1],
            ])
        };
        for (block, &(offset, words)) in self.efuse.iter_mut().zip(&ESPEFUSE_BLOCKS) {
            *block = [0; 8];
            for (w, value) in block.iter_mut().take(words).enumerate() {
                *value = word(offset + 4 * w);
            }
        }
        self.espefuse_file = Some(bytes.to_vec());
        Some(())
    }

    /// The eFuse file's bytes in the layout it was loaded from.
    pub fn efuse_file_bytes(&self) -> Vec<u8> {
        let Some(mut out) = self.espefuse_file.clone() else {
            return self.efuse_bytes();
        };
        for (block, &(offset, words)) in self.efuse.iter().zip(&ESPEFUSE_BLOCKS) {
            for (w, value) in block.iter().take(words).enumerate() {
                let end = ESPEFUSE_FILE_LEN - offset - 4 * w;
                out[end - 4..end].copy_from_slice(&value.to_be_bytes());
            }
        }
        out
    }

    /// The eFuse file's bytes.
    pub fn efuse_bytes(&self) -> Vec<u8> {
        self.efuse
            .iter()
            .flat_map(|block| block.iter().flat_map(|w| w.to_le_bytes()))
            .collect()
    }

    /// Loads a raw flash image (any length up to 4 MiB; the rest stays erased).
    pub fn load_flash(&mut self, bytes: &[u8]) -> Option<()> {
        if bytes.len() > FLASH_LEN {
            return None;
        }
        self.flash[..bytes.len()].copy_from_slice(bytes);
        Some(())
    }

    /// How many eFuse programming operations and flash writes happened so far.
    pub fn writes(&self) -> u64 {
        self.writes
    }

    /// The whole raw flash image.
    pub fn flash_bytes(&self) -> &[u8] {
        &self.flash
    }

    fn block0(&self) -> [u32; BLOCK0_WORDS] {
        let mut out = [0; BLOCK0_WORDS];
        out.copy_from_slice(&self.efuse[0][..BLOCK0_WORDS]);
        out
    }

    fn bit(&self, index: usize) -> bool {
        self.efuse[0][index / 32] >> (index % 32) & 1 == 1
    }
}

impl KeyHardware for VirtualKeyHardware {
    fn efuse_block0(&mut self) -> [u32; BLOCK0_WORDS] {
        self.block0()
    }

    fn efuse_key(&mut self, slot: u8) -> [u32; KEY_WORDS] {
        let slot = usize::from(slot);
        // RD_DIS bit n: software reads zeros.
        if self.bit(32 + slot) {
            [0; KEY_WORDS]
        } else {
            self.efuse[4 + slot]
        }
    }

    fn efuse_program_block0(&mut self, bits: &[u32; BLOCK0_WORDS]) -> Result<(), BackendError> {
        self.writes += 1;
        let mut bits = *bits;
        match self.fault.take() {
            Some(BurnFault::AfterKeyBlock) => return Err(BackendError::Hardware),
            Some(BurnFault::LoseReadProtection) => bits[1] = 0,
            other => self.fault = other,
        }
        // WR_DIS bit 0 protects RD_DIS; bits 8 + n protect KEY_PURPOSE_n. Protected fields keep
        // their value, as on silicon (the write is ignored). Protection set by this same burn
        // takes effect afterwards, when the controller reloads.
        let before = self.block0();
        let was = |index: usize| before[index / 32] >> (index % 32) & 1 == 1;
        for (i, word) in bits.iter().enumerate() {
            let mut allowed = u32::MAX;
            if i == 1 && was(0) {
                allowed &= !0x7f;
            }
            for n in 0..6 {
                if was(8 + n) {
                    let b = 88 + 4 * n;
                    if b / 32 == i {
                        allowed &= !(0xf << (b % 32));
                    }
                }
            }
            self.efuse[0][i] |= word & allowed;
        }
        Ok(())
    }

    fn efuse_program_key(&mut self, slot: u8, key: &[u32; KEY_WORDS]) -> Result<(), BackendError> {
        let slot = usize::from(slot);
        if slot >= 6 {
            return Err(BackendError::Unsupported);
        }
        self.writes += 1;
        if !self.bit(23 + slot) {
            for (w, k) in self.efuse[4 + slot].iter_mut().zip(key) {
                *w |= k;
            }
        }
        Ok(())
    }

    fn record_partition_len(&self) -> usize {
        RECORD_PARTITION_LEN
    }

    fn record_read(&mut self, offset: usize, out: &mut [u8]) -> Result<(), BackendError> {
        let end = offset
            .checked_add(out.len())
            .filter(|&e| e <= RECORD_PARTITION_LEN)
            .ok_or(BackendError::Unsupported)?;
        out.copy_from_slice(
            &self.flash[RECORD_PARTITION_OFFSET + offset..RECORD_PARTITION_OFFSET + end],
        );
        Ok(())
    }

    fn record_write(&mut self, offset: usize, data: &[u8]) -> Result<(), BackendError> {
        match self.fault {
            Some(BurnFault::FlashWrite | BurnFault::FlashWriteAfter(0)) => {
                return Err(BackendError::Hardware)
            }
            Some(BurnFault::FlashWriteAfter(n)) => {
                self.fault = Some(BurnFault::FlashWriteAfter(n - 1))
            }
            _ => {}
        }
        let end = offset
            .checked_add(data.len())
            .filter(|&e| e <= RECORD_PARTITION_LEN)
            .ok_or(BackendError::Unsupported)?;
        let at = RECORD_PARTITION_OFFSET + offset;
        self.writes += 1;
        // NOR flash: programming only clears bits.
        for (f, d) in self.flash[at..RECORD_PARTITION_OFFSET + end]
            .iter_mut()
            .zip(data)
        {
            *f &= d;
        }
        Ok(())
    }

    fn ds_sign(
        &mut self,
        slot: u8,
        block: &DsBlock,
        message: &[u32],
        out: &mut [u32],
    ) -> Result<(), DsError> {
        let slot = usize::from(slot);
        if slot >= 6 {
            return Err(DsError::Hardware);
        }
        // The HMAC peripheral only serves a key of purpose HMAC_DOWN_DIGITAL_SIGNATURE (7).
        let b = 88 + 4 * slot;
        if (self.efuse[0][b / 32] >> (b % 32)) & 0xf != 7 {
            return Err(DsError::InvalidKey);
        }
        let k: Vec<u8> = self.efuse[4 + slot]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&k).map_err(|_| DsError::Hardware)?;
        mac.update(&[0xff; 32]);
        let aes_key = mac.finalize().into_bytes();

        // The chip's largest modulus sets the block's layout (3072 bits: 1200 bytes).
        let c = block.ciphertext();
        let num_len = (c.len() - 48) / 3;
        if !c.len().is_multiple_of(16) || !num_len.is_multiple_of(4) {
            return Err(DsError::Hardware);
        }
        let mut p = c.to_vec();
        let mut decryptor = cbc::Decryptor::<aes::Aes256>::new(&aes_key, (&block.iv).into());
        for chunk in p.chunks_exact_mut(16) {
            decryptor.decrypt_block_mut(aes::Block::from_mut_slice(chunk));
        }
        let (numbers, tail) = p.split_at(3 * num_len);
        let (md, rest) = tail.split_at(32);
        let (m_prime_l, padding) = rest.split_at(8);
        let mut h = Sha256::new();
        h.update(numbers);
        h.update(m_prime_l);
        h.update(block.iv);
        let md_ok = h.finalize().as_slice() == md;
        let padding_ok = padding.iter().all(|&b| b == 0x08);
        let result = match (md_ok, padding_ok) {
            (true, true) => Ok(()),
            (false, _) => Err(DsError::Digest),
            (true, false) => Err(DsError::Padding),
        };
        if result.is_err() {
            p.iter_mut().for_each(|b| *b = 0);
            return result;
        }
        let l = u32::from_le_bytes(m_prime_l[4..8].try_into().unwrap_or_default()) as usize;
        let words = l + 1;
        if message.len() != words || out.len() != words || 4 * words > num_len {
            p.iter_mut().for_each(|b| *b = 0);
            return Err(DsError::Hardware);
        }
        let y = BigUint::from_bytes_le(&numbers[..4 * words]);
        let m = BigUint::from_bytes_le(&numbers[num_len..num_len + 4 * words]);
        p.iter_mut().for_each(|b| *b = 0);
        let x = BigUint::from_slice(message);
        let z = x.modpow(&y, &m);
        let digits = z.to_u32_digits();
        out.fill(0);
        out[..digits.len()].copy_from_slice(&digits);
        Ok(())
    }
}
