//! `ucrypto flash` end to end against `ucrypto sim --download-mode` over a pseudo-terminal: the
//! image is written through the ROM loader protocol, checked by MD5, booted, and `ucrypto info`
//! on the same port shows the version inside the image.
mod common;

use std::path::Path;

use common::firmware_image::{
    merged_image, merged_image_requiring, partition, DATA_LEN, NVS, SECURE_CERT, TEST_VERSION,
};
use common::{assert_exit, stderr, stdout, Sim};

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(stdout(out).trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}; stderr: {}", stdout(out), stderr(out)))
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

#[test]
fn flashes_a_blank_virtual_chip_which_then_boots_the_image() {
    let dir = common::temp_dir();
    let image = merged_image(5, TEST_VERSION);
    let image_path = write(dir.path(), "c3.bin", &image);
    let flash_path = dir.path().join("flash.bin").display().to_string();
    // The device's own data in its nvs partition: a firmware write must leave it alone.
    let mut blank = vec![0xFF; 4 << 20];
    blank[NVS..NVS + 11].copy_from_slice(b"device data");
    std::fs::write(&flash_path, &blank).unwrap();
    let mut sim = Sim::start(&["--download-mode", "--flash", &flash_path, "--seed", "3"]);

    let out = sim.run(&[
        "--json",
        "flash",
        "--image",
        &image_path,
        "--before",
        "no-reset",
    ]);
    assert_exit(&out, 0);
    let report = json(&out);
    assert_eq!(report["chip"], "esp32c3");
    assert_eq!(report["skipped"], false);
    // espflash's flasher stub, uploaded into the virtual chip's RAM, wrote compressed.
    assert_eq!(report["loader"], "stub");
    assert_eq!(report["md5_verified"], true);
    assert_eq!(report["bytes_written"], (image.len() - DATA_LEN) as u64);
    assert_eq!(report["firmware_version"], TEST_VERSION);
    // The MD5 the report states is the image's, from `md5sum`.
    let md5sum = std::process::Command::new("md5sum")
        .arg(&image_path)
        .output()
        .expect("md5sum runs");
    let md5sum = String::from_utf8(md5sum.stdout).unwrap();
    assert!(
        image.len().is_multiple_of(4),
        "the test image needs no padding"
    );
    assert_eq!(report["md5"], md5sum.split(' ').next().unwrap());
    // The eFuse MAC the ROM reported is the id the booted firmware reports.
    assert_eq!(report["mac"], report["device_id"]);
    // The booted firmware reports the SHA-256 appended to the application image, which is the
    // image's last 32 bytes here (the application is last in the merged image).
    assert_eq!(
        report["app_sha256"],
        hex::encode(&image[image.len() - 32..])
    );

    let info = sim.run(&["--json", "info"]);
    assert_exit(&info, 0);
    assert_eq!(json(&info)["firmware_version"], TEST_VERSION);
    let rand = sim.run(&["rand", "128"]);
    assert_exit(&rand, 0);
    sim.kill();

    // The flash file holds the image at 0x0 and erased flash after the written sectors.
    let kept = std::fs::read(&flash_path).unwrap();
    assert_eq!(kept.len(), 4 << 20);
    assert_eq!(&kept[..NVS], &image[..NVS]);
    assert_eq!(&kept[NVS..NVS + 11], b"device data");
    assert_eq!(&kept[NVS + DATA_LEN..image.len()], &image[NVS + DATA_LEN..]);
    assert!(kept[0x2_0000..].iter().all(|&b| b == 0xFF));

    // Re-opened: the chip already holds the image, so nothing is written, and it boots. The
    // default reset cannot pulse DTR/RTS on a pseudo-terminal and carries on without.
    let sim = Sim::start(&["--download-mode", "--flash", &flash_path]);
    let out = sim.run(&["--json", "flash", "--image", &image_path]);
    assert_exit(&out, 0);
    let report = json(&out);
    assert_eq!(report["skipped"], true);
    assert_eq!(report["bytes_written"], 0);
    assert_eq!(report["firmware_version"], TEST_VERSION);
    assert!(
        stderr(&out).contains("DTR/RTS"),
        "the fallback is said: {}",
        stderr(&out)
    );
    let info = sim.run(&["--json", "info"]);
    assert_eq!(json(&info)["firmware_version"], TEST_VERSION);
}

#[test]
fn force_writes_again_and_a_new_image_replaces_the_old() {
    let dir = common::temp_dir();
    let old = write(dir.path(), "old.bin", &merged_image(5, "1.0.0"));
    let new = write(dir.path(), "new.bin", &merged_image(5, "2.0.0"));
    let flash_path = dir.path().join("flash.bin").display().to_string();
    let sim = Sim::start(&["--download-mode", "--flash", &flash_path]);
    assert_exit(
        &sim.run(&["flash", "--image", &old, "--before", "no-reset"]),
        0,
    );
    drop(sim);
    let sim = Sim::start(&["--download-mode", "--flash", &flash_path]);
    let out = sim.run(&["--json", "flash", "--image", &new, "--before", "no-reset"]);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["skipped"], false);
    assert_eq!(json(&out)["firmware_version"], "2.0.0");
    drop(sim);
    let sim = Sim::start(&["--download-mode", "--flash", &flash_path]);
    // CHANGE_BAUDRATE on the way: a pseudo-terminal takes any rate.
    let out = sim.run(&[
        "--json",
        "flash",
        "--image",
        &new,
        "--force",
        "--before",
        "no-reset",
        "--flash-baud",
        "921600",
    ]);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["skipped"], false);
}

#[test]
fn an_image_for_another_chip_is_refused_before_the_board_is_touched() {
    let dir = common::temp_dir();
    let c6 = write(dir.path(), "c6.bin", &merged_image(13, TEST_VERSION));
    // No board at this port: the refusal comes first, so the port is never opened.
    let out = common::run(&[
        "--port",
        "/dev/ucrypto-no-such-port",
        "flash",
        "--chip",
        "esp32c3",
        "--image",
        &c6,
    ]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("the image is for esp32c6, not esp32c3"),
        "{err}"
    );

    // Without --chip, the board decides: a C3 in download mode refuses the C6 image.
    let sim = Sim::start(&["--download-mode", "--chip", "esp32c3"]);
    let out = sim.run(&["flash", "--image", &c6, "--before", "no-reset"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("the board is an esp32c3"), "{err}");

    // Not an image at all.
    let junk = write(dir.path(), "junk.bin", b"not an image");
    let out = common::run(&["--port", "/dev/null", "flash", "--image", &junk]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("not a merged firmware image"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_block_damaged_on_the_line_gets_the_loaders_checksum_error_and_a_clean_exit() {
    let dir = common::temp_dir();
    let image = write(dir.path(), "c3.bin", &merged_image(5, TEST_VERSION));
    // The stub's compressed blocks (16 KiB each): block 1 is the application's.
    let sim = Sim::start(&["--download-mode", "--damage-block", "1"]);
    let out = sim.run(&["--json", "flash", "--image", &image, "--before", "no-reset"]);
    assert_exit(&out, 1);
    let error = &json(&out)["error"];
    assert_eq!(error["kind"], "rom-error");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("Bad data checksum"), "{message}");
    let err = stderr(&out);
    assert_eq!(
        err.lines().filter(|l| l.contains("error")).count(),
        1,
        "{err}"
    );
    // Through the ROM's own commands (no stub), the ROM's code: "invalid CRC".
    let sim = Sim::start(&[
        "--download-mode",
        "--refuse-ram-load",
        "--damage-block",
        "3",
    ]);
    let out = sim.run(&["--json", "flash", "--image", &image, "--before", "no-reset"]);
    assert_exit(&out, 1);
    let message = json(&out)["error"]["message"].as_str().unwrap().to_string();
    assert!(message.to_lowercase().contains("crc"), "{message}");
}

/// Where no stub can run (the ROM refuses to load code into RAM, as in Secure Download Mode),
/// the ROM's own commands write, and the ROM's "run user code" starts the image.
#[test]
fn without_a_stub_the_roms_own_commands_write_and_start_the_image() {
    let dir = common::temp_dir();
    let image = merged_image(5, TEST_VERSION);
    let image_path = write(dir.path(), "c3.bin", &image);
    let sim = Sim::start(&["--download-mode", "--refuse-ram-load"]);
    let out = sim.run(&[
        "--json",
        "flash",
        "--image",
        &image_path,
        "--before",
        "no-reset",
    ]);
    assert_exit(&out, 0);
    let report = json(&out);
    assert_eq!(report["loader"], "rom");
    assert_eq!(report["bytes_written"], (image.len() - DATA_LEN) as u64);
    assert_eq!(report["firmware_version"], TEST_VERSION);
    assert!(
        stderr(&out).contains("the flasher stub did not start"),
        "{}",
        stderr(&out)
    );
}

/// The real firmware, when `.ci/firmware.sh` (or build-images.sh) has built it.
#[test]
fn flashes_the_real_c3_image_when_it_was_built() {
    let image = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../firmware/chip/dist/ucrypto-esp32c3-merged.bin");
    if !image.is_file() {
        // Straight to the process's stderr: the test harness captures println! of a test that
        // passes, and this line must be seen.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED: flashing the real image: {} is missing; `bash .ci/firmware.sh` builds it",
            image.display()
        );
        return;
    }
    let image = image.display().to_string();
    let sim = Sim::start(&["--download-mode"]);
    let out = sim.run(&["--json", "flash", "--image", &image, "--before", "no-reset"]);
    assert_exit(&out, 0);
    let report = json(&out);
    assert_eq!(report["chip"], "esp32c3");
    // esp_app_desc! in the chip's main.rs takes the chip crate's version.
    assert_eq!(report["firmware_version"], "0.1.0");
    let info = sim.run(&["--json", "info"]);
    assert_eq!(json(&info)["firmware_version"], "0.1.0");
}

/// The bootloader's checks, through the library, on images that differ from a good one in one
/// place each.
#[test]
fn the_boot_checks_find_each_kind_of_damage() {
    use ucrypto_protocol::Chip;
    use ucrypto_sim::esp_image::boot_version;
    let good = merged_image(5, TEST_VERSION);
    assert_eq!(boot_version(&good, Chip::Esp32C3).unwrap(), TEST_VERSION);
    let blank = vec![0xFF; 0x2_0000];
    let why = boot_version(&blank, Chip::Esp32C3).unwrap_err().to_string();
    assert!(why.contains("bootloader at 0x0: no image header"), "{why}");
    let why = boot_version(&good, Chip::Esp32C6).unwrap_err().to_string();
    assert!(why.contains("chip id 5 (esp32c3)"), "{why}");
    let app = 0x1_0000;
    let mut bad_data = good.clone();
    bad_data[app + 24 + 8 + 300] ^= 0x10;
    // The SHA-256 would catch it too, but the checksum is checked first.
    let why = boot_version(&bad_data, Chip::Esp32C3)
        .unwrap_err()
        .to_string();
    assert!(
        why.contains("application at 0x10000: checksum mismatch"),
        "{why}"
    );
    let mut bad_hash = good.clone();
    *bad_hash.last_mut().unwrap() ^= 1;
    let why = boot_version(&bad_hash, Chip::Esp32C3)
        .unwrap_err()
        .to_string();
    assert!(why.contains("SHA-256 mismatch"), "{why}");
    let mut no_table = good.clone();
    no_table[0x8000..0x9000].fill(0xFF);
    let why = boot_version(&no_table, Chip::Esp32C3)
        .unwrap_err()
        .to_string();
    assert!(why.contains("no application partition"), "{why}");
}

/// A chip whose flash holds no application stays silent after download mode, as a real one
/// does: the host leaves download mode with espflash directly, then `info` finds nobody.
#[test]
fn a_blank_chip_leaving_download_mode_stays_silent() {
    use espflash::command::Command as RomCommand;
    use espflash::connection::{Connection, ResetAfterOperation, ResetBeforeOperation};
    use espflash::flasher::Flasher;
    let sim = Sim::start(&["--download-mode"]);
    let serial = serialport::new(&sim.port, 115_200)
        .timeout(std::time::Duration::from_secs(3))
        .open_native()
        .unwrap();
    let usb = serialport::UsbPortInfo {
        vid: 0,
        pid: 0,
        serial_number: None,
        manufacturer: None,
        product: None,
    };
    let connection = Connection::new(
        serial,
        usb,
        ResetAfterOperation::NoResetNoStub,
        ResetBeforeOperation::NoReset,
        115_200,
    );
    let mut flasher = Flasher::connect(connection, false, false, false, None, None).unwrap();
    assert_eq!(flasher.chip(), espflash::target::Chip::Esp32c3);
    // The MAC espflash reads from the eFuse words is a locally administered unicast address.
    let mac = flasher.chip().mac_address(flasher.connection()).unwrap();
    let first = u8::from_str_radix(&mac[..2], 16).unwrap();
    assert_eq!(first & 0x03, 0x02, "{mac}");
    // What espflash's ROM path ends a write with, and what broke on Espressif's ROM (issue
    // 22): FLASH_END(reboot) is refused with "failed to act", and the loader stays.
    let begin = |flasher: &mut Flasher| {
        flasher
            .connection()
            .command(RomCommand::FlashBegin {
                size: 0,
                blocks: 0,
                block_size: 0x400,
                offset: 0,
                supports_encryption: true,
            })
            .unwrap();
    };
    begin(&mut flasher);
    let refused = flasher
        .connection()
        .command(RomCommand::FlashEnd { reboot: true })
        .unwrap_err();
    let mut chain = refused.to_string();
    let mut cause = std::error::Error::source(&refused);
    while let Some(c) = cause {
        chain.push_str(&format!(": {c}"));
        cause = c.source();
    }
    // The words seen against Espressif's ROM.
    assert!(
        chain
            .contains("Error while running FlashEnd command: Bootloader failed to execute command"),
        "{chain}"
    );
    // Still in the loader: it answers.
    flasher.connection().read_reg(0x4000_1000).unwrap();
    // esptool's way out: an empty FLASH_BEGIN and FLASH_END(run user code), not answered.
    begin(&mut flasher);
    flasher
        .connection()
        .write_command(RomCommand::FlashEnd { reboot: false })
        .unwrap();
    let mut serial = flasher.into_connection().into_serial();
    let _ = serial.set_exclusive(false);
    drop(serial);
    let out = sim.run(&["--timeout", "0.3", "info"]);
    assert_exit(&out, 4);
}

/// The library call a station makes: the report, and progress that adds up to what was written.
#[test]
fn the_library_call_reports_progress_and_the_result() {
    use ucrypto::progress::Progress;
    use ucrypto_station::flasher::{flash, Before, FlashOptions};
    #[derive(Default)]
    struct Count {
        total: Option<u64>,
        done: u64,
        finished: bool,
    }
    impl Progress for Count {
        fn start(&mut self, total: Option<u64>) {
            self.total = total;
        }
        fn advance(&mut self, bytes: u64) {
            self.done += bytes;
        }
        fn finish(&mut self) {
            self.finished = true;
        }
    }
    let image = merged_image(5, TEST_VERSION);
    let sim = Sim::start(&["--download-mode", "--seed", "9"]);
    let options = FlashOptions {
        before: Before::NoReset,
        ..FlashOptions::default()
    };
    let mut count = Count::default();
    let report = flash(&sim.port, &image, &options, &mut count).unwrap();
    // Everything but the data partitions.
    assert_eq!(count.total, Some((image.len() - DATA_LEN) as u64));
    assert_eq!(count.done, (image.len() - DATA_LEN) as u64);
    assert!(count.finished);
    assert_eq!(report.bytes_written, (image.len() - DATA_LEN) as u64);
    assert!(!report.skipped && report.md5_verified);
    assert_eq!(report.firmware_version, TEST_VERSION);
    assert_eq!(report.chip, "esp32c3");
}

/// A device key imported after the first flash lives in esp_secure_cert (flash) and the eFuses;
/// a forced reflash of new firmware keeps it, and it still signs.
#[test]
fn a_device_key_survives_a_reflash() {
    use ucrypto::transport::SerialTransport;
    use ucrypto::Client;
    use ucrypto_protocol::{RequestBody, ResponseBody, SlotState};
    let connect = |sim: &Sim| {
        let transport = SerialTransport::open(&sim.port, 115_200).unwrap();
        Client::connect(transport, std::time::Duration::from_secs(5)).unwrap()
    };
    let dir = common::temp_dir();
    let efuse = dir.path().join("efuse.bin").display().to_string();
    let flash_file = dir.path().join("flash.bin").display().to_string();
    let v1 = write(dir.path(), "v1.bin", &merged_image(5, "1.0.0"));
    let v2 = write(dir.path(), "v2.bin", &merged_image(5, "2.0.0"));
    let key_path = dir.path().join("k.pem");
    common::rsa_key(&key_path);
    let key = ucrypto::key_file::read_private(&key_path, None).unwrap();
    let device_key = ucrypto::key_file::DeviceKey::new(&key).unwrap();
    let files = ["--efuse", &efuse, "--flash", &flash_file];
    let start = || Sim::start(&[&["--download-mode"][..], &files[..]].concat());

    let sim = start();
    assert_exit(
        &sim.run(&["flash", "--image", &v1, "--before", "no-reset"]),
        0,
    );
    let mut client = connect(&sim);
    client
        .call(
            RequestBody::KeyImport {
                slot: 1,
                key: device_key.as_request(),
            },
            |body| match body {
                ResponseBody::PublicKey(_) => Ok(()),
                other => panic!("{other:?}"),
            },
        )
        .unwrap();
    drop(client);
    drop(sim);
    let record = std::fs::read(&flash_file).unwrap()[SECURE_CERT..SECURE_CERT + 0x3000].to_vec();
    assert_eq!(
        &record[..4],
        &0xBA5E_BA11u32.to_le_bytes(),
        "the key's record"
    );

    let sim = start();
    let out = sim.run(&["--json", "flash", "--image", &v2, "--before", "no-reset"]);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["firmware_version"], "2.0.0");
    let kept = std::fs::read(&flash_file).unwrap();
    assert_eq!(&kept[SECURE_CERT..SECURE_CERT + 0x3000], &record[..]);
    let mut client = connect(&sim);
    let slot = client
        .call(RequestBody::Hello, |body| match body {
            ResponseBody::Hello(h) => Ok(h.key_slots.expect("an ESP32-C3 has key slots")[1]),
            other => panic!("{other:?}"),
        })
        .unwrap();
    assert!(
        matches!(slot, SlotState::DsKey { bits: 2048, .. }),
        "{slot:?}"
    );
}

/// A merged image whose partition table is `table` instead of ucrypto's.
fn with_table(mut image: Vec<u8>, table: &[Vec<u8>]) -> Vec<u8> {
    image[0x8000..0x8C00].fill(0xFF);
    let table = table.concat();
    image[0x8000..0x8000 + table.len()].copy_from_slice(&table);
    image
}

/// An older or foreign image whose partition table has no `esp_secure_cert`: the key-record
/// region is the device's, so `flash` leaves it as it is and the device key still signs. An
/// image whose table lays another partition over the region is refused before the port opens.
#[test]
fn an_image_without_the_key_partition_leaves_the_device_key_alone() {
    let dir = common::temp_dir();
    let efuse = dir.path().join("efuse.bin").display().to_string();
    let flash_file = dir.path().join("flash.bin").display().to_string();
    let v1 = write(dir.path(), "v1.bin", &merged_image(5, "1.0.0"));
    let foreign = with_table(
        merged_image(5, "3.0.0"),
        &[
            partition(0x01, 0x02, NVS as u32, 0x4000, "nvs"),
            partition(0x00, 0x00, 0x1_0000, 0x10_0000, "factory"),
        ],
    );
    let foreign = write(dir.path(), "foreign.bin", &foreign);
    let files = ["--efuse", &efuse, "--flash", &flash_file];
    let start = || Sim::start(&[&["--download-mode"][..], &files[..]].concat());

    let sim = start();
    assert_exit(
        &sim.run(&["flash", "--image", &v1, "--before", "no-reset"]),
        0,
    );
    let key_path = dir.path().join("k.pem");
    common::rsa_key(&key_path);
    let out = sim.run(&[
        "key",
        "import",
        "--slot",
        "1",
        "--key",
        &key_path.display().to_string(),
        "--burn",
    ]);
    assert_exit(&out, 0);
    drop(sim);
    let record = std::fs::read(&flash_file).unwrap()[SECURE_CERT..SECURE_CERT + 0x3000].to_vec();
    assert_eq!(&record[..4], &0xBA5E_BA11u32.to_le_bytes());

    let sim = start();
    let out = sim.run(&[
        "--json", "flash", "--image", &foreign, "--before", "no-reset",
    ]);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["firmware_version"], "3.0.0");
    let kept = std::fs::read(&flash_file).unwrap();
    assert_eq!(&kept[SECURE_CERT..SECURE_CERT + 0x3000], &record[..]);
    let signed = sim.run(&["sign", "--slot", "1", "-m", "still here"]);
    assert_exit(&signed, 0);
    drop(sim);

    // nvs grown over 0xD000 (ESP-IDF's default table has nvs at 0x9000, 0x6000 bytes).
    let grown = with_table(
        merged_image(5, "3.0.1"),
        &[
            partition(0x01, 0x02, NVS as u32, 0x6000, "nvs"),
            partition(0x00, 0x00, 0x1_0000, 0x10_0000, "factory"),
        ],
    );
    let grown = write(dir.path(), "grown.bin", &grown);
    let out = common::run(&[
        "--port",
        "/dev/ucrypto-no-such-port",
        "flash",
        "--image",
        &grown,
    ]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("over the device keys' records at 0xd000..0x10000"),
        "{}",
        stderr(&out)
    );
    // esp_secure_cert moved.
    let moved = with_table(
        merged_image(5, "3.0.2"),
        &[
            partition(0x3F, 0x00, 0x2_0000, 0x3000, "esp_secure_cert"),
            partition(0x00, 0x00, 0x1_0000, 0x10_0000, "factory"),
        ],
    );
    let moved = write(dir.path(), "moved.bin", &moved);
    let out = common::run(&[
        "--port",
        "/dev/ucrypto-no-such-port",
        "flash",
        "--image",
        &moved,
    ]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("moves or shrinks esp_secure_cert"),
        "{}",
        stderr(&out)
    );
}

/// An eFuse file whose BLOCK1 holds a MAC and the wafer version `minor` (ESP32-C3:
/// `WAFER_VERSION_MINOR_LO` in word 3, bits 18..20, as espefuse lays it out), the rest zero.
fn efuse_file(path: &Path, minor: u32) {
    let mut bytes = vec![0u8; 352];
    // BLOCK1 starts at byte 32: MAC_0 (word 0), MAC_1 (word 1, low half), as the ROM reads them.
    bytes[32..38].copy_from_slice(&[0x44, 0x33, 0x22, 0x11, 0x02, 0x00]);
    bytes[44..48].copy_from_slice(&(minor << 18).to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

/// A chip whose eFuses say v0.0 does not run an image built for v0.3 and later: its bootloader
/// refuses with ESP-IDF's words, the chip stays silent, and `flash` (which wrote and verified
/// the image) ends with exit 7. The same image runs on a v0.3 chip, and on a chip whose eFuse
/// file was created by the sim (BLOCK1 not programmed: the virtual C3's v0.3).
#[test]
fn a_chip_older_than_the_image_requires_does_not_boot_it() {
    let dir = common::temp_dir();
    let image = write(
        dir.path(),
        "v03.bin",
        &merged_image_requiring(5, 3, TEST_VERSION),
    );
    let old = dir.path().join("old.efuse");
    efuse_file(&old, 0);
    let log = dir.path().join("sim.log");
    let efuse = old.display().to_string();
    let sim = Sim::start_logging(&["--download-mode", "--efuse", &efuse], &log);
    let out = sim.run(&["--json", "flash", "--image", &image, "--before", "no-reset"]);
    assert_exit(&out, 7);
    let error = &json(&out)["error"];
    assert_eq!(error["kind"], "restart-needed");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("written and verified; restart the board"),
        "{error}"
    );
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(
        said.contains("chip revision check failed. Required >= v0.3, found v0.0."),
        "{said}"
    );
    assert_exit(&sim.run(&["--timeout", "0.3", "info"]), 4);
    drop(sim);

    let new = dir.path().join("new.efuse");
    efuse_file(&new, 3);
    let efuse = new.display().to_string();
    let sim = Sim::start(&["--download-mode", "--efuse", &efuse]);
    let out = sim.run(&["--json", "flash", "--image", &image, "--before", "no-reset"]);
    assert_exit(&out, 0);
    drop(sim);

    let created = dir.path().join("created.efuse").display().to_string();
    let sim = Sim::start(&["--download-mode", "--efuse", &created]);
    let out = sim.run(&["--json", "flash", "--image", &image, "--before", "no-reset"]);
    assert_exit(&out, 0);
    assert_eq!(std::fs::read(&created).unwrap(), vec![0u8; 352]);
}

/// The provisioning lock lives in eFuse: a restart and a reflash of new firmware through the
/// ROM loader keep it; the locked device refuses a key import after both and still signs.
#[test]
fn the_lock_survives_a_restart_and_a_reflash() {
    let dir = common::temp_dir();
    let efuse = dir.path().join("efuse.bin").display().to_string();
    let flash_file = dir.path().join("flash.bin").display().to_string();
    let v1 = write(dir.path(), "v1.bin", &merged_image(5, "1.0.0"));
    let v2 = write(dir.path(), "v2.bin", &merged_image(5, "2.0.0"));
    let key_path = dir.path().join("k.pem");
    common::rsa_key(&key_path);
    let key = key_path.display().to_string();
    let files = ["--efuse", &efuse, "--flash", &flash_file];
    let start = |download: bool| {
        let mode: &[&str] = if download { &["--download-mode"] } else { &[] };
        Sim::start(&[mode, &files[..]].concat())
    };
    let locked = |sim: &Sim| {
        let out = sim.run(&["--json", "info"]);
        assert_exit(&out, 0);
        json(&out)["security"]["provisioning_locked"] == true
    };
    let refused_and_signs = |sim: &Sim| {
        let out = sim.run(&["key", "import", "--slot", "2", "-k", &key, "--burn"]);
        assert_exit(&out, 1);
        assert!(stderr(&out).contains("locked"), "{}", stderr(&out));
        assert_exit(&sim.run(&["sign", "--slot", "3", "-m", "still mine"]), 0);
    };

    let sim = start(true);
    assert_exit(
        &sim.run(&["flash", "--image", &v1, "--before", "no-reset"]),
        0,
    );
    assert_exit(
        &sim.run(&["key", "import", "--slot", "3", "-k", &key, "--burn"]),
        0,
    );
    assert!(!locked(&sim));
    assert_exit(&sim.run(&["lock", "--burn"]), 0);
    assert!(locked(&sim));
    drop(sim);

    let sim = start(false);
    assert!(locked(&sim), "after a restart");
    refused_and_signs(&sim);
    drop(sim);

    let sim = start(true);
    let out = sim.run(&["--json", "flash", "--image", &v2, "--before", "no-reset"]);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["firmware_version"], "2.0.0");
    assert!(locked(&sim), "after a reflash");
    refused_and_signs(&sim);
}
