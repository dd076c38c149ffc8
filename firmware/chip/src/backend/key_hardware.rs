//! The chip's [`KeyHardware`]: the eFuse controller, the `esp_secure_cert` flash partition and
//! the HMAC + Digital Signature peripherals, each in its own file as register sequences.
use esp_hal::hmac::Hmac;
use esp_hal::peripherals::{FLASH, HMAC};
use ucrypto_firmware::backend::key_hardware::{DsBlock, DsError, BLOCK0_WORDS, KEY_WORDS};
use ucrypto_firmware::backend::KeyHardware;
use ucrypto_firmware::BackendError;

use super::record::{RecordFlash, PARTITION_LEN};
use super::{ds, efuse};

/// Owns what device keys use on the chip.
pub struct ChipKeyHardware {
    flash: RecordFlash,
    // Held for its clock guard: esp-hal's driver enables the HMAC block's clock and keeps it on;
    // the downstream sequence itself is in ds.rs.
    _hmac: Hmac<'static>,
}

impl ChipKeyHardware {
    pub fn new(flash: FLASH<'static>, hmac: HMAC<'static>) -> Self {
        let hmac = Hmac::new(hmac);
        ds::enable_clock();
        Self {
            flash: RecordFlash::new(flash),
            _hmac: hmac,
        }
    }
}

impl ChipKeyHardware {
    /// See [`RecordFlash::app_image_digest`].
    pub fn app_image_digest(&mut self) -> Option<[u8; 32]> {
        self.flash.app_image_digest()
    }
}

impl KeyHardware for ChipKeyHardware {
    fn efuse_block0(&mut self) -> [u32; BLOCK0_WORDS] {
        efuse::read_block0()
    }

    fn efuse_key(&mut self, slot: u8) -> [u32; KEY_WORDS] {
        efuse::read_key(slot)
    }

    fn efuse_program_block0(&mut self, bits: &[u32; BLOCK0_WORDS]) -> Result<(), BackendError> {
        efuse::program_block0(bits)
    }

    fn efuse_program_key(&mut self, slot: u8, key: &[u32; KEY_WORDS]) -> Result<(), BackendError> {
        efuse::program_key(slot, key)
    }

    fn record_partition_len(&self) -> usize {
        PARTITION_LEN
    }

    fn record_read(&mut self, offset: usize, out: &mut [u8]) -> Result<(), BackendError> {
        self.flash.read(offset, out)
    }

    fn record_write(&mut self, offset: usize, data: &[u8]) -> Result<(), BackendError> {
        self.flash.write(offset, data)
    }

    fn ds_sign(
        &mut self,
        slot: u8,
        block: &DsBlock,
        message: &[u32],
        out: &mut [u32],
    ) -> Result<(), DsError> {
        ds::sign(slot, block, message, out)
    }
}
