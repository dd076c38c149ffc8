//! Types of the requests that make a device trustworthy on its own and use its identity: the
//! security state it reports, the provisioning lock, certificates, digests and RSA decryption.
use postcard_schema::Schema;
use serde::{Deserialize, Serialize};

/// What the device's eFuses say about how far it can be trusted (in `Hello`).
#[derive(Serialize, Deserialize, Schema, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityState {
    /// The provisioning lock (`Lock`) is set: no more burns or provisioning writes.
    pub provisioning_locked: bool,
    /// Secure Boot (v2) is enabled.
    pub secure_boot: bool,
    pub flash_encryption: FlashEncryption,
    /// JTAG through the USB-Serial-JTAG peripheral is disabled (`DIS_USB_JTAG`).
    pub usb_jtag_disabled: bool,
    /// JTAG on the pads is disabled for good (`DIS_PAD_JTAG`).
    pub pad_jtag_disabled: bool,
    pub download_mode: DownloadMode,
    /// `WR_DIS.RD_DIS` is set: no eFuse key block can be read-protected any more, so no new
    /// device key can be stored safely.
    pub read_protection_locked: bool,
}

/// Flash encryption, from `SPI_BOOT_CRYPT_CNT` and `DIS_DOWNLOAD_MANUAL_ENCRYPT`.
#[derive(Serialize, Deserialize, Schema, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashEncryption {
    Off,
    /// Enabled, but it can still be turned off, or plain images written through the ROM loader.
    Development,
    /// Enabled for good.
    Release,
}

/// The ROM's serial download mode.
#[derive(Serialize, Deserialize, Schema, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadMode {
    Enabled,
    /// Secure download mode: flashing only, no memory or register reads.
    Secure,
    Disabled,
}

/// Digest algorithms of `DigestStart`.
#[derive(Serialize, Deserialize, Schema, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha256,
    Sha224,
    /// Legacy: only for compatibility with code that still needs it.
    Sha1,
}

impl HashAlg {
    /// The digest's length in bytes.
    pub const fn digest_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha224 => 28,
            HashAlg::Sha1 => 20,
        }
    }

    /// The name used on the command line and in JSON.
    pub const fn name(self) -> &'static str {
        match self {
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha224 => "sha224",
            HashAlg::Sha1 => "sha1",
        }
    }
}

/// The padding of an RSA ciphertext.
#[derive(Serialize, Deserialize, Schema, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RsaPadding {
    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256, empty label (RFC 8017 section 7.1).
    OaepSha256,
    /// RSAES-PKCS1-v1_5 (RFC 8017 section 7.2): for compatibility only.
    Pkcs1v15,
}

/// The certificate entries of the esp_secure_cert partition.
#[derive(Serialize, Deserialize, Schema, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertKind {
    /// The device's own certificate (`ESP_SECURE_CERT_DEV_CERT_TLV`).
    Device,
    /// The CA certificate (chain) that issued it (`ESP_SECURE_CERT_CA_CERT_TLV`).
    Ca,
}
