//! The device's trust state from eFuse `BLOCK0` (ESP32-C3/C6 TRM "eFuse Controller", espefuse's
//! `efuse_defs/esp32c3.yaml` and `esp32c6.yaml`, whose BLOCK0 positions agree for every bit read
//! here): the provisioning lock, Secure Boot, flash encryption, JTAG, download mode and
//! `WR_DIS.RD_DIS`; the refusals that follow from it (`refuse_if_locked`,
//! `refuse_if_unsafe_to_store_keys`) and `Lock`.
use ucrypto_protocol::{DownloadMode, ErrorCode, FlashEncryption, ResponseBody, SecurityState};

use super::super::outcome::{Outcome, Refusal};
use super::refusals::NO_KEYS;
use crate::backend::key_hardware::BLOCK0_WORDS;
use crate::Backend;

/// The provisioning lock: `BLOCK0` bit 183, the top bit of the field espefuse calls
/// `RESERVED_0_162` (bits 162..183 of `RD_REPEAT_DATA4`) on both the C3 and the C6. Why there:
/// `BLOCK0` has no Reed–Solomon coding, so one bit can be burned on its own, later than any
/// other (a bit in `BLOCK_USR_DATA` would spend that whole block, which is written once with
/// its check bytes); no ROM or ESP-IDF code reads it; no `WR_DIS` bit covers it, so nothing can
/// stop it from being burned; Espressif assigns new fields from the low end of that range (160
/// and 161 became `DISABLE_*_VERSION_MAJOR`). `espefuse dump` shows it as bit 23 of BLOCK0's
/// sixth word, `espefuse burn_bit BLOCK0 183` burns it.
pub(crate) const LOCK_BIT: usize = 183;

/// `WR_DIS` bit 0: `RD_DIS` is write-protected.
const WR_DIS_RD_DIS: usize = 0;
/// `WR_DIS` bit 4: `SPI_BOOT_CRYPT_CNT` is write-protected.
const WR_DIS_SPI_BOOT_CRYPT_CNT: usize = 4;
const DIS_USB_JTAG: usize = 41;
const DIS_DOWNLOAD_ICACHE: usize = 42;
const DIS_PAD_JTAG: usize = 51;
const DIS_DOWNLOAD_MANUAL_ENCRYPT: usize = 52;
/// Three bits: flash encryption is on when an odd number of them is set.
const SPI_BOOT_CRYPT_CNT: usize = 82;
const SECURE_BOOT_EN: usize = 116;
const DIS_DOWNLOAD_MODE: usize = 128;
const ENABLE_SECURITY_DOWNLOAD: usize = 133;

fn bit(block0: &[u32; BLOCK0_WORDS], index: usize) -> bool {
    block0[index / 32] >> (index % 32) & 1 == 1
}

/// `BLOCK0` with only the lock bit set: what `Lock` burns.
pub(crate) fn lock_bits() -> [u32; BLOCK0_WORDS] {
    let mut bits = [0u32; BLOCK0_WORDS];
    bits[LOCK_BIT / 32] = 1 << (LOCK_BIT % 32);
    bits
}

/// What `BLOCK0` says about the device.
pub(crate) fn state(block0: &[u32; BLOCK0_WORDS]) -> SecurityState {
    let crypt_cnt = (block0[SPI_BOOT_CRYPT_CNT / 32] >> (SPI_BOOT_CRYPT_CNT % 32)) & 0b111;
    // ESP-IDF's `esp_get_flash_encryption_mode`: release when the counter can no longer change
    // (write-protected or all three bits set) and the ROM loader can neither write plaintext
    // through the encryption nor run the cache in download mode.
    let flash_encryption = if crypt_cnt.count_ones().is_multiple_of(2) {
        FlashEncryption::Off
    } else if (bit(block0, WR_DIS_SPI_BOOT_CRYPT_CNT) || crypt_cnt == 0b111)
        && bit(block0, DIS_DOWNLOAD_MANUAL_ENCRYPT)
        && bit(block0, DIS_DOWNLOAD_ICACHE)
    {
        FlashEncryption::Release
    } else {
        FlashEncryption::Development
    };
    let download_mode = if bit(block0, DIS_DOWNLOAD_MODE) {
        DownloadMode::Disabled
    } else if bit(block0, ENABLE_SECURITY_DOWNLOAD) {
        DownloadMode::Secure
    } else {
        DownloadMode::Enabled
    };
    SecurityState {
        provisioning_locked: bit(block0, LOCK_BIT),
        secure_boot: bit(block0, SECURE_BOOT_EN),
        flash_encryption,
        usb_jtag_disabled: bit(block0, DIS_USB_JTAG),
        // `SOFT_DIS_JTAG` does not count: the HMAC peripheral can turn pad JTAG back on.
        pad_jtag_disabled: bit(block0, DIS_PAD_JTAG),
        download_mode,
        read_protection_locked: bit(block0, WR_DIS_RD_DIS),
    }
}

/// The security state of `backend`'s chip, or `None` without eFuse access.
pub(crate) fn read<B: Backend>(backend: &mut B) -> Option<SecurityState> {
    let hw = backend.key_hardware()?;
    Some(state(&hw.efuse_block0()))
}

const LOCKED: Refusal = (
    ErrorCode::Locked,
    "the device is locked (provisioning lock): it burns and stores nothing more",
);

/// `Locked` once the provisioning lock is set: called first by every request that burns eFuses
/// or writes provisioning records (`KeyGenerate`, `KeyImport`, `CertWrite`).
pub(crate) fn refuse_if_locked<B: Backend>(backend: &mut B) -> Result<(), Refusal> {
    match read(backend) {
        Some(s) if s.provisioning_locked => Err(LOCKED),
        _ => Ok(()),
    }
}

/// `Insecure` when a new device key could not be stored as ESP-IDF and the DS peripheral need
/// it: with `WR_DIS.RD_DIS` set the burn cannot read-protect the key block (the key would be
/// readable by software and the slot lost), and with flash encryption on the bootloader
/// decrypts the partition on every read, so a record written in the clear would read as noise
/// to ESP-IDF (this firmware writes the partition raw).
pub(crate) fn refuse_if_unsafe_to_store_keys<B: Backend>(backend: &mut B) -> Result<(), Refusal> {
    let Some(s) = read(backend) else {
        return Ok(());
    };
    if s.read_protection_locked {
        return Err((
            ErrorCode::Insecure,
            "eFuse WR_DIS.RD_DIS is set (ESP-IDF sets it with Secure Boot): a new key block could not be read-protected, so no key is stored",
        ));
    }
    if s.flash_encryption != FlashEncryption::Off {
        return Err((
            ErrorCode::Insecure,
            "flash encryption is on: this firmware writes the key record unencrypted, which ESP-IDF could not read, so no key is stored",
        ));
    }
    Ok(())
}

/// `Lock`: burns the lock bit (once) and checks it reads back.
pub(crate) fn lock<'d, B: Backend>(backend: &mut B) -> Outcome<'d> {
    let hw = backend.key_hardware().ok_or(NO_KEYS)?;
    if !bit(&hw.efuse_block0(), LOCK_BIT) {
        const FAILED: Refusal = (
            ErrorCode::BurnFailed,
            "burning the lock bit failed: the device is not locked",
        );
        hw.efuse_program_block0(&lock_bits()).map_err(|_| FAILED)?;
        if !bit(&hw.efuse_block0(), LOCK_BIT) {
            return Err(FAILED);
        }
    }
    Ok(ResponseBody::Locked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(bits: &[usize]) -> [u32; BLOCK0_WORDS] {
        let mut b = [0u32; BLOCK0_WORDS];
        for &i in bits {
            b[i / 32] |= 1 << (i % 32);
        }
        b
    }

    /// Positions against espefuse's esp32c3.yaml (`word`, `pos`): DIS_USB_JTAG word 1 pos 9,
    /// DIS_PAD_JTAG word 1 pos 19, SPI_BOOT_CRYPT_CNT word 2 pos 18..20, SECURE_BOOT_EN word 3
    /// pos 20, DIS_DOWNLOAD_MODE word 4 pos 0, ENABLE_SECURITY_DOWNLOAD word 4 pos 5,
    /// RESERVED_0_162 word 5 pos 2..23.
    #[test]
    fn bits_sit_where_espefuse_reads_them() {
        let mut b = [0u32; BLOCK0_WORDS];
        b[1] = 1 << 9 | 1 << 19;
        b[3] = 1 << 20;
        b[4] = 1 << 5;
        b[5] = 1 << 23;
        b[0] = 1;
        let s = state(&b);
        assert!(s.usb_jtag_disabled && s.pad_jtag_disabled && s.secure_boot);
        assert!(s.provisioning_locked && s.read_protection_locked);
        assert_eq!(s.download_mode, DownloadMode::Secure);
        assert_eq!(s.flash_encryption, FlashEncryption::Off);
        assert_eq!(lock_bits(), [0, 0, 0, 0, 0, 1 << 23]);
        b[4] |= 1;
        assert_eq!(state(&b).download_mode, DownloadMode::Disabled);
        assert_eq!(
            state(&[0; BLOCK0_WORDS]),
            SecurityState {
                provisioning_locked: false,
                secure_boot: false,
                flash_encryption: FlashEncryption::Off,
                usb_jtag_disabled: false,
                pad_jtag_disabled: false,
                download_mode: DownloadMode::Enabled,
                read_protection_locked: false,
            }
        );
    }

    #[test]
    fn flash_encryption_follows_the_counter_as_esp_idf_reads_it() {
        let cnt = |v: u32| {
            let mut b = [0u32; BLOCK0_WORDS];
            b[2] = v << 18;
            b
        };
        assert_eq!(
            state(&cnt(0b001)).flash_encryption,
            FlashEncryption::Development
        );
        assert_eq!(state(&cnt(0b011)).flash_encryption, FlashEncryption::Off);
        assert_eq!(
            state(&cnt(0b111)).flash_encryption,
            FlashEncryption::Development
        );
        // Release: counter full, and the ROM loader's manual encryption and cache off.
        let mut b = cnt(0b111);
        b[1] |= 1 << 20 | 1 << 10;
        assert_eq!(state(&b).flash_encryption, FlashEncryption::Release);
        // Or: counter at 1 and write-protected.
        let mut b = with(&[82, DIS_DOWNLOAD_MANUAL_ENCRYPT, DIS_DOWNLOAD_ICACHE]);
        assert_eq!(state(&b).flash_encryption, FlashEncryption::Development);
        b[0] |= 1 << 4;
        assert_eq!(state(&b).flash_encryption, FlashEncryption::Release);
    }
}
