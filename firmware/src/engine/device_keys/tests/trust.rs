//! The provisioning lock, key origins, the security state in `Hello` and the refusals that
//! follow from the eFuses, on the virtual device through the engine's frames.
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use ucrypto_protocol::{
    Chip, Command, DownloadMode, ErrorCode, FlashEncryption, KeyOrigin, RequestBody, ResponseBody,
    SecurityState, SlotState, ANY_SLOT,
};

use super::super::super::tests::decode;
use super::super::super::Engine;
use super::{
    ask, device, import, partition, public_key, python_check, refusal, set_partition, signature,
    slots, tlv_entries, vector, Device,
};
use crate::backend::software::{Seed, SoftwareBackend};

fn security(dev: &mut Device) -> SecurityState {
    match decode(&ask(dev, RequestBody::Hello)).body {
        ResponseBody::Hello(h) => {
            assert!(h.capabilities.supports(Command::Lock));
            h.security
                .expect("a device with eFuses reports its security state")
        }
        other => panic!("{other:?}"),
    }
}

/// Sets `BLOCK0` bits directly in the eFuse model, as espefuse would have burned them.
fn burn_block0(dev: &mut Device, bits: &[usize]) {
    let hw = dev.backend_mut().keys_mut().unwrap();
    let mut efuse = hw.efuse_bytes();
    for &bit in bits {
        efuse[bit / 8] |= 1 << (bit % 8);
    }
    hw.load_efuse(&efuse).unwrap();
}

/// The same chip after a reset or a reflash of the application: eFuses and flash kept.
fn restarted(dev: &Device) -> Device {
    let keys = dev.backend().keys().unwrap();
    let mut backend = SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(5));
    let hw = backend.keys_mut().unwrap();
    hw.load_efuse(&keys.efuse_bytes()).unwrap();
    hw.load_flash(keys.flash_bytes()).unwrap();
    Engine::new(backend)
}

fn origin(dev: &mut Device, slot: usize) -> KeyOrigin {
    match slots(dev).unwrap()[slot] {
        SlotState::DsKey {
            origin, readable, ..
        } => {
            assert!(!readable);
            origin
        }
        other => panic!("slot {slot}: {other:?}"),
    }
}

#[test]
fn a_new_chip_reports_everything_open() {
    let mut dev = device(Chip::Esp32C3);
    assert_eq!(
        security(&mut dev),
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
fn a_locked_device_refuses_every_burn_signs_and_stays_locked_after_a_restart() {
    let mut dev = device(Chip::Esp32C3);
    let v = vector("2048");
    public_key(&import(&mut dev, 3, &v));
    assert_eq!(
        decode(&ask(&mut dev, RequestBody::Lock)).body,
        ResponseBody::Locked
    );
    assert!(security(&mut dev).provisioning_locked);
    // The bit as espefuse reads it: BLOCK0 word 5 (RD_REPEAT_DATA4), bit 23 = bit 183.
    let efuse = dev.backend().keys().unwrap().efuse_bytes();
    assert_eq!(efuse[20..24], (1u32 << 23).to_le_bytes());
    let before = (efuse, partition(&dev));

    // The device as it is, and the same eFuses and flash on a restarted engine.
    let again = restarted(&dev);
    for mut dev in [dev, again] {
        assert!(security(&mut dev).provisioning_locked);
        assert_eq!(
            refusal(
                &mut dev,
                RequestBody::KeyGenerate {
                    slot: ANY_SLOT,
                    bits: 2048
                }
            ),
            ErrorCode::Locked
        );
        assert_eq!(
            refusal(
                &mut dev,
                RequestBody::KeyImport {
                    slot: 2,
                    key: v.key()
                }
            ),
            ErrorCode::Locked
        );
        // Nothing was burned or written by the refusals.
        let keys = dev.backend().keys().unwrap();
        assert_eq!((keys.efuse_bytes(), partition(&dev)), before);
        // Locking again is answered the same, and signing still works.
        assert_eq!(
            decode(&ask(&mut dev, RequestBody::Lock)).body,
            ResponseBody::Locked
        );
        let sig = signature(&ask(
            &mut dev,
            RequestBody::SignDigestSlot {
                digest: v.digest(),
                slot: 3,
            },
        ));
        assert_eq!(sig, v.get("signature"));
    }
}

#[test]
fn the_lock_survives_a_restart_on_the_same_efuses() {
    let mut dev = device(Chip::Esp32C3);
    let v = vector("2048");
    public_key(&import(&mut dev, 2, &v));
    ask(&mut dev, RequestBody::Lock);
    let mut again = restarted(&dev);
    assert!(security(&mut again).provisioning_locked);
    assert_eq!(
        refusal(
            &mut again,
            RequestBody::KeyImport {
                slot: 4,
                key: v.key()
            }
        ),
        ErrorCode::Locked
    );
    let sig = signature(&ask(
        &mut again,
        RequestBody::SignDigestSlot {
            digest: v.digest(),
            slot: 2,
        },
    ));
    assert_eq!(sig, v.get("signature"));
    assert_eq!(origin(&mut again, 2), KeyOrigin::Imported);
}

#[test]
fn the_origin_is_recorded_with_the_key_and_esp_idf_still_reads_the_record() {
    let mut dev = device(Chip::Esp32C3);
    let v = vector("2048");
    public_key(&import(&mut dev, 4, &v));
    public_key(&ask(
        &mut dev,
        RequestBody::KeyGenerate {
            slot: 2,
            bits: 2048,
        },
    ));
    assert_eq!(origin(&mut dev, 4), KeyOrigin::Imported);
    assert_eq!(origin(&mut dev, 2), KeyOrigin::Generated);
    // The extra USER_DATA_2 entries do not disturb ESP-IDF's way of finding the DS entries.
    python_check(&dev, 4, None);
    python_check(&dev, 2, None);
    // The origin entry is the first of each record: type 52, subtype = slot, [1, origin, 0, 0].
    let part = partition(&dev);
    let entries = tlv_entries(&part);
    let (first, total) = entries[0];
    assert_eq!((part[first + 8], part[first + 9], total), (52, 4, 32));
    assert_eq!(part[first + 10..first + 16], [4, 0, 1, 2, 0, 0]);
    assert_eq!(origin(&mut restarted(&dev), 2), KeyOrigin::Generated);
}

#[test]
fn a_record_without_an_origin_entry_is_a_key_of_unknown_origin() {
    let mut dev = device(Chip::Esp32C3);
    public_key(&import(&mut dev, 5, &vector("2048")));
    // Overwrite the origin entry's type with USER_DATA_3 (53) and fix its CRC: a record of
    // another tool, which has no origin entry.
    let mut part = partition(&dev);
    let (first, total) = tlv_entries(&part)[0];
    part[first + 8] = 53;
    let end = first + total - 4;
    let crc = crc32_from_ones(&part[first..end]);
    part[end..end + 4].copy_from_slice(&crc.to_le_bytes());
    let mut dev = restarted(&dev);
    set_partition(&mut dev, &part);
    assert_eq!(origin(&mut dev, 5), KeyOrigin::Unknown);
}

/// zlib's `crc32(data, 0xffffffff)`, bit by bit (independent of the engine's table).
fn crc32_from_ones(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn no_key_is_stored_once_rd_dis_is_write_protected_or_flash_is_encrypted() {
    // WR_DIS bit 0 (WR_DIS.RD_DIS), as ESP-IDF burns it with Secure Boot v2; then
    // SPI_BOOT_CRYPT_CNT = 1 (bit 82), flash encryption in development mode.
    for (bits, state) in [(&[0usize][..], "rd_dis"), (&[82][..], "flash")] {
        let mut dev = device(Chip::Esp32C3);
        burn_block0(&mut dev, bits);
        let s = security(&mut dev);
        match state {
            "rd_dis" => assert!(s.read_protection_locked),
            _ => assert_eq!(s.flash_encryption, FlashEncryption::Development),
        }
        let before = dev.backend().keys().unwrap().efuse_bytes();
        assert_eq!(
            refusal(
                &mut dev,
                RequestBody::KeyGenerate {
                    slot: ANY_SLOT,
                    bits: 2048
                }
            ),
            ErrorCode::Insecure
        );
        assert_eq!(
            refusal(
                &mut dev,
                RequestBody::KeyImport {
                    slot: 3,
                    key: vector("2048").key()
                }
            ),
            ErrorCode::Insecure
        );
        assert_eq!(dev.backend().keys().unwrap().efuse_bytes(), before);
        assert_eq!(slots(&mut dev), Some([SlotState::Free; 6]));
    }
}

#[test]
fn security_bits_burned_as_espefuse_names_them_are_reported() {
    let mut dev = device(Chip::Esp32C3);
    // DIS_USB_JTAG 41, DIS_PAD_JTAG 51, SECURE_BOOT_EN 116, ENABLE_SECURITY_DOWNLOAD 133.
    burn_block0(&mut dev, &[41, 51, 116, 133]);
    let s = security(&mut dev);
    assert!(s.usb_jtag_disabled && s.pad_jtag_disabled && s.secure_boot);
    assert_eq!(s.download_mode, DownloadMode::Secure);
    assert!(!s.provisioning_locked && !s.read_protection_locked);
    // SOFT_DIS_JTAG (48..50) alone is not a pad JTAG disabled for good.
    let mut dev = device(Chip::Esp32C3);
    burn_block0(&mut dev, &[48]);
    assert!(!security(&mut dev).pad_jtag_disabled);
}

#[test]
fn keys_under_2048_bits_only_on_a_fixed_seed_virtual_device() {
    let mut random = Engine::new(SoftwareBackend::new(Chip::Esp32C3, Seed::HostOs([7; 32])));
    assert_eq!(
        refusal(
            &mut random,
            RequestBody::KeyGenerate {
                slot: 2,
                bits: 1024
            }
        ),
        ErrorCode::BadArgument
    );
    assert_eq!(slots(&mut random), Some([SlotState::Free; 6]));
    let mut fixed = device(Chip::Esp32C3);
    let (bits, _, _) = public_key(&ask(
        &mut fixed,
        RequestBody::KeyGenerate {
            slot: 2,
            bits: 1024,
        },
    ));
    assert_eq!(bits, 1024);
}

/// A partition and eFuses made as Espressif's tools make them (testdata/
/// espressif_ds_partition.py, written from esp_secure_cert_mgr's format: subtype 0, the key id
/// in the DS context, a device certificate and no public-key entry, Y = the key file's d) on a
/// virtual chip: the slot named by the key id is a DS key of unknown origin whose public key is
/// the certificate's, and it signs; a burn without read protection is a readable DS key.
#[test]
fn a_partition_made_by_espressifs_tools_is_a_ds_key_in_the_slot_its_context_names() {
    use num_bigint::BigUint;
    use sha2::{Digest, Sha256};
    for (key_id, flags) in [(3u8, &[][..]), (1, &["readable", "der"][..])] {
        let dir =
            std::env::temp_dir().join(format!("ucrypto-espressif-{}-{key_id}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/espressif_ds_partition.py"
        );
        let out = std::process::Command::new("python3")
            .arg(script)
            .arg(&dir)
            .arg(key_id.to_string())
            .args(flags)
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8(out.stdout).unwrap();
        let fields: Vec<&str> = line.split_whitespace().collect();
        let n = BigUint::parse_bytes(fields[0].as_bytes(), 16).unwrap();
        let spki_sha256 = fields[2].to_string();
        let efuse = std::fs::read(dir.join("efuse.bin")).unwrap();
        let part = std::fs::read(dir.join("esp_secure_cert.bin")).unwrap();
        std::fs::remove_dir_all(&dir).ok();

        let mut dev = device(Chip::Esp32C3);
        dev.backend_mut()
            .keys_mut()
            .unwrap()
            .load_efuse(&efuse)
            .unwrap();
        set_partition(&mut dev, &part);
        let states = slots(&mut dev).unwrap();
        match states[usize::from(key_id)] {
            SlotState::DsKey {
                bits: 2048,
                spki_sha256: fingerprint,
                origin: KeyOrigin::Unknown,
                readable,
            } => {
                assert_eq!(readable, flags.contains(&"readable"), "key {key_id}");
                assert_eq!(
                    super::hex(&fingerprint),
                    spki_sha256,
                    "the certificate's key"
                );
            }
            other => panic!("key {key_id}: {other:?}"),
        }
        // Only that slot: subtype 0 is not slot 0.
        for (slot, state) in states.iter().enumerate() {
            if slot != usize::from(key_id) {
                assert_eq!(*state, SlotState::Free, "slot {slot}");
            }
        }
        let digest: [u8; 32] = Sha256::digest(b"signed with Espressif's record").into();
        let sig = signature(&ask(
            &mut dev,
            RequestBody::SignDigestSlot {
                digest,
                slot: key_id,
            },
        ));
        let em = BigUint::from_bytes_be(&sig)
            .modpow(&BigUint::from(65537u32), &n)
            .to_bytes_be();
        assert_eq!(&em[em.len() - 32..], &digest);
        // The slot is used: nothing is burned over it.
        assert_eq!(
            refusal(
                &mut dev,
                RequestBody::KeyGenerate {
                    slot: key_id,
                    bits: 2048
                }
            ),
            ErrorCode::SlotUsed
        );
    }
}

/// espefuse's own `--virt` file (testdata/make_espefuse_fixture.sh: a DS key burned in
/// BLOCK_KEY3 without read protection, DIS_USB_JTAG, DIS_PAD_JTAG, BLOCK0 bit 183) loads into the
/// eFuse model: the device reports the lock and both JTAGs off, refuses a burn, and signs with
/// the key through a record made for that eFuse key; saved, the file is byte-for-byte espefuse's.
#[test]
fn espefuses_virtual_efuse_file_loads_with_its_bits_where_espefuse_put_them() {
    use crate::backend::virtual_key_hardware::ESPEFUSE_FILE_LEN;
    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/espefuse_virt_c3.bin"
    ))
    .unwrap();
    assert_eq!(fixture.len(), ESPEFUSE_FILE_LEN);
    let dir = std::env::temp_dir().join(format!("ucrypto-espefuse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hmac: String = (0u8..32).map(|b| format!("{b:02x}")).collect();
    let out = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/espressif_ds_partition.py"
        ))
        .arg(&dir)
        .args(["3", "readable", &format!("hmac={hmac}")])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let part = std::fs::read(dir.join("esp_secure_cert.bin")).unwrap();
    // The generator's own eFuse file holds the same key block, in our layout.
    let ours = std::fs::read(dir.join("efuse.bin")).unwrap();
    std::fs::remove_dir_all(&dir).ok();

    let mut dev = device(Chip::Esp32C3);
    let hw = dev.backend_mut().keys_mut().unwrap();
    hw.load_efuse_file(&fixture).unwrap();
    assert_eq!(
        hw.efuse_file_bytes(),
        fixture,
        "saved in espefuse's layout again"
    );
    assert_eq!(
        hw.efuse_bytes()[32 * 7..32 * 8],
        ours[32 * 7..32 * 8],
        "KEY3"
    );
    set_partition(&mut dev, &part);
    let s = security(&mut dev);
    assert!(s.provisioning_locked && s.usb_jtag_disabled && s.pad_jtag_disabled);
    assert!(!s.read_protection_locked && !s.secure_boot);
    assert!(matches!(
        slots(&mut dev).unwrap()[3],
        SlotState::DsKey {
            bits: 2048,
            readable: true,
            origin: KeyOrigin::Unknown,
            ..
        }
    ));
    assert_eq!(
        refusal(
            &mut dev,
            RequestBody::KeyGenerate {
                slot: 4,
                bits: 2048
            }
        ),
        ErrorCode::Locked
    );
    signature(&ask(
        &mut dev,
        RequestBody::SignDigestSlot {
            digest: [7; 32],
            slot: 3,
        },
    ));
}
