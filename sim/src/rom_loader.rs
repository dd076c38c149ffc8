//! The virtual chip in download mode: the commands of Espressif's ROM serial loader (the
//! stub-less path of esptool's "Serial Protocol") on a [`VirtualFlash`], one decoded SLIP
//! packet in, the response packets out.
//!
//! Request: direction 0x00, command, data length (u16), checksum (u32), data.
//! Response: direction 0x01, command, length (u16, the data and the 4 status bytes), value
//! (u32), data, then status (0 ok, 1 failed), error code, and two reserved bytes.
use md5::{Digest, Md5};
use ucrypto_protocol::Chip;

use crate::esp_image::CHECKSUM_SEED;
use crate::virtual_flash::{VirtualFlash, FLASH_SIZE};

/// Command bytes of the ROM loader.
mod op {
    pub const FLASH_BEGIN: u8 = 0x02;
    pub const FLASH_DATA: u8 = 0x03;
    pub const FLASH_END: u8 = 0x04;
    pub const SYNC: u8 = 0x08;
    pub const WRITE_REG: u8 = 0x09;
    pub const READ_REG: u8 = 0x0A;
    pub const SPI_SET_PARAMS: u8 = 0x0B;
    pub const SPI_ATTACH: u8 = 0x0D;
    pub const CHANGE_BAUDRATE: u8 = 0x0F;
    pub const SPI_FLASH_MD5: u8 = 0x13;
    pub const GET_SECURITY_INFO: u8 = 0x14;
}

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
    /// Stay in download mode.
    Stay,
    /// FLASH_END: leave download mode and boot from flash (`reboot` is the host's flag: reboot,
    /// or "run user code"; both end in the application here).
    Boot { reboot: bool },
}

/// Registers the host reads and writes, with the values the real ROM shows at reset.
struct Registers {
    chip: Chip,
    mac: [u8; 6],
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
        if address == block1 + 12 {
            // Wafer version minor (bits 114..117 of BLOCK1: bits 18..21 of word 3).
            let minor = match self.chip {
                Chip::Esp32C3 => 3,
                _ => 0,
            };
            return minor << 18;
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

/// A FLASH_BEGIN in progress.
struct Download {
    offset: u32,
    blocks: u32,
    block_size: u32,
    next: u32,
}

/// The ROM loader's state.
pub struct RomLoader {
    chip: Chip,
    registers: Registers,
    flash: VirtualFlash,
    download: Option<Download>,
}

/// The ROM's answer to one request: response packets (before SLIP framing), and what follows.
pub struct Answer {
    pub packets: Vec<Vec<u8>>,
    pub next: Next,
}

impl RomLoader {
    /// A chip in download mode whose eFuse MAC is `mac`.
    pub fn new(chip: Chip, mac: [u8; 6], flash: VirtualFlash) -> Self {
        Self {
            chip,
            registers: Registers {
                chip,
                mac,
                written: Default::default(),
            },
            flash,
            download: None,
        }
    }

    pub fn flash(&self) -> &VirtualFlash {
        &self.flash
    }

    pub fn into_flash(self) -> VirtualFlash {
        self.flash
    }

    /// Serves one decoded packet. Packets that are not requests (too short, wrong direction)
    /// get no answer, as on the chip.
    pub fn handle(&mut self, packet: &[u8]) -> Answer {
        let stay = |packets| Answer {
            packets,
            next: Next::Stay,
        };
        if packet.len() < 8 || packet[0] != 0x00 {
            return stay(Vec::new());
        }
        let command = packet[1];
        let len = u16::from_le_bytes([packet[2], packet[3]]) as usize;
        let checksum = u32::from_le_bytes(packet[4..8].try_into().expect("4 bytes"));
        let data = &packet[8..];
        if data.len() != len {
            return stay(vec![failure(command, rom_error::INVALID_MESSAGE)]);
        }
        let word = |i: usize| -> Option<u32> {
            Some(u32::from_le_bytes(
                data.get(i * 4..i * 4 + 4)?.try_into().ok()?,
            ))
        };
        let reply = match command {
            op::SYNC if is_sync_data(data) => {
                return stay(vec![success(command, 0, &[]); SYNC_RESPONSES]);
            }
            op::READ_REG => match word(0) {
                Some(address) if len == 4 => Ok((self.registers.read(address), Vec::new())),
                _ => Err(rom_error::INVALID_MESSAGE),
            },
            op::WRITE_REG if len > 0 && len.is_multiple_of(16) => {
                // Address, value, mask, delay (µs): one or more of them.
                for i in (0..len / 4).step_by(4) {
                    let (address, value, mask) = (word(i), word(i + 1), word(i + 2));
                    if let (Some(a), Some(v), Some(m)) = (address, value, mask) {
                        self.registers.write(a, v, m);
                    }
                }
                Ok((0, Vec::new()))
            }
            // The ROM takes the pin configuration and flash geometry; the virtual flash has one.
            op::SPI_ATTACH if len == 8 => Ok((0, Vec::new())),
            op::SPI_SET_PARAMS if len == 24 => Ok((0, Vec::new())),
            // A pseudo-terminal has no baud rate to change.
            op::CHANGE_BAUDRATE if len == 8 => Ok((0, Vec::new())),
            op::GET_SECURITY_INFO if len == 0 => Ok((0, self.security_info())),
            op::FLASH_BEGIN if len == 16 || len == 20 => self.flash_begin(&word),
            op::FLASH_DATA if len >= 16 => self.flash_data(data, checksum),
            op::FLASH_END if len == 4 => {
                self.download = None;
                let reboot = word(0) == Some(0);
                return Answer {
                    packets: vec![success(command, 0, &[])],
                    next: Next::Boot { reboot },
                };
            }
            op::SPI_FLASH_MD5 if len == 16 => self.flash_md5(&word),
            _ => Err(rom_error::INVALID_MESSAGE),
        };
        stay(vec![match reply {
            Ok((value, data)) => success(command, value, &data),
            Err(code) => failure(command, code),
        }])
    }

    /// Flags, flash_crypt_cnt, 7 key purposes, chip id, ECO version: nothing secured.
    fn security_info(&self) -> Vec<u8> {
        let mut info = vec![0u8; 12];
        info.extend_from_slice(&u32::from(crate::esp_image::chip_id(self.chip)).to_le_bytes());
        let eco: u32 = match self.chip {
            Chip::Esp32C3 => 3,
            _ => 0,
        };
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
        let size = u32::from_le_bytes(data[0..4].try_into().expect("4 bytes")) as usize;
        let sequence = u32::from_le_bytes(data[4..8].try_into().expect("4 bytes"));
        let block = &data[16..];
        if block.len() != size {
            return Err(rom_error::INVALID_MESSAGE);
        }
        let computed = block.iter().fold(CHECKSUM_SEED, |c, b| c ^ b);
        if checksum != u32::from(computed) {
            return Err(rom_error::INVALID_CRC);
        }
        let Some(download) = &mut self.download else {
            return Err(rom_error::FAILED_TO_ACT);
        };
        if sequence != download.next
            || sequence >= download.blocks
            || size != download.block_size as usize
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

    /// Offset, size, two reserved words: the region's MD5 as 32 lowercase hex digits (the
    /// stub sends 16 raw bytes instead).
    fn flash_md5(&self, word: &dyn Fn(usize) -> Option<u32>) -> Result<(u32, Vec<u8>), u8> {
        let (Some(offset), Some(size)) = (word(0), word(1)) else {
            return Err(rom_error::INVALID_MESSAGE);
        };
        let region = self
            .flash
            .read(offset, size)
            .map_err(|_| rom_error::FLASH_READ)?;
        Ok((0, hex::encode(Md5::digest(region)).into_bytes()))
    }
}

/// A response with status 0.
fn success(command: u8, value: u32, data: &[u8]) -> Vec<u8> {
    response(command, value, data, 0, 0)
}

/// A response with status 1 and `code`.
fn failure(command: u8, code: u8) -> Vec<u8> {
    response(command, 0, &[], 1, code)
}

fn response(command: u8, value: u32, data: &[u8], status: u8, code: u8) -> Vec<u8> {
    let len = u16::try_from(data.len() + 4).expect("responses are small");
    let mut packet = vec![0x01, command];
    packet.extend_from_slice(&len.to_le_bytes());
    packet.extend_from_slice(&value.to_le_bytes());
    packet.extend_from_slice(data);
    packet.extend_from_slice(&[status, code, 0, 0]);
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
        // MEM_BEGIN: loading code into RAM is not modelled.
        let answer = rom.handle(&request(0x05, 0, &words(&[0, 0, 0, 0])));
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
    fn sync_gets_eight_answers_and_flash_end_boots() {
        let mut rom = loader();
        let mut sync = vec![0x07, 0x07, 0x12, 0x20];
        sync.extend_from_slice(&[0x55; 32]);
        let answer = rom.handle(&request(op::SYNC, 0, &sync));
        assert_eq!(answer.packets.len(), 8);
        assert_eq!(answer.next, Next::Stay);
        let end = rom.handle(&request(op::FLASH_END, 0, &words(&[0])));
        assert_eq!(end.next, Next::Boot { reboot: true });
    }
}
