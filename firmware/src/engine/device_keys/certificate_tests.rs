//! Certificates and attestation on the virtual device, through the engine's frames. The entries
//! are found in the partition by the TLV format's own rules (header fields at their offsets,
//! zlib's CRC-32 computed here independently of the engine's), and the attestation signature is
//! checked with num-bigint against RSASSA-PKCS1-v1_5 built from RFC 8017 by hand.
use std::vec;
use std::vec::Vec;

use num_bigint::BigUint;
use sha2::{Digest, Sha256};
use ucrypto_protocol::{CertKind, Chip, ErrorCode, RequestBody, ResponseBody};

use super::super::tests::{decode, error_code};
use super::tests::{ask, device, import, partition, public_key, refusal, vector, Device};
use crate::backend::virtual_key_hardware::BurnFault;

/// A DER SEQUENCE of `len` content bytes, as a certificate starts (the engine checks no more).
fn fake_certificate(len: usize, fill: u8) -> Vec<u8> {
    let mut der = vec![0x30, 0x82];
    der.extend_from_slice(&(len as u16).to_be_bytes());
    der.extend((0..len).map(|i| fill.wrapping_add(i as u8)));
    der
}

fn write(engine: &mut Device, kind: CertKind, der: &[u8], piece: usize) -> Vec<u32> {
    let mut received = Vec::new();
    for (i, chunk) in der.chunks(piece).enumerate() {
        let answer = ask(
            engine,
            RequestBody::CertWrite {
                kind,
                offset: (i * piece) as u32,
                total: der.len() as u32,
                data: chunk,
            },
        );
        match decode(&answer).body {
            ResponseBody::CertWritten { received: r } => received.push(r),
            other => panic!("{other:?}"),
        }
    }
    received
}

fn read(engine: &mut Device, kind: CertKind) -> Result<Vec<u8>, ErrorCode> {
    let mut out = Vec::new();
    loop {
        let answer = ask(
            engine,
            RequestBody::CertRead {
                kind,
                offset: out.len() as u32,
            },
        );
        match decode(&answer).body {
            ResponseBody::Certificate {
                total,
                offset,
                data,
            } => {
                assert_eq!(offset as usize, out.len());
                out.extend_from_slice(data);
                if out.len() == total as usize {
                    return Ok(out);
                }
            }
            ResponseBody::Error(e) => return Err(e.code),
            other => panic!("{other:?}"),
        }
    }
}

/// zlib's `crc32(data, 0xffffffff)`, bit by bit (reflected polynomial 0xEDB88320).
fn zlib_crc32_from_ones(data: &[u8]) -> u32 {
    // zlib inverts the start value it is given: 0xffffffff becomes a register of 0.
    let mut crc: u32 = 0;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The entries of `part` in list order: (offset, type, subtype, data, CRC right).
fn tlv_entries(part: &[u8]) -> Vec<(usize, u8, u8, Vec<u8>, bool)> {
    let mut entries = Vec::new();
    let mut off = 0;
    while part[off..off + 4] == [0x11, 0xba, 0x5e, 0xba] {
        let len = usize::from(u16::from_le_bytes([part[off + 10], part[off + 11]]));
        let body = 12 + len.div_ceil(16) * 16;
        let crc = u32::from_le_bytes(part[off + body..off + body + 4].try_into().unwrap());
        entries.push((
            off,
            part[off + 8],
            part[off + 9],
            part[off + 12..off + 12 + len].to_vec(),
            crc == zlib_crc32_from_ones(&part[off..off + body]),
        ));
        off += body + 4;
    }
    entries
}

/// esp_secure_cert_mgr's reader with its legacy formats enabled (`esp_secure_cert_read.c`,
/// subtype `ESP_SECURE_CERT_SUBTYPE_MAX`): the LAST entry of `kind`, whatever its subtype, and
/// only if its CRC is right.
fn tlv_latest(part: &[u8], kind: u8) -> Option<Vec<u8>> {
    let (.., data, crc_ok) = tlv_entries(part).into_iter().rfind(|e| e.1 == kind)?;
    crc_ok.then_some(data)
}

/// The first entry of `kind`/`subtype` in `part` with a right CRC, read by the format.
fn tlv_find(part: &[u8], kind: u8, subtype: u8) -> Option<Vec<u8>> {
    let mut off = 0;
    while part[off..off + 4] == [0x11, 0xba, 0x5e, 0xba] {
        let len = usize::from(u16::from_le_bytes([part[off + 10], part[off + 11]]));
        let body = 12 + len.div_ceil(16) * 16;
        if part[off + 8] == kind && part[off + 9] == subtype {
            let crc = u32::from_le_bytes(part[off + body..off + body + 4].try_into().unwrap());
            assert_eq!(crc, zlib_crc32_from_ones(&part[off..off + body]));
            return Some(part[off + 12..off + 12 + len].to_vec());
        }
        off += body + 4;
    }
    None
}

#[test]
fn zlib_crc_check_value() {
    // Python: zlib.crc32(b"123456789", 0xffffffff) == 0xd202d277
    assert_eq!(zlib_crc32_from_ones(b"123456789"), 0xd202_d277);
}

#[test]
fn certificates_go_in_as_esp_idf_entries_and_read_back() {
    let mut dev = device(Chip::Esp32C3);
    import(&mut dev, 0, &vector("2048"));
    assert_eq!(
        read(&mut dev, CertKind::Device),
        Err(ErrorCode::NoCertificate)
    );
    let device_cert = fake_certificate(1500, 3);
    let ca_cert = fake_certificate(900, 77);
    assert_eq!(
        write(&mut dev, CertKind::Device, &device_cert, 700),
        [700, 1400, 1504]
    );
    assert_eq!(write(&mut dev, CertKind::Ca, &ca_cert, 3000), [904]);
    assert_eq!(read(&mut dev, CertKind::Device).unwrap(), device_cert);
    assert_eq!(read(&mut dev, CertKind::Ca).unwrap(), ca_cert);
    let part = partition(&dev);
    assert_eq!(tlv_find(&part, 1, 0).unwrap(), device_cert);
    assert_eq!(tlv_find(&part, 0, 0).unwrap(), ca_cert);
    // The key's record is still found, and the device still signs with it.
    assert!(tlv_find(&part, 3, 0).is_some());
    let (bits, ..) = public_key(&ask(&mut dev, RequestBody::PublicKey { slot: 0 }));
    assert_eq!(bits, 2048);
    // The device certificate was written before the CA's: it cannot be renewed in place (see
    // the renewal tests), so a second one is refused and nothing is written.
    let again = RequestBody::CertWrite {
        kind: CertKind::Device,
        offset: 0,
        total: 4 + 10,
        data: &fake_certificate(10, 1),
    };
    assert_eq!(refusal(&mut dev, again), ErrorCode::StorageFailed);
    assert_eq!(partition(&dev), part);
}

#[test]
fn pieces_must_follow_each_other_and_be_a_certificate() {
    let mut dev = device(Chip::Esp32C3);
    let cert = fake_certificate(100, 0);
    fn piece(offset: usize, total: usize, data: &[u8]) -> RequestBody<'_> {
        RequestBody::CertWrite {
            kind: CertKind::Device,
            offset: offset as u32,
            total: total as u32,
            data,
        }
    }
    // Not a DER SEQUENCE of that length.
    assert_eq!(
        refusal(&mut dev, piece(0, 104, &[1; 50])),
        ErrorCode::BadArgument
    );
    assert_eq!(
        refusal(&mut dev, piece(0, 105, &cert[..50])),
        ErrorCode::BadArgument
    );
    // A piece with no upload before it, and one past the total.
    assert_eq!(
        refusal(&mut dev, piece(50, 104, &cert[50..])),
        ErrorCode::BadArgument
    );
    assert_eq!(
        refusal(&mut dev, piece(0, 40, &cert[..50])),
        ErrorCode::BadArgument
    );
    let answer = ask(&mut dev, piece(0, 104, &cert[..50]));
    let first = decode(&answer).body;
    assert!(
        matches!(first, ResponseBody::CertWritten { received: 50 }),
        "{first:?}"
    );
    assert_eq!(
        refusal(&mut dev, piece(60, 104, &cert[60..])),
        ErrorCode::BadArgument
    );
    // An unfinished entry is invisible.
    assert_eq!(tlv_find(&partition(&dev), 1, 0), None);
    assert_eq!(
        read(&mut dev, CertKind::Device),
        Err(ErrorCode::NoCertificate)
    );
}

#[test]
fn a_chip_without_ds_has_no_certificates() {
    let mut dev = device(Chip::Esp32);
    let read = RequestBody::CertRead {
        kind: CertKind::Ca,
        offset: 0,
    };
    assert_eq!(refusal(&mut dev, read), ErrorCode::Unsupported);
}

/// RSASSA-PKCS1-v1_5 / SHA-256 verification (RFC 8017 section 8.2.2) with num-bigint.
fn rs256_valid(n: &[u8], e: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let k = n.len();
    let m = BigUint::from_bytes_be(signature)
        .modpow(&BigUint::from_bytes_be(e), &BigUint::from_bytes_be(n));
    let mut em = vec![0u8; k];
    let bytes = m.to_bytes_be();
    em[k - bytes.len()..].copy_from_slice(&bytes);
    let prefix: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let mut expected = vec![0x00, 0x01];
    expected.extend(vec![0xff; k - 3 - 19 - 32]);
    expected.push(0);
    expected.extend_from_slice(&prefix);
    expected.extend_from_slice(&Sha256::digest(message));
    signature.len() == k && em == expected
}

#[test]
fn an_attestation_is_signed_by_the_slot_key_over_the_documented_statement() {
    let mut dev = device(Chip::Esp32C3);
    let v = vector("2048");
    import(&mut dev, 2, &v);
    let challenge = [0x5a; 32];
    let answer = ask(&mut dev, RequestBody::Attest { slot: 2, challenge });
    let (statement, signature) = match decode(&answer).body {
        ResponseBody::Attestation {
            statement,
            signature,
        } => (statement.to_vec(), signature.to_vec()),
        other => panic!("{other:?}"),
    };
    assert!(rs256_valid(v.get("n"), v.get("e"), &statement, &signature));
    // docs/protocol.md section 6, "Attestation": the fields at their offsets.
    assert_eq!(&statement[..20], b"UCRYPTO-ATTESTATION\0");
    assert_eq!(statement[20], 1);
    assert_eq!(statement[21..53], challenge);
    assert_eq!(statement[53..59], crate::Backend::device_id(dev.backend()));
    assert_eq!(statement[59], 2, "esp32c3");
    assert_eq!(statement[60], 1, "virtual");
    assert_eq!(statement[61], 2, "slot");
    assert_eq!(u16::from_be_bytes([statement[62], statement[63]]), 2048);
    let (_, n, e) = public_key(&ask(&mut dev, RequestBody::PublicKey { slot: 2 }));
    assert_eq!(n, v.get("n"));
    assert_eq!(e, v.get("e"));
    let Some(slots) = super::tests::slots(&mut dev) else {
        panic!("no slots")
    };
    let ucrypto_protocol::SlotState::DsKey { spki_sha256, .. } = slots[2] else {
        panic!("{:?}", slots[2])
    };
    assert_eq!(statement[64..96], spki_sha256);
    assert_eq!(
        statement[96], 1,
        "origin: imported (the key was sent by KeyImport)"
    );
    assert_eq!(
        statement[98..106],
        [1, 0, 0, 0, 0, 0, 0, 0],
        "a new chip's security state: reported, nothing locked or disabled"
    );
    assert_eq!(statement[106], 0, "no image hash");
    let version_len = usize::from(statement[139]);
    assert_eq!(statement.len(), 140 + version_len);
    assert_eq!(&statement[140..], crate::FIRMWARE_VERSION.as_bytes());
    // A slot without a key.
    let other = RequestBody::Attest { slot: 3, challenge };
    assert_eq!(refusal(&mut dev, other), ErrorCode::NoKey);
}

#[test]
fn a_locked_device_takes_no_certificate_and_keeps_what_it_holds() {
    let mut dev = device(Chip::Esp32C3);
    import(&mut dev, 0, &vector("2048"));
    let ca_cert = fake_certificate(300, 9);
    assert_eq!(write(&mut dev, CertKind::Ca, &ca_cert, 3000), [304]);
    ask(&mut dev, RequestBody::Lock);
    let before = partition(&dev);
    let device_cert = fake_certificate(400, 5);
    let request = RequestBody::CertWrite {
        kind: CertKind::Device,
        offset: 0,
        total: device_cert.len() as u32,
        data: &device_cert,
    };
    assert_eq!(refusal(&mut dev, request), ErrorCode::Locked);
    assert_eq!(partition(&dev), before, "nothing written after the lock");
    // What it held before the lock still reads back.
    assert_eq!(read(&mut dev, CertKind::Ca).unwrap(), ca_cert);
}

/// A device certified the way the station does it: the CA entry first, then the device's.
fn certified(ca_cert: &[u8], device_cert: &[u8]) -> Device {
    let mut dev = device(Chip::Esp32C3);
    import(&mut dev, 0, &vector("2048"));
    write(&mut dev, CertKind::Ca, ca_cert, 3000);
    write(&mut dev, CertKind::Device, device_cert, 3000);
    dev
}

/// What both of esp_secure_cert_mgr's readers find, and what the engine reads back.
fn found(dev: &mut Device) -> [Option<Vec<u8>>; 6] {
    let part = partition(dev);
    [
        tlv_find(&part, 1, 0),
        tlv_find(&part, 0, 0),
        tlv_latest(&part, 1),
        tlv_latest(&part, 0),
        read(dev, CertKind::Device).ok(),
        read(dev, CertKind::Ca).ok(),
    ]
}

#[test]
fn a_device_certificate_is_renewed_for_both_esp_idf_readers() {
    let ca_cert = fake_certificate(700, 40);
    let first = fake_certificate(900, 1);
    let mut dev = certified(&ca_cert, &first);
    let key_record = tlv_find(&partition(&dev), 3, 0).unwrap();
    for (round, fill) in [2u8, 3].into_iter().enumerate() {
        let renewed = fake_certificate(950 + round * 10, fill);
        let before = tlv_entries(&partition(&dev)).len();
        write(&mut dev, CertKind::Device, &renewed, 700);
        let want = Some(renewed.clone());
        let ca = Some(ca_cert.clone());
        assert_eq!(
            found(&mut dev),
            [want.clone(), ca.clone(), want.clone(), ca.clone(), want, ca]
        );
        // Two entries more: the new certificate and the copy of the CA's. The older device
        // entry is retired to type 0 with a wrong CRC, after the first CA entry.
        let entries = tlv_entries(&partition(&dev));
        assert_eq!(entries.len(), before + 2);
        let devices: Vec<_> = entries.iter().filter(|e| e.1 == 1).collect();
        assert_eq!(devices.len(), 1, "one device entry after round {round}");
        let retired: Vec<_> = entries.iter().filter(|e| e.1 == 0 && !e.4).collect();
        assert_eq!(retired.len(), round + 1);
        let first_ca = entries.iter().position(|e| e.1 == 0).unwrap();
        assert!(entries[first_ca].4 && entries[first_ca].3 == ca_cert);
        // The key is untouched and still signs.
        assert_eq!(tlv_find(&partition(&dev), 3, 0).unwrap(), key_record);
        let (bits, ..) = public_key(&ask(&mut dev, RequestBody::PublicKey { slot: 0 }));
        assert_eq!(bits, 2048);
    }
    // A second CA certificate is refused: a device is certified under one CA.
    let other_ca = fake_certificate(100, 9);
    let again = RequestBody::CertWrite {
        kind: CertKind::Ca,
        offset: 0,
        total: other_ca.len() as u32,
        data: &other_ca,
    };
    let part = partition(&dev);
    assert_eq!(refusal(&mut dev, again), ErrorCode::StorageFailed);
    assert_eq!(partition(&dev), part);
}

#[test]
fn a_renewal_cut_short_leaves_a_valid_certificate_for_every_reader() {
    // Whichever write a reset interrupts, both readers find the CA's certificate and a device
    // certificate that is either the old or the new one, never a damaged entry or none.
    let ca_cert = fake_certificate(700, 40);
    let (old, new) = (fake_certificate(900, 1), fake_certificate(980, 2));
    let mut writes = 0;
    loop {
        let mut dev = certified(&ca_cert, &old);
        dev.backend_mut().keys_mut().unwrap().fault = Some(BurnFault::FlashWriteAfter(writes));
        let mut completed = true;
        for (i, chunk) in new.chunks(700).enumerate() {
            let answer = ask(
                &mut dev,
                RequestBody::CertWrite {
                    kind: CertKind::Device,
                    offset: (i * 700) as u32,
                    total: new.len() as u32,
                    data: chunk,
                },
            );
            if !matches!(decode(&answer).body, ResponseBody::CertWritten { .. }) {
                assert_eq!(error_code(&decode(&answer)), ErrorCode::StorageFailed);
                completed = false;
                break;
            }
        }
        dev.backend_mut().keys_mut().unwrap().fault = None;
        let [first_dev, first_ca, last_dev, last_ca, read_dev, read_ca] = found(&mut dev);
        for (what, cert) in [
            ("first", &first_dev),
            ("last", &last_dev),
            ("read", &read_dev),
        ] {
            let cert = cert
                .as_ref()
                .unwrap_or_else(|| panic!("{what}: none after {writes}"));
            assert!(*cert == old || *cert == new, "{what} after {writes} writes");
        }
        for ca in [first_ca, last_ca, read_ca] {
            assert_eq!(ca.as_deref(), Some(&ca_cert[..]), "after {writes} writes");
        }
        if completed {
            assert_eq!(read_dev, Some(new.clone()));
            assert!(writes > 5, "a renewal is more than {writes} writes");
            break;
        }
        writes += 1;
    }
}
