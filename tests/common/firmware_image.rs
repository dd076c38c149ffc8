//! Firmware images built by hand for the flashing tests: merged images (bootloader, partition
//! table, application) laid out as the chip's ROM and bootloader read them.
use sha2::{Digest, Sha256};

/// The data partitions of the test image's partition table, as in ucrypto's own: nvs at
/// 0x9000 and esp_secure_cert (the device keys) at 0xD000, up to the application at 0x10000.
pub const NVS: usize = 0x9000;
pub const SECURE_CERT: usize = 0xD000;
pub const DATA_LEN: usize = 0x7000;

/// The version the test image's `esp_app_desc_t` carries.
pub const TEST_VERSION: &str = "7.7.7-flash-test";

/// One ESP application image, built by hand from ESP-IDF's "App Image Format":
/// - a 24-byte header: 0xE9, segment count, SPI mode, flash size/frequency, entry (u32 LE),
///   WP pin 0xEE, 3 bytes of pin drive, chip id (u16 LE), min revision, min and max full
///   revision (u16 LE each), 4 reserved bytes, hash appended (1);
/// - segments: load address (u32 LE), length (u32 LE), data;
/// - zero padding so that the checksum byte (0xEF XOR every data byte) ends a 16-byte line;
/// - the SHA-256 of everything before it.
pub fn esp_image(chip_id: u16, segments: &[(u32, Vec<u8>)]) -> Vec<u8> {
    esp_image_requiring(chip_id, 0, segments)
}

/// As [`esp_image`], for chips of revision `min_rev_full` (major * 100 + minor) and later.
pub fn esp_image_requiring(
    chip_id: u16,
    min_rev_full: u16,
    segments: &[(u32, Vec<u8>)],
) -> Vec<u8> {
    let mut image = vec![0xE9, segments.len() as u8, 0x02, 0x20];
    image.extend_from_slice(&0x4038_0000u32.to_le_bytes());
    image.extend_from_slice(&[0xEE, 0, 0, 0]);
    image.extend_from_slice(&chip_id.to_le_bytes());
    image.push((min_rev_full % 100) as u8);
    image.extend_from_slice(&min_rev_full.to_le_bytes());
    image.extend_from_slice(&0xFFFFu16.to_le_bytes());
    image.extend_from_slice(&[0; 4]);
    image.push(1);
    assert_eq!(image.len(), 24);
    let mut checksum = 0xEFu8;
    for (address, data) in segments {
        image.extend_from_slice(&address.to_le_bytes());
        image.extend_from_slice(&(data.len() as u32).to_le_bytes());
        image.extend_from_slice(data);
        checksum = data.iter().fold(checksum, |c, b| c ^ b);
    }
    while image.len() % 16 != 15 {
        image.push(0);
    }
    image.push(checksum);
    let hash = Sha256::digest(&image);
    image.extend_from_slice(&hash);
    image
}

/// `esp_app_desc_t`: magic 0xABCD5432, secure version, 8 reserved bytes, version[32],
/// project name[32], time[16], date[16], IDF version[32], ELF SHA-256[32], reserved.
pub fn app_desc(version: &str) -> Vec<u8> {
    let mut desc = 0xABCD_5432u32.to_le_bytes().to_vec();
    desc.extend_from_slice(&[0; 12]);
    let mut field = [0u8; 32];
    field[..version.len()].copy_from_slice(version.as_bytes());
    desc.extend_from_slice(&field);
    let mut name = [0u8; 32];
    name[..7].copy_from_slice(b"ucrypto");
    desc.extend_from_slice(&name);
    desc.resize(256, 0);
    desc
}

/// A partition table entry: 0xAA 0x50, type, subtype, offset, size, label[16], flags.
pub fn partition(kind: u8, subtype: u8, offset: u32, size: u32, label: &str) -> Vec<u8> {
    let mut entry = vec![0xAA, 0x50, kind, subtype];
    entry.extend_from_slice(&offset.to_le_bytes());
    entry.extend_from_slice(&size.to_le_bytes());
    let mut name = [0u8; 16];
    name[..label.len()].copy_from_slice(label.as_bytes());
    entry.extend_from_slice(&name);
    entry.extend_from_slice(&0u32.to_le_bytes());
    entry
}

/// A merged image as `espflash save-image --merge` lays it out for the C3 and C6: bootloader
/// at 0x0, partition table at 0x8000, factory application at 0x10000, 0xFF between.
pub fn merged_image(chip_id: u16, version: &str) -> Vec<u8> {
    merged_image_requiring(chip_id, 0, version)
}

/// As [`merged_image`], with bootloader and application for chips of revision `min_rev_full`
/// and later (what ESP-IDF v5 builds for the ESP32-C3 by default: 3, v0.3).
pub fn merged_image_requiring(chip_id: u16, min_rev_full: u16, version: &str) -> Vec<u8> {
    let pattern = |seed: u8, len: usize| -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    };
    let bootloader = esp_image_requiring(chip_id, min_rev_full, &[(0x403C_E000, pattern(1, 3000))]);
    let mut table = partition(0x01, 0x02, NVS as u32, 0x4000, "nvs");
    table.extend(partition(
        0x3F,
        0x00,
        SECURE_CERT as u32,
        0x3000,
        "esp_secure_cert",
    ));
    table.extend(partition(0x00, 0x00, 0x1_0000, 0x10_0000, "factory"));
    // Two segments, the application description first (DROM), code after; more than a few
    // FLASH_DATA blocks, and a byte 0xC0 in the data so SLIP escaping is exercised.
    let mut drom = app_desc(version);
    drom.extend(pattern(0xC0, 9000));
    let app = esp_image_requiring(
        chip_id,
        min_rev_full,
        &[(0x3C00_0020, drom), (0x4200_0020, pattern(7, 6000))],
    );
    let mut merged = vec![0xFF; 0x1_0000];
    merged[..bootloader.len()].copy_from_slice(&bootloader);
    merged[0x8000..0x8000 + table.len()].copy_from_slice(&table);
    merged.extend_from_slice(&app);
    merged
}
