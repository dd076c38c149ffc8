//! Writing the firmware to a board through its ROM serial loader (espflash as a library),
//! checking it by MD5, restarting into it and checking its `Hello`: [`flash`] for the
//! `ucrypto flash` command and for programs such as a factory station.
use std::time::{Duration, Instant};

use espflash::connection::ResetBeforeOperation;
use md5::{Digest, Md5};
use serde::Serialize;
use serialport::{SerialPort, TTYPort, UsbPortInfo};
use ucrypto_protocol::Chip;

use crate::error::{Error, Result};
use crate::flash_session::{self, Left, Session, ROM_BAUD};
use ucrypto::progress::Progress;
use ucrypto::transport::SerialTransport;
use ucrypto::Client;
use ucrypto::TransportError;
use ucrypto_sim::esp_image;

/// How to get the chip into its loader before flashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Before {
    /// Pulse DTR/RTS as a USB-UART bridge or USB-Serial-JTAG needs to enter download mode; a
    /// port without those lines (a pseudo-terminal) falls back to `NoReset` with a warning.
    #[default]
    DefaultReset,
    /// The chip is already in download mode (BOOT held while RESET was pressed, or an
    /// emulator started in it).
    NoReset,
}

/// What [`flash`] should do.
#[derive(Debug, Clone)]
pub struct FlashOptions {
    pub before: Before,
    /// Write even when the flash already holds the image.
    pub force: bool,
    /// Baud rate of the ucrypto link after the restart (UART ports).
    pub baud: u32,
    /// Ask the ROM loader (CHANGE_BAUDRATE) for this rate for the write, instead of the 115200
    /// it starts at: 921600 writes about eight times faster on a UART bridge.
    pub flash_baud: Option<u32>,
    /// How long the restarted firmware may take to answer `Hello`.
    pub boot_timeout: Duration,
}

impl Default for FlashOptions {
    fn default() -> Self {
        Self {
            before: Before::DefaultReset,
            force: false,
            baud: ucrypto::connect::DEFAULT_BAUD,
            flash_baud: None,
            boot_timeout: Duration::from_secs(5),
        }
    }
}

/// What a bootable merged image holds, read before the board is touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    pub chip: Chip,
    /// The application's `esp_app_desc_t` version: what `Hello` must report after the restart.
    pub version: String,
    /// MD5 of the image as written (padded to 4 bytes with 0xFF, as the loader writes it).
    pub md5: [u8; 16],
}

/// Checks a merged image (bootloader at 0x0, partition table, application) the way the chip
/// will, and that it is for `chip` when one is named.
pub fn inspect_image(image: &[u8], chip: Option<Chip>) -> Result<ImageSummary> {
    let id = esp_image::header_chip_id(image)
        .map_err(|e| Error::input(format!("not a merged firmware image: {e}")))?;
    let image_chip = esp_image::chip_of_id(id).ok_or_else(|| {
        Error::input(format!(
            "the image is for chip id {id}, not an ESP32 ucrypto supports"
        ))
    })?;
    if let Some(chip) = chip.filter(|&c| c != image_chip) {
        return Err(Error::input(format!(
            "the image is for {}, not {}: pass the {} image (ucrypto-{}-merged.bin)",
            image_chip.name(),
            chip.name(),
            chip.name(),
            chip.name()
        )));
    }
    let version = esp_image::boot_version(image, image_chip).map_err(|e| {
        Error::input(format!(
            "the image would not boot ({e}): pass a merged image from firmware/chip/build-images.sh"
        ))
    })?;
    Ok(ImageSummary {
        chip: image_chip,
        version,
        md5: Md5::digest(padded(image)).into(),
    })
}

/// The bytes the loader writes: `bytes` padded with 0xFF to a multiple of 4.
fn padded(bytes: &[u8]) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    bytes.resize(bytes.len().next_multiple_of(4), 0xFF);
    bytes
}

/// The device keys' record region: the `esp_secure_cert` partition of
/// `firmware/chip/partitions.csv` (type 0x3F, subtype 0). It belongs to the device, not to an
/// image: `flash` never writes or erases it, whatever the image's partition table says.
pub const KEY_RECORD_OFFSET: u32 = 0xD000;
pub const KEY_RECORD_LEN: u32 = 0x3000;
/// `esp_secure_cert`'s partition type and subtype.
const KEY_RECORD_TYPE: (u8, u8) = (0x3F, 0x00);

/// The parts of a merged image that are written: all of it but the key-record region and the
/// data partitions its own partition table names (nvs). Those hold the device's data, not the
/// firmware's; the merged image has only 0xFF there, and writing it would erase the device's
/// keys. An image whose table moves or shrinks `esp_secure_cert`, or lays another partition
/// over its region, is refused: its firmware would look for the keys elsewhere, or write over
/// them.
pub fn write_regions(image: &[u8]) -> Result<Vec<(u32, Vec<u8>)>> {
    let table_at = esp_image::PARTITION_TABLE_OFFSET as usize;
    let table = image.get(table_at..(table_at + 0xC00).min(image.len()));
    let partitions = esp_image::partitions(table.unwrap_or(&[]));
    let keys = (KEY_RECORD_OFFSET, KEY_RECORD_OFFSET + KEY_RECORD_LEN);
    for p in &partitions {
        let end = p.offset.saturating_add(p.size);
        let is_keys = (p.kind, p.subtype) == KEY_RECORD_TYPE;
        if is_keys && (p.offset != keys.0 || end < keys.1) {
            return Err(Error::input(format!(
                "the image's partition table moves or shrinks esp_secure_cert ({:#x}..{end:#x}; \
                 the device keys' records are at {:#x}..{:#x}): build the image with \
                 firmware/chip/partitions.csv",
                p.offset, keys.0, keys.1
            )));
        }
        if !is_keys && p.offset < keys.1 && end > keys.0 {
            return Err(Error::input(format!(
                "the image's partition table lays a partition (type {:#04x}, {:#x}..{end:#x}) over \
                 the device keys' records at {:#x}..{:#x}: build the image with \
                 firmware/chip/partitions.csv",
                p.kind, p.offset, keys.0, keys.1
            )));
        }
    }
    let mut kept: Vec<(usize, usize)> = partitions
        .into_iter()
        .filter(|p| p.kind != esp_image::PARTITION_TYPE_APP)
        .map(|p| (p.offset as usize, p.offset as usize + p.size as usize))
        .chain([(keys.0 as usize, keys.1 as usize)])
        .collect();
    kept.sort_unstable();
    let mut regions = Vec::new();
    let mut at = 0;
    for (start, end) in kept {
        if start > at && at < image.len() {
            regions.push((at as u32, padded(&image[at..start.min(image.len())])));
        }
        at = at.max(end);
    }
    if at < image.len() {
        regions.push((at as u32, padded(&image[at..])));
    }
    Ok(regions)
}

/// What [`flash`] did, and what the restarted firmware said.
#[derive(Debug, Clone, Serialize)]
pub struct FlashReport {
    pub port: String,
    pub chip: &'static str,
    /// The eFuse MAC the ROM reported.
    pub mac: String,
    /// Which loader wrote: `stub` (espflash's flasher stub, compressed) or `rom`.
    pub loader: &'static str,
    pub image_bytes: u64,
    /// 0 when the flash already held the image.
    pub bytes_written: u64,
    /// The flash already held the image (same MD5) and `force` was off.
    pub skipped: bool,
    /// MD5 of the image, equal to the loader's SPI_FLASH_MD5 of the written region.
    pub md5: String,
    pub md5_verified: bool,
    /// From the restarted firmware's `Hello`.
    pub firmware_version: String,
    pub protocol_version: u16,
    pub schema: String,
    pub device_id: String,
    /// The application image's SHA-256 the restarted firmware reports, if it does.
    pub app_sha256: Option<String>,
}

/// Flashes `image` (a merged image, written at 0x0) onto the board on `port`, then restarts it
/// and checks that it answers `Hello` with the image's chip, version and our protocol schema.
/// `progress` hears of the bytes written (none when the flash already holds the image).
pub fn flash(
    port: &str,
    image: &[u8],
    options: &FlashOptions,
    progress: &mut dyn Progress,
) -> Result<FlashReport> {
    let expected = inspect_image(image, None)?;
    let regions = write_regions(image)?;
    let (mut session, can_reset) =
        connect_rom(port, expected.chip, options.before, options.flash_baud)?;
    let mac = session
        .flasher
        .chip()
        .mac_address(session.flasher.connection())
        .map_err(|e| rom_failure(port, "reading the MAC", e))?;
    let len: u32 = regions.iter().map(|(_, data)| data.len() as u32).sum();
    let mut same = true;
    for (addr, data) in &regions {
        let held = session
            .flasher
            .checksum_md5(*addr, data.len() as u32)
            .map_err(|e| rom_failure(port, "SPI_FLASH_MD5", e))?;
        if held.to_be_bytes() != <[u8; 16]>::from(Md5::digest(data)) {
            same = false;
            break;
        }
    }
    let skipped = !options.force && same;
    if skipped {
        log::info!("{port}: the flash already holds this image (MD5 equal): not written");
    } else {
        log::info!(
            "{port}: writing {len} bytes with the {} loader",
            session.loader.name()
        );
        progress.start(Some(u64::from(len)));
        for (addr, data) in &regions {
            flash_session::write_region(&mut session, *addr, data, progress)
                .map_err(|e| rom_failure(port, "writing", e))?;
        }
        flash_session::finish_writes(&mut session)
            .map_err(|e| rom_failure(port, "ending the write", e))?;
    }
    // Written and verified (or already there): from here on, nothing the loader says or does
    // not say makes the write a failure.
    let left = flash_session::leave(&mut session, can_reset);
    let loader = session.loader;
    let mut serial = session.flasher.into_connection().into_serial();
    let _ = serial.set_exclusive(false);
    drop(serial);

    progress.finish();
    log::info!("{port}: waiting for the restarted firmware's Hello");
    // Client::connect has refused another protocol version or schema already.
    let info = match wait_for_hello(port, options) {
        Ok(client) => client.info().clone(),
        Err(e @ Error::Host(ucrypto::Error::Transport(TransportError::ProtocolMismatch(_)))) => {
            return Err(e)
        }
        Err(e) if left == Left::Asked => {
            log::debug!("{port}: no Hello after asking the loader to run the application: {e}");
            return Err(Error::RestartNeeded(format!(
                "{port}: written and verified; restart the board (the port has no reset line \
                 and the chip did not start the application by itself), then run `ucrypto \
                 --port {port} info`"
            )));
        }
        Err(e) => return Err(e),
    };
    if info.chip != expected.chip {
        return Err(Error::Verification(format!(
            "the restarted board says it is {}, the image is for {}",
            info.chip.name(),
            expected.chip.name()
        )));
    }
    if info.firmware_version != expected.version {
        return Err(Error::Verification(format!(
            "the restarted board reports firmware {}, the image holds {}",
            info.firmware_version, expected.version
        )));
    }
    Ok(FlashReport {
        port: port.to_string(),
        chip: expected.chip.name(),
        mac,
        loader: loader.name(),
        image_bytes: image.len() as u64,
        bytes_written: if skipped { 0 } else { u64::from(len) },
        skipped,
        md5: hex::encode(expected.md5),
        md5_verified: true,
        firmware_version: info.firmware_version.clone(),
        protocol_version: info.protocol_version,
        schema: hex::encode(info.schema),
        device_id: info.device_id_string(),
        app_sha256: info.app_sha256.clone(),
    })
}

/// Opens `port` and syncs with the ROM loader, which must be `chip`'s, and starts the stub.
/// Also says whether the port has the DTR/RTS lines to reset the chip with.
fn connect_rom(
    port: &str,
    chip: Chip,
    before: Before,
    baud: Option<u32>,
) -> Result<(Session, bool)> {
    let espflash_chip = match chip {
        Chip::Esp32C3 => espflash::target::Chip::Esp32c3,
        Chip::Esp32C6 => espflash::target::Chip::Esp32c6,
        Chip::Esp32S3 => espflash::target::Chip::Esp32s3,
        Chip::Esp32 => espflash::target::Chip::Esp32,
    };
    let mut serial = open(port)?;
    let can_reset = match serial.write_data_terminal_ready(false) {
        Ok(()) => true,
        Err(e) => {
            if before == Before::DefaultReset {
                log::warn!(
                    "{port} has no DTR/RTS lines to reset the chip with ({e}), as on a \
                     pseudo-terminal: continuing without reset, so the chip must already be in \
                     download mode"
                );
            }
            false
        }
    };
    let before = match before {
        Before::DefaultReset if can_reset => ResetBeforeOperation::DefaultReset,
        _ => ResetBeforeOperation::NoReset,
    };
    let session = flash_session::connect(serial, usb_info(port), before, espflash_chip, baud)
        .map_err(|e| match e {
            espflash::Error::ChipMismatch(expected, found) => Error::input(format!(
                "the board is an {found}, the image is for {expected}: pass the {found} image"
            )),
            e => TransportError::Open {
                port: port.to_string(),
                reason: format!(
                    "no download mode ({}): hold BOOT and press RESET, or check the cable and --port",
                    flash_session::error_chain(&e)
                ),
            }
            .into(),
        })?;
    Ok((session, can_reset))
}

/// Whether `port` has the DTR/RTS lines that reset a board (a pseudo-terminal has none).
pub fn port_can_reset(port: &str) -> bool {
    open(port).is_ok_and(|mut serial| serial.write_data_terminal_ready(false).is_ok())
}

fn open(port: &str) -> Result<TTYPort> {
    serialport::new(port, ROM_BAUD)
        .timeout(Duration::from_secs(3))
        .open_native()
        .map_err(|e| {
            match e.kind() {
                serialport::ErrorKind::NoDevice
                | serialport::ErrorKind::Io(std::io::ErrorKind::NotFound) => TransportError::Open {
                    port: port.to_string(),
                    reason: "no such device; list candidates with `ucrypto ports`".to_string(),
                },
                _ => TransportError::Open {
                    port: port.to_string(),
                    reason: e.description,
                },
            }
            .into()
        })
}

/// The port's USB ids (espflash picks its reset sequence by them), or zeros.
fn usb_info(port: &str) -> UsbPortInfo {
    serialport::available_ports()
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.port_name == port)
        .and_then(|p| match p.port_type {
            serialport::SerialPortType::UsbPort(info) => Some(info),
            _ => None,
        })
        .unwrap_or(UsbPortInfo {
            vid: 0,
            pid: 0,
            serial_number: None,
            manufacturer: None,
            product: None,
        })
}

/// Connects to the restarted firmware, trying again while it boots.
fn wait_for_hello(port: &str, options: &FlashOptions) -> Result<Client<SerialTransport>> {
    let started = Instant::now();
    loop {
        let attempt = SerialTransport::open(port, options.baud)
            .map_err(ucrypto::Error::from)
            .and_then(|t| Client::connect(t, Duration::from_millis(500)));
        match attempt {
            Ok(client) => return Ok(client),
            // It answers, in another schema: waiting will not change that.
            Err(e @ ucrypto::Error::Transport(TransportError::ProtocolMismatch(_))) => {
                return Err(e.into())
            }
            Err(e) if started.elapsed() < options.boot_timeout => {
                log::debug!("{port}: no Hello yet ({e})");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => {
                return Err(TransportError::Open {
                    port: port.to_string(),
                    reason: format!(
                        "the image was written and verified, but the restarted firmware does not \
                         answer ({e}): press RESET, then run `ucrypto info`"
                    ),
                }
                .into())
            }
        }
    }
}

/// An espflash failure as our error: a ROM error answer is the device's (exit 1), a failed
/// MD5 comparison a verification failure (exit 3), anything else the line's (exit 4).
fn rom_failure(port: &str, during: &str, e: espflash::Error) -> Error {
    match e {
        espflash::Error::RomError(_) => Error::Rom(format!(
            "the ROM loader on {port} refused {during}: {}; check the cable and flash again",
            flash_session::error_chain(&e)
        )),
        espflash::Error::VerifyFailed => Error::Verification(format!(
            "the flash's MD5 differs from the image's after writing on {port}"
        )),
        e => TransportError::Disconnected(format!(
            "{port}, {during}: {}",
            flash_session::error_chain(&e)
        ))
        .into(),
    }
}
