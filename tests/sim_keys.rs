//! `ucrypto sim --efuse FILE --flash FILE`: a key imported into the virtual device is burned into
//! the eFuse file (purpose 7, read- and write-protected), recorded in the flash image's
//! `esp_secure_cert` partition, and still signs, byte-equal to `openssl dgst -sha256 -sign`,
//! after the device restarts from the same files.
mod common;

use std::time::Duration;

use common::{openssl_run, rsa_key, temp_dir, Sim};
use ucrypto::transport::SerialTransport;
use ucrypto::Client;
use ucrypto_protocol::{RequestBody, ResponseBody, SlotState};

fn connect(sim: &Sim) -> Client<SerialTransport> {
    let transport = SerialTransport::open(&sim.port, 115_200).expect("the sim's port opens");
    Client::connect(transport, Duration::from_secs(5)).expect("the sim answers Hello")
}

fn slots(client: &mut Client<SerialTransport>) -> [SlotState; 6] {
    client
        .call(RequestBody::Hello, |body| match body {
            ResponseBody::Hello(h) => Ok(h.key_slots.expect("an ESP32-C3 has key slots")),
            other => panic!("{other:?}"),
        })
        .unwrap()
}

#[test]
fn an_imported_key_survives_a_restart_in_the_efuse_and_flash_files() {
    let dir = temp_dir();
    let efuse = dir.path().join("efuse.bin");
    let flash = dir.path().join("flash.bin");
    let key_path = dir.path().join("k.pem");
    let key_file = rsa_key(&key_path);
    let key = ucrypto::key_file::read_private(&key_path, None).unwrap();
    let device_key = ucrypto::key_file::DeviceKey::new(&key).unwrap();
    let files = [
        "--seed",
        "3",
        "--efuse",
        efuse.to_str().unwrap(),
        "--flash",
        flash.to_str().unwrap(),
    ];

    let mut sim = Sim::start(&files);
    // Both files exist from the start: eFuses all zero, flash erased.
    assert_eq!(std::fs::read(&efuse).unwrap(), vec![0u8; 352]);
    assert_eq!(std::fs::metadata(&flash).unwrap().len(), 4 << 20);
    let mut client = connect(&sim);
    assert_eq!(slots(&mut client), [SlotState::Free; 6]);
    let bits = client
        .call(
            RequestBody::KeyImport {
                slot: 1,
                key: device_key.as_request(),
            },
            |body| match body {
                ResponseBody::PublicKey(k) => Ok(k.bits),
                other => panic!("{other:?}"),
            },
        )
        .unwrap();
    assert_eq!(bits, 2048);
    drop(client);
    sim.kill();

    // The eFuse file as the controller has it: BLOCK0 word 0 WR_DIS (bit 24 = KEY1, bit 9 =
    // KEY_PURPOSE_1), word 1 RD_DIS (bit 1 = KEY1), word 2 KEY_PURPOSE_1 in bits 28..31.
    let bytes = std::fs::read(&efuse).unwrap();
    let word = |i: usize| u32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap());
    assert_eq!(word(0), (1 << 24) | (1 << 9));
    assert_eq!(word(1), 1 << 1);
    assert_eq!(
        word(2) >> 28,
        7,
        "KEY_PURPOSE_1 = HMAC_DOWN_DIGITAL_SIGNATURE"
    );
    assert!(
        bytes[32 * 5..32 * 6].iter().any(|&b| b != 0),
        "KEY1 holds the key"
    );
    // The flash record starts the esp_secure_cert partition at 0xd000 with the TLV magic.
    let image = std::fs::read(&flash).unwrap();
    assert_eq!(&image[0xd000..0xd004], &0xBA5E_BA11u32.to_le_bytes());
    assert!(image[..0xd000].iter().all(|&b| b == 0xff));

    // Restarted from the same files, the key still signs as openssl does with the same key.
    let sim = Sim::start(&files);
    let mut client = connect(&sim);
    assert!(matches!(
        slots(&mut client)[1],
        SlotState::DsKey { bits: 2048, .. }
    ));
    let message = b"signed by a key that stays in the chip";
    let digest: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(message).into()
    };
    let signature = client
        .call(
            RequestBody::SignDigestSlot { digest, slot: 1 },
            |body| match body {
                ResponseBody::Signature { data } => Ok(data.to_vec()),
                other => panic!("{other:?}"),
            },
        )
        .unwrap();
    let expected = openssl_run(&["dgst", "-sha256", "-sign", &key_file], message);
    assert_eq!(signature, expected);
    // A second import into the used slot is refused, and nothing in the eFuse file changes.
    let refused = client.call(
        RequestBody::KeyImport {
            slot: 1,
            key: device_key.as_request(),
        },
        |_| Ok(()),
    );
    assert!(refused.is_err());
    drop(client);
    drop(sim);
    assert_eq!(std::fs::read(&efuse).unwrap(), bytes);
}
