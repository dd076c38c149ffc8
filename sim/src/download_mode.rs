//! `ucrypto sim --download-mode`: the virtual chip starts in its ROM's serial loader on the
//! pseudo-terminal, and boots what was written to its flash when the host leaves download mode.
use std::io::{BufRead, BufReader, Write};

use slip_codec::{SlipDecoder, SlipEncoder, SlipError};
use ucrypto_protocol::Chip;

use crate::error::{Error, Result};
use crate::esp_image;
use crate::pacer::Pacer;
use crate::pty::PtyDevice;
use crate::rom_loader::{self, Next, RomLoader};
use crate::virtual_flash::{VirtualFlash, FLASH_SIZE};

/// How the virtual chip's download mode behaves besides the protocol.
#[derive(Debug, Clone, Copy, Default)]
pub struct DownloadOptions {
    /// Flip a data bit of this FLASH_DATA / FLASH_DEFL_DATA block (from 0), as a bad line would.
    pub damage_block: Option<u32>,
    /// The ROM refuses MEM_BEGIN, as in Secure Download Mode, so no stub can run.
    pub refuse_ram_load: bool,
    /// Pace the line like a UART starting at this rate (the ROM's 115200), following
    /// CHANGE_BAUDRATE: each byte either way takes 10 bit times, so a benchmark on a pseudo-
    /// terminal counts what a board's UART would carry.
    pub baud: Option<u32>,
}

/// A packet's length on the line: SLIP's two frame ends and its escapes.
fn slip_len(packet: &[u8]) -> usize {
    2 + packet.len() + packet.iter().filter(|&&b| b == 0xC0 || b == 0xDB).count()
}

/// Serves the ROM loader until the host leaves download mode, then boots from flash: the
/// ucrypto engine reporting the image's version if the image checks out, silence if not.
pub fn serve(
    device: PtyDevice,
    chip: Chip,
    flash: VirtualFlash,
    options: DownloadOptions,
) -> Result<()> {
    let DownloadOptions {
        damage_block,
        refuse_ram_load,
        baud,
    } = options;
    // The ROM loader answers one packet at a time: one pacer carries both directions.
    let mut line = baud.map(Pacer::new);
    let stopped = |e: &dyn std::fmt::Display| Error::input(format!("virtual chip stopped: {e}"));
    let mut reader = BufReader::new(device.master().try_clone().map_err(|e| stopped(&e))?);
    let mut writer = device.master().try_clone().map_err(|e| stopped(&e))?;
    let revision = device.chip_revision();
    let mut loader = RomLoader::new(chip, device.device_id(), flash);
    loader.set_chip_revision(revision);
    if refuse_ram_load {
        loader.refuse_ram_load();
    }
    let mut decoder = SlipDecoder::new();
    let mut blocks_seen = 0u32;
    log::info!("{}: download mode, waiting for SYNC", chip.name());
    let boots = loop {
        let mut packet = Vec::new();
        match decoder.decode(&mut reader, &mut packet) {
            Ok(_) => {}
            // The ROM drops a damaged packet and waits for the next frame end.
            Err(SlipError::FramingError | SlipError::OversizedPacket) => continue,
            Err(SlipError::EndOfStream) => return Err(stopped(&"the terminal closed")),
            Err(SlipError::ReadError(e)) => return Err(stopped(&e)),
        }
        // FLASH_DATA (ROM or stub) and FLASH_DEFL_DATA: 8 bytes of request header, 16 of block
        // header, then the data.
        let data_command = [rom_loader::FLASH_DATA, rom_loader::FLASH_DEFL_DATA];
        if packet.first() == Some(&0x00)
            && packet.get(1).is_some_and(|c| data_command.contains(c))
            && packet.len() > 24
        {
            if damage_block == Some(blocks_seen) {
                log::warn!("damaging FLASH_DATA block {blocks_seen} as asked");
                packet[24] ^= 0x01;
            }
            blocks_seen += 1;
        }
        if let Some(line) = &mut line {
            line.carry(slip_len(&packet));
        }
        let answer = loader.handle(&packet);
        let mut encoder = SlipEncoder::new(true);
        for response in &answer.packets {
            if let Some(line) = &mut line {
                line.carry(slip_len(response));
            }
            encoder
                .encode(response, &mut writer)
                .and_then(|_| writer.flush())
                .map_err(|e| stopped(&e))?;
        }
        // CHANGE_BAUDRATE (new rate, old rate): the loader moves once its answer is out.
        let accepted = answer
            .packets
            .first()
            .is_some_and(|r| r.len() >= 10 && r[8] == 0);
        if let (Some(line), true, Some(&[0x00, 0x0F])) = (&mut line, accepted, packet.get(..2)) {
            if let Some(rate) = rom_loader::word(&packet[8..], 0).filter(|&r| r > 0) {
                *line = Pacer::new(rate);
            }
        }
        match answer.next {
            Next::Stay => {}
            Next::Boot => break true,
            Next::Lost => break false,
        }
    };
    if !boots {
        return silent(reader);
    }
    log::info!("FLASH_END (run user code): leaving download mode, booting from flash");
    let flash = loader.into_flash();
    let image = flash.read(0, FLASH_SIZE as u32).expect("the whole flash");
    let booted = esp_image::boot_version(image, chip).and_then(|version| {
        esp_image::check_chip_revision(image, revision)
            .map_err(|e| esp_image::ImageError(format!("E boot_comm: {e}")))?;
        Ok(version)
    });
    match booted {
        Ok(version) => {
            // Debug-quoted: the image's text is untrusted and may hold control characters.
            log::info!("booted the application, firmware version {version:?}");
            let mut device = device;
            // The version lives as long as the process: the engine reports it in every Hello.
            device.boot(Box::leak(version.into_boxed_str()), image);
            let pending = reader.buffer().to_vec();
            device.serve_after(&pending)
        }
        Err(why) => {
            log::warn!("nothing boots: {why}; the chip stays silent");
            silent(reader)
        }
    }
}

/// A chip without an application (or running code the model cannot run): it reads the line
/// and never answers.
fn silent(mut reader: BufReader<std::fs::File>) -> Result<()> {
    loop {
        let n = reader
            .fill_buf()
            .map_err(|e| Error::input(format!("virtual chip stopped: {e}")))?
            .len();
        if n == 0 {
            return Err(Error::input("virtual chip stopped: the terminal closed"));
        }
        reader.consume(n);
    }
}
