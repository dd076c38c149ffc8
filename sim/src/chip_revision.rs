//! The virtual chip's revision, as its second-stage bootloader reads it from eFuse BLOCK1 and
//! checks it against an image's header (ESP-IDF `bootloader_common_check_chip_validity`).
//!
//! Revisions are "full" numbers, `major * 100 + minor` (v0.3 is 3), as the image header's
//! `min_chip_rev_full` holds them. BLOCK1 fields, as espefuse (and espflash's eFuse tables)
//! name them, bit numbers counted from the block's first bit:
//! - ESP32-C3: `WAFER_VERSION_MINOR_LO` bits 114..117 (word 3, bits 18..20),
//!   `WAFER_VERSION_MINOR_HI` bit 183 (word 5, bit 23), `WAFER_VERSION_MAJOR` bits 184..186
//!   (word 5, bits 24..25);
//! - ESP32-C6: `WAFER_VERSION_MINOR` bits 114..118 (word 3, bits 18..21), `WAFER_VERSION_MAJOR`
//!   bits 118..120 (word 3, bits 22..23).
use ucrypto_protocol::Chip;

/// The revision of a virtual chip whose BLOCK1 is not programmed (all zero, as in the eFuse
/// file `ucrypto sim` creates: its key blocks are a new chip's, and Espressif's factory data
/// in BLOCK1 is not in it): an ESP32-C3 v0.3 (ECO3, what the ROM model's chip-detect magic
/// says) or an ESP32-C6 v0.0.
pub fn default_revision(chip: Chip) -> u16 {
    match chip {
        Chip::Esp32C3 => 3,
        _ => 0,
    }
}

/// The revision BLOCK1 (32 bytes, 8 little-endian words) gives, or `None` when the block is
/// not programmed at all (then [`default_revision`] applies).
pub fn from_block1(chip: Chip, block1: &[u8]) -> Option<u16> {
    let word = |i: usize| u32::from_le_bytes(block1[4 * i..4 * i + 4].try_into().expect("4"));
    if block1.len() != 32 || block1.iter().all(|&b| b == 0) {
        return None;
    }
    let (major, minor) = match chip {
        Chip::Esp32C3 => {
            let lo = word(3) >> 18 & 0x7;
            let hi = word(5) >> 23 & 0x1;
            (word(5) >> 24 & 0x3, hi << 3 | lo)
        }
        Chip::Esp32C6 => (word(3) >> 22 & 0x3, word(3) >> 18 & 0xF),
        _ => return None,
    };
    Some((major * 100 + minor) as u16)
}

/// BLOCK1 words 3 and 5 as the ROM model answers READ_REG for them: the wafer version fields of
/// `revision`.
pub fn block1_words(chip: Chip, revision: u16) -> (u32, u32) {
    let (major, minor) = (u32::from(revision / 100), u32::from(revision % 100));
    match chip {
        Chip::Esp32C3 => (
            (minor & 0x7) << 18,
            (minor >> 3 & 1) << 23 | (major & 3) << 24,
        ),
        Chip::Esp32C6 => ((minor & 0xF) << 18 | (major & 3) << 22, 0),
        _ => (0, 0),
    }
}

/// `vX.Y` of a full revision.
pub fn name(revision: u16) -> String {
    format!("v{}.{}", revision / 100, revision % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes of BLOCK1 written by hand from espefuse's field table (the ESP32-C3 summary of a
    /// v0.4 chip shows WAFER_VERSION_MINOR_LO = 4): word 3 = 4 << 18 = 0x0010_0000.
    #[test]
    fn the_wafer_version_comes_from_espefuses_fields() {
        let mut block1 = [0u8; 32];
        block1[12..16].copy_from_slice(&[0x00, 0x00, 0x10, 0x00]);
        assert_eq!(from_block1(Chip::Esp32C3, &block1), Some(4));
        // MINOR_HI (word 5 bit 23) adds 8; MAJOR 1 (word 5 bit 24) adds 100.
        block1[20..24].copy_from_slice(&[0x00, 0x00, 0x80, 0x01]);
        assert_eq!(from_block1(Chip::Esp32C3, &block1), Some(112));
        assert_eq!(block1_words(Chip::Esp32C3, 112), (0x0010_0000, 0x0180_0000));
        assert_eq!(from_block1(Chip::Esp32C3, &[0; 32]), None);
        // A MAC alone: v0.0.
        let mut mac_only = [0u8; 32];
        mac_only[..6].copy_from_slice(&[1, 2, 3, 4, 5, 6]);
        assert_eq!(from_block1(Chip::Esp32C3, &mac_only), Some(0));
        assert_eq!(name(3), "v0.3");
    }
}
