//! The virtual chip's flasher stub: the command set of the stub that espflash and esptool load
//! into RAM (esptool's `flasher_stub`), as the host sees it once [`crate::rom_loader`] has run
//! it: 2 status bytes, raw MD5, the stub's error codes, compressed writes.
//!
//! FLASH_BEGIN / FLASH_DEFL_BEGIN (uncompressed size, blocks, block size, offset) start a
//! write; the stub erases each sector just before it writes into it ("erase as you go"), so a
//! write never erases past the bytes it is given. FLASH_DEFL_DATA carries one piece of a zlib
//! stream (RFC 1950); the data checksum covers the compressed bytes. FLASH_END and
//! FLASH_DEFL_END (flag: 0 reboot, 1 stay) need the whole size written first; with the reboot
//! flag the stub answers, then resets the chip.
use flate2::{Decompress, FlushDecompress, Status};

use crate::rom_loader::{checked_block, op, word, Answer, RomLoader, FLASH_END_REBOOT};
use crate::stub_download::StubDownload;
use crate::virtual_flash::SECTOR_SIZE;

/// The stub's error codes (esptool's `stub_flasher.h`; espflash's `RomErrorKind`).
pub mod stub_error {
    pub const BAD_DATA_LEN: u8 = 0xC0;
    pub const BAD_DATA_CHECKSUM: u8 = 0xC1;
    pub const INVALID_COMMAND: u8 = 0xC3;
    pub const FAILED_SPI_OP: u8 = 0xC4;
    pub const NOT_IN_FLASH_MODE: u8 = 0xC6;
    pub const INFLATE_ERROR: u8 = 0xC7;
    pub const NOT_ENOUGH_DATA: u8 = 0xC8;
    pub const TOO_MUCH_DATA: u8 = 0xC9;
}

impl RomLoader {
    /// One request to the running stub.
    pub(crate) fn handle_stub(&mut self, command: u8, data: &[u8], checksum: u32) -> Answer {
        let len = data.len();
        let reply = match command {
            // The stub answers SYNC once (esptool uses that to find a stub already running).
            op::SYNC => Ok((0, Vec::new())),
            op::READ_REG | op::WRITE_REG => return self.registers_command(command, data),
            // The stub takes 4 bytes (the pin configuration), the ROM 8; espflash sends 8.
            op::SPI_ATTACH if len == 4 || len == 8 => Ok((0, Vec::new())),
            op::SPI_SET_PARAMS if len == 24 => Ok((0, Vec::new())),
            // New rate, old rate: the stub answers at the old rate; a pseudo-terminal has none.
            op::CHANGE_BAUDRATE if len == 8 => Ok((0, Vec::new())),
            op::GET_SECURITY_INFO if len == 0 => Ok((0, self.security_info())),
            op::FLASH_BEGIN | op::FLASH_DEFL_BEGIN if len == 16 || len == 20 => {
                self.stub_begin(data, command == op::FLASH_DEFL_BEGIN)
            }
            op::FLASH_DATA | op::FLASH_DEFL_DATA if len >= 16 => {
                self.stub_data(data, checksum, command == op::FLASH_DEFL_DATA)
            }
            op::FLASH_END | op::FLASH_DEFL_END if len == 4 => return self.stub_end(command, data),
            op::SPI_FLASH_MD5 if len == 16 => self
                .flash_md5(&|i| word(data, i))
                .map(|md5| (0, md5.to_vec()))
                .map_err(|_| stub_error::FAILED_SPI_OP),
            op::FLASH_BEGIN..=op::GET_SECURITY_INFO => Err(stub_error::BAD_DATA_LEN),
            _ => Err(stub_error::INVALID_COMMAND),
        };
        Answer::stay(vec![self.reply(command, reply)])
    }

    fn stub_begin(&mut self, data: &[u8], deflate: bool) -> Result<(u32, Vec<u8>), u8> {
        let (Some(size), Some(offset)) = (word(data, 0), word(data, 3)) else {
            return Err(stub_error::BAD_DATA_LEN);
        };
        if u64::from(offset) + u64::from(size) > crate::virtual_flash::FLASH_SIZE as u64 {
            return Err(stub_error::FAILED_SPI_OP);
        }
        self.stub_download = Some(StubDownload {
            offset,
            size,
            written: 0,
            erased_to: offset,
            inflate: deflate.then(|| Box::new(Decompress::new(true))),
        });
        Ok((0, Vec::new()))
    }

    fn stub_data(
        &mut self,
        data: &[u8],
        checksum: u32,
        deflate: bool,
    ) -> Result<(u32, Vec<u8>), u8> {
        let block = checked_block(data, checksum, stub_error::BAD_DATA_CHECKSUM)?;
        let Some(download) = &mut self.stub_download else {
            return Err(stub_error::NOT_IN_FLASH_MODE);
        };
        let bytes = match (&mut download.inflate, deflate) {
            (Some(inflate), true) => inflate_piece(inflate, block)?,
            (None, false) => {
                // Plain blocks are padded to the block size; only `size` bytes are written.
                let room = (download.size - download.written) as usize;
                block[..block.len().min(room)].to_vec()
            }
            // FLASH_DATA after FLASH_DEFL_BEGIN, or the other way round.
            _ => return Err(stub_error::NOT_IN_FLASH_MODE),
        };
        let end = u64::from(download.written) + bytes.len() as u64;
        if end > u64::from(download.size) {
            return Err(stub_error::TOO_MUCH_DATA);
        }
        let at = download.offset + download.written;
        let until = at + bytes.len() as u32;
        if until > download.erased_to {
            // Erase the sectors this piece reaches into, and no further.
            let from = download.erased_to;
            let to = until.next_multiple_of(SECTOR_SIZE as u32);
            download.erased_to = to;
            self.flash
                .erase(from, to - from)
                .map_err(|_| stub_error::FAILED_SPI_OP)?;
        }
        download.written = until - download.offset;
        self.flash
            .write(at, &bytes)
            .map_err(|_| stub_error::FAILED_SPI_OP)?;
        Ok((0, Vec::new()))
    }

    /// FLASH_END / FLASH_DEFL_END: the write must be complete; the answer goes out, then a
    /// reboot flag resets the chip (back into the ROM loader, see
    /// [`RomLoader::restart_into_rom`]).
    fn stub_end(&mut self, command: u8, data: &[u8]) -> Answer {
        let reply = match &self.stub_download {
            None => Err(stub_error::NOT_IN_FLASH_MODE),
            Some(d) if d.written < d.size => Err(stub_error::NOT_ENOUGH_DATA),
            Some(_) => Ok((0, Vec::new())),
        };
        let ok = reply.is_ok();
        let answer = self.reply(command, reply);
        if ok {
            self.stub_download = None;
            if word(data, 0) == Some(FLASH_END_REBOOT) {
                log::info!(
                    "the stub resets the chip: back in the ROM loader (strapped for download)"
                );
                self.restart_into_rom();
            }
        }
        Answer::stay(vec![answer])
    }
}

/// Inflates one FLASH_DEFL_DATA piece: everything the stream gives for it.
fn inflate_piece(inflate: &mut Decompress, mut input: &[u8]) -> Result<Vec<u8>, u8> {
    let mut out = Vec::with_capacity(input.len() * 4);
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(16 * 1024);
        }
        let before = inflate.total_in();
        let status = inflate
            .decompress_vec(input, &mut out, FlushDecompress::None)
            .map_err(|_| stub_error::INFLATE_ERROR)?;
        let used = (inflate.total_in() - before) as usize;
        input = &input[used..];
        match status {
            Status::StreamEnd => return Ok(out),
            // More output room needed, or all input taken.
            Status::Ok | Status::BufError if !input.is_empty() || out.len() == out.capacity() => {
                if used == 0 && out.len() < out.capacity() {
                    return Err(stub_error::INFLATE_ERROR);
                }
            }
            Status::Ok | Status::BufError => return Ok(out),
        }
    }
}
