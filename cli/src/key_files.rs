//! The virtual device's eFuses and flash kept in files (`ucrypto sim --efuse FILE --flash
//! FILE`), so a device key survives a restart of the virtual device as it survives a power
//! cycle of a chip. The layouts are the firmware's (`ucrypto_firmware::backend::virtual_keys`):
//! the eFuse file is 11 blocks of 8 little-endian words, the flash file a raw 4 MiB image.
use std::path::{Path, PathBuf};

use ucrypto_firmware::backend::virtual_keys::{VirtualKeyHardware, EFUSE_FILE_LEN, FLASH_LEN};

use crate::error::{Error, Result};

/// Files that mirror a virtual device's eFuses and flash.
pub struct KeyFiles {
    efuse: Option<PathBuf>,
    flash: Option<PathBuf>,
    /// What the files hold now, to write them only when the device changed something.
    saved_efuse: Vec<u8>,
    saved_flash: Vec<u8>,
}

impl KeyFiles {
    /// Loads the files that exist into `hardware`; a missing file is a new chip's (blank
    /// eFuses, erased flash) and is created on the first change.
    pub fn open(
        efuse: Option<PathBuf>,
        flash: Option<PathBuf>,
        hardware: &mut VirtualKeyHardware,
    ) -> Result<Self> {
        if let Some(bytes) = read_existing(efuse.as_deref())? {
            hardware.load_efuse(&bytes).ok_or_else(|| {
                Error::input(format!(
                    "{} is not an eFuse file: it must be {EFUSE_FILE_LEN} bytes, not {} (give a \
                     new path to start from blank eFuses)",
                    show(efuse.as_deref()),
                    bytes.len()
                ))
            })?;
        }
        if let Some(bytes) = read_existing(flash.as_deref())? {
            hardware.load_flash(&bytes).ok_or_else(|| {
                Error::input(format!(
                    "{} is not a flash image: it must be at most {FLASH_LEN} bytes, not {}",
                    show(flash.as_deref()),
                    bytes.len()
                ))
            })?;
        }
        let mut files = Self {
            efuse,
            flash,
            saved_efuse: hardware.efuse_bytes(),
            saved_flash: hardware.flash_bytes().to_vec(),
        };
        // Written at once, so the files exist (and are valid) from the start.
        files.write(hardware, true)?;
        Ok(files)
    }

    /// Writes the files whose contents the device changed.
    pub fn save(&mut self, hardware: &VirtualKeyHardware) -> Result<()> {
        self.write(hardware, false)
    }

    fn write(&mut self, hardware: &VirtualKeyHardware, always: bool) -> Result<()> {
        let efuse = hardware.efuse_bytes();
        if always || efuse != self.saved_efuse {
            if let Some(path) = &self.efuse {
                replace(path, &efuse)?;
            }
            self.saved_efuse = efuse;
        }
        let flash = hardware.flash_bytes();
        if always || flash != self.saved_flash.as_slice() {
            if let Some(path) = &self.flash {
                replace(path, flash)?;
            }
            self.saved_flash.copy_from_slice(flash);
        }
        Ok(())
    }
}

fn show(path: Option<&Path>) -> String {
    path.map(|p| p.display().to_string()).unwrap_or_default()
}

fn read_existing(path: Option<&Path>) -> Result<Option<Vec<u8>>> {
    let Some(path) = path else {
        return Ok(None);
    };
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::input(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Replaces `path` whole (a temporary file renamed over it): a virtual device stopped mid-write
/// leaves the old file, as a chip's eFuses are either burned or not.
fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let failed = |e: &dyn std::fmt::Display| Error::Output {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| failed(&e))?;
    std::io::Write::write_all(&mut temp, bytes).map_err(|e| failed(&e))?;
    temp.persist(path).map_err(|e| failed(&e.error))?;
    Ok(())
}
