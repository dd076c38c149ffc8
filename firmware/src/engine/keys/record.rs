//! The key record in flash, in ESP-IDF's `esp_secure_cert` TLV format (esp_secure_cert_mgr
//! `tlv_format.py`), so an ESP-IDF application on the same chip can find the DS key.
//!
//! Each entry: `magic 0xBA5EBA11 (u32 LE) | flags u8 | 3 reserved | type u8 | subtype u8 |
//! length u16 LE | data | zero padding to 16 bytes | CRC-32 (u32 LE)`, the CRC being zlib's
//! `crc32(header ‖ data ‖ padding, 0xffffffff)`. Entries follow each other from the partition's
//! start; the first word that is not the magic ends the list. A slot's record is three entries
//! with `subtype` = slot: `DS_DATA` (type 3: `L` as i32, IV, ciphertext), `DS_CONTEXT` (type 4:
//! 4 zero bytes, eFuse key id, 0, key bits as u16) and `USER_DATA_1` (type 51: the public key's
//! DER `SubjectPublicKeyInfo`, which the DS block does not give in the clear).
use crate::backend::keys::{DsBlock, DS_MAX_C_LEN};
use crate::backend::{BackendError, KeyHardware};

const MAGIC: u32 = 0xBA5E_BA11;
const HEADER_LEN: usize = 12;
const TYPE_DS_DATA: u8 = 3;
const TYPE_DS_CONTEXT: u8 = 4;
const TYPE_PUBLIC_KEY: u8 = 51;

/// Largest DER `SubjectPublicKeyInfo` of a 4096-bit key with a 32-bit exponent, with room.
pub(crate) const MAX_SPKI_LEN: usize = 560;

/// zlib's CRC-32 started from `0xffffffff` (as `zlib.crc32(data, 0xffffffff)`): the reflected
/// polynomial 0x04C11DB7 with the register starting at 0 (zlib inverts the value it is given)
/// and the result inverted.
const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::Algorithm {
    width: 32,
    poly: 0x04c1_1db7,
    init: 0x0000_0000,
    refin: true,
    refout: true,
    xorout: 0xffff_ffff,
    check: 0xd202_d277,
    residue: 0xdebb_20e3,
});

/// One slot's record as read back.
pub(crate) struct SlotRecord {
    pub(crate) block: DsBlock,
    pub(crate) bits: u16,
    pub(crate) spki: [u8; MAX_SPKI_LEN],
    pub(crate) spki_len: usize,
}

impl SlotRecord {
    pub(crate) const fn new() -> Self {
        Self {
            block: DsBlock::empty(),
            bits: 0,
            spki: [0; MAX_SPKI_LEN],
            spki_len: 0,
        }
    }

    pub(crate) fn spki(&self) -> &[u8] {
        &self.spki[..self.spki_len]
    }
}

fn padded(len: usize) -> usize {
    len.div_ceil(16) * 16
}

/// Walks the entries; calls `visit(offset of data, type, subtype, length)` for each entry with
/// a good CRC. Returns the offset just past the last entry (where the next one goes).
fn walk(
    hw: &mut dyn KeyHardware,
    mut visit: impl FnMut(&mut dyn KeyHardware, usize, u8, u8, usize),
) -> Result<usize, BackendError> {
    let end = hw.record_partition_len();
    let mut offset = 0;
    let mut chunk = [0u8; 64];
    while offset + HEADER_LEN + 4 <= end {
        let mut header = [0u8; HEADER_LEN];
        hw.record_read(offset, &mut header)?;
        if u32::from_le_bytes([header[0], header[1], header[2], header[3]]) != MAGIC {
            break;
        }
        let (kind, subtype) = (header[8], header[9]);
        let len = usize::from(u16::from_le_bytes([header[10], header[11]]));
        let total = HEADER_LEN + padded(len) + 4;
        if offset + total > end {
            break;
        }
        let mut digest = CRC.digest();
        digest.update(&header);
        let mut at = offset + HEADER_LEN;
        let body_end = at + padded(len);
        while at < body_end {
            let n = chunk.len().min(body_end - at);
            hw.record_read(at, &mut chunk[..n])?;
            digest.update(&chunk[..n]);
            at += n;
        }
        let mut crc = [0u8; 4];
        hw.record_read(body_end, &mut crc)?;
        if digest.finalize() == u32::from_le_bytes(crc) {
            visit(hw, offset + HEADER_LEN, kind, subtype, len);
        }
        offset += total;
    }
    Ok(offset)
}

/// Reads `slot`'s record; `Ok(false)` when it has none (or a part is missing or damaged). The
/// last good entry of each kind counts, so a record written again later wins.
pub(crate) fn read(
    hw: &mut dyn KeyHardware,
    slot: u8,
    max_c_len: usize,
    out: &mut SlotRecord,
) -> Result<bool, BackendError> {
    let (mut data, mut context, mut key) = (None, None, None);
    walk(hw, |_, at, kind, subtype, len| {
        if subtype == slot {
            match kind {
                TYPE_DS_DATA => data = Some((at, len)),
                TYPE_DS_CONTEXT => context = Some((at, len)),
                TYPE_PUBLIC_KEY => key = Some((at, len)),
                _ => {}
            }
        }
    })?;
    let (Some((data_at, data_len)), Some((context_at, 8)), Some((key_at, key_len))) =
        (data, context, key)
    else {
        return Ok(false);
    };
    if data_len != 4 + 16 + max_c_len || max_c_len > DS_MAX_C_LEN || key_len > MAX_SPKI_LEN {
        return Ok(false);
    }
    let mut word = [0u8; 4];
    hw.record_read(data_at, &mut word)?;
    out.block.rsa_length = u32::from_le_bytes(word);
    hw.record_read(data_at + 4, &mut out.block.iv)?;
    hw.record_read(data_at + 20, &mut out.block.c[..max_c_len])?;
    out.block.c_len = max_c_len;
    let mut ctx = [0u8; 8];
    hw.record_read(context_at, &mut ctx)?;
    if ctx[4] != slot {
        return Ok(false);
    }
    out.bits = u16::from_le_bytes([ctx[6], ctx[7]]);
    hw.record_read(key_at, &mut out.spki[..key_len])?;
    out.spki_len = key_len;
    Ok(true)
}

/// Bytes a record takes in the partition.
pub(crate) fn record_len(c_len: usize, spki_len: usize) -> usize {
    let entry = |len: usize| HEADER_LEN + padded(len) + 4;
    entry(4 + 16 + c_len) + entry(8) + entry(spki_len)
}

/// Whether a record of `len` bytes fits after the existing entries on erased flash (`0xFF`):
/// checked before a burn, so a key is never burned without room for its record.
pub(crate) fn has_room(hw: &mut dyn KeyHardware, len: usize) -> Result<bool, BackendError> {
    let start = walk(hw, |_, _, _, _, _| {})?;
    let end = match start.checked_add(len) {
        Some(end) if end <= hw.record_partition_len() => end,
        _ => return Ok(false),
    };
    let mut chunk = [0u8; 64];
    let mut at = start;
    while at < end {
        let n = chunk.len().min(end - at);
        hw.record_read(at, &mut chunk[..n])?;
        if chunk[..n].iter().any(|&b| b != 0xff) {
            return Ok(false);
        }
        at += n;
    }
    Ok(true)
}

/// Appends `slot`'s record after the existing entries.
pub(crate) fn append(
    hw: &mut dyn KeyHardware,
    slot: u8,
    block: &DsBlock,
    bits: u16,
    spki: &[u8],
) -> Result<(), BackendError> {
    let mut offset = walk(hw, |_, _, _, _, _| {})?;
    let rsa_length = block.rsa_length.to_le_bytes();
    let data: [&[u8]; 3] = [&rsa_length, &block.iv, block.ciphertext()];
    let bits = bits.to_le_bytes();
    let context: [&[u8]; 1] = [&[0, 0, 0, 0, slot, 0, bits[0], bits[1]]];
    let key: [&[u8]; 1] = [spki];
    for (kind, parts) in [
        (TYPE_DS_DATA, &data[..]),
        (TYPE_DS_CONTEXT, &context[..]),
        (TYPE_PUBLIC_KEY, &key[..]),
    ] {
        offset = write_entry(hw, offset, kind, slot, parts)?;
    }
    Ok(())
}

/// Writes one entry whose data is `parts` joined at `offset`; returns the offset after it.
fn write_entry(
    hw: &mut dyn KeyHardware,
    offset: usize,
    kind: u8,
    subtype: u8,
    parts: &[&[u8]],
) -> Result<usize, BackendError> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let total = HEADER_LEN + padded(len) + 4;
    if offset + total > hw.record_partition_len() || len > usize::from(u16::MAX) {
        return Err(BackendError::Unsupported);
    }
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(&MAGIC.to_le_bytes());
    header[8] = kind;
    header[9] = subtype;
    header[10..].copy_from_slice(&(len as u16).to_le_bytes());
    let mut digest = CRC.digest();
    digest.update(&header);
    hw.record_write(offset, &header)?;
    let mut at = offset + HEADER_LEN;
    for part in parts {
        digest.update(part);
        hw.record_write(at, part)?;
        at += part.len();
    }
    let padding = [0u8; 16];
    let pad = padded(len) - len;
    digest.update(&padding[..pad]);
    hw.record_write(at, &padding[..pad])?;
    at += pad;
    hw.record_write(at, &digest.finalize().to_le_bytes())?;
    Ok(at + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_is_zlibs_started_from_all_ones() {
        // Python: zlib.crc32(b"123456789", 0xffffffff) == 0xd202d277
        assert_eq!(CRC.checksum(b"123456789"), 0xd202_d277);
    }
}
