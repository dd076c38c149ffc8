//! Certificates in the esp_secure_cert partition (`CertWrite`, `CertRead`): the device
//! certificate as entry type 1 (`ESP_SECURE_CERT_DEV_CERT_TLV`) and the CA certificate as type 0
//! (`ESP_SECURE_CERT_CA_CERT_TLV`), both subtype 0, which is where ESP-IDF's
//! `esp_secure_cert_get_device_cert` / `esp_secure_cert_get_ca_cert` look.
//!
//! An upload is written into flash piece by piece as it arrives (the engine has no room for a
//! whole certificate), at the end of the entry list with its magic word left erased; only when
//! the last piece is in are the padding, the CRC and finally the magic written. Until then the
//! entry is past the end of the list for every reader, ESP-IDF's included.
//!
//! **Renewal.** esp_secure_cert_mgr reads certificates two ways: by default the FIRST entry of
//! type and subtype 0 (`esp_secure_cert_tlv_read.c`), and with its legacy formats enabled the
//! LAST entry of the type (`esp_secure_cert_read.c`, `ESP_SECURE_CERT_SUBTYPE_MAX`). Flash is
//! never erased here (the DS key records share the partition, and an erase cut short by a power
//! loss would lose them for good), so a second device certificate is appended and the older one
//! retired, in an order where every step leaves both readers finding a valid certificate of
//! this CA:
//! 1. the new device entry is appended (magic last);
//! 2. a copy of the CA entry is appended after it, so the last CA entry is a real CA;
//! 3. the type byte of each older device entry is programmed from 1 to 0 (NOR flash can clear
//!    bits). A retired entry reads as a CA entry with a wrong CRC; the first CA entry, which a
//!    renewal requires to lie before the first device entry, still hides it from the
//!    first-entry reader, and the copy from step 2 hides it from the last-entry reader.
use ucrypto_protocol::{CertKind, ErrorCode, ResponseBody, MAX_CHUNK_LEN};

use super::record::{self, Header, CRC, HEADER_LEN, MAGIC};
use super::NO_KEYS;
use crate::backend::{BackendError, KeyHardware};
use crate::engine::outcome::{Outcome, Refusal};
use crate::Backend;

/// ESP-IDF's TLV types of the two certificates, and the subtype its getters read.
const TYPE_CA_CERT: u8 = 0;
const TYPE_DEV_CERT: u8 = 1;
const SUBTYPE: u8 = 0;

/// The largest certificate an entry takes (its length is a u16 in the header).
const MAX_CERT_LEN: usize = u16::MAX as usize;

fn entry_type(kind: CertKind) -> u8 {
    match kind {
        CertKind::Device => TYPE_DEV_CERT,
        CertKind::Ca => TYPE_CA_CERT,
    }
}

/// The upload in progress: where its entry starts in the partition and how far it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Upload {
    kind: CertKind,
    total: usize,
    received: usize,
    /// Offset of the entry (its still-erased magic word).
    at: usize,
    /// A renewal: the CA entry to copy after the new entry (its offset and whole length).
    ca_copy: Option<(usize, usize)>,
}

/// The one certificate upload a device follows at a time.
pub(crate) struct CertUpload {
    current: Option<Upload>,
}

const STORAGE: Refusal = (
    ErrorCode::StorageFailed,
    "writing the certificate to the esp_secure_cert partition failed",
);

fn storage(_: BackendError) -> Refusal {
    STORAGE
}

/// Whether `data` starts with a DER SEQUENCE header whose length makes the whole encoding
/// exactly `total` bytes (a certificate is one SEQUENCE; anything else is not one).
fn der_sequence_of(data: &[u8], total: usize) -> bool {
    let (len, header) = match data {
        [0x30, n, ..] if *n < 0x80 => (usize::from(*n), 2),
        [0x30, 0x81, n, ..] => (usize::from(*n), 3),
        [0x30, 0x82, hi, lo, ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), 4),
        _ => return false,
    };
    header + len == total
}

impl CertUpload {
    pub(crate) const fn new() -> Self {
        Self { current: None }
    }

    /// Forgets an upload in progress (a reset): its half-written entry stays past the list's
    /// end, where no reader sees it, and its bytes are no longer erased (see `CertWrite`).
    pub(crate) fn forget(&mut self) {
        self.current = None;
    }

    /// `CertWrite`.
    pub(crate) fn write<'d, B: Backend>(
        &mut self,
        backend: &mut B,
        kind: CertKind,
        offset: u32,
        total: u32,
        data: &[u8],
    ) -> Outcome<'d> {
        // A locked device takes no more provisioning writes.
        super::refuse_if_locked(backend)?;
        let hw = backend.key_hardware().ok_or(NO_KEYS)?;
        let (offset, total) = (offset as usize, total as usize);
        if total == 0 || total > MAX_CERT_LEN || data.is_empty() || data.len() > MAX_CHUNK_LEN {
            return Err((
                ErrorCode::BadArgument,
                "a certificate is 1 to 65535 bytes, sent in pieces of 1 to max_chunk_len bytes",
            ));
        }
        if offset.checked_add(data.len()).is_none_or(|end| end > total) {
            return Err((
                ErrorCode::BadArgument,
                "the piece runs past the certificate's total",
            ));
        }
        let upload =
            if offset == 0 {
                self.current = None;
                begin(hw, kind, total, data)?
            } else {
                match self.current {
                    Some(u) if u.kind == kind && u.total == total && u.received == offset => u,
                    _ => return Err((
                        ErrorCode::BadArgument,
                        "pieces must follow each other from offset 0: start the certificate again",
                    )),
                }
            };
        let result = put(hw, upload, data);
        self.current = None;
        let upload = result?;
        if upload.received < upload.total {
            self.current = Some(upload);
        } else {
            finish(hw, &upload)?;
        }
        Ok(ResponseBody::CertWritten {
            received: upload.received as u32,
        })
    }
}

/// The first CA and device entries (subtype 0), as the first-entry reader finds them.
struct Held {
    ca: Option<Header>,
    device: Option<Header>,
    /// Offset of the list's end.
    end: usize,
}

fn held(hw: &mut dyn KeyHardware) -> Result<Held, BackendError> {
    let (mut ca, mut device) = (None, None);
    let (_, end) = record::walk(hw, |h| {
        if h.subtype == SUBTYPE {
            match h.kind {
                TYPE_CA_CERT if ca.is_none() => ca = Some(*h),
                TYPE_DEV_CERT if device.is_none() => device = Some(*h),
                _ => {}
            }
        }
        false
    })?;
    Ok(Held { ca, device, end })
}

/// Checks that a new entry of `kind` can go at the end of the list (a first certificate of its
/// kind, or a renewal of the device certificate) and writes its header without the magic.
fn begin(
    hw: &mut dyn KeyHardware,
    kind: CertKind,
    total: usize,
    data: &[u8],
) -> Result<Upload, Refusal> {
    if !der_sequence_of(data, total) {
        return Err((
            ErrorCode::BadArgument,
            "not a DER certificate of that total length",
        ));
    }
    let kind_byte = entry_type(kind);
    let held = held(hw).map_err(storage)?;
    let at = held.end;
    let ca_copy = match (kind, held.ca, held.device) {
        (CertKind::Ca, Some(_), _) => {
            return Err((
                ErrorCode::StorageFailed,
                "the device already holds a CA certificate: a device is certified under one CA (erase the esp_secure_cert partition to change it)",
            ))
        }
        (CertKind::Device, Some(ca), Some(device)) if ca.offset < device.offset => {
            Some((ca.offset, ca.total()))
        }
        (CertKind::Device, _, Some(_)) => {
            return Err((
                ErrorCode::StorageFailed,
                "the device certificate is not after a CA certificate, so it cannot be renewed in place (erase the esp_secure_cert partition to replace it)",
            ))
        }
        _ => None,
    };
    let entry_len = HEADER_LEN + record::padded(total) + 4;
    // The entry, a renewal's copy of the CA entry, and one erased word to end the list.
    let end = at + entry_len + ca_copy.map_or(0, |(_, len)| len) + 4;
    if end > hw.record_partition_len() || !erased(hw, at, end).map_err(storage)? {
        return Err((
            ErrorCode::StorageFailed,
            "no erased room for the certificate in the esp_secure_cert partition",
        ));
    }
    let mut header = [0u8; HEADER_LEN - 4];
    header[4] = kind_byte;
    header[5] = SUBTYPE;
    header[6..].copy_from_slice(&(total as u16).to_le_bytes());
    hw.record_write(at + 4, &header).map_err(storage)?;
    Ok(Upload {
        kind,
        total,
        received: 0,
        at,
        ca_copy,
    })
}

fn erased(hw: &mut dyn KeyHardware, from: usize, to: usize) -> Result<bool, BackendError> {
    let mut chunk = [0u8; 64];
    let mut at = from;
    while at < to {
        let n = chunk.len().min(to - at);
        hw.record_read(at, &mut chunk[..n])?;
        if chunk[..n].iter().any(|&b| b != 0xff) {
            return Ok(false);
        }
        at += n;
    }
    Ok(true)
}

fn put(hw: &mut dyn KeyHardware, mut upload: Upload, data: &[u8]) -> Result<Upload, Refusal> {
    hw.record_write(upload.at + HEADER_LEN + upload.received, data)
        .map_err(storage)?;
    upload.received += data.len();
    Ok(upload)
}

/// Writes the padding, the CRC (over header, data and padding as they are in flash), then the
/// magic, and reads the entry back as ESP-IDF would.
fn finish(hw: &mut dyn KeyHardware, upload: &Upload) -> Result<(), Refusal> {
    let data_end = upload.at + HEADER_LEN + upload.total;
    let body_end = upload.at + HEADER_LEN + record::padded(upload.total);
    hw.record_write(data_end, &[0u8; 16][..body_end - data_end])
        .map_err(storage)?;
    let mut digest = CRC.digest();
    digest.update(&MAGIC.to_le_bytes());
    let mut chunk = [0u8; 64];
    let mut at = upload.at + 4;
    while at < body_end {
        let n = chunk.len().min(body_end - at);
        hw.record_read(at, &mut chunk[..n]).map_err(storage)?;
        digest.update(&chunk[..n]);
        at += n;
    }
    hw.record_write(body_end, &digest.finalize().to_le_bytes())
        .map_err(storage)?;
    hw.record_write(upload.at, &MAGIC.to_le_bytes())
        .map_err(storage)?;
    if let Some((ca_at, ca_len)) = upload.ca_copy {
        renew(hw, ca_at, ca_len, upload.at, body_end + 4)?;
    }
    match record::find(hw, entry_type(upload.kind), SUBTYPE) {
        Ok(Some((data_at, len))) if data_at == upload.at + HEADER_LEN && len == upload.total => {
            Ok(())
        }
        _ => Err(STORAGE),
    }
}

/// Steps 2 and 3 of a renewal (see the module's text), once the new device entry at `new` is
/// complete: copies the CA entry (`ca_len` bytes at `ca_at`) to `to`, its magic last, then
/// retires every device entry before `new` (with those of renewals cut short).
fn renew(
    hw: &mut dyn KeyHardware,
    ca_at: usize,
    ca_len: usize,
    new: usize,
    to: usize,
) -> Result<(), Refusal> {
    let mut chunk = [0u8; 64];
    let mut done = 4;
    while done < ca_len {
        let n = chunk.len().min(ca_len - done);
        hw.record_read(ca_at + done, &mut chunk[..n])
            .map_err(storage)?;
        hw.record_write(to + done, &chunk[..n]).map_err(storage)?;
        done += n;
    }
    hw.record_write(to, &MAGIC.to_le_bytes()).map_err(storage)?;
    // One older entry at a time, from the first; bounded by how many entries the partition
    // can hold, in case a write did not take.
    for _ in 0..hw.record_partition_len() / (HEADER_LEN + 4) {
        let (older, _) = record::walk(hw, |h| {
            h.offset < new && h.kind == TYPE_DEV_CERT && h.subtype == SUBTYPE
        })
        .map_err(storage)?;
        let Some(older) = older else {
            return Ok(());
        };
        // Its type byte, 1 (device certificate) programmed to 0.
        hw.record_write(older.offset + 8, &[TYPE_CA_CERT])
            .map_err(storage)?;
    }
    Err(STORAGE)
}

/// `CertRead`: the piece of the entry of `kind` from `offset`, as long as fits in an answer.
pub(crate) fn read<'d, B: Backend>(
    backend: &mut B,
    kind: CertKind,
    offset: u32,
    out: &'d mut [u8; MAX_CHUNK_LEN],
) -> Outcome<'d> {
    let hw = backend.key_hardware().ok_or(NO_KEYS)?;
    let Some((data_at, len)) = record::find(hw, entry_type(kind), SUBTYPE).map_err(storage)? else {
        return Err((
            ErrorCode::NoCertificate,
            "no certificate of this kind on the device: write one first (certify)",
        ));
    };
    let offset = offset as usize;
    if offset > len {
        return Err((ErrorCode::BadArgument, "offset past the certificate's end"));
    }
    let n = (len - offset).min(MAX_CHUNK_LEN);
    hw.record_read(data_at + offset, &mut out[..n])
        .map_err(storage)?;
    Ok(ResponseBody::Certificate {
        total: len as u32,
        offset: offset as u32,
        data: &out[..n],
    })
}
