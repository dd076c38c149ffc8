//! The eFuse map of the ESP32-C3 and -C6 for key blocks (ESP-IDF `esp_efuse_table.csv`, TRM
//! "eFuse Controller"): where a key block's purpose and protection bits sit in `BLOCK0`, and what
//! a slot's bits say about it.
use crate::backend::key_hardware::{BLOCK0_WORDS, KEY_WORDS};

/// `KEY_PURPOSE` value `HMAC_DOWN_DIGITAL_SIGNATURE`.
pub(crate) const PURPOSE_DS: u8 = 7;

/// `BLOCK0` bit of `KEY_PURPOSE_<slot>` (4 bits): `KEY_PURPOSE_0` is bits 88..92.
const fn purpose_bit(slot: u8) -> usize {
    88 + 4 * slot as usize
}

/// `BLOCK0` bit of `RD_DIS` for `KEY<slot>` (`RD_DIS` is bits 32..39, bit `n` = `BLOCK4+n`).
const fn read_disable_bit(slot: u8) -> usize {
    32 + slot as usize
}

/// `BLOCK0` bit of `WR_DIS.BLOCK_KEY<slot>` (bits 23..28).
const fn write_disable_key_bit(slot: u8) -> usize {
    23 + slot as usize
}

/// `BLOCK0` bit of `WR_DIS.KEY_PURPOSE_<slot>` (bits 8..13).
const fn write_disable_purpose_bit(slot: u8) -> usize {
    8 + slot as usize
}

fn bit(block0: &[u32; BLOCK0_WORDS], index: usize) -> bool {
    block0[index / 32] >> (index % 32) & 1 == 1
}

fn set(block0: &mut [u32; BLOCK0_WORDS], index: usize) {
    block0[index / 32] |= 1 << (index % 32);
}

/// The key purpose of `KEY<slot>`.
pub(crate) fn purpose(block0: &[u32; BLOCK0_WORDS], slot: u8) -> u8 {
    let b = purpose_bit(slot);
    (block0[b / 32] >> (b % 32) & 0xf) as u8
}

/// The `BLOCK0` bits a DS key burn sets for `slot`: purpose 7, read protection, write protection
/// of the key block and of its purpose field.
pub(crate) fn ds_burn_bits(slot: u8) -> [u32; BLOCK0_WORDS] {
    let mut bits = [0u32; BLOCK0_WORDS];
    let b = purpose_bit(slot);
    bits[b / 32] |= u32::from(PURPOSE_DS) << (b % 32);
    set(&mut bits, read_disable_bit(slot));
    set(&mut bits, write_disable_key_bit(slot));
    set(&mut bits, write_disable_purpose_bit(slot));
    bits
}

/// What a key block's eFuse bits say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockState {
    /// Nothing burned: key zero, purpose 0, no protection.
    Empty,
    /// Purpose 7, read- and write-protected: a complete DS key block.
    DsKey,
    /// Purpose 7 with a key software can read (no read protection): a development burn, as
    /// espefuse's `burn_key --no-read-protect` and Espressif's development flow leave it. A DS
    /// key only with a record (this firmware's own burn never leaves it: it is a burn that lost
    /// its read protection otherwise).
    DsKeyReadable,
    /// A key of another purpose.
    OtherPurpose(u8),
    /// Some bits of a DS burn, not all (or data the device did not write in a purpose-0 block).
    Partial,
}

/// Reads a key block's state from `BLOCK0` and the block as software reads it.
pub(crate) fn block_state(
    block0: &[u32; BLOCK0_WORDS],
    key: &[u32; KEY_WORDS],
    slot: u8,
) -> BlockState {
    let purpose = purpose(block0, slot);
    let read_protected = bit(block0, read_disable_bit(slot));
    let key_locked = bit(block0, write_disable_key_bit(slot));
    let purpose_locked = bit(block0, write_disable_purpose_bit(slot));
    let key_written = key.iter().any(|&w| w != 0);
    match purpose {
        0 if !(key_written || read_protected || key_locked || purpose_locked) => BlockState::Empty,
        0 => BlockState::Partial,
        PURPOSE_DS if read_protected && key_locked && purpose_locked => BlockState::DsKey,
        PURPOSE_DS if !read_protected && key_written => BlockState::DsKeyReadable,
        PURPOSE_DS => BlockState::Partial,
        other => BlockState::OtherPurpose(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bit positions against ESP-IDF's esp32c3 `esp_efuse_table.csv` (KEY_PURPOSE_0 at 88,
    /// RD_DIS at 32, WR_DIS.BLOCK_KEY0 at 23, WR_DIS.KEY_PURPOSE_0 at 8) and the PAC's
    /// `RD_REPEAT_DATA1.KEY_PURPOSE_0` (bits 24..27 of the third word).
    #[test]
    fn slot_burn_bits_match_the_efuse_table() {
        let bits = ds_burn_bits(0);
        assert_eq!(bits[0], (1 << 23) | (1 << 8));
        assert_eq!(bits[1], 1);
        assert_eq!(bits[2], 7 << 24);
        assert_eq!(bits[3], 0);
        let bits = ds_burn_bits(5);
        assert_eq!(bits[0], (1 << 28) | (1 << 13));
        assert_eq!(bits[1], 1 << 5);
        // KEY_PURPOSE_5: bits 12..15 of RD_REPEAT_DATA2 (word 3).
        assert_eq!(bits[3], 7 << 12);
    }

    #[test]
    fn states_follow_the_bits() {
        let zero = [0u32; KEY_WORDS];
        let mut block0 = [0u32; BLOCK0_WORDS];
        assert_eq!(block_state(&block0, &zero, 2), BlockState::Empty);
        // Key written, BLOCK0 not yet: a burn that stopped half way.
        assert_eq!(block_state(&block0, &[1; 8], 2), BlockState::Partial);
        for (i, w) in ds_burn_bits(2).iter().enumerate() {
            block0[i] |= w;
        }
        assert_eq!(block_state(&block0, &zero, 2), BlockState::DsKey);
        assert_eq!(block_state(&block0, &zero, 1), BlockState::Empty);
        // Purpose 7 without read protection is not a finished DS key; with a readable key it
        // is a development burn.
        block0[1] &= !(1 << 2);
        assert_eq!(block_state(&block0, &zero, 2), BlockState::Partial);
        assert_eq!(block_state(&block0, &[1; 8], 2), BlockState::DsKeyReadable);
        // XTS_AES_128_KEY (4) in KEY1.
        block0[2] |= 4 << 28;
        assert_eq!(block_state(&block0, &zero, 1), BlockState::OtherPurpose(4));
    }
}
