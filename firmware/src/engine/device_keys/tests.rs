//! Device keys on the virtual device, through the engine's frames: every stored block and record
//! is checked by an independent Python reading of the formats (testdata/check_ds_record.py), and
//! signatures against those Python's `cryptography` made with the same keys.
use std::format;
use std::string::String;
use std::vec;
use std::vec::Vec;

use sha2::{Digest, Sha256};
use ucrypto_protocol::{
    Chip, Command, ErrorCode, KeySlots, RequestBody, ResponseBody, SlotState, ANY_SLOT,
};

use super::super::rsa::tests::{vectors, Vector};
use super::super::tests::{decode, error_code, exchange, frame};
use super::super::Engine;
use crate::backend::software::{Seed, SoftwareBackend};
use crate::backend::virtual_key_hardware::{
    BurnFault, RECORD_PARTITION_LEN, RECORD_PARTITION_OFFSET,
};

pub(super) type Device = Engine<SoftwareBackend>;

pub(super) fn device(chip: Chip) -> Device {
    Engine::new(SoftwareBackend::new(chip, Seed::Fixed(11)))
}

pub(super) fn ask(engine: &mut Device, body: RequestBody<'_>) -> Vec<u8> {
    let mut out = exchange(engine, &frame(1, body));
    assert_eq!(out.len(), 1);
    out.remove(0)
}

pub(super) fn refusal(engine: &mut Device, body: RequestBody<'_>) -> ErrorCode {
    error_code(&decode(&ask(engine, body)))
}

pub(super) fn slots(engine: &mut Device) -> Option<KeySlots> {
    match decode(&ask(engine, RequestBody::Hello)).body {
        ResponseBody::Hello(h) => {
            assert_eq!(
                h.key_slots.is_some(),
                h.capabilities.supports(Command::DeviceKeys)
            );
            h.key_slots
        }
        other => panic!("{other:?}"),
    }
}

/// The public key answered: (bits, n, e).
pub(super) fn public_key(answer: &[u8]) -> (u16, Vec<u8>, Vec<u8>) {
    match decode(answer).body {
        ResponseBody::PublicKey(k) => (k.bits, k.n.to_vec(), k.e.to_vec()),
        other => panic!("expected a public key, got {other:?}"),
    }
}

pub(super) fn signature(answer: &[u8]) -> Vec<u8> {
    match decode(answer).body {
        ResponseBody::Signature { data } => data.to_vec(),
        other => panic!("expected a signature, got {other:?}"),
    }
}

pub(super) fn import(engine: &mut Device, slot: u8, v: &Vector) -> Vec<u8> {
    ask(engine, RequestBody::KeyImport { slot, key: v.key() })
}

pub(super) fn vector(name: &str) -> Vector {
    vectors().into_iter().find(|v| v.name == name).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the virtual device's eFuse file and key partition, runs the Python check on `slot`
/// (ESP-IDF's way of finding the entries) and returns its output line.
fn python_check(engine: &Device, slot: u8, d: Option<&[u8]>) -> String {
    let (ok, text) = python_run(engine, slot, d);
    assert!(ok, "{text}");
    text
}

/// The Python check's verdict and output, for a record it may refuse.
fn python_run(engine: &Device, slot: u8, d: Option<&[u8]>) -> (bool, String) {
    let keys = engine.backend().keys().unwrap();
    let dir = std::env::temp_dir().join(format!(
        "ucrypto-keys-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, core::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let efuse = dir.join("efuse.bin");
    let part = dir.join("esp_secure_cert.bin");
    std::fs::write(&efuse, keys.efuse_bytes()).unwrap();
    std::fs::write(&part, partition(engine)).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/check_ds_record.py");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(script)
        .arg(&efuse)
        .arg(&part)
        .arg(format!("{slot}"))
        .arg("3072");
    if let Some(d) = d {
        cmd.arg(hex(d));
    }
    let out = cmd.output().expect("python3 runs");
    std::fs::remove_dir_all(&dir).ok();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{text}{stderr}");
    (out.status.success(), text)
}

/// The device's `esp_secure_cert` partition.
pub(super) fn partition(engine: &Device) -> Vec<u8> {
    engine.backend().keys().unwrap().flash_bytes()
        [RECORD_PARTITION_OFFSET..RECORD_PARTITION_OFFSET + RECORD_PARTITION_LEN]
        .to_vec()
}

/// Puts `bytes` at the start of the device's `esp_secure_cert` partition, erased after them.
fn set_partition(engine: &mut Device, bytes: &[u8]) {
    let hw = engine.backend_mut().keys_mut().unwrap();
    let mut flash = hw.flash_bytes().to_vec();
    let part = &mut flash[RECORD_PARTITION_OFFSET..RECORD_PARTITION_OFFSET + RECORD_PARTITION_LEN];
    part.fill(0xff);
    part[..bytes.len()].copy_from_slice(bytes);
    hw.load_flash(&flash).unwrap();
}

/// The TLV entries at the start of a partition, as (offset, length of the whole entry), read
/// from the format: a header's u16 length at byte 10, data padded to 16, a 4-byte CRC.
fn tlv_entries(part: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut off = 0;
    while part[off..off + 4] == 0xBA5E_BA11u32.to_le_bytes() {
        let len = usize::from(u16::from_le_bytes([part[off + 10], part[off + 11]]));
        let total = 12 + len.div_ceil(16) * 16 + 4;
        out.push((off, total));
        off += total;
    }
    out
}

/// The bytes of the TLV list at the start of a partition.
fn tlv_list(part: &[u8]) -> &[u8] {
    let end = tlv_entries(part)
        .last()
        .map_or(0, |&(off, total)| off + total);
    &part[..end]
}

static COUNTER: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

/// `d` of a vector's key, computed by Python (the vectors carry only the CRT parts).
fn python_d(v: &Vector) -> Vec<u8> {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "p=0x{};q=0x{};e=0x{};print('%x' % pow(e,-1,(p-1)*(q-1)))",
            hex(v.get("p")),
            hex(v.get("q")),
            hex(v.get("e"))
        ))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let text = text.trim();
    let text = if text.len() % 2 == 1 {
        format!("0{text}")
    } else {
        text.into()
    };
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn an_imported_key_signs_like_pythons_cryptography_and_its_record_reads_in_python() {
    let mut dev = device(Chip::Esp32C3);
    assert_eq!(slots(&mut dev), Some([SlotState::Free; 6]));
    for (slot, name) in [(0u8, "2048"), (2, "3072 e=3"), (3, "2047")] {
        let v = vector(name);
        let (bits, n, e) = public_key(&import(&mut dev, slot, &v));
        let trimmed = |b: &[u8]| {
            b.iter()
                .skip_while(|&&x| x == 0)
                .copied()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            (n.as_slice(), e.as_slice()),
            (&trimmed(v.get("n"))[..], &trimmed(v.get("e"))[..])
        );
        let sig = signature(&ask(
            &mut dev,
            RequestBody::SignDigestSlot {
                digest: v.digest(),
                slot,
            },
        ));
        assert_eq!(sig, v.get("signature"), "{name}");
        let line = python_check(&dev, slot, Some(&python_d(&v)));
        assert!(line.starts_with(&format!("ok {bits} ")), "{line}");
    }
    let states = slots(&mut dev).unwrap();
    assert!(matches!(states[0], SlotState::DsKey { bits: 2048, .. }));
    assert!(matches!(states[2], SlotState::DsKey { bits: 3072, .. }));
    assert!(matches!(states[3], SlotState::DsKey { bits: 2047, .. }));
    assert_eq!(states[1], SlotState::Free);
}

#[test]
fn the_slot_fingerprint_is_the_sha256_of_the_der_public_key() {
    let mut dev = device(Chip::Esp32C6);
    let v = vector("2048");
    import(&mut dev, 1, &v);
    let Some(SlotState::DsKey { spki_sha256, .. }) = slots(&mut dev).map(|s| s[1]) else {
        panic!("no key in slot 1");
    };
    // Python's cryptography writes the DER SubjectPublicKeyInfo.
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "from cryptography.hazmat.primitives.asymmetric import rsa;\
             from cryptography.hazmat.primitives import serialization as s;import hashlib;\
             k=rsa.RSAPublicNumbers(0x{},0x{}).public_key();\
             print(hashlib.sha256(k.public_bytes(s.Encoding.DER,s.PublicFormat.SubjectPublicKeyInfo)).hexdigest())",
            hex(v.get("e")),
            hex(v.get("n"))
        ))
        .output()
        .unwrap();
    assert_eq!(
        hex(&spki_sha256),
        String::from_utf8(out.stdout).unwrap().trim()
    );
}

#[test]
fn a_generated_key_signs_and_its_record_reads_in_python() {
    let mut dev = device(Chip::Esp32C3);
    let (bits, n, e) = public_key(&ask(
        &mut dev,
        RequestBody::KeyGenerate {
            slot: ANY_SLOT,
            bits: 2048,
        },
    ));
    assert_eq!((bits, n.len(), e.as_slice()), (2048, 256, &[1, 0, 1][..]));
    // ANY_SLOT: the highest free slot.
    let line = python_check(&dev, 5, None);
    assert_eq!(line.trim(), format!("ok 2048 {} 65537", hex(&n)));
    // The signature verifies with the public key (num-bigint, not the engine's arithmetic).
    let digest: [u8; 32] = Sha256::digest(b"a message").into();
    let sig = signature(&ask(
        &mut dev,
        RequestBody::SignDigestSlot { digest, slot: 5 },
    ));
    let m = num_bigint::BigUint::from_bytes_be(&sig).modpow(
        &num_bigint::BigUint::from(65537u32),
        &num_bigint::BigUint::from_bytes_be(&n),
    );
    let em = m.to_bytes_be();
    assert_eq!(&em[em.len() - 32..], &digest);
    assert_eq!(em[0], 1, "00 01 FF.. padding");
}

#[test]
fn a_restarted_device_with_the_same_efuse_and_flash_still_signs() {
    let mut dev = device(Chip::Esp32C3);
    let v = vector("2048");
    import(&mut dev, 4, &v);
    let keys = dev.backend().keys().unwrap();
    let (efuse, flash) = (keys.efuse_bytes(), keys.flash_bytes().to_vec());

    let mut backend = SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(99));
    let hw = backend.keys_mut().unwrap();
    hw.load_efuse(&efuse).unwrap();
    hw.load_flash(&flash).unwrap();
    let mut restarted = Engine::new(backend);
    assert!(matches!(
        slots(&mut restarted).unwrap()[4],
        SlotState::DsKey { bits: 2048, .. }
    ));
    let sig = signature(&ask(
        &mut restarted,
        RequestBody::SignDigestSlot {
            digest: v.digest(),
            slot: 4,
        },
    ));
    assert_eq!(sig, v.get("signature"));
    // The same slot is refused a second key.
    assert_eq!(
        refusal(
            &mut restarted,
            RequestBody::KeyImport {
                slot: 4,
                key: v.key()
            }
        ),
        ErrorCode::SlotUsed
    );
}

#[test]
fn sign_slot_finishes_a_hash_session() {
    let mut dev = device(Chip::Esp32C3);
    let v = vector("2048");
    import(&mut dev, 0, &v);
    let session = match decode(&ask(&mut dev, RequestBody::HashStart)).body {
        ResponseBody::SessionStarted { session } => session,
        other => panic!("{other:?}"),
    };
    ask(
        &mut dev,
        RequestBody::HashData {
            session,
            offset: 0,
            data: b"abc",
        },
    );
    let sig = signature(&ask(
        &mut dev,
        RequestBody::SignSlot {
            session,
            length: 3,
            slot: 0,
        },
    ));
    let digest: [u8; 32] = Sha256::digest(b"abc").into();
    let again = signature(&ask(
        &mut dev,
        RequestBody::SignDigestSlot { digest, slot: 0 },
    ));
    assert_eq!(sig, again);
    // The session ended with the signature.
    assert_eq!(
        refusal(
            &mut dev,
            RequestBody::SignSlot {
                session,
                length: 3,
                slot: 0
            }
        ),
        ErrorCode::NoSession
    );
}

#[test]
fn refusals() {
    let mut dev = device(Chip::Esp32C3);
    let v = vector("2048");
    let gen = |slot, bits| RequestBody::KeyGenerate { slot, bits };
    assert_eq!(refusal(&mut dev, gen(6, 2048)), ErrorCode::BadArgument);
    assert_eq!(refusal(&mut dev, gen(0, 1536)), ErrorCode::BadArgument);
    assert_eq!(refusal(&mut dev, gen(0, 512)), ErrorCode::BadArgument);
    assert_eq!(refusal(&mut dev, gen(0, 4096)), ErrorCode::Unsupported);
    assert_eq!(
        refusal(&mut dev, RequestBody::PublicKey { slot: 0 }),
        ErrorCode::NoKey
    );
    assert_eq!(
        refusal(&mut dev, RequestBody::PublicKey { slot: 9 }),
        ErrorCode::BadArgument
    );
    assert_eq!(
        refusal(
            &mut dev,
            RequestBody::SignDigestSlot {
                digest: [0; 32],
                slot: 0
            }
        ),
        ErrorCode::NoKey
    );
    // 1056 bits is 33 words: not a size ESP-IDF's DS driver takes.
    assert_eq!(
        refusal(
            &mut dev,
            RequestBody::KeyImport {
                slot: 0,
                key: vector("1056").key()
            }
        ),
        ErrorCode::Unsupported
    );
    assert_eq!(
        refusal(
            &mut dev,
            RequestBody::KeyImport {
                slot: 0,
                key: vector("4096").key()
            }
        ),
        ErrorCode::Unsupported
    );
    let mut bad = v.key();
    let q = vector("2048 p < q");
    bad.q = q.get("q");
    assert_eq!(
        refusal(&mut dev, RequestBody::KeyImport { slot: 0, key: bad }),
        ErrorCode::BadArgument
    );
    // Nothing was burned by any refusal.
    assert_eq!(slots(&mut dev), Some([SlotState::Free; 6]));

    // ANY_SLOT fills the highest free slot down to KEY2, never KEY0 or KEY1; then it has
    // nowhere to go although those two are free, and a used slot is refused.
    for slot in (2..6).rev() {
        public_key(&import(&mut dev, ANY_SLOT, &v));
        assert!(matches!(
            slots(&mut dev).unwrap()[slot],
            SlotState::DsKey { .. }
        ));
    }
    assert_eq!(
        refusal(
            &mut dev,
            RequestBody::KeyImport {
                slot: ANY_SLOT,
                key: v.key()
            }
        ),
        ErrorCode::NoFreeKeyBlock
    );
    for slot in 0..2 {
        public_key(&import(&mut dev, slot, &v));
    }
    assert_eq!(
        refusal(&mut dev, gen(ANY_SLOT, 2048)),
        ErrorCode::NoFreeKeyBlock
    );
    assert_eq!(refusal(&mut dev, gen(3, 2048)), ErrorCode::SlotUsed);
}

#[test]
fn a_chip_without_ds_has_no_slots() {
    let mut dev = device(Chip::Esp32);
    assert_eq!(slots(&mut dev), None);
    assert_eq!(
        refusal(
            &mut dev,
            RequestBody::KeyGenerate {
                slot: 0,
                bits: 2048
            }
        ),
        ErrorCode::Unsupported
    );
}

/// Sets `KEY_PURPOSE_<slot>` in the eFuse image, as another tool would have.
fn burn_purpose(dev: &mut Device, slot: usize, purpose: u32) {
    let hw = dev.backend_mut().keys_mut().unwrap();
    let mut efuse = hw.efuse_bytes();
    let bit = 88 + 4 * slot;
    let at = 4 * (bit / 32);
    let mut word = u32::from_le_bytes(efuse[at..at + 4].try_into().unwrap());
    word |= purpose << (bit % 32);
    efuse[at..at + 4].copy_from_slice(&word.to_le_bytes());
    hw.load_efuse(&efuse).unwrap();
}

#[test]
fn a_block_of_another_purpose_is_never_touched() {
    let mut dev = device(Chip::Esp32C3);
    burn_purpose(&mut dev, 0, 4);
    assert_eq!(
        slots(&mut dev).unwrap()[0],
        SlotState::OtherPurpose { purpose: 4 }
    );
    let before = dev.backend().keys().unwrap().efuse_bytes();
    let v = vector("2048");
    assert_eq!(
        refusal(
            &mut dev,
            RequestBody::KeyImport {
                slot: 0,
                key: v.key()
            }
        ),
        ErrorCode::SlotUsed
    );
    assert_eq!(dev.backend().keys().unwrap().efuse_bytes(), before);
    // ANY_SLOT takes the highest free slot.
    let (_, _, _) = public_key(&import(&mut dev, ANY_SLOT, &v));
    assert!(matches!(
        slots(&mut dev).unwrap()[5],
        SlotState::DsKey { .. }
    ));
}

#[test]
fn half_done_burns_are_reported_not_hidden() {
    let v = vector("2048");
    for (fault, code, state) in [
        (
            BurnFault::AfterKeyBlock,
            ErrorCode::BurnFailed,
            SlotState::BurnIncomplete,
        ),
        (
            BurnFault::LoseReadProtection,
            ErrorCode::BurnFailed,
            SlotState::BurnIncomplete,
        ),
        (
            BurnFault::FlashWrite,
            ErrorCode::StorageFailed,
            SlotState::RecordMissing,
        ),
    ] {
        let mut dev = device(Chip::Esp32C3);
        dev.backend_mut().keys_mut().unwrap().fault = Some(fault);
        assert_eq!(
            refusal(
                &mut dev,
                RequestBody::KeyImport {
                    slot: 2,
                    key: v.key()
                }
            ),
            code,
            "{fault:?}"
        );
        dev.backend_mut().keys_mut().unwrap().fault = None;
        assert_eq!(slots(&mut dev).unwrap()[2], state, "{fault:?}");
        // The slot is not reused, and signing with it is refused.
        assert_eq!(
            refusal(
                &mut dev,
                RequestBody::KeyImport {
                    slot: 2,
                    key: v.key()
                }
            ),
            ErrorCode::SlotUsed
        );
        assert_eq!(
            refusal(
                &mut dev,
                RequestBody::SignDigestSlot {
                    digest: [0; 32],
                    slot: 2
                }
            ),
            ErrorCode::NoKey
        );
    }
}

#[test]
fn a_record_that_does_not_match_the_efuse_key_is_the_ds_error() {
    let mut dev = device(Chip::Esp32C3);
    let v = vector("2048");
    import(&mut dev, 0, &v);
    // Another chip's eFuse key under the same flash: the DS peripheral's MD check fails.
    let hw = dev.backend_mut().keys_mut().unwrap();
    let mut efuse = hw.efuse_bytes();
    efuse[32 * 4] ^= 1;
    hw.load_efuse(&efuse).unwrap();
    assert_eq!(
        refusal(
            &mut dev,
            RequestBody::SignDigestSlot {
                digest: v.digest(),
                slot: 0
            }
        ),
        ErrorCode::DsFailed
    );
}

#[test]
fn key_generation_uses_the_accelerator_and_an_exponent_check_per_candidate() {
    let mut backend = SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(5));
    let mut key = super::generate::KeyNumbers::new();
    super::generate::generate(&mut backend, 2048, &mut key).unwrap();
    let p = num_bigint::BigUint::from_slice(&key.p);
    let q = num_bigint::BigUint::from_slice(&key.q);
    let n = num_bigint::BigUint::from_slice(&key.n.words);
    assert_eq!(&p * &q, n);
    assert_eq!(n.bits(), 2048);
    assert_eq!((p.bits(), q.bits()), (1024, 1024));
    // d e = 1 mod (p-1)(q-1).
    let one = num_bigint::BigUint::from(1u8);
    let phi = (&p - &one) * (&q - &one);
    let d = num_bigint::BigUint::from_slice(&key.d);
    assert_eq!((d * 65537u32) % phi, one);
    assert!(key.exponentiations >= key.candidates && key.candidates >= 2);
}

#[test]
fn no_burn_without_erased_room_for_the_record() {
    let mut dev = device(Chip::Esp32C3);
    let hw = dev.backend_mut().keys_mut().unwrap();
    // Something else wrote into the partition (not our TLV entries).
    let mut flash = hw.flash_bytes().to_vec();
    flash[RECORD_PARTITION_OFFSET..RECORD_PARTITION_OFFSET + 16].fill(0x42);
    hw.load_flash(&flash).unwrap();
    let efuse = hw.efuse_bytes();
    assert_eq!(
        refusal(
            &mut dev,
            RequestBody::KeyImport {
                slot: 0,
                key: vector("2048").key()
            }
        ),
        ErrorCode::StorageFailed
    );
    assert_eq!(
        dev.backend().keys().unwrap().efuse_bytes(),
        efuse,
        "nothing burned"
    );
    assert_eq!(slots(&mut dev).unwrap()[0], SlotState::Free);
}

fn device_seeded(chip: Chip, seed: u64) -> Device {
    Engine::new(SoftwareBackend::new(chip, Seed::Fixed(seed)))
}

fn trimmed(b: &[u8]) -> Vec<u8> {
    b.iter().skip_while(|&&x| x == 0).copied().collect()
}

#[test]
fn the_first_record_of_a_slot_is_the_one_as_in_esp_idf() {
    // Two records for slot 0 in one partition: key A's (under this chip's eFuse key), then key
    // B's from another chip. esp_secure_cert_find_tlv takes the first entry of a type and
    // subtype, so an ESP-IDF application signs with A; the engine must too.
    let a = vector("2048");
    let b = vector("3072 e=3");
    let mut first = device_seeded(Chip::Esp32C3, 11);
    import(&mut first, 0, &a);
    let mut second = device_seeded(Chip::Esp32C3, 12);
    import(&mut second, 0, &b);
    let mut both = tlv_list(&partition(&first)).to_vec();
    both.extend_from_slice(tlv_list(&partition(&second)));

    let mut dev = device_seeded(Chip::Esp32C3, 13);
    let efuse = first.backend().keys().unwrap().efuse_bytes();
    dev.backend_mut()
        .keys_mut()
        .unwrap()
        .load_efuse(&efuse)
        .unwrap();
    set_partition(&mut dev, &both);

    assert!(matches!(
        slots(&mut dev).unwrap()[0],
        SlotState::DsKey { bits: 2048, .. }
    ));
    let (bits, n, _) = public_key(&ask(&mut dev, RequestBody::PublicKey { slot: 0 }));
    assert_eq!((bits, n), (2048, trimmed(a.get("n"))));
    let sig = signature(&ask(
        &mut dev,
        RequestBody::SignDigestSlot {
            digest: a.digest(),
            slot: 0,
        },
    ));
    assert_eq!(sig, a.get("signature"));
    let line = python_check(&dev, 0, Some(&python_d(&a)));
    assert!(
        line.starts_with(&format!("ok 2048 {} ", hex(&trimmed(a.get("n"))))),
        "{line}"
    );
}

#[test]
fn a_damaged_first_entry_is_not_passed_over_for_a_later_one() {
    let v = vector("2048");
    let mut dev = device(Chip::Esp32C3);
    import(&mut dev, 0, &v);
    let record = tlv_list(&partition(&dev)).to_vec();
    // The same record twice: the first copy is the one read, the second is never looked at.
    let mut twice = record.clone();
    twice.extend_from_slice(&record);
    set_partition(&mut dev, &twice);
    assert!(matches!(
        slots(&mut dev).unwrap()[0],
        SlotState::DsKey { .. }
    ));
    python_check(&dev, 0, Some(&python_d(&v)));
    // A bit flipped in the first copy's ciphertext: ESP-IDF fails on that entry's CRC and does
    // not go on to the good copy after it.
    twice[100] ^= 0x01;
    set_partition(&mut dev, &twice);
    assert_eq!(slots(&mut dev).unwrap()[0], SlotState::RecordMissing);
    assert_eq!(
        refusal(
            &mut dev,
            RequestBody::SignDigestSlot {
                digest: v.digest(),
                slot: 0
            }
        ),
        ErrorCode::NoKey
    );
    let (ok, line) = python_run(&dev, 0, None);
    assert!(!ok && line.contains("type 3 subtype 0: bad CRC"), "{line}");
}

#[test]
fn entries_of_other_slots_are_skipped_by_length_without_their_crc() {
    let v = vector("2048");
    let mut dev = device(Chip::Esp32C3);
    import(&mut dev, 1, &v);
    import(&mut dev, 0, &vector("2048 p < q"));
    let mut part = partition(&dev);
    // Slot 1's DS_DATA (the first entry) damaged: slot 1 is gone, slot 0 after it is not.
    part[100] ^= 0x01;
    set_partition(&mut dev, tlv_list(&part));
    let states = slots(&mut dev).unwrap();
    assert_eq!(states[1], SlotState::RecordMissing);
    assert!(matches!(states[0], SlotState::DsKey { .. }));
    python_check(&dev, 0, None);
    let (ok, line) = python_run(&dev, 1, None);
    assert!(!ok && line.contains("bad CRC"), "{line}");
}

#[test]
fn a_slot_whose_entries_are_in_flash_already_is_not_burned() {
    // A partition from another chip (or an older image) holds slot 0's record; this chip's
    // slot 0 is free, but a new record would come second and never be read by ESP-IDF.
    let mut other = device_seeded(Chip::Esp32C3, 21);
    import(&mut other, 0, &vector("2048"));
    let mut dev = device_seeded(Chip::Esp32C3, 22);
    set_partition(&mut dev, tlv_list(&partition(&other)));
    assert_eq!(slots(&mut dev).unwrap()[0], SlotState::Free);
    let efuse = dev.backend().keys().unwrap().efuse_bytes();
    let v = vector("2048 p < q");
    assert_eq!(
        refusal(
            &mut dev,
            RequestBody::KeyImport {
                slot: 0,
                key: v.key()
            }
        ),
        ErrorCode::StorageFailed
    );
    assert_eq!(
        dev.backend().keys().unwrap().efuse_bytes(),
        efuse,
        "nothing burned"
    );
    // Another slot is stored after the entries there.
    let (bits, n, _) = public_key(&import(&mut dev, 1, &v));
    assert_eq!(n, trimmed(v.get("n")));
    let line = python_check(&dev, 1, Some(&python_d(&v)));
    assert!(line.starts_with(&format!("ok {bits} ")), "{line}");
}

#[test]
fn the_list_ends_with_an_erased_word_inside_the_partition() {
    // ESP-IDF finds the end of the list at the first word that is not the magic, with no
    // bound: a list filling the partition to its last byte would be read on past it.
    let v = vector("2048");
    let mut probe = device(Chip::Esp32C3);
    import(&mut probe, 0, &v);
    let record = tlv_list(&partition(&probe)).len();
    for (spare, stored) in [(0, false), (16, true)] {
        // A USER_DATA_3 entry (type 53) leaves exactly `record + spare` bytes erased.
        let total = RECORD_PARTITION_LEN - record - spare;
        let len = (total - 16) as u16;
        let mut filler = vec![0u8; total];
        filler[..4].copy_from_slice(&0xBA5E_BA11u32.to_le_bytes());
        filler[8] = 53;
        filler[10..12].copy_from_slice(&len.to_le_bytes());
        let mut dev = device(Chip::Esp32C3);
        set_partition(&mut dev, &filler);
        let answer = import(&mut dev, 0, &v);
        if stored {
            public_key(&answer);
            let part = partition(&dev);
            assert_eq!(tlv_list(&part).len(), RECORD_PARTITION_LEN - 16);
            assert!(part[RECORD_PARTITION_LEN - 16..].iter().all(|&b| b == 0xff));
            python_check(&dev, 0, None);
        } else {
            assert_eq!(error_code(&decode(&answer)), ErrorCode::StorageFailed);
            assert_eq!(slots(&mut dev).unwrap()[0], SlotState::Free);
        }
    }
}

#[test]
fn a_record_cut_short_never_shows_a_damaged_entry() {
    // The magic of each entry is programmed last, so whatever write a reset interrupts, every
    // entry a reader finds is whole: ESP-IDF sees slot 2's record as missing, never as damaged.
    let v = vector("2048");
    let mut writes = 0;
    loop {
        let mut dev = device(Chip::Esp32C3);
        dev.backend_mut().keys_mut().unwrap().fault = Some(BurnFault::FlashWriteAfter(writes));
        let answer = import(&mut dev, 2, &v);
        dev.backend_mut().keys_mut().unwrap().fault = None;
        if matches!(decode(&answer).body, ResponseBody::PublicKey(_)) {
            assert!(writes > 10, "a record is more than {writes} writes");
            break;
        }
        assert_eq!(error_code(&decode(&answer)), ErrorCode::StorageFailed);
        assert_eq!(slots(&mut dev).unwrap()[2], SlotState::RecordMissing);
        let (ok, line) = python_run(&dev, 2, None);
        assert!(
            !ok && line.contains("not found"),
            "after {writes} writes: {line}"
        );
        writes += 1;
    }
}

mod trust;
