//! The key record in flash, in ESP-IDF's `esp_secure_cert` TLV format (esp_secure_cert_mgr
//! `tlv_format.py`), so an ESP-IDF application on the same chip can find the DS key.
//!
//! Each entry: `magic 0xBA5EBA11 (u32 LE) | flags u8 | 3 reserved | type u8 | subtype u8 |
//! length u16 LE | data | zero padding to 16 bytes | CRC-32 (u32 LE)`, the CRC being zlib's
//! `crc32(header ‖ data ‖ padding, 0xffffffff)`. Entries follow each other from the partition's
//! start; the first word that is not the magic ends the list. Reading follows esp_secure_cert_mgr
//! (`srcs/esp_secure_cert_tlv_read.c`): the first entry of a type and subtype is the one, and a
//! slot never gets a second record (docs/keys.md, "The flash record"). A slot's record is four
//! entries with `subtype` = slot: `USER_DATA_2` (type 52: the key's origin, written first),
//! `DS_DATA` (type 3: `L` as i32, IV, ciphertext), `DS_CONTEXT` (type 4: 4 zero bytes, eFuse key
//! id, 0, key bits as u16) and `USER_DATA_1` (type 51: the public key's DER
//! `SubjectPublicKeyInfo`, which the DS block does not give in the clear). ESP-IDF reads user
//! data entries only when asked for them, so the extra entries change nothing for it.
use ucrypto_protocol::KeyOrigin;

use crate::backend::key_hardware::{DsBlock, DS_MAX_C_LEN};
use crate::backend::{BackendError, KeyHardware};

pub(super) const MAGIC: u32 = 0xBA5E_BA11;
pub(super) const HEADER_LEN: usize = 12;
const TYPE_DEV_CERT: u8 = 1;
const TYPE_DS_DATA: u8 = 3;
const TYPE_DS_CONTEXT: u8 = 4;
const TYPE_PUBLIC_KEY: u8 = 51;
const TYPE_ORIGIN: u8 = 52;
/// The origin entry's data: format version 1, the origin, two zero bytes.
const ORIGIN_VERSION: u8 = 1;
const ORIGIN_GENERATED: u8 = 1;
const ORIGIN_IMPORTED: u8 = 2;

fn origin_entry(origin: KeyOrigin) -> [u8; 4] {
    let code = match origin {
        KeyOrigin::Generated => ORIGIN_GENERATED,
        KeyOrigin::Imported => ORIGIN_IMPORTED,
        KeyOrigin::Unknown => 0,
    };
    [ORIGIN_VERSION, code, 0, 0]
}

fn origin_of(entry: &[u8; 4]) -> KeyOrigin {
    match *entry {
        [ORIGIN_VERSION, ORIGIN_GENERATED, 0, 0] => KeyOrigin::Generated,
        [ORIGIN_VERSION, ORIGIN_IMPORTED, 0, 0] => KeyOrigin::Imported,
        _ => KeyOrigin::Unknown,
    }
}

/// Largest DER `SubjectPublicKeyInfo` of a 4096-bit key with a 32-bit exponent, with room.
pub(crate) const MAX_SPKI_LEN: usize = 560;

/// zlib's CRC-32 started from `0xffffffff` (as `zlib.crc32(data, 0xffffffff)`): the reflected
/// polynomial 0x04C11DB7 with the register starting at 0 (zlib inverts the value it is given)
/// and the result inverted.
pub(super) const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::Algorithm {
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
    /// From the origin entry; `Unknown` without one (a record of another tool).
    pub(crate) origin: KeyOrigin,
}

impl SlotRecord {
    pub(crate) const fn new() -> Self {
        Self {
            block: DsBlock::empty(),
            bits: 0,
            spki: [0; MAX_SPKI_LEN],
            spki_len: 0,
            origin: KeyOrigin::Unknown,
        }
    }

    pub(crate) fn spki(&self) -> &[u8] {
        &self.spki[..self.spki_len]
    }
}

pub(super) fn padded(len: usize) -> usize {
    len.div_ceil(16) * 16
}

/// An entry's header as found in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    /// Offset of the entry (its magic) in the partition.
    pub(super) offset: usize,
    flags: u8,
    pub(super) kind: u8,
    pub(super) subtype: u8,
    pub(super) len: usize,
}

impl Header {
    /// Bytes the whole entry takes: header, data, padding, CRC.
    pub(super) fn total(&self) -> usize {
        HEADER_LEN + padded(self.len) + 4
    }
}

/// The entry at `offset`, or `None` where the list ends: a first word that is not the magic, as
/// esp_secure_cert_mgr decides, or an entry that would run past the partition (where
/// esp_secure_cert_mgr would read on past it).
fn header_at(hw: &mut dyn KeyHardware, offset: usize) -> Result<Option<Header>, BackendError> {
    let end = hw.record_partition_len();
    if offset + HEADER_LEN + 4 > end {
        return Ok(None);
    }
    let mut h = [0u8; HEADER_LEN];
    hw.record_read(offset, &mut h)?;
    if u32::from_le_bytes([h[0], h[1], h[2], h[3]]) != MAGIC {
        return Ok(None);
    }
    let header = Header {
        offset,
        flags: h[4],
        kind: h[8],
        subtype: h[9],
        len: usize::from(u16::from_le_bytes([h[10], h[11]])),
    };
    Ok((offset + header.total() <= end).then_some(header))
}

/// Visits the entries in order, skipping from one to the next by their lengths alone (no CRC is
/// checked on the way, as esp_secure_cert_mgr walks); stops early when `visit` returns `true`.
/// Returns the entry `visit` stopped at, or `None` and the offset where the list ends.
pub(super) fn walk(
    hw: &mut dyn KeyHardware,
    mut visit: impl FnMut(&Header) -> bool,
) -> Result<(Option<Header>, usize), BackendError> {
    let mut offset = 0;
    while let Some(header) = header_at(hw, offset)? {
        if visit(&header) {
            return Ok((Some(header), offset));
        }
        offset += header.total();
    }
    Ok((None, offset))
}

/// Whether the CRC of `header`'s entry is right: zlib's CRC-32 of header, data and padding as
/// they are in flash.
pub(super) fn crc_ok(hw: &mut dyn KeyHardware, header: &Header) -> Result<bool, BackendError> {
    let mut digest = CRC.digest();
    let mut chunk = [0u8; 64];
    let mut at = header.offset;
    let body_end = at + HEADER_LEN + padded(header.len);
    while at < body_end {
        let n = chunk.len().min(body_end - at);
        hw.record_read(at, &mut chunk[..n])?;
        digest.update(&chunk[..n]);
        at += n;
    }
    let mut crc = [0u8; 4];
    hw.record_read(body_end, &mut crc)?;
    Ok(digest.finalize() == u32::from_le_bytes(crc))
}

/// esp_secure_cert_mgr's `esp_secure_cert_find_tlv` followed by `esp_secure_cert_tlv_get_addr`:
/// the FIRST entry of `kind` and `subtype`; `(offset of its data, length)` if its CRC is right
/// and its data is stored in the clear, `None` otherwise. A damaged or HMAC-flagged first entry
/// is not passed over for a later one: ESP-IDF would not, and the engine must find what an
/// ESP-IDF application on the same chip finds.
pub(super) fn find(
    hw: &mut dyn KeyHardware,
    kind: u8,
    subtype: u8,
) -> Result<Option<(usize, usize)>, BackendError> {
    let (Some(header), _) = walk(hw, |h| h.kind == kind && h.subtype == subtype)? else {
        return Ok(None);
    };
    // Flag bits 7..6 = 0b10 (HMAC-encrypted) or 0b01 (HMAC-derived key): ESP-IDF hands out
    // something else than the stored bytes.
    let hmac_scheme = matches!(header.flags & 0xc0, 0x80 | 0x40);
    if hmac_scheme || !crc_ok(hw, &header)? {
        return Ok(None);
    }
    Ok(Some((header.offset + HEADER_LEN, header.len)))
}

/// The subtype of the record whose DS context names eFuse key `slot`: `slot` itself (this
/// firmware's records), else the first other subtype whose context does (Espressif's tools
/// write subtype 0 with the key id in the context). Each subtype's context is the first entry
/// of that subtype, as ESP-IDF finds it.
fn subtype_for(hw: &mut dyn KeyHardware, slot: u8) -> Result<Option<u8>, BackendError> {
    let names_slot = |hw: &mut dyn KeyHardware, subtype: u8| -> Result<bool, BackendError> {
        let Some((at, 8)) = find(hw, TYPE_DS_CONTEXT, subtype)? else {
            return Ok(false);
        };
        let mut ctx = [0u8; 8];
        hw.record_read(at, &mut ctx)?;
        Ok(ctx[4] == slot)
    };
    if names_slot(hw, slot)? {
        return Ok(Some(slot));
    }
    // Subtypes with a DS context, in list order (one bit each).
    let mut seen = [0u32; 8];
    walk(hw, |h| {
        if h.kind == TYPE_DS_CONTEXT {
            seen[usize::from(h.subtype / 32)] |= 1 << (h.subtype % 32);
        }
        false
    })?;
    for subtype in 0..=u8::MAX {
        if subtype != slot
            && seen[usize::from(subtype / 32)] >> (subtype % 32) & 1 == 1
            && names_slot(hw, subtype)?
        {
            return Ok(Some(subtype));
        }
    }
    Ok(None)
}

/// Largest device certificate (DER) the public key is taken from, and its PEM text.
const MAX_CERT_LEN: usize = 2048;
const MAX_PEM_LEN: usize = MAX_CERT_LEN * 4 / 3 + MAX_CERT_LEN / 32 + 128;

/// The public key from the device certificate entry (`DEV_CERT`, type 1) of `subtype`, in DER
/// or PEM as esp_secure_cert_mgr stores it, into `out.spki`.
fn key_from_certificate(
    hw: &mut dyn KeyHardware,
    subtype: u8,
    out: &mut SlotRecord,
) -> Result<bool, BackendError> {
    let Some((at, len)) = find(hw, TYPE_DEV_CERT, subtype)? else {
        return Ok(false);
    };
    if len > MAX_PEM_LEN {
        return Ok(false);
    }
    let mut text = [0u8; MAX_PEM_LEN];
    hw.record_read(at, &mut text[..len])?;
    let mut der = [0u8; MAX_CERT_LEN];
    let der_len = if text.first() == Some(&0x30) {
        if len > MAX_CERT_LEN {
            return Ok(false);
        }
        der[..len].copy_from_slice(&text[..len]);
        len
    } else {
        match super::spki::pem_certificate(&text[..len], &mut der) {
            Some(n) => n,
            None => return Ok(false),
        }
    };
    let Some(spki) = super::spki::from_certificate(&der[..der_len]) else {
        return Ok(false);
    };
    if spki.len() > MAX_SPKI_LEN {
        return Ok(false);
    }
    out.spki[..spki.len()].copy_from_slice(spki);
    out.spki_len = spki.len();
    Ok(true)
}

/// Reads `slot`'s record as ESP-IDF would: the first entry of each kind with the subtype whose
/// DS context names the slot ([`subtype_for`]); the public key from our `USER_DATA_1` entry, else
/// from the device certificate. `Ok(false)` when a part is missing, damaged or not of the shape.
pub(crate) fn read(
    hw: &mut dyn KeyHardware,
    slot: u8,
    max_c_len: usize,
    out: &mut SlotRecord,
) -> Result<bool, BackendError> {
    let Some(subtype) = subtype_for(hw, slot)? else {
        return Ok(false);
    };
    let (Some((data_at, data_len)), Some((context_at, 8))) = (
        find(hw, TYPE_DS_DATA, subtype)?,
        find(hw, TYPE_DS_CONTEXT, subtype)?,
    ) else {
        return Ok(false);
    };
    if data_len != 4 + 16 + max_c_len || max_c_len > DS_MAX_C_LEN {
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
    match find(hw, TYPE_PUBLIC_KEY, subtype)? {
        Some((key_at, key_len)) if key_len <= MAX_SPKI_LEN => {
            hw.record_read(key_at, &mut out.spki[..key_len])?;
            out.spki_len = key_len;
        }
        Some(_) => return Ok(false),
        None => {
            if !key_from_certificate(hw, subtype, out)? {
                return Ok(false);
            }
        }
    }
    out.origin = match find(hw, TYPE_ORIGIN, subtype)? {
        Some((at, 4)) => {
            let mut entry = [0u8; 4];
            hw.record_read(at, &mut entry)?;
            origin_of(&entry)
        }
        _ => KeyOrigin::Unknown,
    };
    Ok(true)
}

/// Bytes a record takes in the partition.
pub(crate) fn record_len(c_len: usize, spki_len: usize) -> usize {
    let entry = |len: usize| HEADER_LEN + padded(len) + 4;
    entry(4) + entry(4 + 16 + c_len) + entry(8) + entry(spki_len)
}

/// Whether a new record for a slot can be appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Room {
    Yes,
    /// The partition already has an entry of the record's kinds for this slot (a record from
    /// another chip's flash, an older image, or a half-written one): ESP-IDF's reader stops at
    /// the first, so a second record would never be read.
    SlotHasEntries,
    /// Not enough erased (`0xFF`) bytes after the last entry.
    Full,
}

/// Checked before a burn, so a key is never burned without a place for its record: no entry
/// of the record's kinds with `subtype` = slot yet (good or damaged; esp_secure_cert_mgr's
/// writer likewise refuses a type and subtype that exists), and `len` erased bytes after the
/// list plus one erased word to end it inside the partition.
pub(crate) fn room(hw: &mut dyn KeyHardware, slot: u8, len: usize) -> Result<Room, BackendError> {
    let (taken, start) = walk(hw, |h| {
        h.subtype == slot
            && matches!(
                h.kind,
                TYPE_DS_DATA | TYPE_DS_CONTEXT | TYPE_PUBLIC_KEY | TYPE_ORIGIN
            )
    })?;
    if taken.is_some() {
        return Ok(Room::SlotHasEntries);
    }
    let end = match start.checked_add(len + 4) {
        Some(end) if end <= hw.record_partition_len() => end,
        _ => return Ok(Room::Full),
    };
    let mut chunk = [0u8; 64];
    let mut at = start;
    while at < end {
        let n = chunk.len().min(end - at);
        hw.record_read(at, &mut chunk[..n])?;
        if chunk[..n].iter().any(|&b| b != 0xff) {
            return Ok(Room::Full);
        }
        at += n;
    }
    Ok(Room::Yes)
}

/// Appends `slot`'s record where the list ends, its origin first (so a record cut short has
/// no DS entries and reads as missing, never as a key of unknown origin).
pub(crate) fn append(
    hw: &mut dyn KeyHardware,
    slot: u8,
    block: &DsBlock,
    bits: u16,
    spki: &[u8],
    origin: KeyOrigin,
) -> Result<(), BackendError> {
    let (_, mut offset) = walk(hw, |_| false)?;
    let origin = origin_entry(origin);
    let rsa_length = block.rsa_length.to_le_bytes();
    let data: [&[u8]; 3] = [&rsa_length, &block.iv, block.ciphertext()];
    let bits = bits.to_le_bytes();
    let context: [&[u8]; 1] = [&[0, 0, 0, 0, slot, 0, bits[0], bits[1]]];
    let key: [&[u8]; 1] = [spki];
    let origin: [&[u8]; 1] = [&origin];
    for (kind, parts) in [
        (TYPE_ORIGIN, &origin[..]),
        (TYPE_DS_DATA, &data[..]),
        (TYPE_DS_CONTEXT, &context[..]),
        (TYPE_PUBLIC_KEY, &key[..]),
    ] {
        offset = write_entry(hw, offset, kind, slot, parts)?;
    }
    Ok(())
}

/// Writes one entry whose data is `parts` joined at `offset`; returns the offset after it. The
/// magic goes last: until it is programmed the word reads erased, so an entry cut short by a
/// reset or a failed write is past the end of the list for every reader.
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
    hw.record_write(offset + 4, &header[4..])?;
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
    hw.record_write(offset, &header[..4])?;
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

    #[test]
    fn an_entry_with_hmac_flags_is_not_plain_data() {
        use crate::backend::virtual_key_hardware::VirtualKeyHardware;
        for (flags, plain) in [(0x00, true), (0x08, true), (0x80, false), (0x40, false)] {
            let mut hw = VirtualKeyHardware::new();
            write_entry(&mut hw, 0, TYPE_DS_CONTEXT, 1, &[&[7; 8]]).unwrap();
            // The flags byte set, and the CRC made right again (over header and data).
            let mut entry = [0u8; 32];
            hw.record_read(0, &mut entry).unwrap();
            entry[4] = flags;
            let crc = CRC.checksum(&entry[..28]).to_le_bytes();
            entry[28..].copy_from_slice(&crc);
            let mut fresh = VirtualKeyHardware::new();
            fresh.record_write(0, &entry).unwrap();
            let found = find(&mut fresh, TYPE_DS_CONTEXT, 1).unwrap();
            assert_eq!(found, plain.then_some((12, 8)), "flags {flags:#x}");
        }
    }
}
