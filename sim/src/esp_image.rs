//! Espressif's application image format, read the way the chip's bootloaders check it: the
//! header and its chip id, the segments, the XOR checksum and the appended SHA-256, the
//! partition table, and the version in the application's `esp_app_desc_t`.
//!
//! The format (ESP-IDF "App Image Format"; little-endian):
//! - header, 24 bytes: magic 0xE9, segment count, SPI mode, flash size/frequency, entry point
//!   (u32), WP pin, 3 bytes of SPI pin drive, chip id (u16), min revision (u8), min and max
//!   full revision (u16 each), 4 reserved bytes, hash-appended flag (u8);
//! - each segment: load address (u32), length (u32), that many bytes;
//! - zero padding so that the checksum byte ends on a 16-byte boundary, then the checksum:
//!   0xEF XORed with every segment data byte;
//! - if the flag is set, the SHA-256 of everything from the header to the checksum byte.
use sha2::{Digest, Sha256};
use ucrypto_protocol::Chip;

pub const IMAGE_MAGIC: u8 = 0xE9;
pub const HEADER_LEN: usize = 24;
/// The seed of the image checksum (and of the ROM loader's data checksum).
pub const CHECKSUM_SEED: u8 = 0xEF;
/// `esp_app_desc_t.magic_word`.
pub const APP_DESC_MAGIC: u32 = 0xABCD_5432;
/// Where the partition table sits in flash on the ESP32-C3 and C6.
pub const PARTITION_TABLE_OFFSET: u32 = 0x8000;
/// Where the second-stage bootloader sits in flash on the ESP32-C3 and C6.
pub const BOOTLOADER_OFFSET: u32 = 0x0;
/// The ESP-IDF bootloader rejects images with more segments.
const MAX_SEGMENTS: u8 = 16;

/// The image's `chip_id` field for a chip (ESP-IDF's `esp_chip_id_t`).
pub fn chip_id(chip: Chip) -> u16 {
    match chip {
        Chip::Esp32 => 0,
        Chip::Esp32S3 => 9,
        Chip::Esp32C3 => 5,
        Chip::Esp32C6 => 13,
    }
}

/// The chip an image's `chip_id` field names, if ucrypto knows it.
pub fn chip_of_id(id: u16) -> Option<Chip> {
    Chip::ALL.into_iter().find(|&c| chip_id(c) == id)
}

/// What a checked image holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub chip_id: u16,
    /// Bytes the image takes, with its checksum and hash.
    pub len: usize,
    /// `esp_app_desc_t.version`, if a segment starts with an application description.
    pub version: Option<String>,
}

/// Why an image would not boot; the text says it as a bootloader log would.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ImageError(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, ImageError> {
    Err(ImageError(message.into()))
}

/// The `chip_id` in an image's header, without checking the rest (`ucrypto flash` reads it
/// before it touches the board).
pub fn header_chip_id(bytes: &[u8]) -> Result<u16, ImageError> {
    if bytes.len() < HEADER_LEN {
        return fail(format!("{} bytes is too short for an image", bytes.len()));
    }
    if bytes[0] != IMAGE_MAGIC {
        return fail(format!(
            "no image header (magic {:#04x}, expected {IMAGE_MAGIC:#04x})",
            bytes[0]
        ));
    }
    Ok(u16::from_le_bytes([bytes[12], bytes[13]]))
}

/// Checks the image at the start of `bytes` as the bootloader does before it runs one.
pub fn check(bytes: &[u8], chip: Chip) -> Result<ImageInfo, ImageError> {
    let id = header_chip_id(bytes)?;
    if id != chip_id(chip) {
        return fail(format!(
            "the image is for chip id {id} ({}), this chip is {} (id {})",
            chip_of_id(id).map_or("unknown", Chip::name),
            chip.name(),
            chip_id(chip)
        ));
    }
    let segments = bytes[1];
    if segments == 0 || segments > MAX_SEGMENTS {
        return fail(format!("{segments} segments (1 to {MAX_SEGMENTS} allowed)"));
    }
    let hash_appended = bytes[23] == 1;
    let mut at = HEADER_LEN;
    let mut checksum = CHECKSUM_SEED;
    let mut version = None;
    for n in 0..segments {
        let Some(header) = bytes.get(at..at + 8) else {
            return fail(format!("segment {n} header is past the end of the image"));
        };
        let len = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes")) as usize;
        let Some(data) = bytes.get(at + 8..(at + 8).saturating_add(len)) else {
            return fail(format!("segment {n} ({len} bytes) runs past the end"));
        };
        checksum = data.iter().fold(checksum, |c, b| c ^ b);
        if version.is_none() {
            version = app_version(data);
        }
        at += 8 + len;
    }
    // Zero padding up to the checksum byte, which is the last of a 16-byte line.
    let checksum_at = at + (15 - at % 16);
    let Some(&stored) = bytes.get(checksum_at) else {
        return fail("the checksum byte is past the end of the image");
    };
    if stored != checksum {
        return fail(format!(
            "checksum mismatch: image says {stored:#04x}, segments give {checksum:#04x}"
        ));
    }
    let mut len = checksum_at + 1;
    if hash_appended {
        let Some(stored) = bytes.get(len..len + 32) else {
            return fail("the appended SHA-256 is past the end of the image");
        };
        if Sha256::digest(&bytes[..len]).as_slice() != stored {
            return fail("SHA-256 mismatch: the image is damaged");
        }
        len += 32;
    }
    Ok(ImageInfo {
        chip_id: id,
        len,
        version,
    })
}

/// `esp_app_desc_t.version` if `segment` starts with an application description: magic word,
/// secure version, 8 reserved bytes, then the version (32 bytes, NUL-padded).
fn app_version(segment: &[u8]) -> Option<String> {
    let magic = u32::from_le_bytes(segment.get(0..4)?.try_into().ok()?);
    if magic != APP_DESC_MAGIC {
        return None;
    }
    let field = segment.get(16..48)?;
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let version = std::str::from_utf8(&field[..end]).ok()?;
    Some(version.to_string())
}

/// One entry of the partition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub kind: u8,
    pub subtype: u8,
    pub offset: u32,
    pub size: u32,
}

/// Entry magic (0xAA 0x50); an entry is 32 bytes: magic, type, subtype, offset, size,
/// 16-byte label, flags.
const PARTITION_MAGIC: [u8; 2] = [0xAA, 0x50];
pub const PARTITION_TYPE_APP: u8 = 0x00;
const PARTITION_SUBTYPE_FACTORY: u8 = 0x00;
/// The table holds at most this many entries (3 KiB, before its MD5 entry).
const MAX_PARTITIONS: usize = 95;

/// The partitions in a table, up to the first entry that is not one (erased, or the MD5 entry).
pub fn partitions(table: &[u8]) -> Vec<Partition> {
    table
        .chunks_exact(32)
        .take(MAX_PARTITIONS)
        .take_while(|e| e[..2] == PARTITION_MAGIC)
        .map(|e| Partition {
            kind: e[2],
            subtype: e[3],
            offset: u32::from_le_bytes(e[4..8].try_into().expect("4 bytes")),
            size: u32::from_le_bytes(e[8..12].try_into().expect("4 bytes")),
        })
        .collect()
}

/// The application partition the bootloader runs without OTA data: the factory one, else
/// the first application partition.
pub fn boot_partition(table: &[Partition]) -> Option<Partition> {
    let apps = || table.iter().filter(|p| p.kind == PARTITION_TYPE_APP);
    apps()
        .find(|p| p.subtype == PARTITION_SUBTYPE_FACTORY)
        .or_else(|| apps().next())
        .copied()
}

/// The application image's SHA-256 as `Hello` reports it (docs/protocol.md,
/// `HelloInfo.app_sha256`): the SHA-256 digest appended to the application image the
/// bootloader runs from `flash` (a merged image, or the whole flash), which covers the image
/// from its header to its checksum byte; ESP-IDF's `esp_partition_get_sha256` of an app
/// partition gives the same 32 bytes. `None` if the image has no appended digest or would
/// not boot.
pub fn app_sha256(flash: &[u8], chip: Chip) -> Option<[u8; 32]> {
    let table_at = PARTITION_TABLE_OFFSET as usize;
    let app = boot_partition(&partitions(flash.get(table_at..table_at + 0xC00)?))?;
    let end = (app.offset as usize).saturating_add(app.size as usize);
    let image = flash.get(app.offset as usize..end.min(flash.len()))?;
    let info = check(image, chip).ok()?;
    if image[23] != 1 {
        return None;
    }
    image[info.len - 32..info.len].try_into().ok()
}

/// The oldest chip revision (`major * 100 + minor`) an image's header accepts
/// (`min_chip_rev_full`, bytes 15..17).
pub fn min_chip_revision(image: &[u8]) -> Option<u16> {
    Some(u16::from_le_bytes(image.get(15..17)?.try_into().ok()?))
}

/// The second-stage bootloader's chip revision check, on its own header and then on the
/// application's, with its words (ESP-IDF `bootloader_common_check_chip_validity`, log tag
/// `boot_comm`): a chip of `revision` older than an image requires does not run it.
pub fn check_chip_revision(flash: &[u8], revision: u16) -> Result<(), ImageError> {
    let table_at = PARTITION_TABLE_OFFSET as usize;
    let app = flash
        .get(table_at..table_at + 0xC00)
        .and_then(|t| boot_partition(&partitions(t)));
    let headers = [
        Some(BOOTLOADER_OFFSET as usize),
        app.map(|p| p.offset as usize),
    ];
    for at in headers.into_iter().flatten() {
        let Some(required) = flash.get(at..).and_then(min_chip_revision) else {
            continue;
        };
        if revision < required {
            return fail(format!(
                "chip revision check failed. Required >= v{}.{}, found v{}.{}.",
                required / 100,
                required % 100,
                revision / 100,
                revision % 100
            ));
        }
    }
    Ok(())
}

/// What booting a merged flash image (bootloader, partition table, application) finds: the
/// application's version, or why it would not run.
pub fn boot_version(flash: &[u8], chip: Chip) -> Result<String, ImageError> {
    let bootloader = &flash[BOOTLOADER_OFFSET as usize..];
    check(bootloader, chip).map_err(|e| ImageError(format!("bootloader at 0x0: {e}")))?;
    let table_at = PARTITION_TABLE_OFFSET as usize;
    let table = flash.get(table_at..table_at + 0xC00).unwrap_or(&[]);
    let Some(app) = boot_partition(&partitions(table)) else {
        return fail("no application partition in the partition table at 0x8000");
    };
    let end = (app.offset as usize).saturating_add(app.size as usize);
    let Some(image) = flash.get(app.offset as usize..end.min(flash.len())) else {
        return fail(format!(
            "the application partition at {:#x} is past the flash",
            app.offset
        ));
    };
    let info = check(image, chip)
        .map_err(|e| ImageError(format!("application at {:#x}: {e}", app.offset)))?;
    info.version.ok_or_else(|| {
        ImageError(format!(
            "application at {:#x} has no esp_app_desc_t",
            app.offset
        ))
    })
}
