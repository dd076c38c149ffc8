//! The key-record partition (`esp_secure_cert`) on the SPI flash, through `esp-storage`:
//! reads and program-without-erase writes at any byte offset, as the engine's record code
//! expects. The record format itself is the engine's (`engine/keys/record.rs`).
//!
//! The flash programs 32-bit words, so an unaligned write is widened to whole words: the words
//! are read first and the new bytes ANDed into them, which is what NOR programming does anyway.
//! Writing back what a word already holds changes nothing on silicon, and stays right on a flash
//! model (an emulator's) that overwrites instead of clearing bits.
use esp_hal::peripherals::FLASH;
use esp_storage::FlashStorage;
use ucrypto_firmware::BackendError;

/// Offset of the `esp_secure_cert` partition (firmware/chip/partitions.csv).
pub const PARTITION_OFFSET: u32 = 0xd000;
/// Size of the `esp_secure_cert` partition (firmware/chip/partitions.csv).
pub const PARTITION_LEN: usize = 0x3000;

/// Offset and size of the `factory` application partition (firmware/chip/partitions.csv).
const APP_OFFSET: u32 = 0x10000;
const APP_LEN: usize = 0x100000;

/// Bytes staged per flash call: whole words, small enough for the stack.
const CHUNK: usize = 64;
const WORD: usize = FlashStorage::WORD_SIZE as usize;

/// The partition, and only it.
pub struct RecordFlash {
    flash: FlashStorage<'static>,
}

/// A word-aligned staging buffer (esp-storage copies through a 4 KiB stack buffer otherwise).
#[repr(C, align(4))]
struct Staging([u8; CHUNK]);

impl RecordFlash {
    pub fn new(flash: FLASH<'static>) -> Self {
        Self {
            flash: FlashStorage::new(flash),
        }
    }

    /// The absolute flash address of `offset..offset + len` of the partition.
    fn address(offset: usize, len: usize) -> Result<u32, BackendError> {
        offset
            .checked_add(len)
            .filter(|&end| end <= PARTITION_LEN)
            .ok_or(BackendError::Unsupported)?;
        Ok(PARTITION_OFFSET + offset as u32)
    }

    pub fn read(&mut self, offset: usize, out: &mut [u8]) -> Result<(), BackendError> {
        let start = Self::address(offset, out.len())?;
        self.read_at(start, out)
    }

    /// The SHA-256 digest appended to the application image in the factory partition (the one
    /// running: the table has no OTA slots), which the bootloader checked before starting it:
    /// what `Hello` reports as `app_sha256` (docs/protocol.md). Walks the image header and
    /// segment headers to the checksum byte, as ESP-IDF's `esp_image_format` does; `None` if
    /// the image carries no digest or does not parse.
    pub fn app_image_digest(&mut self) -> Option<[u8; 32]> {
        let mut header = [0u8; 24];
        self.read_at(APP_OFFSET, &mut header).ok()?;
        if header[0] != 0xE9 || header[23] != 1 || header[1] == 0 || header[1] > 16 {
            return None;
        }
        let mut at = header.len();
        for _ in 0..header[1] {
            let mut segment = [0u8; 8];
            self.read_at(APP_OFFSET + at as u32, &mut segment).ok()?;
            let len = u32::from_le_bytes(segment[4..8].try_into().ok()?) as usize;
            at = at.checked_add(8 + len).filter(|&end| end < APP_LEN)?;
        }
        // Zero padding, then the checksum byte at the end of a 16-byte line; the digest follows.
        let digest_at = at + (15 - at % 16) + 1;
        let mut digest = [0u8; 32];
        self.read_at(APP_OFFSET + digest_at as u32, &mut digest).ok()?;
        Some(digest)
    }

    /// `out.len()` bytes from the absolute flash address `start`.
    fn read_at(&mut self, start: u32, out: &mut [u8]) -> Result<(), BackendError> {
        let start = start as usize;
        let mut buf = Staging([0; CHUNK]);
        let mut done = 0;
        while done < out.len() {
            let at = start + done;
            let aligned = at - at % WORD;
            let skip = at - aligned;
            let n = (out.len() - done).min(CHUNK - skip);
            let span = (skip + n).next_multiple_of(WORD);
            self.flash
                .read_nor(aligned as u32, &mut buf.0[..span])
                .map_err(|_| BackendError::Hardware)?;
            out[done..done + n].copy_from_slice(&buf.0[skip..skip + n]);
            done += n;
        }
        Ok(())
    }

    pub fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), BackendError> {
        let start = Self::address(offset, data.len())? as usize;
        let mut buf = Staging([0xff; CHUNK]);
        let mut done = 0;
        while done < data.len() {
            let at = start + done;
            let aligned = at - at % WORD;
            let skip = at - aligned;
            let n = (data.len() - done).min(CHUNK - skip);
            let span = (skip + n).next_multiple_of(WORD);
            self.flash
                .read_nor(aligned as u32, &mut buf.0[..span])
                .map_err(|_| BackendError::Hardware)?;
            for (cell, byte) in buf.0[skip..skip + n].iter_mut().zip(&data[done..done + n]) {
                *cell &= byte;
            }
            self.flash
                .write_nor(aligned as u32, &buf.0[..span])
                .map_err(|_| BackendError::Hardware)?;
            done += n;
        }
        Ok(())
    }
}
