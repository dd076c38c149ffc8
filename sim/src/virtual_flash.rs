//! The virtual chip's SPI flash: a raw 4 MiB image, erased to 0xFF, kept in memory or in a file
//! (`ucrypto sim --flash FILE`) that every erase and write goes through to at once.
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Size of the virtual chip's flash, as on the common ESP32-C3/C6 modules.
pub const FLASH_SIZE: usize = 4 << 20;
/// The unit an erase works on.
pub const SECTOR_SIZE: usize = 4096;
/// What erased NOR flash reads as.
pub const ERASED: u8 = 0xFF;

/// An access outside the flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfRange;

/// A NOR flash image: erasing sets bytes to 0xFF, writing can only clear bits.
pub struct VirtualFlash {
    bytes: Vec<u8>,
    file: Option<(File, PathBuf)>,
}

impl VirtualFlash {
    /// A blank flash that lives as long as the process.
    pub fn in_memory() -> Self {
        Self {
            bytes: vec![ERASED; FLASH_SIZE],
            file: None,
        }
    }

    /// The flash kept in `path`: created blank if it does not exist, else read as it was left.
    pub fn open(path: &Path) -> Result<Self> {
        let shown = path.display();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::input(format!("cannot open the flash file {shown}: {e}")))?;
        let len = file
            .metadata()
            .map_err(|e| Error::input(format!("cannot read the flash file {shown}: {e}")))?
            .len();
        let mut bytes = vec![ERASED; FLASH_SIZE];
        if len == 0 {
            file.write_all_at(&bytes, 0)
                .map_err(|e| Error::input(format!("cannot write the flash file {shown}: {e}")))?;
        } else if len == FLASH_SIZE as u64 {
            file.read_exact_at(&mut bytes, 0)
                .map_err(|e| Error::input(format!("cannot read the flash file {shown}: {e}")))?;
        } else {
            return Err(Error::input(format!(
                "{shown} is {len} bytes, not a {} MiB flash image: pass another --flash FILE",
                FLASH_SIZE >> 20
            )));
        }
        Ok(Self {
            bytes,
            file: Some((file, path.to_path_buf())),
        })
    }

    /// `len` bytes from `offset`.
    pub fn read(&self, offset: u32, len: u32) -> Result<&[u8], OutOfRange> {
        let range = self.range(offset, len)?;
        Ok(&self.bytes[range])
    }

    /// Erases every sector that `len` bytes from `offset` touch.
    pub fn erase(&mut self, offset: u32, len: u32) -> Result<(), OutOfRange> {
        let range = self.range(offset, len)?;
        let start = range.start / SECTOR_SIZE * SECTOR_SIZE;
        let end = range.end.div_ceil(SECTOR_SIZE) * SECTOR_SIZE;
        self.bytes[start..end].fill(ERASED);
        self.write_through(start, end)
    }

    /// Programs `data` at `offset`. Like NOR flash, a write only clears bits: writing over
    /// bytes that were not erased gives the AND of old and new.
    pub fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), OutOfRange> {
        let len = u32::try_from(data.len()).map_err(|_| OutOfRange)?;
        let range = self.range(offset, len)?;
        for (old, new) in self.bytes[range.clone()].iter_mut().zip(data) {
            *old &= new;
        }
        self.write_through(range.start, range.end)
    }

    fn range(&self, offset: u32, len: u32) -> Result<std::ops::Range<usize>, OutOfRange> {
        let start = offset as usize;
        let end = start.checked_add(len as usize).ok_or(OutOfRange)?;
        if end > self.bytes.len() {
            return Err(OutOfRange);
        }
        Ok(start..end)
    }

    /// Keeps the file equal to the flash after every change, so a killed sim loses nothing.
    fn write_through(&mut self, start: usize, end: usize) -> Result<(), OutOfRange> {
        if let Some((file, path)) = &self.file {
            if let Err(e) = file.write_all_at(&self.bytes[start..end], start as u64) {
                // The chip keeps working from memory; the file is only its copy.
                log::warn!("cannot write the flash file {}: {e}", path.display());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_clear_bits_and_erases_set_whole_sectors() {
        let mut flash = VirtualFlash::in_memory();
        flash.write(10, &[0x0F, 0xF0]).unwrap();
        flash.write(10, &[0x3C, 0xFF]).unwrap();
        assert_eq!(flash.read(10, 2).unwrap(), &[0x0C, 0xF0]);
        flash.erase(4095, 2).unwrap();
        // Both sectors the two bytes touch are erased, so byte 10 reads 0xFF again.
        assert_eq!(flash.read(10, 2).unwrap(), &[ERASED, ERASED]);
        assert_eq!(flash.write(FLASH_SIZE as u32 - 1, &[0, 0]), Err(OutOfRange));
        assert_eq!(flash.read(u32::MAX, 2), Err(OutOfRange));
    }

    #[test]
    fn a_flash_file_keeps_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flash.bin");
        let mut flash = VirtualFlash::open(&path).unwrap();
        flash.erase(0x1000, 4096).unwrap();
        flash.write(0x1000, b"kept").unwrap();
        drop(flash);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), FLASH_SIZE as u64);
        let flash = VirtualFlash::open(&path).unwrap();
        assert_eq!(flash.read(0x1000, 5).unwrap(), b"kept\xff");
        std::fs::write(&path, b"short").unwrap();
        let err = VirtualFlash::open(&path).err().unwrap().to_string();
        assert!(err.contains("not a 4 MiB flash image"), "{err}");
    }
}
