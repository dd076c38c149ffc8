//! `ucrypto sim --download-mode`: the virtual chip starts in its ROM's serial loader on the
//! pseudo-terminal, and boots what was written to its flash when the host leaves download mode.
use std::io::{BufRead, BufReader, Write};

use slip_codec::{SlipDecoder, SlipEncoder, SlipError};
use ucrypto_protocol::Chip;

use crate::error::{Error, Result};
use crate::esp_image;
use crate::pty::PtyDevice;
use crate::rom_loader::{Next, RomLoader};
use crate::virtual_flash::{VirtualFlash, FLASH_SIZE};

/// Serves the ROM loader until the host leaves download mode, then boots from flash: the
/// ucrypto engine reporting the image's version if the image checks out, silence if not.
/// `damage_block` flips a data bit of that FLASH_DATA block (from 0) as a bad line would.
pub fn serve(
    device: PtyDevice,
    chip: Chip,
    flash: VirtualFlash,
    damage_block: Option<u32>,
) -> Result<()> {
    let stopped = |e: &dyn std::fmt::Display| Error::input(format!("virtual chip stopped: {e}"));
    let mut reader = BufReader::new(device.master().try_clone().map_err(|e| stopped(&e))?);
    let mut writer = device.master().try_clone().map_err(|e| stopped(&e))?;
    let mut loader = RomLoader::new(chip, device.device_id(), flash);
    let mut decoder = SlipDecoder::new();
    let mut blocks_seen = 0u32;
    log::info!("{}: download mode, waiting for SYNC", chip.name());
    let reboot = loop {
        let mut packet = Vec::new();
        match decoder.decode(&mut reader, &mut packet) {
            Ok(_) => {}
            // The ROM drops a damaged packet and waits for the next frame end.
            Err(SlipError::FramingError | SlipError::OversizedPacket) => continue,
            Err(SlipError::EndOfStream) => return Err(stopped(&"the terminal closed")),
            Err(SlipError::ReadError(e)) => return Err(stopped(&e)),
        }
        // FLASH_DATA: 8 bytes of request header, 16 of block header, then the data.
        if packet.get(..2) == Some(&[0x00, 0x03]) && packet.len() > 24 {
            if damage_block == Some(blocks_seen) {
                log::warn!("damaging FLASH_DATA block {blocks_seen} as asked");
                packet[24] ^= 0x01;
            }
            blocks_seen += 1;
        }
        let answer = loader.handle(&packet);
        let mut encoder = SlipEncoder::new(true);
        for response in &answer.packets {
            encoder
                .encode(response, &mut writer)
                .and_then(|_| writer.flush())
                .map_err(|e| stopped(&e))?;
        }
        if let Next::Boot { reboot } = answer.next {
            break reboot;
        }
    };
    log::info!(
        "FLASH_END ({}): leaving download mode, booting from flash",
        if reboot { "reboot" } else { "run user code" }
    );
    let flash = loader.into_flash();
    let image = flash.read(0, FLASH_SIZE as u32).expect("the whole flash");
    match esp_image::boot_version(image, chip) {
        Ok(version) => {
            log::info!("booted the application, firmware version {version}");
            let mut device = device;
            // The version lives as long as the process: the engine reports it in every Hello.
            device.boot(Box::leak(version.into_boxed_str()), image);
            let pending = reader.buffer().to_vec();
            device.serve_after(&pending)
        }
        Err(why) => {
            log::warn!("nothing boots: {why}; the chip stays silent");
            // A chip without an application: it reads the line and never answers.
            loop {
                let n = reader.fill_buf().map_err(|e| stopped(&e))?.len();
                if n == 0 {
                    return Err(stopped(&"the terminal closed"));
                }
                reader.consume(n);
            }
        }
    }
}
