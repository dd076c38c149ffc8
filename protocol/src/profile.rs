//! What each chip's hardware can do, as data: the engine reports it in `Hello` and the virtual
//! device imitates the chip it is asked to be.
use crate::{Chip, EntropySource, KeySize};

/// The hardware capabilities of one chip model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChipProfile {
    pub chip: Chip,
    /// AES key sizes the accelerator does (bit set of [`KeySize`]); the engine does the others in
    /// software.
    pub aes_hw_key_sizes: u8,
    /// Largest RSA modulus the device signs with, in bits. Above the accelerator's operand size
    /// the engine still signs: each CRT half fits the accelerator, and the rest is in software.
    pub max_rsa_bits: u16,
    /// Largest operand the RSA accelerator takes, in bits (the modulus of one exponentiation).
    pub rsa_accelerator_bits: u16,
    /// Where the TRNG's entropy comes from on this chip without the radio running.
    pub entropy_source: EntropySource,
    /// Largest modulus of the Digital Signature peripheral, which sets the DS parameter block's
    /// size; `None` for a chip without one (ESP32).
    pub ds_max_bits: Option<u16>,
}

const AES_ALL: u8 = KeySize::Aes128 as u8 | KeySize::Aes192 as u8 | KeySize::Aes256 as u8;
const AES_128_256: u8 = KeySize::Aes128 as u8 | KeySize::Aes256 as u8;

impl ChipProfile {
    /// The profile of `chip` (ESP32 and ESP32-S3 from their technical reference manuals; only the
    /// ESP32-C3 and ESP32-C6 firmware is built and tested here).
    pub const fn of(chip: Chip) -> ChipProfile {
        let (aes_hw_key_sizes, rsa_accelerator_bits, ds_max_bits) = match chip {
            Chip::Esp32 => (AES_ALL, 4096, None),
            Chip::Esp32S3 => (AES_ALL, 4096, Some(4096)),
            Chip::Esp32C3 | Chip::Esp32C6 => (AES_128_256, 3072, Some(3072)),
        };
        ChipProfile {
            chip,
            aes_hw_key_sizes,
            // Two 2048-bit CRT halves fit every accelerator listed; the protocol's limit is 4096.
            max_rsa_bits: crate::MAX_RSA_BITS,
            rsa_accelerator_bits,
            entropy_source: EntropySource::SarAdc,
            ds_max_bits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn riscv_chips_lack_aes192_in_hardware_and_sign_4096_bits_with_a_3072_bit_accelerator() {
        for chip in [Chip::Esp32C3, Chip::Esp32C6] {
            let p = ChipProfile::of(chip);
            assert_eq!(p.aes_hw_key_sizes & KeySize::Aes192 as u8, 0);
            assert_ne!(p.aes_hw_key_sizes & KeySize::Aes256 as u8, 0);
            assert_eq!(p.rsa_accelerator_bits, 3072);
            assert_eq!(p.max_rsa_bits, 4096);
            // A 4096-bit key's CRT halves must fit the accelerator.
            assert!(p.max_rsa_bits / 2 <= p.rsa_accelerator_bits);
        }
        assert_eq!(ChipProfile::of(Chip::Esp32).rsa_accelerator_bits, 4096);
    }
}
