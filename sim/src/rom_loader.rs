//! The virtual chip in download mode: the commands of Espressif's ROM serial loader (esptool's
//! "Serial Protocol") on a [`VirtualFlash`], one decoded SLIP packet in, the response packets
//! out; RAM loading (MEM_BEGIN/MEM_DATA/MEM_END) of a flasher stub, after which the stub's
//! command set answers ([`crate::stub_loader`]).
//!
//! Request: direction 0x00, command, data length (u16), checksum (u32), data.
//! Response: direction 0x01, command, length (u16, the data and the status bytes), value
//! (u32), data, then status (0 ok, 1 failed), error code, and (from the ROM, not the stub) two
//! reserved bytes.
use md5::{Digest, Md5};
use ucrypto_protocol::Chip;

use crate::esp_image::CHECKSUM_SEED;
use crate::virtual_flash::{VirtualFlash, FLASH_SIZE};

/// Command bytes of the ROM loader.
pub(crate) mod op {
    pub const FLASH_BEGIN: u8 = 0x02;
    pub const FLASH_DATA: u8 = 0x03;
    pub const FLASH_END: u8 = 0x04;
    pub const MEM_BEGIN: u8 = 0x05;
    pub const MEM_END: u8 = 0x06;
    pub const MEM_DATA: u8 = 0x07;
    pub const SYNC: u8 = 0x08;
    pub const WRITE_REG: u8 = 0x09;
    pub const READ_REG: u8 = 0x0A;
    pub const SPI_SET_PARAMS: u8 = 0x0B;
    pub const SPI_ATTACH: u8 = 0x0D;
    pub const CHANGE_BAUDRATE: u8 = 0x0F;
    pub const FLASH_DEFL_BEGIN: u8 = 0x10;
    pub const FLASH_DEFL_DATA: u8 = 0x11;
    pub const FLASH_DEFL_END: u8 = 0x12;
    pub const SPI_FLASH_MD5: u8 = 0x13;
    pub const GET_SECURITY_INFO: u8 = 0x14;
}
pub(crate) use op::{FLASH_DATA, FLASH_DEFL_DATA};

/// Error codes of the ROM loader's status bytes.
pub mod rom_error {
    /// The message is invalid: parameters or length, or a command the ROM does not know.
    pub const INVALID_MESSAGE: u8 = 0x05;
    /// The ROM could not act on the message (e.g. FLASH_DATA without FLASH_BEGIN).
    pub const FAILED_TO_ACT: u8 = 0x06;
    /// The data checksum of a FLASH_DATA packet does not match its data.
    pub const INVALID_CRC: u8 = 0x07;
    /// The flash could not be written (here: outside the flash).
    pub const FLASH_WRITE: u8 = 0x08;
    /// The flash could not be read (here: outside the flash).
    pub const FLASH_READ: u8 = 0x09;
}

/// The SYNC packet's data: 0x07 0x07 0x12 0x20 and 32 bytes of 0x55 (a pattern the ROM's
/// auto-baud detection can lock on to).
fn is_sync_data(data: &[u8]) -> bool {
    data.len() == 36
        && data[..4] == [0x07, 0x07, 0x12, 0x20]
        && data[4..].iter().all(|&b| b == 0x55)
}

/// The ROM answers one SYNC with this many responses (esptool reads the first and drains the
/// other seven; espflash reads all eight).
const SYNC_RESPONSES: usize = 8;

/// What the host asked the loader to do besides answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Stay in download mode (in the ROM loader or in the stub).
    Stay,
    /// The ROM's FLASH_END "run user code": leave download mode and boot from flash.
    Boot,
    /// MEM_END jumped to code that is not a flasher stub: the chip runs it and the model has
    /// nothing more to say (it stays silent).
    Lost,
}

/// Which program answers the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Running {
    /// The ROM's own loader.
    Rom,
    /// The flasher stub the host loaded into RAM and started with MEM_END.
    Stub,
}

/// The ROM's FLASH_END flag: 0 asks for a reboot, 1 to run user code (esptool's
/// `int(not reboot)`).
pub const FLASH_END_REBOOT: u32 = 0;

/// The stub's greeting, sent as its own SLIP packet once it runs (espflash and esptool wait for
/// it after MEM_END).
pub const STUB_GREETING: &[u8] = b"OHAI";

/// Registers the host reads and writes, with the values the real ROM shows at reset.
struct Registers {
    chip: Chip,
    mac: [u8; 6],
    /// The chip revision (`major * 100 + minor`) the eFuse wafer version fields give.
    revision: u16,
    /// Registers written by the host (SPI controller set-up, watchdog), read back as written.
    written: std::collections::HashMap<u32, u32>,
}

/// Base of the SPI0/1 flash controller (`SPI_MEM_*`) and the offsets the host drives.
fn spi_base(chip: Chip) -> u32 {
    match chip {
        Chip::Esp32C6 => 0x6000_3000,
        _ => 0x6000_2000,
    }
}
const SPI_CMD: u32 = 0x00;
const SPI_USR2: u32 = 0x20;
const SPI_W0: u32 = 0x58;
/// SPI_CMD's "user command" bit: set by the host to run a command, cleared when it is done.
const SPI_USR_BIT: u32 = 1 << 18;
/// JEDEC "read identification".
const FLASH_RDID: u32 = 0x9F;
/// What a 4 MiB Winbond W25Q32 answers to RDID: manufacturer 0xEF, type 0x40, capacity 0x16
/// (2^22 bytes), in the order the bytes arrive in W0.
const FLASH_JEDEC_ID: u32 = 0x0016_40EF;

/// The read-only register the host reads to tell the chips apart.
pub const CHIP_DETECT_MAGIC_REG: u32 = 0x4000_1000;

impl Registers {
    /// `CHIP_DETECT_MAGIC_REG` as read from each chip's ROM.
    fn magic(&self) -> u32 {
        match self.chip {
            // ESP32-C3 ECO3 (revision v0.3).
            Chip::Esp32C3 => 0x1B31_506F,
            Chip::Esp32C6 => 0x2CE0_806F,
            Chip::Esp32 => 0x00F0_1D83,
            Chip::Esp32S3 => 0x0000_0009,
        }
    }

    /// eFuse BLOCK1 (the MAC, SPI pads, wafer version) as read from its read registers.
    fn efuse_block1(&self) -> u32 {
        match self.chip {
            Chip::Esp32C6 => 0x600B_0844,
            _ => 0x6000_8844,
        }
    }

    fn read(&self, address: u32) -> u32 {
        if address == CHIP_DETECT_MAGIC_REG {
            return self.magic();
        }
        let block1 = self.efuse_block1();
        let m = self.mac;
        // MAC_0 holds the MAC's last four bytes, MAC_1's low half the first two, both
        // little-endian: the host reads the 48 bits as (MAC_1 << 32 | MAC_0) big-endian.
        if address == block1 {
            return u32::from_be_bytes([m[2], m[3], m[4], m[5]]);
        }
        if address == block1 + 4 {
            return u32::from(u16::from_be_bytes([m[0], m[1]]));
        }
        // The wafer version fields (see crate::chip_revision).
        let (word3, word5) = crate::chip_revision::block1_words(self.chip, self.revision);
        if address == block1 + 12 {
            return word3;
        }
        if address == block1 + 20 {
            return word5;
        }
        self.written.get(&address).copied().unwrap_or(0)
    }

    fn write(&mut self, address: u32, value: u32, mask: u32) {
        let old = self.read(address);
        let mut new = (old & !mask) | (value & mask);
        let spi = spi_base(self.chip);
        if address == spi + SPI_CMD && new & SPI_USR_BIT != 0 {
            // The controller runs the user command at once and clears the bit.
            let command = self.read(spi + SPI_USR2) & 0xFFFF;
            let answer = if command == FLASH_RDID {
                FLASH_JEDEC_ID
            } else {
                0
            };
            self.written.insert(spi + SPI_W0, answer);
            new &= !SPI_USR_BIT;
        }
        self.written.insert(address, new);
    }
}

/// A FLASH_BEGIN or MEM_BEGIN in progress.
struct Download {
    offset: u32,
    blocks: u32,
    block_size: u32,
    next: u32,
}

/// The ROM loader's state, and the stub's once the host started it.
pub struct RomLoader {
    chip: Chip,
    registers: Registers,
    pub(crate) flash: VirtualFlash,
    download: Option<Download>,
    /// The MEM_BEGIN in progress.
    mem: Option<Download>,
    /// What MEM_DATA put in RAM: (address, bytes) per MEM_BEGIN.
    ram: Vec<(u32, Vec<u8>)>,
    running: Running,
    /// The stub's FLASH_BEGIN / FLASH_DEFL_BEGIN in progress.
    pub(crate) stub_download: Option<crate::stub_download::StubDownload>,
    /// MEM_BEGIN is refused, as by a chip in Secure Download Mode.
    ram_load_refused: bool,
}

/// The ROM's answer to one request: response packets (before SLIP framing), and what follows.
pub struct Answer {
    pub packets: Vec<Vec<u8>>,
    pub next: Next,
}

impl Answer {
    pub(crate) fn stay(packets: Vec<Vec<u8>>) -> Self {
        Self {
            packets,
            next: Next::Stay,
        }
    }
}

/// A request's data as little-endian words.
pub(crate) fn word(data: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        data.get(i * 4..i * 4 + 4)?.try_into().ok()?,
    ))
}

impl RomLoader {
    /// A chip in download mode whose eFuse MAC is `mac`.
    pub fn new(chip: Chip, mac: [u8; 6], flash: VirtualFlash) -> Self {
        Self {
            chip,
            registers: Registers {
                chip,
                mac,
                revision: crate::chip_revision::default_revision(chip),
                written: Default::default(),
            },
            flash,
            download: None,
            mem: None,
            ram: Vec::new(),
            running: Running::Rom,
            stub_download: None,
            ram_load_refused: false,
        }
    }

    /// The chip revision its eFuses give (`major * 100 + minor`).
    pub fn set_chip_revision(&mut self, revision: u16) {
        self.registers.revision = revision;
    }

    /// Refuses to load code into RAM from now on (MEM_BEGIN fails with "failed to act"), as a
    /// chip in Secure Download Mode does: no flasher stub can run.
    pub fn refuse_ram_load(&mut self) {
        self.ram_load_refused = true;
    }

    pub fn flash(&self) -> &VirtualFlash {
        &self.flash
    }

    pub fn into_flash(self) -> VirtualFlash {
        self.flash
    }

    /// Which program answers: the ROM, or the stub the host started.
    pub fn running(&self) -> Running {
        self.running
    }

    /// Serves one decoded packet. Packets that are not requests (too short, wrong direction)
    /// get no answer, as on the chip.
    pub fn handle(&mut self, packet: &[u8]) -> Answer {
        if packet.len() < 8 || packet[0] != 0x00 {
            return Answer::stay(Vec::new());
        }
        let command = packet[1];
        let len = u16::from_le_bytes([packet[2], packet[3]]) as usize;
        let checksum = u32::from_le_bytes(packet[4..8].try_into().expect("4 bytes"));
        let data = &packet[8..];
        if data.len() != len {
            return Answer::stay(vec![self.failure(command, rom_error::INVALID_MESSAGE)]);
        }
        if self.running == Running::Stub {
            return self.handle_stub(command, data, checksum);
        }
        let word = |i: usize| word(data, i);
        let reply = match command {
            op::SYNC if is_sync_data(data) => {
                return Answer::stay(vec![self.success(command, 0, &[]); SYNC_RESPONSES]);
            }
            op::READ_REG | op::WRITE_REG => return self.registers_command(command, data),
            // The ROM takes the pin configuration and flash geometry; the virtual flash has one.
            op::SPI_ATTACH if len == 8 => Ok((0, Vec::new())),
            op::SPI_SET_PARAMS if len == 24 => Ok((0, Vec::new())),
            // A pseudo-terminal has no baud rate to change.
            op::CHANGE_BAUDRATE if len == 8 => Ok((0, Vec::new())),
            op::GET_SECURITY_INFO if len == 0 => Ok((0, self.security_info())),
            op::FLASH_BEGIN if len == 16 || len == 20 => self.flash_begin(&word),
            op::FLASH_DATA if len >= 16 => self.flash_data(data, checksum),
            op::FLASH_END if len == 4 => return self.rom_flash_end(word(0)),
            op::MEM_BEGIN if self.ram_load_refused => Err(rom_error::FAILED_TO_ACT),
            op::MEM_BEGIN if len == 16 || len == 20 => self.mem_begin(&word),
            op::MEM_DATA if len >= 16 => self.mem_data(data, checksum),
            op::MEM_END if len == 8 => return self.mem_end(word(0), word(1)),
            op::SPI_FLASH_MD5 if len == 16 => self
                .flash_md5(&word)
                .map(|md5| (0, hex::encode(md5).into_bytes())),
            _ => Err(rom_error::INVALID_MESSAGE),
        };
        Answer::stay(vec![self.reply(command, reply)])
    }

    /// READ_REG (one address) and WRITE_REG (address, value, mask, delay in µs; one or more),
    /// which the ROM and the stub answer alike.
    pub(crate) fn registers_command(&mut self, command: u8, data: &[u8]) -> Answer {
        let reply = match command {
            op::READ_REG => match word(data, 0) {
                Some(address) if data.len() == 4 => Ok((self.registers.read(address), Vec::new())),
                _ => Err(rom_error::INVALID_MESSAGE),
            },
            _ if !data.is_empty() && data.len().is_multiple_of(16) => {
                for i in (0..data.len() / 4).step_by(4) {
                    let (address, value, mask) =
                        (word(data, i), word(data, i + 1), word(data, i + 2));
                    if let (Some(a), Some(v), Some(m)) = (address, value, mask) {
                        self.registers.write(a, v, m);
                    }
                }
                Ok((0, Vec::new()))
            }
            _ => Err(rom_error::INVALID_MESSAGE),
        };
        Answer::stay(vec![self.reply(command, reply)])
    }

    /// The ROM's FLASH_END. "Run user code" (1) leaves the loader for the application at once:
    /// the chip jumps before its answer is sent, so the host hears nothing (esptool sends it
    /// without waiting, and only outside a write). "Reboot" (0) is refused with "failed to
    /// act", and the loader stays: that is what Espressif's ESP32-C3 ROM answered to espflash's
    /// FLASH_END(reboot) after a write, on the emulator (issue 22); the write itself was kept.
    fn rom_flash_end(&mut self, flag: Option<u32>) -> Answer {
        const COMMAND: u8 = op::FLASH_END;
        if self.download.is_none() {
            return Answer::stay(vec![self.failure(COMMAND, rom_error::FAILED_TO_ACT)]);
        }
        match flag {
            Some(FLASH_END_REBOOT) => {
                Answer::stay(vec![self.failure(COMMAND, rom_error::FAILED_TO_ACT)])
            }
            Some(_) => {
                self.download = None;
                Answer {
                    packets: Vec::new(),
                    next: Next::Boot,
                }
            }
            None => Answer::stay(vec![self.failure(COMMAND, rom_error::INVALID_MESSAGE)]),
        }
    }

    /// Flags, flash_crypt_cnt, 7 key purposes, chip id, ECO version: nothing secured.
    pub(crate) fn security_info(&self) -> Vec<u8> {
        let mut info = vec![0u8; 12];
        info.extend_from_slice(&u32::from(crate::esp_image::chip_id(self.chip)).to_le_bytes());
        // The ECO number: the minor wafer version on the v0.x chips modelled here (C3 v0.3 is
        // ECO3).
        let eco = u32::from(self.registers.revision % 100);
        info.extend_from_slice(&eco.to_le_bytes());
        info
    }

    /// Size to erase, number of blocks, block size, offset (and, on all but the ESP32, whether
    /// the data is encrypted): erases the region and expects block 0 next.
    fn flash_begin(&mut self, word: &dyn Fn(usize) -> Option<u32>) -> Result<(u32, Vec<u8>), u8> {
        let (size, blocks, block_size, offset) = match (word(0), word(1), word(2), word(3)) {
            (Some(s), Some(b), Some(bs), Some(o)) => (s, b, bs, o),
            _ => return Err(rom_error::INVALID_MESSAGE),
        };
        let fits =
            u64::from(blocks) * u64::from(block_size) + u64::from(offset) <= FLASH_SIZE as u64;
        if !fits || block_size == 0 && blocks != 0 {
            return Err(rom_error::INVALID_MESSAGE);
        }
        if size > 0 {
            self.flash
                .erase(offset, size)
                .map_err(|_| rom_error::FLASH_WRITE)?;
        }
        self.download = Some(Download {
            offset,
            blocks,
            block_size,
            next: 0,
        });
        Ok((0, Vec::new()))
    }

    /// Data size, sequence number, two reserved words, then the data; the packet's checksum
    /// field holds 0xEF XORed with every data byte.
    fn flash_data(&mut self, data: &[u8], checksum: u32) -> Result<(u32, Vec<u8>), u8> {
        let block = checked_block(data, checksum, rom_error::INVALID_CRC)?;
        let sequence = word(data, 1).expect("a 16-byte header");
        let Some(download) = &mut self.download else {
            return Err(rom_error::FAILED_TO_ACT);
        };
        if sequence != download.next
            || sequence >= download.blocks
            || block.len() != download.block_size as usize
        {
            return Err(rom_error::INVALID_MESSAGE);
        }
        let at = download.offset + sequence * download.block_size;
        download.next += 1;
        self.flash
            .write(at, block)
            .map_err(|_| rom_error::FLASH_WRITE)?;
        Ok((0, Vec::new()))
    }

    /// MEM_BEGIN: total size, number of blocks, block size, RAM address.
    fn mem_begin(&mut self, word: &dyn Fn(usize) -> Option<u32>) -> Result<(u32, Vec<u8>), u8> {
        let (Some(size), Some(blocks), Some(block_size), Some(offset)) =
            (word(0), word(1), word(2), word(3))
        else {
            return Err(rom_error::INVALID_MESSAGE);
        };
        if block_size == 0 || u64::from(blocks) * u64::from(block_size) < u64::from(size) {
            return Err(rom_error::INVALID_MESSAGE);
        }
        self.mem = Some(Download {
            offset,
            blocks,
            block_size,
            next: 0,
        });
        self.ram.push((offset, Vec::with_capacity(size as usize)));
        Ok((0, Vec::new()))
    }

    /// MEM_DATA: as FLASH_DATA, into the RAM segment MEM_BEGIN opened.
    fn mem_data(&mut self, data: &[u8], checksum: u32) -> Result<(u32, Vec<u8>), u8> {
        let block = checked_block(data, checksum, rom_error::INVALID_CRC)?;
        let sequence = word(data, 1).expect("a 16-byte header");
        let Some(mem) = &mut self.mem else {
            return Err(rom_error::FAILED_TO_ACT);
        };
        if sequence != mem.next || sequence >= mem.blocks || block.len() > mem.block_size as usize {
            return Err(rom_error::INVALID_MESSAGE);
        }
        mem.next += 1;
        let (_, segment) = self.ram.last_mut().expect("MEM_BEGIN opened one");
        segment.extend_from_slice(block);
        Ok((0, Vec::new()))
    }

    /// MEM_END: flag (0: jump to the entry point) and entry point. The answer goes out first,
    /// then the chip runs the code. The model runs the flasher stub when the entry point lies
    /// in code the host loaded (it cannot run other code: that chip falls silent).
    fn mem_end(&mut self, flag: Option<u32>, entry: Option<u32>) -> Answer {
        let (Some(flag), Some(entry)) = (flag, entry) else {
            return Answer::stay(vec![self.failure(op::MEM_END, rom_error::INVALID_MESSAGE)]);
        };
        self.mem = None;
        let answer = self.success(op::MEM_END, 0, &[]);
        if flag != 0 {
            return Answer::stay(vec![answer]);
        }
        let loaded = self.ram.iter().any(|(at, bytes)| {
            (u64::from(*at)..u64::from(*at) + bytes.len() as u64).contains(&u64::from(entry))
        });
        if !loaded {
            log::warn!(
                "MEM_END jumps to {entry:#010x}, where nothing was loaded: the chip is lost"
            );
            return Answer {
                packets: vec![answer],
                next: Next::Lost,
            };
        }
        let bytes: usize = self.ram.iter().map(|(_, b)| b.len()).sum();
        log::info!("the flasher stub runs ({bytes} bytes loaded, entry {entry:#010x})");
        self.running = Running::Stub;
        self.download = None;
        Answer::stay(vec![answer, STUB_GREETING.to_vec()])
    }

    /// The stub's software reset (FLASH_END with the reboot flag): the chip restarts and, as
    /// its boot strap still selects download mode (the virtual chip is strapped like an
    /// emulator started in download mode), it is back in the ROM loader at 115200 baud.
    pub(crate) fn restart_into_rom(&mut self) {
        self.running = Running::Rom;
        self.ram.clear();
        self.mem = None;
        self.download = None;
        self.stub_download = None;
        self.registers.written.clear();
    }

    /// Offset, size, two reserved words: the region's MD5.
    pub(crate) fn flash_md5(&self, word: &dyn Fn(usize) -> Option<u32>) -> Result<[u8; 16], u8> {
        let (Some(offset), Some(size)) = (word(0), word(1)) else {
            return Err(rom_error::INVALID_MESSAGE);
        };
        let region = self
            .flash
            .read(offset, size)
            .map_err(|_| rom_error::FLASH_READ)?;
        Ok(Md5::digest(region).into())
    }

    /// A response with status 0, with the status bytes of whoever is running.
    pub(crate) fn success(&self, command: u8, value: u32, data: &[u8]) -> Vec<u8> {
        response(self.running, command, value, data, 0, 0)
    }

    /// A response with status 1 and `code`.
    pub(crate) fn failure(&self, command: u8, code: u8) -> Vec<u8> {
        response(self.running, command, 0, &[], 1, code)
    }

    pub(crate) fn reply(&self, command: u8, reply: Result<(u32, Vec<u8>), u8>) -> Vec<u8> {
        match reply {
            Ok((value, data)) => self.success(command, value, &data),
            Err(code) => self.failure(command, code),
        }
    }
}

/// A FLASH_DATA / MEM_DATA / FLASH_DEFL_DATA packet's block: data size, sequence number, two
/// reserved words, then the data, whose XOR with 0xEF must be the packet's checksum field
/// (`bad_checksum` is the error code of whoever checks: the ROM's or the stub's).
pub(crate) fn checked_block(data: &[u8], checksum: u32, bad_checksum: u8) -> Result<&[u8], u8> {
    let size = word(data, 0).ok_or(rom_error::INVALID_MESSAGE)? as usize;
    let block = data.get(16..).ok_or(rom_error::INVALID_MESSAGE)?;
    if block.len() != size {
        return Err(rom_error::INVALID_MESSAGE);
    }
    let computed = block.iter().fold(CHECKSUM_SEED, |c, b| c ^ b);
    if checksum != u32::from(computed) {
        return Err(bad_checksum);
    }
    Ok(block)
}

/// A response: the ROM ends it with 4 status bytes (status, error, two reserved), the stub
/// with 2.
fn response(
    running: Running,
    command: u8,
    value: u32,
    data: &[u8],
    status: u8,
    code: u8,
) -> Vec<u8> {
    let status_bytes: &[u8] = match running {
        Running::Rom => &[status, code, 0, 0],
        Running::Stub => &[status, code],
    };
    let len = u16::try_from(data.len() + status_bytes.len()).expect("responses are small");
    let mut packet = vec![0x01, command];
    packet.extend_from_slice(&len.to_le_bytes());
    packet.extend_from_slice(&value.to_le_bytes());
    packet.extend_from_slice(data);
    packet.extend_from_slice(status_bytes);
    packet
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(command: u8, checksum: u32, data: &[u8]) -> Vec<u8> {
        let mut packet = vec![0x00, command];
        packet.extend_from_slice(&(data.len() as u16).to_le_bytes());
        packet.extend_from_slice(&checksum.to_le_bytes());
        packet.extend_from_slice(data);
        packet
    }

    fn words(values: &[u32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn loader() -> RomLoader {
        RomLoader::new(
            Chip::Esp32C3,
            [0x02, 0x11, 0x22, 0x33, 0x44, 0x55],
            VirtualFlash::in_memory(),
        )
    }

    /// The bytes of these responses are written out from the protocol description, not
    /// computed by `response`.
    #[test]
    fn read_reg_answers_the_chip_magic_and_the_mac_words() {
        let mut rom = loader();
        let answer = rom.handle(&request(op::READ_REG, 0, &words(&[CHIP_DETECT_MAGIC_REG])));
        assert_eq!(
            answer.packets,
            vec![vec![0x01, 0x0A, 4, 0, 0x6F, 0x50, 0x31, 0x1B, 0, 0, 0, 0]]
        );
        let mac0 = rom.handle(&request(op::READ_REG, 0, &words(&[0x6000_8844])));
        assert_eq!(mac0.packets[0][4..8], [0x55, 0x44, 0x33, 0x22]);
        let mac1 = rom.handle(&request(op::READ_REG, 0, &words(&[0x6000_8848])));
        assert_eq!(mac1.packets[0][4..8], [0x11, 0x02, 0, 0]);
    }

    #[test]
    fn a_bad_data_checksum_is_the_roms_invalid_crc_and_writes_nothing() {
        let mut rom = loader();
        let begin = rom.handle(&request(
            op::FLASH_BEGIN,
            0,
            &words(&[4096, 1, 4, 0x1000, 0]),
        ));
        assert_eq!(
            begin.packets,
            vec![vec![0x01, 0x02, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]]
        );
        let mut data = words(&[4, 0, 0, 0]);
        data.extend_from_slice(&[1, 2, 3, 4]);
        // 0xEF ^ 1 ^ 2 ^ 3 ^ 4 = 0xEB; send 0xEA instead.
        let bad = rom.handle(&request(op::FLASH_DATA, 0xEA, &data));
        assert_eq!(
            bad.packets,
            vec![vec![0x01, 0x03, 4, 0, 0, 0, 0, 0, 1, 0x07, 0, 0]]
        );
        assert_eq!(rom.flash().read(0x1000, 4).unwrap(), &[0xFF; 4]);
        let good = rom.handle(&request(op::FLASH_DATA, 0xEB, &data));
        assert_eq!(good.packets[0][8], 0, "{:02x?}", good.packets);
        assert_eq!(rom.flash().read(0x1000, 4).unwrap(), &[1, 2, 3, 4]);
        // The MD5 of 01020304, from `printf '\x01\x02\x03\x04' | md5sum`.
        let md5 = rom.handle(&request(op::SPI_FLASH_MD5, 0, &words(&[0x1000, 4, 0, 0])));
        assert_eq!(&md5.packets[0][8..40], b"08d6c05a21512a79a1dfeb9d2a8f262f");
    }

    #[test]
    fn unknown_commands_and_bad_lengths_are_invalid_messages() {
        let mut rom = loader();
        // ERASE_FLASH is the stub's command; the ROM does not know it.
        let answer = rom.handle(&request(0xD0, 0, &[]));
        assert_eq!(answer.packets[0][8..10], [1, 0x05]);
        let answer = rom.handle(&request(op::READ_REG, 0, &[0, 0]));
        assert_eq!(answer.packets[0][8..10], [1, 0x05]);
        // FLASH_DATA before FLASH_BEGIN.
        let mut data = words(&[1, 0, 0, 0]);
        data.push(0xAA);
        let answer = rom.handle(&request(op::FLASH_DATA, 0xEF ^ 0xAA, &data));
        assert_eq!(answer.packets[0][8..10], [1, 0x06]);
    }

    #[test]
    fn sync_gets_eight_answers() {
        let mut rom = loader();
        let mut sync = vec![0x07, 0x07, 0x12, 0x20];
        sync.extend_from_slice(&[0x55; 32]);
        let answer = rom.handle(&request(op::SYNC, 0, &sync));
        assert_eq!(answer.packets.len(), 8);
        assert_eq!(answer.next, Next::Stay);
    }

    /// What Espressif's ESP32-C3 ROM answered espflash's FLASH_END(reboot) after a write
    /// (issue 22: "Bootloader failed to execute command", error 0x06): refused, the loader
    /// stays, the write is kept. "Run user code" leaves without an answer.
    #[test]
    fn the_rom_refuses_flash_end_reboot_and_runs_user_code_without_answering() {
        let mut rom = loader();
        rom.handle(&request(
            op::FLASH_BEGIN,
            0,
            &words(&[4096, 1, 4, 0x1000, 0]),
        ));
        let mut data = words(&[4, 0, 0, 0]);
        data.extend_from_slice(&[1, 2, 3, 4]);
        rom.handle(&request(op::FLASH_DATA, 0xEB, &data));
        let end = rom.handle(&request(op::FLASH_END, 0, &words(&[0])));
        assert_eq!(
            end.packets,
            vec![vec![0x01, 0x04, 4, 0, 0, 0, 0, 0, 1, 0x06, 0, 0]]
        );
        assert_eq!(end.next, Next::Stay);
        assert_eq!(rom.flash().read(0x1000, 4).unwrap(), &[1, 2, 3, 4]);
        // esptool's soft reset: an empty FLASH_BEGIN, then FLASH_END(run user code).
        rom.handle(&request(op::FLASH_BEGIN, 0, &words(&[0, 0, 0x400, 0, 0])));
        let run = rom.handle(&request(op::FLASH_END, 0, &words(&[1])));
        assert!(run.packets.is_empty());
        assert_eq!(run.next, Next::Boot);
    }

    fn load_stub(rom: &mut RomLoader) {
        // Two segments as espflash loads them (text, data), then MEM_END into the text.
        let text = [0x13u8, 0, 0, 0, 0x13, 0, 0, 0];
        for (at, bytes) in [
            (0x4038_0000u32, &text[..]),
            (0x3FC9_0000, &[1, 2, 3, 4][..]),
        ] {
            let begin = rom.handle(&request(
                op::MEM_BEGIN,
                0,
                &words(&[bytes.len() as u32, 1, 0x1800, at]),
            ));
            assert_eq!(begin.packets[0][8..10], [0, 0]);
            let mut data = words(&[bytes.len() as u32, 0, 0, 0]);
            data.extend_from_slice(bytes);
            let checksum = bytes.iter().fold(0xEF, |c, b| c ^ b);
            let answer = rom.handle(&request(op::MEM_DATA, u32::from(checksum), &data));
            assert_eq!(answer.packets[0][8..10], [0, 0]);
        }
        let end = rom.handle(&request(op::MEM_END, 0, &words(&[0, 0x4038_0004])));
        // The ROM's answer (4 status bytes), then the stub's greeting.
        assert_eq!(
            end.packets,
            vec![
                vec![0x01, 0x06, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                b"OHAI".to_vec()
            ]
        );
        assert_eq!(rom.running(), Running::Stub);
    }

    /// The stub's compressed write, with a zlib stream made by Python's `zlib.compress(data, 9)`
    /// (data = (b'ucrypto stub ' * 400)[:5000]) sent in two pieces, and its MD5 from
    /// `hashlib.md5`.
    #[test]
    fn the_stub_inflates_compressed_writes_and_answers_raw_md5() {
        let mut rom = loader();
        load_stub(&mut rom);
        let stream = hex::decode(
            "78daedc7310d00200c00302bd3060246603b708f0abef66bcf7d57659cea112d222222222222222222\
             3ff2003e4ba1a0",
        )
        .unwrap();
        // Something to erase first, in the sector the write starts in and beyond the write.
        rom.flash.write(0x2_0000, &[0; 16]).unwrap();
        rom.flash.write(0x2_2000, &[0; 16]).unwrap();
        let begin = rom.handle(&request(
            op::FLASH_DEFL_BEGIN,
            0,
            &words(&[5000, 2, 0x4000, 0x2_0000]),
        ));
        // The stub answers with 2 status bytes.
        assert_eq!(
            begin.packets,
            vec![vec![0x01, 0x10, 2, 0, 0, 0, 0, 0, 0, 0]]
        );
        let (first, second) = stream.split_at(24);
        for (seq, piece, checksum) in [(0u32, first, 0x70u32), (1, second, 0xBE)] {
            let mut data = words(&[piece.len() as u32, seq, 0, 0]);
            data.extend_from_slice(piece);
            let answer = rom.handle(&request(op::FLASH_DEFL_DATA, checksum, &data));
            assert_eq!(answer.packets[0][8..10], [0, 0], "{:02x?}", answer.packets);
        }
        let end = rom.handle(&request(op::FLASH_DEFL_END, 0, &words(&[1])));
        assert_eq!(end.packets[0][8..10], [0, 0]);
        assert_eq!(rom.running(), Running::Stub);
        let md5 = rom.handle(&request(
            op::SPI_FLASH_MD5,
            0,
            &words(&[0x2_0000, 5000, 0, 0]),
        ));
        assert_eq!(
            hex::encode(&md5.packets[0][8..24]),
            "039db7489d4c85407b23e5212bfec570"
        );
        // Erased as it went: the sector after the write's last one is untouched.
        assert_eq!(rom.flash().read(0x2_2000, 2).unwrap(), &[0, 0]);
        // A second END: no write in progress.
        let again = rom.handle(&request(op::FLASH_DEFL_END, 0, &words(&[1])));
        assert_eq!(again.packets[0][8..10], [1, 0xC6]);
    }

    #[test]
    fn the_stub_refuses_a_bad_checksum_and_a_short_write_and_reboots_into_the_rom() {
        let mut rom = loader();
        load_stub(&mut rom);
        rom.handle(&request(
            op::FLASH_DEFL_BEGIN,
            0,
            &words(&[5000, 1, 0x4000, 0]),
        ));
        let mut data = words(&[2, 0, 0, 0]);
        data.extend_from_slice(&[0x78, 0xDA]);
        let bad = rom.handle(&request(op::FLASH_DEFL_DATA, 0, &data));
        assert_eq!(bad.packets[0][8..10], [1, 0xC1]);
        let short = rom.handle(&request(op::FLASH_DEFL_END, 0, &words(&[0])));
        assert_eq!(short.packets[0][8..10], [1, 0xC8]);
        assert_eq!(rom.running(), Running::Stub);
        rom.handle(&request(op::FLASH_BEGIN, 0, &words(&[0, 0, 0x4000, 0])));
        let reboot = rom.handle(&request(op::FLASH_END, 0, &words(&[0])));
        assert_eq!(reboot.packets[0][8..10], [0, 0]);
        assert_eq!(rom.running(), Running::Rom);
    }

    #[test]
    fn mem_end_into_nothing_loaded_loses_the_chip() {
        let mut rom = loader();
        let end = rom.handle(&request(op::MEM_END, 0, &words(&[0, 0x4038_0000])));
        assert_eq!(end.next, Next::Lost);
    }
}
