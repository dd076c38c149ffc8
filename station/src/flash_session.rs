//! The conversation with a chip in download mode, as esptool holds it (Espressif's "Serial
//! Protocol"): sync with the ROM loader, start the flasher stub that espflash ships
//! (MEM_BEGIN/MEM_DATA/MEM_END, then its "OHAI"), or carry on with the ROM's own commands where
//! the stub cannot run; write each region (compressed FLASH_DEFL_* through the stub, FLASH_*
//! blocks through the ROM), check it by SPI_FLASH_MD5, and leave download mode without ever
//! making the ROM's FLASH_END a point of failure.
use std::io::Write as _;
use std::time::Duration;

use espflash::command::{Command, CommandType};
use espflash::connection::{Connection, ResetAfterOperation, ResetBeforeOperation};
use espflash::flasher::Flasher;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use md5::{Digest, Md5};

use ucrypto::progress::Progress;

/// The ROM loader talks at this rate until told otherwise.
pub const ROM_BAUD: u32 = 115_200;
/// The ROM loader's flash block size.
pub const ROM_BLOCK: u32 = 0x400;
/// The stub's block size for compressed data (esptool's `FLASH_WRITE_SIZE` for the stub).
pub const STUB_BLOCK: u32 = 0x4000;
/// CHIP_DETECT_MAGIC_REG, which both the ROM and the stub read back.
const CHIP_DETECT_MAGIC_REG: u32 = 0x4000_1000;

/// Which loader writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loader {
    /// The flasher stub espflash ships, started in RAM: compressed writes.
    Stub,
    /// The ROM's own commands: 1 KiB blocks, uncompressed.
    Rom,
}

impl Loader {
    pub fn name(self) -> &'static str {
        match self {
            Loader::Stub => "stub",
            Loader::Rom => "rom",
        }
    }
}

/// A synced chip and which loader answers it.
pub struct Session {
    pub flasher: Flasher,
    pub loader: Loader,
}

/// Syncs with the ROM loader on `serial`, then starts the flasher stub; if the stub does not
/// start (a chip in Secure Download Mode refuses RAM loading, or the stub never greets), syncs
/// again and carries on with the ROM. `chip` is checked against the chip that answers.
pub fn connect(
    serial: serialport::TTYPort,
    usb: serialport::UsbPortInfo,
    before: ResetBeforeOperation,
    chip: espflash::target::Chip,
    baud: Option<u32>,
) -> Result<Session, espflash::Error> {
    // The reset after flashing is ours (see `leave`).
    let after = ResetAfterOperation::NoResetNoStub;
    let connection = Connection::new(serial, usb.clone(), after, before, ROM_BAUD);
    // First the ROM alone: a chip that does not answer, or another chip, fails here, before any
    // code is loaded into its RAM.
    let rom = Flasher::connect(connection, false, true, false, Some(chip), None)?;
    // The chip is in its loader now: the next syncs need no reset.
    let serial = rom.into_connection().into_serial();
    let connection = Connection::new(serial, usb, after, ResetBeforeOperation::NoReset, ROM_BAUD);
    let connection = match Flasher::try_connect(connection, true, true, false, Some(chip), baud) {
        Ok(mut flasher) => {
            // espflash leaves the stub out by itself in Secure Download Mode: ask who answers.
            let loader = if answered_by_stub(flasher.connection())? {
                Loader::Stub
            } else {
                Loader::Rom
            };
            return Ok(Session { flasher, loader });
        }
        Err(failed) => {
            let (e, connection) = *failed;
            log::warn!(
                "the flasher stub did not start ({}): writing with the ROM loader's own commands",
                error_chain(&e)
            );
            connection
        }
    };
    let flasher = Flasher::connect(connection, false, true, false, Some(chip), baud)?;
    Ok(Session {
        flasher,
        loader: Loader::Rom,
    })
}

/// The stub ends its answers with 2 status bytes, the ROM with 4.
fn answered_by_stub(connection: &mut Connection) -> Result<bool, espflash::Error> {
    connection.with_timeout(CommandType::ReadReg.timeout(), |c| {
        c.write_command(Command::ReadReg {
            address: CHIP_DETECT_MAGIC_REG,
        })?;
        for _ in 0..8 {
            // Any answer will do here: only its length is looked at.
            #[allow(deprecated)]
            if let Some(r) = c.read_response()? {
                if r.return_op == CommandType::ReadReg as u8 {
                    return Ok(r.return_length == 2);
                }
            }
        }
        Ok(false)
    })
}

/// Writes `data` at `addr` and checks the flash's MD5 of it. `progress` hears of the bytes.
pub fn write_region(
    session: &mut Session,
    addr: u32,
    data: &[u8],
    progress: &mut dyn Progress,
) -> Result<(), espflash::Error> {
    let chip = session.flasher.chip();
    let connection = session.flasher.connection();
    let len = data.len() as u32;
    match session.loader {
        Loader::Stub => {
            let mut encoder = ZlibEncoder::new(Vec::new(), Compression::best());
            encoder.write_all(data)?;
            let compressed = encoder.finish()?;
            let blocks = compressed.len().div_ceil(STUB_BLOCK as usize) as u32;
            connection.with_timeout(CommandType::FlashDeflBegin.timeout_for_size(len), |c| {
                c.command(Command::FlashDeflBegin {
                    size: len,
                    blocks,
                    block_size: STUB_BLOCK,
                    offset: addr,
                    // The stub takes 4 words; the fifth is the ROM's.
                    supports_encryption: false,
                })
            })?;
            let mut reported = 0u64;
            for (i, piece) in compressed.chunks(STUB_BLOCK as usize).enumerate() {
                // The raw bytes this piece stands for, in proportion: what the stub inflates
                // and writes before it answers.
                let done = u64::from(len) * (i as u64 + 1) / u64::from(blocks);
                let raw = (done - reported) as u32;
                connection.with_timeout(CommandType::FlashDeflData.timeout_for_size(raw), |c| {
                    c.command(Command::FlashDeflData {
                        sequence: i as u32,
                        pad_to: 0,
                        pad_byte: 0xFF,
                        data: piece,
                    })
                })?;
                progress.advance(done - reported);
                reported = done;
            }
        }
        Loader::Rom => {
            let blocks = len.div_ceil(ROM_BLOCK);
            let erase = len.next_multiple_of(0x1000);
            connection.with_timeout(CommandType::FlashBegin.timeout_for_size(erase), |c| {
                c.command(Command::FlashBegin {
                    size: erase,
                    blocks,
                    block_size: ROM_BLOCK,
                    offset: addr,
                    supports_encryption: chip != espflash::target::Chip::Esp32,
                })
            })?;
            for (i, block) in data.chunks(ROM_BLOCK as usize).enumerate() {
                connection.with_timeout(
                    CommandType::FlashData.timeout_for_size(ROM_BLOCK),
                    |c| {
                        c.command(Command::FlashData {
                            sequence: i as u32,
                            pad_to: ROM_BLOCK as usize,
                            pad_byte: 0xFF,
                            data: block,
                        })
                    },
                )?;
                progress.advance(block.len() as u64);
            }
        }
    }
    let held = session.flasher.checksum_md5(addr, len)?;
    if held.to_be_bytes() != <[u8; 16]>::from(Md5::digest(data)) {
        return Err(espflash::Error::VerifyFailed);
    }
    Ok(())
}

/// Ends the stub's write mode as esptool does after its last region: an empty FLASH_BEGIN and
/// FLASH_DEFL_END (stay), so the stub has nothing pending. The ROM gets nothing: its FLASH_END
/// leaves the loader.
pub fn finish_writes(session: &mut Session) -> Result<(), espflash::Error> {
    if session.loader == Loader::Rom {
        return Ok(());
    }
    let connection = session.flasher.connection();
    connection.with_timeout(CommandType::FlashBegin.timeout(), |c| {
        c.command(Command::FlashBegin {
            size: 0,
            blocks: 0,
            block_size: STUB_BLOCK,
            offset: 0,
            supports_encryption: false,
        })
    })?;
    connection.with_timeout(CommandType::FlashDeflEnd.timeout(), |c| {
        c.command(Command::FlashDeflEnd { reboot: false })
    })?;
    Ok(())
}

/// How the chip was sent to its application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Left {
    /// DTR/RTS pulsed the reset line.
    HardReset,
    /// No reset line: the loader was asked to run the application (the ROM's "run user code",
    /// after the stub's own reset where the stub ran). Whether it did shows in the `Hello` that
    /// follows, or does not.
    Asked,
}

/// Sends the chip from download mode to its application, once everything was written and
/// verified. Nothing here can fail the flash: an answer lost as the chip leaves is expected.
pub fn leave(session: &mut Session, can_reset: bool) -> Left {
    let chip = session.flasher.chip();
    let connection = session.flasher.connection();
    if can_reset {
        match connection.reset() {
            Ok(()) => return Left::HardReset,
            Err(e) => log::warn!(
                "cannot pulse the reset line ({}): asking the loader to run the application",
                error_chain(&e)
            ),
        }
    }
    if session.loader == Loader::Stub {
        // The stub's FLASH_END(reboot) resets the chip. A board whose BOOT strap is released
        // starts its application; one still strapped for download (an emulator started in
        // download mode, BOOT held) is back in the ROM loader, at 115200 baud.
        // As esptool's soft reset from the stub: an empty FLASH_BEGIN, then FLASH_END(reboot).
        let _ = connection.with_timeout(CommandType::FlashBegin.timeout(), |c| {
            c.command(Command::FlashBegin {
                size: 0,
                blocks: 0,
                block_size: STUB_BLOCK,
                offset: 0,
                supports_encryption: false,
            })
        });
        let _ = connection.with_timeout(Duration::from_millis(500), |c| {
            c.command(Command::FlashEnd { reboot: true })
        });
        let _ = connection.set_baud(ROM_BAUD);
        std::thread::sleep(Duration::from_millis(50));
        if !rom_answers(connection) {
            return Left::Asked;
        }
    }
    run_user_code(connection, chip);
    Left::Asked
}

/// A few quick SYNCs: is the ROM loader there?
fn rom_answers(connection: &mut Connection) -> bool {
    (0..5).any(|_| {
        connection
            .with_timeout(Duration::from_millis(100), |c| c.command(Command::Sync))
            .is_ok()
    })
}

/// esptool's "soft reset" out of the ROM loader: an empty FLASH_BEGIN, then FLASH_END with "run
/// user code", whose answer is not awaited (the ROM jumps to the application).
fn run_user_code(connection: &mut Connection, chip: espflash::target::Chip) {
    let begin = connection.with_timeout(CommandType::FlashBegin.timeout(), |c| {
        c.command(Command::FlashBegin {
            size: 0,
            blocks: 0,
            block_size: ROM_BLOCK,
            offset: 0,
            supports_encryption: chip != espflash::target::Chip::Esp32,
        })
    });
    if let Err(e) = begin {
        log::debug!("empty FLASH_BEGIN before run user code: {e}");
    }
    if let Err(e) = connection.write_command(Command::FlashEnd { reboot: false }) {
        log::debug!("FLASH_END (run user code): {e}");
    }
}

/// An error and its causes on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
